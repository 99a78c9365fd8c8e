//! cmap's one exec message, MESSAGE_REQ_EXEC_CMAP_MCAST (`totem-wire.md` §11.2): a list
//! of keys with their values, sent by sync and when `totem.config_version` changes.
//!
//! Layout: header 16; reason u8 @16; no_items u8 @24; two reserved u8 @32, @40; items
//! from @48, each `{mar_name_t key_name; u8 value_type @264; u64 value_len @272; value
//! @280}` padded to 8 bytes. Value type 0 (`ICMAP_VALUETYPE_NOT_EXIST`) marks an absent key.

use crate::error::WireError;
use crate::icmap::Value;
use crate::ids::ServiceId;
use crate::wire::{Header, Reader, Writer, MAR_NAME_MAX};

/// `MESSAGE_REQ_EXEC_CMAP_MCAST`.
pub const MCAST: u16 = 0;
/// `sizeof(struct req_exec_cmap_mcast)`.
const FIXED: usize = 48;
/// `sizeof(struct req_exec_cmap_mcast_item)` without the value.
const ITEM: usize = 280;
/// `MAX_REQ_EXEC_CMAP_MCAST_ITEMS`.
pub const ITEMS_MAX: usize = 32;
/// `ICMAP_VALUETYPE_NOT_EXIST`.
const NOT_EXIST: u8 = 0;

/// `enum cmap_mcast_reason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Sync,
    NewConfigVersion,
    /// A reason 3.1.7 does not know: logged and ignored.
    Other(u8),
}

impl Reason {
    fn raw(self) -> u8 {
        match self {
            Reason::Sync => 0,
            Reason::NewConfigVersion => 1,
            Reason::Other(v) => v,
        }
    }
    fn from_raw(v: u8) -> Reason {
        match v {
            0 => Reason::Sync,
            1 => Reason::NewConfigVersion,
            v => Reason::Other(v),
        }
    }
}

/// One key of the message; `None`: the key does not exist at the sender.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub key: String,
    pub value: Option<Value>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Mcast {
    pub reason: Reason,
    pub items: Vec<Item>,
}

fn align8(n: usize) -> usize {
    n.div_ceil(8) * 8
}

impl Mcast {
    pub fn encode(&self) -> Vec<u8> {
        debug_assert!(self.items.len() <= ITEMS_MAX);
        let mut w = Writer::request(ServiceId::Cmap.exec_id(MCAST), FIXED);
        w.u8(16, self.reason.raw()).u8(24, self.items.len() as u8);
        for item in &self.items {
            let value = item.value.as_ref().map(Value::to_wire).unwrap_or_default();
            let mut iw = Writer::new(align8(ITEM + value.len()));
            let key = &item.key.as_bytes()[..item.key.len().min(MAR_NAME_MAX - 1)];
            iw.mar_name(0, key)
                .u8(264, item.value.as_ref().map_or(NOT_EXIST, Value::type_code))
                .u64(272, value.len() as u64)
                .bytes(ITEM, &value);
            w.extend(&iw.into_bytes());
        }
        w.finish()
    }

    /// Decodes a message; `swap`: integers come in the other byte order.
    pub fn decode(msg: &[u8], swap: bool) -> Result<Mcast, WireError> {
        Header::parse(msg, swap)?;
        let r = Reader::with_swap(msg, swap);
        r.need(FIXED)?;
        let reason = Reason::from_raw(r.u8(16)?);
        let n = usize::from(r.u8(24)?);
        let mut at = FIXED;
        let mut items = Vec::with_capacity(n.min(ITEMS_MAX));
        for _ in 0..n {
            r.need(at + ITEM)?;
            let name = r.mar_name(at)?;
            let end = name.iter().position(|c| *c == 0).unwrap_or(name.len());
            let key = String::from_utf8_lossy(&name[..end]).into_owned();
            let code = r.u8(at + 264)?;
            let len = r.u64(at + 272)?;
            let len = usize::try_from(len).map_err(|_| WireError::Length(len))?;
            let raw = r.bytes(at + ITEM, len)?;
            let value = if code == NOT_EXIST {
                None
            } else {
                let mut bytes = raw.to_vec();
                if swap && (3..=10).contains(&code) {
                    bytes.reverse();
                }
                Some(Value::from_wire(code, &bytes).ok_or(WireError::Value("cmap item value"))?)
            };
            items.push(Item { key, value });
            at = at
                .checked_add(align8(ITEM + len))
                .ok_or(WireError::Length(len as u64))?;
        }
        Ok(Mcast { reason, items })
    }

    /// The item for `key`, if the message carries it.
    pub fn find(&self, key: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.key == key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_config_version_is_328_bytes() {
        let m = Mcast {
            reason: Reason::Sync,
            items: vec![Item {
                key: "totem.config_version".into(),
                value: None,
            }],
        };
        let b = m.encode();
        assert_eq!(b.len(), 328);
        let r = Reader::new(&b);
        assert_eq!(r.i32(0).unwrap(), 0);
        assert_eq!(r.i32(8).unwrap(), 328);
        assert_eq!(r.u8(24).unwrap(), 1);
        assert_eq!(r.mar_name(48).unwrap(), b"totem.config_version");
        assert_eq!(r.u8(48 + 264).unwrap(), 0);
        assert_eq!(r.u64(48 + 272).unwrap(), 0);
        assert_eq!(Mcast::decode(&b, false).unwrap(), m);
    }

    #[test]
    fn u64_item_round_trips_and_swaps() {
        let m = Mcast {
            reason: Reason::NewConfigVersion,
            items: vec![Item {
                key: "totem.config_version".into(),
                value: Some(Value::U64(7)),
            }],
        };
        let b = m.encode();
        assert_eq!(b.len(), 48 + 288);
        assert_eq!(Mcast::decode(&b, false).unwrap(), m);
        // The same message from a peer of the other byte order.
        let mut be = b.clone();
        be[0..4].reverse();
        be[8..12].reverse();
        be[48..50].reverse();
        be[48 + 272..48 + 280].reverse();
        be[48 + 280..48 + 288].reverse();
        assert_eq!(Mcast::decode(&be, true).unwrap(), m);
    }

    #[test]
    fn hostile_items_are_errors() {
        let mut b = Mcast {
            reason: Reason::Sync,
            items: vec![Item {
                key: "k.k.k".into(),
                value: Some(Value::U32(1)),
            }],
        }
        .encode();
        b[24] = 3;
        assert!(Mcast::decode(&b, false).is_err());
        b[24] = 1;
        b[48 + 272..48 + 280].copy_from_slice(&u64::MAX.to_ne_bytes());
        assert!(Mcast::decode(&b, false).is_err());
    }
}

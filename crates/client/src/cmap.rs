//! cmap: the configuration and runtime key-value map (`cmap.h`).
//!
//! ```no_run
//! use client::cmap::{Cmap, Map};
//! # fn main() -> client::Result<()> {
//! let mut cmap = Cmap::initialize(Map::Icmap)?;
//! let name = cmap.get("totem.cluster_name")?;
//! println!("cluster {name}");
//! for (key, value) in cmap.iter_prefix("nodelist.")? {
//!     println!("{key} ({}) = {value}", value.type_name());
//! }
//! # Ok(()) }
//! ```

use services::cmap::codec::{
    RequestId, TrackType, GET_REQUEST, GET_RESPONSE, ITER_NEXT_RESPONSE, NOTIFY_CALLBACK, RES_NOTIFY_CALLBACK,
    SET_REQUEST, VALUE_MAX,
};
use services::wire::{Reader, Writer, MAR_NAME, MAR_NAME_MAX, REQUEST_HEADER, RESPONSE_HEADER};
use services::CsError;

pub use services::Value;

use crate::conn::{event_id, service_fd, Conn, DispatchFlags};
use crate::error::{Error, Result};
use crate::options::Options;

/// Which map a handle works on (`cmap_map_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Map {
    /// Configuration and runtime keys (`CMAP_MAP_ICMAP`).
    Icmap,
    /// Statistics (`CMAP_MAP_STATS`).
    Stats,
}

/// What a track reports (`CMAP_TRACK_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackKind(pub i32);

impl TrackKind {
    pub const ADD: TrackKind = TrackKind(TrackType::ADD);
    pub const DELETE: TrackKind = TrackKind(TrackType::DELETE);
    pub const MODIFY: TrackKind = TrackKind(TrackType::MODIFY);
    /// The key is a prefix: every key under it is tracked.
    pub const PREFIX: TrackKind = TrackKind(TrackType::PREFIX);
    /// Additions, deletions and changes.
    pub const ALL: TrackKind = TrackKind(TrackType::ADD | TrackType::DELETE | TrackType::MODIFY);
}

impl std::ops::BitOr for TrackKind {
    type Output = TrackKind;
    fn bitor(self, rhs: TrackKind) -> TrackKind {
        TrackKind(self.0 | rhs.0)
    }
}

/// A track registered with [`Cmap::track_add`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TrackHandle(pub u64);

/// What happened to a tracked key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Added,
    Deleted,
    Modified,
}

/// A notification for a tracked key (`cmap_notify_fn_t`).
#[derive(Debug, Clone, PartialEq)]
pub struct Notification {
    /// The `user_data` given to [`Cmap::track_add`].
    pub user_data: u64,
    pub key: String,
    pub change: Change,
    pub new: Option<Value>,
    pub old: Option<Value>,
}

/// A key found by iteration: name, type and length (`cmap_iter_next`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub name: String,
    pub type_code: u8,
    pub len: u64,
}

/// A cmap connection (`cmap_handle_t`).
#[derive(Debug)]
pub struct Cmap {
    conn: Conn,
}

service_fd!(Cmap);

fn check_key(key: &str) -> Result<&[u8]> {
    if key.len() >= MAR_NAME_MAX || key.contains('\0') {
        return Err(Error::InvalidArgument(format!(
            "cmap key of {} bytes (at most {})",
            key.len(),
            MAR_NAME_MAX - 1
        )));
    }
    Ok(key.as_bytes())
}

fn key_request(id: RequestId, size: usize, key: &str) -> Result<Writer> {
    let mut w = Writer::request(id as i32, size);
    w.mar_name(REQUEST_HEADER, check_key(key)?);
    Ok(w)
}

/// A key name from a reply's `mar_name_t` (C string semantics).
fn name_at(r: &Reader<'_>, at: usize) -> std::result::Result<String, services::WireError> {
    let raw = r.mar_name(at)?;
    let end = raw.iter().position(|c| *c == 0).unwrap_or(raw.len());
    Ok(String::from_utf8_lossy(&raw[..end]).into_owned())
}

impl Cmap {
    /// Connects to the map (`cmap_initialize_map`).
    pub fn initialize(map: Map) -> Result<Cmap> {
        Self::initialize_with(map, &Options::default())
    }

    /// Connects with explicit options.
    pub fn initialize_with(map: Map, options: &Options) -> Result<Cmap> {
        let cmap = Cmap {
            conn: Conn::open("cmap", options)?,
        };
        if map == Map::Stats {
            let mut w = Writer::request(RequestId::SetCurrentMap as i32, 24);
            w.i32(16, 1);
            let id = RequestId::SetCurrentMap;
            cmap.conn.call(&w.finish(), id.response_id(), RESPONSE_HEADER)?;
        }
        Ok(cmap)
    }

    /// Reads a key (`cmap_get`): a probe for type and length, then the value.
    pub fn get(&self, key: &str) -> Result<Value> {
        let mut want = 0u64;
        // The value can change between the two calls: read again if it grew.
        for _ in 0..4 {
            let mut w = key_request(RequestId::Get, GET_REQUEST, key)?;
            w.u64(280, want);
            let reply = self
                .conn
                .call(&w.finish(), RequestId::Get.response_id(), GET_RESPONSE)?;
            let r = Reader::new(&reply);
            let (len, code) = self.read(r.u64(24).and_then(|l| Ok((l, r.u8(32)?))))?;
            if len > VALUE_MAX {
                return Err(self.conn.reply_err(services::WireError::Length(len)));
            }
            if want == 0 && len > 0 || len > want {
                want = len;
                continue;
            }
            let bytes = self.read(r.bytes(GET_RESPONSE, len as usize))?;
            return Value::from_wire(code, bytes).ok_or_else(|| {
                self.conn
                    .reply_err(services::WireError::Value("cmap value type or length"))
            });
        }
        Err(Error::Cs {
            service: "cmap",
            code: CsError::TryAgain,
        })
    }

    fn read<T>(&self, r: std::result::Result<T, services::WireError>) -> Result<T> {
        r.map_err(|e| self.conn.reply_err(e))
    }

    /// Writes a key (`cmap_set`).
    pub fn set(&self, key: &str, value: &Value) -> Result<()> {
        let bytes = value.to_wire();
        let mut w = key_request(RequestId::Set, SET_REQUEST, key)?;
        w.u64(280, bytes.len() as u64).u8(288, value.type_code()).extend(&bytes);
        self.conn
            .call(&w.finish(), RequestId::Set.response_id(), RESPONSE_HEADER)?;
        Ok(())
    }

    /// Deletes a key (`cmap_delete`).
    pub fn delete(&self, key: &str) -> Result<()> {
        let w = key_request(RequestId::Delete, REQUEST_HEADER + MAR_NAME, key)?;
        self.conn
            .call(&w.finish(), RequestId::Delete.response_id(), RESPONSE_HEADER)?;
        Ok(())
    }

    /// Adds `step` to an integer key (`cmap_inc` is `adjust_int(key, 1)`).
    pub fn adjust_int(&self, key: &str, step: i32) -> Result<()> {
        let mut w = key_request(RequestId::AdjustInt, REQUEST_HEADER + MAR_NAME + 8, key)?;
        w.i32(280, step);
        self.conn
            .call(&w.finish(), RequestId::AdjustInt.response_id(), RESPONSE_HEADER)?;
        Ok(())
    }

    /// `cmap_inc`.
    pub fn inc(&self, key: &str) -> Result<()> {
        self.adjust_int(key, 1)
    }

    /// `cmap_dec`.
    pub fn dec(&self, key: &str) -> Result<()> {
        self.adjust_int(key, -1)
    }

    /// The keys under `prefix` ("" for all), with type and length
    /// (`cmap_iter_init`/`_next`/`_finalize`).
    pub fn keys(&self, prefix: &str) -> Result<Vec<KeyInfo>> {
        let w = key_request(RequestId::IterInit, REQUEST_HEADER + MAR_NAME, prefix)?;
        let reply = self.conn.call(&w.finish(), RequestId::IterInit.response_id(), 32)?;
        let handle = self.read(Reader::new(&reply).u64(24))?;
        self.conn.iterate(
            handle,
            (
                RequestId::IterNext as i32,
                RequestId::IterNext.response_id(),
                ITER_NEXT_RESPONSE,
            ),
            (RequestId::IterFinalize as i32, RequestId::IterFinalize.response_id()),
            |r| {
                Ok(KeyInfo {
                    name: name_at(r, 24)?,
                    len: r.u64(288)?,
                    type_code: r.u8(296)?,
                })
            },
        )
    }

    /// Every key under `prefix` with its value, as `corosync-cmapctl` lists them. A key
    /// deleted between the listing and its read is left out.
    pub fn iter_prefix(&self, prefix: &str) -> Result<Vec<(String, Value)>> {
        let mut out = Vec::new();
        for k in self.keys(prefix)? {
            match self.get(&k.name) {
                Ok(v) => out.push((k.name, v)),
                Err(Error::Cs {
                    code: CsError::NotExist,
                    ..
                }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    /// Starts tracking `key` (a prefix with [`TrackKind::PREFIX`]); notifications carry
    /// `user_data` (`cmap_track_add`).
    pub fn track_add(&self, key: &str, kind: TrackKind, user_data: u64) -> Result<TrackHandle> {
        let mut w = key_request(RequestId::TrackAdd, 296, key)?;
        w.i32(280, kind.0).u64(288, user_data);
        let reply = self.conn.call(&w.finish(), RequestId::TrackAdd.response_id(), 32)?;
        Ok(TrackHandle(self.read(Reader::new(&reply).u64(24))?))
    }

    /// Stops a track (`cmap_track_delete`).
    pub fn track_delete(&self, handle: TrackHandle) -> Result<()> {
        let mut w = Writer::request(RequestId::TrackDelete as i32, 24);
        w.u64(16, handle.0);
        self.conn.call(&w.finish(), RequestId::TrackDelete.response_id(), 32)?;
        Ok(())
    }

    /// Handles notifications as `flags` says (`cmap_dispatch`); returns how many.
    pub fn dispatch(&self, flags: DispatchFlags, mut f: impl FnMut(Notification)) -> Result<usize> {
        self.conn.dispatch(flags, |conn, event| {
            let n = decode_notification(&event).map_err(|e| conn.reply_err(e))?;
            if let Some(n) = n {
                f(n);
            }
            Ok(())
        })
    }
}

/// A NOTIFY_CALLBACK event; `None` for other event ids (none exist today).
pub(crate) fn decode_notification(event: &[u8]) -> std::result::Result<Option<Notification>, services::WireError> {
    if event_id(event) != Some(RES_NOTIFY_CALLBACK) {
        return Ok(None);
    }
    let r = Reader::new(event);
    r.need(NOTIFY_CALLBACK)?;
    let change = match r.i32(296)? {
        TrackType::ADD => Change::Added,
        TrackType::DELETE => Change::Deleted,
        TrackType::MODIFY => Change::Modified,
        _ => return Err(services::WireError::Value("cmap notification event")),
    };
    let new_len = usize::try_from(r.u64(320)?).map_err(|_| services::WireError::Value("value length"))?;
    let old_len = usize::try_from(r.u64(328)?).map_err(|_| services::WireError::Value("value length"))?;
    let new_bytes = r.bytes(NOTIFY_CALLBACK, new_len)?;
    let old_bytes = r.bytes(NOTIFY_CALLBACK + new_len, old_len)?;
    let value = |code: u8, bytes: &[u8], present: bool| {
        if !present {
            return Ok(None);
        }
        Value::from_wire(code, bytes)
            .map(Some)
            .ok_or(services::WireError::Value("cmap value type or length"))
    };
    Ok(Some(Notification {
        user_data: r.u64(24)?,
        key: name_at(&r, 32)?,
        change,
        new: value(r.u8(304)?, new_bytes, change != Change::Deleted)?,
        old: value(r.u8(312)?, old_bytes, change != Change::Added)?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use services::cmap::codec::{self, Request};

    #[test]
    fn requests_decode_as_the_daemon_reads_them() {
        let mut w = key_request(RequestId::Set, SET_REQUEST, "a.b").unwrap();
        let v = Value::String("hi".into());
        let bytes = v.to_wire();
        w.u64(280, bytes.len() as u64).u8(288, v.type_code()).extend(&bytes);
        let msg = w.finish();
        match codec::decode(RequestId::Set, &msg).unwrap() {
            Request::Set {
                key, type_code, value, ..
            } => {
                assert_eq!(key, "a.b");
                assert_eq!(Value::from_wire(type_code, value), Some(v));
            }
            other => panic!("{other:?}"),
        }
        let mut w = key_request(RequestId::AdjustInt, REQUEST_HEADER + MAR_NAME + 8, "n").unwrap();
        w.i32(280, -3);
        assert_eq!(
            codec::decode(RequestId::AdjustInt, &w.finish()).unwrap(),
            Request::AdjustInt {
                key: "n".into(),
                step: -3
            }
        );
        let mut w = key_request(RequestId::TrackAdd, 296, "p.").unwrap();
        w.i32(280, (TrackKind::ALL | TrackKind::PREFIX).0).u64(288, 77);
        assert_eq!(
            codec::decode(RequestId::TrackAdd, &w.finish()).unwrap(),
            Request::TrackAdd {
                key: "p.".into(),
                track_type: TrackType(15),
                inst: 77
            }
        );
    }

    #[test]
    fn notifications_decode_what_the_daemon_sends() {
        let ev = codec::notify(9, "k", TrackType::MODIFY, Some(&Value::U32(2)), Some(&Value::U32(1)));
        let n = decode_notification(&ev).unwrap().unwrap();
        assert_eq!(
            n,
            Notification {
                user_data: 9,
                key: "k".into(),
                change: Change::Modified,
                new: Some(Value::U32(2)),
                old: Some(Value::U32(1)),
            }
        );
        let ev = codec::notify(1, "gone", TrackType::DELETE, None, Some(&Value::String("x".into())));
        let n = decode_notification(&ev).unwrap().unwrap();
        assert_eq!(
            (n.change, n.new, n.old),
            (Change::Deleted, None, Some(Value::String("x".into())))
        );
        // Truncated: an error, not a panic.
        assert!(decode_notification(&ev[..100]).is_err());
    }

    #[test]
    fn overlong_keys_are_refused_before_sending() {
        let long = "k".repeat(256);
        assert!(matches!(check_key(&long), Err(Error::InvalidArgument(_))));
        assert!(check_key(&"k".repeat(255)).is_ok());
    }
}

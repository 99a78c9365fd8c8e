//! cmap's library messages (`include/corosync/ipc_cmap.h`, `libqb-ipc.md` §7.1), decoded
//! from requests and encoded into responses and events, by field offset.

use crate::error::WireError;
use crate::icmap::Value;
use crate::wire::{Reader, Writer, MAR_NAME, MAR_NAME_MAX, REQUEST_HEADER, RESPONSE_HEADER};
use crate::CsError;

/// Library request ids (`enum req_cmap_types`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestId {
    Set = 0,
    Delete = 1,
    Get = 2,
    AdjustInt = 3,
    IterInit = 4,
    IterNext = 5,
    IterFinalize = 6,
    TrackAdd = 7,
    TrackDelete = 8,
    SetCurrentMap = 9,
}

impl RequestId {
    pub fn from_raw(id: i32) -> Option<RequestId> {
        use RequestId::*;
        [
            Set,
            Delete,
            Get,
            AdjustInt,
            IterInit,
            IterNext,
            IterFinalize,
            TrackAdd,
            TrackDelete,
            SetCurrentMap,
        ]
        .into_iter()
        .find(|r| *r as i32 == id)
    }

    /// The response id (`enum res_cmap_types`): the same number, except SET_CURRENT_MAP
    /// (10; 9 is the NOTIFY_CALLBACK event).
    pub fn response_id(self) -> i32 {
        match self {
            RequestId::SetCurrentMap => RES_SET_CURRENT_MAP,
            other => other as i32,
        }
    }

    /// Size of the response struct the client reads (an error reply has the same size,
    /// so it never overflows the client's buffer).
    pub fn response_size(self) -> usize {
        match self {
            RequestId::Get => GET_RESPONSE,
            RequestId::IterInit | RequestId::TrackAdd | RequestId::TrackDelete => 32,
            RequestId::IterNext => ITER_NEXT_RESPONSE,
            _ => RESPONSE_HEADER,
        }
    }
}

pub const RES_NOTIFY_CALLBACK: i32 = 9;
pub const RES_SET_CURRENT_MAP: i32 = 10;

/// `req_lib_cmap_set` without its value.
pub const SET_REQUEST: usize = 296;
/// `req_lib_cmap_get`.
pub const GET_REQUEST: usize = 288;
/// `res_lib_cmap_get` without its value.
pub const GET_RESPONSE: usize = 40;
/// `res_lib_cmap_iter_next`.
pub const ITER_NEXT_RESPONSE: usize = 304;
/// `res_lib_cmap_notify_callback` without the two values.
pub const NOTIFY_CALLBACK: usize = 336;
/// `ICMAP_MAX_VALUE_LEN`.
pub const VALUE_MAX: u64 = 16 * 1024;

/// `ICMAP_TRACK_*` bits of a track request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrackType(pub i32);

impl TrackType {
    pub const DELETE: i32 = 1;
    pub const MODIFY: i32 = 2;
    pub const ADD: i32 = 4;
    pub const PREFIX: i32 = 8;

    /// Only the four known bits may be set (`icmap_track_add`).
    pub fn valid(self) -> bool {
        self.0 & !(Self::DELETE | Self::MODIFY | Self::ADD | Self::PREFIX) == 0
    }
    pub fn has(self, bit: i32) -> bool {
        self.0 & bit != 0
    }
}

/// Which map a connection works on (`CMAP_SETMAP_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MapKind {
    #[default]
    Icmap,
    Stats,
}

/// A key as a `mar_name_t` carries it (at most 256 bytes; map keys are at most 255).
pub fn name_bytes(key: &str) -> &[u8] {
    &key.as_bytes()[..key.len().min(MAR_NAME_MAX)]
}

/// A decoded library request.
#[derive(Debug, Clone, PartialEq)]
pub enum Request<'a> {
    Set {
        key: String,
        value_len: u64,
        type_code: u8,
        value: &'a [u8],
    },
    Delete {
        key: String,
    },
    Get {
        key: String,
        /// The client's buffer size; 0 asks only for length and type.
        value_len: u64,
    },
    AdjustInt {
        key: String,
        step: i32,
    },
    IterInit {
        /// Empty: every key.
        prefix: String,
    },
    IterNext {
        handle: u64,
    },
    IterFinalize {
        handle: u64,
    },
    TrackAdd {
        /// Empty: every key (with PREFIX).
        key: String,
        track_type: TrackType,
        inst: u64,
    },
    TrackDelete {
        handle: u64,
    },
    SetCurrentMap {
        map: i32,
    },
}

/// Why a request cannot be decoded, as the client is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{0}")]
    Wire(#[from] WireError),
    #[error("value length {declared} does not fit the {available} bytes sent")]
    ValueLen { declared: u64, available: usize },
}

impl DecodeError {
    pub fn cs_error(&self) -> CsError {
        match self {
            DecodeError::Wire(WireError::NameTooLong(_)) => CsError::NameTooLong,
            _ => CsError::InvalidParam,
        }
    }
}

/// A key name from a `mar_name_t`: at most 256 bytes, ending at the first NUL (corosync
/// reads the value as a C string).
fn key_at(r: &Reader<'_>, at: usize) -> Result<String, DecodeError> {
    r.need(at + MAR_NAME)?;
    let raw = r.mar_name(at)?;
    debug_assert!(raw.len() <= MAR_NAME_MAX);
    let end = raw.iter().position(|c| *c == 0).unwrap_or(raw.len());
    Ok(String::from_utf8_lossy(&raw[..end]).into_owned())
}

/// Decodes request `id`; `None`: not a cmap request id.
pub fn decode(id: RequestId, msg: &[u8]) -> Result<Request<'_>, DecodeError> {
    let r = Reader::new(msg);
    r.need(REQUEST_HEADER)?;
    Ok(match id {
        RequestId::Set => {
            r.need(SET_REQUEST)?;
            let key = key_at(&r, 16)?;
            let value_len = r.u64(280)?;
            let available = msg.len() - SET_REQUEST;
            if value_len > available as u64 {
                return Err(DecodeError::ValueLen {
                    declared: value_len,
                    available,
                });
            }
            Request::Set {
                key,
                value_len,
                type_code: r.u8(288)?,
                value: r.bytes(SET_REQUEST, value_len as usize)?,
            }
        }
        RequestId::Delete => Request::Delete { key: key_at(&r, 16)? },
        RequestId::Get => {
            r.need(GET_REQUEST)?;
            Request::Get {
                key: key_at(&r, 16)?,
                value_len: r.u64(280)?,
            }
        }
        RequestId::AdjustInt => Request::AdjustInt {
            key: key_at(&r, 16)?,
            step: r.i32(280)?,
        },
        RequestId::IterInit => Request::IterInit {
            prefix: key_at(&r, 16)?,
        },
        RequestId::IterNext => Request::IterNext { handle: r.u64(16)? },
        RequestId::IterFinalize => Request::IterFinalize { handle: r.u64(16)? },
        RequestId::TrackAdd => {
            r.need(296)?;
            Request::TrackAdd {
                key: key_at(&r, 16)?,
                track_type: TrackType(r.i32(280)?),
                inst: r.u64(288)?,
            }
        }
        RequestId::TrackDelete => Request::TrackDelete { handle: r.u64(16)? },
        RequestId::SetCurrentMap => Request::SetCurrentMap { map: r.i32(16)? },
    })
}

/// A response that is only the header (SET, DELETE, ADJUST_INT, ITER_FINALIZE,
/// SET_CURRENT_MAP), or the zeroed fixed-size response of any call with an error.
pub fn plain(id: RequestId, error: CsError) -> Vec<u8> {
    Writer::response(id.response_id(), id.response_size(), error).finish()
}

/// `res_lib_cmap_get`: `{hdr; u64 value_len @24; u8 type @32; value @40}`. `size` is the
/// whole response (40 + the client's buffer, or 40 for a probe or an error).
pub fn get(error: CsError, value: Option<&Value>, size: usize) -> Vec<u8> {
    let mut w = Writer::response(RequestId::Get.response_id(), size.max(GET_RESPONSE), error);
    if let Some(v) = value {
        w.u64(24, v.wire_len() as u64).u8(32, v.type_code());
        if size > GET_RESPONSE {
            let bytes = v.to_wire();
            w.bytes(GET_RESPONSE, &bytes[..bytes.len().min(size - GET_RESPONSE)]);
        }
    }
    w.finish()
}

/// `res_lib_cmap_iter_init` / `res_lib_cmap_track_add` / `res_lib_cmap_track_delete`:
/// a header and one u64 @24.
pub fn with_handle(id: RequestId, error: CsError, handle: u64) -> Vec<u8> {
    let mut w = Writer::response(id.response_id(), 32, error);
    w.u64(24, handle);
    w.finish()
}

/// `res_lib_cmap_iter_next`: `{hdr; key_name @24; u64 value_len @288; u8 type @296}`.
pub fn iter_next(error: CsError, item: Option<(&str, &Value)>) -> Vec<u8> {
    let mut w = Writer::response(RequestId::IterNext.response_id(), ITER_NEXT_RESPONSE, error);
    if let Some((key, v)) = item {
        w.mar_name(24, name_bytes(key))
            .u64(288, v.wire_len() as u64)
            .u8(296, v.type_code());
    }
    w.finish()
}

/// `res_lib_cmap_notify_callback`: `{hdr; u64 track_inst_handle @24; key_name @32;
/// i32 event @296; u8 new_type @304; u8 old_type @312; u64 new_len @320;
/// u64 old_len @328}`, then the new value, then the old one.
pub fn notify(inst: u64, key: &str, event: i32, new: Option<&Value>, old: Option<&Value>) -> Vec<u8> {
    let mut w = Writer::response(RES_NOTIFY_CALLBACK, NOTIFY_CALLBACK, CsError::Ok);
    w.u64(24, inst).mar_name(32, name_bytes(key)).i32(296, event);
    if let Some(v) = new {
        w.u8(304, v.type_code()).u64(320, v.wire_len() as u64);
    }
    if let Some(v) = old {
        w.u8(312, v.type_code()).u64(328, v.wire_len() as u64);
    }
    if let Some(v) = new {
        w.extend(&v.to_wire());
    }
    if let Some(v) = old {
        w.extend(&v.to_wire());
    }
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(id: RequestId, size: usize) -> Writer {
        Writer::request(id as i32, size)
    }

    #[test]
    fn set_request_layout() {
        let mut w = req(RequestId::Set, SET_REQUEST + 4);
        w.mar_name(16, b"uidgid.gid.189").u64(280, 1).u8(288, 2).u8(296, 1);
        let m = w.finish();
        assert_eq!(
            decode(RequestId::Set, &m).unwrap(),
            Request::Set {
                key: "uidgid.gid.189".into(),
                value_len: 1,
                type_code: 2,
                value: &[1]
            }
        );
    }

    #[test]
    fn value_len_lie_is_refused() {
        let mut w = req(RequestId::Set, SET_REQUEST + 1);
        w.mar_name(16, b"a.b.c").u64(280, 1 << 40).u8(288, 12);
        let e = decode(RequestId::Set, &w.finish()).unwrap_err();
        assert_eq!(e.cs_error(), CsError::InvalidParam);
        let mut w = req(RequestId::Get, GET_REQUEST);
        w.u16(16, 257);
        assert_eq!(
            decode(RequestId::Get, &w.finish()).unwrap_err().cs_error(),
            CsError::NameTooLong
        );
    }

    #[test]
    fn key_stops_at_nul() {
        let mut w = req(RequestId::Delete, 280);
        w.u16(16, 10).bytes(24, b"abc\0defghi");
        assert_eq!(
            decode(RequestId::Delete, &w.finish()).unwrap(),
            Request::Delete { key: "abc".into() }
        );
    }

    #[test]
    fn get_probe_is_40_bytes() {
        let v = Value::String("pcmk".into());
        let m = get(CsError::Ok, Some(&v), GET_RESPONSE);
        assert_eq!(m.len(), 40);
        let r = Reader::new(&m);
        assert_eq!(r.i32(0).unwrap(), 2);
        assert_eq!(r.i32(8).unwrap(), 40);
        assert_eq!(r.i32(16).unwrap(), CsError::Ok as i32);
        assert_eq!(r.u64(24).unwrap(), 5);
        assert_eq!(r.u8(32).unwrap(), 11);
        let full = get(CsError::Ok, Some(&v), 45);
        assert_eq!(&full[40..], b"pcmk\0");
        assert_eq!(Reader::new(&full).i32(8).unwrap(), 45);
    }

    #[test]
    fn iter_next_and_handles_layout() {
        let m = iter_next(CsError::Ok, Some(("totem.token", &Value::U32(3000))));
        assert_eq!(m.len(), 304);
        let r = Reader::new(&m);
        assert_eq!(r.i32(0).unwrap(), 5);
        assert_eq!(r.mar_name(24).unwrap(), b"totem.token");
        assert_eq!(r.u64(288).unwrap(), 4);
        assert_eq!(r.u8(296).unwrap(), 6);
        let end = iter_next(CsError::NoSections, None);
        assert_eq!(Reader::new(&end).i32(16).unwrap(), CsError::NoSections as i32);
        let h = with_handle(RequestId::IterInit, CsError::Ok, 0x1234_0000_0001);
        assert_eq!(h.len(), 32);
        assert_eq!(Reader::new(&h).u64(24).unwrap(), 0x1234_0000_0001);
        assert_eq!(
            Reader::new(&plain(RequestId::SetCurrentMap, CsError::Ok))
                .i32(0)
                .unwrap(),
            10
        );
    }

    #[test]
    fn notify_layout_with_both_values() {
        let m = notify(7, "a.key", TrackType::MODIFY, Some(&Value::U8(2)), Some(&Value::U16(1)));
        assert_eq!(m.len(), 336 + 1 + 2);
        let r = Reader::new(&m);
        assert_eq!(r.i32(0).unwrap(), 9);
        assert_eq!(r.i32(8).unwrap(), 339);
        assert_eq!(r.u64(24).unwrap(), 7);
        assert_eq!(r.mar_name(32).unwrap(), b"a.key");
        assert_eq!(r.i32(296).unwrap(), 2);
        assert_eq!((r.u8(304).unwrap(), r.u8(312).unwrap()), (2, 4));
        assert_eq!((r.u64(320).unwrap(), r.u64(328).unwrap()), (1, 2));
        assert_eq!(&m[336..], &[2, 1, 0]);
    }
}

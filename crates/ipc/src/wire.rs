//! libqb wire headers: the handshake structs and the per-message request/response headers
//! (libqb `include/qb/qbipc_common.h`, `lib/ipc_int.h`). Pure byte codecs, no I/O.
//!
//! Every `int32` in these headers is `aligned(8)`, and all integers are native
//! (little-endian on the platforms we build for).

use thiserror::Error;

/// `QB_IPC_MSG_AUTHENTICATE`: the id of both handshake messages.
pub const MSG_AUTHENTICATE: i32 = -1;
/// `QB_IPC_MSG_DISCONNECT`: a request with this id asks the server to close the connection.
pub const MSG_DISCONNECT: i32 = -3;
/// `sizeof(struct qb_ipc_connection_request)`.
pub const CONNECTION_REQUEST_SIZE: usize = 24;
/// `sizeof(struct qb_ipc_connection_response)`.
pub const CONNECTION_RESPONSE_SIZE: usize = 12_328;
/// `sizeof(struct qb_ipc_request_header)`: `{i32 id @0; i32 size @8}`.
pub const REQUEST_HEADER_SIZE: usize = 16;
/// `sizeof(struct qb_ipc_response_header)`: `{i32 id @0; i32 size @8; i32 error @16}`.
pub const RESPONSE_HEADER_SIZE: usize = 24;
/// `QB_IPC_SHM`, the only transport this crate speaks (the server always chooses it).
pub const CONNECTION_TYPE_SHM: i32 = 1;
/// `QB_IPC_SOCKET`.
pub const CONNECTION_TYPE_SOCKET: i32 = 0;
/// `PATH_MAX`: the size of each ring name field of the connection response.
pub const PATH_MAX: usize = 4096;
/// libqb writes the ring names with `snprintf(…, NAME_MAX, …)`: longer names are cut.
pub const RING_NAME_MAX: usize = 255;

const OFF_CONN_TYPE: usize = 24;
const OFF_MAX_MSG: usize = 28;
const OFF_REQUEST_NAME: usize = 40;
const OFF_RESPONSE_NAME: usize = OFF_REQUEST_NAME + PATH_MAX;
const OFF_EVENT_NAME: usize = OFF_RESPONSE_NAME + PATH_MAX;

/// Why bytes are not a valid libqb header.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum WireError {
    #[error("message of {len} bytes is shorter than its {need}-byte header")]
    TooShort { len: usize, need: usize },
    #[error("header size {size} is smaller than the header itself")]
    SizeTooSmall { size: i32 },
    #[error("header size {size} is larger than the {len} bytes received")]
    SizeExceedsChunk { size: i32, len: usize },
    #[error("header size {size} is larger than the maximum message size {max}")]
    SizeExceedsMax { size: i32, max: usize },
    #[error("unexpected message id {id}")]
    BadId { id: i32 },
    #[error("ring name of {len} bytes does not fit the {max}-byte field")]
    NameTooLong { len: usize, max: usize },
    #[error("ring name is not valid UTF-8 or is empty")]
    BadName,
}

fn i32_at(b: &[u8], off: usize) -> i32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[off..off + 4]);
    i32::from_ne_bytes(w)
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[off..off + 4]);
    u32::from_ne_bytes(w)
}

fn put_i32(b: &mut [u8], off: usize, v: i32) {
    b[off..off + 4].copy_from_slice(&v.to_ne_bytes());
}

/// What a request chunk's header says, once checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestHeader {
    /// Service request id (`>= 0`), or [`MSG_DISCONNECT`].
    pub id: i32,
    /// Bytes of the message, header included (`16 ..= chunk length`).
    pub size: usize,
}

/// Decodes and checks the header of one request chunk read from a request ring.
///
/// `chunk` is the whole chunk payload; `max_msg_size` the connection's negotiated maximum.
/// Accepts `id >= 0` and [`MSG_DISCONNECT`]; the size must cover the header, fit in the
/// chunk and not exceed `max_msg_size`. Never panics.
pub fn decode_request(chunk: &[u8], max_msg_size: usize) -> Result<RequestHeader, WireError> {
    if chunk.len() < REQUEST_HEADER_SIZE {
        return Err(WireError::TooShort {
            len: chunk.len(),
            need: REQUEST_HEADER_SIZE,
        });
    }
    let id = i32_at(chunk, 0);
    let size = i32_at(chunk, 8);
    if id < 0 && id != MSG_DISCONNECT {
        return Err(WireError::BadId { id });
    }
    let Ok(usize_size) = usize::try_from(size) else {
        return Err(WireError::SizeTooSmall { size });
    };
    if usize_size < REQUEST_HEADER_SIZE {
        return Err(WireError::SizeTooSmall { size });
    }
    if usize_size > max_msg_size {
        return Err(WireError::SizeExceedsMax {
            size,
            max: max_msg_size,
        });
    }
    if usize_size > chunk.len() {
        return Err(WireError::SizeExceedsChunk { size, len: chunk.len() });
    }
    Ok(RequestHeader { id, size: usize_size })
}

/// A response or event header (`struct qb_ipc_response_header`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseHeader {
    pub id: i32,
    pub size: i32,
    /// Service-level status; for corosync services a `cs_error_t` (`CS_OK` = 1).
    pub error: i32,
}

impl ResponseHeader {
    /// The 24 header bytes.
    pub fn encode(&self) -> [u8; RESPONSE_HEADER_SIZE] {
        let mut b = [0u8; RESPONSE_HEADER_SIZE];
        put_i32(&mut b, 0, self.id);
        put_i32(&mut b, 8, self.size);
        put_i32(&mut b, 16, self.error);
        b
    }

    /// Reads the header at the start of `b`.
    pub fn decode(b: &[u8]) -> Result<Self, WireError> {
        if b.len() < RESPONSE_HEADER_SIZE {
            return Err(WireError::TooShort {
                len: b.len(),
                need: RESPONSE_HEADER_SIZE,
            });
        }
        Ok(Self {
            id: i32_at(b, 0),
            size: i32_at(b, 8),
            error: i32_at(b, 16),
        })
    }
}

/// Encodes a 16-byte request header (`{i32 id @0; i32 size @8}`).
pub fn encode_request_header(id: i32, size: i32) -> [u8; REQUEST_HEADER_SIZE] {
    let mut b = [0u8; REQUEST_HEADER_SIZE];
    put_i32(&mut b, 0, id);
    put_i32(&mut b, 8, size);
    b
}

/// Client → server: `struct qb_ipc_connection_request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionRequest {
    /// The client's buffer size (1 MiB for the corosync libraries).
    pub max_msg_size: u32,
}

impl ConnectionRequest {
    pub fn encode(&self) -> [u8; CONNECTION_REQUEST_SIZE] {
        let mut b = [0u8; CONNECTION_REQUEST_SIZE];
        put_i32(&mut b, 0, MSG_AUTHENTICATE);
        put_i32(&mut b, 8, CONNECTION_REQUEST_SIZE as i32);
        b[16..20].copy_from_slice(&self.max_msg_size.to_ne_bytes());
        b
    }

    /// Checks id and size as libqb does (`id == -1`, `size == 24`).
    pub fn decode(b: &[u8]) -> Result<Self, WireError> {
        if b.len() < CONNECTION_REQUEST_SIZE {
            return Err(WireError::TooShort {
                len: b.len(),
                need: CONNECTION_REQUEST_SIZE,
            });
        }
        let id = i32_at(b, 0);
        if id != MSG_AUTHENTICATE {
            return Err(WireError::BadId { id });
        }
        let size = i32_at(b, 8);
        if size != CONNECTION_REQUEST_SIZE as i32 {
            return Err(WireError::SizeExceedsChunk {
                size,
                len: CONNECTION_REQUEST_SIZE,
            });
        }
        Ok(Self {
            max_msg_size: u32_at(b, 16),
        })
    }
}

/// Server → client: `struct qb_ipc_connection_response`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionResponse {
    /// 0, or `-errno` (`-EACCES` refused, `-EAGAIN` not ready).
    pub error: i32,
    pub connection_type: i32,
    pub max_msg_size: u32,
    /// Base names of the three rings (SHM); empty when `error != 0`.
    pub request: String,
    pub response: String,
    pub event: String,
}

impl ConnectionResponse {
    /// A refusal: only the error is set, as libqb sends it.
    pub fn refused(errno: i32) -> Self {
        Self {
            error: -errno.abs(),
            connection_type: 0,
            max_msg_size: 0,
            request: String::new(),
            response: String::new(),
            event: String::new(),
        }
    }

    pub fn encode(&self) -> Result<Vec<u8>, WireError> {
        let mut b = vec![0u8; CONNECTION_RESPONSE_SIZE];
        put_i32(&mut b, 0, MSG_AUTHENTICATE);
        put_i32(&mut b, 8, CONNECTION_RESPONSE_SIZE as i32);
        put_i32(&mut b, 16, self.error);
        put_i32(&mut b, OFF_CONN_TYPE, self.connection_type);
        b[OFF_MAX_MSG..OFF_MAX_MSG + 4].copy_from_slice(&self.max_msg_size.to_ne_bytes());
        // `connection` (@32) is an opaque pointer the client never reads: left 0.
        for (off, name) in [
            (OFF_REQUEST_NAME, &self.request),
            (OFF_RESPONSE_NAME, &self.response),
            (OFF_EVENT_NAME, &self.event),
        ] {
            if name.len() >= RING_NAME_MAX {
                return Err(WireError::NameTooLong {
                    len: name.len(),
                    max: RING_NAME_MAX,
                });
            }
            b[off..off + name.len()].copy_from_slice(name.as_bytes());
        }
        Ok(b)
    }

    pub fn decode(b: &[u8]) -> Result<Self, WireError> {
        if b.len() < CONNECTION_RESPONSE_SIZE {
            return Err(WireError::TooShort {
                len: b.len(),
                need: CONNECTION_RESPONSE_SIZE,
            });
        }
        let id = i32_at(b, 0);
        if id != MSG_AUTHENTICATE {
            return Err(WireError::BadId { id });
        }
        let error = i32_at(b, 16);
        let name = |off: usize| -> Result<String, WireError> {
            if error != 0 {
                return Ok(String::new());
            }
            let field = &b[off..off + PATH_MAX];
            let end = field.iter().position(|&c| c == 0).unwrap_or(PATH_MAX);
            match std::str::from_utf8(&field[..end]) {
                Ok(s) if !s.is_empty() => Ok(s.to_owned()),
                _ => Err(WireError::BadName),
            }
        };
        Ok(Self {
            error,
            connection_type: i32_at(b, OFF_CONN_TYPE),
            max_msg_size: u32_at(b, OFF_MAX_MSG),
            request: name(OFF_REQUEST_NAME)?,
            response: name(OFF_RESPONSE_NAME)?,
            event: name(OFF_EVENT_NAME)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(id: i32, size: i32, len: usize) -> Vec<u8> {
        let mut b = vec![0u8; len];
        b[..16].copy_from_slice(&encode_request_header(id, size));
        b
    }

    #[test]
    fn request_header_accepts_exact_and_shorter_sizes() {
        assert_eq!(
            decode_request(&request(2, 40, 40), 1 << 20),
            Ok(RequestHeader { id: 2, size: 40 })
        );
        // A chunk is padded to 4 bytes; the header's size is what counts.
        assert_eq!(
            decode_request(&request(0, 17, 20), 1 << 20),
            Ok(RequestHeader { id: 0, size: 17 })
        );
        assert_eq!(
            decode_request(&request(MSG_DISCONNECT, 16, 16), 64),
            Ok(RequestHeader {
                id: MSG_DISCONNECT,
                size: 16
            })
        );
    }

    #[test]
    fn request_header_rejects_garbage() {
        assert!(matches!(
            decode_request(&[0u8; 15], 64),
            Err(WireError::TooShort { .. })
        ));
        assert!(matches!(
            decode_request(&request(1, 15, 16), 64),
            Err(WireError::SizeTooSmall { .. })
        ));
        assert!(matches!(
            decode_request(&request(1, -5, 16), 64),
            Err(WireError::SizeTooSmall { .. })
        ));
        assert!(matches!(
            decode_request(&request(1, 32, 16), 64),
            Err(WireError::SizeExceedsChunk { .. })
        ));
        assert!(matches!(
            decode_request(&request(1, 65, 80), 64),
            Err(WireError::SizeExceedsMax { .. })
        ));
        assert!(matches!(
            decode_request(&request(-1, 16, 16), 64),
            Err(WireError::BadId { id: -1 })
        ));
    }

    #[test]
    fn connection_messages_round_trip_with_libqb_offsets() {
        let req = ConnectionRequest { max_msg_size: 1 << 20 };
        let b = req.encode();
        assert_eq!(i32_at(&b, 0), -1);
        assert_eq!(i32_at(&b, 8), 24);
        assert_eq!(u32_at(&b, 16), 1 << 20);
        assert_eq!(ConnectionRequest::decode(&b), Ok(req));

        let resp = ConnectionResponse {
            error: 0,
            connection_type: CONNECTION_TYPE_SHM,
            max_msg_size: 1 << 20,
            request: "/dev/shm/qb-1-2-3-abcdef/qb-request-cmap".into(),
            response: "/dev/shm/qb-1-2-3-abcdef/qb-response-cmap".into(),
            event: "/dev/shm/qb-1-2-3-abcdef/qb-event-cmap".into(),
        };
        let b = resp.encode().unwrap();
        assert_eq!(b.len(), CONNECTION_RESPONSE_SIZE);
        assert_eq!(i32_at(&b, 8), 12_328);
        assert_eq!(i32_at(&b, 24), 1);
        assert_eq!(&b[4136..4136 + 6], b"/dev/s");
        assert_eq!(ConnectionResponse::decode(&b), Ok(resp));

        let refused = ConnectionResponse::refused(libc::EACCES);
        let b = refused.encode().unwrap();
        assert_eq!(i32_at(&b, 16), -libc::EACCES);
        assert_eq!(ConnectionResponse::decode(&b).unwrap().error, -libc::EACCES);
    }

    #[test]
    fn response_header_layout() {
        let h = ResponseHeader {
            id: 5,
            size: 304,
            error: 1,
        };
        let b = h.encode();
        assert_eq!((i32_at(&b, 0), i32_at(&b, 8), i32_at(&b, 16)), (5, 304, 1));
        assert_eq!(ResponseHeader::decode(&b), Ok(h));
    }
}

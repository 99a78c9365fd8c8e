//! Encoding and decoding of Totem messages. (Placeholder signatures; the full codec is being written.)
use super::*;

/// Why a datagram was rejected. Decoding never panics and never allocates more
/// than the datagram's own size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("datagram too short: {len} bytes, need {need}")]
    Truncated { len: usize, need: usize },
    #[error("bad magic {0:#06x}")]
    BadMagic(u16),
    #[error("unsupported version {0}")]
    BadVersion(u8),
    #[error("unknown message type {0}")]
    BadType(u8),
    #[error("{field} = {value} is out of range")]
    BadCount { field: &'static str, value: i64 },
    #[error("length mismatch: {len} bytes, expected {expected}")]
    BadLength { len: usize, expected: usize },
}

pub fn decode(_bytes: &[u8]) -> Result<Decoded, DecodeError> {
    Err(DecodeError::Truncated { len: 0, need: HEADER_LEN })
}

pub fn encode(msg: &Message) -> Vec<u8> {
    let mut v = Vec::new();
    encode_into(msg, &mut v);
    v
}

pub fn encode_into(_msg: &Message, _buf: &mut Vec<u8>) {}

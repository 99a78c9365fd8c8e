//! libqb IPC request decoding never panics, and accepts only what the server can use: a
//! header whose size covers the header, fits in the chunk and the negotiated maximum, with
//! a service id (>= 0) or QB_IPC_MSG_DISCONNECT. The handshake decoders never panic
//! either, and what they accept re-encodes to the same fields.
#![no_main]

use ipc::wire::{
    decode_request, encode_request_header, ConnectionRequest, ConnectionResponse, MSG_DISCONNECT, REQUEST_HEADER_SIZE,
};
use libfuzzer_sys::fuzz_target;

/// The id (bytes 0..4) and size (8..12) fields; the rest of a header is alignment padding.
fn fields(b: &[u8]) -> (&[u8], &[u8]) {
    (&b[0..4], &b[8..12])
}

fuzz_target!(|data: &[u8]| {
    // The first two bytes pick the connection's maximum message size; the rest is a chunk.
    let (max, chunk) = match data {
        [a, b, rest @ ..] => (u16::from_le_bytes([*a, *b]) as usize, rest),
        _ => (0, data),
    };
    if let Ok(h) = decode_request(chunk, max) {
        assert!(h.size >= REQUEST_HEADER_SIZE);
        assert!(h.size <= chunk.len() && h.size <= max);
        assert!(h.id >= 0 || h.id == MSG_DISCONNECT);
        let re = encode_request_header(h.id, h.size as i32);
        assert_eq!(fields(&re), fields(chunk));
    }
    if let Ok(r) = ConnectionRequest::decode(chunk) {
        let re = r.encode();
        assert_eq!(fields(&re), fields(chunk));
        assert_eq!(&re[16..20], &chunk[16..20]);
    }
    if let Ok(r) = ConnectionResponse::decode(chunk) {
        if let Ok(re) = r.encode() {
            assert_eq!(ConnectionResponse::decode(&re), Ok(r));
        }
    }
});

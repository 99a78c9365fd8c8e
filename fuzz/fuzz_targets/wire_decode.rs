//! Totem wire decoder: never panics, and whatever decodes survives re-encoding.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use totem::wire::{decode, decode_shared, encode, encoded_len, unencapsulate, Message};

fuzz_target!(|data: &[u8]| {
    let shared = decode_shared(&Bytes::copy_from_slice(data));
    let Ok(d) = decode(data) else {
        assert!(shared.is_err(), "decode_shared accepted what decode rejected");
        return;
    };
    assert_eq!(shared.as_ref(), Ok(&d), "decode_shared disagrees with decode");

    let re = encode(&d.message);
    assert_eq!(re.len(), data.len(), "sizes are exact");
    assert_eq!(re.len(), encoded_len(&d.message));
    let again = decode(&re).expect("a re-encoded message must decode");
    assert!(!again.foreign_endian, "we always encode little-endian");
    assert_eq!(again.message, d.message);

    // Little-endian input comes back byte for byte, except header byte 4, which only
    // mcast keeps (the other types ignore it and send 0).
    if !d.foreign_endian {
        let is_mcast = matches!(d.message, Message::Mcast(_));
        for (i, (a, b)) in data.iter().zip(&re).enumerate() {
            if i != 4 || is_mcast {
                assert_eq!(a, b, "byte {i} differs after re-encoding");
            }
        }
    }

    if let Message::Mcast(m) = &d.message {
        if let Ok((inner, _)) = unencapsulate(m) {
            assert!(m.encapsulated);
            assert_eq!(
                decode(&encode(&Message::Mcast(inner.clone()))).unwrap().message,
                Message::Mcast(inner)
            );
        }
    }
});

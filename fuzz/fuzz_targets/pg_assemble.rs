//! totempg reassembly never panics and never delivers more than it was fed: the input
//! is cut into frames (a length byte before each), each from one of three senders,
//! in either byte order.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use totem::pg::Assembler;

fuzz_target!(|data: &[u8]| {
    let mut assembler = Assembler::new(64 * 1024);
    let mut fed = 0usize;
    let mut delivered = 0usize;
    let mut rest = data;
    while rest.len() >= 2 {
        let control = rest[0];
        let len = (rest[1] as usize * 8).min(rest.len() - 2);
        let frame = Bytes::copy_from_slice(&rest[2..2 + len]);
        rest = &rest[2 + len..];
        fed += frame.len();
        let sender = u32::from(control % 3) + 1;
        let foreign = control & 0x80 != 0;
        let _ = assembler.push_frame(sender, &frame, foreign, &mut |m: Bytes| delivered += m.len());
        if control & 0x40 != 0 {
            assembler.forget(sender);
        }
    }
    assert!(delivered <= fed, "delivered {delivered} bytes from {fed} fed");
});

//! A running node fed arbitrary datagrams (mixed with valid ones from a peer) never
//! panics: every input is either processed or rejected with an error.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use totem::{Config, Instant, Totem};

fuzz_target!(|data: &[u8]| {
    let config = Config::from_token(Duration::from_millis(200), 4);
    let mut node = Totem::new(config, 2, 0, 7, Instant::ZERO);
    let mut now = Instant::ZERO;
    let mut rest = data;
    while rest.len() >= 2 {
        let len = (rest[0] as usize * 4).min(rest.len() - 1);
        let step = rest[1];
        let datagram = &rest[1..1 + len];
        rest = &rest[1 + len..];
        now = now + Duration::from_micros(u64::from(step) * 97);
        let _ = node.handle_packet(now, datagram);
        if step % 5 == 0 {
            node.handle_timeout(now + Duration::from_millis(u64::from(step)));
            now = now + Duration::from_millis(u64::from(step));
        }
        if step % 7 == 0 {
            let _ = node.submit(datagram);
        }
        while node.poll_transmit().is_some() {}
        while node.poll_event().is_some() {}
    }
});

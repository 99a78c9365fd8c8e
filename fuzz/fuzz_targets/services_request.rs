//! Arbitrary client traffic against a running single-node `services::Node` (totem, sync
//! and every standard service, votequorum included): connections to any service, requests
//! whose bytes are chosen by the fuzzer (whole messages, or a valid header around an
//! arbitrary body), disconnects and time passing. Nothing may panic, and every reply the
//! node produces goes to a connected client and carries a response header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use services::{ConnId, Credentials, Icmap, Node, ServiceId, Value};
use totem::{Config, Destination, Instant, Totem};

/// Loops this node's datagrams to itself back in (a single node sends its token to
/// itself); datagrams for all other nodes go nowhere.
fn loop_back(node: &mut Node, now: Instant) {
    for _ in 0..1000 {
        let mut own = Vec::new();
        while let Some(t) = node.poll_transmit() {
            if t.destination == Destination::Node(1) {
                own.push(t.payload);
            }
        }
        if own.is_empty() {
            return;
        }
        for p in own {
            let _ = node.handle_datagram(now, &p);
        }
    }
}

fn ready_node() -> (Node, Instant) {
    let mut map = Icmap::default();
    map.set("totem.cluster_name", Value::String("fuzz".into()));
    map.set("quorum.provider", Value::String("corosync_votequorum".into()));
    map.set("nodelist.node.0.nodeid", Value::U32(1));
    map.set("nodelist.node.0.ring0_addr", Value::String("10.0.0.1".into()));
    let totem = Totem::new(Config::default(), 1, 0, 7, Instant::ZERO);
    let mut node = Node::new(totem, map, services::standard).expect("valid configuration");
    let mut now = Instant::ZERO;
    for _ in 0..10_000 {
        if !node.sync_in_process() {
            break;
        }
        now = node.poll_timeout().unwrap_or(now).max(now);
        node.handle_timeout(now);
        loop_back(&mut node, now);
        while node.poll_event().is_some() {}
    }
    assert!(!node.sync_in_process(), "a single node synchronises on its own");
    (node, now)
}

fuzz_target!(|data: &[u8]| {
    let (mut node, mut now) = ready_node();
    let mut connected: Vec<u64> = Vec::new();
    let mut next_conn = 1u64;
    let mut rest = data;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        match op % 5 {
            0 => {
                let service = ServiceId::ALL[usize::from(op / 5) % ServiceId::ALL.len()];
                let creds = Credentials { pid: 100 + next_conn as u32, uid: 0, gid: 0 };
                if node.client_connected(now, ConnId(next_conn), service, creds).is_ok() {
                    connected.push(next_conn);
                }
                next_conn += 1;
            }
            1 | 2 if !connected.is_empty() => {
                let Some((&len, tail)) = rest.split_first() else { break };
                let take = usize::from(len).min(tail.len());
                let (body, tail) = tail.split_at(take);
                rest = tail;
                let conn = connected[usize::from(op) % connected.len()];
                let msg = if op % 5 == 1 {
                    body.to_vec()
                } else {
                    // A valid header (id from the body's first byte) around the body.
                    let id = i32::from(body.first().copied().unwrap_or(0) % 16);
                    let size = 16 + body.len();
                    let mut m = vec![0u8; 16];
                    m[0..4].copy_from_slice(&id.to_ne_bytes());
                    m[8..12].copy_from_slice(&(size as i32).to_ne_bytes());
                    m.extend_from_slice(body);
                    m
                };
                node.client_request(now, ConnId(conn), &msg);
            }
            3 if !connected.is_empty() => {
                let conn = connected.remove(usize::from(op) % connected.len());
                node.client_disconnected(now, ConnId(conn));
            }
            _ => {
                now = now + std::time::Duration::from_millis(u64::from(op));
                node.handle_timeout(now);
            }
        }
        loop_back(&mut node, now);
        while node.poll_event().is_some() {}
        while node.poll_action().is_some() {}
        while let Some(m) = node.poll_client_message() {
            assert!(m.conn.0 < next_conn, "reply to a connection that never existed");
            assert!(m.data.len() >= 24, "replies carry a response header");
        }
    }
});

//! Token recovery: a forwarded token that does not come back in about two rotations is
//! sent again at once (doubling up to corosync's `token_retransmit`), and only a message
//! that proves the token moved on stops the retransmission.

mod support;

use std::time::Duration;

use support::{fast_config, Net};
use totem::wire::{self, Mcast, Message, OrfToken};
use totem::{Destination, Instant, RingId, Totem};

/// A 3-node ring {1, 2, 3} in OPERATIONAL with node 2 taken out for direct driving.
fn node2_of_three() -> (Totem, Instant, RingId, totem::Config) {
    let config = fast_config(3);
    let mut net = Net::new(&[1, 2, 3], config.clone());
    net.run_until_converged(Duration::from_secs(5)).expect("ring forms");
    let now = net.now;
    let mut node = net.nodes.remove(&2).unwrap();
    while node.poll_transmit().is_some() {}
    while node.poll_event().is_some() {}
    let ring = node.srp().ring_id();
    (node, now, ring, config)
}

fn token(ring: RingId, token_seq: u32) -> OrfToken {
    OrfToken {
        sender: 1,
        target_nodeid: 0,
        seq: 0,
        token_seq,
        aru: 0,
        aru_addr: 0,
        ring_id: ring,
        backlog: 0,
        fcc: 0,
        retrans_flg: 0,
        rtr_list: Vec::new(),
    }
}

/// Tokens node 2 sent to node 3 since the last call (their token_seq).
fn tokens_to_3(node: &mut Totem) -> Vec<u32> {
    let mut out = Vec::new();
    while let Some(t) = node.poll_transmit() {
        if let Message::OrfToken(tok) = wire::decode(&t.payload).unwrap().message {
            assert_eq!(t.destination, Destination::Node(3));
            out.push(tok.token_seq);
        }
    }
    out
}

fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

/// Drives `rotations` quick rotations of `rotation` each; returns the time and the next
/// token_seq to feed.
fn rotate(
    node: &mut Totem,
    ring: RingId,
    mut now: Instant,
    first_seq: u32,
    rotations: u32,
    rotation: Duration,
) -> (Instant, u32) {
    let mut seq = first_seq;
    for _ in 0..rotations {
        node.handle_packet(now, &wire::encode(&Message::OrfToken(token(ring, seq))))
            .unwrap();
        assert_eq!(tokens_to_3(node), vec![seq + 1], "forwarded with token_seq + 1");
        now = now + rotation;
        seq += 3;
    }
    (now, seq)
}

#[test]
fn a_lost_token_is_resent_after_two_rotations_then_backs_off_to_the_configured_timer() {
    let (mut node, now, ring, config) = node2_of_three();
    let (now, seq) = rotate(&mut node, ring, now, 10_000, 8, us(500));
    // The token comes once more and goes out; this time it never comes back.
    node.handle_packet(now, &wire::encode(&Message::OrfToken(token(ring, seq))))
        .unwrap();
    assert_eq!(tokens_to_3(&mut node), vec![seq + 1]);
    let sent_at = now;
    let mut waits = Vec::new();
    let mut last = sent_at;
    while last - sent_at < config.token_retransmit * 3 {
        let at = node.poll_timeout().expect("a timer is armed");
        node.handle_timeout(at);
        let resent = tokens_to_3(&mut node);
        if !resent.is_empty() {
            assert_eq!(resent, vec![seq + 1], "the same token, which node 3 drops if it has it");
            waits.push(at - last);
            last = at;
        }
    }
    // 2 × 0.5 ms + 1 ms, doubling, then the configured timer.
    assert_eq!(&waits[..4], &[us(2000), us(4000), us(8000), us(16000)], "{waits:?}");
    assert!(waits.iter().all(|w| *w <= config.token_retransmit), "{waits:?}");
    assert_eq!(*waits.last().unwrap(), config.token_retransmit, "{waits:?}");
    assert_eq!(node.srp().stats().orf_token_retx, waits.len() as u64);
}

fn mcast_from(from: u32, ring: RingId, seq: u32) -> Message {
    Message::Mcast(Mcast {
        sender: from,
        system_from: from,
        ring_id: ring,
        seq,
        payload: vec![0u8; 8].into(),
        ..Default::default()
    })
}

#[test]
fn a_late_message_from_the_previous_holder_does_not_stop_the_retransmission() {
    let (mut node, now, ring, _) = node2_of_three();
    let (now, seq) = rotate(&mut node, ring, now, 20_000, 8, us(500));
    // Node 1 multicast message 1 just before passing the token (seq 1) on; the token
    // overtakes it, node 2 forwards it and the forwarded token is lost.
    let mut tok = token(ring, seq);
    tok.seq = 1;
    node.handle_packet(now, &wire::encode(&Message::OrfToken(tok))).unwrap();
    assert_eq!(tokens_to_3(&mut node), vec![seq + 1]);
    let late = now + us(100);
    node.handle_packet(late, &wire::encode(&mcast_from(1, ring, 1)))
        .unwrap();
    let at = node.poll_timeout().unwrap();
    assert!(at - now <= Duration::from_millis(3), "retransmission still due soon");
    node.handle_timeout(at);
    assert_eq!(tokens_to_3(&mut node), vec![seq + 1], "the lost token is resent");
}

#[test]
fn a_message_numbered_after_our_token_stops_the_retransmission() {
    let (mut node, now, ring, config) = node2_of_three();
    let (now, seq) = rotate(&mut node, ring, now, 30_000, 8, us(500));
    node.handle_packet(now, &wire::encode(&Message::OrfToken(token(ring, seq))))
        .unwrap();
    assert_eq!(tokens_to_3(&mut node), vec![seq + 1]);
    // Node 3 got the token and sent message 1: it holds the token now.
    node.handle_packet(now + us(200), &wire::encode(&mcast_from(3, ring, 1)))
        .unwrap();
    let mut t = now + us(200);
    while t - now < config.token_retransmit {
        let Some(at) = node.poll_timeout() else { break };
        if at - now >= config.token_retransmit {
            break;
        }
        node.handle_timeout(at);
        assert!(tokens_to_3(&mut node).is_empty(), "no retransmission at {:?}", at - now);
        t = at;
    }
}

//! votequorum driven as a service: several instances exchanging their exec messages in
//! one agreed order, as the node would run them.

use std::time::Duration;

use proptest::prelude::*;
use totem::{Instant, NodeId, RingId};

use super::config::tests::map;
use super::ipc::{self, REQ_GETINFO, REQ_SETEXPECTED, REQ_SETVOTES, REQ_TRACKSTART};
use super::*;
use crate::outbox::ClientMessageKind;
use crate::service::Service;
use crate::wire::{Header, Writer};
use crate::{ConnId, CsError, ServiceId, World};

struct Peer {
    world: World,
    vq: VoteQuorum,
}

struct Cluster {
    peers: Vec<Peer>,
    now: Instant,
    seq: u64,
}

fn u32_at(m: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(m[at..at + 4].try_into().unwrap())
}

impl Cluster {
    /// Nodes 1..=votes.len() with those votes and the given `quorum.*` keys.
    fn new(votes: &[u32], keys: &[(&str, &str)]) -> Cluster {
        let peers = (0..votes.len())
            .map(|i| {
                let mut world = World::new(i as NodeId + 1);
                world.icmap = map(votes, keys);
                let vq = VoteQuorum::new(&mut world.ctx(Instant::ZERO)).expect("valid config");
                // The startup NODEINFO goes out before any ring exists.
                world.out.mcast.clear();
                Peer { world, vq }
            })
            .collect();
        Cluster {
            peers,
            now: Instant::ZERO,
            seq: 0,
        }
    }

    fn peer(&mut self, id: NodeId) -> &mut Peer {
        &mut self.peers[id as usize - 1]
    }

    /// Delivers every queued multicast of the partition's members to all of them, in
    /// member order, until none is left.
    fn flush(&mut self, part: &[NodeId]) {
        loop {
            let mut batch = Vec::new();
            for &id in part {
                let p = self.peer(id);
                batch.extend(p.world.out.mcast.drain(..).map(|m| (id, m)));
            }
            if batch.is_empty() {
                return;
            }
            for (sender, msg) in batch {
                let h = Header::parse(&msg, false).unwrap();
                assert_eq!(h.id >> 16, 5, "votequorum messages only");
                let now = self.now;
                for &id in part {
                    let p = self.peer(id);
                    p.vq.deliver(&mut p.world.ctx(now), sender, h.id as u16, &msg, false)
                        .unwrap();
                }
            }
        }
    }

    /// One configuration change to `part` (ascending): sync_init, sync_process, the
    /// NODEINFO exchange, sync_activate — on every member.
    fn sync(&mut self, part: &[NodeId]) {
        self.seq += 4;
        let ring = RingId {
            rep: part[0],
            seq: self.seq,
        };
        let now = self.now;
        for &id in part {
            let p = self.peer(id);
            p.world.ring_id = ring;
            p.world.members = part.to_vec();
            p.vq.sync_init(&mut p.world.ctx(now), part, part, ring);
            assert_eq!(p.vq.sync_process(&mut p.world.ctx(now)), SyncProgress::Done);
        }
        self.flush(part);
        for &id in part {
            let p = self.peer(id);
            p.vq.sync_activate(&mut p.world.ctx(now));
            p.world.sync_in_process = false;
        }
    }

    /// Moves time to `t` and fires the timers due by then.
    fn advance(&mut self, by: Duration, parts: &[&[NodeId]]) {
        self.now = self.now + by;
        let now = self.now;
        for p in &mut self.peers {
            if p.vq.poll_timeout().is_some_and(|d| d <= now) {
                p.vq.handle_timeout(&mut p.world.ctx(now));
            }
        }
        for part in parts {
            self.flush(part);
        }
    }

    fn quorate(&self, id: NodeId) -> bool {
        let p = &self.peers[id as usize - 1];
        assert_eq!(p.vq.quorate(), p.world.quorum.quorate, "published decision");
        p.vq.quorate()
    }

    fn info(&self, id: NodeId) -> ipc::Info {
        let (e, info) = self.peers[id as usize - 1].vq.getinfo(0);
        assert_eq!(e, CsError::Ok);
        info
    }

    fn request(&mut self, id: NodeId, conn: u64, req_id: i32, msg: Vec<u8>) -> Vec<(ClientMessageKind, Vec<u8>)> {
        let now = self.now;
        let p = self.peer(id);
        p.vq.request(&mut p.world.ctx(now), ConnId(conn), req_id, &msg);
        p.world.out.clients.drain(..).map(|m| (m.kind, m.data)).collect()
    }
}

fn all(n: u32) -> Vec<NodeId> {
    (1..=n).collect()
}

#[test]
fn three_nodes_decide_the_same() {
    let mut c = Cluster::new(&[1, 1, 1], &[]);
    c.sync(&[1, 2, 3]);
    for id in 1..=3 {
        assert!(c.quorate(id));
        let i = c.info(id);
        assert_eq!(
            (i.nodeid, i.votes, i.expected_votes, i.total_votes, i.quorum),
            (id, 1, 3, 3, 2)
        );
        assert_eq!(c.peers[id as usize - 1].world.quorum.members, [1, 2, 3]);
        assert_eq!(
            c.peers[id as usize - 1]
                .world
                .icmap
                .u32("runtime.votequorum.this_node_id"),
            Some(id)
        );
    }
    // Node 3 goes: 2 of 3 keep quorum; alone, not.
    c.sync(&[1, 2]);
    assert!(c.quorate(1) && c.quorate(2));
    c.sync(&[3]);
    assert!(!c.quorate(3));
    c.sync(&[1]);
    assert!(!c.quorate(1));
}

#[test]
fn sync_sends_own_nodeinfo_then_the_device_slot() {
    let mut c = Cluster::new(&[1, 1, 1], &[]);
    let ring = RingId { rep: 1, seq: 4 };
    let p = c.peer(2);
    p.vq.sync_init(&mut p.world.ctx(Instant::ZERO), &[2], &[1, 2, 3], ring);
    p.vq.sync_process(&mut p.world.ctx(Instant::ZERO));
    let sent: Vec<Vec<u8>> = p.world.out.mcast.drain(..).collect();
    assert_eq!(sent.len(), 2);
    let decoded: Vec<_> = sent.iter().map(|m| ExecMessage::decode(0, m, false).unwrap()).collect();
    assert_eq!(
        decoded,
        [
            ExecMessage::NodeInfo {
                nodeid: 2,
                votes: 1,
                expected_votes: 3,
                flags: NodeFlags::default()
            },
            ExecMessage::NodeInfo {
                nodeid: 0,
                votes: 0,
                expected_votes: 0,
                flags: NodeFlags::default()
            },
        ]
    );
    // A second sync_process in the same sync sends nothing more.
    p.vq.sync_process(&mut p.world.ctx(Instant::ZERO));
    assert!(p.world.out.mcast.is_empty());
}

#[test]
fn wait_for_all_holds_until_all_seen() {
    let mut c = Cluster::new(&[1, 1, 1], &[("quorum.wait_for_all", "1")]);
    c.sync(&[1, 2]);
    assert!(!c.quorate(1) && !c.quorate(2), "2 of 3 votes, but not all seen yet");
    c.sync(&[1, 2, 3]);
    assert!((1..=3).all(|id| c.quorate(id)));
    c.sync(&[1, 2]);
    assert!(c.quorate(1) && c.quorate(2), "once all were seen, a majority suffices");
    assert_eq!(
        c.peers[0].world.icmap.get("runtime.votequorum.wait_for_all_status"),
        Some(&crate::Value::U8(0))
    );
}

#[test]
fn last_man_standing_shrinks_expected_votes_step_by_step() {
    let mut c = Cluster::new(
        &[1; 5],
        &[
            ("quorum.last_man_standing", "1"),
            ("quorum.last_man_standing_window", "10000"),
        ],
    );
    c.sync(&all(5));
    assert_eq!(c.info(1).quorum, 3);
    let window = Duration::from_secs(10);
    for (alive, quorum_after) in [(4u32, 3u32), (3, 2), (2, 2)] {
        let part = all(alive);
        c.sync(&part);
        assert!(c.quorate(1), "{alive} nodes still quorate before the window ends");
        assert_eq!(c.peers[0].vq.poll_timeout(), Some(c.now + window));
        c.advance(window - Duration::from_millis(1), &[&part]);
        assert_eq!(c.info(1).expected_votes, alive + 1, "not before the window");
        c.advance(Duration::from_millis(1), &[&part]);
        let i = c.info(1);
        assert_eq!(
            (i.expected_votes, i.quorum),
            (alive, quorum_after),
            "after losing down to {alive}"
        );
        assert!(c.quorate(1));
    }
    // Down to one node needs the tie-breaker.
    c.sync(&[1]);
    assert!(!c.quorate(1));
}

#[test]
fn auto_tie_breaker_on_a_half_split() {
    let mut c = Cluster::new(&[1; 4], &[("quorum.auto_tie_breaker", "1")]);
    c.sync(&all(4));
    c.sync(&[1, 2]);
    c.sync(&[3, 4]);
    assert!(c.quorate(1) && c.quorate(2), "the lowest node id's half wins");
    assert!(!c.quorate(3) && !c.quorate(4));

    let mut c = Cluster::new(
        &[1; 4],
        &[
            ("quorum.auto_tie_breaker", "1"),
            ("quorum.auto_tie_breaker_node", "4 1"),
        ],
    );
    c.sync(&all(4));
    c.sync(&[1, 2]);
    c.sync(&[3, 4]);
    assert!(!c.quorate(1) && c.quorate(3), "the first listed node's half wins");

    let mut c = Cluster::new(
        &[1; 4],
        &[
            ("quorum.auto_tie_breaker", "1"),
            ("quorum.auto_tie_breaker_node", "highest"),
        ],
    );
    c.sync(&all(4));
    c.sync(&[1, 2]);
    c.sync(&[3, 4]);
    assert!(!c.quorate(1) && c.quorate(4));
}

#[test]
fn two_node_mode() {
    let mut c = Cluster::new(&[1, 1], &[("quorum.two_node", "1")]);
    c.sync(&[1]);
    assert!(!c.quorate(1), "two_node implies wait_for_all");
    c.sync(&[1, 2]);
    assert!(c.quorate(1) && c.quorate(2));
    assert_eq!(c.info(1).quorum, 1);
    assert_eq!(c.info(1).flags.0 & 1, 1, "TWONODE flag");
    c.sync(&[1]);
    c.sync(&[2]);
    assert!(c.quorate(1) && c.quorate(2), "each keeps quorum; fencing decides");
}

#[test]
fn setexpected_and_setvotes() {
    let mut c = Cluster::new(&[1, 1, 1], &[]);
    c.sync(&all(3));
    let setexp = |v: u32| {
        let mut w = Writer::request(REQ_SETEXPECTED, 24);
        w.u32(16, v);
        w.finish()
    };
    let status = |r: &[(ClientMessageKind, Vec<u8>)]| {
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].1.len(), 24);
        CsError::from_raw(u32_at(&r[0].1, 16) as i32)
    };
    assert_eq!(
        status(&c.request(1, 1, REQ_SETEXPECTED, setexp(2))),
        CsError::InvalidParam
    );
    assert_eq!(
        status(&c.request(1, 1, REQ_SETEXPECTED, setexp(7))),
        CsError::InvalidParam
    );
    assert_eq!(status(&c.request(1, 1, REQ_SETEXPECTED, setexp(5))), CsError::Ok);
    c.flush(&all(3));
    for id in 1..=3 {
        let i = c.info(id);
        assert_eq!((i.expected_votes, i.quorum), (5, 3), "node {id}");
        assert!(c.quorate(id));
    }
    let setvotes = |nodeid: u32, votes: u32| {
        let mut w = Writer::request(REQ_SETVOTES, 24);
        w.u32(16, votes).u32(20, nodeid);
        w.finish()
    };
    assert_eq!(
        status(&c.request(2, 1, REQ_SETVOTES, setvotes(9, 1))),
        CsError::NameNotFound
    );
    assert_eq!(status(&c.request(2, 1, REQ_SETVOTES, setvotes(2, 2))), CsError::Ok);
    c.flush(&all(3));
    for id in 1..=3 {
        let (_, i) = c.peers[id as usize - 1].vq.getinfo(2);
        assert_eq!(i.votes, 2);
        assert_eq!(c.info(id).total_votes, 4);
    }
}

#[test]
fn quorumtool_sequence() {
    let mut c = Cluster::new(&[1, 1, 1], &[]);
    c.sync(&all(3));
    let mut w = Writer::request(REQ_TRACKSTART, 32);
    w.u64(16, 0xC0FFEE).u32(24, 1);
    let out = c.request(1, 3, REQ_TRACKSTART, w.finish());
    assert_eq!(out.len(), 3);
    let (k, nodelist) = &out[0];
    assert_eq!(
        (*k, u32_at(nodelist, 0), u32_at(nodelist, 48)),
        (ClientMessageKind::Event, 5, 3)
    );
    assert_eq!(u64::from_ne_bytes(nodelist[24..32].try_into().unwrap()), 0xC0FFEE);
    assert_eq!(u64::from_ne_bytes(nodelist[40..48].try_into().unwrap()), 4, "ring seq");
    let (_, quorum) = &out[1];
    assert_eq!(
        (u32_at(quorum, 0), u32_at(quorum, 24), u32_at(quorum, 40), quorum.len()),
        (3, 1, 3, 72)
    );
    assert_eq!((out[2].0, out[2].1.len()), (ClientMessageKind::Response, 24));

    let mut w = Writer::request(REQ_GETINFO, 24);
    w.u32(16, 0);
    let out = c.request(1, 3, REQ_GETINFO, w.finish());
    assert_eq!(out[0].1.len(), 320);
    assert_eq!(
        (u32_at(&out[0].1, 24), u32_at(&out[0].1, 48), u32_at(&out[0].1, 52)),
        (1, 2, 2)
    );
    let mut w = Writer::request(REQ_GETINFO, 24);
    w.u32(16, 77);
    let out = c.request(1, 3, REQ_GETINFO, w.finish());
    assert_eq!(u32_at(&out[0].1, 16), CsError::NotExist as u32);

    // CURRENT alone does not track: a later change sends nothing to that client.
    c.sync(&[1, 2]);
    assert!(c.peers[0].world.out.clients.is_empty());
}

#[test]
fn trackers_hear_about_changes() {
    let mut c = Cluster::new(&[1, 1, 1], &[]);
    let mut w = Writer::request(REQ_TRACKSTART, 32);
    w.u64(16, 5).u32(24, 4);
    let out = c.request(1, 9, REQ_TRACKSTART, w.finish());
    assert_eq!(out.len(), 1, "CHANGES_ONLY: only the status");
    c.sync(&all(3));
    let ids: Vec<u32> = c.peers[0]
        .world
        .out
        .clients
        .iter()
        .map(|m| u32_at(&m.data, 0))
        .collect();
    assert_eq!(ids, [5, 3], "nodelist at sync_process, quorum at activate");
    c.peers[0].world.out.clients.clear();
    let p = c.peer(1);
    p.vq.disconnect(&mut p.world.ctx(Instant::ZERO), ConnId(9));
    c.sync(&[1]);
    assert!(c.peers[0].world.out.clients.is_empty());
}

#[test]
fn qdevice_registers_polls_and_times_out() {
    let mut c = Cluster::new(&[1, 1, 1], &[("quorum.device.model", "net")]);
    assert_eq!(c.info(1).qdevice_votes, 2);
    c.sync(&[1]);
    assert!(!c.quorate(1), "1 of 5 votes");
    let name = b"Qdevice";
    let mut w = Writer::request(ipc::REQ_QDEVICE_REGISTER, 272);
    w.bytes(16, name);
    assert!(
        c.request(1, 4, ipc::REQ_QDEVICE_REGISTER, w.finish()).is_empty(),
        "answered on delivery"
    );
    c.flush(&[1]);
    let p = c.peer(1);
    let resp: Vec<_> = p.world.out.clients.drain(..).collect();
    assert_eq!((resp.len(), u32_at(&resp[0].data, 16)), (1, 1));
    assert!(p.vq.nodes().us().flags.contains(NodeFlags::QDEVICE_REGISTERED));

    let poll = |ring: RingId, cast: bool| {
        let mut w = Writer::request(ipc::REQ_QDEVICE_POLL, 296);
        w.bytes(16, name)
            .i32(272, cast.into())
            .u32(280, ring.rep)
            .u64(288, ring.seq);
        w.finish()
    };
    let stale = c.request(1, 4, ipc::REQ_QDEVICE_POLL, poll(RingId { rep: 1, seq: 999 }, true));
    assert_eq!(u32_at(&stale[0].1, 16), CsError::MessageError as u32);
    let ring = c.peers[0].world.ring_id;
    let ok = c.request(1, 4, ipc::REQ_QDEVICE_POLL, poll(ring, true));
    assert_eq!(u32_at(&ok[0].1, 16), 1);
    c.flush(&[1]);
    assert!(c.quorate(1), "1 + 2 device votes of 5");
    assert_eq!(c.info(1).total_votes, 3);

    // A new sync waits for the device's poll (or the sync timeout).
    let now = c.now;
    let p = c.peer(1);
    let r2 = RingId { rep: 1, seq: 100 };
    p.vq.sync_init(&mut p.world.ctx(now), &[1], &[1], r2);
    assert_eq!(p.vq.sync_process(&mut p.world.ctx(now)), SyncProgress::Again);
    c.flush(&[1]);
    c.peers[0].world.ring_id = r2;
    assert_eq!(
        u32_at(&c.request(1, 4, ipc::REQ_QDEVICE_POLL, poll(r2, true))[0].1, 16),
        1
    );
    let p = c.peer(1);
    assert_eq!(p.vq.sync_process(&mut p.world.ctx(now)), SyncProgress::Done);
    p.vq.sync_activate(&mut p.world.ctx(now));
    assert!(c.quorate(1));

    // No poll within the timeout: the device's votes are gone.
    c.advance(Duration::from_secs(10), &[&[1]]);
    assert!(!c.peers[0].vq.nodes().us().flags.contains(NodeFlags::QDEVICE_ALIVE));
    assert_eq!(c.info(1).total_votes, 1);
}

/// corosync 3.1.7 applies the tie-breaker when a side holds `expected / 2` votes and
/// fewer *nodes* than quorum *votes* were lost, so with unequal votes both sides of a
/// split can be quorate. We decide as corosync does, or the two would disagree in one
/// ring; this pins that behaviour.
#[test]
fn tie_breaker_counts_nodes_not_votes() {
    let keys = [("quorum.auto_tie_breaker", "1"), ("quorum.wait_for_all", "1")];
    let mut c = Cluster::new(&[1, 2, 2, 2], &keys);
    c.sync(&all(4));
    c.sync(&[2, 4]);
    c.sync(&[1, 3]);
    assert!(c.quorate(2), "4 of 7 votes");
    assert!(c.quorate(1), "3 = 7 / 2 votes and the lowest node");
}

/// Options for the split property (two_node is left out: there both halves keep
/// quorum by design and fencing decides).
fn option_sets(n: usize) -> Vec<Vec<(&'static str, &'static str)>> {
    let mut v = vec![
        vec![],
        vec![("quorum.wait_for_all", "1")],
        vec![("quorum.last_man_standing", "1")],
        vec![("quorum.auto_tie_breaker", "1"), ("quorum.wait_for_all", "1")],
    ];
    if n.is_multiple_of(2) {
        v.push(vec![("quorum.auto_tie_breaker", "1")]);
        v.push(vec![
            ("quorum.auto_tie_breaker", "1"),
            ("quorum.auto_tie_breaker_node", "highest"),
        ]);
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// After a split of a quorate cluster, at most one side is quorate — also after the
    /// last-man-standing window.
    #[test]
    fn two_partitions_never_quorate_at_once(
        n in 2usize..8,
        opt in 0usize..6,
        side in proptest::collection::vec(any::<bool>(), 8),
        votes in proptest::collection::vec(1u32..3, 8),
        wait in any::<bool>(),
    ) {
        let sets = option_sets(n);
        let keys = &sets[opt % sets.len()];
        // LMS needs one vote per node; ATB counts nodes, not votes (see
        // `tie_breaker_counts_nodes_not_votes`).
        let one_each = keys
            .iter()
            .any(|(k, _)| *k == "quorum.last_man_standing" || *k == "quorum.auto_tie_breaker");
        let votes: Vec<u32> = if one_each { vec![1; n] } else { votes[..n].to_vec() };
        let mut c = Cluster::new(&votes, keys);
        c.sync(&all(n as u32));
        prop_assert!(c.quorate(1));
        let a: Vec<NodeId> = all(n as u32).into_iter().filter(|id| side[*id as usize - 1]).collect();
        let b: Vec<NodeId> = all(n as u32).into_iter().filter(|id| !side[*id as usize - 1]).collect();
        prop_assume!(!a.is_empty() && !b.is_empty());
        c.sync(&a);
        c.sync(&b);
        if wait {
            c.advance(Duration::from_secs(11), &[&a, &b]);
        }
        let qa = a.iter().all(|id| c.quorate(*id));
        let qb = b.iter().all(|id| c.quorate(*id));
        prop_assert!(!(qa && qb), "both sides quorate: {a:?} {b:?} votes {votes:?} {keys:?}");
        // Inside a partition everyone agrees.
        for part in [&a, &b] {
            let q = c.quorate(part[0]);
            prop_assert!(part.iter().all(|id| c.quorate(*id) == q));
        }
    }
}

/// NODEINFO messages from `shared/reference/totem-captures/ring.tsv` (corosync 3.1.7,
/// x86_64), by datagram number.
mod capture {
    pub const N1_START_3: &str = "0000050000000000200000000000000001000000010000000300000008000000";
    pub const SLOT_17: &str = "0000050000000000200000000000000000000000000000000000000000000000";
    pub const N2_START_58: &str = "0000050000000000200000000000000002000000010000000300000008000000";
    pub const N1_QUORATE_118: &str = "0000050000000000200000000000000001000000010000000300000001000000";
    pub const N2_SYNC_121: &str = "0000050000000000200000000000000002000000010000000300000008000000";
    pub const N3_QUORATE_124: &str = "0000050000000000200000000000000003000000010000000300000001000000";
    pub const N2_QUORATE_3669: &str = "0000050000000000200000000000000002000000010000000300000001000000";

    pub fn bytes(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }
}

/// Node 1 of the capture, replayed: what it sends must be byte-for-byte what corosync's
/// node 1 sent, and it must decide as corosync's did (`corosync-n1.log`).
#[test]
fn replays_corosync_node1_of_the_capture() {
    use capture::*;
    let mut world = World::new(1);
    world.icmap = map(&[1, 1, 1], &[("quorum.provider", "corosync_votequorum")]);
    let mut vq = VoteQuorum::new(&mut world.ctx(Instant::ZERO)).unwrap();
    let sent = |w: &mut World| w.out.mcast.drain(..).collect::<Vec<_>>();
    assert_eq!(sent(&mut world), [bytes(N1_START_3)], "startup NODEINFO (#3)");
    let deliver = |vq: &mut VoteQuorum, w: &mut World, from: NodeId, hex: &str| {
        vq.deliver(&mut w.ctx(Instant::ZERO), from, 0, &bytes(hex), false)
            .unwrap();
    };
    let sync = |vq: &mut VoteQuorum, w: &mut World, members: &[NodeId], seq: u64| {
        let ring = RingId { rep: 1, seq };
        w.ring_id = ring;
        vq.sync_init(&mut w.ctx(Instant::ZERO), members, members, ring);
    };

    // Ring 1.5, alone: the startup message comes back, then the sync pair (#17).
    sync(&mut vq, &mut world, &[1], 5);
    deliver(&mut vq, &mut world, 1, N1_START_3);
    vq.sync_process(&mut world.ctx(Instant::ZERO));
    assert_eq!(sent(&mut world), [bytes(N1_START_3), bytes(SLOT_17)], "#17");
    deliver(&mut vq, &mut world, 1, N1_START_3);
    deliver(&mut vq, &mut world, 1, SLOT_17);
    vq.sync_activate(&mut world.ctx(Instant::ZERO));
    assert!(!world.quorum.quorate);
    assert_eq!(world.quorum.members, [1]);

    // Ring 1.9: node 2's startup NODEINFO arrives first, so node 1 syncs as quorate (#118).
    sync(&mut vq, &mut world, &[1, 2, 3], 9);
    deliver(&mut vq, &mut world, 2, N2_START_58);
    vq.sync_process(&mut world.ctx(Instant::ZERO));
    assert_eq!(sent(&mut world), [bytes(N1_QUORATE_118), bytes(SLOT_17)], "#118");
    for (from, hex) in [(1, N1_QUORATE_118), (2, N2_SYNC_121), (3, N3_QUORATE_124)] {
        deliver(&mut vq, &mut world, from, hex);
        deliver(&mut vq, &mut world, from, SLOT_17);
    }
    vq.sync_activate(&mut world.ctx(Instant::ZERO));
    assert!(world.quorum.quorate);
    assert_eq!(world.quorum.members, [1, 2, 3]);
    assert_eq!(vq.quorum(), 2);

    // Ring 1.d: node 3 killed; node 2's pair comes first (#3669), then ours (#3672).
    sync(&mut vq, &mut world, &[1, 2], 0xd);
    vq.sync_process(&mut world.ctx(Instant::ZERO));
    assert_eq!(sent(&mut world), [bytes(N1_QUORATE_118), bytes(SLOT_17)], "#3672");
    for (from, hex) in [(2, N2_QUORATE_3669), (1, N1_QUORATE_118)] {
        deliver(&mut vq, &mut world, from, hex);
        deliver(&mut vq, &mut world, from, SLOT_17);
    }
    vq.sync_activate(&mut world.ctx(Instant::ZERO));
    assert!(world.quorum.quorate);
    assert_eq!(
        vq.getinfo(3).1.state,
        NodeState::Dead as u32,
        "node 3 state=2 in the log"
    );
}

/// The quorum service reports what votequorum published, on the same node.
#[test]
fn quorum_service_follows_votequorum() {
    use crate::quorum::{QuorumService, REQ_GETQUORATE, REQ_TRACKSTART};
    let mut c = Cluster::new(&[1, 1, 1], &[("quorum.provider", "corosync_votequorum")]);
    let mut q = QuorumService::new(&c.peers[0].world.icmap).unwrap();
    let conn = ConnId(11);
    let w = &mut c.peers[0].world;
    q.connect(&mut w.ctx(Instant::ZERO), conn, Default::default()).unwrap();
    let mut m = Writer::request(REQ_TRACKSTART, 24);
    m.u32(16, 2);
    q.request(&mut w.ctx(Instant::ZERO), conn, REQ_TRACKSTART, &m.finish());
    w.out.clients.clear();
    c.sync(&all(3));
    let w = &mut c.peers[0].world;
    w.out.clients.retain(|m| m.conn == conn);
    q.quorum_changed(&mut w.ctx(Instant::ZERO));
    let ev = w.out.clients.pop_front().expect("a notification");
    assert_eq!(
        (u32_at(&ev.data, 0), u32_at(&ev.data, 24), u32_at(&ev.data, 40)),
        (3, 1, 3)
    );
    q.request(
        &mut w.ctx(Instant::ZERO),
        conn,
        REQ_GETQUORATE,
        &Writer::request(REQ_GETQUORATE, 16).finish(),
    );
    let r = w.out.clients.pop_back().unwrap();
    assert_eq!(u32_at(&r.data, 24), 1);
}

#[test]
fn reload_config_announces_new_votes() {
    let mut c = Cluster::new(&[1, 1, 1], &[]);
    c.sync(&all(3));
    let p = c.peer(1);
    p.world.icmap.set("nodelist.node.0.quorum_votes", crate::Value::U32(2));
    p.vq.reload_config(&mut p.world.ctx(Instant::ZERO));
    let kinds: Vec<_> = p
        .world
        .out
        .mcast
        .iter()
        .map(|m| ExecMessage::decode(u32_at(m, 0) as u16, m, false).unwrap())
        .collect();
    assert!(matches!(
        kinds[0],
        ExecMessage::NodeInfo {
            nodeid: 1,
            votes: 2,
            expected_votes: 4,
            ..
        }
    ));
    assert!(matches!(kinds[1], ExecMessage::NodeInfo { nodeid: 0, .. }));
    assert!(matches!(
        kinds[2],
        ExecMessage::Reconfigure {
            nodeid: 1,
            value: 2,
            param: exec::ReconfigParam::NodeVotes
        }
    ));
    assert!(matches!(
        kinds[3],
        ExecMessage::Reconfigure {
            value: 4,
            param: exec::ReconfigParam::ExpectedVotes,
            ..
        }
    ));
    c.flush(&all(3));
    for id in 1..=3 {
        let i = c.info(id);
        assert_eq!((i.total_votes, i.expected_votes, i.quorum), (4, 4, 3), "node {id}");
    }
    // Cancelling wait_for_all goes through the ring too.
    let p = c.peer(2);
    p.world.icmap.set("quorum.cancel_wait_for_all", crate::Value::U8(1));
    p.vq.reload_config(&mut p.world.ctx(Instant::ZERO));
    assert_eq!(
        p.world.icmap.get("quorum.cancel_wait_for_all"),
        Some(&crate::Value::U8(0))
    );
    assert_eq!(p.world.out.mcast.len(), 1);
}

#[test]
fn last_man_standing_with_tie_breaker_reaches_one_node() {
    let keys = [("quorum.last_man_standing", "1"), ("quorum.auto_tie_breaker", "1")];
    let mut c = Cluster::new(&[1; 4], &keys);
    c.sync(&all(4));
    let window = Duration::from_secs(10);
    for (alive, quorum_after) in [(3u32, 2u32), (2, 2), (1, 1)] {
        let part = all(alive);
        c.sync(&part);
        assert!(c.quorate(1), "{alive} nodes with the lowest id stay quorate");
        c.advance(window, &[&part]);
        let i = c.info(1);
        assert_eq!((i.expected_votes, i.quorum), (alive, quorum_after), "down to {alive}");
    }
    // The last node standing is not the lowest one: no tie-breaker for it.
    let mut c = Cluster::new(&[1; 4], &keys);
    c.sync(&all(4));
    c.sync(&[2, 3, 4]);
    c.advance(window, &[&[2, 3, 4]]);
    c.sync(&[3, 4]);
    c.advance(window, &[&[3, 4]]);
    c.sync(&[4]);
    assert!(!c.quorate(4));
}

#[test]
fn allow_downscale_lowers_expected_votes_when_a_node_leaves() {
    let mut c = Cluster::new(&[1, 1, 1], &[("quorum.allow_downscale", "1")]);
    assert!(c.peers[0].vq.options().expected_votes_tracking, "implied");
    c.sync(&all(3));
    assert_eq!(
        c.peers[0].world.icmap.u32("runtime.votequorum.ev_tracking_barrier"),
        Some(3)
    );
    let p = c.peer(3);
    p.vq.leave(&mut p.world.ctx(Instant::ZERO));
    c.flush(&all(3));
    for id in [1, 2] {
        let (_, three) = c.peers[id as usize - 1].vq.getinfo(3);
        assert_eq!(three.state, NodeState::Leaving as u32);
        let i = c.info(id);
        assert_eq!((i.expected_votes, i.total_votes, i.quorum), (2, 2, 2), "node {id}");
        assert!(c.quorate(id));
    }
    assert_eq!(c.info(1).flags.0 & ipc::InfoFlags::ALLOW_DOWNSCALE.0, 32);
}

proptest! {
    /// Garbage from a client or a peer never panics; a client gets at most one reply
    /// per request, and exactly one unless it is a QDEVICE_REGISTER sent to the ring.
    #[test]
    fn garbage_never_panics(
        id in -1i32..12,
        function in 0u16..6,
        body in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        use crate::quorum::QuorumService;
        let mut c = Cluster::new(&[1, 1, 1], &[("quorum.device.model", "net")]);
        c.sync(&all(3));
        let mut msg = vec![0u8; 16];
        msg.extend_from_slice(&body);
        msg[0..4].copy_from_slice(&id.to_ne_bytes());
        let len = msg.len() as i32;
        msg[8..12].copy_from_slice(&len.to_ne_bytes());
        let p = c.peer(1);
        if p.vq.flow_control(id).is_some() {
            p.vq.request(&mut p.world.ctx(Instant::ZERO), ConnId(1), id, &msg);
            let replies = p.world.out.clients.iter().filter(|m| m.kind == ClientMessageKind::Response).count();
            prop_assert!(replies == 1 || (replies == 0 && id == ipc::REQ_QDEVICE_REGISTER));
        }
        let mut q = QuorumService::new(&p.world.icmap).unwrap();
        p.world.out.clients.clear();
        if q.flow_control(id).is_some() {
            q.request(&mut p.world.ctx(Instant::ZERO), ConnId(2), id, &msg);
            prop_assert_eq!(p.world.out.clients.iter().filter(|m| m.kind == ClientMessageKind::Response).count(), 1);
        }
        let exec_id = ServiceId::Votequorum.exec_id(function);
        msg[0..4].copy_from_slice(&exec_id.to_ne_bytes());
        let _ = p.vq.deliver(&mut p.world.ctx(Instant::ZERO), 2, function, &msg, false);
        let _ = p.vq.deliver(&mut p.world.ctx(Instant::ZERO), 2, function, &msg, true);
    }
}

#[test]
fn absurd_votes_from_a_peer_do_not_panic() {
    let mut c = Cluster::new(&[1, 1, 1], &[]);
    c.sync(&all(3));
    let m = ExecMessage::NodeInfo {
        nodeid: 2,
        votes: u32::MAX,
        expected_votes: u32::MAX,
        flags: NodeFlags::QUORATE,
    }
    .encode();
    let p = c.peer(1);
    p.vq.deliver(&mut p.world.ctx(Instant::ZERO), 2, 0, &m, false).unwrap();
    let _ = p.vq.getinfo(0);
}

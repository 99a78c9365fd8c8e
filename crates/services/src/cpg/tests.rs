use super::*;
use crate::outbox::ClientMessageKind;
use crate::wire::{Reader, Writer};
use crate::{Credentials, World};
use totem::Instant;

/// Several nodes' CPG services and an agreed order: every multicast of every node is
/// delivered to all nodes in the order the nodes produced them, round by round.
struct Cluster {
    nodes: Vec<(World, Cpg)>,
}

fn join_req(group: &[u8], pid: u32) -> Vec<u8> {
    let mut w = Writer::request(req::JOIN, 168);
    w.cpg_name(16, group).u32(152, pid);
    w.finish()
}

fn mcast_req(data: &[u8]) -> Vec<u8> {
    let mut w = Writer::response(req::MCAST, 40, CsError::Ok);
    w.u32(32, data.len() as u32).extend(data);
    w.finish()
}

fn leave_req(group: &[u8], pid: u32) -> Vec<u8> {
    let mut w = Writer::request(req::LEAVE, 160);
    w.cpg_name(16, group).u32(152, pid);
    w.finish()
}

impl Cluster {
    fn new(ids: &[NodeId]) -> Cluster {
        Cluster {
            nodes: ids.iter().map(|id| (World::new(*id), Cpg::new())).collect(),
        }
    }

    fn request(&mut self, node: usize, conn: u64, msg: &[u8]) {
        let (world, cpg) = &mut self.nodes[node];
        let mut ctx = world.ctx(Instant::ZERO);
        let conn = ConnId(conn);
        if !cpg.clients.contains_key(&conn) {
            cpg.connect(&mut ctx, conn, Credentials::default()).unwrap();
        }
        let id = i32::from_ne_bytes(msg[0..4].try_into().unwrap());
        cpg.request(&mut ctx, conn, id, msg);
    }

    /// Delivers every pending multicast to every node until none is left.
    fn settle(&mut self) {
        loop {
            let mut round = Vec::new();
            for (world, _) in &mut self.nodes {
                let id = world.node_id;
                round.extend(world.out.mcast.drain(..).map(|m| (id, m)));
            }
            if round.is_empty() {
                return;
            }
            for (sender, m) in round {
                let f = (i32::from_ne_bytes(m[0..4].try_into().unwrap()) & 0xffff) as u16;
                for (world, cpg) in &mut self.nodes {
                    cpg.deliver(&mut world.ctx(Instant::ZERO), sender, f, &m, false)
                        .unwrap();
                }
            }
        }
    }

    /// Runs the CPG part of a sync: trans = members that stay, then activate everywhere.
    fn sync(&mut self, members: &[NodeId], trans: &[NodeId], seq: u64) {
        let ring = RingId { rep: members[0], seq };
        for (world, cpg) in &mut self.nodes {
            if !members.contains(&world.node_id) {
                continue;
            }
            world.members = members.to_vec();
            let mut ctx = world.ctx(Instant::ZERO);
            cpg.sync_init(&mut ctx, trans, members, ring);
            assert_eq!(cpg.sync_process(&mut ctx), SyncProgress::Done);
        }
        self.settle();
        for (world, cpg) in &mut self.nodes {
            if members.contains(&world.node_id) {
                cpg.sync_activate(&mut world.ctx(Instant::ZERO));
            }
        }
    }

    fn events(&mut self, node: usize) -> Vec<(i32, Vec<u8>)> {
        let out = &mut self.nodes[node].0.out;
        out.clients
            .drain(..)
            .filter(|m| m.kind == ClientMessageKind::Event)
            .map(|m| (i32::from_ne_bytes(m.data[0..4].try_into().unwrap()), m.data))
            .collect()
    }
}

/// (members, left, joined) of a confchg event as (node, pid, reason) triples.
type Triples = Vec<(u32, u32, u32)>;

fn confchg_lists(e: &[u8]) -> (Triples, Triples, Triples) {
    let r = Reader::new(e);
    let (m, j, l) = (
        r.u32(160).unwrap() as usize,
        r.u32(168).unwrap() as usize,
        r.u32(176).unwrap() as usize,
    );
    let entry = |i: usize| {
        let at = 184 + 24 * i;
        (r.u32(at).unwrap(), r.u32(at + 8).unwrap(), r.u32(at + 16).unwrap())
    };
    (
        (0..m).map(entry).collect(),
        (m..m + l).map(entry).collect(),
        (m + l..m + l + j).map(entry).collect(),
    )
}

#[test]
fn join_mcast_and_leave_across_two_nodes() {
    let mut c = Cluster::new(&[1, 2]);
    c.request(0, 10, &join_req(b"g", 100));
    c.settle();
    let ev = c.events(0);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0].0, res::CONFCHG_CALLBACK);
    assert_eq!(confchg_lists(&ev[0].1), (vec![(1, 100, 0)], vec![], vec![(1, 100, 1)]));
    c.request(1, 20, &join_req(b"g", 200));
    c.settle();
    let ev = c.events(0);
    assert_eq!(confchg_lists(&ev[0].1).0, vec![(1, 100, 0), (2, 200, 0)]);
    c.events(1);
    c.request(1, 20, &mcast_req(b"hello"));
    c.settle();
    for node in 0..2 {
        let ev = c.events(node);
        assert_eq!(ev.len(), 1, "node {node}");
        let r = Reader::new(&ev[0].1);
        assert_eq!(ev[0].0, res::DELIVER_CALLBACK);
        assert_eq!((r.u32(168).unwrap(), r.u32(176).unwrap()), (2, 200));
        assert_eq!(r.rest(184).unwrap(), b"hello");
    }
    c.request(1, 20, &leave_req(b"g", 200));
    c.settle();
    let ev = c.events(0);
    assert_eq!(confchg_lists(&ev[0].1), (vec![(1, 100, 0)], vec![(2, 200, 2)], vec![]));
    // The leaver saw its own leave and is unjoined: it may join again.
    assert_eq!(c.events(1).len(), 1);
    c.request(1, 20, &join_req(b"g", 200));
    let resp = c.nodes[1].0.out.clients.pop_back().unwrap();
    assert_eq!(Reader::new(&resp.data).i32(16).unwrap(), CsError::Ok as i32);
}

#[test]
fn node_down_and_node_up_through_sync() {
    let mut c = Cluster::new(&[1, 2, 3]);
    c.sync(&[1, 2, 3], &[], 4);
    c.request(0, 10, &join_req(b"g", 100));
    c.request(2, 30, &join_req(b"g", 300));
    c.settle();
    c.events(0);
    // Node 3 departs: nodes 1 and 2 sync without it.
    c.nodes.truncate(2);
    c.sync(&[1, 2], &[1, 2], 8);
    let ev = c.events(0);
    let confchgs: Vec<_> = ev.iter().filter(|e| e.0 == res::CONFCHG_CALLBACK).collect();
    assert_eq!(confchgs.len(), 1);
    assert_eq!(
        confchg_lists(&confchgs[0].1),
        (vec![(1, 100, 0)], vec![(3, 300, 3)], vec![])
    );
    // A totem confchg follows for every client.
    assert!(ev.iter().any(|e| e.0 == res::TOTEM_CONFCHG_CALLBACK));
    // Node 3 comes back with its process: it joins with NODEUP.
    let mut n3 = (World::new(3), Cpg::new());
    n3.1.insert(ProcessInfo {
        nodeid: 3,
        pid: 300,
        group: b"g".to_vec(),
    });
    c.nodes.push(n3);
    c.sync(&[1, 2, 3], &[1, 2], 12);
    let ev = c.events(0);
    let confchg = ev.iter().find(|e| e.0 == res::CONFCHG_CALLBACK).unwrap();
    assert_eq!(
        confchg_lists(&confchg.1),
        (vec![(1, 100, 0), (3, 300, 0)], vec![], vec![(3, 300, 4)])
    );
    assert_eq!(c.nodes[2].1.group_members(b"g"), vec![(1, 100), (3, 300)]);
}

#[test]
fn messages_from_unknown_senders_are_not_delivered() {
    let mut c = Cluster::new(&[1, 2]);
    c.request(0, 10, &join_req(b"g", 100));
    c.settle();
    c.events(0);
    let m = ExecMessage::Mcast {
        group: b"g".to_vec().into(),
        pid: 5,
        source: 0,
        data: b"x".to_vec().into(),
    }
    .encode(2);
    let (world, cpg) = &mut c.nodes[0];
    cpg.deliver(&mut world.ctx(Instant::ZERO), 2, messages::exec::MCAST, &m, false)
        .unwrap();
    assert!(c.events(0).is_empty());
}

#[test]
fn exec_messages_have_corosync_sizes_and_round_trip() {
    let cases = [
        (
            ExecMessage::ProcJoin {
                group: b"abc".to_vec(),
                pid: 7,
                reason: Reason::Join,
            },
            168,
        ),
        (
            ExecMessage::JoinList(vec![(1, b"a".to_vec()), (2, b"bb".to_vec())]),
            24 + 2 * 144,
        ),
        (
            ExecMessage::Mcast {
                group: b"g".to_vec().into(),
                pid: 1,
                source: 9,
                data: vec![1; 10].into(),
            },
            194,
        ),
        (
            ExecMessage::DownList {
                old_members: 3,
                left: vec![2],
            },
            1568,
        ),
    ];
    for (m, size) in cases {
        let e = m.encode(1);
        assert_eq!(e.len(), size, "{m:?}");
        let f = (i32::from_ne_bytes(e[0..4].try_into().unwrap()) & 0xffff) as u16;
        assert_eq!(ExecMessage::decode(f, &e, false).unwrap(), m);
    }
}

#[test]
fn hostile_requests_get_errors_not_panics() {
    let mut c = Cluster::new(&[1]);
    let mut long = Writer::request(req::JOIN, 168);
    long.u32(16, 200);
    c.request(0, 1, &long.finish());
    let r = c.nodes[0].0.out.clients.pop_back().unwrap();
    assert_eq!(Reader::new(&r.data).i32(16).unwrap(), CsError::NameTooLong as i32);
    // An MCAST whose msglen lies gets no reply (async) and sends nothing.
    let mut m = mcast_req(b"abc");
    m[32] = 200;
    c.request(0, 1, &m);
    assert!(c.nodes[0].0.out.mcast.is_empty());
    for id in 0..14 {
        c.request(0, 1, &Writer::request(id, 16).finish());
    }
}

#[test]
fn iteration_lists_groups_once_with_name_only() {
    let mut c = Cluster::new(&[1]);
    for (conn, g, pid) in [(1, &b"b"[..], 10), (2, b"a", 11), (3, b"b", 12)] {
        c.request(0, conn, &join_req(g, pid));
    }
    c.settle();
    let cpg = &c.nodes[0].1;
    let items = iteration_items(&cpg.processes, b"", IterationType::NameOnly);
    let names: Vec<_> = items.iter().map(|i| i.group.clone()).collect();
    assert_eq!(names, vec![b"a".to_vec(), b"b".to_vec()]);
    let all = iteration_items(&cpg.processes, b"", IterationType::All);
    let pids: Vec<_> = all.iter().map(|i| i.pid).collect();
    assert_eq!(pids, vec![11, 10, 12]);
}

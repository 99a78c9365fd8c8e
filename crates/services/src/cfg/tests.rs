//! The cfg service driven as corosync-cfgtool and pacemakerd drive it.

use proptest::prelude::*;
use totem::Instant;

use super::codec::{RequestId, ShutdownFlags};
use super::*;
use crate::icmap::Value;
use crate::outbox::{ClientMessage, ClientMessageKind};
use crate::wire::{Reader, Writer};
use crate::World;

const TOOL: ConnId = ConnId(1);
const PCMK: ConnId = ConnId(2);
const OTHER: ConnId = ConnId(3);

fn world() -> World {
    let mut w = World::new(1);
    w.members = vec![1, 2];
    for (n, id, addr) in [(0, 1, "10.0.0.1"), (1, 2, "10.0.0.2"), (2, 3, "fd00::3")] {
        w.icmap.set(format!("nodelist.node.{n}.nodeid"), Value::U32(id));
        w.icmap
            .set(format!("nodelist.node.{n}.ring0_addr"), Value::String(addr.into()));
    }
    w.icmap
        .set("nodelist.node.0.ring1_addr", Value::String("192.168.1.1".into()));
    w.icmap.set("runtime.members.2.status", Value::String("joined".into()));
    w.icmap.set("runtime.members.3.status", Value::String("left".into()));
    w
}

fn at(ms: u64) -> Instant {
    Instant::ZERO + Duration::from_millis(ms)
}

fn send(cfg: &mut Cfg, w: &mut World, now: Instant, conn: ConnId, msg: Vec<u8>) -> Vec<ClientMessage> {
    let id = Reader::new(&msg).i32(0).unwrap();
    cfg.request(&mut w.ctx(now), conn, id, &msg);
    w.out.clients.drain(..).collect()
}

/// A request answered at once: its one response.
fn call(cfg: &mut Cfg, w: &mut World, conn: ConnId, msg: Vec<u8>) -> Vec<u8> {
    let out = send(cfg, w, Instant::ZERO, conn, msg);
    let resp: Vec<_> = out.iter().filter(|m| m.kind == ClientMessageKind::Response).collect();
    assert_eq!(resp.len(), 1);
    assert_eq!(resp[0].conn, conn);
    resp[0].data.clone()
}

fn req(id: RequestId, size: usize) -> Writer {
    Writer::request(id as i32, size)
}

fn with_u32(id: RequestId, v: u32) -> Vec<u8> {
    let mut w = req(id, 24);
    w.u32(16, v);
    w.finish()
}

fn error(m: &[u8]) -> CsError {
    CsError::from_raw(Reader::new(m).i32(16).unwrap())
}

fn is_testshutdown(m: &ClientMessage, conn: ConnId, status: CsError) -> bool {
    m.conn == conn
        && m.kind == ClientMessageKind::Event
        && Reader::new(&m.data).i32(0).unwrap() == 10
        && error(&m.data) == status
}

#[test]
fn local_get_and_node_addrs() {
    let (mut cfg, mut w) = (Cfg::new(), world());
    let r = call(&mut cfg, &mut w, PCMK, req(RequestId::LocalGet, 16).finish());
    assert_eq!(
        (
            r.len(),
            Reader::new(&r).i32(0).unwrap(),
            Reader::new(&r).u32(24).unwrap()
        ),
        (32, 12, 1)
    );
    let r = call(&mut cfg, &mut w, TOOL, with_u32(RequestId::GetNodeAddrs, 0));
    let rd = Reader::new(&r);
    assert_eq!((r.len(), rd.u32(24).unwrap(), rd.u32(28).unwrap()), (64, 2, 2));
    assert_eq!(&r[32..36], &[10, 0, 0, 1]);
    assert_eq!(&r[48..52], &[192, 168, 1, 1]);
    let r = call(&mut cfg, &mut w, TOOL, with_u32(RequestId::GetNodeAddrs, 3));
    assert_eq!((Reader::new(&r).u32(24).unwrap(), r[32]), (10, 0xfd));
    let r = call(&mut cfg, &mut w, TOOL, with_u32(RequestId::GetNodeAddrs, 9));
    assert_eq!((r.len(), error(&r)), (32, CsError::NotExist));
}

#[test]
fn ring_and_node_status() {
    let (mut cfg, mut w) = (Cfg::new(), world());
    let r = call(&mut cfg, &mut w, TOOL, req(RequestId::RingStatusGet, 16).finish());
    assert_eq!((r.len(), Reader::new(&r).u32(24).unwrap()), (10272, 2));
    assert_eq!(&r[32..43], b"0 10.0.0.1\0");
    assert_eq!(&r[160..174], b"1 192.168.1.1\0");
    assert_eq!(&r[2592..2595], b"OK\0");
    let mut m = req(RequestId::NodeStatusGet, 32);
    m.u32(16, 2).u32(24, 1);
    let r = call(&mut cfg, &mut w, TOOL, m.finish());
    let rd = Reader::new(&r);
    assert_eq!((r.len(), rd.u32(28).unwrap(), rd.u8(32).unwrap()), (4200, 2, 1));
    assert_eq!(
        (rd.u8(40).unwrap(), rd.u8(41).unwrap(), rd.u32(44).unwrap()),
        (1, 1, 1410)
    );
    assert_eq!(&r[48..57], b"10.0.0.2\0");
    // Not a member: not reachable, links not connected.
    let mut m = req(RequestId::NodeStatusGet, 32);
    m.u32(16, 3).u32(24, 1);
    let r = call(&mut cfg, &mut w, TOOL, m.finish());
    assert_eq!((r[32], r[40], r[41]), (0, 1, 0));
    let mut m = req(RequestId::NodeStatusGet, 32);
    m.u32(16, 2).u32(24, 7);
    let r = call(&mut cfg, &mut w, TOOL, m.finish());
    assert_eq!((r.len(), error(&r)), (32, CsError::NotSupported));
    // The node's own view replaces the default.
    let mut view = LinkView::default();
    view.nodes.insert(
        2,
        NodeStatus {
            reachable: true,
            ..Default::default()
        },
    );
    view.local.push(InterfaceStatus {
        link: 0,
        address: "10.0.0.1".into(),
        status: "FAULTY".into(),
    });
    cfg.set_link_view(view);
    let mut m = req(RequestId::NodeStatusGet, 32);
    m.u32(16, 2).u32(24, 1);
    let r = call(&mut cfg, &mut w, TOOL, m.finish());
    assert_eq!((r[28], r[32], r[40]), (2, 1, 0));
    let r = call(&mut cfg, &mut w, TOOL, req(RequestId::RingStatusGet, 16).finish());
    assert_eq!(&r[2080..2087], b"FAULTY\0");
}

#[test]
fn kill_node_to_self_shuts_down() {
    let (mut cfg, mut w) = (Cfg::new(), world());
    let mut m = req(RequestId::KillNode, 288);
    m.u32(16, 2).u16(24, 4).bytes(26, b"test");
    let r = call(&mut cfg, &mut w, TOOL, m.finish());
    assert_eq!(
        (r.len(), Reader::new(&r).i32(0).unwrap(), error(&r)),
        (24, 8, CsError::Ok)
    );
    let exec = w.out.mcast.pop_front().unwrap();
    assert_eq!(exec.len(), 288);
    // Delivered on node 1: not us, nothing happens.
    cfg.deliver(&mut w.ctx(Instant::ZERO), 1, codec::EXEC_KILLNODE, &exec, false)
        .unwrap();
    assert!(w.out.actions.is_empty());
    // Delivered on node 2 (the target).
    let mut w2 = World::new(2);
    cfg.deliver(&mut w2.ctx(Instant::ZERO), 1, codec::EXEC_KILLNODE, &exec, false)
        .unwrap();
    match w2.out.actions.pop_front() {
        Some(HostAction::Shutdown { reason }) => assert_eq!(reason, "Killed by node 1 : test"),
        other => panic!("{other:?}"),
    }
    // Nodes that left or never were members cannot be killed.
    for id in [3, 9] {
        let mut m = req(RequestId::KillNode, 288);
        m.u32(16, id);
        assert_eq!(error(&call(&mut cfg, &mut w, TOOL, m.finish())), CsError::NotExist);
    }
    assert!(w.out.mcast.is_empty());
}

#[test]
fn shutdown_without_trackers_is_immediate() {
    let (mut cfg, mut w) = (Cfg::new(), world());
    let r = call(&mut cfg, &mut w, TOOL, with_u32(RequestId::TryShutdown, 0));
    assert_eq!((Reader::new(&r).i32(0).unwrap(), error(&r)), (9, CsError::Ok));
    let exec = w.out.mcast.pop_front().unwrap();
    assert_eq!(exec.len(), 16);
    cfg.deliver(&mut w.ctx(Instant::ZERO), 1, codec::EXEC_SHUTDOWN, &exec, false)
        .unwrap();
    assert!(matches!(w.out.actions.pop_front(), Some(HostAction::Shutdown { .. })));
    // The SHUTDOWN of another node only logs.
    cfg.deliver(&mut w.ctx(Instant::ZERO), 2, codec::EXEC_SHUTDOWN, &exec, false)
        .unwrap();
    assert!(w.out.actions.is_empty());
}

#[test]
fn tracking_client_vetoes_shutdown() {
    let (mut cfg, mut w) = (Cfg::new(), world());
    let mut ts = req(RequestId::TrackStart, 24);
    ts.u8(16, 0);
    let r = call(&mut cfg, &mut w, PCMK, ts.finish());
    assert_eq!(
        (r.len(), Reader::new(&r).i32(0).unwrap(), error(&r)),
        (24, 2, CsError::Ok)
    );
    // The tool asks; pacemakerd is asked, the tool waits.
    let out = send(&mut cfg, &mut w, at(0), TOOL, with_u32(RequestId::TryShutdown, 0));
    assert_eq!(out.len(), 1);
    assert!(is_testshutdown(&out[0], PCMK, CsError::Ok));
    assert_eq!(cfg.poll_timeout(), Some(at(5000)));
    // A second request meanwhile is refused.
    let r = call(&mut cfg, &mut w, OTHER, with_u32(RequestId::TryShutdown, 0));
    assert_eq!(error(&r), CsError::Exist);
    // pacemakerd says no: the tool gets BUSY, nothing is multicast.
    let out = send(&mut cfg, &mut w, at(10), PCMK, with_u32(RequestId::ReplyToShutdown, 0));
    assert_eq!(out.len(), 2);
    assert_eq!((out[0].conn, error(&out[0].data)), (TOOL, CsError::Busy));
    assert_eq!((out[1].conn, error(&out[1].data)), (PCMK, CsError::Ok));
    assert!(w.out.mcast.is_empty());
    assert_eq!(cfg.poll_timeout(), None);
    // A reply without a shutdown going on.
    let r = call(&mut cfg, &mut w, PCMK, with_u32(RequestId::ReplyToShutdown, 1));
    assert_eq!(error(&r), CsError::Access);
    // Next time it agrees.
    send(&mut cfg, &mut w, at(20), TOOL, with_u32(RequestId::TryShutdown, 0));
    let out = send(&mut cfg, &mut w, at(30), PCMK, with_u32(RequestId::ReplyToShutdown, 1));
    assert_eq!((out[0].conn, error(&out[0].data)), (TOOL, CsError::Ok));
    assert_eq!(w.out.mcast.pop_front().unwrap(), Exec::Shutdown.encode());
}

#[test]
fn unanswered_shutdown_times_out() {
    let (mut cfg, mut w) = (Cfg::new(), world());
    w.icmap.set("cfg.shutdown_timeout", Value::U32(1000));
    call(&mut cfg, &mut w, PCMK, req(RequestId::TrackStart, 24).finish());
    send(&mut cfg, &mut w, at(0), TOOL, with_u32(RequestId::TryShutdown, 0));
    assert_eq!(cfg.poll_timeout(), Some(at(1000)));
    cfg.handle_timeout(&mut w.ctx(at(999)));
    assert!(w.out.clients.is_empty());
    cfg.handle_timeout(&mut w.ctx(at(1000)));
    let out: Vec<_> = w.out.clients.drain(..).collect();
    assert_eq!(out.len(), 2);
    assert_eq!((out[0].conn, error(&out[0].data)), (TOOL, CsError::Busy));
    assert!(is_testshutdown(&out[1], PCMK, CsError::Timeout));
    assert!(w.out.mcast.is_empty());
    // REGARDLESS goes down even so.
    send(&mut cfg, &mut w, at(2000), TOOL, with_u32(RequestId::TryShutdown, 1));
    cfg.handle_timeout(&mut w.ctx(at(3000)));
    let out: Vec<_> = w.out.clients.drain(..).collect();
    assert_eq!((out[0].conn, error(&out[0].data)), (TOOL, CsError::Ok));
    let t = &out[1];
    assert!(is_testshutdown(t, PCMK, CsError::Timeout));
    assert_eq!(Reader::new(&t.data).u32(24).unwrap(), ShutdownFlags::REGARDLESS.0);
    assert_eq!(w.out.mcast.len(), 1);
}

#[test]
fn a_tracker_leaving_counts_as_yes_and_late_trackers_are_asked() {
    let (mut cfg, mut w) = (Cfg::new(), world());
    call(&mut cfg, &mut w, PCMK, req(RequestId::TrackStart, 24).finish());
    send(&mut cfg, &mut w, at(0), TOOL, with_u32(RequestId::TryShutdown, 0));
    // A tracker that arrives during the round is asked too.
    let out = send(&mut cfg, &mut w, at(1), OTHER, req(RequestId::TrackStart, 24).finish());
    assert!(is_testshutdown(&out[0], OTHER, CsError::Ok));
    assert_eq!(error(&out[1].data), CsError::Ok);
    cfg.disconnect(&mut w.ctx(at(2)), PCMK);
    assert!(w.out.clients.is_empty());
    let out = send(&mut cfg, &mut w, at(3), OTHER, req(RequestId::TrackStop, 16).finish());
    assert_eq!((out[0].conn, error(&out[0].data)), (TOOL, CsError::Ok));
    assert_eq!((out[1].conn, Reader::new(&out[1].data).i32(0).unwrap()), (OTHER, 3));
    assert_eq!(w.out.mcast.len(), 1);
}

#[test]
fn the_requester_leaving_cancels_the_round() {
    let (mut cfg, mut w) = (Cfg::new(), world());
    call(&mut cfg, &mut w, PCMK, req(RequestId::TrackStart, 24).finish());
    send(&mut cfg, &mut w, at(0), TOOL, with_u32(RequestId::TryShutdown, 0));
    cfg.disconnect(&mut w.ctx(at(1)), TOOL);
    assert_eq!(cfg.poll_timeout(), None);
    let r = call(&mut cfg, &mut w, PCMK, with_u32(RequestId::ReplyToShutdown, 1));
    assert_eq!(error(&r), CsError::Access);
    assert!(w.out.mcast.is_empty());
}

#[test]
fn immediate_shutdown_ignores_trackers() {
    let (mut cfg, mut w) = (Cfg::new(), world());
    call(&mut cfg, &mut w, PCMK, req(RequestId::TrackStart, 24).finish());
    let r = call(&mut cfg, &mut w, TOOL, with_u32(RequestId::TryShutdown, 2));
    assert_eq!(error(&r), CsError::Ok);
    assert_eq!(w.out.mcast.len(), 1);
}

#[test]
fn reload_runs_on_every_node_and_answers_the_caller() {
    let (mut cfg, mut w) = (Cfg::new(), world());
    let out = send(&mut cfg, &mut w, at(0), TOOL, req(RequestId::ReloadConfig, 16).finish());
    assert!(out.is_empty());
    let exec = w.out.mcast.pop_front().unwrap();
    assert_eq!(exec.len(), 32);
    cfg.deliver(&mut w.ctx(at(1)), 1, codec::EXEC_RELOAD_CONFIG, &exec, false)
        .unwrap();
    assert_eq!(
        w.out.actions.pop_front(),
        Some(HostAction::ReloadConfig { conn: Some(TOOL) })
    );
    cfg.config_reloaded(&mut w.ctx(at(2)), Some(TOOL), CsError::Ok);
    let r = w.out.clients.pop_front().unwrap();
    assert_eq!(
        (r.conn, r.data.len(), Reader::new(&r.data).i32(0).unwrap()),
        (TOOL, 24, 14)
    );
    let mut w2 = World::new(2);
    cfg.deliver(&mut w2.ctx(at(1)), 1, codec::EXEC_RELOAD_CONFIG, &exec, false)
        .unwrap();
    assert_eq!(
        w2.out.actions.pop_front(),
        Some(HostAction::ReloadConfig { conn: None })
    );
}

#[test]
fn small_calls() {
    let (mut cfg, mut w) = (Cfg::new(), world());
    let r = call(&mut cfg, &mut w, TOOL, req(RequestId::ReopenLogFiles, 16).finish());
    assert_eq!((Reader::new(&r).i32(0).unwrap(), error(&r)), (15, CsError::Ok));
    assert_eq!(w.out.actions.pop_front(), Some(HostAction::ReopenLogs));
    let r = call(&mut cfg, &mut w, TOOL, req(RequestId::RingReenable, 16).finish());
    assert_eq!(error(&r), CsError::NotSupported);
    assert_eq!(cfg.flow_control(0), Some(FlowControl::Required));
    assert_eq!(cfg.flow_control(6), Some(FlowControl::NotRequired));
    assert_eq!(cfg.flow_control(12), None);
    // Crypto reconfiguration: our ACTIVATE is followed by our CLEANUP.
    let activate = Exec::CryptoReconfig { phase: 1 }.encode();
    cfg.deliver(&mut w.ctx(at(0)), 1, codec::EXEC_CRYPTO_RECONFIG, &activate, false)
        .unwrap();
    assert_eq!(
        w.out.mcast.pop_front(),
        Some(Exec::CryptoReconfig { phase: 2 }.encode())
    );
    cfg.deliver(&mut w.ctx(at(0)), 2, codec::EXEC_CRYPTO_RECONFIG, &activate, false)
        .unwrap();
    assert!(w.out.mcast.is_empty());
}

#[test]
fn short_requests_get_sized_errors() {
    let (mut cfg, mut w) = (Cfg::new(), world());
    for (id, size) in [(2, 24), (3, 24), (5, 32), (9, 32), (10, 24)] {
        let r = call(&mut cfg, &mut w, TOOL, Writer::request(id, 16).finish());
        assert_eq!((r.len(), error(&r)), (size, CsError::InvalidParam), "request {id}");
    }
    let mut m = req(RequestId::KillNode, 288);
    m.u32(16, 2).u16(24, 300);
    assert_eq!(error(&call(&mut cfg, &mut w, TOOL, m.finish())), CsError::NameTooLong);
    assert!(w.out.mcast.is_empty());
}

proptest! {
    #[test]
    fn hostile_requests_never_panic(id in 0i32..13, body in proptest::collection::vec(any::<u8>(), 0..400)) {
        let (mut cfg, mut w) = (Cfg::new(), world());
        let mut m = Writer::request(id, 16 + body.len());
        m.bytes(16, &body);
        let out = send(&mut cfg, &mut w, Instant::ZERO, TOOL, m.finish());
        for r in out.iter().filter(|m| m.kind == ClientMessageKind::Response) {
            prop_assert_eq!(Reader::new(&r.data).i32(8).unwrap() as usize, r.data.len());
        }
    }

    #[test]
    fn hostile_exec_messages_never_panic(f in 0u16..6, body in proptest::collection::vec(any::<u8>(), 0..300), swap in any::<bool>()) {
        let (mut cfg, mut w) = (Cfg::new(), world());
        let mut m = Writer::request(ServiceId::Cfg.exec_id(f), 16 + body.len());
        m.bytes(16, &body);
        let _ = cfg.deliver(&mut w.ctx(Instant::ZERO), 2, f, &m.finish(), swap);
    }
}

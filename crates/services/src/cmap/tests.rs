//! The cmap service driven through `Service::request` as clients drive it.

use proptest::prelude::*;
use totem::Instant;

use super::codec::{RequestId, TrackType, GET_REQUEST, SET_REQUEST};
use super::*;
use crate::outbox::ClientMessageKind;
use crate::wire::{Reader, Writer};
use crate::World;

const C: ConnId = ConnId(1);
const NOW: Instant = Instant::ZERO;

fn world() -> World {
    let mut w = World::new(1);
    w.icmap.set("totem.token", Value::U32(3000));
    w.icmap.set("totem.cluster_name", Value::String("capture".into()));
    w.icmap.set("nodelist.node.0.nodeid", Value::U32(1));
    w.icmap
        .set("nodelist.node.0.ring0_addr", Value::String("10.0.0.1".into()));
    config::set_read_only_flags(&mut w.icmap);
    w.icmap.take_changes();
    w
}

/// Sends one request; returns the single response.
fn call(cm: &mut Cmap, w: &mut World, msg: Vec<u8>) -> Vec<u8> {
    let id = Reader::new(&msg).i32(0).unwrap();
    cm.request(&mut w.ctx(NOW), C, id, &msg);
    let responses: Vec<_> = w
        .out
        .clients
        .iter()
        .filter(|m| m.kind == ClientMessageKind::Response)
        .cloned()
        .collect();
    w.out.clients.retain(|m| m.kind != ClientMessageKind::Response);
    assert_eq!(responses.len(), 1, "exactly one response");
    assert_eq!(responses[0].conn, C);
    responses[0].data.clone()
}

/// Drains the map changes into the service and returns the events sent.
fn step(cm: &mut Cmap, w: &mut World) -> Vec<Vec<u8>> {
    let ch = w.icmap.take_changes();
    cm.notify_changes(&mut w.ctx(NOW), &ch);
    w.out.clients.drain(..).map(|m| m.data).collect()
}

fn error(resp: &[u8]) -> CsError {
    CsError::from_raw(Reader::new(resp).i32(16).unwrap())
}

fn named(id: RequestId, size: usize, key: &str) -> Writer {
    let mut w = Writer::request(id as i32, size);
    w.mar_name(16, key.as_bytes());
    w
}

fn set_req(key: &str, v: &Value) -> Vec<u8> {
    let bytes = v.to_wire();
    let mut w = named(RequestId::Set, SET_REQUEST + bytes.len(), key);
    w.u64(280, bytes.len() as u64)
        .u8(288, v.type_code())
        .bytes(SET_REQUEST, &bytes);
    w.finish()
}

fn get_req(key: &str, len: u64) -> Vec<u8> {
    let mut w = named(RequestId::Get, GET_REQUEST, key);
    w.u64(280, len);
    w.finish()
}

fn handle_req(id: RequestId, h: u64) -> Vec<u8> {
    let mut w = Writer::request(id as i32, 24);
    w.u64(16, h);
    w.finish()
}

fn iter_keys(cm: &mut Cmap, w: &mut World, prefix: &str) -> Vec<String> {
    let r = call(cm, w, named(RequestId::IterInit, 280, prefix).finish());
    assert_eq!(error(&r), CsError::Ok);
    let h = Reader::new(&r).u64(24).unwrap();
    let mut keys = Vec::new();
    loop {
        let r = call(cm, w, handle_req(RequestId::IterNext, h));
        if error(&r) == CsError::NoSections {
            break;
        }
        keys.push(String::from_utf8(Reader::new(&r).mar_name(24).unwrap().to_vec()).unwrap());
    }
    assert_eq!(error(&call(cm, w, handle_req(RequestId::IterFinalize, h))), CsError::Ok);
    keys
}

fn set_map(cm: &mut Cmap, w: &mut World, map: i32) -> CsError {
    let mut m = Writer::request(RequestId::SetCurrentMap as i32, 24);
    m.i32(16, map);
    let r = call(cm, w, m.finish());
    assert_eq!(r.len(), 24);
    assert_eq!(Reader::new(&r).i32(0).unwrap(), 10);
    error(&r)
}

fn track_req(key: &str, tt: i32, inst: u64) -> Vec<u8> {
    let mut w = named(RequestId::TrackAdd, 296, key);
    w.i32(280, tt).u64(288, inst);
    w.finish()
}

#[test]
fn get_probe_then_read() {
    let (mut cm, mut w) = (Cmap::new(), world());
    let probe = call(&mut cm, &mut w, get_req("totem.cluster_name", 0));
    assert_eq!(probe.len(), 40);
    assert_eq!(error(&probe), CsError::Ok);
    assert_eq!(Reader::new(&probe).u64(24).unwrap(), 8);
    assert_eq!(Reader::new(&probe).u8(32).unwrap(), 11);
    let read = call(&mut cm, &mut w, get_req("totem.cluster_name", 8));
    assert_eq!(read.len(), 48);
    assert_eq!(&read[40..], b"capture\0");
    // Pacemaker's cmap_get_uint32 on a u32 key.
    let u = call(&mut cm, &mut w, get_req("nodelist.node.0.nodeid", 4));
    assert_eq!(u.len(), 44);
    assert_eq!(Reader::new(&u).u8(32).unwrap(), 6);
    assert_eq!(&u[40..], &1u32.to_ne_bytes());
    // A larger buffer: the response fills the client's buffer size, zero-padded.
    let big = call(&mut cm, &mut w, get_req("totem.token", 100));
    assert_eq!(big.len(), 140);
    // Missing key, too small a buffer.
    let missing = call(&mut cm, &mut w, get_req("nodelist.node.1.nodeid", 4));
    assert_eq!((missing.len(), error(&missing)), (40, CsError::NotExist));
    let small = call(&mut cm, &mut w, get_req("totem.cluster_name", 3));
    assert_eq!((small.len(), error(&small)), (40, CsError::InvalidParam));
    // A hostile buffer size does not make a huge response.
    let huge = call(&mut cm, &mut w, get_req("totem.token", u64::MAX));
    assert_eq!((huge.len(), error(&huge)), (44, CsError::Ok));
}

#[test]
fn set_delete_adjust_and_read_only_refusals() {
    let (mut cm, mut w) = (Cmap::new(), world());
    let r = call(&mut cm, &mut w, set_req("uidgid.gid.189", &Value::U8(1)));
    assert_eq!((r.len(), error(&r)), (24, CsError::Ok));
    assert_eq!(w.icmap.get("uidgid.gid.189"), Some(&Value::U8(1)));
    for key in [
        "nodelist.node.0.nodeid",
        "totem.cluster_name",
        "runtime.config.totem.token",
    ] {
        let r = call(&mut cm, &mut w, set_req(key, &Value::U32(9)));
        assert_eq!(error(&r), CsError::Access, "{key}");
        let r = call(&mut cm, &mut w, named(RequestId::Delete, 280, key).finish());
        assert_eq!(error(&r), CsError::Access, "{key}");
    }
    assert_eq!(w.icmap.get("nodelist.node.0.nodeid"), Some(&Value::U32(1)));
    // totem.token is writable; changing its type is allowed as in corosync.
    let r = call(&mut cm, &mut w, set_req("totem.token", &Value::U32(5000)));
    assert_eq!(error(&r), CsError::Ok);
    let mut adj = named(RequestId::AdjustInt, 288, "totem.token");
    adj.i32(280, -1000);
    assert_eq!(error(&call(&mut cm, &mut w, adj.finish())), CsError::Ok);
    assert_eq!(w.icmap.get("totem.token"), Some(&Value::U32(4000)));
    let mut adj = named(RequestId::AdjustInt, 288, "totem.cluster_name");
    adj.i32(280, 1);
    assert_eq!(error(&call(&mut cm, &mut w, adj.finish())), CsError::Access);
    let r = call(
        &mut cm,
        &mut w,
        named(RequestId::Delete, 280, "uidgid.gid.189").finish(),
    );
    assert_eq!(error(&r), CsError::Ok);
    let r = call(
        &mut cm,
        &mut w,
        named(RequestId::Delete, 280, "uidgid.gid.189").finish(),
    );
    assert_eq!(error(&r), CsError::NotExist);
    // Bad new key names and values.
    let r = call(&mut cm, &mut w, set_req("a b", &Value::U8(1)));
    assert_eq!(error(&r), CsError::NameTooLong);
    let mut bad = named(RequestId::Set, SET_REQUEST + 2, "my.key");
    bad.u64(280, 2).u8(288, 6);
    assert_eq!(error(&call(&mut cm, &mut w, bad.finish())), CsError::InvalidParam);
}

#[test]
fn strings_are_cut_at_value_len() {
    let (mut cm, mut w) = (Cmap::new(), world());
    let mut m = named(RequestId::Set, SET_REQUEST + 8, "my.str");
    m.u64(280, 3).u8(288, 11).bytes(SET_REQUEST, b"abcdef\0");
    assert_eq!(error(&call(&mut cm, &mut w, m.finish())), CsError::Ok);
    assert_eq!(w.icmap.get("my.str"), Some(&Value::String("abc".into())));
}

#[test]
fn iteration_follows_changes() {
    let (mut cm, mut w) = (Cmap::new(), world());
    assert_eq!(
        iter_keys(&mut cm, &mut w, "nodelist"),
        ["nodelist.node.0.nodeid", "nodelist.node.0.ring0_addr"]
    );
    assert_eq!(iter_keys(&mut cm, &mut w, "").len(), 4);
    // Keys added behind the position are seen, deleted ones skipped.
    let r = call(&mut cm, &mut w, named(RequestId::IterInit, 280, "a.").finish());
    let h = Reader::new(&r).u64(24).unwrap();
    w.icmap.set("a.1", Value::U8(1));
    w.icmap.set("a.3", Value::U8(3));
    let r = call(&mut cm, &mut w, handle_req(RequestId::IterNext, h));
    assert_eq!(Reader::new(&r).mar_name(24).unwrap(), b"a.1");
    assert_eq!(Reader::new(&r).u64(288).unwrap(), 1);
    assert_eq!(Reader::new(&r).u8(296).unwrap(), 2);
    w.icmap.set("a.2", Value::U8(2));
    w.icmap.delete("a.3");
    let r = call(&mut cm, &mut w, handle_req(RequestId::IterNext, h));
    assert_eq!(Reader::new(&r).mar_name(24).unwrap(), b"a.2");
    let r = call(&mut cm, &mut w, handle_req(RequestId::IterNext, h));
    assert_eq!((r.len(), error(&r)), (304, CsError::NoSections));
    // Unknown handles.
    let r = call(&mut cm, &mut w, handle_req(RequestId::IterNext, 999));
    assert_eq!((r.len(), error(&r)), (304, CsError::BadHandle));
    let r = call(&mut cm, &mut w, handle_req(RequestId::IterFinalize, 999));
    assert_eq!(error(&r), CsError::BadHandle);
}

#[test]
fn tracking_with_prefix_and_old_new_values() {
    let (mut cm, mut w) = (Cmap::new(), world());
    let all = TrackType::ADD | TrackType::DELETE | TrackType::MODIFY;
    let r = call(&mut cm, &mut w, track_req("uidgid.", all | TrackType::PREFIX, 77));
    assert_eq!((r.len(), error(&r)), (32, CsError::Ok));
    let th = Reader::new(&r).u64(24).unwrap();
    let r = call(&mut cm, &mut w, track_req("totem.token", TrackType::MODIFY, 88));
    assert_eq!(error(&r), CsError::Ok);
    call(&mut cm, &mut w, set_req("uidgid.gid.189", &Value::U8(1)));
    call(&mut cm, &mut w, set_req("uidgid.gid.189", &Value::U8(2)));
    call(
        &mut cm,
        &mut w,
        named(RequestId::Delete, 280, "uidgid.gid.189").finish(),
    );
    call(&mut cm, &mut w, set_req("totem.token", &Value::U32(1000)));
    call(&mut cm, &mut w, set_req("totem.tokenx", &Value::U32(1000)));
    let ev = step(&mut cm, &mut w);
    assert_eq!(ev.len(), 4);
    let fields = |m: &[u8]| {
        let r = Reader::new(m);
        (
            r.u64(24).unwrap(),
            String::from_utf8(r.mar_name(32).unwrap().to_vec()).unwrap(),
            r.i32(296).unwrap(),
            r.u8(304).unwrap(),
            r.u8(312).unwrap(),
            r.u64(320).unwrap(),
            r.u64(328).unwrap(),
            m[336..].to_vec(),
        )
    };
    assert_eq!(fields(&ev[0]), (77, "uidgid.gid.189".into(), 4, 2, 0, 1, 0, vec![1]));
    assert_eq!(fields(&ev[1]), (77, "uidgid.gid.189".into(), 2, 2, 2, 1, 1, vec![2, 1]));
    assert_eq!(fields(&ev[2]), (77, "uidgid.gid.189".into(), 1, 0, 2, 0, 1, vec![2]));
    let mut both = 1000u32.to_ne_bytes().to_vec();
    both.extend(3000u32.to_ne_bytes());
    assert_eq!(fields(&ev[3]), (88, "totem.token".into(), 2, 6, 6, 4, 4, both));
    // Switching maps is refused while a tracker is open; deleting returns the inst.
    assert_eq!(set_map(&mut cm, &mut w, 1), CsError::Busy);
    let r = call(&mut cm, &mut w, handle_req(RequestId::TrackDelete, th));
    assert_eq!(
        (r.len(), error(&r), Reader::new(&r).u64(24).unwrap()),
        (32, CsError::Ok, 77)
    );
    let r = call(&mut cm, &mut w, handle_req(RequestId::TrackDelete, th));
    assert_eq!(error(&r), CsError::BadHandle);
    call(&mut cm, &mut w, set_req("uidgid.gid.5", &Value::U8(1)));
    assert!(step(&mut cm, &mut w).is_empty());
    let r = call(&mut cm, &mut w, track_req("x.y", 16, 1));
    assert_eq!(error(&r), CsError::InvalidParam);
}

#[test]
fn trackers_end_with_the_connection() {
    let (mut cm, mut w) = (Cmap::new(), world());
    call(&mut cm, &mut w, track_req("", TrackType::ADD | TrackType::PREFIX, 1));
    cm.disconnect(&mut w.ctx(NOW), C);
    w.icmap.set("new.key", Value::U8(1));
    assert!(step(&mut cm, &mut w).is_empty());
}

#[test]
fn stats_map_reads_tracks_and_refuses_writes() {
    let (mut cm, mut w) = (Cmap::new(), world());
    assert_eq!(set_map(&mut cm, &mut w, 2), CsError::NotExist);
    assert_eq!(set_map(&mut cm, &mut w, 1), CsError::Ok);
    let srp = iter_keys(&mut cm, &mut w, "stats.srp.");
    assert_eq!(srp.len(), 30);
    assert!(iter_keys(&mut cm, &mut w, "totem.").is_empty());
    let r = call(&mut cm, &mut w, get_req("stats.srp.mcast_tx", 8));
    assert_eq!((error(&r), Reader::new(&r).u8(32).unwrap()), (CsError::Ok, 8));
    let r = call(&mut cm, &mut w, set_req("stats.srp.mcast_tx", &Value::U64(1)));
    assert_eq!(error(&r), CsError::Access);
    let r = call(&mut cm, &mut w, set_req("stats.clear.all", &Value::U8(1)));
    assert_eq!(error(&r), CsError::Ok);
    assert_eq!(cm.stats_mut().take_clears(), vec![StatsClear::All]);
    let r = call(&mut cm, &mut w, set_req("stats.clear.bogus", &Value::U8(1)));
    assert_eq!(error(&r), CsError::NotSupported);
    let r = call(
        &mut cm,
        &mut w,
        named(RequestId::Delete, 280, "stats.srp.mcast_tx").finish(),
    );
    assert_eq!(error(&r), CsError::Access);
    // Prefix tracking in the stats map needs ADD and DELETE.
    let r = call(
        &mut cm,
        &mut w,
        track_req("stats.", TrackType::PREFIX | TrackType::ADD, 1),
    );
    assert_eq!(error(&r), CsError::NotSupported);
    let r = call(&mut cm, &mut w, track_req("stats.srp.mcast_tx", TrackType::MODIFY, 5));
    assert_eq!(error(&r), CsError::Ok);
    let stats = totem::Stats {
        mcast_tx: 42,
        ..Default::default()
    };
    cm.stats_mut().fill_srp(&stats);
    // A change of the main map does not reach a stats-map connection.
    w.icmap.set("totem.token", Value::U32(1));
    let ev = step(&mut cm, &mut w);
    assert_eq!(ev.len(), 1);
    let r = Reader::new(&ev[0]);
    assert_eq!((r.u64(24).unwrap(), r.i32(296).unwrap()), (5, TrackType::MODIFY));
    assert_eq!(&ev[0][336..344], &42u64.to_ne_bytes());
}

#[test]
fn config_version_sync_agreement() {
    let (mut cm, mut w) = (Cmap::new(), world());
    w.icmap.set(CONFIG_VERSION, Value::U64(5));
    w.icmap.take_changes();
    cm.sync_init(&mut w.ctx(NOW), &[1], &[1, 2], RingId::default());
    assert_eq!(cm.sync_process(&mut w.ctx(NOW)), SyncProgress::Done);
    let ours = w.out.mcast.pop_front().unwrap();
    assert_eq!(ours.len(), 48 + 288);
    cm.deliver(&mut w.ctx(NOW), 1, 0, &ours, false).unwrap();
    let theirs = exec::Mcast {
        reason: exec::Reason::Sync,
        items: vec![exec::Item {
            key: CONFIG_VERSION.into(),
            value: Some(Value::U64(6)),
        }],
    }
    .encode();
    cm.deliver(&mut w.ctx(NOW), 2, 0, &theirs, false).unwrap();
    assert_eq!(w.icmap.get("runtime.members.2.config_version"), Some(&Value::U64(6)));
    assert_eq!(w.icmap.get("runtime.members.1.config_version"), Some(&Value::U64(5)));
    cm.sync_activate(&mut w.ctx(NOW));
    assert!(matches!(
        w.out.actions.pop_front(),
        Some(crate::HostAction::Shutdown { .. })
    ));
    // Only the first sync decides.
    cm.sync_init(&mut w.ctx(NOW), &[1], &[1, 2], RingId::default());
    cm.deliver(&mut w.ctx(NOW), 2, 0, &theirs, false).unwrap();
    cm.sync_activate(&mut w.ctx(NOW));
    assert!(w.out.actions.is_empty());
}

#[test]
fn equal_or_absent_versions_agree() {
    let (mut cm, mut w) = (Cmap::new(), world());
    cm.sync_init(&mut w.ctx(NOW), &[1], &[1, 2], RingId::default());
    cm.sync_process(&mut w.ctx(NOW));
    let absent = w.out.mcast.pop_front().unwrap();
    assert_eq!(absent.len(), 328);
    cm.deliver(&mut w.ctx(NOW), 2, 0, &absent, false).unwrap();
    cm.sync_activate(&mut w.ctx(NOW));
    assert!(w.out.actions.is_empty());
    assert_eq!(w.icmap.get("runtime.members.2.config_version"), Some(&Value::U64(0)));
}

#[test]
fn changed_config_version_is_announced() {
    let (mut cm, mut w) = (Cmap::new(), world());
    w.icmap.set(CONFIG_VERSION, Value::U64(9));
    step(&mut cm, &mut w);
    let m = exec::Mcast::decode(&w.out.mcast.pop_front().unwrap(), false).unwrap();
    assert_eq!(m.reason, exec::Reason::NewConfigVersion);
    assert_eq!(m.find(CONFIG_VERSION).unwrap().value, Some(Value::U64(9)));
}

#[test]
fn short_requests_get_sized_errors() {
    let (mut cm, mut w) = (Cmap::new(), world());
    for (id, size) in [(2, 40), (4, 32), (5, 304), (7, 32), (8, 32), (0, 24), (9, 24)] {
        let m = Writer::request(id, 16).finish();
        let r = call(&mut cm, &mut w, m);
        assert_eq!((r.len(), error(&r)), (size, CsError::InvalidParam), "request {id}");
    }
    let r = call(&mut cm, &mut w, Writer::request(42, 16).finish());
    assert_eq!(error(&r), CsError::InvalidParam);
    let mut long = Writer::request(2, GET_REQUEST);
    long.u16(16, 300);
    assert_eq!(error(&call(&mut cm, &mut w, long.finish())), CsError::NameTooLong);
}

proptest! {
    #[test]
    fn hostile_requests_never_panic(id in 0i32..12, body in proptest::collection::vec(any::<u8>(), 0..700),
                                    name_len in any::<u16>(), value_len in any::<u64>()) {
        let (mut cm, mut w) = (Cmap::new(), world());
        let mut m = Writer::request(id, 16 + body.len());
        m.bytes(16, &body);
        let mut m = m.finish();
        if m.len() >= 18 {
            m[16..18].copy_from_slice(&name_len.to_ne_bytes());
        }
        if m.len() >= 288 {
            m[280..288].copy_from_slice(&value_len.to_ne_bytes());
        }
        let r = call(&mut cm, &mut w, m);
        prop_assert!(r.len() >= 24);
        prop_assert_eq!(Reader::new(&r).i32(8).unwrap() as usize, r.len());
        step(&mut cm, &mut w);
    }

    #[test]
    fn hostile_exec_messages_never_panic(body in proptest::collection::vec(any::<u8>(), 0..700), swap in any::<bool>()) {
        let (mut cm, mut w) = (Cmap::new(), world());
        let mut m = Writer::request(0, 16 + body.len());
        m.bytes(16, &body);
        let _ = cm.deliver(&mut w.ctx(NOW), 2, 0, &m.finish(), swap);
    }
}

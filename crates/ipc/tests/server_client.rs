//! Our server and our client, end to end: handshake, requests and responses, events,
//! queueing behind a full event ring, the queue bound, flow control, cleanup.

mod common;

use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use common::{echo, event, pattern, request, Harness, NO_REPLY_ID};
use ipc::wire::ResponseHeader;
use ipc::{Client, IpcError, ServerEvent};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

fn pollin(c: &Client, ms: u16) -> bool {
    let mut fds = [PollFd::new(c.as_fd(), PollFlags::POLLIN)];
    poll(&mut fds, PollTimeout::from(ms)).unwrap() == 1
}

#[test]
fn request_response_round_trips_and_cleanup() {
    let h = Harness::start("rr", |_| {});
    let c = Client::connect(&h.service).unwrap();
    let (conn, creds) = h.expect_connected();
    assert_eq!(creds.pid, std::process::id());
    assert_eq!(c.max_msg_size(), 1 << 20);
    // Files as libqb: directory 0770, ring files 0600, header 8252 bytes, data per formula.
    let dirs = h.conn_dirs();
    assert_eq!(dirs.len(), 1);
    let name = dirs[0].file_name().unwrap().to_str().unwrap().to_owned();
    assert!(
        name.starts_with(&format!("qb-{}-{}-", std::process::id(), std::process::id())),
        "{name}"
    );
    assert_eq!(std::fs::metadata(&dirs[0]).unwrap().permissions().mode() & 0o777, 0o770);
    for kind in ["request", "response", "event"] {
        let hdr = std::fs::metadata(h.ring_file(&format!("{kind}-header"))).unwrap();
        assert_eq!(hdr.len(), 8252);
        assert_eq!(hdr.permissions().mode() & 0o777, 0o600);
        let data = std::fs::metadata(h.ring_file(&format!("{kind}-data"))).unwrap();
        assert_eq!(data.len() as usize, ipc::ring::data_size(1 << 20));
    }
    // Sizes from empty to the maximum; the ring wraps many times on the way.
    let max_body = (1 << 20) - 24;
    for (i, len) in [
        0usize, 1, 3, 4, 5, 1000, 65_536, 300_001, max_body, 7, max_body, 123_457,
    ]
    .into_iter()
    .enumerate()
    {
        let req = request(i as i32, &pattern(len, i as u32));
        let resp = c.send_recv(&req).unwrap();
        assert_eq!(resp, echo(i as i32, &req), "round trip {i} of {len} bytes");
        match h.next_event(10) {
            ServerEvent::Request { conn: got, id, data } => {
                assert_eq!((got, id), (conn, i as i32));
                assert_eq!(data, req);
            }
            other => panic!("expected a request, got {other:?}"),
        }
    }
    assert!(matches!(
        c.send_recv(&request(1, &vec![0; 1 << 20])),
        Err(IpcError::TooLarge { .. })
    ));
    drop(c);
    h.expect_disconnected(conn);
    assert!(h.conn_dirs().is_empty(), "connection directory removed");
}

#[test]
fn async_requests_and_events_in_order() {
    let h = Harness::start("ev", |_| {});
    let c = Client::connect(&h.service).unwrap();
    let (conn, _) = h.expect_connected();
    for i in 0..50 {
        c.send(&request(NO_REPLY_ID, &pattern(100 + i, i as u32))).unwrap();
    }
    for i in 0..50 {
        match h.next_event(10) {
            ServerEvent::Request { id, data, .. } => {
                assert_eq!(id, NO_REPLY_ID);
                assert_eq!(data, request(NO_REPLY_ID, &pattern(100 + i, i as u32)));
            }
            other => panic!("expected request {i}, got {other:?}"),
        }
    }
    assert!(!pollin(&c, 0), "no event pending yet");
    assert_eq!(c.recv_event(Some(Duration::from_millis(10))).unwrap(), None);
    for i in 0..10 {
        h.send_event(conn, event(i, &pattern(i as usize * 10, 7))).unwrap();
    }
    assert!(pollin(&c, 5000), "POLLIN on the client's fd means an event is pending");
    for i in 0..10 {
        let ev = c.recv_event(Some(Duration::from_secs(5))).unwrap().expect("event");
        assert_eq!(ev, event(i, &pattern(i as usize * 10, 7)));
    }
    assert!(!pollin(&c, 0), "every notification byte consumed");
    // A synchronous call still works after the events.
    let req = request(3, b"after");
    assert_eq!(c.send_recv(&req).unwrap(), echo(3, &req));
}

/// One thread waits for events while another makes calls on the same connection, as a
/// libcpg sender with a dispatch thread does: neither side waits for the other.
#[test]
fn a_thread_waiting_for_events_does_not_hold_up_calls() {
    let h = Harness::start("threads", |_| {});
    let c = std::sync::Arc::new(Client::connect(&h.service).unwrap());
    let (conn, _) = h.expect_connected();
    let waiter = {
        let c = std::sync::Arc::clone(&c);
        std::thread::spawn(move || c.recv_event(Some(Duration::from_secs(30))))
    };
    for i in 0..20 {
        let req = request(i, &pattern(64, i as u32));
        assert_eq!(c.send_recv(&req).unwrap(), echo(i, &req), "call {i}");
        assert!(matches!(h.next_event(10), ServerEvent::Request { .. }));
    }
    assert!(!waiter.is_finished(), "no event was sent yet");
    h.send_event(conn, event(9, b"wake")).unwrap();
    let got = waiter.join().unwrap().unwrap();
    assert_eq!(got, Some(event(9, b"wake")));
}

/// A request sent right before the close: the server reads the request and sees the
/// close. Both usually arrive before the server wakes, and its short read of the one
/// notification byte would otherwise be taken as all there is, the close never noticed.
#[test]
fn a_request_then_a_close_are_both_seen() {
    let h = Harness::start("lastreq", |_| {});
    for i in 0..50u8 {
        let c = Client::connect(&h.service).unwrap();
        let (conn, _) = h.expect_connected();
        c.send(&request(NO_REPLY_ID, &[i])).unwrap();
        drop(c);
        match h.next_event(10) {
            ServerEvent::Request { conn: c, id, data } => {
                assert_eq!((c, id), (conn, NO_REPLY_ID));
                assert_eq!(data.last(), Some(&i));
            }
            other => panic!("round {i}: expected the request, got {other:?}"),
        }
        match h.next_event(10) {
            ServerEvent::Disconnected { conn: c } => assert_eq!(c, conn, "round {i}"),
            other => panic!("round {i}: expected the close, got {other:?}"),
        }
    }
}

#[test]
fn full_event_ring_queues_and_retries_in_order() {
    let h = Harness::start("queue", |c| {
        c.max_msg_size = 4096;
        c.event_queue_max = 1000;
    });
    let c = Client::connect_with(&h.service, 4096).unwrap();
    let (conn, _) = h.expect_connected();
    assert_eq!(c.max_msg_size(), 4096);
    // 200 events of 1000 bytes: far more than the ~8 KiB event ring holds.
    for i in 0..200 {
        h.send_event(conn, event(i, &pattern(1000 - 24, i as u32))).unwrap();
    }
    assert!(
        h.with(|s| s.poll_timeout().is_some()),
        "a retry is scheduled while events wait"
    );
    for i in 0..200 {
        let ev = c
            .recv_event(Some(Duration::from_secs(5)))
            .unwrap()
            .unwrap_or_else(|| panic!("event {i}"));
        let hdr = ResponseHeader::decode(&ev).unwrap();
        assert_eq!(hdr.id, i, "events delivered in order");
        assert_eq!(ev, event(i, &pattern(1000 - 24, i as u32)));
    }
    assert_eq!(c.recv_event(Some(Duration::from_millis(50))).unwrap(), None);
    // Once any pending retry has fired, nothing is left to retry.
    assert!(
        h.with(|s| {
            s.handle_timeout(std::time::Instant::now() + Duration::from_secs(1));
            s.poll_timeout().is_none()
        }),
        "nothing left to retry"
    );
}

#[test]
fn slow_client_past_the_queue_bound_is_disconnected() {
    let h = Harness::start("bound", |c| {
        c.max_msg_size = 4096;
        c.event_queue_max = 5;
    });
    let c = Client::connect_with(&h.service, 4096).unwrap();
    let (conn, _) = h.expect_connected();
    let mut overflow_at = None;
    for i in 0..100 {
        match h.send_event(conn, event(i, &[0u8; 1000])) {
            Ok(()) => {}
            Err(IpcError::EventQueueOverflow) => {
                overflow_at = Some(i);
                break;
            }
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    let at = overflow_at.expect("the bound was hit");
    assert!(at > 5, "the ring took some events before the queue: {at}");
    h.expect_disconnected(conn);
    assert!(matches!(
        h.send_event(conn, event(0, b"x")),
        Err(IpcError::NoSuchConnection(_))
    ));
    assert!(h.conn_dirs().is_empty());
    // The client sees the events that made it into the ring, then the disconnect.
    let mut got = 0;
    loop {
        match c.recv_event(Some(Duration::from_secs(5))) {
            Ok(Some(_)) => got += 1,
            Err(IpcError::Disconnected) => break,
            other => panic!("expected events then Disconnected, got {other:?}"),
        }
        assert!(got <= 100);
    }
    assert!(got >= 1);
    assert!(matches!(c.send_recv(&request(1, b"")), Err(IpcError::Disconnected)));
}

#[test]
fn flow_control_makes_sends_try_again() {
    let h = Harness::start("fc", |_| {});
    let c = Client::connect(&h.service).unwrap();
    let (conn, _) = h.expect_connected();
    h.with(move |s| s.set_flow_control(conn, 1)).unwrap();
    assert!(matches!(c.send(&request(NO_REPLY_ID, b"x")), Err(IpcError::TryAgain)));
    // Level 2 is only enforced by libqb clients that raised fc_enable_max (cpg mcast).
    h.with(move |s| s.set_flow_control(conn, 0)).unwrap();
    let req = request(2, b"go");
    assert_eq!(c.send_recv(&req).unwrap(), echo(2, &req));
}

#[test]
fn level_two_flow_control_stops_only_sends_that_raised_their_limit() {
    let h = Harness::start("fc2", |_| {});
    let c = Client::connect(&h.service).unwrap();
    let (conn, _) = h.expect_connected();
    h.with(move |s| s.set_flow_control(conn, 2)).unwrap();
    // A cpg multicast (libcpg raises fc_enable_max to 2 around it) is held back...
    assert!(c.flow_control_at(2) && !c.flow_control_enabled());
    assert!(matches!(
        c.send_limited(&request(NO_REPLY_ID, b"x"), 2),
        Err(IpcError::TryAgain)
    ));
    // ...while every other call still reaches the daemon.
    let req = request(2, b"go");
    assert_eq!(c.send_recv(&req).unwrap(), echo(2, &req));
    h.with(move |s| s.set_flow_control(conn, 0)).unwrap();
    c.send_limited(&request(NO_REPLY_ID, b"y"), 2).unwrap();
}

#[test]
fn daemon_disconnect_and_server_drop_remove_files() {
    let mut h = Harness::start("drop", |_| {});
    let a = Client::connect(&h.service).unwrap();
    let (ca, _) = h.expect_connected();
    let _b = Client::connect(&h.service).unwrap();
    let (_cb, _) = h.expect_connected();
    assert_eq!(h.conn_dirs().len(), 2);
    h.with(move |s| s.disconnect(ca));
    h.expect_disconnected(ca);
    assert_eq!(h.conn_dirs().len(), 1);
    assert!(matches!(a.send_recv(&request(1, b"")), Err(IpcError::Disconnected)));
    // Dropping the server cleans up the remaining connection.
    h.stop();
    let left: Vec<_> = std::fs::read_dir(h.shm.path()).unwrap().flatten().collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn queue_bound_in_bytes_disconnects_too() {
    let h = Harness::start("bytes", |c| {
        c.max_msg_size = 4096;
        c.event_queue_max = 1_000_000;
        c.event_queue_max_bytes = 10_000;
    });
    let _c = Client::connect_with(&h.service, 4096).unwrap();
    let (conn, _) = h.expect_connected();
    let mut sent = 0;
    let err = loop {
        match h.send_event(conn, event(sent, &[0u8; 976])) {
            Ok(()) => sent += 1,
            Err(e) => break e,
        }
        assert!(sent < 1000, "the byte bound never hit");
    };
    assert!(matches!(err, IpcError::EventQueueOverflow), "{err}");
    // ~8 in the ring, then 10 of 1000 bytes queued: the 11th would pass 10,000 bytes.
    assert!((10..30).contains(&sent), "{sent}");
    h.expect_disconnected(conn);
}

#[test]
fn paused_reading_leaves_requests_in_the_ring_until_resumed() {
    let h = Harness::start("pause", |_| {});
    let c = Client::connect(&h.service).unwrap();
    let _ = h.expect_connected();
    h.with(|s| s.set_reading(false));
    // The ring fills: sends fail with TryAgain, nothing reaches the daemon, nothing is lost.
    let mut sent = 0u32;
    loop {
        match c.send(&request(NO_REPLY_ID, &pattern(1000, sent))) {
            Ok(()) => sent += 1,
            Err(IpcError::TryAgain) => break,
            Err(e) => panic!("{e}"),
        }
        assert!(sent < 100_000, "the ring never filled");
    }
    assert!(sent > 10, "only {sent} requests fit");
    assert!(
        h.try_event(Duration::from_millis(200)).is_none(),
        "a request was read while paused"
    );
    h.with(|s| s.set_reading(true));
    // Read back in order, in passes of at most REQUESTS_PER_PASS, once resumed.
    for i in 0..sent {
        match h.next_event(10) {
            ServerEvent::Request { data, .. } => {
                assert_eq!(data, request(NO_REPLY_ID, &pattern(1000, i)), "request {i}")
            }
            other => panic!("expected request {i}, got {other:?}"),
        }
    }
    c.send(&request(NO_REPLY_ID, b"more")).unwrap();
}

#[test]
fn batched_events_arrive_in_order_after_one_flush() {
    let h = Harness::start("batch", |_| {});
    let c = Client::connect(&h.service).unwrap();
    let (conn, _) = h.expect_connected();
    h.with(move |s| {
        for i in 0..100 {
            s.send_event_batched(conn, &event(i, &pattern(50, i as u32))).unwrap();
        }
    });
    assert!(!pollin(&c, 100), "notified before the flush");
    h.with(|s| s.flush_events());
    for i in 0..100 {
        let ev = c.recv_event(Some(Duration::from_secs(5))).unwrap().expect("event");
        assert_eq!(ev, event(i, &pattern(50, i as u32)));
    }
    assert!(!pollin(&c, 0), "every notification byte consumed");
}

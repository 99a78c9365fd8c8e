//! Clients that die, truncate their shared files, or send garbage: the server cleans up
//! and disconnects them, and keeps serving everybody else. A panic on the server thread
//! fails the test when the harness stops.

mod common;

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{echo, request, Harness, NO_REPLY_ID};
use ipc::wire::{
    encode_request_header, ConnectionRequest, ConnectionResponse, CONNECTION_RESPONSE_SIZE, MSG_DISCONNECT,
};
use ipc::{Client, ConnId, IpcError, ServerEvent};

fn still_serves(h: &Harness) {
    let c = Client::connect(&h.service).unwrap();
    let (conn, _) = h.expect_connected();
    let req = request(7, b"still alive");
    assert_eq!(c.send_recv(&req).unwrap(), echo(7, &req));
    assert!(matches!(h.next_event(10), ServerEvent::Request { id: 7, .. }));
    drop(c);
    h.expect_disconnected(conn);
    assert!(h.conn_dirs().is_empty());
}

fn truncate(path: &std::path::Path) {
    OpenOptions::new().write(true).open(path).unwrap().set_len(0).unwrap();
}

fn poke(c: &Client) {
    nix::unistd::write(c.as_fd(), &[1u8]).unwrap();
}

fn put_u32(path: &std::path::Path, off: u64, v: u32) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .unwrap()
        .write_all_at(&v.to_ne_bytes(), off)
        .unwrap();
}

#[test]
fn truncated_request_header_disconnects_without_crash() {
    let h = Harness::start("trunc-req", |_| {});
    let c = Client::connect(&h.service).unwrap();
    let (conn, _) = h.expect_connected();
    truncate(&h.ring_file("request-header"));
    truncate(&h.ring_file("request-data"));
    poke(&c); // the server reads the ring: SIGBUS, caught
    h.expect_disconnected(conn);
    assert!(h.conn_dirs().is_empty());
    drop(c); // our client's own mapping faults too (ref_count): caught as well
    still_serves(&h);
}

#[test]
fn truncated_event_ring_disconnects_on_send() {
    let h = Harness::start("trunc-ev", |_| {});
    let _c = Client::connect(&h.service).unwrap();
    let (conn, _) = h.expect_connected();
    truncate(&h.ring_file("event-data"));
    truncate(&h.ring_file("event-header"));
    assert!(h.send_event(conn, common::event(1, &[5u8; 10_000])).is_err());
    h.expect_disconnected(conn);
    assert!(h.conn_dirs().is_empty());
    still_serves(&h);
}

#[test]
fn truncated_response_ring_disconnects_on_respond() {
    let h = Harness::start("trunc-resp", |_| {});
    let mut c = Client::connect(&h.service).unwrap();
    c.set_timeout(Duration::from_secs(3));
    let (conn, _) = h.expect_connected();
    truncate(&h.ring_file("response-data"));
    assert!(c.send_recv(&request(1, &[0u8; 5000])).is_err());
    h.expect_disconnected(conn);
    assert!(h.conn_dirs().is_empty());
    still_serves(&h);
}

fn expect_garbage_disconnects(h: &Harness, what: &str, inject: impl FnOnce(&Harness, &mut Client)) {
    let mut c = Client::connect(&h.service).unwrap();
    let (conn, _) = h.expect_connected();
    inject(h, &mut c);
    match h.next_event(10) {
        ServerEvent::Disconnected { conn: got } => assert_eq!(got, conn, "{what}"),
        other => panic!("{what}: expected Disconnected, got {other:?}"),
    }
    assert!(h.conn_dirs().is_empty(), "{what}: files removed");
}

#[test]
fn garbage_requests_disconnect_the_client() {
    let h = Harness::start("garbage", |_| {});
    expect_garbage_disconnects(&h, "shorter than a header", |_, c| {
        c.send(&[1, 2, 3, 4, 5, 6, 7, 8]).unwrap()
    });
    expect_garbage_disconnects(&h, "size past the chunk", |_, c| {
        c.send(&encode_request_header(1, 1000)).unwrap()
    });
    expect_garbage_disconnects(&h, "negative size", |_, c| {
        c.send(&encode_request_header(1, -16)).unwrap()
    });
    expect_garbage_disconnects(&h, "size below the header", |_, c| {
        c.send(&encode_request_header(1, 8)).unwrap()
    });
    expect_garbage_disconnects(&h, "reserved negative id", |_, c| {
        c.send(&encode_request_header(-7, 16)).unwrap()
    });
    expect_garbage_disconnects(&h, "size past the maximum", |_, c| {
        let mut m = encode_request_header(1, (1 << 20) + 1).to_vec();
        m.resize(1 << 20, 0);
        c.send(&m).unwrap();
    });
    expect_garbage_disconnects(&h, "bad chunk magic", |h, c| {
        let data = h.ring_file("request-data");
        put_u32(&data, 0, 16);
        put_u32(&data, 4, 0xDEAD_BEEF);
        put_u32(&h.ring_file("request-header"), 0, 6); // write_pt
        poke(c);
    });
    expect_garbage_disconnects(&h, "chunk length past the written words", |h, c| {
        let data = h.ring_file("request-data");
        put_u32(&data, 0, 1_000_000);
        put_u32(&data, 4, 0xA1A1_A1A1);
        put_u32(&h.ring_file("request-header"), 0, 6);
        poke(c);
    });
    expect_garbage_disconnects(&h, "write pointer outside the ring", |h, c| {
        put_u32(&h.ring_file("request-header"), 0, 0xFFFF_FFF0);
        poke(c);
    });
    expect_garbage_disconnects(&h, "QB_IPC_MSG_DISCONNECT", |_, c| {
        c.send(&encode_request_header(MSG_DISCONNECT, 16)).unwrap()
    });
    still_serves(&h);
}

#[test]
fn random_scribbles_never_crash_the_server() {
    let h = Harness::start("scribble", |c| c.max_msg_size = 4096);
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for round in 0..40 {
        let c = Client::connect_with(&h.service, 4096).unwrap();
        let (conn, _) = h.expect_connected();
        let hdr = h.ring_file("request-header");
        let data = h.ring_file("request-data");
        let data_len = std::fs::metadata(&data).unwrap().len();
        for _ in 0..(next() % 8) {
            let r = next();
            let (file, len) = if r % 3 == 0 { (&hdr, 16) } else { (&data, data_len) };
            let off = (next() % len) & !3;
            put_u32(file, off, (r >> 16) as u32);
        }
        let _ = c.send(&request(NO_REPLY_ID, &[round as u8; 40]));
        poke(&c);
        drop(c);
        // Whatever the scribbles did, the connection ends with exactly one Disconnected.
        loop {
            match h.next_event(10) {
                ServerEvent::Request { .. } => continue,
                ServerEvent::Disconnected { conn: got } => {
                    assert_eq!(got, conn);
                    break;
                }
                other => panic!("round {round}: {other:?}"),
            }
        }
        assert!(h.conn_dirs().is_empty(), "round {round}");
    }
    still_serves(&h);
}

fn raw_connect(h: &Harness) -> std::os::unix::net::UnixStream {
    let s = ipc::listener::connect(&h.service).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

fn expect_closed(s: &mut std::os::unix::net::UnixStream, what: &str) {
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        other => panic!("{what}: expected the server to close, got {other:?}"),
    }
}

#[test]
fn garbage_and_silent_handshakes_are_dropped() {
    let h = Harness::start("hs", |c| c.handshake_timeout = Duration::from_millis(300));
    let mut s = raw_connect(&h);
    let mut bad = ConnectionRequest { max_msg_size: 1 << 20 }.encode();
    bad[0] = 5; // id must be QB_IPC_MSG_AUTHENTICATE
    s.write_all(&bad).unwrap();
    expect_closed(&mut s, "bad handshake id");

    let mut s = raw_connect(&h);
    s.write_all(&[0xAB; 100_000]).unwrap_or(());
    expect_closed(&mut s, "junk");

    let mut s = raw_connect(&h);
    s.write_all(&ConnectionRequest { max_msg_size: 3 << 30 }.encode())
        .unwrap();
    let mut resp = vec![0u8; CONNECTION_RESPONSE_SIZE];
    s.read_exact(&mut resp).unwrap();
    assert_eq!(
        ConnectionResponse::decode(&resp).unwrap().error,
        -libc::EMSGSIZE,
        "huge buffers refused"
    );
    expect_closed(&mut s, "after refusal");

    let mut s = raw_connect(&h);
    expect_closed(&mut s, "silent client after the handshake timeout");

    assert!(
        h.try_event(Duration::from_millis(100)).is_none(),
        "none of them was Connected"
    );
    assert!(h.conn_dirs().is_empty());
    assert_eq!(h.with(|s| s.connection_count()), 0);
    still_serves(&h);
}

#[test]
fn too_many_connections_are_refused_with_eagain() {
    let h = Harness::start("max", |c| c.max_connections = 2);
    let _a = Client::connect(&h.service).unwrap();
    let _b = Client::connect(&h.service).unwrap();
    h.expect_connected();
    h.expect_connected();
    assert!(matches!(
        Client::connect(&h.service),
        Err(IpcError::Refused(libc::EAGAIN))
    ));
}

const CHILD_ENV: &str = "IPC_TEST_CHILD_SERVICE";

/// Parent: runs this same test binary as a child client, SIGKILLs it once connected and
/// expects the server to clean up. Child (with `IPC_TEST_CHILD_SERVICE` set): connects
/// and waits to be killed.
#[test]
fn rust_client_killed_is_cleaned_up() {
    if let Ok(service) = std::env::var(CHILD_ENV) {
        let _c = Client::connect(&service).unwrap();
        println!("child-connected");
        std::io::stdout().flush().unwrap();
        std::thread::sleep(Duration::from_secs(60));
        panic!("child was not killed");
    }
    let h = Harness::start("rkill", |_| {});
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "rust_client_killed_is_cleaned_up",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &h.service)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (conn, creds): (ConnId, _) = h.expect_connected();
    assert_eq!(creds.pid, child.id());
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("child-connected") {
        line.clear();
        assert!(out.read_line(&mut line).unwrap() > 0, "child output ended");
    }
    child.kill().unwrap();
    child.wait().unwrap();
    h.expect_disconnected(conn);
    assert!(h.conn_dirs().is_empty());
}

/// Until the daemon is ready (its first synchronisation), handshakes get `-EAGAIN`, which
/// the corosync libraries report as CS_ERR_TRY_AGAIN; afterwards clients are admitted.
#[test]
fn not_ready_refuses_with_eagain_then_admits() {
    let h = Harness::start("ready", |_| {});
    h.with(|s| s.set_ready(false));
    assert!(matches!(
        Client::connect(&h.service),
        Err(IpcError::Refused(libc::EAGAIN))
    ));
    h.with(|s| s.set_ready(true));
    let _c = Client::connect(&h.service).unwrap();
    h.expect_connected();
}

//! mio or tokio for ferrosyncd's loop? The protocol core does its own timing, so the loop
//! only waits for "a datagram, a signal or the next deadline" and hands the datagram on.
//! This measures exactly that path: a UDP echo served by (a) one mio `Poll` with a timeout,
//! as `engine::daemon` runs it, and (b) a tokio current_thread runtime; the client on the
//! bench thread sends one datagram and waits for the echo. Both pay the same kernel cost;
//! the difference is the loop's own overhead per wakeup.
//!
//! `cargo bench -p engine --bench event_loop`

use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};

const PAYLOAD: [u8; 200] = [7; 200];

/// Echo server on a mio `Poll`, woken at least every 100 ms like the daemon's deadline.
fn mio_echo(stop: Arc<AtomicBool>) -> (std::net::SocketAddr, thread::JoinHandle<()>) {
    let std_sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    std_sock.set_nonblocking(true).unwrap();
    let addr = std_sock.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let mut sock = mio::net::UdpSocket::from_std(std_sock);
        let mut poll = mio::Poll::new().unwrap();
        poll.registry()
            .register(&mut sock, mio::Token(1), mio::Interest::READABLE)
            .unwrap();
        let mut events = mio::Events::with_capacity(16);
        let mut buf = [0u8; 2048];
        while !stop.load(Ordering::Relaxed) {
            poll.poll(&mut events, Some(Duration::from_millis(100))).unwrap();
            while let Ok((n, from)) = sock.recv_from(&mut buf) {
                let _ = sock.send_to(&buf[..n], from);
            }
        }
    });
    (addr, handle)
}

/// The same echo as a task on a tokio current_thread runtime.
fn tokio_echo(stop: Arc<AtomicBool>) -> (std::net::SocketAddr, thread::JoinHandle<()>) {
    let std_sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    std_sock.set_nonblocking(true).unwrap();
    let addr = std_sock.local_addr().unwrap();
    let handle = thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let sock = tokio::net::UdpSocket::from_std(std_sock).unwrap();
            let mut buf = [0u8; 2048];
            while !stop.load(Ordering::Relaxed) {
                match tokio::time::timeout(Duration::from_millis(100), sock.recv_from(&mut buf)).await {
                    Ok(Ok((n, from))) => {
                        let _ = sock.send_to(&buf[..n], from).await;
                    }
                    _ => continue,
                }
            }
        });
    });
    (addr, handle)
}

fn ping_pong(c: &mut Criterion) {
    let mut group = c.benchmark_group("udp_echo_round_trip");
    type Server = fn(Arc<AtomicBool>) -> (std::net::SocketAddr, thread::JoinHandle<()>);
    let servers: [(&str, Server); 2] = [("mio_poll", mio_echo), ("tokio_current_thread", tokio_echo)];
    for (name, start) in servers {
        let stop = Arc::new(AtomicBool::new(false));
        let (server, handle) = start(stop.clone());
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        client.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        client.connect(server).unwrap();
        let mut buf = [0u8; 2048];
        group.bench_function(name, |b| {
            b.iter(|| {
                client.send(&PAYLOAD).unwrap();
                let n = client.recv(&mut buf).unwrap();
                assert_eq!(n, PAYLOAD.len());
            })
        });
        stop.store(true, Ordering::Relaxed);
        handle.join().unwrap();
    }
    group.finish();
}

criterion_group!(benches, ping_pong);
criterion_main!(benches);

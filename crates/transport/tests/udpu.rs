//! udpu over real loopback sockets. Each test uses its own 127.0.x.y addresses and ports so
//! tests can run in parallel.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::{Events, Poll, Token};
use totem::Destination;
use transport::{Faults, Udpu, UdpuConfig, RECV_BUFFER, SEND_BATCH};

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn link(id: u32, nodes: &[(u32, SocketAddr)], faults: Option<Faults>) -> Udpu {
    Udpu::bind(UdpuConfig {
        link: 0,
        local_nodeid: id,
        nodes: nodes.to_vec(),
        block_unlisted_ips: true,
        faults,
    })
    .unwrap()
}

/// Receives everything that arrives within `wait`.
fn drain(u: &mut Udpu, wait: Duration) -> Vec<Vec<u8>> {
    let mut poll = Poll::new().unwrap();
    u.register(poll.registry(), Token(0)).unwrap();
    let mut events = Events::with_capacity(8);
    let mut buf = vec![0u8; RECV_BUFFER];
    let mut got = Vec::new();
    let end = Instant::now() + wait;
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        poll.poll(&mut events, Some(left)).unwrap();
        while let Some((len, _)) = u.recv(Instant::now(), &mut buf) {
            got.push(buf[..len].to_vec());
        }
    }
    u.deregister(poll.registry()).unwrap();
    got
}

#[test]
fn all_nodes_is_unicast_to_every_other_node_and_self_loops_back() {
    let nodes = [
        (1, addr("127.0.61.1:25401")),
        (2, addr("127.0.61.2:25401")),
        (3, addr("127.0.61.3:25401")),
    ];
    let mut a = link(1, &nodes, None);
    let mut b = link(2, &nodes, None);
    let mut c = link(3, &nodes, None);
    let now = Instant::now();
    a.send(now, Destination::AllNodes, b"mcast");
    a.flush();
    a.send(now, Destination::Node(1), b"token-to-self");
    a.flush();
    assert_eq!(drain(&mut b, Duration::from_millis(100)), vec![b"mcast".to_vec()]);
    assert_eq!(drain(&mut c, Duration::from_millis(50)), vec![b"mcast".to_vec()]);
    assert_eq!(
        drain(&mut a, Duration::from_millis(50)),
        vec![b"token-to-self".to_vec()]
    );
    assert_eq!(a.stats().tx_packets, 3);
    assert_eq!(b.stats().rx_packets, 1);
}

#[test]
fn ipv6_loopback() {
    let nodes = [(1, addr("[::1]:25402")), (2, addr("[::1]:25403"))];
    let (Ok(mut a), Ok(mut b)) = (
        Udpu::bind(UdpuConfig {
            link: 0,
            local_nodeid: 1,
            nodes: nodes.to_vec(),
            block_unlisted_ips: true,
            faults: None,
        }),
        Udpu::bind(UdpuConfig {
            link: 0,
            local_nodeid: 2,
            nodes: nodes.to_vec(),
            block_unlisted_ips: true,
            faults: None,
        }),
    ) else {
        eprintln!("SKIP: no IPv6 loopback on this host");
        return;
    };
    a.send(Instant::now(), Destination::Node(2), b"v6");
    a.flush();
    assert_eq!(drain(&mut b, Duration::from_millis(100)), vec![b"v6".to_vec()]);
    b.send(Instant::now(), Destination::AllNodes, b"back");
    b.flush();
    assert_eq!(drain(&mut a, Duration::from_millis(100)), vec![b"back".to_vec()]);
}

#[test]
fn unlisted_sources_are_dropped_and_counted() {
    let nodes = [(1, addr("127.0.62.1:25404")), (2, addr("127.0.62.2:25404"))];
    let mut a = link(1, &nodes, None);
    let stranger = std::net::UdpSocket::bind("127.0.62.9:0").unwrap();
    stranger.send_to(b"intruder", "127.0.62.1:25404").unwrap();
    let mut b = link(2, &nodes, None);
    b.send(Instant::now(), Destination::Node(1), b"friend");
    b.flush();
    assert_eq!(drain(&mut a, Duration::from_millis(100)), vec![b"friend".to_vec()]);
    assert_eq!(a.stats().rx_blocked_unlisted, 1);
    let heard: Vec<_> = a.peers().map(|(id, _, t)| (id, t.is_some())).collect();
    assert_eq!(heard, [(1, false), (2, true)], "link health records who was heard");
}

#[test]
fn fault_hook_drops_and_delays() {
    let nodes = [(1, addr("127.0.63.1:25405")), (2, addr("127.0.63.2:25405"))];
    let mut a = link(1, &nodes, Some(Faults::parse("drop=1000").unwrap()));
    let mut b = link(2, &nodes, None);
    for _ in 0..10 {
        a.send(Instant::now(), Destination::AllNodes, b"lost");
        a.flush();
    }
    assert!(drain(&mut b, Duration::from_millis(50)).is_empty());
    assert_eq!(a.stats().fault_dropped, 10);

    let mut d = link(
        1,
        &[(1, addr("127.0.63.1:25406")), (2, addr("127.0.63.2:25405"))],
        Some(Faults::parse("delay=1000,delay_ms=40").unwrap()),
    );
    let sent = Instant::now();
    d.send(sent, Destination::Node(2), b"late");
    d.flush();
    assert!(d.next_deadline().is_some());
    d.flush_delayed(sent);
    assert!(drain(&mut b, Duration::from_millis(20)).is_empty());
    d.flush_delayed(sent + Duration::from_millis(40));
    assert_eq!(drain(&mut b, Duration::from_millis(100)), vec![b"late".to_vec()]);
    assert_eq!(d.next_deadline(), None);
}

/// A reloaded nodelist takes effect at once: a node added is sent to (and heard from),
/// a node removed is not, and this node's own entry must stay.
#[test]
fn set_nodes_adds_and_removes_peers() {
    let (a, b, c) = (addr("127.0.9.1:5611"), addr("127.0.9.2:5611"), addr("127.0.9.3:5611"));
    let mut n1 = link(1, &[(1, a), (2, b)], None);
    let mut n3 = link(3, &[(1, a), (2, b), (3, c)], None);
    n1.send(Instant::now(), Destination::AllNodes, b"before");
    n1.flush();
    assert!(
        drain(&mut n3, Duration::from_millis(100)).is_empty(),
        "n3 was not in n1's nodelist"
    );
    n1.set_nodes(vec![(1, a), (3, c)]).unwrap();
    assert!(n1.has_node(3) && !n1.has_node(2));
    n1.send(Instant::now(), Destination::AllNodes, b"after");
    n1.flush();
    assert_eq!(drain(&mut n3, Duration::from_millis(200)), vec![b"after".to_vec()]);
    // n3's datagrams are accepted by n1 now (block_unlisted_ips).
    n3.send(Instant::now(), Destination::Node(1), b"hello");
    n3.flush();
    assert_eq!(drain(&mut n1, Duration::from_millis(200)), vec![b"hello".to_vec()]);
    assert!(n1.set_nodes(vec![(3, c)]).is_err(), "this node's own entry must stay");
}

#[test]
fn queued_datagrams_leave_in_order_in_batches_larger_than_one_sendmmsg() {
    let (mut a, mut b) = pair_for_batch();
    let now = Instant::now();
    let total = SEND_BATCH * 2 + 5;
    for i in 0..total {
        a.send(now, Destination::Node(2), format!("m{i}").as_bytes());
    }
    a.flush();
    assert_eq!(a.stats().tx_packets, total as u64);
    let mut buf = vec![0u8; RECV_BUFFER];
    let mut got = Vec::new();
    let end = Instant::now() + Duration::from_secs(5);
    while got.len() < total && Instant::now() < end {
        match b.recv(Instant::now(), &mut buf) {
            Some((len, _)) => got.push(String::from_utf8_lossy(&buf[..len]).into_owned()),
            None => std::thread::sleep(Duration::from_millis(1)),
        }
    }
    let want: Vec<String> = (0..total).map(|i| format!("m{i}")).collect();
    assert_eq!(got, want);
}

fn pair_for_batch() -> (Udpu, Udpu) {
    let nodes = [(1, addr("127.0.69.1:25409")), (2, addr("127.0.69.2:25409"))];
    (link(1, &nodes, None), link(2, &nodes, None))
}

#[test]
fn equal_size_runs_go_segmented_and_arrive_as_separate_datagrams_in_order() {
    let nodes = [
        (1, addr("127.0.70.1:25410")),
        (2, addr("127.0.70.2:25410")),
        (3, addr("127.0.70.3:25410")),
    ];
    let (mut a, mut b, mut c) = (link(1, &nodes, None), link(2, &nodes, None), link(3, &nodes, None));
    let now = Instant::now();
    // Frames of equal size to everyone, a shorter last one, then a token to node 2.
    let mut want = Vec::new();
    for i in 0..20u8 {
        let frame = vec![i; if i == 19 { 300 } else { 1200 }];
        a.send(now, Destination::AllNodes, &frame);
        want.push(frame);
    }
    a.send(now, Destination::Node(2), b"token");
    a.flush();
    assert_eq!(a.stats().tx_packets, 41);
    assert!(a.segmentation_offload(), "the kernel refused UDP GSO on loopback");
    let got_b = drain(&mut b, Duration::from_millis(300));
    let got_c = drain(&mut c, Duration::from_millis(300));
    let mut want_b = want.clone();
    want_b.push(b"token".to_vec());
    assert_eq!(got_b, want_b);
    assert_eq!(got_c, want);
    assert_eq!(b.stats().rx_packets, 21);
}

/// Runs `f` on a thread of its own network namespace whose loopback has a 1500-byte MTU;
/// `None` where namespaces cannot be made (not root).
fn in_namespace_with_mtu_1500<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    std::thread::spawn(move || {
        // The network namespace is per thread: the sockets below are made in the new one,
        // and `ip`, forked from this thread, configures it.
        if let Err(e) = nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET) {
            eprintln!("SKIP: cannot make a network namespace here ({e})");
            return None;
        }
        let ip = std::process::Command::new("ip")
            .args(["link", "set", "lo", "mtu", "1500", "up"])
            .status();
        if !ip.as_ref().is_ok_and(|s| s.success()) {
            eprintln!("SKIP: cannot configure the namespace's loopback ({ip:?})");
            return None;
        }
        Some(f())
    })
    .join()
    .unwrap()
}

#[test]
fn runs_of_datagrams_above_the_path_mtu_leave_one_by_one_and_arrive() {
    let run = in_namespace_with_mtu_1500(|| {
        let nodes = [(1, addr("127.0.71.1:25411")), (2, addr("127.0.71.2:25411"))];
        let (mut a, mut b) = (link(1, &nodes, None), link(2, &nodes, None));
        let now = Instant::now();
        // Encapsulated old-ring frames re-sent in RECOVERY are this large: the kernel
        // will not segment them, IP fragments them one by one.
        let big: Vec<Vec<u8>> = (0..3u8).map(|i| vec![i; 3000]).collect();
        for _ in 0..2 {
            for frame in &big {
                a.send(now, Destination::Node(2), frame);
            }
            a.flush();
        }
        let got_big = drain(&mut b, Duration::from_millis(300));
        // Smaller runs still go segmented.
        let small: Vec<Vec<u8>> = (0..4u8).map(|i| vec![i; 1000]).collect();
        for frame in &small {
            a.send(now, Destination::Node(2), frame);
        }
        a.flush();
        let got_small = drain(&mut b, Duration::from_millis(300));
        let want_big: Vec<Vec<u8>> = big.iter().chain(&big).cloned().collect();
        (
            got_big == want_big,
            got_small == small,
            a.stats().tx_errors,
            a.segmentation_offload(),
        )
    });
    let Some((big_arrived, small_arrived, tx_errors, gso)) = run else {
        return;
    };
    assert!(big_arrived, "the run of datagrams above the MTU was lost");
    assert!(small_arrived);
    assert_eq!(tx_errors, 0);
    assert!(gso, "one refused run turned segmentation off for every size");
}

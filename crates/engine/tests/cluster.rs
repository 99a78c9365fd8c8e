//! Real `ferrosyncd` processes on loopback. Every test has its own 127.0.X.0/24 addresses and
//! port so tests run in parallel; the `LocalCluster` guard kills its daemons by PID on drop,
//! panics included. Membership is asserted from the daemons' own status files.

use std::time::{Duration, Instant};

use engine::local_cluster::{LocalCluster, Spec};
use nix::sys::signal::Signal;

/// Base token timeout of these tests; consensus is 1.2× this.
const TOKEN_MS: u64 = 1000;
/// Bound of every wait for a membership: token + consensus + a generous margin for a busy CI.
const WAIT: Duration = Duration::from_secs(20);

fn cluster(nodes: u32, net: u8, port: u16) -> LocalCluster {
    LocalCluster::start(Spec::new(
        env!("CARGO_BIN_EXE_ferrosyncd").into(),
        nodes,
        [127, 0, net],
        port,
        TOKEN_MS,
    ))
    .expect("start cluster")
}

#[test]
fn three_nodes_form_one_ring_and_survive_kill_and_restart() {
    let mut c = cluster(3, 81, 26001);
    let (first, _) = c.wait_for_ring(&[1, 2, 3], WAIT).unwrap();

    c.kill(3).unwrap();
    let (after_kill, took) = c.wait_for_ring(&[1, 2], WAIT).unwrap();
    assert!(after_kill.ring_seq > first.ring_seq);
    // Detection needs the token timeout at least: a faster "re-form" would be a bug.
    assert!(
        took >= Duration::from_millis(TOKEN_MS / 2),
        "re-formed suspiciously fast: {took:?}"
    );

    c.start_node(3).unwrap();
    let (rejoined, _) = c.wait_for_ring(&[1, 2, 3], WAIT).unwrap();
    assert!(rejoined.ring_seq > after_kill.ring_seq);
    // The restarted node loaded its stored ring seq, so its ring id keeps rising.
    let stored = std::fs::read(c.node_dir(3).join("ringid_3")).unwrap();
    assert_eq!(stored.len(), 8);
    assert!(u64::from_ne_bytes(stored.try_into().unwrap()) >= after_kill.ring_seq);
}

#[test]
fn stopped_node_is_expelled_and_merges_back_on_continue() {
    let c = cluster(3, 82, 26002);
    c.wait_for_ring(&[1, 2, 3], WAIT).unwrap();
    c.signal(2, Signal::SIGSTOP).unwrap();
    let (without, _) = c.wait_for_ring(&[1, 3], WAIT).unwrap();
    c.signal(2, Signal::SIGCONT).unwrap();
    let (merged, _) = c.wait_for_ring(&[1, 2, 3], WAIT).unwrap();
    assert!(merged.ring_seq > without.ring_seq);
}

#[test]
fn sigterm_leaves_and_the_others_reform_at_once() {
    let mut c = cluster(3, 83, 26003);
    c.wait_for_ring(&[1, 2, 3], WAIT).unwrap();
    let sent = Instant::now();
    c.signal(1, Signal::SIGTERM).unwrap();
    let (view, _) = c.wait_for_ring(&[2, 3], WAIT).unwrap();
    let took = sent.elapsed();
    assert_eq!(
        view.ring_id.split('.').next(),
        Some("2"),
        "lowest remaining node is the rep"
    );
    assert!(
        took < Duration::from_millis(TOKEN_MS / 2),
        "leave took {took:?}, token is {TOKEN_MS} ms"
    );
    assert!(
        c.wait_exit(1, Duration::from_secs(5)).unwrap(),
        "ferrosyncd did not exit on SIGTERM"
    );
    assert!(!c.node_dir(1).join("ferrosyncd.pid").exists(), "pid file left behind");
}

#[test]
fn five_nodes_form_one_ring_and_lose_two() {
    let mut c = cluster(5, 84, 26004);
    c.wait_for_ring(&[1, 2, 3, 4, 5], WAIT).unwrap();
    c.kill(2).unwrap();
    c.kill(5).unwrap();
    c.wait_for_ring(&[1, 3, 4], WAIT).unwrap();
    c.start_node(5).unwrap();
    c.wait_for_ring(&[1, 3, 4, 5], WAIT).unwrap();
}

#[test]
fn membership_holds_under_packet_loss() {
    // 5 % of datagrams dropped by the transport's test fault hook: retransmissions and token
    // retransmits must keep the ring, so node 1 sees exactly one membership, the full one;
    // meanwhile every node sends 100 messages/s (test load) and receives the others'.
    let mut c = LocalCluster::start(Spec {
        env: vec![
            ("FERROSYNC_TEST_FAULTS".into(), "drop=50,seed=3".into()),
            ("FERROSYNC_TEST_LOAD".into(), "100".into()),
        ],
        ..Spec::new(
            env!("CARGO_BIN_EXE_ferrosyncd").into(),
            3,
            [127, 0, 85],
            26005,
            TOKEN_MS,
        )
    })
    .unwrap();
    let (ring, _) = c.wait_for_ring(&[1, 2, 3], WAIT).unwrap();
    std::thread::sleep(Duration::from_secs(3));
    let (still, _) = c.wait_for_ring(&[1, 2, 3], Duration::ZERO).unwrap();
    assert_eq!(ring.ring_id, still.ring_id, "membership changed under 5% loss");
    let status = engine::status::read(&c.node_dir(1)).unwrap();
    assert!(
        status["links"][0]["fault_dropped"].as_u64().unwrap() > 0,
        "fault hook never fired"
    );
    for id in 1..=3 {
        let load = &engine::status::read(&c.node_dir(id)).unwrap()["load"];
        assert!(load["sent"].as_u64().unwrap() > 0, "node {id} sent nothing: {load}");
        // Two senders at 100/s for the 3 s above: about 600 expected; 200 leaves room
        // for a slow shared machine, none is lost to the 5 % loss.
        assert!(load["received"].as_u64().unwrap() >= 200, "node {id}: {load}");
        assert_eq!(load["refused"].as_u64(), Some(0), "node {id}: {load}");
    }
    c.stop_all();
}

#[test]
fn config_test_mode_and_bad_config() {
    let daemon = env!("CARGO_BIN_EXE_ferrosyncd");
    let dir = std::env::temp_dir().join(format!("ferrosync-conftest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = dir.join("good.conf");
    std::fs::write(
        &good,
        "totem {\n transport: udpu\n}\nnodelist {\n node {\n  ring0_addr: 127.0.86.1\n  nodeid: 1\n }\n}\n",
    )
    .unwrap();
    let out = std::process::Command::new(daemon)
        .args(["-t", "-c"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("configuration OK (node 1, 1 nodes, token 3000 ms"));
    // -t checks the key of a crypto configuration: missing, then 5 bytes, then good.
    let keyed = dir.join("keyed.conf");
    let key = dir.join("authkey");
    std::fs::write(
        &keyed,
        format!(
            "totem {{\n transport: udpu\n secauth: on\n keyfile: {}\n}}\nnodelist {{\n node {{\n  \
             ring0_addr: 127.0.86.1\n  nodeid: 1\n }}\n}}\n",
            key.display()
        ),
    )
    .unwrap();
    let check = || {
        std::process::Command::new(daemon)
            .args(["-t", "-c"])
            .arg(&keyed)
            .output()
            .unwrap()
    };
    let out = check();
    assert!(!out.status.success(), "a missing key passed -t");
    assert!(String::from_utf8_lossy(&out.stderr).contains("keyfile"));
    std::fs::write(&key, b"12345").unwrap();
    let out = check();
    assert!(!out.status.success(), "a 5-byte key passed -t");
    std::fs::write(&key, [7u8; 256]).unwrap();
    let out = check();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let bad = dir.join("bad.conf");
    std::fs::write(&bad, "totem {\n token: fast\n}\n").unwrap();
    let out = std::process::Command::new(daemon)
        .args(["-t", "-c"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.conf:2: totem.token: \"fast\" is not a non-negative integer"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn partition_in_network_namespaces_and_heal() {
    let spec = Spec {
        netns: Some(format!("fsp{}-", std::process::id())),
        ..Spec::new(env!("CARGO_BIN_EXE_ferrosyncd").into(), 5, [10, 204, 0], 5405, TOKEN_MS)
    };
    let c = match LocalCluster::start(spec) {
        Ok(c) => c,
        Err(engine::local_cluster::ClusterError::Netns(why)) => {
            eprintln!("SKIP partition test: cannot create network namespaces here ({why})");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let (whole, _) = c.wait_for_ring(&[1, 2, 3, 4, 5], WAIT).unwrap();
    c.partition(&[4, 5]).unwrap();
    let (a, _) = c.wait_for_ring(&[1, 2, 3], WAIT).unwrap();
    let (b, _) = c.wait_for_ring(&[4, 5], WAIT).unwrap();
    assert_ne!(a.ring_id, b.ring_id);
    assert!(a.ring_seq > whole.ring_seq && b.ring_seq > whole.ring_seq);
    c.heal().unwrap();
    let (healed, _) = c.wait_for_ring(&[1, 2, 3, 4, 5], WAIT).unwrap();
    assert!(healed.ring_seq > a.ring_seq.max(b.ring_seq));
}

#[test]
fn two_links_one_dead_from_the_start_changes_nothing() {
    // Link 0 drops everything (test fault hook); the ring forms and stays on link 1.
    let spec = Spec {
        links: 2,
        env: vec![("FERROSYNC_TEST_FAULTS_LINK0".into(), "drop=1000".into())],
        ..Spec::new(
            env!("CARGO_BIN_EXE_ferrosyncd").into(),
            3,
            [127, 0, 88],
            26006,
            TOKEN_MS,
        )
    };
    let c = LocalCluster::start(spec).unwrap();
    let (ring, _) = c.wait_for_ring(&[1, 2, 3], WAIT).unwrap();
    let changes = |c: &LocalCluster| engine::status::read(&c.node_dir(1)).unwrap()["membership_changes"].as_u64();
    let before = changes(&c);
    std::thread::sleep(Duration::from_millis(2500));
    let (still, _) = c.wait_for_ring(&[1, 2, 3], Duration::ZERO).unwrap();
    assert_eq!(ring.ring_id, still.ring_id);
    assert_eq!(before, changes(&c));
    let status = engine::status::read(&c.node_dir(1)).unwrap();
    assert_eq!(status["links"][0]["up"], false, "{}", status["links"]);
    assert_eq!(status["links"][1]["up"], true, "{}", status["links"]);
    assert_eq!(status["links"][0]["fault_dropped"].as_u64().map(|d| d > 0), Some(true));
}

#[test]
fn losing_one_of_two_links_mid_run_changes_no_membership() {
    let spec = Spec {
        netns: Some(format!("fsl{}-", std::process::id())),
        links: 2,
        ..Spec::new(env!("CARGO_BIN_EXE_ferrosyncd").into(), 3, [10, 205, 0], 5405, TOKEN_MS)
    };
    let c = match LocalCluster::start(spec) {
        Ok(c) => c,
        Err(engine::local_cluster::ClusterError::Netns(why)) => {
            eprintln!("SKIP two-link test: cannot create network namespaces here ({why})");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let (ring, _) = c.wait_for_ring(&[1, 2, 3], WAIT).unwrap();
    for link in [0, 1] {
        c.set_link(link, false).unwrap();
        // Well past token + consensus: a membership change would have happened by now.
        std::thread::sleep(Duration::from_millis(3 * TOKEN_MS));
        let (still, _) = c.wait_for_ring(&[1, 2, 3], Duration::ZERO).unwrap();
        assert_eq!(
            ring.ring_id, still.ring_id,
            "membership changed after cutting link {link}"
        );
        // The link is reported down once no peer was heard on it for two tokens; the status
        // file is rewritten once a second, so allow it a little longer than that.
        let end = Instant::now() + WAIT;
        loop {
            let status = engine::status::read(&c.node_dir(2)).unwrap();
            if status["links"][link as usize]["up"] == false {
                break;
            }
            assert!(Instant::now() < end, "link {link} still up: {}", status["links"]);
            std::thread::sleep(Duration::from_millis(100));
        }
        let (still, _) = c.wait_for_ring(&[1, 2, 3], Duration::ZERO).unwrap();
        assert_eq!(
            ring.ring_id, still.ring_id,
            "membership changed after cutting link {link}"
        );
        c.set_link(link, true).unwrap();
        std::thread::sleep(Duration::from_millis(TOKEN_MS));
    }
}

#[test]
fn crypto_wrong_key_never_joins_and_forged_or_replayed_datagrams_are_counted() {
    let mut c = LocalCluster::start(Spec {
        crypto: true,
        ..Spec::new(
            env!("CARGO_BIN_EXE_ferrosyncd").into(),
            3,
            [127, 0, 89],
            26007,
            TOKEN_MS,
        )
    })
    .unwrap();
    c.wait_for_ring(&[1, 2, 3], WAIT).unwrap();

    // Node 3 comes back with another key: it must stay alone.
    c.kill(3).unwrap();
    let (two, _) = c.wait_for_ring(&[1, 2], WAIT).unwrap();
    c.write_key(3, &[0x5a; 256]).unwrap();
    c.start_node(3).unwrap();
    c.wait_for_ring(&[3], WAIT).unwrap();
    std::thread::sleep(Duration::from_millis(2 * TOKEN_MS));
    let (still, _) = c.wait_for_ring(&[1, 2], Duration::ZERO).unwrap();
    assert_eq!(
        two.ring_id, still.ring_id,
        "a node with the wrong key disturbed the ring"
    );
    assert_eq!(c.view(3).unwrap().members, [3]);
    let forged = |c: &LocalCluster, id| engine::status::read(&c.node_dir(id)).unwrap()["crypto"]["rx_forged"].as_u64();
    // The status file is refreshed within a few seconds (at a wakeup a second after the last).
    status_eventually("node 1 counts forged datagrams", || forged(&c, 1).unwrap() > 0);

    // Take node 3's address, capture a sealed datagram of node 1 (the rep multicasts merge-detects
    // to every nodelist node), replay it and a bit-flipped copy to node 2, which got the same bytes.
    c.kill(3).unwrap();
    let spy = std::net::UdpSocket::bind(c.addr(3)).unwrap();
    spy.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 2048];
    let give_up = Instant::now() + Duration::from_secs(10);
    let packet = loop {
        assert!(Instant::now() < give_up, "no datagram from node 1 within 10 s");
        let (len, from) = spy.recv_from(&mut buf).expect("no datagram at all within 5 s");
        if from == c.addr(1) {
            break buf[..len].to_vec();
        }
    };
    let status = |c: &LocalCluster| engine::status::read(&c.node_dir(2)).unwrap()["crypto"].clone();
    let before = status(&c);
    let mut flipped = packet.clone();
    let last = flipped.len() - 20;
    flipped[last] ^= 0x10;
    spy.send_to(&flipped, c.addr(2)).unwrap();
    spy.send_to(&packet, c.addr(2)).unwrap();
    spy.send_to(&packet[..10], c.addr(2)).unwrap();
    status_eventually("node 2 counts the forged, replayed and truncated datagrams", || {
        let after = status(&c);
        ["rx_forged", "rx_replayed", "rx_truncated"]
            .iter()
            .all(|key| after[key].as_u64() > before[key].as_u64())
    });
    c.wait_for_ring(&[1, 2], Duration::ZERO).unwrap();
}

/// Waits up to 6 s (the status refresh rides on the daemon's wakeups, at most 3 s apart,
/// and comes a second after the last) for `ok`.
fn status_eventually(what: &str, mut ok: impl FnMut() -> bool) {
    let end = Instant::now() + Duration::from_secs(6);
    while !ok() {
        assert!(Instant::now() < end, "{what}: not within 6 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn flight_recorder_dumps_on_sigusr2() {
    let c = cluster(1, 90, 26008);
    c.wait_for_ring(&[1], WAIT).unwrap();
    let dump = c.node_dir(1).join(engine::blackbox::DUMP_NAME);
    assert!(!dump.exists());
    c.signal(1, Signal::SIGUSR2).unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    while !dump.exists() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&dump).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the flight recorder dump is the owner's only");
    let records = engine::blackbox::parse_dump(&std::fs::read(&dump).unwrap()).unwrap();
    // Debug events are recorded although the log level is info.
    assert!(
        records
            .iter()
            .any(|r| r.level == 4 && r.text.contains("stored ring seq")),
        "{records:?}"
    );
    assert!(records.iter().any(|r| r.text.contains("new membership")));
    // The daemon keeps running after a dump.
    c.wait_for_ring(&[1], Duration::ZERO).unwrap();
}

#[test]
fn sighup_reopens_the_logs_and_the_daemon_keeps_running() {
    let mut c = cluster(1, 91, 26009);
    c.wait_for_ring(&[1], WAIT).unwrap();
    let log = c.node_dir(1).join("ferrosyncd.log");
    c.signal(1, Signal::SIGHUP).unwrap();
    let end = Instant::now() + Duration::from_secs(5);
    // The line the daemon logs for SIGHUP and for cfg's reopen-logs alike.
    let reopened = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains("log files reopened") && l.contains("SIGHUP"))
    };
    while !reopened() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(reopened(), "no SIGHUP line in {}", log.display());
    // Before issue 13, SIGHUP's default action killed the daemon.
    assert!(
        !c.wait_exit(1, Duration::from_millis(300)).unwrap(),
        "ferrosyncd died on SIGHUP"
    );
}

/// Stops a background ferrosyncd found through its pid file, by PID, when dropped.
struct KillByPidFile(std::path::PathBuf);

impl Drop for KillByPidFile {
    fn drop(&mut self) {
        if let Some(pid) = std::fs::read_to_string(&self.0)
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
        {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL);
        }
    }
}

#[test]
fn without_f_start_up_errors_reach_the_caller_success_exits_0_and_the_pid_file_is_locked() {
    let dir = std::env::temp_dir().join(format!("ferrosync-startup-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("corosync.conf");
    std::fs::write(
        &conf,
        "totem {\n version: 2\n cluster_name: t\n transport: udpu\n token: 1000\n token_coefficient: 0\n \
         interface {\n  linknumber: 0\n  mcastport: 26010\n }\n}\nlogging {\n to_syslog: no\n}\n\
         nodelist {\n node {\n  nodeid: 1\n  ring0_addr: 127.0.92.1\n }\n}\n",
    )
    .unwrap();
    let pidfile = dir.join("ferrosyncd.pid");
    let _guard = KillByPidFile(pidfile.clone());
    let daemon = |statedir: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ferrosyncd"))
            .arg("-c")
            .arg(&conf)
            .args(["--nodeid", "1", "--statedir"])
            .arg(statedir)
            .arg("-p")
            .arg(&pidfile)
            .output()
            .unwrap()
    };
    // The state directory cannot be made (a regular file is in the way).
    std::fs::write(dir.join("file"), "x").unwrap();
    let out = daemon(&dir.join("file").join("state"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("ferrosyncd: error: create"), "{stderr}");
    // A good start returns 0 once the daemon runs.
    let out = daemon(&dir.join("state"));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let end = Instant::now() + WAIT;
    while engine::local_cluster::read_view(&dir.join("state")).is_none() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        engine::local_cluster::read_view(&dir.join("state")).is_some(),
        "the background daemon runs"
    );
    // The state directory and what the daemon writes there are root's (the owner's) only.
    let mode = |p: &std::path::Path| {
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(p).unwrap().permissions()) & 0o777
    };
    assert_eq!(mode(&dir.join("state")), 0o700);
    assert_eq!(mode(&engine::status::path(&dir.join("state"))), 0o600);
    // A second daemon finds the pid file locked.
    let out = daemon(&dir.join("state2"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("holds its lock"), "{stderr}");
    drop(_guard);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Member lists of the "new membership" lines in a node's log, oldest first.
fn memberships(log: &std::path::Path) -> Vec<Vec<u32>> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("new membership"))
        .filter_map(|l| {
            let list = l.split("members=[").nth(1)?.split(']').next()?;
            Some(list.split(", ").filter_map(|n| n.trim().parse().ok()).collect())
        })
        .collect()
}

#[test]
fn a_member_stopped_for_500_ms_while_another_restarts_is_not_excluded() {
    let mut c = cluster(3, 93, 26011);
    c.wait_for_ring(&[1, 2, 3], WAIT).unwrap();
    let log = c.node_dir(1).join("ferrosyncd.log");
    let before = memberships(&log).len();
    // Node 2 stalls (VM steal, swap) just as node 3 comes back from a kill -9: its joins
    // start a GATHER that node 2 sleeps through. Before issue 13, node 2 was failed for
    // 200 ms of silence there.
    c.signal(2, Signal::SIGSTOP).unwrap();
    c.kill(3).unwrap();
    c.start_node(3).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    c.signal(2, Signal::SIGCONT).unwrap();
    c.wait_for_ring(&[1, 2, 3], WAIT).unwrap();
    // Let any late configuration show.
    std::thread::sleep(Duration::from_millis(2 * TOKEN_MS));
    let after = memberships(&log);
    let without_2: Vec<&Vec<u32>> = after[before..].iter().filter(|m| !m.contains(&2)).collect();
    assert!(
        without_2.is_empty(),
        "node 1 installed {without_2:?} (all since: {:?})",
        &after[before..]
    );
    c.wait_for_ring(&[1, 2, 3], Duration::ZERO).unwrap();
}

#[test]
fn sixteen_daemons_in_namespaces_form_one_ring_and_survive_kill_and_restart_of_any() {
    let spec = Spec {
        netns: Some(format!("fs16{}-", std::process::id())),
        ..Spec::new(
            env!("CARGO_BIN_EXE_ferrosyncd").into(),
            16,
            [10, 209, 0],
            5405,
            TOKEN_MS,
        )
    };
    let mut c = match LocalCluster::start(spec) {
        Ok(c) => c,
        Err(engine::local_cluster::ClusterError::Netns(why)) => {
            eprintln!("SKIP 16-node test: cannot create network namespaces here ({why})");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let all: Vec<u32> = (1..=16).collect();
    c.wait_for_ring(&all, WAIT).unwrap();
    // The representative, one in the middle, the last: kill -9, re-form, restart, rejoin.
    for victim in [1, 9, 16] {
        c.kill(victim).unwrap();
        let rest: Vec<u32> = all.iter().copied().filter(|n| *n != victim).collect();
        let (_, took) = c.wait_for_ring(&rest, WAIT).unwrap();
        // Reported, not asserted (timings belong in benchmarks): token + ε expected.
        eprintln!("16 nodes: kill -9 of node {victim} -> ring of 15 in {took:?} (token {TOKEN_MS} ms)");
        assert!(
            took >= Duration::from_millis(TOKEN_MS / 2),
            "re-formed suspiciously fast: {took:?}"
        );
        c.start_node(victim).unwrap();
        c.wait_for_ring(&all, WAIT).unwrap();
    }
}

fn root_daemon_spec(last_octet: u8, port: u16) -> Spec {
    let mut spec = Spec::new(
        env!("CARGO_BIN_EXE_ferrosyncd").into(),
        1,
        [127, 0, last_octet],
        port,
        TOKEN_MS,
    );
    spec.realtime = true;
    spec
}

#[test]
fn the_daemon_locks_its_memory_and_runs_round_robin_real_time_while_idle() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP: needs root");
        return;
    }
    let c = LocalCluster::start(root_daemon_spec(91, 26011)).unwrap();
    c.wait_for_ring(&[1], WAIT).unwrap();
    let pid = c.pid(1).unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let locked_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmLck:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap();
    assert!(locked_kb > 0, "no memory locked: {status}");
    assert_eq!(c.scheduling_policy(1).unwrap(), 2);
}

#[test]
fn with_r_the_daemon_runs_round_robin_real_time_from_the_start() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP: needs root");
        return;
    }
    let mut spec = root_daemon_spec(94, 26014);
    spec.args.push("-r".into());
    let c = LocalCluster::start(spec).unwrap();
    c.wait_for_ring(&[1], WAIT).unwrap();
    assert_eq!(c.scheduling_policy(1).unwrap(), 2);
}

#[test]
fn under_systemd_the_daemon_says_ready_once_it_serves() {
    let dir = std::env::temp_dir().join(format!("ferrosync-notify-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("notify");
    let socket = std::os::unix::net::UnixDatagram::bind(&path).unwrap();
    socket.set_read_timeout(Some(WAIT)).unwrap();
    let mut spec = Spec::new(
        env!("CARGO_BIN_EXE_ferrosyncd").into(),
        1,
        [127, 0, 92],
        26012,
        TOKEN_MS,
    );
    spec.env
        .push(("NOTIFY_SOCKET".into(), path.to_string_lossy().into_owned()));
    let c = LocalCluster::start(spec).unwrap();
    let mut buf = [0u8; 512];
    let n = socket.recv(&mut buf).expect("READY=1 within the wait");
    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(text.contains("READY=1"), "{text}");
    assert!(text.contains(&format!("MAINPID={}", c.pid(1).unwrap())), "{text}");
    drop(c);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn crypto_counter_continues_above_its_persisted_mark_across_a_kill() {
    let mut c = LocalCluster::start(Spec {
        crypto: true,
        ..Spec::new(
            env!("CARGO_BIN_EXE_ferrosyncd").into(),
            3,
            [127, 0, 93],
            26013,
            TOKEN_MS,
        )
    })
    .unwrap();
    c.wait_for_ring(&[1, 2, 3], WAIT).unwrap();
    let file = c.node_dir(2).join(engine::ringid::crypto_counter_name(2));
    let first = engine::ringid::load_u64(&file).unwrap();
    assert!(first > 0, "no crypto counter mark persisted");
    c.kill(2).unwrap();
    c.wait_for_ring(&[1, 3], WAIT).unwrap();
    c.start_node(2).unwrap();
    // The peers' replay windows still hold node 2's old counters: it is accepted only
    // because its new counters start above them.
    c.wait_for_ring(&[1, 2, 3], WAIT).unwrap();
    let second = engine::ringid::load_u64(&file).unwrap();
    assert!(second > first, "mark {second} not above {first}");
}

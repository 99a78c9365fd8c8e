//! Every IPC command of `ferrosync` against a 3-node ferrosyncd cluster in network
//! namespaces (root only; skipped elsewhere). The daemons come from the same target
//! directory (`cargo test --workspace` builds them; alone: `cargo build -p engine`).

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use engine::local_cluster::{ClusterError, LocalCluster, Spec};
use nix::sys::signal::Signal;

const WAIT: Duration = Duration::from_secs(20);

fn ferrosync() -> PathBuf {
    env!("CARGO_BIN_EXE_ferrosync").into()
}

fn daemon() -> PathBuf {
    let d = ferrosync().with_file_name("ferrosyncd");
    assert!(
        d.exists(),
        "{} missing: build it first (cargo build -p engine)",
        d.display()
    );
    d
}

/// Runs `ferrosync` inside node N's namespace.
struct Cli {
    namespaces: Vec<String>,
}

impl Cli {
    fn command(&self, node: u32, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.namespaces[node as usize - 1]])
            .arg(ferrosync())
            .args(args);
        c
    }

    fn run(&self, node: u32, args: &[&str]) -> Output {
        self.command(node, args).output().expect("run ferrosync")
    }

    /// Runs and expects exit status `code`; returns stdout.
    fn expect(&self, node: u32, args: &[&str], code: i32) -> String {
        let out = self.run(node, args);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(
            out.status.code(),
            Some(code),
            "ferrosync {args:?} on node {node}: stdout {stdout}\nstderr {}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    fn ok(&self, node: u32, args: &[&str]) -> String {
        self.expect(node, args, 0)
    }

    fn json(&self, node: u32, args: &[&str]) -> serde_json::Value {
        let mut a = vec!["--json"];
        a.extend_from_slice(args);
        let out = self.ok(node, &a);
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: {e}: {out}"))
    }

    /// A number of node N's statistics map.
    fn stat(&self, node: u32, key: &str) -> u64 {
        let v = self.json(node, &["cmap", "--stats", "get", key]);
        v["value"].as_u64().unwrap_or_else(|| panic!("{key}: {v}"))
    }

    fn spawn(&self, node: u32, args: &[&str]) -> Child {
        self.command(node, args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ferrosync")
    }
}

/// The lines of a child's output as they come, read by a thread (it ends at EOF, when the
/// child exits or is killed).
fn read_lines(out: std::process::ChildStdout) -> std::sync::mpsc::Receiver<String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufRead::lines(std::io::BufReader::new(out)).map_while(Result::ok) {
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// `bench cpg` flat out from node 1 into `group` while nodes 2 and 3 only receive.
fn flat_out(cli: &Cli, group: &str, extra: &[&str]) -> Vec<Child> {
    (1..=3)
        .map(|n| {
            let mut args = vec!["--json", "bench", "cpg", "--group", group, "--members", "3"];
            args.extend_from_slice(extra);
            if n != 1 {
                args.push("--receive-only");
            }
            cli.spawn(n, &args)
        })
        .collect()
}

/// A `bench cpg --json` run's report, once it succeeded.
fn bench_report(child: Child) -> serde_json::Value {
    let out = finish(child, Duration::from_secs(60));
    let text = String::from_utf8_lossy(&out.stdout);
    let r: serde_json::Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
    eprintln!("{r}");
    assert!(out.status.success(), "{r}");
    r
}

/// Waits for a child with a deadline; kills it (by PID) if it overruns.
fn finish(mut child: Child, within: Duration) -> Output {
    let end = Instant::now() + within;
    while Instant::now() < end {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let out = child.wait_with_output().expect("output");
    panic!(
        "still running after {within:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn start() -> Option<LocalCluster> {
    start_with(Spec {
        netns: Some(format!("fci{}-", std::process::id())),
        ..Spec::new(daemon(), 3, [10, 207, 0], 5405, 1000)
    })
}

fn start_with(spec: Spec) -> Option<LocalCluster> {
    match LocalCluster::start(spec) {
        Ok(c) => Some(c),
        Err(ClusterError::Netns(why)) => {
            eprintln!("SKIP: cannot create network namespaces here ({why})");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn every_ipc_command_against_three_nodes() {
    let Some(mut c) = start() else { return };
    c.wait_for_ring(&[1, 2, 3], WAIT).unwrap();
    // Services answer once the first synchronisation completed.
    let cli = Cli {
        namespaces: (1..=3).map(|n| c.netns_name(n)).collect(),
    };
    let end = Instant::now() + WAIT;
    while cli.run(1, &["status"]).status.code() != Some(0) {
        assert!(Instant::now() < end, "status never succeeded");
        std::thread::sleep(Duration::from_millis(100));
    }

    // status: ring, members, quorum, links per peer.
    let s = cli.json(1, &["status"]);
    assert_eq!(s["local_node"], 1);
    assert_eq!(s["quorate"], true);
    let members: Vec<_> = s["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["member"] == true)
        .map(|n| n["nodeid"].as_u64().unwrap())
        .collect();
    assert_eq!(members, [1, 2, 3]);
    for n in s["nodes"].as_array().unwrap().iter().filter(|n| n["local"] == false) {
        assert_eq!(n["links"][0]["connected"], true, "{n}");
    }
    let text = cli.ok(2, &["status"]);
    eprintln!("{text}");
    assert!(text.contains("local node 2") && text.contains("quorate"), "{text}");

    // cmap (each node's own map, as in corosync): set, get, list, track, delete, missing key.
    cli.ok(1, &["cmap", "set", "test.answer", "u32", "42"]);
    assert_eq!(
        cli.ok(1, &["cmap", "get", "test.answer"]).trim(),
        "test.answer (u32) = 42"
    );
    assert_eq!(cli.json(1, &["cmap", "get", "test.answer"])["value"], 42);
    cli.expect(2, &["cmap", "get", "test.answer"], 1);
    let list = cli.ok(1, &["cmap", "list", "nodelist.node."]);
    assert!(list.contains("nodelist.node.1.nodeid (u32) = 2"), "{list}");
    // The tracker needs a moment to register: set the key until it reports a change.
    let mut tracker = cli.spawn(1, &["cmap", "track", "test.", "--prefix", "--count", "1"]);
    let end = Instant::now() + WAIT;
    let mut round = 0;
    while tracker.try_wait().unwrap().is_none() {
        assert!(Instant::now() < end, "the tracker saw no change");
        cli.ok(1, &["cmap", "set", "test.word", "str", &format!("hello{round}")]);
        round += 1;
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = finish(tracker, WAIT);
    let tracked = String::from_utf8_lossy(&out.stdout);
    assert!(
        (tracked.contains("add test.word") || tracked.contains("modify test.word")) && tracked.contains("hello"),
        "{tracked}"
    );
    cli.ok(1, &["cmap", "delete", "test.answer"]);
    cli.expect(1, &["cmap", "get", "test.answer"], 1);
    cli.expect(1, &["cmap", "set", "test.x", "u8", "300"], 1);
    assert!(cli
        .ok(1, &["cmap", "--stats", "list", "stats.srp."])
        .contains("stats.srp.mcast_tx"));

    // quorum: status, list, set-expected, set-votes.
    let q = cli.ok(3, &["quorum", "status"]);
    eprintln!("{q}");
    assert!(
        q.contains("Quorate:          Yes") && q.contains("Expected votes:   3"),
        "{q}"
    );
    let l = cli.ok(3, &["quorum", "list"]);
    assert_eq!(l.lines().count(), 4, "{l}");
    cli.ok(1, &["quorum", "set-votes", "--node", "3", "2"]);
    let s = cli.json(1, &["quorum", "status"]);
    assert_eq!(s["votequorum"]["total_votes"], 4, "{s}");
    cli.ok(1, &["quorum", "set-votes", "--node", "3", "1"]);
    cli.ok(1, &["quorum", "set-expected", "3"]);
    cli.expect(1, &["quorum", "set-expected", "0"], 1);

    // cpg: listen on 2, send on 1, list and members while the listener is in the group.
    let listener = cli.spawn(2, &["--json", "cpg", "listen", "chat", "--count", "1"]);
    let end = Instant::now() + WAIT;
    loop {
        let g = cli.json(1, &["cpg", "members", "chat"]);
        if g.as_array().is_some_and(|a| a.len() == 1) {
            break;
        }
        assert!(Instant::now() < end, "listener never joined: {g}");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(cli.ok(3, &["cpg", "list"]).contains("chat"));
    cli.ok(1, &["cpg", "send", "chat", "hello from 1"]);
    let out = finish(listener, WAIT);
    let heard = String::from_utf8_lossy(&out.stdout);
    assert!(
        heard.contains("hello from 1") && heard.contains("\"nodeid\":1"),
        "{heard}"
    );

    // cfg: links, reload, reopen-logs; blackbox over IPC.
    let links = cli.json(1, &["cfg", "links"]);
    assert_eq!(links["peers"].as_array().unwrap().len(), 2, "{links}");
    cli.ok(1, &["cfg", "reload"]);
    cli.ok(1, &["cfg", "reopen-logs"]);
    let statedir = c.node_dir(1);
    let bb = cli.ok(1, &["blackbox", "--dump", "--statedir", statedir.to_str().unwrap()]);
    assert!(!bb.is_empty(), "empty flight recorder dump");

    // bench cpg on every node at once: every receiver sees every sender in sequence.
    let benches: Vec<Child> = (1..=3)
        .map(|n| {
            cli.spawn(
                n,
                &[
                    "--json",
                    "bench",
                    "cpg",
                    "--size",
                    "200",
                    "--rate",
                    "300",
                    "--seconds",
                    "2",
                    "--members",
                    "3",
                ],
            )
        })
        .collect();
    for b in benches {
        let r = bench_report(b);
        assert_eq!(r["senders"], 3, "{r}");
        assert_eq!(r["seq_errors"], 0, "{r}");
        assert!(r["received"].as_u64().unwrap() >= 3 * 500, "{r}");
    }

    // Flat out from node 1 while the others only receive: the sending thread never stops
    // to dispatch, and node 1's daemon holds the token to fill its visits (counted in
    // cmap's stats map).
    let flat = flat_out(&cli, "flat", &["--size", "64", "--seconds", "1"]);
    for b in flat {
        let r = bench_report(b);
        assert_eq!(
            (&r["senders"], &r["seq_errors"], &r["missing"]),
            (&1.into(), &0.into(), &0.into()),
            "{r}"
        );
        assert!(r["received"].as_u64().unwrap() > 0, "{r}");
    }
    let holds = || cli.stat(1, "stats.srp.token_batch_holds");
    let until = Instant::now() + WAIT;
    while holds() == 0 {
        assert!(
            Instant::now() < until,
            "node 1 never held the token while sending flat out"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // `corosync-cmapctl -C totem` writes stats.clear.totem: the counters read zero at once.
    cli.ok(1, &["cmap", "--stats", "set", "stats.clear.totem", "u8", "1"]);
    assert_eq!(holds(), 0, "stats.clear.totem resets the hold counters");

    // A stopped daemon: exit 3 within the timeout, and fine again after SIGCONT.
    c.signal(1, Signal::SIGSTOP).unwrap();
    let t = Instant::now();
    cli.expect(1, &["status", "--timeout", "1"], 3);
    assert!(t.elapsed() < Duration::from_secs(10));
    c.signal(1, Signal::SIGCONT).unwrap();
    c.wait_for_ring(&[1, 2, 3], WAIT).unwrap();

    // kill-node: node 3's daemon exits and its namespace has no daemon to answer; a
    // quorum monitor on node 1 reports the new membership.
    // (The first report is the current state, as `corosync-quorumtool -m` prints it.)
    let mut monitor = cli.spawn(1, &["--json", "quorum", "monitor", "--count", "2"]);
    // Its first report (read as it comes) says it is tracking; only then the change.
    let lines = read_lines(monitor.stdout.take().unwrap());
    let first = lines.recv_timeout(WAIT).expect("the monitor's first report");
    cli.ok(1, &["cfg", "kill-node", "3"]);
    assert!(c.wait_exit(3, WAIT).unwrap(), "node 3 still running after kill-node");
    cli.expect(3, &["status", "--timeout", "1"], 3);
    c.wait_for_ring(&[1, 2], WAIT).unwrap();
    let out = finish(monitor, WAIT);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let reports: Vec<serde_json::Value> = std::iter::once(first)
        .chain(lines.iter())
        .map(|l| serde_json::from_str(&l).expect("monitor JSON"))
        .collect();
    assert_eq!(reports.len(), 2, "{reports:?}");
    let members = |r: &serde_json::Value| {
        r["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["member"] == true)
            .count()
    };
    assert_eq!(members(&reports[0]), 3, "{reports:?}");
    assert_eq!(members(&reports[1]), 2, "{reports:?}");
    assert_eq!(reports[1]["quorate"], true);
    // Two of three votes: still quorate.
    assert_eq!(cli.json(1, &["status"])["quorate"], true);
    // cfg shutdown: node 2's daemon leaves and exits.
    cli.ok(2, &["cfg", "shutdown", "--force"]);
    assert!(c.wait_exit(2, WAIT).unwrap(), "node 2 still running after cfg shutdown");
    c.wait_for_ring(&[1], WAIT).unwrap();
    cli.expect(1, &["status"], 4);
}

/// Waits until node `id`'s daemon has scheduling policy `policy`.
fn wait_for_policy(c: &LocalCluster, id: u32, policy: u32, within: Duration, why: &str) {
    let end = Instant::now() + within;
    while c.scheduling_policy(id).unwrap() != policy {
        assert!(Instant::now() < end, "scheduling policy not {policy} {why}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `system.sched_rr: auto`: real-time priority while the clients are quiet, the normal
/// policy while they send flat out, and real-time priority again once the loop runs late.
#[test]
fn the_daemon_of_busy_clients_leaves_real_time_priority_until_its_loop_runs_late() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP: needs root");
        return;
    }
    let Some(c) = start_with(Spec {
        netns: Some(format!("fcr{}-", std::process::id())),
        realtime: true,
        ..Spec::new(daemon(), 3, [10, 212, 0], 5405, 1000)
    }) else {
        return;
    };
    c.wait_for_ring(&[1, 2, 3], WAIT).unwrap();
    let cli = Cli {
        namespaces: (1..=3).map(|n| c.netns_name(n)).collect(),
    };
    assert_eq!(c.scheduling_policy(1).unwrap(), 2, "quiet clients: real-time priority");
    let flat = flat_out(&cli, "busy", &["--seconds", "6"]);
    wait_for_policy(&c, 1, 0, Duration::from_secs(5), "while a client sends flat out");
    // Frozen for eight times the threshold (a sixteenth of the 1 s token): its next wakeup
    // is late, as under CPU starvation, and real-time priority comes back though the client
    // still sends.
    c.signal(1, Signal::SIGSTOP).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    c.signal(1, Signal::SIGCONT).unwrap();
    wait_for_policy(&c, 1, 2, Duration::from_secs(2), "after a late wakeup");
    for b in flat {
        let r = bench_report(b);
        assert_eq!((&r["seq_errors"], &r["missing"]), (&0.into(), &0.into()), "{r}");
    }
    assert_eq!(cli.stat(1, "stats.sched.busy"), 1);
    assert_eq!(cli.stat(1, "stats.sched.starved"), 1);
    assert_eq!(cli.stat(1, "stats.sched.realtime"), 1);
}

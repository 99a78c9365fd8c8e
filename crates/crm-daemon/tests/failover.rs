//! Real processes: 3 ferrosyncd in network namespaces, a ferrosync-crmd on each, the
//! test fence agent and Pacemaker's `ocf:pacemaker:Dummy`. A Dummy starts on one node;
//! kill -9 of that node's processes gets it fenced and the Dummy started elsewhere; the
//! CIB survives a restart of the whole cluster. Root only (skipped elsewhere); the
//! daemons come from the same target directory (`cargo build -p engine` builds
//! ferrosyncd).

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use cib::document::CibDocument;
use crm_daemon::local::{LocalCrm, LocalCrmError, Programs};
use engine::local_cluster::{ClusterError, Spec};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::{json, Value};

const NODES: u32 = 3;
const TOKEN_MS: u64 = 1000;
/// Bound on "kill -9 of the Dummy's node → Dummy running elsewhere".
const FAILOVER_BOUND: Duration = Duration::from_secs(40);
const WAIT: Duration = Duration::from_secs(60);
const DUMMY: &str = "/usr/lib/ocf/resource.d/pacemaker/Dummy";

fn crmd_bin() -> PathBuf {
    env!("CARGO_BIN_EXE_ferrosync-crmd").into()
}

fn ferrosyncd() -> PathBuf {
    let d = crmd_bin().with_file_name("ferrosyncd");
    assert!(
        d.exists(),
        "{} missing: build it first (cargo build -p engine)",
        d.display()
    );
    d
}

fn fence_agents() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fencer/agents")
}

/// The cluster (`crm_daemon::local::LocalCrm`) with test-facing shorthands that fail
/// with the daemons' logs.
struct Crm(LocalCrm);

impl std::ops::Deref for Crm {
    type Target = LocalCrm;
    fn deref(&self) -> &LocalCrm {
        &self.0
    }
}

impl std::ops::DerefMut for Crm {
    fn deref_mut(&mut self) -> &mut LocalCrm {
        &mut self.0
    }
}

impl Crm {
    /// Starts the cluster in namespaces `fcrm<pid><tag>N` (tests run in parallel).
    fn start(tag: &str) -> Option<Crm> {
        if !Path::new(DUMMY).exists() {
            eprintln!("SKIP: {DUMMY} missing (Debian's pacemaker package)");
            return None;
        }
        let spec = Spec {
            netns: Some(format!("fcrm{}{tag}", std::process::id())),
            ..Spec::new(ferrosyncd(), NODES, [10, 209, 0], 5405, TOKEN_MS)
        };
        let programs = Programs {
            ferrosyncd: ferrosyncd(),
            crmd: crmd_bin(),
            fence_agents: fence_agents(),
            ocf_root: "/usr/lib/ocf".into(),
            tools: None,
        };
        match LocalCrm::start(spec, programs) {
            Ok(c) => Some(Crm(c)),
            Err(LocalCrmError::Cluster(ClusterError::Netns(why))) => {
                eprintln!("SKIP: cannot create network namespaces here ({why})");
                None
            }
            Err(e) => panic!("{e}"),
        }
    }

    fn start_crmd(&mut self, n: u32) {
        self.0.start_crmd(n).expect("start ferrosync-crmd");
    }

    /// One request on node `n`'s control socket.
    fn ask(&self, n: u32, req: &Value) -> Result<Value, String> {
        self.0.ask(n, req).map_err(|e| e.to_string())
    }

    fn query(&self, n: u32) -> CibDocument {
        self.0.query(n).expect("query")
    }

    /// Waits until the live nodes `live` agree on one DC with all of them as members,
    /// quorate, with a complete join.
    fn wait_settled(&self, live: &[u32], within: Duration) {
        if let Err(e) = self.0.wait_settled(live, within) {
            let st: Vec<Option<Value>> = live.iter().map(|&n| self.status(n)).collect();
            panic!("{e}: {st:?}\n{}", self.logs());
        }
    }

    /// Nodes whose Dummy state file says `rsc` runs there (a killed node's included).
    fn state_files(&self, rsc: &str) -> Vec<u32> {
        (1..=NODES)
            .filter(|&n| self.rsctmp(n).join(format!("Dummy-{rsc}.state")).exists())
            .collect()
    }

    fn logs(&self) -> String {
        self.0.logs(60)
    }

    /// The fencing actions (off, on, reboot) the test agent was asked for, one a line
    /// (its device monitors left out).
    fn fence_requests(&self) -> String {
        std::fs::read_to_string(self.fence_dir.join("requests.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| {
                ["action=off", "action=on", "action=reboot"]
                    .iter()
                    .any(|a| l.contains(a))
            })
            .map(|l| format!("{l}\n"))
            .collect()
    }

    /// How many times the test agent ran the device's monitor.
    fn device_monitors(&self) -> usize {
        std::fs::read_to_string(self.fence_dir.join("requests.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("action=monitor"))
            .count()
    }

    /// kill -9 of node `n`'s ferrosyncd and crmd.
    fn power_off(&mut self, n: u32) {
        self.0.power_off(n).expect("power off");
    }

    /// SIGTERM to node `n`'s crmd (a clean shutdown); waits for it to exit with 0.
    fn stop_crmd(&mut self, n: u32) {
        self.sigterm(n);
        self.wait_crmd_exit(n);
    }

    fn sigterm(&self, n: u32) {
        self.0.sigterm_crmd(n).expect("SIGTERM");
    }

    /// Waits for node `n`'s crmd to exit with 0 (after a SIGTERM).
    fn wait_crmd_exit(&mut self, n: u32) {
        match self.0.wait_crmd_exit(n, Duration::from_secs(30)).expect("wait") {
            Some(st) => assert!(st.success(), "node{n}'s crmd exited with {st}\n{}", self.logs()),
            None if self.crmd_pid(n).is_none() => {}
            None => panic!("node{n}'s crmd did not exit on SIGTERM\n{}", self.logs()),
        }
    }
}

/// Nodes (unames) where the CIB's status says `rsc` was last seen running.
fn running_in_cib(doc: &CibDocument, rsc: &str) -> Vec<String> {
    let Some(status) = doc.find("/cib/status") else {
        return Vec::new();
    };
    status
        .children_named("node_state")
        .filter(|ns| {
            let Some(res) = ns
                .child("lrm")
                .and_then(|l| l.child("lrm_resources"))
                .and_then(|r| r.children_named("lrm_resource").find(|r| r.attr("id") == Some(rsc)))
            else {
                return false;
            };
            res.children_named("lrm_rsc_op")
                .find(|op| op.attr("id") == Some(&format!("{rsc}_last_0")))
                .is_some_and(|op| {
                    matches!(op.attr("operation"), Some("start") | Some("monitor")) && op.attr("rc-code") == Some("0")
                })
        })
        .filter_map(|ns| ns.attr("uname").map(str::to_string))
        .collect()
}

/// The value of transient attribute `name` of node `uname` in the CIB's status.
fn transient(doc: &CibDocument, uname: &str, name: &str) -> Option<String> {
    doc.find("/cib/status")?
        .children_named("node_state")
        .find(|ns| ns.attr("uname") == Some(uname))?
        .child("transient_attributes")?
        .children_named("instance_attributes")
        .flat_map(|set| set.children_named("nvpair"))
        .find(|nv| nv.attr("name") == Some(name))
        .and_then(|nv| nv.attr("value"))
        .map(str::to_string)
}

fn wait_for(what: &str, within: Duration, crm: &Crm, mut ok: impl FnMut() -> bool) {
    let end = Instant::now() + within;
    while !ok() {
        assert!(Instant::now() < end, "{what}: not within {within:?}\n{}", crm.logs());
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// fence_ferrosync_test with a 5 s device monitor (counted by the tests) and
/// `ocf:pacemaker:Dummy` `d` with a 10 s monitor.
fn cib_config(crm: &Crm) -> Value {
    crm.dummy_config("d", ("pacemaker", "Dummy"), "5s")
}

#[test]
fn dummy_fails_over_after_its_node_is_killed_and_the_cib_survives_a_restart() {
    let Some(mut crm) = Crm::start("a") else { return };
    let all: Vec<u32> = (1..=NODES).collect();
    crm.wait_settled(&all, WAIT);

    // Bad requests get an error answer and the daemon goes on.
    let bad = crm.ask(2, &json!({"request": "cib", "ops": [{"op": "put"}]})).unwrap();
    assert_eq!(bad["ok"], false, "{bad}");
    assert!(bad["error"].as_str().unwrap().contains("missing field"), "{bad}");
    let mut raw = UnixStream::connect(crm.socket(2)).unwrap();
    raw.write_all(b"\xff\xfe not json\n").unwrap();
    let mut line = String::new();
    BufReader::new(raw).read_line(&mut line).unwrap();
    assert!(line.contains("\"ok\":false"), "{line}");
    let unknown = crm
        .ask(
            2,
            &json!({"request": "attribute", "node": "node9", "name": "a", "value": "1"}),
        )
        .unwrap();
    assert_eq!(unknown["error"], "unknown node 'node9'", "{unknown}");

    // SIGHUP reopens the log file (after a rotation).
    let log = crm.dir(1).join("crmd.log");
    std::fs::rename(&log, crm.dir(1).join("crmd.log.1")).unwrap();
    let pid = crm.crmd_pid(1).unwrap();
    kill(Pid::from_raw(pid as i32), Signal::SIGHUP).unwrap();
    wait_for("log reopened", Duration::from_secs(10), &crm, || {
        let _ = crm.status(1);
        std::fs::read_to_string(&log).is_ok_and(|t| t.contains("log file reopened"))
    });

    // Node attributes go through attrd into the status section.
    let set = crm
        .ask(
            3,
            &json!({"request": "attribute", "node": "node2", "name": "site", "value": "east"}),
        )
        .unwrap();
    assert_eq!(set["ok"], true, "{set}");
    wait_for("attribute in the CIB", WAIT, &crm, || {
        transient(&crm.query(1), "node2", "site").as_deref() == Some("east")
    });
    let del = crm
        .ask(
            3,
            &json!({"request": "attribute", "node": "2", "name": "site", "value": null}),
        )
        .unwrap();
    assert_eq!(del["ok"], true, "{del}");
    wait_for("attribute deleted", WAIT, &crm, || {
        transient(&crm.query(1), "node2", "site").is_none()
    });

    // The configuration goes in through node 2's socket, as one change.
    let answer = crm.ask(2, &cib_config(&crm)).unwrap();
    assert_eq!(answer["ok"], true, "{answer}\n{}", crm.logs());

    // Dummy starts on exactly one node: its state file and the CIB say where.
    let end = Instant::now() + WAIT;
    let at = loop {
        let files = crm.state_files("d");
        let cib = crm.query(1);
        let cib_at = running_in_cib(&cib, "d");
        if files.len() == 1 && cib_at == [format!("node{}", files[0])] {
            break files[0];
        }
        assert!(
            Instant::now() < end,
            "Dummy did not start once: files {files:?}, CIB {cib_at:?}\n{}\n{}",
            cib.to_xml(),
            crm.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    eprintln!("Dummy runs on node{at}");
    // The fence device was started through its agent's monitor action.
    assert!(crm.device_monitors() >= 1, "the fence device was never checked");
    crm.wait_settled(&all, WAIT);
    // Every node holds the configuration.
    for n in 1..=NODES {
        assert!(crm
            .query(n)
            .find("/cib/configuration/resources/primitive[@id='d']")
            .is_some());
    }

    // kill -9 of that node's processes.
    let fences_before = crm.fence_requests().lines().count();
    let killed = Instant::now();
    crm.power_off(at);
    let rest: Vec<u32> = all.iter().copied().filter(|&n| n != at).collect();
    let target = format!("node{at}");
    let end = killed + FAILOVER_BOUND;
    let (fenced_after, moved_to) = loop {
        let log = crm.fence_requests();
        let fenced = log.lines().skip(fences_before).any(|l| {
            l.contains(&format!("port={target}")) && (l.contains("action=reboot") || l.contains("action=off"))
        });
        let files: Vec<u32> = crm.state_files("d").into_iter().filter(|&n| n != at).collect();
        if fenced && files.len() == 1 {
            let cib = crm.query(rest[0]);
            let cib_at = running_in_cib(&cib, "d");
            if cib_at == [format!("node{}", files[0])] {
                break (killed.elapsed(), files[0]);
            }
        }
        assert!(
            Instant::now() < end,
            "Dummy did not move within {FAILOVER_BOUND:?} (fenced: {fenced}, files elsewhere {files:?})\nfence log:\n{log}\n{}",
            crm.logs()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    eprintln!("FAILOVER: node{at} killed → fenced → Dummy running on node{moved_to} after {fenced_after:?} (token {TOKEN_MS} ms)");
    assert!(crm
        .fence_requests()
        .lines()
        .skip(fences_before)
        .any(|l| l.contains(&format!("port={target}"))));

    // The killed node comes back ("rebooted": its run directory is empty).
    let _ = std::fs::remove_dir_all(crm.rsctmp(at));
    crm.cluster.start_node(at).unwrap();
    crm.cluster.wait_for_ring(&all, WAIT).unwrap();
    crm.start_crmd(at);
    crm.wait_settled(&all, WAIT);
    assert_eq!(crm.state_files("d"), [moved_to], "Dummy stays where it moved");

    // A clean stop (SIGTERM) of the Dummy's node: the DC moves the Dummy away, then
    // the crmd leaves; nobody is fenced.
    let fences_before = crm.fence_requests().lines().count();
    let stopped = Instant::now();
    crm.stop_crmd(moved_to);
    eprintln!("clean stop of node{moved_to}'s crmd took {:?}", stopped.elapsed());
    let others: Vec<u32> = all.iter().copied().filter(|&n| n != moved_to).collect();
    wait_for("Dummy moved away by the clean stop", WAIT, &crm, || {
        let files = crm.state_files("d");
        files.len() == 1
            && files[0] != moved_to
            && running_in_cib(&crm.query(others[0]), "d") == [format!("node{}", files[0])]
    });
    assert_eq!(
        crm.fence_requests().lines().count(),
        fences_before,
        "a clean stop fenced someone:\n{}",
        crm.fence_requests()
    );
    crm.start_crmd(moved_to);
    crm.wait_settled(&all, WAIT);

    // kill -9 of the DC's node: the next DC fences it and the Dummy runs once.
    let dc = crm.status(1).expect("status")["dc"]["node"].as_u64().unwrap() as u32;
    let fences_before = crm.fence_requests().lines().count();
    let killed = Instant::now();
    crm.power_off(dc);
    let rest: Vec<u32> = all.iter().copied().filter(|&n| n != dc).collect();
    wait_for("the old DC fenced and the Dummy running once", WAIT, &crm, || {
        let fenced = crm
            .fence_requests()
            .lines()
            .skip(fences_before)
            .any(|l| l.contains(&format!("port=node{dc}")));
        let files: Vec<u32> = crm.state_files("d").into_iter().filter(|&n| n != dc).collect();
        fenced
            && files.len() == 1
            && running_in_cib(&crm.query(rest[0]), "d") == [format!("node{}", files[0])]
            && crm.status(rest[0]).is_some_and(|s| s["dc"]["node"] != dc)
    });
    eprintln!(
        "DC node{dc} killed → fenced by the next DC, Dummy running once after {:?}",
        killed.elapsed()
    );
    let _ = std::fs::remove_dir_all(crm.rsctmp(dc));
    crm.cluster.start_node(dc).unwrap();
    crm.cluster.wait_for_ring(&all, WAIT).unwrap();
    crm.start_crmd(dc);
    crm.wait_settled(&all, WAIT);

    // A node that was away while the configuration changed: its copy is older.
    let away = 3;
    crm.stop_crmd(away);
    let change = crm
        .ask(
            1,
            &json!({"request": "cib", "ops": [{"op": "create", "parent": "/cib/configuration/crm_config/cluster_property_set[@id='cib-bootstrap-options']", "xml": "<nvpair id='o-marker' name='cluster-name' value='made-while-node3-was-away'/>"}]}),
        )
        .unwrap();
    assert_eq!(change["ok"], true, "{change}");
    let before = crm.query(1);
    let version = before.version();

    // Full restart: every crmd stops at once (SIGTERM to all, as `systemctl stop` on
    // every node), every ferrosyncd, then all come back — the one with the older copy
    // first.
    let fences_before = crm.fence_requests().lines().count();
    crm.start_crmd(away);
    crm.wait_settled(&all, WAIT);
    let away_version = crm.query(away).version();
    assert!(
        (away_version.admin_epoch, away_version.epoch) >= (version.admin_epoch, version.epoch),
        "node{away} took the newer CIB when it came back: {away_version} vs {version}"
    );
    for n in all.iter().copied() {
        crm.sigterm(n);
    }
    for n in all.iter().copied() {
        crm.wait_crmd_exit(n);
    }
    assert_eq!(
        crm.fence_requests().lines().count(),
        fences_before,
        "a clean stop of the cluster fenced someone:\n{}",
        crm.fence_requests()
    );
    crm.cluster.stop_all();
    for n in 1..=NODES {
        assert!(crm.dir(n).join("crm/cib.xml").exists(), "node{n} persisted its CIB");
        crm.cluster.start_node(n).unwrap();
    }
    crm.cluster.wait_for_ring(&all, WAIT).unwrap();
    for n in 1..=NODES {
        crm.start_crmd(n);
    }
    crm.wait_settled(&all, WAIT);
    for n in 1..=NODES {
        let after = crm.query(n);
        let v = after.version();
        assert!(
            (v.admin_epoch, v.epoch) >= (version.admin_epoch, version.epoch),
            "node{n}: {v} older than {version}"
        );
        for path in [
            "/cib/configuration/resources/primitive[@id='d']",
            "/cib/configuration/resources/primitive[@id='fence']",
            "/cib/configuration/crm_config/cluster_property_set[@id='cib-bootstrap-options']",
            "/cib/configuration/crm_config/cluster_property_set[@id='cib-bootstrap-options']/nvpair[@id='o-marker']",
        ] {
            assert_eq!(after.find(path), before.find(path), "node{n}: {path} after the restart");
        }
    }
    // And the Dummy runs once.
    wait_for("Dummy running once after the restart", WAIT, &crm, || {
        running_in_cib(&crm.query(1), "d").len() == 1 && crm.state_files("d").len() == 1
    });
    crm.wait_settled(&all, WAIT);

    // The Dummy dies under its 10 s monitor: recovered in place, with a fail count.
    let at = crm.state_files("d")[0];
    let state = crm.rsctmp(at).join("Dummy-d.state");
    std::fs::remove_file(&state).unwrap();
    let fail_count = "fail-count-d#monitor_10000";
    wait_for(
        "failure recorded and Dummy recovered in place",
        Duration::from_secs(40),
        &crm,
        || {
            let cib = crm.query(1);
            transient(&cib, &format!("node{at}"), fail_count).as_deref() == Some("1")
                && running_in_cib(&cib, "d") == [format!("node{at}")]
                && crm.state_files("d") == [at]
        },
    );
    // A cleanup forgets the failure; the Dummy keeps running there. (After the
    // recovery's transition: a cleanup while its monitor's first run is in flight can
    // leave the fail count in place for over 60 s here — seen once in CI on 9d77d45,
    // though crm_sim's cleanup_while_a_monitor_starts_does_not_stall_the_dc passes; an
    // open controller issue.)
    crm.wait_settled(&all, WAIT);
    let answer = crm.ask(1, &json!({"request": "cleanup", "rsc": "d"})).unwrap();
    assert_eq!(answer["ok"], true, "{answer}");
    wait_for("fail count cleared", WAIT, &crm, || {
        let cib = crm.query(1);
        transient(&cib, &format!("node{at}"), fail_count).is_none()
            && running_in_cib(&cib, "d") == [format!("node{at}")]
    });
    crm.wait_settled(&all, WAIT);
    assert_eq!(crm.state_files("d"), [at]);
}

/// Pushes the test configuration through node 1 and waits until the Dummy runs on one
/// node; returns it.
fn configure(crm: &Crm) -> u32 {
    let all: Vec<u32> = (1..=NODES).collect();
    crm.wait_settled(&all, WAIT);
    let answer = crm.ask(1, &cib_config(crm)).unwrap();
    assert_eq!(answer["ok"], true, "{answer}");
    let mut at = 0;
    wait_for("Dummy started once", WAIT, crm, || {
        let files = crm.state_files("d");
        if files.len() == 1 && running_in_cib(&crm.query(1), "d") == [format!("node{}", files[0])] {
            at = files[0];
            true
        } else {
            false
        }
    });
    crm.wait_settled(&all, WAIT);
    at
}

/// Nodes the test agent was asked to fence (off or reboot).
fn fenced_nodes(crm: &Crm) -> Vec<u32> {
    (1..=NODES)
        .filter(|n| {
            crm.fence_requests()
                .lines()
                .any(|l| l.contains(&format!("port=node{n}")) && !l.contains("action=on"))
        })
        .collect()
}

#[test]
fn partition_majority_fences_the_cut_off_node_before_taking_over() {
    let Some(mut crm) = Crm::start("b") else { return };
    let at = configure(&crm);
    let all: Vec<u32> = (1..=NODES).collect();
    let rest: Vec<u32> = all.iter().copied().filter(|&n| n != at).collect();

    // 3 → 1 + 2, the Dummy's node alone. A checker samples every node: the Dummy is
    // never active on two nodes that are not fenced (a fenced node's processes are
    // gone; its state file stays, as a powered-off disk would).
    let cut = Instant::now();
    crm.cluster.partition(&[at]).unwrap();
    let end = cut + WAIT;
    let moved = loop {
        let fenced = fenced_nodes(&crm);
        let active: Vec<u32> = crm
            .state_files("d")
            .into_iter()
            .filter(|n| !fenced.contains(n))
            .collect();
        assert!(
            active.len() <= 1,
            "Dummy active on {active:?} (fenced {fenced:?})\n{}",
            crm.logs()
        );
        if let [n] = active[..] {
            if n != at && fenced.contains(&at) {
                break n;
            }
        }
        assert!(
            Instant::now() < end,
            "Dummy not taken over: active {active:?}, fenced {fenced:?}\n{}",
            crm.logs()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    eprintln!(
        "PARTITION: node{at} cut off → fenced → Dummy on node{moved} after {:?}",
        cut.elapsed()
    );
    assert!(rest.contains(&moved));
    // The minority's processes were killed by the fencing; it comes back ("rebooted").
    let _ = crm.0.power_off(at);
    crm.cluster.heal().unwrap();
    let _ = std::fs::remove_dir_all(crm.rsctmp(at));
    crm.cluster.start_node(at).unwrap();
    crm.cluster.wait_for_ring(&all, WAIT).unwrap();
    crm.start_crmd(at);
    crm.wait_settled(&all, WAIT);
    assert_eq!(crm.state_files("d"), [moved], "the Dummy stays where it moved");
    assert_eq!(running_in_cib(&crm.query(at), "d"), [format!("node{moved}")]);
}

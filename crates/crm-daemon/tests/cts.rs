//! CTS-style scenarios (Pacemaker's Cluster Test Suite names) run one after the other
//! on one live cluster: 3 ferrosyncd in network namespaces, a ferrosync-crmd each
//! (`crm_daemon::local::LocalCrm`), the test fence agent and a Dummy with a 2 s
//! monitor. After every step the cluster must settle with the Dummy running exactly
//! once; while it gets there, every poll checks that no two live nodes run it.
//! Root only (skipped elsewhere).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crm_daemon::local::{dummy_agent, LocalCrm, LocalCrmError, Programs};
use engine::local_cluster::{ClusterError, Spec};
use nix::sys::signal::Signal;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);
const ALL: [u32; 3] = [1, 2, 3];

struct Suite {
    crm: LocalCrm,
    log: Vec<String>,
}

impl Suite {
    /// Polls `done` (every 20 ms, up to [`WAIT`]) while checking single activity.
    fn until(&self, what: &str, mut done: impl FnMut(&LocalCrm) -> bool) {
        let end = Instant::now() + WAIT;
        loop {
            let running = self.crm.dummy_running("d");
            assert!(
                running.len() <= 1,
                "{what}: d active on {running:?}\n{}",
                self.crm.logs(40)
            );
            if done(&self.crm) {
                return;
            }
            assert!(
                Instant::now() < end,
                "{what}: not within {WAIT:?}\n{}",
                self.crm.logs(40)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn settled(&self, what: &str, live: &[u32]) {
        let t = Instant::now();
        self.until(what, |c| c.dummy_running("d").len() == 1);
        if let Err(e) = self.crm.wait_settled(live, WAIT) {
            panic!("{what}: {e}\n{}", self.crm.logs(40));
        }
        self.until(what, |c| c.dummy_running("d").len() == 1);
        eprintln!(
            "CTS {what}: settled in {:?}, d on {:?}",
            t.elapsed(),
            self.crm.dummy_running("d")
        );
    }

    fn ask_ok(&self, n: u32, req: &Value) {
        let a = self.crm.ask(n, req).expect("control socket");
        assert_eq!(a["ok"], true, "{req} → {a}");
    }

    fn fenced(&self, node: u32) -> bool {
        std::fs::read_to_string(self.crm.fence_dir.join("requests.log"))
            .unwrap_or_default()
            .lines()
            .any(|l| l.contains(&format!("nodename=node{node}")) && !l.contains("action=monitor"))
    }

    fn fence_log_len(&self) -> usize {
        std::fs::read_to_string(self.crm.fence_dir.join("requests.log"))
            .unwrap_or_default()
            .lines()
            .filter(|l| !l.contains("action=monitor") && !l.contains("action=list") && !l.contains("action=status"))
            .count()
    }

    /// Node `n`'s ferrosyncd and crmd started again (after a stop, a kill or fencing).
    fn start_node(&mut self, n: u32) {
        let _ = self.crm.power_off(n);
        self.crm.cluster.start_node(n).expect("start ferrosyncd");
        self.crm.cluster.wait_for_ring(&ALL, WAIT).expect("ring");
        // Its agents' files went with the "reboot".
        let _ = std::fs::remove_dir_all(self.crm.rsctmp(n));
        self.crm.start_crmd(n).expect("start crmd");
        self.settled(&format!("StartTest node{n}"), &ALL);
    }

    /// A clean stop of node `n`: crmd (SIGTERM: its resources move away), then ferrosyncd.
    fn stop_node(&mut self, n: u32) {
        let before = self.fence_log_len();
        self.crm.sigterm_crmd(n).expect("SIGTERM");
        let st = self.crm.wait_crmd_exit(n, WAIT).expect("wait");
        assert!(
            st.is_some_and(|s| s.success()),
            "node{n}'s crmd: {st:?}\n{}",
            self.crm.logs(40)
        );
        self.crm.cluster.signal(n, Signal::SIGTERM).expect("SIGTERM ferrosyncd");
        let _ = self.crm.cluster.wait_exit(n, Duration::from_secs(10));
        let live: Vec<u32> = ALL.iter().copied().filter(|&x| x != n).collect();
        self.settled(&format!("StopTest node{n}"), &live);
        assert_eq!(self.fence_log_len(), before, "a clean stop fenced someone");
    }

    fn standby(&self, n: u32, on: bool) {
        let path = format!(
            "/cib/configuration/nodes/node[@id='{n}']/instance_attributes[@id='nodes-{n}']/nvpair[@id='nodes-{n}-standby']"
        );
        let value = if on { "on" } else { "off" };
        self.ask_ok(
            1,
            &json!({"request": "cib", "ops": [{"op": "merge", "path": path, "attrs": {"name": "standby", "value": value}}]}),
        );
    }
}

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ferrosync-crmd"))
}

#[test]
fn cts_scenarios() {
    let scratch = tempfile::tempdir().unwrap();
    let (ocf_root, agent) = dummy_agent(scratch.path()).unwrap();
    let programs = Programs {
        ferrosyncd: bin().with_file_name("ferrosyncd"),
        crmd: bin(),
        fence_agents: Path::new(env!("CARGO_MANIFEST_DIR")).join("../fencer/agents"),
        ocf_root,
        tools: None,
    };
    assert!(
        programs.ferrosyncd.exists(),
        "build ferrosyncd first (cargo build -p engine)"
    );
    let spec = Spec {
        netns: Some(format!("fcts{}-", std::process::id())),
        ..Spec::new(programs.ferrosyncd.clone(), 3, [10, 216, 0], 5405, 1000)
    };
    let crm = match LocalCrm::start(spec, programs) {
        Ok(c) => c,
        Err(LocalCrmError::Cluster(ClusterError::Netns(why))) => {
            eprintln!("SKIP: cannot create network namespaces here ({why})");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let mut s = Suite { crm, log: Vec::new() };
    s.crm.wait_settled(&ALL, WAIT).unwrap();
    let mut config = s.crm.dummy_config("d", agent, "60s");
    // A 2 s monitor, so that failures are seen quickly.
    config["ops"][1]["xml"] = json!(config["ops"][1]["xml"]
        .as_str()
        .unwrap()
        .replace("interval='10s'", "interval='2s'"));
    s.ask_ok(1, &config);
    s.settled("initial start", &ALL);

    // StopTest / StartTest on the node running d, then on another one.
    let at = s.crm.dummy_running("d")[0];
    s.stop_node(at);
    s.start_node(at);
    let other = ALL
        .iter()
        .copied()
        .find(|&n| !s.crm.dummy_running("d").contains(&n))
        .unwrap();
    s.stop_node(other);
    s.start_node(other);
    s.log.push("StopTest, StartTest".into());

    // RestartTest: the DC's node stopped and started.
    let dc = (1..=3)
        .find(|&n| s.crm.status(n).is_some_and(|v| v["is_dc"] == true))
        .expect("a DC");
    s.stop_node(dc);
    s.start_node(dc);
    s.log.push("RestartTest (the DC)".into());

    // StandbyTest: d leaves a standby node and may come back once it is online.
    let at = s.crm.dummy_running("d")[0];
    s.standby(at, true);
    s.until("StandbyTest", |c| {
        c.dummy_running("d").first().is_some_and(|&n| n != at)
    });
    s.settled("StandbyTest on", &ALL);
    s.standby(at, false);
    s.settled("StandbyTest off", &ALL);
    s.log.push("StandbyTest".into());

    // ResourceRecover: d dies under its monitor, recovered in place.
    let at = s.crm.dummy_running("d")[0];
    std::fs::remove_file(s.crm.rsctmp(at).join("Dummy-d.state")).unwrap();
    s.until("ResourceRecover", |c| c.dummy_running("d") == [at]);
    s.settled("ResourceRecover", &ALL);
    s.ask_ok(1, &json!({"request": "cleanup", "rsc": "d"}));
    s.settled("ResourceRecover cleanup", &ALL);
    s.log.push("ResourceRecover".into());

    // migration-threshold=1: the next failure moves d; a cleanup lets it be.
    s.ask_ok(
        1,
        &json!({"request": "cib", "ops": [{"op": "merge",
            "path": "/cib/configuration/rsc_defaults/meta_attributes[@id='rsc-options']/nvpair[@id='rsc-options-mt']",
            "attrs": {"name": "migration-threshold", "value": "1"}}]}),
    );
    s.settled("migration-threshold set", &ALL);
    let at = s.crm.dummy_running("d")[0];
    std::fs::remove_file(s.crm.rsctmp(at).join("Dummy-d.state")).unwrap();
    s.until("migration-threshold reached", |c| {
        c.dummy_running("d").first().is_some_and(|&n| n != at)
    });
    s.settled("migration-threshold move", &ALL);
    s.ask_ok(1, &json!({"request": "cleanup", "rsc": "d"}));
    s.settled("migration-threshold cleanup", &ALL);
    s.log.push("migration-threshold".into());

    // A group colocated with d and ordered after it: together on start.
    let group = format!(
        "<group id='g'><primitive id='ip' class='ocf' provider='{0}' type='{1}'/><primitive id='app' class='ocf' provider='{0}' type='{1}'/></group>",
        agent.0, agent.1
    );
    s.ask_ok(
        1,
        &json!({"request": "cib", "ops": [
            {"op": "create", "parent": "/cib/configuration/resources", "xml": group},
            {"op": "create", "parent": "/cib/configuration/constraints", "xml": "<rsc_colocation id='g-with-d' rsc='g' with-rsc='d' score='INFINITY'/>"},
            {"op": "create", "parent": "/cib/configuration/constraints", "xml": "<rsc_order id='d-then-g' first='d' then='g'/>"},
        ]}),
    );
    let together = |c: &LocalCrm| {
        let d = c.dummy_running("d");
        d.len() == 1 && c.dummy_running("ip") == d && c.dummy_running("app") == d
    };
    s.until("group with d", together);
    s.settled("group with d", &ALL);
    s.log.push("group + colocation + order".into());

    // ComponentFail: the CRM process of d's node dies alone; its node is fenced.
    let at = s.crm.dummy_running("d")[0];
    let pid = s.crm.crmd_pid(at).unwrap();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), Signal::SIGKILL).unwrap();
    let _ = s.crm.wait_crmd_exit(at, Duration::from_secs(5));
    let live: Vec<u32> = ALL.iter().copied().filter(|&n| n != at).collect();
    s.until("ComponentFail", |c| {
        c.dummy_running("d").first().is_some_and(|&n| n != at)
    });
    s.settled("ComponentFail", &live);
    assert!(s.fenced(at), "node{at} was not fenced after its CRM process died");
    s.start_node(at);
    s.log.push("ComponentFail".into());

    // SplitBrainTest: d's node cut off; the majority fences it before taking d over.
    let at = s.crm.dummy_running("d")[0];
    s.crm.cluster.partition(&[at]).unwrap();
    let live: Vec<u32> = ALL.iter().copied().filter(|&n| n != at).collect();
    s.until("SplitBrainTest", |c| {
        c.dummy_running("d").first().is_some_and(|&n| n != at) || !c.dummy_running("d").contains(&at)
    });
    s.until("SplitBrainTest takeover", |c| {
        c.dummy_running("d").len() == 1 && c.dummy_running("d")[0] != at
    });
    assert!(s.fenced(at), "the cut-off node{at} was not fenced");
    s.settled("SplitBrainTest", &live);
    s.crm.cluster.heal().unwrap();
    s.start_node(at);
    s.log.push("SplitBrainTest".into());

    eprintln!("CTS passed: {}", s.log.join(", "));
}

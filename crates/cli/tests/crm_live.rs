//! `ferrosync crm …` against a live cluster: 3 ferrosyncd in network namespaces with a
//! ferrosync-crmd each (`crm_daemon::local::LocalCrm`), every verb through node 1's
//! control socket, the effect checked where the resource really runs (Dummy's state
//! files) and in `crm status`. Root only (skipped elsewhere).

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use crm_daemon::local::{dummy_agent, fence_agent_dir, LocalCrm, Programs};
use engine::local_cluster::{ClusterError, Spec};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(60);

fn ferrosync() -> PathBuf {
    env!("CARGO_BIN_EXE_ferrosync").into()
}

struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

fn crm(socket: &std::path::Path, args: &[&str]) -> Run {
    // `crm GROUP --socket S WORDS…`: the socket is an option of the verb group.
    let out = Command::new(ferrosync())
        .arg("crm")
        .arg(args[0])
        .arg("--socket")
        .arg(socket)
        .args(&args[1..])
        .output()
        .expect("run ferrosync");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn ok(socket: &std::path::Path, args: &[&str]) -> String {
    let r = crm(socket, args);
    assert!(r.ok, "ferrosync crm {args:?} failed: {}{}", r.stdout, r.stderr);
    r.stdout
}

fn wait_for(what: &str, c: &LocalCrm, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + WAIT;
    while !f() {
        assert!(Instant::now() < end, "{what}: not within {WAIT:?}\n{}", c.logs(40));
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn crm_verbs_on_a_live_cluster() {
    let bin = ferrosync();
    let scratch = tempfile::tempdir().unwrap();
    let (ocf_root, (provider, kind)) = dummy_agent(scratch.path()).unwrap();
    let programs = Programs {
        ferrosyncd: bin.with_file_name("ferrosyncd"),
        crmd: bin.with_file_name("ferrosync-crmd"),
        fence_agents: fence_agent_dir(&scratch.path().join("fence")).unwrap(),
        ocf_root,
        tools: Some(bin.clone()),
    };
    assert!(programs.crmd.exists(), "build the workspace first (ferrosync-crmd)");
    let spec = Spec {
        netns: Some(format!("fcl{}-", std::process::id())),
        ..Spec::new(programs.ferrosyncd.clone(), 3, [10, 214, 0], 5405, 1000)
    };
    let c = match LocalCrm::start(spec, programs) {
        Ok(c) => c,
        Err(crm_daemon::local::LocalCrmError::Cluster(ClusterError::Netns(why))) => {
            eprintln!("SKIP: cannot create network namespaces here ({why})");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    c.wait_settled(&[1, 2, 3], WAIT).unwrap();
    let s = c.socket(1);

    // Configuration through the verbs, as a pcs user would.
    ok(
        &s,
        &["property", "set", "stonith-enabled=true", "no-quorum-policy=stop"],
    );
    let fence = format!("state_dir={}", c.fence_dir.display());
    ok(
        &s,
        &[
            "resource",
            "create",
            "fence",
            "stonith:fence_ferrosync_test",
            &fence,
            "pcmk_host_list=node1 node2 node3",
        ],
    );
    let agent = format!("ocf:{provider}:{kind}");
    ok(&s, &["resource", "create", "d", &agent, "op", "monitor", "interval=2s"]);
    wait_for("d starts once", &c, || c.dummy_running("d").len() == 1);
    let at = c.dummy_running("d")[0];

    // Status, three ways.
    c.wait_settled(&[1, 2, 3], WAIT).unwrap();
    let text = ok(&s, &["status"]);
    assert!(text.contains(&format!("Started node{at}")), "{text}");
    assert!(text.contains("Online: [ node1 node2 node3 ]"), "{text}");
    let last_change = text.lines().find(|l| l.contains("Last change:")).unwrap_or_default();
    assert!(
        last_change.contains("on node1"),
        "the change is stamped: {last_change:?}"
    );
    let json: Value = serde_json::from_str(&ok(&s, &["status", "--json"])).unwrap();
    assert_eq!(json["daemon"]["quorate"], true, "{json}");
    let xml = ok(&s, &["status", "--xml"]);
    assert!(
        xml.contains("<pacemaker-result") && xml.contains("resource id=\"d\""),
        "{xml}"
    );

    // ban moves it away; clear lets it be.
    ok(&s, &["resource", "ban", "d", &format!("node{at}")]);
    wait_for("d moves off the banned node", &c, || {
        let r = c.dummy_running("d");
        r.len() == 1 && r[0] != at
    });
    ok(&s, &["resource", "clear", "d"]);
    let config = ok(&s, &["config", "show"]);
    assert!(!config.contains("cli-ban-d"), "{config}");

    // disable stops it everywhere, enable starts it again.
    ok(&s, &["resource", "disable", "d"]);
    wait_for("d stops", &c, || c.dummy_running("d").is_empty());
    ok(&s, &["resource", "enable", "d"]);
    wait_for("d starts again", &c, || c.dummy_running("d").len() == 1);

    // standby empties a node; online makes it usable again, and stickiness keeps the
    // resource where it went.
    // (A preference for its node below the stickiness: without stickiness d would
    // go back.)
    ok(&s, &["resource", "meta", "d", "resource-stickiness", "100"]);
    let now_at = c.dummy_running("d")[0];
    ok(
        &s,
        &["constraint", "location", "d", "prefers", &format!("node{now_at}=50")],
    );
    c.wait_settled(&[1, 2, 3], WAIT).unwrap();
    assert_eq!(c.dummy_running("d"), [now_at]);
    ok(&s, &["node", "standby", &format!("node{now_at}")]);
    wait_for("d leaves the standby node", &c, || {
        let r = c.dummy_running("d");
        r.len() == 1 && r[0] != now_at
    });
    let moved_to = c.dummy_running("d")[0];
    ok(&s, &["node", "online", &format!("node{now_at}")]);
    c.wait_settled(&[1, 2, 3], WAIT).unwrap();
    let text = ok(&s, &["status"]);
    assert!(text.contains("Online: [ node1 node2 node3 ]"), "{text}");
    assert_eq!(
        c.dummy_running("d"),
        [moved_to],
        "stickiness: d stays on node{moved_to}"
    );

    // restart: stopped, then started.
    ok(&s, &["resource", "restart", "d"]);
    wait_for("d runs after the restart", &c, || c.dummy_running("d").len() == 1);

    // A resource dying under its monitor, then a cleanup.
    let where_ = c.dummy_running("d")[0];
    std::fs::remove_file(c.rsctmp(where_).join("Dummy-d.state")).unwrap();
    wait_for("d recovered", &c, || c.dummy_running("d").len() == 1);
    wait_for("the failure counted", &c, || {
        ok(&s, &["status", "--failcounts"]).contains("fail-count")
    });
    ok(&s, &["resource", "cleanup", "d"]);
    wait_for("the failure cleaned up", &c, || {
        !ok(&s, &["status", "--failcounts"]).contains("fail-count")
    });
    assert_eq!(c.dummy_running("d").len(), 1);

    // Bad input: a clear error and a non-zero exit; the cluster goes on.
    let bad = crm(&s, &["resource", "delete", "nope"]);
    assert!(!bad.ok && bad.stderr.contains("nope"), "{}", bad.stderr);
    let bad = crm(&s, &["property", "set", "no-equals-sign"]);
    assert!(!bad.ok, "{}", bad.stdout);
    let gone = Command::new(ferrosync())
        .args(["crm", "status", "--socket", "/nonexistent/crm.sock"])
        .output()
        .unwrap();
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("ferrosync-crmd"));
    ok(&s, &["resource", "delete", "d"]);
    wait_for("d deleted and stopped", &c, || c.dummy_running("d").is_empty());
}

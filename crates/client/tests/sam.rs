//! SAM end to end: the test binary runs itself as the supervised program. A `sam_app_*`
//! test (ignored in normal runs) is the program; the visible tests start it in a fresh
//! process and check what the supervisor did, from its exit status and a journal file the
//! instances append to.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use client::sam::{RecoveryPolicy, Sam};

const JOURNAL_ENV: &str = "SAM_TEST_JOURNAL";

fn journal_path() -> PathBuf {
    PathBuf::from(std::env::var(JOURNAL_ENV).expect("run through the visible tests"))
}

fn note(line: &str) {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(journal_path())
        .unwrap();
    writeln!(f, "{line}").unwrap();
}

/// Runs the ignored test `name` in a new process; returns its exit code and journal.
fn supervise(name: &str) -> (Option<i32>, Vec<String>) {
    let dir = std::env::temp_dir().join(format!("ferrosync-samtest-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let journal = dir.join("journal");
    let status = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", name, "--ignored", "--nocapture", "--test-threads", "1"])
        .env(JOURNAL_ENV, &journal)
        .status()
        .unwrap();
    let lines = read_lines(&journal);
    std::fs::remove_dir_all(&dir).unwrap();
    (status.code(), lines)
}

fn read_lines(p: &Path) -> Vec<String> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
#[ignore = "the supervised program of restart_after_crash_keeps_data"]
fn sam_app_crash() {
    let sam = Sam::initialize(Duration::from_millis(500), RecoveryPolicy::Restart).unwrap();
    let mut i = sam.register().unwrap();
    note(&format!(
        "instance {} data {:?}",
        i.instance_id(),
        String::from_utf8_lossy(i.data_restore())
    ));
    i.start().unwrap();
    if i.instance_id() == 1 {
        i.data_store(b"from one").unwrap();
        i.hc_send().unwrap();
        std::process::abort();
    }
    i.hc_send().unwrap();
    i.finalize().unwrap();
}

#[test]
fn restart_after_crash_keeps_data() {
    let (code, journal) = supervise("sam_app_crash");
    assert_eq!(code, Some(0), "{journal:?}");
    assert_eq!(journal, ["instance 1 data \"\"", "instance 2 data \"from one\""]);
}

#[test]
#[ignore = "the supervised program of missed_health_check_restarts"]
fn sam_app_silent() {
    // Generous interval and callback period: a loaded machine must not miss a check.
    let sam = Sam::initialize(Duration::from_millis(1000), RecoveryPolicy::Restart).unwrap();
    let mut i = sam.register().unwrap();
    note(&format!("instance {}", i.instance_id()));
    i.start().unwrap();
    if i.instance_id() < 3 {
        // Never sends a health check: killed (SIGTERM, then SIGKILL) and restarted.
        std::thread::sleep(Duration::from_secs(30));
        note("not killed");
    }
    // A callback thread keeps the third one healthy for longer than one interval.
    i.hc_callback_register(Duration::from_millis(100), || true);
    std::thread::sleep(Duration::from_millis(1500));
    note("healthy");
    i.finalize().unwrap();
}

#[test]
fn missed_health_check_restarts() {
    let (code, journal) = supervise("sam_app_silent");
    assert_eq!(code, Some(0), "{journal:?}");
    assert_eq!(journal, ["instance 1", "instance 2", "instance 3", "healthy"]);
}

#[test]
#[ignore = "the supervised program of quit_policy_ends_at_the_first_failure"]
fn sam_app_quit() {
    let sam = Sam::initialize(Duration::ZERO, RecoveryPolicy::Quit).unwrap();
    let mut i = sam.register().unwrap();
    note(&format!("instance {}", i.instance_id()));
    i.mark_failed().unwrap();
    std::thread::sleep(Duration::from_secs(30));
    note("still running");
}

#[test]
fn quit_policy_ends_at_the_first_failure() {
    let (code, journal) = supervise("sam_app_quit");
    assert_eq!(code, Some(1), "{journal:?}");
    assert_eq!(journal, ["instance 1"]);
}

#[test]
#[ignore = "the supervised program of quorum_restart_follows_quorum"]
fn sam_app_quorum() {
    let sam = Sam::initialize(Duration::from_millis(2000), RecoveryPolicy::QuorumRestart)
        .unwrap()
        .with_cmap(true);
    let mut i = sam.register().unwrap();
    note(&format!("instance {}", i.instance_id()));
    i.start().unwrap();
    i.hc_callback_register(Duration::from_millis(100), || true);
    if i.instance_id() == 1 {
        // Runs until quorum is lost, then is stopped by the supervisor.
        std::thread::sleep(Duration::from_secs(60));
        note("not stopped");
    }
    i.finalize().unwrap();
}

#[test]
fn quorum_restart_follows_quorum() {
    use engine::local_cluster::{ClusterError, LocalCluster, Spec};
    let exe = std::env::current_exe().unwrap();
    let daemon = exe.parent().and_then(Path::parent).unwrap().join("ferrosyncd");
    assert!(daemon.exists(), "{} missing: cargo build -p engine", daemon.display());
    let spec = Spec {
        netns: Some(format!("fsam{}-", std::process::id())),
        ..Spec::new(daemon, 3, [10, 208, 0], 5405, 1000)
    };
    let mut c = match LocalCluster::start(spec) {
        Ok(c) => c,
        Err(ClusterError::Netns(why)) => {
            eprintln!("SKIP: no network namespaces here ({why})");
            return;
        }
        Err(e) => panic!("{e}"),
    };
    let wait = Duration::from_secs(20);
    c.wait_for_ring(&[1, 2, 3], wait).unwrap();
    let dir = std::env::temp_dir().join(format!("ferrosync-samq-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let journal = dir.join("journal");
    let mut app = Command::new("ip")
        .args(["netns", "exec", &c.netns_name(1)])
        .arg(&exe)
        .args([
            "--exact",
            "sam_app_quorum",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(JOURNAL_ENV, &journal)
        .spawn()
        .unwrap();
    let until = |what: &str, f: &dyn Fn(&[String]) -> bool| {
        let end = std::time::Instant::now() + wait;
        loop {
            let lines = read_lines(&journal);
            if f(&lines) {
                return;
            }
            assert!(std::time::Instant::now() < end, "waiting for {what}: {lines:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    until("instance 1", &|l| l.len() == 1);
    // Node 1 alone has 1 of 3 votes: the instance is stopped, no new one starts.
    c.kill(2).unwrap();
    c.kill(3).unwrap();
    c.wait_for_ring(&[1], wait).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(read_lines(&journal), ["instance 1"]);
    // Quorum back: a new instance starts and ends cleanly.
    c.start_node(2).unwrap();
    c.start_node(3).unwrap();
    until("instance 2", &|l| l.len() == 2);
    let end = std::time::Instant::now() + wait;
    let status = loop {
        if let Some(s) = app.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > end {
            let _ = app.kill();
            panic!("supervisor still running: {:?}", read_lines(&journal));
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
    assert_eq!(read_lines(&journal), ["instance 1", "instance 2"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

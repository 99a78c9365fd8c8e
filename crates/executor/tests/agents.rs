//! The executor against real agents: Debian's resource-agents and Pacemaker's agents
//! (`/usr/lib/ocf`), and this crate's test agent `agents/Sleeper`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use executor::{Action, Agent, ExecStatus, Executor, ExecutorConfig, OcfRc, OpRequest, OpResult, ResourceId};

const SYSTEM_OCF: &str = "/usr/lib/ocf";

/// A temporary OCF root: the system's providers and shell library, plus `ferrosync` = this
/// crate's `agents/` directory.
struct OcfRoot {
    dir: tempfile::TempDir,
}

impl OcfRoot {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let rd = dir.path().join("resource.d");
        std::fs::create_dir(&rd).unwrap();
        std::os::unix::fs::symlink(Path::new(SYSTEM_OCF).join("lib"), dir.path().join("lib")).unwrap();
        for provider in ["heartbeat", "pacemaker"] {
            std::os::unix::fs::symlink(
                Path::new(SYSTEM_OCF).join("resource.d").join(provider),
                rd.join(provider),
            )
            .unwrap();
        }
        let ours = Path::new(env!("CARGO_MANIFEST_DIR")).join("agents");
        std::os::unix::fs::symlink(ours, rd.join("ferrosync")).unwrap();
        Self { dir }
    }

    fn executor(&self) -> Executor {
        Executor::new(ExecutorConfig {
            ocf_root: self.dir.path().to_path_buf(),
            kill_grace: Duration::from_millis(300),
            extra_env: vec![("HA_RSCTMP".into(), self.dir.path().to_string_lossy().into_owned())],
            ..ExecutorConfig::default()
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

fn have_agents() -> bool {
    let ok = Path::new("/usr/lib/ocf/resource.d/heartbeat/Dummy").exists()
        && Path::new("/usr/lib/ocf/resource.d/pacemaker/Dummy").exists();
    if !ok {
        eprintln!("skipped: resource-agents / pacemaker's agents are not installed");
    }
    ok
}

/// Runs one operation and waits for its result.
fn run(ex: &mut Executor, req: OpRequest) -> OpResult {
    let call = ex.execute(req).unwrap();
    let r = ex.next_timeout(Duration::from_secs(60)).expect("a result within 60 s");
    assert_eq!(r.call_id, call);
    assert!(r.last);
    r
}

fn dummy(provider: &str, state: &Path, action: Action) -> OpRequest {
    OpRequest::new(ResourceId::new("dummy1"), Agent::ocf(provider, "Dummy"), action)
        .param("state", state.to_string_lossy())
}

fn lifecycle(provider: &str) {
    let root = OcfRoot::new();
    let mut ex = root.executor();
    let state = root.path("dummy.state");
    let probe = run(&mut ex, dummy(provider, &state, Action::Monitor));
    assert_eq!(
        (probe.rc, probe.status),
        (OcfRc::NotRunning, ExecStatus::Done),
        "{probe:?}"
    );
    let start = run(&mut ex, dummy(provider, &state, Action::Start));
    assert_eq!((start.rc, start.status), (OcfRc::Ok, ExecStatus::Done), "{start:?}");
    assert!(state.exists(), "start created the state file");
    let mon = run(&mut ex, dummy(provider, &state, Action::Monitor));
    assert_eq!(mon.rc, OcfRc::Ok, "{mon:?}");
    let stop = run(&mut ex, dummy(provider, &state, Action::Stop));
    assert_eq!(stop.rc, OcfRc::Ok, "{stop:?}");
    assert!(!state.exists());
    let after = run(&mut ex, dummy(provider, &state, Action::Monitor));
    assert_eq!(after.rc, OcfRc::NotRunning, "{after:?}");
    assert_eq!(ex.calls_in_progress().count(), 0);
}

#[test]
fn heartbeat_dummy_start_monitor_stop() {
    if have_agents() {
        lifecycle("heartbeat");
    }
}

#[test]
fn pacemaker_dummy_start_monitor_stop() {
    if have_agents() {
        lifecycle("pacemaker");
    }
}

#[test]
fn ocf_environment_as_pacemaker_sets_it() {
    if !have_agents() {
        return;
    }
    let root = OcfRoot::new();
    let mut ex = root.executor();
    let envfile = root.path("env.txt");
    let req = dummy("pacemaker", &root.path("s"), Action::Start)
        .param("envfile", envfile.to_string_lossy())
        .param("OCF_CHECK_LEVEL", "0")
        .meta("clone_max", "3")
        .timeout(Duration::from_secs(25));
    let r = run(&mut ex, req);
    assert_eq!(r.rc, OcfRc::Ok, "{r:?}");
    let env = std::fs::read_to_string(&envfile).unwrap();
    for line in [
        format!("OCF_ROOT={}", root.dir.path().display()),
        "OCF_RA_VERSION_MAJOR=1".into(),
        "OCF_RA_VERSION_MINOR=1".into(),
        "OCF_RESOURCE_INSTANCE=dummy1".into(),
        "OCF_RESOURCE_TYPE=Dummy".into(),
        "OCF_RESOURCE_PROVIDER=pacemaker".into(),
        "OCF_EXIT_REASON_PREFIX=ocf-exit-reason:".into(),
        format!("OCF_RESKEY_envfile={}", envfile.display()),
        "OCF_RESKEY_CRM_meta_timeout=25000".into(),
        "OCF_RESKEY_CRM_meta_interval=0".into(),
        "OCF_RESKEY_CRM_meta_clone_max=3".into(),
        "OCF_CHECK_LEVEL=0".into(),
        format!("HA_RSCTMP={}", root.dir.path().display()),
    ] {
        assert!(env.lines().any(|l| l == line), "missing {line} in\n{env}");
    }
    assert!(!env.contains("OCF_RESKEY_OCF_CHECK_LEVEL"));
}

#[test]
fn exit_reason_is_captured() {
    if !have_agents() {
        return;
    }
    let root = OcfRoot::new();
    let mut ex = root.executor();
    let state = root.path("s");
    assert_eq!(run(&mut ex, dummy("pacemaker", &state, Action::Start)).rc, OcfRc::Ok);
    // Pacemaker's Dummy: check level 30 always fails with this reason.
    let r = run(
        &mut ex,
        dummy("pacemaker", &state, Action::Monitor).param("OCF_CHECK_LEVEL", "30"),
    );
    assert_eq!((r.rc, r.status), (OcfRc::ErrGeneric, ExecStatus::Done));
    assert_eq!(r.exit_reason.as_deref(), Some("hyperdrive quota reached"), "{r:?}");
    assert!(r.stderr.contains("ocf-exit-reason:hyperdrive quota reached"));
}

#[test]
fn recurring_monitor_reports_a_failure_once_and_cancels() {
    if !have_agents() {
        return;
    }
    let root = OcfRoot::new();
    let mut ex = root.executor();
    let state = root.path("s");
    assert_eq!(run(&mut ex, dummy("heartbeat", &state, Action::Start)).rc, OcfRc::Ok);
    let interval = Duration::from_millis(200);
    let call = ex
        .execute(dummy("heartbeat", &state, Action::Monitor).interval(interval))
        .unwrap();
    let first = ex.next_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(
        (first.call_id, first.rc, first.last),
        (call, OcfRc::Ok, false),
        "{first:?}"
    );
    // Several intervals pass with the same result: nothing is reported.
    assert!(
        ex.next_timeout(interval * 5).is_none(),
        "unchanged results are not reported"
    );
    std::fs::remove_file(&state).unwrap();
    let failed = ex.next_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(
        (failed.call_id, failed.rc, failed.status),
        (call, OcfRc::NotRunning, ExecStatus::Done)
    );
    // resource-agents sets this reason only for a real (recurring) monitor, not a probe, which
    // shows CRM_meta_interval reached the agent.
    assert_eq!(failed.exit_reason.as_deref(), Some("No process state file found"));
    assert!(ex.next_timeout(interval * 5).is_none(), "the failure is reported once");
    assert_eq!(ex.calls_in_progress().collect::<Vec<_>>(), vec![call]);
    let rsc = ResourceId::new("dummy1");
    assert_eq!(ex.find_recurring(&rsc, Action::Monitor, interval), Some(call));
    assert_eq!(ex.find_recurring(&rsc, Action::Monitor, interval * 2), None);
    ex.cancel(call).unwrap();
    let cancelled = ex.next_timeout(Duration::from_secs(30)).unwrap();
    assert_eq!(
        (cancelled.call_id, cancelled.status, cancelled.last),
        (call, ExecStatus::Cancelled, true)
    );
    assert_eq!(ex.calls_in_progress().count(), 0);
    assert!(ex.cancel(call).is_err());
}

#[test]
fn timeout_kills_a_hanging_agent() {
    let root = OcfRoot::new();
    let mut ex = root.executor();
    let pidfile = root.path("pid");
    let req = OpRequest::new(
        ResourceId::new("hang"),
        Agent::ocf("ferrosync", "Sleeper"),
        Action::Start,
    )
    .param("ignore_term", "1")
    .param("pidfile", pidfile.to_string_lossy())
    .timeout(Duration::from_millis(500));
    let t0 = Instant::now();
    let r = run(&mut ex, req);
    assert_eq!((r.rc, r.status), (OcfRc::ErrGeneric, ExecStatus::TimedOut), "{r:?}");
    assert!(t0.elapsed() < Duration::from_secs(10));
    let pid: u32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    assert!(!Path::new(&format!("/proc/{pid}")).exists(), "agent {pid} still alive");
}

#[test]
fn operations_on_one_resource_are_serialised() {
    let root = OcfRoot::new();
    let mut ex = root.executor();
    let start = |secs: &str| {
        OpRequest::new(ResourceId::new("r"), Agent::ocf("ferrosync", "Sleeper"), Action::Start).param("seconds", secs)
    };
    let t0 = Instant::now();
    ex.execute(start("0.4")).unwrap();
    ex.execute(start("0.4")).unwrap();
    let a = ex.next_timeout(Duration::from_secs(10)).unwrap();
    let b = ex.next_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!((a.rc, b.rc), (OcfRc::Ok, OcfRc::Ok));
    assert!(t0.elapsed() >= Duration::from_millis(800), "ran one after the other");
    assert!(a.queue_time.max(b.queue_time) >= Duration::from_millis(300));
}

#[test]
fn meta_data_parses_as_xml() {
    if !have_agents() {
        return;
    }
    let root = OcfRoot::new();
    let mut ex = root.executor();
    for (provider, kind) in [("heartbeat", "Dummy"), ("pacemaker", "Dummy"), ("ferrosync", "Sleeper")] {
        let r = run(
            &mut ex,
            OpRequest::new(ResourceId::new("md"), Agent::ocf(provider, kind), Action::MetaData),
        );
        assert_eq!(r.rc, OcfRc::Ok);
        let opts = roxmltree::ParsingOptions {
            allow_dtd: true,
            ..Default::default()
        };
        let doc = roxmltree::Document::parse_with_options(&r.stdout, opts).unwrap();
        let agent = doc.root_element();
        assert_eq!(agent.tag_name().name(), "resource-agent");
        assert_eq!(agent.attribute("name"), Some(kind));
        let actions: Vec<_> = agent
            .descendants()
            .filter(|n| n.has_tag_name("action"))
            .filter_map(|n| n.attribute("name"))
            .collect();
        assert!(
            actions.contains(&"start") && actions.contains(&"monitor"),
            "{actions:?}"
        );
    }
}

#[test]
fn missing_agent_and_bad_names() {
    let root = OcfRoot::new();
    let mut ex = root.executor();
    let r = run(
        &mut ex,
        OpRequest::new(
            ResourceId::new("x"),
            Agent::ocf("heartbeat", "NoSuchAgent"),
            Action::Start,
        ),
    );
    assert_eq!((r.rc, r.status), (OcfRc::ErrInstalled, ExecStatus::NotInstalled));
    assert!(ex
        .execute(OpRequest::new(
            ResourceId::new("x"),
            Agent::ocf("..", "Dummy"),
            Action::Start
        ))
        .is_err());
    assert!(ex
        .execute(OpRequest::new(
            ResourceId::new("x"),
            Agent::Lsb { script: "x".into() },
            Action::Promote
        ))
        .is_err());
}

#[test]
fn operation_limit_is_enforced() {
    let root = OcfRoot::new();
    let mut ex = Executor::new(ExecutorConfig {
        ocf_root: root.dir.path().to_path_buf(),
        max_operations: 1,
        ..ExecutorConfig::default()
    });
    let req =
        OpRequest::new(ResourceId::new("a"), Agent::ocf("ferrosync", "Sleeper"), Action::Start).param("seconds", "0.2");
    ex.execute(req.clone()).unwrap();
    assert!(matches!(
        ex.execute(req.clone()),
        Err(executor::Error::TooManyOperations(1))
    ));
    assert!(ex.next_timeout(Duration::from_secs(10)).is_some());
    ex.execute(req).unwrap();
}

#[test]
fn lsb_init_script_status_mapping() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("fake");
    let state = dir.path().join("running");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncase \"$1\" in\nstart) touch {s};;\nstop) rm -f {s};;\nstatus) [ -f {s} ] && exit 0; exit 3;;\n*) exit 3;;\nesac\n",
            s = state.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let mut ex = Executor::new(ExecutorConfig {
        lsb_dir: dir.path().to_path_buf(),
        ..ExecutorConfig::default()
    });
    let req = |a| OpRequest::new(ResourceId::new("lsb1"), Agent::Lsb { script: "fake".into() }, a);
    assert_eq!(run(&mut ex, req(Action::Monitor)).rc, OcfRc::NotRunning);
    assert_eq!(run(&mut ex, req(Action::Start)).rc, OcfRc::Ok);
    assert_eq!(run(&mut ex, req(Action::Monitor)).rc, OcfRc::Ok);
    assert_eq!(run(&mut ex, req(Action::Stop)).rc, OcfRc::Ok);
    assert_eq!(run(&mut ex, req(Action::Monitor)).rc, OcfRc::NotRunning);
}

fn systemd_is_pid1() -> bool {
    std::fs::read_to_string("/proc/1/comm")
        .map(|c| c.trim() == "systemd")
        .unwrap_or(false)
}

#[test]
fn systemd_unit_start_status_stop() {
    if !systemd_is_pid1() || !nix_is_root() {
        eprintln!("skipped: systemd is not PID 1 or not root");
        return;
    }
    let mut ex = Executor::new(ExecutorConfig::default());
    // A transient-free unit that exists everywhere systemd runs and is harmless to restart.
    let req = |a| {
        OpRequest::new(
            ResourceId::new("sd"),
            Agent::Systemd {
                unit: "systemd-tmpfiles-clean".into(),
            },
            a,
        )
    };
    let r = run(&mut ex, req(Action::Monitor));
    assert!(matches!(r.rc, OcfRc::Ok | OcfRc::NotRunning), "{r:?}");
    let r = run(&mut ex, req(Action::Stop));
    assert_eq!(r.rc, OcfRc::Ok, "{r:?}");
    assert_eq!(run(&mut ex, req(Action::Monitor)).rc, OcfRc::NotRunning);
    let r = run(
        &mut ex,
        OpRequest::new(
            ResourceId::new("sd"),
            Agent::Systemd {
                unit: "no-such-ferrosync-unit".into(),
            },
            Action::Start,
        ),
    );
    assert_eq!(r.rc, OcfRc::ErrInstalled, "{r:?}");
}

fn nix_is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn ha_logging_environment() {
    let cfg = ExecutorConfig::default().with_ha_logging(Some("daemon"), Some("/var/log/x.log"), true);
    let env: Vec<(&str, &str)> = cfg.extra_env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    assert_eq!(
        env,
        vec![
            ("HA_LOGFACILITY", "daemon"),
            ("HA_LOGFILE", "/var/log/x.log"),
            ("HA_DEBUGLOG", "/var/log/x.log")
        ]
    );
    let cfg = ExecutorConfig::default().with_ha_logging(Some("none"), Some("none"), true);
    assert!(cfg.extra_env.is_empty());
    let cfg = ExecutorConfig::default().with_ha_logging(Some("/dev/null"), Some("/l"), false);
    assert_eq!(cfg.extra_env, vec![("HA_LOGFILE".to_string(), "/l".to_string())]);
}

#[test]
fn waker_is_called_for_each_result() {
    let root = OcfRoot::new();
    let mut ex = root.executor();
    let (tx, rx) = std::sync::mpsc::channel();
    ex.set_waker(move || {
        let _ = tx.send(());
    });
    for i in 0..3 {
        let req = OpRequest::new(
            ResourceId::new(format!("r{i}")),
            Agent::ocf("ferrosync", "Sleeper"),
            Action::Monitor,
        );
        ex.execute(req).unwrap();
    }
    // An event loop would sleep in poll until woken, then drain without blocking.
    let mut got = 0;
    while got < 3 {
        rx.recv_timeout(Duration::from_secs(30)).expect("woken");
        while let Some(r) = ex.try_next() {
            assert_eq!(r.rc, OcfRc::NotRunning);
            got += 1;
        }
    }
    assert!(ex.try_next().is_none());
}

#[test]
fn cancel_kills_a_running_operation_and_drop_kills_the_rest() {
    let root = OcfRoot::new();
    let mut ex = root.executor();
    let sleeper = |rsc: &str, pidfile: &Path| {
        OpRequest::new(ResourceId::new(rsc), Agent::ocf("ferrosync", "Sleeper"), Action::Start)
            .param("pidfile", pidfile.to_string_lossy())
    };
    let wait_file = |p: &Path| {
        let t0 = Instant::now();
        while !p.exists() || std::fs::read_to_string(p).unwrap().trim().is_empty() {
            assert!(t0.elapsed() < Duration::from_secs(10), "agent did not start");
            std::thread::sleep(Duration::from_millis(10));
        }
        std::fs::read_to_string(p).unwrap().trim().parse::<u32>().unwrap()
    };
    let (p1, p2) = (root.path("p1"), root.path("p2"));
    let call = ex.execute(sleeper("a", &p1)).unwrap();
    ex.execute(sleeper("b", &p2)).unwrap();
    let (pid1, pid2) = (wait_file(&p1), wait_file(&p2));
    ex.cancel(call).unwrap();
    let r = ex.next_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!((r.call_id, r.status, r.last), (call, ExecStatus::Cancelled, true));
    assert!(
        !Path::new(&format!("/proc/{pid1}")).exists(),
        "cancelled agent still alive"
    );
    assert!(Path::new(&format!("/proc/{pid2}")).exists());
    drop(ex);
    let t0 = Instant::now();
    while Path::new(&format!("/proc/{pid2}")).exists() {
        assert!(t0.elapsed() < Duration::from_secs(10), "agent outlived the executor");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn reload_agent_and_validate_all() {
    if !have_agents() {
        return;
    }
    let root = OcfRoot::new();
    let mut ex = root.executor();
    let state = root.path("s");
    assert_eq!(
        run(&mut ex, dummy("pacemaker", &state, Action::ValidateAll)).rc,
        OcfRc::Ok
    );
    assert_eq!(run(&mut ex, dummy("pacemaker", &state, Action::Start)).rc, OcfRc::Ok);
    assert_eq!(
        run(&mut ex, dummy("pacemaker", &state, Action::ReloadAgent)).rc,
        OcfRc::Ok
    );
    // op_sleep must be an integer: validate-all says so with rc 6 (not configured).
    let r = run(
        &mut ex,
        dummy("pacemaker", &state, Action::ValidateAll).param("op_sleep", "soon"),
    );
    assert_eq!(r.rc, OcfRc::ErrConfigured, "{r:?}");
    // Unknown actions: the agent answers "unimplemented".
    let r = run(&mut ex, dummy("heartbeat", &state, Action::Promote));
    assert_eq!(r.rc, OcfRc::ErrUnimplemented, "{r:?}");
}

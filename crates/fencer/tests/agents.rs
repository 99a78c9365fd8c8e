//! The fencer with real agents: this crate's `agents/fence_ferrosync_test` fencing fake nodes
//! (sleeping child processes), and fence-agents' `fence_dummy` when installed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use fencer::{Device, DeviceId, FenceAction, FenceResult, Fencer, FencerConfig, HistoryState, Level};

fn test_agent() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("agents/fence_ferrosync_test")
}

/// A fake node: a sleeping process whose pid is in `<dir>/<name>.pids`.
struct FakeNode {
    child: Child,
}

impl FakeNode {
    fn new(dir: &Path, name: &str) -> Self {
        let child = Command::new("sleep").arg("600").spawn().unwrap();
        std::fs::write(dir.join(format!("{name}.pids")), format!("{}\n", child.id())).unwrap();
        Self { child }
    }

    /// Whether the process was killed (waits up to 5 s for it).
    fn killed(&mut self) -> bool {
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(5) {
            if let Some(status) = self.child.try_wait().unwrap() {
                return std::os::unix::process::ExitStatusExt::signal(&status) == Some(9);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn device(id: &str, dir: &Path, extra: &[(&str, &str)]) -> Device {
    let mut params: BTreeMap<String, String> = extra.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    params.insert("state_dir".into(), dir.to_string_lossy().into_owned());
    Device::new(DeviceId::new(id), test_agent(), params).unwrap()
}

fn fencer() -> Fencer {
    Fencer::new(FencerConfig {
        default_timeout: Duration::from_secs(20),
        kill_grace: Duration::from_millis(300),
        ..FencerConfig::default()
    })
}

fn wait(f: &mut Fencer) -> FenceResult {
    f.next_timeout(Duration::from_secs(60)).expect("a result within 60 s")
}

fn requests(dir: &Path) -> Vec<String> {
    std::fs::read_to_string(dir.join("requests.log"))
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn test_agent_powers_off_a_fake_node() {
    let dir = tempfile::tempdir().unwrap();
    let mut node1 = FakeNode::new(dir.path(), "node1");
    let mut node2 = FakeNode::new(dir.path(), "node2");
    let mut f = fencer();
    // pcmk_host_list names are compared case-insensitively.
    f.register_device(device("fence1", dir.path(), &[("pcmk_host_list", "NODE1,node2")]));
    let id = f.fence("node1", FenceAction::Off).unwrap();
    assert_eq!(f.history().next().unwrap().state, HistoryState::Pending);
    let r = wait(&mut f);
    assert_eq!(r.request, id);
    assert!(r.succeeded, "{r:?}");
    assert_eq!(r.delegate, vec![DeviceId::new("fence1")]);
    assert!(node1.killed(), "node1's process was killed");
    assert!(node2.child.try_wait().unwrap().is_none(), "node2 untouched");
    let log = requests(dir.path());
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(
        log[0],
        format!(
            "action=off nodename=node1 port=node1 state_dir={}",
            dir.path().display()
        )
    );
    let h: Vec<_> = f.history().collect();
    assert_eq!(
        (h.len(), h[0].state, h[0].target.as_str()),
        (1, HistoryState::Done, "node1")
    );
    assert_eq!(h[0].delegate, vec![DeviceId::new("fence1")]);
    assert!(h[0].completed_at.is_some());

    // status: off, then on again after "on"; node2 is on; unknown nodes are an error.
    let dev = DeviceId::new("fence1");
    f.device_action(&dev, FenceAction::Status, Some("node1")).unwrap();
    assert_eq!(wait(&mut f).rc(), Some(2));
    f.fence("node1", FenceAction::On).unwrap();
    assert!(wait(&mut f).succeeded);
    f.device_action(&dev, FenceAction::Status, Some("node1")).unwrap();
    let r = wait(&mut f);
    assert_eq!((r.rc(), r.succeeded), (Some(0), true));
    f.device_action(&dev, FenceAction::Status, Some("node9")).unwrap();
    let r = wait(&mut f);
    assert_eq!((r.rc(), r.succeeded), (Some(1), false));
    // list and monitor
    f.device_action(&dev, FenceAction::List, None).unwrap();
    let r = wait(&mut f);
    assert!(r.succeeded);
    assert_eq!(fencer::parse_list(r.output()), vec!["node1", "node2"]);
    f.device_action(&dev, FenceAction::Monitor, None).unwrap();
    assert!(wait(&mut f).succeeded);
    // reboot kills node2's processes too
    f.fence("node2", FenceAction::Reboot).unwrap();
    assert!(wait(&mut f).succeeded);
    assert!(node2.killed());
    assert_eq!(f.history().count(), 3);
}

#[test]
fn host_map_translates_node_names() {
    let dir = tempfile::tempdir().unwrap();
    let mut n1 = FakeNode::new(dir.path(), "port-a");
    let mut f = fencer();
    f.register_device(device(
        "fence1",
        dir.path(),
        &[
            ("pcmk_host_map", "node1:port-a;node2=port-b"),
            ("pcmk_host_argument", "plug"),
        ],
    ));
    f.fence("node1", FenceAction::Off).unwrap();
    let r = wait(&mut f);
    assert!(r.succeeded, "{r:?}");
    assert!(n1.killed());
    let log = requests(dir.path());
    assert!(log[0].contains("nodename=node1 plug=port-a"), "{log:?}");
    // A node outside the static list/map is not fenced by this device.
    f.fence("node3", FenceAction::Off).unwrap();
    let r = wait(&mut f);
    assert!(!r.succeeded);
    assert!(r.reason.as_deref().unwrap().contains("cannot fence node3"), "{r:?}");
    assert_eq!(requests(dir.path()).len(), 1, "the agent was not asked");
}

#[test]
fn dynamic_list_and_status_host_checks() {
    let dir = tempfile::tempdir().unwrap();
    let mut n1 = FakeNode::new(dir.path(), "node1");
    let mut f = fencer();
    f.register_device(device("dyn", dir.path(), &[]));
    f.fence("node2", FenceAction::Off).unwrap();
    let r = wait(&mut f);
    assert!(!r.succeeded, "node2 is not in the list: {r:?}");
    // No pcmk_host_check and no list: the metadata says the agent can list, so it lists.
    assert_eq!(
        r.attempts.iter().map(|a| a.action).collect::<Vec<_>>(),
        vec![FenceAction::Metadata, FenceAction::List]
    );
    f.fence("node1", FenceAction::Off).unwrap();
    let r = wait(&mut f);
    assert!(r.succeeded, "{r:?}");
    // The metadata and the list were cached: only the off ran.
    assert_eq!(
        r.attempts.iter().map(|a| a.action).collect::<Vec<_>>(),
        vec![FenceAction::Off]
    );
    assert!(n1.killed());

    let dir2 = tempfile::tempdir().unwrap();
    let mut n2 = FakeNode::new(dir2.path(), "node2");
    f.register_device(device("st", dir2.path(), &[("pcmk_host_check", "status")]));
    f.remove_device(&DeviceId::new("dyn"));
    f.fence("node2", FenceAction::Off).unwrap();
    let r = wait(&mut f);
    assert!(r.succeeded, "{r:?}");
    assert_eq!(
        r.attempts.iter().map(|a| a.action).collect::<Vec<_>>(),
        vec![FenceAction::Status, FenceAction::Off]
    );
    assert!(n2.killed());
}

#[test]
fn failing_first_level_falls_through_to_the_second() {
    let dir = tempfile::tempdir().unwrap();
    let mut n1 = FakeNode::new(dir.path(), "node1");
    let mut f = fencer();
    f.register_device(device(
        "bad",
        dir.path(),
        &[("pcmk_host_list", "node1"), ("mode", "fail")],
    ));
    f.register_device(device("good", dir.path(), &[("pcmk_host_list", "node1")]));
    f.set_topology(
        "node1",
        vec![
            Level {
                index: 2,
                devices: vec![DeviceId::new("good")],
            },
            Level {
                index: 1,
                devices: vec![DeviceId::new("bad")],
            },
        ],
    )
    .unwrap();
    f.fence("node1", FenceAction::Off).unwrap();
    let r = wait(&mut f);
    assert!(r.succeeded, "{r:?}");
    assert_eq!(r.delegate, vec![DeviceId::new("good")]);
    // bad: 1 try + 2 retries (pcmk_off_retries defaults to 2), then good once.
    let devs: Vec<_> = r.attempts.iter().map(|a| a.device.as_str()).collect();
    assert_eq!(devs, vec!["bad", "bad", "bad", "good"]);
    let log = requests(dir.path());
    assert_eq!(log.iter().filter(|l| l.contains("mode=fail")).count(), 3, "{log:?}");
    assert!(n1.killed());
    assert_eq!(f.history().last().unwrap().delegate, vec![DeviceId::new("good")]);
}

#[test]
fn all_levels_failing_is_reported_and_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let n1 = FakeNode::new(dir.path(), "node1");
    let mut f = fencer();
    f.register_device(device(
        "bad",
        dir.path(),
        &[("pcmk_host_list", "node1"), ("mode", "fail"), ("pcmk_off_retries", "0")],
    ));
    f.set_topology(
        "node1",
        vec![
            Level {
                index: 1,
                devices: vec![DeviceId::new("bad")],
            },
            Level {
                index: 2,
                devices: vec![DeviceId::new("missing")],
            },
        ],
    )
    .unwrap();
    f.fence("node1", FenceAction::Off).unwrap();
    let r = wait(&mut f);
    assert!(!r.succeeded);
    let reason = r.reason.unwrap();
    assert!(reason.contains("failing off of node1 as asked"), "{reason}");
    assert!(reason.contains("device missing is not registered"), "{reason}");
    assert_eq!(f.history().last().unwrap().state, HistoryState::Failed);
    drop(n1);
}

#[test]
fn multi_device_level_reboot_is_off_then_on() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = FakeNode::new(d1.path(), "node1");
    let mut b = FakeNode::new(d2.path(), "node1");
    let mut f = fencer();
    f.register_device(device("psu1", d1.path(), &[("pcmk_host_list", "node1")]));
    f.register_device(device("psu2", d2.path(), &[("pcmk_host_list", "node1")]));
    f.set_topology(
        "node1",
        vec![Level {
            index: 1,
            devices: vec![DeviceId::new("psu1"), DeviceId::new("psu2")],
        }],
    )
    .unwrap();
    f.fence("node1", FenceAction::Reboot).unwrap();
    let r = wait(&mut f);
    assert!(r.succeeded, "{r:?}");
    let steps: Vec<_> = r.attempts.iter().map(|x| (x.device.as_str(), x.action)).collect();
    assert_eq!(
        steps,
        vec![
            ("psu1", FenceAction::Off),
            ("psu2", FenceAction::Off),
            ("psu1", FenceAction::On),
            ("psu2", FenceAction::On)
        ]
    );
    assert!(a.killed() && b.killed());
}

#[test]
fn timed_out_agent_is_killed() {
    let dir = tempfile::tempdir().unwrap();
    let _n1 = FakeNode::new(dir.path(), "node1");
    let mut f = fencer();
    f.register_device(device(
        "hang",
        dir.path(),
        &[
            ("pcmk_host_list", "node1"),
            ("mode", "hang"),
            ("pcmk_off_timeout", "1s"),
        ],
    ));
    let t0 = Instant::now();
    f.fence("node1", FenceAction::Off).unwrap();
    let r = wait(&mut f);
    assert!(!r.succeeded);
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    // The timeout used up the time: no retry.
    assert_eq!(r.attempts.len(), 1, "{r:?}");
    assert!(r.attempts[0].timed_out);
    assert!(r.reason.as_deref().unwrap().contains("timed out"), "{r:?}");
    let pid: u32 = std::fs::read_to_string(dir.path().join("agent.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "agent {pid} still running"
    );
}

#[test]
fn delay_base_delays_fencing_but_not_status() {
    let dir = tempfile::tempdir().unwrap();
    let mut n1 = FakeNode::new(dir.path(), "node1");
    let mut f = fencer();
    f.register_device(device(
        "slow",
        dir.path(),
        &[("pcmk_host_list", "node1"), ("pcmk_delay_base", "1s")],
    ));
    let t0 = Instant::now();
    f.device_action(&DeviceId::new("slow"), FenceAction::Status, Some("node1"))
        .unwrap();
    assert!(wait(&mut f).succeeded);
    assert!(t0.elapsed() < Duration::from_secs(1));
    let t0 = Instant::now();
    f.fence("node1", FenceAction::Off).unwrap();
    let r = wait(&mut f);
    assert!(r.succeeded);
    assert!(t0.elapsed() >= Duration::from_secs(1));
    assert_eq!(r.attempts[0].delay, Duration::from_secs(1));
    assert!(n1.killed());
}

#[test]
fn metadata_parses_as_xml() {
    let mut f = fencer();
    let dir = tempfile::tempdir().unwrap();
    f.register_device(device("t", dir.path(), &[]));
    let mut agents = vec![DeviceId::new("t")];
    if Path::new("/usr/sbin/fence_dummy").exists() {
        f.register_device(Device::new(DeviceId::new("dummy"), "fence_dummy", BTreeMap::new()).unwrap());
        agents.push(DeviceId::new("dummy"));
    }
    for dev in agents {
        f.device_action(&dev, FenceAction::Metadata, None).unwrap();
        let r = wait(&mut f);
        assert!(r.succeeded, "{r:?}");
        let doc = roxmltree::Document::parse(r.output()).unwrap();
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "resource-agent");
        let actions: Vec<_> = root
            .descendants()
            .filter(|n| n.has_tag_name("action"))
            .filter_map(|n| n.attribute("name"))
            .collect();
        assert!(
            actions.contains(&"off") && actions.contains(&"status"),
            "{dev}: {actions:?}"
        );
    }
}

#[test]
fn fence_agents_fence_dummy() {
    if !Path::new("/usr/sbin/fence_dummy").exists() {
        eprintln!("skipped: fence-agents' fence_dummy is not installed");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let status_file = dir.path().join("status");
    std::fs::write(&status_file, "on").unwrap();
    // No pcmk_host_check: chosen from fence_dummy's metadata.
    let params: BTreeMap<String, String> = [("type", "file"), ("pcmk_host_argument", "none")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain([("status_file".to_string(), status_file.to_string_lossy().into_owned())])
        .collect();
    let mut f = fencer();
    f.register_device(Device::new(DeviceId::new("dummy"), "fence_dummy", params).unwrap());
    let dev = DeviceId::new("dummy");
    f.device_action(&dev, FenceAction::Status, Some("node1")).unwrap();
    assert_eq!(wait(&mut f).rc(), Some(0));
    f.fence("node1", FenceAction::Off).unwrap();
    let r = wait(&mut f);
    assert!(r.succeeded, "{r:?}");
    // fence_dummy's metadata has status but no list: the status host check is used.
    assert_eq!(
        r.attempts.iter().map(|a| a.action).collect::<Vec<_>>(),
        vec![FenceAction::Metadata, FenceAction::Status, FenceAction::Off]
    );
    assert_eq!(std::fs::read_to_string(&status_file).unwrap(), "off");
    f.device_action(&dev, FenceAction::Status, Some("node1")).unwrap();
    assert_eq!(wait(&mut f).rc(), Some(2));
    f.device_action(&dev, FenceAction::Monitor, None).unwrap();
    assert!(wait(&mut f).succeeded);
    f.fence("node1", FenceAction::On).unwrap();
    assert!(wait(&mut f).succeeded);
    assert_eq!(std::fs::read_to_string(&status_file).unwrap(), "on");
}

#[test]
fn no_device_and_request_limit() {
    let mut f = Fencer::new(FencerConfig {
        max_requests: 1,
        ..FencerConfig::default()
    });
    f.fence("node1", FenceAction::Reboot).unwrap();
    // One request in progress (until its result is collected): the next is refused.
    assert!(matches!(
        f.fence("node2", FenceAction::Off),
        Err(fencer::Error::TooManyRequests(1))
    ));
    let r = wait(&mut f);
    assert!(!r.succeeded);
    assert_eq!(r.reason.as_deref(), Some("no fence device is configured for node1"));
    assert!(r.attempts.is_empty());
    assert!(f.fence("node2", FenceAction::Off).is_ok());
    assert!(matches!(
        f.device_action(&DeviceId::new("nope"), FenceAction::Status, None),
        Err(fencer::Error::UnknownDevice(_))
    ));
}

#[test]
fn history_is_bounded() {
    let mut f = Fencer::new(FencerConfig {
        history_limit: 3,
        ..FencerConfig::default()
    });
    for i in 0..5 {
        f.fence(&format!("node{i}"), FenceAction::Off).unwrap();
        wait(&mut f);
    }
    let targets: Vec<_> = f.history().map(|h| h.target.clone()).collect();
    assert_eq!(targets, vec!["node2", "node3", "node4"]);
    assert!(f.history().all(|h| h.state == HistoryState::Failed));
}

//! The controller's agent requests on the `executor` and `fencer` crates: an
//! [`ExecRequest`] becomes an [`executor::OpRequest`] (its [`ExecKey`] kept against the
//! executor's call id), a [`FenceRequest`] a [`fencer::Fencer::fence`] call; their
//! results come back as [`Done`]. Fence devices themselves (`class="stonith"`) are run
//! through the fencer, as Pacemaker's executor does for stonith resources: a start
//! runs the device's `monitor` action and makes the device usable here, a recurring
//! monitor runs it every interval (reporting the first result and then changes), a
//! probe or a stop only looks at or changes whether it is started here.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::time::Duration;
use std::time::Instant;

use crmd::ops::{ExecKey, ExecRequest, ExecResult, ExecStatus, FenceAction, FenceKey, FenceOutcome, FenceRequest};
use executor::{Action, Agent, CallId, Executor, OpRequest, ResourceId};
use fencer::{Device, DeviceId, Fencer, Level};
use tracing::{debug, info, warn};

use crate::config::FencingConfig;

/// OCF exit codes used for results made here.
const OCF_OK: i32 = 0;
const OCF_ERR_GENERIC: i32 = 1;
const OCF_ERR_UNIMPLEMENTED: i32 = 3;
const OCF_ERR_INSTALLED: i32 = 5;
const OCF_NOT_RUNNING: i32 = 7;

/// A finished request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Done {
    Exec(ExecResult),
    Fence(FenceOutcome),
}

/// What a device check is for.
#[derive(Debug, Clone)]
struct DeviceCheck {
    key: ExecKey,
    rsc: String,
    start: bool,
}

#[derive(Debug, Clone)]
struct DeviceMonitor {
    rsc: String,
    interval: Duration,
    next: Instant,
    last_rc: Option<i32>,
    in_flight: bool,
}

/// The executor and the fencer, as the controller's host uses them.
pub struct Agents {
    executor: Executor,
    fencer: Fencer,
    calls: HashMap<CallId, ExecKey>,
    keys: HashMap<ExecKey, CallId>,
    fences: HashMap<fencer::RequestId, FenceKey>,
    /// Results made without running anything, reported at the next poll.
    immediate: VecDeque<Done>,
    /// Fence devices started here.
    devices_started: BTreeSet<String>,
    /// Device `monitor` actions running in the fencer, for a start or a recurring monitor.
    device_checks: HashMap<fencer::RequestId, DeviceCheck>,
    /// Recurring monitors of fence devices.
    device_monitors: BTreeMap<ExecKey, DeviceMonitor>,
    registered: FencingConfig,
    /// The fencing timeout when the CIB sets no `stonith-timeout` (`--stonith-timeout`).
    stonith_timeout: Duration,
    /// Operations beyond the executor's limit, started in order as others finish.
    waiting: VecDeque<ExecRequest>,
    max_operations: usize,
}

/// Most operations waiting for the executor; beyond, a request fails at once.
pub const WAITING_MAX: usize = 4096;

fn status(s: executor::ExecStatus) -> ExecStatus {
    match s {
        executor::ExecStatus::Done => ExecStatus::Done,
        executor::ExecStatus::Cancelled => ExecStatus::Cancelled,
        executor::ExecStatus::TimedOut => ExecStatus::Timeout,
        executor::ExecStatus::NotSupported => ExecStatus::NotSupported,
        executor::ExecStatus::Error => ExecStatus::Error,
        executor::ExecStatus::NotInstalled => ExecStatus::NotInstalled,
    }
}

fn made(key: ExecKey, rc: i32, status: ExecStatus, reason: Option<String>) -> Done {
    Done::Exec(ExecResult {
        key,
        rc,
        status,
        exit_reason: reason,
        exec_ms: 0,
        queue_ms: 0,
    })
}

/// The executor's form of a request, or why there is none.
pub fn op_request(req: &ExecRequest) -> Result<OpRequest, (i32, ExecStatus, String)> {
    let agent = match (req.agent.class.as_str(), &req.agent.provider) {
        ("ocf", Some(p)) => Agent::ocf(p.clone(), req.agent.kind.clone()),
        ("ocf", None) => {
            return Err((
                OCF_ERR_INSTALLED,
                ExecStatus::NotInstalled,
                format!("{}: an OCF agent needs a provider", req.agent),
            ))
        }
        ("lsb", _) => Agent::Lsb {
            script: req.agent.kind.clone(),
        },
        ("systemd", _) => Agent::Systemd {
            unit: req.agent.kind.clone(),
        },
        (class, _) => {
            return Err((
                OCF_ERR_INSTALLED,
                ExecStatus::NotSupported,
                format!("class '{class}' is not supported"),
            ))
        }
    };
    let action = Action::parse(&req.task).ok_or_else(|| {
        (
            OCF_ERR_UNIMPLEMENTED,
            ExecStatus::NotSupported,
            format!("unknown action '{}'", req.task),
        )
    })?;
    Ok(OpRequest {
        resource: ResourceId::new(req.rsc.clone()),
        agent,
        action,
        interval: Duration::from_millis(req.interval_ms),
        timeout: Duration::from_millis(req.timeout_ms.max(1)),
        params: req.params.clone(),
        meta: req.meta.clone(),
    })
}

fn fence_action(a: FenceAction) -> fencer::FenceAction {
    match a {
        FenceAction::Reboot => fencer::FenceAction::Reboot,
        FenceAction::Off => fencer::FenceAction::Off,
        FenceAction::On => fencer::FenceAction::On,
    }
}

impl Agents {
    /// Both run their work in threads; `wake` is called from those threads when a
    /// result is ready.
    pub fn new(
        exec_config: executor::ExecutorConfig,
        fence_config: fencer::FencerConfig,
        wake: impl Fn() + Send + Sync + Clone + 'static,
    ) -> Agents {
        let max_operations = exec_config.max_operations;
        let mut executor = Executor::new(exec_config);
        executor.set_waker(wake.clone());
        let stonith_timeout = fence_config.default_timeout;
        let mut fencer = Fencer::new(fence_config);
        fencer.set_waker(wake);
        Agents {
            executor,
            fencer,
            calls: HashMap::new(),
            keys: HashMap::new(),
            fences: HashMap::new(),
            immediate: VecDeque::new(),
            devices_started: BTreeSet::new(),
            device_checks: HashMap::new(),
            device_monitors: BTreeMap::new(),
            registered: FencingConfig::default(),
            stonith_timeout,
            waiting: VecDeque::new(),
            max_operations,
        }
    }

    /// Whether results made here are waiting (poll again without sleeping).
    pub fn has_immediate(&self) -> bool {
        !self.immediate.is_empty()
    }

    pub fn execute(&mut self, req: &ExecRequest) {
        debug!(rsc = %req.rsc, task = %req.task, interval = req.interval_ms, key = %req.key, "execute");
        if req.agent.class == "stonith" {
            self.device_op(req);
            return;
        }
        if !self.waiting.is_empty() || self.executor_full() {
            if self.waiting.len() < WAITING_MAX {
                info!(rsc = %req.rsc, task = %req.task, waiting = self.waiting.len() + 1, "the executor is at its limit: queued");
                self.waiting.push_back(req.clone());
            } else {
                warn!(rsc = %req.rsc, task = %req.task, "cannot run: too many operations waiting");
                let why = format!("too many operations waiting ({WAITING_MAX})");
                self.immediate
                    .push_back(made(req.key, OCF_ERR_GENERIC, ExecStatus::Error, Some(why)));
            }
            return;
        }
        self.run(req);
    }

    fn executor_full(&self) -> bool {
        self.executor.calls_in_progress().count() >= self.max_operations
    }

    /// Starts waiting operations while the executor has room.
    fn start_waiting(&mut self) {
        while !self.waiting.is_empty() && !self.executor_full() {
            let req = self.waiting.pop_front().expect("not empty");
            self.run(&req);
        }
    }

    fn run(&mut self, req: &ExecRequest) {
        let op = match op_request(req) {
            Ok(op) => op,
            Err((rc, st, why)) => {
                warn!(rsc = %req.rsc, task = %req.task, why, "cannot run");
                self.immediate.push_back(made(req.key, rc, st, Some(why)));
                return;
            }
        };
        match self.executor.execute(op) {
            Ok(call) => {
                self.calls.insert(call, req.key);
                self.keys.insert(req.key, call);
            }
            Err(e) => {
                warn!(rsc = %req.rsc, task = %req.task, error = %e, "cannot run");
                let (rc, st) = match e {
                    executor::Error::Unsupported { .. } => (OCF_ERR_UNIMPLEMENTED, ExecStatus::NotSupported),
                    executor::Error::InvalidName(_) => (OCF_ERR_INSTALLED, ExecStatus::NotInstalled),
                    _ => (OCF_ERR_GENERIC, ExecStatus::Error),
                };
                self.immediate.push_back(made(req.key, rc, st, Some(e.to_string())));
            }
        }
    }

    /// A fence device's start, stop or monitor.
    fn device_op(&mut self, req: &ExecRequest) {
        let rc = match (req.task.as_str(), req.interval_ms) {
            ("start", _) => {
                if !self.registered.devices.contains_key(&req.rsc) {
                    self.immediate.push_back(made(
                        req.key,
                        OCF_ERR_INSTALLED,
                        ExecStatus::Error,
                        Some(format!("fence device {} is not configured", req.rsc)),
                    ));
                    return;
                }
                self.device_check(req.key, &req.rsc, true);
                return;
            }
            ("stop", _) => {
                self.devices_started.remove(&req.rsc);
                OCF_OK
            }
            ("monitor", 0) => {
                if self.devices_started.contains(&req.rsc) {
                    OCF_OK
                } else {
                    OCF_NOT_RUNNING
                }
            }
            ("monitor", interval) => {
                if !self.devices_started.contains(&req.rsc) {
                    OCF_NOT_RUNNING
                } else {
                    self.device_monitors.insert(
                        req.key,
                        DeviceMonitor {
                            rsc: req.rsc.clone(),
                            interval: Duration::from_millis(interval),
                            next: Instant::now(),
                            last_rc: None,
                            in_flight: false,
                        },
                    );
                    self.on_timer(Instant::now());
                    return;
                }
            }
            _ => {
                self.immediate.push_back(made(
                    req.key,
                    OCF_ERR_UNIMPLEMENTED,
                    ExecStatus::NotSupported,
                    Some(format!("fence devices do not {}", req.task)),
                ));
                return;
            }
        };
        self.immediate.push_back(made(req.key, rc, ExecStatus::Done, None));
    }

    /// Runs device `rsc`'s monitor action in the fencer.
    fn device_check(&mut self, key: ExecKey, rsc: &str, start: bool) -> bool {
        match self
            .fencer
            .device_action(&DeviceId::new(rsc.to_string()), fencer::FenceAction::Monitor, None)
        {
            Ok(id) => {
                self.device_checks.insert(
                    id,
                    DeviceCheck {
                        key,
                        rsc: rsc.to_string(),
                        start,
                    },
                );
                true
            }
            Err(e) => {
                warn!(device = rsc, error = %e, "cannot check the fence device");
                let d = made(key, OCF_ERR_GENERIC, ExecStatus::Error, Some(e.to_string()));
                self.device_result(start, rsc, d);
                false
            }
        }
    }

    /// A device check's result: a start's, or a recurring monitor's (reported when it
    /// changed).
    fn device_result(&mut self, start: bool, rsc: &str, d: Done) {
        let Done::Exec(r) = &d else { return };
        if start {
            if r.rc == OCF_OK {
                self.devices_started.insert(rsc.to_string());
            }
            self.immediate.push_back(d);
            return;
        }
        let Some(m) = self.device_monitors.get_mut(&r.key) else {
            return; // cancelled meanwhile
        };
        m.in_flight = false;
        if m.last_rc != Some(r.rc) {
            m.last_rc = Some(r.rc);
            self.immediate.push_back(d);
        }
    }

    /// When a recurring device monitor is due next.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.device_monitors
            .values()
            .filter(|m| !m.in_flight)
            .map(|m| m.next)
            .min()
    }

    /// Runs the recurring device monitors due by `now`.
    pub fn on_timer(&mut self, now: Instant) {
        let due: Vec<(ExecKey, String)> = self
            .device_monitors
            .iter()
            .filter(|(_, m)| !m.in_flight && m.next <= now)
            .map(|(k, m)| (*k, m.rsc.clone()))
            .collect();
        for (key, rsc) in due {
            if let Some(m) = self.device_monitors.get_mut(&key) {
                m.in_flight = true;
                m.next = now + m.interval;
            }
            self.device_check(key, &rsc, false);
        }
    }

    /// Stops a recurring operation; no result is reported for it any more.
    pub fn cancel(&mut self, key: ExecKey) {
        self.device_monitors.remove(&key);
        self.waiting.retain(|r| r.key != key);
        if let Some(call) = self.keys.remove(&key) {
            self.calls.remove(&call);
            if let Err(e) = self.executor.cancel(call) {
                debug!(%key, error = %e, "cancel");
            }
        }
    }

    pub fn fence(&mut self, req: &FenceRequest) {
        info!(target = %req.target, action = req.action.as_str(), "fencing requested");
        match self.fencer.fence(&req.target, fence_action(req.action)) {
            Ok(id) => {
                self.fences.insert(id, req.key);
            }
            Err(e) => {
                warn!(target = %req.target, error = %e, "cannot fence");
                self.immediate.push_back(Done::Fence(FenceOutcome {
                    key: req.key,
                    result: Err(e.to_string()),
                }));
            }
        }
    }

    /// The next finished request, if any (never blocks).
    pub fn poll(&mut self) -> Option<Done> {
        self.start_waiting();
        if let Some(d) = self.immediate.pop_front() {
            return Some(d);
        }
        while let Some(r) = self.executor.try_next() {
            let Some(&key) = self.calls.get(&r.call_id) else {
                // A cancelled call's last words.
                continue;
            };
            if r.last {
                self.calls.remove(&r.call_id);
                self.keys.remove(&key);
            }
            debug!(rsc = %r.resource, action = %r.action, rc = r.rc.code(), status = ?r.status, "result");
            return Some(Done::Exec(ExecResult {
                key,
                rc: r.rc.code(),
                status: status(r.status),
                exit_reason: r.exit_reason,
                exec_ms: r.exec_time.as_millis() as u64,
                queue_ms: r.queue_time.as_millis() as u64,
            }));
        }
        while let Some(r) = self.fencer.try_next() {
            if let Some(check) = self.device_checks.remove(&r.request) {
                let d = if r.succeeded {
                    made(check.key, OCF_OK, ExecStatus::Done, None)
                } else {
                    let why = r.reason.clone().unwrap_or_else(|| "the device's monitor failed".into());
                    warn!(device = %check.rsc, why, "fence device check failed");
                    made(check.key, OCF_ERR_GENERIC, ExecStatus::Done, Some(why))
                };
                self.device_result(check.start, &check.rsc, d);
                if let Some(d) = self.immediate.pop_front() {
                    return Some(d);
                }
                continue;
            }
            let Some(key) = self.fences.remove(&r.request) else {
                continue;
            };
            let result = if r.succeeded {
                info!(target = ?r.target, action = %r.action, "fenced");
                Ok(())
            } else {
                let why = r.reason.clone().unwrap_or_else(|| "fencing failed".into());
                warn!(target = ?r.target, action = %r.action, why, "fencing failed");
                Err(why)
            };
            return Some(Done::Fence(FenceOutcome { key, result }));
        }
        None
    }

    /// Registers the devices and topology of `cfg`, replacing what changed.
    pub fn set_fencing(&mut self, cfg: &FencingConfig) {
        if *cfg == self.registered {
            return;
        }
        let timeout = cfg.timeout.unwrap_or(self.stonith_timeout);
        info!(?timeout, "stonith-timeout");
        self.fencer.set_default_timeout(timeout);
        for id in self.registered.devices.keys() {
            if !cfg.devices.contains_key(id) {
                info!(device = %id, "fence device removed");
                self.fencer.remove_device(&DeviceId::new(id.clone()));
            }
        }
        for (id, d) in &cfg.devices {
            if self.registered.devices.get(id) == Some(d) {
                continue;
            }
            match Device::new(DeviceId::new(id.clone()), d.agent.clone(), d.params.clone()) {
                Ok(dev) => {
                    info!(device = %id, agent = %d.agent, "fence device registered");
                    self.fencer.register_device(dev);
                }
                Err(e) => {
                    warn!(device = %id, error = %e, "fence device refused");
                    self.fencer.remove_device(&DeviceId::new(id.clone()));
                }
            }
        }
        for target in self.registered.topology.keys() {
            if !cfg.topology.contains_key(target) {
                self.fencer.clear_topology(target);
            }
        }
        for (target, levels) in &cfg.topology {
            let levels: Vec<Level> = levels
                .iter()
                .map(|(index, devices)| Level {
                    index: *index,
                    devices: devices.iter().map(|d| DeviceId::new(d.clone())).collect(),
                })
                .collect();
            match self.fencer.set_topology(target, levels) {
                Ok(()) => {}
                Err(e) => {
                    warn!(target = %target, error = %e, "fencing topology refused");
                    self.fencer.clear_topology(target);
                }
            }
        }
        // Refused entries are remembered too: tried again only when they change.
        self.registered = cfg.clone();
    }

    /// Calls in progress (for status).
    pub fn calls_in_progress(&self) -> usize {
        self.calls.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DeviceConfig;
    use crmd::ops::AgentSpec;
    use std::collections::BTreeMap;

    fn req(class: &str, provider: Option<&str>, kind: &str, task: &str) -> ExecRequest {
        ExecRequest {
            key: ExecKey(1),
            rsc: "r".into(),
            agent: AgentSpec {
                class: class.into(),
                provider: provider.map(str::to_string),
                kind: kind.into(),
            },
            task: task.into(),
            interval_ms: 10_000,
            timeout_ms: 20_000,
            params: BTreeMap::from([("state".to_string(), "/x".to_string())]),
            meta: BTreeMap::from([("on_node".to_string(), "n1".to_string())]),
        }
    }

    #[test]
    fn requests_map_to_the_executor() {
        let op = op_request(&req("ocf", Some("pacemaker"), "Dummy", "monitor")).unwrap();
        assert_eq!(op.agent, Agent::ocf("pacemaker", "Dummy"));
        assert_eq!(op.action, Action::Monitor);
        assert_eq!(op.interval, Duration::from_secs(10));
        assert_eq!(op.timeout, Duration::from_secs(20));
        assert_eq!(op.params["state"], "/x");
        assert_eq!(op.meta["on_node"], "n1");
        assert!(matches!(
            op_request(&req("lsb", None, "ssh", "start")).unwrap().agent,
            Agent::Lsb { .. }
        ));
        assert!(matches!(
            op_request(&req("systemd", None, "x", "stop")).unwrap().agent,
            Agent::Systemd { .. }
        ));
        assert_eq!(op_request(&req("ocf", None, "Dummy", "start")).unwrap_err().0, 5);
        assert_eq!(
            op_request(&req("nagios", None, "x", "start")).unwrap_err().1,
            ExecStatus::NotSupported
        );
        assert_eq!(op_request(&req("ocf", Some("p"), "D", "dance")).unwrap_err().0, 3);
    }

    fn agents() -> Agents {
        let fence = fencer::FencerConfig {
            agent_dir: std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fencer/agents"),
            ..Default::default()
        };
        Agents::new(Default::default(), fence, || {})
    }

    /// An OCF root with agent `test:Sleepy`: `start` sleeps 0.3 s and logs its start
    /// and end into `$OCF_RESKEY_log`.
    fn sleepy_root(dir: &std::path::Path) -> std::path::PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let agent = dir.join("resource.d/test/Sleepy");
        std::fs::create_dir_all(agent.parent().unwrap()).unwrap();
        std::fs::write(
            &agent,
            "#!/bin/sh\necho \"begin $OCF_RESOURCE_INSTANCE\" >> \"$OCF_RESKEY_log\"\nsleep 0.3\necho \"end $OCF_RESOURCE_INSTANCE\" >> \"$OCF_RESKEY_log\"\nexit 0\n",
        )
        .unwrap();
        std::fs::set_permissions(&agent, std::fs::Permissions::from_mode(0o755)).unwrap();
        dir.to_path_buf()
    }

    #[test]
    fn operations_beyond_the_limit_wait_their_turn() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let exec = executor::ExecutorConfig {
            ocf_root: sleepy_root(dir.path()),
            max_operations: 1,
            ..Default::default()
        };
        let mut a = Agents::new(exec, fencer::FencerConfig::default(), || {});
        let op = |key: u64, rsc: &str| ExecRequest {
            key: ExecKey(key),
            rsc: rsc.into(),
            interval_ms: 0,
            params: BTreeMap::from([("log".to_string(), log.display().to_string())]),
            meta: BTreeMap::new(),
            ..req("ocf", Some("test"), "Sleepy", "start")
        };
        a.execute(&op(1, "a"));
        a.execute(&op(2, "b"));
        a.execute(&op(3, "c"));
        a.cancel(ExecKey(3));
        let mut done = Vec::new();
        for _ in 0..2 {
            match next(&mut a) {
                Done::Exec(r) => done.push((r.key, r.rc)),
                Done::Fence(f) => panic!("{f:?}"),
            }
        }
        assert_eq!(done, vec![(ExecKey(1), 0), (ExecKey(2), 0)]);
        std::thread::sleep(Duration::from_millis(500));
        assert!(a.poll().is_none(), "the cancelled one never ran");
        // One at a time: b began after a ended.
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            "begin a\nend a\nbegin b\nend b\n"
        );
    }

    fn next(a: &mut Agents) -> Done {
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            a.on_timer(Instant::now());
            if let Some(d) = a.poll() {
                return d;
            }
            assert!(Instant::now() < end, "no result");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn rc(d: Done) -> i32 {
        match d {
            Done::Exec(r) => r.rc,
            Done::Fence(f) => panic!("{f:?}"),
        }
    }

    #[test]
    fn fence_devices_run_through_the_fencer() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir(&state).unwrap();
        let mut a = agents();
        let mut probe = req("stonith", None, "fence_ferrosync_test", "monitor");
        probe.interval_ms = 0;
        a.execute(&probe);
        assert_eq!(rc(next(&mut a)), OCF_NOT_RUNNING);
        // Not configured: the start fails.
        a.execute(&req("stonith", None, "fence_ferrosync_test", "start"));
        assert_eq!(rc(next(&mut a)), OCF_ERR_INSTALLED);
        let mut cfg = FencingConfig::default();
        cfg.devices.insert(
            "r".into(),
            DeviceConfig {
                agent: "fence_ferrosync_test".into(),
                params: BTreeMap::from([
                    ("pcmk_host_list".to_string(), "n1".to_string()),
                    ("state_dir".to_string(), state.display().to_string()),
                ]),
            },
        );
        a.set_fencing(&cfg);
        a.execute(&req("stonith", None, "fence_ferrosync_test", "start"));
        assert_eq!(rc(next(&mut a)), OCF_OK);
        a.execute(&probe);
        assert_eq!(rc(next(&mut a)), OCF_OK);
        // A recurring monitor reports its first result, then only a change.
        let mut monitor = req("stonith", None, "fence_ferrosync_test", "monitor");
        monitor.key = ExecKey(7);
        monitor.interval_ms = 50;
        a.execute(&monitor);
        let Done::Exec(first) = next(&mut a) else { panic!() };
        assert_eq!((first.key, first.rc), (ExecKey(7), OCF_OK));
        std::thread::sleep(Duration::from_millis(300));
        a.on_timer(Instant::now());
        assert!(a.poll().is_none(), "no change, no report");
        std::fs::remove_dir_all(&state).unwrap();
        let Done::Exec(failed) = next(&mut a) else { panic!() };
        assert_eq!((failed.key, failed.rc), (ExecKey(7), OCF_ERR_GENERIC));
        a.cancel(ExecKey(7));
        assert_eq!(a.next_deadline(), None);
        // No device can fence n9: the fencer reports failure.
        a.fence(&FenceRequest {
            key: FenceKey(4),
            target: "n9".into(),
            action: FenceAction::Reboot,
            timeout_ms: 1000,
        });
        let Done::Fence(o) = next(&mut a) else { panic!() };
        assert_eq!(o.key, FenceKey(4));
        assert!(o.result.is_err());
    }
}

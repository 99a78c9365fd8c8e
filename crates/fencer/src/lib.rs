//! The fencer's agent side, as Pacemaker's `pacemaker-fenced` runs fence agents: no CIB and no
//! cluster logic here, only "fence this node with these devices" done right.
//!
//! - Agents speak the fence-agents stdin protocol: `key=value` lines with `action=`, the target
//!   (`nodename=` and `port=`, or the `pcmk_host_argument`, with its `pcmk_host_map` alias) and
//!   the device parameters minus Pacemaker's own options ([`Device::agent_input`]).
//! - Which devices can fence a node: `pcmk_host_check` — static-list (`pcmk_host_list`,
//!   `pcmk_host_map`), dynamic-list (the agent's `list`, cached for `list_cache_ttl`), status
//!   (the agent's `status` exits 0 or 2) or none; by default static-list with a list or map,
//!   else chosen from the actions in the agent's metadata, as Pacemaker does.
//! - Delays (`pcmk_delay_base`, `pcmk_delay_max`) before off and reboot; per-action timeouts
//!   (`pcmk_<action>_timeout`, else the fencer's default) with SIGTERM then SIGKILL of the
//!   agent's process group; retries (`pcmk_<action>_retries`) while time remains.
//! - Topology: levels in index order; a level succeeds when every one of its devices does
//!   (a reboot by a level of several devices is done as off on each, then on on each, as
//!   Pacemaker does); without a topology for the target each capable device is tried in turn.
//! - A bounded history of fencing operations.
//!
//! Like the executor (whose process runner it uses: see `executor::process` for why each
//! operation gets a thread), it never blocks the caller: [`Fencer::fence`] and
//! [`Fencer::device_action`] return a [`RequestId`], results come out of [`Fencer::try_next`].

pub mod device;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use executor::process::{self, ControlChannel, ProcessSpec, Termination};

pub use device::{parse_duration, parse_host_map, Device, DeviceId, HostCheck};

/// A fence agent action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FenceAction {
    /// Power the target off.
    Off,
    /// Power the target on (also unfencing).
    On,
    /// Power cycle the target.
    Reboot,
    /// Power state of the target: exit 0 on, 2 off, 1 error.
    Status,
    /// Check the device works.
    Monitor,
    /// List the nodes (ports) the device controls.
    List,
    /// Print the agent's metadata XML.
    Metadata,
    /// Check the parameters.
    ValidateAll,
}

impl FenceAction {
    /// The protocol name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::On => "on",
            Self::Reboot => "reboot",
            Self::Status => "status",
            Self::Monitor => "monitor",
            Self::List => "list",
            Self::Metadata => "metadata",
            Self::ValidateAll => "validate-all",
        }
    }

    /// Off, on and reboot: the actions that take a node and go through topology.
    pub fn is_fencing(self) -> bool {
        matches!(self, Self::Off | Self::On | Self::Reboot)
    }
}

impl std::fmt::Display for FenceAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The fencer's id for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(u64);

impl RequestId {
    /// The number.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// One fencing topology level (`fencing-level`): all its devices must succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    /// Its index (1..=9); levels are tried in increasing order.
    pub index: u32,
    /// Its devices.
    pub devices: Vec<DeviceId>,
}

/// Settings.
#[derive(Debug, Clone)]
pub struct FencerConfig {
    /// Where agents named without a path are (Debian: `/usr/sbin`).
    pub agent_dir: PathBuf,
    /// Timeout of an action without `pcmk_<action>_timeout` (Pacemaker's `stonith-timeout`,
    /// default 60 s).
    pub default_timeout: Duration,
    /// Time between SIGTERM and SIGKILL of a timed-out agent.
    pub kill_grace: Duration,
    /// Bytes kept of an agent's stdout and of its stderr.
    pub output_limit: usize,
    /// Fencing operations kept in the history.
    pub history_limit: usize,
    /// Requests in progress at once.
    pub max_requests: usize,
    /// Capacity of the result queue.
    pub result_queue: usize,
    /// How long a device's `list` output is trusted (Pacemaker re-lists after 60 s).
    pub list_cache_ttl: Duration,
}

impl Default for FencerConfig {
    fn default() -> Self {
        Self {
            agent_dir: "/usr/sbin".into(),
            default_timeout: Duration::from_secs(60),
            kill_grace: Duration::from_secs(2),
            output_limit: 64 * 1024,
            history_limit: 500,
            max_requests: 32,
            result_queue: 64,
            list_cache_ttl: Duration::from_secs(60),
        }
    }
}

/// Errors of submission.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A malformed `pcmk_host_map`.
    #[error("invalid pcmk_host_map: {0}")]
    HostMap(String),
    /// A malformed option.
    #[error("invalid value '{value}' for {option}")]
    BadOption {
        /// the option
        option: String,
        /// its value
        value: String,
    },
    /// No such device.
    #[error("no fence device '{0}'")]
    UnknownDevice(DeviceId),
    /// `fence` takes off, on or reboot; status/list/… go to `device_action`.
    #[error("{0} is not a fencing action")]
    NotFencing(FenceAction),
    /// A topology level index outside 1..=9, or a repeated one.
    #[error("invalid topology level index {0}")]
    BadLevel(u32),
    /// Too many requests in progress.
    #[error("too many fencing requests in progress (limit {0})")]
    TooManyRequests(usize),
    /// The request thread could not be started.
    #[error("cannot start a fencing thread: {0}")]
    Thread(#[from] std::io::Error),
}

/// One run of one agent.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// The device.
    pub device: DeviceId,
    /// The action asked of it.
    pub action: FenceAction,
    /// Its exit code (`None` when it timed out or could not run).
    pub rc: Option<i32>,
    /// Whether it was killed for running out of time.
    pub timed_out: bool,
    /// The delay waited before it.
    pub delay: Duration,
    /// How long it ran.
    pub duration: Duration,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

impl Attempt {
    fn succeeded(&self) -> bool {
        match self.rc {
            Some(0) => true,
            // status: 2 means "off", a valid answer.
            Some(2) => self.action == FenceAction::Status,
            _ => false,
        }
    }
}

/// The result of a request.
#[derive(Debug, Clone)]
pub struct FenceResult {
    /// The request.
    pub request: RequestId,
    /// The action.
    pub action: FenceAction,
    /// The target node, if any.
    pub target: Option<String>,
    /// Whether it succeeded (for `status`: the agent answered on or off).
    pub succeeded: bool,
    /// For fencing: the devices of the level that did it; for a device action: the device.
    pub delegate: Vec<DeviceId>,
    /// Why it failed.
    pub reason: Option<String>,
    /// Every agent run, in order (capability checks included).
    pub attempts: Vec<Attempt>,
    /// Wall time of the whole request.
    pub duration: Duration,
}

impl FenceResult {
    /// The exit code of the last agent run (for `status`: 0 on, 2 off).
    pub fn rc(&self) -> Option<i32> {
        self.attempts.last().and_then(|a| a.rc)
    }

    /// The stdout of the last agent run (e.g. `list` or `metadata` output).
    pub fn output(&self) -> &str {
        self.attempts.last().map(|a| a.stdout.as_str()).unwrap_or("")
    }
}

/// State of a fencing operation in the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryState {
    /// In progress.
    Pending,
    /// Succeeded.
    Done,
    /// Failed.
    Failed,
}

/// One fencing operation, as `stonith_admin --history` shows it.
#[derive(Debug, Clone)]
pub struct HistoryEntry {
    /// The request.
    pub request: RequestId,
    /// The target.
    pub target: String,
    /// off, on or reboot.
    pub action: FenceAction,
    /// Its state.
    pub state: HistoryState,
    /// The devices that did it.
    pub delegate: Vec<DeviceId>,
    /// Why it failed.
    pub reason: Option<String>,
    /// When it was requested.
    pub requested_at: SystemTime,
    /// When it completed.
    pub completed_at: Option<SystemTime>,
}

type Waker = Arc<dyn Fn() + Send + Sync>;
type ListCache = Arc<Mutex<HashMap<DeviceId, (Instant, Vec<String>)>>>;
type MetadataCache = Arc<Mutex<HashMap<DeviceId, Vec<String>>>>;
/// A level as a request sees it: each device id with the device (`None`: not registered).
type PlannedLevel = Vec<(DeviceId, Option<Arc<Device>>)>;

/// Runs fence agents; see the crate documentation.
pub struct Fencer {
    config: Arc<FencerConfig>,
    devices: BTreeMap<DeviceId, Arc<Device>>,
    topology: BTreeMap<String, Vec<Level>>,
    history: VecDeque<HistoryEntry>,
    in_progress: usize,
    next_request: u64,
    list_cache: ListCache,
    metadata_cache: MetadataCache,
    tx: SyncSender<FenceResult>,
    rx: Receiver<FenceResult>,
    waker: Option<Waker>,
}

impl std::fmt::Debug for Fencer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fencer")
            .field("devices", &self.devices.keys().collect::<Vec<_>>())
            .field("topology", &self.topology)
            .field("in_progress", &self.in_progress)
            .finish_non_exhaustive()
    }
}

/// What a request thread does.
enum Plan {
    /// Try the levels in order.
    Fence {
        target: String,
        action: FenceAction,
        levels: Vec<PlannedLevel>,
    },
    /// One agent action on one device.
    Device {
        device: Arc<Device>,
        action: FenceAction,
        target: Option<String>,
    },
}

impl Fencer {
    /// A fencer with these settings.
    pub fn new(config: FencerConfig) -> Self {
        let (tx, rx) = mpsc::sync_channel(config.result_queue.max(1));
        Self {
            config: Arc::new(config),
            devices: BTreeMap::new(),
            topology: BTreeMap::new(),
            history: VecDeque::new(),
            in_progress: 0,
            next_request: 1,
            list_cache: Arc::default(),
            metadata_cache: Arc::default(),
            tx,
            rx,
            waker: None,
        }
    }

    /// Called (from a request thread) each time a result is queued.
    pub fn set_waker(&mut self, waker: impl Fn() + Send + Sync + 'static) {
        self.waker = Some(Arc::new(waker));
    }

    /// Registers (or replaces) a device.
    /// Changes the timeout of actions without `pcmk_<action>_timeout` (the CIB's
    /// `stonith-timeout`); requests in progress keep theirs.
    pub fn set_default_timeout(&mut self, timeout: Duration) {
        Arc::make_mut(&mut self.config).default_timeout = timeout;
    }

    pub fn register_device(&mut self, device: Device) {
        if let Ok(mut cache) = self.list_cache.lock() {
            cache.remove(&device.id);
        }
        if let Ok(mut cache) = self.metadata_cache.lock() {
            cache.remove(&device.id);
        }
        self.devices.insert(device.id.clone(), Arc::new(device));
    }

    /// Removes a device; false if it was not registered.
    pub fn remove_device(&mut self, id: &DeviceId) -> bool {
        self.devices.remove(id).is_some()
    }

    /// The registered devices.
    pub fn devices(&self) -> impl Iterator<Item = &Device> {
        self.devices.values().map(|d| d.as_ref())
    }

    /// Sets the topology for `target` (replacing any). Indexes must be distinct, in 1..=9.
    pub fn set_topology(&mut self, target: &str, mut levels: Vec<Level>) -> Result<(), Error> {
        levels.sort_by_key(|l| l.index);
        for (i, l) in levels.iter().enumerate() {
            if !(1..=9).contains(&l.index) || (i > 0 && levels[i - 1].index == l.index) {
                return Err(Error::BadLevel(l.index));
            }
        }
        self.topology.insert(target.to_owned(), levels);
        Ok(())
    }

    /// Removes the topology for `target`.
    pub fn clear_topology(&mut self, target: &str) {
        self.topology.remove(target);
    }

    /// Fences `target` (off, on or reboot) through its topology, or else with any capable
    /// device. The result comes out of [`Fencer::try_next`]; the history shows it pending.
    pub fn fence(&mut self, target: &str, action: FenceAction) -> Result<RequestId, Error> {
        if !action.is_fencing() {
            return Err(Error::NotFencing(action));
        }
        let levels: Vec<PlannedLevel> = match self.topology.get(target) {
            Some(levels) => levels
                .iter()
                .map(|l| {
                    l.devices
                        .iter()
                        .map(|id| (id.clone(), self.devices.get(id).cloned()))
                        .collect()
                })
                .collect(),
            None => self
                .devices
                .iter()
                .map(|(id, d)| vec![(id.clone(), Some(d.clone()))])
                .collect(),
        };
        let plan = Plan::Fence {
            target: target.to_owned(),
            action,
            levels,
        };
        let id = self.spawn(plan)?;
        while self.history.len() >= self.config.history_limit.max(1) {
            // Drop the oldest completed entry (pending ones stay).
            match self.history.iter().position(|e| e.state != HistoryState::Pending) {
                Some(i) => {
                    self.history.remove(i);
                }
                None => break,
            }
        }
        self.history.push_back(HistoryEntry {
            request: id,
            target: target.to_owned(),
            action,
            state: HistoryState::Pending,
            delegate: Vec::new(),
            reason: None,
            requested_at: SystemTime::now(),
            completed_at: None,
        });
        Ok(id)
    }

    /// Runs one action (status, monitor, list, metadata, validate-all, or a fencing action
    /// without topology) on one device.
    pub fn device_action(
        &mut self,
        device: &DeviceId,
        action: FenceAction,
        target: Option<&str>,
    ) -> Result<RequestId, Error> {
        let dev = self
            .devices
            .get(device)
            .ok_or_else(|| Error::UnknownDevice(device.clone()))?;
        let plan = Plan::Device {
            device: dev.clone(),
            action,
            target: target.map(str::to_owned),
        };
        self.spawn(plan)
    }

    fn spawn(&mut self, plan: Plan) -> Result<RequestId, Error> {
        if self.in_progress >= self.config.max_requests {
            return Err(Error::TooManyRequests(self.config.max_requests));
        }
        let id = RequestId(self.next_request);
        let worker = Worker {
            request: id,
            config: self.config.clone(),
            list_cache: self.list_cache.clone(),
            metadata_cache: self.metadata_cache.clone(),
            tx: self.tx.clone(),
            waker: self.waker.clone(),
        };
        thread::Builder::new()
            .name(format!("fence-{}", id.0))
            .spawn(move || worker.run(plan))?;
        self.next_request += 1;
        self.in_progress += 1;
        Ok(id)
    }

    /// The next result, if any (never blocks).
    pub fn try_next(&mut self) -> Option<FenceResult> {
        let r = self.rx.try_recv().ok()?;
        Some(self.retire(r))
    }

    /// Waits up to `timeout` for the next result.
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<FenceResult> {
        let r = self.rx.recv_timeout(timeout).ok()?;
        Some(self.retire(r))
    }

    fn retire(&mut self, r: FenceResult) -> FenceResult {
        self.in_progress = self.in_progress.saturating_sub(1);
        if let Some(e) = self.history.iter_mut().find(|e| e.request == r.request) {
            e.state = if r.succeeded {
                HistoryState::Done
            } else {
                HistoryState::Failed
            };
            e.delegate = r.delegate.clone();
            e.reason = r.reason.clone();
            e.completed_at = Some(SystemTime::now());
        }
        r
    }

    /// The fencing history, oldest first (bounded by `history_limit`).
    pub fn history(&self) -> impl Iterator<Item = &HistoryEntry> {
        self.history.iter()
    }
}

struct Worker {
    request: RequestId,
    config: Arc<FencerConfig>,
    list_cache: ListCache,
    metadata_cache: MetadataCache,
    tx: SyncSender<FenceResult>,
    waker: Option<Waker>,
}

impl Worker {
    fn run(self, plan: Plan) {
        let started = Instant::now();
        let mut attempts = Vec::new();
        let result = match plan {
            Plan::Device { device, action, target } => {
                let a = self.run_agent(&device, action, target.as_deref(), None, Duration::ZERO);
                let ok = a.succeeded();
                let reason = (!ok).then(|| failure_reason(&a));
                attempts.push(a);
                FenceResult {
                    request: self.request,
                    action,
                    target,
                    succeeded: ok,
                    delegate: vec![device.id.clone()],
                    reason,
                    attempts,
                    duration: started.elapsed(),
                }
            }
            Plan::Fence { target, action, levels } => {
                let (delegate, reason) = self.fence(&target, action, &levels, &mut attempts);
                FenceResult {
                    request: self.request,
                    action,
                    target: Some(target),
                    succeeded: reason.is_none(),
                    delegate,
                    reason,
                    attempts,
                    duration: started.elapsed(),
                }
            }
        };
        if result.succeeded {
            tracing::info!(request = self.request.0, action = %result.action, target = ?result.target, delegate = ?result.delegate, "fencing operation succeeded");
        } else {
            tracing::warn!(request = self.request.0, action = %result.action, target = ?result.target, reason = ?result.reason, "fencing operation failed");
        }
        if self.tx.send(result).is_ok() {
            if let Some(w) = &self.waker {
                w();
            }
        }
    }

    /// Tries the levels in order; returns the successful level's devices, or why all failed.
    fn fence(
        &self,
        target: &str,
        action: FenceAction,
        levels: &[PlannedLevel],
        attempts: &mut Vec<Attempt>,
    ) -> (Vec<DeviceId>, Option<String>) {
        let mut reasons = Vec::new();
        for level in levels {
            match self.try_level(target, action, level, attempts) {
                Ok(()) => return (level.iter().map(|(id, _)| id.clone()).collect(), None),
                Err(why) => {
                    tracing::info!(request = self.request.0, target, %why, "fencing level failed");
                    reasons.push(why);
                }
            }
        }
        let reason = if reasons.is_empty() {
            format!("no fence device is configured for {target}")
        } else {
            reasons.join("; ")
        };
        (Vec::new(), Some(reason))
    }

    fn try_level(
        &self,
        target: &str,
        action: FenceAction,
        level: &[(DeviceId, Option<Arc<Device>>)],
        attempts: &mut Vec<Attempt>,
    ) -> Result<(), String> {
        let mut devices = Vec::new();
        for (id, dev) in level {
            let dev = dev.as_ref().ok_or_else(|| format!("device {id} is not registered"))?;
            if !self.can_fence(dev, target, attempts) {
                return Err(format!("device {id} cannot fence {target}"));
            }
            devices.push(dev);
        }
        if devices.is_empty() {
            return Err("empty level".into());
        }
        let steps: Vec<(&Arc<Device>, FenceAction)> = if action == FenceAction::Reboot && devices.len() > 1 {
            let offs = devices.iter().map(|d| (*d, FenceAction::Off));
            offs.chain(devices.iter().map(|d| (*d, FenceAction::On))).collect()
        } else {
            devices.iter().map(|d| (*d, action)).collect()
        };
        let mut rng = <rand::rngs::SmallRng as rand::SeedableRng>::from_entropy();
        for (dev, step) in steps {
            let delay = dev.fencing_delay(step, &mut rng);
            if !delay.is_zero() {
                tracing::info!(device = %dev.id, target, ?delay, "delaying fencing");
                thread::sleep(delay);
            }
            let timeout = dev.action_timeout(step).unwrap_or(self.config.default_timeout);
            let deadline = Instant::now() + timeout;
            let mut ok = false;
            for attempt in 0..=dev.action_retries(step) {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                let a = self.run_agent(
                    dev,
                    step,
                    Some(target),
                    Some(left),
                    if attempt == 0 { delay } else { Duration::ZERO },
                );
                ok = a.succeeded();
                attempts.push(a);
                if ok {
                    break;
                }
            }
            if !ok {
                let last = attempts.last().map(failure_reason).unwrap_or_default();
                return Err(format!("{step} of {target} by {} failed: {last}", dev.id));
            }
        }
        Ok(())
    }

    fn can_fence(&self, dev: &Device, target: &str, attempts: &mut Vec<Attempt>) -> bool {
        let check = if dev.host_check_from_metadata {
            match self.supported_actions(dev, attempts) {
                Some(actions) if actions.iter().any(|a| a == "list") => HostCheck::DynamicList,
                Some(actions) if actions.iter().any(|a| a == "status") => HostCheck::Status,
                Some(_) => HostCheck::None,
                // No usable metadata: try listing, falling back to status below.
                None => HostCheck::DynamicList,
            }
        } else {
            dev.host_check
        };
        match check {
            HostCheck::None => true,
            HostCheck::StaticList => dev.statically_lists(target),
            HostCheck::Status => self.status_says_known(dev, target, attempts),
            HostCheck::DynamicList => match self.listed(dev, attempts) {
                // The agent's name for the node (its alias, else the node name), compared
                // case-insensitively as Pacemaker does.
                Some(ports) => {
                    let port = dev.port_for(target);
                    ports.iter().any(|p| p.eq_ignore_ascii_case(port))
                }
                None => self.status_says_known(dev, target, attempts),
            },
        }
    }

    /// The actions the agent's metadata lists (cached per device), or `None` if it has none
    /// that parse.
    fn supported_actions(&self, dev: &Device, attempts: &mut Vec<Attempt>) -> Option<Vec<String>> {
        if let Ok(cache) = self.metadata_cache.lock() {
            if let Some(actions) = cache.get(&dev.id) {
                return Some(actions.clone());
            }
        }
        let a = self.run_agent(dev, FenceAction::Metadata, None, None, Duration::ZERO);
        let actions = if a.succeeded() {
            metadata_actions(&a.stdout)
        } else {
            None
        };
        attempts.push(a);
        if let (Some(actions), Ok(mut cache)) = (&actions, self.metadata_cache.lock()) {
            cache.insert(dev.id.clone(), actions.clone());
        }
        actions
    }

    fn status_says_known(&self, dev: &Device, target: &str, attempts: &mut Vec<Attempt>) -> bool {
        let a = self.run_agent(dev, FenceAction::Status, Some(target), None, Duration::ZERO);
        let ok = a.succeeded();
        attempts.push(a);
        ok
    }

    /// The device's `list` output (cached), or `None` if the agent cannot list.
    fn listed(&self, dev: &Device, attempts: &mut Vec<Attempt>) -> Option<Vec<String>> {
        if let Ok(cache) = self.list_cache.lock() {
            if let Some((at, ports)) = cache.get(&dev.id) {
                if at.elapsed() < self.config.list_cache_ttl {
                    return Some(ports.clone());
                }
            }
        }
        let a = self.run_agent(dev, FenceAction::List, None, None, Duration::ZERO);
        let ports = a.succeeded().then(|| parse_list(&a.stdout));
        attempts.push(a);
        if let (Some(ports), Ok(mut cache)) = (&ports, self.list_cache.lock()) {
            cache.insert(dev.id.clone(), (Instant::now(), ports.clone()));
        }
        ports
    }

    fn run_agent(
        &self,
        dev: &Device,
        action: FenceAction,
        target: Option<&str>,
        timeout: Option<Duration>,
        delay: Duration,
    ) -> Attempt {
        let program = if dev.agent.is_absolute() {
            dev.agent.clone()
        } else {
            self.config.agent_dir.join(&dev.agent)
        };
        let timeout = timeout
            .or_else(|| dev.action_timeout(action))
            .unwrap_or(self.config.default_timeout);
        let spec = ProcessSpec {
            program,
            args: Vec::new(),
            env: Vec::new(),
            stdin: Some(dev.agent_input(action, target).into_bytes()),
            timeout,
            kill_grace: self.config.kill_grace,
            output_limit: self.config.output_limit,
        };
        tracing::debug!(device = %dev.id, %action, target, "running fence agent");
        let out = process::run(&spec, &mut ControlChannel::new());
        let (rc, timed_out) = match &out.termination {
            Termination::Exited(c) => (Some(*c), false),
            Termination::TimedOut => (None, true),
            _ => (None, false),
        };
        let mut stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        match &out.termination {
            Termination::SpawnFailed(_, msg) => stderr = format!("cannot run {}: {msg}", spec.program.display()),
            Termination::Signaled(sig) => stderr.push_str(&format!("\nkilled by signal {sig}")),
            _ => {}
        }
        Attempt {
            device: dev.id.clone(),
            action,
            rc,
            timed_out,
            delay,
            duration: out.duration,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr,
        }
    }
}

fn failure_reason(a: &Attempt) -> String {
    if a.timed_out {
        return format!("timed out after {}ms", a.duration.as_millis());
    }
    let last_line = a
        .stderr
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    match a.rc {
        Some(rc) if last_line.is_empty() => format!("agent exited {rc}"),
        Some(rc) => format!("agent exited {rc}: {last_line}"),
        None => last_line.to_owned(),
    }
}

/// The action names in an agent's metadata XML (`<actions><action name=…/>`), or `None` if it
/// does not parse or lists none.
pub fn metadata_actions(xml: &str) -> Option<Vec<String>> {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(xml, opts).ok()?;
    let actions: Vec<String> = doc
        .descendants()
        .filter(|n| n.has_tag_name("action") && n.parent().is_some_and(|p| p.has_tag_name("actions")))
        .filter_map(|n| n.attribute("name").map(str::to_owned))
        .collect();
    (!actions.is_empty()).then_some(actions)
}

/// The ports in a `list` output: the first field of each line (`port,alias` or `port alias`).
pub fn parse_list(output: &str) -> Vec<String> {
    output
        .lines()
        .filter_map(|l| l.split([',', ' ', '\t']).map(str::trim).find(|s| !s.is_empty()))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_action_names() {
        let xml = r#"<?xml version="1.0" ?>
<resource-agent name="x"><parameters><parameter name="action"/></parameters>
<actions><action name="off"/><action name="status"/></actions></resource-agent>"#;
        assert_eq!(metadata_actions(xml), Some(vec!["off".to_owned(), "status".to_owned()]));
        assert_eq!(metadata_actions("not xml"), None);
        assert_eq!(metadata_actions("<resource-agent/>"), None);
    }

    #[test]
    fn list_output() {
        assert_eq!(
            parse_list("node1,\nnode2,alias\n\n  node3 x\n"),
            vec!["node1", "node2", "node3"]
        );
    }

    #[test]
    fn topology_indexes_are_checked() {
        let mut f = Fencer::new(FencerConfig::default());
        let lvl = |index| Level {
            index,
            devices: vec![DeviceId::new("d")],
        };
        assert!(f.set_topology("n", vec![lvl(2), lvl(1)]).is_ok());
        assert!(matches!(
            f.set_topology("n", vec![lvl(1), lvl(1)]),
            Err(Error::BadLevel(1))
        ));
        assert!(matches!(f.set_topology("n", vec![lvl(10)]), Err(Error::BadLevel(10))));
        assert!(matches!(f.fence("n", FenceAction::Status), Err(Error::NotFencing(_))));
    }
}

//! The executor: runs resource agents for the controller, as Pacemaker's `pacemaker-execd` does,
//! without ever blocking its caller.
//!
//! - Classes: OCF agents (`$OCF_ROOT/resource.d/<provider>/<type> <action>`, with the OCF
//!   environment Pacemaker sets up), LSB init scripts (`/etc/init.d/<name>`, `monitor` runs
//!   `status` and its codes are mapped) and systemd units (through `systemctl`).
//! - Each operation runs on its own thread (why: [`process`]); the caller submits with
//!   [`Executor::execute`] and collects [`OpResult`]s with [`Executor::try_next`] (non-blocking,
//!   for an event loop; [`Executor::set_waker`] lets a `mio::Waker` or similar be poked when one
//!   is ready) or [`Executor::next_timeout`].
//! - Operations on one resource run one at a time, in the order their threads get the resource's
//!   lock (Pacemaker's executor serialises per resource too); different resources run in parallel.
//! - Recurring operations (interval > 0) re-run every interval and, like Pacemaker's executor for
//!   its controller (`lrmd_opt_notify_changes_only`), report the first result and then only
//!   changes of rc or status, until [`Executor::cancel`], which reports a `Cancelled` result.
//! - Everything is bounded: concurrent operations (`max_operations`), the result queue (an
//!   operation thread waits when it is full), and captured output (`output_limit` per stream).

pub mod process;
pub mod result;

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, Sender, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

pub use result::{exit_reason, lsb_to_ocf, systemd_state_to_ocf, ExecStatus, OcfRc};

use process::{Control, ControlChannel, ProcessSpec, Termination};

/// A resource's id (the CIB `primitive` id, or a clone instance such as `db:1`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceId(String);

impl ResourceId {
    /// Wraps an id.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }
    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ResourceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The executor's id for one submitted operation (Pacemaker's `call-id`), unique per executor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(u64);

impl CallId {
    /// The number.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// An agent action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// `start`
    Start,
    /// `stop`
    Stop,
    /// `monitor` (a probe when the interval is 0)
    Monitor,
    /// `promote`
    Promote,
    /// `demote`
    Demote,
    /// `notify`
    Notify,
    /// `reload`
    Reload,
    /// `reload-agent`
    ReloadAgent,
    /// `meta-data`
    MetaData,
    /// `validate-all`
    ValidateAll,
    /// `migrate_to`
    MigrateTo,
    /// `migrate_from`
    MigrateFrom,
}

impl Action {
    /// The name passed to the agent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Monitor => "monitor",
            Self::Promote => "promote",
            Self::Demote => "demote",
            Self::Notify => "notify",
            Self::Reload => "reload",
            Self::ReloadAgent => "reload-agent",
            Self::MetaData => "meta-data",
            Self::ValidateAll => "validate-all",
            Self::MigrateTo => "migrate_to",
            Self::MigrateFrom => "migrate_from",
        }
    }

    /// Parses an action name.
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "start" => Self::Start,
            "stop" => Self::Stop,
            "monitor" => Self::Monitor,
            "promote" => Self::Promote,
            "demote" => Self::Demote,
            "notify" => Self::Notify,
            "reload" => Self::Reload,
            "reload-agent" => Self::ReloadAgent,
            "meta-data" => Self::MetaData,
            "validate-all" => Self::ValidateAll,
            "migrate_to" => Self::MigrateTo,
            "migrate_from" => Self::MigrateFrom,
            _ => return None,
        })
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which agent runs the resource (the CIB's `class`, `provider` and `type`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Agent {
    /// `ocf:<provider>:<kind>`
    Ocf {
        /// e.g. `heartbeat`, `pacemaker`
        provider: String,
        /// e.g. `Dummy`
        kind: String,
    },
    /// `lsb:<script>` — an init script in the LSB directory.
    Lsb {
        /// the script's file name
        script: String,
    },
    /// `systemd:<unit>` — `.service` is appended when the name has no unit suffix.
    Systemd {
        /// the unit name
        unit: String,
    },
}

impl Agent {
    /// `ocf:provider:kind`.
    pub fn ocf(provider: impl Into<String>, kind: impl Into<String>) -> Self {
        Self::Ocf {
            provider: provider.into(),
            kind: kind.into(),
        }
    }

    fn class(&self) -> &'static str {
        match self {
            Self::Ocf { .. } => "ocf",
            Self::Lsb { .. } => "lsb",
            Self::Systemd { .. } => "systemd",
        }
    }

    fn supports(&self, action: Action) -> bool {
        match self {
            Self::Ocf { .. } => true,
            Self::Lsb { .. } | Self::Systemd { .. } => {
                matches!(action, Action::Start | Action::Stop | Action::Monitor)
            }
        }
    }

    /// Names that would escape their directory are refused (as Pacemaker refuses them).
    fn names_valid(&self) -> bool {
        let ok = |s: &str| !s.is_empty() && !s.contains('/') && s != "." && s != "..";
        match self {
            Self::Ocf { provider, kind } => ok(provider) && ok(kind),
            Self::Lsb { script } => ok(script),
            Self::Systemd { unit } => ok(unit),
        }
    }
}

/// One operation to run.
#[derive(Debug, Clone)]
pub struct OpRequest {
    /// The resource.
    pub resource: ResourceId,
    /// Its agent.
    pub agent: Agent,
    /// The action.
    pub action: Action,
    /// 0 for a one-shot operation, else the period of a recurring one.
    pub interval: Duration,
    /// The time one run may take before it is killed.
    pub timeout: Duration,
    /// Instance attributes (`OCF_RESKEY_<name>`).
    pub params: BTreeMap<String, String>,
    /// Meta attributes (`OCF_RESKEY_CRM_meta_<name>`); `timeout` and `interval` (in ms) are
    /// added from the fields above unless present.
    pub meta: BTreeMap<String, String>,
}

impl OpRequest {
    /// A one-shot operation with Pacemaker's default timeout of 20 s and no attributes.
    pub fn new(resource: ResourceId, agent: Agent, action: Action) -> Self {
        Self {
            resource,
            agent,
            action,
            interval: Duration::ZERO,
            timeout: Duration::from_secs(20),
            params: BTreeMap::new(),
            meta: BTreeMap::new(),
        }
    }
    /// Sets an instance attribute.
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.insert(name.into(), value.into());
        self
    }
    /// Sets a meta attribute.
    pub fn meta(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.meta.insert(name.into(), value.into());
        self
    }
    /// Sets the interval (recurring when non-zero).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }
    /// Sets the timeout.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }
}

/// A completed run of an operation.
#[derive(Debug, Clone)]
pub struct OpResult {
    /// The call it belongs to (recurring operations report several results under one call).
    pub call_id: CallId,
    /// The resource.
    pub resource: ResourceId,
    /// The action.
    pub action: Action,
    /// The operation's interval.
    pub interval: Duration,
    /// The agent's result, mapped to OCF (meaningful when `status` is [`ExecStatus::Done`]).
    pub rc: OcfRc,
    /// How the execution went.
    pub status: ExecStatus,
    /// The agent's exit reason (or ours, for timeouts and failures to run).
    pub exit_reason: Option<String>,
    /// Captured stdout (bounded; lossily decoded).
    pub stdout: String,
    /// Captured stderr (bounded; lossily decoded).
    pub stderr: String,
    /// Whether output was cut at the bound.
    pub output_truncated: bool,
    /// Time spent waiting for other operations on the same resource.
    pub queue_time: Duration,
    /// Time the agent ran.
    pub exec_time: Duration,
    /// When it finished.
    pub finished_at: SystemTime,
    /// For recurring operations: whether this is the last result of the call (cancelled).
    /// Always true for one-shot operations.
    pub last: bool,
}

/// Settings.
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// `OCF_ROOT` (Debian: `/usr/lib/ocf`).
    pub ocf_root: PathBuf,
    /// Where LSB init scripts are.
    pub lsb_dir: PathBuf,
    /// The `systemctl` program.
    pub systemctl: PathBuf,
    /// Most operations (one-shot running plus recurring) at once.
    pub max_operations: usize,
    /// Capacity of the completed-results queue.
    pub result_queue: usize,
    /// Bytes kept of each of stdout and stderr.
    pub output_limit: usize,
    /// Time between SIGTERM and SIGKILL on timeout.
    pub kill_grace: Duration,
    /// Extra environment for every agent, e.g. `HA_LOGFACILITY`, `HA_LOGFILE`, `HA_DEBUGLOG`,
    /// which Pacemaker's executor exports for the `ocf_log` shell functions.
    pub extra_env: Vec<(String, String)>,
}

impl ExecutorConfig {
    /// Adds the logging variables Pacemaker's executor exports for the agents' `ocf_log`
    /// (`daemons/execd/pacemaker-execd.c`): `HA_LOGFACILITY` unless the facility is unset,
    /// `none` or `/dev/null`; `HA_LOGFILE` unless the file is unset or `none`, and then
    /// `HA_DEBUGLOG` too (the same file) when debugging.
    pub fn with_ha_logging(mut self, facility: Option<&str>, logfile: Option<&str>, debug: bool) -> Self {
        if let Some(f) = facility.filter(|f| !f.eq_ignore_ascii_case("none") && *f != "/dev/null") {
            self.extra_env.push(("HA_LOGFACILITY".into(), f.into()));
        }
        if let Some(file) = logfile.filter(|f| !f.eq_ignore_ascii_case("none")) {
            self.extra_env.push(("HA_LOGFILE".into(), file.into()));
            if debug {
                self.extra_env.push(("HA_DEBUGLOG".into(), file.into()));
            }
        }
        self
    }
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        Self {
            ocf_root: "/usr/lib/ocf".into(),
            lsb_dir: "/etc/init.d".into(),
            systemctl: "systemctl".into(),
            max_operations: 64,
            result_queue: 256,
            output_limit: 64 * 1024,
            kill_grace: Duration::from_secs(5),
            extra_env: Vec::new(),
        }
    }
}

/// Errors of submission and cancellation (failures of agents are results, not errors).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The operation limit is reached.
    #[error("too many operations in progress (limit {0})")]
    TooManyOperations(usize),
    /// No such call is in progress.
    #[error("no operation in progress with call id {}", .0.get())]
    UnknownCall(CallId),
    /// The class has no such action.
    #[error("{class} agents do not support {action}")]
    Unsupported {
        /// the class
        class: &'static str,
        /// the action
        action: Action,
    },
    /// A provider, type, script or unit name is not a plain file name.
    #[error("invalid agent name in {0:?}")]
    InvalidName(Agent),
    /// The operation thread could not be started.
    #[error("cannot start an operation thread: {0}")]
    Thread(#[from] std::io::Error),
}

type Waker = Arc<dyn Fn() + Send + Sync>;

struct Running {
    control: Sender<Control>,
    resource: ResourceId,
    action: Action,
    interval: Duration,
}

/// Runs agents; see the crate documentation.
pub struct Executor {
    config: Arc<ExecutorConfig>,
    next_call: u64,
    running: HashMap<CallId, Running>,
    locks: HashMap<ResourceId, Arc<Mutex<()>>>,
    tx: SyncSender<OpResult>,
    rx: Receiver<OpResult>,
    waker: Option<Waker>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("config", &self.config)
            .field("running", &self.running.len())
            .finish_non_exhaustive()
    }
}

impl Executor {
    /// An executor with these settings.
    pub fn new(config: ExecutorConfig) -> Self {
        let (tx, rx) = mpsc::sync_channel(config.result_queue.max(1));
        Self {
            config: Arc::new(config),
            next_call: 1,
            running: HashMap::new(),
            locks: HashMap::new(),
            tx,
            rx,
            waker: None,
        }
    }

    /// Called (from an operation thread) each time a result is queued; e.g. wake a `mio::Poll`.
    pub fn set_waker(&mut self, waker: impl Fn() + Send + Sync + 'static) {
        self.waker = Some(Arc::new(waker));
    }

    /// Starts an operation; its result(s) come out of [`Executor::try_next`].
    pub fn execute(&mut self, req: OpRequest) -> Result<CallId, Error> {
        if !req.agent.names_valid() {
            return Err(Error::InvalidName(req.agent));
        }
        if !req.agent.supports(req.action) {
            return Err(Error::Unsupported {
                class: req.agent.class(),
                action: req.action,
            });
        }
        if self.running.len() >= self.config.max_operations {
            return Err(Error::TooManyOperations(self.config.max_operations));
        }
        let call_id = CallId(self.next_call);
        self.next_call += 1;
        let lock = self.locks.entry(req.resource.clone()).or_default().clone();
        let channel = ControlChannel::new();
        let control = channel.sender();
        let (resource, action, interval) = (req.resource.clone(), req.action, req.interval);
        let job = Job {
            call_id,
            req,
            config: self.config.clone(),
            lock,
            tx: self.tx.clone(),
            waker: self.waker.clone(),
        };
        thread::Builder::new()
            .name(format!("op-{}", call_id.0))
            .spawn(move || job.run(channel))?;
        self.running.insert(
            call_id,
            Running {
                control,
                resource,
                action,
                interval,
            },
        );
        Ok(call_id)
    }

    /// Cancels an operation in progress: a running agent is killed, a recurring one stops
    /// recurring; its last result has status [`ExecStatus::Cancelled`].
    pub fn cancel(&mut self, call_id: CallId) -> Result<(), Error> {
        let running = self.running.get(&call_id).ok_or(Error::UnknownCall(call_id))?;
        // The thread holds the receiver until it has reported its last result.
        let _ = running.control.send(Control::Cancel);
        Ok(())
    }

    /// The call of the recurring operation `resource`/`action`/`interval` (Pacemaker names it by
    /// its op key, e.g. `app_monitor_10000`), if one is in progress.
    pub fn find_recurring(&self, resource: &ResourceId, action: Action, interval: Duration) -> Option<CallId> {
        self.running
            .iter()
            .find(|(_, r)| {
                !r.interval.is_zero() && r.resource == *resource && r.action == action && r.interval == interval
            })
            .map(|(id, _)| *id)
    }

    /// The calls in progress (one-shot ones not yet reported, recurring ones not cancelled).
    pub fn calls_in_progress(&self) -> impl Iterator<Item = CallId> + '_ {
        self.running.keys().copied()
    }

    /// The next completed result, if any (never blocks).
    pub fn try_next(&mut self) -> Option<OpResult> {
        match self.rx.try_recv() {
            Ok(r) => Some(self.retire(r)),
            Err(TryRecvError::Empty | TryRecvError::Disconnected) => None,
        }
    }

    /// Waits up to `timeout` for the next completed result (for loops without an event source).
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<OpResult> {
        let r = self.rx.recv_timeout(timeout).ok()?;
        Some(self.retire(r))
    }

    fn retire(&mut self, r: OpResult) -> OpResult {
        if r.last {
            if let Some(running) = self.running.remove(&r.call_id) {
                if let Some(lock) = self.locks.get(&running.resource) {
                    if Arc::strong_count(lock) == 1 {
                        self.locks.remove(&running.resource);
                    }
                }
            }
        }
        r
    }
}

impl Drop for Executor {
    /// Cancels everything, so that no agent outlives the executor unattended.
    fn drop(&mut self) {
        for running in self.running.values() {
            let _ = running.control.send(Control::Cancel);
        }
    }
}

struct Job {
    call_id: CallId,
    req: OpRequest,
    config: Arc<ExecutorConfig>,
    lock: Arc<Mutex<()>>,
    tx: SyncSender<OpResult>,
    waker: Option<Waker>,
}

struct RunOutcome {
    rc: OcfRc,
    status: ExecStatus,
    exit_reason: Option<String>,
    stdout: String,
    stderr: String,
    truncated: bool,
    exec_time: Duration,
}

impl Job {
    fn run(self, mut channel: ControlChannel) {
        let recurring = !self.req.interval.is_zero();
        let mut last_seen: Option<(OcfRc, ExecStatus)> = None;
        loop {
            let queued = Instant::now();
            let outcome = {
                let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
                let queue_time = queued.elapsed();
                if channel.cancelled() {
                    None
                } else {
                    Some((self.run_once(&mut channel), queue_time))
                }
            };
            let Some((outcome, queue_time)) = outcome else {
                self.send_cancelled();
                return;
            };
            if outcome.status == ExecStatus::Cancelled {
                self.send(outcome, Duration::ZERO, true);
                return;
            }
            if !recurring {
                self.send(outcome, queue_time, true);
                return;
            }
            let now = (outcome.rc, outcome.status);
            if last_seen != Some(now) {
                last_seen = Some(now);
                if !self.send(outcome, queue_time, false) {
                    return;
                }
            } else {
                tracing::trace!(call = self.call_id.0, rsc = %self.req.resource, "recurring result unchanged");
            }
            if channel.wait_cancel(self.req.interval) {
                self.send_cancelled();
                return;
            }
        }
    }

    fn send_cancelled(&self) {
        let outcome = RunOutcome {
            rc: OcfRc::Ok,
            status: ExecStatus::Cancelled,
            exit_reason: None,
            stdout: String::new(),
            stderr: String::new(),
            truncated: false,
            exec_time: Duration::ZERO,
        };
        self.send(outcome, Duration::ZERO, true);
    }

    /// Queues a result; false if the executor is gone.
    fn send(&self, o: RunOutcome, queue_time: Duration, last: bool) -> bool {
        tracing::info!(
            call = self.call_id.0,
            rsc = %self.req.resource,
            action = %self.req.action,
            interval_ms = self.req.interval.as_millis() as u64,
            rc = o.rc.code(),
            status = %o.status,
            reason = o.exit_reason.as_deref().unwrap_or(""),
            "operation result"
        );
        let result = OpResult {
            call_id: self.call_id,
            resource: self.req.resource.clone(),
            action: self.req.action,
            interval: self.req.interval,
            rc: o.rc,
            status: o.status,
            exit_reason: o.exit_reason,
            stdout: o.stdout,
            stderr: o.stderr,
            output_truncated: o.truncated,
            queue_time,
            exec_time: o.exec_time,
            finished_at: SystemTime::now(),
            last,
        };
        if self.tx.send(result).is_err() {
            return false;
        }
        if let Some(w) = &self.waker {
            w();
        }
        true
    }

    fn spec(&self) -> ProcessSpec {
        let cfg = &self.config;
        let req = &self.req;
        let mut env: Vec<(OsString, OsString)> = cfg.extra_env.iter().map(|(k, v)| (k.into(), v.into())).collect();
        let (program, args) = match &req.agent {
            Agent::Ocf { provider, kind } => {
                let mut add = |k: &str, v: &str| env.push((k.into(), v.into()));
                add("OCF_ROOT", &cfg.ocf_root.to_string_lossy());
                add("OCF_RA_VERSION_MAJOR", "1");
                add("OCF_RA_VERSION_MINOR", "1");
                add("OCF_EXIT_REASON_PREFIX", result::EXIT_REASON_PREFIX);
                add("OCF_RESOURCE_INSTANCE", req.resource.as_str());
                add("OCF_RESOURCE_TYPE", kind);
                add("OCF_RESOURCE_PROVIDER", provider);
                for (k, v) in &req.params {
                    if k == "OCF_CHECK_LEVEL" {
                        add(k, v);
                    } else {
                        add(&format!("OCF_RESKEY_{k}"), v);
                    }
                }
                let mut meta = req.meta.clone();
                meta.entry("timeout".into())
                    .or_insert_with(|| req.timeout.as_millis().to_string());
                meta.entry("interval".into())
                    .or_insert_with(|| req.interval.as_millis().to_string());
                for (k, v) in &meta {
                    add(&format!("OCF_RESKEY_CRM_meta_{k}"), v);
                }
                let path = cfg.ocf_root.join("resource.d").join(provider).join(kind);
                (path, vec![OsString::from(req.action.as_str())])
            }
            Agent::Lsb { script } => {
                let action = match req.action {
                    Action::Monitor => "status",
                    other => other.as_str(),
                };
                (cfg.lsb_dir.join(script), vec![action.into()])
            }
            Agent::Systemd { unit } => {
                let unit = if unit.contains('.') {
                    unit.clone()
                } else {
                    format!("{unit}.service")
                };
                let verb = match req.action {
                    Action::Start => "start",
                    Action::Stop => "stop",
                    _ => "is-active",
                };
                (
                    cfg.systemctl.clone(),
                    vec![verb.into(), "--no-ask-password".into(), unit.into()],
                )
            }
        };
        ProcessSpec {
            program,
            args,
            env,
            stdin: None,
            timeout: req.timeout,
            kill_grace: cfg.kill_grace,
            output_limit: cfg.output_limit,
        }
    }

    fn run_once(&self, channel: &mut ControlChannel) -> RunOutcome {
        let spec = self.spec();
        tracing::debug!(call = self.call_id.0, program = %spec.program.display(), action = %self.req.action, "running agent");
        let out = process::run(&spec, channel);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let mut reason = exit_reason(&stderr);
        let (rc, status) = match &out.termination {
            Termination::Exited(code) => self.map_exit(*code, &stdout),
            Termination::Signaled(sig) => {
                reason.get_or_insert_with(|| format!("agent was killed by signal {sig}"));
                (OcfRc::ErrGeneric, ExecStatus::Error)
            }
            Termination::TimedOut => {
                reason
                    .get_or_insert_with(|| format!("agent did not complete within {}ms", self.req.timeout.as_millis()));
                (OcfRc::ErrGeneric, ExecStatus::TimedOut)
            }
            Termination::Cancelled => (OcfRc::ErrGeneric, ExecStatus::Cancelled),
            Termination::SpawnFailed(kind, msg) => {
                reason = Some(format!("cannot run {}: {msg}", spec.program.display()));
                match kind {
                    std::io::ErrorKind::NotFound => (OcfRc::ErrInstalled, ExecStatus::NotInstalled),
                    std::io::ErrorKind::PermissionDenied => (OcfRc::ErrPerm, ExecStatus::Error),
                    _ => (OcfRc::ErrGeneric, ExecStatus::Error),
                }
            }
        };
        RunOutcome {
            rc,
            status,
            exit_reason: reason,
            stdout,
            stderr,
            truncated: out.truncated,
            exec_time: out.duration,
        }
    }

    fn map_exit(&self, code: i32, stdout: &str) -> (OcfRc, ExecStatus) {
        match &self.req.agent {
            Agent::Ocf { .. } => (OcfRc::from_code(code), ExecStatus::Done),
            Agent::Lsb { .. } => (lsb_to_ocf(self.req.action == Action::Monitor, code), ExecStatus::Done),
            Agent::Systemd { .. } => match self.req.action {
                Action::Monitor => (systemd_state_to_ocf(stdout), ExecStatus::Done),
                // systemctl exits 5 when the unit is not loaded: not installed for start,
                // already stopped for stop.
                Action::Stop if code == 5 => (OcfRc::Ok, ExecStatus::Done),
                _ if code == 5 => (OcfRc::ErrInstalled, ExecStatus::NotInstalled),
                _ if code == 0 => (OcfRc::Ok, ExecStatus::Done),
                _ => (OcfRc::ErrGeneric, ExecStatus::Done),
            },
        }
    }
}

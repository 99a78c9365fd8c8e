//! The event loop around one [`CrmNode`]: what `crmd::crm_sim` simulates, with real
//! processes. `poll(2)` waits on the CPG and quorum connections to ferrosyncd, a pipe
//! the executor's and fencer's threads poke when a result is ready, the signal pipe,
//! the control socket and its clients, and the controller's next deadline. After every
//! input the node's output is drained: multicasts go to a bounded send queue (CPG flow
//! control holds it back; while it is full the node's own outbox holds the rest, and
//! the node refuses client requests with "busy" — nothing is dropped), agent requests
//! to the executor and fencer, CIB copies to disk, replies to control clients.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context};
use cib::document::CibDocument;
use cib::version::CibVersion;
use cib::xml::Element;
use client::cmap::{Cmap, Map, Value as CmapValue};
use client::cpg::{Cpg, CpgEvent, Guarantee};
use client::quorum::{Quorum, QuorumType};
use client::{CsError, DispatchFlags, TrackFlags};
use crmd::cib_manager::RequestId;
use crmd::cib_store::{CibStore, KEEP_DEFAULT};
use crmd::ids::{AttrName, NodeId, ProcessId};
use crmd::messages::{AttrChange, Change, GROUP};
use crmd::{Confchg, CrmNode, Output};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use serde_json::{json, Value};
use tracing::{debug, error, info, warn};

use crate::agents::{Agents, Done};
use crate::config;
use crate::control::{error_answer, ClientId, ControlServer, Request};
use crate::sendq::{Attempt, SendQueue};

/// Most multicasts the host holds while CPG flow control is on.
pub const SEND_QUEUE_MAX: usize = 1024;
/// Most agent operations at once, recurring monitors included.
const MAX_OPERATIONS: usize = 1024;
/// Longest sleep without an event (the wall clock is refreshed at least this often).
const IDLE_WAIT: Duration = Duration::from_secs(1);
/// Retry period of multicasts held back by flow control.
const FLOW_RETRY: Duration = Duration::from_millis(10);

/// Settings of the daemon.
#[derive(Debug, Clone)]
pub struct HostConfig {
    /// This node's name; else `nodelist.node.X.name` from cmap, else the hostname.
    pub uname: Option<String>,
    pub state_dir: PathBuf,
    pub socket: PathBuf,
    /// `HA_RSCTMP` for the agents (their own default when `None`).
    pub rsctmp: Option<PathBuf>,
    /// More environment for the agents.
    pub agent_env: Vec<(String, String)>,
    pub ocf_root: PathBuf,
    /// Where the agents find `crm_attribute`, `crm_master`, `crm_node` and
    /// `attrd_updater` that talk to this daemon ([`crate::tools`]); none when `None`.
    pub tools: Option<crate::tools::ToolsSource>,
    pub fence_agent_dir: PathBuf,
    pub stonith_timeout: Duration,
    /// How long to wait for ferrosyncd at start.
    pub connect_timeout: Duration,
    /// How long a clean shutdown (SIGTERM) may take before the process leaves anyway.
    pub shutdown_timeout: Duration,
}

/// Signals seen, set by the handlers.
#[derive(Debug, Clone, Default)]
pub struct SignalFlags {
    pub term: Arc<AtomicBool>,
    pub hup: Arc<AtomicBool>,
}

struct Host {
    node: CrmNode,
    cpg: Cpg,
    quorum: Option<Quorum>,
    agents: Agents,
    store: CibStore,
    control: ControlServer,
    sendq: SendQueue,
    /// CIB requests waiting for their reply, by client.
    cib_clients: BTreeMap<RequestId, ClientId>,
    start: std::time::Instant,
    /// The CIB configuration version last read for fencing and the quorum policy.
    config_version: Option<(u64, u64)>,
    shutdown: bool,
    /// Wall-clock seconds at the monotonic start (what the node was told).
    wall_at_zero: i64,
    /// A clean shutdown was asked for (SIGTERM); the process leaves by then at the latest.
    stopping: Option<std::time::Instant>,
    flow_held: bool,
}

fn wall() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn group_matches(group: &[u8]) -> bool {
    let g = group.strip_suffix(b"\0").unwrap_or(group);
    g == GROUP.as_bytes()
}

fn as_u64(v: &CmapValue) -> Option<u64> {
    Some(match v {
        CmapValue::U8(x) => u64::from(*x),
        CmapValue::U16(x) => u64::from(*x),
        CmapValue::U32(x) => u64::from(*x),
        CmapValue::U64(x) => *x,
        CmapValue::I8(x) => u64::try_from(*x).ok()?,
        CmapValue::I16(x) => u64::try_from(*x).ok()?,
        CmapValue::I32(x) => u64::try_from(*x).ok()?,
        CmapValue::I64(x) => u64::try_from(*x).ok()?,
        CmapValue::String(s) => s.parse().ok()?,
        _ => return None,
    })
}

/// `nodelist.node.X.name` of the entry whose `nodeid` is `me`.
pub fn uname_from_nodelist(entries: &[(String, CmapValue)], me: u32) -> Option<String> {
    let index = entries.iter().find_map(|(k, v)| {
        let rest = k.strip_prefix("nodelist.node.")?;
        let idx = rest.strip_suffix(".nodeid")?;
        (as_u64(v) == Some(u64::from(me))).then(|| idx.to_string())
    })?;
    let key = format!("nodelist.node.{index}.name");
    entries.iter().find_map(|(k, v)| match v {
        CmapValue::String(s) if *k == key && !s.is_empty() => Some(s.clone()),
        _ => None,
    })
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Connects to a service, retrying while ferrosyncd is not there yet.
fn connect<T>(
    what: &str,
    timeout: Duration,
    flags: &SignalFlags,
    f: impl Fn() -> client::Result<T>,
) -> anyhow::Result<T> {
    let end = std::time::Instant::now() + timeout;
    loop {
        match f() {
            Ok(c) => return Ok(c),
            Err(e) if std::time::Instant::now() < end && !flags.term.load(Ordering::Relaxed) => {
                debug!(error = %e, "{what}: waiting for ferrosyncd");
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => return Err(e).with_context(|| format!("connect to ferrosyncd's {what} service")),
        }
    }
}

/// Where the CIB names nodes: the configuration's `<node>`s, then the status's `node_state`s.
const NODE_ENTRIES: [(&str, &str); 2] = [("/cib/configuration/nodes", "node"), ("/cib/status", "node_state")];

/// `read` of the first node entry ([`NODE_ENTRIES`]) whose attribute `key.0` is `key.1`
/// and that `read` finds something in.
fn node_attr<T>(doc: &CibDocument, key: (&str, &str), read: impl Fn(&Element) -> Option<T>) -> Option<T> {
    NODE_ENTRIES.iter().find_map(|(path, el)| {
        doc.find(path)?
            .children_named(el)
            .find(|n| n.attr(key.0) == Some(key.1))
            .and_then(&read)
    })
}

fn pid_json(p: ProcessId) -> Value {
    json!({"node": p.node.0, "pid": p.pid})
}

/// Runs the daemon until SIGTERM/SIGINT or a fatal error. `signal_pipe` is readable
/// when a signal arrived (the handlers set `flags` and write to it).
pub fn run(cfg: HostConfig, flags: SignalFlags, mut signal_pipe: UnixStream) -> anyhow::Result<()> {
    std::fs::create_dir_all(&cfg.state_dir).with_context(|| format!("create {}", cfg.state_dir.display()))?;
    std::fs::set_permissions(&cfg.state_dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("chmod {}", cfg.state_dir.display()))?;
    let mut extra_env = Vec::new();
    if let Some(dir) = &cfg.rsctmp {
        std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        extra_env.push(("HA_RSCTMP".to_string(), dir.display().to_string()));
    }
    if let Some(src) = &cfg.tools {
        extra_env.extend(crate::tools::prepare(src, &cfg.state_dir, &cfg.socket)?);
    }
    extra_env.extend(cfg.agent_env.iter().cloned());

    let options = client::Options::default();
    let cpg = connect("cpg", cfg.connect_timeout, &flags, || Cpg::initialize_with(&options))?;
    let nodeid = cpg.local_get().context("cpg local_get")?;
    let uname = match &cfg.uname {
        Some(u) => u.clone(),
        None => {
            let from_cmap = Cmap::initialize_with(Map::Icmap, &options)
                .and_then(|c| c.iter_prefix("nodelist.node."))
                .map(|entries| uname_from_nodelist(&entries, nodeid));
            match from_cmap {
                Ok(Some(u)) => u,
                Ok(None) => hostname(),
                Err(e) => {
                    warn!(error = %e, "cmap: node name unknown, using the hostname");
                    hostname()
                }
            }
        }
    };
    let me = ProcessId::new(nodeid, std::process::id());
    let store = CibStore::new(&cfg.state_dir, KEEP_DEFAULT);
    let (doc, source) = store.load();
    info!(%me, uname, version = %doc.version(), ?source, "starting");
    let policy = config::no_quorum_policy(&doc);
    let start = std::time::Instant::now();
    let mut node = CrmNode::with_cib(me, &uname, policy, doc);
    // Rules' dates are local time, as Pacemaker's controller reads them.
    node.set_time_zone(cib::time::local_zone());
    let wall_at_zero = wall();
    node.set_wall_clock(totem::Instant::ZERO, wall_at_zero);

    let quorum = connect("quorum", cfg.connect_timeout, &flags, || {
        Quorum::initialize_with(&options)
    })?;
    let quorum = if quorum.quorum_type() == QuorumType::Free {
        warn!("ferrosyncd has no quorum provider: the partition is always quorate");
        node.on_quorum(totem::Instant::ZERO, true);
        None
    } else {
        quorum
            .trackstart(TrackFlags::CURRENT | TrackFlags::CHANGES)
            .context("quorum trackstart")?;
        let q = quorum.getquorate().context("quorum getquorate")?;
        node.on_quorum(totem::Instant::ZERO, q);
        Some(quorum)
    };

    let (wake_rx, wake_tx) = UnixStream::pair().context("wake pipe")?;
    wake_rx.set_nonblocking(true)?;
    wake_tx.set_nonblocking(true)?;
    let wake_tx = Arc::new(wake_tx);
    let waker = move || {
        let _ = (&*wake_tx).write(&[1]);
    };
    let exec_config = executor::ExecutorConfig {
        ocf_root: cfg.ocf_root.clone(),
        extra_env,
        // A recurring monitor holds its slot (a sleeping thread) for as long as it
        // recurs: room for a few hundred monitored resources per node, and what goes
        // beyond waits its turn (`Agents`).
        max_operations: MAX_OPERATIONS,
        ..Default::default()
    };
    let fence_config = fencer::FencerConfig {
        agent_dir: cfg.fence_agent_dir.clone(),
        default_timeout: cfg.stonith_timeout,
        ..Default::default()
    };
    let agents = Agents::new(exec_config, fence_config, waker);
    let control = ControlServer::bind(&cfg.socket).with_context(|| format!("bind {}", cfg.socket.display()))?;

    // TRY_AGAIN while ferrosyncd synchronises its services (just after a ring change).
    let end = std::time::Instant::now() + cfg.connect_timeout;
    client::retry_try_again(end, Duration::from_millis(50), || cpg.join(GROUP)).context("join the CRM group")?;
    info!(group = GROUP, socket = %cfg.socket.display(), "joined");

    let mut host = Host {
        node,
        cpg,
        quorum,
        agents,
        store,
        control,
        sendq: SendQueue::new(SEND_QUEUE_MAX),
        cib_clients: BTreeMap::new(),
        start,
        config_version: None,
        shutdown: false,
        wall_at_zero,
        stopping: None,
        flow_held: false,
    };
    host.refresh_config();
    host.drain()?;
    // systemd (Type=notify): ready once in the group with the control socket bound.
    if let Err(e) = engine::sdnotify::notify("READY=1") {
        warn!(error = %e, "sd_notify");
    }
    let mut wake_rx = wake_rx;
    loop {
        if flags.term.swap(false, Ordering::Relaxed) {
            if host.stopping.is_some() {
                info!("second SIGTERM: leaving the group now");
                host.leave();
                return Ok(());
            }
            if !host.request_shutdown(cfg.shutdown_timeout)? {
                info!("SIGTERM: no DC to stop this node's resources: leaving the group");
                host.leave();
                return Ok(());
            }
        }
        if host.stopping.is_some_and(|end| std::time::Instant::now() >= end) {
            warn!(
                timeout = ?cfg.shutdown_timeout,
                "the DC did not finish this node's shutdown in time: leaving the group, resources may still run here"
            );
            host.leave();
            return Ok(());
        }
        if flags.hup.swap(false, Ordering::Relaxed) {
            match crate::logging::reopen() {
                Ok(true) => info!("SIGHUP: log file reopened"),
                Ok(false) => {}
                Err(e) => error!(error = %e, "SIGHUP: cannot reopen the log file"),
            }
        }
        if host.shutdown {
            info!("the DC stopped this node's resources: leaving the group");
            host.leave();
            return Ok(());
        }
        host.step()?;
        let timeout = host.wait_time();
        let (cpg_ready, quorum_ready, signal_ready, wake_ready, listen_ready, clients) = {
            let mut fds = vec![
                PollFd::new(host.cpg.as_fd(), PollFlags::POLLIN),
                PollFd::new(signal_pipe.as_fd(), PollFlags::POLLIN),
                PollFd::new(wake_rx.as_fd(), PollFlags::POLLIN),
                PollFd::new(host.control.listener_fd(), PollFlags::POLLIN),
            ];
            if let Some(q) = &host.quorum {
                fds.push(PollFd::new(q.as_fd(), PollFlags::POLLIN));
            }
            let base = fds.len();
            let interests = host.control.interests();
            for i in &interests {
                let mut f = PollFlags::empty();
                if i.read {
                    f |= PollFlags::POLLIN;
                }
                if i.write {
                    f |= PollFlags::POLLOUT;
                }
                fds.push(PollFd::new(i.fd, f));
            }
            let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
            match poll(&mut fds, PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)) {
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => bail!("poll: {e}"),
            }
            let ready = |f: &PollFd| f.revents().is_some_and(|r| !r.is_empty());
            let clients: Vec<(ClientId, bool, bool)> = interests
                .iter()
                .enumerate()
                .filter(|(k, _)| ready(&fds[base + k]))
                .map(|(k, i)| {
                    let r = fds[base + k].revents().unwrap_or(PollFlags::empty());
                    (
                        i.id,
                        r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR),
                        r.contains(PollFlags::POLLOUT),
                    )
                })
                .collect();
            (
                ready(&fds[0]),
                host.quorum.is_some() && ready(&fds[4]),
                ready(&fds[1]),
                ready(&fds[2]),
                ready(&fds[3]),
                clients,
            )
        };
        if signal_ready {
            let mut buf = [0u8; 64];
            let _ = signal_pipe.read(&mut buf);
        }
        if wake_ready {
            let mut buf = [0u8; 256];
            while matches!(wake_rx.read(&mut buf), Ok(n) if n > 0) {}
        }
        if cpg_ready {
            host.on_cpg()?;
        }
        if quorum_ready {
            host.on_quorum()?;
        }
        if listen_ready {
            host.control.accept();
        }
        for (id, read, write) in clients {
            if write {
                host.control.flush(id);
            }
            if read {
                host.control.read(id);
            }
        }
    }
}

impl Host {
    fn now(&self) -> totem::Instant {
        totem::Instant::from_nanos(self.start.elapsed().as_nanos() as u64)
    }

    /// Timers, agent results and control requests; then the output.
    fn step(&mut self) -> anyhow::Result<()> {
        let now = self.now();
        // The wall clock is set again only when it jumped (NTP step, suspend): setting
        // it every time would let its whole seconds jitter against the monotonic ones.
        let secs = (now.as_nanos() / 1_000_000_000) as i64;
        let wall_now = wall();
        if (wall_now - (self.wall_at_zero + secs)).abs() > 2 {
            info!(by = wall_now - (self.wall_at_zero + secs), "the wall clock jumped");
            self.node.set_wall_clock(now, wall_now);
            self.wall_at_zero = wall_now - secs;
        }
        if self.node.next_deadline().is_some_and(|d| d <= now) {
            self.node.on_timer(now);
            self.drain()?;
        }
        self.agents.on_timer(std::time::Instant::now());
        while let Some(done) = self.agents.poll() {
            let now = self.now();
            match done {
                Done::Exec(r) => self.node.on_exec_result(now, &r),
                Done::Fence(o) => self.node.on_fence_result(now, &o),
            }
            self.drain()?;
        }
        while let Some((client, req)) = self.control.next_request() {
            match req {
                Ok(req) => self.on_request(client, req),
                Err(e) => self.control.answer(client, &error_answer(e)),
            }
            self.drain()?;
        }
        self.drain()
    }

    /// Pacemaker's clean shutdown: the node's `shutdown` attribute asks the DC to stop
    /// its resources (moving them elsewhere), to record the node as expected down and
    /// then to tell it to go ([`Output::Shutdown`]). False when there is no DC to ask.
    fn request_shutdown(&mut self, timeout: Duration) -> anyhow::Result<bool> {
        if !self.node.membership().is_member() || self.node.dc().is_none() {
            return Ok(false);
        }
        if let Err(e) = self.node.request_shutdown() {
            warn!(error = %e, "cannot ask for a clean shutdown");
            return Ok(false);
        }
        info!(?timeout, "SIGTERM: asking the DC to stop this node's resources");
        self.stopping = Some(std::time::Instant::now() + timeout);
        self.drain()?;
        Ok(true)
    }

    fn wait_time(&self) -> Duration {
        if self.agents.has_immediate() {
            return Duration::ZERO;
        }
        let mut wait = IDLE_WAIT;
        if let Some(d) = self.node.next_deadline() {
            // Rounded up to the millisecond so the deadline has passed on waking.
            let left = d.saturating_duration_since(self.now());
            // At least 1 ms: a deadline the node keeps in the past must not spin the loop.
            let ms = (left.as_nanos().div_ceil(1_000_000) as u64).max(1);
            wait = wait.min(Duration::from_millis(ms));
        }
        if let Some(at) = self.agents.next_deadline() {
            let left = at.saturating_duration_since(std::time::Instant::now());
            wait = wait.min(left + Duration::from_millis(1));
        }
        if !self.sendq.is_empty() {
            wait = wait.min(FLOW_RETRY);
        }
        wait
    }

    fn on_cpg(&mut self) -> anyhow::Result<()> {
        let mut events = Vec::new();
        self.cpg
            .dispatch(DispatchFlags::All, |e| events.push(e))
            .context("cpg dispatch (ferrosyncd gone?)")?;
        for e in events {
            let now = self.now();
            match e {
                CpgEvent::Deliver {
                    group,
                    nodeid,
                    pid,
                    data,
                } if group_matches(&group) => {
                    let _ = self.node.on_deliver(now, ProcessId::new(nodeid, pid), &data);
                }
                CpgEvent::Confchg {
                    group,
                    members,
                    left,
                    joined,
                } if group_matches(&group) => {
                    let conv = |v: &[client::cpg::Address]| {
                        v.iter().map(|a| ProcessId::new(a.nodeid, a.pid)).collect::<Vec<_>>()
                    };
                    let c = Confchg {
                        members: conv(&members),
                        left: conv(&left),
                        joined: conv(&joined),
                    };
                    info!(members = ?c.members, left = ?c.left, joined = ?c.joined, "CRM group changed");
                    if let Err(e) = self.node.on_confchg(now, &c) {
                        warn!(error = %e, "configuration change refused");
                    }
                    // The quorum service's notification of the same ring change comes on
                    // another connection, in no particular order with this one: ask now,
                    // so that nothing the change causes is done with yesterday's quorum
                    // (a cut-off node acting as a quorate DC for a moment).
                    if let Some(q) = self.quorum.as_mut() {
                        let quorate = q.getquorate().context("quorum getquorate (ferrosyncd gone?)")?;
                        if quorate != self.node.membership().quorate() {
                            info!(quorate, "quorum (asked at the configuration change)");
                        }
                        self.node.on_quorum(now, quorate);
                    }
                }
                _ => {}
            }
            self.drain()?;
        }
        Ok(())
    }

    fn on_quorum(&mut self) -> anyhow::Result<()> {
        let Some(q) = self.quorum.as_mut() else { return Ok(()) };
        let mut events = Vec::new();
        q.dispatch(DispatchFlags::All, |e| events.push(e))
            .context("quorum dispatch (ferrosyncd gone?)")?;
        for e in events {
            info!(quorate = e.quorate, members = ?e.members, "quorum");
            let now = self.now();
            self.node.on_quorum(now, e.quorate);
            self.drain()?;
        }
        Ok(())
    }

    /// Fencing and the quorum policy from a changed configuration.
    fn refresh_config(&mut self) {
        let v = self.node.cib().version();
        let key = (v.admin_epoch, v.epoch);
        if self.config_version == Some(key) {
            return;
        }
        self.config_version = Some(key);
        let doc = self.node.cib();
        let fencing = config::fencing(doc);
        let policy = config::no_quorum_policy(doc);
        self.agents.set_fencing(&fencing);
        if policy != self.node.membership().policy() {
            info!(?policy, "no-quorum-policy");
            self.node.set_no_quorum_policy(policy);
        }
    }

    /// Takes the node's output (while the send queue has room) and sends what CPG takes.
    fn drain(&mut self) -> anyhow::Result<()> {
        loop {
            self.refresh_config();
            if !self.sendq.has_room() {
                if !self.flow_held {
                    warn!(queued = self.sendq.len(), "CPG flow control: holding the CRM's output");
                    self.flow_held = true;
                }
                break;
            }
            let Some(out) = self.node.poll_output() else { break };
            match out {
                Output::Multicast(bytes) => self.sendq.push(bytes),
                Output::Execute(req) => self.agents.execute(&req),
                Output::Cancel(key) => self.agents.cancel(key),
                Output::Fence(req) => self.agents.fence(&req),
                Output::Persist(doc) => {
                    if let Err(e) = self.store.save(&doc) {
                        error!(error = %e, "cannot write the CIB");
                    } else {
                        debug!(version = %doc.version(), "CIB written");
                    }
                }
                Output::CibReply { request, result } => {
                    if let Some(client) = self.cib_clients.remove(&request) {
                        let answer = match result {
                            Ok(v) => json!({"ok": true, "version": v.to_string()}),
                            Err(e) => error_answer(e),
                        };
                        self.control.answer(client, &answer);
                    }
                }
                Output::Shutdown => self.shutdown = true,
            }
        }
        self.send()
    }

    fn send(&mut self) -> anyhow::Result<()> {
        let cpg = &mut self.cpg;
        self.sendq
            .flush(|msg| match cpg.mcast_joined(Guarantee::Agreed, msg) {
                Ok(()) => Attempt::Sent,
                Err(e) if e.cs_error() == CsError::TryAgain => Attempt::Held,
                Err(e) => Attempt::Failed(e),
            })
            .context("cpg multicast (ferrosyncd gone?)")?;
        if self.flow_held && self.sendq.has_room() {
            info!("CPG flow control: released");
            self.flow_held = false;
        }
        Ok(())
    }

    fn node_id(&self, name: &str) -> Option<NodeId> {
        if let Ok(n) = name.parse::<u32>() {
            return Some(NodeId(n));
        }
        node_attr(self.node.cib(), ("uname", name), |n| {
            n.attr("id")?.parse().ok().map(NodeId)
        })
    }

    /// The name of node `id` (configuration `<node>`, else its `node_state`).
    fn node_name(&self, id: NodeId) -> Option<String> {
        node_attr(self.node.cib(), ("id", &id.0.to_string()), |n| {
            n.attr("uname").map(str::to_string)
        })
    }

    /// Every node known from the CIB or the membership: id, name, and whether a CRM
    /// process of it is a member now (`crm_node -l`).
    fn nodes(&self) -> Value {
        let mut ids: BTreeSet<u32> = self.node.membership().members().iter().map(|p| p.node.0).collect();
        let doc = self.node.cib();
        for (path, el) in NODE_ENTRIES {
            if let Some(sec) = doc.find(path) {
                ids.extend(sec.children_named(el).filter_map(|n| n.attr("id")?.parse::<u32>().ok()));
            }
        }
        let members = self.node.membership().members();
        let rows: Vec<Value> = ids
            .into_iter()
            .map(|id| {
                json!({
                    "id": id,
                    "uname": self.node_name(NodeId(id)),
                    "member": members.iter().any(|p| p.node.0 == id),
                })
            })
            .collect();
        Value::Array(rows)
    }

    fn status(&self) -> Value {
        let n = &self.node;
        let c = n.controller();
        let v: CibVersion = n.cib().version();
        json!({
            "ok": true,
            "me": pid_json(n.me()),
            "uname": n.local().lrm().uname(),
            "dc": n.dc().map(pid_json),
            "is_dc": c.active(),
            "members": n.membership().members().iter().map(|p| pid_json(*p)).collect::<Vec<_>>(),
            "quorate": n.membership().quorate(),
            "nodes": self.nodes(),
            "cib_version": v.to_string(),
            "cib_idle": n.cib_manager().idle(),
            "controller": if c.active() {
                json!({
                    "join_complete": c.join_complete(),
                    "idle": c.idle(),
                    "transition": c.transition().map(|t| json!({"id": t.id(), "aborted": t.aborted()})),
                    "transitions": c.stats().transitions,
                    "fenced": c.stats().fenced,
                })
            } else {
                Value::Null
            },
            "send_queue": self.sendq.len(),
            "operations": self.agents.calls_in_progress(),
        })
    }

    fn on_request(&mut self, client: ClientId, req: Request) {
        let answer = match req {
            Request::Status => self.status(),
            Request::Query => json!({"ok": true, "cib": self.node.cib().to_xml()}),
            Request::Cib(op) => match self.node.cib_request(op) {
                Ok(id) => {
                    self.cib_clients.insert(id, client);
                    return;
                }
                Err(e) => error_answer(e),
            },
            Request::Cleanup { rsc, node } => {
                let id = match node.as_deref().map(|n| (n, self.node_id(n))) {
                    None => None,
                    Some((_, Some(id))) => Some(id),
                    Some((n, None)) => {
                        self.control
                            .answer(client, &error_answer(format!("unknown node '{n}'")));
                        return;
                    }
                };
                match self.node.cleanup(&rsc, id) {
                    Ok(()) => json!({"ok": true}),
                    Err(e) => error_answer(e),
                }
            }
            Request::Attribute {
                node,
                name,
                value,
                dampen,
            } => match self.node_id(&node) {
                None => error_answer(format!("unknown node '{node}'")),
                Some(id) => {
                    let change = AttrChange {
                        node: id,
                        name,
                        change: value.map_or(Change::Delete, Change::Set),
                        dampen,
                    };
                    match self.node.update_attributes(vec![change]) {
                        Ok(()) => json!({"ok": true}),
                        Err(e) => error_answer(e),
                    }
                }
            },
            Request::Attributes { node, name } => self.attributes(node.as_deref(), name.as_ref()),
        };
        self.control.answer(client, &answer);
    }

    /// The attribute manager's table, of one node and/or one name when given.
    fn attributes(&self, node: Option<&str>, name: Option<&AttrName>) -> Value {
        let id = match node {
            None => None,
            Some(n) => match self.node_id(n) {
                Some(id) => Some(id),
                None => return error_answer(format!("unknown node '{n}'")),
            },
        };
        let rows: Vec<Value> = self
            .node
            .attrd()
            .values()
            .filter(|(n, a, _)| id.is_none_or(|id| id == *n) && name.is_none_or(|name| name == *a))
            .map(|(n, a, v)| {
                json!({
                    "node": self.node_name(n).unwrap_or_else(|| n.0.to_string()),
                    "id": n.0,
                    "name": a.as_str(),
                    "value": v.as_str(),
                })
            })
            .collect();
        json!({"ok": true, "attributes": rows})
    }

    /// Sends what is queued (briefly), then leaves the group.
    fn leave(&mut self) {
        let end = std::time::Instant::now() + Duration::from_secs(2);
        while !self.sendq.is_empty() && std::time::Instant::now() < end {
            if self.send().is_err() {
                break;
            }
            std::thread::sleep(FLOW_RETRY);
        }
        if let Err(e) = self.cpg.leave(GROUP) {
            warn!(error = %e, "cpg leave");
        }
        let fd = self.cpg.as_raw_fd();
        debug!(fd, "left the CRM group");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uname_comes_from_the_local_nodelist_entry() {
        let entries = vec![
            ("nodelist.node.0.name".to_string(), CmapValue::String("alpha".into())),
            ("nodelist.node.0.nodeid".to_string(), CmapValue::U32(1)),
            ("nodelist.node.1.name".to_string(), CmapValue::String("beta".into())),
            ("nodelist.node.1.nodeid".to_string(), CmapValue::U32(2)),
            ("nodelist.node.2.nodeid".to_string(), CmapValue::U32(3)),
        ];
        assert_eq!(uname_from_nodelist(&entries, 2).as_deref(), Some("beta"));
        assert_eq!(uname_from_nodelist(&entries, 3), None);
        assert_eq!(uname_from_nodelist(&entries, 9), None);
        assert!(group_matches(b"ferrosync.crm\0"));
        assert!(group_matches(GROUP.as_bytes()));
        assert!(!group_matches(b"crmd"));
    }
}

//! The event loop of `ferrosyncd`: one thread drives the sans-IO [`totem::Totem`] with a
//! monotonic clock, the udpu socket and signals.
//!
//! Links: with several `ringX_addr` the daemon runs in corosync's `link_mode: active` style:
//! every datagram goes out on every link and whatever arrives on any link is fed to the core
//! (Totem already discards duplicate tokens and messages). Losing a link therefore changes no
//! membership and needs no failover delay; the price is one copy per link. Link health (who
//! was heard on which link, and when) is tracked per link and reported in the status file.
//!
//! Why mio and not tokio: the protocol core is sans-IO and does all its own timing, so the
//! host only needs "wait until a socket is readable, a signal arrives or the core's next
//! deadline passes" — exactly one `epoll_wait` with a timeout. mio gives that safely on one
//! thread, with no runtime, no task wakeups and no allocation per event; tokio's
//! current_thread runtime would add a scheduler and timer wheel that the core does not use.
//! Measured (`cargo bench -p engine --bench event_loop`, UDP echo round trip through each loop,
//! three runs on the shared 2-core machine): mio 8.2–11.3 µs, tokio current_thread 12.8–22.5 µs.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use mio::{Events, Poll, Token};
use serde_json::json;
use services::cmap::StatsClear;
use services::{Node, NodeEvent};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR2};
use signal_hook_mio::v1_0::Signals;
use totem::wire::{decode_header, MessageType};
use totem::{ConfigurationKind, Destination, Event, Totem};
use transport::{Crypto, Faults, OpenError, Udpu, UdpuConfig, RECV_BUFFER};

use crate::conf::ClusterConfig;
use crate::loadgen::{Load, LoadSpec, LOAD_ENV};
use crate::realtime::AdaptivePriority;
use crate::token_batch::{HoldPolicy, Release, TokenBatch};
use crate::{ringid, status};

const SIGNALS: Token = Token(0);
/// The token-batch hold timer (below the links' and the IPC server's tokens).
const HOLD_TIMER: Token = Token(LINK_TOKEN_BASE + 64);
/// Link X's socket is registered as `Token(LINK_TOKEN_BASE + X)`.
const LINK_TOKEN_BASE: usize = 1;
/// Datagrams handled per wakeup before timers get a turn (the rest are read next round).
const READ_BURST: usize = 256;
/// Datagrams handled between two drains of the core's outputs within a burst.
const DRAIN_EVERY: usize = 32;
/// The status (file, cmap statistics, link view) is refreshed at the first wakeup this
/// long after the last refresh (counters move all the time)…
const STATUS_INTERVAL: Duration = Duration::from_secs(1);
/// …and a wakeup of its own comes only after this long: an idle ring wakes the daemon for
/// the token anyway, more than once a second, so the refresh rides on those.
const STATUS_WAKEUP: Duration = Duration::from_secs(3);
/// Environment variable with a test-only fault spec for the transport (see [`Faults::parse`]);
/// `FERROSYNC_TEST_FAULTS_LINK<X>` applies to link X only and wins over it.
pub const FAULTS_ENV: &str = "FERROSYNC_TEST_FAULTS";

/// At most this many messages for local clients are handed over before the datagrams of
/// the same drain (see [`Daemon::drain`]). At 1000 msgs/s on 3 nodes the sender's p50
/// latency went from 141–173 to 100–111 µs (cpgbench2, alternating runs); 64 B flat out,
/// where about half the sender's drains with datagrams hand over 8 or fewer, was unchanged
/// within the noise (thread mode 115–138k against 110–130k msgs/s in four rounds each).
const CLIENTS_FIRST_MAX: usize = 8;
/// …and only while they hold at most this many bytes: large events take long to copy.
const CLIENTS_FIRST_BYTES: usize = 4096;

/// Why the daemon stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(transparent)]
    Transport(#[from] transport::TransportError),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: io::Error,
    },
    #[error("{FAULTS_ENV}: {0}")]
    Faults(String),
    #[error("{LOAD_ENV}: {0}")]
    Load(String),
    #[error("{path}: {message}")]
    Key { path: String, message: String },
    #[error("configuration: {0}")]
    Config(String),
    #[error("IPC: {0} (another corosync or ferrosyncd in this network namespace? --no-ipc runs without)")]
    Ipc(#[from] ipc::IpcError),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> DaemonError {
    let what = what.into();
    move |source| DaemonError::Io { what, source }
}

/// Whether a peer last heard at `last` was heard within `window` of `now`.
fn heard_within(last: Option<std::time::Instant>, now: std::time::Instant, window: Duration) -> bool {
    last.is_some_and(|t| now.saturating_duration_since(t) <= window)
}

/// Reopens the log file (after rotation), on SIGHUP or a cfg request.
fn reopen_logs(why: &str) {
    match crate::logging::reopen() {
        Ok(_) => tracing::info!(by = why, "log files reopened"),
        Err(e) => tracing::warn!(by = why, error = %e, "cannot reopen the log file"),
    }
}

/// Monotonic time since daemon start, as the core's [`totem::Instant`].
struct Clock {
    origin: std::time::Instant,
}

impl Clock {
    fn now(&self) -> (std::time::Instant, totem::Instant) {
        let std_now = std::time::Instant::now();
        (
            std_now,
            totem::Instant::from_nanos((std_now - self.origin).as_nanos() as u64),
        )
    }

    fn to_std(&self, t: totem::Instant) -> std::time::Instant {
        self.origin + Duration::from_nanos(t.as_nanos())
    }
}

/// One node: configuration, core, link and bookkeeping for the status file.
pub struct Daemon {
    conf: ClusterConfig,
    node_id: u32,
    state_dir: PathBuf,
    clock: Clock,
    /// Totem and the services: the host loop the simulator runs too.
    totem: Node,
    /// The links this node has an address on, in link-number order.
    links: Vec<Udpu>,
    /// Per link: whether it was up at the last status refresh (for logging transitions).
    link_up: Vec<bool>,
    /// AEAD sealing of every datagram (`crypto_cipher: aes256`); `None`: plain corosync udpu.
    crypto: Option<Crypto>,
    /// Reused buffer for sealed datagrams (no allocation per message).
    seal_buf: Vec<u8>,
    /// Datagrams refused by crypto: truncated, forged (bad tag or wrong key), replayed.
    crypto_drops: [u64; 3],
    /// The libqb IPC server (corosync's client libraries); `None` with `--no-ipc`.
    ipc: Option<crate::ipc_host::IpcHost>,
    /// A host action asked the daemon to stop (cfg shutdown, kill-node).
    shutdown_requested: Option<String>,
    poll: Poll,
    signals: Signals,
    status_dirty: bool,
    last_status: std::time::Instant,
    /// What the status file holds ([`status::significant`]) and when it was written.
    status_written: Option<(serde_json::Value, std::time::Instant)>,
    last_membership_ms: Option<u64>,
    membership_changes: u64,
    /// Test/benchmark load (`FERROSYNC_TEST_LOAD`), off by default.
    load: Option<Load>,
    /// A token held while local clients fill its visit.
    batch: TokenBatch,
    /// `system.sched_rr: auto`: real-time priority except while local clients are busy.
    adaptive: Option<AdaptivePriority>,
}

impl Daemon {
    /// Loads the stored ring seq, binds the links and, with `ipc`, the libqb IPC service
    /// names, and sets up signals.
    pub fn new(conf: ClusterConfig, node_id: u32, state_dir: PathBuf, ipc: bool) -> Result<Self, DaemonError> {
        std::fs::create_dir_all(&state_dir).map_err(io_err(format!("create {}", state_dir.display())))?;
        let stored = ringid::load(&state_dir, node_id).map_err(io_err("load ring id"))?;
        tracing::info!(
            node_id,
            stored_ring_seq = stored,
            "created or loaded sequence id {:x}.{:x}",
            node_id,
            stored
        );
        let poll = Poll::new().map_err(io_err("create poll"))?;
        let local = conf
            .node(node_id)
            .ok_or(transport::TransportError::NotInNodelist(node_id))?
            .clone();
        let mut links = Vec::new();
        for (x, addr) in local.links.iter().enumerate() {
            if addr.is_none() {
                continue;
            }
            let spec = std::env::var(format!("{FAULTS_ENV}_LINK{x}")).or_else(|_| std::env::var(FAULTS_ENV));
            let faults = match spec {
                Ok(spec) => Some(Faults::parse(&spec).map_err(DaemonError::Faults)?),
                Err(_) => None,
            };
            if faults.is_some() {
                tracing::warn!(link = x, "test fault injection is on ({FAULTS_ENV})");
            }
            let mut link = Udpu::bind(UdpuConfig {
                link: x as u8,
                local_nodeid: node_id,
                nodes: conf
                    .nodes
                    .iter()
                    .filter_map(|n| Some((n.nodeid, (*n.links.get(x)?)?)))
                    .collect(),
                block_unlisted_ips: conf.block_unlisted_ips,
                faults,
            })?;
            link.register(poll.registry(), Token(LINK_TOKEN_BASE + x))
                .map_err(io_err("register socket"))?;
            tracing::info!(link = x, local = %link.local_addr(), "link up (udpu)");
            links.push(link);
        }
        let crypto = if conf.crypto {
            let key_err = |message: String| DaemonError::Key {
                path: conf.keyfile.display().to_string(),
                message,
            };
            let key = std::fs::read(&conf.keyfile).map_err(|e| key_err(e.to_string()))?;
            // Nonces never repeat: the counter continues above the persisted mark, and the
            // reservation it starts with is on disk before the first datagram is sealed.
            let name = ringid::crypto_counter_name(node_id);
            let mark = ringid::load_u64(&state_dir.join(&name)).map_err(io_err("load the crypto counter"))?;
            let unix_ms = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64);
            let first = Crypto::start_counter(mark, unix_ms);
            ringid::store_u64(&state_dir, &name, first + transport::crypto::COUNTER_BLOCK)
                .map_err(io_err("store the crypto counter"))?;
            let crypto = Crypto::new(&key, node_id, first).map_err(|e| key_err(e.to_string()))?;
            tracing::info!(keyfile = %conf.keyfile.display(), "crypto on: AES-256-GCM");
            Some(crypto)
        } else {
            None
        };
        let mut signals =
            Signals::new([SIGTERM, SIGINT, SIGUSR2, SIGHUP]).map_err(io_err("install signal handlers"))?;
        poll.registry()
            .register(&mut signals, SIGNALS, mio::Interest::READABLE)
            .map_err(io_err("register signals"))?;
        let ipc = if ipc {
            let host = crate::ipc_host::IpcHost::bind(poll.registry())?;
            tracing::info!("IPC: serving cfg, cpg, quorum, votequorum, cmap");
            Some(host)
        } else {
            None
        };
        let clock = Clock {
            origin: std::time::Instant::now(),
        };
        let mut seed = [0u8; 8];
        // A fixed seed would only make join timing of simultaneously started nodes alike.
        getrandom::getrandom(&mut seed).unwrap_or_default();
        let icmap = crate::cmap_config::build(&conf, node_id).map_err(|e| DaemonError::Config(e.to_string()))?;
        let totem = Node::new(
            Totem::new(
                conf.totem.clone(),
                node_id,
                stored,
                u64::from_ne_bytes(seed),
                totem::Instant::ZERO,
            ),
            icmap,
            services::standard,
        )
        .map_err(|e| DaemonError::Config(e.to_string()))?;
        let load = match std::env::var(LOAD_ENV) {
            Ok(spec) => {
                let spec = LoadSpec::parse(&spec).map_err(DaemonError::Load)?;
                tracing::warn!(rate = spec.rate, size = spec.size, "test load is on ({LOAD_ENV})");
                Some(Load::new(spec, node_id, clock.origin))
            }
            Err(_) => None,
        };
        let policy = HoldPolicy {
            hold: conf.token_batch_hold,
            target_frames: conf.totem.max_messages as usize,
        };
        let batch = TokenBatch::new(poll.registry(), HOLD_TIMER, policy).map_err(io_err("token hold timer"))?;
        tracing::info!(
            token_ms = conf.totem.token.as_millis() as u64,
            links = links.len(),
            "totem starting"
        );
        Ok(Daemon {
            conf,
            node_id,
            state_dir,
            clock,
            totem,
            link_up: vec![true; links.len()],
            crypto,
            seal_buf: Vec::with_capacity(RECV_BUFFER),
            crypto_drops: [0; 3],
            links,
            ipc,
            shutdown_requested: None,
            poll,
            signals,
            status_dirty: true,
            last_status: std::time::Instant::now(),
            status_written: None,
            last_membership_ms: None,
            membership_changes: 0,
            load,
            batch,
            adaptive: None,
        })
    }

    /// Runs at real-time priority except while the local clients are busy and the loop runs
    /// on time, then at the normal policy at `nice`, if given (`system.sched_rr: auto`);
    /// false if real-time priority was refused.
    pub fn adapt_priority(&mut self, nice: Option<i32>) -> bool {
        let (std_now, _) = self.clock.now();
        self.adaptive = AdaptivePriority::start(self.conf.totem.token, nice, std_now, self.client_requests());
        self.adaptive.is_some()
    }

    /// Requests from local clients since start (none without IPC).
    fn client_requests(&self) -> u64 {
        self.ipc.as_ref().map_or(0, crate::ipc_host::IpcHost::requests)
    }

    /// Runs until SIGTERM/SIGINT (leaving the ring cleanly) or a fatal error.
    pub fn run(mut self) -> Result<(), DaemonError> {
        let mut events = Events::with_capacity(16);
        let mut buf = vec![0u8; RECV_BUFFER];
        // Per link: edge-triggered readiness seen but the socket not yet read dry.
        let mut more_to_read = vec![false; self.links.len()];
        self.drain()?;
        loop {
            let (std_now, _) = self.clock.now();
            let timeout = if more_to_read.iter().any(|m| *m) {
                Some(Duration::ZERO)
            } else {
                Some(self.next_wakeup(std_now))
            };
            if let Err(e) = self.poll.poll(&mut events, timeout) {
                if e.kind() != io::ErrorKind::Interrupted {
                    return Err(io_err("poll")(e));
                }
            }
            let requests = self.client_requests();
            if let Some(adaptive) = &mut self.adaptive {
                adaptive.on_wakeup(self.clock.now().0, requests);
            }
            let mut stop = false;
            let mut ipc_ready = false;
            for event in events.iter() {
                match event.token() {
                    SIGNALS => {
                        for sig in self.signals.pending() {
                            if sig == SIGHUP {
                                reopen_logs("SIGHUP");
                                continue;
                            }
                            if sig == SIGUSR2 {
                                match crate::blackbox::recorder().dump() {
                                    Ok(path) => tracing::info!(path = %path.display(), "flight recorder dumped"),
                                    Err(e) => tracing::warn!(error = %e, "flight recorder dump failed"),
                                }
                                continue;
                            }
                            tracing::info!(signal = sig, "signal received, leaving the ring");
                            stop = true;
                        }
                    }
                    // Only wakes the loop: the held token's deadline is checked below.
                    HOLD_TIMER => {}
                    token if self.ipc.as_ref().is_some_and(|i| i.owns(token)) => {
                        let (std_now, _) = self.clock.now();
                        if let Some(ipc) = &mut self.ipc {
                            ipc.handle_ready(event, std_now);
                        }
                        ipc_ready = true;
                    }
                    Token(t) => {
                        if let Some(slot) = self
                            .links
                            .iter()
                            .position(|l| usize::from(l.link()) + LINK_TOKEN_BASE == t)
                        {
                            more_to_read[slot] = true;
                        }
                    }
                }
            }
            if let Some(reason) = self.shutdown_requested.take() {
                tracing::info!(%reason, "shutdown requested, leaving the ring");
                stop = true;
            }
            if stop {
                return self.leave();
            }
            // Client requests first: a token that arrived in the same wakeup then carries
            // them, instead of leaving them for its next rotation.
            let (std_now, _) = self.clock.now();
            if let Some(ipc) = &mut self.ipc {
                if ipc.poll_timeout().is_some_and(|t| t <= std_now) {
                    ipc.handle_timeout(std_now);
                    ipc_ready = true;
                }
                if ipc_ready {
                    let (_, now) = self.clock.now();
                    if ipc.to_node(&mut self.totem, now) {
                        self.drain()?;
                    }
                }
            }
            if self
                .ipc
                .as_mut()
                .is_some_and(crate::ipc_host::IpcHost::take_cmap_requested)
            {
                self.apply_stats_clears();
            }
            let (std_now, _) = self.clock.now();
            if let Some(why) = self.batch.due(&self.totem, std_now) {
                self.release_held_token(why)?;
            }
            for (slot, more) in more_to_read.iter_mut().enumerate() {
                if *more {
                    *more = self.read_packets(slot, &mut buf)?;
                }
            }
            let (std_now, now) = self.clock.now();
            for link in &mut self.links {
                link.flush_delayed(std_now);
            }
            if let Some(load) = &mut self.load {
                if load.next_due() <= std_now {
                    if self.totem.srp().state() == totem::MembState::Operational {
                        load.tick(std_now, &mut self.totem);
                        self.drain()?;
                    } else {
                        load.pause(std_now);
                    }
                }
            }
            if self.totem.poll_timeout().is_some_and(|t| t <= now) {
                self.totem.handle_timeout(now);
                self.drain()?;
            }
            if self.status_dirty || std_now.duration_since(self.last_status) >= STATUS_INTERVAL {
                self.write_status(false);
            }
        }
    }

    /// Time until the core's next deadline, a delayed datagram or the status refresh
    /// ([`STATUS_WAKEUP`]).
    fn next_wakeup(&self, std_now: std::time::Instant) -> Duration {
        let mut next = self.last_status + STATUS_WAKEUP;
        if let Some(t) = self.totem.poll_timeout() {
            next = next.min(self.clock.to_std(t));
        }
        if let Some(t) = self.links.iter().filter_map(Udpu::next_deadline).min() {
            next = next.min(t);
        }
        if let Some(load) = &self.load {
            next = next.min(load.next_due());
        }
        if let Some(t) = self.ipc.as_ref().and_then(|i| i.poll_timeout()) {
            next = next.min(t);
        }
        if let Some(t) = self.adaptive.as_ref().and_then(AdaptivePriority::deadline) {
            next = next.min(t);
        }
        if let Some(t) = self.batch.deadline() {
            // The hold timer (a timerfd) wakes us on time; this is the fallback.
            next = next.min(t);
        }
        // Round up to whole ms: epoll's resolution; waking early would only spin.
        let d = next.saturating_duration_since(std_now);
        Duration::from_millis(d.as_micros().div_ceil(1000) as u64)
    }

    /// Feeds up to [`READ_BURST`] datagrams of link slot `slot` to the core; true if more
    /// may be waiting.
    fn read_packets(&mut self, slot: usize, buf: &mut [u8]) -> Result<bool, DaemonError> {
        let mut handled = 0usize;
        for _ in 0..READ_BURST {
            let (std_now, now) = self.clock.now();
            let Some((len, from)) = self.links[slot].recv(std_now, buf) else {
                if !handled.is_multiple_of(DRAIN_EVERY) {
                    self.drain()?;
                }
                return Ok(false);
            };
            let range = match &mut self.crypto {
                None => 0..len,
                Some(crypto) => match crypto.open(&mut buf[..len]) {
                    Ok(range) => range,
                    Err(e) => {
                        let i = match e {
                            OpenError::Truncated => 0,
                            OpenError::Forged => 1,
                            OpenError::Replayed => 2,
                        };
                        self.crypto_drops[i] += 1;
                        // Replays are normal with several links (one copy per link).
                        if e != OpenError::Replayed {
                            tracing::debug!(%from, error = %e, "dropped datagram");
                        }
                        continue;
                    }
                },
            };
            let datagram = &buf[range];
            if self.batch.is_holding() {
                if self.batch.is_copy(datagram) {
                    // The held token again, from another link.
                    continue;
                }
                if decode_header(datagram).is_ok_and(|h| h.message_type == MessageType::OrfToken) {
                    // Another token (resent, or a new ring's): the held one goes first.
                    self.release_held_token(Release::AnotherToken)?;
                }
            }
            if self.batch.try_hold(&self.totem, datagram, std_now) {
                continue;
            }
            if let Err(e) = self.totem.handle_packet(now, datagram) {
                tracing::debug!(%from, error = %e, "dropped malformed datagram");
            }
            // Outputs wait while more datagrams are ready: one batch of sends and client
            // notifications for the whole burst. A token is forwarded after the burst, a
            // few microseconds later, with everything it allows sent in the same batch.
            handled += 1;
            if handled.is_multiple_of(DRAIN_EVERY) {
                self.drain()?;
            }
        }
        self.drain()?;
        Ok(true)
    }

    /// Feeds the held token to the core and sends what its visit allows.
    fn release_held_token(&mut self, why: Release) -> Result<(), DaemonError> {
        let (std_now, now) = self.clock.now();
        let held = self.batch.take(why, std_now);
        if let Err(e) = self.totem.handle_packet(now, &held) {
            tracing::debug!(error = %e, "dropped malformed held token");
        }
        self.batch.give_back(held);
        self.drain()
    }

    /// Sends what the core queued and handles its events, in the order the core requires.
    fn drain(&mut self) -> Result<(), DaemonError> {
        let (std_now, now) = self.clock.now();
        // The ring seq goes to disk before the commit token that announces it leaves.
        if let Some(seq) = self.totem.poll_ring_seq_to_store() {
            ringid::store(&self.state_dir, self.node_id, seq).map_err(io_err("store ring id"))?;
            tracing::debug!(seq, "stored ring seq");
        }
        if let Some(mark) = self.crypto.as_ref().and_then(Crypto::reservation_due) {
            let name = ringid::crypto_counter_name(self.node_id);
            ringid::store_u64(&self.state_dir, &name, mark).map_err(io_err("store the crypto counter"))?;
            if let Some(crypto) = &mut self.crypto {
                crypto.extend_reservation(mark);
            }
        }
        // A few small messages for local clients (a response, the delivery of a lone
        // message) go out before the datagrams: handing them over is quicker than the sends,
        // which carry each datagram through the peers' receive path. More would hold up the
        // token.
        let clients_first = {
            let pending = self.totem.pending_client_messages();
            (1..=CLIENTS_FIRST_MAX).contains(&pending.len())
                && pending.map(|m| m.data.len()).sum::<usize>() <= CLIENTS_FIRST_BYTES
        };
        if clients_first {
            if let Some(ipc) = &mut self.ipc {
                ipc.from_node(&mut self.totem);
            }
        }
        while let Some(t) = self.totem.poll_transmit() {
            // Sealed once for all links and peers: a copy arriving on a second link is then
            // dropped by the replay window, which makes it a free de-duplication.
            let payload: &[u8] = match &mut self.crypto {
                None => &t.payload,
                Some(crypto) => match crypto.seal(&t.payload, &mut self.seal_buf) {
                    Ok(()) => &self.seal_buf,
                    Err(e) => {
                        // Cannot happen while the reservation is renewed above; never reuse.
                        tracing::error!(error = %e, "datagram not sent");
                        continue;
                    }
                },
            };
            for link in &mut self.links {
                if let Destination::Node(id) = t.destination {
                    if !link.has_node(id) {
                        continue;
                    }
                }
                link.send(std_now, t.destination, payload);
            }
        }
        for link in &mut self.links {
            link.flush();
        }
        match &mut self.ipc {
            Some(ipc) => ipc.from_node(&mut self.totem),
            None => while self.totem.poll_client_message().is_some() {},
        }
        while let Some(action) = self.totem.poll_action() {
            self.host_action(action);
        }
        while let Some(event) = self.totem.poll_event() {
            let event = match event {
                NodeEvent::Totem(e) => e,
                NodeEvent::AppDeliver { sender, message } => Event::Deliver { sender, message },
                NodeEvent::SyncCompleted { ring_id } => {
                    tracing::debug!(%ring_id, "services synchronised");
                    self.status_dirty = true;
                    continue;
                }
            };
            match event {
                // Already stored above, before anything was sent.
                Event::StoreRingSeq(_) => {}
                Event::StateChange { state, ring_id, reason } => {
                    tracing::debug!(%state, %ring_id, reason, "state change");
                    self.status_dirty = true;
                }
                Event::Configuration(change) if change.kind == ConfigurationKind::Regular => {
                    tracing::info!(
                        ring_id = %change.ring_id,
                        members = ?change.members,
                        joined = ?change.joined,
                        "new membership"
                    );
                    // corosync counts this node as joined in its first configuration.
                    let mut joined = change.joined.clone();
                    let own_ip = format!("runtime.members.{}.ip", self.node_id);
                    if self.totem.icmap().get(&own_ip).is_none() && !joined.contains(&self.node_id) {
                        joined.push(self.node_id);
                        joined.sort_unstable();
                    }
                    services::cmap::config::update_members(self.totem.icmap_mut(), &[], &joined);
                    self.last_membership_ms = Some(now.as_nanos() / 1_000_000);
                    self.membership_changes += 1;
                    self.status_dirty = true;
                }
                Event::Configuration(change) => {
                    services::cmap::config::update_members(self.totem.icmap_mut(), &change.left, &[]);
                    if !change.left.is_empty() {
                        tracing::info!(ring_id = %change.ring_id, left = ?change.left, "members left");
                    }
                }
                Event::Deliver { sender, message } => {
                    if let Some(load) = &mut self.load {
                        load.delivered(sender, &message);
                    }
                }
                Event::DeliverFrame { .. } => {}
            }
        }
        Ok(())
    }

    /// Carries out what a service asked of the host.
    fn host_action(&mut self, action: services::HostAction) {
        use services::HostAction;
        match action {
            HostAction::Shutdown { reason } => self.shutdown_requested = Some(reason),
            HostAction::ReopenLogs => reopen_logs("cfg"),
            HostAction::ReloadConfig { conn } => self.reload_config(conn),
            HostAction::Disconnect { conn } => {
                if let Some(ipc) = &mut self.ipc {
                    ipc.disconnect(conn);
                }
            }
        }
    }

    /// cfg RELOAD_CONFIG: reads the file again and applies what may change at run time.
    fn reload_config(&mut self, conn: Option<services::ConnId>) {
        let (_, now) = self.clock.now();
        let result = match ClusterConfig::load(std::path::Path::new(&self.conf.file))
            .map_err(|e| e.to_string())
            .and_then(|conf| {
                let map = crate::cmap_config::build(&conf, self.node_id).map_err(|e| e.to_string())?;
                self.apply_nodelist(&conf)?;
                Ok(map)
            }) {
            Ok(map) => {
                let refused = services::cmap::config::apply_reload(self.totem.icmap_mut(), map, self.node_id);
                if !refused.is_empty() {
                    tracing::warn!(?refused, "keys that cannot change at run time were kept");
                }
                self.totem
                    .with_service::<services::votequorum::VoteQuorum, _>(now, |v, ctx| v.reload_config(ctx));
                tracing::info!(file = %self.conf.file, "configuration reloaded");
                services::CsError::Ok
            }
            Err(e) => {
                tracing::error!(error = %e, "configuration reload failed");
                services::CsError::InvalidParam
            }
        };
        self.totem
            .with_service::<services::cfg::Cfg, _>(now, |c, ctx| c.config_reloaded(ctx, conn, result));
    }

    /// Gives every link the reloaded nodelist's addresses (nodes added or removed).
    fn apply_nodelist(&mut self, conf: &ClusterConfig) -> Result<(), String> {
        for link in &mut self.links {
            let x = usize::from(link.link());
            let nodes: Vec<_> = conf
                .nodes
                .iter()
                .filter_map(|n| Some((n.nodeid, (*n.links.get(x)?)?)))
                .collect();
            let before = link.peers().count();
            link.set_nodes(nodes).map_err(|e| format!("link {x}: {e}"))?;
            let after = link.peers().count();
            if before != after {
                tracing::info!(link = x, before, after, "nodelist changed");
            }
        }
        self.conf.nodes = conf.nodes.clone();
        Ok(())
    }

    fn leave(mut self) -> Result<(), DaemonError> {
        let (_, now) = self.clock.now();
        self.totem.leave(now);
        self.drain()?;
        self.write_status(true);
        tracing::info!("left the ring, exiting");
        Ok(())
    }

    /// A peer counts as up on a link while it was heard on it within this window.
    fn link_window(&self) -> Duration {
        self.conf.totem.token * 2
    }

    /// What cfg reports of the links (`corosync-cfgtool -s -n`): a peer is reachable
    /// while it is a member, and a link to it connected while it was heard on that link
    /// within two token timeouts (corosync's udpu only knows membership).
    fn cfg_link_view(&self, std_now: std::time::Instant) -> services::cfg::LinkView {
        use services::cfg::codec::{LinkStatus, NodeStatus};
        let window = self.link_window();
        let members = self.totem.srp().members();
        let mtu = self.conf.totem.frame_mtu as u32;
        let mut view = services::cfg::LinkView::default();
        for link in &self.links {
            for (id, addr, last) in link.peers() {
                if id == self.node_id {
                    continue;
                }
                let node = view.nodes.entry(id).or_insert_with(|| NodeStatus {
                    nodeid: id,
                    reachable: members.contains(&id),
                    ..Default::default()
                });
                node.links.push(LinkStatus {
                    link: link.link(),
                    enabled: true,
                    connected: heard_within(last, std_now, window),
                    mtu,
                    src_addr: addr.ip().to_string(),
                    ..Default::default()
                });
            }
        }
        view
    }

    /// Per-link status: counters and, per node, when it was last heard on the link. A link is
    /// up while some other node was heard on it within two token timeouts (or it has no
    /// other node); transitions are logged.
    fn link_health(&mut self, std_now: std::time::Instant) -> Vec<serde_json::Value> {
        let window = self.link_window();
        let mut out = Vec::new();
        for (slot, link) in self.links.iter().enumerate() {
            let mut others = 0;
            let mut heard = 0;
            let mut peers = Vec::new();
            for (id, addr, last) in link.peers() {
                if id == self.node_id {
                    continue;
                }
                others += 1;
                let ago = last.map(|t| std_now.saturating_duration_since(t));
                let up = heard_within(last, std_now, window);
                heard += usize::from(up);
                peers.push(json!({
                    "node": id, "addr": addr.to_string(), "up": up,
                    "last_rx_ms_ago": ago.map(|a| a.as_millis() as u64),
                }));
            }
            let up = others == 0 || heard > 0;
            if up != self.link_up[slot] {
                if up {
                    tracing::info!(link = link.link(), "link is up again");
                } else {
                    tracing::warn!(
                        link = link.link(),
                        window_ms = window.as_millis() as u64,
                        "link down: no node heard on it"
                    );
                }
                self.link_up[slot] = up;
            }
            let ls = link.stats();
            out.push(json!({
                "link": link.link(),
                "local": link.local_addr().to_string(),
                "up": up,
                "peers": peers,
                "tx_packets": ls.tx_packets, "tx_bytes": ls.tx_bytes, "tx_errors": ls.tx_errors,
                "rx_packets": ls.rx_packets, "rx_bytes": ls.rx_bytes,
                "rx_blocked_unlisted": ls.rx_blocked_unlisted,
                "fault_dropped": ls.fault_dropped, "fault_delayed": ls.fault_delayed,
            }));
        }
        out
    }

    /// Resets the counters clients asked to clear by writing `stats.clear.*` (corosync's
    /// `stats_map_set`); the stats map shows zeros at once.
    fn apply_stats_clears(&mut self) {
        let (_, now) = self.clock.now();
        let clears = self
            .totem
            .with_service::<services::cmap::Cmap, _>(now, |c, _| c.stats_mut().take_clears())
            .unwrap_or_default();
        for clear in &clears {
            let (totem, ipc) = match clear {
                StatsClear::Totem => (true, false),
                StatsClear::Ipc => (false, true),
                StatsClear::All => (true, true),
                // No knet links and no scheduling-miss log here: nothing to reset.
                StatsClear::Knet | StatsClear::Schedmiss => (false, false),
            };
            if totem {
                self.totem.clear_totem_stats();
                self.batch.clear_stats();
            }
            if ipc {
                if let Some(ipc) = &mut self.ipc {
                    ipc.clear_stats();
                }
            }
        }
        if !clears.is_empty() {
            self.status_dirty = true;
        }
    }

    fn write_status(&mut self, stopped: bool) {
        let (std_now, now) = self.clock.now();
        let links = self.link_health(std_now);
        if let Some(ipc) = &mut self.ipc {
            ipc.update_stats(&mut self.totem, now);
        }
        let view = self.cfg_link_view(std_now);
        self.totem
            .with_service::<services::cfg::Cfg, _>(now, |c, _| c.set_link_view(view));
        let srp_stats = self.totem.srp().stats().clone();
        let hold_stats = self.batch.stats();
        let sched = self.adaptive.as_ref().map(|a| (a.is_realtime(), a.stats()));
        self.totem.with_service::<services::cmap::Cmap, _>(now, |c, _| {
            let stats = c.stats_mut();
            stats.fill_srp(&srp_stats);
            for (key, value) in hold_stats.entries() {
                stats.set(format!("stats.srp.{key}"), services::Value::U64(value));
            }
            if let Some((realtime, s)) = sched {
                for (key, value) in [
                    ("realtime", u64::from(realtime)),
                    ("starved", s.starved),
                    ("busy", s.busy),
                    ("late_wakeups", s.late_wakeups),
                    ("max_late_us", s.max_late.as_micros() as u64),
                ] {
                    stats.set(format!("stats.sched.{key}"), services::Value::U64(value));
                }
            }
        });
        let srp = self.totem.srp();
        let state = if stopped {
            "LEFT".to_owned()
        } else {
            srp.state().to_string()
        };
        let snapshot = status::Snapshot {
            node_id: self.node_id,
            cluster_name: &self.conf.cluster_name,
            pid: std::process::id(),
            state: &state,
            ring_id: srp.ring_id(),
            members: srp.members(),
            uptime_ms: now.as_nanos() / 1_000_000,
            last_membership_ms: self.last_membership_ms,
            membership_changes: self.membership_changes,
            links,
            crypto: json!({
                "enabled": self.crypto.is_some(),
                "rx_truncated": self.crypto_drops[0],
                "rx_forged": self.crypto_drops[1],
                "rx_replayed": self.crypto_drops[2],
            }),
            load: self.load.as_ref().map_or(serde_json::Value::Null, Load::to_json),
        };
        let json = snapshot.to_json();
        let key = status::significant(&json);
        let stale = match &self.status_written {
            None => true,
            Some((written, at)) => *written != key || std_now.duration_since(*at) >= status::MAX_AGE,
        };
        if stopped || self.status_dirty || stale {
            match status::write(&self.state_dir, &json) {
                Ok(()) => self.status_written = Some((key, std_now)),
                Err(e) => tracing::warn!(error = %e, "cannot write the status file"),
            }
        }
        self.status_dirty = false;
        self.last_status = std_now;
    }
}

//! The discrete-event core: virtual clock, event queue, hosts and the network.
//! Drives real `totem::Totem` nodes exactly as a daemon would (input, then drain
//! transmits, then drain events, then re-arm the timer) and feeds every observation
//! to the history and the invariant checker.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Duration;

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use services::NodeEvent;
use totem::{Config, ConfigurationKind, Destination, Event, Instant, NodeId, RingId, SubmitError, Totem};

use crate::history::{Delivery, Disturbance, End, Entry, History, Timing};
use crate::invariants::Checker;
use crate::network::Network;
use crate::node::{Host, Status};
use crate::report::{Counters, Failure, Trace};
use crate::workload;

/// A deliberate bug planted in node 1's host, to prove the checkers can fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mutation {
    /// Node 1 delivers its 3rd and 4th messages in swapped order.
    SwapDeliveries,
    /// Node 1 drops another member from its first multi-node regular configuration.
    CorruptMembers,
    /// Node 1's CPG clients get their 3rd and 4th deliveries in swapped order.
    CpgSwapDeliveries,
    /// Node 1's CPG clients miss their 3rd delivery.
    CpgDropDelivery,
    /// A client on node 1 gets a process's first message before the view it joined in.
    CpgDeliverBeforeJoin,
    /// Node 1's CPG clients get their first transitional change (processes removed with
    /// reason NODEDOWN) without the last of those processes, which stays a member (as a
    /// CPG with a stale downlist would show it).
    CpgStaleDownlist,
    /// Node 1 handles client multicasts during synchronisation instead of holding them.
    UnholdDuringSync,
    /// Node 1 claims to be quorate whatever votequorum decided.
    FalseQuorate,
    /// Node 1 loses one message of another node, sent before the liveness phase, that it
    /// delivers in the liveness phase (the final ring, or the transition to it).
    DropFinalRingDelivery,
    /// Every node runs without votequorum's `wait_for_all` although the run configures
    /// it, and node 1 boots three token timeouts late (so the others can be a majority
    /// before all nodes were ever together).
    IgnoreWaitForAll,
}

/// What the event queue holds.
#[derive(Debug)]
enum Ev {
    Packet {
        to: usize,
        from: usize,
        data: Bytes,
    },
    Timer {
        node: usize,
        at: u64,
    },
    Resume {
        node: usize,
    },
    Restart {
        node: usize,
    },
    /// A slowed-down node takes the next datagram from its socket buffer.
    Drain {
        node: usize,
        at: u64,
    },
    /// A slowdown ends.
    SlowEnd {
        node: usize,
        until: u64,
    },
    Driver(u32),
}

/// Heap key: (time, insertion seq, slot in `Engine::slots`). Small keys keep the heap
/// cheap to sift; (time, seq) is unique, so order never depends on the slot.
type Key = Reverse<(u64, u64, u32)>;

/// Most timer firings at one instant before the node is declared stuck.
const TIMER_SPIN_MAX: u32 = 10_000;
/// Storm detector: a healthy cluster of 32 nodes stays far below this many events in
/// 10 ms of virtual time (larger ones get N²/32² times as many); a join or token storm
/// exceeds it within microseconds. A window whose events are mostly multicasts arriving
/// is data moving, not a storm (tokens and joins are what loop): a ring of one passes the
/// token to itself over loopback (a quarter of the latency) and sends its backlog to
/// every peer at that pace (seed 60000065 at 32 nodes: 3,218 multicasts to 31 peers in
/// 10 ms). The overall event budget still bounds a run.
const STORM_EVENTS: u64 = 100_000;
/// Multicast arrivals allowed per node per message submitted, beyond the event budget: a
/// message reaches every node in one frame or a few (retransmissions, RECOVERY's re-sends),
/// so a heavy workload's traffic grows with messages × N, which a budget linear in N does
/// not cover (seed 92000147 at 64 nodes: 149,762 messages delivered to 64 nodes each).
const DATA_ARRIVALS_PER_MESSAGE: u64 = 4;
const STORM_WINDOW_NS: u64 = 10_000_000;
/// Most transmits plus events drained after one input before the node is declared stuck.
const DRAIN_MAX: u64 = 1_000_000;

/// The simulated cluster.
pub struct Engine {
    pub now: Instant,
    queue: BinaryHeap<Key>,
    /// Events by slot; freed slots are reused.
    slots: Vec<Option<Ev>>,
    free: Vec<u32>,
    seq: u64,
    pub hosts: Vec<Host>,
    /// Node id of each host index (the nodelist; ids need not be contiguous).
    pub ids: Vec<NodeId>,
    pub net: Network,
    pub rng: SmallRng,
    pub history: History,
    checker: Checker,
    pub config: Config,
    pub trace: Trace,
    pub counters: Counters,
    pub failure: Option<Failure>,
    pub phase: &'static str,
    /// Socket buffer of a paused node, in datagrams.
    pub socket_buffer: usize,
    /// Upper bound on processed events other than multicast arrivals (a storm of packets
    /// is a failure, not a hang). Multicast arrivals are data moving: they get their own
    /// allowance, [`DATA_ARRIVALS_PER_MESSAGE`] per node per message submitted.
    pub max_events: u64,
    /// Storm detector bound: events within 10 ms of virtual time.
    storm_events: u64,
    /// Storm detector: events since `window_start` (virtual ns).
    window_start: u64,
    window_events: u64,
    /// Multicast datagrams arrived since `window_start`.
    window_mcasts: u64,
    mutation: Option<Mutation>,
    /// Delivery held back by the swap mutation.
    held: Option<Delivery>,
    corrupted: bool,
    scratch: Vec<u8>,
    transmits: Vec<totem::Transmit>,
    /// Log every datagram sent, lost and received (`-vv`).
    pub packet_trace: bool,
    /// The simulated CPG clients.
    pub cpg: crate::clients::Clients,
    pub(crate) mutant: crate::service_mutations::MutationState,
    /// Faults are also triggered by nodes entering COMMIT or RECOVERY (safety phase).
    pub phase_faults: bool,
    /// When the liveness phase began (the end of time before it).
    pub liveness_from: Instant,
    /// Nodes sometimes crash while writing their ring seq (see [`Self::torn_write`]).
    pub torn_writes: bool,
    /// The node whose COMMIT or RECOVERY triggered the fault step now due.
    pub phase_fault_node: Option<usize>,
    last_phase_fault: Option<Instant>,
    /// Per node: the ring of its last quorate decision while it considered that ring
    /// current (see [`crate::invariants::quorum_safety`]).
    pub(crate) quorate_in: Vec<Option<(RingId, Vec<NodeId>)>>,
    /// Per node: the last quorum decision generation seen, whether it was quorate, and
    /// whether the node was ever quorate in the run (see
    /// [`crate::invariants::quorum_wait_for_all`]).
    pub(crate) wfa_seen: Vec<(u64, bool, bool)>,
}

impl Engine {
    /// One node per entry of `ids` (the nodelist), all booted at time zero.
    pub fn new(ids: Vec<NodeId>, config: Config, net: Network, seed: u64, verbose: bool) -> Self {
        let nodes = ids.len();
        let token_ns = config.token.as_nanos() as u64;
        let mut e = Engine {
            now: Instant::ZERO,
            queue: BinaryHeap::new(),
            slots: Vec::new(),
            free: Vec::new(),
            seq: 0,
            hosts: Vec::with_capacity(nodes),
            ids: ids.clone(),
            net,
            rng: SmallRng::seed_from_u64(seed),
            history: History::default(),
            checker: Checker::default(),
            config,
            trace: Trace::new(ids, verbose),
            counters: Counters::default(),
            failure: None,
            phase: "safety",
            socket_buffer: 256,
            // A membership round costs about N² datagrams: budgets grow with N beyond 32.
            max_events: 5_000_000 * (nodes as u64 / 16).max(1),
            storm_events: STORM_EVENTS * ((nodes as u64 * nodes as u64) / (32 * 32)).max(1),
            window_start: 0,
            window_events: 0,
            window_mcasts: 0,
            mutation: None,
            held: None,
            corrupted: false,
            scratch: Vec::new(),
            transmits: Vec::new(),
            packet_trace: false,
            cpg: crate::clients::Clients::new(nodes, seed, token_ns),
            mutant: Default::default(),
            phase_faults: false,
            torn_writes: false,
            liveness_from: Instant::from_nanos(u64::MAX),
            phase_fault_node: None,
            last_phase_fault: None,
            quorate_in: vec![None; nodes],
            wfa_seen: vec![(0, false, false); nodes],
        };
        e.history.cpg.groups = e.cpg.group_names();
        e.history.timing = Some(Timing {
            token: e.config.token,
            consensus: e.config.consensus,
        });
        for i in 0..nodes {
            let id = e.ids[i];
            let inc = e.history.start(id, e.now);
            let totem = Totem::new(e.config.clone(), id, 0, e.rng.gen(), e.now);
            let node = crate::node::boot_services_with(totem, &e.ids, e.cpg.profile.wait_for_all);
            e.hosts.push(Host::new(id, node, inc));
        }
        for i in 0..nodes {
            e.trace.line(e.now, Some(e.ids[i]), || "boots".into());
            e.drain(i);
        }
        e
    }

    pub fn set_mutation(&mut self, m: Option<Mutation>) {
        self.mutation = m;
        if m == Some(Mutation::IgnoreWaitForAll) {
            for i in 0..self.hosts.len() {
                self.crash(i);
            }
            for i in 1..self.hosts.len() {
                self.restart(i);
            }
            self.restart_after(0, self.config.token * 3);
        }
        if m == Some(Mutation::UnholdDuringSync) {
            if let Some(t) = self.hosts[0].totem.as_mut() {
                t.set_unhold_during_sync(true);
            }
        }
    }

    pub fn mutation(&self) -> Option<Mutation> {
        self.mutation
    }

    pub fn fail(&mut self, what: impl Into<String>, detail: impl Into<String>) {
        if self.failure.is_none() {
            let (what, detail) = (what.into(), detail.into());
            self.trace.line(self.now, None, || format!("FAILURE {what}: {detail}"));
            self.failure = Some(Failure {
                at: self.now,
                phase: self.phase,
                what,
                detail,
            });
        }
    }

    fn push(&mut self, at: u64, ev: Ev) {
        self.seq += 1;
        let slot = match self.free.pop() {
            Some(i) => {
                self.slots[i as usize] = Some(ev);
                i
            }
            None => {
                self.slots.push(Some(ev));
                (self.slots.len() - 1) as u32
            }
        };
        self.queue.push(Reverse((at, self.seq, slot)));
    }

    /// Schedules a driver step (`tag` is the driver's) after `delay`.
    /// COMMIT and RECOVERY last a few rotations (30–170 ms), while faults come every few
    /// tokens: with [`Self::phase_faults`] a node entering either triggers a fault step
    /// within a few latencies, one in five times, at most once per token timeout.
    fn maybe_phase_fault(&mut self, i: usize, state: totem::MembState) {
        let token = self.config.token;
        if !self.phase_faults
            || self.phase != "safety"
            || !matches!(state, totem::MembState::Commit | totem::MembState::Recovery)
            || self.phase_fault_node.is_some()
            || self.last_phase_fault.is_some_and(|t| self.now < t + token)
            || !self.rng.gen_bool(0.2)
        {
            return;
        }
        self.phase_fault_node = Some(i);
        self.last_phase_fault = Some(self.now);
        let delay = Duration::from_nanos(self.rng.gen_range(0..=self.net.profile.latency_ns * 4));
        let id = self.ids[i];
        self.trace.line(self.now, Some(id), || {
            format!("{state}: a fault follows within {delay:?}")
        });
        self.schedule_driver(delay, crate::run::PHASE_FAULT);
    }

    pub fn schedule_driver(&mut self, delay: Duration, tag: u32) {
        let at = (self.now + delay).as_nanos();
        self.push(at, Ev::Driver(tag));
    }

    /// Processes events up to `until`. Returns the tag of a driver step as soon as one
    /// is due (the clock then stands at its time), or `None` once the clock reaches
    /// `until` or the run has failed.
    pub fn advance(&mut self, until: Instant) -> Option<u32> {
        while self.failure.is_none() {
            match self.queue.peek() {
                Some(Reverse((at, _, _))) if *at <= until.as_nanos() => {}
                _ => {
                    self.now = self.now.max(until);
                    return None;
                }
            }
            let Reverse((at, _, slot)) = self.queue.pop().expect("peeked");
            let ev = self.slots[slot as usize]
                .take()
                .expect("scheduled slot holds its event");
            self.free.push(slot);
            self.now = Instant::from_nanos(at);
            self.counters.events += 1;
            let is_mcast = matches!(&ev, Ev::Packet { data, .. }
                if data.get(3) == Some(&(totem::wire::MessageType::Mcast as u8)));
            if is_mcast {
                self.counters.mcast_arrivals += 1;
            }
            let data_allowance = DATA_ARRIVALS_PER_MESSAGE * self.hosts.len() as u64 * self.counters.submitted;
            if self.counters.events - self.counters.mcast_arrivals > self.max_events
                || self.counters.mcast_arrivals > self.max_events + data_allowance
            {
                let detail = format!(
                    "more than {} events other than multicast arrivals, or more than {} multicast arrivals ({} of {} events were; {} messages submitted)",
                    self.max_events,
                    self.max_events + data_allowance,
                    self.counters.mcast_arrivals,
                    self.counters.events,
                    self.counters.submitted
                );
                self.fail("event budget", detail);
                return None;
            }
            if at - self.window_start > STORM_WINDOW_NS {
                self.window_start = at;
                self.window_events = 0;
                self.window_mcasts = 0;
            }
            self.window_events += 1;
            if self.window_events > self.storm_events && self.window_mcasts * 2 < self.window_events {
                let detail = format!("more than {} events within 10 ms of virtual time", self.storm_events);
                self.fail("packet or timer storm", detail);
                return None;
            }
            match ev {
                Ev::Driver(tag) => return Some(tag),
                Ev::Packet { to, from, data } => {
                    if is_mcast {
                        self.window_mcasts += 1;
                    }
                    self.arrive(to, from, data)
                }
                Ev::Timer { node, at } => self.timer(node, at),
                Ev::Resume { node } => self.resume(node),
                Ev::Restart { node } => self.restart(node),
                Ev::Drain { node, at } => self.drain_socket(node, at),
                Ev::SlowEnd { node, until } => {
                    if self.hosts[node].slow.is_some_and(|(u, _)| u.as_nanos() == until) {
                        self.unslow(node);
                    }
                }
            }
        }
        None
    }

    /// Runs until `done` holds (checked after every event) or `deadline` passes.
    /// Driver steps that come due are skipped. Returns whether `done` held.
    pub fn run_until(&mut self, deadline: Instant, mut done: impl FnMut(&Engine) -> bool) -> bool {
        loop {
            if done(self) {
                return true;
            }
            if self.failure.is_some() || self.now >= deadline {
                return false;
            }
            let next = match self.queue.peek() {
                Some(Reverse((at, _, _))) => Instant::from_nanos(*at).min(deadline),
                None => deadline,
            };
            self.advance(next);
        }
    }

    fn arrive(&mut self, to: usize, from: usize, data: Bytes) {
        match self.hosts[to].status {
            Status::Up if self.hosts[to].slow.is_some() => self.arrive_slow(to, from, data),
            Status::Up => self.input_packet(to, from, &data),
            Status::Paused => {
                if self.hosts[to].socket.len() < self.socket_buffer {
                    self.hosts[to].socket.push_back((from, data));
                } else {
                    self.counters.socket_overflows += 1;
                }
            }
            Status::Down(_) => self.counters.packets_lost += 1,
        }
    }

    /// A datagram reaches a slowed-down node: handled now if the node is idle, else
    /// queued in its socket buffer, or dropped when that is full.
    fn arrive_slow(&mut self, to: usize, from: usize, data: Bytes) {
        let now = self.now.as_nanos();
        let Some((_, cost)) = self.hosts[to].slow else { return };
        let h = &mut self.hosts[to];
        if h.socket.is_empty() && h.busy_until <= now {
            h.busy_until = now + cost.as_nanos() as u64;
            self.input_packet(to, from, &data);
            return;
        }
        if h.socket.len() >= self.socket_buffer {
            self.counters.socket_overflows += 1;
            self.counters.rx_overflows += 1;
            let id = self.ids[to];
            self.history.disturbance_starts(Disturbance::Backlog(id), self.now);
            if self.packet_trace {
                let what = crate::packets::describe(&data);
                let from_id = self.ids[from];
                self.trace.line(self.now, Some(id), || {
                    format!("  receive buffer full, dropped from n{from_id}: {what}")
                });
            }
            return;
        }
        // When it will be handled: a wait as long as an excusable pause is a stall.
        let wait = h.busy_until.saturating_sub(now) + h.socket.len() as u64 * cost.as_nanos() as u64;
        h.socket.push_back((from, data));
        let stall = self
            .config
            .token
            .mul_f64(crate::invariants::justified_exclusion::PAUSE_EXCUSE)
            .as_nanos() as u64;
        if wait >= stall {
            let id = self.ids[to];
            self.history.disturbance_starts(Disturbance::Backlog(id), self.now);
        }
        let h = &mut self.hosts[to];
        if h.drain_at.is_none() {
            let at = h.busy_until.max(now);
            h.drain_at = Some(at);
            self.push(at, Ev::Drain { node: to, at });
        }
    }

    /// A slowed-down node takes the next datagram from its socket buffer.
    fn drain_socket(&mut self, node: usize, at: u64) {
        let h = &mut self.hosts[node];
        if h.drain_at != Some(at) {
            return; // stale
        }
        h.drain_at = None;
        if h.status != Status::Up {
            return; // paused: the socket is read on resuming
        }
        let Some((_, cost)) = h.slow else {
            return;
        };
        let Some((from, data)) = h.socket.pop_front() else {
            return;
        };
        let now = self.now.as_nanos();
        h.busy_until = now + cost.as_nanos() as u64;
        if !h.socket.is_empty() {
            let next = h.busy_until;
            h.drain_at = Some(next);
            self.push(next, Ev::Drain { node, at: next });
        }
        self.input_packet(node, from, &data);
    }

    /// Slows down running node `i` for `d`: it handles one datagram per `cost`, and what
    /// arrives beyond its socket buffer meanwhile is dropped (a receive-buffer overflow).
    pub fn slow_down(&mut self, i: usize, d: Duration, cost: Duration) {
        if !self.hosts[i].is_up() || self.hosts[i].slow.is_some() {
            return;
        }
        self.counters.slowdowns += 1;
        let until = self.now + d;
        self.hosts[i].slow = Some((until, cost));
        self.hosts[i].busy_until = 0;
        self.push(
            until.as_nanos(),
            Ev::SlowEnd {
                node: i,
                until: until.as_nanos(),
            },
        );
        self.trace.mix(&[
            12,
            self.now.as_nanos(),
            i as u64,
            d.as_nanos() as u64,
            cost.as_nanos() as u64,
        ]);
        self.trace.line(self.now, Some(self.ids[i]), || {
            format!(
                "SLOWED for {d:?}: one datagram per {cost:?}, socket buffer {}",
                self.socket_buffer
            )
        });
    }

    /// A node that goes down ends its slowdown (and with it the overflow it caused).
    fn end_slowdown_span(&mut self, i: usize) {
        if self.hosts[i].slow.is_some() {
            let now = self.now;
            self.history.disturbance_ends(Disturbance::Backlog(self.ids[i]), now);
        }
    }

    /// Ends node `i`'s slowdown: a running node reads what its socket holds at once.
    pub fn unslow(&mut self, i: usize) {
        if self.hosts[i].slow.take().is_none() {
            return;
        }
        self.hosts[i].drain_at = None;
        let now = self.now;
        self.history.disturbance_ends(Disturbance::Backlog(self.ids[i]), now);
        if self.hosts[i].status != Status::Up {
            return;
        }
        let queued = self.hosts[i].socket.len();
        self.trace.line(now, Some(self.ids[i]), || {
            format!("back to speed with {queued} queued datagram(s)")
        });
        while let Some((from, data)) = self.hosts[i].socket.pop_front() {
            if self.failure.is_some() || self.hosts[i].status != Status::Up {
                break;
            }
            self.input_packet(i, from, &data);
        }
    }

    fn input_packet(&mut self, to: usize, from: usize, data: &Bytes) {
        self.counters.packets_received += 1;
        if self.packet_trace {
            let what = crate::packets::describe(data);
            let from_id = self.ids[from];
            self.trace
                .line(self.now, Some(self.ids[to]), || format!("  <- n{from_id}: {what}"));
        }
        let now = self.now;
        let Some(totem) = self.hosts[to].totem.as_mut() else {
            return;
        };
        if let Err(e) = totem.handle_datagram(now, data) {
            let detail = format!(
                "n{} rejected a {}-byte datagram from n{}: {e}",
                self.ids[to],
                data.len(),
                self.ids[from]
            );
            self.fail("wire codec", detail);
            return;
        }
        self.drain(to);
    }

    fn timer(&mut self, node: usize, at: u64) {
        let h = &mut self.hosts[node];
        if h.timer != Some(at) || h.status != Status::Up {
            return; // stale, or paused (re-armed on resume)
        }
        h.timer = None;
        self.fire_timer(node);
    }

    fn fire_timer(&mut self, node: usize) {
        let now = self.now;
        let h = &mut self.hosts[node];
        let Some(totem) = h.totem.as_mut() else { return };
        totem.handle_timeout(now);
        self.drain(node);
    }

    /// Resumes a paused node now: late timers and queued datagrams, in a seeded order.
    pub fn resume(&mut self, node: usize) {
        if self.hosts[node].status != Status::Paused {
            return;
        }
        let now = self.now;
        self.hosts[node].status = Status::Up;
        self.hosts[node].timer = None;
        self.history.disturbance_ends(Disturbance::Pause(self.ids[node]), now);
        let queued = self.hosts[node].socket.len();
        self.trace.line(now, Some(self.ids[node]), || {
            format!("resumes with {queued} queued datagram(s)")
        });
        // A resumed process sees its expired timers and its socket at once; which it
        // handles first is up to the scheduler, so let the seed decide.
        let timer_first = self.rng.gen_bool(0.5);
        let due = self.hosts[node]
            .totem
            .as_ref()
            .and_then(|t| t.poll_timeout())
            .is_some_and(|t| t <= now);
        if timer_first && due {
            self.fire_timer(node);
        }
        while let Some((from, data)) = self.hosts[node].socket.pop_front() {
            if self.failure.is_some() || self.hosts[node].status != Status::Up {
                break;
            }
            self.input_packet(node, from, &data);
        }
        self.drain(node);
    }

    /// Drains transmits and events of node `i`, then re-arms its timer.
    pub fn drain(&mut self, i: usize) {
        let mut transmits = std::mem::take(&mut self.transmits);
        let mut outputs = 0u64;
        while let Some(totem) = self.hosts[i].totem.as_mut() {
            // The disk write comes before any datagram leaves (a crash after announcing
            // a ring must not reuse its seq).
            let mut to_store = None;
            while let Some(seq) = totem.poll_ring_seq_to_store() {
                to_store = Some(seq);
            }
            if let Some(seq) = to_store {
                if self.torn_write(i, seq) {
                    self.transmits = transmits;
                    return;
                }
                self.persist_ring_seq(i, seq);
            }
            let Some(totem) = self.hosts[i].totem.as_mut() else {
                break;
            };
            while let Some(t) = totem.poll_transmit() {
                transmits.push(t);
                outputs += 1;
                if outputs > DRAIN_MAX {
                    break;
                }
            }
            let mut to_clients = Vec::new();
            while let Some(m) = totem.poll_client_message_stamped() {
                self.counters.client_messages += 1;
                to_clients.push(m);
            }
            let mut kicked = Vec::new();
            while let Some(a) = totem.poll_action() {
                if let services::HostAction::Disconnect { conn } = a {
                    kicked.push(conn);
                }
            }
            let event = loop {
                match totem.poll_event() {
                    None => break None,
                    Some(NodeEvent::Totem(e)) => break Some(e),
                    Some(NodeEvent::AppDeliver { sender, message }) => break Some(Event::Deliver { sender, message }),
                    Some(NodeEvent::SyncCompleted { .. }) => self.counters.syncs_completed += 1,
                }
            };
            outputs += 1;
            if outputs > DRAIN_MAX {
                transmits.clear();
                self.fail(
                    "output storm",
                    format!("n{} produced more than {DRAIN_MAX} outputs for one input", self.ids[i]),
                );
                break;
            }
            for t in transmits.drain(..) {
                self.send(i, t);
            }
            for (m, stamp) in to_clients {
                self.cpg_receive(i, m, stamp);
            }
            for conn in kicked {
                self.cpg_kicked(conn);
            }
            match event {
                Some(ev) => self.event(i, ev),
                None => break,
            }
        }
        self.transmits = transmits;
        self.quorum_observe(i);
        self.wait_for_all_observe(i);
        self.arm_timer(i);
    }

    fn arm_timer(&mut self, i: usize) {
        let now = self.now.as_nanos();
        let h = &mut self.hosts[i];
        if h.status != Status::Up {
            return;
        }
        let Some(deadline) = h.totem.as_ref().and_then(|t| t.poll_timeout()) else {
            h.timer = None;
            return;
        };
        let at = deadline.as_nanos().max(now);
        if at == now {
            h.timer_spins += 1;
            if h.timer_spins > TIMER_SPIN_MAX {
                let detail = format!("n{}: poll_timeout keeps returning {deadline} at {}", h.id, self.now);
                self.fail("timer livelock", detail);
                return;
            }
        } else {
            h.timer_spins = 0;
        }
        if h.timer != Some(at) {
            h.timer = Some(at);
            self.push(at, Ev::Timer { node: i, at });
        }
    }

    fn send(&mut self, from: usize, t: totem::Transmit) {
        self.counters.packets_sent += 1;
        if self.packet_trace {
            let to = match t.destination {
                Destination::Node(id) => format!("n{id}"),
                Destination::AllNodes => "all".into(),
            };
            let what = crate::packets::describe(&t.payload);
            self.trace
                .line(self.now, Some(self.ids[from]), || format!("  -> {to}: {what}"));
        }
        match t.destination {
            Destination::Node(id) => {
                let Some(to) = self.ids.iter().position(|n| *n == id) else {
                    let detail = format!("n{} sent a datagram to unknown node id {id}", self.ids[from]);
                    self.fail("destination", detail);
                    return;
                };
                if to == from {
                    // A ring of one passes the token to itself over loopback: never lost.
                    let at = self.now.as_nanos() + self.net.profile.latency_ns / 4 + 1;
                    self.push(
                        at,
                        Ev::Packet {
                            to: from,
                            from,
                            data: t.payload,
                        },
                    );
                    return;
                }
                self.route(from, to, &t.payload);
            }
            Destination::AllNodes => {
                for to in 0..self.hosts.len() {
                    if to != from {
                        self.route(from, to, &t.payload);
                    }
                }
            }
        }
    }

    fn route(&mut self, from: usize, to: usize, data: &Bytes) {
        let copies = self.net.route(&mut self.rng, from, to, data.len());
        if copies[0].is_none() {
            self.counters.packets_lost += 1;
            if self.packet_trace {
                let to_id = self.ids[to];
                self.trace
                    .line(self.now, Some(self.ids[from]), || format!("  x> n{to_id}: lost"));
            }
        }
        for delay in copies.into_iter().flatten() {
            let at = self.now.as_nanos() + delay;
            self.push(
                at,
                Ev::Packet {
                    to,
                    from,
                    data: data.clone(),
                },
            );
        }
    }

    fn event(&mut self, i: usize, ev: Event) {
        let now = self.now;
        let id = self.ids[i];
        match ev {
            Event::Deliver { sender, message } => {
                let d = match workload::decode(&message) {
                    Some(p) => Delivery {
                        at: now,
                        sender,
                        id: Some(p.id),
                        gid: self.history.gid(p.id),
                        len: p.len,
                        intact: p.intact,
                    },
                    None => Delivery {
                        at: now,
                        sender,
                        id: None,
                        gid: None,
                        len: message.len() as u32,
                        intact: false,
                    },
                };
                self.hosts[i].delivered += 1;
                if i == 0
                    && self.mutation == Some(Mutation::DropFinalRingDelivery)
                    && self.phase == "liveness"
                    && d.gid
                        .is_some_and(|g| self.history.messages[g as usize].at < self.liveness_from)
                    && sender != id
                    && !std::mem::replace(&mut self.mutant.final_delivery_dropped, true)
                {
                    return;
                }
                if i == 0 && self.mutation == Some(Mutation::SwapDeliveries) {
                    match self.hosts[0].delivered {
                        3 => {
                            self.held = Some(d);
                            return;
                        }
                        4 => {
                            self.deliver(i, d);
                            if let Some(held) = self.held.take() {
                                self.deliver(i, held);
                            }
                            return;
                        }
                        _ => {}
                    }
                }
                self.deliver(i, d);
            }
            Event::Configuration(mut change) => {
                self.counters.configurations += 1;
                if i == 0
                    && self.mutation == Some(Mutation::CorruptMembers)
                    && !self.corrupted
                    && change.kind == ConfigurationKind::Regular
                    && change.members.len() >= 2
                {
                    self.corrupted = true;
                    let victim = *change.members.iter().rev().find(|m| **m != id).expect("two members");
                    change.members.retain(|m| *m != victim);
                }
                self.trace.mix(&[
                    4,
                    now.as_nanos(),
                    u64::from(id),
                    change.ring_id.seq,
                    u64::from(change.ring_id.rep),
                ]);
                self.trace
                    .mix(&change.members.iter().map(|m| u64::from(*m)).collect::<Vec<_>>());
                self.trace.line(now, Some(id), || {
                    let mut s = format!(
                        "{:?} configuration ring {} members {:?}",
                        change.kind, change.ring_id, change.members
                    );
                    if !change.left.is_empty() {
                        s += &format!(" left {:?}", change.left);
                    }
                    if !change.joined.is_empty() {
                        s += &format!(" joined {:?}", change.joined);
                    }
                    s
                });
                if change.kind == ConfigurationKind::Regular {
                    self.hosts[i].last_regular = Some((change.ring_id, change.members.clone()));
                }
                let who = self.hosts[i].inc;
                self.history.record(
                    who,
                    Entry::Config {
                        at: now,
                        change: Box::new(change),
                    },
                );
                if let Err(v) = self.checker.observe(&self.history, who, self.history.last(who)) {
                    self.fail(v.invariant, v.detail);
                }
            }
            Event::StateChange { state, ring_id, reason } => {
                self.maybe_phase_fault(i, state);
                let h = &mut self.hosts[i];
                h.state = state;
                h.ring = ring_id;
                if reason == totem::FAILED_TO_RECEIVE {
                    self.history.receive_failure(id, now);
                }
                self.trace
                    .mix(&[5, now.as_nanos(), u64::from(id), state as u64, ring_id.seq]);
                self.trace
                    .line(now, Some(id), || format!("{state} ring {ring_id} ({reason})"));
            }
            Event::StoreRingSeq(seq) => {
                // Normally already persisted through `poll_ring_seq_to_store`.
                if seq > self.hosts[i].disk_ring_seq {
                    self.persist_ring_seq(i, seq);
                }
            }
            Event::DeliverFrame { sender, frame, .. } => {
                let detail = format!(
                    "n{id}: a {}-byte raw frame from n{sender} left Totem::poll_event",
                    frame.len()
                );
                self.fail("api", detail);
            }
        }
    }

    /// With [`Self::torn_writes`], now and then node `i` crashes while writing ring seq
    /// `seq` (safety phase, some other node alive): the host writes a new file and
    /// renames it over the old one, so a write cut short leaves the old seq on disk, and
    /// nothing the node queued after asking for the write leaves. It restarts within a
    /// token timeout from the old seq. True if it crashed.
    fn torn_write(&mut self, i: usize, seq: u64) -> bool {
        let alive = self.hosts.iter().filter(|h| h.is_alive()).count();
        if !self.torn_writes || self.phase != "safety" || alive < 2 || !self.rng.gen_bool(0.05) {
            return false;
        }
        let old = self.hosts[i].disk_ring_seq;
        self.trace.line(self.now, Some(self.ids[i]), || {
            format!("writing ring seq {seq:#x}: torn, the file keeps {old:#x}")
        });
        self.crash(i);
        let d = self.config.token.mul_f64(self.rng.gen_range(0.0..1.0));
        self.restart_after(i, d);
        true
    }

    /// Writes node `i`'s ring seq to its simulated disk; it must never go down.
    fn persist_ring_seq(&mut self, i: usize, seq: u64) {
        let stored = self.hosts[i].disk_ring_seq;
        if seq < stored {
            let detail = format!("n{} persisted ring seq {seq:#x} after {stored:#x}", self.ids[i]);
            self.fail("ring seq regression", detail);
        }
        self.hosts[i].disk_ring_seq = seq;
        self.trace.mix(&[6, u64::from(self.ids[i]), seq]);
    }

    fn deliver(&mut self, i: usize, d: Delivery) {
        self.counters.delivered += 1;
        self.trace
            .mix(&[3, d.at.as_nanos(), i as u64, d.gid.map_or(u64::MAX, u64::from)]);
        self.trace.delivery(i, d.at, d.id);
        let who = self.hosts[i].inc;
        self.history.record(who, Entry::Deliver(d));
        if let Err(v) = self.checker.observe(&self.history, who, self.history.last(who)) {
            self.fail(v.invariant, v.detail);
        }
    }

    /// Runs the whole-history invariants.
    pub fn check_history(&mut self) {
        if self.failure.is_none() {
            if let Err(v) = self.checker.finish(&self.history) {
                self.fail(v.invariant, v.detail);
            }
        }
    }

    /// Queues `len` bytes for node `i` (a new message of its current incarnation).
    pub fn queue_message(&mut self, i: usize, len: usize) {
        let h = &mut self.hosts[i];
        if h.is_alive() {
            let inc = h.incarnation;
            h.outbox.push(h.id, inc, len);
        }
    }

    /// Submits node `i`'s outbox in order until Totem pushes back.
    pub fn flush_outbox(&mut self, i: usize) {
        if !self.hosts[i].is_up() {
            return;
        }
        let mut buf = std::mem::take(&mut self.scratch);
        while let Some(&(id, len)) = self.hosts[i].outbox.pending.front() {
            let Some(totem) = self.hosts[i].totem.as_mut() else {
                break;
            };
            workload::encode(id, len, &mut buf);
            match totem.submit_app(&buf) {
                Ok(()) => {
                    self.hosts[i].outbox.pending.pop_front();
                    self.counters.submitted += 1;
                    let gid = self.history.submit(self.hosts[i].inc, id, buf.len(), self.now);
                    self.trace.mix(&[2, self.now.as_nanos(), u64::from(gid)]);
                }
                Err(SubmitError::QueueFull) => {
                    self.counters.queue_full += 1;
                    break;
                }
                Err(e) => {
                    self.fail("submit", format!("n{} refused {id} ({len} bytes): {e}", self.ids[i]));
                    break;
                }
            }
        }
        self.scratch = buf;
        self.drain(i);
    }

    /// Fails the run if node `i` counted malformed input: the simulator never corrupts
    /// datagrams, so any is a codec, packing or reassembly bug (and a lost message).
    pub fn check_malformed(&mut self, i: usize) {
        let Some(t) = self.hosts[i].totem.as_ref() else { return };
        let n = t.srp().stats().malformed_rx;
        if n > 0 {
            self.fail(
                "malformed input",
                format!("n{} counted {n} malformed datagrams or frames", self.ids[i]),
            );
        }
    }

    /// Crashes node `i`: its process and volatile state vanish, its disk stays.
    pub fn crash(&mut self, i: usize) {
        if !self.hosts[i].is_alive() {
            return;
        }
        self.check_malformed(i);
        self.counters.crashes += 1;
        self.history.end(self.hosts[i].inc, self.now, End::Crashed);
        self.cpg_node_down(i);
        self.end_slowdown_span(i);
        self.hosts[i].stop(End::Crashed);
        self.quorate_in[i] = None;
        self.trace.mix(&[7, self.now.as_nanos(), i as u64]);
        self.trace.line(self.now, Some(self.ids[i]), || "CRASHES".into());
    }

    /// Node `i` leaves the ring cleanly and exits.
    pub fn leave(&mut self, i: usize) {
        if !self.hosts[i].is_up() {
            return;
        }
        self.counters.leaves += 1;
        self.check_malformed(i);
        self.cpg_node_down(i);
        let now = self.now;
        if let Some(t) = self.hosts[i].totem.as_mut() {
            t.leave(now);
        }
        self.drain(i);
        self.history.end(self.hosts[i].inc, now, End::Left);
        self.end_slowdown_span(i);
        self.hosts[i].stop(End::Left);
        self.quorate_in[i] = None;
        self.trace.mix(&[8, now.as_nanos(), i as u64]);
        self.trace
            .line(now, Some(self.ids[i]), || "leaves the ring and exits".into());
    }

    /// Boots a new incarnation of a down node from its disk.
    pub fn restart(&mut self, i: usize) {
        if self.hosts[i].is_alive() {
            return;
        }
        self.counters.restarts += 1;
        let id = self.ids[i];
        let inc = self.history.start(id, self.now);
        let incarnation = self.history.incs[inc].inc;
        let seq = self.hosts[i].disk_ring_seq;
        let totem = Totem::new(self.config.clone(), id, seq, self.rng.gen(), self.now);
        let wfa = self.cpg.profile.wait_for_all && self.mutation != Some(Mutation::IgnoreWaitForAll);
        let mut node = crate::node::boot_services_with(totem, &self.ids, wfa);
        self.wfa_seen[i] = (0, false, self.wfa_seen[i].2);
        if i == 0 && self.mutation == Some(Mutation::UnholdDuringSync) {
            node.set_unhold_during_sync(true);
        }
        self.hosts[i].boot(node, inc, incarnation);
        self.trace.mix(&[9, self.now.as_nanos(), i as u64, seq]);
        self.trace.line(self.now, Some(id), || {
            format!("restarts as incarnation {incarnation} (stored ring seq {seq:#x})")
        });
        self.drain(i);
    }

    /// Pauses node `i` for `d`; it resumes by itself.
    pub fn pause(&mut self, i: usize, d: Duration) {
        if !self.hosts[i].is_up() {
            return;
        }
        self.counters.pauses += 1;
        self.hosts[i].status = Status::Paused;
        self.quorate_in[i] = None;
        self.history.pause_starts(self.ids[i], self.now, self.now + d);
        let at = (self.now + d).as_nanos();
        self.push(at, Ev::Resume { node: i });
        self.trace
            .mix(&[10, self.now.as_nanos(), i as u64, d.as_nanos() as u64]);
        self.trace
            .line(self.now, Some(self.ids[i]), || format!("PAUSED for {d:?}"));
    }

    /// Boots node `i` again after `d` (if it is still down then).
    pub fn restart_after(&mut self, i: usize, d: Duration) {
        let at = (self.now + d).as_nanos();
        self.push(at, Ev::Restart { node: i });
    }

    /// The ring every alive node is OPERATIONAL in, if they all agree on one ring
    /// whose last regular configuration has exactly the alive nodes as members.
    pub fn converged(&self) -> Option<RingId> {
        let mut alive: Vec<NodeId> = self.hosts.iter().filter(|h| h.is_alive()).map(|h| h.id).collect();
        alive.sort_unstable(); // configurations list members ascending
        let mut ring = None;
        for h in self.hosts.iter().filter(|h| h.is_alive()) {
            let t = h.totem.as_ref()?;
            let srp = t.srp();
            if h.status != Status::Up || srp.state() != totem::MembState::Operational {
                return None;
            }
            let r = srp.ring_id();
            if *ring.get_or_insert(r) != r {
                return None;
            }
            let (reg_ring, members) = h.last_regular.as_ref()?;
            if *reg_ring != r || *members != alive {
                return None;
            }
        }
        ring
    }

    /// One line per node: status, state, ring and last regular configuration.
    pub fn describe_nodes(&self) -> String {
        let mut s = String::new();
        for h in &self.hosts {
            let (state, ring) = match &h.totem {
                Some(t) => (t.srp().state().to_string(), t.srp().ring_id().to_string()),
                None => ("-".into(), "-".into()),
            };
            let inc = &self.history.incs[h.inc];
            let delivered: std::collections::HashSet<_> = inc.delivered().collect();
            let own_pending = inc.submitted.iter().filter(|g| !delivered.contains(g)).count();
            let space = h.totem.as_ref().map_or(0, |t| t.srp().send_queue_space());
            let dropped = h.totem.as_ref().map_or(0, |t| t.srp().stats().rx_msg_dropped);
            s += &format!(
                "\n    n{}: {:?} {state} ring {ring}, last regular {:?}; {own_pending} own messages undelivered, \
                 send queue space {space}, {dropped} datagrams dropped as stale or invalid",
                h.id,
                h.status,
                h.last_regular.as_ref().map(|(r, m)| format!("{r} {m:?}"))
            );
        }
        s
    }
}

//! What a run produces: outcome, counters, a trace hash for determinism checks and,
//! when asked, a human-readable timeline.

use std::fmt::Write as _;
use std::time::Duration;

use totem::{Instant, NodeId};

use crate::workload::MsgId;

/// Why a run failed: the phase, the property or condition, and the evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub at: Instant,
    pub phase: &'static str,
    pub what: String,
    pub detail: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "[{} phase, t={}] {}: {}",
            self.phase, self.at, self.what, self.detail
        )
    }
}

/// Counters of one run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub events: u64,
    /// Of `events`, multicast datagrams arriving (data moving, not control traffic).
    pub mcast_arrivals: u64,
    pub packets_sent: u64,
    pub packets_received: u64,
    pub packets_lost: u64,
    pub socket_overflows: u64,
    pub submitted: u64,
    pub queue_full: u64,
    pub delivered: u64,
    pub configurations: u64,
    pub crashes: u64,
    pub restarts: u64,
    pub pauses: u64,
    /// Slowdowns of running nodes, and the datagrams their full receive buffers dropped.
    pub slowdowns: u64,
    pub rx_overflows: u64,
    pub leaves: u64,
    pub partitions: u64,
    /// Service synchronisations completed (all nodes).
    pub syncs_completed: u64,
    /// Replies and events the services produced for clients.
    pub client_messages: u64,
}

/// The result of one seed.
#[derive(Clone, Debug)]
pub struct RunReport {
    pub seed: u64,
    pub nodes: usize,
    /// One line describing the seed's choices (timers, faults, workload).
    pub scenario: String,
    pub failure: Option<Failure>,
    /// Virtual time covered.
    pub virtual_time: Duration,
    pub counters: Counters,
    /// FNV-1a over every observable event: equal for equal seeds.
    pub trace_hash: u64,
    /// Timeline lines (only with `verbose`).
    pub timeline: Vec<String>,
    /// Everything every incarnation observed (for post-mortems and tests).
    pub history: crate::history::History,
}

impl RunReport {
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }

    /// The final summary line(s) of a single run.
    pub fn summary(&self) -> String {
        let c = &self.counters;
        let mut s = String::new();
        let _ = write!(
            s,
            "seed {} ({} nodes): {} in {:.3} virtual s; {} submitted ({} queue-full retries), {} delivered, \
             {} configurations, {} packets ({} lost), {} events ({} multicast arrivals); {} crashes, {} restarts, {} pauses, {} leaves, \
             {} partitions; trace {:016x}",
            self.seed,
            self.nodes,
            if self.passed() { "PASS" } else { "FAIL" },
            self.virtual_time.as_secs_f64(),
            c.submitted,
            c.queue_full,
            c.delivered,
            c.configurations,
            c.packets_sent,
            c.packets_lost,
            c.events,
            c.mcast_arrivals,
            c.crashes,
            c.restarts,
            c.pauses,
            c.leaves,
            c.partitions,
            self.trace_hash
        );
        if c.slowdowns > 0 {
            let _ = write!(
                s,
                "; {} slowdowns ({} datagrams dropped at full receive buffers)",
                c.slowdowns, c.rx_overflows
            );
        }
        if let Some(f) = &self.failure {
            let _ = write!(s, "\n  {f}");
        }
        s
    }
}

/// Running hash plus optional timeline with per-node delivery summaries.
#[derive(Debug)]
pub struct Trace {
    hash: u64,
    verbose: bool,
    pub lines: Vec<String>,
    /// Node id of each index.
    ids: Vec<NodeId>,
    /// Per node index: deliveries not yet summarised (count, first, last, time of last).
    pending: Vec<(u64, Option<MsgId>, Option<MsgId>, Instant)>,
}

impl Trace {
    pub fn new(ids: Vec<NodeId>, verbose: bool) -> Self {
        let nodes = ids.len();
        Trace {
            hash: 0xcbf2_9ce4_8422_2325,
            verbose,
            lines: Vec::new(),
            pending: vec![(0, None, None, Instant::ZERO); nodes],
            ids,
        }
    }

    pub fn verbose(&self) -> bool {
        self.verbose
    }

    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// Mixes `words` into the trace hash.
    pub fn mix(&mut self, words: &[u64]) {
        for w in words {
            for b in w.to_le_bytes() {
                self.hash ^= u64::from(b);
                self.hash = self.hash.wrapping_mul(0x0100_0000_01b3);
            }
        }
    }

    /// Counts a delivery for the timeline summary.
    pub fn delivery(&mut self, node: usize, at: Instant, id: Option<MsgId>) {
        if !self.verbose {
            return;
        }
        let p = &mut self.pending[node];
        p.0 += 1;
        if p.1.is_none() {
            p.1 = id;
        }
        p.2 = id;
        p.3 = at;
    }

    fn flush(&mut self) {
        // Oldest summary first, so the timeline stays in time order.
        let mut order: Vec<usize> = (0..self.pending.len()).filter(|i| self.pending[*i].0 > 0).collect();
        order.sort_by_key(|i| (self.pending[*i].3, *i));
        for i in order {
            let p = &mut self.pending[i];
            let show = |m: Option<MsgId>| m.map_or("?".to_string(), |m| m.to_string());
            self.lines.push(format!(
                "{:>11} n{:<3} delivered {} message(s): {} .. {}",
                p.3.to_string(),
                self.ids[i],
                p.0,
                show(p.1),
                show(p.2)
            ));
            *p = (0, None, None, Instant::ZERO);
        }
    }

    /// Adds a timeline line (node `None` for global events such as faults).
    pub fn line(&mut self, at: Instant, node: Option<NodeId>, text: impl FnOnce() -> String) {
        if !self.verbose {
            return;
        }
        self.flush();
        let who = node.map_or("--".to_string(), |n| format!("n{n}"));
        self.lines.push(format!("{:>11} {who:<4} {}", at.to_string(), text()));
    }

    /// Ends the timeline (flushes delivery summaries).
    pub fn finish(&mut self) -> Vec<String> {
        self.flush();
        std::mem::take(&mut self.lines)
    }
}

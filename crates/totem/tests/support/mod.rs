//! A tiny deterministic network for driving real `Totem` nodes in tests: fixed
//! latency, optional per-link blocking, crash and restart. (The `sim` crate is the
//! full simulator; this keeps totem's own tests self-contained.)
#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::time::Duration;

use totem::{Config, ConfigurationChange, Destination, Event, Instant, MembState, NodeId, Totem};

/// A datagram in flight: arrival time, tie-break sequence, destination, bytes.
type InFlight = Reverse<(Instant, u64, NodeId, Vec<u8>)>;

pub struct Net {
    pub now: Instant,
    pub latency: Duration,
    pub nodes: BTreeMap<NodeId, Totem>,
    pub nodelist: Vec<NodeId>,
    pub stored_seq: BTreeMap<NodeId, u64>,
    pub delivered: BTreeMap<NodeId, Vec<(NodeId, Vec<u8>)>>,
    pub configs: BTreeMap<NodeId, Vec<ConfigurationChange>>,
    /// (from, to) pairs whose packets are dropped.
    pub blocked: BTreeSet<(NodeId, NodeId)>,
    queue: BinaryHeap<InFlight>,
    seq: u64,
    /// Percent of packets dropped, and extra random delay up to `jitter`.
    pub loss_percent: u64,
    /// Nodes whose events are not polled (a host that falls behind).
    pub events_held: BTreeSet<NodeId>,
    pub jitter: Duration,
    rng: u64,
    pub config: Config,
}

pub fn fast_config(nodes: usize) -> Config {
    let mut c = Config::from_token(Duration::from_millis(300), 4);
    c.join = Duration::from_millis(30);
    c.merge = Duration::from_millis(50);
    let _ = nodes;
    c.validate().unwrap();
    c
}

impl Net {
    pub fn new(ids: &[NodeId], config: Config) -> Self {
        let mut net = Net {
            now: Instant::ZERO,
            latency: Duration::from_micros(200),
            nodes: BTreeMap::new(),
            nodelist: ids.to_vec(),
            stored_seq: BTreeMap::new(),
            delivered: BTreeMap::new(),
            configs: BTreeMap::new(),
            blocked: BTreeSet::new(),
            queue: BinaryHeap::new(),
            seq: 0,
            loss_percent: 0,
            events_held: BTreeSet::new(),
            jitter: Duration::ZERO,
            rng: 0x9E37_79B9_7F4A_7C15,
            config,
        };
        for &id in ids {
            net.start(id);
        }
        net
    }

    pub fn start(&mut self, id: NodeId) {
        let stored = self.stored_seq.get(&id).copied().unwrap_or(0);
        let node = Totem::new(self.config.clone(), id, stored, u64::from(id), self.now);
        self.nodes.insert(id, node);
        self.drain(id);
    }

    pub fn seed(&mut self, seed: u64) {
        self.rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    }

    fn random(&mut self) -> u64 {
        // xorshift64*: deterministic, seeded by the test.
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Asserts that every two nodes delivered their common messages in the same order.
    pub fn check_total_order(&self) {
        let ids: Vec<NodeId> = self.delivered.keys().copied().collect();
        for (i, a) in ids.iter().enumerate() {
            for b in &ids[i + 1..] {
                let da = &self.delivered[a];
                let db = &self.delivered[b];
                let sa: BTreeSet<&(NodeId, Vec<u8>)> = da.iter().collect();
                let sb: BTreeSet<&(NodeId, Vec<u8>)> = db.iter().collect();
                let ca: Vec<_> = da.iter().filter(|m| sb.contains(m)).collect();
                let cb: Vec<_> = db.iter().filter(|m| sa.contains(m)).collect();
                assert_eq!(ca, cb, "nodes {a} and {b} disagree on order");
            }
        }
    }

    pub fn crash(&mut self, id: NodeId) {
        self.nodes.remove(&id);
    }

    pub fn partition(&mut self, a: &[NodeId], b: &[NodeId]) {
        for &x in a {
            for &y in b {
                self.blocked.insert((x, y));
                self.blocked.insert((y, x));
            }
        }
    }

    pub fn heal(&mut self) {
        self.blocked.clear();
    }

    pub fn submit(&mut self, id: NodeId, msg: &[u8]) -> Result<(), totem::SubmitError> {
        let r = self.nodes.get_mut(&id).expect("node").submit(msg);
        self.drain(id);
        r
    }

    fn drain(&mut self, id: NodeId) {
        let Some(node) = self.nodes.get_mut(&id) else { return };
        let mut out = Vec::new();
        while let Some(t) = node.poll_transmit() {
            out.push(t);
        }
        let held = self.events_held.contains(&id);
        while let Some(e) = if held { None } else { node.poll_event() } {
            match e {
                Event::Deliver { sender, message } => {
                    self.delivered.entry(id).or_default().push((sender, message.to_vec()))
                }
                Event::Configuration(c) => self.configs.entry(id).or_default().push(c),
                Event::StoreRingSeq(s) => {
                    self.stored_seq.insert(id, s);
                }
                _ => {}
            }
        }
        for t in out {
            let targets: Vec<NodeId> = match t.destination {
                Destination::Node(n) => vec![n],
                Destination::AllNodes => self.nodelist.iter().copied().filter(|&n| n != id).collect(),
            };
            for to in targets {
                if self.blocked.contains(&(id, to)) || self.random() % 100 < self.loss_percent {
                    continue;
                }
                let jitter_ns = self.jitter.as_nanos() as u64;
                let extra = if jitter_ns > 0 { self.random() % jitter_ns } else { 0 };
                self.seq += 1;
                let at = self.now + self.latency + Duration::from_nanos(extra);
                self.queue.push(Reverse((at, self.seq, to, t.payload.to_vec())));
            }
        }
    }

    /// Runs until virtual time `until`.
    pub fn run_until(&mut self, until: Instant) {
        loop {
            let next_packet = self.queue.peek().map(|Reverse((t, ..))| *t);
            let next_timer = self
                .nodes
                .iter()
                .filter_map(|(&id, n)| n.poll_timeout().map(|t| (t, id)))
                .min();
            let next = match (next_packet, next_timer) {
                (Some(p), Some((t, _))) => p.min(t),
                (Some(p), None) => p,
                (None, Some((t, _))) => t,
                (None, None) => break,
            };
            if next > until {
                break;
            }
            self.now = next;
            if next_packet == Some(next) {
                let Reverse((_, _, to, bytes)) = self.queue.pop().unwrap();
                if let Some(node) = self.nodes.get_mut(&to) {
                    node.handle_packet(self.now, &bytes).expect("valid packet");
                    self.drain(to);
                }
            } else if let Some((_, id)) = next_timer {
                self.nodes.get_mut(&id).unwrap().handle_timeout(self.now);
                self.drain(id);
            }
        }
        self.now = until;
    }

    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// True when every live node is OPERATIONAL on one ring whose members are exactly the live nodes.
    pub fn converged(&self) -> bool {
        let live: Vec<NodeId> = self.nodes.keys().copied().collect();
        let mut rings = self.nodes.values().map(|n| n.srp().ring_id());
        let first = rings.next();
        self.nodes
            .values()
            .all(|n| n.srp().state() == MembState::Operational && n.srp().members() == live.as_slice())
            && rings.all(|r| Some(r) == first)
    }

    pub fn run_until_converged(&mut self, max: Duration) -> Option<Duration> {
        let start = self.now;
        let step = Duration::from_millis(5);
        while self.now - start < max {
            self.run_for(step);
            if self.converged() {
                return Some(self.now - start);
            }
        }
        None
    }
}

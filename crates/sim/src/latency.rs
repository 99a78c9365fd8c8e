//! Delivery latency under packet loss, in virtual time: one sender submits at a fixed
//! rate to a ring of real [`Totem`] nodes over a lossy LAN, every other node records
//! submit → agreed delivery. Deterministic for a seed, so token-recovery changes can be
//! compared exactly (the figures corosync is measured by: p50/p99 at 5 % loss).
//!
//! `sim latency --loss 0.05 --rate 100 --secs 600` prints the figures. For debugging,
//! `LATENCY_TRACE=1` prints state changes and late deliveries (> 50 ms), and
//! `LATENCY_TRACE_MS=A..B` every datagram delivered or lost between A and B ms.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::time::Duration;

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::SeedableRng;
use totem::{Config, ConfigurationKind, Destination, Event, Instant, NodeId, Totem};

use crate::network::{NetProfile, Network};

/// What to measure.
#[derive(Clone, Debug)]
pub struct LatencyOptions {
    pub nodes: usize,
    /// Probability that a datagram copy is lost (every link, both ways).
    pub loss: f64,
    /// One-way latency and uniform jitter on top of it.
    pub latency: Duration,
    pub jitter: Duration,
    /// Messages per second submitted by node `sender`.
    pub rate: u32,
    /// The sending node (1-based); node 1 is the ring's representative.
    pub sender: usize,
    pub size: usize,
    /// Measured span, after the ring has formed.
    pub duration: Duration,
    /// corosync's `token` before the per-node addition (3000 ms default).
    pub token: Duration,
    pub seed: u64,
}

impl Default for LatencyOptions {
    fn default() -> Self {
        LatencyOptions {
            nodes: 3,
            loss: 0.05,
            latency: Duration::from_micros(100),
            jitter: Duration::from_micros(50),
            rate: 100,
            sender: 1,
            size: 64,
            duration: Duration::from_secs(60),
            token: Duration::from_millis(3000),
            seed: 1,
        }
    }
}

/// The figures of one run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LatencyReport {
    pub submitted: u64,
    /// Deliveries at receivers (every node but the sender).
    pub delivered: u64,
    /// Submit → delivery at receivers, µs.
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    /// Regular configurations installed after the ring first formed (any node): each is a
    /// spurious membership change, since no node fails.
    pub membership_changes: u64,
    /// Tokens sent, summed over nodes (first sends and retransmissions).
    pub tokens_sent: u64,
    /// Of those, retransmissions.
    pub token_retransmits: u64,
    pub mcast_retransmits: u64,
}

impl std::fmt::Display for LatencyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "submitted {} delivered {} latency p50 {:.2} ms p99 {:.2} ms max {:.2} ms; \
             membership changes {}; tokens sent {} ({} resent); message retransmits {}",
            self.submitted,
            self.delivered,
            self.p50_us as f64 / 1000.0,
            self.p99_us as f64 / 1000.0,
            self.max_us as f64 / 1000.0,
            self.membership_changes,
            self.tokens_sent,
            self.token_retransmits,
            self.mcast_retransmits
        )
    }
}

#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Happening {
    /// Datagram to node index `to`.
    Arrive { to: usize, bytes: Bytes },
    /// Node `node`'s timer may have expired.
    Timer { node: usize },
    /// The sender submits message number `n`.
    Submit { n: u64 },
}

struct Bench {
    now: u64,
    nodes: Vec<Totem>,
    /// Per node: the deadline a `Timer` happening is queued for (avoids piling them up).
    timer_at: Vec<Option<u64>>,
    queue: BinaryHeap<Reverse<(u64, u64, Happening)>>,
    next_id: u64,
    net: Network,
    rng: SmallRng,
    /// Submit time of message n (ns), and its receivers still to deliver it.
    submitted_at: Vec<u64>,
    latencies: Vec<u64>,
    /// Messages the sender's queue refused, retried after each of its steps.
    backlog: VecDeque<u64>,
    size: usize,
    /// Index of the sending node.
    sender: usize,
    regular_configs: u64,
    full_rings: u64,
}

impl Bench {
    fn push(&mut self, at: u64, what: Happening) {
        self.next_id += 1;
        self.queue.push(Reverse((at, self.next_id, what)));
    }

    /// Sends what node `i` queued, records its events, and re-arms its timer.
    fn drain(&mut self, i: usize) {
        let from = i;
        while let Some(t) = self.nodes[i].poll_transmit() {
            let targets: Vec<usize> = match t.destination {
                Destination::Node(id) => vec![id as usize - 1],
                Destination::AllNodes => (0..self.nodes.len()).filter(|&j| j != i).collect(),
            };
            for to in targets {
                let route = self.net.route(&mut self.rng, from, to, t.payload.len());
                if let Some((a, b)) = trace_window() {
                    if (a..b).contains(&(self.now / 1_000_000)) && route[0].is_none() {
                        eprintln!("{:.6} node{} -> node{} LOST", self.now as f64 / 1e9, from + 1, to + 1);
                    }
                }
                for delay in route.into_iter().flatten() {
                    let bytes = t.payload.clone();
                    self.push(self.now + delay, Happening::Arrive { to, bytes });
                }
            }
        }
        let n = self.nodes.len();
        while let Some(e) = self.nodes[i].poll_event() {
            match e {
                Event::Configuration(c) if c.kind == ConfigurationKind::Regular => {
                    self.regular_configs += 1;
                    if c.members.len() == n {
                        self.full_rings += 1;
                    }
                }
                Event::StateChange { state, ring_id, reason } if std::env::var_os("LATENCY_TRACE").is_some() => {
                    eprintln!("{:.6} node{} {state} {ring_id} {reason}", self.now as f64 / 1e9, i + 1);
                }
                Event::Deliver { message, .. } if i != self.sender && message.len() >= 8 => {
                    let k = u64::from_le_bytes(message[..8].try_into().expect("8 bytes")) as usize;
                    if let Some(&at) = self.submitted_at.get(k) {
                        self.latencies.push(self.now - at);
                        if std::env::var_os("LATENCY_TRACE").is_some() && self.now - at > 50_000_000 {
                            eprintln!(
                                "{:.6} node{} late delivery of #{k} sent {:.6}",
                                self.now as f64 / 1e9,
                                i + 1,
                                at as f64 / 1e9
                            );
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(d) = self.nodes[i].poll_timeout() {
            // A deadline already passed fires now (and is recorded as now, or it would
            // never match its happening).
            let d = d.as_nanos().max(self.now);
            if self.timer_at[i].is_none_or(|q| d < q) {
                self.timer_at[i] = Some(d);
                self.push(d, Happening::Timer { node: i });
            }
        }
    }

    /// Submits message `k` (its number first, zeros after); false if the queue is full.
    fn try_submit(&mut self, k: u64) -> bool {
        let mut payload = vec![0u8; self.size.max(8)];
        payload[..8].copy_from_slice(&k.to_le_bytes());
        self.nodes[self.sender].submit(&payload).is_ok()
    }

    fn submit(&mut self, k: u64) {
        if !self.backlog.is_empty() || !self.try_submit(k) {
            self.backlog.push_back(k);
        }
    }

    fn retry_backlog(&mut self) {
        while let Some(&k) = self.backlog.front() {
            if !self.try_submit(k) {
                break;
            }
            self.backlog.pop_front();
        }
    }

    /// Runs happenings until virtual time `until` (ns) or until `stop` says so.
    fn run(&mut self, until: u64, stop: impl Fn(&Bench) -> bool) {
        while let Some(Reverse((at, _, _))) = self.queue.peek() {
            if *at > until || stop(self) {
                break;
            }
            let Reverse((at, _, what)) = self.queue.pop().expect("peeked");
            self.now = at;
            let now = Instant::from_nanos(at);
            let i = match what {
                Happening::Arrive { to, bytes } => {
                    if let Some((from_s, to_s)) = trace_window() {
                        if (from_s..to_s).contains(&(at / 1_000_000)) {
                            if let Ok(d) = totem::wire::decode(&bytes) {
                                eprintln!("{:.6} -> node{} {:?}", at as f64 / 1e9, to + 1, d.message);
                            }
                        }
                    }
                    let _ = self.nodes[to].handle_datagram(now, &bytes);
                    to
                }
                Happening::Timer { node } => {
                    if self.timer_at[node] != Some(at) {
                        continue;
                    }
                    self.timer_at[node] = None;
                    if self.nodes[node].poll_timeout().is_some_and(|d| d.as_nanos() <= at) {
                        self.nodes[node].handle_timeout(now);
                    }
                    node
                }
                Happening::Submit { n } => {
                    self.submit(n);
                    self.sender
                }
            };
            if i == self.sender {
                self.retry_backlog();
            }
            self.drain(i);
        }
        self.now = self.now.max(until.min(self.queue.peek().map_or(until, |r| r.0 .0)));
    }
}

/// `LATENCY_TRACE_MS=a..b`: print every datagram delivered in that span (debugging).
fn trace_window() -> Option<(u64, u64)> {
    let v = std::env::var("LATENCY_TRACE_MS").ok()?;
    let (a, b) = v.split_once("..")?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Runs one measurement.
pub fn measure(opts: &LatencyOptions) -> LatencyReport {
    let n = opts.nodes.max(2);
    // corosync: token + 650 ms per node beyond two.
    let token = opts.token + Duration::from_millis(650) * (n.saturating_sub(2) as u32);
    let config = Config::from_token(token, 4);
    let profile = NetProfile {
        latency_ns: opts.latency.as_nanos() as u64,
        jitter_ns: opts.jitter.as_nanos() as u64,
        loss: opts.loss,
        ..NetProfile::calm(0)
    };
    let mut b = Bench {
        now: 0,
        nodes: (1..=n)
            .map(|id| Totem::new(config.clone(), id as NodeId, 0, opts.seed ^ id as u64, Instant::ZERO))
            .collect(),
        timer_at: vec![None; n],
        queue: BinaryHeap::new(),
        next_id: 0,
        net: Network::new(n, profile),
        rng: SmallRng::seed_from_u64(opts.seed),
        submitted_at: Vec::new(),
        latencies: Vec::new(),
        backlog: VecDeque::new(),
        size: opts.size,
        sender: opts.sender.clamp(1, n) - 1,
        regular_configs: 0,
        full_rings: 0,
    };
    for i in 0..n {
        b.drain(i);
    }
    // Formation (loss included): until one node saw the full ring, then let it settle.
    b.run(60_000_000_000, |b| b.full_rings > 0);
    let settle = b.now + 2 * token.as_nanos() as u64;
    b.run(settle, |_| false);
    let configs_before = b.regular_configs;
    let stats_before: Vec<_> = b.nodes.iter().map(|t| t.srp().stats().clone()).collect();

    let start = b.now;
    let interval = 1_000_000_000 / u64::from(opts.rate.max(1));
    let count = opts.duration.as_nanos() as u64 / interval;
    for k in 0..count {
        b.submitted_at.push(start + k * interval);
        b.push(start + k * interval, Happening::Submit { n: k });
    }
    // Room at the end for the last messages to arrive.
    let end = start + opts.duration.as_nanos() as u64 + 2 * token.as_nanos() as u64;
    b.run(end, |_| false);

    let mut lat = std::mem::take(&mut b.latencies);
    lat.sort_unstable();
    let pct = |p: f64| -> u64 {
        if lat.is_empty() {
            return 0;
        }
        lat[((lat.len() - 1) as f64 * p).round() as usize] / 1000
    };
    let (mut tokens, mut token_retx, mut retx) = (0, 0, 0);
    for (t, before) in b.nodes.iter().zip(&stats_before) {
        let s = t.srp().stats();
        tokens += s.orf_token_tx + s.orf_token_retx - before.orf_token_tx - before.orf_token_retx;
        token_retx += s.orf_token_retx - before.orf_token_retx;
        retx += s.mcast_retx - before.mcast_retx;
    }
    LatencyReport {
        submitted: count,
        delivered: lat.len() as u64,
        p50_us: pct(0.5),
        p99_us: pct(0.99),
        max_us: lat.last().map_or(0, |l| l / 1000),
        membership_changes: b.regular_configs - configs_before,
        tokens_sent: tokens,
        token_retransmits: token_retx,
        mcast_retransmits: retx,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lossless_ring_delivers_everything_quickly() {
        let r = measure(&LatencyOptions {
            loss: 0.0,
            duration: Duration::from_secs(5),
            ..Default::default()
        });
        assert_eq!(r.submitted, 500);
        assert_eq!(r.delivered, 2 * 500, "{r}");
        assert_eq!(r.membership_changes, 0, "{r}");
        assert!(r.p99_us < 100_000, "{r}");
    }

    /// Virtual time, so the bound is exact and not a wall-clock measurement: a lost token
    /// costs milliseconds (corosync waits ≈ 0.87 s for each: p99 ≈ 2.5 s here).
    #[test]
    fn five_percent_loss_changes_no_membership_loses_nothing_and_recovers_in_milliseconds() {
        for (rate, sender, nodes) in [(100, 1, 3), (1000, 1, 3), (100, 2, 5)] {
            let r = measure(&LatencyOptions {
                duration: Duration::from_secs(20),
                rate,
                sender,
                nodes,
                ..Default::default()
            });
            let receivers = nodes as u64 - 1;
            assert_eq!(r.delivered, receivers * r.submitted, "{r}");
            assert_eq!(r.membership_changes, 0, "{r}");
            assert!(r.p50_us < 5_000 && r.p99_us < 50_000, "{r}");
        }
    }

    /// Issue 13's target at scale: 32 nodes, 15 % loss, 100 msgs/s for 60 s and the idle
    /// ring after: p50 ≤ 20 ms, p99 ≤ 200 ms, no membership change. (It had regressed to
    /// a 7.6 s p99 and a membership change unnoticed: the representative originated the
    /// new ring's token on a late copy of the commit token's first rotation, and on the
    /// idle ring each lost hop waited for the hold.)
    #[test]
    fn thirty_two_nodes_under_fifteen_percent_loss_keep_their_ring_and_low_latency() {
        let r = measure(&LatencyOptions {
            nodes: 32,
            loss: 0.15,
            rate: 100,
            ..Default::default()
        });
        assert_eq!(r.delivered, 31 * r.submitted, "{r}");
        assert_eq!(r.membership_changes, 0, "{r}");
        assert!(r.p50_us <= 20_000 && r.p99_us <= 200_000, "{r}");
    }

    /// An idle ring on a lossless network resends (almost) no token: the representative
    /// holds the idle token, and the members wait for the hold instead of resending into it
    /// (each resend wakes two daemons for nothing; resending into every hold made some
    /// 4,000 resends here). Left: the first held rotation after each message, where a member
    /// cannot yet tell that the representative will hold (its count of idle visits may be
    /// one below the representative's), a few resends per message. A message from a member
    /// during the hold still goes out at once (its hold cancel).
    #[test]
    fn an_idle_lossless_ring_resends_no_token_and_a_message_cancels_the_hold() {
        for nodes in [3, 5] {
            let r = measure(&LatencyOptions {
                loss: 0.0,
                rate: 1,
                sender: 2,
                nodes,
                duration: Duration::from_secs(30),
                ..Default::default()
            });
            assert_eq!(r.delivered, (nodes as u64 - 1) * r.submitted, "{r}");
            assert!(r.token_retransmits <= 5 * r.submitted, "{nodes} nodes: {r}");
            assert_eq!(r.membership_changes, 0, "{r}");
            assert!(r.max_us < 20_000, "{nodes} nodes: a message waited for the hold: {r}");
        }
    }

    #[test]
    fn same_seed_same_figures() {
        let o = LatencyOptions {
            duration: Duration::from_secs(3),
            ..Default::default()
        };
        assert_eq!(measure(&o), measure(&o));
    }
}

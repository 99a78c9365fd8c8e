//! Everything a seed decides before the run starts: cluster size, timers, network,
//! fault mix, workload and phase lengths.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use totem::{Config, NodeId};

use crate::faults::FaultProfile;
use crate::network::NetProfile;
use crate::workload::WorkloadProfile;

/// One seed's choices.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub nodes: usize,
    /// The nodelist: 1..=nodes, or (some seeds) scattered ids, as corosync allows.
    pub node_ids: Vec<NodeId>,
    pub config: Config,
    pub net: NetProfile,
    pub faults: FaultProfile,
    pub workload: WorkloadProfile,
    /// Length of the safety (fault) phase.
    pub safety: Duration,
    /// Paused nodes' socket buffer, in datagrams.
    pub socket_buffer: usize,
    /// Chance that a node that left is restarted for the liveness phase.
    pub rejoin_left: bool,
    /// Seed of the engine's own random stream.
    pub engine_seed: u64,
    /// Faults are also triggered by nodes entering COMMIT or RECOVERY.
    pub phase_faults: bool,
    /// Nodes sometimes crash while writing their ring seq (restarting from the old one).
    pub torn_writes: bool,
}

/// Short timers keep runs cheap in virtual time; the relations corosync enforces still hold.
pub fn totem_config(token: Duration) -> Config {
    let mut c = Config::from_token(token, 4);
    c.join = Duration::from_millis(30).max(token / 20);
    c.merge = Duration::from_millis(30).max(token / 5);
    // Large rings' long tokens make long join intervals (fail_silent_after must cover two).
    c.fail_silent_after = c.fail_silent_after.max(c.join * 2);
    c
}

/// Added to a seed's token timeout per node beyond 9 (corosync adds `token_coefficient`,
/// 650 ms, per node beyond 2 to its 3 s token; the simulator's tokens are about a fifth
/// of that, its latencies far below a real LAN's). Rings of up to 9 nodes keep the
/// seed's token, so their seeds replay as before.
pub const TOKEN_PER_NODE_BEYOND_9: Duration = Duration::from_millis(30);

/// corosync.conf(5)'s `send_join` for a ring of 128 nodes; rings over 64 nodes get it in
/// proportion to their size.
const LARGE_RING_SEND_JOIN: Duration = Duration::from_millis(80);

fn token_for_size(nodes: usize) -> Duration {
    TOKEN_PER_NODE_BEYOND_9 * nodes.saturating_sub(9) as u32
}

impl Scenario {
    /// Draws the scenario of `seed`; `nodes` overrides the node count.
    pub fn choose(seed: u64, nodes: Option<usize>) -> Scenario {
        let mut rng = SmallRng::seed_from_u64(seed);
        let n = nodes.unwrap_or_else(|| rng.gen_range(3..=9));
        let token = Duration::from_millis(rng.gen_range(200..=1000)) + token_for_size(n);
        let mut config = totem_config(token);
        if rng.gen_bool(0.3) {
            config.send_queue_max = [16, 64, 256][rng.gen_range(0..3)];
        }
        if rng.gen_bool(0.3) {
            config.max_messages = rng.gen_range(1..=128);
            config.window_size = config.max_messages * rng.gen_range(1..=5);
        }
        config.cancel_token_hold_on_retransmit = rng.gen_bool(0.3);
        config.validate().expect("simulator timers are valid");
        let token_ns = token.as_nanos() as u64;
        let mut sc = Scenario {
            nodes: n,
            node_ids: (1..=n as NodeId).collect(),
            net: NetProfile::choose(&mut rng, token_ns),
            faults: FaultProfile::choose(&mut rng, token_ns),
            workload: WorkloadProfile::choose(&mut rng, n, token_ns),
            safety: token * rng.gen_range(6..=20),
            socket_buffer: [16, 64, 512][rng.gen_range(0..3)],
            rejoin_left: rng.gen_bool(0.5),
            engine_seed: rng.gen(),
            config,
            phase_faults: false,
            torn_writes: false,
        };
        // Choices added later are drawn last, so older seeds keep their scenario.
        if rng.gen_bool(0.25) {
            sc.faults.kinds.push(crate::faults::FaultKind::Bounce);
        }
        if rng.gen_bool(0.2) {
            sc.config.frame_mtu = [160, 512, 1000][rng.gen_range(0..3)];
        }
        if rng.gen_bool(0.15) {
            // Reach the rarely taken paths: "failed to receive", eager retransmit
            // requests, early token hold.
            sc.config.fail_recv_const = rng.gen_range(3..=50);
            sc.config.miss_count_const = rng.gen_range(1..=5);
            sc.config.seqno_unchanged_const = rng.gen_range(1..=30);
        }
        sc.config.validate().expect("simulator tunables are valid");
        if rng.gen_bool(0.25) {
            // Scattered ids in nodelist order (not sorted): nothing may assume 1..=n.
            // Payloads carry ids as u16, hence the bound.
            let mut ids: Vec<NodeId> = Vec::with_capacity(n);
            while ids.len() < n {
                let id = rng.gen_range(1..=60_000);
                if !ids.contains(&id) {
                    ids.push(id);
                }
            }
            sc.node_ids = ids;
        }
        let c = &mut sc.config;
        match rng.gen_range(0..10) {
            // corosync's failure detector: wait for the consensus timeout.
            0 | 1 => c.fail_silent_after = Duration::ZERO,
            2 => c.fail_silent_after = c.join * 2 + (c.token - c.join * 2).mul_f64(rng.gen_range(0.0..1.0)),
            _ => {}
        }
        if rng.gen_bool(0.2) {
            // corosync's random sleep before each join (80 ms recommended for 128 nodes).
            c.send_join = c.join.mul_f64(rng.gen_range(0.1..2.0));
        }
        if sc.nodes > 64 {
            // corosync.conf(5): send_join is not needed under 32 nodes and necessary for
            // larger rings, 80 ms for 128 nodes; without it every change in a ring of
            // over 64 sends N joins that each make N nodes answer at once.
            c.send_join = c.send_join.max(LARGE_RING_SEND_JOIN * sc.nodes as u32 / 128);
        }
        sc.config.validate().expect("simulator tunables are valid");
        sc.phase_faults = !sc.faults.kinds.is_empty() && rng.gen_bool(0.3);
        if rng.gen_bool(0.15) {
            sc.net.burst = Some(crate::network::Burst {
                enter: [0.001, 0.005, 0.02][rng.gen_range(0..3)],
                leave: rng.gen_range(0.1..0.5),
                loss: rng.gen_range(0.3..1.0),
            });
        }
        if rng.gen_bool(0.15) {
            for _ in 0..rng.gen_range(1..=n) {
                let (from, to) = (rng.gen_range(0..n), rng.gen_range(0..n));
                if from != to && !sc.net.lossy_links.iter().any(|l| l.0 == from && l.1 == to) {
                    sc.net
                        .lossy_links
                        .push((from, to, [0.02, 0.1, 0.3][rng.gen_range(0..3)]));
                }
            }
        }
        if rng.gen_bool(0.3) {
            // A 1500-byte link: larger datagrams (encapsulated recovery multicasts, commit
            // tokens of 53 nodes and more) travel in IP fragments.
            sc.net.ip_mtu = Some(1472);
        }
        sc.torn_writes = rng.gen_bool(0.2);
        if rng.gen_bool(0.3) {
            sc.faults.kinds.push(crate::faults::FaultKind::Slow);
            sc.phase_faults |= rng.gen_bool(0.3);
        }
        sc
    }

    /// One line for the report.
    pub fn describe(&self) -> String {
        let c = &self.config;
        let n = &self.net;
        let w = &self.workload;
        format!(
            "{} nodes {:?}, token {:?} consensus {:?} join {:?} send_join {:?} fail_silent_after {:?} merge {:?} window {}/{} sendq {} frame {}; \
             fail_recv {} miss_count {} seqno_unchanged {}; net latency {}us jitter {}us loss {} dup {} reorder {}; faults {:?} every ~{}ms; \
             workload every ~{}ms up to {}x{} msgs sizes {:?}; safety {:?}{}",
            self.nodes,
            self.node_ids,
            c.token,
            c.consensus,
            c.join,
            c.send_join,
            c.fail_silent_after,
            c.merge,
            c.max_messages,
            c.window_size,
            c.send_queue_max,
            c.frame_mtu,
            c.fail_recv_const,
            c.miss_count_const,
            c.seqno_unchanged_const,
            n.latency_ns / 1000,
            n.jitter_ns / 1000,
            n.loss,
            n.duplicate,
            n.reorder,
            self.faults.kinds,
            self.faults.mean_gap_ns / 1_000_000,
            w.mean_gap_ns / 1_000_000,
            w.max_senders,
            w.max_per_sender,
            w.size_weights,
            self.safety,
            self.extras()
        )
    }

    /// The choices added since the format above was fixed, when they are on.
    fn extras(&self) -> String {
        let mut s = String::new();
        if let Some(b) = self.net.burst {
            s += &format!("; bursts enter {} leave {:.2} loss {:.2}", b.enter, b.leave, b.loss);
        }
        if !self.net.lossy_links.is_empty() {
            let links: Vec<String> = self
                .net
                .lossy_links
                .iter()
                .map(|(f, t, l)| format!("n{}->n{} {l}", self.node_ids[*f], self.node_ids[*t]))
                .collect();
            s += &format!("; lossy links {}", links.join(", "));
        }
        if let Some(mtu) = self.net.ip_mtu {
            s += &format!("; ip mtu {mtu}");
        }
        if self.phase_faults {
            s += "; faults on entering COMMIT/RECOVERY";
        }
        if self.torn_writes {
            s += "; torn ring-id writes";
        }
        s
    }
}

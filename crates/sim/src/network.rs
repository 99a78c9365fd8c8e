//! The virtual network: per-link reachability and the fate of each datagram copy
//! (loss, duplication, delay with jitter, occasional large reordering delays).

use rand::rngs::SmallRng;
use rand::Rng;

/// Link behaviour for one run; the seed picks it, the liveness phase calms it.
#[derive(Clone, Debug, PartialEq)]
pub struct NetProfile {
    /// Minimum one-way latency, ns.
    pub latency_ns: u64,
    /// Uniform extra delay on top of the latency, ns (reorders packets that are close).
    pub jitter_ns: u64,
    /// Probability that a copy is lost.
    pub loss: f64,
    /// Probability that a copy is delivered twice.
    pub duplicate: f64,
    /// Probability that a copy is held back by up to `reorder_delay_ns`.
    pub reorder: f64,
    pub reorder_delay_ns: u64,
}

impl NetProfile {
    /// A clean LAN: short latency, no loss.
    pub fn calm(latency_ns: u64) -> Self {
        NetProfile {
            latency_ns,
            jitter_ns: latency_ns / 2,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay_ns: 0,
        }
    }

    /// A faulty network drawn from the seed (each fault switched on or off at random).
    pub fn choose(rng: &mut SmallRng, token_ns: u64) -> Self {
        let latency_ns = rng.gen_range(20_000..1_000_000);
        let mut p = NetProfile::calm(latency_ns);
        if rng.gen_bool(0.5) {
            p.jitter_ns = rng.gen_range(0..=latency_ns * 4);
        }
        if rng.gen_bool(0.5) {
            p.loss = [0.001, 0.005, 0.02, 0.05, 0.15][rng.gen_range(0..5)];
        }
        if rng.gen_bool(0.3) {
            p.duplicate = [0.001, 0.01, 0.05][rng.gen_range(0..3)];
        }
        if rng.gen_bool(0.3) {
            p.reorder = [0.001, 0.01, 0.05][rng.gen_range(0..3)];
            p.reorder_delay_ns = rng.gen_range(latency_ns..=token_ns / 2);
        }
        p
    }
}

/// Reachability between nodes plus the current link profile.
#[derive(Clone, Debug)]
pub struct Network {
    nodes: usize,
    /// `blocked[from * nodes + to]`: datagrams from → to are dropped (0-based indices).
    blocked: Vec<bool>,
    pub profile: NetProfile,
}

impl Network {
    pub fn new(nodes: usize, profile: NetProfile) -> Self {
        Network {
            nodes,
            blocked: vec![false; nodes * nodes],
            profile,
        }
    }

    pub fn is_blocked(&self, from: usize, to: usize) -> bool {
        self.blocked[from * self.nodes + to]
    }

    pub fn set_blocked(&mut self, from: usize, to: usize, blocked: bool) {
        self.blocked[from * self.nodes + to] = blocked;
    }

    /// Splits the nodes into `groups` (group of each node, 0-based) with two-way cuts.
    pub fn partition(&mut self, group: &[usize]) {
        for a in 0..self.nodes {
            for b in 0..self.nodes {
                self.blocked[a * self.nodes + b] = group[a] != group[b];
            }
        }
    }

    pub fn heal(&mut self) {
        self.blocked.fill(false);
    }

    pub fn any_blocked(&self) -> bool {
        self.blocked.iter().any(|b| *b)
    }

    /// Delays (ns) of the copies of one datagram from → to that arrive: none, one or two.
    pub fn route(&self, rng: &mut SmallRng, from: usize, to: usize) -> [Option<u64>; 2] {
        if self.is_blocked(from, to) {
            return [None, None];
        }
        let p = &self.profile;
        let copy = |rng: &mut SmallRng| {
            if p.loss > 0.0 && rng.gen_bool(p.loss) {
                return None;
            }
            let mut d = p.latency_ns
                + if p.jitter_ns > 0 {
                    rng.gen_range(0..=p.jitter_ns)
                } else {
                    0
                };
            if p.reorder > 0.0 && rng.gen_bool(p.reorder) {
                d += rng.gen_range(0..=p.reorder_delay_ns);
            }
            Some(d)
        };
        let first = copy(rng);
        let second = if p.duplicate > 0.0 && rng.gen_bool(p.duplicate) {
            copy(rng)
        } else {
            None
        };
        [first, second]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn partitions_block_and_heal() {
        let mut net = Network::new(3, NetProfile::calm(1000));
        let mut rng = SmallRng::seed_from_u64(1);
        net.partition(&[0, 0, 1]);
        assert_eq!(net.route(&mut rng, 0, 2), [None, None]);
        assert!(net.route(&mut rng, 0, 1)[0].is_some());
        net.heal();
        assert!(!net.any_blocked());
        net.set_blocked(2, 0, true);
        assert!(net.route(&mut rng, 0, 2)[0].is_some());
        assert_eq!(net.route(&mut rng, 2, 0), [None, None]);
    }
}

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
    /// Bursty loss on every link (Gilbert–Elliott), on top of `loss`.
    pub burst: Option<Burst>,
    /// Links that lose more than the others: (from, to, loss), 0-based indices.
    pub lossy_links: Vec<(usize, usize, f64)>,
    /// Largest UDP payload one IP packet carries; a larger datagram goes out in
    /// fragments and is lost if any fragment is (loss applies per fragment). `None`:
    /// datagrams are never fragmented.
    pub ip_mtu: Option<usize>,
}

/// Gilbert–Elliott loss: each link is good or bad; per datagram it turns bad with
/// probability `enter` and good again with `leave`, and a bad link loses `loss` of the
/// datagrams (a burst of about `1 / leave` datagrams).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Burst {
    pub enter: f64,
    pub leave: f64,
    pub loss: f64,
}

impl Burst {
    /// Long-run share of datagrams lost to bursts.
    pub fn mean_loss(&self) -> f64 {
        self.loss * self.enter / (self.enter + self.leave)
    }
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
            burst: None,
            lossy_links: Vec::new(),
            ip_mtu: None,
        }
    }

    /// Whether exclusions may come from lost datagrams (5 % loss, the level at which
    /// random loss excuses an exclusion, on average or on some link).
    pub fn lossy(&self) -> bool {
        self.loss >= 0.05
            || self.burst.is_some_and(|b| b.mean_loss() >= 0.01 || b.loss >= 0.3)
            || self.lossy_links.iter().any(|l| l.2 >= 0.05)
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
    /// Gilbert–Elliott state per link: in a burst.
    bad: Vec<bool>,
    pub profile: NetProfile,
}

impl Network {
    pub fn new(nodes: usize, profile: NetProfile) -> Self {
        Network {
            nodes,
            blocked: vec![false; nodes * nodes],
            bad: vec![false; nodes * nodes],
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

    /// Delays (ns) of the copies of one datagram of `len` bytes from → to that arrive:
    /// none, one or two.
    pub fn route(&mut self, rng: &mut SmallRng, from: usize, to: usize, len: usize) -> [Option<u64>; 2] {
        if self.is_blocked(from, to) {
            return [None, None];
        }
        // Draws for the newer link features only when they are on, so runs without them
        // replay as before.
        let mut loss = self.profile.loss;
        if let Some(b) = self.profile.burst {
            let bad = &mut self.bad[from * self.nodes + to];
            *bad = if *bad {
                !rng.gen_bool(b.leave)
            } else {
                rng.gen_bool(b.enter)
            };
            if *bad {
                loss = 1.0 - (1.0 - loss) * (1.0 - b.loss);
            }
        }
        if let Some(&(_, _, extra)) = self.profile.lossy_links.iter().find(|l| l.0 == from && l.1 == to) {
            loss = 1.0 - (1.0 - loss) * (1.0 - extra);
        }
        if let Some(mtu) = self.profile.ip_mtu {
            let fragments = len.div_ceil(mtu.max(1)).max(1);
            loss = 1.0 - (1.0 - loss).powi(fragments as i32);
        }
        let p = &self.profile;
        let copy = |rng: &mut SmallRng| {
            if loss > 0.0 && rng.gen_bool(loss.min(1.0)) {
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
        assert_eq!(net.route(&mut rng, 0, 2, 100), [None, None]);
        assert!(net.route(&mut rng, 0, 1, 100)[0].is_some());
        net.heal();
        assert!(!net.any_blocked());
        net.set_blocked(2, 0, true);
        assert!(net.route(&mut rng, 0, 2, 100)[0].is_some());
        assert_eq!(net.route(&mut rng, 2, 0, 100), [None, None]);
    }

    fn arrivals(net: &mut Network, rng: &mut SmallRng, from: usize, to: usize, len: usize, n: usize) -> usize {
        (0..n).filter(|_| net.route(rng, from, to, len)[0].is_some()).count()
    }

    #[test]
    fn bursts_lose_in_runs() {
        let burst = Burst {
            enter: 0.01,
            leave: 0.2,
            loss: 1.0,
        };
        let mut net = Network::new(
            2,
            NetProfile {
                burst: Some(burst),
                ..NetProfile::calm(1000)
            },
        );
        let mut rng = SmallRng::seed_from_u64(7);
        let fates: Vec<bool> = (0..100_000)
            .map(|_| net.route(&mut rng, 0, 1, 100)[0].is_some())
            .collect();
        let lost = fates.iter().filter(|f| !**f).count() as f64 / fates.len() as f64;
        assert!((lost - burst.mean_loss()).abs() < 0.01, "{lost}");
        // Losses come in runs: a lost datagram is mostly followed by another.
        let pairs = fates.windows(2).filter(|w| !w[0]).count() as f64;
        let runs = fates.windows(2).filter(|w| !w[0] && !w[1]).count() as f64;
        assert!(runs / pairs > 0.7, "{}", runs / pairs);
        assert!(NetProfile {
            burst: Some(burst),
            ..NetProfile::calm(1)
        }
        .lossy());
    }

    #[test]
    fn one_link_loses_more_and_large_datagrams_lose_per_fragment() {
        let mut net = Network::new(
            3,
            NetProfile {
                lossy_links: vec![(0, 1, 0.5)],
                ..NetProfile::calm(1000)
            },
        );
        let mut rng = SmallRng::seed_from_u64(3);
        let via_lossy = arrivals(&mut net, &mut rng, 0, 1, 100, 10_000);
        assert!((4_500..5_500).contains(&via_lossy), "{via_lossy}");
        assert_eq!(
            arrivals(&mut net, &mut rng, 1, 0, 100, 1000),
            1000,
            "one direction only"
        );
        assert_eq!(arrivals(&mut net, &mut rng, 0, 2, 100, 1000), 1000);
        let mut net = Network::new(
            2,
            NetProfile {
                loss: 0.1,
                ip_mtu: Some(1472),
                ..NetProfile::calm(1000)
            },
        );
        let small = arrivals(&mut net, &mut rng, 0, 1, 1000, 10_000);
        let big = arrivals(&mut net, &mut rng, 0, 1, 4000, 10_000);
        assert!((8_700..9_300).contains(&small), "{small}");
        // Three fragments: 0.9³ = 0.729.
        assert!((7_000..7_600).contains(&big), "{big}");
    }
}

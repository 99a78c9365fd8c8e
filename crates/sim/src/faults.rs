//! Fault injection: the seed picks which faults a run uses and how often (swarm
//! testing, so that rare combinations get runs of their own), and each fault step
//! applies one of them.

use std::time::Duration;

use rand::rngs::SmallRng;
use rand::seq::SliceRandom;
use rand::Rng;
use totem::NodeId;

use crate::engine::Engine;
use crate::history::Disturbance;

/// One kind of fault step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Split the nodes into 2–3 groups that cannot reach each other.
    Partition,
    /// Cut some links in one direction only.
    OneWay,
    /// Restore every link.
    Heal,
    /// Kill a node (volatile state lost, disk kept).
    Crash,
    /// Boot a crashed or departed node again.
    Restart,
    /// Stop a node for longer than the token timeout.
    Pause,
    /// Graceful `Totem::leave` and exit.
    Leave,
    /// Crash and restart within a token timeout: the new incarnation meets datagrams
    /// and ring state left by the old one.
    Bounce,
    /// Slow a running node down (a starved process): it handles one datagram per
    /// 50 µs–5 ms for a fraction of a token to a few tokens; datagrams arriving beyond
    /// its socket buffer meanwhile are dropped (a receive-buffer overflow).
    Slow,
}

/// The run's fault mix.
#[derive(Clone, Debug)]
pub struct FaultProfile {
    pub kinds: Vec<FaultKind>,
    /// Mean gap between fault steps, ns.
    pub mean_gap_ns: u64,
}

impl FaultProfile {
    pub fn choose(rng: &mut SmallRng, token_ns: u64) -> Self {
        let mut kinds = Vec::new();
        if rng.gen_bool(0.85) {
            for (kind, p) in [
                (FaultKind::Partition, 0.4),
                (FaultKind::OneWay, 0.25),
                (FaultKind::Crash, 0.4),
                (FaultKind::Pause, 0.35),
                (FaultKind::Leave, 0.2),
            ] {
                if rng.gen_bool(p) {
                    kinds.push(kind);
                }
            }
        }
        if kinds
            .iter()
            .any(|k| matches!(k, FaultKind::Partition | FaultKind::OneWay))
        {
            kinds.push(FaultKind::Heal);
        }
        if kinds.iter().any(|k| matches!(k, FaultKind::Crash | FaultKind::Leave)) {
            kinds.push(FaultKind::Restart);
        }
        FaultProfile {
            kinds,
            mean_gap_ns: token_ns * rng.gen_range(1..8),
        }
    }

    pub fn gap(&self, rng: &mut SmallRng) -> Duration {
        let u: f64 = rng.gen_range(0.001..1.0);
        Duration::from_nanos(((-u.ln()) * self.mean_gap_ns as f64) as u64 + 1)
    }

    /// Applies one fault step drawn from the profile (nothing if the profile is empty).
    pub fn step(&self, e: &mut Engine) {
        let Some(&kind) = self.kinds.choose(&mut e.rng) else {
            return;
        };
        apply(e, kind);
    }
}

impl FaultProfile {
    /// A fault step aimed at `node`, which just entered COMMIT or RECOVERY: a crash,
    /// stop, leave or bounce hits it; the network faults apply as usual.
    pub fn step_at(&self, e: &mut Engine, node: usize) {
        let Some(&kind) = self.kinds.choose(&mut e.rng) else {
            return;
        };
        let alive = e.hosts.iter().filter(|h| h.is_alive()).count();
        match kind {
            FaultKind::Crash if alive > 1 && e.hosts[node].is_alive() => {
                e.trace.mix(&[11, e.now.as_nanos(), kind as u64]);
                e.crash(node);
            }
            FaultKind::Pause if e.hosts[node].is_up() => {
                e.trace.mix(&[11, e.now.as_nanos(), kind as u64]);
                let d = e.config.token.mul_f64(e.rng.gen_range(0.1..3.0));
                e.pause(node, d);
            }
            FaultKind::Leave if alive > 1 && e.hosts[node].is_up() => {
                e.trace.mix(&[11, e.now.as_nanos(), kind as u64]);
                e.leave(node);
            }
            FaultKind::Bounce if e.hosts[node].is_up() => {
                e.trace.mix(&[11, e.now.as_nanos(), kind as u64]);
                let d = e.config.token.mul_f64(e.rng.gen_range(0.0..1.0));
                e.crash(node);
                e.restart_after(node, d);
            }
            FaultKind::Slow if e.hosts[node].is_up() => {
                e.trace.mix(&[11, e.now.as_nanos(), kind as u64]);
                slow(e, node);
            }
            _ => apply(e, kind),
        }
    }
}

/// Slows node `i` down for 0.2–3 tokens, at 50 µs–5 ms per datagram (log-uniform).
fn slow(e: &mut Engine, i: usize) {
    let d = e.config.token.mul_f64(e.rng.gen_range(0.2..3.0));
    let cost = Duration::from_nanos((50_000f64 * 100f64.powf(e.rng.gen_range(0.0..1.0))) as u64);
    e.slow_down(i, d, cost);
}

fn pick(e: &mut Engine, candidates: &[usize]) -> Option<usize> {
    candidates.choose(&mut e.rng).copied()
}

/// Applies one fault of `kind` now.
pub fn apply(e: &mut Engine, kind: FaultKind) {
    let n = e.hosts.len();
    let now = e.now;
    let up: Vec<usize> = (0..n).filter(|i| e.hosts[*i].is_up()).collect();
    let alive = e.hosts.iter().filter(|h| h.is_alive()).count();
    let down: Vec<usize> = (0..n).filter(|i| !e.hosts[*i].is_alive()).collect();
    e.trace.mix(&[11, now.as_nanos(), kind as u64]);
    match kind {
        FaultKind::Partition => {
            let groups = e.rng.gen_range(2..=3.min(n));
            let group: Vec<usize> = (0..n).map(|_| e.rng.gen_range(0..groups)).collect();
            e.net.partition(&group);
            e.history.disturbance_starts(Disturbance::Cut, now);
            e.counters.partitions += 1;
            e.trace.line(now, None, || {
                let sets: Vec<Vec<NodeId>> = (0..groups)
                    .map(|g| (0..n).filter(|i| group[*i] == g).map(|i| e.ids[i]).collect())
                    .filter(|s: &Vec<NodeId>| !s.is_empty())
                    .collect();
                format!("PARTITION {sets:?}")
            });
        }
        FaultKind::OneWay => {
            let cuts = e.rng.gen_range(1..=n);
            let mut cut = Vec::new();
            for _ in 0..cuts {
                let from = e.rng.gen_range(0..n);
                let to = e.rng.gen_range(0..n);
                if from != to {
                    e.net.set_blocked(from, to, true);
                    cut.push((e.ids[from], e.ids[to]));
                }
            }
            e.counters.partitions += 1;
            if !cut.is_empty() {
                e.history.disturbance_starts(Disturbance::Cut, now);
            }
            e.trace.line(now, None, || format!("ONE-WAY cuts (from, to) {cut:?}"));
        }
        FaultKind::Heal => {
            e.net.heal();
            e.history.disturbance_ends(Disturbance::Cut, now);
            e.trace.line(now, None, || "HEAL all links".into());
        }
        FaultKind::Crash => {
            let alive_nodes: Vec<usize> = (0..n).filter(|i| e.hosts[*i].is_alive()).collect();
            if alive > 1 {
                if let Some(i) = pick(e, &alive_nodes) {
                    e.crash(i);
                }
            }
        }
        FaultKind::Restart => {
            if let Some(i) = pick(e, &down) {
                e.restart(i);
            }
        }
        FaultKind::Pause => {
            if let Some(i) = pick(e, &up) {
                let token = e.config.token;
                // Mostly longer than the token timeout (the ring must re-form), sometimes
                // shorter (the token must survive a slow member).
                let factor = if e.rng.gen_bool(0.75) {
                    e.rng.gen_range(1.2..3.0)
                } else {
                    e.rng.gen_range(0.1..0.9)
                };
                let d = token.mul_f64(factor);
                e.pause(i, d);
            }
        }
        FaultKind::Leave => {
            if alive > 1 {
                if let Some(i) = pick(e, &up) {
                    e.leave(i);
                }
            }
        }
        FaultKind::Slow => {
            let running: Vec<usize> = up.iter().copied().filter(|i| e.hosts[*i].slow.is_none()).collect();
            if let Some(i) = pick(e, &running) {
                slow(e, i);
            }
        }
        FaultKind::Bounce => {
            if let Some(i) = pick(e, &up) {
                let d = e.config.token.mul_f64(e.rng.gen_range(0.0..1.0));
                e.crash(i);
                e.restart_after(i, d);
            }
        }
    }
}

//! One seeded run: a safety phase under faults, then a liveness phase on a healed
//! cluster that must converge to one ring and deliver everything.

use std::time::Duration;

use rand::seq::SliceRandom;
use rand::Rng;
use totem::Instant;

use crate::engine::{Engine, Mutation};
use crate::history::{Disturbance, End};
use crate::invariants::{final_ring_delivery, self_delivery};
use crate::network::{NetProfile, Network};
use crate::node::Status;
use crate::report::RunReport;
use crate::scenario::Scenario;

/// What to run.
#[derive(Clone, Debug, Default)]
pub struct SimOptions {
    pub seed: u64,
    /// Node count (2..=128); the seed picks 3..=9 when `None`.
    pub nodes: Option<usize>,
    /// Record a human-readable timeline.
    pub verbose: bool,
    /// Also record every datagram in the timeline (implies `verbose`).
    pub packets: bool,
    /// Plant a bug in node 1 (checker self-test).
    pub mutation: Option<Mutation>,
    /// Plant a bug in the protocol of every node (checker self-test).
    pub planted_bug: Option<totem::config::PlantedBug>,
    /// `(max_messages, window_size)` for every node instead of the seed's (drawn or
    /// default): replays a seed under another default, e.g. larger token visits.
    pub window: Option<(u32, u32)>,
}

/// Largest `--nodes`.
pub const MAX_NODES: usize = 128;

const WORKLOAD: u32 = 1;
const FAULT: u32 = 2;
const CPG_CLIENTS: u32 = 3;
/// A fault step triggered by a node entering COMMIT or RECOVERY.
pub(crate) const PHASE_FAULT: u32 = 4;
/// Most unsent messages a node's application keeps before it stops generating more.
const OUTBOX_MAX: usize = 200;

/// Runs one seed to completion.
pub fn run(opts: &SimOptions) -> RunReport {
    let mut sc = Scenario::choose(opts.seed, opts.nodes.map(|n| n.clamp(2, MAX_NODES)));
    sc.config.planted_bug = opts.planted_bug;
    if let Some((max_messages, window_size)) = opts.window {
        sc.config.max_messages = max_messages.max(1);
        sc.config.window_size = window_size.max(sc.config.max_messages);
    }
    let net = Network::new(sc.nodes, sc.net.clone());
    let mut e = Engine::new(
        sc.node_ids.clone(),
        sc.config.clone(),
        net,
        sc.engine_seed,
        opts.verbose || opts.packets,
    );
    e.packet_trace = opts.packets;
    e.socket_buffer = sc.socket_buffer;
    e.set_mutation(opts.mutation);
    e.phase_faults = sc.phase_faults;
    e.torn_writes = sc.torn_writes;
    if sc.net.lossy() {
        e.history.disturbance_starts(Disturbance::Lossy, Instant::ZERO);
    }
    // A panic inside Totem is a failure of this seed, not of the sweep; the engine
    // state (and timeline) up to the panic is kept for the report.
    let phases = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        safety_phase(&mut e, &sc);
        e.check_history();
        if e.failure.is_none() {
            liveness_phase(&mut e, &sc);
        }
        e.check_history();
        for i in 0..e.hosts.len() {
            e.check_malformed(i);
        }
    }));
    if let Err(payload) = phases {
        let msg = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-string panic".into());
        e.fail("panic", msg);
    }
    RunReport {
        seed: opts.seed,
        nodes: sc.nodes,
        scenario: sc.describe(),
        failure: e.failure.clone(),
        virtual_time: Duration::from_nanos(e.now.as_nanos()),
        counters: e.counters.clone(),
        trace_hash: {
            let c = e.counters.clone();
            e.trace.mix(&[c.events, c.packets_sent, c.delivered, e.now.as_nanos()]);
            e.trace.hash()
        },
        timeline: e.trace.finish(),
        history: std::mem::take(&mut e.history),
    }
}

fn safety_phase(e: &mut Engine, sc: &Scenario) {
    let end = Instant::ZERO + sc.safety;
    let gap = sc.workload.gap(&mut e.rng);
    e.schedule_driver(Duration::from_nanos(gap), WORKLOAD);
    if !sc.faults.kinds.is_empty() {
        let gap = sc.faults.gap(&mut e.rng);
        e.schedule_driver(gap, FAULT);
    }
    let gap = e.cpg.gap();
    e.schedule_driver(gap, CPG_CLIENTS);
    while let Some(tag) = e.advance(end) {
        match tag {
            WORKLOAD => {
                workload_step(e, sc);
                let gap = sc.workload.gap(&mut e.rng);
                e.schedule_driver(Duration::from_nanos(gap), WORKLOAD);
            }
            FAULT => {
                sc.faults.step(e);
                let gap = sc.faults.gap(&mut e.rng);
                e.schedule_driver(gap, FAULT);
            }
            PHASE_FAULT => {
                if let Some(node) = e.phase_fault_node.take() {
                    sc.faults.step_at(e, node);
                }
            }
            CPG_CLIENTS => {
                e.cpg_step();
                let gap = e.cpg.gap();
                e.schedule_driver(gap, CPG_CLIENTS);
            }
            _ => {}
        }
    }
}

/// One burst: some senders queue some messages, then every node retries its outbox.
fn workload_step(e: &mut Engine, sc: &Scenario) {
    let mut senders: Vec<usize> = (0..e.hosts.len()).filter(|i| e.hosts[*i].is_alive()).collect();
    senders.shuffle(&mut e.rng);
    let count = e.rng.gen_range(1..=sc.workload.max_senders.max(1));
    let frame = e.config.frame_mtu;
    for &i in senders.iter().take(count) {
        let k = e.rng.gen_range(1..=sc.workload.max_per_sender);
        for _ in 0..k {
            if e.hosts[i].outbox.pending.len() >= OUTBOX_MAX {
                break;
            }
            let len = sc.workload.size(&mut e.rng, frame);
            e.queue_message(i, len);
        }
    }
    for i in 0..e.hosts.len() {
        e.flush_outbox(i);
    }
}

fn liveness_phase(e: &mut Engine, sc: &Scenario) {
    e.phase = "liveness";
    e.liveness_from = e.now;
    let now = e.now;
    e.trace.line(now, None, || {
        "LIVENESS phase: heal the network, restart and resume everyone".into()
    });
    e.net.heal();
    e.net.profile = NetProfile::calm(sc.net.latency_ns);
    e.history.disturbance_ends(Disturbance::Cut, now);
    e.history.disturbance_ends(Disturbance::Lossy, now);
    for i in 0..e.hosts.len() {
        e.unslow(i);
        match e.hosts[i].status {
            Status::Paused => e.resume(i),
            Status::Down(End::Crashed) => e.restart(i),
            Status::Down(End::Left) if sc.rejoin_left => e.restart(i),
            _ => {}
        }
        // Messages never accepted by Totem carry no obligation; drop them.
        e.hosts[i].outbox.pending.clear();
    }
    let c = &e.config;
    let bound = (c.token + c.consensus) * 30 + Duration::from_secs(2);
    let start = e.now;
    // Timers armed during the faults (a token lost just before the heal) may still
    // fire: let them play out before judging convergence and stability.
    let settle = c.token + c.consensus;
    e.run_until(start + settle, |_| false);
    if !e.run_until(start + bound, |e| e.converged().is_some()) {
        if e.failure.is_none() {
            let detail = format!("not all alive nodes OPERATIONAL in one ring of exactly the alive nodes within {bound:?} after healing:{}", e.describe_nodes());
            e.fail("liveness: convergence", detail);
        }
        return;
    }
    let ring = e.converged().expect("converged");
    let took = e.now - start;
    e.trace
        .line(e.now, None, || format!("converged on ring {ring} after {took:?}"));

    // Probe: every alive node sends a few messages; all must reach everyone.
    let first_probe = e.history.messages.len();
    let frame = e.config.frame_mtu;
    for i in 0..e.hosts.len() {
        if e.hosts[i].is_alive() {
            for _ in 0..e.rng.gen_range(1..=3) {
                let len = sc.workload.size(&mut e.rng, frame);
                e.queue_message(i, len);
            }
        }
    }
    // A slow ring (window 1, big backlogs) may need longer than `bound`; keep waiting
    // while the outstanding work shrinks, up to a hard cap. A stall is a failure.
    let mut deadline = e.now + bound;
    let cap = e.now + bound * 10;
    let mut outstanding_before = None;
    let step = e.config.token / 4;
    loop {
        for i in 0..e.hosts.len() {
            e.flush_outbox(i);
        }
        // Measured once the probes are in (submitted by the flush above).
        let before = *outstanding_before.get_or_insert_with(|| outstanding(e, first_probe));
        let outboxes_empty = e.hosts.iter().all(|h| h.outbox.pending.is_empty());
        if outboxes_empty && probes_delivered(e, first_probe) && self_delivery::check(&e.history).is_ok() {
            break;
        }
        if e.failure.is_some() {
            return;
        }
        if e.now >= deadline && e.now < cap {
            let now_outstanding = outstanding(e, first_probe);
            if now_outstanding < before {
                outstanding_before = Some(now_outstanding);
                deadline = (e.now + bound).min(cap);
            }
        }
        if e.now >= deadline {
            let waited = e.now - start;
            let detail = if !outboxes_empty {
                "some probe messages were never accepted by submit (queue full forever)".to_string()
            } else if let Err(s) = self_delivery::check(&e.history) {
                s
            } else {
                format!(
                    "probe messages not delivered everywhere: {}",
                    missing_probes(e, first_probe)
                )
            };
            e.fail(
                "liveness: delivery",
                format!(
                    "{detail}; after {waited:?} ({} messages outstanding, {} a {bound:?} ago):{}",
                    outstanding(e, first_probe),
                    before,
                    e.describe_nodes()
                ),
            );
            return;
        }
        let until = (e.now + step).min(deadline);
        e.run_until(until, |_| false);
    }
    if e.converged() != Some(ring) {
        let detail = format!("ring changed from {ring} without any fault:{}", e.describe_nodes());
        e.fail("liveness: stability", detail);
        return;
    }
    e.cpg_liveness(bound);
    if e.failure.is_none() && e.converged() != Some(ring) {
        let detail = format!("ring changed from {ring} without any fault:{}", e.describe_nodes());
        e.fail("liveness: stability", detail);
    }
    if e.failure.is_none() {
        if let Err(detail) = final_ring_delivery::check(&e.history) {
            e.fail("final_ring_delivery", detail);
        }
    }
    let took = e.now - start;
    e.trace
        .line(e.now, None, || format!("liveness phase done after {took:?}"));
}

/// Deliveries still owed: own messages not yet self-delivered by alive incarnations,
/// plus probes (gid ≥ `first`) not yet delivered by each alive incarnation.
fn outstanding(e: &Engine, first: usize) -> usize {
    let mut owed = 0;
    let mut got = vec![false; e.history.messages.len()];
    for h in e.hosts.iter().filter(|h| h.is_alive()) {
        let inc = &e.history.incs[h.inc];
        got.fill(false);
        for g in inc.delivered() {
            got[g as usize] = true;
        }
        owed += inc
            .submitted
            .iter()
            .filter(|g| (**g as usize) < first && !got[**g as usize])
            .count();
        owed += (first..got.len()).filter(|g| !got[*g]).count();
    }
    owed
}

/// Every alive incarnation delivered every probe (messages with gid ≥ `first`).
fn probes_delivered(e: &Engine, first: usize) -> bool {
    let total = e.history.messages.len() - first;
    e.hosts.iter().filter(|h| h.is_alive()).all(|h| {
        e.history.incs[h.inc]
            .delivered()
            .filter(|g| *g as usize >= first)
            .count()
            == total
    })
}

fn missing_probes(e: &Engine, first: usize) -> String {
    let mut s = String::new();
    for h in e.hosts.iter().filter(|h| h.is_alive()) {
        let mut got = vec![false; e.history.messages.len()];
        for g in e.history.incs[h.inc].delivered() {
            got[g as usize] = true;
        }
        let missing: Vec<String> = (first..got.len())
            .filter(|g| !got[*g])
            .take(4)
            .map(|g| e.history.messages[g].id.to_string())
            .collect();
        if !missing.is_empty() {
            s += &format!(" n{} misses {missing:?};", h.id);
        }
    }
    s
}

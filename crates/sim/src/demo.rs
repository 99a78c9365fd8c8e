//! `sim demo`: a scripted, narrated five-node run for newcomers — ring formation,
//! agreed ordering, a crash, re-formation and rejoin — in about thirty lines.

use std::fmt::Write as _;
use std::time::Duration;

use totem::{ConfigurationKind, Instant, NodeId};

use crate::engine::Engine;
use crate::history::Entry;
use crate::network::{NetProfile, Network};
use crate::scenario::totem_config;

const NODES: usize = 5;

/// Runs the demo and returns its narration; `Err` if Totem misbehaves on the way.
pub fn demo() -> Result<String, String> {
    let config = totem_config(Duration::from_millis(1000));
    let mut out = String::new();
    let o = &mut out;
    let _ = writeln!(
        o,
        "ferrosync simulator demo: {NODES} Totem nodes on a virtual LAN (0.2 ms latency, no faults)"
    );
    let _ = writeln!(
        o,
        "timers: token {:?}, consensus {:?}, join {:?}; time below is virtual (seconds)\n",
        config.token, config.consensus, config.join
    );
    let bound = Duration::from_secs(60);
    let ids = (1..=NODES as NodeId).collect();
    let mut e = Engine::new(ids, config, Network::new(NODES, NetProfile::calm(200_000)), 1, false);

    let _ = writeln!(
        o,
        "[t={}] nodes 1..{NODES} boot, each alone, and start looking for each other",
        e.now
    );
    let ring = converge(&mut e, bound)?;
    let _ = writeln!(
        o,
        "[t={}] ring {ring} formed with members {:?} (took {:.3}s)\n",
        e.now,
        members(&e, 0),
        secs(e.now)
    );

    let _ = writeln!(o, "nodes 1, 3 and 5 each submit 3 messages at the same moment:");
    let first = e.history.messages.len();
    for i in [0, 2, 4] {
        for k in 0..3 {
            e.queue_message(i, 40 + k * 700);
        }
        e.flush_outbox(i);
    }
    let expect = e.history.messages.len() - first;
    let t0 = e.now;
    let all = |e: &Engine| {
        e.hosts.iter().all(|h| {
            e.history.incs[h.inc]
                .delivered()
                .filter(|g| *g as usize >= first)
                .count()
                == expect
        })
    };
    if !e.run_until(e.now + bound, all) {
        return Err(format!("messages not delivered everywhere:{}", e.describe_nodes()));
    }
    for h in &e.hosts {
        let order: Vec<String> = e.history.incs[h.inc]
            .delivered()
            .filter(|g| *g as usize >= first)
            .map(|g| e.history.messages[g as usize].id.to_string())
            .collect();
        let _ = writeln!(o, "  n{} delivers: {}", h.id, order.join(" "));
    }
    let _ = writeln!(
        o,
        "every node delivered the same {expect} messages in the same order (took {:.3}s)\n",
        secs_between(t0, e.now)
    );

    let _ = writeln!(o, "[t={}] node 3 crashes", e.now);
    e.crash(2);
    let t0 = e.now;
    let ring = converge(&mut e, bound)?;
    let trans = e.history.incs[e.hosts[0].inc].log.iter().rev().find_map(|en| match en {
        Entry::Config { change, .. } if change.kind == ConfigurationKind::Transitional => Some(change.clone()),
        _ => None,
    });
    if let Some(t) = trans {
        let _ = writeln!(
            o,
            "  n1 sees a transitional configuration {:?} (left: {:?}) ...",
            t.members, t.left
        );
    }
    let _ = writeln!(
        o,
        "[t={}] ... then regular ring {ring} with {:?}: re-formed {:.3}s after the crash (token loss + consensus)\n",
        e.now,
        members(&e, 0),
        secs_between(t0, e.now)
    );

    let _ = writeln!(
        o,
        "[t={}] node 3 restarts (a new incarnation, remembering ring seq {:#x})",
        e.now, e.hosts[2].disk_ring_seq
    );
    e.restart(2);
    let t0 = e.now;
    let ring = converge(&mut e, bound)?;
    let _ = writeln!(
        o,
        "[t={}] node 3 rejoined: ring {ring} with {:?} after {:.3}s",
        e.now,
        members(&e, 2),
        secs_between(t0, e.now)
    );
    e.check_history();
    if let Some(f) = &e.failure {
        return Err(f.to_string());
    }
    let _ = writeln!(
        o,
        "\nall safety invariants hold (total order, agreement, virtual synchrony, FIFO, ...)"
    );
    let _ = writeln!(
        o,
        "{} datagrams, {} deliveries, {:.3} virtual seconds",
        e.counters.packets_sent,
        e.counters.delivered,
        secs(e.now)
    );
    Ok(out)
}

fn converge(e: &mut Engine, bound: Duration) -> Result<totem::RingId, String> {
    let deadline = e.now + bound;
    if e.run_until(deadline, |e| e.converged().is_some()) {
        Ok(e.converged().expect("converged"))
    } else {
        Err(format!(
            "no single ring within {bound:?}{}:{}",
            e.failure.as_ref().map(|f| format!(" ({f})")).unwrap_or_default(),
            e.describe_nodes()
        ))
    }
}

fn members(e: &Engine, i: usize) -> Vec<NodeId> {
    e.hosts[i]
        .last_regular
        .as_ref()
        .map(|(_, m)| m.clone())
        .unwrap_or_default()
}

fn secs(t: Instant) -> f64 {
    t.as_nanos() as f64 / 1e9
}

fn secs_between(a: Instant, b: Instant) -> f64 {
    (b - a).as_secs_f64()
}

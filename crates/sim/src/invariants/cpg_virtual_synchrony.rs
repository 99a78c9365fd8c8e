//! CPG virtual synchrony per group: two client sessions that install the same view and
//! then both install the same next view delivered the same set of messages in between.
//!
//! CPG promises this only to processes whose nodes moved together: CPG shows no view
//! for a ring whose synchronisation was cut short, so two nodes that left a ring into
//! different transitional configurations (and so, by extended virtual synchrony,
//! delivered different last messages of it) can still meet in the next view that
//! synchronised. The sets are therefore compared when the two node incarnations
//! installed the same transitional configurations between the two views' rings (no
//! ring change at all when both views are of one ring).
//!
//! Views are identified across nodes by [`crate::cpg_history::View::key`]: the ring and
//! the agreed position at which the node produced the change, and the member set.
//! Members of one ring handle the same agreed messages in the same order, so equal keys
//! name the same change; changes made during synchronisation of a ring (members of
//! departed nodes leave, those of new nodes join) differ between nodes that came from
//! different rings, and then their member sets differ too.

use std::collections::HashMap;

use super::Invariant;
use crate::cpg_history::{CpgEntry, CpgHistory, CpgMsg};
use totem::{ConfigurationKind, NodeId, RingId};

use crate::history::{Entry, History, IncIdx};

pub struct CpgVirtualSynchrony;

type Key = (u64, u32, u64, Vec<(u32, u32)>);
/// Sessions that made one (view, next view) step, with what each delivered in it.
type Steps = HashMap<(Key, Key), Vec<(usize, Vec<CpgMsg>)>>;

/// Every (view, next view) step of a session, with the messages delivered in between
/// (sorted).
fn steps(h: &CpgHistory, s: usize) -> Vec<(Key, Key, Vec<CpgMsg>)> {
    let mut out = Vec::new();
    let mut cur: Option<(Key, Vec<CpgMsg>)> = None;
    for e in &h.sessions[s].log {
        match e {
            CpgEntry::Deliver { msg, .. } => {
                if let Some((_, msgs)) = cur.as_mut() {
                    msgs.push(*msg);
                }
            }
            CpgEntry::View(v) => {
                let Some(key) = v.key() else {
                    cur = None;
                    continue;
                };
                if let Some((prev, mut msgs)) = cur.take() {
                    msgs.sort_unstable();
                    out.push((prev, key.clone(), msgs));
                }
                cur = Some((key, Vec::new()));
            }
        }
    }
    out
}

/// The transitional configurations incarnation `inc` installed after the regular
/// configuration of ring `from` up to that of ring `to`; `None` if its log lacks either.
type Path = Vec<(RingId, Vec<NodeId>)>;

fn transitions(totem: &History, inc: IncIdx, from: RingId, to: RingId) -> Option<Path> {
    let mut path = None;
    for e in &totem.incs.get(inc)?.log {
        let Entry::Config { change, .. } = e else { continue };
        match (change.kind, path.as_mut()) {
            (ConfigurationKind::Regular, None) if change.ring_id == from => {
                if from == to {
                    return Some(Vec::new());
                }
                path = Some(Vec::new());
            }
            (ConfigurationKind::Regular, Some(_)) if change.ring_id == to => return path,
            (ConfigurationKind::Transitional, Some(p)) => p.push((change.ring_id, change.members.clone())),
            _ => {}
        }
    }
    None
}

/// Whether sessions `a` and `b` moved together from view `from` to view `to`.
fn together(h: &History, a: usize, b: usize, from: &Key, to: &Key) -> bool {
    let ring = |k: &Key| RingId { rep: k.1, seq: k.0 };
    moved_together(h, a, b, ring(from), ring(to))
}

/// Whether the nodes of sessions `a` and `b` both installed the regular configurations
/// of rings `from` and then `to`, through the same transitional configurations.
pub(super) fn moved_together(h: &History, a: usize, b: usize, from: RingId, to: RingId) -> bool {
    let (ia, ib) = (h.cpg.sessions[a].inc, h.cpg.sessions[b].inc);
    match (transitions(h, ia, from, to), transitions(h, ib, from, to)) {
        (Some(pa), Some(pb)) => pa == pb,
        _ => false,
    }
}

pub fn check(full: &History) -> Result<(), String> {
    let h = &full.cpg;
    for g in 0..h.groups.len() {
        let mut seen: Steps = HashMap::new();
        for s in h.in_group(g) {
            for (from, to, msgs) in steps(h, s) {
                let others = seen.entry((from.clone(), to.clone())).or_default();
                let bad = others
                    .iter()
                    .find(|(other, theirs)| *theirs != msgs && together(full, s, *other, &from, &to));
                match bad {
                    None => others.push((s, msgs)),
                    Some((other, theirs)) => {
                        let only_mine: Vec<String> = msgs
                            .iter()
                            .filter(|m| !theirs.contains(m))
                            .take(3)
                            .map(|m| m.to_string())
                            .collect();
                        let only_theirs: Vec<String> = theirs
                            .iter()
                            .filter(|m| !msgs.contains(m))
                            .take(3)
                            .map(|m| m.to_string())
                            .collect();
                        return Err(format!(
                            "{} and {} both went from view {:?} (ring {:x}.{:x} at {}) to {:?} (ring {:x}.{:x} at {}) \
                             but delivered different messages: only the first {only_mine:?}, only the second {only_theirs:?}",
                            h.name(s),
                            h.name(*other),
                            from.3,
                            from.1,
                            from.0,
                            from.2,
                            to.3,
                            to.1,
                            to.0,
                            to.2
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

impl Invariant for CpgVirtualSynchrony {
    fn name(&self) -> &'static str {
        "cpg_virtual_synchrony"
    }

    fn finish(&mut self, h: &History) -> Result<(), String> {
        check(h)
    }
}

#[cfg(test)]
mod tests {
    use services::RingPhase::Synced;

    use crate::cpg_history::craft::*;
    use crate::history::craft::{regular, ring};
    use crate::invariants::test_util;

    #[test]
    fn catches_a_missed_message() {
        // Totem logs: nodes 1..=3 each installed ring 4 (one regular configuration).
        let mut full = test_util::history(3);
        for inc in 0..3 {
            full.record(inc, regular(ring(1, 4), &[1, 2, 3], &[]));
        }
        let mut h = history(1);
        let (p, q) = ((1, 10), (2, 20));
        let (a, b) = (session(&mut h, p, 0), session(&mut h, q, 0));
        h.sessions[b].inc = 1;
        for s in [a, b] {
            view(&mut h, s, 4, 7, &[p, q]);
            deliver(&mut h, s, p, 0, Synced);
        }
        deliver(&mut h, a, q, 0, Synced);
        view(&mut h, a, 4, 9, &[p, q, (3, 30)]);
        // b is in the same view but moves to a different one: nothing to compare.
        view(&mut h, b, 8, 2, &[p, q]);
        full.cpg = h.clone();
        assert!(super::check(&full).is_ok());
        let c = session(&mut h, (3, 31), 0);
        h.sessions[c].inc = 2;
        view(&mut h, c, 4, 7, &[p, q]);
        deliver(&mut h, c, p, 0, Synced);
        view(&mut h, c, 4, 9, &[p, q, (3, 30)]); // same step as a, without q#0
        full.cpg = h;
        let err = super::check(&full).unwrap_err();
        assert!(err.contains("only the first"), "{err}");
    }
}

//! CPG virtual synchrony per group: two client sessions that install the same view and
//! then both install the same next view delivered the same set of messages in between.
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
use crate::history::History;

pub struct CpgVirtualSynchrony;

type Key = (u64, u32, u64, Vec<(u32, u32)>);

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

pub fn check(h: &CpgHistory) -> Result<(), String> {
    for g in 0..h.groups.len() {
        let mut seen: HashMap<(Key, Key), (usize, Vec<CpgMsg>)> = HashMap::new();
        for s in h.in_group(g) {
            for (from, to, msgs) in steps(h, s) {
                match seen.get(&(from.clone(), to.clone())) {
                    None => {
                        seen.insert((from, to), (s, msgs));
                    }
                    Some((other, theirs)) if *theirs != msgs => {
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
                    Some(_) => {}
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
        check(&h.cpg)
    }
}

#[cfg(test)]
mod tests {
    use services::RingPhase::Synced;

    use crate::cpg_history::craft::*;

    #[test]
    fn catches_a_missed_message() {
        let mut h = history(1);
        let (p, q) = ((1, 10), (2, 20));
        let (a, b) = (session(&mut h, p, 0), session(&mut h, q, 0));
        for s in [a, b] {
            view(&mut h, s, 4, 7, &[p, q]);
            deliver(&mut h, s, p, 0, Synced);
        }
        deliver(&mut h, a, q, 0, Synced);
        view(&mut h, a, 4, 9, &[p, q, (3, 30)]);
        // b is in the same view but moves to a different one: nothing to compare.
        view(&mut h, b, 8, 2, &[p, q]);
        assert!(super::check(&h).is_ok());
        let c = session(&mut h, (3, 31), 0);
        view(&mut h, c, 4, 7, &[p, q]);
        deliver(&mut h, c, p, 0, Synced);
        view(&mut h, c, 4, 9, &[p, q, (3, 30)]); // same step as a, without q#0
        let err = super::check(&h).unwrap_err();
        assert!(err.contains("only the first"), "{err}");
    }
}

//! Virtual synchrony (EVS): node incarnations that move from the same regular
//! configuration (ring id R) through the same transitional configuration (new ring id
//! T) deliver exactly the same set of messages between installing R and installing
//! the regular configuration T (the messages of R plus those of the transitional
//! configuration). Incarnations that ended before installing T are not compared.

use std::collections::BTreeMap;

use totem::{ConfigurationKind, RingId};

use super::Invariant;
use crate::history::{Entry, Gid, History, IncIdx};

pub struct VirtualSynchrony;

/// (previous regular ring, transitional ring) → each incarnation's delivered set.
type Groups = BTreeMap<(RingId, RingId), Vec<(IncIdx, Vec<Gid>)>>;

impl Invariant for VirtualSynchrony {
    fn name(&self) -> &'static str {
        "virtual_synchrony"
    }

    fn finish(&mut self, h: &History) -> Result<(), String> {
        let mut groups = Groups::new();
        for (who, inc) in h.incs.iter().enumerate() {
            let mut regular: Option<RingId> = None;
            let mut transitional: Option<RingId> = None;
            let mut set: Vec<Gid> = Vec::new();
            for e in &inc.log {
                match e {
                    Entry::Deliver(d) => set.extend(d.gid),
                    Entry::Config { change, .. } => match change.kind {
                        ConfigurationKind::Transitional => transitional = Some(change.ring_id),
                        ConfigurationKind::Regular => {
                            if let (Some(r), Some(t)) = (regular, transitional) {
                                set.sort_unstable();
                                groups.entry((r, t)).or_default().push((who, std::mem::take(&mut set)));
                            }
                            set.clear();
                            regular = Some(change.ring_id);
                            transitional = None;
                        }
                    },
                }
            }
        }
        for ((r, t), members) in &groups {
            let (first, first_set) = &members[0];
            for (other, other_set) in &members[1..] {
                if other_set != first_set {
                    let only = |a: &[Gid], b: &[Gid]| -> Vec<String> {
                        a.iter()
                            .filter(|g| b.binary_search(g).is_err())
                            .take(5)
                            .map(|g| format!("{} ({} B)", h.messages[*g as usize].id, h.messages[*g as usize].len))
                            .collect()
                    };
                    return Err(format!(
                        "{} and {} both went from regular {r} through transitional {t} but delivered \
                         different messages: only {}: {:?}, only {}: {:?}",
                        super::name(h, *first),
                        super::name(h, *other),
                        super::name(h, *first),
                        only(first_set, other_set),
                        super::name(h, *other),
                        only(other_set, first_set),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{check_history, test_util::*};
    use crate::history::craft::*;

    #[test]
    fn catches_missing_message_in_transition() {
        let mut h = history(3);
        let a = submit(&mut h, 0);
        let b = submit(&mut h, 1);
        for who in 0..3 {
            h.record(who, regular(ring(1, 4), &[1, 2, 3], &[]));
        }
        // n1 and n2 move on together without n3.
        h.record(0, deliver(&h, a));
        h.record(0, transitional(ring(1, 8), &[1, 2], &[3]));
        h.record(0, deliver(&h, b));
        h.record(0, regular(ring(1, 8), &[1, 2], &[]));
        h.record(1, deliver(&h, a));
        h.record(1, transitional(ring(1, 8), &[1, 2], &[3]));
        // n3 delivered only a and moved elsewhere: not compared.
        h.record(2, deliver(&h, a));
        h.record(2, transitional(ring(3, 8), &[3], &[1, 2]));
        h.record(2, regular(ring(3, 8), &[3], &[]));
        let mut ok = h.clone();
        ok.record(1, deliver(&ok, b));
        ok.record(1, regular(ring(1, 8), &[1, 2], &[]));
        assert!(check_history(&ok).is_ok(), "{:?}", check_history(&ok));
        h.record(1, regular(ring(1, 8), &[1, 2], &[]));
        assert_eq!(check_history(&h).unwrap_err().invariant, "virtual_synchrony");
    }
}

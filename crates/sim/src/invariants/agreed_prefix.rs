//! Agreed delivery is gap-free within a ring: the messages two node incarnations deliver
//! while in the same regular configuration (after installing it, before their next
//! configuration change) are one a prefix of the other. A member may stop early (it
//! crashed, or left the ring and delivers the rest in a transitional configuration),
//! but no member skips a message another delivered in that ring and goes on.
//!
//! [`super::total_order::TotalOrder`] allows gaps (messages of a ring that another
//! node never receives are legitimate across configurations), and
//! [`super::virtual_synchrony::VirtualSynchrony`] compares only nodes that moved to the
//! same next configuration; neither sees a member of the final ring that silently steps
//! over a live peer's message. This also catches old-ring messages delivered after the
//! new regular configuration instead of in the transitional one: a member that came
//! from another ring does not deliver them.

use std::collections::BTreeMap;

use totem::{ConfigurationKind, RingId};

use super::Invariant;
use crate::history::{Entry, Gid, History, IncIdx};

pub struct AgreedPrefix;

/// What each incarnation delivered in each regular configuration, in order.
fn per_ring(h: &History) -> BTreeMap<RingId, Vec<(IncIdx, Vec<Gid>)>> {
    let mut rings: BTreeMap<RingId, Vec<(IncIdx, Vec<Gid>)>> = BTreeMap::new();
    for (who, inc) in h.incs.iter().enumerate() {
        let mut current: Option<(RingId, Vec<Gid>)> = None;
        for e in &inc.log {
            match e {
                Entry::Deliver(d) => {
                    if let (Some((_, seq)), Some(g)) = (current.as_mut(), d.gid) {
                        seq.push(g);
                    }
                }
                Entry::Config { change, .. } => {
                    if let Some((ring, seq)) = current.take() {
                        rings.entry(ring).or_default().push((who, seq));
                    }
                    if change.kind == ConfigurationKind::Regular {
                        current = Some((change.ring_id, Vec::new()));
                    }
                }
            }
        }
        if let Some((ring, seq)) = current {
            rings.entry(ring).or_default().push((who, seq));
        }
    }
    rings
}

impl Invariant for AgreedPrefix {
    fn name(&self) -> &'static str {
        "agreed_prefix"
    }

    fn finish(&mut self, h: &History) -> Result<(), String> {
        for (ring, members) in per_ring(h) {
            let Some((longest, full)) = members.iter().max_by_key(|(_, s)| s.len()) else {
                continue;
            };
            for (who, seq) in &members {
                if let Some(i) = seq.iter().zip(full).position(|(a, b)| a != b) {
                    let id = |g: Gid| h.messages[g as usize].id;
                    return Err(format!(
                        "in ring {ring}, {} delivered {} as its message #{i} where {} delivered {} \
                         (one skipped a message the other delivered, or they diverged)",
                        super::name(h, *who),
                        id(seq[i]),
                        super::name(h, *longest),
                        id(full[i]),
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
    fn a_member_that_skips_a_message_of_its_ring_is_caught() {
        let mut h = history(3);
        let (a, b, c) = (submit(&mut h, 0), submit(&mut h, 1), submit(&mut h, 2));
        for who in 0..3 {
            h.record(who, regular(ring(1, 4), &[1, 2, 3], &[]));
        }
        for g in [a, b, c] {
            h.record(0, deliver(&h, g));
        }
        // n2 stops early (a prefix): fine.
        h.record(1, deliver(&h, a));
        let mut ok = h.clone();
        ok.record(2, deliver(&ok, a));
        ok.record(2, deliver(&ok, b));
        assert!(check_history(&ok).is_ok(), "{:?}", check_history(&ok));
        // n3 steps over b (total order and FIFO allow that gap).
        h.record(2, deliver(&h, a));
        h.record(2, deliver(&h, c));
        let err = check_history(&h).unwrap_err();
        assert_eq!(err.invariant, "agreed_prefix", "{err}");
    }

    #[test]
    fn old_ring_messages_after_the_new_regular_configuration_are_caught() {
        let mut h = history(3);
        let (a, b) = (submit(&mut h, 0), submit(&mut h, 1));
        h.record(0, regular(ring(1, 4), &[1, 2], &[]));
        h.record(1, regular(ring(1, 4), &[1, 2], &[]));
        h.record(2, regular(ring(3, 4), &[3], &[]));
        // n3 merges into {1, 2}: n1 delivers a (of ring 1.4) after the new regular
        // configuration instead of in the transitional one.
        h.record(0, transitional(ring(1, 8), &[1, 2], &[]));
        h.record(0, regular(ring(1, 8), &[1, 2, 3], &[3]));
        h.record(0, deliver(&h, a));
        h.record(0, deliver(&h, b));
        h.record(2, transitional(ring(1, 8), &[3], &[]));
        h.record(2, regular(ring(1, 8), &[1, 2, 3], &[1, 2]));
        h.record(2, deliver(&h, b));
        let err = check_history(&h).unwrap_err();
        assert_eq!(err.invariant, "agreed_prefix", "{err}");
    }
}

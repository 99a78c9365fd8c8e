//! Final-ring delivery (checked after the liveness phase, once the ring is stable): the
//! alive members of the final ring delivered the same messages in it. Every member sent
//! probes after its own messages and delivered everyone's probes, so a message of the
//! ring that one member delivered and another did not was skipped for good — a live
//! peer's message lost without any fault. (Self-delivery and the probes only cover each
//! member's own messages and the probes themselves.)

use std::collections::BTreeMap;

use totem::{ConfigurationKind, RingId};

use crate::history::{Entry, Gid, History, IncIdx};

/// Fails with the first message of a final ring that one alive member delivered and
/// another did not. A "final ring" is one whose regular configuration is the last
/// configuration change of every alive incarnation compared.
pub fn check(h: &History) -> Result<(), String> {
    let mut rings: BTreeMap<RingId, Vec<(IncIdx, Vec<Gid>)>> = BTreeMap::new();
    for (who, inc) in h.incs.iter().enumerate().filter(|(_, i)| i.alive()) {
        let Some(last) = inc.log.iter().rposition(|e| matches!(e, Entry::Config { .. })) else {
            continue;
        };
        let Entry::Config { change, .. } = &inc.log[last] else {
            unreachable!("found a configuration entry");
        };
        if change.kind != ConfigurationKind::Regular {
            continue;
        }
        let mut got: Vec<Gid> = inc.log[last..]
            .iter()
            .filter_map(|e| match e {
                Entry::Deliver(d) => d.gid,
                Entry::Config { .. } => None,
            })
            .collect();
        got.sort_unstable();
        rings.entry(change.ring_id).or_default().push((who, got));
    }
    for (ring, members) in &rings {
        for (a, got_a) in members {
            for (b, got_b) in members {
                if let Some(g) = got_a.iter().find(|g| got_b.binary_search(g).is_err()) {
                    let m = &h.messages[*g as usize];
                    return Err(format!(
                        "in final ring {ring}, {} delivered {} (from {}) and {} never did ({} vs {} messages)",
                        super::name(h, *a),
                        m.id,
                        super::name(h, m.by),
                        super::name(h, *b),
                        got_a.len(),
                        got_b.len()
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::check;
    use crate::history::{craft::*, End};
    use totem::Instant;

    #[test]
    fn a_message_of_the_final_ring_missing_at_one_member_is_caught() {
        let mut h = history(3);
        let (a, b) = (submit(&mut h, 0), submit(&mut h, 1));
        for who in 0..3 {
            h.record(who, regular(ring(1, 4), &[1, 2, 3], &[]));
            h.record(who, deliver(&h, a));
        }
        h.record(0, deliver(&h, b));
        h.record(1, deliver(&h, b));
        let err = check(&h).unwrap_err();
        assert!(err.contains("n3.0 never did"), "{err}");
        // A crashed member owes nothing; one in another ring is not compared.
        let mut crashed = h.clone();
        crashed.end(2, Instant::ZERO, End::Crashed);
        assert_eq!(check(&crashed), Ok(()));
        h.record(2, transitional(ring(3, 8), &[3], &[1, 2]));
        h.record(2, regular(ring(3, 8), &[3], &[]));
        assert_eq!(check(&h), Ok(()));
    }
}

//! Agreement on configurations: all nodes that install a regular configuration with a
//! given ring id install it with the same member list; likewise for transitional
//! configurations of a given (new) ring id and the same set of departed members.
//!
//! Transitional configurations of one ring id may legitimately differ between nodes
//! that come from different old rings (each sees old ∩ new), so they are keyed by the
//! ring id *and* the members' previous regular ring.

use std::collections::BTreeMap;

use totem::{ConfigurationKind, NodeId, RingId};

use super::Invariant;
use crate::history::{Entry, History, IncIdx};

#[derive(Default)]
pub struct ConfigurationAgreement {
    /// Ring id → members of the regular configuration and who installed it first.
    regular: BTreeMap<RingId, (Vec<NodeId>, IncIdx)>,
    /// (new ring id, previous regular ring id) → transitional members and first installer.
    transitional: BTreeMap<(RingId, Option<RingId>), (Vec<NodeId>, IncIdx)>,
    /// Last regular ring of each incarnation.
    previous: Vec<Option<RingId>>,
}

impl Invariant for ConfigurationAgreement {
    fn name(&self) -> &'static str {
        "configuration_agreement"
    }

    fn observe(&mut self, h: &History, who: IncIdx, entry: &Entry) -> Result<(), String> {
        let Entry::Config { at, change } = entry else {
            return Ok(());
        };
        if self.previous.len() <= who {
            self.previous.resize(who + 1, None);
        }
        let (first, what) = match change.kind {
            ConfigurationKind::Regular => {
                self.previous[who] = Some(change.ring_id);
                (
                    self.regular
                        .entry(change.ring_id)
                        .or_insert_with(|| (change.members.clone(), who)),
                    "regular",
                )
            }
            ConfigurationKind::Transitional => {
                let key = (change.ring_id, self.previous[who]);
                (
                    self.transitional
                        .entry(key)
                        .or_insert_with(|| (change.members.clone(), who)),
                    "transitional",
                )
            }
        };
        if first.0 != change.members {
            return Err(format!(
                "{what} configuration {}: {} installed members {:?} at {at}, but {} installed {:?}",
                change.ring_id,
                super::name(h, who),
                change.members,
                super::name(h, first.1),
                first.0
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{check_history, test_util::*};
    use crate::history::craft::*;

    #[test]
    fn catches_disagreeing_members() {
        let mut h = history(3);
        for who in 0..3 {
            h.record(who, regular(ring(1, 4), &[1, 2, 3], &[]));
        }
        // 1 and 2 come from ring 1.4 into 1.8 without 3; 3 alone forms 3.8.
        h.record(0, transitional(ring(1, 8), &[1, 2], &[3]));
        h.record(1, transitional(ring(1, 8), &[1, 2], &[3]));
        assert!(check_history(&h).is_ok());
        h.record(0, regular(ring(1, 8), &[1, 2], &[]));
        h.record(1, regular(ring(1, 8), &[1, 2, 3], &[3]));
        assert_eq!(check_history(&h).unwrap_err().invariant, "configuration_agreement");
    }
}

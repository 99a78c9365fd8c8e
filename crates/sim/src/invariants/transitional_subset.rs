//! Transitional configurations are well formed: a node's transitional configuration is
//! a subset of its previous regular configuration and of the regular configuration
//! that follows it (same ring id, installed next, with no other configuration
//! between), `left` is exactly previous − transitional and `joined` is exactly
//! new regular − transitional. After its first regular configuration a node installs
//! every regular configuration through a transitional one.

use totem::{ConfigurationKind, NodeId, RingId};

use super::{minus, Invariant};
use crate::history::{Entry, History, IncIdx};

#[derive(Default, Clone)]
struct State {
    last_regular: Option<Vec<NodeId>>,
    pending: Option<(RingId, Vec<NodeId>)>,
}

#[derive(Default)]
pub struct TransitionalSubset {
    states: Vec<State>,
}

impl Invariant for TransitionalSubset {
    fn name(&self) -> &'static str {
        "transitional_subset"
    }

    fn observe(&mut self, h: &History, who: IncIdx, entry: &Entry) -> Result<(), String> {
        let Entry::Config { at, change } = entry else {
            return Ok(());
        };
        if self.states.len() <= who {
            self.states.resize(who + 1, State::default());
        }
        let me = super::name(h, who);
        let st = &mut self.states[who];
        let m = &change.members;
        match change.kind {
            ConfigurationKind::Transitional => {
                if let Some((ring, _)) = &st.pending {
                    return Err(format!(
                        "{me} installed transitional {} at {at} while transitional {ring} awaited its regular",
                        change.ring_id
                    ));
                }
                if let Some(prev) = &st.last_regular {
                    let extra = minus(m, prev);
                    if !extra.is_empty() {
                        return Err(format!(
                            "{me}: transitional {} at {at} has {extra:?} not in previous regular {prev:?}",
                            change.ring_id
                        ));
                    }
                    let left = minus(prev, m);
                    let mut reported = change.left.clone();
                    reported.sort_unstable();
                    if reported != left {
                        return Err(format!(
                            "{me}: transitional {} at {at} reports left {reported:?}, expected {left:?}",
                            change.ring_id
                        ));
                    }
                }
                st.pending = Some((change.ring_id, m.clone()));
            }
            ConfigurationKind::Regular => {
                match st.pending.take() {
                    Some((ring, trans)) => {
                        if ring != change.ring_id {
                            return Err(format!(
                                "{me}: transitional {ring} followed by regular {} at {at}",
                                change.ring_id
                            ));
                        }
                        let extra = minus(&trans, m);
                        if !extra.is_empty() {
                            return Err(format!(
                                "{me}: transitional {ring} members {extra:?} missing from regular {m:?} at {at}"
                            ));
                        }
                        let joined = minus(m, &trans);
                        let mut reported = change.joined.clone();
                        reported.sort_unstable();
                        if reported != joined {
                            return Err(format!(
                                "{me}: regular {ring} at {at} reports joined {reported:?}, expected {joined:?}"
                            ));
                        }
                    }
                    None if st.last_regular.is_some() => {
                        return Err(format!(
                            "{me} installed regular {} at {at} without a transitional configuration",
                            change.ring_id
                        ));
                    }
                    None => {}
                }
                st.last_regular = Some(m.clone());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{check_history, test_util::*};
    use crate::history::craft::*;

    fn base() -> crate::history::History {
        let mut h = history(1);
        h.record(0, regular(ring(1, 4), &[1, 2, 3], &[]));
        h
    }

    #[test]
    fn accepts_well_formed_change() {
        let mut h = base();
        h.record(0, transitional(ring(1, 8), &[1, 2], &[3]));
        h.record(0, regular(ring(1, 8), &[1, 2, 4], &[4]));
        assert!(check_history(&h).is_ok(), "{:?}", check_history(&h));
    }

    #[test]
    fn catches_member_not_in_previous() {
        let mut h = base();
        h.record(0, transitional(ring(1, 8), &[1, 2, 4], &[3]));
        assert_eq!(check_history(&h).unwrap_err().invariant, "transitional_subset");
    }

    #[test]
    fn catches_member_not_in_next_and_wrong_lists() {
        let mut h = base();
        h.record(0, transitional(ring(1, 8), &[1, 2], &[3]));
        h.record(0, regular(ring(1, 8), &[1, 4], &[4]));
        assert_eq!(check_history(&h).unwrap_err().invariant, "transitional_subset");

        let mut h = base();
        h.record(0, transitional(ring(1, 8), &[1, 2], &[]));
        assert_eq!(check_history(&h).unwrap_err().invariant, "transitional_subset");

        let mut h = base();
        h.record(0, regular(ring(1, 8), &[1, 2], &[]));
        assert_eq!(check_history(&h).unwrap_err().invariant, "transitional_subset");
    }
}

//! Self-inclusion: every configuration (regular or transitional) a node installs
//! contains that node itself.

use super::Invariant;
use crate::history::{Entry, History, IncIdx};

pub struct SelfMembership;

impl Invariant for SelfMembership {
    fn name(&self) -> &'static str {
        "self_membership"
    }

    fn observe(&mut self, h: &History, who: IncIdx, entry: &Entry) -> Result<(), String> {
        if let Entry::Config { at, change } = entry {
            if !change.members.contains(&h.incs[who].node) {
                return Err(format!(
                    "{} installed {:?} configuration {} with members {:?} without itself at {at}",
                    super::name(h, who),
                    change.kind,
                    change.ring_id,
                    change.members
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{check_history, test_util::history};
    use crate::history::craft::*;

    #[test]
    fn catches_missing_self() {
        let mut h = history(2);
        h.record(0, regular(ring(1, 4), &[1, 2], &[2]));
        h.record(1, regular(ring(1, 4), &[1, 2], &[1]));
        assert!(check_history(&h).is_ok());
        h.record(1, transitional(ring(1, 8), &[1], &[2]));
        assert_eq!(check_history(&h).unwrap_err().invariant, "self_membership");
    }
}

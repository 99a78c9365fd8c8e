//! Ring ids only grow: every regular configuration a node installs has a higher ring
//! seq than any it installed before, across crashes and restarts too (which is what
//! persisting the ring seq on `StoreRingSeq` is for: ring ids are never reused).

use std::collections::HashMap;

use totem::{ConfigurationKind, NodeId};

use super::Invariant;
use crate::history::{Entry, History, IncIdx};

#[derive(Default)]
pub struct RingMonotonic {
    /// Node → highest regular ring seq installed by any of its incarnations. Lookup only.
    highest: HashMap<NodeId, u64>,
}

impl Invariant for RingMonotonic {
    fn name(&self) -> &'static str {
        "ring_monotonic"
    }

    fn observe(&mut self, h: &History, who: IncIdx, entry: &Entry) -> Result<(), String> {
        let Entry::Config { at, change } = entry else {
            return Ok(());
        };
        if change.kind != ConfigurationKind::Regular {
            return Ok(());
        }
        let node = h.incs[who].node;
        let seq = change.ring_id.seq;
        match self.highest.insert(node, seq) {
            Some(prev) if prev >= seq => Err(format!(
                "{} installed ring {} at {at}, but node {node} had already installed ring seq {prev:#x}",
                super::name(h, who),
                change.ring_id
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{check_history, test_util::history};
    use crate::history::craft::*;
    use totem::Instant;

    #[test]
    fn catches_ring_seq_reuse_after_restart() {
        let mut h = history(1);
        h.record(0, regular(ring(1, 8), &[1], &[]));
        h.record(0, transitional(ring(1, 12), &[1], &[]));
        h.record(0, regular(ring(1, 12), &[1], &[]));
        assert!(check_history(&h).is_ok());
        // The node restarts without its stored seq and forms ring seq 8 again.
        let again = h.start(1, Instant::ZERO);
        h.record(again, regular(ring(1, 8), &[1], &[]));
        assert_eq!(check_history(&h).unwrap_err().invariant, "ring_monotonic");
    }
}

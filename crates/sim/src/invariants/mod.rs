//! Safety invariants, one per file. Each checks one property of a [`History`]; together
//! they define what "Totem behaved correctly" means for the simulator.
//!
//! Per-entry properties are checked as entries arrive ([`Invariant::observe`]) so a run
//! stops at the first bad event; properties that compare whole logs run in
//! [`Invariant::finish`].

pub mod agreed_prefix;
pub mod configuration_agreement;
pub mod cpg_agreed_order;
pub mod cpg_sender_in_view;
pub mod cpg_transitional;
pub mod cpg_virtual_synchrony;
pub mod fifo;
pub mod final_ring_delivery;
pub mod justified_exclusion;
pub mod no_creation;
pub mod no_duplicates;
pub mod quorum_safety;
pub mod quorum_wait_for_all;
pub mod ring_monotonic;
pub mod same_configuration;
pub mod self_delivery;
pub mod self_membership;
pub mod sender_membership;
pub mod sync_barrier;
pub mod total_order;
pub mod transitional_subset;
pub mod virtual_synchrony;

use crate::history::{Entry, History, IncIdx};

/// A broken property: which one, and the evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub invariant: &'static str,
    pub detail: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.invariant, self.detail)
    }
}

/// One safety property.
pub trait Invariant: Send {
    fn name(&self) -> &'static str;
    /// `entry` was just appended to the log of incarnation `who` (entries of one
    /// incarnation arrive in log order).
    fn observe(&mut self, _h: &History, _who: IncIdx, _entry: &Entry) -> Result<(), String> {
        Ok(())
    }
    /// Whole-history checks, run at phase ends.
    fn finish(&mut self, _h: &History) -> Result<(), String> {
        Ok(())
    }
}

/// All safety invariants, fed together.
pub struct Checker {
    invariants: Vec<Box<dyn Invariant>>,
}

impl Default for Checker {
    fn default() -> Self {
        Checker {
            invariants: vec![
                Box::new(no_creation::NoCreation),
                Box::new(no_duplicates::NoDuplicates::default()),
                Box::new(fifo::Fifo::default()),
                Box::new(self_membership::SelfMembership),
                Box::new(configuration_agreement::ConfigurationAgreement::default()),
                Box::new(transitional_subset::TransitionalSubset::default()),
                Box::new(ring_monotonic::RingMonotonic::default()),
                Box::new(same_configuration::SameConfiguration::default()),
                Box::new(sender_membership::SenderMembership::default()),
                Box::new(agreed_prefix::AgreedPrefix),
                Box::new(total_order::TotalOrder),
                Box::new(virtual_synchrony::VirtualSynchrony),
                Box::new(sync_barrier::SyncBarrier),
                Box::new(cpg_sender_in_view::CpgSenderInView),
                Box::new(cpg_agreed_order::CpgAgreedOrder),
                Box::new(cpg_virtual_synchrony::CpgVirtualSynchrony),
                Box::new(cpg_transitional::CpgTransitional),
                Box::new(justified_exclusion::JustifiedExclusion::default()),
            ],
        }
    }
}

impl Checker {
    pub fn observe(&mut self, h: &History, who: IncIdx, entry: &Entry) -> Result<(), Violation> {
        for inv in &mut self.invariants {
            inv.observe(h, who, entry).map_err(|detail| Violation {
                invariant: inv.name(),
                detail,
            })?;
        }
        Ok(())
    }

    pub fn finish(&mut self, h: &History) -> Result<(), Violation> {
        for inv in &mut self.invariants {
            inv.finish(h).map_err(|detail| Violation {
                invariant: inv.name(),
                detail,
            })?;
        }
        Ok(())
    }
}

/// Replays a finished history through a fresh [`Checker`], incarnation by incarnation.
pub fn check_history(h: &History) -> Result<(), Violation> {
    let mut checker = Checker::default();
    for (who, inc) in h.incs.iter().enumerate() {
        for entry in &inc.log {
            checker.observe(h, who, entry)?;
        }
    }
    checker.finish(h)
}

/// `n3.1` style name of an incarnation.
pub fn name(h: &History, who: IncIdx) -> String {
    format!("n{}.{}", h.incs[who].node, h.incs[who].inc)
}

/// Members that are in `a` but not in `b` (both ascending or not; small lists).
pub(crate) fn minus(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut v: Vec<u32> = a.iter().copied().filter(|x| !b.contains(x)).collect();
    v.sort_unstable();
    v
}

#[cfg(test)]
pub(crate) mod test_util {
    use totem::Instant;

    use crate::history::{History, IncIdx};
    use crate::workload::MsgId;

    /// A history with `nodes` first incarnations (index = node - 1).
    pub fn history(nodes: u32) -> History {
        let mut h = History::default();
        for n in 1..=nodes {
            h.start(n, Instant::ZERO);
        }
        h
    }

    /// Submits the next message of incarnation `by`.
    pub fn submit(h: &mut History, by: IncIdx) -> u32 {
        let inc = &h.incs[by];
        let id = MsgId {
            node: inc.node,
            inc: inc.inc,
            counter: inc.submitted.len() as u32,
        };
        h.submit(by, id, 16, Instant::ZERO)
    }
}

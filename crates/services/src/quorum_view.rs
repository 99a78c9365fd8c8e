//! Quorum as the provider (votequorum) decided it, shared by the services that report
//! it (quorum, cpg's callers, cfg).

use totem::{NodeId, RingId};

/// The last quorum decision.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuorumView {
    pub quorate: bool,
    /// Members of the ring the decision was made in.
    pub members: Vec<NodeId>,
    pub ring_id: RingId,
    /// A provider is configured (`quorum.provider: corosync_votequorum`); without one
    /// corosync is always quorate (`quorum_type` 0).
    pub provider: bool,
    /// Bumped on every decision, so the quorum service can tell a new one happened.
    pub generation: u64,
}

impl QuorumView {
    /// Whether this node may provide service: always without a provider (corosync's
    /// `primary_designated` with `quorum_type` 0), otherwise the provider's decision.
    pub fn primary(&self) -> bool {
        !self.provider || self.quorate
    }

    /// Records a decision of the provider.
    pub fn set(&mut self, quorate: bool, members: Vec<NodeId>, ring_id: RingId) {
        self.quorate = quorate;
        self.members = members;
        self.ring_id = ring_id;
        self.generation += 1;
    }
}

//! What the SRP state machine reports to its host.

use bytes::Bytes;

use crate::wire::{NodeId, RingId};

/// Membership states, numbered as corosync's `memb_state` enum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MembState {
    Operational = 1,
    Gather = 2,
    Commit = 3,
    Recovery = 4,
}

impl std::fmt::Display for MembState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MembState::Operational => "OPERATIONAL",
            MembState::Gather => "GATHER",
            MembState::Commit => "COMMIT",
            MembState::Recovery => "RECOVERY",
        })
    }
}

/// EVS configuration kinds: a transitional configuration (old ∩ new) always precedes
/// the regular one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ConfigurationKind {
    Transitional,
    Regular,
}

/// A configuration change, delivered in order with the messages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigurationChange {
    pub kind: ConfigurationKind,
    /// The new ring's id (for both kinds, as corosync reports it).
    pub ring_id: RingId,
    /// Members of this configuration, ascending.
    pub members: Vec<NodeId>,
    /// Transitional only: members of the old configuration that are not in this one.
    pub left: Vec<NodeId>,
    /// Regular only: members that were not in the transitional configuration.
    pub joined: Vec<NodeId>,
}

/// Output of the state machine besides datagrams.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// One whole application message in agreed order (produced by [`crate::Totem`]).
    Deliver { sender: NodeId, message: Bytes },
    /// One totempg frame in agreed order (raw SRP delivery, reassembled by [`crate::Totem`]).
    DeliverFrame {
        sender: NodeId,
        frame: Bytes,
        foreign_endian: bool,
    },
    /// A configuration change (EVS).
    Configuration(ConfigurationChange),
    /// The membership state machine changed state, and why.
    StateChange {
        state: MembState,
        ring_id: RingId,
        reason: &'static str,
    },
    /// A new ring seq was adopted (in order with the other events). The host persists it
    /// through [`crate::Totem::poll_ring_seq_to_store`], which it must drain before
    /// sending, and passes it back to [`crate::Totem::new`] on restart.
    StoreRingSeq(u64),
}

/// The [`Event::StateChange`] reason of corosync's "FAILED TO RECEIVE": this node held the
/// ring's aru back for `fail_recv_const` rotations and leaves everyone else for a ring of
/// its own (and the others fail it).
pub const FAILED_TO_RECEIVE: &str = "failed to receive";

/// Counters in the spirit of corosync's `stats.srp.*` keys.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub orf_token_tx: u64,
    pub orf_token_rx: u64,
    /// Tokens sent again because they did not come back in time (or a held one released).
    pub orf_token_retx: u64,
    pub memb_merge_detect_tx: u64,
    pub memb_merge_detect_rx: u64,
    pub memb_join_tx: u64,
    pub memb_join_rx: u64,
    pub mcast_tx: u64,
    pub mcast_retx: u64,
    pub mcast_rx: u64,
    pub memb_commit_token_tx: u64,
    pub memb_commit_token_rx: u64,
    pub token_hold_cancel_tx: u64,
    pub token_hold_cancel_rx: u64,
    pub operational_entered: u64,
    pub operational_token_lost: u64,
    pub gather_entered: u64,
    pub gather_token_lost: u64,
    pub commit_entered: u64,
    pub commit_token_lost: u64,
    pub recovery_entered: u64,
    pub recovery_token_lost: u64,
    pub consensus_timeouts: u64,
    /// Nodes failed early for silence in GATHER (see `Config::fail_silent_after`).
    pub silent_failed: u64,
    pub rx_msg_dropped: u64,
    pub continuous_gather: u64,
    pub malformed_rx: u64,
    /// Old-ring messages not re-sent in RECOVERY because another member already had.
    pub recovery_dup_skipped: u64,
}

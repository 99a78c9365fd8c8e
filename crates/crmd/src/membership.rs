//! The CRM's view of its peers and of quorum, and the choice of the DC.
//!
//! # Why there is no election
//!
//! Pacemaker's controllers hold an election whenever a peer joins or the DC is lost
//! (`lib/cluster/election.c`): every candidate broadcasts a vote and, comparing a
//! peer's vote with its own, a node *loses* if the peer's CRM feature set is lower, or
//! else if the peer's process has used more user CPU time ("older"), or else if its
//! own name sorts after the peer's (`strcasecmp`). A node wins when every peer has
//! answered with a no-vote or its election timer (`election-timeout`, 2 min) expires
//! without a loss; `dc-deadtime` (20 s) is how long a starting node waits for a DC to
//! show up. The votes exist because Pacemaker's messages and its membership events
//! arrive through different paths in no agreed relation to each other, so nodes must
//! converge by exchanging opinions, and the rounds and timeouts are the price.
//!
//! ferrosync's CRM processes form one CPG group. CPG gives *extended virtual
//! synchrony*: every member receives the same configuration changes (who is in the
//! group) and the same messages, in the same agreed order, and a configuration change
//! is delivered at the same point of the message stream to every process that
//! survives it. So a pure function of the agreed membership is already a decision that
//! every member makes identically and at the same place in the stream, including a
//! process that has just joined (its first configuration change lists the whole
//! group). The DC is that function — [`dc_candidate`]: the member with the lowest
//! node id (then pid). No votes, no timeouts, and a DC lost with its node is replaced
//! at the very configuration change that reports the loss.
//!
//! The price of a stateless rule is that the role moves back to a lower node id when
//! that node rejoins; the controller makes a DC change cheap (the CIB is replicated and
//! the scheduler is a pure function of it), so stability was not worth state that a
//! joiner would only learn later in the stream, when members would briefly disagree.
//!
//! # Quorum
//!
//! Quorum is an input from votequorum, not part of the CPG stream, so members of one
//! partition learn it at slightly different points; they agree once each has been
//! told (votequorum computes it from the same ring membership on every node). A DC
//! exists only in a quorate partition unless [`NoQuorumPolicy`] says the partition
//! must still act: Pacemaker keeps a DC in every partition and lets the scheduler
//! apply `no-quorum-policy`, and with `stop`, `demote` and `suicide` that DC is what
//! stops, demotes or fences in the minority; with `ignore` the partition works as if
//! quorate; with `freeze` nothing may start or stop, so there is no DC and nothing is
//! written until quorum returns.

use std::collections::BTreeSet;

use thiserror::Error;
use tracing::{debug, info};

use crate::ids::{NodeId, ProcessId};

/// `no-quorum-policy` (cluster property), as an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NoQuorumPolicy {
    /// Stop every resource in the partition (Pacemaker's default).
    #[default]
    Stop,
    /// Keep running resources, start nothing new.
    Freeze,
    /// Go on as if quorate.
    Ignore,
    /// Demote promotable resources, stop the others.
    Demote,
    /// Fence every node in the partition.
    Suicide,
}

impl NoQuorumPolicy {
    /// Whether a partition without quorum still has a DC (see the module documentation).
    pub fn dc_without_quorum(self) -> bool {
        !matches!(self, NoQuorumPolicy::Freeze)
    }
}

/// A CPG configuration change of the CRM group, as the host receives it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Confchg {
    pub members: Vec<ProcessId>,
    pub left: Vec<ProcessId>,
    pub joined: Vec<ProcessId>,
}

/// Why a configuration change was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfchgError {
    #[error("{0} is listed as a member and as having left")]
    LeftButMember(ProcessId),
    #[error("{0} joined but is not a member")]
    JoinedNotMember(ProcessId),
    #[error("{count} members, more than {max}")]
    TooMany { count: usize, max: usize },
}

/// The DC of a membership: the member with the lowest (node id, pid).
pub fn dc_candidate(members: &[ProcessId]) -> Option<ProcessId> {
    members.iter().min().copied()
}

/// What a configuration change did, for the other state machines.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MembershipChange {
    /// Nodes that had a member before and have none now.
    pub departed_nodes: Vec<NodeId>,
    /// Processes that joined.
    pub joined: Vec<ProcessId>,
    /// Whether this process is a member after the change.
    pub member: bool,
}

/// One process's view of the CRM group.
#[derive(Debug, Clone)]
pub struct Membership {
    me: ProcessId,
    /// Sorted, no duplicates.
    members: Vec<ProcessId>,
    quorate: bool,
    policy: NoQuorumPolicy,
}

impl Membership {
    pub fn new(me: ProcessId, policy: NoQuorumPolicy) -> Membership {
        Membership {
            me,
            members: Vec::new(),
            quorate: false,
            policy,
        }
    }

    pub fn me(&self) -> ProcessId {
        self.me
    }

    /// The members, sorted.
    pub fn members(&self) -> &[ProcessId] {
        &self.members
    }

    pub fn is_member(&self) -> bool {
        self.members.binary_search(&self.me).is_ok()
    }

    pub fn quorate(&self) -> bool {
        self.quorate
    }

    pub fn policy(&self) -> NoQuorumPolicy {
        self.policy
    }

    /// The DC as this process sees it: the [`dc_candidate`] of the membership when
    /// this process is a member and the partition may have a DC.
    pub fn dc(&self) -> Option<ProcessId> {
        if !self.is_member() || !(self.quorate || self.policy.dc_without_quorum()) {
            return None;
        }
        dc_candidate(&self.members)
    }

    pub fn is_dc(&self) -> bool {
        self.dc() == Some(self.me)
    }

    /// Applies a configuration change; an inconsistent one leaves the view unchanged.
    pub fn on_confchg(&mut self, c: &Confchg) -> Result<MembershipChange, ConfchgError> {
        if c.members.len() > crate::messages::MEMBERS_MAX {
            return Err(ConfchgError::TooMany {
                count: c.members.len(),
                max: crate::messages::MEMBERS_MAX,
            });
        }
        let members: BTreeSet<ProcessId> = c.members.iter().copied().collect();
        if let Some(p) = c.left.iter().find(|p| members.contains(p)) {
            return Err(ConfchgError::LeftButMember(*p));
        }
        if let Some(p) = c.joined.iter().find(|p| !members.contains(p)) {
            return Err(ConfchgError::JoinedNotMember(*p));
        }
        let members: Vec<ProcessId> = members.into_iter().collect();
        let old_nodes: BTreeSet<NodeId> = self.members.iter().map(|p| p.node).collect();
        let new_nodes: BTreeSet<NodeId> = members.iter().map(|p| p.node).collect();
        let departed_nodes: Vec<NodeId> = old_nodes.difference(&new_nodes).copied().collect();
        let was_member = self.is_member();
        self.members = members;
        let member = self.is_member();
        if !member {
            // Out of the group: what we knew of it no longer holds.
            self.members.clear();
        }
        if was_member != member {
            info!(me = %self.me, member, "CRM group membership");
        }
        debug!(me = %self.me, members = self.members.len(), ?departed_nodes, dc = ?self.dc(), "CRM configuration change");
        Ok(MembershipChange {
            departed_nodes: if member { departed_nodes } else { Vec::new() },
            joined: c.joined.clone(),
            member,
        })
    }

    pub fn set_quorate(&mut self, quorate: bool) {
        self.quorate = quorate;
    }

    pub fn set_policy(&mut self, policy: NoQuorumPolicy) {
        self.policy = policy;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(n: u32, pid: u32) -> ProcessId {
        ProcessId::new(n, pid)
    }

    #[test]
    fn dc_is_lowest_member_with_quorum() {
        let mut m = Membership::new(p(2, 20), NoQuorumPolicy::Freeze);
        let c = Confchg {
            members: vec![p(3, 30), p(2, 20), p(1, 10)],
            left: vec![],
            joined: vec![p(2, 20)],
        };
        let ch = m.on_confchg(&c).unwrap();
        assert!(ch.member);
        assert_eq!(m.members(), &[p(1, 10), p(2, 20), p(3, 30)]);
        assert_eq!(m.dc(), None, "no quorum, freeze: no DC");
        m.set_quorate(true);
        assert_eq!(m.dc(), Some(p(1, 10)));
        assert!(!m.is_dc());

        // The DC's node goes: the next lowest takes over at that change.
        let ch = m
            .on_confchg(&Confchg {
                members: vec![p(2, 20), p(3, 30)],
                left: vec![p(1, 10)],
                joined: vec![],
            })
            .unwrap();
        assert_eq!(ch.departed_nodes, vec![NodeId(1)]);
        assert!(m.is_dc());

        // A restarted process on node 1 (new pid) becomes DC again; node 1 never departed.
        let ch = m
            .on_confchg(&Confchg {
                members: vec![p(1, 11), p(2, 20), p(3, 30)],
                left: vec![],
                joined: vec![p(1, 11)],
            })
            .unwrap();
        assert!(ch.departed_nodes.is_empty());
        assert_eq!(m.dc(), Some(p(1, 11)));
    }

    #[test]
    fn policy_decides_without_quorum() {
        for (policy, dc) in [
            (NoQuorumPolicy::Stop, true),
            (NoQuorumPolicy::Freeze, false),
            (NoQuorumPolicy::Ignore, true),
            (NoQuorumPolicy::Demote, true),
            (NoQuorumPolicy::Suicide, true),
        ] {
            let mut m = Membership::new(p(1, 1), policy);
            m.on_confchg(&Confchg {
                members: vec![p(1, 1)],
                left: vec![],
                joined: vec![p(1, 1)],
            })
            .unwrap();
            assert_eq!(m.dc().is_some(), dc, "{policy:?}");
            m.set_quorate(true);
            assert_eq!(m.dc(), Some(p(1, 1)));
        }
    }

    #[test]
    fn process_restart_on_same_node_keeps_node() {
        let mut m = Membership::new(p(2, 20), NoQuorumPolicy::Ignore);
        m.on_confchg(&Confchg {
            members: vec![p(1, 10), p(2, 20)],
            left: vec![],
            joined: vec![p(2, 20)],
        })
        .unwrap();
        let ch = m
            .on_confchg(&Confchg {
                members: vec![p(2, 20)],
                left: vec![p(1, 10)],
                joined: vec![],
            })
            .unwrap();
        assert_eq!(ch.departed_nodes, vec![NodeId(1)]);
        let ch = m
            .on_confchg(&Confchg {
                members: vec![p(1, 12), p(1, 13), p(2, 20)],
                left: vec![],
                joined: vec![p(1, 12), p(1, 13)],
            })
            .unwrap();
        assert!(ch.departed_nodes.is_empty());
        let ch = m
            .on_confchg(&Confchg {
                members: vec![p(1, 13), p(2, 20)],
                left: vec![p(1, 12)],
                joined: vec![],
            })
            .unwrap();
        assert!(ch.departed_nodes.is_empty(), "node 1 still has a process");
    }

    #[test]
    fn leaving_clears_the_view() {
        let mut m = Membership::new(p(2, 20), NoQuorumPolicy::Ignore);
        m.on_confchg(&Confchg {
            members: vec![p(1, 10), p(2, 20)],
            left: vec![],
            joined: vec![p(2, 20)],
        })
        .unwrap();
        let ch = m
            .on_confchg(&Confchg {
                members: vec![p(1, 10)],
                left: vec![p(2, 20)],
                joined: vec![],
            })
            .unwrap();
        assert!(!ch.member);
        assert!(ch.departed_nodes.is_empty());
        assert!(m.members().is_empty());
        assert_eq!(m.dc(), None);
    }

    #[test]
    fn inconsistent_changes_are_refused() {
        let mut m = Membership::new(p(1, 1), NoQuorumPolicy::Ignore);
        assert_eq!(
            m.on_confchg(&Confchg {
                members: vec![p(1, 1)],
                left: vec![p(1, 1)],
                joined: vec![]
            }),
            Err(ConfchgError::LeftButMember(p(1, 1)))
        );
        assert_eq!(
            m.on_confchg(&Confchg {
                members: vec![p(1, 1)],
                left: vec![],
                joined: vec![p(2, 2)]
            }),
            Err(ConfchgError::JoinedNotMember(p(2, 2)))
        );
        assert!(m.members().is_empty());
    }
}

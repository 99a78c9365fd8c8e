//! What every simulated CPG client observed: one [`Session`] per join of one client
//! process to one group, with the views (CONFCHG_CALLBACK member lists) and the
//! deliveries (DELIVER_CALLBACK) in the order the client received them. The input of
//! the `cpg_*` and `sync_*` invariant checkers.
//!
//! A process is `(node id, pid)`; every join uses a fresh pid, so a process joins at
//! most once and a session is exactly one process's membership. Messages carry their
//! sender's pid and a per-pid sequence number, so `(pid, seq)` names one multicast.

use services::Stamp;
use totem::{Instant, NodeId};

use crate::history::IncIdx;

/// Index of a session in [`CpgHistory::sessions`].
pub type SessIdx = usize;

/// A CPG process: node id and pid.
pub type Proc = (NodeId, u32);

/// Names one multicast: sender process and its sequence number.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CpgMsg {
    pub from: Proc,
    pub seq: u32,
}

impl std::fmt::Display for CpgMsg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "n{}/p{}#{}", self.from.0, self.from.1, self.seq)
    }
}

/// One configuration change a client received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct View {
    /// Where the node stood when it produced the event.
    pub stamp: Option<Stamp>,
    /// Members after the change, in the order CPG listed them.
    pub members: Vec<Proc>,
    pub joined: Vec<Proc>,
    pub left: Vec<Proc>,
    /// CPG_REASON_* of each `joined` entry, then of each `left` entry.
    pub reasons: Vec<u32>,
}

/// `CPG_REASON_JOIN`.
pub const REASON_JOIN: u32 = 1;
/// `CPG_REASON_LEAVE`.
pub const REASON_LEAVE: u32 = 2;
/// `CPG_REASON_NODEDOWN`.
pub const REASON_NODEDOWN: u32 = 3;

impl View {
    /// Whether an agreed PROCJOIN or PROCLEAVE (not synchronisation) caused this change.
    pub fn from_exec_message(&self) -> bool {
        let (j, l) = self.reasons.split_at(self.joined.len().min(self.reasons.len()));
        j.contains(&REASON_JOIN) || l.contains(&REASON_LEAVE)
    }
}

impl View {
    /// The processes this change removes because their node left the ring (reason
    /// NODEDOWN: CPG's transitional change of the group), sorted.
    pub fn left_with_node(&self) -> Vec<Proc> {
        let reasons = self.reasons.get(self.joined.len()..).unwrap_or(&[]);
        let mut out: Vec<Proc> = self
            .left
            .iter()
            .zip(reasons)
            .filter(|(_, r)| **r == REASON_NODEDOWN)
            .map(|(p, _)| *p)
            .collect();
        out.sort_unstable();
        out
    }

    /// The identity of a view across clients: the ring and agreed position at which the
    /// nodes produced it, and its members. Every member of a ring handles the same
    /// agreed messages in the same order, so equal identities are the same view.
    pub fn key(&self) -> Option<(u64, u32, u64, Vec<Proc>)> {
        let s = self.stamp?;
        let mut m = self.members.clone();
        m.sort_unstable();
        Some((s.ring_id.seq, s.ring_id.rep, s.agreed, m))
    }
}

/// One log entry of a session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CpgEntry {
    View(View),
    Deliver {
        at: Instant,
        msg: CpgMsg,
        stamp: Option<Stamp>,
    },
}

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionEnd {
    /// Its own leave was delivered (CPG_REASON_LEAVE).
    Left,
    /// The client disconnected (or was disconnected by the node).
    Disconnected,
    /// The node crashed, left the ring or exited.
    NodeDown,
}

/// One join of one client process to one group.
#[derive(Clone, Debug)]
pub struct Session {
    pub proc_: Proc,
    /// The node incarnation it ran on.
    pub inc: IncIdx,
    pub group: usize,
    pub started: Instant,
    pub ended: Option<(Instant, SessionEnd)>,
    pub log: Vec<CpgEntry>,
    /// Sequence numbers it multicast, in order.
    pub sent: Vec<u32>,
}

impl Session {
    /// The messages it delivered, in order.
    pub fn delivered(&self) -> impl Iterator<Item = CpgMsg> + '_ {
        self.log.iter().filter_map(|e| match e {
            CpgEntry::Deliver { msg, .. } => Some(*msg),
            CpgEntry::View(_) => None,
        })
    }

    /// The last view it received.
    pub fn last_view(&self) -> Option<&View> {
        self.log.iter().rev().find_map(|e| match e {
            CpgEntry::View(v) => Some(v),
            CpgEntry::Deliver { .. } => None,
        })
    }
}

/// Every session of the run.
#[derive(Clone, Debug, Default)]
pub struct CpgHistory {
    pub sessions: Vec<Session>,
    /// Group names by index.
    pub groups: Vec<Vec<u8>>,
}

impl CpgHistory {
    /// `n3/p1001@g0` style name of a session.
    pub fn name(&self, s: SessIdx) -> String {
        let x = &self.sessions[s];
        format!(
            "n{}/p{}@{}",
            x.proc_.0,
            x.proc_.1,
            String::from_utf8_lossy(self.groups.get(x.group).map_or(&b"?"[..], |g| &g[..]))
        )
    }

    /// Sessions of `group`.
    pub fn in_group(&self, group: usize) -> impl Iterator<Item = SessIdx> + '_ {
        (0..self.sessions.len()).filter(move |s| self.sessions[*s].group == group)
    }
}

/// Builders for hand-written CPG histories (checker unit tests).
#[doc(hidden)]
pub mod craft {
    use services::{RingPhase, Stamp};
    use totem::RingId;

    use super::*;

    pub fn history(groups: usize) -> CpgHistory {
        CpgHistory {
            sessions: Vec::new(),
            groups: (0..groups).map(|g| format!("g{g}").into_bytes()).collect(),
        }
    }

    pub fn session(h: &mut CpgHistory, proc_: Proc, group: usize) -> SessIdx {
        h.sessions.push(Session {
            proc_,
            inc: 0,
            group,
            started: Instant::ZERO,
            ended: None,
            log: Vec::new(),
            sent: Vec::new(),
        });
        h.sessions.len() - 1
    }

    pub fn stamp(ring: u64, agreed: u64, phase: RingPhase) -> Stamp {
        Stamp {
            ring_id: RingId { rep: 1, seq: ring },
            agreed,
            phase,
        }
    }

    pub fn view(h: &mut CpgHistory, s: SessIdx, ring: u64, agreed: u64, members: &[Proc]) {
        h.sessions[s].log.push(CpgEntry::View(View {
            stamp: Some(stamp(ring, agreed, RingPhase::Synced)),
            members: members.to_vec(),
            joined: Vec::new(),
            left: Vec::new(),
            reasons: Vec::new(),
        }));
    }

    pub fn deliver(h: &mut CpgHistory, s: SessIdx, from: Proc, seq: u32, phase: RingPhase) {
        h.sessions[s].log.push(CpgEntry::Deliver {
            at: Instant::ZERO,
            msg: CpgMsg { from, seq },
            stamp: Some(stamp(1, 0, phase)),
        });
    }
}

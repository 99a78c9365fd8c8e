//! What every node incarnation observed, in order: the input of the invariant checkers.
//!
//! A crash or restart starts a new incarnation with an empty log; the old log stays
//! and is still checked. Deliveries are attributed to the configuration the node was
//! in when they happened (the last configuration entry before them in its log).

use std::collections::HashMap;
use std::time::Duration;

use totem::{ConfigurationChange, ConfigurationKind, Instant, NodeId, RingId};

use crate::workload::MsgId;

/// Index of an incarnation in [`History::incs`].
pub type IncIdx = usize;
/// Dense index of a submitted message, in submit order across the run.
pub type Gid = u32;

/// Why an incarnation ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Crashed,
    Left,
}

/// One delivered payload as the receiver saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub at: Instant,
    /// The sender Totem reported.
    pub sender: NodeId,
    /// The identity in the payload, `None` if it was too short to hold one.
    pub id: Option<MsgId>,
    /// The submit this delivery matches, `None` if no submit has this identity.
    pub gid: Option<Gid>,
    pub len: u32,
    /// Padding matched the identity.
    pub intact: bool,
}

/// One log entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    Deliver(Delivery),
    Config {
        at: Instant,
        change: Box<ConfigurationChange>,
    },
}

/// One life of one node.
#[derive(Clone, Debug)]
pub struct Incarnation {
    pub node: NodeId,
    pub inc: u32,
    pub started: Instant,
    pub ended: Option<(Instant, End)>,
    pub log: Vec<Entry>,
    /// Messages this incarnation submitted, in submit order.
    pub submitted: Vec<Gid>,
}

impl Incarnation {
    /// Still running (neither crashed nor left).
    pub fn alive(&self) -> bool {
        self.ended.is_none()
    }

    /// The last regular configuration this incarnation installed.
    pub fn last_regular(&self) -> Option<&ConfigurationChange> {
        self.log.iter().rev().find_map(|e| match e {
            Entry::Config { change, .. } if change.kind == ConfigurationKind::Regular => Some(&**change),
            _ => None,
        })
    }

    /// Gids this incarnation delivered, in delivery order.
    pub fn delivered(&self) -> impl Iterator<Item = Gid> + '_ {
        self.log.iter().filter_map(|e| match e {
            Entry::Deliver(d) => d.gid,
            Entry::Config { .. } => None,
        })
    }
}

/// A submitted message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Submitted {
    pub id: MsgId,
    pub by: IncIdx,
    pub len: u32,
    pub at: Instant,
}

/// What can keep a node from being heard, so that excluding it may be justified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disturbance {
    /// The node was stopped (SIGSTOP-like).
    Pause(NodeId),
    /// Some link was cut (a partition or one-way cuts), until the next heal.
    Cut,
    /// The links lost, duplicated or reordered datagrams at random (the seed's profile).
    Lossy,
    /// The node failed to receive (corosync's "FAILED TO RECEIVE", an instant): it leaves
    /// everyone for a ring of its own, and they fail it.
    ReceiveFailure(NodeId),
    /// The running node, slowed down, fell behind: its socket receive buffer overflowed
    /// (datagrams to it were dropped) or held datagrams for at least
    /// [`crate::invariants::justified_exclusion::PAUSE_EXCUSE`] of a token (a stall like a
    /// pause); from the first such datagram until the slowdown ended.
    Backlog(NodeId),
}

/// One disturbance over `[from, to)`; `to` is `None` while it lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    pub what: Disturbance,
    pub from: Instant,
    pub to: Option<Instant>,
}

impl Span {
    /// How long it lasted within `[start, end]` (an open span lasts until `end`).
    pub fn overlap(&self, start: Instant, end: Instant) -> Duration {
        let to = self.to.unwrap_or(end).min(end);
        let from = self.from.max(start);
        if to > from {
            to - from
        } else {
            Duration::ZERO
        }
    }
}

/// The protocol timers the checkers need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    pub token: Duration,
    pub consensus: Duration,
}

/// The whole run's observations.
#[derive(Clone, Debug, Default)]
pub struct History {
    pub incs: Vec<Incarnation>,
    /// Pauses, cuts and lossy periods, in start order.
    pub disturbances: Vec<Span>,
    /// The timers of the run (`None` in hand-made histories without timing).
    pub timing: Option<Timing>,
    /// Every successful submit, indexed by [`Gid`].
    pub messages: Vec<Submitted>,
    /// Lookup only (never iterated, so its order cannot leak into results).
    by_id: HashMap<MsgId, Gid>,
    /// Incarnations of each node, by node id then incarnation number.
    by_node: HashMap<NodeId, Vec<IncIdx>>,
    /// What the simulated CPG clients observed.
    pub cpg: crate::cpg_history::CpgHistory,
}

impl History {
    /// Starts a new incarnation of `node` and returns its index; incarnations count from 0.
    pub fn start(&mut self, node: NodeId, at: Instant) -> IncIdx {
        let lives = self.by_node.entry(node).or_default();
        let idx = self.incs.len();
        self.incs.push(Incarnation {
            node,
            inc: lives.len() as u32,
            started: at,
            ended: None,
            log: Vec::new(),
            submitted: Vec::new(),
        });
        lives.push(idx);
        idx
    }

    pub fn end(&mut self, who: IncIdx, at: Instant, why: End) {
        self.incs[who].ended = Some((at, why));
    }

    /// The incarnation `inc` of `node`, if it ever existed.
    pub fn incarnation(&self, node: NodeId, inc: u32) -> Option<IncIdx> {
        self.by_node.get(&node)?.get(inc as usize).copied()
    }

    /// Records a successful submit.
    pub fn submit(&mut self, by: IncIdx, id: MsgId, len: usize, at: Instant) -> Gid {
        let gid = self.messages.len() as Gid;
        self.messages.push(Submitted {
            id,
            by,
            len: len as u32,
            at,
        });
        self.by_id.insert(id, gid);
        self.incs[by].submitted.push(gid);
        gid
    }

    pub fn gid(&self, id: MsgId) -> Option<Gid> {
        self.by_id.get(&id).copied()
    }

    /// Appends an entry to `who`'s log.
    pub fn record(&mut self, who: IncIdx, entry: Entry) {
        self.incs[who].log.push(entry);
    }

    /// `what` starts now (nothing if the same disturbance is already going on).
    pub fn disturbance_starts(&mut self, what: Disturbance, at: Instant) {
        if !self.disturbances.iter().any(|s| s.what == what && s.to.is_none()) {
            self.disturbances.push(Span {
                what,
                from: at,
                to: None,
            });
        }
    }

    /// `node` is stopped from `at` until `until` (unless resumed earlier).
    pub fn pause_starts(&mut self, node: NodeId, at: Instant, until: Instant) {
        self.disturbances.push(Span {
            what: Disturbance::Pause(node),
            from: at,
            to: Some(until),
        });
    }

    /// `node` failed to receive at `at`.
    pub fn receive_failure(&mut self, node: NodeId, at: Instant) {
        self.disturbances.push(Span {
            what: Disturbance::ReceiveFailure(node),
            from: at,
            to: Some(at),
        });
    }

    /// `what` ends now (nothing if it is not going on).
    pub fn disturbance_ends(&mut self, what: Disturbance, at: Instant) {
        let going_on = |s: &Span| s.what == what && s.from <= at && s.to.is_none_or(|to| to >= at);
        if let Some(s) = self.disturbances.iter_mut().rev().find(|s| going_on(s)) {
            s.to = Some(at);
        }
    }

    /// The entry `who` recorded last.
    pub fn last(&self, who: IncIdx) -> &Entry {
        self.incs[who].log.last().expect("an entry was recorded")
    }
}

/// Builders for hand-written histories (checker unit tests, mutation tests).
#[doc(hidden)]
pub mod craft {
    use super::*;

    pub fn ring(rep: NodeId, seq: u64) -> RingId {
        RingId { rep, seq }
    }

    pub fn config(kind: ConfigurationKind, ring_id: RingId, members: &[NodeId], other: &[NodeId]) -> Entry {
        let (left, joined) = match kind {
            ConfigurationKind::Transitional => (other.to_vec(), Vec::new()),
            ConfigurationKind::Regular => (Vec::new(), other.to_vec()),
        };
        Entry::Config {
            at: Instant::ZERO,
            change: Box::new(ConfigurationChange {
                kind,
                ring_id,
                members: members.to_vec(),
                left,
                joined,
            }),
        }
    }

    pub fn regular(ring_id: RingId, members: &[NodeId], joined: &[NodeId]) -> Entry {
        config(ConfigurationKind::Regular, ring_id, members, joined)
    }

    pub fn transitional(ring_id: RingId, members: &[NodeId], left: &[NodeId]) -> Entry {
        config(ConfigurationKind::Transitional, ring_id, members, left)
    }

    /// A faithful delivery of submitted message `gid`.
    pub fn deliver(h: &History, gid: Gid) -> Entry {
        let m = h.messages[gid as usize];
        Entry::Deliver(Delivery {
            at: Instant::ZERO,
            sender: m.id.node,
            id: Some(m.id),
            gid: Some(gid),
            len: m.len,
            intact: true,
        })
    }
}

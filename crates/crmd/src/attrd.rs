//! Node attributes, as pacemaker-attrd keeps them: a table of (node, name) → value
//! replicated on every CRM process, and a writer (the DC) that writes it into the CIB
//! status (`transient_attributes` of each node).
//!
//! # Replication
//!
//! A change requested on any member ([`Attrd::request`]) is multicast as an
//! [`AttrUpdate`] and applied by every member, the sender included, when CPG delivers
//! it; agreed order makes every member apply the same changes in the same order, so
//! members hold the same table. `value++`/`value+=N` ([`Change::Add`]) is computed at
//! that point, from the agreed current value, so concurrent increments of a fail
//! count are all counted (Pacemaker expands them in the requesting attrd instead).
//!
//! # Joins and merges
//!
//! After a configuration change that brought members in, every member multicasts its
//! whole table ([`AttrSync`], for that membership view); a *round* is complete once
//! the sync of every member of the view has been delivered. One sync from the writer
//! would be enough for a fresh joiner, but after a partition heals both sides bring
//! tables the other lacks (fail counts recorded in the minority, say), and the members
//! cannot tell which of them were in which partition. Entries carry a [`Stamp`] (the
//! sender's Lamport clock and the sender); a sync entry replaces the local one if the
//! local one was not changed since the configuration change and the sync's stamp is
//! higher. Changes delivered after the configuration change always win over syncs.
//! Merging by highest stamp is order-independent, so once the round completes every
//! member holds the same table whatever the interleaving. A configuration change
//! during a round starts a new round. A deleted value stays as a tombstone where a
//! merge could bring it back (nodes that are not members, and any node during a
//! round); see `gc_tombstones` for why members' tombstones are not needed after that.
//!
//! # Departed nodes
//!
//! When a node has no CRM process left in the group its attributes are dropped from
//! the table, and the writer erases its `transient_attributes` from the CIB status: in
//! Pacemaker attrd drops a lost peer's values (`attrd_peer_remove`) and the controller
//! erases the lost node's transient attributes from the status.
//!
//! # Writing and dampening
//!
//! Only the writer (the DC) produces [`CibRequest`]s, and not while a sync round is in
//! progress (the table is still converging). A changed attribute without dampening
//! is written at the next poll; all changes between two polls form one request per
//! node. With a dampening delay (`attrd_updater -d`), every member still applies the
//! value at once, but the write waits until the attribute has not changed for the
//! delay: as in Pacemaker (`attrd_peer_update_one` restarts the attribute's timer on
//! every change), later changes replace the pending value and push the write back,
//! and the write carries the attribute's values as they are when the timer fires.
//! A process that becomes writer, or completes a round as writer, writes the whole
//! table at once ([`CibRequest::ReplaceAll`]), as Pacemaker's new writer does after
//! its election.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use thiserror::Error;
use tracing::{debug, info, warn};

use crate::ids::{AttrName, AttrValue, NodeId, ProcessId};
use crate::messages::{
    AttrChange, AttrSync, AttrUpdate, Change, Stamp, SyncEntry, DAMPEN_MAX, SYNC_ENTRIES_MAX, UPDATES_MAX,
};
use totem::Instant;

/// Most rows (tombstones included) the table holds: a full table always fits in one
/// [`AttrSync`].
pub const TABLE_MAX: usize = SYNC_ENTRIES_MAX;

/// A write the writer asks of the CIB manager, in the status section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CibRequest {
    /// Set (`Some`) or delete (`None`) these nvpairs in `transient_attributes` of `node`.
    Update {
        node: NodeId,
        attrs: Vec<(AttrName, Option<AttrValue>)>,
    },
    /// Delete `transient_attributes` of `node` (the node left the cluster).
    Erase { node: NodeId },
    /// The transient attributes of every node become exactly these; nodes not listed
    /// have none.
    ReplaceAll {
        nodes: BTreeMap<NodeId, Vec<(AttrName, AttrValue)>>,
    },
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestError {
    #[error("not a member of the CRM group")]
    NotMember,
    #[error("no changes")]
    Empty,
    #[error("{0} changes, more than {UPDATES_MAX}")]
    TooMany(usize),
    #[error("dampening delay {0:?} is longer than a day")]
    Dampen(Duration),
    #[error("the attribute table is full ({TABLE_MAX} rows)")]
    TableFull,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    /// `None`: a tombstone.
    value: Option<AttrValue>,
    dampen: Duration,
    stamp: Stamp,
    /// Changed by an update delivered since the last configuration change.
    fresh: bool,
}

#[derive(Debug, Clone, Default)]
struct NodeWrite {
    erase: bool,
    names: BTreeSet<AttrName>,
}

/// Counters, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AttrdStats {
    pub updates_applied: u64,
    pub syncs_applied: u64,
    pub rounds_completed: u64,
    /// Rows dropped because the table was full.
    pub dropped_full: u64,
}

/// One process's attribute manager.
#[derive(Debug, Clone)]
pub struct Attrd {
    me: ProcessId,
    table: BTreeMap<(NodeId, AttrName), Entry>,
    clock: u64,
    /// The current membership view, sorted; empty when not a member.
    view: Vec<ProcessId>,
    /// Members whose sync for the current view is still to come.
    round: Option<BTreeSet<ProcessId>>,
    writer: bool,
    /// Dampening deadlines by attribute, with the nodes whose value changed (writer
    /// only).
    timers: BTreeMap<AttrName, (Instant, BTreeSet<NodeId>)>,
    /// Rows to write (writer only).
    dirty: BTreeMap<NodeId, NodeWrite>,
    full_write: bool,
    stats: AttrdStats,
}

impl Attrd {
    pub fn new(me: ProcessId) -> Attrd {
        Attrd {
            me,
            table: BTreeMap::new(),
            clock: 0,
            view: Vec::new(),
            round: None,
            writer: false,
            timers: BTreeMap::new(),
            dirty: BTreeMap::new(),
            full_write: false,
            stats: AttrdStats::default(),
        }
    }

    pub fn stats(&self) -> AttrdStats {
        self.stats
    }

    /// A value, if set.
    pub fn get(&self, node: NodeId, name: &AttrName) -> Option<&AttrValue> {
        self.table.get(&(node, name.clone())).and_then(|e| e.value.as_ref())
    }

    /// Every set value, ordered by node then name.
    pub fn values(&self) -> impl Iterator<Item = (NodeId, &AttrName, &AttrValue)> {
        self.table
            .iter()
            .filter_map(|((node, name), e)| e.value.as_ref().map(|v| (*node, name, v)))
    }

    /// Whether a sync round is in progress.
    pub fn syncing(&self) -> bool {
        self.round.is_some()
    }

    pub fn is_writer(&self) -> bool {
        self.writer
    }

    /// A client's changes, as the update to multicast. Nothing is applied until the
    /// update is delivered.
    pub fn request(&mut self, changes: Vec<AttrChange>) -> Result<AttrUpdate, RequestError> {
        if self.view.is_empty() {
            return Err(RequestError::NotMember);
        }
        if changes.is_empty() {
            return Err(RequestError::Empty);
        }
        if changes.len() > UPDATES_MAX {
            return Err(RequestError::TooMany(changes.len()));
        }
        if let Some(d) = changes.iter().filter_map(|c| c.dampen).find(|d| *d > DAMPEN_MAX) {
            return Err(RequestError::Dampen(d));
        }
        let new_rows: BTreeSet<(NodeId, &AttrName)> = changes
            .iter()
            .filter(|c| !self.table.contains_key(&(c.node, c.name.clone())))
            .map(|c| (c.node, &c.name))
            .collect();
        if self.table.len() + new_rows.len() > TABLE_MAX {
            return Err(RequestError::TableFull);
        }
        self.clock += 1;
        Ok(AttrUpdate {
            stamp: Stamp {
                clock: self.clock,
                origin: self.me,
            },
            changes,
        })
    }

    /// A configuration change, after the membership has taken it in: `view` is the new
    /// membership (empty if this process is no longer a member). Returns the sync to
    /// multicast, if a round starts.
    pub fn on_confchg(
        &mut self,
        view: &[ProcessId],
        departed_nodes: &[NodeId],
        anyone_joined: bool,
    ) -> Option<AttrSync> {
        if view.is_empty() {
            if !self.view.is_empty() {
                info!(me = %self.me, "left the CRM group: attribute table dropped");
            }
            *self = Attrd {
                clock: self.clock,
                stats: self.stats,
                ..Attrd::new(self.me)
            };
            return None;
        }
        self.view = view.to_vec();
        for e in self.table.values_mut() {
            e.fresh = false;
        }
        for node in departed_nodes {
            let before = self.table.len();
            self.table.retain(|(n, _), _| n != node);
            if before != self.table.len() {
                info!(me = %self.me, %node, dropped = before - self.table.len(), "node left: its attributes are dropped");
            }
            for (_, nodes) in self.timers.values_mut() {
                nodes.remove(node);
            }
            if self.writer {
                self.dirty.insert(
                    *node,
                    NodeWrite {
                        erase: true,
                        names: BTreeSet::new(),
                    },
                );
            }
        }
        if anyone_joined || self.round.is_some() {
            self.round = Some(view.iter().copied().collect());
            let entries = self
                .table
                .iter()
                .map(|((node, name), e)| SyncEntry {
                    node: *node,
                    name: name.clone(),
                    value: e.value.clone(),
                    dampen: e.dampen,
                    stamp: e.stamp,
                })
                .collect();
            debug!(me = %self.me, rows = self.table.len(), "attribute sync round starts");
            return Some(AttrSync {
                view: view.to_vec(),
                entries,
            });
        }
        None
    }

    /// An update, delivered in agreed order.
    pub fn on_update(&mut self, now: Instant, update: &AttrUpdate) {
        if self.view.is_empty() {
            return;
        }
        self.clock = self.clock.max(update.stamp.clock);
        for c in &update.changes {
            let key = (c.node, c.name.clone());
            let old = self.table.get(&key);
            if old.is_none() && self.table.len() >= TABLE_MAX {
                warn!(me = %self.me, node = %c.node, name = %c.name, "attribute table full: change dropped");
                self.stats.dropped_full += 1;
                continue;
            }
            let old_value = old.and_then(|e| e.value.clone());
            let value = match &c.change {
                Change::Set(v) => Some(v.clone()),
                Change::Delete => None,
                Change::Add(n) => {
                    let current = old_value.as_ref().map(AttrValue::as_score).unwrap_or(0);
                    Some(AttrValue::from_score(current.saturating_add(*n)))
                }
            };
            let dampen = c.dampen.or(old.map(|e| e.dampen)).unwrap_or(Duration::ZERO);
            let changed = old_value != value;
            debug!(me = %self.me, node = %c.node, name = %c.name, ?value, changed, "attribute update");
            if value.is_none() && self.round.is_none() && self.is_member_node(c.node) {
                // No merge can bring a member's row back (see `gc_tombstones`).
                self.table.remove(&key);
            } else {
                self.table.insert(
                    key,
                    Entry {
                        value,
                        dampen,
                        stamp: update.stamp,
                        fresh: true,
                    },
                );
            }
            if changed {
                self.changed(now, c.node, &c.name, dampen);
            }
        }
        self.stats.updates_applied += 1;
    }

    /// A sync, delivered in agreed order.
    pub fn on_sync(&mut self, now: Instant, sender: ProcessId, sync: &AttrSync) {
        if self.view.is_empty() {
            return;
        }
        for e in &sync.entries {
            self.clock = self.clock.max(e.stamp.clock);
            let key = (e.node, e.name.clone());
            let local = self.table.get(&key);
            let take = match local {
                Some(l) => !l.fresh && e.stamp > l.stamp,
                None => self.table.len() < TABLE_MAX,
            };
            if local.is_none() && !take {
                self.stats.dropped_full += 1;
                continue;
            }
            if take {
                let changed = local.and_then(|l| l.value.as_ref()) != e.value.as_ref();
                self.table.insert(
                    key,
                    Entry {
                        value: e.value.clone(),
                        dampen: e.dampen,
                        stamp: e.stamp,
                        fresh: false,
                    },
                );
                if changed {
                    self.changed(now, e.node, &e.name, e.dampen);
                }
            }
        }
        self.stats.syncs_applied += 1;
        if sync.view == self.view {
            if let Some(pending) = &mut self.round {
                pending.remove(&sender);
                if pending.is_empty() {
                    self.round = None;
                    self.stats.rounds_completed += 1;
                    self.gc_tombstones();
                    debug!(me = %self.me, rows = self.table.len(), "attribute sync round complete");
                    if self.writer {
                        self.full_write = true;
                    }
                }
            }
        }
    }

    fn is_member_node(&self, node: NodeId) -> bool {
        self.view.iter().any(|p| p.node == node)
    }

    /// Drops the tombstones of member nodes, outside sync rounds. A tombstone keeps a
    /// merge from bringing a deleted value back; but when a partition forms, each
    /// side drops the rows of the nodes it lost, so the other side of a later merge
    /// holds a row of one of our members only if it set it while that node was not
    /// among its members — and then keeping that newer-or-not value is as good a
    /// choice as any. Without dropping them, deleted fail counts would fill the
    /// table. Every member does this at the same point of the stream, so tables stay
    /// equal.
    fn gc_tombstones(&mut self) {
        let members: BTreeSet<NodeId> = self.view.iter().map(|p| p.node).collect();
        self.table
            .retain(|(node, _), e| e.value.is_some() || !members.contains(node));
    }

    fn changed(&mut self, now: Instant, node: NodeId, name: &AttrName, dampen: Duration) {
        if !self.writer {
            return;
        }
        if dampen.is_zero() {
            self.dirty.entry(node).or_default().names.insert(name.clone());
        } else {
            // Pacemaker restarts the dampening timer on every change.
            let (at, nodes) = self.timers.entry(name.clone()).or_default();
            *at = now + dampen;
            nodes.insert(node);
        }
    }

    /// Whether this process is the writer (the DC). Becoming writer writes the whole
    /// table; ceasing forgets pending writes and timers.
    pub fn set_writer(&mut self, writer: bool) {
        if writer == self.writer {
            return;
        }
        self.writer = writer;
        self.dirty.clear();
        self.timers.clear();
        self.full_write = writer;
        info!(me = %self.me, writer, "attribute writer");
    }

    /// The earliest dampening deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.values().map(|(at, _)| *at).min()
    }

    /// Fires the dampening timers due at `now`.
    pub fn on_timer(&mut self, now: Instant) {
        let due: Vec<AttrName> = self
            .timers
            .iter()
            .filter(|(_, (at, _))| *at <= now)
            .map(|(n, _)| n.clone())
            .collect();
        for name in due {
            let Some((_, nodes)) = self.timers.remove(&name) else {
                continue;
            };
            debug!(me = %self.me, %name, "dampening delay over: writing");
            for node in nodes {
                self.dirty.entry(node).or_default().names.insert(name.clone());
            }
        }
    }

    /// The CIB writes due now, batched: one request per node (an erase first when the
    /// node left), or one whole-table replacement. Nothing while not writer or while a
    /// sync round is in progress.
    pub fn take_writes(&mut self) -> Vec<CibRequest> {
        if !self.writer || self.round.is_some() {
            return Vec::new();
        }
        let mut out = Vec::new();
        if self.full_write {
            self.full_write = false;
            self.dirty.clear();
            // The dampening timers stay: values changed after this write still wait.
            let mut nodes: BTreeMap<NodeId, Vec<(AttrName, AttrValue)>> = BTreeMap::new();
            for (node, name, value) in self.values() {
                nodes.entry(node).or_default().push((name.clone(), value.clone()));
            }
            out.push(CibRequest::ReplaceAll { nodes });
            return out;
        }
        for (node, w) in std::mem::take(&mut self.dirty) {
            if w.erase {
                out.push(CibRequest::Erase { node });
            }
            if !w.names.is_empty() {
                let attrs = w
                    .names
                    .into_iter()
                    .map(|name| {
                        let v = self.table.get(&(node, name.clone())).and_then(|e| e.value.clone());
                        (name, v)
                    })
                    .collect();
                out.push(CibRequest::Update { node, attrs });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(n: u32) -> ProcessId {
        ProcessId::new(n, 100 + n)
    }
    fn name(s: &str) -> AttrName {
        AttrName::new(s).unwrap()
    }
    fn val(s: &str) -> AttrValue {
        AttrValue::new(s).unwrap()
    }
    fn set(node: u32, n: &str, v: &str) -> AttrChange {
        AttrChange {
            node: NodeId(node),
            name: name(n),
            change: Change::Set(val(v)),
            dampen: None,
        }
    }
    fn t(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    /// A writer alone in a settled group of `view`.
    fn settled(me: u32, view: &[ProcessId], writer: bool) -> Attrd {
        let mut a = Attrd::new(p(me));
        a.set_writer(writer);
        let sync = a.on_confchg(view, &[], true).unwrap();
        for m in view {
            a.on_sync(
                t(0),
                *m,
                &AttrSync {
                    view: sync.view.clone(),
                    entries: vec![],
                },
            );
        }
        assert!(!a.syncing());
        a
    }

    #[test]
    fn not_member_refuses() {
        let mut a = Attrd::new(p(1));
        assert_eq!(a.request(vec![set(1, "a", "1")]), Err(RequestError::NotMember));
        let view = [p(1)];
        a.on_confchg(&view, &[], true);
        assert_eq!(a.request(vec![]), Err(RequestError::Empty));
        let d = AttrChange {
            dampen: Some(DAMPEN_MAX + Duration::from_secs(1)),
            ..set(1, "a", "1")
        };
        assert!(matches!(a.request(vec![d]), Err(RequestError::Dampen(_))));
        let u = a.request(vec![set(1, "a", "1")]).unwrap();
        let u2 = a.request(vec![set(1, "a", "2")]).unwrap();
        assert!(u2.stamp > u.stamp);
    }

    #[test]
    fn updates_apply_on_delivery_and_write_batched() {
        let view = [p(1), p(2)];
        let mut a = settled(1, &view, true);
        assert!(matches!(a.take_writes().as_slice(), [CibRequest::ReplaceAll { nodes }] if nodes.is_empty()));
        let u = a.request(vec![set(1, "a", "1"), set(2, "a", "2")]).unwrap();
        assert_eq!(a.get(NodeId(1), &name("a")), None, "nothing until delivered");
        a.on_update(t(1), &u);
        let u2 = AttrUpdate {
            stamp: Stamp { clock: 9, origin: p(2) },
            changes: vec![set(1, "b", "x"), set(1, "a", "3")],
        };
        a.on_update(t(1), &u2);
        assert_eq!(a.get(NodeId(1), &name("a")), Some(&val("3")));
        let writes = a.take_writes();
        assert_eq!(
            writes,
            vec![
                CibRequest::Update {
                    node: NodeId(1),
                    attrs: vec![(name("a"), Some(val("3"))), (name("b"), Some(val("x")))]
                },
                CibRequest::Update {
                    node: NodeId(2),
                    attrs: vec![(name("a"), Some(val("2")))]
                },
            ]
        );
        assert!(a.take_writes().is_empty());
        // An unchanged value writes nothing; a deletion writes a removal.
        a.on_update(t(2), &u2);
        assert!(a.take_writes().is_empty());
        let del = AttrUpdate {
            stamp: Stamp {
                clock: 10,
                origin: p(2),
            },
            changes: vec![AttrChange {
                node: NodeId(1),
                name: name("b"),
                change: Change::Delete,
                dampen: None,
            }],
        };
        a.on_update(t(3), &del);
        assert_eq!(
            a.take_writes(),
            vec![CibRequest::Update {
                node: NodeId(1),
                attrs: vec![(name("b"), None)]
            }]
        );
        assert_eq!(a.values().count(), 2);
    }

    #[test]
    fn non_writer_writes_nothing() {
        let view = [p(1), p(2)];
        let mut a = settled(2, &view, false);
        let u = a.request(vec![set(1, "a", "1")]).unwrap();
        a.on_update(t(1), &u);
        assert_eq!(a.get(NodeId(1), &name("a")), Some(&val("1")));
        assert!(a.take_writes().is_empty());
        a.set_writer(true);
        assert_eq!(
            a.take_writes(),
            vec![CibRequest::ReplaceAll {
                nodes: BTreeMap::from([(NodeId(1), vec![(name("a"), val("1"))])])
            }]
        );
    }

    #[test]
    fn increments_apply_in_agreed_order() {
        let view = [p(1), p(2)];
        let mut a = settled(1, &view, false);
        let fc = AttrName::fail_count("web", "monitor", 10000).unwrap();
        let inc = |origin, clock, n| AttrUpdate {
            stamp: Stamp { clock, origin },
            changes: vec![AttrChange {
                node: NodeId(2),
                name: fc.clone(),
                change: Change::Add(n),
                dampen: None,
            }],
        };
        // Two nodes increment concurrently: both count.
        a.on_update(t(1), &inc(p(1), 1, 1));
        a.on_update(t(1), &inc(p(2), 1, 1));
        assert_eq!(a.get(NodeId(2), &fc), Some(&val("2")));
        a.on_update(t(1), &inc(p(2), 2, crate::ids::SCORE_INFINITY));
        assert_eq!(a.get(NodeId(2), &fc), Some(&val("INFINITY")));
        a.on_update(t(1), &inc(p(2), 3, 5));
        assert_eq!(a.get(NodeId(2), &fc), Some(&val("INFINITY")));
    }

    #[test]
    fn dampened_updates_coalesce() {
        let view = [p(1), p(2)];
        let mut a = settled(1, &view, true);
        a.take_writes();
        let damp = |clock, v: &str| AttrUpdate {
            stamp: Stamp { clock, origin: p(2) },
            changes: vec![AttrChange {
                node: NodeId(2),
                name: name("pingd"),
                change: Change::Set(val(v)),
                dampen: Some(Duration::from_secs(5)),
            }],
        };
        a.on_update(t(1000), &damp(1, "100"));
        assert_eq!(a.next_deadline(), Some(t(6000)));
        a.on_update(t(3000), &damp(2, "200"));
        assert_eq!(a.get(NodeId(2), &name("pingd")), Some(&val("200")), "applied at once");
        assert_eq!(a.next_deadline(), Some(t(8000)), "each change restarts the delay");
        a.on_timer(t(7999));
        assert!(a.take_writes().is_empty());
        // A later change without -d keeps the attribute's dampening.
        let keep = AttrUpdate {
            stamp: Stamp { clock: 3, origin: p(1) },
            changes: vec![set(2, "pingd", "300")],
        };
        a.on_update(t(4000), &keep);
        assert!(a.take_writes().is_empty());
        a.on_timer(t(8999));
        assert!(a.take_writes().is_empty());
        a.on_timer(t(9000));
        assert_eq!(
            a.take_writes(),
            vec![CibRequest::Update {
                node: NodeId(2),
                attrs: vec![(name("pingd"), Some(val("300")))]
            }]
        );
        assert_eq!(a.next_deadline(), None);
    }

    #[test]
    fn departed_node_dropped_and_erased() {
        let view = [p(1), p(2), p(3)];
        let mut a = settled(1, &view, true);
        let u = AttrUpdate {
            stamp: Stamp { clock: 1, origin: p(3) },
            changes: vec![set(3, "a", "1"), set(1, "a", "1")],
        };
        a.on_update(t(1), &u);
        a.take_writes();
        assert!(a.on_confchg(&[p(1), p(2)], &[NodeId(3)], false).is_none());
        assert_eq!(a.get(NodeId(3), &name("a")), None);
        assert_eq!(a.get(NodeId(1), &name("a")), Some(&val("1")));
        assert_eq!(a.take_writes(), vec![CibRequest::Erase { node: NodeId(3) }]);
        // A dampened change of a node that then leaves writes nothing for it later.
        a.on_confchg(&[p(1), p(2), p(3)], &[], true);
        a.round = None;
        let d = Some(Duration::from_secs(1));
        a.on_update(
            t(0),
            &AttrUpdate {
                stamp: Stamp { clock: 2, origin: p(3) },
                changes: vec![
                    AttrChange {
                        dampen: d,
                        ..set(3, "a", "2")
                    },
                    AttrChange {
                        dampen: d,
                        ..set(1, "a", "2")
                    },
                ],
            },
        );
        a.on_confchg(&[p(1), p(2)], &[NodeId(3)], false);
        a.on_timer(t(1000));
        assert_eq!(
            a.take_writes(),
            vec![
                CibRequest::Update {
                    node: NodeId(1),
                    attrs: vec![(name("a"), Some(val("2")))]
                },
                CibRequest::Erase { node: NodeId(3) },
            ]
        );
    }

    #[test]
    fn sync_merges_by_stamp_and_fresh_changes_win() {
        let mut a = Attrd::new(p(1));
        a.on_confchg(&[p(1)], &[], true);
        a.on_update(
            t(0),
            &AttrUpdate {
                stamp: Stamp { clock: 5, origin: p(1) },
                changes: vec![set(1, "x", "a5"), set(1, "y", "a5")],
            },
        );
        a.on_sync(
            t(0),
            p(1),
            &AttrSync {
                view: vec![p(1)],
                entries: vec![],
            },
        );
        // Merge with node 2's partition.
        let view = vec![p(1), p(2)];
        let own = a.on_confchg(&view, &[], true).unwrap();
        assert_eq!(own.entries.len(), 2);
        // A change delivered after the configuration change wins over any sync.
        a.on_update(
            t(0),
            &AttrUpdate {
                stamp: Stamp { clock: 1, origin: p(2) },
                changes: vec![set(1, "y", "new")],
            },
        );
        let entry = |n: &str, v: &str, clock| SyncEntry {
            node: NodeId(1),
            name: name(n),
            value: Some(val(v)),
            dampen: Duration::ZERO,
            stamp: Stamp { clock, origin: p(2) },
        };
        let theirs = AttrSync {
            view: view.clone(),
            entries: vec![entry("x", "b7", 7), entry("y", "b9", 9), entry("z", "b1", 1)],
        };
        a.on_sync(t(0), p(2), &theirs);
        assert!(a.syncing(), "own sync still to come");
        a.on_sync(t(0), p(1), &own);
        assert!(!a.syncing());
        assert_eq!(a.get(NodeId(1), &name("x")), Some(&val("b7")), "higher stamp");
        assert_eq!(a.get(NodeId(1), &name("y")), Some(&val("new")), "fresh");
        assert_eq!(a.get(NodeId(1), &name("z")), Some(&val("b1")), "union");
        // A stale sync (other view) merges but does not count for the round.
        a.on_confchg(&[p(1), p(2), p(3)], &[], true);
        a.on_sync(t(0), p(2), &theirs);
        a.on_sync(
            t(0),
            p(1),
            &AttrSync {
                view: vec![p(1), p(2), p(3)],
                entries: vec![],
            },
        );
        a.on_sync(
            t(0),
            p(2),
            &AttrSync {
                view: vec![p(1), p(2), p(3)],
                entries: vec![],
            },
        );
        assert!(a.syncing(), "p3's sync is missing");
    }

    #[test]
    fn writer_waits_for_the_round() {
        let mut a = Attrd::new(p(1));
        a.set_writer(true);
        let own = a.on_confchg(&[p(1), p(2)], &[], true).unwrap();
        a.on_update(
            t(0),
            &AttrUpdate {
                stamp: Stamp { clock: 1, origin: p(2) },
                changes: vec![set(2, "a", "1")],
            },
        );
        assert!(a.take_writes().is_empty(), "round in progress");
        a.on_sync(t(0), p(1), &own);
        a.on_sync(
            t(0),
            p(2),
            &AttrSync {
                view: vec![p(1), p(2)],
                entries: vec![],
            },
        );
        assert_eq!(
            a.take_writes(),
            vec![CibRequest::ReplaceAll {
                nodes: BTreeMap::from([(NodeId(2), vec![(name("a"), val("1"))])])
            }]
        );
        // A leave during a round restarts it.
        let _ = a.on_confchg(&[p(1), p(2), p(3)], &[], true).unwrap();
        assert!(
            a.on_confchg(&[p(1), p(2)], &[NodeId(3)], false).is_some(),
            "unfinished round: new round"
        );
        assert!(a.on_confchg(&[p(1)], &[NodeId(2)], false).is_some());
        a.on_sync(
            t(0),
            p(1),
            &AttrSync {
                view: vec![p(1)],
                entries: vec![],
            },
        );
        assert!(!a.syncing());
        assert!(
            a.on_confchg(&[p(1)], &[], false).is_none(),
            "settled: a plain change needs no round"
        );
    }

    #[test]
    fn table_bound() {
        let mut a = Attrd::new(p(1));
        a.on_confchg(&[p(1)], &[], true);
        let changes: Vec<_> = (0..UPDATES_MAX).map(|i| set(1, &format!("a{i}"), "v")).collect();
        for k in 0..TABLE_MAX / UPDATES_MAX {
            let cs = changes
                .iter()
                .map(|c| AttrChange {
                    name: name(&format!("{}-{k}", c.name)),
                    ..c.clone()
                })
                .collect();
            let u = a.request(cs).unwrap();
            a.on_update(t(0), &u);
        }
        assert_eq!(a.values().count(), TABLE_MAX);
        assert_eq!(a.request(vec![set(2, "new", "v")]), Err(RequestError::TableFull));
        assert!(a.request(vec![set(1, "a0-0", "w")]).is_ok(), "existing rows can change");
        // Another member's update beyond the bound is dropped, the same way everywhere.
        a.on_update(
            t(0),
            &AttrUpdate {
                stamp: Stamp {
                    clock: 99,
                    origin: p(2),
                },
                changes: vec![set(2, "new", "v")],
            },
        );
        assert_eq!(a.stats().dropped_full, 1);
        assert_eq!(a.get(NodeId(2), &name("new")), None);
    }

    #[test]
    fn tombstones_only_where_a_merge_needs_them() {
        let view = [p(1), p(2)];
        let mut a = settled(1, &view, true);
        let del = |node, clock| AttrUpdate {
            stamp: Stamp { clock, origin: p(2) },
            changes: vec![AttrChange {
                node: NodeId(node),
                name: name("a"),
                change: Change::Delete,
                dampen: None,
            }],
        };
        a.on_update(
            t(0),
            &AttrUpdate {
                stamp: Stamp { clock: 1, origin: p(2) },
                changes: vec![set(1, "a", "1"), set(7, "a", "1")],
            },
        );
        a.on_update(t(0), &del(1, 2));
        a.on_update(t(0), &del(7, 3));
        assert_eq!(a.values().count(), 0);
        assert_eq!(a.table.len(), 1, "only node 7 (not a member) keeps a tombstone");
        a.take_writes();

        // During a round a member's deletion leaves a tombstone, dropped when it ends.
        let own = a.on_confchg(&[p(1), p(2), p(3)], &[], true).unwrap();
        a.on_update(
            t(0),
            &AttrUpdate {
                stamp: Stamp { clock: 4, origin: p(2) },
                changes: vec![set(2, "b", "1")],
            },
        );
        a.on_update(
            t(0),
            &AttrUpdate {
                stamp: Stamp { clock: 5, origin: p(2) },
                changes: vec![AttrChange {
                    node: NodeId(2),
                    name: name("b"),
                    change: Change::Delete,
                    dampen: None,
                }],
            },
        );
        // Node 3 brings a value of it with a higher stamp: the fresh deletion still wins.
        let old = SyncEntry {
            node: NodeId(2),
            name: name("b"),
            value: Some(val("old")),
            dampen: Duration::ZERO,
            stamp: Stamp { clock: 9, origin: p(3) },
        };
        for m in [p(1), p(2)] {
            a.on_sync(
                t(0),
                m,
                &AttrSync {
                    view: own.view.clone(),
                    entries: vec![],
                },
            );
        }
        assert_eq!(a.table.len(), 2);
        a.on_sync(
            t(0),
            p(3),
            &AttrSync {
                view: own.view.clone(),
                entries: vec![old],
            },
        );
        assert!(!a.syncing());
        assert_eq!(a.get(NodeId(2), &name("b")), None);
        assert_eq!(a.table.len(), 1, "member tombstone dropped at the end of the round");
    }

    #[test]
    fn dampened_deletion_is_written() {
        let view = [p(1), p(2)];
        let mut a = settled(1, &view, true);
        let d = Some(Duration::from_secs(1));
        a.on_update(
            t(0),
            &AttrUpdate {
                stamp: Stamp { clock: 1, origin: p(2) },
                changes: vec![AttrChange {
                    dampen: d,
                    ..set(2, "a", "1")
                }],
            },
        );
        a.on_timer(t(1000));
        a.take_writes();
        a.on_update(
            t(2000),
            &AttrUpdate {
                stamp: Stamp { clock: 2, origin: p(2) },
                changes: vec![AttrChange {
                    node: NodeId(2),
                    name: name("a"),
                    change: Change::Delete,
                    dampen: None,
                }],
            },
        );
        assert!(a.take_writes().is_empty());
        a.on_timer(t(3000));
        assert_eq!(
            a.take_writes(),
            vec![CibRequest::Update {
                node: NodeId(2),
                attrs: vec![(name("a"), None)]
            }]
        );
    }
}

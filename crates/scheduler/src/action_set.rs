//! The actions the scheduler creates and the orderings between them: the
//! shared types every action-creating module works on, and the names of a
//! collective resource's pseudo-actions.

use std::collections::BTreeMap;

use foldhash::HashMap;

use crate::model::{Cluster, NodeIdx, RscIdx, Variant};

/// One scheduled (or considered) action.
#[derive(Debug, Clone)]
pub struct Action {
    pub id: usize,
    pub rsc: Option<RscIdx>,
    pub task: String,
    pub interval_ms: u64,
    pub node: Option<NodeIdx>,
    pub optional: bool,
    pub runnable: bool,
    pub pseudo: bool,
    pub reason: Option<String>,
    /// For fencing: reboot/off/on.
    pub fence_op: Option<String>,
    /// Part of a live migration that can still happen
    /// (`pe_action_migrate_runnable`).
    pub migrate_runnable: bool,
    /// For `requires_any` pseudo-actions: how many ONE_OR_MORE inputs must
    /// be runnable (0 = an ordinary action; 1 for clone "running").
    pub required_runnable: usize,
    /// In the graph even though optional (`pe_action_print_always`): set
    /// through `IMPLIES_THEN_PRINTED` orderings from a required action.
    pub print_always: bool,
    /// For a `cancel`: the recurring operation it stops.
    pub cancels: Option<Cancelled>,
    /// Meta-attributes the scheduler adds (clone notification data), written
    /// as `CRM_meta_*` unless the action has its own value.
    pub meta: BTreeMap<String, String>,
    /// A start that cannot run because an interleaved ordering took its
    /// instance's node (`multi_update_interleave_actions`): its rank among
    /// inhibitions (1 for the first, 0 for none). Pacemaker inhibits while it
    /// updates orderings, so colocation checks made before then still see
    /// the start as runnable, and a clone whose instances were inhibited
    /// earlier fails to start earlier.
    pub inhibited: u32,
}

impl Action {
    /// Fencing that takes a node down (reboot or off), not unfencing.
    pub fn is_fencing(&self) -> bool {
        self.rsc.is_none() && self.task == "stonith" && !self.is_unfencing()
    }

    /// Unfencing of a node (`stonith-NODE-on`).
    pub fn is_unfencing(&self) -> bool {
        self.rsc.is_none() && self.task == "stonith" && self.fence_op.as_deref() == Some("on")
    }
}

/// The recurring operation a `cancel` action stops: its task and, for an
/// operation cancelled from its history entry (`pcmk__schedule_cancel`),
/// the call id it was started with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancelled {
    pub task: String,
    pub call_id: Option<i64>,
}

/// Ordering flags.
pub mod flags {
    pub const IMPLIES_THEN: u32 = 1;
    pub const IMPLIES_FIRST: u32 = 2;
    pub const RUNNABLE_LEFT: u32 = 4;
    pub const RESTART: u32 = 8;
    /// `symmetrical=false` mandatory orderings.
    pub const ASYMMETRICAL: u32 = 16;
    /// "then" is runnable if any of its ONE_OR_MORE "firsts" is.
    pub const ONE_OR_MORE: u32 = 32;
    /// A collective "first" counts as required if any of its instances'
    /// actions is, wherever "then" runs (orderings with a clone "then").
    pub const WHOLE_FIRST: u32 = 256;
    /// "first" (a migration step) cannot run unless "then" can run and
    /// still migrate; a required "then" requires "first".
    pub const IMPLIES_FIRST_MIGRATABLE: u32 = 64;
    /// An unrunnable "first" turns "then" back into a real, unmigratable
    /// action (the start of an abandoned migration).
    pub const PSEUDO_LEFT: u32 = 128;
    /// Utilization ordering (`pe_order_load`): changes no flags and reaches
    /// the graph only between actions on the same node.
    pub const LOAD: u32 = 512;
    /// An ordering's flags applied to a member of a "then" group
    /// (`pcmk__group_update_ordered_actions`): not an input in the graph.
    pub const MEMBER: u32 = 1024;
    /// An anti-colocation's ordering (`pe_order_anti_colocation`): changes
    /// no flags; a graph input only on the same node (or without a node).
    pub const ANTI_COLOCATION: u32 = 2048;
    /// A runnable, required "first" puts "then" in the graph even if
    /// "then" stays optional (`pe_order_implies_then_printed`).
    pub const IMPLIES_THEN_PRINTED: u32 = 4096;
    /// Only an input in the graph while "first" is not part of a live
    /// migration (`pe_order_apply_first_non_migratable`).
    pub const FIRST_NON_MIGRATABLE: u32 = 8192;
    /// `pe_order_probe`: "then" (a probe) cannot run while "first" cannot,
    /// unless "first"'s resource is active somewhere.
    pub const PROBE: u32 = 16384;
    /// Between paired instances of interleaved clones: made while flags
    /// are updated, not an ordering constraint, so no "probe then"
    /// ordering follows from it (`add_probe_orderings_for_stops`).
    pub const INSTANCE_PAIR: u32 = 32768;
    /// A required "then" puts "first" in the graph even if "first" stays
    /// optional (`pe_order_implies_first_printed`).
    pub const IMPLIES_FIRST_PRINTED: u32 = 65536;
    /// A required "then" makes "first" optional again: a stop or demote
    /// cancels an agent reload (`pe_order_then_cancels_first`).
    pub const THEN_CANCELS_FIRST: u32 = 131072;
    /// Between two interleaved clones' own actions for a mandatory
    /// ordering: changes no flags (the paired instances carry them), but
    /// probe restart orderings follow it as Pacemaker's implies-then.
    pub const CLONE_IMPLIES_THEN: u32 = 262144;
    /// A `kind="Serialize"` ordering (`pe_order_serialize_only`): changes
    /// no flags, but keeps an unrunnable required "first" as an input in
    /// the graph, which "then" then waits for in vain.
    pub const SERIALIZE: u32 = 524288;
}

#[derive(Debug, Clone, Copy)]
pub struct Edge {
    pub first: usize,
    pub then: usize,
    pub flags: u32,
}

#[derive(Debug, Default)]
pub struct ActionSet {
    pub actions: Vec<Action>,
    pub edges: Vec<Edge>,
    /// Actions by resource, interval and node, then by task (a few per key):
    /// finding one allocates nothing.
    index: HashMap<(Option<RscIdx>, u64, Option<NodeIdx>), Vec<usize>>,
    /// Each resource's actions, in creation order.
    by_rsc: HashMap<RscIdx, Vec<usize>>,
    /// Each node's unfencing, kept apart from the index so that a node's
    /// fencing and unfencing (Pacemaker's `stonith-N-reboot` and
    /// `stonith-N-on`) are two actions.
    unfencing: HashMap<NodeIdx, usize>,
    /// Probes skipped because a guest node's container is stopped (true)
    /// or will stop: (container, top resource, stopped).
    pub(crate) guest_probe_orders: Vec<(RscIdx, RscIdx, bool)>,
    /// How many instances interleaved orderings inhibited so far.
    pub(crate) inhibitions: u32,
}

impl ActionSet {
    pub(crate) fn add(
        &mut self,
        rsc: Option<RscIdx>,
        task: &str,
        interval_ms: u64,
        node: Option<NodeIdx>,
        optional: bool,
    ) -> usize {
        if let Some(i) = self.find(rsc, task, interval_ms, node) {
            if !optional {
                self.actions[i].optional = false;
            }
            return i;
        }
        let id = self.push(rsc, task, interval_ms, node, optional);
        self.index.entry((rsc, interval_ms, node)).or_default().push(id);
        if let Some(r) = rsc {
            self.by_rsc.entry(r).or_default().push(id);
        }
        id
    }

    /// The unfencing of `node` (`pe_fence_op(node, "on", ...)`): created
    /// optional on first use; what requires it clears that.
    pub(crate) fn unfence(&mut self, node: NodeIdx) -> usize {
        if let Some(&a) = self.unfencing.get(&node) {
            return a;
        }
        let a = self.push(None, "stonith", 0, Some(node), true);
        self.actions[a].fence_op = Some("on".into());
        self.unfencing.insert(node, a);
        a
    }

    /// The unfencing of `node`, if anything asked for it.
    pub fn unfencing_of(&self, node: NodeIdx) -> Option<usize> {
        self.unfencing.get(&node).copied()
    }

    fn push(
        &mut self,
        rsc: Option<RscIdx>,
        task: &str,
        interval_ms: u64,
        node: Option<NodeIdx>,
        optional: bool,
    ) -> usize {
        let id = self.actions.len();
        self.actions.push(Action {
            id,
            rsc,
            task: task.to_string(),
            interval_ms,
            node,
            optional,
            runnable: true,
            pseudo: false,
            reason: None,
            fence_op: None,
            migrate_runnable: false,
            required_runnable: 0,
            print_always: false,
            cancels: None,
            meta: BTreeMap::new(),
            inhibited: 0,
        });
        id
    }

    pub fn find(&self, rsc: Option<RscIdx>, task: &str, interval_ms: u64, node: Option<NodeIdx>) -> Option<usize> {
        self.index
            .get(&(rsc, interval_ms, node))?
            .iter()
            .copied()
            .find(|&i| self.actions[i].task == task)
    }

    /// All actions of `rsc` with the given task (any node).
    pub fn of(&self, rsc: RscIdx, task: &str) -> Vec<usize> {
        self.by_rsc.get(&rsc).map_or_else(Vec::new, |ids| {
            ids.iter()
                .copied()
                .filter(|&i| self.actions[i].task == task && self.actions[i].interval_ms == 0)
                .collect()
        })
    }

    pub(crate) fn order(&mut self, first: usize, then: usize, flags: u32) {
        if first != then {
            self.edges.push(Edge { first, then, flags });
        }
    }
}

pub(crate) fn is_group(c: &Cluster, r: RscIdx) -> bool {
    matches!(c.rscs[r].variant, Variant::Group | Variant::Clone { .. })
}

/// The action that undoes `task` (start ↔ stop, promote ↔ demote, and their
/// collective pseudo-actions).
pub(crate) fn invert(task: &str) -> Option<&'static str> {
    Some(match task {
        "start" => "stop",
        "stop" => "start",
        "promote" => "demote",
        "demote" => "promote",
        "promoted" => "demoted",
        "demoted" => "promoted",
        "running" => "stopped",
        "stopped" => "running",
        _ => return None,
    })
}

/// Orderings where a collective resource comes first use its "completed"
/// pseudo-action.
/// A notified clone's orderings wait for the post-notifications of that
/// action to be confirmed (`action_uuid_for_ordering`).
pub(crate) fn map_first_action(c: &Cluster, r: RscIdx, task: &str) -> String {
    if !is_group(c, r) {
        return task.into();
    }
    let completed = match task {
        "start" | "running" => "running",
        "stop" | "stopped" => "stopped",
        "promote" | "promoted" => "promoted",
        "demote" | "demoted" => "demoted",
        t => return t.into(),
    };
    if c.notifies(r) {
        format!("confirmed-post_notify_{completed}")
    } else {
        completed.into()
    }
}

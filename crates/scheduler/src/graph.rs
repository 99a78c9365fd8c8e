//! The transition graph: the scheduled (required, runnable) actions and the
//! orderings between them, in the shape of Pacemaker's `<transition_graph>`.

use std::fmt::Write as _;

use std::collections::BTreeMap;

use super::graph_details::{self, Agent};
use super::task::{ActionId, Task};
use super::utilization;
use crate::action_set::{flags, Action, Edge};
use crate::model::{Cluster, Variant};
#[cfg(test)]
use crate::model::{NodeIdx, RscIdx};
use crate::plan::Schedule;
use cib::score::{Score, INFINITY};
use cib::xml::escape_attr;

/// The element a graph action is written as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionKind {
    /// A resource agent action the controller executes (`rsc_op`).
    RscOp,
    /// Nothing to execute; completes when its inputs do (`pseudo_event`).
    PseudoEvent,
    /// A node-level action: fencing, shutdown (`crm_event`).
    CrmEvent,
}

impl ActionKind {
    pub fn element(self) -> &'static str {
        match self {
            ActionKind::RscOp => "rsc_op",
            ActionKind::PseudoEvent => "pseudo_event",
            ActionKind::CrmEvent => "crm_event",
        }
    }
}

/// One graph action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphAction {
    pub id: ActionId,
    pub kind: ActionKind,
    pub task: Task,
    pub operation_key: String,
    /// The scheduler's own key when `operation_key` uses the history's name.
    pub internal_key: Option<String>,
    pub on_node: Option<String>,
    pub on_node_uuid: Option<String>,
    pub rsc: Option<String>,
    pub interval_ms: u64,
    /// How long the controller waits for the result (resource actions).
    pub timeout_ms: Option<u64>,
    /// The resource agent (resource actions that are not pseudo-events).
    pub agent: Option<Agent>,
    /// Resource parameters and `CRM_meta_*` attributes.
    pub attributes: BTreeMap<String, String>,
    /// Ids of the nodes the action brings down.
    pub downed: Vec<String>,
}

/// A synapse: an action and the actions it waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Synapse {
    pub id: usize,
    /// Run before other synapses when positive (`create_graph_synapse`).
    pub priority: Score,
    pub action: GraphAction,
    pub inputs: Vec<ActionId>,
}

/// The graph's own attributes (`pcmk__create_graph`), from the cluster
/// options as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphHeader {
    pub cluster_delay: String,
    pub stonith_timeout: String,
    /// `INFINITY` when `start-failure-is-fatal`, else `1`.
    pub failed_start_offset: &'static str,
    pub batch_limit: String,
    /// Written only when positive.
    pub migration_limit: Option<String>,
    pub transition_id: u64,
    /// When the controller must run the scheduler again (`recheck-by`).
    pub recheck_by: Option<i64>,
}

impl GraphHeader {
    pub fn new(c: &Cluster) -> GraphHeader {
        let o = &c.options.graph;
        GraphHeader {
            cluster_delay: o.cluster_delay.clone(),
            stonith_timeout: o.stonith_timeout.clone(),
            failed_start_offset: if c.options.start_failure_is_fatal {
                "INFINITY"
            } else {
                "1"
            },
            batch_limit: o.batch_limit.clone(),
            migration_limit: o
                .migration_limit
                .clone()
                .filter(|v| v.trim().parse::<i64>().is_ok_and(|l| l > 0)),
            transition_id: 0,
            recheck_by: c.recheck_by,
        }
    }

    fn to_xml(&self) -> String {
        let mut s = format!(
            "<transition_graph cluster-delay=\"{}\" stonith-timeout=\"{}\" failed-stop-offset=\"INFINITY\" \
             failed-start-offset=\"{}\" batch-limit=\"{}\" transition_id=\"{}\"",
            escape_attr(&self.cluster_delay),
            escape_attr(&self.stonith_timeout),
            self.failed_start_offset,
            escape_attr(&self.batch_limit),
            self.transition_id
        );
        if let Some(l) = &self.migration_limit {
            let _ = write!(s, " migration-limit=\"{}\"", escape_attr(l));
        }
        if let Some(t) = self.recheck_by {
            let _ = write!(s, " recheck-by=\"{t}\"");
        }
        s.push('>');
        s
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitionGraph {
    pub header: GraphHeader,
    pub synapses: Vec<Synapse>,
    /// Actions some synapse waits for that are not in the graph themselves
    /// (a required start of an unmanaged resource): nothing ever runs them,
    /// so what waits for them never fires, as with Pacemaker's controller
    /// (`should_add_input_to_graph` keeps such an input; the graph has no
    /// synapse for it). Listed to name them in the inputs.
    pub absent_inputs: Vec<GraphAction>,
}

/// Pacemaker's operation key, `RSC_TASK_INTERVAL`.
pub fn op_key(rsc: &str, task: &str, interval_ms: u64) -> String {
    format!("{rsc}_{task}_{interval_ms}")
}

/// The larger of the resource's priority and the action's own: a clone's
/// running, stopped, promoted and demoted pseudo-actions get INFINITY
/// (`clone_create_pseudo_actions`, `pe__create_promotable_pseudo_ops`).
/// `should_add_input_to_graph`: an input that is the stop of a live
/// migration is left out when every ordering between the two actions is
/// optional ("optional but stop in migration"), and so is a "first" that
/// still migrates when the ordering applies only to a first that does not
/// (`pe_order_apply_first_non_migratable`).
fn skipped_migrating_input(s: &Schedule, e: &Edge) -> bool {
    let first = &s.actions[e.first];
    if !first.migrate_runnable {
        return false;
    }
    if e.flags & flags::FIRST_NON_MIGRATABLE != 0 {
        return true;
    }
    // Orderings between the same two actions are one input whose flags
    // add up (`order_actions`).
    let ignored = flags::WHOLE_FIRST | flags::MEMBER | flags::CLONE_IMPLIES_THEN;
    let merged = s
        .edges
        .iter()
        .filter(|o| o.first == e.first && o.then == e.then)
        .fold(0, |acc, o| acc | (o.flags & !ignored));
    // Only a primitive's stop: collective pseudo-actions' internal
    // orderings carry flags not modelled here.
    let primitive = first.rsc.is_some_and(|r| s.cluster.rscs[r].is_primitive());
    merged == 0 && first.task == "stop" && primitive
}

/// Whether an ordering between two actions in the graph becomes an input
/// of its "then" (`should_add_input_to_graph`). A required "first" that
/// cannot run stays an input when the ordering can change actions
/// (`ordering_can_change_actions`), so "then" never runs. Of such
/// orderings only user ones are checked: the flags of the crate's internal
/// orderings stand for their effect on optional and runnable, not always
/// for Pacemaker's (an instance's demote before its clone's `demoted` is
/// `IMPLIES_THEN` here, `pe_order_implies_then_printed` there).
fn is_graph_input(s: &Schedule, required: &[bool], e: &Edge) -> bool {
    let (first, then) = (&s.actions[e.first], &s.actions[e.then]);
    let stuck = !first.runnable && (!first.optional || first.print_always) && e.flags & flags::SERIALIZE != 0;
    (required[e.first] || stuck)
        && e.flags & flags::MEMBER == 0
        && (e.flags & flags::ANTI_COLOCATION == 0
            || first.node.is_none()
            || then.node.is_none()
            || first.node == then.node)
        && (e.flags & flags::LOAD == 0 || utilization::load_edge_applies(&s.actions, &s.cluster, e))
        && !skipped_migrating_input(s, e)
        && !into_own_guest_container(s, e)
}

/// `should_add_action_to_graph` leaves out an unmanaged resource's actions
/// other than monitors and the cancellation of recurring ones, even when
/// they are required (lib/pacemaker/pcmk_graph_producer.c:505-526): the
/// controller never runs them, and a synapse waiting for one never fires.
fn left_out_as_unmanaged(c: &Cluster, a: &Action) -> bool {
    a.rsc.is_some_and(|r| !c.rscs[r].config.managed) && a.task != "monitor" && a.interval_ms == 0
}

/// An ordering from an action on a guest node to an action of the
/// container that defines that node is dropped from the graph, after it
/// has done its part in deciding what runs: the guest's resources cannot
/// wait for anything their own container does (`ordering_is_invalid`,
/// lib/pacemaker/pcmk_sched_ordering.c:1070-1080, with
/// `pcmk__rsc_corresponds_to_guest`, lib/pacemaker/pcmk_sched_remote.c:520;
/// the scheduler's own orderings between a guest and its container run
/// through the connection, whose actions are not on the guest).
fn into_own_guest_container(s: &Schedule, e: &Edge) -> bool {
    let c = &s.cluster;
    let (first, then) = (&s.actions[e.first], &s.actions[e.then]);
    let (Some(n), Some(then_rsc)) = (first.node, then.rsc) else {
        return false;
    };
    first.rsc.is_some()
        && c.nodes[n].is_guest()
        && c.nodes[n].remote.conn.and_then(|conn| c.rscs[conn].remote.container) == Some(then_rsc)
}

/// Drops a load ordering into a `migrate_to` that closes a loop: two
/// resources migrating each onto the other's node each wait for the other
/// to free its node (`ordering_is_invalid`,
/// lib/pacemaker/pcmk_sched_ordering.c:1082-1093, checked action by action
/// in creation order by `pcmk__disable_invalid_orderings`, so once one
/// ordering of a loop is dropped the others stay).
fn break_load_loops(s: &Schedule, input_edges: &mut [Vec<usize>]) {
    for a in 0..s.actions.len() {
        if s.actions[a].task != "migrate_to" {
            continue;
        }
        for i in input_edges[a].clone() {
            let e = &s.edges[i];
            if e.flags == flags::LOAD && reaches(s, input_edges, e.first, a) {
                input_edges[a].retain(|&x| x != i);
            }
        }
    }
}

/// Whether `target` is among the inputs of `from`, followed back.
fn reaches(s: &Schedule, input_edges: &[Vec<usize>], from: usize, target: usize) -> bool {
    let mut seen = vec![false; s.actions.len()];
    let mut stack = vec![from];
    while let Some(x) = stack.pop() {
        if x == target {
            return true;
        }
        if std::mem::replace(&mut seen[x], true) {
            continue;
        }
        stack.extend(input_edges[x].iter().map(|&i| s.edges[i].first));
    }
    false
}

fn synapse_priority(c: &Cluster, a: &Action) -> Score {
    let Some(r) = a.rsc else { return 0 };
    let completion = matches!(a.task.as_str(), "running" | "stopped" | "promoted" | "demoted");
    // Post-notifications too (`pe__clone_notif_pseudo_ops`,
    // `new_post_notify_action`).
    let post_notify = crate::notify::key_parts(&a.task).is_some_and(|(kind, _)| kind == "post");
    let own = if post_notify || (completion && matches!(c.rscs[r].variant, Variant::Clone { .. })) {
        INFINITY
    } else {
        0
    };
    own.max(c.rscs[r].config.priority)
}

/// Builds the graph from a schedule: only required, runnable actions.
pub fn build(s: &Schedule) -> TransitionGraph {
    let c = &s.cluster;
    // Required and runnable: an input of what is ordered after it, even
    // where it is left out of the graph itself (`should_add_input_to_graph`
    // drops optional inputs only).
    let required: Vec<bool> = s
        .actions
        .iter()
        .map(|a| (!a.optional || a.print_always) && a.runnable)
        .collect();
    let included: Vec<bool> = s
        .actions
        .iter()
        .map(|a| required[a.id] && !left_out_as_unmanaged(c, a))
        .collect();
    // Each action's incoming orderings.
    let mut into: Vec<Vec<usize>> = vec![Vec::new(); s.actions.len()];
    for (i, e) in s.edges.iter().enumerate() {
        into[e.then].push(i);
    }
    let mut input_edges: Vec<Vec<usize>> = (0..s.actions.len())
        .map(|a| {
            into[a]
                .iter()
                .copied()
                .filter(|&i| included[a] && is_graph_input(s, &required, &s.edges[i]))
                .collect()
        })
        .collect();
    break_load_loops(s, &mut input_edges);
    let mut synapses = Vec::new();
    for a in &s.actions {
        if !included[a.id] {
            continue;
        }
        let mut inputs: Vec<ActionId> = input_edges[a.id].iter().map(|&i| ActionId(s.edges[i].first)).collect();
        inputs.sort_unstable();
        inputs.dedup();
        synapses.push(Synapse {
            id: synapses.len(),
            priority: synapse_priority(c, a),
            action: describe(s, &into, a),
            inputs,
        });
    }
    // Inputs left out of the graph themselves (see `left_out_as_unmanaged`
    // and `is_graph_input`).
    let mut absent: Vec<usize> = synapses
        .iter()
        .flat_map(|syn| syn.inputs.iter().map(|i| i.0))
        .filter(|&i| !included[i])
        .collect();
    absent.sort_unstable();
    absent.dedup();
    let absent_inputs = absent.into_iter().map(|i| describe(s, &into, &s.actions[i])).collect();
    TransitionGraph {
        header: GraphHeader::new(c),
        synapses,
        absent_inputs,
    }
}

/// The graph's view of one action (`create_graph_action`).
fn describe(s: &Schedule, into: &[Vec<usize>], a: &Action) -> GraphAction {
    let c = &s.cluster;
    let rsc = a.rsc.map(|r| c.rscs[r].id.clone());
    let node_level = a.rsc.is_none() && matches!(a.task.as_str(), "stonith" | "do_shutdown");
    // create_graph_action: fencing is a crm_event (a pseudo_event for
    // guest nodes), shutdown a crm_event, other pseudo-actions carry no
    // node.
    let kind = if (node_level && !(a.pseudo && a.task == "stonith"))
        || matches!(a.task.as_str(), "clear_failcount" | "lrm_delete")
    {
        ActionKind::CrmEvent
    } else if a.task == "probe_again" && a.node.is_some() {
        // A node-level `custom_action`: neither pseudo nor fencing.
        ActionKind::RscOp
    } else if a.pseudo || a.rsc.is_none() || a.node.is_none() {
        ActionKind::PseudoEvent
    } else {
        ActionKind::RscOp
    };
    let node = a.node.filter(|_| node_level || kind != ActionKind::PseudoEvent);
    // A resource known by another name in its history (an anonymous
    // clone instance) is addressed by that name (`clone_op_key`).
    let clone_name = a.rsc.and_then(|r| c.clone_name(r));
    // A cancel is keyed by the operation it cancels (`clone_op_key`).
    let mut key_task = a
        .cancels
        .as_ref()
        .map_or(a.task.as_str(), |x| x.task.as_str())
        .to_string();
    // A notification under an instance's history name is keyed by what
    // it notifies about, a confirmation as plain `notified`
    // (`clone_op_key`).
    if clone_name.is_some() {
        match crate::notify::operation(&a.task) {
            Some("notify") => {
                if let (Some(t), Some(o)) = (a.meta.get("notify_type"), a.meta.get("notify_operation")) {
                    key_task = format!("{t}_notify_{o}");
                }
            }
            Some("notified") => key_task = "notified".into(),
            _ => {}
        }
    }
    let key_task = key_task.as_str();
    let internal_key = clone_name.and(rsc.as_ref()).map(|r| op_key(r, key_task, a.interval_ms));
    let operation_key = match (&rsc, a.task.as_str(), a.node) {
        (Some(r), _, _) => op_key(clone_name.unwrap_or(r), key_task, a.interval_ms),
        (None, "stonith", Some(n)) => format!(
            "stonith-{}-{}",
            c.nodes[n].uname,
            a.fence_op.as_deref().unwrap_or(&c.options.stonith_action)
        ),
        (None, "do_shutdown", Some(n)) => format!("do_shutdown-{}", c.nodes[n].uname),
        (None, "probe_again", Some(n)) => format!("probe_again-{}", c.nodes[n].uname),
        (None, utilization::LOAD_STOPPED, Some(n)) => format!("{}_{}", utilization::LOAD_STOPPED, c.nodes[n].uname),
        _ => a.task.clone(),
    };
    let migrating = a.task == "stop"
        && into[a.id]
            .iter()
            .map(|&i| &s.edges[i])
            .any(|e| e.then == a.id && s.actions[e.first].rsc == a.rsc && s.actions[e.first].task == "migrate_from");
    let attributes = graph_details::attributes(c, a, node.is_some());
    // The timeout the controller is told (`CRM_meta_timeout`).
    let timeout_ms = attributes.get("CRM_meta_timeout").and_then(|t| t.parse().ok());
    GraphAction {
        id: ActionId(a.id),
        kind,
        task: Task::from_name(crate::notify::operation(&a.task).unwrap_or(&a.task)),
        operation_key,
        internal_key,
        on_node: node.map(|n| c.nodes[n].uname.clone()),
        on_node_uuid: node.map(|n| c.nodes[n].id.clone()),
        rsc,
        interval_ms: a.interval_ms,
        timeout_ms,
        agent: a
            .rsc
            .filter(|_| kind != ActionKind::PseudoEvent)
            .and_then(|r| graph_details::agent(c, r)),
        attributes,
        downed: node.map_or_else(Vec::new, |_| graph_details::downed(c, a, migrating)),
    }
}

impl TransitionGraph {
    /// The actions that run, in the order crm_simulate runs them
    /// (`pcmk__execute_graph` with every action confirmed at once): passes
    /// over the synapses in graph order, each firing every synapse whose
    /// inputs have all run by the time the pass reaches it.
    /// A synapse waiting for one of the [`TransitionGraph::absent_inputs`]
    /// never runs; other inputs that are no synapse's action are ignored.
    /// Those waiting on an
    /// ordering cycle (or on what waits on one) are left out: the transition
    /// stalls there and they never run, as crm_simulate's graph execution
    /// stops when no synapse can fire.
    pub fn execution_order(&self) -> Vec<ActionId> {
        self.fired_synapses()
            .into_iter()
            .map(|i| self.synapses[i].action.id)
            .collect()
    }

    /// The actions of [`TransitionGraph::execution_order`] themselves.
    pub fn executed(&self) -> Vec<&GraphAction> {
        self.fired_synapses()
            .into_iter()
            .map(|i| &self.synapses[i].action)
            .collect()
    }

    /// [`TransitionGraph::execution_order`] as positions of the synapses.
    /// Kahn's algorithm with the ready synapses in two min-heaps by
    /// position, this pass's and the next's; a rescan of every remaining
    /// synapse per step was a sixth of the in-process time on the largest
    /// graphs.
    fn fired_synapses(&self) -> Vec<usize> {
        use foldhash::{HashMap, HashMapExt};
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        // The first synapse of each action (ids are unique in a graph).
        let mut position: HashMap<ActionId, usize> = HashMap::with_capacity(self.synapses.len());
        for (i, s) in self.synapses.iter().enumerate() {
            position.entry(s.action.id).or_insert(i);
        }
        let mut waiting_on = vec![0usize; self.synapses.len()];
        let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); self.synapses.len()];
        for (j, s) in self.synapses.iter().enumerate() {
            let mut inputs: Vec<usize> = s.inputs.iter().filter_map(|i| position.get(i).copied()).collect();
            inputs.sort_unstable();
            inputs.dedup();
            // One more input that never completes.
            let never = s.inputs.iter().any(|i| self.absent_inputs.iter().any(|a| a.id == *i));
            waiting_on[j] = inputs.len() + usize::from(never);
            for i in inputs {
                dependents[i].push(j);
            }
        }
        let mut this_pass: BinaryHeap<Reverse<usize>> = (0..self.synapses.len())
            .filter(|&j| waiting_on[j] == 0)
            .map(Reverse)
            .collect();
        let mut next_pass: BinaryHeap<Reverse<usize>> = BinaryHeap::new();
        let mut done = Vec::with_capacity(self.synapses.len());
        loop {
            let Some(Reverse(i)) = this_pass.pop() else {
                if next_pass.is_empty() {
                    break;
                }
                std::mem::swap(&mut this_pass, &mut next_pass);
                continue;
            };
            done.push(i);
            for &j in &dependents[i] {
                waiting_on[j] -= 1;
                if waiting_on[j] == 0 {
                    // The pass is at `i`: what lies behind it waits for the next.
                    if j > i {
                        this_pass.push(Reverse(j));
                    } else {
                        next_pass.push(Reverse(j));
                    }
                }
            }
        }
        done
    }

    /// The graph as Pacemaker's `<transition_graph>` XML.
    pub fn to_xml(&self) -> String {
        let mut out = self.header.to_xml();
        out.push('\n');
        for s in &self.synapses {
            if s.priority > 0 {
                let _ = writeln!(out, "  <synapse id=\"{}\" priority=\"{}\">", s.id, s.priority);
            } else {
                let _ = writeln!(out, "  <synapse id=\"{}\">", s.id);
            }
            out.push_str("    <action_set>\n");
            write_action(&mut out, &s.action);
            out.push_str("    </action_set>\n");
            if s.inputs.is_empty() {
                out.push_str("    <inputs/>\n");
            } else {
                out.push_str("    <inputs>\n");
                for i in &s.inputs {
                    let src = self
                        .synapses
                        .iter()
                        .map(|x| &x.action)
                        .chain(&self.absent_inputs)
                        .find(|a| a.id == *i);
                    if let Some(src) = src {
                        let _ = writeln!(out, "      <trigger>\n        {}/>\n      </trigger>", action_tag(src));
                    }
                }
                out.push_str("    </inputs>\n");
            }
            out.push_str("  </synapse>\n");
        }
        out.push_str("</transition_graph>\n");
        out
    }

    /// The graph as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "synapses": self.synapses.iter().map(|s| serde_json::json!({
                "id": s.id,
                "action": {
                    "id": s.action.id.0,
                    "kind": s.action.kind.element(),
                    "operation": s.action.task.as_str(),
                    "timeout_ms": s.action.timeout_ms,
                    "operation_key": s.action.operation_key,
                    "on_node": s.action.on_node,
                    "resource": s.action.rsc,
                    "interval_ms": s.action.interval_ms,
                },
                "inputs": s.inputs.iter().map(|i| i.0).collect::<Vec<_>>(),
            })).collect::<Vec<_>>()
        })
    }
}

/// The opening tag of an action, without its closing `>` or `/>`.
fn action_tag(a: &GraphAction) -> String {
    let mut s = format!(
        "<{} id=\"{}\" operation=\"{}\" operation_key=\"{}\"",
        a.kind.element(),
        a.id,
        // A node's load pseudo-action is named after the node (its key).
        escape_attr(if a.task == Task::LoadStopped {
            &a.operation_key
        } else {
            a.task.as_str()
        }),
        escape_attr(&a.operation_key)
    );
    if let Some(k) = &a.internal_key {
        let _ = write!(s, " internal_operation_key=\"{}\"", escape_attr(k));
    }
    if let Some(n) = &a.on_node {
        let _ = write!(s, " on_node=\"{}\"", escape_attr(n));
    }
    if let Some(n) = &a.on_node_uuid {
        let _ = write!(s, " on_node_uuid=\"{}\"", escape_attr(n));
    }
    s
}

fn write_attrs<'a>(out: &mut String, attrs: impl IntoIterator<Item = (&'a str, &'a str)>) {
    for (k, v) in attrs {
        let _ = write!(out, " {k}=\"{}\"", escape_attr(v));
    }
}

/// An action with its agent, attributes and downed nodes.
fn write_action(out: &mut String, a: &GraphAction) {
    let _ = writeln!(out, "      {}>", action_tag(a));
    if let Some(agent) = &a.agent {
        out.push_str("        <primitive");
        write_attrs(out, [("id", agent.id.as_str())]);
        write_attrs(out, agent.long_id.as_deref().map(|l| ("long-id", l)));
        write_attrs(out, [("class", agent.class.as_str())]);
        write_attrs(out, agent.provider.as_deref().map(|p| ("provider", p)));
        write_attrs(out, [("type", agent.ty.as_str())]);
        out.push_str("/>\n");
    }
    out.push_str("        <attributes");
    write_attrs(out, a.attributes.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    out.push_str("/>\n");
    if !a.downed.is_empty() {
        out.push_str("        <downed>\n");
        for id in &a.downed {
            let _ = writeln!(out, "          <node id=\"{}\"/>", escape_attr(id));
        }
        out.push_str("        </downed>\n");
    }
    let _ = writeln!(out, "      </{}>", a.kind.element());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{cib, clone, dummy, run};

    fn find<'a>(g: &'a TransitionGraph, key: &str) -> &'a GraphAction {
        &g.synapses
            .iter()
            .find(|s| s.action.operation_key == key)
            .unwrap_or_else(|| panic!("no {key} in {g:?}"))
            .action
    }

    #[test]
    fn an_action_of_a_guest_s_container_waits_for_nothing_on_the_guest() {
        let vm = "<primitive id=\"VM\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">\
                  <meta_attributes id=\"VM-m\"><nvpair id=\"VM-g\" name=\"remote-node\" value=\"g1\"/>\
                  </meta_attributes></primitive>";
        let cons = "<rsc_location id=\"l\" rsc=\"R\" node=\"g1\" score=\"100\"/>\
                    <rsc_order id=\"o\" first=\"R\" then=\"VM\"/>";
        let g = build(&run(&cib(1, &format!("{vm}{}", dummy("R")), cons, &[])));
        let id_of = |key: &str| {
            g.synapses
                .iter()
                .find(|s| s.action.operation_key == key)
                .map(|s| s.action.id)
                .unwrap_or_else(|| panic!("no {key}"))
        };
        let r_start = id_of("R_start_0");
        let vm = g
            .synapses
            .iter()
            .find(|s| s.action.operation_key == "VM_start_0")
            .expect("VM start");
        assert!(!vm.inputs.contains(&r_start), "{:?}", vm.inputs);
    }

    #[test]
    fn actions_waiting_on_an_ordering_cycle_never_run() {
        // m2 before m1 against the group's own m1 before m2: a cycle.
        let rscs = format!("{}<group id=\"g\">{}{}</group>", dummy("a"), dummy("m1"), dummy("m2"));
        let cons = "<rsc_order id=\"o\" first=\"m2\" then=\"m1\"/>";
        let g = build(&run(&cib(1, &rscs, cons, &[])));
        let ran: Vec<&str> = g
            .execution_order()
            .iter()
            .filter_map(|id| g.synapses.iter().find(|s| s.action.id == *id))
            .map(|s| s.action.operation_key.as_str())
            .collect();
        assert!(ran.contains(&"a_start_0"), "{ran:?}");
        assert!(!ran.contains(&"m1_start_0") && !ran.contains(&"m2_start_0"), "{ran:?}");
    }

    /// `pcmk__execute_graph` as written: passes over the synapses in order
    /// until one fires nothing.
    fn execution_order_by_passes(g: &TransitionGraph) -> Vec<ActionId> {
        let ids: Vec<ActionId> = g.synapses.iter().map(|s| s.action.id).collect();
        let mut done: Vec<ActionId> = Vec::new();
        let mut fired = vec![false; g.synapses.len()];
        loop {
            let before = done.len();
            for (k, s) in g.synapses.iter().enumerate() {
                if !fired[k] && s.inputs.iter().all(|i| done.contains(i) || !ids.contains(i)) {
                    fired[k] = true;
                    done.push(s.action.id);
                }
            }
            if done.len() == before {
                return done;
            }
        }
    }

    #[test]
    fn a_synapse_behind_the_pass_waits_for_the_next_one() {
        let base = build(&run(&cib(1, &dummy("x"), "", &[])));
        let mut g = base.clone();
        g.synapses = (0..4)
            .map(|k| {
                let mut s = base.synapses[0].clone();
                s.id = k;
                s.action.id = ActionId(10 + k);
                s.inputs.clear();
                s
            })
            .collect();
        // The first waits for the third; the pass goes on to the fourth.
        g.synapses[0].inputs.push(ActionId(12));
        let order: Vec<usize> = g.execution_order().iter().map(|a| a.0).collect();
        assert_eq!(order, [11, 12, 13, 10]);
    }

    #[test]
    fn execution_order_runs_passes_as_crm_simulate_does() {
        // Orders, a cycle, inputs that are no synapse's, repeated inputs, in
        // many shuffled graphs from a fixed generator.
        let base = build(&run(&cib(1, &dummy("x"), "", &[])));
        let template = base.synapses[0].clone();
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        for _ in 0..200 {
            let n = 1 + next(12) as usize;
            let mut g = base.clone();
            g.synapses = (0..n)
                .map(|k| {
                    let mut s = template.clone();
                    s.id = k;
                    s.action.id = ActionId(100 + next(1000) as usize * 16 + k);
                    s.inputs.clear();
                    s
                })
                .collect();
            let ids: Vec<ActionId> = g.synapses.iter().map(|s| s.action.id).collect();
            for s in &mut g.synapses {
                for _ in 0..next(4) {
                    let input = if next(8) == 0 {
                        ActionId(7)
                    } else {
                        ids[next(n as u64) as usize]
                    };
                    s.inputs.push(input);
                }
            }
            assert_eq!(g.execution_order(), execution_order_by_passes(&g));
        }
    }

    #[test]
    fn group_pseudo_events_carry_no_node() {
        let g = build(&run(&cib(
            1,
            &format!("<group id=\"g\">{}</group>", dummy("a")),
            "",
            &[],
        )));
        let start = find(&g, "g_start_0");
        assert_eq!((start.kind, start.on_node.as_deref()), (ActionKind::PseudoEvent, None));
        let a = find(&g, "a_start_0");
        assert_eq!((a.kind, a.on_node.as_deref()), (ActionKind::RscOp, Some("n1")));
        assert_eq!((&a.task, a.timeout_ms), (&Task::Start, Some(20_000)));
        assert_eq!(start.task, Task::Start);
    }

    #[test]
    fn group_members_wait_for_the_group_start_not_for_what_the_group_is_ordered_after() {
        let rscs = format!("{}<group id=\"g\">{}{}</group>", dummy("a"), dummy("m1"), dummy("m2"));
        let cons = "<rsc_order id=\"o\" first=\"a\" then=\"g\"/>";
        let g = build(&run(&cib(1, &rscs, cons, &[])));
        let inputs = |key: &str| -> Vec<String> {
            let s = g
                .synapses
                .iter()
                .find(|s| s.action.operation_key == key)
                .unwrap_or_else(|| panic!("no {key}"));
            s.inputs
                .iter()
                .map(|i| {
                    g.synapses
                        .iter()
                        .find(|x| x.action.id == *i)
                        .map(|x| x.action.operation_key.clone())
                        .unwrap_or_default()
                })
                .collect()
        };
        assert!(inputs("g_start_0").contains(&"a_start_0".to_string()));
        for member in ["m1_start_0", "m2_start_0"] {
            let got = inputs(member);
            assert!(got.contains(&"g_start_0".to_string()), "{member}: {got:?}");
            assert!(!got.contains(&"a_start_0".to_string()), "{member}: {got:?}");
        }
    }

    #[test]
    fn a_cloned_group_instance_is_started_by_the_clone_and_reports_running_to_it() {
        let group = format!("<group id=\"g\">{}{}</group>", dummy("a"), dummy("b"));
        let g = build(&run(&cib(1, &clone("c", &group, &[("clone-max", "1")]), "", &[])));
        let inputs = |key: &str| -> Vec<String> {
            let s = g.synapses.iter().find(|s| s.action.operation_key == key).expect(key);
            s.inputs
                .iter()
                .filter_map(|i| g.synapses.iter().find(|x| x.action.id == *i))
                .map(|x| x.action.operation_key.clone())
                .collect()
        };
        assert_eq!(inputs("g:0_start_0"), vec!["c_start_0".to_string()]);
        assert!(!inputs("g:0_running_0").contains(&"c_start_0".to_string()));
        assert!(inputs("c_running_0").contains(&"g:0_running_0".to_string()));
    }

    /// A clone whose instance on n2 (in maintenance, so unmanaged) failed its
    /// monitor; another instance starts on n1 and D is ordered after the
    /// clone (fuzz-16 of `ferrosync crm fuzz`, made small).
    fn failed_unmanaged_instance_cib(notify: &str) -> cib::Cib {
        let rscs = format!("{}{}", clone("C", &dummy("R"), &[("notify", notify)]), dummy("D"));
        let cons = "<rsc_order id=\"o\" first=\"C\" then=\"D\"/>";
        let xml = crate::testutil::cib_xml(2, &rscs, cons, &[(2, "maintenance", "true")]);
        crate::testutil::with_history(&xml, 2, "R", &[("start", 0, 0), ("monitor", 10000, 1)])
    }

    #[test]
    fn a_transition_waits_for_an_unmanaged_instance_s_start_that_recovery_requires() {
        // Pacemaker recovers a failed resource in place with a required
        // start, unmanaged or not (`start_resource`); an unmanaged one's
        // start never enters the graph, but the clone's `running` keeps it
        // as an input, so it and what follows never fire.
        let s = run(&failed_unmanaged_instance_cib("false"));
        let r2 = s
            .cluster
            .rscs
            .iter()
            .position(|r| r.id.starts_with("R:") && r.observed.running_on == [NodeIdx(1)])
            .map(RscIdx);
        let r2 = r2.expect("the instance on n2");
        let start = s
            .actions
            .iter()
            .find(|a| a.rsc == Some(r2) && a.task == "start")
            .expect("its start");
        assert!(!start.optional && start.runnable, "{start:?}");
        let g = build(&s);
        assert!(
            g.synapses.iter().all(|syn| syn.action.id.0 != start.id),
            "left out of the graph"
        );
        assert_eq!(g.absent_inputs.iter().map(|a| a.id.0).collect::<Vec<_>>(), [start.id]);
        let running = &g
            .synapses
            .iter()
            .find(|syn| syn.action.operation_key == "C_running_0")
            .expect("C_running_0");
        assert!(running.inputs.contains(&ActionId(start.id)));
        assert!(g
            .to_xml()
            .contains(&format!("<rsc_op id=\"{}\" operation=\"start\"", start.id)));
        let ran: Vec<&str> = g
            .execution_order()
            .into_iter()
            .map(|id| {
                g.synapses
                    .iter()
                    .find(|syn| syn.action.id == id)
                    .expect("ran")
                    .action
                    .operation_key
                    .as_str()
            })
            .collect();
        assert!(ran.contains(&"R:1_start_0"), "the other instance starts: {ran:?}");
        assert!(!ran.contains(&"C_running_0") && !ran.contains(&"D_start_0"), "{ran:?}");
    }

    #[test]
    fn an_unmanaged_instance_is_not_notified() {
        // Its notifications are made like the others' but optional
        // (`custom_action` calls `update_action_optional`), so none is in
        // the graph or waited for; the managed instance starting is.
        let g = build(&run(&failed_unmanaged_instance_cib("true")));
        let notified_on = |node: &str| {
            g.synapses
                .iter()
                .map(|syn| &syn.action)
                .chain(&g.absent_inputs)
                .filter(|a| a.operation_key.contains("_notify_") && a.on_node.as_deref() == Some(node))
                .count()
        };
        assert_eq!(notified_on("n2"), 0, "{:#?}", g.absent_inputs);
        assert!(notified_on("n1") > 0);
    }

    #[test]
    fn a_clone_none_of_whose_instances_can_start_cannot_start_either() {
        let cons = "<rsc_location id=\"l\" rsc=\"c\" node=\"n1\" score=\"-INFINITY\"/>";
        let s = run(&cib(1, &clone("c", &dummy("d"), &[]), cons, &[]));
        let r = s.cluster.rsc_by_id("c").expect("clone");
        for task in ["start", "running"] {
            let a = s
                .actions
                .iter()
                .find(|a| a.rsc == Some(r) && a.task == task)
                .expect("clone pseudo-action");
            assert!(!a.runnable, "{task}");
        }
    }

    #[test]
    fn starting_clone_has_running_with_infinite_priority_and_no_stop() {
        let g = build(&run(&cib(2, &clone("c", &dummy("d"), &[]), "", &[])));
        let running = g
            .synapses
            .iter()
            .find(|s| s.action.operation_key == "c_running_0")
            .expect("clone running");
        assert_eq!(running.priority, INFINITY);
        assert!(g.synapses.iter().all(|s| s.action.operation_key != "c_stopped_0"));
        let start = g
            .synapses
            .iter()
            .find(|s| s.action.operation_key == "c_start_0")
            .expect("start");
        assert_eq!(start.priority, 0);
    }

    #[test]
    fn shutdown_is_a_crm_event_keyed_by_node() {
        let g = build(&run(&cib(2, "", "", &[(1, "shutdown", "1000")])));
        let a = find(&g, "do_shutdown-n1");
        assert_eq!((a.kind, a.on_node.as_deref()), (ActionKind::CrmEvent, Some("n1")));
        assert_eq!((&a.task, a.timeout_ms), (&Task::Shutdown, None));
    }
}

//! Orderings that involve clones: `clone-min` / `require-all=false`
//! (`clone_min_ordering`), and how an ordering with a clone as "then"
//! reaches the clone's instances (`pcmk__multi_update_actions`): every
//! instance for ordinary clones, the instance on the same node for
//! interleaved ones.

use crate::action_set::{flags, map_first_action, ActionSet};
use crate::constraint_types::Ordering;
use crate::model::{Cluster, NodeIdx, Role, RscIdx, Variant};

fn is_clone(c: &Cluster, r: RscIdx) -> bool {
    matches!(c.rscs[r].variant, Variant::Clone { .. })
}

/// The actions standing for `task` of `r` as the "then" side of an ordering:
/// a collective's own pseudo-action plus, for groups, each member's action.
fn then_actions(s: &ActionSet, c: &Cluster, r: RscIdx, task: &str) -> Vec<usize> {
    if c.rscs[r].is_primitive() {
        return s.of(r, task);
    }
    let mut out: Vec<usize> = s.find(Some(r), task, 0, None).into_iter().collect();
    if matches!(c.rscs[r].variant, Variant::Group) && matches!(task, "start" | "stop" | "promote" | "demote") {
        for &k in &c.rscs[r].children {
            if c.rscs[k].is_primitive() {
                out.extend(s.of(k, task));
            }
        }
    }
    out
}

/// The actions standing for `task` of `r` as the "first" side: primitives'
/// own actions, a collective's "completed" pseudo-action.
fn first_actions(s: &ActionSet, c: &Cluster, r: RscIdx, task: &str) -> Vec<usize> {
    if c.rscs[r].is_primitive() {
        s.of(r, task)
    } else {
        let t = map_first_action(c, r, task);
        s.find(Some(r), &t, 0, None).into_iter().collect()
    }
}

/// `clone_child_action`: the instance task behind a clone's pseudo-action.
fn child_task(task: &str) -> &str {
    match crate::notify::notified_task(task) {
        "running" => "start",
        "stopped" => "stop",
        "promoted" => "promote",
        "demoted" => "demote",
        t => t,
    }
}

/// `clone_min_ordering`: a `clone-one-or-more:ID` pseudo-action becomes
/// runnable once `clone_min` instances of the first clone can run their
/// first action, and the "then" action needs it.
pub(super) fn order_clone_min(s: &mut ActionSet, c: &mut Cluster, o: &Ordering, then_flags: u32) {
    let task = format!("clone-one-or-more:{}", o.id);
    let met = s.add(None, &task, 0, None, true);
    s.actions[met].pseudo = true;
    s.actions[met].required_runnable = o.clone_min;
    for &k in &c.rscs[o.first].children {
        // No mapping of a group instance's start to "running" here: the
        // pseudo-action has no resource.
        let firsts: Vec<usize> = if c.rscs[k].is_primitive() {
            s.of(k, &o.first_action)
        } else {
            s.find(Some(k), &o.first_action, 0, None).into_iter().collect()
        };
        for f in firsts {
            s.order(f, met, flags::ONE_OR_MORE | flags::IMPLIES_THEN_PRINTED);
        }
    }
    for t in then_actions(s, c, o.then, &o.then_action) {
        s.order(met, t, then_flags | flags::RUNNABLE_LEFT | flags::WHOLE_FIRST);
    }
    // The instances are updated through their clone's action, not ordered
    // in the graph (`pcmk__multi_update_actions`).
    if is_clone(c, o.then) {
        for t in instance_actions(s, c, o.then, &o.then_action) {
            s.order(
                met,
                t,
                then_flags | flags::RUNNABLE_LEFT | flags::WHOLE_FIRST | flags::MEMBER,
            );
        }
    }
}

/// The instances' `task` actions of clone `r`.
pub(super) fn instance_actions(s: &ActionSet, c: &Cluster, r: RscIdx, task: &str) -> Vec<usize> {
    c.rscs[r]
        .children
        .iter()
        .flat_map(|&k| then_actions(s, c, k, task))
        .collect()
}

/// Whether an ordering between two clones is interleaved
/// (`can_interleave_actions`): the "then" clone decides, except for
/// stop/demote where the "first" clone does.
fn interleaved(c: &Cluster, first: RscIdx, then: RscIdx, then_task: &str) -> bool {
    if first == then || !is_clone(c, first) || !is_clone(c, then) {
        return false;
    }
    let r = if matches!(then_task, "stop" | "demote") {
        first
    } else {
        then
    };
    matches!(c.rscs[r].variant, Variant::Clone { interleave: true, .. })
}

/// Where an instance is (`current`) or will be placed.
fn instance_node(c: &Cluster, k: RscIdx, current: bool) -> Option<NodeIdx> {
    let prims = c.primitives_of(k);
    if current {
        prims
            .iter()
            .find_map(|&p| c.rscs[p].observed.running_on.first().copied())
    } else {
        prims.first().and_then(|&p| c.rscs[p].plan.assigned)
    }
}

/// `find_compatible_child`: the instance of `first` on the node of
/// `then_child` (or, when that is not placed, on its best allowed node).
fn compatible_instance(c: &Cluster, then_child: RscIdx, first: RscIdx, current: bool) -> Option<RscIdx> {
    let on = |n: NodeIdx| -> Option<RscIdx> {
        c.rscs[first].children.iter().copied().find(|&k| {
            let blocked = c.primitives_of(k).iter().any(|&p| c.rscs[p].plan.blocked);
            !blocked && instance_node(c, k, current) == Some(n)
        })
    };
    if let Some(n) = instance_node(c, then_child, current) {
        return on(n);
    }
    let rep = c.primitives_of(then_child).first().copied()?;
    let mut nodes: Vec<(NodeIdx, i32)> = c.rscs[rep]
        .plan
        .allowed
        .iter()
        .enumerate()
        .filter_map(|(n, w)| w.map(|w| (NodeIdx(n), if c.nodes[NodeIdx(n)].can_run() { w } else { i32::MIN })))
        .collect();
    nodes.sort_by(|a, b| b.1.cmp(&a.1).then(c.nodes[a.0].uname.cmp(&c.nodes[b.0].uname)));
    nodes.into_iter().find_map(|(n, _)| on(n))
}

/// `pcmk__assign_resource(rsc, NULL, true)` after actions exist: the
/// instance will not run, so its stops are required and starts and
/// recurring monitors cannot run.
fn inhibit(s: &mut ActionSet, c: &mut Cluster, k: RscIdx) {
    s.inhibitions += 1;
    let rank = s.inhibitions;
    for p in c.primitives_of(k) {
        c.rscs[p].plan.assigned = None;
        c.rscs[p].plan.next_role = Role::Stopped;
        for a in s.actions.iter_mut().filter(|a| a.rsc == Some(p)) {
            match a.task.as_str() {
                "stop" => a.optional = false,
                "start" => {
                    if a.runnable {
                        a.inhibited = rank;
                    }
                    a.runnable = false;
                }
                _ if a.interval_ms > 0 => a.runnable = false,
                _ => {}
            }
        }
    }
}

/// An interleaved ordering whose "then" instances without a partner are
/// inhibited: kept to pair them again once other orderings inhibited
/// instances of its "first" clone.
pub(super) struct Interleaved {
    first: RscIdx,
    then: RscIdx,
    /// Pairs by where instances are now (stop/demote orderings), which
    /// never inhibits.
    current: bool,
    fl: u32,
}

/// `multi_update_interleave_actions`: pairs each instance of the "then"
/// clone with the instance of the "first" clone on its node. Returns `None`
/// when the ordering is not interleaved.
pub(super) fn connect_interleaved(
    s: &mut ActionSet,
    c: &mut Cluster,
    first: RscIdx,
    first_task: &str,
    then: RscIdx,
    then_task: &str,
    fl: u32,
) -> Option<Interleaved> {
    if !interleaved(c, first, then, then_task) {
        return None;
    }
    let mapped = map_first_action(c, first, first_task);
    let current = matches!(crate::notify::notified_task(&mapped), "stopped" | "demoted");
    let task = child_task(&mapped).to_string();
    // The clones' own actions stay ordered (the graph shows it), but the
    // ordering updates only the paired instances
    // (`pcmk__multi_update_actions`), so it carries no flags.
    // (A mandatory ordering keeps a marker for the probe orderings that
    // follow it, `add_restart_orderings_for_probe`.)
    let marker = if fl & flags::IMPLIES_THEN != 0 {
        flags::CLONE_IMPLIES_THEN
    } else {
        0
    };
    for f in s.of(first, &mapped) {
        for t in s.of(then, then_task) {
            s.order(f, t, marker);
        }
    }
    for then_child in c.rscs[then].children.clone() {
        match compatible_instance(c, then_child, first, current) {
            None if current => {}
            None => {
                if fl & (flags::RUNNABLE_LEFT | flags::IMPLIES_THEN) != 0 {
                    inhibit(s, c, then_child);
                }
            }
            Some(first_child) => {
                let firsts = first_actions(s, c, first_child, &task);
                let thens = then_actions(s, c, then_child, then_task);
                // A group instance is ordered by its own action; its members
                // only take the flags (`pcmk__group_update_ordered_actions`).
                let own = s.find(Some(then_child), then_task, 0, None);
                let grouped = matches!(c.rscs[then_child].variant, Variant::Group) && own.is_some();
                for &f in &firsts {
                    for &t in &thens {
                        let member = grouped && Some(t) != own;
                        let extra = if member { flags::MEMBER } else { 0 };
                        s.order(f, t, fl | flags::INSTANCE_PAIR | extra);
                    }
                }
            }
        }
    }
    Some(Interleaved {
        first,
        then,
        current,
        fl,
    })
}

/// Pacemaker pairs instances again each time an action before an
/// interleaved ordering changes (`pcmk__update_action_for_orderings` calls
/// `multi_update_interleave_actions` again), so a "then" instance whose
/// partner another ordering inhibited afterwards loses its node too, and
/// so on along chains of orderings. Repeats until no instance is inhibited.
pub(super) fn inhibit_unpaired(s: &mut ActionSet, c: &mut Cluster, orders: &[Interleaved]) {
    loop {
        let mut changed = false;
        for o in orders {
            if o.current || o.fl & (flags::RUNNABLE_LEFT | flags::IMPLIES_THEN) == 0 {
                continue;
            }
            for then_child in c.rscs[o.then].children.clone() {
                if instance_node(c, then_child, false).is_some()
                    && compatible_instance(c, then_child, o.first, false).is_none()
                {
                    inhibit(s, c, then_child);
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
}

/// For each clone pseudo-action, the instance actions it summarises
/// (`summary_action_flags`): a clone's "running" counts as required for
/// ordering purposes only when some instance start is required.
pub(super) fn summary_inputs(c: &Cluster, s: &ActionSet) -> foldhash::HashMap<usize, Vec<usize>> {
    let mut out = foldhash::HashMap::default();
    for a in &s.actions {
        let Some(r) = a.rsc else { continue };
        if !is_clone(c, r) || a.node.is_some() {
            continue;
        }
        let task = child_task(&a.task);
        let leaves: Vec<usize> = c.primitives_of(r).into_iter().flat_map(|p| s.of(p, task)).collect();
        out.insert(a.id, leaves);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{cib, clone, dummy, run};
    use crate::model::NodeIdx;

    fn start_of<'a>(s: &'a super::super::Schedule, id: &str) -> Vec<&'a super::super::Action> {
        let r = s.cluster.rsc_by_id(id).expect("resource exists");
        s.actions
            .iter()
            .filter(|a| a.rsc == Some(r) && a.task == "start" && a.node.is_some())
            .collect()
    }

    #[test]
    fn clone_min_not_met_blocks_then() {
        // Only one node may run A, but clone-min is 2.
        let rscs = format!("{}{}", clone("A-clone", &dummy("A"), &[("clone-min", "2")]), dummy("B"));
        let cons = "<rsc_location id=\"l1\" rsc=\"A-clone\" node=\"n2\" score=\"-INFINITY\"/>\
                    <rsc_order id=\"o1\" first=\"A-clone\" then=\"B\"/>";
        let s = run(&cib(2, &rscs, cons, &[]));
        let b = start_of(&s, "B");
        assert_eq!(b.len(), 1);
        assert!(!b[0].runnable);
        assert_eq!(b[0].reason.as_deref(), Some("unrunnable clone-one-or-more:o1"));
    }

    #[test]
    fn require_all_false_needs_one_instance() {
        let rscs = format!("{}{}", clone("A-clone", &dummy("A"), &[]), dummy("B"));
        let cons = "<rsc_location id=\"l1\" rsc=\"A-clone\" node=\"n2\" score=\"-INFINITY\"/>\
                    <rsc_order id=\"o1\" first=\"A-clone\" then=\"B\" require-all=\"false\"/>";
        let s = run(&cib(2, &rscs, cons, &[]));
        assert!(start_of(&s, "B").iter().all(|a| a.runnable));
    }

    #[test]
    fn interleaved_instance_without_partner_is_inhibited() {
        // A can only run on n1; B (interleaved) is ordered after A, so only
        // the B instance on n1 has a partner and may start.
        let rscs = format!(
            "{}{}",
            clone("A-clone", &dummy("A"), &[]),
            clone("B-clone", &dummy("B"), &[("interleave", "true")])
        );
        let cons = "<rsc_location id=\"l1\" rsc=\"A-clone\" node=\"n2\" score=\"-INFINITY\"/>\
                    <rsc_order id=\"o1\" first=\"A-clone\" then=\"B-clone\"/>";
        let s = run(&cib(2, &rscs, cons, &[]));
        let runnable: Vec<_> = s
            .actions
            .iter()
            .filter(|a| {
                a.task == "start"
                    && a.runnable
                    && a.rsc.is_some_and(|r| s.cluster.rscs[r].id.starts_with("B:"))
                    && a.node.is_some()
            })
            .map(|a| s.cluster.nodes[a.node.unwrap_or(NodeIdx(0))].uname.clone())
            .collect();
        assert_eq!(runnable, vec!["n1".to_string()]);
    }

    #[test]
    fn inhibition_follows_chains_of_interleaved_orderings() {
        // A can only run on n1; C is ordered after B and B after A, all
        // interleaved, the later ordering listed first. B's instance on n2
        // loses its partner, and then C's instance there loses its own.
        let rscs = format!(
            "{}{}{}",
            clone("A-clone", &dummy("A"), &[]),
            clone("B-clone", &dummy("B"), &[("interleave", "true")]),
            clone("C-clone", &dummy("C"), &[("interleave", "true")])
        );
        let cons = "<rsc_location id=\"l1\" rsc=\"A-clone\" node=\"n2\" score=\"-INFINITY\"/>\
                    <rsc_order id=\"o1\" first=\"B-clone\" then=\"C-clone\"/>\
                    <rsc_order id=\"o2\" first=\"A-clone\" then=\"B-clone\"/>";
        let s = run(&cib(2, &rscs, cons, &[]));
        let n2 = s.cluster.node_by_name("n2");
        let on_n2: Vec<&str> = s
            .cluster
            .rscs
            .iter()
            .filter(|r| r.plan.assigned.is_some() && r.plan.assigned == n2)
            .map(|r| r.id.as_str())
            .collect();
        assert!(on_n2.is_empty(), "{on_n2:?}");
    }

    #[test]
    fn unrunnable_primary_start_blocks_colocated_dependent() {
        // C is disabled, A must start after C, B must be with A.
        let rscs = format!(
            "<primitive id=\"C\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">\
             <meta_attributes id=\"C-m\"><nvpair id=\"C-t\" name=\"target-role\" value=\"Stopped\"/>\
             </meta_attributes></primitive>{}{}",
            dummy("A"),
            dummy("B")
        );
        let cons = "<rsc_order id=\"o1\" first=\"C\" then=\"A\"/>\
                    <rsc_colocation id=\"c1\" rsc=\"B\" with-rsc=\"A\" score=\"INFINITY\"/>";
        let s = run(&cib(2, &rscs, cons, &[]));
        let b = start_of(&s, "B");
        assert!(b.iter().all(|a| !a.runnable));
        assert!(
            b.iter().any(|a| a.reason.as_deref() == Some("colocation with A")),
            "{b:?}"
        );
    }
}

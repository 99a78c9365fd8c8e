//! Probes: which clone instance is probed on a node (`clone_create_probe`
//! and `probe_anonymous_clone` in `lib/pacemaker/pcmk_sched_clone.c`: an
//! anonymous clone needs its state discovered once per node, so only one
//! instance is probed there; a unique clone probes every instance), and the
//! orderings after probes (`pcmk__order_probes` in
//! `lib/pacemaker/pcmk_sched_probes.c`).

use foldhash::{HashSet, HashSetExt};

use crate::action_set::{flags, Action, ActionSet};
use crate::model::{Cluster, NodeIdx, RscIdx, Variant};

/// The top-level anonymous clone `r` belongs to, with the clone's child
/// (the instance) that contains `r`. Bundles probe their replicas
/// themselves and are left out.
fn anonymous_instance(c: &Cluster, r: RscIdx) -> Option<(RscIdx, RscIdx)> {
    let mut instance = r;
    let mut cur = c.rscs[r].parent;
    while let Some(p) = cur {
        if let Variant::Clone { unique, .. } = c.rscs[p].variant {
            let bundled = c.bundles.iter().any(|b| b.rsc == p || b.child_clone == Some(p));
            return (!unique && !bundled && c.rscs[p].parent.is_none()).then_some((p, instance));
        }
        instance = p;
        cur = c.rscs[p].parent;
    }
    None
}

/// `rsc_known_on`: the resource or any primitive inside it has a known
/// state on the node.
fn known_on(c: &Cluster, r: RscIdx, n: NodeIdx) -> bool {
    c.primitives_of(r)
        .into_iter()
        .any(|p| c.rscs[p].observed.known_on.contains(&n))
}

/// The node an instance is placed on (`location(rsc, NULL, FALSE)`).
fn assigned(c: &Cluster, r: RscIdx) -> Option<NodeIdx> {
    c.rscs[r]
        .plan
        .assigned
        .or_else(|| c.primitives_of(r).into_iter().find_map(|p| c.rscs[p].plan.assigned))
}

/// The instance of anonymous clone `clone` to probe on `n`: one already
/// known there, else the one to be started there, else the first.
fn probed_instance(c: &Cluster, clone: RscIdx, n: NodeIdx) -> Option<RscIdx> {
    let mut children = c.rscs[clone].children.clone();
    children.sort_by_key(|&ch| c.rscs[ch].config.instance.unwrap_or(usize::MAX));
    children
        .iter()
        .copied()
        .find(|&ch| known_on(c, ch, n))
        .or_else(|| children.iter().copied().find(|&ch| assigned(c, ch) == Some(n)))
        .or_else(|| children.first().copied())
}

/// Whether primitive `r` is the one to probe on `n` as far as its clone is
/// concerned (always, outside anonymous clones).
pub fn instance_probed_on(c: &Cluster, r: RscIdx, n: NodeIdx) -> bool {
    match anonymous_instance(c, r) {
        Some((clone, instance)) => probed_instance(c, clone, n) == Some(instance),
        None => true,
    }
}

/// What a probe of `r` orders before: the start of its top-level clone,
/// or its own start outside clones and for a fence device once unfencing
/// is in use (`pcmk__probe_rsc_on_node`).
pub fn probe_target(c: &Cluster, r: RscIdx) -> RscIdx {
    let fence_device = matches!(&c.rscs[r].variant, Variant::Primitive { class, .. } if class == "stonith");
    if fence_device && c.options.enable_unfencing {
        return r;
    }
    let top = c.top_parent(r);
    // `uber_parent` stops below a bundle: a replica's container or IP
    // probes before its own start.
    if c.bundles.iter().any(|b| b.rsc == top) {
        return r;
    }
    match c.rscs[top].variant {
        Variant::Clone { .. } => top,
        _ => r,
    }
}

fn is_probe(a: &Action) -> bool {
    a.task == "monitor" && a.interval_ms == 0 && a.node.is_some()
}

/// `probe_needed_before_action`: probes come before everything except
/// unfencing their own node and shutting down another node.
fn probe_needed_before(probe: &Action, then: &Action, c: &Cluster) -> bool {
    let same_node = probe.node.is_some() && probe.node == then.node;
    match then.task.as_str() {
        "stonith" if then.rsc.is_none() => {
            !(same_node && then.fence_op.as_deref().unwrap_or(&c.options.stonith_action) == "on")
        }
        "do_shutdown" if then.rsc.is_none() => same_node || probe.node.is_none() || then.node.is_none(),
        _ => true,
    }
}

/// The orderings after probes, added once every other ordering exists:
/// restart orderings (`add_restart_orderings_for_rsc`) and "probe then X"
/// for every "stop then X" between different resources
/// (`add_probe_orderings_for_stops`). All are optional: they only order.
pub fn order_probes(s: &mut ActionSet, c: &Cluster) {
    let mut after: Vec<Vec<(usize, u32)>> = vec![Vec::new(); s.actions.len()];
    for e in &s.edges {
        after[e.first].push((e.then, e.flags));
    }
    let probes: Vec<usize> = s
        .actions
        .iter()
        .filter(|a| is_probe(a) && a.rsc.is_some_and(|r| c.rscs[r].is_primitive()))
        .map(|a| a.id)
        .collect();
    let mut new_edges = Vec::new();
    for &p in &probes {
        for &(then, _) in &after[p] {
            let mut seen = HashSet::new();
            restart_orderings(s, c, &after, p, then, &mut seen, &mut new_edges);
        }
    }
    for e in &s.edges {
        let (first, then) = (&s.actions[e.first], &s.actions[e.then]);
        let Some(x) = first.rsc.filter(|_| first.task == "stop" && first.interval_ms == 0) else {
            continue;
        };
        if then.rsc == Some(x) || !c.rscs[x].is_primitive() {
            continue;
        }
        // An ordering's "then" is its own action, not a group's members
        // (those edges are flag propagation only).
        if e.flags & (flags::MEMBER | flags::INSTANCE_PAIR) != 0 {
            continue;
        }
        // Nothing inside a stopping container waits for its probes.
        if then.rsc.is_some() && c.rscs[x].remote.container == then.rsc && then.task == "stop" {
            continue;
        }
        // A stop before unfencing is ordered on the same node only, where
        // probes come after the unfencing (`pcmk__order_restart_vs_unfence`
        // with `pe_order_same_node`).
        if then.is_unfencing() {
            continue;
        }
        for &p in probes.iter().filter(|&&p| s.actions[p].rsc == Some(x)) {
            if probe_needed_before(&s.actions[p], then, c) {
                // Load and anti-colocation orderings keep their type
                // (`add_probe_orderings_for_stops`).
                new_edges.push((p, e.then, e.flags & (flags::LOAD | flags::ANTI_COLOCATION)));
            }
        }
    }
    for (p, then, fl) in new_edges {
        s.order(p, then, fl);
    }
}

/// The instance of collective `clone` placed where `r` is placed
/// (`find_compatible_child`), for interleaved clones.
fn compatible_child(c: &Cluster, r: RscIdx, clone: RscIdx) -> Option<RscIdx> {
    let node = assigned(c, r)?;
    c.rscs[clone]
        .children
        .iter()
        .copied()
        .find(|&ch| assigned(c, ch) == Some(node))
}

/// `add_restart_orderings_for_probe`: a probe ordered before a start (or
/// promote) of another primitive also orders before that primitive's real
/// stops (or demotes), in case the start is part of a restart; the same
/// follows every action the start implies, and a collective's actions lead
/// on to its members' (only the compatible instance's when interleaved).
fn restart_orderings(
    s: &ActionSet,
    c: &Cluster,
    after: &[Vec<(usize, u32)>],
    probe: usize,
    a: usize,
    seen: &mut HashSet<usize>,
    out: &mut Vec<(usize, usize, u32)>,
) {
    if !seen.insert(a) {
        return;
    }
    let pr = s.actions[probe].rsc;
    let act = &s.actions[a];
    if let Some(ar) = act.rsc.filter(|&ar| c.rscs[ar].is_primitive() && Some(ar) != pr) {
        let undo = match act.task.as_str() {
            "start" => Some("stop"),
            "promote" => Some("demote"),
            _ => None,
        };
        if let Some(undo) = undo {
            for t in s.of(ar, undo) {
                if !s.actions[t].pseudo && s.actions[t].node.is_some() {
                    out.push((probe, t, 0));
                }
            }
        }
    }
    let clone_rsc = act
        .rsc
        .filter(|&ar| matches!(c.rscs[ar].variant, Variant::Clone { .. }));
    let interleave = clone_rsc.is_some_and(|ar| matches!(c.rscs[ar].variant, Variant::Clone { interleave: true, .. }));
    let compatible = match (interleave, pr, clone_rsc) {
        (true, Some(p), Some(cl)) => compatible_child(c, p, cl),
        _ => None,
    };
    // A mandatory ordering with a collective "first" is made from its
    // completion (`running`, or its confirmed post-notification), but when
    // Pacemaker adds these orderings it still starts from the collective's
    // own action (`pcmk__order_probes` runs before orderings are remapped).
    let mut outs: Vec<(usize, u32)> = after[a].clone();
    if let Some(ar) = act.rsc.filter(|&ar| crate::action_set::is_group(c, ar)) {
        if matches!(act.task.as_str(), "start" | "promote") {
            let mapped = crate::action_set::map_first_action(c, ar, &act.task);
            if let Some(m) = s.find(Some(ar), &mapped, 0, None) {
                for &(t, fl) in &after[m] {
                    let outside = s.actions[t].rsc.is_some_and(|tr| c.top_parent(tr) != c.top_parent(ar));
                    if fl & (flags::IMPLIES_THEN | flags::CLONE_IMPLIES_THEN) != 0 && outside {
                        outs.push((t, fl));
                    }
                }
            }
        }
    }
    for &(t, fl) in &outs {
        if fl & (flags::IMPLIES_THEN | flags::CLONE_IMPLIES_THEN) == 0 {
            let Some(ar) = act.rsc else { continue };
            let Some(tr) = s.actions[t].rsc else { continue };
            let descend = !c.rscs[ar].is_primitive()
                && pr.and_then(|p| c.rscs[p].parent) != Some(ar)
                && !matches!(c.rscs[tr].variant, Variant::Clone { .. })
                && c.rscs[tr].parent == Some(ar);
            if !descend || (interleave && compatible != Some(tr)) {
                continue;
            }
        }
        restart_orderings(s, c, after, probe, t, seen, out);
    }
}

#[cfg(test)]
mod tests {
    use crate::model::NodeIdx;
    use crate::testutil::{cib, clone, dummy, run};

    fn probes(s: &crate::Schedule) -> Vec<(String, NodeIdx)> {
        s.actions
            .iter()
            .filter(|a| a.task == "monitor" && a.interval_ms == 0)
            .map(|a| (s.cluster.rscs[a.rsc.unwrap()].id.clone(), a.node.unwrap()))
            .collect()
    }

    #[test]
    fn cloned_fence_devices_probe_before_their_own_start_once_unfencing_is_in_use() {
        let device = |provides: &str| {
            clone(
                "c",
                &format!(
                    "<primitive id=\"f\" class=\"stonith\" type=\"fence_mpath\"><meta_attributes id=\"f-m\">\
                     <nvpair id=\"f-p\" name=\"provides\" value=\"{provides}\"/></meta_attributes></primitive>"
                ),
                &[],
            )
        };
        let s = run(&cib(1, &device("unfencing"), "", &[]));
        let f0 = s.cluster.rsc_by_id("f:0").expect("instance");
        assert_eq!(super::probe_target(&s.cluster, f0), f0);
        let s = run(&cib(1, &device("other"), "", &[]));
        let c = s.cluster.rsc_by_id("c").expect("clone");
        assert_eq!(super::probe_target(&s.cluster, f0), c);
    }

    #[test]
    fn anonymous_clones_probe_the_instance_placed_on_the_node() {
        let s = run(&cib(2, &clone("c", &dummy("d"), &[]), "", &[]));
        assert_eq!(
            probes(&s),
            [("d:0".to_string(), NodeIdx(0)), ("d:1".to_string(), NodeIdx(1))]
        );
    }

    #[test]
    fn anonymous_clones_probe_the_first_instance_where_none_is_placed() {
        let s = run(&cib(2, &clone("c", &dummy("d"), &[("clone-max", "1")]), "", &[]));
        assert_eq!(
            probes(&s),
            [("d:0".to_string(), NodeIdx(0)), ("d:0".to_string(), NodeIdx(1))]
        );
    }

    #[test]
    fn unique_clones_probe_every_instance() {
        let s = run(&cib(
            1,
            &clone("c", &dummy("d"), &[("globally-unique", "true"), ("clone-max", "2")]),
            "",
            &[],
        ));
        let n = s
            .actions
            .iter()
            .filter(|a| a.task == "monitor" && a.interval_ms == 0)
            .count();
        assert_eq!(n, 2);
    }

    #[test]
    fn a_probe_before_a_start_also_precedes_the_restart_it_implies() {
        // B runs on n1; A is new. "A then B": A's start restarts B, and the
        // probes of A order before B's stop as well as before A's start.
        let op = |rsc: &str, task: &str| {
            format!(
                "<lrm_resource id=\"{rsc}\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">\
                 <lrm_rsc_op id=\"{rsc}_last_0\" operation_key=\"{rsc}_{task}_0\" operation=\"{task}\" call-id=\"1\" \
                 rc-code=\"{rc}\" op-status=\"0\" interval=\"0\" transition-key=\"1:1:0:x\" transition-magic=\"0:0;1:1:0:x\"/>\
                 </lrm_resource>",
                rc = if task == "start" { 0 } else { 7 }
            )
        };
        let state = |id: u32, lrm: String| {
            format!(
                "<node_state id=\"{id}\" uname=\"n{id}\" in_ccm=\"true\" crmd=\"online\" join=\"member\" \
                 expected=\"member\"><lrm id=\"{id}\"><lrm_resources>{lrm}</lrm_resources></lrm></node_state>"
            )
        };
        let xml = format!(
            "<cib have-quorum=\"1\" execution-date=\"1000\"><configuration><crm_config><cluster_property_set id=\"o\">\
             <nvpair id=\"o1\" name=\"stonith-enabled\" value=\"false\"/></cluster_property_set></crm_config>\
             <nodes><node id=\"1\" uname=\"n1\"/><node id=\"2\" uname=\"n2\"/></nodes><resources>{}{}</resources>\
             <constraints><rsc_order id=\"o\" first=\"A\" then=\"B\"/></constraints></configuration>\
             <status>{}{}</status></cib>",
            dummy("A"),
            dummy("B"),
            state(1, op("B", "start")),
            state(2, op("B", "monitor")),
        );
        let s = run(&cib::Cib::parse(&xml).expect("CIB"));
        let id = |task: &str, rsc: &str, node: usize| {
            s.actions
                .iter()
                .find(|a| {
                    a.task == task
                        && a.interval_ms == 0
                        && a.node == Some(NodeIdx(node))
                        && s.cluster.rscs[a.rsc.unwrap()].id == rsc
                })
                .unwrap_or_else(|| panic!("no {rsc} {task} on {node}"))
                .id
        };
        let (probe, b_stop) = (id("monitor", "A", 1), id("stop", "B", 0));
        assert!(!s.actions[b_stop].optional, "B restarts");
        assert!(s.edges.iter().any(|e| e.first == probe && e.then == b_stop));
    }
}

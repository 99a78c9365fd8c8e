//! Utilization orderings (`pcmk__create_utilization_constraints`): with a
//! placement strategy other than `default`, a resource with utilization
//! stops before a node's `load_stopped_NODE` pseudo-action, which comes
//! before starting (or migrating) resources there, so capacity is freed
//! before it is used.

use crate::action_set::{flags, Action, ActionSet, Edge};
use crate::model::{Cluster, NodeIdx, RscIdx};

/// The task of a node's load pseudo-action.
pub const LOAD_STOPPED: &str = "load_stopped";

/// `new_load_stopped_op`: the node's required pseudo-action.
fn load_stopped(s: &mut ActionSet, n: NodeIdx) -> usize {
    let a = s.add(None, LOAD_STOPPED, 0, Some(n), false);
    s.actions[a].pseudo = true;
    a
}

/// Orders each resource with utilization: its stops before the
/// `load_stopped` of their node, that of every node it is allowed on (in
/// node name order) before its starts and migrations.
pub fn order_load(s: &mut ActionSet, c: &Cluster) {
    if c.options.placement_strategy.eq_ignore_ascii_case("default") {
        return;
    }
    let mut by_name: Vec<NodeIdx> = NodeIdx::all(c.nodes.len()).collect();
    by_name.sort_by(|&a, &b| c.nodes[a].uname.cmp(&c.nodes[b].uname));
    for r in RscIdx::all(c.rscs.len()) {
        let rs = &c.rscs[r];
        if !rs.is_primitive() || rs.config.utilization.is_empty() {
            continue;
        }
        for &n in &rs.observed.running_on {
            let ls = load_stopped(s, n);
            for stop in s.of(r, "stop") {
                s.order(stop, ls, flags::LOAD);
            }
        }
        for &n in by_name.iter().filter(|&&n| rs.plan.allowed[n.0].is_some()) {
            let ls = load_stopped(s, n);
            for then in s.of(r, "start").into_iter().chain(s.of(r, "migrate_to")) {
                s.order(ls, then, flags::LOAD);
            }
        }
    }
}

/// Whether a load ordering reaches the graph (`should_add_input_to_graph`):
/// only between a required action and one on the same node (for a
/// migration, the node it migrates to).
pub fn load_edge_applies(actions: &[Action], c: &Cluster, e: &Edge) -> bool {
    let (first, then) = (&actions[e.first], &actions[e.then]);
    let then_node = match (then.task.as_str(), then.rsc) {
        ("migrate_to", Some(r)) => c.rscs[r].plan.assigned,
        _ => then.node,
    };
    !first.optional && first.node.is_some() && first.node == then_node
}

#[cfg(test)]
mod tests {
    use crate::graph::build;
    use crate::testutil::{cib, run};

    #[test]
    fn every_allowed_node_gets_a_load_pseudo_action_and_only_its_own_start_waits() {
        let r = r#"<primitive id="r" class="ocf" provider="pacemaker" type="Dummy">
            <utilization id="r-u"><nvpair id="r-u1" name="cpu" value="1"/></utilization></primitive>"#;
        let mut cib = cib(2, r, r#"<rsc_location id="l" rsc="r" node="n1" score="10"/>"#, &[]);
        std::sync::Arc::make_mut(&mut cib.configuration).crm_config[0]
            .pairs
            .push(("placement-strategy".into(), "utilization".into()));
        for (i, node) in std::sync::Arc::make_mut(&mut cib.configuration)
            .nodes
            .iter_mut()
            .enumerate()
        {
            node.utilization.push(cib::NvSet {
                id: format!("u{i}"),
                score: 0,
                rule: None,
                pairs: vec![("cpu".into(), "4".into())],
            });
        }
        let g = build(&run(&cib));
        let key_of = |id| {
            g.synapses
                .iter()
                .find(|s| s.action.id == id)
                .map(|s| s.action.operation_key.as_str())
        };
        let start = g
            .synapses
            .iter()
            .find(|s| s.action.operation_key == "r_start_0")
            .expect("r starts");
        let loads: Vec<&str> = start
            .inputs
            .iter()
            .filter_map(|&i| key_of(i))
            .filter(|k| k.starts_with("load_"))
            .collect();
        assert_eq!(loads, ["load_stopped_n1"]);
        assert!(g.synapses.iter().any(|s| s.action.operation_key == "load_stopped_n2"));
    }
}

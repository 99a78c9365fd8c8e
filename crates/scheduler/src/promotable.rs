//! A promotable clone's own promote/promoted and demote/demoted
//! pseudo-actions and their orderings (`pe__create_promotable_pseudo_ops`,
//! `pcmk__order_promotable_instances`, `pcmk__promotable_restart_ordering`
//! and `clone_internal_constraints` in Pacemaker).

use crate::action_set::{flags, ActionSet};
use crate::model::{Cluster, RscIdx, Variant};

/// `check_for_role_change`: whether any instance has a required demote,
/// and a required promote.
fn role_changes(s: &ActionSet, c: &Cluster, clone: RscIdx) -> (bool, bool) {
    let prims = c.primitives_of(clone);
    let required = |task: &str| {
        s.actions
            .iter()
            .any(|a| a.rsc.is_some_and(|r| prims.contains(&r)) && a.task == task && a.node.is_some() && !a.optional)
    };
    (required("demote"), required("promote"))
}

/// Creates the clone's promotion pseudo-actions (required when an instance
/// is promoted or demoted) and orders them with the instances and with the
/// clone's start and stop pseudo-actions, which must exist already.
pub fn create_pseudo_actions(s: &mut ActionSet, c: &Cluster, clone: RscIdx) {
    let (demoting, promoting) = role_changes(s, c, clone);
    let mut pseudo = |task: &str, optional: bool| {
        let a = s.add(Some(clone), task, 0, None, optional);
        s.actions[a].pseudo = true;
        a
    };
    let promote = pseudo("promote", !promoting);
    let promoted = pseudo("promoted", !promoting);
    let demote = pseudo("demote", !demoting);
    let demoted = pseudo("demoted", !demoting);
    let own = |s: &ActionSet, task: &str| s.find(Some(clone), task, 0, None);
    let (Some(start), Some(running), Some(stop), Some(stopped)) =
        (own(s, "start"), own(s, "running"), own(s, "stop"), own(s, "stopped"))
    else {
        return;
    };
    // clone_internal_constraints and pcmk__promotable_restart_ordering.
    s.order(demoted, stop, 0);
    s.order(running, promote, flags::RUNNABLE_LEFT);
    for (first, then) in [
        (stopped, start),
        (stopped, promote),
        (demoted, start),
        (demoted, promote),
        (demote, demoted),
    ] {
        s.order(first, then, 0);
    }
    let ordered = matches!(c.rscs[clone].variant, Variant::Clone { ordered: true, .. });
    let mut previous: Option<RscIdx> = None;
    for &instance in &c.rscs[clone].children {
        if !c.rscs[instance].is_primitive() {
            // A group instance: through its own pseudo-actions, an ordering
            // from it starting at its completion (`action_for_ordering`).
            let own = |s: &ActionSet, task: &str| s.find(Some(instance), task, 0, None);
            if let (Some(gp), Some(gpd), Some(gd), Some(gdd)) = (
                own(s, "promote"),
                own(s, "promoted"),
                own(s, "demote"),
                own(s, "demoted"),
            ) {
                s.order(gd, gp, 0);
                s.order(promote, gp, 0);
                s.order(gpd, promoted, 0);
                s.order(demote, gd, 0);
                s.order(gdd, demoted, flags::IMPLIES_THEN_PRINTED);
            }
            continue;
        }
        let (promotes, demotes) = (s.of(instance, "promote"), s.of(instance, "demote"));
        for &d in &demotes {
            for &p in &promotes {
                s.order(d, p, 0);
            }
            s.order(demote, d, flags::IMPLIES_FIRST);
            s.order(d, demoted, flags::IMPLIES_THEN);
        }
        for &p in &promotes {
            s.order(promote, p, 0);
            s.order(p, promoted, 0);
        }
        if let (true, Some(prev)) = (ordered, previous) {
            for pp in s.of(prev, "promote") {
                for &p in &promotes {
                    s.order(pp, p, 0);
                }
            }
            for &d in &demotes {
                for pd in s.of(prev, "demote") {
                    s.order(d, pd, 0);
                }
            }
        }
        previous = Some(instance);
    }
}

#[cfg(test)]
mod tests {
    use crate::graph::build;
    use crate::model::NodeIdx;
    use crate::testutil::{cib, clone, run};

    #[test]
    fn promoting_an_instance_requires_the_clone_promote_pseudo_actions() {
        let rsc = r#"<primitive id="d" class="ocf" provider="pacemaker" type="Stateful"/>"#;
        let g = build(&run(&cib(
            2,
            &clone("c", rsc, &[("promotable", "true")]),
            "",
            &[(1, "master-d", "10")],
        )));
        let keys: Vec<&str> = g.synapses.iter().map(|s| s.action.operation_key.as_str()).collect();
        for k in ["c_promote_0", "c_promoted_0", "c_running_0"] {
            assert!(keys.contains(&k), "{k} missing from {keys:?}");
        }
        assert!(!keys.contains(&"c_demote_0"));
        let promoted = g
            .synapses
            .iter()
            .find(|s| s.action.operation_key == "c_promoted_0")
            .unwrap();
        let inputs: Vec<&str> = promoted
            .inputs
            .iter()
            .filter_map(|i| g.synapses.iter().find(|s| s.action.id == *i))
            .map(|s| s.action.operation_key.as_str())
            .collect();
        assert!(
            inputs.iter().any(|k| k.ends_with("_promote_0") && k.starts_with("d:")),
            "{inputs:?}"
        );
    }

    #[test]
    fn monitors_follow_the_role_each_instance_will_have() {
        let rsc = r#"<primitive id="d" class="ocf" provider="pacemaker" type="Stateful"><operations>
            <op id="m10" name="monitor" interval="10s"/><op id="m5" name="monitor" interval="5s" role="Promoted"/>
            </operations></primitive>"#;
        let s = run(&cib(
            2,
            &clone("c", rsc, &[("promotable", "true")]),
            "",
            &[(1, "master-d", "10")],
        ));
        let mut mons: Vec<(NodeIdx, u64)> = s
            .actions
            .iter()
            .filter(|a| a.task == "monitor" && a.interval_ms > 0)
            .map(|a| (a.node.unwrap(), a.interval_ms))
            .collect();
        mons.sort_unstable();
        assert_eq!(mons, [(NodeIdx(0), 5_000), (NodeIdx(1), 10_000)]);
    }
}

//! Orderings implied by anti-colocations (`anti_colocation_order`): with a
//! `-INFINITY` colocation, each resource gives up its role before the other
//! takes its own, in both directions. They change no flags, and the graph
//! keeps them only between actions on the same node (or without a node).

use crate::action_set::{flags, is_group, map_first_action, ActionSet};
use crate::constraint_types::Coloc;
use crate::model::{Cluster, Role, RscIdx};
use cib::score::INFINITY;

/// The actions of `r` standing for `task` in an ordering.
fn actions(s: &ActionSet, c: &Cluster, r: RscIdx, task: &str, first: bool) -> Vec<usize> {
    if !is_group(c, r) {
        return s.of(r, task);
    }
    let task = if first {
        map_first_action(c, r, task)
    } else {
        task.to_string()
    };
    s.find(Some(r), &task, 0, None).into_iter().collect()
}

fn order_pair(s: &mut ActionSet, c: &Cluster, first: RscIdx, first_role: Role, then: RscIdx, then_role: Role) {
    // What makes `first` lose its role, and `then` gain its own.
    let first_tasks: &[&str] = match first_role {
        Role::Promoted => &["demote"],
        Role::Unpromoted => &["stop", "promote"],
        _ => &["stop"],
    };
    let then_tasks: &[&str] = match then_role {
        Role::Promoted => &["promote"],
        Role::Unpromoted => &["start", "demote"],
        _ => &["start"],
    };
    for ft in first_tasks {
        for tt in then_tasks {
            let firsts = actions(s, c, first, ft, true);
            let thens = actions(s, c, then, tt, false);
            for &f in &firsts {
                for &t in &thens {
                    s.order(f, t, flags::ANTI_COLOCATION);
                }
            }
        }
    }
}

/// Adds the orderings of every `-INFINITY` colocation.
pub fn order(s: &mut ActionSet, c: &Cluster, colocs: &[Coloc]) {
    for co in colocs.iter().filter(|co| co.score <= -INFINITY) {
        order_pair(s, c, co.dependent, co.dependent_role, co.primary, co.primary_role);
        order_pair(s, c, co.primary, co.primary_role, co.dependent, co.dependent_role);
    }
}

#[cfg(test)]
mod tests {
    use crate::action_set::flags;
    use crate::testutil::{cib, dummy, run};

    #[test]
    fn each_side_stops_before_the_other_starts() {
        let rscs = format!("{}{}", dummy("a"), dummy("b"));
        let cons = "<rsc_colocation id=\"c\" rsc=\"a\" with-rsc=\"b\" score=\"-INFINITY\"/>";
        let s = run(&cib(2, &rscs, cons, &[]));
        let of = |rsc: &str, task: &str| -> Vec<usize> {
            let r = s.cluster.rsc_by_id(rsc).expect("resource");
            s.actions
                .iter()
                .filter(|a| a.rsc == Some(r) && a.task == task)
                .map(|a| a.id)
                .collect()
        };
        let anti = |f: &str, t: &str| {
            of(f, "stop").iter().any(|&x| {
                of(t, "start").iter().any(|&y| {
                    s.edges
                        .iter()
                        .any(|e| e.first == x && e.then == y && e.flags == flags::ANTI_COLOCATION)
                })
            })
        };
        assert!(anti("a", "b") && anti("b", "a"));
        // Both still start (on different nodes).
        for r in ["a", "b"] {
            assert!(of(r, "start")
                .iter()
                .any(|&x| s.actions[x].node.is_some() && s.actions[x].runnable && !s.actions[x].optional));
        }
    }
}

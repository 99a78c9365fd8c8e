//! `pcmk__block_colocation_dependents`: when a start (or promote) becomes
//! unrunnable while the actions' flags are updated along orderings, and no
//! instance of the resource can do it, resources colocated with it at
//! INFINITY cannot start (or be promoted) either.

use super::actions::ActionSet;
use super::constraints::Coloc;
use crate::model::{Cluster, Role, RscIdx};
use crate::score::INFINITY;

/// Blocks what depends on `action` (which just became unrunnable); returns
/// whether anything changed.
pub(super) fn block_dependents(c: &Cluster, s: &mut ActionSet, colocs: &[Coloc], action: usize) -> bool {
    let a = &s.actions[action];
    let is_start = a.task == "start";
    if a.runnable || !(is_start || a.task == "promote") {
        return false;
    }
    let Some(r) = a.rsc else { return false };
    let task = a.task.clone();
    let top = c.top_parent(r);
    // The whole collective must be unable to do it.
    for &k in &c.rscs[top].children {
        let child_actions = instance_actions(c, s, k, &task);
        if child_actions.is_empty() || child_actions.iter().any(|&x| s.actions[x].runnable) {
            return false;
        }
    }
    let reason = format!("colocation with {}", c.rscs[r].id);
    let mut changed = false;
    for co in colocs.iter().filter(|co| co.primary == top && co.score >= INFINITY) {
        if !is_start && co.primary_role != Role::Promoted {
            continue;
        }
        let blocked = if co.dependent_role == Role::Promoted {
            "promote"
        } else {
            "start"
        };
        changed |= mark_blocked(c, s, co.dependent, blocked, &reason);
    }
    changed
}

/// The first action of `task` of an instance (its pseudo-action for a
/// collective instance, else any of its own).
fn instance_actions(c: &Cluster, s: &ActionSet, k: RscIdx, task: &str) -> Vec<usize> {
    if c.rscs[k].is_primitive() {
        s.of(k, task)
            .into_iter()
            .filter(|&a| s.actions[a].node.is_some())
            .take(1)
            .collect()
    } else {
        s.find(Some(k), task, 0, None).into_iter().collect()
    }
}

/// `mark_action_blocked`: the resource's and its children's `task`
/// actions become unrunnable for `reason`.
fn mark_blocked(c: &Cluster, s: &mut ActionSet, r: RscIdx, task: &str, reason: &str) -> bool {
    let mut changed = false;
    let ids: Vec<usize> = s
        .actions
        .iter()
        .filter(|a| a.rsc == Some(r) && a.task == task && a.interval_ms == 0 && a.runnable)
        .map(|a| a.id)
        .collect();
    for id in ids {
        s.actions[id].runnable = false;
        if s.actions[id].reason.is_none() {
            s.actions[id].reason = Some(reason.to_string());
        }
        changed = true;
    }
    for k in c.rscs[r].children.clone() {
        changed |= mark_blocked(c, s, k, task, reason);
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{cib, dummy, run};

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
        let b = s.cluster.rsc_by_id("B").expect("B exists");
        let start = s
            .actions
            .iter()
            .find(|a| a.rsc == Some(b) && a.task == "start" && a.node.is_some())
            .expect("B has a start");
        assert!(!start.runnable);
        assert_eq!(start.reason.as_deref(), Some("colocation with A"));
    }
}

//! Recurring operations for the Stopped role: a monitor configured with
//! `role="Stopped"` runs on every node where the resource is not to be
//! active, to notice it starting there (`recurring_op_for_inactive` in
//! `lib/pacemaker/pcmk_sched_recurring.c`).

use super::actions::{flags, ActionSet};
use crate::cib::is_true;
use crate::model::{Cluster, Role, RscIdx, Variant};

/// `pe_rsc_unique`: anonymous clone instances get no Stopped-role
/// operations (Pacemaker does not support them there).
fn unique(c: &Cluster, r: RscIdx) -> bool {
    match &c.rscs[c.top_parent(r)].variant {
        Variant::Clone { unique, .. } => *unique,
        _ => true,
    }
}

/// Creates the Stopped-role recurring operations of primitive `r`, after
/// its probes and stops: optional where already active, ordered after the
/// probe and the stop on the same node.
pub fn create_stopped_role_ops(s: &mut ActionSet, c: &Cluster, r: RscIdx) {
    let rs = &c.rscs[r];
    let maintenance = c.options.maintenance_mode || rs.meta.get("maintenance").is_some_and(|v| is_true(v));
    if rs.blocked || maintenance || !unique(c, r) {
        return;
    }
    let stopped_ops = rs
        .ops
        .iter()
        .filter(|o| o.interval_ms > 0 && o.role.as_deref().and_then(Role::parse) == Some(Role::Stopped))
        .filter(|o| o.attr("enabled").is_none_or(is_true));
    for op in stopped_ops {
        for n in 0..c.nodes.len() {
            if rs.assigned == Some(n) {
                continue;
            }
            let active = rs
                .active_recurring
                .iter()
                .any(|(m, name, i)| *m == n && *name == op.name && *i == op.interval_ms);
            let mon = s.add(Some(r), &op.name, op.interval_ms, Some(n), active);
            if let (true, Some(probe)) = (rs.managed, s.find(Some(r), "monitor", 0, Some(n))) {
                s.order(probe, mon, flags::RUNNABLE_LEFT);
            }
            if let Some(stop) = s.find(Some(r), "stop", 0, Some(n)) {
                if !s.actions[stop].runnable {
                    s.actions[mon].runnable = false;
                }
                if rs.managed {
                    s.order(stop, mon, flags::IMPLIES_THEN | flags::RUNNABLE_LEFT);
                }
            }
            let node = &c.nodes[n];
            if !node.online || node.unclean {
                s.actions[mon].runnable = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::scheduler::testutil::{cib, run};

    #[test]
    fn a_stopped_role_monitor_runs_where_the_resource_is_not() {
        let r = r#"<primitive id="r" class="ocf" provider="pacemaker" type="Dummy"><operations>
            <op id="r-m" name="monitor" interval="20s" role="Stopped"/></operations></primitive>"#;
        let s = run(&cib(
            2,
            r,
            r#"<rsc_location id="l" rsc="r" node="n1" score="100"/>"#,
            &[],
        ));
        let mons: Vec<(usize, bool)> = s
            .actions
            .iter()
            .filter(|a| a.task == "monitor" && a.interval_ms == 20_000)
            .map(|a| (a.node.unwrap(), a.optional))
            .collect();
        assert_eq!(mons, [(1, false)]);
        let probe = s
            .actions
            .iter()
            .find(|a| a.task == "monitor" && a.interval_ms == 0 && a.node == Some(1));
        let mon = s.actions.iter().find(|a| a.interval_ms == 20_000).unwrap().id;
        assert!(s
            .edges
            .iter()
            .any(|e| Some(e.first) == probe.map(|p| p.id) && e.then == mon));
    }
}

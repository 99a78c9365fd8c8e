//! Recurring operations for the Stopped role: a monitor configured with
//! `role="Stopped"` runs on every node where the resource is not to be
//! active, to notice it starting there (`recurring_op_for_inactive` in
//! `lib/pacemaker/pcmk_sched_recurring.c`); and cancellations of recurring
//! operations that are no longer configured or that maintenance suspends
//! (`process_rsc_history` in `pcmk_sched_actions.c`).

use super::op_meta::op_entry;
use crate::action_set::{flags, ActionSet, Cancelled};
use crate::digests::{expected_digest, only_private_changed};
use crate::history::history_entry;
use crate::model::{Cluster, NodeIdx, Role, RscIdx, Variant};
use crate::unpack::{active_ops_window, sorted_by_call_id};
use cib::{is_true, Cib, LrmOp};

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
    let maintenance = c.options.maintenance_mode || rs.config.meta.get("maintenance").is_some_and(|v| is_true(v));
    if rs.plan.blocked || maintenance || !unique(c, r) {
        return;
    }
    let stopped_ops = rs
        .config
        .ops
        .iter()
        .filter(|o| o.interval_ms > 0 && o.role.as_deref().and_then(Role::parse) == Some(Role::Stopped))
        .filter(|o| o.attr("enabled").is_none_or(is_true))
        .filter(|o| !is_op_dup(c, r, &o.name, o.interval_ms));
    for op in stopped_ops {
        for n in NodeIdx::all(c.nodes.len()) {
            let active = active_on(c, r, n, &op.name, op.interval_ms);
            if rs.plan.assigned == Some(n) {
                // Cancelled where the resource will be active, before it
                // starts there (`cancel_if_running`).
                if active {
                    let cancel = new_cancel(s, r, &op.name, op.interval_ms, n);
                    if matches!(rs.plan.next_role, Role::Started | Role::Unpromoted) {
                        for st in s.of(r, "start") {
                            s.order(cancel, st, flags::RUNNABLE_LEFT);
                        }
                    }
                }
                continue;
            }
            let mon = s.add(Some(r), &op.name, op.interval_ms, Some(n), active);
            if let (true, Some(probe)) = (rs.config.managed, s.find(Some(r), "monitor", 0, Some(n))) {
                s.order(probe, mon, flags::RUNNABLE_LEFT);
            }
            if let Some(stop) = s.find(Some(r), "stop", 0, Some(n)) {
                if !s.actions[stop].runnable {
                    s.actions[mon].runnable = false;
                }
                if rs.config.managed {
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

/// The history of `r` on `n` since its last start, by call id, or `None`
/// when `r` has no history there or its last stop came after its last
/// start (the window `process_recurring` and `process_rsc_history` read).
fn history_since_start<'a>(cib: &'a Cib, c: &Cluster, r: RscIdx, n: NodeIdx) -> Option<Vec<&'a LrmOp>> {
    let node = &c.nodes[n];
    let lr = cib
        .status
        .nodes
        .iter()
        .find(|st| st.id == node.id)
        .and_then(|st| history_entry(st, &c.rscs[r], n))?;
    let mut ops = sorted_by_call_id(&lr.ops);
    let (start, stop) = active_ops_window(&ops);
    if start < stop {
        return None;
    }
    Some(ops.split_off(start.max(0) as usize))
}

/// Whether `r` has more than one operation with this name and interval:
/// Pacemaker then creates no recurring action for any of them (`is_op_dup`).
pub fn is_op_dup(c: &Cluster, r: RscIdx, name: &str, interval_ms: u64) -> bool {
    c.rscs[r]
        .config
        .ops
        .iter()
        .filter(|o| o.name == name && o.interval_ms == interval_ms)
        .count()
        > 1
}

/// Actions that cannot be recurring (`op_cannot_recur`).
fn cannot_recur(name: &str) -> bool {
    matches!(
        name,
        "stop" | "start" | "demote" | "promote" | "reload-agent" | "migrate_to" | "migrate_from"
    )
}

/// Adds a cancel of `r`'s recurring `task` at `interval_ms` on `n`
/// (`pcmk__new_cancel_action`: keyed by the cancelled operation, no call id).
fn new_cancel(s: &mut ActionSet, r: RscIdx, task: &str, interval_ms: u64, n: NodeIdx) -> usize {
    let a = s.add(Some(r), "cancel", interval_ms, Some(n), false);
    s.actions[a].cancels = Some(Cancelled {
        task: task.to_string(),
        call_id: None,
    });
    a
}

/// Whether `r`'s recurring `task` at `interval_ms` is active on `n` (in its
/// history since the last start: `process_recurring` made an action of it).
fn active_on(c: &Cluster, r: RscIdx, n: NodeIdx, task: &str, interval_ms: u64) -> bool {
    c.rscs[r]
        .observed
        .active_recurring
        .iter()
        .any(|(m, name, i)| *m == n && name == task && *i == interval_ms)
}

/// `recurring_op_for_active`: a recurring operation configured for another
/// role than the one `r` will have on `nx` (`role_after`; an operation
/// without a role is for any role but Promoted) is cancelled where it is
/// running and would stay so (the start is optional and the operation is
/// not rescheduled), before the promotion, stop or demotion that changes
/// the role.
pub fn cancel_for_other_role(
    cib: &Cib,
    s: &mut ActionSet,
    c: &Cluster,
    r: RscIdx,
    nx: NodeIdx,
    start_optional: bool,
    role_after: Role,
) {
    let rs = &c.rscs[r];
    for op in rs
        .config
        .ops
        .iter()
        .filter(|o| o.interval_ms > 0 && !cannot_recur(&o.name))
    {
        if is_op_dup(c, r, &op.name, op.interval_ms) {
            continue;
        }
        if op.attr("enabled").is_some_and(|v| !is_true(v)) {
            continue;
        }
        let other_role = match op.role.as_deref().and_then(Role::parse) {
            None => role_after == Role::Promoted,
            Some(Role::Stopped) => false,
            Some(role) => role != role_after,
        };
        if !other_role
            || !start_optional
            || !active_on(c, r, nx, &op.name, op.interval_ms)
            || rescheduled(cib, c, r, nx, &op.name, op.interval_ms)
        {
            continue;
        }
        let cancel = new_cancel(s, r, &op.name, op.interval_ms, nx);
        let after = match rs.observed.role {
            Role::Unpromoted | Role::Started if role_after == Role::Promoted => "promote",
            Role::Unpromoted | Role::Started if role_after == Role::Stopped => "stop",
            Role::Promoted => "demote",
            _ => continue,
        };
        for a in s.of(r, after) {
            s.order(cancel, a, flags::RUNNABLE_LEFT);
        }
    }
}

/// Whether a recurring operation is configured and enabled
/// (`action_in_config`).
fn configured(c: &Cluster, r: RscIdx, task: &str, interval_ms: u64) -> bool {
    op_entry(&c.rscs[r].config.ops, task, interval_ms)
        .is_some_and(|o| o.interval_ms == interval_ms && o.attr("enabled").is_none_or(is_true))
}

/// Cancels, on each node where `r` is active (and that can run actions, or
/// is in maintenance), the recurring operations of its history since the
/// last start that are no longer configured (with `stop-orphan-actions`) or
/// that maintenance mode suspends; each cancel follows the resource's stops.
pub fn cancel_orphaned(cib: &Cib, s: &mut ActionSet, c: &Cluster, r: RscIdx) {
    let rs = &c.rscs[r];
    if rs.observed.orphan {
        return;
    }
    let rsc_maintenance = rs.config.meta.get("maintenance").is_some_and(|v| is_true(v));
    for n in NodeIdx::all(c.nodes.len()) {
        let node = &c.nodes[n];
        if !(node.maintenance || node.can_run()) || !rs.observed.running_on.contains(&n) {
            continue;
        }
        let Some(ops) = history_since_start(cib, c, r, n) else {
            continue;
        };
        for op in ops.iter().filter(|op| op.interval_ms > 0) {
            let cancel = if rsc_maintenance || node.maintenance {
                true
            } else {
                !configured(c, r, &op.operation, op.interval_ms) && c.options.stop_orphan_actions
            };
            if !cancel {
                continue;
            }
            let a = s.add(Some(r), "cancel", op.interval_ms, Some(n), false);
            s.actions[a].cancels = Some(Cancelled {
                task: op.operation.clone(),
                call_id: Some(op.call_id),
            });
            // A node in maintenance may be down: nothing runs there
            // (`update_resource_action_runnable`), so the cancel never
            // reaches the graph.
            if !node.online && (!node.is_guest() || node.remote.requires_reset) {
                s.actions[a].runnable = false;
            }
            for stop in s.of(r, "stop") {
                s.order(stop, a, 0);
            }
        }
    }
}

/// Whether the recurring `task` of `r` at `interval_ms`, active on `n`, is
/// rescheduled because its parameters changed (or its history records no
/// digest): `pcmk__reschedule_recurring` from `pcmk__check_action_config`.
pub fn rescheduled(cib: &Cib, c: &Cluster, r: RscIdx, n: NodeIdx, task: &str, interval_ms: u64) -> bool {
    let rs = &c.rscs[r];
    let node = &c.nodes[n];
    // The parameters of a bundle's IPs and connections are not
    // reproduced, so their digests cannot be compared.
    if super::bundle::digests_unknown(c, r) {
        return false;
    }
    if node.maintenance
        || !node.can_run()
        || !rs.observed.running_on.contains(&n)
        || rs.config.meta.get("maintenance").is_some_and(|v| is_true(v))
    {
        return false;
    }
    let Some(ops) = history_since_start(cib, c, r, n) else {
        return false;
    };
    let failure_expired = c
        .expired_recurring
        .iter()
        .any(|(er, en, t, i)| *er == r && *en == n && t == task && *i == interval_ms);
    if failure_expired {
        return true;
    }
    ops.iter()
        .filter(|op| op.operation == task && op.interval_ms == interval_ms)
        .any(|op| match &op.op_digest {
            None => true,
            Some(d) => *d != expected_digest(c, r, op) && !only_private_changed(c, r, op),
        })
}

/// The nodes where `r` is active and its history since the last start has
/// an operation whose definition changed (`pcmk__check_action_config` in
/// `process_rsc_history`): a recurring operation no longer configured, or
/// a start, monitor, promote or migrate_from whose parameter digest
/// differs.
pub fn definition_changes(cib: &Cib, c: &Cluster, r: RscIdx) -> Vec<NodeIdx> {
    let rs = &c.rscs[r];
    let mut out = Vec::new();
    // The parameters of a bundle's IPs and connections are not
    // reproduced, so their digests cannot be compared (as in `rescheduled`).
    if rs.observed.orphan || super::bundle::digests_unknown(c, r) {
        return out;
    }
    let rsc_maintenance = rs.config.meta.get("maintenance").is_some_and(|v| is_true(v));
    for n in NodeIdx::all(c.nodes.len()) {
        let node = &c.nodes[n];
        if !(node.maintenance || node.can_run()) || !rs.observed.running_on.contains(&n) {
            continue;
        }
        let Some(ops) = history_since_start(cib, c, r, n) else {
            continue;
        };
        let changed = ops.iter().any(|op| {
            if op.interval_ms > 0 && (rsc_maintenance || node.maintenance) {
                return false;
            }
            let checked =
                op.interval_ms > 0 || matches!(op.operation.as_str(), "monitor" | "start" | "promote" | "migrate_from");
            if !checked {
                return false;
            }
            if op.interval_ms > 0 && !configured(c, r, &op.operation, op.interval_ms) {
                return true;
            }
            match &op.op_digest {
                None => true,
                Some(d) => *d != expected_digest(c, r, op) && !only_private_changed(c, r, op),
            }
        });
        if changed {
            out.push(n);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::model::NodeIdx;
    use crate::testutil::{cib, run};

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
        let mons: Vec<(NodeIdx, bool)> = s
            .actions
            .iter()
            .filter(|a| a.task == "monitor" && a.interval_ms == 20_000)
            .map(|a| (a.node.unwrap(), a.optional))
            .collect();
        assert_eq!(mons, [(NodeIdx(1), false)]);
        let probe = s
            .actions
            .iter()
            .find(|a| a.task == "monitor" && a.interval_ms == 0 && a.node == Some(NodeIdx(1)));
        let mon = s.actions.iter().find(|a| a.interval_ms == 20_000).unwrap().id;
        assert!(s
            .edges
            .iter()
            .any(|e| Some(e.first) == probe.map(|p| p.id) && e.then == mon));
    }

    #[test]
    fn a_recurring_op_no_longer_configured_is_cancelled_after_the_stops() {
        let op = |key: &str, task: &str, interval: u32, call: u32| {
            format!(
                "<lrm_rsc_op id=\"{key}\" operation_key=\"{key}\" operation=\"{task}\" call-id=\"{call}\" rc-code=\"0\" \
                 op-status=\"0\" interval=\"{interval}\" transition-key=\"1:1:0:x\" transition-magic=\"0:0;1:1:0:x\"/>"
            )
        };
        let xml = format!(
            "<cib have-quorum=\"1\" execution-date=\"1000\"><configuration><crm_config><cluster_property_set id=\"o\">\
             <nvpair id=\"o1\" name=\"stonith-enabled\" value=\"false\"/></cluster_property_set></crm_config>\
             <nodes><node id=\"1\" uname=\"n1\"/></nodes><resources>\
             <primitive id=\"r\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"><operations>\
             <op id=\"r-m\" name=\"monitor\" interval=\"10s\"/></operations></primitive></resources>\
             <constraints/></configuration><status><node_state id=\"1\" uname=\"n1\" in_ccm=\"true\" crmd=\"online\" \
             join=\"member\" expected=\"member\"><lrm id=\"1\"><lrm_resources>\
             <lrm_resource id=\"r\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">{}{}</lrm_resource>\
             </lrm_resources></lrm></node_state></status></cib>",
            op("r_last_0", "start", 0, 2),
            op("r_monitor_5000", "monitor", 5000, 3),
        );
        let s = run(&cib::Cib::parse(&xml).expect("CIB"));
        let g = crate::graph::build(&s);
        let cancel = g
            .synapses
            .iter()
            .find(|x| x.action.task == crate::Task::Cancel)
            .expect("a cancel");
        assert_eq!(cancel.action.operation_key, "r_monitor_5000");
        let a = &cancel.action.attributes;
        assert_eq!(a.get("CRM_meta_operation").map(String::as_str), Some("monitor"));
        assert_eq!(a.get("CRM_meta_call_id").map(String::as_str), Some("3"));
        assert_eq!(a.get("CRM_meta_interval").map(String::as_str), Some("5000"));
    }

    fn monitored(monitor_digest: &str) -> cib::Cib {
        let start = cib::digest::operation_digest(&std::collections::BTreeMap::new(), 0, 20_000);
        let xml = format!(
            "<cib have-quorum=\"1\" execution-date=\"1000\"><configuration><crm_config>\
             <cluster_property_set id=\"o\"><nvpair id=\"o1\" name=\"stonith-enabled\" value=\"false\"/>\
             </cluster_property_set></crm_config><nodes><node id=\"1\" uname=\"n1\"/></nodes><resources>\
             <primitive id=\"r\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"><operations>\
             <op id=\"r-m\" name=\"monitor\" interval=\"10s\"/></operations></primitive></resources>\
             <constraints/></configuration><status><node_state id=\"1\" uname=\"n1\" in_ccm=\"true\" \
             crmd=\"online\" join=\"member\" expected=\"member\"><lrm id=\"1\"><lrm_resources>\
             <lrm_resource id=\"r\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">\
             <lrm_rsc_op id=\"r_last_0\" operation=\"start\" call-id=\"1\" rc-code=\"0\" op-status=\"0\" \
             interval=\"0\" transition-key=\"1:1:0:x\" op-digest=\"{start}\"/>\
             <lrm_rsc_op id=\"r_monitor_10000\" operation=\"monitor\" call-id=\"2\" rc-code=\"0\" \
             op-status=\"0\" interval=\"10000\" transition-key=\"1:1:0:x\" op-digest=\"{monitor_digest}\"/>\
             </lrm_resource></lrm_resources></lrm></node_state></status></cib>"
        );
        cib::Cib::parse(&xml).expect("test CIB parses")
    }

    #[test]
    fn a_monitor_whose_parameters_changed_is_rescheduled() {
        let required = |cib: &cib::Cib| {
            let s = run(cib);
            s.actions
                .iter()
                .any(|a| a.task == "monitor" && a.interval_ms == 10_000 && !a.optional)
        };
        let current = cib::digest::operation_digest(&std::collections::BTreeMap::new(), 10_000, 20_000);
        assert!(!required(&monitored(&current)));
        assert!(required(&monitored("0123456789abcdef0123456789abcdef")));
    }
}

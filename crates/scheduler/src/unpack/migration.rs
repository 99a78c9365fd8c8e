//! Live-migration history (`unpack_migrate_to_success`,
//! `unpack_migrate_to_failure`, `unpack_migrate_from_failure`): a
//! migrate_to or migrate_from in a node's history can leave the resource
//! active on the other node of the migration too, partially migrated
//! (migrate_to done, migrate_from not yet), or with a "dangling" source
//! (both done, but the source was never stopped).

use std::cmp::Ordering;

use crate::model::{Cluster, NodeIdx, Role, RscIdx};
use cib::{LrmOp, LrmResource};

use super::op_order::is_newer;

/// The history entry id (`lrm_resource`) of `r` on node `n`.
fn history_id(c: &Cluster, r: RscIdx, n: NodeIdx) -> String {
    c.rscs[r]
        .observed
        .history_ids
        .iter()
        .rev()
        .find(|(m, _)| *m == n)
        .map(|(_, id)| id.clone())
        .unwrap_or_else(|| c.rscs[r].id.clone())
}

/// The `lrm_resource` for `rsc_id` on the node named `node`.
fn lrm_resource<'a>(c: &'a Cluster, rsc_id: &str, node: &str) -> Option<&'a LrmResource> {
    c.status
        .nodes
        .iter()
        .filter(|st| st.uname.as_deref() == Some(node))
        .flat_map(|st| st.lrm.iter())
        .find(|lr| lr.id == rsc_id)
}

/// `find_lrm_op`: the first `task` entry for the resource on `node`; for
/// migrations only one whose other end is `peer`; with `rc`, only a
/// completed one with that result.
fn find_op<'a>(
    c: &'a Cluster,
    rsc_id: &str,
    task: &str,
    node: &str,
    peer: Option<&str>,
    rc: Option<i32>,
) -> Option<&'a LrmOp> {
    let lr = lrm_resource(c, rsc_id, node)?;
    let op = lr.ops.iter().find(|o| {
        o.operation == task
            && match (peer, task) {
                (Some(p), "migrate_to") => o.migrate_target.as_deref() == Some(p),
                (Some(p), "migrate_from") => o.migrate_source.as_deref() == Some(p),
                _ => true,
            }
    })?;
    match rc {
        Some(rc) if op.rc_code != rc || op.op_status != 0 => None,
        _ => Some(op),
    }
}

fn same_op(a: &LrmOp, b: &LrmOp) -> bool {
    std::ptr::eq(a, b) || (a.id == b.id && a.call_id == b.call_id && a.operation == b.operation)
}

/// `unknown_on_node`: no history of the resource on the node.
fn unknown_on(c: &Cluster, rsc_id: &str, node: &str) -> bool {
    lrm_resource(c, rsc_id, node).is_none_or(|lr| lr.ops.is_empty())
}

/// `monitor_not_running_after`.
fn monitor_not_running_after(c: &Cluster, rsc_id: &str, node: &str, op: &LrmOp, same_node: bool) -> bool {
    find_op(c, rsc_id, "monitor", node, None, Some(7)).is_some_and(|m| is_newer(m, op, same_node) == Ordering::Greater)
}

/// `non_monitor_after`: a start, stop or migration on `node` after `op`.
fn non_monitor_after(c: &Cluster, rsc_id: &str, node: &str, op: &LrmOp, same_node: bool) -> bool {
    let Some(lr) = lrm_resource(c, rsc_id, node) else {
        return false;
    };
    lr.ops.iter().any(|o| {
        !same_op(o, op)
            && matches!(o.operation.as_str(), "start" | "stop" | "migrate_to" | "migrate_from")
            && is_newer(o, op, same_node) == Ordering::Greater
    })
}

/// `newer_state_after_migrate`: whether `node` has history after the
/// migration events that makes them irrelevant there.
fn newer_state_after_migrate(
    c: &Cluster,
    rsc_id: &str,
    node: &str,
    migrate_to: Option<&LrmOp>,
    migrate_from: Option<&LrmOp>,
) -> bool {
    let Some(base) = migrate_from.or(migrate_to) else {
        return false;
    };
    let source = base.migrate_source.as_deref();
    let target = base.migrate_target.as_deref();
    let (op, same_node) = if target == Some(node) {
        match migrate_from {
            Some(f) => (f, true),
            None => (base, false),
        }
    } else if source == Some(node) {
        match migrate_to {
            Some(t) => (t, true),
            None => (base, false),
        }
    } else {
        (base, false)
    };
    non_monitor_after(c, rsc_id, node, op, same_node) || monitor_not_running_after(c, rsc_id, node, op, same_node)
}

/// `native_add_running` for a node other than the one being unpacked.
fn add_running(c: &mut Cluster, r: RscIdx, n: NodeIdx) {
    if !c.rscs[r].observed.running_on.contains(&n) {
        c.rscs[r].observed.running_on.push(n);
    }
}

/// The resource counts as failed and must be recovered without migrating.
fn force_recovery(c: &mut Cluster, r: RscIdx) {
    c.rscs[r].observed.failed = true;
    c.rscs[r].plan.stop_needed = true;
    c.rscs[r].config.allow_migrate = false;
}

/// A successful migrate_to on node `n` (the source).
pub(crate) fn migrate_to_success(c: &mut Cluster, r: RscIdx, n: NodeIdx, op: &LrmOp, role: &mut Role) {
    let (Some(source), Some(target)) = (op.migrate_source.clone(), op.migrate_target.clone()) else {
        return;
    };
    if source != c.nodes[n].uname {
        return;
    }
    let rsc_id = history_id(c, r, n);
    let source_newer_op = non_monitor_after(c, &rsc_id, &source, op, true);
    let migrate_from = find_op(c, &rsc_id, "migrate_from", &target, Some(&source), None).cloned();
    if source_newer_op && migrate_from.is_some() {
        return;
    }
    let target_newer_state = newer_state_after_migrate(c, &rsc_id, &target, Some(op), migrate_from.as_ref());
    if source_newer_op && target_newer_state {
        return;
    }
    *role = Role::Started;
    let target_node = c.node_by_name(&target);
    let source_node = c.node_by_name(&source);
    let target_online = target_node.is_some_and(|t| c.nodes[t].online);
    match &migrate_from {
        Some(f) if f.rc_code == 0 && f.op_status == 0 => {
            // Both halves succeeded: only the source's stop is missing.
            *role = Role::Stopped;
            if !c.rscs[r].observed.dangling_migrations.contains(&n) {
                c.rscs[r].observed.dangling_migrations.push(n);
            }
        }
        Some(f) if f.op_status != -1 => {
            // The migrate_from failed.
            match target_node {
                Some(t) if !target_newer_state && target_online => add_running(c, r, t),
                _ => force_recovery(c, r),
            }
        }
        _ => {
            // Pending, or complete but erased.
            match target_node {
                Some(t) if !target_newer_state && target_online => {
                    add_running(c, r, t);
                    if let Some(s) = source_node.filter(|&s| c.nodes[s].online) {
                        c.rscs[r].observed.partial_migration_target = Some(t);
                        c.rscs[r].observed.partial_migration_source = Some(s);
                    }
                }
                _ if !source_newer_op => force_recovery(c, r),
                _ => {}
            }
        }
    }
}

/// A failed migrate_to on node `n` (the source).
pub(crate) fn migrate_to_failure(c: &mut Cluster, r: RscIdx, n: NodeIdx, op: &LrmOp, role: &mut Role) {
    let (Some(source), Some(target)) = (op.migrate_source.clone(), op.migrate_target.clone()) else {
        return;
    };
    if source != c.nodes[n].uname {
        return;
    }
    *role = Role::Started;
    let rsc_id = history_id(c, r, n);
    let target_from = find_op(c, &rsc_id, "migrate_from", &target, Some(&source), Some(0)).cloned();
    if !unknown_on(c, &rsc_id, &target)
        && !newer_state_after_migrate(c, &rsc_id, &target, Some(op), target_from.as_ref())
    {
        // Assume it is still active on the target (if that is up).
        if let Some(t) = c.node_by_name(&target).filter(|&t| c.nodes[t].online) {
            add_running(c, r, t);
        }
    } else if !non_monitor_after(c, &rsc_id, &source, op, true) && !c.rscs[r].observed.dangling_migrations.contains(&n)
    {
        // The source still needs a stop.
        c.rscs[r].observed.dangling_migrations.push(n);
    }
}

/// A failed migrate_from on node `n` (the target).
pub(crate) fn migrate_from_failure(c: &mut Cluster, r: RscIdx, n: NodeIdx, op: &LrmOp, role: &mut Role) {
    let (Some(source), Some(target)) = (op.migrate_source.clone(), op.migrate_target.clone()) else {
        return;
    };
    if target != c.nodes[n].uname {
        return;
    }
    *role = Role::Started;
    let rsc_id = history_id(c, r, n);
    let source_to = find_op(c, &rsc_id, "migrate_to", &source, Some(&target), Some(0)).cloned();
    if !unknown_on(c, &rsc_id, &source) && !newer_state_after_migrate(c, &rsc_id, &source, source_to.as_ref(), Some(op))
    {
        // Assume it is still active on the source (if that is up).
        if let Some(s) = c.node_by_name(&source).filter(|&s| c.nodes[s].online) {
            add_running(c, r, s);
        }
    }
}

/// After a node's history: a stop on the source of a partial migration
/// does not make the resource stopped on the target.
pub(crate) fn keep_partial_target_role(c: &Cluster, r: RscIdx, n: NodeIdx, role: Role) -> Role {
    let rs = &c.rscs[r];
    if role == Role::Stopped
        && rs.observed.partial_migration_source == Some(n)
        && rs.observed.partial_migration_target.is_some()
        && !rs.observed.running_on.is_empty()
    {
        Role::Started
    } else {
        role
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(call_id: i64, on_node: Option<&str>, last: Option<i64>) -> LrmOp {
        LrmOp {
            id: format!("op{call_id}"),
            operation: "start".into(),
            call_id,
            last_rc_change: last,
            on_node: on_node.map(str::to_string),
            transition_magic: Some(format!(
                "0:0;{call_id}:1:0:{}",
                if call_id == -1 { "dc2" } else { "dc1" }
            )),
            ..Default::default()
        }
    }

    #[test]
    fn newer_by_call_id_on_the_same_node() {
        assert_eq!(
            is_newer(&op(5, None, None), &op(3, None, None), true),
            Ordering::Greater
        );
        assert_eq!(is_newer(&op(3, None, None), &op(5, None, None), true), Ordering::Less);
    }

    #[test]
    fn newer_by_change_time_across_nodes() {
        let a = op(2, Some("n1"), Some(200));
        let b = op(9, Some("n2"), Some(100));
        assert_eq!(is_newer(&a, &b, true), Ordering::Greater);
        assert_eq!(is_newer(&b, &a, false), Ordering::Less);
    }

    #[test]
    fn pending_is_newest_against_another_controllers_result() {
        assert_eq!(
            is_newer(&op(-1, None, None), &op(7, None, None), true),
            Ordering::Greater
        );
    }
}

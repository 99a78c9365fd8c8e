//! Live migration (`pcmk_sched_migration.c`): a moving resource with
//! `allow-migrate` goes migrate_to (on the source) → migrate_from (on the
//! target) → stop (on the source), with its start a pseudo-action. The
//! actions carry a "migrate runnable" flag; if ordering propagation clears
//! it (a dependency that cannot migrate), the migration falls back to a
//! normal stop and start.

use crate::action_set::{flags, ActionSet};
use crate::model::{Cluster, NodeIdx, RscIdx};

/// `pcmk__rsc_can_migrate` for a resource moving off `current`.
pub fn can_migrate(c: &Cluster, r: RscIdx, current: Option<NodeIdx>) -> bool {
    let rs = &c.rscs[r];
    if !rs.config.allow_migrate || !rs.config.managed || rs.observed.failed || rs.observed.start_pending {
        return false;
    }
    let Some(cur) = current else { return false };
    if c.nodes[cur].unclean {
        return false;
    }
    rs.plan.assigned.is_some_and(|n| !c.nodes[n].unclean)
}

/// How a partial migration found in history is handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Partial {
    /// No partial migration.
    None,
    /// migrate_to is done; only migrate_from and the source stop remain.
    Continue,
    /// The partial migration cannot continue: stop it everywhere.
    Abort,
}

/// Decides whether a partial migration continues
/// (`pcmk__primitive_create_actions`); an aborted one is forgotten.
pub fn partial_state(
    c: &mut Cluster,
    r: RscIdx,
    allow_migrate: bool,
    active: Option<NodeIdx>,
    num_all: usize,
) -> Partial {
    let rs = &c.rscs[r];
    let (src, tgt) = (
        rs.observed.partial_migration_source,
        rs.observed.partial_migration_target,
    );
    if src.is_some() && tgt.is_some() && allow_migrate && num_all == 2 && active == src && rs.plan.assigned == tgt {
        Partial::Continue
    } else if src.is_some() || tgt.is_some() {
        c.rscs[r].observed.partial_migration_source = None;
        c.rscs[r].observed.partial_migration_target = None;
        Partial::Abort
    } else {
        Partial::None
    }
}

/// `pcmk__create_migration_actions`: migrate_to (unless it already
/// happened), migrate_from, and their orderings with the probes, the
/// stop on the source and the (pseudo) start on the target.
pub fn create_migration_actions(s: &mut ActionSet, c: &Cluster, r: RscIdx, current: NodeIdx, target: NodeIdx) {
    let partial = c.rscs[r].observed.partial_migration_target.is_some();
    let start = s.add(Some(r), "start", 0, Some(target), true);
    let stop = s.add(Some(r), "stop", 0, Some(current), true);
    let migrate_to = (!partial).then(|| s.add(Some(r), "migrate_to", 0, Some(current), true));
    let migrate_from = s.add(Some(r), "migrate_from", 0, Some(target), true);
    s.actions[start].migrate_runnable = true;
    s.actions[stop].migrate_runnable = true;
    s.actions[start].pseudo = true;
    s.actions[migrate_from].migrate_runnable = true;
    let probes: Vec<usize> = s
        .actions
        .iter()
        .filter(|a| a.rsc == Some(r) && a.task == "monitor" && a.interval_ms == 0 && a.node.is_some())
        .map(|a| a.id)
        .collect();
    match migrate_to {
        Some(mt) => {
            s.actions[mt].migrate_runnable = true;
            if !s.actions[start].runnable {
                s.actions[mt].runnable = false;
            }
            for &p in &probes {
                s.order(p, mt, 0);
            }
            s.order(mt, migrate_from, flags::IMPLIES_FIRST_MIGRATABLE);
        }
        None => {
            if !s.actions[start].runnable {
                s.actions[migrate_from].runnable = false;
            }
            for &p in &probes {
                s.order(p, migrate_from, 0);
            }
        }
    }
    for st in s.of(r, "stop") {
        if s.actions[st].node.is_some() {
            s.order(migrate_from, st, flags::IMPLIES_FIRST_MIGRATABLE);
        }
    }
    s.order(
        migrate_from,
        start,
        flags::IMPLIES_FIRST_MIGRATABLE | flags::PSEUDO_LEFT,
    );
}

/// Whether `anc` is `r` or one of its ancestors.
fn is_ancestor(c: &Cluster, anc: RscIdx, r: RscIdx) -> bool {
    let mut cur = Some(r);
    while let Some(x) = cur {
        if x == anc {
            return true;
        }
        cur = c.rscs[x].parent;
    }
    false
}

/// The task an ordering names for a (possibly collective) action: a
/// collective's "running" (or its confirmed post-notification) stands for
/// the "start" it was mapped from.
fn ordered_task(task: &str) -> &str {
    // A notifying clone completes with its confirmed post-notification.
    let task = task.strip_prefix("confirmed-post_notify_").unwrap_or(task);
    match task {
        "running" => "start",
        "stopped" => "stop",
        "promoted" => "promote",
        "demoted" => "demote",
        t => t,
    }
}

/// `pcmk__order_migration_equivalents`: every ordering between two
/// unrelated resources, one of which may migrate, is mirrored on the
/// migration actions, so that a live migration keeps the order its start
/// or stop would have had: "A start then B start" also orders A's
/// migrate_from (both migratable) and A's start before B's migrate_to,
/// "A stop then B stop" A's stop before B's migrate_to (and migrate_from
/// of a partial migration), "A promote then B start" A's promote before
/// B's migrate_to, "A demote then B stop" A's demote before B's
/// migrate_to (and migrate_from). All optional; with both migratable, the
/// ordering of a "first" that still migrates is left out of the graph.
pub fn order_equivalents(s: &mut ActionSet, c: &Cluster) {
    let edges: Vec<_> = s
        .edges
        .iter()
        .filter(|e| e.flags & flags::MEMBER == 0)
        .copied()
        .collect();
    for e in edges {
        let (f, t) = (&s.actions[e.first], &s.actions[e.then]);
        let (Some(fr), Some(tr)) = (f.rsc, t.rsc) else { continue };
        if is_ancestor(c, fr, tr) || is_ancestor(c, tr, fr) {
            continue;
        }
        let (first_mig, then_mig) = (c.rscs[fr].config.allow_migrate, c.rscs[tr].config.allow_migrate);
        if !then_mig {
            continue;
        }
        let fl = if first_mig { flags::FIRST_NON_MIGRATABLE } else { 0 };
        let partial = c.rscs[tr].observed.partial_migration_target.is_some();
        let targets: Vec<usize> = match (ordered_task(&f.task), ordered_task(&t.task)) {
            ("start", "start") => {
                if first_mig {
                    for mf in s.of(fr, "migrate_from") {
                        for mt in s.of(tr, "migrate_to") {
                            s.order(mf, mt, 0);
                        }
                    }
                }
                s.of(tr, "migrate_to")
            }
            ("stop", "stop") | ("demote", "stop") => {
                let mut v = s.of(tr, "migrate_to");
                if partial {
                    v.extend(s.of(tr, "migrate_from"));
                }
                v
            }
            ("promote", "start") => s.of(tr, "migrate_to"),
            _ => Vec::new(),
        };
        let demote = ordered_task(&s.actions[e.first].task) == "demote";
        for mt in targets {
            s.order(e.first, mt, if demote { 0 } else { fl });
        }
    }
}

#[cfg(test)]
mod tests {
    use cib::Cib;

    fn cib(allow: &str) -> Cib {
        let xml = format!(
            r#"<cib have-quorum="1" execution-date="1000"><configuration><crm_config><cluster_property_set id="o">
<nvpair id="a" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
<nodes><node id="1" uname="n1"/><node id="2" uname="n2"/></nodes>
<resources><primitive id="vm" class="ocf" provider="heartbeat" type="Xen"><meta_attributes id="m">
<nvpair id="m1" name="allow-migrate" value="{allow}"/></meta_attributes></primitive></resources>
<constraints><rsc_location id="l" rsc="vm" node="n2" score="100"/></constraints></configuration>
<status><node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member"><lrm id="1"><lrm_resources>
<lrm_resource id="vm" class="ocf" provider="heartbeat" type="Xen">
<lrm_rsc_op id="vm_last_0" operation_key="vm_start_0" operation="start" call-id="3" rc-code="0" op-status="0" interval="0" transition-key="1:1:0:x" transition-magic="0:0;1:1:0:x"/>
</lrm_resource></lrm_resources></lrm></node_state>
<node_state id="2" uname="n2" in_ccm="true" crmd="online" join="member" expected="member"><lrm id="2"><lrm_resources>
<lrm_resource id="vm" class="ocf" provider="heartbeat" type="Xen">
<lrm_rsc_op id="vm_last_0" operation_key="vm_monitor_0" operation="monitor" call-id="1" rc-code="7" op-status="0" interval="0" transition-key="2:1:7:x" transition-magic="0:7;2:1:7:x"/>
</lrm_resource></lrm_resources></lrm></node_state></status></cib>"#
        );
        Cib::parse(&xml).expect("valid test CIB")
    }

    fn scheduled(allow: &str) -> Vec<(String, String, bool)> {
        let s = crate::testutil::run(&cib(allow));
        s.actions
            .iter()
            .filter(|a| !a.optional && a.runnable && a.rsc.is_some() && a.interval_ms == 0)
            .map(|a| {
                (
                    a.task.clone(),
                    a.node.map(|n| s.cluster.nodes[n].uname.clone()).unwrap_or_default(),
                    a.pseudo,
                )
            })
            .collect()
    }

    #[test]
    fn allowed_migration_uses_migrate_to_and_from() {
        let acts = scheduled("true");
        assert!(acts.contains(&("migrate_to".into(), "n1".into(), false)));
        assert!(acts.contains(&("migrate_from".into(), "n2".into(), false)));
        assert!(acts.contains(&("stop".into(), "n1".into(), false)));
        assert!(acts.contains(&("start".into(), "n2".into(), true)));
    }

    #[test]
    fn without_allow_migrate_it_stops_and_starts() {
        let acts = scheduled("false");
        assert!(!acts.iter().any(|a| a.0.starts_with("migrate")));
        assert!(acts.contains(&("start".into(), "n2".into(), false)));
    }
}

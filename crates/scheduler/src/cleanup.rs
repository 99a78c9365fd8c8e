//! Fail-count clearing and resource clean-up: `clear_failcount` when a
//! failure's parameters changed (`should_clear_for_param_change`), when all
//! of a node's failures expired (`check_operation_expiry`) or when the
//! resource is orphaned (`clear_failcounts_if_orphaned`), and the `delete`
//! of an orphaned resource's history once it is stopped
//! (`pcmk__schedule_cleanup` from `process_rsc_history`).

use crate::action_set::ActionSet;
use crate::model::{Cluster, NodeIdx, RscIdx, Variant};
use crate::unpack::fail_count;
use cib::Cib;

/// The node can run the controller's clean-up there.
fn usable(c: &Cluster, n: NodeIdx) -> bool {
    c.nodes[n].online && !c.nodes[n].unclean
}

/// `pe__clear_failcount`: a required `clear_failcount` of `r` on `n`.
fn clear_failcount(s: &mut ActionSet, c: &Cluster, r: RscIdx, n: NodeIdx) -> usize {
    // An unmanaged resource's actions stay optional (`custom_action`).
    let a = s.add(Some(r), "clear_failcount", 0, Some(n), !c.rscs[r].config.managed);
    s.actions[a].runnable = usable(c, n);
    s.actions[a].meta.insert("op_no_wait".into(), "true".into());
    a
}

/// Whether `r` is an instance of an anonymous clone.
fn anonymous_instance(c: &Cluster, r: RscIdx) -> bool {
    let top = c.top_parent(r);
    matches!(c.rscs[top].variant, Variant::Clone { unique: false, .. })
}

/// Whether node `n` records a non-zero fail count for `r` (orphans are
/// not configured, so their fail counts were not unpacked).
fn recorded_failures(c: &Cluster, r: RscIdx, n: NodeIdx) -> bool {
    let id = &c.rscs[r].id;
    c.nodes[n].attrs.iter().any(|(k, v)| {
        k.strip_prefix("fail-count-")
            .is_some_and(|rest| rest.split('#').next() == Some(id.as_str()))
            && cib::score::parse_score(v).is_some_and(|x| x != 0)
    })
}

/// `pcmk__schedule_cleanup` (required): `delete` of `r`'s history on `n`,
/// after its stops and before its starts; not for a failed resource.
fn schedule_cleanup(s: &mut ActionSet, c: &Cluster, r: RscIdx, n: NodeIdx) {
    if c.rscs[r].observed.failed || !usable(c, n) {
        return;
    }
    let delete = s.add(Some(r), "delete", 0, Some(n), false);
    for stop in s.of(r, "stop") {
        s.order(stop, delete, 0);
    }
    for start in s.of(r, "start") {
        s.order(delete, start, 0);
    }
}

/// `pcmk__rsc_agent_changed` from `process_rsc_history`: the history of a
/// configured primitive on an available node was made by another agent
/// (class, provider or type), so it is cleaned up (and, where the
/// resource is active, restarted: see `definition_changed`).
fn clean_up_agent_changes(cib: &Cib, c: &Cluster, s: &mut ActionSet) {
    for st in &cib.status.nodes {
        let Some(n) = c.nodes.iter().position(|x| x.id == st.id).map(NodeIdx) else {
            continue;
        };
        // `pcmk__node_available`, or in maintenance.
        let node = &c.nodes[n];
        let available = usable(c, n) && !node.standby && !node.shutdown;
        if !node.maintenance && !available {
            continue;
        }
        for lr in st.lrm.iter().filter(|l| !l.ops.is_empty()) {
            for r in RscIdx::all(c.rscs.len()) {
                let rs = &c.rscs[r];
                let Variant::Primitive { class, provider, ty } = &rs.variant else {
                    continue;
                };
                let mapped = rs.id == lr.id || rs.observed.history_ids.iter().any(|(m, h)| *m == n && *h == lr.id);
                if !mapped || rs.observed.orphan || rs.remote.bundle_implicit {
                    continue;
                }
                let changed = lr.class.as_deref() != Some(class.as_str())
                    || lr.ty.as_deref() != Some(ty.as_str())
                    || lr.provider != *provider;
                if changed {
                    schedule_cleanup(s, c, r, n);
                }
            }
        }
    }
}

/// Creates the clear and clean-up actions and their orderings.
pub fn create_actions(cib: &Cib, c: &Cluster, s: &mut ActionSet) {
    clean_up_agent_changes(cib, c, s);
    // `pe__clear_resource_history`: a required `lrm_delete`.
    for &(r, n) in &c.history_clears {
        s.add(Some(r), "lrm_delete", 0, Some(n), false);
    }
    let mut clears: Vec<(RscIdx, NodeIdx)> = c.failcount_clears.clone();
    for &(r, n) in &c.expired_fail_counts {
        let has_history = c.rscs[r].observed.history_ids.iter().any(|(m, _)| *m == n);
        if has_history && !clears.contains(&(r, n)) {
            clears.push((r, n));
        }
    }
    // A failed resource whose operation definitions changed gets a fresh
    // start ("action definition changed").
    for r in RscIdx::all(c.rscs.len()) {
        if !c.rscs[r].is_primitive() {
            continue;
        }
        for n in crate::recurring::definition_changes(cib, c, r) {
            if fail_count(c, r, n) != 0 && !clears.contains(&(r, n)) {
                clears.push((r, n));
            }
        }
    }
    for (r, n) in clears {
        clear_failcount(s, c, r, n);
    }
    for r in RscIdx::all(c.rscs.len()) {
        let rs = &c.rscs[r];
        if !rs.is_primitive() || !rs.observed.orphan {
            continue;
        }
        // Orphaned top-level resources: fail counts on online nodes.
        if rs.parent.is_none() {
            for n in NodeIdx::all(c.nodes.len()) {
                if c.nodes[n].online && (fail_count(c, r, n) != 0 || recorded_failures(c, r, n)) {
                    let clear = clear_failcount(s, c, r, n);
                    for stop in s.of(r, "stop") {
                        s.order(clear, stop, 0);
                    }
                }
            }
        }
        if anonymous_instance(c, r) || rs.observed.failed || !rs.config.managed {
            continue;
        }
        // The orphan's history is deleted on every node that has some.
        for st in &cib.status.nodes {
            let Some(n) = c.nodes.iter().position(|x| x.id == st.id).map(NodeIdx) else {
                continue;
            };
            let node = &c.nodes[n];
            if !usable(c, n) || node.standby || node.shutdown {
                continue;
            }
            let mapped = |id: &str| id == rs.id || rs.observed.history_ids.iter().any(|(m, h)| *m == n && h == id);
            if !st.lrm.iter().any(|l| mapped(&l.id) && !l.ops.is_empty()) {
                continue;
            }
            let delete = s.add(Some(r), "delete", 0, Some(n), false);
            for stop in s.of(r, "stop") {
                s.order(stop, delete, 0);
            }
            for start in s.of(r, "start") {
                s.order(delete, start, 0);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use cib::Cib;

    fn orphan_cib(managed: bool) -> Cib {
        let xml = format!(
            r#"<cib have-quorum="1" execution-date="1000"><configuration>
  <crm_config><cluster_property_set id="o"><nvpair id="o1" name="stonith-enabled" value="false"/>
    <nvpair id="o2" name="stop-orphan-resources" value="{managed}"/></cluster_property_set></crm_config>
  <nodes><node id="1" uname="n1"/></nodes><resources/><constraints/></configuration>
<status><node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member">
  <transient_attributes id="1"><instance_attributes id="t1">
    <nvpair id="f1" name="fail-count-old#monitor_10000" value="2"/></instance_attributes></transient_attributes>
  <lrm id="1"><lrm_resources><lrm_resource id="old" class="ocf" provider="pacemaker" type="Dummy">
    <lrm_rsc_op id="old_last_0" operation="start" call-id="1" rc-code="0" op-status="0" interval="0" transition-key="1:1:0:x"/>
  </lrm_resource></lrm_resources></lrm></node_state></status></cib>"#
        );
        Cib::parse(&xml).expect("test CIB parses")
    }

    #[test]
    fn an_orphan_is_stopped_its_fail_count_cleared_first_and_its_history_deleted_after() {
        let s = crate::testutil::run(&orphan_cib(true));
        let find = |task: &str| {
            s.actions
                .iter()
                .find(|a| a.task == task && a.node.is_some() && !a.optional)
                .unwrap_or_else(|| panic!("required {task}"))
                .id
        };
        let (stop, clear, delete) = (find("stop"), find("clear_failcount"), find("delete"));
        let ordered = |f: usize, t: usize| s.edges.iter().any(|e| e.first == f && e.then == t);
        assert!(ordered(clear, stop) && ordered(stop, delete));
        assert_eq!(
            s.actions[clear].meta.get("op_no_wait").map(String::as_str),
            Some("true")
        );
    }

    #[test]
    fn an_unmanaged_orphan_keeps_its_history() {
        let s = crate::testutil::run(&orphan_cib(false));
        assert!(!s.actions.iter().any(|a| a.task == "delete"));
        assert!(!s
            .actions
            .iter()
            .any(|a| a.task == "clear_failcount" && !a.optional && a.runnable));
    }
}

//! Fail counts that the scheduler will clear in this transition, so the
//! migration threshold must not ban the resource for them
//! (`check_operation_expiry` → `should_clear_for_param_change`, and
//! `failcount_clear_action_exists` in `check_failure_threshold`).

use crate::model::{Cluster, NodeIdx, RscIdx};
use cib::Cib;

/// (resource, node) pairs whose fail count is cleared because the last
/// failure was a start or monitor whose parameters have changed since.
pub fn param_change_clears(cib: &Cib, c: &Cluster) -> Vec<(RscIdx, NodeIdx)> {
    let mut out = Vec::new();
    for st in &cib.status.nodes {
        let Some(n) = c.nodes.iter().position(|x| x.id == st.id).map(NodeIdx) else {
            continue;
        };
        for lr in &st.lrm {
            let Some(r) = RscIdx::all(c.rscs.len()).find(|&r| {
                c.rscs[r].is_primitive()
                    && c.rscs[r]
                        .observed
                        .history_ids
                        .iter()
                        .any(|(m, id)| *m == n && *id == lr.id)
            }) else {
                continue;
            };
            // A bundle's implicit resources have no reproducible digests.
            if c.rscs[r].remote.bundle_implicit {
                continue;
            }
            let ft = c.rscs[r].config.failure_timeout_s;
            let clears = lr.ops.iter().any(|op| {
                let expired = ft > 0 && op.last_rc_change.is_some_and(|t| c.now >= t + ft);
                !expired
                    && op.id.ends_with("_last_failure_0")
                    && matches!(op.operation.as_str(), "start" | "monitor")
                    && op
                        .op_digest
                        .as_ref()
                        .is_some_and(|d| *d != crate::digests::expected_digest(c, r, op))
            });
            if clears && !out.contains(&(r, n)) {
                out.push((r, n));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{NodeIdx, RscIdx};
    use cib::Cib;

    fn cib(digest: &str) -> Cib {
        let xml = format!(
            r#"<cib have-quorum="1" execution-date="1000"><configuration><crm_config><cluster_property_set id="o">
<nvpair id="a" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
<nodes><node id="1" uname="n1"/></nodes><resources><primitive id="r" class="ocf" provider="pacemaker" type="Dummy"/></resources>
<constraints/></configuration><status><node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member">
<transient_attributes id="1"><instance_attributes id="s1"><nvpair id="f" name="fail-count-r" value="INFINITY"/></instance_attributes></transient_attributes>
<lrm id="1"><lrm_resources><lrm_resource id="r" class="ocf" provider="pacemaker" type="Dummy">
<lrm_rsc_op id="r_last_0" operation_key="r_stop_0" operation="stop" call-id="3" rc-code="0" op-status="0" interval="0" transition-key="1:1:0:x" transition-magic="0:0;1:1:0:x" op-digest="{digest}"/>
<lrm_rsc_op id="r_last_failure_0" operation_key="r_start_0" operation="start" call-id="2" rc-code="1" op-status="4" interval="0" transition-key="2:1:0:x" transition-magic="4:1;2:1:0:x" op-digest="{digest}"/>
</lrm_resource></lrm_resources></lrm></node_state></status></cib>"#
        );
        Cib::parse(&xml).expect("valid test CIB")
    }

    #[test]
    fn changed_parameters_clear_the_fail_count() {
        let c = cib("0123456789abcdef0123456789abcdef");
        let s = crate::testutil::run(&c);
        assert_eq!(s.cluster.failcount_clears, vec![(RscIdx(0), NodeIdx(0))]);
        assert_eq!(s.cluster.rscs[RscIdx(0)].plan.assigned, Some(NodeIdx(0)));
    }

    #[test]
    fn unchanged_parameters_keep_the_ban() {
        let probe = crate::testutil::run(&cib("x"));
        let op = cib::LrmOp {
            id: "r_start_0".into(),
            operation: "start".into(),
            call_id: 2,
            ..Default::default()
        };
        let digest = crate::digests::expected_digest(&probe.cluster, RscIdx(0), &op);
        let s = crate::testutil::run(&cib(&digest));
        assert!(s.cluster.failcount_clears.is_empty());
        assert_eq!(s.cluster.rscs[0].plan.assigned, None);
    }
}

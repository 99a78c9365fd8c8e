//! Failures that block a resource keep their fail count: a failure timeout
//! never expires them (`pe_get_failcount`, lib/pengine/failcounts.c, sets
//! the resource's `failure_timeout` to 0 once `block_failure` finds one).

use crate::ids::clone_strip;
use crate::model::{Cluster, NodeIdx, RscIdx};
use cib::{Cib, LrmOp, OpDef};

/// Disables the failure timeout of every primitive with a fail count on a
/// node whose history there holds a failure of an operation configured
/// with `on-fail=block`.
pub fn disable_blocked_timeouts(cib: &Cib, c: &mut Cluster) {
    for st in &cib.status.nodes {
        let Some(n) = c.nodes.iter().position(|x| x.id == st.id).map(NodeIdx) else {
            continue;
        };
        for r in RscIdx::all(c.rscs.len()) {
            if !c.rscs[r].is_primitive() || c.rscs[r].config.failure_timeout_s == 0 || !has_fail_count(c, r, n) {
                continue;
            }
            let name = history_name(c, r);
            let blocks = st
                .lrm
                .iter()
                .filter(|lr| lr.id == name)
                .flat_map(|lr| &lr.ops)
                .any(|op| {
                    c.rscs[r]
                        .config
                        .ops
                        .iter()
                        .any(|conf| is_matched_failure(name, conf, op))
                });
            if blocks {
                c.rscs[r].config.failure_timeout_s = 0;
            }
        }
    }
}

/// The id its history is filed under (`clone_strip`).
fn history_name(c: &Cluster, r: RscIdx) -> &str {
    clone_strip(&c.rscs[r].id)
}

fn has_fail_count(c: &Cluster, r: RscIdx, n: NodeIdx) -> bool {
    let name = history_name(c, r);
    c.nodes[n].attrs.iter().any(|(k, v)| {
        k.strip_prefix("fail-count-")
            .and_then(|rest| crate::fail_names::fail_attr_rsc(rest, c.feature_set.as_deref()))
            .is_some_and(|x| clone_strip(x) == name)
            && cib::score::parse_score(v).is_some_and(|s| s > 0)
    })
}

/// `is_matched_failure`: `op` is a failure of the configured `conf`, which
/// says `on-fail=block`: its last-failure entry, or its own entry with a
/// result other than the expected one.
fn is_matched_failure(name: &str, conf: &OpDef, op: &LrmOp) -> bool {
    if conf.attr("on-fail") != Some("block") || conf.name != op.operation || conf.interval_ms != op.interval_ms {
        return false;
    }
    op.id == format!("{name}_last_failure_0")
        || (op.id == format!("{name}_{}_{}", conf.name, conf.interval_ms) && op.target_rc() != Some(op.rc_code))
}

#[cfg(test)]
mod tests {
    use crate::testutil::cib_xml;

    fn unpacked(on_fail: &str) -> crate::model::Cluster {
        let rsc = format!(
            "<primitive id=\"r\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"><meta_attributes id=\"m\">\
             <nvpair id=\"m1\" name=\"failure-timeout\" value=\"10\"/></meta_attributes><operations>\
             <op id=\"r-mon\" name=\"monitor\" interval=\"5s\"{on_fail}/></operations></primitive>"
        );
        let history =
            "<lrm id=\"1\"><lrm_resources><lrm_resource id=\"r\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">\
             <lrm_rsc_op id=\"r_last_0\" operation_key=\"r_start_0\" operation=\"start\" call-id=\"1\" rc-code=\"0\" \
             op-status=\"0\" interval=\"0\" transition-key=\"1:1:0:x\"/>\
             <lrm_rsc_op id=\"r_monitor_5000\" operation_key=\"r_monitor_5000\" operation=\"monitor\" call-id=\"2\" \
             rc-code=\"1\" op-status=\"0\" interval=\"5000\" transition-key=\"2:1:0:x\" last-rc-change=\"1\"/>\
             </lrm_resource></lrm_resources></lrm>";
        let xml = cib_xml(1, &rsc, "", &[(1, "fail-count-r", "1"), (1, "last-failure-r", "1")]).replacen(
            "</node_state>",
            &format!("{history}</node_state>"),
            1,
        );
        crate::unpack::unpack(&cib::Cib::parse(&xml).expect("test CIB parses"), 1000)
    }

    #[test]
    fn a_blocking_failure_never_expires() {
        let c = unpacked(" on-fail=\"block\"");
        let r = c.rsc_by_id("r").expect("r");
        assert_eq!(c.rscs[r].config.failure_timeout_s, 0);
        assert!(c.rscs[r].observed.failed);
        let c = unpacked("");
        let r = c.rsc_by_id("r").expect("r");
        assert_eq!(c.rscs[r].config.failure_timeout_s, 10);
    }
}

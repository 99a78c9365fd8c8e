//! Shutdown locks (`shutdown-lock` cluster option): a resource stopped by a
//! clean node shutdown may only come back on that node
//! (`pcmk__primitive_shutdown_lock`, applied first among the node criteria).

use crate::model::{Cluster, NodeIdx, RscIdx, Variant};
use cib::score::INFINITY;

/// Locks resources active on a shutting-down node to it, keeps locks found
/// in history, and bans locked resources from every other node.
pub fn apply_shutdown_locks(c: &mut Cluster) {
    if !c.options.shutdown_lock {
        return;
    }
    for r in RscIdx::all(c.rscs.len()) {
        if lockable(c, r) {
            lock_primitive(c, r);
        }
    }
}

/// Primitives outside clones, except fence devices (clones and bundles do
/// not support shutdown locks).
fn lockable(c: &Cluster, r: RscIdx) -> bool {
    let rs = &c.rscs[r];
    let Variant::Primitive { class, .. } = &rs.variant else {
        return false;
    };
    if class == "stonith" {
        return false;
    }
    let mut p = rs.parent;
    while let Some(x) = p {
        if matches!(c.rscs[x].variant, Variant::Clone { .. }) {
            return false;
        }
        p = c.rscs[x].parent;
    }
    true
}

fn lock_primitive(c: &mut Cluster, r: RscIdx) {
    if c.rscs[r].observed.lock_node.is_some() {
        // A lock from history is dropped if the resource runs anywhere now.
        if !c.rscs[r].observed.running_on.is_empty() {
            if let Some(n) = c.rscs[r].observed.lock_node {
                c.history_clears.push((r, n));
            }
            c.rscs[r].observed.lock_node = None;
            c.rscs[r].observed.lock_time = 0;
        }
    } else if let [n] = c.rscs[r].observed.running_on[..] {
        if c.nodes[n].shutdown && !c.nodes[n].unclean {
            c.rscs[r].observed.lock_node = Some(n);
            c.rscs[r].observed.lock_time = shutdown_time(c, n);
        }
    }
    let Some(lock) = c.rscs[r].observed.lock_node else {
        return;
    };
    // The cluster rechecks just after the lock expires
    // (`pcmk__primitive_shutdown_lock`).
    let limit = c.options.shutdown_lock_limit_s;
    if limit > 0 {
        let expiry = c.rscs[r].observed.lock_time + limit + 1;
        c.update_recheck(expiry);
    }
    for n in NodeIdx::all(c.nodes.len()) {
        if n != lock {
            super::constraints::resource_location(c, r, Some(n), -INFINITY);
        }
    }
}

/// The node's `shutdown` attribute as a time, else "now".
fn shutdown_time(c: &Cluster, n: NodeIdx) -> i64 {
    c.nodes[n]
        .attrs
        .get("shutdown")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|&t| t != 0)
        .unwrap_or(c.now)
}

#[cfg(test)]
mod tests {
    use cib::Cib;

    fn cib(lock_attr: &str, limit: &str) -> Cib {
        let xml = format!(
            r#"<cib have-quorum="1" execution-date="1000"><configuration><crm_config><cluster_property_set id="o">
<nvpair id="a" name="stonith-enabled" value="false"/><nvpair id="b" name="shutdown-lock" value="true"/>{limit}
</cluster_property_set></crm_config><nodes><node id="1" uname="n1"/><node id="2" uname="n2"/></nodes>
<resources><primitive id="r" class="ocf" provider="pacemaker" type="Dummy"/></resources><constraints/></configuration>
<status><node_state id="1" uname="n1" in_ccm="false" crmd="offline" join="down" expected="down"><lrm id="1"><lrm_resources>
<lrm_resource id="r" class="ocf" provider="pacemaker" type="Dummy" {lock_attr}>
<lrm_rsc_op id="r_last_0" operation_key="r_stop_0" operation="stop" call-id="3" rc-code="0" op-status="0" interval="0" transition-key="1:1:0:x" transition-magic="0:0;1:1:0:x"/>
</lrm_resource></lrm_resources></lrm></node_state>
<node_state id="2" uname="n2" in_ccm="true" crmd="online" join="member" expected="member"/></status></cib>"#
        );
        Cib::parse(&xml).expect("valid test CIB")
    }

    fn assigned(c: &Cib) -> Option<String> {
        let s = crate::testutil::run(c);
        let r = s.cluster.rsc_by_id("r").expect("r");
        s.cluster.rscs[r]
            .plan
            .assigned
            .map(|n| s.cluster.nodes[n].uname.clone())
    }

    #[test]
    fn history_lock_keeps_resource_off_other_nodes() {
        assert_eq!(assigned(&cib(r#"shutdown-lock="900""#, "")), None);
    }

    #[test]
    fn expired_lock_is_ignored() {
        let limit = r#"<nvpair id="c" name="shutdown-lock-limit" value="1m"/>"#;
        assert_eq!(assigned(&cib(r#"shutdown-lock="900""#, limit)), Some("n2".into()));
    }

    #[test]
    fn no_lock_attribute_means_free_placement() {
        assert_eq!(assigned(&cib("", "")), Some("n2".into()));
    }
}

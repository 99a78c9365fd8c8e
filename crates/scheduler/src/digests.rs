//! The op-digests the scheduler expects for a resource's history entries
//! (`rsc_action_digest_cmp`): all parameters, the restart-relevant ones,
//! and whether only private parameters changed.

use std::collections::BTreeMap;

use crate::model::{Cluster, NodeIdx, RscIdx, Variant};
use crate::unpack::merge_nvsets;
use cib::digest::operation_digest;
use cib::LrmOp;

/// An `<op>` that is not `enabled=false`.
fn enabled(op: &cib::OpDef) -> bool {
    op.attr("enabled")
        .is_none_or(|v| !matches!(v.to_ascii_lowercase().as_str(), "false" | "no" | "off" | "0" | "n"))
}

pub(crate) fn op_timeout_ms(c: &Cluster, r: RscIdx, name: &str, interval_ms: u64) -> u64 {
    let rs = &c.rscs[r];
    // Disabled operations are not configured as far as digests go
    // (`find_rsc_op_entry`).
    if let Some(op) = rs
        .config
        .ops
        .iter()
        .find(|o| o.name == name && o.interval_ms == interval_ms && enabled(o))
    {
        if let Some(t) = op.attr("timeout") {
            if let Some(ms) = cib::parse_interval_ms(t) {
                return ms;
            }
        }
    }
    let mut d = BTreeMap::new();
    let mut ctx = c.rule_context();
    ctx.op = Some((name, interval_ms));
    merge_nvsets(&c.op_defaults, &ctx, &mut d);
    d.get("timeout")
        .and_then(|t| cib::parse_interval_ms(t))
        .unwrap_or(20_000)
}

/// The resource's parameters, evaluated for `node` (`pe_rsc_params`).
pub(crate) fn node_params(c: &Cluster, r: RscIdx, node: Option<NodeIdx>) -> BTreeMap<String, String> {
    let rs = &c.rscs[r];
    if rs.config.instance_sets.is_empty() {
        return (*rs.config.params).clone();
    }
    let mut ctx = c.rule_context();
    ctx.node_attrs = node.map(|n| &c.nodes[n].attrs);
    let mut out = BTreeMap::new();
    merge_nvsets(&rs.config.instance_sets, &ctx, &mut out);
    out
}

/// The digest the scheduler expects for `op` of `r`.
pub fn expected_digest(c: &Cluster, r: RscIdx, op: &LrmOp) -> String {
    let key = (r, op.operation.clone(), op.interval_ms);
    if let Some(d) = c.digest_cache.borrow().get(&key) {
        return d.clone();
    }
    let params = op_params(c, r, op);
    let timeout = op_timeout_ms(c, r, &op.operation, op.interval_ms);
    let digest = operation_digest(&params, op.interval_ms, timeout);
    c.digest_cache.borrow_mut().insert(key, digest.clone());
    digest
}

/// The digest of only the parameters that force a restart
/// (`calculate_restart_digest`).
pub(crate) fn restart_digest(c: &Cluster, r: RscIdx, op: &LrmOp) -> String {
    let mut params = op_params(c, r, op);
    if let Some(list) = &op.op_force_restart {
        let keep: Vec<&str> = list.split_whitespace().collect();
        params.retain(|k, _| keep.contains(&k.as_str()));
    }
    let timeout = op_timeout_ms(c, r, &op.operation, op.interval_ms);
    operation_digest(&params, op.interval_ms, timeout)
}

/// The resource's parameters with the configured operation's own instance attributes on top.
pub(crate) fn op_params(c: &Cluster, r: RscIdx, op: &LrmOp) -> BTreeMap<String, String> {
    let rs = &c.rscs[r];
    let mut params = (*rs.config.params).clone();
    if let Some(def) = rs
        .config
        .ops
        .iter()
        .find(|o| o.name == op.operation && o.interval_ms == op.interval_ms && enabled(o))
    {
        // The operation's own attributes win over the resource's.
        let mut extra = BTreeMap::new();
        merge_nvsets(&def.instance, &c.rule_context(), &mut extra);
        params.extend(extra);
    }
    params
}

/// The task under which a node's unfencing digests of a fence device are
/// computed (`STONITH_DIGEST_TASK`).
const UNFENCING_TASK: &str = "stonith-on";

/// What a fence device's digests on `node` come to in a node's unfencing
/// summary, `ID:AGENT:DIGEST`, with all parameters and without private
/// ones (`pe__compare_fencing_digest`: no history entry, so the CIB's
/// feature set decides how the secure digest is made).
pub(crate) fn unfencing_summaries(c: &Cluster, r: RscIdx, node: NodeIdx) -> (String, String) {
    let rs = &c.rscs[r];
    let params = node_params(c, r, Some(node));
    let timeout = op_timeout_ms(c, r, UNFENCING_TASK, 0);
    let all = operation_digest(&params, 0, timeout);
    // Without a feature set, the current one (3.16.1) is assumed.
    let old_version = c
        .feature_set
        .as_deref()
        .is_some_and(|v| crate::version::version_lt(v, "3.16.0"));
    let secure = cib::digest::secure_digest(&params, " passwd password user ", old_version, true, 0, timeout);
    let agent = match &rs.variant {
        Variant::Primitive { ty, .. } => ty.as_str(),
        _ => "",
    };
    (
        format!("{}:{agent}:{all}", rs.id),
        format!("{}:{agent}:{secure}", rs.id),
    )
}

/// `only_sanitized_changed`: crm_simulate runs sanitized, so a history
/// entry whose secure digest (private parameters removed) still matches
/// counts as unchanged.
pub(crate) fn only_private_changed(c: &Cluster, r: RscIdx, op: &LrmOp) -> bool {
    let Some(recorded) = &op.op_secure_digest else {
        return false;
    };
    let rs = &c.rscs[r];
    let old_version = op
        .crm_feature_set
        .as_deref()
        .is_none_or(|v| crate::version::version_lt(v, "3.16.0"));
    let fence_class = matches!(&rs.variant, Variant::Primitive { class, .. } if class == "stonith");
    // Histories from before feature set 3.16.0 digest the resource's parameters only.
    let params = if old_version {
        (*rs.config.params).clone()
    } else {
        op_params(c, r, op)
    };
    let secure = op.op_secure_params.as_deref().unwrap_or(" passwd password user ");
    let timeout = op_timeout_ms(c, r, &op.operation, op.interval_ms);
    cib::digest::secure_digest(&params, secure, old_version, fence_class, op.interval_ms, timeout) == *recorded
}

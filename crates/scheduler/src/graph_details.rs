//! What a graph action carries besides its key, as Pacemaker's
//! `create_graph_action` writes it (`lib/pacemaker/pcmk_graph_producer.c`):
//! the resource agent (`add_resource_details`), the attributes — resource
//! parameters and `CRM_meta_*` (`add_action_attributes`) — and the nodes the
//! action brings down (`add_downed_nodes`).

use crate::ids::clone_strip;
use std::collections::BTreeMap;

use super::op_meta::{action_meta, op_entry};
use crate::action_set::Action;
use crate::model::{Cluster, Role, RscIdx, Variant};
use crate::unpack::merge_nvsets;

/// `CRM_FEATURE_SET` of Pacemaker 2.1.5.
pub const FEATURE_SET: &str = "3.16.1";

/// The `<primitive>` element of a resource action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Agent {
    /// The name the executor knows the resource by.
    pub id: String,
    /// The scheduler's name, when it differs (anonymous clone instances,
    /// orphans renamed from their history).
    pub long_id: Option<String>,
    pub class: String,
    pub provider: Option<String>,
    pub ty: String,
}

/// `pe_rsc_unique`: set on everything outside clones, and inside clones
/// only when the clone is globally unique.
fn is_unique(c: &Cluster, r: RscIdx) -> bool {
    match &c.rscs[c.top_parent(r)].variant {
        Variant::Clone { unique, .. } => *unique,
        _ => true,
    }
}

/// `add_resource_details`: the agent and the names of a primitive.
pub fn agent(c: &Cluster, r: RscIdx) -> Option<Agent> {
    let rs = &c.rscs[r];
    let Variant::Primitive { class, provider, ty } = &rs.variant else {
        return None;
    };
    let clone_name = c.clone_name(r);
    let (id, long_id) = match clone_name {
        Some(name) if rs.observed.orphan => (name.to_string(), Some(rs.id.clone())),
        _ if !is_unique(c, r) => {
            let xml = clone_strip(&rs.id);
            let long = match clone_name {
                Some(name) if name != xml => name.to_string(),
                _ => rs.id.clone(),
            };
            (xml.to_string(), Some(long))
        }
        _ => (rs.id.clone(), None),
    };
    Some(Agent {
        id,
        long_id,
        class: class.clone(),
        provider: provider.clone(),
        ty: ty.clone(),
    })
}

/// Inserts unless the name is already set (`hash2field`).
fn add_field(out: &mut BTreeMap<String, String>, name: String, value: &str) {
    out.entry(name).or_insert_with(|| value.to_string());
}

/// `hash2metafield`: `CRM_meta_` + the name with dashes as underscores;
/// cluster-generated names (with `#` or `:`) are left out.
fn add_meta(out: &mut BTreeMap<String, String>, name: &str, value: &str) {
    if !name.contains(['#', ':']) {
        add_field(out, format!("CRM_meta_{}", name.replace('-', "_")), value);
    }
}

/// The expected result of a probe or recurring monitor
/// (`add_expected_result`, `recurring_op_for_active`,
/// `recurring_op_for_inactive`).
fn expected_rc(c: &Cluster, a: &Action, r: RscIdx) -> Option<&'static str> {
    let rs = &c.rscs[r];
    if a.task != "monitor" {
        return None;
    }
    if a.interval_ms == 0 {
        let running = a.node.is_some_and(|n| rs.observed.running_on.contains(&n));
        return match (running, rs.observed.role) {
            (false, _) => Some("7"),
            (true, Role::Promoted) => Some("8"),
            _ => None,
        };
    }
    let stopped_monitor = op_entry(&rs.config.ops, "monitor", a.interval_ms)
        .and_then(|o| o.role.as_deref())
        .and_then(Role::parse)
        == Some(Role::Stopped);
    if stopped_monitor {
        Some("7")
    } else if rs.plan.next_role == Role::Promoted {
        Some("8")
    } else {
        None
    }
}

/// Meta-attributes the scheduler adds to a resource action beyond its
/// operation definition.
fn scheduler_meta(c: &Cluster, a: &Action, r: RscIdx, meta: &mut BTreeMap<String, String>) {
    let rs = &c.rscs[r];
    if let Some(rc) = expected_rc(c, a, r) {
        meta.insert("op_target_rc".into(), rc.into());
    }
    if matches!(a.task.as_str(), "migrate_to" | "migrate_from") {
        let source = rs.observed.partial_migration_source.or(rs.current_node());
        if let (Some(s), Some(t)) = (source, rs.plan.assigned) {
            meta.entry("migrate_source".into())
                .or_insert_with(|| c.nodes[s].uname.clone());
            meta.entry("migrate_target".into())
                .or_insert_with(|| c.nodes[t].uname.clone());
        }
        if a.task == "migrate_to" && !rs.remote.is_conn {
            meta.entry("record-pending".into()).or_insert_with(|| "true".into());
        }
    }
}

/// `add_graph_meta` of the resource and each of its parents: instance
/// numbers, guest and container links, and clone settings.
fn parent_meta(c: &Cluster, r: RscIdx, out: &mut BTreeMap<String, String>) {
    let mut cur = Some(r);
    while let Some(p) = cur {
        let rs = &c.rscs[p];
        match &rs.variant {
            Variant::Primitive { .. } => {
                if let Some(i) = rs.config.instance {
                    out.insert("CRM_meta_clone".into(), i.to_string());
                }
                if let Some(n) = rs.config.meta.get("remote-node") {
                    out.insert("CRM_meta_remote_node".into(), n.clone());
                }
                let mut up = Some(p);
                while let Some(q) = up {
                    if let Some(ct) = c.rscs[q].remote.container {
                        out.insert("CRM_meta_container".into(), c.rscs[ct].id.clone());
                    }
                    up = c.rscs[q].parent;
                }
            }
            Variant::Group => {}
            Variant::Clone {
                promotable,
                clone_max,
                clone_node_max,
                promoted_max,
                promoted_node_max,
                unique,
                ..
            } => {
                let notify = rs.config.meta.get("notify").is_some_and(|v| cib::is_true(v));
                out.insert("CRM_meta_globally_unique".into(), unique.to_string());
                out.insert("CRM_meta_notify".into(), notify.to_string());
                out.insert("CRM_meta_clone_max".into(), clone_max.to_string());
                out.insert("CRM_meta_clone_node_max".into(), clone_node_max.to_string());
                if *promotable {
                    for name in ["promoted_max", "master_max"] {
                        out.insert(format!("CRM_meta_{name}"), promoted_max.to_string());
                    }
                    for name in ["promoted_node_max", "master_node_max"] {
                        out.insert(format!("CRM_meta_{name}"), promoted_node_max.to_string());
                    }
                }
            }
        }
        cur = rs.parent;
    }
}

/// `pcmk__add_bundle_meta_to_xml`: an action on a guest node names the
/// physical host it happens on — where the guest's container runs for
/// "down" actions, where it will run for "up" actions.
fn guest_host_meta(c: &Cluster, a: &Action, r: RscIdx, out: &mut BTreeMap<String, String>) {
    let Some(n) = a.node.filter(|&n| c.nodes[n].is_guest()) else {
        return;
    };
    let Some(container) = c.nodes[n].remote.conn.and_then(|conn| c.rscs[conn].remote.container) else {
        return;
    };
    let host = match a.task.as_str() {
        "stop" | "stopped" | "demote" | "demoted" => c.rscs[container].current_node(),
        "start" | "running" | "monitor" | "promote" | "promoted" => c.rscs[container].plan.assigned,
        _ => None,
    };
    if let Some(h) = host {
        if let Some(target) = c.rscs[r].config.meta.get("container-attribute-target") {
            add_meta(out, "container-attribute-target", target);
        }
        add_meta(out, "physical_host", &c.nodes[h].uname);
    }
}

/// `add_action_attributes`: everything the executor gets with the action.
/// `node_info` says whether the action carries its node (`on_node`).
pub fn attributes(c: &Cluster, a: &Action, node_info: bool) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    out.insert("crm_feature_set".to_string(), FEATURE_SET.to_string());
    let mut meta = BTreeMap::new();
    if let Some(r) = a.rsc {
        let rs = &c.rscs[r];
        if let (Some(n), Some(op)) = (a.node, op_entry(&rs.config.ops, &a.task, a.interval_ms)) {
            // The <op>'s own instance attributes (`action->extra`).
            let mut ctx = c.rule_context();
            ctx.node_attrs = Some(&c.nodes[n].attrs);
            let mut extra = BTreeMap::new();
            merge_nvsets(&op.instance, &ctx, &mut extra);
            for (k, v) in &extra {
                add_field(&mut out, k.clone(), v);
            }
        }
        if rs.is_primitive() {
            for (k, v) in &crate::digests::node_params(c, r, a.node) {
                if !k.starts_with(|ch: char| ch.is_ascii_digit()) {
                    add_field(&mut out, k.clone(), v);
                }
            }
            // A bundle connection without an IP reaches its replica on the
            // host the container will run on, or runs on now
            // (`pe__add_bundle_remote_name`).
            if rs.remote.is_conn && rs.remote.bundle_implicit && out.get("addr").map(String::as_str) == Some("#uname") {
                let host = rs
                    .remote
                    .container
                    .and_then(|ct| c.rscs[ct].plan.assigned.or_else(|| c.rscs[ct].current_node()));
                if let Some(h) = host {
                    out.insert("addr".into(), c.nodes[h].uname.clone());
                }
            }
        }
        match &a.cancels {
            // `pcmk__new_cancel_action`, `pcmk__schedule_cancel`.
            Some(cancelled) => {
                meta = action_meta(c, r, &cancelled.task, a.interval_ms);
                meta.insert("operation".into(), cancelled.task.clone());
                if let Some(id) = cancelled.call_id {
                    meta.insert("call_id".into(), id.to_string());
                }
            }
            None => {
                // Notifications are configured as the agent's `notify` op.
                let task = crate::notify::operation(&a.task).unwrap_or(&a.task);
                meta = action_meta(c, r, task, a.interval_ms);
                scheduler_meta(c, a, r, &mut meta);
                for (k, v) in &a.meta {
                    meta.entry(k.clone()).or_insert_with(|| v.clone());
                }
            }
        }
    } else if a.node.is_some() {
        match a.task.as_str() {
            "stonith" => {
                let op = a.fence_op.as_deref().unwrap_or(&c.options.stonith_action);
                meta.insert("stonith_action".into(), op.to_string());
                if let Some((all, secure)) = a.node.and_then(|n| crate::unfencing::digest_meta(c, n)) {
                    meta.insert("digests-all".into(), all);
                    meta.insert("digests-secure".into(), secure);
                }
            }
            "do_shutdown" => {
                meta.insert("op_no_wait".into(), "true".into());
            }
            _ => {}
        }
        // What the scheduler added (`probe_again`'s op_no_wait).
        for (k, v) in &a.meta {
            meta.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    if node_info {
        if let Some(n) = a.node {
            meta.insert("on_node".into(), c.nodes[n].uname.clone());
            meta.insert("on_node_uuid".into(), c.nodes[n].id.clone());
        }
    }
    for (k, v) in &meta {
        add_meta(&mut out, k, v);
    }
    match (a.rsc, a.node) {
        (Some(r), _) => {
            parent_meta(c, r, &mut out);
            guest_host_meta(c, a, r, &mut out);
        }
        (None, Some(n)) if a.task == "stonith" => {
            // The fenced node's attributes, as meta-attributes.
            for (k, v) in &c.nodes[n].attrs {
                add_meta(&mut out, k, v);
            }
        }
        _ => {}
    }
    out
}

/// `add_downed_nodes`: node ids the action is expected to bring down.
pub fn downed(c: &Cluster, a: &Action, migrating: bool) -> Vec<String> {
    let Some(n) = a.node else { return Vec::new() };
    match (a.rsc, a.task.as_str()) {
        (None, "do_shutdown") => vec![c.nodes[n].id.clone()],
        (None, "stonith") if a.fence_op.as_deref().unwrap_or(&c.options.stonith_action) != "on" => {
            let mut ids = vec![c.nodes[n].id.clone()];
            // Guest nodes whose container runs on the fenced node.
            for g in &c.nodes {
                let host = g
                    .remote
                    .conn
                    .and_then(|conn| c.rscs[conn].remote.container)
                    .and_then(|ct| c.rscs[ct].current_node());
                if g.is_guest() && host == Some(n) {
                    ids.push(g.id.clone());
                }
            }
            ids
        }
        (Some(r), "stop") if c.rscs[r].remote.is_conn && !migrating => vec![c.rscs[r].id.clone()],
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{cib, clone, dummy, run};

    fn graph_action<'a>(g: &'a crate::TransitionGraph, key: &str, node: &str) -> &'a super::super::graph::GraphAction {
        &g.synapses
            .iter()
            .find(|s| s.action.operation_key == key && s.action.on_node.as_deref() == Some(node))
            .unwrap_or_else(|| panic!("no {key}@{node}"))
            .action
    }

    #[test]
    fn anonymous_clone_instances_use_the_configured_id() {
        let s = run(&cib(2, &clone("c", &dummy("d"), &[("clone-max", "2")]), "", &[]));
        let g = crate::graph::build(&s);
        let start = graph_action(&g, "d:0_start_0", "n1");
        let agent = start.agent.as_ref().expect("agent");
        assert_eq!((agent.id.as_str(), agent.long_id.as_deref()), ("d", Some("d:0")));
        let a = &start.attributes;
        for (k, v) in [
            ("CRM_meta_clone", "0"),
            ("CRM_meta_clone_max", "2"),
            ("CRM_meta_globally_unique", "false"),
            ("CRM_meta_notify", "false"),
            ("CRM_meta_on_node", "n1"),
            ("CRM_meta_timeout", "20000"),
            ("crm_feature_set", FEATURE_SET),
        ] {
            assert_eq!(a.get(k).map(String::as_str), Some(v), "{k} in {a:?}");
        }
    }

    #[test]
    fn probes_expect_not_running_and_carry_parameters() {
        let r = r#"<primitive id="r" class="ocf" provider="heartbeat" type="IPaddr2">
            <instance_attributes id="r-i"><nvpair id="r-ip" name="ip" value="10.0.0.1"/></instance_attributes>
            </primitive>"#;
        let g = crate::graph::build(&run(&cib(1, r, "", &[])));
        let probe = graph_action(&g, "r_monitor_0", "n1");
        assert_eq!(
            probe.attributes.get("CRM_meta_op_target_rc").map(String::as_str),
            Some("7")
        );
        assert_eq!(probe.attributes.get("ip").map(String::as_str), Some("10.0.0.1"));
        assert_eq!(probe.agent.as_ref().map(|a| a.long_id.is_none()), Some(true));
    }

    #[test]
    fn meta_names_use_underscores_and_skip_internal_names() {
        let mut out = BTreeMap::new();
        add_meta(&mut out, "record-pending", "true");
        add_meta(&mut out, "fail-count-r#start_0", "1");
        assert_eq!(
            out.into_iter().collect::<Vec<_>>(),
            [("CRM_meta_record_pending".to_string(), "true".to_string())]
        );
    }

    #[test]
    fn actions_on_a_guest_name_the_physical_host() {
        let rscs = r#"<primitive id="vm" class="ocf" provider="pacemaker" type="Dummy">
            <meta_attributes id="vm-m"><nvpair id="vm-m1" name="remote-node" value="guest1"/></meta_attributes></primitive>
            <primitive id="r" class="ocf" provider="pacemaker" type="Dummy"/>"#;
        let cons = r#"<rsc_location id="l1" rsc="r" node="guest1" score="INFINITY"/>
            <rsc_location id="l2" rsc="vm" node="n1" score="100"/>"#;
        let g = crate::graph::build(&run(&cib(1, rscs, cons, &[])));
        let start = graph_action(&g, "r_start_0", "guest1");
        assert_eq!(
            start.attributes.get("CRM_meta_physical_host").map(String::as_str),
            Some("n1")
        );
    }
}

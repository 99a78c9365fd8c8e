//! Pacemaker Remote and guest nodes while unpacking (after Pacemaker's
//! `unpack_remote_nodes`, `link_rsc2remotenode`, `setup_container`,
//! `determine_remote_online_status` and `unpack_handle_remote_attrs`).
//!
//! A remote node exists for every `ocf:pacemaker:remote` primitive (named
//! by its id) and every `<node type="remote">` entry; a guest node exists
//! for every primitive with a `remote-node` meta-attribute, whose implicit
//! connection resource (internal, not displayed) is created here. A remote
//! node is online only while its connection resource runs, so its resource
//! history is unpacked after the connection's (several passes over status).

use std::collections::BTreeMap;

use super::implicit::connection_def;
use super::{is_true, merge_nvsets_overwriting, unpack_lrm_resource, RscBuild};
use crate::model::*;
use cib::{Cib, LrmResource, NodeState, ResourceDef, ResourceKind};

/// `xml_contains_remote_node`: an `ocf:pacemaker:remote` agent.
pub(super) fn is_remote_agent(class: &str, provider: Option<&str>, ty: &str) -> bool {
    class.eq_ignore_ascii_case("ocf")
        && provider.is_some_and(|p| p.eq_ignore_ascii_case("pacemaker"))
        && ty.eq_ignore_ascii_case("remote")
}

fn def_is_remote(def: &ResourceDef) -> bool {
    matches!(&def.kind, ResourceKind::Primitive { class, provider, ty, .. }
        if is_remote_agent(class, provider.as_deref(), ty))
}

/// The guest-node meta-attributes of a primitive (`expand_remote_rsc_meta`
/// reads the raw nvpairs of every meta_attributes set, without rules).
struct GuestSpec {
    name: String,
    container: String,
    addr: Option<String>,
    port: Option<String>,
    connect_timeout: String,
    allow_migrate: Option<String>,
    managed: Option<String>,
}

fn guest_spec(def: &ResourceDef) -> Option<GuestSpec> {
    if !matches!(def.kind, ResourceKind::Primitive { .. }) {
        return None;
    }
    let mut spec = GuestSpec {
        name: String::new(),
        container: def.id.clone(),
        addr: None,
        port: None,
        connect_timeout: "60s".into(),
        allow_migrate: None,
        managed: None,
    };
    let mut name = None;
    for set in &def.meta {
        for (k, v) in &set.pairs {
            match k.to_ascii_lowercase().as_str() {
                "remote-node" => name = Some(v.clone()),
                "remote-addr" => spec.addr = Some(v.clone()),
                "remote-port" => spec.port = Some(v.clone()),
                "remote-connect-timeout" => spec.connect_timeout = v.clone(),
                "remote-allow-migrate" => spec.allow_migrate = Some(v.clone()),
                "is-managed" => spec.managed = Some(v.clone()),
                _ => {}
            }
        }
    }
    spec.name = name?;
    Some(spec)
}

/// Guest specs of the top-level primitives and of primitives directly in
/// top-level groups (clones cannot hold guest nodes), in configuration order.
fn guest_specs(cib: &Cib) -> Vec<GuestSpec> {
    let mut out = Vec::new();
    for def in &cib.configuration.resources {
        match &def.kind {
            ResourceKind::Primitive { .. } => out.extend(guest_spec(def)),
            ResourceKind::Group { children } => out.extend(children.iter().filter_map(guest_spec)),
            _ => {}
        }
    }
    out
}

/// A node created for a remote connection (`pe_create_node(.., "remote")`).
fn new_remote_node(c: &mut Cluster, name: &str) {
    if c.node_by_name(name).is_some() {
        return;
    }
    let mut attrs = BTreeMap::new();
    attrs.insert("#uname".to_string(), name.to_string());
    attrs.insert("#id".to_string(), name.to_string());
    attrs.insert("#kind".to_string(), "remote".to_string());
    c.nodes.push(Node::configured(name, name, NodeKind::Remote, attrs));
}

/// Whether a resource id is configured anywhere (including inside
/// groups, clones and bundles' primitives).
fn configured(cib: &Cib, id: &str) -> bool {
    cib.configuration.all_resources().any(|d| d.id == id)
}

/// Creates the remote and guest nodes defined by resources, plus nodes for
/// orphaned connection resources found in the history.
pub(super) fn create_remote_nodes(cib: &Cib, c: &mut Cluster) {
    for def in &cib.configuration.resources {
        if def_is_remote(def) {
            new_remote_node(c, &def.id);
        }
    }
    let guests = guest_specs(cib);
    for spec in &guests {
        new_remote_node(c, &spec.name);
    }
    // Bundle nodes exist only for their replica's child: no other resource
    // has them in its node table.
    for def in &cib.configuration.resources {
        for name in super::implicit::bundle_node_names(def) {
            let listed = c.node_by_name(&name).is_some();
            new_remote_node(c, &name);
            if let Some(n) = c.node_by_name(&name) {
                let node = &mut c.nodes[n];
                node.remote.listed = listed;
                node.remote.late = true;
                node.remote.bundle_node = true;
                node.weight = -cib::score::INFINITY;
            }
        }
    }
    for st in &cib.status.nodes {
        for lr in &st.lrm {
            let is_remote = is_remote_agent(
                lr.class.as_deref().unwrap_or(""),
                lr.provider.as_deref(),
                lr.ty.as_deref().unwrap_or(""),
            );
            let orphan = is_remote && !configured(cib, &lr.id) && guests.iter().all(|g| g.name != lr.id);
            if orphan && c.node_by_name(&lr.id).is_none() {
                new_remote_node(c, &lr.id);
                if let Some(last) = c.nodes.last_mut() {
                    last.remote.late = true;
                }
            }
        }
    }
}

/// The implicit connection resource of a guest node (`pe_create_remote_xml`).
fn guest_connection_def(spec: &GuestSpec) -> ResourceDef {
    let mut def = connection_def(
        &spec.name,
        &spec.container,
        spec.addr.clone(),
        spec.port.clone(),
        &spec.connect_timeout,
    );
    if let Some(m) = &spec.allow_migrate {
        def.meta[0].pairs.push(("allow-migrate".into(), m.clone()));
    }
    if let Some(m) = &spec.managed {
        def.meta[0].pairs.push(("is-managed".into(), m.clone()));
    }
    def
}

/// Adds the implicit connection resources of guest nodes (appended after
/// the configured resources, as Pacemaker appends their XML).
pub(super) fn add_guest_connections(b: &RscBuild<'_>, cib: &Cib, c: &mut Cluster, top: &mut Vec<RscIdx>) {
    for spec in guest_specs(cib) {
        if c.rsc_by_id(&spec.name).is_some() {
            continue;
        }
        let def = guest_connection_def(&spec);
        top.push(b.add(c, &def, None, None, None));
    }
}

/// Containers and connection links (`setup_container`,
/// `link_rsc2remotenode`), and the connection-specific defaults of
/// `pe__unpack_resource` (requires=quorum, allow-migrate, reconnect).
pub(super) fn link_resources(c: &mut Cluster) {
    for r in RscIdx::all(c.rscs.len()) {
        link_resource(c, r);
    }
}

/// Links one primitive (also used for orphans created from history).
pub(super) fn link_resource(c: &mut Cluster, r: RscIdx) {
    let Variant::Primitive { class, provider, ty } = &c.rscs[r].variant else {
        return;
    };
    let is_conn = is_remote_agent(class, provider.as_deref(), ty);
    if let Some(cid) = c.rscs[r].config.meta.get("container").cloned() {
        if cid != c.rscs[r].id {
            if let Some(ci) = c.rsc_by_id(&cid) {
                c.rscs[r].remote.container = Some(ci);
                if !c.rscs[ci].remote.fillers.contains(&r) {
                    c.rscs[ci].remote.fillers.push(r);
                }
            }
        }
    }
    if !is_conn {
        return;
    }
    c.rscs[r].remote.is_conn = true;
    let guest = c.rscs[r].config.meta.contains_key("container");
    if !c.rscs[r].config.meta.contains_key("requires") {
        c.rscs[r].config.requires_fencing = false;
        c.rscs[r].config.requires_quorum = true;
        c.rscs[r].config.requires_unfencing = false;
    }
    if !guest {
        std::sync::Arc::make_mut(&mut c.rscs[r].config.meta)
            .entry("allow-migrate".into())
            .or_insert_with(|| "true".into());
        if let Some(v) = c.rscs[r].config.params.get("reconnect_interval") {
            if let Some(ms) = cib::parse_interval_ms(v) {
                c.rscs[r].remote.reconnect_ms = ms;
                c.rscs[r].config.failure_timeout_s = (ms / 1000) as i64;
            }
        }
    }
    let Some(n) = c.node_by_name(&c.rscs[r].id.clone()) else {
        return;
    };
    c.nodes[n].remote.conn = Some(r);
    if c.rscs[r].remote.container.is_none() {
        // Start-up fencing for remote nodes as for cluster nodes.
        c.nodes[n].unclean = c.options.startup_fencing;
        c.nodes[n].remote.unseen = true;
    } else {
        c.nodes[n].kind = NodeKind::Guest;
        c.nodes[n].attrs.insert("#kind".into(), "container".into());
    }
}

/// An orphaned connection resource still defines its node, which is
/// shutting down; an orphan whose history names a container is mapped to
/// it once the node's history is unpacked (`handle_orphaned_container_fillers`).
pub(super) fn link_orphan(c: &mut Cluster, r: RscIdx, lr: &LrmResource) {
    if lr.container.is_some() {
        c.rscs[r].remote.orphan_filler = true;
    }
    if !c.rscs[r].is_primitive() || c.rscs[r].parent.is_some() {
        return;
    }
    let Variant::Primitive { class, provider, ty } = &c.rscs[r].variant else {
        return;
    };
    if !is_remote_agent(class, provider.as_deref(), ty) {
        return;
    }
    link_resource(c, r);
    if let Some(n) = c.node_by_name(&c.rscs[r].id.clone()) {
        c.nodes[n].shutdown = true;
    }
}

fn map_orphan_fillers(c: &mut Cluster, st: &NodeState) {
    for lr in &st.lrm {
        let Some(cid) = &lr.container else { continue };
        let Some(r) = c.rsc_by_id(&lr.id) else { continue };
        if !c.rscs[r].remote.orphan_filler || c.rscs[r].remote.container.is_some() {
            continue;
        }
        let Some(ct) = c.rsc_by_id(cid) else { continue };
        c.rscs[r].remote.container = Some(ct);
        if !c.rscs[ct].remote.fillers.contains(&r) {
            c.rscs[ct].remote.fillers.push(r);
        }
        // A connection with a container makes its node a guest node.
        if c.rscs[r].remote.is_conn {
            if let Some(n) = c.node_by_name(&c.rscs[r].id.clone()) {
                if c.nodes[n].remote.conn == Some(r) {
                    c.nodes[n].kind = NodeKind::Guest;
                }
            }
        }
    }
}

/// First pass over a remote node's state entry: only whether it was
/// fenced; its transient attributes are kept for the fail counts.
pub(super) fn first_pass(c: &mut Cluster, n: NodeIdx, st: &NodeState) {
    c.nodes[n].remote.was_fenced = st
        .node_fenced
        .as_deref()
        .is_some_and(|v| v.trim().parse::<i64>().is_ok_and(|x| x > 0));
    let mut tr = BTreeMap::new();
    merge_nvsets_overwriting(&st.transient, &c.rule_context(), &mut tr);
    for (k, v) in tr {
        c.nodes[n].attrs.insert(k, v);
    }
}

fn role_started(c: &Cluster, r: RscIdx) -> bool {
    c.rscs[r].observed.role == Role::Started
}

fn node_of_state(c: &Cluster, st: &NodeState) -> Option<NodeIdx> {
    c.nodes
        .iter()
        .position(|x| x.id == st.id)
        .map(NodeIdx)
        .or_else(|| st.uname.as_deref().and_then(|u| c.node_by_name(u)))
}

/// Unpacks every node's resource history in passes
/// (`unpack_node_history`): a remote node's history only once its
/// connection (and a guest's container) is known to be up, then whatever
/// is left when fencing is enabled.
pub(super) fn unpack_node_histories(cib: &Cib, c: &mut Cluster) {
    loop {
        let mut progress = false;
        for st in &cib.status.nodes {
            if unpack_one(c, st, false) {
                progress = true;
            }
        }
        if !progress {
            break;
        }
    }
    let fence = c.options.stonith_enabled;
    for st in &cib.status.nodes {
        unpack_one(c, st, fence);
    }
}

fn unpack_one(c: &mut Cluster, st: &NodeState, fence: bool) -> bool {
    let Some(n) = node_of_state(c, st) else {
        return false;
    };
    if c.nodes[n].remote.unpacked {
        return false;
    }
    if !fence {
        match c.nodes[n].kind {
            NodeKind::Guest => {
                let Some(r) = c.nodes[n].remote.conn else { return false };
                let container_up = c.rscs[r].remote.container.is_some_and(|ct| role_started(c, ct));
                if !role_started(c, r) || !container_up {
                    return false;
                }
            }
            NodeKind::Remote => {
                // With shutdown locks, a remote node's history is needed
                // even while its connection is down.
                let Some(r) = c.nodes[n].remote.conn else { return false };
                if !c.options.shutdown_lock && !role_started(c, r) {
                    return false;
                }
            }
            NodeKind::Cluster => {
                if !c.options.stonith_enabled && !c.options.shutdown_lock && !c.nodes[n].online {
                    return false;
                }
            }
        }
    }
    if c.nodes[n].is_remote_or_guest() {
        determine_online_status(c, n);
        handle_remote_attrs(c, n, st);
    }
    c.nodes[n].remote.unpacked = true;
    for lr in &st.lrm {
        unpack_lrm_resource(c, n, lr);
    }
    map_orphan_fillers(c, st);
    true
}

/// `determine_remote_online_status`.
pub(super) fn determine_online_status(c: &mut Cluster, n: NodeIdx) {
    let Some(r) = c.nodes[n].remote.conn else {
        c.nodes[n].online = false;
        return;
    };
    let container = c.rscs[r].remote.container;
    let host = match container {
        Some(_) if c.rscs[r].observed.running_on.len() == 1 => Some(c.rscs[r].observed.running_on[0]),
        _ => None,
    };
    let role = c.rscs[r].observed.role;
    if role == Role::Started {
        c.nodes[n].online = true;
    }
    if role == Role::Started && c.rscs[r].plan.next_role == Role::Stopped {
        c.nodes[n].shutdown = true;
    }
    let stopped = |x: Role| x <= Role::Stopped;
    if container.is_some_and(|ct| c.rscs[ct].observed.failed) {
        c.nodes[n].online = false;
        c.nodes[n].remote.requires_reset = true;
    } else if c.rscs[r].observed.failed {
        c.nodes[n].online = false;
    } else if stopped(role) || container.is_some_and(|ct| stopped(c.rscs[ct].observed.role)) {
        c.nodes[n].online = false;
        c.nodes[n].remote.requires_reset = false;
    } else if host.is_some_and(|h| !c.nodes[h].online && c.nodes[h].unclean) {
        c.nodes[n].online = false;
        c.nodes[n].remote.requires_reset = true;
    }
}

/// `unpack_handle_remote_attrs`.
fn handle_remote_attrs(c: &mut Cluster, n: NodeIdx, st: &NodeState) {
    if !c.nodes[n].remote.requires_reset {
        c.nodes[n].unclean = false;
        c.nodes[n].remote.unseen = false;
    }
    c.nodes[n].seen = true;
    let mut tr = BTreeMap::new();
    merge_nvsets_overwriting(&st.transient, &c.rule_context(), &mut tr);
    for (k, v) in tr {
        c.nodes[n].attrs.insert(k, v);
    }
    let attrs = &c.nodes[n].attrs;
    let shutdown = attrs.get("shutdown").is_some_and(|v| !v.is_empty() && v != "0");
    let standby = attrs.get("standby").is_some_and(|v| is_true(v));
    let conn_unmanaged = c.nodes[n].remote.conn.is_some_and(|r| !c.rscs[r].config.managed);
    let maintenance = attrs.get("maintenance").is_some_and(|v| is_true(v)) || conn_unmanaged;
    let discovery_off = attrs.get("resource-discovery-enabled").is_some_and(|v| !is_true(v));
    if shutdown {
        c.nodes[n].shutdown = true;
    }
    if standby {
        c.nodes[n].standby = true;
    }
    if maintenance {
        c.nodes[n].maintenance = true;
    }
    // Remote nodes may disable discovery only when they can be fenced.
    if discovery_off && (c.options.stonith_enabled || !c.nodes[n].is_remote()) {
        c.nodes[n].remote.discovery_disabled = true;
    }
}

/// After all history: connections of remote nodes shutting down stop, and
/// nodes without unpacked history get their online status.
pub(super) fn finish_status(c: &mut Cluster) {
    for n in NodeIdx::all(c.nodes.len()) {
        if !c.nodes[n].is_remote_or_guest() {
            continue;
        }
        if c.nodes[n].shutdown {
            if let Some(r) = c.nodes[n].remote.conn {
                c.rscs[r].plan.next_role = Role::Stopped;
            }
        }
        if !c.nodes[n].remote.unpacked {
            determine_online_status(c, n);
        }
    }
}

/// `pe_fence_node` for remote and guest nodes; returns false for cluster
/// nodes (handled by the caller).
pub(super) fn fence_node(c: &mut Cluster, n: NodeIdx, reason: &str) -> bool {
    match c.nodes[n].kind {
        NodeKind::Cluster => false,
        NodeKind::Guest => {
            // A guest is "fenced" by recovering its container.
            let container = c.nodes[n].remote.conn.and_then(|r| c.rscs[r].remote.container);
            if let Some(ct) = container {
                if !c.rscs[ct].observed.failed && c.rscs[ct].config.managed {
                    c.nodes[n].remote.requires_reset = true;
                    c.rscs[ct].observed.failed = true;
                    c.rscs[ct].plan.stop_needed = true;
                }
            }
            true
        }
        NodeKind::Remote => {
            let conn = c.nodes[n].remote.conn;
            if let Some(r) = conn.filter(|&r| c.rscs[r].remote.orphan_filler && c.rscs[r].remote.container.is_none()) {
                // Dangling guest connection: its container is gone.
                c.rscs[r].observed.failed = true;
                c.rscs[r].plan.stop_needed = true;
                return true;
            }
            if conn.is_none_or(|r| c.rscs[r].config.managed) {
                c.nodes[n].remote.requires_reset = true;
            }
            let node = &mut c.nodes[n];
            if !node.unclean || node.fence_reason.is_none() {
                node.unclean = true;
                node.fence_reason = Some(reason.to_string());
            }
            true
        }
    }
}

/// `process_rsc_state`'s handling of a managed resource that is active on a
/// node that is down; returns the fencing reason if the node must be fenced.
pub(super) fn active_on_down_node(c: &mut Cluster, r: RscIdx, n: NodeIdx) -> Option<String> {
    match c.nodes[n].kind {
        NodeKind::Guest => {
            c.rscs[r].observed.failed = true;
            c.rscs[r].plan.stop_needed = true;
            Some(format!("{} is thought to be active there", c.rscs[r].id))
        }
        _ if !c.options.stonith_enabled => None,
        NodeKind::Remote => {
            let conn_ok = c.nodes[n].remote.conn.is_some_and(|cr| !c.rscs[cr].observed.failed);
            if conn_ok {
                c.nodes[n].remote.unseen = true;
                Some(format!(
                    "{} is active there (fencing will be revoked if remote connection can be re-established elsewhere)",
                    c.rscs[r].id
                ))
            } else {
                Some(format!("{} is thought to be active there", c.rscs[r].id))
            }
        }
        NodeKind::Cluster => Some(format!("{} is thought to be active there", c.rscs[r].id)),
    }
}

/// `on-fail=reset-remote` of a failed connection: fence the remote node
/// (unless it was fenced already), stop the connection, and keep it
/// stopped while a reconnect interval runs.
pub(super) fn reset_remote(c: &mut Cluster, r: RscIdx, n: NodeIdx, role: Role) {
    c.rscs[r].observed.failed = true;
    c.rscs[r].plan.stop_needed = true;
    if c.options.stonith_enabled {
        if let Some(rn) = c.node_by_name(&c.rscs[r].id.clone()) {
            if c.nodes[rn].is_remote() && !c.nodes[rn].remote.was_fenced {
                super::fence_node(c, rn, "remote connection is unrecoverable");
            }
        }
    }
    let _ = (n, role);
    if c.rscs[r].remote.reconnect_ms > 0 {
        c.rscs[r].plan.next_role = Role::Stopped;
        c.rscs[r].remote.reset_kept = true;
    }
}

/// A failed connection makes an unclean remote node's fencing definite.
pub(super) fn failed_connection_unseen(c: &mut Cluster, r: RscIdx) {
    if c.rscs[r].observed.failed && c.rscs[r].remote.is_conn {
        if let Some(rn) = c.node_by_name(&c.rscs[r].id.clone()) {
            if c.nodes[rn].unclean {
                c.nodes[rn].remote.unseen = false;
            }
        }
    }
}

/// A remote connection with a reconnect interval keeps its recurring
/// monitor failures until its node has been fenced
/// (`should_ignore_failure_timeout`).
pub(super) fn keeps_monitor_failure(c: &Cluster, r: RscIdx, op: &cib::LrmOp) -> bool {
    c.rscs[r].remote.reconnect_ms > 0
        && c.options.stonith_enabled
        && op.interval_ms != 0
        && op.operation == "monitor"
        && c.node_by_name(&c.rscs[r].id)
            .is_some_and(|n| !c.nodes[n].remote.was_fenced)
}

/// Whether `r` is a connection of a (non-guest) remote node
/// (`pe__resource_is_remote_conn`).
pub(super) fn is_remote_conn(c: &Cluster, r: RscIdx) -> bool {
    c.rscs[r].remote.is_conn && c.node_by_name(&c.rscs[r].id).is_some_and(|n| c.nodes[n].is_remote())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_agent_match_is_case_insensitive() {
        assert!(is_remote_agent("ocf", Some("pacemaker"), "remote"));
        assert!(is_remote_agent("OCF", Some("Pacemaker"), "Remote"));
        assert!(!is_remote_agent("ocf", Some("heartbeat"), "remote"));
        assert!(!is_remote_agent("ocf", None, "remote"));
    }

    #[test]
    fn guest_connection_has_container_and_internal_meta() {
        let spec = GuestSpec {
            name: "lxc1".into(),
            container: "container1".into(),
            addr: Some("10.0.0.1".into()),
            port: None,
            connect_timeout: "60s".into(),
            allow_migrate: None,
            managed: None,
        };
        let def = guest_connection_def(&spec);
        assert_eq!(def.id, "lxc1");
        assert!(def_is_remote(&def));
        let pairs = &def.meta[0].pairs;
        assert!(pairs.contains(&("container".into(), "container1".into())));
        assert!(pairs.contains(&("internal_rsc".into(), "true".into())));
        assert_eq!(
            def.instance[0].pairs,
            vec![("addr".to_string(), "10.0.0.1".to_string())]
        );
    }
}

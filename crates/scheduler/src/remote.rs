//! Pacemaker Remote in the scheduler (after `pcmk_sched_remote.c`,
//! `pcmk__primitive_internal_constraints`, `remote_connection_assigned`,
//! `pcmk__fence_guest` and the remote checks of `pcmk__probe_rsc_on_node`).
//!
//! Resources on a remote or guest node can only act while the node's
//! connection resource runs: starts wait for the connection start, stops
//! happen before the connection stops, and a node whose connection is
//! unrecoverable while resources are active there is fenced. A guest node
//! is "fenced" by recovering its container, which implies the stops of
//! everything on the guest.

// Node indices address several parallel tables at once.
#![allow(clippy::needless_range_loop)]

use crate::action_set::{flags, ActionSet};
use crate::constraint_types::{Coloc, Constraints, Ordering};
use crate::ids::clone_strip;
use crate::model::{Cluster, Discover, NodeIdx, NodeKind, Role, RscIdx};
use cib::score::INFINITY;
use cib::OrderKind;

/// `enum remote_connection_state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    Unknown,
    Alive,
    Resting,
    Failed,
    Stopped,
}

/// The node a connection resource defines, if any.
fn node_of_conn(c: &Cluster, r: RscIdx) -> Option<NodeIdx> {
    c.node_by_name(&c.rscs[r].id)
        .filter(|&n| c.nodes[n].remote.conn == Some(r))
}

/// The connection resource of a guest node inside `container`, if any
/// (`pe__resource_contains_guest_node`).
fn guest_conn_in(c: &Cluster, container: RscIdx) -> Option<RscIdx> {
    c.rscs[container]
        .remote
        .fillers
        .iter()
        .copied()
        .find(|&f| c.rscs[f].remote.is_conn)
}

/// Bans a resource from every remote and guest node with a connection
/// (`rsc_avoids_remote_nodes`).
fn avoid_remote_nodes(c: &mut Cluster, r: RscIdx) {
    for n in NodeIdx::all(c.nodes.len()) {
        if c.nodes[n].remote.conn.is_some() && c.rscs[r].plan.allowed[n.0].is_some() {
            c.rscs[r].plan.allowed[n.0] = Some(-INFINITY);
        }
    }
}

/// Implicit constraints of connections, containers and the resources they
/// contain (the remote part of `pcmk__primitive_internal_constraints`).
pub fn internal_constraints(c: &mut Cluster, cons: &mut Constraints) {
    for r in RscIdx::all(c.rscs.len()) {
        if !c.rscs[r].is_primitive() || !c.rscs[r].config.managed {
            continue;
        }
        if let Some(ct) = c.rscs[r].remote.container {
            let mut remote_rsc = None;
            if c.rscs[r].remote.is_conn {
                if !c.rscs[r].remote.allow_remote_remotes {
                    avoid_remote_nodes(c, ct);
                }
            } else if c.rscs[ct].remote.is_conn {
                remote_rsc = Some(ct);
            } else {
                remote_rsc = guest_conn_in(c, ct);
            }
            match remote_rsc {
                Some(conn) => {
                    // Forced onto the remote node instead of colocated with
                    // the container.
                    for n in NodeIdx::all(c.nodes.len()) {
                        if c.rscs[r].plan.allowed[n.0].is_some() && c.nodes[n].remote.conn != Some(conn) {
                            c.rscs[r].plan.allowed[n.0] = Some(-INFINITY);
                        }
                    }
                }
                None => {
                    cons.orders.push(Ordering {
                        id: "resource-with-container".into(),
                        first: ct,
                        first_action: "start".into(),
                        then: r,
                        then_action: "start".into(),
                        kind: OrderKind::Mandatory,
                        symmetrical: true,
                        clone_min: 0,
                    });
                    let score = if c.rscs[r].remote.allow_remote_remotes && c.rscs[r].remote.is_conn {
                        10_000
                    } else {
                        INFINITY
                    };
                    cons.colocs.push(Coloc {
                        id: "resource-with-container".into(),
                        dependent: r,
                        primary: ct,
                        score,
                        dependent_role: Role::Unknown,
                        primary_role: Role::Unknown,
                        node_attribute: None,
                        influence: true,
                        primary_group: None,
                    });
                }
            }
        }
        let is_fence_device = matches!(&c.rscs[r].variant,
            crate::model::Variant::Primitive { class, .. } if class == "stonith");
        if c.rscs[r].remote.is_conn || is_fence_device {
            avoid_remote_nodes(c, r);
        }
    }
}

/// Failures of the resources inside a (non-bundle) container count
/// towards the container's migration threshold (`pe_fc_fillers`).
pub fn fillers_fail_count(c: &Cluster, r: RscIdx, n: NodeIdx) -> cib::score::Score {
    c.rscs[r]
        .remote
        .fillers
        .iter()
        .fold(0, |acc, &f| cib::score::add(acc, crate::unpack::fail_count(c, f, n)))
}

/// The node whose attributes count for `r` on `n`
/// (`pe__node_attribute_calculated`): with `container-attribute-target=host`,
/// a guest node reads its container's host.
pub fn attribute_node(c: &Cluster, r: RscIdx, n: NodeIdx) -> NodeIdx {
    let host_target = c.rscs[r]
        .config
        .meta
        .get("container-attribute-target")
        .is_some_and(|v| v.eq_ignore_ascii_case("host"));
    if !host_target || !c.nodes[n].is_guest() {
        return n;
    }
    c.nodes[n]
        .remote
        .conn
        .and_then(|cr| c.rscs[cr].remote.container)
        .and_then(|ct| c.rscs[ct].current_node())
        .unwrap_or(n)
}

/// A guest node is available only while its container is assigned
/// somewhere; other nodes always pass.
pub fn guest_available(c: &Cluster, n: NodeIdx) -> bool {
    if !c.nodes[n].is_guest() {
        return true;
    }
    c.nodes[n]
        .remote
        .conn
        .and_then(|cr| c.rscs[cr].remote.container)
        .is_none_or(|ct| c.rscs[ct].plan.assigned.is_some())
}

/// `remote_connection_assigned`: the node comes (or stays) online when its
/// connection will run; otherwise it is shutting down.
pub fn connection_assigned(c: &mut Cluster, r: RscIdx) {
    if !c.rscs[r].remote.is_conn {
        return;
    }
    let Some(n) = node_of_conn(c, r) else { return };
    if c.rscs[r].plan.assigned.is_some() && c.rscs[r].plan.next_role != Role::Stopped {
        c.nodes[n].online = true;
        if c.nodes[n].remote.unseen {
            // The connection will be attempted: no need to fence.
            c.nodes[n].unclean = false;
        }
    } else {
        c.nodes[n].shutdown = true;
    }
}

/// `get_remote_node_state` of a remote or guest node with a connection.
pub fn conn_state(c: &Cluster, n: NodeIdx) -> Option<ConnState> {
    let r = c.nodes[n].remote.conn?;
    let rs = &c.rscs[r];
    let cluster_node = rs.current_node();
    if rs.plan.next_role == Role::Stopped || rs.plan.assigned.is_none() {
        if cluster_node.is_some_and(|h| c.nodes[h].unclean) {
            return Some(ConnState::Failed);
        }
        if !rs.observed.failed {
            return Some(ConnState::Stopped);
        }
        if rs.plan.next_role == Role::Stopped
            && rs.remote.reconnect_ms > 0
            && c.nodes[n].remote.was_fenced
            && !shutdown_requested(c, n)
        {
            return Some(ConnState::Unknown);
        }
        return Some(ConnState::Failed);
    }
    match cluster_node {
        None => Some(ConnState::Unknown),
        Some(h) if c.nodes[h].unclean || !c.nodes[h].online => Some(ConnState::Resting),
        // A partially migrated connection is resting too.
        _ if rs.observed.running_on.len() > 1
            && rs.observed.partial_migration_source.is_some()
            && rs.observed.partial_migration_target.is_some() =>
        {
            Some(ConnState::Resting)
        }
        _ => Some(ConnState::Alive),
    }
}

fn fence(c: &mut Cluster, n: NodeIdx, reason: &str) {
    if c.nodes[n].is_guest() {
        return;
    }
    if let Some(r) = c.nodes[n].remote.conn {
        if !c.rscs[r].config.managed {
            // The node is considered unclean but cannot be fenced.
            c.nodes[n].unclean = true;
            return;
        }
    }
    let node = &mut c.nodes[n];
    if !node.unclean || node.fence_reason.is_none() {
        node.unclean = true;
        node.fence_reason = Some(reason.to_string());
    }
}

/// Fencing decided once connections are placed (`pcmk__schedule_probes`
/// and `apply_remote_ordering`): a remote node whose connection cannot
/// recover is fenced when it is offline, or when resources are active on
/// it. Unclean remote nodes without a reason get Pacemaker's default one.
pub fn plan_fencing(c: &mut Cluster) {
    for n in NodeIdx::all(c.nodes.len()) {
        if c.nodes[n].kind != NodeKind::Remote || c.nodes[n].remote.conn.is_none() {
            continue;
        }
        let failed = conn_state(c, n) == Some(ConnState::Failed);
        if failed && !c.nodes[n].online && c.options.enable_startup_probes {
            fence(c, n, "the connection is unrecoverable");
        }
        if failed && RscIdx::all(c.rscs.len()).any(|r| needs_probe(c, r, n)) {
            fence(c, n, "resources are in unknown state and connection is unrecoverable");
        }
        if failed {
            let active = RscIdx::all(c.rscs.len()).any(|r| {
                let rs = &c.rscs[r];
                rs.is_primitive() && rs.config.managed && rs.observed.running_on.contains(&n)
            });
            if active {
                fence(c, n, "resources are active but connection is unrecoverable");
            }
        }
    }
    for node in &mut c.nodes {
        if node.is_remote() && node.unclean && node.fence_reason.is_none() {
            node.fence_reason = Some("node is unclean".into());
        }
    }
}

/// `apply_exclusive_discovery`: a resource with exclusive discovery may
/// only run on nodes named by its exclusive location constraints.
pub fn apply_exclusive_discovery(c: &mut Cluster) {
    for r in RscIdx::all(c.rscs.len()) {
        let top = c.top_parent(r);
        if !c.rscs[r].remote.exclusive_discover && !c.rscs[top].remote.exclusive_discover {
            continue;
        }
        for n in NodeIdx::all(c.nodes.len()) {
            let mode = c.rscs[r].remote.discover.get(&n).copied().unwrap_or_default();
            if c.rscs[r].plan.allowed[n.0].is_some() && mode != Discover::Exclusive {
                c.rscs[r].plan.allowed[n.0] = Some(-INFINITY);
            }
        }
    }
}

/// Whether `resource-discovery` allows probing `r` on `n`.
fn discovery_allows(c: &Cluster, r: RscIdx, n: NodeIdx) -> bool {
    let top = c.top_parent(r);
    let mode = c.rscs[r].remote.discover.get(&n).copied();
    if c.rscs[r].remote.exclusive_discover || c.rscs[top].remote.exclusive_discover {
        return c.rscs[r].plan.allowed[n.0].is_some() && mode == Some(Discover::Exclusive);
    }
    mode != Some(Discover::Never)
}

/// Whether a probe of primitive `r` will be scheduled on `n` (the criteria
/// of the probe loop in `create_actions`).
fn needs_probe(c: &Cluster, r: RscIdx, n: NodeIdx) -> bool {
    let rs = &c.rscs[r];
    let node = &c.nodes[n];
    // An anonymous clone probes a single instance, none if one is known there.
    let top = c.top_parent(r);
    if rs.config.instance.is_some() && matches!(c.rscs[top].variant, crate::model::Variant::Clone { unique: false, .. })
    {
        let base = clone_strip(&rs.id);
        let known = c.primitives_of(top).into_iter().any(|p| {
            let ps = &c.rscs[p];
            clone_strip(&ps.id) == base && (ps.observed.known_on.contains(&n) || ps.observed.running_on.contains(&n))
        });
        if known {
            return false;
        }
    }
    c.options.enable_startup_probes
        && rs.is_primitive()
        && !rs.observed.orphan
        && node.online
        && !node.unclean
        && !node.pending
        && !node.maintenance
        && !rs.observed.known_on.contains(&n)
        && !rs.observed.running_on.contains(&n)
        && (rs.plan.allowed[n.0].is_some() || c.options.symmetric)
        && probe_allowed(c, r, n)
}

/// Whether a probe of `r` on node `n` makes sense: `resource-discovery`,
/// and the remote checks of `pcmk__probe_rsc_on_node`.
pub fn probe_allowed(c: &Cluster, r: RscIdx, n: NodeIdx) -> bool {
    matches!(probe_decision(c, r, n), ProbeDecision::Probe)
}

/// What `pcmk__probe_rsc_on_node` decides for `r` on `n`, as far as the
/// remote checks go.
pub enum ProbeDecision {
    Probe,
    No,
    /// The guest node's container is stopped: its probe orders before the
    /// start (`probe_then_start`).
    GuestStopped(RscIdx),
    /// The guest node's container will stop: its stop orders before the
    /// start, in case it is restarting.
    GuestWillStop(RscIdx),
}

pub fn probe_decision(c: &Cluster, r: RscIdx, n: NodeIdx) -> ProbeDecision {
    if probe_allowed_inner(c, r, n) {
        return ProbeDecision::Probe;
    }
    // Only the guest's own state may have stopped the probe.
    let node = &c.nodes[n];
    if !node.is_guest() || !discovery_allows(c, r, n) {
        return ProbeDecision::No;
    }
    let rs = &c.rscs[r];
    if rs.remote.container.is_some() && !rs.remote.is_conn {
        return ProbeDecision::No;
    }
    if node.remote.discovery_disabled
        || (node.remote.bundle_node && c.rscs[r].remote.discover.get(&n) != Some(&Discover::Exclusive))
    {
        return ProbeDecision::No;
    }
    let is_stonith = matches!(&rs.variant, crate::model::Variant::Primitive { class, .. } if class == "stonith");
    let top = c.top_parent(r);
    if is_stonith || rs.remote.is_conn || guest_conn_in(c, r).is_some() || guest_conn_in(c, top).is_some() {
        return ProbeDecision::No;
    }
    let Some(guest) = node.remote.conn.and_then(|cr| c.rscs[cr].remote.container) else {
        return ProbeDecision::No;
    };
    if c.rscs[guest].observed.role <= Role::Stopped {
        ProbeDecision::GuestStopped(guest)
    } else {
        ProbeDecision::GuestWillStop(guest)
    }
}

fn probe_allowed_inner(c: &Cluster, r: RscIdx, n: NodeIdx) -> bool {
    if !discovery_allows(c, r, n) {
        return false;
    }
    let rs = &c.rscs[r];
    if rs.remote.container.is_some() && !rs.remote.is_conn {
        return false;
    }
    let node = &c.nodes[n];
    if !node.is_remote_or_guest() {
        return true;
    }
    // Bundle nodes are discovered only by their replica's child.
    if node.remote.bundle_node && c.rscs[r].remote.discover.get(&n) != Some(&Discover::Exclusive) {
        return false;
    }
    if node.remote.discovery_disabled {
        return false;
    }
    let is_stonith = matches!(&rs.variant, crate::model::Variant::Primitive { class, .. } if class == "stonith");
    if is_stonith || rs.remote.is_conn {
        return false;
    }
    if node.is_guest() {
        let top = c.top_parent(r);
        if guest_conn_in(c, r).is_some() || guest_conn_in(c, top).is_some() {
            return false;
        }
        let Some(guest) = node.remote.conn.and_then(|cr| c.rscs[cr].remote.container) else {
            return true;
        };
        let g = &c.rscs[guest];
        if g.observed.role <= Role::Stopped {
            return false;
        }
        let will_stop = node.remote.requires_reset
            || g.observed.failed
            || g.plan.next_role == Role::Stopped
            || (g.observed.role > Role::Stopped
                && g.plan.assigned.is_some_and(|a| !g.observed.running_on.contains(&a)));
        if will_stop {
            return false;
        }
    }
    true
}

/// Pseudo fencing of guest nodes that need a reset (`pcmk__fence_guest`);
/// returns the fence action per guest node.
pub fn guest_fence_actions(c: &Cluster, s: &mut ActionSet, fence_of: &mut [Option<usize>]) {
    let have_managed = c.rscs.iter().any(|r| r.config.managed);
    for n in NodeIdx::all(c.nodes.len()) {
        if !c.nodes[n].is_guest() || !c.nodes[n].remote.requires_reset || !have_managed {
            continue;
        }
        if !c.can_fence(n) {
            continue;
        }
        let a = s.add(None, "stonith", 0, Some(n), false);
        s.actions[a].pseudo = true;
        s.actions[a].fence_op = Some("off".into());
        s.actions[a].reason = Some("guest is unclean".into());
        fence_of[n.0] = Some(a);
    }
}

/// `pe__shutdown_requested`: a non-zero `shutdown` node attribute.
fn shutdown_requested(c: &Cluster, n: NodeIdx) -> bool {
    c.nodes[n]
        .attrs
        .get("shutdown")
        .is_some_and(|v| !v.is_empty() && v != "0")
}

/// Finishes guest fencing once resource actions exist: "reboot" when the
/// container (re)starts, ordered after the container's stop.
fn finish_guest_fencing(c: &Cluster, s: &mut ActionSet, fence_of: &[Option<usize>]) {
    for n in NodeIdx::all(c.nodes.len()) {
        let Some(f) = fence_of[n.0] else { continue };
        if !c.nodes[n].is_guest() {
            continue;
        }
        let Some(conn) = c.nodes[n].remote.conn else { continue };
        let Some(ct) = c.rscs[conn].remote.container else {
            continue;
        };
        let starts = s
            .actions
            .iter()
            .any(|a| a.rsc == Some(ct) && a.task == "start" && a.node.is_some());
        if starts {
            s.actions[f].fence_op = Some("reboot".into());
        }
        let stop = s
            .actions
            .iter()
            .find(|a| a.rsc == Some(ct) && a.task == "stop" && a.node.is_some() && a.interval_ms == 0)
            .map(|a| a.id);
        // Pacemaker fences nodes in name order (`pe__cmp_node_name`): the
        // container's stop is implied by its host's fencing only if the
        // host came first; otherwise it is still an ordinary stop then.
        let host_first = |host: NodeIdx| {
            crate::model::cmp_node_names(&c.nodes[host].uname, &c.nodes[n].uname) == std::cmp::Ordering::Less
        };
        match stop {
            Some(st) if s.actions[st].pseudo && s.actions[st].node.is_some_and(host_first) => {
                if let Some(host) = s.actions[st].node {
                    if let Some(hf) = fence_of[host.0] {
                        s.order(hf, f, flags::RUNNABLE_LEFT | flags::IMPLIES_THEN);
                    }
                }
            }
            Some(st) => s.order(st, f, flags::RUNNABLE_LEFT | flags::IMPLIES_THEN),
            None => {
                // Else after the connection's stop, if any.
                let conn_stop = s.of(conn, "stop").into_iter().find(|&a| s.actions[a].node.is_some());
                if let Some(cs) = conn_stop {
                    s.order(cs, f, 0);
                }
            }
        }
    }
}

/// Whether Pacemaker's `text2task` maps `task` to an action kind
/// (lib/pengine/common.c:353-381) rather than to `no_action`.
fn known_task(task: &str) -> bool {
    matches!(
        task,
        "stop"
            | "stopped"
            | "start"
            | "running"
            | "do_shutdown"
            | "stonith"
            | "monitor"
            | "notify"
            | "notified"
            | "promote"
            | "demote"
            | "promoted"
            | "demoted"
    )
}

/// Orders resource actions on remote and guest nodes relative to the
/// node's connection and container (`pcmk__order_remote_connection_actions`).
pub fn order_actions(c: &Cluster, s: &mut ActionSet, fence_of: &[Option<usize>]) {
    finish_guest_fencing(c, s, fence_of);
    let n_actions = s.actions.len();
    for i in 0..n_actions {
        let a = s.actions[i].clone();
        let (Some(r), Some(n)) = (a.rsc, a.node) else { continue };
        // Only real actions; Pacemaker orders these before fencing turns
        // stops and demotes on a fenced node into pseudo-actions.
        let implied_by_fencing = matches!(a.task.as_str(), "stop" | "demote") && fence_of[n.0].is_some();
        if (a.pseudo && !implied_by_fencing) || !c.nodes[n].is_remote_or_guest() {
            continue;
        }
        let Some(conn) = c.nodes[n].remote.conn else { continue };
        if conn == r {
            continue;
        }
        let conn_starts = s.of(conn, "start");
        let conn_stops = s.of(conn, "stop");
        // A resource moving to a remote node stops where it was only after
        // the connection started, so that it keeps running if the
        // connection fails (`pcmk__order_remote_connection_actions`).
        if a.task == "start" {
            let stops: Vec<usize> = s
                .of(r, "stop")
                .into_iter()
                .filter(|&st| s.actions[st].node.is_some_and(|m| m != n))
                .collect();
            for st in stops {
                for &cs in &conn_starts {
                    s.order(cs, st, 0);
                }
            }
        }
        let recurring = a.interval_ms > 0;
        let task = match a.task.as_str() {
            "migrate_to" | "migrate_from" => "stop",
            t => t,
        };
        if let Some(ct) = c.rscs[conn].remote.container {
            // Guest node. Actions that need neither quorum nor fencing still
            // cannot complete on a guest whose host is lost and unfenceable.
            if !matches!(task, "start" | "promote") && !c.can_fence(n) {
                s.actions[i].runnable = false;
            }
            let ct_starts = s.of(ct, "start");
            match task {
                "start" | "promote" => {
                    for &cs in &ct_starts {
                        s.order(cs, i, flags::IMPLIES_THEN | flags::RUNNABLE_LEFT);
                    }
                    for &cs in &conn_starts {
                        s.order(cs, i, flags::RUNNABLE_LEFT);
                    }
                }
                "stop" | "demote" => {
                    if !c.rscs[ct].observed.failed {
                        for &cs in &conn_stops {
                            s.order(i, cs, 0);
                        }
                    }
                }
                // A recurring action whose task Pacemaker does not know
                // (a cancel: `text2task` gives `no_action`) is not ordered
                // (`apply_container_ordering`,
                // lib/pacemaker/pcmk_sched_remote.c:370-378).
                _ if recurring && !known_task(task) => {}
                _ => {
                    let fl = if recurring {
                        flags::IMPLIES_THEN | flags::RUNNABLE_LEFT
                    } else {
                        flags::RUNNABLE_LEFT
                    };
                    for &cs in &conn_starts {
                        s.order(cs, i, fl);
                    }
                }
            }
            continue;
        }
        let state = conn_state(c, n).unwrap_or(ConnState::Unknown);
        match task {
            "start" | "promote" => {
                let fl = if state == ConnState::Failed {
                    flags::RUNNABLE_LEFT | flags::IMPLIES_THEN
                } else {
                    flags::RUNNABLE_LEFT
                };
                for &cs in &conn_starts {
                    s.order(cs, i, fl);
                }
            }
            "stop" => {
                if state == ConnState::Alive
                    || (state != ConnState::Failed && c.rscs[conn].plan.next_role == Role::Stopped)
                {
                    for &cs in &conn_stops {
                        s.order(i, cs, flags::IMPLIES_FIRST);
                    }
                } else if state != ConnState::Failed {
                    for &cs in &conn_starts {
                        s.order(cs, i, flags::RUNNABLE_LEFT);
                    }
                }
            }
            "demote" => {
                if matches!(state, ConnState::Resting | ConnState::Unknown) {
                    for &cs in &conn_starts {
                        s.order(cs, i, flags::RUNNABLE_LEFT);
                    }
                }
            }
            _ => {
                if recurring {
                    for &cs in &conn_starts {
                        s.order(cs, i, flags::IMPLIES_THEN | flags::RUNNABLE_LEFT);
                    }
                } else if c.rscs[conn].current_node().is_some() && state == ConnState::Stopped {
                    for &cs in &conn_stops {
                        s.order(i, cs, flags::RUNNABLE_LEFT);
                    }
                } else {
                    for &cs in &conn_starts {
                        s.order(cs, i, flags::RUNNABLE_LEFT);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::order_actions;
    use crate::action_set::ActionSet;
    use crate::testutil::{cib, dummy};

    #[test]
    fn on_a_guest_node_a_cancel_waits_for_no_connection_start_a_monitor_does() {
        // bundle-order-stop: the cancel of galera's promoted monitor runs
        // although the guest's connection will not start again.
        let vm = "<primitive id=\"VM\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">\
                  <meta_attributes id=\"VM-m\"><nvpair id=\"VM-g\" name=\"remote-node\" value=\"g1\"/>\
                  </meta_attributes></primitive>";
        let c = crate::unpack::unpack(&cib(1, &format!("{vm}{}", dummy("R")), "", &[]), 0);
        let (conn, r) = (c.rsc_by_id("g1").expect("g1"), c.rsc_by_id("R").expect("R"));
        let (n1, g1) = (c.node_by_name("n1"), c.node_by_name("g1"));
        let mut s = ActionSet::default();
        let start = s.add(Some(conn), "start", 0, n1, true);
        let cancel = s.add(Some(r), "cancel", 10000, g1, false);
        let monitor = s.add(Some(r), "monitor", 10000, g1, false);
        order_actions(&c, &mut s, &vec![None; c.nodes.len()]);
        let after = |a: usize| s.edges.iter().any(|e| e.first == start && e.then == a);
        assert!(!after(cancel));
        assert!(after(monitor));
    }
}

//! Text output in the format of `crm_simulate` 2.1.5: cluster status
//! (node list and resource list), the transition summary and the executed
//! actions.

use scheduler::ids::clone_strip;
use std::fmt::Write as _;

use scheduler::graph::{ActionKind, GraphAction};
pub use scheduler::model::cmp_node_names;
use scheduler::model::{Bundle, Cluster, NodeIdx, NodeKind, Role, RscIdx, Variant};
use scheduler::task::Task;
use scheduler::{Action, Schedule};

use crate::names::ResourceNames;

fn sorted_nodes(c: &Cluster) -> Vec<NodeIdx> {
    let mut v: Vec<NodeIdx> = NodeIdx::all(c.nodes.len()).collect();
    v.sort_by(|&a, &b| cmp_node_names(&c.nodes[a].uname, &c.nodes[b].uname));
    v
}

fn node_status(c: &Cluster, n: NodeIdx) -> &'static str {
    let node = &c.nodes[n];
    if node.unclean {
        if node.online {
            "UNCLEAN (online)"
        } else if node.pending {
            "UNCLEAN (pending)"
        } else {
            "UNCLEAN (offline)"
        }
    } else if node.pending {
        "pending"
    } else if node.standby_onfail && node.online {
        "standby (on-fail)"
    } else if node.standby {
        if node.online {
            let running = c
                .rscs
                .iter()
                .any(|r| r.is_primitive() && r.observed.running_on.contains(&n));
            if running {
                "standby (with active resources)"
            } else {
                "standby"
            }
        } else {
            "OFFLINE (standby)"
        }
    } else if node.maintenance {
        if node.online {
            "maintenance"
        } else {
            "OFFLINE (maintenance)"
        }
    } else if node.online {
        "online"
    } else {
        "OFFLINE"
    }
}

/// The `  * Node List:` block.
pub fn node_list(c: &Cluster, out: &mut String) {
    out.push_str("  * Node List:\n");
    let mut online = Vec::new();
    let mut offline = Vec::new();
    let mut remote_online = Vec::new();
    let mut remote_offline = Vec::new();
    let mut guest_online = Vec::new();
    for n in sorted_nodes(c) {
        let node = &c.nodes[n];
        if node.unclean
            || node.pending
            || (node.standby_onfail && node.online)
            || node.standby
            || node.maintenance
            || node.health <= 0
        {
            let health = match node.health {
                h if h < 0 => " (health is RED)",
                0 => " (health is YELLOW)",
                _ => "",
            };
            let kind = match node.kind {
                NodeKind::Guest => "GuestNode",
                NodeKind::Remote => "RemoteNode",
                NodeKind::Cluster => "Node",
            };
            let _ = writeln!(out, "    * {kind} {}: {}{health}", node.uname, node_status(c, n));
        } else if node.online {
            match node.kind {
                NodeKind::Guest => guest_online.push(node.uname.as_str()),
                NodeKind::Remote => remote_online.push(node.uname.as_str()),
                NodeKind::Cluster => online.push(node.uname.as_str()),
            }
        } else {
            // Offline guest nodes are not listed.
            match node.kind {
                NodeKind::Guest => {}
                NodeKind::Remote => remote_offline.push(node.uname.as_str()),
                NodeKind::Cluster => offline.push(node.uname.as_str()),
            }
        }
    }
    if !online.is_empty() {
        let _ = writeln!(out, "    * Online: [ {} ]", online.join(" "));
    }
    if !offline.is_empty() {
        let _ = writeln!(out, "    * OFFLINE: [ {} ]", offline.join(" "));
    }
    for (label, list) in [
        ("RemoteOnline", remote_online),
        ("RemoteOFFLINE", remote_offline),
        ("GuestOnline", guest_online),
    ] {
        if !list.is_empty() {
            let _ = writeln!(out, "    * {label}: [ {} ]", list.join(" "));
        }
    }
}

fn exit_str(rc: i32) -> &'static str {
    match rc {
        0 => "ok",
        1 => "error",
        2 => "invalid parameter",
        3 => "unimplemented feature",
        4 => "insufficient privileges",
        5 => "not installed",
        6 => "not configured",
        7 => "not running",
        8 => "promoted",
        9 => "promoted (failed)",
        190 => "degraded",
        191 => "degraded promoted",
        _ => "unknown",
    }
}

fn is_disabled(c: &Cluster, r: RscIdx) -> bool {
    c.rscs[r].config.target_role == Some(Role::Stopped)
}

/// Whether a clone's stopped instances print as disabled: its own
/// target-role, or else its first instance's, is Stopped
/// (`configured_role_str`, lib/pengine/clone.c:436-446), so a target-role
/// set on the cloned primitive counts too.
fn clone_configured_stopped(c: &Cluster, r: RscIdx) -> bool {
    clone_configured_role(c, r) == Some(Role::Stopped)
}

/// A clone's target-role, or else its first instance's
/// (`configured_role`, lib/pengine/clone.c:436-458).
fn clone_configured_role(c: &Cluster, r: RscIdx) -> Option<Role> {
    c.rscs[r]
        .config
        .target_role
        .or_else(|| c.rscs[r].children.first().and_then(|&k| c.rscs[k].config.target_role))
}

/// Display id: clone instances of anonymous clones drop the `:N` suffix.
fn printable_id(c: &Cluster, r: RscIdx) -> String {
    let rs = &c.rscs[r];
    if rs.config.instance.is_some() && rs.is_primitive() {
        let top = c.top_parent(r);
        if !matches!(c.rscs[top].variant, Variant::Clone { unique: true, .. }) {
            return clone_strip(&rs.id).to_string();
        }
    }
    rs.id.clone()
}

fn displayable_role(c: &Cluster, r: RscIdx) -> Role {
    let role = c.rscs[r].observed.role;
    if role == Role::Started && c.in_promotable(r) {
        Role::Unpromoted
    } else {
        role
    }
}

/// One primitive's status text (without the leading `* `).
pub fn primitive_text(c: &Cluster, r: RscIdx) -> String {
    primitive_text_as(c, r, &printable_id(c, r), None)
}

/// A primitive's status text under another name and, when `at` is given,
/// shown on that node (bundle replicas show their container's node).
fn primitive_text_as(c: &Cluster, r: RscIdx, name: &str, at: Option<Option<NodeIdx>>) -> String {
    let rs = &c.rscs[r];
    let mut s = format!("{name}\t({}):\t", rs.agent());
    let multiple = at.is_none() && rs.observed.running_on.len() > 1;
    // An inactive resource shows the node it is shutdown-locked to.
    let node = match at {
        Some(n) => n,
        None if multiple => None,
        None => rs.current_node().or(rs.observed.lock_node),
    };
    if rs.observed.orphan {
        s.push_str(" ORPHANED");
    }
    let role = displayable_role(c, r);
    if rs.observed.failed {
        s.push_str(" FAILED");
        if role > Role::Unpromoted {
            let _ = write!(s, " {}", role.as_str());
        }
    } else {
        let _ = write!(s, " {}", role.as_str());
    }
    if let Some(n) = node {
        let _ = write!(s, " {}", c.nodes[n].uname);
    }
    if role == Role::Stopped {
        let probe = rs
            .observed
            .failed_probe_rc
            .iter()
            .find(|(n, _)| node.is_none_or(|x| x == *n));
        if let Some((_, rc)) = probe {
            let _ = write!(s, " ({}) ", exit_str(*rc));
        }
    }
    let mut flags: Vec<String> = Vec::new();
    if let Some(n) = node {
        if !c.nodes[n].online && c.nodes[n].unclean {
            flags.push("UNCLEAN".into());
        }
        if rs.observed.lock_node == Some(n) {
            flags.push("LOCKED".into());
        }
    }
    finish_primitive_line(c, r, s, flags, multiple)
}

/// The end of a primitive's status line, as crm_simulate and crm_mon print
/// it alike: the flags (the caller's first, then target-role, blocked or
/// unmanaged, failure ignored) and, for a resource active on several nodes,
/// its description and those nodes.
pub(crate) fn finish_primitive_line(
    c: &Cluster,
    r: RscIdx,
    mut s: String,
    mut flags: Vec<String>,
    multiple: bool,
) -> String {
    let rs = &c.rscs[r];
    match rs.config.target_role {
        Some(Role::Stopped) => flags.push("disabled".into()),
        Some(Role::Unpromoted) if c.in_promotable(r) => flags.push(format!(
            "target-role:{}",
            rs.config.meta.get("target-role").cloned().unwrap_or_default()
        )),
        _ => {}
    }
    if rs.plan.blocked {
        flags.push("blocked".into());
    } else if !rs.config.managed {
        flags.push("unmanaged".into());
    }
    if rs.observed.failure_ignored {
        flags.push("failure ignored".into());
    }
    if !flags.is_empty() {
        let _ = write!(s, " ({})", flags.join(", "));
    }
    if multiple {
        if let Some(d) = &rs.config.description {
            let _ = write!(s, " {d}");
        }
        let names: Vec<&str> = rs
            .observed
            .running_on
            .iter()
            .map(|&n| c.nodes[n].uname.as_str())
            .collect();
        let _ = write!(s, " [ {} ]", names.join(" "));
    }
    s
}

fn rsc_text(c: &Cluster, r: RscIdx, indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent);
    let rs = &c.rscs[r];
    match &rs.variant {
        Variant::Primitive { .. } => {
            let _ = writeln!(out, "{pad}* {}", primitive_text(c, r));
        }
        Variant::Group => {
            let mut attrs = Vec::new();
            if !rs.config.managed {
                attrs.push("unmanaged");
            }
            if is_disabled(c, r) {
                attrs.push("disabled");
            }
            if attrs.is_empty() {
                let _ = writeln!(out, "{pad}* Resource Group: {}:", printable_id(c, r));
            } else {
                let _ = writeln!(
                    out,
                    "{pad}* Resource Group: {} ({}):",
                    printable_id(c, r),
                    attrs.join(", ")
                );
            }
            for &k in &rs.children {
                rsc_text(c, k, indent + 1, out);
            }
        }
        Variant::Clone { .. } => clone_text(c, r, indent, out),
    }
}

/// `native_active`: running somewhere that counts — an unclean node, an
/// online one, or any node when unmanaged (a managed instance left on a
/// down guest node is inactive).
fn native_active(c: &Cluster, p: RscIdx) -> bool {
    let rs = &c.rscs[p];
    rs.observed
        .running_on
        .iter()
        .any(|&n| c.nodes[n].unclean || c.nodes[n].online || !rs.config.managed)
}

/// `rsc->fns->active(rsc, FALSE)`: some primitive of `r` is active.
fn partially_active(c: &Cluster, r: RscIdx) -> bool {
    c.primitives_of(r).iter().any(|&p| native_active(c, p))
}

fn clone_text(c: &Cluster, r: RscIdx, indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent);
    let rs = &c.rscs[r];
    let (promotable, unique, clone_max) = match rs.variant {
        Variant::Clone {
            promotable,
            unique,
            clone_max,
            ..
        } => (promotable, unique, clone_max),
        _ => return,
    };
    let child_name = rs
        .children
        .first()
        .map(|&k| clone_strip(&c.rscs[k].id).to_string())
        .unwrap_or_default();
    let mut attrs = Vec::new();
    if promotable {
        attrs.push("promotable");
    }
    if unique {
        attrs.push("unique");
    }
    if !rs.config.managed {
        attrs.push("unmanaged");
    }
    if is_disabled(c, r) {
        attrs.push("disabled");
    }
    let header = if attrs.is_empty() {
        format!("{pad}* Clone Set: {} [{}]:\n", rs.id, child_name)
    } else {
        format!("{pad}* Clone Set: {} [{}] ({}):\n", rs.id, child_name, attrs.join(", "))
    };
    out.push_str(&header);
    let mut promoted: Vec<NodeIdx> = Vec::new();
    let mut started: Vec<NodeIdx> = Vec::new();
    let mut full: Vec<RscIdx> = Vec::new();
    let mut active_instances = 0;
    for &k in &rs.children {
        let prims = c.primitives_of(k);
        let partially = prims.iter().any(|&p| native_active(c, p));
        let all_active = prims.iter().all(|&p| native_active(c, p));
        if unique {
            if partially || !c.rscs[k].observed.orphan {
                full.push(k);
            }
            continue;
        }
        if !partially {
            continue;
        }
        let odd = prims.iter().any(|&p| {
            let x = &c.rscs[p];
            x.observed.orphan || !x.config.managed || x.observed.failed
        });
        if odd {
            full.push(k);
            continue;
        }
        if all_active {
            let mut locs: Vec<NodeIdx> = Vec::new();
            for &p in &prims {
                for &n in &c.rscs[p].observed.running_on {
                    if !locs.contains(&n) {
                        locs.push(n);
                    }
                }
            }
            if locs.len() == 1 {
                let n = locs[0];
                if !c.nodes[n].online && c.nodes[n].unclean {
                    full.push(k);
                } else if prims.iter().map(|&p| c.rscs[p].observed.role).max() > Some(Role::Unpromoted) {
                    promoted.push(n);
                } else {
                    started.push(n);
                }
            } else {
                full.push(k);
            }
        } else {
            full.push(k);
        }
    }
    for k in &full {
        rsc_text(c, *k, indent + 1, out);
    }
    let inner = "  ".repeat(indent + 1);
    promoted.sort_by(|&a, &b| cmp_node_names(&c.nodes[a].uname, &c.nodes[b].uname));
    started.sort_by(|&a, &b| cmp_node_names(&c.nodes[a].uname, &c.nodes[b].uname));
    if !promoted.is_empty() {
        active_instances += promoted.len();
        let names: Vec<&str> = promoted.iter().map(|&n| c.nodes[n].uname.as_str()).collect();
        let _ = writeln!(out, "{inner}* Promoted: [ {} ]", names.join(" "));
    }
    if !started.is_empty() {
        active_instances += started.len();
        let names: Vec<&str> = started.iter().map(|&n| c.nodes[n].uname.as_str()).collect();
        // `pe__clone_default` (lib/pengine/clone.c:984-994) names the
        // configured role (the clone's target-role, or its first instance's).
        let label = if !promotable {
            "Started"
        } else if clone_configured_role(c, r) == Some(Role::Unpromoted) {
            "Unpromoted (target-role)"
        } else {
            "Unpromoted"
        };
        let _ = writeln!(out, "{inner}* {label}: [ {} ]", names.join(" "));
    }
    if !unique && clone_max > active_instances {
        // Stopped: allowed nodes where no instance runs.
        // Unmanaged instances on offline nodes do not count for the clone
        // (`native_add_running` skips the parents then).
        let running: Vec<NodeIdx> = c
            .primitives_of(r)
            .iter()
            .flat_map(|&p| {
                c.rscs[p]
                    .observed
                    .running_on
                    .iter()
                    .copied()
                    .filter(move |&n| c.rscs[p].config.managed || c.nodes[n].online)
            })
            .collect();
        let mut stopped: Vec<(String, NodeIdx)> = Vec::new();
        // Symmetric clusters allow every node; otherwise Pacemaker falls
        // back to the nodes where the clone's state is known.
        let known: Vec<NodeIdx> = c
            .primitives_of(r)
            .iter()
            .flat_map(|&p| c.rscs[p].observed.known_on.clone())
            .collect();
        for n in sorted_nodes(c) {
            let allowed = if c.options.symmetric {
                c.in_symmetric_table(r, n)
            } else {
                known.contains(&n)
            };
            if !allowed || running.contains(&n) {
                continue;
            }
            let probe = c
                .primitives_of(r)
                .iter()
                .flat_map(|&p| c.rscs[p].observed.failed_probe_rc.clone())
                .find(|(m, _)| *m == n);
            let state = match probe {
                Some((_, rc)) => format!("Stopped ({})", exit_str(rc)),
                None if clone_configured_stopped(c, r) => "Stopped (disabled)".into(),
                None => "Stopped".into(),
            };
            stopped.push((state, n));
        }
        let mut states: Vec<String> = stopped.iter().map(|(s, _)| s.clone()).collect();
        states.sort();
        states.dedup();
        for st in states {
            let names: Vec<&str> = stopped
                .iter()
                .filter(|(s, _)| *s == st)
                .map(|(_, n)| c.nodes[*n].uname.as_str())
                .collect();
            let _ = writeln!(out, "{inner}* {st}: [ {} ]", names.join(" "));
        }
    }
}

/// The full status block (`  * Node List:` … `  * Full List of Resources:`).
pub fn cluster_status(c: &Cluster) -> String {
    let mut out = String::new();
    node_list(c, &mut out);
    out.push('\n');
    out.push_str("  * Full List of Resources:\n");
    let mut any = false;
    for &r in &c.top {
        let rs = &c.rscs[r];
        if rs.observed.orphan && rs.observed.running_on.is_empty() {
            continue;
        }
        if let Some(b) = c.bundles.iter().find(|b| b.rsc == r) {
            any = true;
            bundle_text(c, b, &mut out);
            continue;
        }
        // A bundle's IPs and child clone are shown with their replicas.
        if c.bundles.iter().any(|b| {
            b.child_clone == Some(r) || b.replicas.iter().any(|rep| rep.ip == Some(r) || rep.remote == Some(r))
        }) {
            continue;
        }
        // Implicit resources (guest node connections) are not shown.
        if rs.config.meta.get("internal_rsc").is_some_and(|v| v == "true") {
            continue;
        }
        // Nor is a partially active one running on no node shown
        // (`pe__rsc_running_on_any`, lib/pengine/pe_output.c:2707): a
        // collective whose only active members are unmanaged on offline
        // nodes.
        if partially_active(c, r) && c.recorded_running_on(r).is_empty() {
            continue;
        }
        any = true;
        rsc_text(c, r, 2, &mut out);
    }
    if !any {
        out.push_str("    * No resources\n");
    }
    out
}

/// A bundle: one line per replica, named by its guest node (or container)
/// and showing the replica's child (or container) on the container's node
/// (`pe__bundle_text` with `pe__bundle_replica_output_text`).
fn bundle_text(c: &Cluster, b: &Bundle, out: &mut String) {
    let rs = &c.rscs[b.rsc];
    let unique = matches!(rs.variant, Variant::Clone { clone_node_max, .. } if clone_node_max > 1)
        && rs.config.meta.get("globally-unique").is_some_and(|v| v == "true");
    let _ = writeln!(
        out,
        "    * Container bundle{}: {} [{}]{}{}:",
        if b.replicas.len() > 1 { " set" } else { "" },
        rs.id,
        b.image,
        if unique { " (unique)" } else { "" },
        if rs.config.managed { "" } else { " (unmanaged)" }
    );
    for rep in &b.replicas {
        let mut name = c.rscs[rep.remote.unwrap_or(rep.container)].id.clone();
        if let Some(ip) = &rep.ipaddr {
            let _ = write!(name, " ({ip})");
        }
        let shown = rep.child.unwrap_or(rep.container);
        let node = c.rscs[rep.container].current_node();
        let _ = writeln!(out, "      * {}", primitive_text_as(c, shown, &name, Some(node)));
    }
}

fn find<'a>(s: &'a Schedule, r: RscIdx, task: &str, node: Option<NodeIdx>) -> Option<&'a Action> {
    s.actions.iter().find(|a| {
        a.rsc == Some(r)
            && a.task == task
            && a.interval_ms == 0
            && a.node.is_some()
            && (node.is_none() || a.node == node)
    })
}

struct SummaryLine {
    verb: String,
    rsc: String,
    details: String,
    reason: Option<String>,
}

#[allow(clippy::too_many_arguments)]
fn item(
    c: &Cluster,
    verb: &str,
    r: RscIdx,
    origin: Option<NodeIdx>,
    dest: Option<NodeIdx>,
    action: Option<&Action>,
    source: Option<&Action>,
    lines: &mut Vec<SummaryLine>,
) {
    let rs = &c.rscs[r];
    // Listed as active but left stopped by its history: shown as started.
    let role = if !rs.observed.running_on.is_empty() && rs.observed.role == Role::Stopped {
        Role::Started
    } else {
        rs.observed.role
    };
    let name = |n: NodeIdx| c.nodes[n].uname.clone();
    let need_role = role > Role::Started || rs.plan.next_role > Role::Unpromoted;
    let same_host = origin.is_some() && origin == dest;
    let same_role = role == rs.plan.next_role;
    let details = match (origin, dest) {
        (None, Some(d)) if need_role => format!("{} -> {} {}", role.as_str(), rs.plan.next_role.as_str(), name(d)),
        (None, Some(d)) => name(d),
        (Some(o), None) if need_role => format!("{} {}", role.as_str(), name(o)),
        (Some(o), None) => name(o),
        (Some(o), Some(_)) if need_role && same_role && same_host => format!("{} {}", role.as_str(), name(o)),
        (Some(o), Some(_)) if same_role && same_host => name(o),
        (Some(o), Some(d)) if need_role && same_role => format!("{} -> {} {}", name(o), name(d), role.as_str()),
        (Some(o), Some(d)) if same_role => format!("{} -> {}", name(o), name(d)),
        (Some(o), Some(_)) if same_host => format!("{} -> {} {}", role.as_str(), rs.plan.next_role.as_str(), name(o)),
        (Some(o), Some(d)) => format!(
            "{} {} -> {} {}",
            role.as_str(),
            name(o),
            rs.plan.next_role.as_str(),
            name(d)
        ),
        (None, None) => return,
    };
    let source = source.or(action);
    let runnable = action.is_none_or(|a| a.runnable);
    let reason = match source.and_then(|s| s.reason.clone()).filter(|r| r != "probe") {
        Some(rsn) if !runnable => Some(format!("due to {rsn} (blocked)")),
        Some(rsn) => Some(format!("due to {rsn}")),
        None if !runnable => Some("blocked".to_string()),
        None => None,
    };
    lines.push(SummaryLine {
        verb: verb.to_string(),
        rsc: rs.id.clone(),
        details,
        reason,
    });
}

/// `rsc_action_default` for one primitive.
fn primitive_summary(s: &Schedule, r: RscIdx, lines: &mut Vec<SummaryLine>) {
    let c = &s.cluster;
    let rs = &c.rscs[r];
    let current = c.active_on(r).0;
    let next = rs.plan.assigned;
    if !rs.config.managed || (current.is_none() && next.is_none()) {
        return;
    }
    let moving = current.is_some() && next.is_some() && current != next;
    let start = next.and_then(|n| find(s, r, "start", Some(n)));
    let start_node = if start.is_some_and(|a| a.runnable) {
        current
    } else {
        None
    };
    let stop = find(s, r, "stop", start_node).or_else(|| find(s, r, "stop", None));
    let stop_req = stop.filter(|a| !a.optional);
    let start_opt = start.is_none_or(|a| a.optional);
    let next_role = if next.is_none() {
        Role::Stopped
    } else {
        rs.plan.next_role
    };
    // A resource still listed as active counts as started here, even if its
    // history left it stopped (`pcmk__output_resource_actions`).
    let role = if current.is_some() && rs.observed.role == Role::Stopped {
        Role::Started
    } else {
        rs.observed.role
    };
    if role == next_role || (role == Role::Started && next_role == Role::Started) {
        let Some(_) = next else { return };
        // A runnable migrate_from to the next node means a live migration.
        if current.is_some() && find(s, r, "migrate_from", next).is_some_and(|a| a.runnable) {
            item(c, "Migrate", r, current, next, start, None, lines);
            return;
        }
        if let Some(rl) = find(s, r, "reload-agent", current).filter(|a| !a.optional) {
            if start_opt && !moving {
                item(c, "Reload", r, current, next, Some(rl), None, lines);
                return;
            }
        }
        if start_opt {
            let promote = find(s, r, "promote", next).filter(|a| !a.optional);
            let demote = find(s, r, "demote", current).filter(|a| !a.optional);
            if let (Some(p), Some(d)) = (promote, demote) {
                item(c, "Re-promote", r, current, next, Some(p), Some(d), lines);
            }
            return;
        }
        let start = start.expect("checked above");
        if !start.runnable {
            item(
                c,
                "Stop",
                r,
                current,
                None,
                stop,
                stop.filter(|a| a.reason.is_some()).or(Some(start)),
                lines,
            );
        } else if moving {
            let verb = if rs.observed.failed { "Recover" } else { "Move" };
            item(c, verb, r, current, next, stop, None, lines);
        } else if rs.observed.failed {
            item(c, "Recover", r, current, None, stop, None, lines);
        } else {
            item(c, "Restart", r, current, next, Some(start), None, lines);
        }
        return;
    }
    if stop_req.is_some() && (next_role == Role::Stopped || start.is_some_and(|a| !a.runnable)) {
        for &n in &rs.observed.running_on {
            let st = find(s, r, "stop", Some(n));
            let src = if st.is_some_and(|a| a.reason.is_some()) {
                st
            } else {
                start
            };
            item(c, "Stop", r, Some(n), None, st, src, lines);
        }
    } else if stop_req.is_some() && rs.observed.failed && rs.plan.stop_needed {
        item(c, "Recover", r, current, next, stop, start, lines);
    } else if moving {
        item(c, "Move", r, current, next, stop, None, lines);
    } else if stop_req.is_some() {
        item(c, "Restart", r, current, next, start, None, lines);
    } else if role == Role::Promoted {
        let demote = find(s, r, "demote", current);
        item(c, "Demote", r, current, next, demote, None, lines);
    } else if next_role == Role::Promoted {
        let promote = find(s, r, "promote", next);
        item(c, "Promote", r, current, next, promote, None, lines);
    } else if role == Role::Stopped && next_role > Role::Stopped {
        // An unrunnable start is optional (`start_resource`) but still
        // listed, as blocked.
        if start.is_some_and(|st| st.optional && st.runnable) {
            return;
        }
        item(c, "Start", r, current, next, start, None, lines);
    }
}

fn collect_summary(s: &Schedule, r: RscIdx, lines: &mut Vec<SummaryLine>) {
    let c = &s.cluster;
    if c.rscs[r].is_primitive() {
        primitive_summary(s, r, lines);
    } else {
        for &k in &c.rscs[r].children {
            collect_summary(s, k, lines);
        }
    }
}

/// The lines under `Transition Summary:`.
pub fn transition_summary(s: &Schedule) -> String {
    let c = &s.cluster;
    let mut out = String::new();
    for a in &s.actions {
        if a.rsc.is_some() || a.optional {
            continue;
        }
        let Some(n) = a.node else { continue };
        // Without a reason, a fencing is only logged (`node_action`).
        if let (true, Some(reason)) = (a.task == "stonith", &a.reason) {
            // Guest nodes name the container whose recovery fences them.
            let guest = match c.nodes[n].remote.conn.and_then(|r| c.rscs[r].remote.container) {
                Some(ct) if c.nodes[n].kind == NodeKind::Guest => format!(" (resource: {})", c.rscs[ct].id),
                _ => String::new(),
            };
            let _ = writeln!(
                out,
                "  * Fence ({}) {}{guest} '{}'",
                a.fence_op.as_deref().unwrap_or("reboot"),
                c.nodes[n].uname,
                reason
            );
        }
    }
    let mut lines = Vec::new();
    for &r in &c.top {
        collect_summary(s, r, &mut lines);
    }
    let mut rsc_width = 5usize;
    let mut detail_width = 5usize;
    for l in &lines {
        if l.rsc.len() > rsc_width {
            rsc_width = l.rsc.len() + 2;
        }
        detail_width = detail_width.max(l.details.len());
    }
    for l in lines {
        let _ = write!(
            out,
            "  * {:<8}   {:<rw$}   ( {:>dw$} )",
            l.verb,
            l.rsc,
            l.details,
            rw = rsc_width,
            dw = detail_width
        );
        if let Some(rsn) = l.reason {
            let _ = write!(out, "  {rsn}");
        }
        out.push('\n');
    }
    out
}

/// The lines under `Executing Cluster Transition:` for a graph's executed
/// actions ([`scheduler::TransitionGraph::executed`]), written from the graph alone as crm_simulate writes them
/// (`inject-pseudo-action`, `inject-rsc-action`, `inject-fencing-action`,
/// `inject-cluster-action`).
pub fn executed_actions(executed: &[&GraphAction], names: &ResourceNames) -> String {
    let mut out = String::new();
    for a in executed {
        let node = a.on_node.as_deref().unwrap_or("");
        match a.kind {
            ActionKind::PseudoEvent => {
                let on = if a.on_node.is_some() { " on " } else { "" };
                let _ = writeln!(out, "  * Pseudo action:   {}{on}{node}", a.operation_key);
            }
            ActionKind::RscOp => {
                // Re-probes are confirmed without a word.
                if a.task.as_str() == "probe_again" {
                    continue;
                }
                let rsc = a
                    .agent
                    .as_ref()
                    .map_or(a.rsc.as_deref().unwrap_or(""), |ag| names.of_action(ag));
                let task = a.task.as_str();
                if a.interval_ms > 0 && !matches!(a.task, Task::Delete) {
                    let _ = writeln!(out, "  * Resource action: {rsc:<15} {task}={} on {node}", a.interval_ms);
                } else {
                    let _ = writeln!(out, "  * Resource action: {rsc:<15} {task} on {node}");
                }
            }
            ActionKind::CrmEvent if a.task == Task::Fence => {
                let op = a
                    .attributes
                    .get("CRM_meta_stonith_action")
                    .map_or("reboot", String::as_str);
                let _ = writeln!(out, "  * Fencing {node} ({op})");
            }
            ActionKind::CrmEvent => match a.agent.as_ref().map(|ag| ag.id.as_str()).or(a.rsc.as_deref()) {
                Some(rsc) => {
                    let _ = writeln!(out, "  * Cluster action:  {} for {rsc} on {node}", a.task);
                }
                None => {
                    let _ = writeln!(out, "  * Cluster action:  {} on {node}", a.task);
                }
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    /// Clone `C` of `X`, whose only active instance failed to stop (not
    /// installed) on n2, which left the membership; fencing is configured.
    fn status(quorum: bool) -> String {
        let xml = format!(
            "<cib epoch=\"1\" num_updates=\"0\" admin_epoch=\"0\" have-quorum=\"{}\"><configuration><crm_config>\
             <cluster_property_set id=\"o\"><nvpair id=\"o1\" name=\"stonith-enabled\" value=\"true\"/>\
             </cluster_property_set></crm_config><nodes><node id=\"1\" uname=\"n1\"/><node id=\"2\" uname=\"n2\"/>\
             </nodes><resources><primitive id=\"F\" class=\"stonith\" type=\"fence_dummy\"/><clone id=\"C\">\
             <primitive id=\"X\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"/></clone></resources>\
             <constraints/></configuration><status>\
             <node_state id=\"1\" uname=\"n1\" in_ccm=\"true\" crmd=\"online\" join=\"member\" expected=\"member\"/>\
             <node_state id=\"2\" uname=\"n2\" crmd=\"offline\" join=\"down\"><lrm id=\"2\"><lrm_resources>\
             <lrm_resource id=\"X\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">\
             <lrm_rsc_op id=\"a\" operation_key=\"X_start_0\" operation=\"start\" call-id=\"1\" rc-code=\"0\" \
             op-status=\"0\" interval=\"0\" transition-key=\"1:1:0:x\" transition-magic=\"0:0;1:1:0:x\"/>\
             <lrm_rsc_op id=\"b\" operation_key=\"X_stop_0\" operation=\"stop\" call-id=\"2\" rc-code=\"5\" \
             op-status=\"0\" interval=\"0\" transition-key=\"2:1:0:x\" transition-magic=\"0:5;2:1:0:x\"/>\
             </lrm_resource></lrm_resources></lrm></node_state></status></cib>",
            u8::from(quorum)
        );
        let cib = cib::Cib::parse(&xml).expect("test CIB parses");
        super::cluster_status(&scheduler::unpack::unpack(&cib, 0))
    }

    #[test]
    fn a_clone_active_only_through_an_unmanaged_instance_on_an_offline_node_is_not_listed() {
        // Without quorum n2 cannot be fenced, so the instance is blocked and
        // unmanaged: `native_add_running` does not add the offline node to
        // the clone's nodes, and `pe__rsc_running_on_any` hides the clone.
        assert!(status(true).contains("Clone Set: C [X]"), "{}", status(true));
        assert!(!status(false).contains("Clone Set: C"), "{}", status(false));
    }
}

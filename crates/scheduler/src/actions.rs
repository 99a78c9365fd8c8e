//! Actions (start, stop, monitor, probe, fencing, group pseudo-actions),
//! their ordering edges, and flag propagation through the orderings
//! (optional/required, runnable/unrunnable).

// Node and resource indices address several parallel tables at once.
#![allow(clippy::needless_range_loop)]

use std::collections::BTreeMap;

use foldhash::{HashMap, HashSet, HashSetExt};

use crate::action_set::{flags, invert, is_group, map_first_action, Action, ActionSet};
use crate::connect::connect;
use crate::constraint_types::Constraints;
use crate::digests::{expected_digest, only_private_changed, restart_digest};
use crate::history::history_entry;
use crate::model::{Cluster, NoQuorumPolicy, NodeIdx, Role, RscIdx, Variant};
use crate::unfencing::DeviceChange;
use cib::{is_true, Cib, OrderKind};

/// Creates every action and ordering, then propagates flags.
pub fn create_actions(cib: &Cib, c: &mut Cluster, cons: &Constraints) -> ActionSet {
    let mut s = ActionSet::default();
    let can_fence = c.options.stonith_enabled && c.have_stonith_resource;

    // Fencing of unclean nodes and clean shutdowns, node by node in name
    // order (`schedule_fencing_and_shutdowns`).
    let have_managed = c.rscs.iter().any(|r| r.config.managed);
    let mut fence_of: Vec<Option<usize>> = vec![None; c.nodes.len()];
    let mut shutdown_of: Vec<Option<usize>> = vec![None; c.nodes.len()];
    let mut by_name: Vec<NodeIdx> = NodeIdx::all(c.nodes.len()).collect();
    by_name.sort_by(|&a, &b| crate::model::cmp_node_names(&c.nodes[a].uname, &c.nodes[b].uname));
    let (mut dc_down, mut fencing_ops, mut shutdown_ops) = (None, Vec::new(), Vec::new());
    for &n in &by_name {
        let node = &c.nodes[n];
        // Guest nodes are "fenced" by recovering their containers.
        if node.is_guest() {
            continue;
        }
        // `pe_can_fence`: without quorum, only nodes still in the membership.
        let fenceable =
            can_fence && (c.have_quorum || c.options.no_quorum_policy == NoQuorumPolicy::Ignore || node.online);
        if have_managed && node.unclean && fenceable {
            let a = s.add(None, "stonith", 0, Some(n), false);
            s.actions[a].fence_op = Some(c.options.stonith_action.clone());
            s.actions[a].reason = node.fence_reason.clone();
            fence_of[n.0] = Some(a);
            if node.is_dc {
                dc_down = Some(a);
            } else {
                // Without concurrent fencing, non-DC fencing happens in
                // a chain (`add_nondc_fencing`).
                if let (false, Some(&last)) = (c.options.concurrent_fencing, fencing_ops.last()) {
                    s.order(last, a, 0);
                }
                fencing_ops.push(a);
            }
        } else if node.shutdown && node.online && !node.is_remote() {
            // No shutdown action for Pacemaker Remote nodes (`needs_shutdown`).
            let a = s.add(None, "do_shutdown", 0, Some(n), false);
            shutdown_of[n.0] = Some(a);
            if node.is_dc {
                dc_down = Some(a);
            } else {
                shutdown_ops.push(a);
            }
        }
    }
    if let Some(dc) = dc_down {
        // Other nodes shut down before the DC does, and are fenced before
        // the DC is fenced or shut down.
        if s.actions[dc].task == "do_shutdown" {
            for &sd in &shutdown_ops {
                s.order(sd, dc, 0);
            }
        }
        if c.options.concurrent_fencing {
            for &f in &fencing_ops {
                s.order(f, dc, 0);
            }
        } else if let Some(&last) = fencing_ops.last() {
            s.order(last, dc, 0);
        }
    }
    super::remote::guest_fence_actions(c, &mut s, &mut fence_of);

    let quorum_ok = c.have_quorum || c.options.no_quorum_policy == NoQuorumPolicy::Ignore;

    // A node whose (pre-1.1.14) `probe_complete` attribute is false is asked
    // to probe everything itself, and gets no probes of its own
    // (`pcmk__schedule_probes`).
    for n in NodeIdx::all(c.nodes.len()) {
        let node = &c.nodes[n];
        if node.online && !node.unclean && reprobe(node) {
            let a = s.add(None, "probe_again", 0, Some(n), false);
            s.actions[a].meta.insert("op_no_wait".into(), "true".into());
        }
    }

    // Primitive actions.
    let mut device_changes = Vec::new();
    for r in RscIdx::all(c.rscs.len()) {
        if !c.rscs[r].is_primitive() {
            continue;
        }
        primitive_actions(cib, c, &mut s, r, &fence_of, quorum_ok, &mut device_changes);
    }
    let early_starts = early_start_firsts(c, cons);
    // Placeholder start/stop actions (unrunnable, optional) so orderings
    // against resources that will not start or are not running still
    // propagate "unrunnable".
    for r in RscIdx::all(c.rscs.len()) {
        if !c.rscs[r].is_primitive() {
            continue;
        }
        for task in ["start", "stop"] {
            if s.of(r, task).is_empty() {
                let a = s.add(Some(r), task, 0, None, true);
                s.actions[a].runnable = false;
                // The resource's own stop → start ordering applies to it
                // too when a constraint created it before the resource's
                // internal orderings were applied (`rsc_order_first`), so a
                // required stop makes it required (and what it implies); it
                // still cannot run.
                if task == "start" && early_starts.contains(&r) {
                    for st in s.of(r, "stop") {
                        if s.actions[st].node.is_some() {
                            s.order(st, a, flags::IMPLIES_THEN | flags::RESTART);
                        }
                    }
                }
            }
        }
    }
    // Agent reloads follow the resource's probes, and its recurring
    // monitors follow the reload (`pcmk__probe_rsc_on_node`,
    // `recurring_op_for_active`).
    let reloads: Vec<(RscIdx, usize)> = s
        .actions
        .iter()
        .filter(|a| a.task == "reload-agent")
        .filter_map(|a| Some((a.rsc?, a.id)))
        .collect();
    for (r, rl) in reloads {
        // A required stop or demote cancels the reload
        // (`pe_order_then_cancels_first`, `schedule_reload`).
        for then in s.of(r, "stop").into_iter().chain(s.of(r, "demote")) {
            s.order(rl, then, flags::THEN_CANCELS_FIRST);
        }
        let related: Vec<(usize, bool)> = s
            .actions
            .iter()
            .filter(|a| a.rsc == Some(r) && a.task == "monitor" && a.node.is_some() && a.cancels.is_none())
            .map(|a| (a.id, a.interval_ms == 0))
            .collect();
        for (m, probe) in related {
            if probe {
                s.order(m, rl, 0);
            } else if c.rscs[r].config.managed {
                s.order(rl, m, flags::IMPLIES_THEN | flags::RUNNABLE_LEFT);
            }
        }
    }
    crate::cleanup::create_actions(cib, c, &mut s);
    // Collective pseudo-actions and their orderings.
    let mut notified = Vec::new();
    for g in RscIdx::all(c.rscs.len()).rev() {
        if !is_group(c, g) {
            continue;
        }
        // A clone's pseudo-actions are required from the start when an
        // instance starts or stops (`clone_create_pseudo_actions`); a
        // group's only through the orderings.
        let (starting, stopping) = match c.rscs[g].variant {
            Variant::Clone { .. } => instances_starting_stopping(&s, c, g),
            _ => (false, false),
        };
        let start = s.add(Some(g), "start", 0, None, !starting);
        let running = s.add(Some(g), "running", 0, None, !starting);
        let stop = s.add(Some(g), "stop", 0, None, !stopping);
        let stopped = s.add(Some(g), "stopped", 0, None, !stopping);
        for a in [start, running, stop, stopped] {
            s.actions[a].pseudo = true;
        }
        // A clone lets what depends on it migrate unless one of its
        // instances both stops and starts (`allow_dependent_migrations`).
        if matches!(c.rscs[g].variant, Variant::Clone { .. }) {
            let required = |s: &ActionSet, p: RscIdx, task: &str| {
                s.of(p, task)
                    .into_iter()
                    .any(|a| !s.actions[a].optional && s.actions[a].node.is_some())
            };
            let restarting = c
                .primitives_of(g)
                .into_iter()
                .any(|p| required(&s, p, "start") && required(&s, p, "stop"));
            s.actions[stop].migrate_runnable = !restarting;
        }
        // A bundle's own pseudo-actions are ordered only through its
        // replicas and child (`pcmk__bundle_internal_constraints`).
        if !c.bundles.iter().any(|b| b.rsc == g) {
            s.order(stop, stopped, flags::RUNNABLE_LEFT);
            s.order(stopped, start, 0);
            s.order(start, running, flags::RUNNABLE_LEFT);
        }
        let mut notifications = crate::notify::create_start_stop(&mut s, c, g);
        if matches!(c.rscs[g].variant, Variant::Clone { promotable: true, .. }) {
            super::promotable::create_pseudo_actions(&mut s, c, g);
            if let Some(n) = notifications.as_mut() {
                crate::notify::create_promote_demote(&mut s, n);
            }
        }
        notified.extend(notifications);
        let kids = c.rscs[g].children.clone();
        let is_grp = matches!(c.rscs[g].variant, Variant::Group);
        if is_grp && c.in_promotable(g) {
            promotable_group_actions(&mut s, c, g);
        }
        // A group's members start in order and stop in reverse unless
        // `ordered=false` (`member_internal_constraints`). A cloned group
        // inherits its clone's `ordered`, but Pacemaker's single,
        // order-dependent flag pass then leaves its members' starts
        // optional (bug-pm-12), which this fixpoint does not reproduce:
        // cloned groups stay ordered here.
        let cloned = c.rscs[g].parent.is_some();
        let ordered_group = is_grp && (cloned || c.rscs[g].config.meta.get("ordered").is_none_or(|v| is_true(v)));
        let active = |r: RscIdx| {
            c.primitives_of(r)
                .iter()
                .any(|&p| !c.rscs[p].observed.running_on.is_empty())
        };
        let mut last_active: Option<RscIdx> = None;
        for (i, &k) in kids.iter().enumerate() {
            // Group members: all must run; clone instances: one or more.
            // A collective member is started by its own start pseudo-action
            // and has started with its running one.
            let (member_starts, member_started): (Vec<usize>, Vec<usize>) = if is_group(c, k) {
                (
                    s.find(Some(k), "start", 0, None).into_iter().collect(),
                    s.find(Some(k), "running", 0, None).into_iter().collect(),
                )
            } else {
                (s.of(k, "start"), s.of(k, "start"))
            };
            // A clone's running and stopped are in the graph once a
            // required instance start or stop can run
            // (`clone_internal_constraints`: implies-then-printed).
            let then_printed = if is_grp { 0 } else { flags::IMPLIES_THEN_PRINTED };
            for ks in member_starts {
                let fl = if ordered_group {
                    0
                } else if is_grp {
                    flags::IMPLIES_THEN | flags::RUNNABLE_LEFT
                } else {
                    flags::RUNNABLE_LEFT
                };
                s.order(start, ks, fl);
            }
            for ks in member_started {
                if is_grp {
                    s.order(ks, running, flags::RUNNABLE_LEFT | flags::IMPLIES_THEN);
                } else {
                    s.order(ks, running, flags::ONE_OR_MORE | then_printed);
                }
            }
            for kst in s.of(k, "stop") {
                s.order(stop, kst, 0);
                // Groups and clones alike wait for every member's stop; a
                // member's required stop makes a group's stopped required,
                // an instance's only puts a clone's in the graph
                // (`clone_internal_constraints`,
                // lib/pacemaker/pcmk_sched_clone.c:568: implies-then-printed
                // only), so a blocked instance's unrunnable stop does not
                // block it (`pcmk__update_action_for_orderings`,
                // lib/pacemaker/pcmk_sched_actions.c:457-473).
                if is_grp {
                    s.order(kst, stopped, flags::IMPLIES_THEN);
                } else if !is_group(c, k) {
                    s.order(kst, stopped, then_printed);
                }
            }
            if ordered_group && i > 0 {
                let prev = kids[i - 1];
                for ps in s.of(prev, "start") {
                    for ks in s.of(k, "start") {
                        s.order(ps, ks, flags::IMPLIES_THEN | flags::RUNNABLE_LEFT);
                    }
                }
                for kst in s.of(k, "stop") {
                    for pst in s.of(prev, "stop") {
                        s.order(kst, pst, flags::RESTART);
                    }
                }
            }
            // An ordered clone starts its instances one after the other and
            // stops them in reverse (`clone_internal_constraints`).
            if i > 0 && matches!(c.rscs[g].variant, Variant::Clone { ordered: true, .. }) {
                let own = |s: &ActionSet, r: RscIdx, task: &str| -> Vec<usize> {
                    if is_group(c, r) {
                        s.find(Some(r), task, 0, None).into_iter().collect()
                    } else {
                        s.of(r, task)
                    }
                };
                let prev = kids[i - 1];
                for ps in own(&s, prev, "start") {
                    for ks in own(&s, k, "start") {
                        s.order(ps, ks, 0);
                    }
                }
                for kst in own(&s, k, "stop") {
                    for pst in own(&s, prev, "stop") {
                        s.order(kst, pst, 0);
                    }
                }
            }
            // A partially active group shuts down in sequence: an active
            // member after an inactive one stops before the last active
            // member before it (`member_internal_constraints`).
            if active(k) {
                if let Some(la) = last_active.filter(|_| ordered_group && i > 0 && !active(kids[i - 1])) {
                    for kst in s.of(k, "stop") {
                        for lst in s.of(la, "stop") {
                            s.order(kst, lst, 0);
                        }
                    }
                }
                last_active = Some(k);
            }
            // Child collectives (groups inside clones).
            if is_group(c, k) {
                for (a, b) in [
                    ("start", "start"),
                    ("running", "running"),
                    ("stop", "stop"),
                    ("stopped", "stopped"),
                ] {
                    if let (Some(x), Some(y)) = (s.find(Some(g), a, 0, None), s.find(Some(k), b, 0, None)) {
                        if a == "start" || a == "stop" {
                            s.order(x, y, 0);
                        } else {
                            // `clone_internal_constraints`: an instance start (its
                            // running) or stop puts the clone's in the graph.
                            s.order(y, x, flags::IMPLIES_THEN_PRINTED);
                        }
                    }
                }
            }
        }
    }
    bundle_internal_constraints(&mut s, c);
    order_clone_probes(&mut s, c);
    order_after_guest_probes(&mut s, c);
    order_bundle_connection_probes(&mut s, c);
    order_fencing_before_parent_stops(&mut s, c, &fence_of);
    order_starts_after_fencing(&mut s, c);
    super::utilization::order_load(&mut s, c);
    // User orderings.
    let mut interleaved = Vec::new();
    for o in &cons.orders {
        let fa = map_first_action(c, o.first, &o.first_action);
        let ta = o.then_action.clone();
        // A clone "first" counts as required only when an instance action
        // is (see `first_optional`).
        let mut f_flags = match o.kind {
            OrderKind::Mandatory => flags::IMPLIES_THEN,
            OrderKind::Serialize => flags::SERIALIZE,
            OrderKind::Optional => 0,
        };
        if o.kind == OrderKind::Mandatory && !o.symmetrical {
            // `ordering_flags_for_kind`: asymmetrical orderings only.
            f_flags = flags::ASYMMETRICAL;
        } else if o.kind == OrderKind::Mandatory && matches!(o.first_action.as_str(), "start" | "promote") {
            f_flags |= flags::RUNNABLE_LEFT;
        }
        // Deprecated `restart-type=restart` on "then" makes optional
        // orderings restart it (`handle_restart_type`).
        let restart_type = o.kind == OrderKind::Optional
            && c.rscs[o.then]
                .config
                .meta
                .get("restart-type")
                .is_some_and(|v| v.eq_ignore_ascii_case("restart"));
        if restart_type {
            f_flags |= flags::IMPLIES_THEN;
        }
        if o.clone_min > 0 {
            super::clone_order::order_clone_min(&mut s, c, o, f_flags);
        } else if let Some(i) =
            super::clone_order::connect_interleaved(&mut s, c, o.first, &o.first_action, o.then, &ta, f_flags)
        {
            interleaved.push(i);
        } else {
            connect(&mut s, c, o.first, &fa, o.then, &ta, f_flags);
        }
        if o.symmetrical && o.kind != OrderKind::Serialize {
            let inv_first = invert(&o.then_action);
            let inv_then = invert(&o.first_action);
            if let (Some(itf), Some(itt)) = (inv_first, inv_then) {
                let itf = map_first_action(c, o.then, itf);
                let fl = if o.kind == OrderKind::Mandatory || restart_type {
                    flags::IMPLIES_FIRST
                } else {
                    0
                };
                match super::clone_order::connect_interleaved(
                    &mut s,
                    c,
                    o.then,
                    inv_first.unwrap_or(""),
                    o.first,
                    itt,
                    fl,
                ) {
                    Some(i) => interleaved.push(i),
                    None => connect(&mut s, c, o.then, &itf, o.first, itt, fl),
                }
            }
        }
    }
    super::clone_order::inhibit_unpaired(&mut s, c, &interleaved);
    super::order_sets::create_edges(&mut s, c, cons);
    // Orderings against remote connections are created last, as in
    // Pacemaker (after the constraints' orderings).
    super::remote::order_actions(c, &mut s, &fence_of);
    // Stops before shutdown (`pcmk__order_stops_before_shutdown`): each is
    // required, and the shutdown waits until it can run; resources and
    // nodes in maintenance are left alone, and so are unmanaged resources
    // unless they are blocked.
    for n in NodeIdx::all(c.nodes.len()) {
        let Some(sd) = shutdown_of[n.0] else { continue };
        if c.nodes[n].maintenance {
            continue;
        }
        let stops: Vec<usize> = s
            .actions
            .iter()
            .filter(|a| a.task == "stop" && a.node == Some(n) && a.interval_ms == 0)
            .filter(|a| {
                a.rsc.is_some_and(|r| {
                    let rs = &c.rscs[r];
                    let maintenance = rs.config.meta.get("maintenance").is_some_and(|v| is_true(v));
                    !maintenance && (rs.config.managed || rs.plan.blocked)
                })
            })
            .map(|a| a.id)
            .collect();
        for st in stops {
            s.actions[st].optional = false;
            s.order(st, sd, flags::RUNNABLE_LEFT);
        }
    }
    super::migration::order_equivalents(&mut s, c);
    crate::anti_colocation::order(&mut s, c, &cons.colocs);
    crate::unfencing::create(&mut s, c, &device_changes);
    super::probes::order_probes(&mut s, c);
    propagate(c, &mut s, &cons.colocs);
    crate::notify::create_notifications(&mut s, c, &notified);
    s
}

/// How a resource active on `n` must react to a definition change:
/// `Restart(Some(reason))` for changed parameters, `Restart(None)` when the
/// agent itself changed, `Reload` when only reloadable parameters changed.
fn definition_changed(cib: &Cib, c: &Cluster, r: RscIdx, n: NodeIdx) -> DefChange {
    if c.rscs[r].observed.orphan {
        return DefChange::None;
    }
    let rs = &c.rscs[r];
    let Some(st) = cib.status.nodes.iter().find(|s| s.id == c.nodes[n].id) else {
        return DefChange::None;
    };
    let Some(lr) = history_entry(st, rs, n) else {
        return DefChange::None;
    };
    if let Variant::Primitive { class, provider, ty } = &rs.variant {
        let changed = lr.class.as_deref().is_some_and(|x| x != class)
            || lr.ty.as_deref().is_some_and(|x| x != ty)
            || (lr.provider.is_some() && provider.is_some() && lr.provider != *provider);
        if changed {
            return DefChange::Restart(None);
        }
    }
    match params_changed(cib, c, r, n) {
        Change::None => DefChange::None,
        Change::Restart => DefChange::Restart(Some("resource definition change".into())),
        // A changed configuration while a start is pending forces a full
        // restart instead of a reload (`schedule_reload`).
        Change::Reload if c.rscs[r].observed.start_pending => DefChange::Restart(None),
        Change::Reload => DefChange::Reload,
    }
}

enum DefChange {
    None,
    Reload,
    Restart(Option<String>),
}

enum Change {
    None,
    Reload,
    Restart,
}

fn params_changed(cib: &Cib, c: &Cluster, r: RscIdx, n: NodeIdx) -> Change {
    let rs = &c.rscs[r];
    let Some(st) = cib.status.nodes.iter().find(|s| s.id == c.nodes[n].id) else {
        return Change::None;
    };
    // Every entry on the node named like the resource or like its
    // `clone_name` is checked (`process_node_history`,
    // lib/pacemaker/pcmk_sched_actions.c:1857-1873, with
    // `pcmk__rscs_matching_id`, lib/pacemaker/pcmk_sched_resource.c:145-180):
    // an anonymous instance whose history was mapped from two entries on
    // one node is checked against the active one's.
    let mut entries: Vec<&cib::LrmResource> = history_entry(st, rs, n).into_iter().collect();
    let clone_name = c.clone_name(r);
    for lr in &st.lrm {
        let named = lr.id == rs.id || Some(lr.id.as_str()) == clone_name;
        if named && !entries.iter().any(|e| std::ptr::eq(*e, lr)) {
            entries.push(lr);
        }
    }
    let mut result = Change::None;
    for lr in entries {
        match entry_params_changed(c, r, lr) {
            Change::Restart => return Change::Restart,
            Change::Reload => result = Change::Reload,
            Change::None => {}
        }
    }
    result
}

/// `params_changed` for the operations of one history entry.
fn entry_params_changed(c: &Cluster, r: RscIdx, lr: &cib::LrmResource) -> Change {
    let rs = &c.rscs[r];
    let ops = crate::unpack::sorted_by_call_id(&lr.ops);
    let start_idx = ops
        .iter()
        .rposition(|o| matches!(o.operation.as_str(), "start" | "migrate_from"))
        .or_else(|| {
            ops.iter()
                .rposition(|o| o.operation == "monitor" && (o.rc_code == 0 || o.rc_code == 8))
        });
    let Some(si) = start_idx else {
        return Change::None;
    };
    let mut result = Change::None;
    for op in &ops[si..] {
        // Pending operations (op-status -1) are checked too.
        if op.interval_ms > 0 || !matches!(op.op_status, 0 | -1) {
            continue;
        }
        if !matches!(op.operation.as_str(), "start" | "monitor" | "promote" | "migrate_from") {
            continue;
        }
        if let Some(rd) = &op.op_restart_digest {
            if *rd != restart_digest(c, r, op) {
                return Change::Restart;
            }
        }
        let changed = match &op.op_digest {
            None => true,
            Some(d) => *d != expected_digest(c, r, op) && !only_private_changed(c, r, op),
        };
        if changed {
            let has_op_params = rs
                .config
                .ops
                .iter()
                .any(|o| o.name == op.operation && o.interval_ms == 0 && !o.instance.is_empty());
            if op.op_restart_digest.is_some() && !has_op_params {
                result = Change::Reload;
            } else {
                return Change::Restart;
            }
        }
    }
    result
}

/// Whether any primitive of clone `g` has a required start that can run,
/// and a required stop (`clone_update_pseudo_status`).
fn instances_starting_stopping(s: &ActionSet, c: &Cluster, g: RscIdx) -> (bool, bool) {
    let prims = c.primitives_of(g);
    let required = |task: &str, must_run: bool| {
        s.actions.iter().any(|a| {
            a.rsc.is_some_and(|r| prims.contains(&r))
                && a.task == task
                && a.interval_ms == 0
                && a.node.is_some()
                && !a.optional
                && (a.runnable || (a.pseudo && !must_run))
        })
    };
    (required("start", true), required("stop", false))
}

/// A stop implied by fencing its node, of a resource that needs fencing
/// (or on a guest node), also orders the fencing before the stop of the
/// resource's top-level parent (`order_stop_vs_fencing`).
fn order_fencing_before_parent_stops(s: &mut ActionSet, c: &Cluster, fence_of: &[Option<usize>]) {
    let implied: Vec<(usize, RscIdx)> = s
        .actions
        .iter()
        .filter(|a| a.task == "stop" && a.pseudo && a.interval_ms == 0)
        .filter_map(|a| Some((fence_of[a.node?.0]?, a.rsc?, a.node?)))
        .filter(|&(_, r, n)| c.rscs[r].config.requires_fencing || c.nodes[n].is_guest())
        .map(|(f, r, _)| (f, c.top_parent(r)))
        .collect();
    for (f, top) in implied {
        if let Some(parent_stop) = s.find(Some(top), "stop", 0, None) {
            s.order(f, parent_stop, 0);
        }
    }
}

/// `rsc_is_known_on`: the resource's state is known on the node, or (a
/// primitive directly in an anonymous clone) the clone's is.
fn known_on_for_fencing(c: &Cluster, r: RscIdx, n: NodeIdx) -> bool {
    let rs = &c.rscs[r];
    if rs.observed.known_on.contains(&n) {
        return true;
    }
    rs.parent.is_some_and(|p| {
        matches!(c.rscs[p].variant, Variant::Clone { unique: false, .. })
            && c.primitives_of(p)
                .iter()
                .any(|&k| c.rscs[k].observed.known_on.contains(&n))
    })
}

/// Where a guest node's container is stopped or will stop, a resource not
/// probed there starts only after the container's probe (if it is placed
/// where its state is unknown) or stop (`pcmk__probe_rsc_on_node`,
/// `probe_then_start`).
fn order_after_guest_probes(s: &mut ActionSet, c: &Cluster) {
    let mut seen = HashSet::new();
    for (guest, top, stopped) in std::mem::take(&mut s.guest_probe_orders) {
        if !seen.insert((guest, top, stopped)) {
            continue;
        }
        let firsts: Vec<usize> = if stopped {
            let unknown_there = c.rscs[guest]
                .plan
                .assigned
                .is_some_and(|a| !c.rscs[guest].observed.known_on.contains(&a));
            if !unknown_there {
                continue;
            }
            probes_of(s, guest)
        } else {
            s.of(guest, "stop")
        };
        let thens: Vec<usize> = if c.rscs[top].is_primitive() {
            s.of(top, "start")
        } else {
            s.find(Some(top), "start", 0, None).into_iter().collect()
        };
        for &f in &firsts {
            for &t in &thens {
                s.order(f, t, 0);
            }
        }
    }
}

/// The child clone of bundle `g`, if `g` is a bundle with one.
fn bundle_child(c: &Cluster, g: RscIdx) -> Option<RscIdx> {
    c.bundles.iter().find(|b| b.rsc == g).and_then(|b| b.child_clone)
}

/// A bundle's pseudo-actions around its child clone and its replicas'
/// children (`pcmk__bundle_internal_constraints`, and the promotion
/// pseudo-actions of `pcmk__bundle_create_actions` for a promotable child).
fn bundle_internal_constraints(s: &mut ActionSet, c: &Cluster) {
    for b in &c.bundles {
        let Some(cl) = b.child_clone else { continue };
        let own = |s: &ActionSet, r: RscIdx, task: &str| s.find(Some(r), task, 0, None);
        let done = |s: &ActionSet, task: &str| own(s, cl, &map_first_action(c, cl, task));
        if let (Some(bs), Some(cs)) = (own(s, b.rsc, "start"), own(s, cl, "start")) {
            s.order(bs, cs, flags::IMPLIES_FIRST_PRINTED);
        }
        if let (Some(bs), Some(cs)) = (own(s, b.rsc, "stop"), own(s, cl, "stop")) {
            s.order(bs, cs, flags::IMPLIES_FIRST_PRINTED);
        }
        if let (Some(cr), Some(br)) = (done(s, "start"), own(s, b.rsc, "running")) {
            s.order(cr, br, flags::IMPLIES_THEN_PRINTED);
        }
        if let (Some(cs), Some(bs)) = (done(s, "stop"), own(s, b.rsc, "stopped")) {
            s.order(cs, bs, flags::IMPLIES_THEN_PRINTED);
        }
        if let Some(bs) = own(s, b.rsc, "stop") {
            for rep in &b.replicas {
                let Some(child) = rep.child else { continue };
                for p in c.primitives_of(child) {
                    for st in s.of(p, "stop") {
                        s.order(bs, st, flags::IMPLIES_FIRST_PRINTED);
                    }
                }
            }
        }
        if !matches!(c.rscs[cl].variant, Variant::Clone { promotable: true, .. }) {
            continue;
        }
        let prims = c.primitives_of(cl);
        let required = |s: &ActionSet, task: &str| {
            prims.iter().any(|&p| {
                s.of(p, task)
                    .into_iter()
                    .any(|a| !s.actions[a].optional && s.actions[a].node.is_some())
            })
        };
        let (demoting, promoting) = (required(s, "demote"), required(s, "promote"));
        let pseudo = |s: &mut ActionSet, task: &str, optional: bool| {
            let a = s.add(Some(b.rsc), task, 0, None, optional);
            s.actions[a].pseudo = true;
            a
        };
        let promote = pseudo(s, "promote", !promoting);
        let promoted = pseudo(s, "promoted", !promoting);
        let demote = pseudo(s, "demote", !demoting);
        let demoted = pseudo(s, "demoted", !demoting);
        // `pcmk__promotable_restart_ordering` on the bundle.
        let (bstart, brunning, bstop, bstopped) = (
            own(s, b.rsc, "start"),
            own(s, b.rsc, "running"),
            own(s, b.rsc, "stop"),
            own(s, b.rsc, "stopped"),
        );
        for (f, t) in [
            (bstopped, bstart),
            (bstopped, Some(promote)),
            (Some(demoted), bstop),
            (Some(demoted), bstart),
            (Some(demoted), Some(promote)),
            (brunning, Some(promote)),
            (Some(demote), Some(demoted)),
        ] {
            if let (Some(f), Some(t)) = (f, t) {
                s.order(f, t, 0);
            }
        }
        if let Some(cd) = done(s, "demote") {
            s.order(cd, demoted, flags::IMPLIES_THEN_PRINTED);
        }
        if let Some(cd) = own(s, cl, "demote") {
            s.order(demote, cd, 0);
        }
        if let Some(cp) = done(s, "promote") {
            s.order(cp, promoted, flags::IMPLIES_THEN_PRINTED);
        }
        if let Some(cp) = own(s, cl, "promote") {
            s.order(promote, cp, 0);
        }
    }
}

/// A bundle replica's connection is probed only once its container has
/// started (`pcmk__bundle_create_probe`, `pe_order_probe`).
fn order_bundle_connection_probes(s: &mut ActionSet, c: &Cluster) {
    for b in &c.bundles {
        for rep in &b.replicas {
            let Some(conn) = rep.remote else { continue };
            let probes: Vec<usize> = probes_of(s, conn)
                .into_iter()
                .filter(|&p| s.actions[p].node.is_some())
                .collect();
            for st in s.of(rep.container, "start") {
                for &p in &probes {
                    s.order(st, p, flags::PROBE);
                }
            }
        }
    }
}

/// `order_start_vs_fencing`: the starts and promotions of a managed
/// resource that needs fencing follow every fencing; a start that needs
/// only quorum follows the fencing of a node where the resource may run
/// but whose state there is unknown (it may be active there).
fn order_starts_after_fencing(s: &mut ActionSet, c: &Cluster) {
    let fences: Vec<(usize, NodeIdx)> = s
        .actions
        .iter()
        .filter(|a| a.is_fencing())
        .filter_map(|a| Some((a.id, a.node?)))
        .collect();
    let mut edges = Vec::new();
    for a in &s.actions {
        let (Some(r), Some(_)) = (a.rsc, a.node) else { continue };
        let rs = &c.rscs[r];
        if !rs.is_primitive() || !rs.config.managed || a.interval_ms != 0 {
            continue;
        }
        for &(f, t) in &fences {
            match a.task.as_str() {
                // A migrate_to needs what the start needs
                // (`pcmk__create_migration_actions`).
                "start" | "promote" | "migrate_to" if rs.config.requires_fencing => edges.push((f, a.id, 0)),
                "start"
                    if rs.config.requires_quorum
                        && rs.plan.allowed[t.0].is_some()
                        && !known_on_for_fencing(c, r, t) =>
                {
                    edges.push((f, a.id, flags::RUNNABLE_LEFT))
                }
                _ => {}
            }
        }
    }
    for (f, then, fl) in edges {
        s.order(f, then, fl);
    }
}

/// Primitives whose start is the "first" of a constraint's ordering
/// (plain, inverse, set, `clone-min` instances): `rsc_order_first` creates
/// such a start when the resource has none, and since constraints are
/// applied before the resources' internal orderings, the resource's own
/// stop → start ordering then reaches it. A start created later, by an
/// internal ordering, misses it.
fn early_start_firsts(c: &Cluster, cons: &Constraints) -> HashSet<RscIdx> {
    let mut out = HashSet::new();
    let mut add = |r: RscIdx, task: &str| {
        if task == "start" && c.rscs[r].is_primitive() {
            out.insert(r);
        }
    };
    // Orderings the scheduler adds itself (a container before what it
    // contains, a bundle's IP before its container) are internal ones.
    let implicit = |o: &&crate::constraint_types::Ordering| {
        matches!(o.id.as_str(), "resource-with-container" | "bundle-ip-then-container")
    };
    for o in cons.orders.iter().filter(|o| !implicit(o)) {
        if o.clone_min > 0 {
            for &k in &c.rscs[o.first].children {
                add(k, &o.first_action);
            }
        } else {
            add(o.first, &o.first_action);
        }
        if o.symmetrical && o.kind != OrderKind::Serialize {
            if let Some(inv) = invert(&o.then_action) {
                add(o.then, inv);
            }
        }
    }
    for o in &cons.set_orders {
        add(o.first, &o.first_action);
    }
    for oom in &cons.one_or_more {
        for (r, task) in &oom.firsts {
            add(*r, task);
        }
    }
    out
}

/// An action of `r` on no node (`custom_action` without a node): it cannot
/// run, but orderings may still make it required.
pub(crate) fn add_unplaced(s: &mut ActionSet, r: RscIdx, task: &str, optional: bool) -> usize {
    let a = s.add(Some(r), task, 0, None, optional);
    s.actions[a].runnable = false;
    a
}

/// The probes of resource `r`.
fn probes_of(s: &ActionSet, r: RscIdx) -> Vec<usize> {
    s.of(r, "monitor")
}

/// An unrunnable probe keeps an inactive resource from starting (but does
/// not stop an active one).
fn probe_flags(s: &ActionSet, c: &Cluster, probe: usize, r: RscIdx) -> u32 {
    if !s.actions[probe].runnable && c.rscs[r].observed.running_on.is_empty() {
        flags::RUNNABLE_LEFT
    } else {
        0
    }
}

/// Probes of clone instances order before the start of their top-level
/// clone (`pcmk__probe_rsc_on_node`).
fn order_clone_probes(s: &mut ActionSet, c: &Cluster) {
    for r in RscIdx::all(c.rscs.len()) {
        let target = super::probes::probe_target(c, r);
        if target == r || !c.rscs[r].is_primitive() {
            continue;
        }
        let Some(start) = s.find(Some(target), "start", 0, None) else {
            continue;
        };
        for p in probes_of(s, r) {
            let fl = probe_flags(s, c, p, r);
            s.order(p, start, fl);
        }
    }
}

fn primitive_actions(
    cib: &Cib,
    c: &mut Cluster,
    s: &mut ActionSet,
    r: RscIdx,
    fence_of: &[Option<usize>],
    quorum_ok: bool,
    device_changes: &mut Vec<(RscIdx, NodeIdx, DeviceChange)>,
) {
    let current = c.rscs[r].observed.running_on.clone();
    let next = c.rscs[r].plan.assigned;
    let managed = c.rscs[r].config.managed;
    // no-quorum-policy=demote keeps promotable instances, demoted.
    let keeps_role = matches!(c.rscs[r].observed.role, Role::Promoted | Role::Unpromoted);
    let demote_policy = !c.have_quorum && c.options.no_quorum_policy == NoQuorumPolicy::Demote;
    if demote_policy && keeps_role && c.rscs[r].plan.next_role > Role::Unpromoted {
        c.rscs[r].plan.next_role = Role::Unpromoted;
    }
    let next_role = c.rscs[r].plan.next_role;

    // Probes on nodes where the state is unknown.
    if c.options.enable_startup_probes && !c.rscs[r].observed.orphan {
        for n in NodeIdx::all(c.nodes.len()) {
            let node = &c.nodes[n];
            // Pending nodes are probed too, but such probes cannot run
            // (`pcmk__schedule_probes`, `update_resource_action_runnable`).
            if !node.online || node.unclean || node.maintenance || reprobe(node) {
                continue;
            }
            if c.rscs[r].observed.known_on.contains(&n) || c.rscs[r].observed.running_on.contains(&n) {
                continue;
            }
            if !super::probes::instance_probed_on(c, r, n) {
                continue;
            }
            match super::remote::probe_decision(c, r, n) {
                super::remote::ProbeDecision::Probe => {}
                super::remote::ProbeDecision::No => continue,
                super::remote::ProbeDecision::GuestStopped(g) => {
                    s.guest_probe_orders.push((g, c.top_parent(r), true));
                    continue;
                }
                super::remote::ProbeDecision::GuestWillStop(g) => {
                    s.guest_probe_orders.push((g, c.top_parent(r), false));
                    continue;
                }
            }
            let pending = node.pending;
            let p = s.add(Some(r), "monitor", 0, Some(n), false);
            s.actions[p].reason = Some("probe".into());
            if !managed {
                s.actions[p].runnable = true;
            }
            if pending {
                s.actions[p].runnable = false;
            }
        }
    }

    let (active, num_all, num_clean) = c.active_on(r);
    let moving = matches!((active, next), (Some(cur), Some(nx)) if cur != nx) && next_role >= Role::Started;
    let mut allow_migrate = moving && super::migration::can_migrate(c, r, active);
    let partial = super::migration::partial_state(c, r, allow_migrate, active, num_all);
    if partial == super::migration::Partial::Abort {
        allow_migrate = false;
    }
    // Copies on unclean nodes only count for resources that need fencing.
    let multiply_active = partial == super::migration::Partial::None
        && if c.rscs[r].config.requires_fencing {
            num_all > 1
        } else {
            num_clean > 1
        };
    // Parameters of a bundle's IPs and connections are not reproduced, so
    // their recorded digests cannot be compared.
    let implicit = super::bundle::digests_unknown(c, r);
    let def_change = if !moving && current.len() == 1 && next == current.first().copied() && managed && !implicit {
        definition_changed(cib, c, r, current[0])
    } else {
        DefChange::None
    };
    // A definition change where a resource is being stopped still asks
    // for a restart (`force_restart`): a required start on no node, which
    // cannot run but keeps what contains the resource in the graph.
    // Only nodes that can run resources have their history checked
    // (`pcmk__handle_rsc_config_changes`).
    let unplaced_restart = next.is_none()
        && current.len() == 1
        && c.nodes[current[0]].can_run()
        && managed
        && !implicit
        && !c.rscs[r].observed.orphan
        && matches!(definition_changed(cib, c, r, current[0]), DefChange::Restart(Some(_)));
    // A fence device's changed definition asks for its node's unfencing.
    let device_change = match &def_change {
        DefChange::None => None,
        DefChange::Reload => Some(DeviceChange::Reload),
        DefChange::Restart(None) => Some(DeviceChange::Definition),
        DefChange::Restart(Some(_)) => Some(DeviceChange::Parameters),
    };
    if let Some(change) = device_change {
        device_changes.push((r, current[0], change));
    }
    let reload = matches!(def_change, DefChange::Reload);
    let (restart_def, def_reason) = match def_change {
        DefChange::Restart(reason) => (true, reason),
        _ => (false, None),
    };
    if reload {
        if let Some(cur) = current.first() {
            let rl = s.add(Some(r), "reload-agent", 0, Some(*cur), false);
            if !managed {
                s.actions[rl].runnable = false;
            }
        }
    }
    let mut need_stop = moving
        || multiply_active
        || partial == super::migration::Partial::Abort
        || c.rscs[r].plan.stop_needed
        || c.rscs[r].plan.blocked
        || restart_def;
    if next.is_none() || next_role == Role::Stopped {
        need_stop = true;
    }
    let stop_unexpected =
        multiply_active && c.rscs[r].config.meta.get("multiple-active").map(String::as_str) == Some("stop_unexpected");
    let mut stops = Vec::new();
    // A resource whose history ends stopped is brought up from Stopped even
    // where it is still listed as active (a failed migrate_to's target):
    // there is nothing to take down (`schedule_restart_actions`).
    let stopped_role = c.rscs[r].observed.role == Role::Stopped && !multiply_active;
    for &cur in &current {
        if stopped_role {
            continue;
        }
        if stop_unexpected && next == Some(cur) {
            // The expected node keeps its copy.
            continue;
        }
        let mut required = need_stop && (next != Some(cur) || !moving || multiply_active);
        if let Some(t) = c.rscs[r].observed.partial_migration_target {
            if cur == t && next == Some(t) {
                // The partial migration there continues.
                continue;
            }
            required = true;
        }
        let st = s.add(Some(r), "stop", 0, Some(cur), !required);
        if next.is_none() {
            s.actions[st].reason = Some("node availability".into());
        } else if stop_unexpected {
            s.actions[st].reason = Some("being multiply active".into());
        }
        if c.nodes[cur].unclean || fence_of[cur.0].is_some() {
            match fence_of[cur.0] {
                Some(f) => {
                    s.actions[st].pseudo = true;
                    // The fencing implies the stop; it is only required
                    // if the resource needs fencing or must stop anyway. A
                    // guest's implied stop follows its container's recovery.
                    let guest = c.nodes[cur].is_guest();
                    if !guest && (c.rscs[r].config.requires_fencing || required) {
                        s.actions[st].optional = false;
                    }
                    if !s.actions[f].runnable {
                        s.actions[st].runnable = false;
                    }
                    // Only stops of resources that need fencing are ordered
                    // after it, and stops on a guest (`order_stop_vs_fencing`);
                    // the top-level parent's stop follows too
                    // (`order_fencing_before_parent_stops`).
                    // Not for a bundled resource: its parent's stop carries
                    // the ordering (a graph loop otherwise).
                    let bundled = c.is_bundled(r);
                    if guest && !bundled {
                        s.order(f, st, flags::RUNNABLE_LEFT);
                    } else if c.rscs[r].config.requires_fencing && !bundled {
                        s.order(f, st, flags::IMPLIES_THEN | flags::RUNNABLE_LEFT);
                    }
                }
                None => {
                    if !c.nodes[cur].online {
                        // Without fencing, the stop cannot be confirmed.
                        s.actions[st].runnable = !c.options.stonith_enabled;
                    }
                }
            }
        }
        if !managed {
            s.actions[st].runnable = false;
        }
        stops.push(st);
    }
    // Dangling migrations: stop the source; this stop does not imply a
    // start (`pcmk__abort_dangling_migration`).
    let mut dangling_stops = Vec::new();
    for d in c.rscs[r].observed.dangling_migrations.clone() {
        let st = s.add(Some(r), "stop", 0, Some(d), false);
        if !managed {
            s.actions[st].runnable = false;
        }
        dangling_stops.push(st);
    }
    // A promoted resource that failed with on-fail=demote (failed, yet
    // neither stopping nor blocked) is demoted (`demote_action` while
    // unpacking) and promoted again where it stays (`need_promote`).
    let recover_by_demotion = c.rscs[r].observed.failed
        && !c.rscs[r].plan.stop_needed
        && !c.rscs[r].plan.blocked
        && c.rscs[r].observed.role == Role::Promoted;
    if c.rscs[r].observed.role == Role::Promoted {
        for &cur in &current {
            // A restart in place demotes too (`schedule_restart_actions`).
            let keep = next_role == Role::Promoted && next == Some(cur) && !need_stop && !recover_by_demotion;
            let dm = s.add(Some(r), "demote", 0, Some(cur), keep);
            if !managed {
                s.actions[dm].runnable = false;
            }
            // Nothing runs on a node that is offline (`update_resource_action_runnable`);
            // a guest waits for its connection unless it must be reset.
            let node = &c.nodes[cur];
            // (With fencing, the demote becomes a pseudo-action below.)
            if !node.online && (!node.is_guest() || node.remote.requires_reset) && fence_of[cur.0].is_none() {
                s.actions[dm].runnable = false;
            }
            // A demote on a node being fenced is implied by the fencing (a
            // guest's fencing is its container's recovery).
            let node_down = c.nodes[cur].unclean || !c.nodes[cur].online || c.rscs[r].observed.failed;
            if let (Some(f), true) = (fence_of[cur.0], node_down) {
                s.actions[dm].pseudo = true;
                // After the fencing if the resource needs fencing or the node
                // is a guest, unless bundled (`order_stop_vs_fencing`).
                let implicit = c.rscs[r].config.requires_fencing || c.nodes[cur].is_guest();
                if implicit && !c.is_bundled(r) {
                    s.order(f, dm, 0);
                }
            }
            // Demote before stop, by key: every demote before every stop
            // (`pcmk__primitive_internal_constraints`, which gives an
            // unmanaged resource none of its orderings).
            let stops: Vec<usize> = s
                .of(r, "stop")
                .into_iter()
                .filter(|&st| s.actions[st].node.is_some() && managed)
                .collect();
            for st in stops {
                s.order(dm, st, flags::IMPLIES_FIRST | flags::RUNNABLE_LEFT);
            }
        }
    }
    if unplaced_restart {
        let st = add_unplaced(s, r, "start", false);
        s.actions[st].reason = Some("resource definition change".into());
        for &stp in &stops {
            s.order(stp, st, flags::IMPLIES_THEN | flags::RESTART);
        }
    }
    // A blocked resource that is active is not brought back up
    // (`schedule_restart_actions`), and gets no recurring actions.
    let blocked_active = c.rscs[r].plan.blocked && c.rscs[r].observed.role >= Role::Started;
    // The start `start_resource` required: it stays required for an
    // unmanaged resource too (see the end of this function).
    let mut required_start = None;
    if let Some(nx) = next.filter(|_| !blocked_active) {
        if next_role >= Role::Started {
            // A resource whose history left it stopped (yet listed as
            // active) is started again.
            let start_required = !current.contains(&nx) || need_stop || c.rscs[r].observed.role == Role::Stopped;
            let st = s.add(Some(r), "start", 0, Some(nx), !start_required);
            // The copy kept on the expected node of a multiply active
            // resource with multiple-active=stop_unexpected is "started"
            // by a pseudo-action (`start_resource`).
            if stop_unexpected && current.contains(&nx) {
                s.actions[st].pseudo = true;
            }
            // An already pending start is in the graph even where nothing
            // requires it (`create_pending_start`).
            if c.rscs[r].observed.start_pending {
                s.actions[st].print_always = true;
            }
            if let Some(reason) = &def_reason {
                s.actions[st].reason = Some(reason.clone());
            }
            let rs = &c.rscs[r];
            // An unmanaged resource already running there counts as started.
            let unmanaged_in_place = !managed && current.contains(&nx);
            // Actions on a guest node stay runnable while it is not being
            // reset: they wait for its connection instead.
            let guest_waits = c.nodes[nx].is_guest() && !c.nodes[nx].remote.requires_reset;
            // Runnable wherever the node is up (`update_resource_action_runnable`
            // does not look at standby or maintenance): an unmanaged resource
            // stays where it is, on a node in maintenance too.
            let node_up = if unmanaged_in_place {
                c.nodes[nx].online && !c.nodes[nx].unclean && !c.nodes[nx].pending
            } else {
                c.nodes[nx].can_run()
            };
            if (!managed && !unmanaged_in_place) || (!node_up && !guest_waits) {
                s.actions[st].runnable = false;
            }
            if rs.config.requires_quorum && !c.have_quorum {
                let active = !current.is_empty();
                match c.options.no_quorum_policy {
                    NoQuorumPolicy::Stop => {
                        s.actions[st].runnable = false;
                        s.actions[st].reason = Some("no quorum".into());
                    }
                    NoQuorumPolicy::Demote if !keeps_role => {
                        s.actions[st].runnable = false;
                        s.actions[st].reason = Some("no quorum".into());
                    }
                    NoQuorumPolicy::Freeze if !active || next_role > c.rscs[r].observed.role => {
                        s.actions[st].runnable = false;
                        s.actions[st].reason = Some("quorum freeze".into());
                    }
                    _ => {}
                }
            }
            let _ = quorum_ok;
            // A start is only required from the outset if it can run
            // (`start_resource`); orderings may still require it.
            if !s.actions[st].runnable {
                s.actions[st].optional = true;
            } else if start_required && !recurring_asks_for_start(c, r, nx) {
                required_start = Some(st);
            }
            let stop_flags = if c.rscs[r].config.requires_fencing {
                flags::IMPLIES_THEN | flags::RESTART | flags::RUNNABLE_LEFT
            } else {
                flags::IMPLIES_THEN | flags::RESTART
            };
            // Stops before the start (`pcmk__primitive_internal_constraints`:
            // none for an unmanaged resource, whose unrunnable stop would
            // otherwise make the start it requires unrunnable too).
            let restart_stops = if managed { stops.as_slice() } else { &[] };
            for &stp in restart_stops {
                let stop_node = s.actions[stp].node;
                if stop_node == Some(nx) {
                    s.order(stp, st, flags::IMPLIES_THEN | flags::RESTART);
                } else if stop_node.is_some_and(|n| !c.nodes[n].unclean) {
                    // Never start elsewhere while a stop cannot happen.
                    s.order(stp, st, stop_flags | flags::RUNNABLE_LEFT);
                } else {
                    s.order(stp, st, stop_flags);
                }
            }
            for &d in dangling_stops.iter().filter(|_| managed) {
                s.order(d, st, flags::RESTART);
            }
            // Starting elsewhere after a node that needs fencing.
            if c.rscs[r].config.requires_fencing {
                for &cur in &current {
                    if let Some(f) = fence_of[cur.0] {
                        s.order(f, st, flags::RUNNABLE_LEFT);
                    }
                }
            }
            // Probes before the start (a clone's probes order before the
            // clone's start instead, see `order_clone_probes`).
            if super::probes::probe_target(c, r) == r {
                for p in probes_of(s, r) {
                    let fl = probe_flags(s, c, p, r);
                    s.order(p, st, fl);
                }
            }
            // Promotion.
            if next_role == Role::Promoted {
                let already = c.rscs[r].observed.role == Role::Promoted && current.contains(&nx);
                let pr = s.add(
                    Some(r),
                    "promote",
                    0,
                    Some(nx),
                    already && !start_required && !recover_by_demotion,
                );
                if managed {
                    s.order(st, pr, flags::IMPLIES_THEN | flags::RUNNABLE_LEFT);
                }
                if !managed || !c.nodes[nx].can_run() {
                    s.actions[pr].runnable = false;
                }
            }
            // Recurring monitors for the role the resource will have
            // (`recurring_op_for_active`): an operation without a role is
            // for any role but Promoted.
            let promotable = c.in_promotable(r);
            let role_after = if promotable && next_role == Role::Started {
                Role::Unpromoted
            } else {
                next_role
            };
            let monitors: Vec<(u64, bool)> = c.rscs[r]
                .config
                .ops
                .iter()
                .filter(|o| o.name == "monitor" && o.interval_ms > 0)
                .filter(|o| o.attr("enabled").is_none_or(|v| !matches!(v, "false" | "0" | "no")))
                .filter(|o| !super::recurring::is_op_dup(c, r, &o.name, o.interval_ms))
                .filter(|o| match o.role.as_deref().and_then(Role::parse) {
                    None => role_after != Role::Promoted,
                    Some(Role::Stopped) => false,
                    Some(role) => role == role_after,
                })
                .map(|o| {
                    let was_active = c.rscs[r]
                        .observed
                        .active_recurring
                        .iter()
                        .any(|(n, name, i)| *n == nx && name == "monitor" && *i == o.interval_ms);
                    let rescheduled =
                        was_active && super::recurring::rescheduled(cib, c, r, nx, "monitor", o.interval_ms);
                    if rescheduled {
                        device_changes.push((r, nx, DeviceChange::Reschedule));
                    }
                    (o.interval_ms, was_active && !rescheduled)
                })
                .collect();
            let start_optional = s.actions[st].optional;
            super::recurring::cancel_for_other_role(cib, s, c, r, nx, start_optional, role_after);
            for (interval, active) in monitors {
                let m = s.add(Some(r), "monitor", interval, Some(nx), active);
                // An unmanaged resource's monitor is not ordered after its
                // start: it runs if the start could when it was created
                // (`recurring_op_for_active`).
                // None at all for a resource or node in maintenance
                // (`pcmk__create_recurring_actions`).
                let in_maintenance = c.options.maintenance_mode
                    || c.rscs[r].config.meta.get("maintenance").is_some_and(|v| is_true(v))
                    || c.nodes[nx].maintenance;
                if !managed && in_maintenance {
                    s.actions[m].runnable = false;
                    continue;
                }
                if !managed {
                    let node_up = c.nodes[nx].online && !c.nodes[nx].unclean;
                    s.actions[m].runnable = s.actions[st].runnable && node_up;
                    continue;
                }
                s.order(st, m, flags::IMPLIES_THEN | flags::RUNNABLE_LEFT);
                // After the promotion, or the demotion it outlives.
                let role_change = if next_role == Role::Promoted {
                    s.of(r, "promote")
                } else if c.rscs[r].observed.role == Role::Promoted {
                    s.of(r, "demote")
                } else {
                    Vec::new()
                };
                for a in role_change {
                    s.order(a, m, flags::RUNNABLE_LEFT);
                }
            }
        }
    }
    if allow_migrate {
        if let (Some(cur), Some(nx)) = (active, next) {
            super::migration::create_migration_actions(s, c, r, cur, nx);
        }
    }
    super::recurring::create_stopped_role_ops(s, c, r);
    super::recurring::cancel_orphaned(cib, s, c, r);
    // An unmanaged resource's actions on a node are optional, whatever
    // asked for them (`update_action_optional`); probes are required
    // anyway (`pcmk__probe_rsc_on_node`). Except a runnable start that
    // `start_resource` requires (a failed unmanaged resource recovered in
    // place): it clears the flag after `update_action_optional` set it
    // (lib/pacemaker/pcmk_sched_primitive.c:1191-1193), and it stays
    // cleared where the recurring actions do not ask for the start again
    // (see `recurring_asks_for_start`). Being unmanaged, it never enters
    // the graph, but what is ordered after it waits for it
    // (`should_add_input_to_graph`, see `graph::build`): the transition
    // stalls there.
    if !managed {
        for (i, a) in s.actions.iter_mut().enumerate() {
            let probe_or_cancel = a.task == "monitor" || a.task == "cancel";
            let kept = required_start == Some(i);
            if a.rsc == Some(r) && a.node.is_some() && !a.pseudo && a.interval_ms == 0 && !probe_or_cancel && !kept {
                a.optional = true;
            }
        }
    }
}

/// `pcmk__create_recurring_actions` looks the resource's start up again
/// (`start_action(rsc, node, TRUE)`, lib/pacemaker/pcmk_sched_recurring.c:
/// 566-597), which makes an unmanaged resource's start optional again,
/// unless it skips the resource: blocked, in maintenance (its own
/// `maintenance` or the cluster's maintenance mode), or placed on a node
/// in maintenance.
fn recurring_asks_for_start(c: &Cluster, r: RscIdx, node: NodeIdx) -> bool {
    let rs = &c.rscs[r];
    let in_maintenance = c.options.maintenance_mode || rs.config.meta.get("maintenance").is_some_and(|v| is_true(v));
    !(rs.plan.blocked || in_maintenance || c.nodes[node].maintenance)
}

/// A group in a promotable clone: its promote, promoted, demote and demoted
/// pseudo-actions (`pcmk__group_create_actions`) and their orderings with
/// its members (`member_internal_constraints`): the group's promote before
/// each member's, each member's before the group's promoted, and likewise
/// for demotion; members promote in order and demote in reverse.
fn promotable_group_actions(s: &mut ActionSet, c: &Cluster, g: RscIdx) {
    let pseudo = |s: &mut ActionSet, task: &str| {
        let a = s.add(Some(g), task, 0, None, true);
        s.actions[a].pseudo = true;
        a
    };
    let (promote, promoted) = (pseudo(s, "promote"), pseudo(s, "promoted"));
    let (demote, demoted) = (pseudo(s, "demote"), pseudo(s, "demoted"));
    let kids = c.rscs[g].children.clone();
    for (i, &k) in kids.iter().enumerate() {
        // The first member's demotion implies the group's.
        let post_down = if i == 0 {
            flags::IMPLIES_THEN
        } else {
            flags::IMPLIES_THEN_PRINTED
        };
        for d in s.of(k, "demote") {
            s.order(demote, d, 0);
            s.order(d, demoted, post_down);
        }
        for p in s.of(k, "promote") {
            s.order(
                p,
                promoted,
                flags::RUNNABLE_LEFT | flags::IMPLIES_THEN | flags::IMPLIES_THEN_PRINTED,
            );
            s.order(promote, p, 0);
        }
        if i > 0 {
            let prev = kids[i - 1];
            for pp in s.of(prev, "promote") {
                for p in s.of(k, "promote") {
                    s.order(pp, p, flags::IMPLIES_THEN | flags::RUNNABLE_LEFT);
                }
            }
            for d in s.of(k, "demote") {
                for pd in s.of(prev, "demote") {
                    s.order(d, pd, 0);
                }
            }
        }
    }
}

/// A node whose `probe_complete` attribute is set but not true.
fn reprobe(node: &crate::model::Node) -> bool {
    node.attrs.get("probe_complete").is_some_and(|v| !is_true(v))
}

/// `handle_asymmetric_ordering`: a stop of a stopped resource, or an
/// optional start of a resource already running there, is not affected.
fn asymmetric_exempt(c: &Cluster, t: &Action) -> bool {
    let Some(r) = t.rsc else { return true };
    let running = match t.node {
        Some(n) => c.rscs[r].observed.running_on.contains(&n),
        None => c
            .primitives_of(r)
            .iter()
            .any(|&p| !c.rscs[p].observed.running_on.is_empty()),
    };
    match t.task.as_str() {
        "stop" | "stopped" => !running,
        "start" | "running" => t.optional && running,
        _ => t.optional,
    }
}

/// Clears `target`'s migrate-runnable flag because of `because`; unlike
/// other reasons, this one replaces an earlier reason.
fn clear_migratable(s: &mut ActionSet, target: usize, because: usize, label: &dyn Fn(&ActionSet, usize) -> String) {
    s.actions[target].migrate_runnable = false;
    if s.actions[target].rsc != s.actions[because].rsc {
        s.actions[target].reason = Some(format!("unrunnable {}", label(s, because)));
    }
}

/// Propagates optional/runnable flags along orderings until nothing changes,
/// visiting actions and their inputs in Pacemaker's list order (both lists
/// are built by prepending), since the first reason recorded sticks.
fn propagate(c: &Cluster, s: &mut ActionSet, colocs: &[crate::constraint_types::Coloc]) {
    let label = |s: &ActionSet, a: usize| -> String {
        let act = &s.actions[a];
        match act.rsc {
            Some(r) => format!("{} {}", c.rscs[r].id, act.task),
            None => act.task.clone(),
        }
    };
    // Actions whose runnability needs one runnable input out of several.
    let mut any_of: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for e in &s.edges {
        if e.flags & flags::ONE_OR_MORE != 0 {
            any_of.entry(e.then).or_default().push(e.first);
        }
    }
    // Collective start/stop pseudo-actions and their members' actions
    // (`summary_action_flags`: any required member action makes the
    // collective one required).
    let mut summaries: Vec<(usize, Vec<usize>)> = Vec::new();
    for g in RscIdx::all(c.rscs.len()) {
        if !is_group(c, g) {
            continue;
        }
        // Running and stopped summarise the members' starts and stops too
        // (`pcmk__group_action_flags`, `summary_action_flags`).
        let pairs = [
            ("start", "start"),
            ("stop", "stop"),
            ("running", "start"),
            ("stopped", "stop"),
            ("promote", "promote"),
            ("promoted", "promote"),
            ("demote", "demote"),
            ("demoted", "demote"),
        ];
        for (gtask, task) in pairs {
            let Some(ga) = s.find(Some(g), gtask, 0, None) else {
                continue;
            };
            let mut kids = Vec::new();
            // A bundle's promotions are its child clone's
            // (`pcmk__bundle_action_flags`).
            let members = match bundle_child(c, g) {
                Some(cl) if matches!(task, "promote" | "demote") => c.rscs[cl].children.clone(),
                _ => c.rscs[g].children.clone(),
            };
            for &k in &members {
                if is_group(c, k) {
                    kids.extend(s.find(Some(k), task, 0, None));
                } else {
                    // Not the node-less pseudo-actions of implied stops; a node-less
                    // real action (`add_unplaced`) counts.
                    kids.extend(
                        s.of(k, task)
                            .into_iter()
                            .filter(|&a| s.actions[a].node.is_some() || !s.actions[a].pseudo),
                    );
                }
            }
            summaries.push((ga, kids));
        }
    }
    // `summary_action_flags`: a clone's pseudo-action cannot run when no
    // instance's action for its task can (Pacemaker's rule for groups,
    // `group_action_flags`, is not reproduced yet).
    // `pcmk__group_action_flags`: a group's completion pseudo-action
    // (running, stopped, promoted, demoted) cannot run if a member's action
    // for it cannot.
    let mut group_all: Vec<(usize, Vec<usize>)> = Vec::new();
    for g in RscIdx::all(c.rscs.len()) {
        if !matches!(c.rscs[g].variant, Variant::Group) {
            continue;
        }
        for (task, child) in [
            ("running", "start"),
            ("stopped", "stop"),
            ("promoted", "promote"),
            ("demoted", "demote"),
        ] {
            if let Some(ga) = s.find(Some(g), task, 0, None) {
                let kids = c.rscs[g]
                    .children
                    .iter()
                    .filter(|&&k| c.rscs[k].is_primitive())
                    .filter_map(|&k| s.of(k, child).into_iter().find(|&a| s.actions[a].node.is_some()))
                    .collect();
                group_all.push((ga, kids));
            }
        }
    }
    let mut runnable_summaries: Vec<(usize, Vec<usize>)> = Vec::new();
    for g in RscIdx::all(c.rscs.len()) {
        if !matches!(c.rscs[g].variant, Variant::Clone { .. }) {
            continue;
        }
        for (task, child) in [
            ("running", "start"),
            ("stopped", "stop"),
            ("promoted", "promote"),
            ("demoted", "demote"),
            ("start", "start"),
            ("stop", "stop"),
            ("promote", "promote"),
            ("demote", "demote"),
        ] {
            if let Some(ga) = s.find(Some(g), task, 0, None) {
                let members = match bundle_child(c, g) {
                    Some(cl) if matches!(child, "promote" | "demote") => cl,
                    _ => g,
                };
                let kids = c
                    .primitives_of(members)
                    .into_iter()
                    .flat_map(|k| s.of(k, child))
                    .collect();
                runnable_summaries.push((ga, kids));
            }
        }
    }
    // Which clone's start fails first decides which colocation dependents
    // are blocked: a clone whose instances were inhibited earlier fails
    // first (its failure is what inhibits the next clone's), otherwise the
    // newest action first, as Pacemaker visits them.
    runnable_summaries.sort_by_key(|(ga, kids)| {
        let inhibited = kids.iter().map(|&k| s.actions[k].inhibited).max().unwrap_or(0);
        (inhibited, std::cmp::Reverse(*ga))
    });
    // Inputs and outputs of every action.
    let mut befores: Vec<Vec<usize>> = vec![Vec::new(); s.actions.len()];
    let mut afters: Vec<Vec<usize>> = vec![Vec::new(); s.actions.len()];
    // `order_actions` prepends, so the newest ordering comes first.
    for (i, e) in s.edges.iter().enumerate().rev() {
        if e.flags & flags::ANTI_COLOCATION != 0 {
            continue;
        }
        befores[e.then].push(i);
        afters[e.first].push(i);
    }
    let summary = super::clone_order::summary_inputs(c, s);
    let prop = Prop {
        befores: &befores,
        afters: &afters,
        colocs,
        label: &label,
        summary: &summary,
    };
    // The newest actions come first: those standing for a resource's start
    // or stop on no node are created while orderings are applied
    // (`rsc_order_first`), after every other action.
    let placeholder = |a: &Action| {
        a.node.is_none()
            && !a.pseudo
            && matches!(a.task.as_str(), "start" | "stop")
            && a.rsc.is_some_and(|r| c.rscs[r].is_primitive())
    };
    let visit: Vec<usize> = (0..s.actions.len())
        .rev()
        .filter(|&a| placeholder(&s.actions[a]))
        .chain((0..s.actions.len()).rev().filter(|&a| !placeholder(&s.actions[a])))
        .collect();
    // Starts that cannot run from the outset block their dependents
    // (before orderings are updated, so before any instance is inhibited).
    for a in (0..s.actions.len()).rev() {
        block_colocation_dependents(c, s, &prop, a, true, 0);
    }
    for _ in 0..1000 {
        let mut changed = false;
        for (ga, kids) in &summaries {
            if s.actions[*ga].optional && kids.iter().any(|&k| !s.actions[k].optional) {
                s.actions[*ga].optional = false;
                changed = true;
            }
        }
        for (ga, kids) in &group_all {
            if s.actions[*ga].runnable && kids.iter().any(|&k| !s.actions[k].runnable) {
                s.actions[*ga].runnable = false;
                changed = true;
            }
        }
        for (ga, kids) in &runnable_summaries {
            let blocked = !kids.iter().any(|&k| s.actions[k].runnable);
            if blocked && s.actions[*ga].runnable {
                s.actions[*ga].runnable = false;
                changed = true;
                // Pacemaker sees this change while updating the orderings
                // into the pseudo-action (`summary_action_flags`).
                block_colocation_dependents(c, s, &prop, *ga, false, 0);
            }
        }
        for (&t, firsts) in &any_of {
            let need = s.actions[t].required_runnable.max(1);
            if s.actions[t].runnable && firsts.iter().filter(|&&f| s.actions[f].runnable).count() < need {
                s.actions[t].runnable = false;
                changed = true;
            }
        }
        // `custom_action` prepends to the action list: newest first.
        for &a in &visit {
            if update_then(c, s, &prop, a, 0) {
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
}

/// Flags that orderings change, to see which side of an edge changed.
fn flag_state(a: &Action) -> (bool, bool, bool, bool) {
    (a.optional, a.runnable, a.migrate_runnable, a.pseudo)
}

/// What flag propagation needs besides the cluster and the actions.
struct Prop<'a> {
    befores: &'a [Vec<usize>],
    afters: &'a [Vec<usize>],
    colocs: &'a [crate::constraint_types::Coloc],
    label: &'a dyn Fn(&ActionSet, usize) -> String,
    /// Instance actions each clone pseudo-action summarises.
    summary: &'a HashMap<usize, Vec<usize>>,
}

/// `pcmk__update_action_for_orderings`: applies every ordering into `then`;
/// when a "first" changes, its own inputs and outputs are revisited at once
/// (depth first), and likewise for `then`.
fn update_then(c: &Cluster, s: &mut ActionSet, p: &Prop<'_>, then: usize, depth: usize) -> bool {
    if depth > 64 {
        return false;
    }
    let mut any = false;
    let then_before = flag_state(&s.actions[then]);
    for &i in &p.befores[then] {
        let first = s.edges[i].first;
        let first_before = flag_state(&s.actions[first]);
        if apply_edge(c, s, i, p) {
            any = true;
        }
        if flag_state(&s.actions[first]) != first_before {
            for &j in &p.afters[first] {
                let t2 = s.edges[j].then;
                any |= update_then(c, s, p, t2, depth + 1);
            }
            any |= update_then(c, s, p, first, depth + 1);
        }
    }
    if flag_state(&s.actions[then]) != then_before {
        any = true;
        if then_before.1 && !s.actions[then].runnable {
            block_colocation_dependents(c, s, p, then, false, depth + 1);
        }
        any |= update_then(c, s, p, then, depth + 1);
        for &j in &p.afters[then] {
            let t2 = s.edges[j].then;
            any |= update_then(c, s, p, t2, depth + 1);
        }
    }
    any
}

/// `pcmk__block_colocation_dependents`: an unrunnable start (or promote)
/// of a whole primary keeps its mandatory dependents from starting (or
/// being promoted). With `before_inhibit`, the check happens where
/// Pacemaker has not yet inhibited instances of interleaved orderings, so
/// their starts still count as runnable.
fn block_colocation_dependents(
    c: &Cluster,
    s: &mut ActionSet,
    p: &Prop<'_>,
    action: usize,
    before_inhibit: bool,
    depth: usize,
) {
    let a = &s.actions[action];
    if a.runnable || depth > 64 {
        return;
    }
    let is_start = a.task == "start";
    if !is_start && a.task != "promote" {
        return;
    }
    let Some(ar) = a.rsc else { return };
    let task = a.task.clone();
    let top = c.top_parent(ar);
    // A group's colocations have moved to its members when it was placed
    // (`expand_group_colocations`, lib/pacemaker/pcmk_sched_group.c:26-85,
    // empties its lists), so nothing is found colocated with it here.
    let plain_group = matches!(c.rscs[top].variant, Variant::Group) && !c.bundles.iter().any(|b| b.rsc == top);
    if !p.colocs.iter().any(|co| co.primary == top) || plain_group {
        return;
    }
    // Only if no member of a collective primary can do it.
    for &k in &c.rscs[top].children {
        let first = if is_group(c, k) {
            s.find(Some(k), &task, 0, None)
        } else {
            s.of(k, &task).first().copied()
        };
        if first.is_none_or(|f| s.actions[f].runnable || (before_inhibit && s.actions[f].inhibited > 0)) {
            return;
        }
    }
    let colocs: Vec<crate::constraint_types::Coloc> = p
        .colocs
        .iter()
        .filter(|co| co.primary == top && co.score >= cib::score::INFINITY)
        .filter(|co| is_start || co.primary_role == Role::Promoted)
        .cloned()
        .collect();
    for co in colocs {
        let dep_task = if co.dependent_role == Role::Promoted {
            "promote"
        } else {
            "start"
        };
        mark_action_blocked(c, s, p, co.dependent, dep_task, &c.rscs[ar].id, depth + 1);
    }
}

/// `mark_action_blocked`: `task` of `r` (and of its members) cannot run.
fn mark_action_blocked(
    c: &Cluster,
    s: &mut ActionSet,
    p: &Prop<'_>,
    r: RscIdx,
    task: &str,
    reason: &str,
    depth: usize,
) {
    let ids: Vec<usize> = s
        .actions
        .iter()
        .filter(|a| a.rsc == Some(r) && a.task == task && a.interval_ms == 0 && a.runnable)
        .map(|a| a.id)
        .collect();
    for id in ids {
        s.actions[id].runnable = false;
        if s.actions[id].reason.is_none() {
            s.actions[id].reason = Some(format!("colocation with {reason}"));
        }
        // Pacemaker updates a collective's orderings, and so inhibits its
        // instances, only right after this check.
        let before_inhibit = !c.rscs[r].is_primitive();
        block_colocation_dependents(c, s, p, id, before_inhibit, depth + 1);
        update_then(c, s, p, id, depth + 1);
    }
    for k in super::bundle::pacemaker_children(c, r).unwrap_or_else(|| c.rscs[r].children.clone()) {
        mark_action_blocked(c, s, p, k, task, reason, depth + 1);
    }
}

/// `action_flags_for_ordering`: a clone's pseudo-action counts as optional
/// unless an instance action is required; seen from an action on one node
/// (unless `whole`), only the instances on that node count.
fn first_optional(
    c: &Cluster,
    s: &ActionSet,
    summary: &HashMap<usize, Vec<usize>>,
    f: usize,
    t: usize,
    whole: bool,
) -> bool {
    let Some(leaves) = summary.get(&f) else {
        return s.actions[f].optional;
    };
    let then = &s.actions[t];
    let node = then.node.filter(|_| !whole).or_else(|| {
        then.rsc
            .filter(|&r| matches!(c.rscs[r].variant, Variant::Group) && then.task == "start")
            .and_then(|r| c.rscs[r].plan.assigned)
    });
    leaves
        .iter()
        .filter(|&&l| s.actions[l].node.is_some() && (node.is_none() || s.actions[l].node == node))
        .all(|&l| s.actions[l].optional)
}

/// Whether a member of the collective action `f`'s resource has a required
/// action for the same task (`pcmk__group_action_flags`,
/// `summary_action_flags`: what makes the collective action required).
fn member_required(c: &Cluster, s: &ActionSet, f: usize) -> bool {
    let a = &s.actions[f];
    let Some(g) = a.rsc else { return false };
    let task = a.task.strip_prefix("confirmed-post_notify_").unwrap_or(&a.task);
    let task = match task {
        "running" => "start",
        "stopped" => "stop",
        "promoted" => "promote",
        "demoted" => "demote",
        t => t,
    };
    c.primitives_of(g)
        .into_iter()
        .any(|p| s.of(p, task).into_iter().any(|m| !s.actions[m].optional))
}

/// Applies one ordering's flag rules; true if anything changed.
fn apply_edge(c: &Cluster, s: &mut ActionSet, i: usize, p: &Prop<'_>) -> bool {
    let label = p.label;
    let mut changed = false;
    let e = s.edges[i];
    let (f, t) = (e.first, e.then);
    // A migrating "first" does not force what follows it.
    if e.flags & flags::IMPLIES_THEN != 0
        && !first_optional(c, s, p.summary, f, t, e.flags & flags::WHOLE_FIRST != 0)
        && s.actions[t].optional
        && !s.actions[f].migrate_runnable
    {
        // An optional start of a resource that stays put only
        // becomes required (a restart) if it is active.
        s.actions[t].optional = false;
        if s.actions[t].reason.is_none() && s.actions[f].rsc != s.actions[t].rsc {
            s.actions[t].reason = Some(format!("required {}", label(s, f)));
        }
        changed = true;
    }
    if e.flags & flags::IMPLIES_THEN_PRINTED != 0
        && s.actions[f].runnable
        && !s.actions[f].optional
        && !s.actions[t].print_always
    {
        // Not a flag change that others depend on.
        s.actions[t].print_always = true;
    }
    if e.flags & flags::PROBE != 0
        && !s.actions[f].runnable
        && s.actions[t].runnable
        && s.actions[f]
            .rsc
            .is_some_and(|r| c.rscs[r].observed.running_on.is_empty())
    {
        s.actions[t].runnable = false;
        changed = true;
    }
    // "then" counts as required by its flags for ordering: a collective's
    // by its members' (`action_flags_for_ordering`).
    let then_required = match s.actions[t].rsc {
        Some(r) if !c.rscs[r].is_primitive() => member_required(c, s, t),
        _ => !s.actions[t].optional,
    };
    if e.flags & flags::THEN_CANCELS_FIRST != 0 && !s.actions[t].optional && !s.actions[f].optional {
        s.actions[f].optional = true;
        changed = true;
    }
    if e.flags & flags::IMPLIES_FIRST_PRINTED != 0 && then_required && !s.actions[f].print_always {
        // Not a flag change that others depend on.
        s.actions[f].print_always = true;
    }
    if e.flags & flags::RUNNABLE_LEFT != 0 && !s.actions[f].runnable && s.actions[t].runnable {
        s.actions[t].runnable = false;
        let replace = s.actions[t].reason.is_none();
        if replace && s.actions[f].rsc != s.actions[t].rsc {
            s.actions[t].reason = Some(format!("unrunnable {}", label(s, f)));
        }
        changed = true;
    }
    if e.flags & flags::RUNNABLE_LEFT != 0 && !s.actions[f].runnable && s.actions[t].migrate_runnable {
        clear_migratable(s, t, f, label);
        changed = true;
    }
    if e.flags & flags::IMPLIES_FIRST_MIGRATABLE != 0 {
        if !(s.actions[t].migrate_runnable && s.actions[t].runnable) && s.actions[f].runnable {
            s.actions[f].runnable = false;
            if s.actions[f].reason.is_none() && s.actions[f].rsc != s.actions[t].rsc {
                s.actions[f].reason = Some(format!("unrunnable {}", label(s, t)));
            }
            changed = true;
        }
        if !s.actions[t].optional && s.actions[f].optional {
            s.actions[f].optional = false;
            changed = true;
        }
    }
    if e.flags & flags::PSEUDO_LEFT != 0 && !s.actions[f].runnable && s.actions[t].migrate_runnable {
        // The migration is off: the start becomes a real action.
        clear_migratable(s, t, f, label);
        s.actions[t].pseudo = false;
        changed = true;
    }
    if e.flags & flags::ASYMMETRICAL != 0
        && !s.actions[f].runnable
        && s.actions[t].runnable
        && !asymmetric_exempt(c, &s.actions[t])
    {
        s.actions[t].runnable = false;
        if s.actions[t].reason.is_none() && s.actions[f].rsc != s.actions[t].rsc {
            s.actions[t].reason = Some(format!("unrunnable {}", label(s, f)));
        }
        changed = true;
    }
    // In Pacemaker 2.1.5 this only takes effect when "first" is a
    // collective action whose members' flags make it required
    // (`pcmk__update_ordered_actions` clears "optional" only if the
    // ordering flags of "first" — for a collective, its summary of its
    // members — are already required; for a primitive they are its own).
    if e.flags & flags::IMPLIES_FIRST != 0
        && !s.actions[t].optional
        && s.actions[f].optional
        && s.actions[f].rsc.is_some_and(|r| !c.rscs[r].is_primitive())
        && member_required(c, s, f)
    {
        s.actions[f].optional = false;
        changed = true;
    }
    if e.flags & flags::IMPLIES_FIRST != 0
        && !s.actions[t].optional
        && s.actions[f].migrate_runnable
        && !s.actions[t].migrate_runnable
    {
        clear_migratable(s, f, t, label);
        changed = true;
    }
    // `handle_restart_ordering` (stop before start of the same
    // resource; later group members stop before earlier ones).
    if e.flags & flags::RESTART != 0 && s.actions[f].task == "stop" && s.actions[f].node.is_some() {
        let then_required = !s.actions[t].optional;
        let same_rsc = s.actions[f].rsc == s.actions[t].rsc;
        let then_stuck =
            !s.actions[t].runnable && same_rsc && s.actions[t].rsc.is_some_and(|r| c.rscs[r].config.managed);
        if then_required || then_stuck {
            if !s.actions[t].migrate_runnable && s.actions[f].migrate_runnable {
                clear_migratable(s, f, t, label);
                changed = true;
            }
            if s.actions[f].optional && (then_required || s.actions[f].runnable) {
                s.actions[f].optional = false;
                if s.actions[f].reason.is_none() && !same_rsc {
                    s.actions[f].reason = Some(format!("required {}", label(s, t)));
                }
                changed = true;
            }
            if !s.actions[f].optional && !s.actions[f].runnable && s.actions[t].runnable {
                s.actions[t].runnable = false;
                if s.actions[t].reason.is_none() && !same_rsc {
                    s.actions[t].reason = Some(format!("unrunnable {}", label(s, f)));
                }
                changed = true;
            }
        }
    }
    // A blocked, unmanaged resource's unrunnable stop blocks
    // whatever must come after it.
    if e.flags & (flags::IMPLIES_THEN | flags::IMPLIES_FIRST | flags::RESTART) != 0
        && s.actions[f].task == "stop"
        && !s.actions[f].runnable
        && s.actions[t].runnable
        && s.actions[f]
            .rsc
            .is_some_and(|r| !c.rscs[r].config.managed && c.rscs[r].plan.blocked)
    {
        // Pacemaker records no reason here.
        s.actions[t].runnable = false;
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use crate::model::NodeIdx;

    #[test]
    fn a_definition_change_gives_its_reason_to_the_start_not_the_stop() {
        // guest-host-not-fenceable: `force_restart` names the reason on the
        // start only, which losing quorum then renames, so a container
        // stopped there is stopped "due to no quorum".
        use crate::testutil::{cib_running, dummy, run};
        // The test history records no digest: a definition change.
        let s = run(&cib_running(1, &dummy("r"), "", &[], &[(1, "r")]));
        let reason = |task: &str| {
            let a = s
                .actions
                .iter()
                .find(|a| a.task == task && a.node.is_some())
                .expect(task);
            a.reason.clone()
        };
        assert_eq!(reason("start").as_deref(), Some("resource definition change"));
        assert_eq!(reason("stop"), None);
    }

    #[test]
    fn an_unmanaged_resource_s_recovery_start_is_required_only_where_no_recurring_action_asks_again() {
        // `start_resource` requires the start of a failed resource recovered
        // in place; for an unmanaged one, `pcmk__create_recurring_actions`
        // looks the start up again and `update_action_optional` makes it
        // optional, unless the node (or the resource) is in maintenance,
        // where no recurring action is made (fuzz-16 against fuzz-422).
        use crate::testutil::{cib_xml, dummy, run, with_history};
        let unmanaged = "<primitive id=\"R\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">\
                         <meta_attributes id=\"R-m\"><nvpair id=\"R-u\" name=\"is-managed\" value=\"false\"/>\
                         </meta_attributes></primitive>";
        let failed = [("start", 0, 0), ("monitor", 10000, 1)];
        let start = |rscs: &str, attrs: &[(usize, &str, &str)]| {
            let s = run(&with_history(&cib_xml(1, rscs, "", attrs), 1, "R", &failed));
            let a = s
                .actions
                .iter()
                .find(|a| a.task == "start" && a.node == Some(NodeIdx(0)))
                .expect("start");
            (a.optional, a.runnable)
        };
        assert_eq!(start(unmanaged, &[]), (true, true), "is-managed=false on a node in use");
        assert_eq!(
            start(&dummy("R"), &[(1, "maintenance", "true")]),
            (false, true),
            "node in maintenance"
        );
    }

    #[test]
    fn a_blocked_bundle_blocks_its_replicas_children_too() {
        // bundle-order-stop: X cannot start (it must follow Z, which stays
        // stopped), so bundle B colocated with it cannot; Pacemaker marks
        // the starts of all the bundle's children blocked, down to the
        // replica's child, before any ordering gives them another reason.
        use crate::testutil::{cib, dummy, run};
        let z = "<primitive id=\"Z\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">\
                 <meta_attributes id=\"Z-m\"><nvpair id=\"Z-t\" name=\"target-role\" value=\"Stopped\"/>\
                 </meta_attributes></primitive>";
        let rscs = format!(
            "{z}{}<bundle id=\"B\"><docker image=\"img\"/><network control-port=\"3121\"/>{}</bundle>",
            dummy("X"),
            dummy("Bc")
        );
        let cons = "<rsc_order id=\"o\" first=\"Z\" then=\"X\"/>\
                    <rsc_colocation id=\"c\" rsc=\"B\" with-rsc=\"X\" score=\"INFINITY\"/>";
        let s = run(&cib(1, &rscs, cons, &[]));
        let start = |id: &str| {
            let r = s.cluster.rsc_by_id(id).expect(id);
            let a = s
                .actions
                .iter()
                .find(|a| a.rsc == Some(r) && a.task == "start")
                .expect("start");
            (a.runnable, a.reason.clone())
        };
        let blocked = (false, Some("colocation with X".to_string()));
        for id in ["B-docker-0", "B-0", "Bc:0"] {
            assert_eq!(start(id), blocked, "{id}");
        }
    }

    #[test]
    fn a_promoted_instance_failing_with_on_fail_demote_is_demoted_and_promoted_again() {
        let op = |id: &str, task: &str, interval: u32, magic: &str, call: u32| {
            format!(
                "<lrm_rsc_op id=\"{id}\" operation_key=\"s_{task}_{interval}\" operation=\"{task}\" call-id=\"{call}\" \
                 rc-code=\"{}\" op-status=\"{}\" interval=\"{interval}\" transition-key=\"1:1:{}:x\" \
                 transition-magic=\"{magic}\" on_node=\"n1\"/>",
                &magic[2..3],
                &magic[..1],
                if task == "monitor" { 8 } else { 0 }
            )
        };
        let history = format!(
            "{}{}",
            op("s_last_0", "promote", 0, "0:0;1:1:0:x", 2),
            op("s_last_failure_0", "monitor", 10000, "0:7;1:1:8:x", 3)
        );
        let xml = format!(
            "<cib epoch=\"1\" num_updates=\"0\" admin_epoch=\"0\" have-quorum=\"1\"><configuration><crm_config>\
             <cluster_property_set id=\"o\"><nvpair id=\"o1\" name=\"stonith-enabled\" value=\"false\"/>\
             </cluster_property_set></crm_config><nodes><node id=\"1\" uname=\"n1\"/></nodes><resources>\
             <clone id=\"c\"><meta_attributes id=\"cm\"><nvpair id=\"cm1\" name=\"promotable\" value=\"true\"/>\
             </meta_attributes><primitive id=\"s\" class=\"ocf\" provider=\"pacemaker\" type=\"Stateful\"><operations>\
             <op id=\"m\" name=\"monitor\" interval=\"10s\" role=\"Promoted\" on-fail=\"demote\"/></operations>\
             </primitive></clone></resources><constraints>\
             <rsc_location id=\"l\" rsc=\"c\" role=\"Promoted\" node=\"n1\" score=\"100\"/></constraints>\
             </configuration><status><node_state id=\"1\" uname=\"n1\" in_ccm=\"true\" crmd=\"online\" \
             join=\"member\" expected=\"member\"><lrm id=\"1\"><lrm_resources><lrm_resource id=\"s\" \
             class=\"ocf\" provider=\"pacemaker\" type=\"Stateful\">{history}</lrm_resource></lrm_resources></lrm>\
             </node_state></status></cib>"
        );
        let s = crate::testutil::run(&cib::Cib::parse(&xml).expect("test CIB parses"));
        let required = |task: &str| {
            s.actions
                .iter()
                .any(|a| a.task == task && a.node.is_some() && a.rsc.is_some() && !a.optional && a.interval_ms == 0)
        };
        assert!(required("demote") && required("promote"), "re-promoted");
        assert!(!required("stop") && !required("start"), "not restarted");
    }

    /// X is disabled, so the interleaved orderings X → P → D leave no
    /// instance of P or D a partner; E runs colocated with D. `c1_first`
    /// lists D's colocation with P before E's with D (else after it).
    fn blocked_chain(d_with_p: bool, c1_first: bool) -> super::super::Schedule {
        use super::super::testutil::{cib_running, clone, dummy, run};
        let rscs = format!(
            "{}{}{}{}",
            clone("E-clone", &dummy("E"), &[("interleave", "true")]),
            clone("X-clone", &dummy("X"), &[("target-role", "Stopped")]),
            clone("P-clone", &dummy("P"), &[("interleave", "true")]),
            clone("D-clone", &dummy("D"), &[("interleave", "true")])
        );
        let c1 = "<rsc_colocation id=\"c1\" rsc=\"D-clone\" with-rsc=\"P-clone\" score=\"INFINITY\"/>";
        let c2 = "<rsc_colocation id=\"c2\" rsc=\"E-clone\" with-rsc=\"D-clone\" score=\"INFINITY\"/>";
        let mut cons = String::from(
            "<rsc_order id=\"o1\" first=\"X-clone\" then=\"P-clone\"/>\
             <rsc_order id=\"o2\" first=\"P-clone\" then=\"D-clone\"/>",
        );
        match (d_with_p, c1_first) {
            (false, _) => cons.push_str(c2),
            (true, true) => cons.push_str(&format!("{c1}{c2}")),
            (true, false) => cons.push_str(&format!("{c2}{c1}")),
        }
        run(&cib_running(2, &rscs, &cons, &[], &[(1, "E"), (2, "E")]))
    }

    /// Required actions `task` of E's instances that can run.
    fn e_runnable(s: &super::super::Schedule, task: &str) -> usize {
        s.actions
            .iter()
            .filter(|a| {
                a.task == task
                    && !a.optional
                    && a.runnable
                    && a.rsc.is_some_and(|r| s.cluster.rscs[r].id.starts_with("E:"))
            })
            .count()
    }

    #[test]
    fn a_group_that_cannot_start_does_not_block_what_is_colocated_with_it() {
        // primitive-with-unrunnable-group (2.1.6's suite, as 2.1.5 runs it):
        // the group waits for a disabled resource, its dependent still starts.
        use crate::testutil::{cib, dummy, run};
        let disabled = "<primitive id=\"d\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">\
                        <meta_attributes id=\"dm\"><nvpair id=\"dm1\" name=\"target-role\" value=\"Stopped\"/>\
                        </meta_attributes></primitive>";
        let rscs = format!(
            "{}<group id=\"g\">{}{}</group>{disabled}",
            dummy("r"),
            dummy("a"),
            dummy("b")
        );
        let cons = "<rsc_colocation id=\"c\" rsc=\"r\" with-rsc=\"g\" score=\"INFINITY\"/>\
                    <rsc_order id=\"o\" first=\"d\" then=\"g\"/>";
        let s = run(&cib(2, &rscs, cons, &[]));
        let start = |id: &str| {
            s.actions
                .iter()
                .find(|a| a.task == "start" && a.node.is_some() && a.rsc.is_some_and(|r| s.cluster.rscs[r].id == id))
                .unwrap_or_else(|| panic!("no start of {id}"))
        };
        assert!(!start("a").runnable);
        assert!(start("r").runnable);
    }

    #[test]
    fn a_clone_failing_to_start_on_its_own_blocks_its_colocated_dependents() {
        // D's start fails once its instances lost their partners: E stops
        // (its history has no digest, so it would restart otherwise).
        let s = blocked_chain(false, true);
        assert_eq!((e_runnable(&s, "stop"), e_runnable(&s, "start")), (2, 0));
    }

    #[test]
    fn a_clone_blocked_by_its_primary_before_losing_its_instances_blocks_nothing() {
        // P's start fails first and blocks D's through the colocation while
        // D's instances still have their nodes (Pacemaker inhibits them only
        // afterwards), so nothing blocks E, which restarts (no digest in its
        // history) instead of stopping. crm_simulate 2.1.5 prints
        // "Restart E:0 (n1)", "Restart E:1 (n2)" with the colocations in
        // either order.
        for c1_first in [true, false] {
            let s = blocked_chain(true, c1_first);
            assert_eq!(
                (e_runnable(&s, "stop"), e_runnable(&s, "start")),
                (2, 2),
                "c1 first: {c1_first}"
            );
        }
    }

    #[test]
    fn an_instance_mapped_from_two_entries_on_a_node_is_checked_against_the_one_named_like_its_clone_name() {
        // load-stopped-loop: n1 has X:0 (probed, not running) and X:1
        // (started). Both map to instance X:0, which is then active on n1
        // with clone_name X:1; the X:1 entry's changed digest reloads it.
        let cib_with = |restart_digest: &str| {
            let entry = |id: &str, op: &str| {
                format!(
                    "<lrm_resource id=\"{id}\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">{op}</lrm_resource>"
                )
            };
            let probe = "<lrm_rsc_op id=\"p\" operation_key=\"X:0_monitor_0\" operation=\"monitor\" call-id=\"1\" \
                         rc-code=\"7\" op-status=\"0\" interval=\"0\" transition-key=\"1:1:7:x\" \
                         transition-magic=\"0:7;1:1:7:x\" op-digest=\"old\"/>";
            let start = format!(
                "<lrm_rsc_op id=\"s\" operation_key=\"X:1_start_0\" operation=\"start\" call-id=\"2\" \
                 rc-code=\"0\" op-status=\"0\" interval=\"0\" transition-key=\"2:1:0:x\" \
                 transition-magic=\"0:0;2:1:0:x\" op-digest=\"old\" op-force-restart=\" target \" \
                 op-restart-digest=\"{restart_digest}\"/>"
            );
            let xml = format!(
                "<cib epoch=\"1\" num_updates=\"0\" admin_epoch=\"0\" have-quorum=\"1\"><configuration><crm_config>\
                 <cluster_property_set id=\"o\"><nvpair id=\"o1\" name=\"stonith-enabled\" value=\"false\"/>\
                 </cluster_property_set></crm_config><nodes><node id=\"1\" uname=\"n1\"/><node id=\"2\" uname=\"n2\"/>\
                 </nodes><resources>{}</resources><constraints/></configuration><status>\
                 <node_state id=\"1\" uname=\"n1\" in_ccm=\"true\" crmd=\"online\" join=\"member\" expected=\"member\">\
                 <lrm id=\"1\"><lrm_resources>{}{}</lrm_resources></lrm></node_state>\
                 <node_state id=\"2\" uname=\"n2\" in_ccm=\"true\" crmd=\"online\" join=\"member\" expected=\"member\"/>\
                 </status></cib>",
                crate::testutil::clone("C", &crate::testutil::dummy("X"), &[]),
                entry("X:0", probe),
                entry("X:1", &start)
            );
            cib::Cib::parse(&xml).expect("test CIB parses")
        };
        // The restart digest matches: only a reloadable parameter changed.
        let cib = cib_with("unknown");
        let s = crate::testutil::run(&cib);
        let c = &s.cluster;
        let x0 = c.rsc_by_id("X:0").expect("X:0");
        assert_eq!(c.clone_name(x0), Some("X:1"));
        let op = &cib.status.nodes[0].lrm[1].ops[0];
        let digest = crate::digests::restart_digest(c, x0, op);
        let s = crate::testutil::run(&cib_with(&digest));
        let reloads: Vec<_> = s
            .actions
            .iter()
            .filter(|a| a.task == "reload-agent")
            .map(|a| {
                (
                    a.rsc.map(|r| s.cluster.rscs[r].id.as_str()),
                    a.node.map(|n| s.cluster.nodes[n].uname.as_str()),
                )
            })
            .collect();
        assert_eq!(reloads, [(Some("X:0"), Some("n1"))]);
    }

    /// Clone `C` of `X` started on n1 and n2; n2 left the membership after
    /// a failed stop of its instance (not installed: a hard error).
    /// Fencing is configured.
    fn failed_stop_on_a_lost_node(quorum: bool) -> crate::plan::Schedule {
        let op = |id: &str, task: &str, call: u32, rc: u32| {
            format!(
                "<lrm_rsc_op id=\"{id}\" operation_key=\"X_{task}_0\" operation=\"{task}\" call-id=\"{call}\" \
                 rc-code=\"{rc}\" op-status=\"0\" interval=\"0\" transition-key=\"{call}:1:0:x\" \
                 transition-magic=\"0:{rc};{call}:1:0:x\"/>"
            )
        };
        let lrm = |ops: String| {
            format!(
                "<lrm id=\"l\"><lrm_resources><lrm_resource id=\"X\" class=\"ocf\" provider=\"pacemaker\" \
                 type=\"Dummy\">{ops}</lrm_resource></lrm_resources></lrm>"
            )
        };
        let xml = format!(
            "<cib epoch=\"1\" num_updates=\"0\" admin_epoch=\"0\" have-quorum=\"{}\"><configuration><crm_config>\
             <cluster_property_set id=\"o\"><nvpair id=\"o1\" name=\"stonith-enabled\" value=\"true\"/>\
             </cluster_property_set></crm_config><nodes><node id=\"1\" uname=\"n1\"/><node id=\"2\" uname=\"n2\"/>\
             </nodes><resources><primitive id=\"F\" class=\"stonith\" type=\"fence_dummy\"/>{}</resources>\
             <constraints/></configuration><status>\
             <node_state id=\"1\" uname=\"n1\" in_ccm=\"true\" crmd=\"online\" join=\"member\" expected=\"member\">{}</node_state>\
             <node_state id=\"2\" uname=\"n2\" crmd=\"offline\" join=\"down\">{}</node_state></status></cib>",
            u8::from(quorum),
            crate::testutil::clone("C", &crate::testutil::dummy("X"), &[]),
            lrm(op("a", "start", 1, 0)),
            lrm(format!("{}{}", op("b", "start", 1, 0), op("c", "stop", 2, 5)))
        );
        crate::testutil::run(&cib::Cib::parse(&xml).expect("test CIB parses"))
    }

    #[test]
    fn without_quorum_a_failed_stop_on_a_node_outside_the_membership_blocks_the_instance() {
        // `pe_can_fence`: without quorum only a node still in the
        // membership can be fenced, so the stop cannot be recovered
        // (`check_recoverable`).
        for (quorum, blocked) in [(true, false), (false, true)] {
            let s = failed_stop_on_a_lost_node(quorum);
            let c = &s.cluster;
            let n2 = c.node_by_name("n2").expect("n2");
            let inst = c
                .primitives_of(c.rsc_by_id("C").expect("C"))
                .into_iter()
                .find(|&p| c.rscs[p].observed.running_on.contains(&n2))
                .expect("instance on n2");
            assert_eq!(
                (c.rscs[inst].config.managed, c.rscs[inst].plan.blocked),
                (!blocked, blocked),
                "quorum {quorum}"
            );
        }
    }

    #[test]
    fn a_blocked_instance_s_unrunnable_stop_does_not_block_its_clone_s_stopped() {
        // Instance stops are ordered before the clone's stopped with
        // implies-then-printed only (`clone_internal_constraints`), so the
        // blocked-stop rule of `pcmk__update_action_for_orderings` does not
        // apply: the stop on n1 (no quorum) still completes the clone's.
        let s = failed_stop_on_a_lost_node(false);
        let c = &s.cluster;
        let cl = c.rsc_by_id("C").expect("C");
        let stopped = s
            .actions
            .iter()
            .find(|a| a.rsc == Some(cl) && a.task == "stopped")
            .expect("C stopped");
        assert!(!stopped.optional && stopped.runnable, "{stopped:?}");
    }
}

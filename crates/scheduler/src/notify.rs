//! Clone notifications (`pe_notif.c`): for a clone with `notify=true`, each
//! of its start, stop, promote and demote pseudo-actions is wrapped in
//! "pre" and "post" notification pseudo-actions,
//!
//! ```text
//! pre_notify_start -> (instance pre-notifies) -> confirmed-pre_notify_start
//!   -> start -> (instance starts) -> running
//!   -> post_notify_running -> (instance post-notifies) -> confirmed-post_notify_running
//! ```
//!
//! and, once flags are final, every instance gets the `notify` actions the
//! pseudo-actions stand for, with the `CRM_meta_notify_*` lists of what
//! starts, stops, promotes and demotes where.

use std::collections::BTreeMap;

use crate::action_set::{flags, ActionSet};
use crate::model::{cmp_node_names, Cluster, NodeIdx, Role, RscIdx};

/// The task behind a notification pseudo-action's name:
/// `confirmed-post_notify_running` → `running`; other tasks unchanged.
pub fn notified_task(task: &str) -> &str {
    task.split_once("_notify_").map_or(task, |(_, t)| t)
}

/// Whether `task` names a notification (pseudo-)action.
pub fn is_notification(task: &str) -> bool {
    task.contains("_notify_")
}

/// A notification pseudo-action's or instance notification's task name:
/// `notify` or `notified` (the "confirmed" pseudo-actions).
pub fn operation(task: &str) -> Option<&'static str> {
    if !is_notification(task) {
        None
    } else if task.starts_with("confirmed-") {
        Some("notified")
    } else {
        Some("notify")
    }
}

/// `(notify_type, notify_operation)` of a notification action: `("pre",
/// "start")` for `pre_notify_start`, `("post", "start")` for an instance's
/// `post_notify_start`, `("post", "running")` for the clone's
/// `post_notify_running`.
pub fn key_parts(task: &str) -> Option<(&str, &str)> {
    let (kind, op) = task.split_once("_notify_")?;
    Some((kind.strip_prefix("confirmed-").unwrap_or(kind), op))
}

/// The pseudo-actions of one notified clone action (`notify_data_t`).
#[derive(Debug, Clone, Copy)]
pub struct NotifyOps {
    /// The clone action notified about: `start`, `stop`, `promote`, `demote`.
    pub task: &'static str,
    pub pre: usize,
    pub pre_done: usize,
    pub post: usize,
    pub post_done: usize,
}

/// A clone's notification pseudo-actions, per notified action.
#[derive(Debug, Clone)]
pub struct CloneNotifications {
    pub clone: RscIdx,
    pub start: Option<NotifyOps>,
    pub stop: Option<NotifyOps>,
    pub promote: Option<NotifyOps>,
    pub demote: Option<NotifyOps>,
}

/// `pe__clone_notif_pseudo_ops`: pre, confirmed-pre around `action` and
/// post, confirmed-post after `complete`, ordered as in Pacemaker.
fn pseudo_ops(s: &mut ActionSet, clone: RscIdx, task: &'static str, action: usize, complete: usize) -> NotifyOps {
    let a_optional = s.actions[action].optional;
    let c_optional = s.actions[complete].optional;
    let c_runnable = s.actions[complete].runnable;
    let a_task = s.actions[action].task.clone();
    let c_task = s.actions[complete].task.clone();
    let mut pseudo = |name: String, optional: bool, runnable: bool| {
        let a = s.add(Some(clone), &name, 0, None, optional);
        s.actions[a].pseudo = true;
        s.actions[a].runnable = runnable;
        a
    };
    let pre = pseudo(format!("pre_notify_{a_task}"), a_optional, true);
    let pre_done = pseudo(format!("confirmed-pre_notify_{a_task}"), a_optional, true);
    let post = pseudo(format!("post_notify_{c_task}"), c_optional, c_runnable);
    let post_done = pseudo(format!("confirmed-post_notify_{c_task}"), c_optional, c_runnable);
    for (a, key_type, key_op, kind) in [
        (pre, "pre", &a_task, "pre"),
        (pre_done, "confirmed-pre", &a_task, "pre"),
        (post, "post", &c_task, "post"),
        (post_done, "confirmed-post", &c_task, "post"),
    ] {
        let meta = &mut s.actions[a].meta;
        meta.insert("notify_key_type".into(), key_type.into());
        meta.insert("notify_key_operation".into(), key_op.clone());
        meta.insert("notify_type".into(), kind.into());
        meta.insert("notify_operation".into(), task.into());
    }
    s.order(pre, pre_done, 0);
    s.order(pre_done, action, 0);
    s.order(complete, post, flags::IMPLIES_THEN);
    s.order(post, post_done, flags::IMPLIES_THEN);
    s.order(pre_done, post, 0);
    NotifyOps {
        task,
        pre,
        pre_done,
        post,
        post_done,
    }
}

/// Creates the notification pseudo-actions of a notified clone's start and
/// stop (`clone_create_pseudo_actions`), which must exist already.
pub fn create_start_stop(s: &mut ActionSet, c: &Cluster, clone: RscIdx) -> Option<CloneNotifications> {
    if !c.notifies(clone) {
        return None;
    }
    let own = |s: &ActionSet, task: &str| s.find(Some(clone), task, 0, None);
    let (start, running, stop, stopped) = (
        own(s, "start")?,
        own(s, "running")?,
        own(s, "stop")?,
        own(s, "stopped")?,
    );
    let start_ops = pseudo_ops(s, clone, "start", start, running);
    let stop_ops = pseudo_ops(s, clone, "stop", stop, stopped);
    s.order(stop_ops.post_done, start_ops.pre, 0);
    Some(CloneNotifications {
        clone,
        start: Some(start_ops),
        stop: Some(stop_ops),
        promote: None,
        demote: None,
    })
}

/// Adds the promote and demote notification pseudo-actions of a notified
/// promotable clone (`pe__create_promotable_pseudo_ops`).
pub fn create_promote_demote(s: &mut ActionSet, n: &mut CloneNotifications) {
    let own = |s: &ActionSet, task: &str| s.find(Some(n.clone), task, 0, None);
    let (Some(promote), Some(promoted), Some(demote), Some(demoted)) = (
        own(s, "promote"),
        own(s, "promoted"),
        own(s, "demote"),
        own(s, "demoted"),
    ) else {
        return;
    };
    let p = pseudo_ops(s, n.clone, "promote", promote, promoted);
    let d = pseudo_ops(s, n.clone, "demote", demote, demoted);
    if let (Some(stop), Some(start)) = (n.stop, n.start) {
        s.order(stop.post_done, p.pre, 0);
        s.order(start.post_done, p.pre, 0);
        s.order(d.post_done, p.pre, 0);
        s.order(d.post_done, start.pre, 0);
        s.order(d.post_done, stop.pre, 0);
    }
    n.promote = Some(p);
    n.demote = Some(d);
}

/// What the notifications of one clone action say (`collect_resource_data`).
#[derive(Debug, Default)]
struct Lists {
    start: Vec<(RscIdx, NodeIdx)>,
    stop: Vec<(RscIdx, NodeIdx)>,
    promote: Vec<(RscIdx, NodeIdx)>,
    demote: Vec<(RscIdx, NodeIdx)>,
}

fn collect(s: &ActionSet, c: &Cluster, clone: RscIdx) -> Lists {
    let mut l = Lists::default();
    for p in c.primitives_of(clone) {
        for a in &s.actions {
            if a.rsc != Some(p) || a.optional || a.interval_ms != 0 {
                continue;
            }
            let Some(n) = a.node else { continue };
            let unclean_stop = a.task == "stop" && c.nodes[n].unclean;
            if !unclean_stop && !a.runnable {
                continue;
            }
            match a.task.as_str() {
                "start" => l.start.push((p, n)),
                "stop" => l.stop.push((p, n)),
                "promote" => l.promote.push((p, n)),
                "demote" => l.demote.push((p, n)),
                _ => {}
            }
        }
    }
    l
}

/// `summary_action_flags` for the pseudo-actions: each is required when an
/// instance action of its task is, and cannot run when none can. Only
/// instance actions placed on a node count (not the unrunnable stand-ins
/// for instances that will not start or are not running).
fn summarise(s: &mut ActionSet, c: &Cluster, clone: RscIdx, ops: &NotifyOps) {
    let child_task = match ops.task {
        "start" | "running" => "start",
        "stop" | "stopped" => "stop",
        "promote" | "promoted" => "promote",
        "demote" | "demoted" => "demote",
        t => t,
    };
    let prims = c.primitives_of(clone);
    let leaves: Vec<usize> = s
        .actions
        .iter()
        .filter(|a| {
            a.rsc.is_some_and(|r| prims.contains(&r)) && a.task == child_task && a.interval_ms == 0 && a.node.is_some()
        })
        .map(|a| a.id)
        .collect();
    let any_required = leaves.iter().any(|&l| !s.actions[l].optional);
    let any_runnable = leaves.iter().any(|&l| s.actions[l].runnable);
    for a in [ops.pre, ops.pre_done, ops.post, ops.post_done] {
        if any_required {
            s.actions[a].optional = false;
        }
        if !any_runnable {
            s.actions[a].runnable = false;
        }
    }
}

/// `notify_entries_to_strings`: instance names and node names, sorted by
/// instance then node id, one entry per instance; `" "` when empty.
fn names(c: &Cluster, entries: &[(RscIdx, Option<NodeIdx>)], with_nodes: bool) -> (String, String) {
    let mut v: Vec<(RscIdx, Option<NodeIdx>)> = entries
        .iter()
        .copied()
        .filter(|(_, n)| !with_nodes || n.is_some())
        .collect();
    v.sort_by(|a, b| {
        let id = |x: &(RscIdx, Option<NodeIdx>)| (c.rscs[x.0].id.clone(), x.1.map(|n| c.nodes[n].id.clone()));
        let (ka, kb) = (id(a), id(b));
        ka.0.cmp(&kb.0).then_with(|| match (&ka.1, &kb.1) {
            (None, None) => std::cmp::Ordering::Equal,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some(_), None) => std::cmp::Ordering::Less,
            (Some(x), Some(y)) => x.cmp(y),
        })
    });
    v.dedup_by_key(|e| e.0);
    let join = |words: Vec<&str>| {
        if words.is_empty() {
            " ".to_string()
        } else {
            words.join(" ")
        }
    };
    let rscs = join(v.iter().map(|e| c.rscs[e.0].id.as_str()).collect());
    let nodes = join(
        v.iter()
            .filter_map(|e| e.1)
            .map(|n| c.nodes[n].uname.as_str())
            .collect(),
    );
    (rscs, nodes)
}

/// `add_notif_keys`: the `notify_*` meta-attributes every notification of
/// the clone carries.
fn keys(c: &Cluster, clone: RscIdx, l: &Lists) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut put = |name: &str, entries: &[(RscIdx, Option<NodeIdx>)]| {
        let (r, n) = names(c, entries, true);
        out.insert(format!("notify_{name}_resource"), r);
        out.insert(format!("notify_{name}_uname"), n);
    };
    let with_node =
        |v: &[(RscIdx, NodeIdx)]| -> Vec<(RscIdx, Option<NodeIdx>)> { v.iter().map(|&(r, n)| (r, Some(n))).collect() };
    put("stop", &with_node(&l.stop));
    put("start", &with_node(&l.start));
    put("demote", &with_node(&l.demote));
    put("promote", &with_node(&l.promote));
    let prims = c.primitives_of(clone);
    let by_role = |f: &dyn Fn(Role) -> bool| -> Vec<(RscIdx, Option<NodeIdx>)> {
        prims
            .iter()
            .filter(|&&p| f(c.rscs[p].observed.role))
            .map(|&p| (p, c.rscs[p].observed.running_on.first().copied()))
            .collect()
    };
    let active = by_role(&|r| matches!(r, Role::Started | Role::Unpromoted | Role::Promoted));
    let unpromoted = by_role(&|r| r == Role::Unpromoted);
    let promoted = by_role(&|r| r == Role::Promoted);
    put("active", &active);
    put("unpromoted", &unpromoted);
    put("slave", &unpromoted);
    put("promoted", &promoted);
    put("master", &promoted);
    let inactive = by_role(&|r| r == Role::Stopped);
    out.insert("notify_inactive_resource".into(), names(c, &inactive, false).0);
    let sorted = |mut v: Vec<NodeIdx>| {
        v.sort_by(|&a, &b| cmp_node_names(&c.nodes[a].uname, &c.nodes[b].uname));
        v
    };
    let join = |v: &[NodeIdx]| {
        let words: Vec<&str> = v.iter().map(|&n| c.nodes[n].uname.as_str()).collect();
        if words.is_empty() {
            " ".to_string()
        } else {
            words.join(" ")
        }
    };
    // A clone with exclusive discovery drops from its allowed nodes those
    // it would probe but may not discover on (`clone_create_probe`), "so
    // that the notification contains only nodes that we might ever run on".
    let dropped = |n: NodeIdx| {
        let node = &c.nodes[n];
        let cl = &c.rscs[clone];
        cl.remote.exclusive_discover
            && node.online
            && !node.unclean
            && cl.remote.discover.get(&n).copied().unwrap_or_default() != crate::model::Discover::Exclusive
    };
    let available = sorted(
        NodeIdx::all(c.nodes.len())
            .filter(|&n| c.rscs[clone].plan.allowed[n.0].is_some() && !dropped(n))
            .collect(),
    );
    out.insert("notify_available_uname".into(), join(&available));
    let all = sorted(NodeIdx::all(c.nodes.len()).collect());
    out.insert("notify_all_uname".into(), join(&all));
    if c.rscs[clone]
        .config
        .meta
        .get("container-attribute-target")
        .is_some_and(|v| v == "host")
    {
        // Guest nodes are listed by the node their container runs on.
        let hosts: Vec<NodeIdx> = all
            .iter()
            .map(|&n| {
                c.nodes[n]
                    .remote
                    .conn
                    .and_then(|conn| c.rscs[conn].remote.container)
                    .and_then(|ct| c.rscs[ct].observed.running_on.first().copied())
                    .filter(|_| c.nodes[n].kind == crate::model::NodeKind::Guest)
                    .unwrap_or(n)
            })
            .collect();
        out.insert("notify_all_hosts".into(), join(&hosts));
    }
    out
}

/// `new_notify_action`: an instance's notification on `node` for the
/// pseudo-action `op`, ordered after it and before `done`.
fn instance_notify(
    s: &mut ActionSet,
    c: &Cluster,
    rsc: RscIdx,
    node: NodeIdx,
    (op, done): (usize, usize),
    notified: &str,
    keys: &BTreeMap<String, String>,
) -> Option<usize> {
    if !c.nodes[node].online || !s.actions[op].runnable {
        return None;
    }
    let kind = key_parts(&s.actions[op].task)?.0.to_string();
    // An unmanaged instance's notification is optional whatever its
    // pseudo-action is (`custom_action` calls `update_action_optional`).
    let optional = s.actions[op].optional || !c.rscs[rsc].config.managed;
    let a = s.add(Some(rsc), &format!("{kind}_notify_{notified}"), 0, Some(node), optional);
    // `copy_meta_to_notify` and `add_notify_data_to_action_meta`: an
    // existing notification (ordered after fencing) keeps its values.
    let extra: Vec<(String, String)> = s.actions[op]
        .meta
        .iter()
        .chain(keys.iter())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (k, v) in extra {
        s.actions[a].meta.entry(k).or_insert(v);
    }
    s.order(op, a, 0);
    s.order(a, done, 0);
    Some(a)
}

/// `new_post_notify_action`: the post-notification, and the instance's
/// recurring monitors after all post-notifications.
fn instance_post_notify(
    s: &mut ActionSet,
    c: &Cluster,
    rsc: RscIdx,
    node: NodeIdx,
    ops: &NotifyOps,
    keys: &BTreeMap<String, String>,
) {
    instance_notify(s, c, rsc, node, (ops.post, ops.post_done), ops.task, keys);
    let monitors: Vec<usize> = s
        .actions
        .iter()
        .filter(|a| a.rsc == Some(rsc) && a.interval_ms > 0 && a.task != "cancel")
        .map(|a| a.id)
        .collect();
    for m in monitors {
        s.order(ops.post_done, m, 0);
    }
}

/// `pe__create_notifications` for one notified action: makes the
/// pseudo-actions required when their action happens anywhere, and creates
/// the instances' notifications. Runs once flags are final.
fn create_for(s: &mut ActionSet, c: &Cluster, clone: RscIdx, ops: &NotifyOps) {
    summarise(s, c, clone, ops);
    let lists = collect(s, c, clone);
    let required = match ops.task {
        "start" => !lists.start.is_empty(),
        "stop" => !lists.stop.is_empty(),
        "promote" => !lists.promote.is_empty(),
        "demote" => !lists.demote.is_empty(),
        _ => false,
    };
    if required {
        for a in [ops.pre, ops.pre_done, ops.post, ops.post_done] {
            s.actions[a].optional = false;
        }
    }
    let keys = keys(c, clone, &lists);
    // The instances' own required actions carry the lists too.
    let prims = c.primitives_of(clone);
    for a in 0..s.actions.len() {
        let act = &s.actions[a];
        let owned = act.rsc.is_some_and(|r| prims.contains(&r));
        if owned
            && !act.optional
            && act.node.is_some()
            && act.interval_ms == 0
            && matches!(act.task.as_str(), "start" | "stop" | "promote" | "demote")
        {
            for (k, v) in &keys {
                s.actions[a].meta.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
    let task = ops.task;
    match task {
        "start" if lists.start.is_empty() => return,
        "promote" if lists.promote.is_empty() => return,
        "demote" if lists.demote.is_empty() => return,
        _ => {}
    }
    for p in c.primitives_of(clone) {
        let rs = &c.rscs[p];
        if rs.observed.role != Role::Stopped && matches!(task, "stop" | "demote") {
            let stop = s
                .actions
                .iter()
                .find(|a| a.rsc == Some(p) && a.task == "stop" && a.interval_ms == 0)
                .map(|a| (a.pseudo, a.optional));
            for &n in &rs.observed.running_on {
                let node = &c.nodes[n];
                if stop.is_some_and(|(pseudo, _)| pseudo) && (node.unclean || node.remote.requires_reset) {
                    continue;
                }
                instance_notify(s, c, p, n, (ops.pre, ops.pre_done), task, &keys);
                if task == "demote" || !matches!(stop, Some((_, false))) {
                    instance_post_notify(s, c, p, n, ops, &keys);
                }
            }
        }
        if rs.plan.next_role != Role::Stopped && matches!(task, "start" | "promote") {
            let start = s
                .actions
                .iter()
                .find(|a| a.rsc == Some(p) && a.task == "start" && a.interval_ms == 0)
                .map(|a| (a.optional, a.node));
            if let Some((_, Some(n))) = start {
                if let Some(conn) = c.nodes[n].remote.conn {
                    let blocked = s
                        .actions
                        .iter()
                        .find(|a| a.rsc == Some(conn) && a.task == "start" && a.interval_ms == 0)
                        .is_some_and(|a| !a.runnable);
                    if blocked {
                        continue;
                    }
                }
            }
            let Some(target) = rs.plan.assigned else { continue };
            if task != "start" || !matches!(start, Some((false, _))) {
                instance_notify(s, c, p, target, (ops.pre, ops.pre_done), task, &keys);
            }
            instance_post_notify(s, c, p, target, ops, &keys);
        }
    }
}

/// `pe__order_notifs_after_fencing`: an instance whose stop is implied by
/// fencing gets its own post-notification pseudo-actions after the fencing,
/// and the clone's other active instances are post-notified of that stop
/// (before the clone's own notifications, whose values they keep).
fn after_fencing(s: &mut ActionSet, c: &Cluster, clone: RscIdx) {
    let prims = c.primitives_of(clone);
    let implied: Vec<(RscIdx, NodeIdx, usize)> = s
        .actions
        .iter()
        .filter(|a| {
            a.task == "stop"
                && a.pseudo
                && a.interval_ms == 0
                && !a.optional
                && a.rsc.is_some_and(|r| prims.contains(&r))
                && a.node.is_some()
        })
        .filter_map(|a| {
            let (r, n) = (a.rsc?, a.node?);
            let fence = s.actions.iter().find(|f| f.is_fencing() && f.node == Some(n))?;
            Some((r, n, fence.id))
        })
        .collect();
    for (r, n, fence) in implied {
        let (optional, runnable) = (s.actions[fence].optional, s.actions[fence].runnable);
        let mut pseudo = |task: &str, key_type: &str| {
            let a = s.add(Some(r), task, 0, None, optional);
            s.actions[a].pseudo = true;
            s.actions[a].runnable = runnable;
            let meta = &mut s.actions[a].meta;
            meta.insert("notify_key_type".into(), key_type.into());
            meta.insert("notify_key_operation".into(), "stonith".into());
            meta.insert("notify_type".into(), "post".into());
            meta.insert("notify_operation".into(), "stop".into());
            a
        };
        let post = pseudo("post_notify_stonith", "post");
        let post_done = pseudo("confirmed-post_notify_stonith", "confirmed-post");
        s.order(fence, post, flags::IMPLIES_THEN);
        s.order(post, post_done, flags::IMPLIES_THEN);
        let keys: BTreeMap<String, String> = [
            ("notify_stop_resource".to_string(), c.rscs[r].id.clone()),
            ("notify_stop_uname".to_string(), c.nodes[n].uname.clone()),
        ]
        .into_iter()
        .collect();
        let ops = NotifyOps {
            task: "stop",
            pre: post,
            pre_done: post_done,
            post,
            post_done,
        };
        for &q in &prims {
            if c.rscs[q].observed.role == Role::Stopped {
                continue;
            }
            let stop = s
                .actions
                .iter()
                .find(|a| a.rsc == Some(q) && a.task == "stop" && a.interval_ms == 0)
                .map(|a| (a.pseudo, a.optional));
            for &m in &c.rscs[q].observed.running_on {
                let node = &c.nodes[m];
                if stop.is_some_and(|(pseudo, _)| pseudo) && (node.unclean || node.remote.requires_reset) {
                    continue;
                }
                if !matches!(stop, Some((_, false))) {
                    instance_post_notify(s, c, q, m, &ops, &keys);
                }
            }
        }
    }
}

/// Creates every instance notification (`clone_expand`: start, stop,
/// promote, demote).
pub fn create_notifications(s: &mut ActionSet, c: &Cluster, all: &[CloneNotifications]) {
    for n in all {
        after_fencing(s, c, n.clone);
    }
    // An instance's own `notify` (set on the primitive, not the clone)
    // still gets notified of stops implied by fencing, though the clone
    // has no notifications of its own.
    for g in RscIdx::all(c.rscs.len()) {
        let is_clone = matches!(c.rscs[g].variant, crate::model::Variant::Clone { .. });
        if !is_clone || c.rscs[g].parent.is_some() || all.iter().any(|n| n.clone == g) {
            continue;
        }
        let instance_notify = c
            .primitives_of(g)
            .iter()
            .any(|&p| c.rscs[p].config.meta.get("notify").is_some_and(|v| cib::is_true(v)));
        if instance_notify {
            after_fencing(s, c, g);
        }
    }
    for n in all {
        for ops in [n.start, n.stop, n.promote, n.demote].into_iter().flatten() {
            create_for(s, c, n.clone, &ops);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use crate::testutil::{cib, clone, dummy, run};
    use crate::Schedule;

    fn find(s: &Schedule, rsc: &str, task: &str) -> Vec<usize> {
        let r = s.cluster.rsc_by_id(rsc).expect("resource exists");
        s.actions
            .iter()
            .filter(|a| a.rsc == Some(r) && a.task == task)
            .map(|a| a.id)
            .collect()
    }

    fn ordered(s: &Schedule, first: usize, then: usize) -> bool {
        s.edges.iter().any(|e| e.first == first && e.then == then)
    }

    #[test]
    fn starting_a_notified_clone_wraps_its_start_in_notifications() {
        let rscs = clone("C", &dummy("D"), &[("notify", "true"), ("clone-max", "2")]);
        let s = run(&cib(2, &rscs, "", &[]));
        let one = |task: &str| {
            let v = find(&s, "C", task);
            assert_eq!(v.len(), 1, "{task}: {v:?}");
            v[0]
        };
        let (pre, pre_done, start) = (one("pre_notify_start"), one("confirmed-pre_notify_start"), one("start"));
        let (running, post, post_done) = (
            one("running"),
            one("post_notify_running"),
            one("confirmed-post_notify_running"),
        );
        for (f, t) in [(pre, pre_done), (pre_done, start), (running, post), (post, post_done)] {
            assert!(ordered(&s, f, t), "{f} -> {t}");
        }
        for a in [pre, pre_done, post, post_done] {
            assert!(!s.actions[a].optional && s.actions[a].runnable && s.actions[a].pseudo);
        }
        // Both instances start: neither was running, so no pre-notification;
        // each is post-notified where it starts, before confirmed-post.
        for inst in ["D:0", "D:1"] {
            assert!(find(&s, inst, "pre_notify_start").is_empty());
            let posts = find(&s, inst, "post_notify_start");
            assert_eq!(posts.len(), 1, "{inst}");
            assert!(ordered(&s, post, posts[0]) && ordered(&s, posts[0], post_done));
            assert!(!s.actions[posts[0]].optional);
        }
    }

    #[test]
    fn notifications_carry_what_starts_where() {
        let rscs = clone("C", &dummy("D"), &[("notify", "true"), ("clone-max", "2")]);
        let s = run(&cib(2, &rscs, "", &[]));
        let post = find(&s, "D:0", "post_notify_start")[0];
        let meta = &s.actions[post].meta;
        let get = |k: &str| meta.get(k).map(String::as_str);
        assert_eq!(get("notify_type"), Some("post"));
        assert_eq!(get("notify_operation"), Some("start"));
        assert_eq!(get("notify_key_type"), Some("post"));
        assert_eq!(get("notify_key_operation"), Some("running"));
        assert_eq!(get("notify_start_resource"), Some("D:0 D:1"));
        assert_eq!(get("notify_start_uname"), Some("n1 n2"));
        assert_eq!(get("notify_stop_resource"), Some(" "));
        assert_eq!(get("notify_active_resource"), Some(" "));
        assert_eq!(get("notify_inactive_resource"), Some("D:0 D:1"));
        assert_eq!(get("notify_all_uname"), Some("n1 n2"));
        // The starts themselves carry the lists, not the notification keys.
        let start = find(&s, "D:0", "start")
            .into_iter()
            .find(|&a| s.actions[a].node.is_some())
            .expect("D:0 starts");
        assert_eq!(
            s.actions[start].meta.get("notify_start_resource").map(String::as_str),
            Some("D:0 D:1")
        );
        assert!(!s.actions[start].meta.contains_key("notify_type"));
    }

    #[test]
    fn orderings_after_a_notified_clone_wait_for_confirmed_post_notifications() {
        let rscs = format!(
            "{}{}",
            clone("C", &dummy("D"), &[("notify", "true"), ("clone-max", "2")]),
            dummy("B")
        );
        let cons = "<rsc_order id=\"o\" first=\"C\" then=\"B\"/>";
        let s = run(&cib(2, &rscs, cons, &[]));
        let post_done = find(&s, "C", "confirmed-post_notify_running")[0];
        let running = find(&s, "C", "running")[0];
        let b_start: Vec<usize> = find(&s, "B", "start")
            .into_iter()
            .filter(|&a| s.actions[a].node.is_some())
            .collect();
        assert_eq!(b_start.len(), 1);
        assert!(ordered(&s, post_done, b_start[0]));
        assert!(!ordered(&s, running, b_start[0]));
    }

    #[test]
    fn a_stop_implied_by_fencing_is_post_notified_after_the_fencing() {
        // Histories with the digest of the current definition (no restart).
        let digest = cib::digest::operation_digest(&BTreeMap::new(), 0, 20_000);
        let op = |id: &str, call: u32| {
            format!(
                "<lrm_resource id=\"D\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">\
                 <lrm_rsc_op id=\"{id}\" operation=\"start\" call-id=\"{call}\" rc-code=\"0\" op-status=\"0\" \
                 interval=\"0\" transition-key=\"1:1:0:x\" op-digest=\"{digest}\"/></lrm_resource>"
            )
        };
        let fence = "<lrm_resource id=\"f\" class=\"stonith\" type=\"fence_xvm\"><lrm_rsc_op id=\"f1\" \
                     operation=\"start\" call-id=\"1\" rc-code=\"0\" op-status=\"0\" interval=\"0\" \
                     transition-key=\"1:1:0:x\"/></lrm_resource>";
        let xml = format!(
            "<cib have-quorum=\"1\" execution-date=\"1000\"><configuration><crm_config>\
             <cluster_property_set id=\"o\"><nvpair id=\"o1\" name=\"stonith-enabled\" value=\"true\"/>\
             </cluster_property_set></crm_config><nodes><node id=\"1\" uname=\"n1\"/><node id=\"2\" uname=\"n2\"/></nodes>\
             <resources><primitive id=\"f\" class=\"stonith\" type=\"fence_xvm\"/>{}</resources><constraints/>\
             </configuration><status>\
             <node_state id=\"1\" uname=\"n1\" in_ccm=\"true\" crmd=\"online\" join=\"member\" expected=\"member\">\
             <lrm id=\"1\"><lrm_resources>{fence}{}</lrm_resources></lrm></node_state>\
             <node_state id=\"2\" uname=\"n2\" in_ccm=\"false\" crmd=\"offline\" join=\"member\" expected=\"member\">\
             <lrm id=\"2\"><lrm_resources>{}</lrm_resources></lrm></node_state></status></cib>",
            clone("C", &dummy("D"), &[("notify", "true"), ("clone-max", "2")]),
            op("d1", 2),
            op("d2", 3),
        );
        let s = run(&cib::Cib::parse(&xml).expect("test CIB parses"));
        let stonith = s
            .actions
            .iter()
            .find(|a| a.task == "stonith" && a.node.is_some_and(|n| s.cluster.nodes[n].uname == "n2"))
            .expect("n2 is fenced")
            .id;
        let post = s
            .actions
            .iter()
            .find(|a| a.task == "post_notify_stonith")
            .expect("post-notification after fencing");
        assert!(post.pseudo && !post.optional);
        assert!(ordered(&s, stonith, post.id));
        // The surviving instance on n1 is told about the stop.
        let survivor = s
            .actions
            .iter()
            .find(|a| a.task == "post_notify_stop" && a.node.is_some_and(|n| s.cluster.nodes[n].uname == "n1"))
            .expect("n1's instance is post-notified");
        assert!(ordered(&s, post.id, survivor.id));
        assert_eq!(
            survivor.meta.get("notify_key_operation").map(String::as_str),
            Some("stonith")
        );
    }

    #[test]
    fn clones_without_notify_get_no_notifications() {
        let rscs = clone("C", &dummy("D"), &[("clone-max", "2")]);
        let s = run(&cib(2, &rscs, "", &[]));
        assert!(s.actions.iter().all(|a| !super::is_notification(&a.task)));
    }
}

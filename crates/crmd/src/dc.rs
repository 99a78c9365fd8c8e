//! The DC's part of the controller (Pacemaker's `controld_join_dc`,
//! `controld_transition`, `controld_te_*`): the join, the scheduler run, the
//! transition's execution and the status it writes.
//!
//! - **Join.** The DC announces itself (on becoming DC and whenever members
//!   join); every member answers with its whole resource history
//!   ([`crate::messages::LrmState`]), which the DC writes as the node's `<lrm>`
//!   with the node online. Nodes with no CRM process in the view are written
//!   offline; the scheduler decides from `expected` whether that was clean.
//! - **Scheduling.** Once every member has answered and the CIB holds all the
//!   DC's own writes, the scheduler runs on the CIB as it stands, with the wall
//!   clock as "now". It runs again whenever something the transition did not do
//!   changed: membership, quorum, a configuration or attribute change, an
//!   unexpected result, a failed or timed-out action; and every
//!   `cluster-recheck-interval`.
//! - **Execution.** [`Transition`] says what may start; resource actions become
//!   operation requests to their node, fencing a request to the host, clearing
//!   fail counts an attribute change. Results come back as multicasts: each is
//!   written into the status, matched against the transition, and counted as a
//!   failure (fail count, last failure) when it is not what was expected.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use cib::document::CibDocument;
use cib::xml::Element;
use scheduler::graph::{ActionKind, GraphAction};
use scheduler::{ActionId, Task};
use totem::Instant;
use tracing::{debug, info, warn};

use crate::effects::Effect;
use crate::ids::{AttrName, AttrValue, NodeId, ProcessId};
use crate::messages::{ActionKey, AttrChange, Body, Change, LrmState, OpRequest, OpResult};
use crate::ops::{AgentSpec, ExecStatus, FenceAction, FenceKey, FenceOutcome, FenceRequest};
use crate::status;
use crate::transition::{interval_ms, Transition};

/// Pacemaker's `dc-deadtime` default.
pub const DC_DEADTIME_DEFAULT: Duration = Duration::from_secs(20);
/// Pacemaker's `cluster-recheck-interval` default.
pub const RECHECK_DEFAULT: Duration = Duration::from_secs(15 * 60);
/// Pacemaker's `stonith-max-attempts` default: fencing a target is given up after
/// this many failures in a row (until something else changes).
pub const FENCE_ATTEMPTS_MAX: u32 = 10;

#[derive(Debug, Clone)]
struct PendingFence {
    transition: u32,
    action: ActionId,
    target: NodeId,
    uname: String,
}

/// Counters, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DcStats {
    pub transitions: u64,
    pub aborted: u64,
    pub results: u64,
    pub unexpected: u64,
    pub fenced: u64,
}

/// The DC's state; reset whenever this process stops being DC.
#[derive(Debug, Clone)]
pub struct Dc {
    me: ProcessId,
    /// The zone rules' dates are read in.
    tz: cib::time::TimeZone,
    active: bool,
    view: Vec<ProcessId>,
    /// Members that answered the current join.
    joined: BTreeSet<ProcessId>,
    transition: Option<Transition>,
    next_transition: u32,
    want_schedule: bool,
    fences: BTreeMap<FenceKey, PendingFence>,
    fence_failures: BTreeMap<NodeId, u32>,
    next_fence: u64,
    recheck_at: Option<Instant>,
    /// `start-failure-is-fatal` as of the last scheduler run.
    start_failure_fatal: bool,
    /// When this process started, and whether it has run the scheduler since.
    started: Option<Instant>,
    /// Nodes that had a member in some view this process saw.
    seen: BTreeSet<NodeId>,
    scheduled_once: bool,
    /// The first run waits for configured nodes until then.
    startup_wait: Option<Instant>,
    stats: DcStats,
}

fn node_of(action: &GraphAction) -> Option<NodeId> {
    action.on_node_uuid.as_deref()?.parse().ok().map(NodeId)
}

fn target_rc(action: &GraphAction) -> i32 {
    action
        .attributes
        .get("CRM_meta_op_target_rc")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

impl Dc {
    pub fn new(me: ProcessId) -> Dc {
        Dc {
            me,
            active: false,
            view: Vec::new(),
            joined: BTreeSet::new(),
            transition: None,
            next_transition: 1,
            want_schedule: false,
            fences: BTreeMap::new(),
            fence_failures: BTreeMap::new(),
            next_fence: 1,
            recheck_at: None,
            start_failure_fatal: true,
            started: None,
            seen: BTreeSet::new(),
            scheduled_once: false,
            startup_wait: None,
            stats: DcStats::default(),
            tz: cib::time::TimeZone::UTC,
        }
    }

    /// The zone the scheduler reads rules' dates in (the host's local zone,
    /// as Pacemaker's controller).
    pub fn set_time_zone(&mut self, tz: cib::time::TimeZone) {
        self.tz = tz;
    }

    pub fn active(&self) -> bool {
        self.active
    }

    pub fn stats(&self) -> DcStats {
        self.stats
    }

    pub fn transition(&self) -> Option<&Transition> {
        self.transition.as_ref()
    }

    /// Every member answered the join.
    pub fn join_complete(&self) -> bool {
        self.active && self.view.iter().all(|p| self.joined.contains(p))
    }

    /// Nothing to do: no transition and nothing waiting to be scheduled.
    pub fn idle(&self) -> bool {
        self.transition.is_none() && !self.want_schedule
    }

    /// This process became DC of `view` (or stopped being DC: `active` false); the
    /// caller announces it, which starts the join.
    pub fn set_active(&mut self, active: bool, view: &[ProcessId]) {
        if active == self.active {
            return;
        }
        *self = Dc {
            next_transition: self.next_transition,
            stats: self.stats,
            started: self.started,
            seen: std::mem::take(&mut self.seen),
            scheduled_once: self.scheduled_once,
            tz: self.tz.clone(),
            ..Dc::new(self.me)
        };
        self.active = active;
        if active {
            self.view = view.to_vec();
            self.want_schedule = true;
        }
    }

    /// The view changed while DC (the caller re-announces when members joined).
    pub fn on_view(&mut self, view: &[ProcessId], joined: bool) {
        if !self.active {
            return;
        }
        self.view = view.to_vec();
        self.joined.retain(|p| view.contains(p));
        if joined {
            self.joined.clear();
        }
        self.abort("membership changed");
    }

    /// Quorum changed while DC.
    pub fn on_quorum(&mut self, quorate: bool) -> Vec<Effect> {
        if !self.active {
            return Vec::new();
        }
        self.abort("quorum changed");
        vec![Effect::Cib {
            op: status::cluster(quorate, self.me.node),
            quiet: true,
        }]
    }

    /// Something the transition did not do changed the CIB.
    pub fn on_foreign_change(&mut self) {
        if self.active {
            self.abort("CIB changed");
        }
    }

    fn abort(&mut self, why: &str) {
        self.want_schedule = true;
        if let Some(t) = &mut self.transition {
            if !t.aborted() {
                info!(me = %self.me, transition = t.id(), why, "transition aborted");
                self.stats.aborted += 1;
                t.abort();
            }
        }
    }

    /// A member's join answer.
    pub fn on_lrm_state(&mut self, from: ProcessId, s: &LrmState, doc: &CibDocument) -> Vec<Effect> {
        if !self.active || !self.view.contains(&from) {
            return Vec::new();
        }
        let node = from.node;
        let lrm = match Element::parse(&s.lrm) {
            Ok(e) if e.name == "lrm" && e.attr("id") == Some(node.0.to_string().as_str()) => e,
            _ => {
                warn!(me = %self.me, %from, "join answer with an unusable history ignored");
                return Vec::new();
            }
        };
        self.joined.insert(from);
        let mut ops = Vec::new();
        let configured = doc
            .find(&format!("/cib/configuration/nodes/node[@id='{}']", node.0))
            .is_some_and(|n| n.attr("uname") == Some(s.uname.as_str()));
        if !configured {
            ops.push(status::configured_node(node, &s.uname));
        }
        ops.push(status::node_state(node, Some(&s.uname), true, Some("member")));
        ops.push(status::replace_lrm(node, lrm));
        let mut out = vec![Effect::Cib {
            op: crate::cib_manager::CibOp::Batch(ops),
            quiet: true,
        }];
        if self.join_complete() {
            out.extend(self.mark_absent_offline(doc));
            self.abort("join complete");
        }
        out
    }

    /// Nodes whose status says online but that have no process in the view.
    fn mark_absent_offline(&self, doc: &CibDocument) -> Vec<Effect> {
        let present: BTreeSet<NodeId> = self.view.iter().map(|p| p.node).collect();
        let Some(status) = doc.find("/cib/status") else {
            return Vec::new();
        };
        status
            .children_named("node_state")
            .filter(|s| s.attr("crmd") == Some("online") || s.attr("in_ccm").is_some_and(|v| v != "false"))
            .filter_map(|s| s.attr("id")?.parse().ok().map(NodeId))
            .filter(|n| !present.contains(n))
            .map(|n| Effect::Cib {
                op: status::node_state(n, None, false, None),
                quiet: false,
            })
            .collect()
    }

    /// A node lost its last CRM process (the caller saw the configuration change).
    /// `shutting_down`: it had asked to shut down (its `shutdown` attribute); with
    /// nothing left running there its leaving is clean, even if the DC that sent it
    /// `do_shutdown` (and would have written `expected="down"`) is gone too.
    pub fn on_node_left(&mut self, node: NodeId, shutting_down: bool, doc: &CibDocument) -> Vec<Effect> {
        if !self.active {
            return Vec::new();
        }
        info!(me = %self.me, %node, "node left");
        // Its actions in flight will never report (`fail_incompletable_actions`).
        if let Some(t) = &mut self.transition {
            for a in t.running_on(node) {
                t.complete(a, false);
            }
        }
        let clean = shutting_down && !status::may_run_resources(doc, node);
        let expected = clean.then_some("down");
        vec![Effect::Cib {
            op: status::node_state(node, None, false, expected),
            quiet: false,
        }]
    }

    /// A result delivered (from any node, for any DC).
    pub fn on_result(&mut self, r: &OpResult, wall: i64) -> Vec<Effect> {
        let mut out = Vec::new();
        if !self.active || !status::valid_rsc_name(&r.rsc) {
            return out;
        }
        self.stats.results += 1;
        let history = if r.history.is_empty() {
            None
        } else {
            match Element::parse(&r.history) {
                Ok(e) if e.name == "lrm_resource" && e.attr("id") == Some(r.rsc.as_str()) => Some(e),
                _ => {
                    warn!(me = %self.me, node = %r.node, rsc = %r.rsc, "result with an unusable history ignored");
                    return out;
                }
            }
        };
        out.push(Effect::Cib {
            op: status::lrm_resource(r.node, &r.rsc, history),
            quiet: true,
        });
        let ok = r.status == ExecStatus::Done.code() && r.rc == r.key.target_rc;
        let matched = r.dc == self.me.node
            && self
                .transition
                .as_mut()
                .filter(|t| t.id() == r.key.transition)
                .is_some_and(|t| t.complete(ActionId(r.key.action as usize), ok));
        if !ok && r.status != ExecStatus::Cancelled.code() {
            self.stats.unexpected += 1;
            debug!(me = %self.me, node = %r.node, rsc = %r.rsc, task = %r.task, rc = r.rc, status = r.status, "unexpected result");
            out.extend(self.fail_count(r, wall));
            self.abort("unexpected result");
        } else if !matched && r.task != "cancel" && r.interval_ms == 0 {
            // A result of an earlier transition or DC: the status changed under the
            // current plan.
            self.abort("result outside the transition");
        }
        out
    }

    /// Pacemaker's `update_failcount`: probes that found a state are not failures;
    /// failed starts count INFINITY when `start-failure-is-fatal`, failed stops always.
    fn fail_count(&self, r: &OpResult, wall: i64) -> Vec<Effect> {
        let probe = r.task == "monitor" && r.interval_ms == 0;
        if (probe && matches!(r.rc, 0 | 7 | 8)) || matches!(r.task.as_str(), "cancel" | "notify" | "delete") {
            return Vec::new();
        }
        let (Ok(count), Ok(last), Ok(when)) = (
            AttrName::fail_count(&r.rsc, &r.task, r.interval_ms),
            AttrName::last_failure(&r.rsc, &r.task, r.interval_ms),
            AttrValue::new(wall.to_string()),
        ) else {
            return Vec::new();
        };
        let infinity = r.task == "stop" || (r.task == "start" && self.start_failure_fatal);
        let change = if infinity {
            Change::Set(AttrValue::from_score(i64::from(cib::score::INFINITY)))
        } else {
            Change::Add(1)
        };
        vec![Effect::Attr(vec![
            AttrChange {
                node: r.node,
                name: count,
                change,
                dampen: None,
            },
            AttrChange {
                node: r.node,
                name: last,
                change: Change::Set(when),
                dampen: None,
            },
        ])]
    }

    /// The host's fencing outcome.
    pub fn on_fence(&mut self, outcome: &FenceOutcome) -> Vec<Effect> {
        let mut out = Vec::new();
        let Some(f) = self.fences.remove(&outcome.key) else {
            return out;
        };
        let current = self.transition.as_mut().filter(|t| t.id() == f.transition);
        match &outcome.result {
            Ok(()) => {
                info!(me = %self.me, target = %f.uname, "fenced");
                self.stats.fenced += 1;
                self.fence_failures.remove(&f.target);
                out.push(Effect::Cib {
                    op: status::fenced(f.target, &f.uname),
                    quiet: true,
                });
                if let Some(t) = current {
                    t.complete(f.action, true);
                }
            }
            Err(why) => {
                warn!(me = %self.me, target = %f.uname, why, "fencing failed");
                *self.fence_failures.entry(f.target).or_default() += 1;
                if let Some(t) = current {
                    t.complete(f.action, false);
                }
                self.want_schedule = true;
            }
        }
        out
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        let t = self.transition.as_ref().and_then(Transition::next_deadline);
        [t, self.recheck_at, self.startup_wait].into_iter().flatten().min()
    }

    pub fn on_timer(&mut self, now: Instant) {
        if let Some(t) = &mut self.transition {
            for a in t.expire(now) {
                let (key, node) = t
                    .action(a)
                    .map(|g| (g.operation_key.clone(), g.on_node.clone().unwrap_or_default()))
                    .unwrap_or_default();
                warn!(me = %self.me, transition = t.id(), action = %a, %key, %node, "action timed out");
            }
            if t.aborted() {
                self.want_schedule = true;
            }
        }
        if self.recheck_at.is_some_and(|at| at <= now) {
            self.recheck_at = None;
            self.abort("cluster-recheck-interval");
        }
    }

    /// Runs what can run now: ends a finished transition, schedules a new one when
    /// something changed, starts the actions that may start. `cib_idle`: the CIB
    /// holds every change this process asked for.
    pub fn poll(&mut self, now: Instant, wall: i64, doc: &CibDocument, cib_idle: bool) -> Vec<Effect> {
        let mut out = Vec::new();
        if !self.active {
            return out;
        }
        if self.transition.as_ref().is_some_and(Transition::complete_now) {
            let t = self.transition.take().expect("checked");
            if t.succeeded() {
                info!(me = %self.me, transition = t.id(), "transition complete");
            } else {
                info!(me = %self.me, transition = t.id(), failures = t.failures(), "transition ended early");
                self.want_schedule = true;
            }
        }
        if self.transition.is_none() && self.want_schedule && self.join_complete() && cib_idle {
            if let Some(until) = self.waiting_for_nodes(now, doc) {
                // Not yet: configured nodes may still be starting.
                self.startup_wait = Some(until);
            } else {
                self.startup_wait = None;
                self.want_schedule = false;
                self.schedule(now, wall, doc);
            }
        }
        out.extend(self.fire(now));
        out
    }

    /// Until when to wait before the first scheduler run of this process: while
    /// `dc-deadtime` (Pacemaker's start-up wait, 20 s) has not passed since it
    /// started and configured nodes were never seen by it. Without the wait, a node
    /// a moment slower to start than the others would be fenced as never seen
    /// (`startup-fencing`); a node seen and lost is not waited for.
    fn waiting_for_nodes(&self, now: Instant, doc: &CibDocument) -> Option<Instant> {
        if self.scheduled_once {
            return None;
        }
        let started = self.started?;
        let deadtime = doc
            .find("/cib/configuration/crm_config")
            .and_then(|c| {
                c.elements()
                    .flat_map(|set| set.children_named("nvpair"))
                    .find(|nv| nv.attr("name") == Some("dc-deadtime"))
                    .and_then(|nv| nv.attr("value"))
                    .and_then(interval_ms)
            })
            .map_or(DC_DEADTIME_DEFAULT, Duration::from_millis);
        let until = started + deadtime;
        if now >= until {
            return None;
        }
        let present: BTreeSet<String> = self.seen.iter().map(|n| n.0.to_string()).collect();
        let absent = doc.find("/cib/configuration/nodes").is_some_and(|n| {
            n.children_named("node")
                .any(|n| n.attr("id").is_some_and(|id| !present.contains(id)))
        });
        absent.then_some(until)
    }

    /// A view of the group this process saw (DC or not).
    pub fn note_view(&mut self, view: &[ProcessId]) {
        self.seen.extend(view.iter().map(|p| p.node));
    }

    /// The process started at `now` (the start of its `dc-deadtime`).
    pub fn set_started(&mut self, now: Instant) {
        self.started.get_or_insert(now);
    }

    fn schedule(&mut self, now: Instant, wall: i64, doc: &CibDocument) {
        self.scheduled_once = true;
        let cib = match cib::Cib::from_element(doc.root().clone()) {
            Ok(c) => c,
            Err(e) => {
                warn!(me = %self.me, error = %e, "the CIB cannot be scheduled");
                return;
            }
        };
        let recheck = cib
            .property("cluster-recheck-interval")
            .and_then(interval_ms)
            .map_or(RECHECK_DEFAULT, Duration::from_millis);
        self.start_failure_fatal = cib.property("start-failure-is-fatal").is_none_or(cib::is_true);
        if !recheck.is_zero() {
            self.recheck_at = Some(now + recheck);
        }
        let mut graph = scheduler::schedule(&cib, &scheduler::Options::at(wall).in_zone(self.tz.clone()));
        // The graph's `recheck-by` (a failure timeout or a shutdown lock expiring):
        // run again then, as Pacemaker's controller does.
        if let Some(by) = graph.header.recheck_by {
            let wait = Duration::from_secs(u64::try_from(by.saturating_sub(wall)).unwrap_or(0).max(1));
            let at = now + wait;
            self.recheck_at = Some(self.recheck_at.map_or(at, |r| r.min(at)));
        }
        let id = self.next_transition;
        self.next_transition += 1;
        graph.header.transition_id = u64::from(id);
        if graph.synapses.is_empty() {
            debug!(me = %self.me, transition = id, "nothing to do");
            return;
        }
        info!(me = %self.me, transition = id, actions = graph.synapses.len(), "transition");
        self.stats.transitions += 1;
        self.transition = Some(Transition::new(id, graph));
    }

    fn fire(&mut self, now: Instant) -> Vec<Effect> {
        let mut out = Vec::new();
        let Some(t) = self.transition.as_mut() else { return out };
        let id = t.id();
        let started = t.fire(now);
        let members: BTreeSet<NodeId> = self.view.iter().map(|p| p.node).collect();
        let mut failed = Vec::new();
        let mut done = Vec::new();
        for a in started {
            match (a.kind, &a.task) {
                (ActionKind::CrmEvent, Task::Fence) => {
                    let (Some(target), Some(uname)) = (node_of(&a), a.on_node.clone()) else {
                        failed.push(a.id);
                        continue;
                    };
                    if self.fence_failures.get(&target).copied().unwrap_or(0) >= FENCE_ATTEMPTS_MAX {
                        warn!(me = %self.me, target = %uname, "fencing given up after {FENCE_ATTEMPTS_MAX} failures");
                        failed.push(a.id);
                        continue;
                    }
                    let action = a
                        .attributes
                        .get("CRM_meta_stonith_action")
                        .and_then(|s| FenceAction::parse(s))
                        .unwrap_or(FenceAction::Reboot);
                    let timeout_ms = a.timeout_ms.unwrap_or(60_000);
                    let key = FenceKey(self.next_fence);
                    self.next_fence += 1;
                    self.fences.insert(
                        key,
                        PendingFence {
                            transition: id,
                            action: a.id,
                            target,
                            uname: uname.clone(),
                        },
                    );
                    out.push(Effect::Fence(FenceRequest {
                        key,
                        target: uname,
                        action,
                        timeout_ms,
                    }));
                }
                (ActionKind::CrmEvent, Task::ClearFailcount) => {
                    if let (Some(node), Some(rsc)) =
                        (node_of(&a), a.agent.as_ref().map(|g| g.id.clone()).or(a.rsc.clone()))
                    {
                        out.push(Effect::ClearFailcount { node, rsc });
                    }
                    done.push(a.id);
                }
                _ => match self.request(id, &a) {
                    Some((node, req)) if members.contains(&node) => {
                        if a.task == Task::Shutdown {
                            // Its leaving will be clean: nothing to fence.
                            out.push(Effect::Cib {
                                op: status::expected(node, "down"),
                                quiet: true,
                            });
                        }
                        out.push(Effect::Send(Body::OpRequest(req)));
                    }
                    Some((node, _)) => {
                        warn!(me = %self.me, %node, action = %a.operation_key, "target node is not a member");
                        failed.push(a.id);
                    }
                    None => {
                        warn!(me = %self.me, action = %a.operation_key, "action cannot be sent");
                        failed.push(a.id);
                    }
                },
            }
        }
        if let Some(t) = self.transition.as_mut() {
            for a in done {
                t.complete(a, true);
            }
            for a in failed {
                t.complete(a, false);
            }
        }
        out
    }

    /// The operation request for a resource action (or a node's shutdown).
    fn request(&self, transition: u32, a: &GraphAction) -> Option<(NodeId, OpRequest)> {
        let node = node_of(a)?;
        let key = ActionKey {
            transition,
            action: u32::try_from(a.id.0).ok()?,
            target_rc: target_rc(a),
        };
        let (rsc, agent) = match (&a.task, &a.agent) {
            (Task::Shutdown, _) => (
                String::from("do_shutdown"),
                AgentSpec {
                    class: "crmd".into(),
                    provider: None,
                    kind: "shutdown".into(),
                },
            ),
            (_, Some(g)) => (
                g.id.clone(),
                AgentSpec {
                    class: g.class.clone(),
                    provider: g.provider.clone(),
                    kind: g.ty.clone(),
                },
            ),
            (_, None) => return None,
        };
        if !status::valid_rsc_name(&rsc) {
            return None;
        }
        Some((
            node,
            OpRequest {
                target: node,
                key,
                rsc,
                agent,
                task: a.task.as_str().to_string(),
                interval_ms: a.interval_ms,
                timeout_ms: a.timeout_ms.unwrap_or(0),
                attributes: a.attributes.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            },
        ))
    }
}

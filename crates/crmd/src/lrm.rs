//! A node's own resource history (Pacemaker's executor cache in the controller):
//! what ran here, written as the `<lrm>` section of this node's `node_state` in
//! Pacemaker's form, so the scheduler reads it as it reads Pacemaker's.
//!
//! The node owns it: it is built from the results of operations run here, sent
//! whole to the DC at every join (the DC replaces the node's `<lrm>` with it) and
//! per resource with every result. A new DC therefore learns what runs where
//! from the nodes themselves, not from a CIB copy that may have missed a result.
//!
//! Which entries exist (`controld_update_resource_history`,
//! `pcmk__create_history_xml`): `RSC_last_0` holds the last one-shot operation
//! (probe, start, stop, promote, demote, migration); `RSC_last_failure_0` the last
//! failed one; each recurring operation its own `RSC_TASK_INTERVAL`, removed when
//! it is cancelled or the resource stops. Notifications are not recorded.
//!
//! A start or promote in progress is written as a *pending* `RSC_last_0` (call id
//! -1, `op-status` -1, as Pacemaker's `record-pending`): a DC that takes over while
//! it runs then sees the resource as possibly active here and does not start it
//! elsewhere.

use std::collections::BTreeMap;

use cib::xml::Element;

use crate::ids::NodeId;
use crate::messages::ActionKey;
use crate::ops::AgentSpec;

/// The feature set written into every history entry: the scheduler's.
pub use scheduler::graph_details::FEATURE_SET;

/// One recorded result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpRecord {
    pub task: String,
    pub interval_ms: u64,
    pub call_id: u64,
    pub rc: i32,
    pub status: i32,
    pub key: ActionKey,
    /// The DC that asked, for the transition key.
    pub dc: NodeId,
    pub exit_reason: String,
    /// Wall-clock seconds of the last change of `rc`.
    pub last_rc_change: i64,
    pub exec_ms: u64,
    pub queue_ms: u64,
    /// `op-digest`: the parameters the operation ran with.
    pub digest: String,
}

impl OpRecord {
    /// `action:transition:target_rc:dc`: how the scheduler learns the expected result.
    pub fn transition_key(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.key.action, self.key.transition, self.key.target_rc, self.dc.0
        )
    }

    /// Whether the result is the one the DC expected.
    pub fn succeeded(&self) -> bool {
        self.status == 0 && self.rc == self.key.target_rc
    }

    fn element(&self, id: &str, rsc: &str, uname: &str) -> Element {
        let mut e = Element::new("lrm_rsc_op");
        let key = self.transition_key();
        let op_key = scheduler::graph::op_key(rsc, &self.task, self.interval_ms);
        let attrs: [(&str, String); 18] = [
            ("id", id.to_string()),
            ("operation_key", op_key),
            ("operation", self.task.clone()),
            ("crm-debug-origin", "do_update_resource".into()),
            ("crm_feature_set", FEATURE_SET.into()),
            ("transition-key", key.clone()),
            ("transition-magic", format!("{}:{};{}", self.status, self.rc, key)),
            ("exit-reason", self.exit_reason.clone()),
            ("on_node", uname.to_string()),
            (
                "call-id",
                if self.status == STATUS_PENDING {
                    "-1".to_string()
                } else {
                    self.call_id.to_string()
                },
            ),
            ("rc-code", self.rc.to_string()),
            ("op-status", self.status.to_string()),
            ("interval", self.interval_ms.to_string()),
            ("last-rc-change", self.last_rc_change.to_string()),
            ("exec-time", self.exec_ms.to_string()),
            ("queue-time", self.queue_ms.to_string()),
            ("op-digest", self.digest.clone()),
            ("last-run", self.last_rc_change.to_string()),
        ];
        for (k, v) in attrs {
            // Recurring operations carry no last-run (Pacemaker writes it only for
            // one-shot operations).
            if k == "last-run" && self.interval_ms > 0 {
                continue;
            }
            e.set_attr(k, v);
        }
        e
    }
}

/// The `op-digest` of an operation run with `attributes` (parameters and
/// `CRM_meta_*`, as the graph gave them): Pacemaker's controller digests the
/// parameters it was given, filtered as the scheduler filters its expectation.
pub fn op_digest(attributes: &BTreeMap<String, String>) -> String {
    cib::digest::attributes_digest(attributes)
}

/// Pacemaker's `PCMK_EXEC_PENDING`.
pub const STATUS_PENDING: i32 = -1;
/// Pacemaker's `PCMK_OCF_UNKNOWN`, the rc of a pending operation.
pub const RC_PENDING: i32 = 193;

/// Whether an operation in progress is recorded as pending.
pub fn recorded_pending(task: &str, interval_ms: u64) -> bool {
    interval_ms == 0 && matches!(task, "start" | "promote")
}

/// One resource's history on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RscHistory {
    pub agent: AgentSpec,
    /// A start or promote in progress (shown as `RSC_last_0` until it completes).
    pub pending: Option<OpRecord>,
    pub last: Option<OpRecord>,
    pub last_failure: Option<OpRecord>,
    /// Recurring operations by (task, interval).
    pub recurring: BTreeMap<(String, u64), OpRecord>,
}

/// Most resources a node's history holds (Pacemaker has no bound; a CIB beyond a
/// few thousand resources does not fit a sync message anyway).
pub const RESOURCES_MAX: usize = 4096;

/// This node's history of every resource that ran (or was probed) here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lrm {
    node: NodeId,
    uname: String,
    rscs: BTreeMap<String, RscHistory>,
    next_call: u64,
}

impl Lrm {
    pub fn new(node: NodeId, uname: impl Into<String>) -> Lrm {
        Lrm {
            node,
            uname: uname.into(),
            rscs: BTreeMap::new(),
            next_call: 1,
        }
    }

    pub fn uname(&self) -> &str {
        &self.uname
    }

    pub fn get(&self, rsc: &str) -> Option<&RscHistory> {
        self.rscs.get(rsc)
    }

    /// The next call id: results are ordered by it.
    pub fn next_call_id(&mut self) -> u64 {
        let id = self.next_call;
        self.next_call += 1;
        id
    }

    /// Records a result; `false` when it is not recorded (notifications, or the
    /// table is full — logged by the caller).
    pub fn record(&mut self, rsc: &str, agent: &AgentSpec, op: OpRecord) -> bool {
        if op.task == "notify" || op.task == "meta-data" || op.task == "validate-all" {
            return false;
        }
        if !self.rscs.contains_key(rsc) && self.rscs.len() >= RESOURCES_MAX {
            return false;
        }
        let h = self.rscs.entry(rsc.to_string()).or_insert_with(|| RscHistory {
            agent: agent.clone(),
            pending: None,
            last: None,
            last_failure: None,
            recurring: BTreeMap::new(),
        });
        h.agent = agent.clone();
        if op.status == STATUS_PENDING {
            h.pending = Some(op);
            return true;
        }
        if op.interval_ms == 0 && h.pending.as_ref().is_some_and(|p| p.key == op.key && p.task == op.task) {
            h.pending = None;
        }
        let failed = !op.succeeded() && !is_cancel(&op);
        if failed {
            h.last_failure = Some(op.clone());
        }
        if op.interval_ms > 0 {
            if is_cancel(&op) {
                h.recurring.remove(&(op.task.clone(), op.interval_ms));
            } else {
                let rc_changed = h
                    .recurring
                    .get(&(op.task.clone(), op.interval_ms))
                    .map(|old| (old.rc, old.last_rc_change));
                let mut op = op;
                if let Some((rc, since)) = rc_changed {
                    if rc == op.rc {
                        op.last_rc_change = since;
                    }
                }
                h.recurring.insert((op.task.clone(), op.interval_ms), op);
            }
        } else {
            if op.task == "stop" && op.succeeded() {
                // A stop cancels the resource's recurring operations.
                h.recurring.clear();
            }
            h.last = Some(op);
        }
        true
    }

    /// Removes a recurring operation's entry (it was cancelled).
    pub fn cancel(&mut self, rsc: &str, task: &str, interval_ms: u64) {
        if let Some(h) = self.rscs.get_mut(rsc) {
            h.recurring.remove(&(task.to_string(), interval_ms));
        }
    }

    /// Forgets a resource (`crm_resource --cleanup` / a `delete` action).
    pub fn forget(&mut self, rsc: &str) -> bool {
        self.rscs.remove(rsc).is_some()
    }

    /// `<lrm_resource>` of one resource, or `None` when it has no history here.
    pub fn rsc_element(&self, rsc: &str) -> Option<Element> {
        let h = self.rscs.get(rsc)?;
        let mut e = Element::new("lrm_resource");
        e.set_attr("id", rsc);
        e.set_attr("type", h.agent.kind.clone());
        e.set_attr("class", h.agent.class.clone());
        if let Some(p) = &h.agent.provider {
            e.set_attr("provider", p.clone());
        }
        if let Some(op) = h.pending.as_ref().or(h.last.as_ref()) {
            e.push(op.element(&format!("{rsc}_last_0"), rsc, &self.uname));
        }
        if let Some(op) = &h.last_failure {
            e.push(op.element(&format!("{rsc}_last_failure_0"), rsc, &self.uname));
        }
        for op in h.recurring.values() {
            let id = scheduler::graph::op_key(rsc, &op.task, op.interval_ms);
            e.push(op.element(&id, rsc, &self.uname));
        }
        Some(e)
    }

    /// The whole `<lrm>` section of this node's `node_state`.
    pub fn lrm_element(&self) -> Element {
        let mut lrm = Element::new("lrm");
        lrm.set_attr("id", self.node.0.to_string());
        let mut list = Element::new("lrm_resources");
        for rsc in self.rscs.keys() {
            if let Some(e) = self.rsc_element(rsc) {
                list.push(e);
            }
        }
        lrm.push(list);
        lrm
    }
}

fn is_cancel(op: &OpRecord) -> bool {
    op.status == crate::ops::ExecStatus::Cancelled.code()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn agent() -> AgentSpec {
        AgentSpec {
            class: "ocf".into(),
            provider: Some("pacemaker".into()),
            kind: "Dummy".into(),
        }
    }

    fn op(task: &str, interval_ms: u64, call_id: u64, rc: i32, target_rc: i32) -> OpRecord {
        OpRecord {
            task: task.into(),
            interval_ms,
            call_id,
            rc,
            status: 0,
            key: ActionKey {
                transition: 1,
                action: call_id as u32,
                target_rc,
            },
            dc: NodeId(1),
            exit_reason: String::new(),
            last_rc_change: 1000 + call_id as i64,
            exec_ms: 10,
            queue_ms: 0,
            digest: "d".into(),
        }
    }

    #[test]
    fn entries_as_pacemaker_names_them() {
        let mut l = Lrm::new(NodeId(2), "n2");
        assert!(l.record("d", &agent(), op("monitor", 0, 1, 7, 7)));
        assert!(l.record("d", &agent(), op("start", 0, 2, 0, 0)));
        assert!(l.record("d", &agent(), op("monitor", 10_000, 3, 0, 0)));
        assert!(!l.record("d", &agent(), op("notify", 0, 4, 0, 0)));
        let e = l.rsc_element("d").unwrap();
        let ids: Vec<&str> = e.elements().filter_map(|o| o.attr("id")).collect();
        assert_eq!(ids, ["d_last_0", "d_monitor_10000"]);
        let last = e.elements().next().unwrap();
        assert_eq!(last.attr("operation_key"), Some("d_start_0"));
        assert_eq!(last.attr("transition-key"), Some("2:1:0:1"));
        assert_eq!(last.attr("transition-magic"), Some("0:0;2:1:0:1"));
        assert_eq!(last.attr("on_node"), Some("n2"));
        assert_eq!(e.attr("provider"), Some("pacemaker"));

        // A failed monitor: the recurring entry and last_failure; the rc change time moves.
        assert!(l.record("d", &agent(), op("monitor", 10_000, 3, 7, 0)));
        let h = l.get("d").unwrap();
        assert_eq!(h.last_failure.as_ref().map(|o| o.rc), Some(7));
        // Same rc again: last-rc-change stays.
        let mut again = op("monitor", 10_000, 3, 7, 0);
        again.last_rc_change = 5000;
        l.record("d", &agent(), again);
        assert_eq!(
            l.get("d").unwrap().recurring.values().next().unwrap().last_rc_change,
            1003
        );

        // A stop clears the recurring entries; last_failure stays until a cleanup.
        assert!(l.record("d", &agent(), op("stop", 0, 5, 0, 0)));
        let ids: Vec<String> = l
            .rsc_element("d")
            .unwrap()
            .elements()
            .filter_map(|o| o.attr("id").map(str::to_string))
            .collect();
        assert_eq!(ids, ["d_last_0", "d_last_failure_0"]);
        assert!(l.forget("d"));
        assert!(l.rsc_element("d").is_none());
        assert_eq!(l.lrm_element().to_xml_string().matches("lrm_resource ").count(), 0);
    }

    #[test]
    fn a_start_in_progress_is_pending_until_its_result() {
        let mut l = Lrm::new(NodeId(2), "n2");
        let mut p = op("start", 0, 1, RC_PENDING, 0);
        p.status = STATUS_PENDING;
        l.record("d", &agent(), p);
        let e = l.rsc_element("d").unwrap();
        let last = e.elements().next().unwrap();
        assert_eq!(
            (
                last.attr("id"),
                last.attr("call-id"),
                last.attr("op-status"),
                last.attr("rc-code")
            ),
            (Some("d_last_0"), Some("-1"), Some("-1"), Some("193"))
        );
        l.record("d", &agent(), op("start", 0, 1, 0, 0));
        let e = l.rsc_element("d").unwrap();
        let last = e.elements().next().unwrap();
        assert_eq!((last.attr("call-id"), last.attr("op-status")), (Some("1"), Some("0")));
        assert!(l.get("d").unwrap().pending.is_none());
    }

    #[test]
    fn digest_ignores_meta_but_the_timeout_of_recurring_ops() {
        let mut a: BTreeMap<String, String> = [
            ("state", "/x"),
            ("CRM_meta_timeout", "20000"),
            ("CRM_meta_interval", "0"),
            ("CRM_meta_on_node", "n1"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let d1 = op_digest(&a);
        a.insert("CRM_meta_on_node".into(), "n2".into());
        assert_eq!(op_digest(&a), d1, "meta attributes are not parameters");
        a.insert("state".into(), "/y".into());
        assert_ne!(op_digest(&a), d1);
    }
}

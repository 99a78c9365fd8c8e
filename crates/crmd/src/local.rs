//! The part of the controller every node runs (Pacemaker's `controld_execd`): it
//! takes the DC's operation requests addressed to this node, asks the host to run
//! them, records their results in this node's history ([`Lrm`]) and multicasts
//! each result with the resource's history, so whichever process is DC when it is
//! delivered writes it into the status.

use std::collections::BTreeMap;

use tracing::{debug, warn};

use crate::effects::Effect;
use crate::ids::NodeId;
use crate::lrm::{op_digest, recorded_pending, Lrm, OpRecord, RC_PENDING, STATUS_PENDING};
use crate::messages::{ActionKey, Body, Cleanup, LrmState, OpRequest, OpResult};
use crate::ops::{AgentSpec, ExecKey, ExecRequest, ExecResult, ExecStatus};

/// Most operations in progress on one node (running, queued by the host, or
/// recurring); requests beyond are answered as failed.
pub const OPS_MAX: usize = 4096;

/// Timeout for an operation the graph gave none (Pacemaker's default op timeout).
const DEFAULT_TIMEOUT_MS: u64 = 20_000;

#[derive(Debug, Clone)]
struct Running {
    dc: NodeId,
    key: ActionKey,
    rsc: String,
    agent: AgentSpec,
    task: String,
    interval_ms: u64,
    digest: String,
    call_id: u64,
}

/// This node's executor side.
#[derive(Debug, Clone)]
pub struct Local {
    node: NodeId,
    lrm: Lrm,
    ops: BTreeMap<ExecKey, Running>,
    next_key: u64,
}

fn split_attributes(attrs: &[(String, String)]) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut params = BTreeMap::new();
    let mut meta = BTreeMap::new();
    for (k, v) in attrs {
        match k.strip_prefix("CRM_meta_") {
            Some(m) => {
                meta.insert(m.to_string(), v.clone());
            }
            None => {
                params.insert(k.clone(), v.clone());
            }
        }
    }
    (params, meta)
}

impl Local {
    pub fn new(node: NodeId, uname: &str) -> Local {
        Local {
            node,
            lrm: Lrm::new(node, uname),
            ops: BTreeMap::new(),
            next_key: 1,
        }
    }

    pub fn lrm(&self) -> &Lrm {
        &self.lrm
    }

    /// The join answer: this node's name and whole history.
    pub fn lrm_state(&self) -> Body {
        Body::LrmState(LrmState {
            uname: self.lrm.uname().to_string(),
            lrm: self.lrm.lrm_element().to_xml_string(),
        })
    }

    /// The result of operation `(rsc, task, interval_ms)` asked by `dc` as `key`.
    fn result(
        &self,
        dc: NodeId,
        key: ActionKey,
        (rsc, task, interval_ms): (&str, &str, u64),
        rc: i32,
        status: i32,
    ) -> Effect {
        Effect::Send(Body::OpResult(OpResult {
            node: self.node,
            dc,
            key,
            rsc: rsc.to_string(),
            task: task.to_string(),
            interval_ms,
            rc,
            status,
            history: self.lrm.rsc_element(rsc).map(|e| e.to_xml_string()).unwrap_or_default(),
        }))
    }

    /// Cancels the recurring operations of `rsc` (all, or the one of `task` and
    /// `interval_ms`).
    fn cancel_recurring(&mut self, rsc: &str, only: Option<(&str, u64)>, out: &mut Vec<Effect>) {
        let keys: Vec<ExecKey> = self
            .ops
            .iter()
            .filter(|(_, r)| r.rsc == rsc && r.interval_ms > 0)
            .filter(|(_, r)| only.is_none_or(|(t, i)| r.task == t && r.interval_ms == i))
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            if let Some(r) = self.ops.remove(&k) {
                self.lrm.cancel(rsc, &r.task, r.interval_ms);
                out.push(Effect::Cancel(k));
            }
        }
    }

    /// An operation request delivered from `dc`.
    pub fn on_request(&mut self, dc: NodeId, req: &OpRequest, wall: i64) -> Vec<Effect> {
        let mut out = Vec::new();
        if req.target != self.node {
            return out;
        }
        if self.ops.values().any(|r| r.key == req.key && r.dc == dc) {
            debug!(node = %self.node, key = ?req.key, "duplicate request ignored");
            return out;
        }
        let (params, meta) = split_attributes(&req.attributes);
        match req.task.as_str() {
            "cancel" => {
                let task = meta.get("operation").map_or("monitor", String::as_str).to_string();
                self.cancel_recurring(&req.rsc, Some((&task, req.interval_ms)), &mut out);
                out.push(self.result(dc, req.key, (&req.rsc, "cancel", req.interval_ms), 0, 0));
                return out;
            }
            "delete" => {
                self.cancel_recurring(&req.rsc, None, &mut out);
                self.lrm.forget(&req.rsc);
                out.push(self.result(dc, req.key, (&req.rsc, "delete", 0), 0, 0));
                return out;
            }
            "do_shutdown" => {
                out.push(self.result(dc, req.key, (&req.rsc, "do_shutdown", 0), 0, 0));
                out.push(Effect::Shutdown);
                return out;
            }
            "stop" => self.cancel_recurring(&req.rsc, None, &mut out),
            _ => {}
        }
        if self.ops.len() >= OPS_MAX {
            warn!(node = %self.node, rsc = %req.rsc, task = %req.task, "too many operations in progress: refused");
            out.push(self.result(
                dc,
                req.key,
                (&req.rsc, &req.task, req.interval_ms),
                1,
                ExecStatus::Error.code(),
            ));
            return out;
        }
        let attributes: BTreeMap<String, String> = req.attributes.iter().cloned().collect();
        let key = ExecKey(self.next_key);
        self.next_key += 1;
        let call_id = self.lrm.next_call_id();
        if recorded_pending(&req.task, req.interval_ms) {
            let pending = OpRecord {
                task: req.task.clone(),
                interval_ms: 0,
                call_id,
                rc: RC_PENDING,
                status: STATUS_PENDING,
                key: req.key,
                dc,
                exit_reason: String::new(),
                last_rc_change: wall,
                exec_ms: 0,
                queue_ms: 0,
                digest: op_digest(&attributes),
            };
            self.lrm.record(&req.rsc, &req.agent, pending);
        }
        self.ops.insert(
            key,
            Running {
                dc,
                key: req.key,
                rsc: req.rsc.clone(),
                agent: req.agent.clone(),
                task: req.task.clone(),
                interval_ms: req.interval_ms,
                digest: op_digest(&attributes),
                call_id,
            },
        );
        out.push(Effect::Exec(ExecRequest {
            key,
            rsc: req.rsc.clone(),
            agent: req.agent.clone(),
            task: req.task.clone(),
            interval_ms: req.interval_ms,
            timeout_ms: if req.timeout_ms == 0 {
                DEFAULT_TIMEOUT_MS
            } else {
                req.timeout_ms
            },
            params,
            meta,
        }));
        out
    }

    /// A result from the host; `wall` is the wall clock in seconds.
    pub fn on_result(&mut self, r: &ExecResult, wall: i64) -> Vec<Effect> {
        let Some(op) = self.ops.get(&r.key).cloned() else {
            // Cancelled meanwhile, or not ours.
            return Vec::new();
        };
        if r.status == ExecStatus::Cancelled {
            self.ops.remove(&r.key);
            return Vec::new();
        }
        if op.interval_ms == 0 {
            self.ops.remove(&r.key);
        }
        let record = OpRecord {
            task: op.task.clone(),
            interval_ms: op.interval_ms,
            call_id: op.call_id,
            rc: r.rc,
            status: r.status.code(),
            key: op.key,
            dc: op.dc,
            exit_reason: r.exit_reason.clone().unwrap_or_default(),
            last_rc_change: wall,
            exec_ms: r.exec_ms,
            queue_ms: r.queue_ms,
            digest: op.digest.clone(),
        };
        if !self.lrm.record(&op.rsc, &op.agent, record) && op.task != "notify" {
            warn!(node = %self.node, rsc = %op.rsc, "history full: result not recorded");
        }
        vec![self.result(
            op.dc,
            op.key,
            (&op.rsc, &op.task, op.interval_ms),
            r.rc,
            r.status.code(),
        )]
    }

    /// A cleanup delivered: forget the resource here if it names this node.
    pub fn on_cleanup(&mut self, c: &Cleanup) -> Vec<Effect> {
        let mut out = Vec::new();
        if c.node.is_some_and(|n| n != self.node) {
            return out;
        }
        if self.lrm.get(&c.rsc).is_some() {
            self.cancel_recurring(&c.rsc, None, &mut out);
            self.lrm.forget(&c.rsc);
        }
        out
    }
}

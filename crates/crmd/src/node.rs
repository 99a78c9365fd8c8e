//! [`CrmNode`]: one CRM process — membership and DC choice, attributes, the
//! replicated CIB and the controller — behind one sans-IO interface.
//!
//! The host joins the CPG group [`crate::messages::GROUP`] and then, in any order the
//! events come, calls [`CrmNode::on_confchg`] for each configuration change of the
//! group, [`CrmNode::on_deliver`] for each message delivered to it (its own included),
//! [`CrmNode::on_quorum`] when votequorum's verdict changes,
//! [`CrmNode::on_exec_result`] and [`CrmNode::on_fence_result`] when an agent it was
//! asked to run finishes, and [`CrmNode::on_timer`] once [`CrmNode::next_deadline`]
//! has passed. After each call it drains [`CrmNode::poll_output`]: messages to
//! multicast to the group (agreed), agents to run or cancel, nodes to fence, the CIB
//! to persist and answers to CIB clients. `now` is an input everywhere, and the wall
//! clock too ([`CrmNode::set_wall_clock`]); nothing here reads a clock.

use std::collections::{BTreeSet, VecDeque};

use cib::document::CibDocument;
use cib::version::CibVersion;
use thiserror::Error;
use tracing::{info, warn};

use crate::attrd::{Attrd, RequestError};
use crate::cib_manager::{CibManager, CibOp, CibOutput, CibPath, CibRequestError, RequestId, XmlAttr};
use crate::dc::Dc;
use crate::effects::Effect;
use crate::ids::{AttrName, AttrValue, NodeId, ProcessId};
use crate::local::Local;
use crate::membership::{dc_candidate, Confchg, ConfchgError, Membership, NoQuorumPolicy};
use crate::messages::{AttrChange, Body, Change, Cleanup, DcAnnounce, DecodeError, EncodeError, Envelope};
use crate::ops::{ExecKey, ExecRequest, ExecResult, FenceOutcome, FenceRequest};
use crate::status;
use totem::Instant;

/// Most multicasts waiting for the host; client requests are refused beyond it. One
/// input adds a bounded number of internal messages, so the queue stays near
/// `OUTBOX_MAX` as long as the host drains it after every input.
pub const OUTBOX_MAX: usize = 256;

/// What the host must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Multicast this message to the group (agreed order).
    Multicast(Vec<u8>),
    /// Run this agent operation and report with [`CrmNode::on_exec_result`].
    Execute(ExecRequest),
    /// Stop this recurring operation (no result is expected).
    Cancel(ExecKey),
    /// Fence this node and report with [`CrmNode::on_fence_result`].
    Fence(FenceRequest),
    /// Write this CIB to disk ([`crate::cib_store::CibStore::save`]).
    Persist(CibDocument),
    /// The answer to a client's [`CrmNode::cib_request`].
    CibReply {
        request: RequestId,
        result: Result<CibVersion, CibRequestError>,
    },
    /// The DC asked this node to shut down cleanly: its resources are stopped.
    Shutdown,
}

/// Why a delivery was not applied.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DeliverError {
    #[error("undecodable message from {from}: {error}")]
    Decode { from: ProcessId, error: DecodeError },
    #[error("message delivered from {cpg} claims to come from {envelope}")]
    SenderMismatch { cpg: ProcessId, envelope: ProcessId },
    #[error("message from {0}, which is not a member")]
    NotMember(ProcessId),
}

/// Why a client request was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UpdateError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("too many messages waiting to be sent ({OUTBOX_MAX})")]
    Busy,
    #[error(transparent)]
    Encode(#[from] EncodeError),
    #[error("not a member of the CRM group")]
    NotMember,
}

/// Counters, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeStats {
    pub refused_deliveries: u64,
    pub refused_confchgs: u64,
    /// DC announcements that did not match this process's own choice (a bug if ever
    /// non-zero within one protocol version).
    pub dc_disagreements: u64,
    /// CIB changes the controller or the attribute writer asked for and did not get.
    pub failed_cib_writes: u64,
}

/// The node attribute that says a node is shutting down (its value: since when).
fn shutdown_attr() -> AttrName {
    AttrName::new("shutdown").expect("a valid attribute name")
}

/// Who asked for a CIB change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Requester {
    /// The controller's bookkeeping (results, joins): does not abort the transition.
    Quiet,
    /// The attribute writer, or the controller's other writes: aborts it.
    Internal,
}

/// One CRM process.
#[derive(Debug)]
pub struct CrmNode {
    me: ProcessId,
    membership: Membership,
    attrd: Attrd,
    cib: CibManager,
    local: Local,
    controller: Dc,
    dc: Option<ProcessId>,
    outbox: VecDeque<Output>,
    internal: std::collections::BTreeMap<RequestId, Requester>,
    clients: BTreeSet<RequestId>,
    /// Wall-clock seconds at `Instant::ZERO`.
    wall_at_zero: i64,
    now: Instant,
    stats: NodeStats,
    /// This process asked to shut down.
    shutting_down: bool,
    /// The attribute writer's requests as taken, for the harness's model CIB.
    #[cfg(test)]
    pub(crate) attr_writes: Vec<crate::attrd::CibRequest>,
}

impl CrmNode {
    /// The zone the scheduler reads rules' dates in (UTC until set).
    pub fn set_time_zone(&mut self, tz: cib::time::TimeZone) {
        self.controller.set_time_zone(tz);
    }

    /// A process named after its node id, with an empty CIB.
    pub fn new(me: ProcessId, policy: NoQuorumPolicy) -> CrmNode {
        CrmNode::with_cib(me, &me.node.0.to_string(), policy, CibDocument::empty(0))
    }

    /// A process on node `uname`, starting from `cib` (what
    /// [`crate::cib_store::CibStore::load`] read).
    pub fn with_cib(me: ProcessId, uname: &str, policy: NoQuorumPolicy, cib: CibDocument) -> CrmNode {
        CrmNode {
            me,
            membership: Membership::new(me, policy),
            attrd: Attrd::new(me),
            cib: CibManager::new(me, cib),
            local: Local::new(me.node, uname),
            controller: Dc::new(me),
            dc: None,
            outbox: VecDeque::new(),
            internal: std::collections::BTreeMap::new(),
            clients: BTreeSet::new(),
            wall_at_zero: 0,
            now: Instant::ZERO,
            stats: NodeStats::default(),
            shutting_down: false,
            #[cfg(test)]
            attr_writes: Vec::new(),
        }
    }

    pub fn me(&self) -> ProcessId {
        self.me
    }

    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    pub fn attrd(&self) -> &Attrd {
        &self.attrd
    }

    pub fn cib(&self) -> &CibDocument {
        self.cib.cib()
    }

    pub fn cib_manager(&self) -> &CibManager {
        &self.cib
    }

    pub fn controller(&self) -> &Dc {
        &self.controller
    }

    pub fn local(&self) -> &Local {
        &self.local
    }

    pub fn dc(&self) -> Option<ProcessId> {
        self.dc
    }

    pub fn stats(&self) -> NodeStats {
        self.stats
    }

    /// The wall clock (seconds since the epoch) at `now`: what the scheduler takes as
    /// "now" and results record. Set once at start; the host may set it again.
    pub fn set_wall_clock(&mut self, now: Instant, wall_secs: i64) {
        self.wall_at_zero = wall_secs - (now.as_nanos() / 1_000_000_000) as i64;
    }

    fn wall(&self) -> i64 {
        self.wall_at_zero + (self.now.as_nanos() / 1_000_000_000) as i64
    }

    fn tick(&mut self, now: Instant) {
        self.controller.set_started(now);
        self.now = self.now.max(now);
    }

    /// A configuration change of the CRM group.
    pub fn on_confchg(&mut self, now: Instant, c: &Confchg) -> Result<(), ConfchgError> {
        self.tick(now);
        let change = self.membership.on_confchg(c).inspect_err(|e| {
            warn!(me = %self.me, error = %e, "configuration change refused");
            self.stats.refused_confchgs += 1;
        })?;
        let view = self.membership.members().to_vec();
        self.controller.note_view(&view);
        self.cib.on_confchg(&view, &change.joined);
        // The writer first, so that erasing departed nodes falls to the new DC.
        self.dc_update();
        if self.controller.active() {
            self.controller.on_view(&view, !change.joined.is_empty());
            let shutdown = shutdown_attr();
            for node in &change.departed_nodes {
                // Read before attrd drops the departed node's attributes below.
                let shutting_down = self.attrd.get(*node, &shutdown).is_some();
                let effects = self.controller.on_node_left(*node, shutting_down, self.cib.cib());
                self.apply(effects);
            }
            if !change.joined.is_empty() {
                self.announce();
            }
        }
        if let Some(sync) = self
            .attrd
            .on_confchg(&view, &change.departed_nodes, !change.joined.is_empty())
        {
            self.send(Body::AttrSync(sync));
        }
        self.pump_cib();
        Ok(())
    }

    /// votequorum's verdict for this node's partition.
    pub fn on_quorum(&mut self, now: Instant, quorate: bool) {
        self.tick(now);
        if quorate != self.membership.quorate() {
            info!(me = %self.me, quorate, "quorum");
            self.membership.set_quorate(quorate);
            let effects = self.controller.on_quorum(quorate);
            self.apply(effects);
        }
        self.dc_update();
    }

    /// `no-quorum-policy` from the CIB.
    pub fn set_no_quorum_policy(&mut self, policy: NoQuorumPolicy) {
        self.membership.set_policy(policy);
        self.dc_update();
    }

    /// A message of the group, as CPG delivered it (`from` is CPG's sender).
    pub fn on_deliver(&mut self, now: Instant, from: ProcessId, data: &[u8]) -> Result<(), DeliverError> {
        self.tick(now);
        let result = self.deliver(now, from, data);
        if let Err(e) = &result {
            warn!(me = %self.me, error = %e, "delivery refused");
            self.stats.refused_deliveries += 1;
        }
        self.pump_cib();
        result
    }

    fn deliver(&mut self, now: Instant, from: ProcessId, data: &[u8]) -> Result<(), DeliverError> {
        if !self.membership.is_member() {
            return Ok(());
        }
        let env = Envelope::decode(data).map_err(|error| DeliverError::Decode { from, error })?;
        if env.sender != from {
            return Err(DeliverError::SenderMismatch {
                cpg: from,
                envelope: env.sender,
            });
        }
        if self.membership.members().binary_search(&from).is_err() {
            return Err(DeliverError::NotMember(from));
        }
        let dc = self.controller.active();
        match &env.body {
            Body::AttrUpdate(u) => {
                self.attrd.on_update(now, u);
                self.own_shutdown();
            }
            Body::AttrSync(s) => {
                self.attrd.on_sync(now, from, s);
                self.own_shutdown();
            }
            Body::DcAnnounce(a) => {
                if a.view == self.membership.members() {
                    if dc_candidate(&a.view) != Some(from) {
                        warn!(me = %self.me, announced = %from, ours = ?dc_candidate(&a.view), "DC announcement disagrees");
                        self.stats.dc_disagreements += 1;
                    }
                    // The join: every member answers with its history.
                    let state = self.local.lrm_state();
                    self.send(state);
                }
            }
            Body::CibDiff(_) | Body::CibVersion(_) | Body::CibSync(_) => {
                let before = self.cib.cib().version();
                self.cib.on_deliver(from, &env.body);
                // Our own patches are accounted for by their replies.
                if from != self.me && self.cib.cib().version() != before {
                    self.controller.on_foreign_change();
                }
            }
            Body::OpRequest(r) => {
                let effects = self.local.on_request(from.node, r, self.wall());
                self.apply(effects);
            }
            Body::OpResult(r) if dc => {
                let effects = self.controller.on_result(r, self.wall());
                self.apply(effects);
            }
            Body::LrmState(s) if dc => {
                let effects = self.controller.on_lrm_state(from, s, self.cib.cib());
                self.apply(effects);
            }
            Body::Cleanup(c) => {
                let effects = self.local.on_cleanup(c);
                self.apply(effects);
                if dc {
                    self.cleanup_status(c);
                }
            }
            Body::OpResult(_) | Body::LrmState(_) => {}
        }
        Ok(())
    }

    /// The DC's part of a cleanup: the status entries and fail counts go.
    fn cleanup_status(&mut self, c: &Cleanup) {
        if !status::valid_rsc_name(&c.rsc) {
            return;
        }
        let nodes: Vec<NodeId> = match c.node {
            Some(n) => vec![n],
            None => self.known_nodes(),
        };
        let mut effects = Vec::new();
        for node in nodes {
            effects.push(Effect::Cib {
                op: status::lrm_resource(node, &c.rsc, None),
                quiet: false,
            });
            effects.push(Effect::ClearFailcount {
                node,
                rsc: c.rsc.clone(),
            });
        }
        self.apply(effects);
    }

    /// A client's attribute changes (`attrd_updater`, `crm_attribute -l reboot`):
    /// multicast now, applied when delivered.
    pub fn update_attributes(&mut self, changes: Vec<AttrChange>) -> Result<(), UpdateError> {
        if self.outbox.len() >= OUTBOX_MAX {
            return Err(UpdateError::Busy);
        }
        let update = self.attrd.request(changes)?;
        let bytes = Envelope::new(self.me, Body::AttrUpdate(update)).encode()?;
        self.outbox.push_back(Output::Multicast(bytes));
        Ok(())
    }

    /// A client's CIB change, answered by [`Output::CibReply`] once applied here.
    /// Configuration changes need quorum (unless `no-quorum-policy=ignore`): a
    /// partition without it may be fenced or outvoted at the merge, and its changes
    /// lost, so it does not acknowledge any.
    pub fn cib_request(&mut self, op: CibOp) -> Result<RequestId, CibRequestError> {
        if op.touches_configuration()
            && !self.membership.quorate()
            && self.membership.policy() != NoQuorumPolicy::Ignore
        {
            return Err(CibRequestError::NoQuorum);
        }
        // Stamped as Pacemaker's CIB manager stamps a client's change (`crm_mon`'s
        // "Last change: … via … on …").
        let op = if op.touches_configuration() {
            let attr = |n: &str| XmlAttr::new(n).expect("valid attribute name");
            CibOp::Batch(vec![
                op,
                CibOp::Merge {
                    path: CibPath::new("/cib").expect("root path"),
                    attrs: vec![
                        (attr("cib-last-written"), cib::time::ctime(self.wall())),
                        (attr("update-origin"), self.local.lrm().uname().to_string()),
                        (attr("update-client"), "ferrosync".to_string()),
                    ],
                },
            ])
        } else {
            op
        };
        let id = self.cib.request(op)?;
        self.clients.insert(id);
        self.pump_cib();
        Ok(id)
    }

    /// `crm_resource --cleanup`: forget `rsc`'s history and fail counts on `node`
    /// (every node when `None`) so that it is probed again.
    pub fn cleanup(&mut self, rsc: &str, node: Option<NodeId>) -> Result<(), UpdateError> {
        if !self.membership.is_member() {
            return Err(UpdateError::NotMember);
        }
        if self.outbox.len() >= OUTBOX_MAX {
            return Err(UpdateError::Busy);
        }
        let bytes = Envelope::new(
            self.me,
            Body::Cleanup(Cleanup {
                rsc: rsc.to_string(),
                node,
            }),
        )
        .encode()?;
        self.outbox.push_back(Output::Multicast(bytes));
        Ok(())
    }

    /// A clean stop of this node (SIGTERM): the `shutdown` attribute asks the DC to
    /// move this node's resources away; [`Output::Shutdown`] says when to exit.
    pub fn request_shutdown(&mut self) -> Result<(), UpdateError> {
        self.shutting_down = true;
        let change = AttrChange {
            node: self.me.node,
            name: shutdown_attr(),
            change: Change::Set(AttrValue::new(self.wall().to_string()).expect("valid value")),
            dampen: None,
        };
        self.update_attributes(vec![change])
    }

    /// A node is the authority on whether it is shutting down (Pacemaker's attrd lets
    /// the local value win at a sync): a `shutdown` value for this node that this
    /// process did not ask for — left by an earlier process of the node, brought
    /// back by a partition's merge — is deleted.
    fn own_shutdown(&mut self) {
        if self.shutting_down {
            return;
        }
        let name = shutdown_attr();
        if self.attrd.get(self.me.node, &name).is_some() {
            self.internal_attributes(vec![AttrChange {
                node: self.me.node,
                name,
                change: Change::Delete,
                dampen: None,
            }]);
        }
    }

    /// A result of an [`Output::Execute`].
    pub fn on_exec_result(&mut self, now: Instant, r: &ExecResult) {
        self.tick(now);
        let effects = self.local.on_result(r, self.wall());
        self.apply(effects);
    }

    /// The outcome of an [`Output::Fence`].
    pub fn on_fence_result(&mut self, now: Instant, outcome: &FenceOutcome) {
        self.tick(now);
        let effects = self.controller.on_fence(outcome);
        self.apply(effects);
        self.pump_cib();
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        match (self.attrd.next_deadline(), self.controller.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub fn on_timer(&mut self, now: Instant) {
        self.tick(now);
        self.attrd.on_timer(now);
        self.controller.on_timer(now);
    }

    /// The next thing to do. Attribute writes are batched over everything since the
    /// last poll that returned `None`; the controller runs the scheduler here when
    /// something changed.
    pub fn poll_output(&mut self) -> Option<Output> {
        if self.outbox.is_empty() {
            let writes = self.attrd.take_writes();
            #[cfg(test)]
            self.attr_writes.extend(writes.iter().cloned());
            if !writes.is_empty() {
                let known = self.known_nodes();
                for w in writes {
                    self.cib_write(status::attributes(&w, &known), Requester::Internal);
                }
            }
            let effects = self
                .controller
                .poll(self.now, self.wall(), self.cib.cib(), self.cib.idle());
            self.apply(effects);
            self.pump_cib();
        }
        self.outbox.pop_front()
    }

    fn known_nodes(&self) -> Vec<NodeId> {
        self.cib
            .cib()
            .find("/cib/status")
            .map(|s| {
                s.children_named("node_state")
                    .filter_map(|n| n.attr("id")?.parse().ok().map(NodeId))
                    .collect()
            })
            .unwrap_or_default()
    }

    fn cib_write(&mut self, op: CibOp, who: Requester) {
        match self.cib.request(op) {
            Ok(id) => {
                self.internal.insert(id, who);
            }
            Err(CibRequestError::NotMember) => {}
            Err(e) => {
                warn!(me = %self.me, error = %e, "status write refused");
                self.stats.failed_cib_writes += 1;
            }
        }
    }

    /// Moves the CIB manager's output to the outbox and settles its replies.
    fn pump_cib(&mut self) {
        while let Some(o) = self.cib.poll_output() {
            match o {
                CibOutput::Multicast(env) => match env.encode() {
                    Ok(bytes) => self.outbox.push_back(Output::Multicast(bytes)),
                    Err(e) => warn!(me = %self.me, error = %e, "CIB message not encodable"),
                },
                CibOutput::Persist(doc) => self.outbox.push_back(Output::Persist(doc)),
                CibOutput::Reply { request, result } => {
                    let changed = result.is_ok();
                    if let Some(who) = self.internal.remove(&request) {
                        if let Err(e) = &result {
                            warn!(me = %self.me, error = %e, "status write failed");
                            self.stats.failed_cib_writes += 1;
                        }
                        if who == Requester::Internal && changed {
                            self.controller.on_foreign_change();
                        }
                    } else if self.clients.remove(&request) {
                        if changed {
                            self.controller.on_foreign_change();
                        }
                        self.outbox.push_back(Output::CibReply { request, result });
                    }
                }
            }
        }
    }

    fn apply(&mut self, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Send(body) => self.send(body),
                Effect::Cib { op, quiet } => {
                    self.cib_write(op, if quiet { Requester::Quiet } else { Requester::Internal })
                }
                Effect::Attr(changes) => self.internal_attributes(changes),
                Effect::ClearFailcount { node, rsc } => {
                    let prefixes = [format!("fail-count-{rsc}#"), format!("last-failure-{rsc}#")];
                    let changes: Vec<AttrChange> = self
                        .attrd
                        .values()
                        .filter(|(n, name, _)| {
                            *n == node && prefixes.iter().any(|p| name.as_str().starts_with(p.as_str()))
                        })
                        .map(|(n, name, _)| AttrChange {
                            node: n,
                            name: name.clone(),
                            change: Change::Delete,
                            dampen: None,
                        })
                        .collect();
                    if !changes.is_empty() {
                        self.internal_attributes(changes);
                    }
                }
                Effect::Exec(r) => self.outbox.push_back(Output::Execute(r)),
                Effect::Cancel(k) => self.outbox.push_back(Output::Cancel(k)),
                Effect::Fence(f) => self.outbox.push_back(Output::Fence(f)),
                Effect::Shutdown => self.outbox.push_back(Output::Shutdown),
            }
        }
    }

    /// Attribute changes the controller makes (fail counts): never refused for a
    /// full outbox, since they record what happened.
    fn internal_attributes(&mut self, changes: Vec<AttrChange>) {
        for chunk in changes.chunks(crate::messages::UPDATES_MAX) {
            match self.attrd.request(chunk.to_vec()) {
                Ok(update) => self.send(Body::AttrUpdate(update)),
                Err(e) => warn!(me = %self.me, error = %e, "attribute change refused"),
            }
        }
    }

    /// The DC's join offer. A merge may install another partition's CIB, so the
    /// cluster-wide status is written again with every join.
    fn announce(&mut self) {
        let quorate = self.membership.quorate();
        self.cib_write(status::cluster(quorate, self.me.node), Requester::Quiet);
        let view = self.membership.members().to_vec();
        self.send(Body::DcAnnounce(DcAnnounce {
            view,
            quorate: self.membership.quorate(),
        }));
    }

    fn dc_update(&mut self) {
        let dc = self.membership.dc();
        if dc == self.dc {
            return;
        }
        info!(me = %self.me, ?dc, quorate = self.membership.quorate(), "DC");
        self.dc = dc;
        let mine = dc == Some(self.me);
        self.attrd.set_writer(mine);
        let view = self.membership.members().to_vec();
        self.controller.set_active(mine, &view);
        if mine {
            self.announce();
        }
    }

    fn send(&mut self, body: Body) {
        match Envelope::new(self.me, body).encode() {
            Ok(bytes) => self.outbox.push_back(Output::Multicast(bytes)),
            // Internal messages are within the bounds by construction (the table and
            // the membership are bounded like the messages); a failure is a bug.
            Err(e) => warn!(me = %self.me, error = %e, "internal message not encodable"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AttrName, AttrValue, NodeId};
    use crate::messages::{Change, DecodeError};

    fn p(n: u32) -> ProcessId {
        ProcessId::new(n, 10 * n)
    }

    fn drain(node: &mut CrmNode) -> Vec<Output> {
        std::iter::from_fn(|| node.poll_output()).collect()
    }

    fn decoded(out: &[Output]) -> Vec<Body> {
        out.iter()
            .filter_map(|o| match o {
                Output::Multicast(b) => Some(Envelope::decode(b).unwrap().body),
                _ => None,
            })
            // The CIB manager's own traffic is tested in its module.
            .filter(|b| !matches!(b, Body::CibDiff(_) | Body::CibVersion(_) | Body::CibSync(_)))
            .collect()
    }

    fn change(v: &str) -> AttrChange {
        AttrChange {
            node: NodeId(1),
            name: AttrName::new("a").unwrap(),
            change: Change::Set(AttrValue::new(v).unwrap()),
            dampen: None,
        }
    }

    #[test]
    fn dc_announces_itself_once_quorate() {
        let now = Instant::ZERO;
        let mut n = CrmNode::new(p(1), NoQuorumPolicy::Freeze);
        n.on_confchg(
            now,
            &Confchg {
                members: vec![p(1), p(2)],
                left: vec![],
                joined: vec![p(1)],
            },
        )
        .unwrap();
        let out = drain(&mut n);
        assert!(matches!(decoded(&out).as_slice(), [Body::AttrSync(_)]), "{out:?}");
        assert_eq!(n.dc(), None);
        n.on_quorum(now, true);
        assert_eq!(n.dc(), Some(p(1)));
        let out = drain(&mut n);
        assert_eq!(
            decoded(&out),
            vec![Body::DcAnnounce(DcAnnounce {
                view: vec![p(1), p(2)],
                quorate: true
            })]
        );
        n.on_quorum(now, true);
        assert!(drain(&mut n).is_empty(), "no second announcement");
        n.on_quorum(now, false);
        assert_eq!(n.dc(), None);
        assert!(!n.attrd().is_writer());
    }

    #[test]
    fn refused_deliveries() {
        let now = Instant::ZERO;
        let mut n = CrmNode::new(p(2), NoQuorumPolicy::Ignore);
        let msg = |from| {
            Envelope::new(
                from,
                Body::DcAnnounce(DcAnnounce {
                    view: vec![p(1), p(2)],
                    quorate: true,
                }),
            )
            .encode()
            .unwrap()
        };
        // Not a member yet: deliveries are ignored.
        assert_eq!(n.on_deliver(now, p(1), b"garbage"), Ok(()));
        n.on_confchg(
            now,
            &Confchg {
                members: vec![p(1), p(2)],
                left: vec![],
                joined: vec![p(2)],
            },
        )
        .unwrap();
        assert!(matches!(
            n.on_deliver(now, p(1), b"garbage"),
            Err(DeliverError::Decode {
                error: DecodeError::Truncated { .. } | DecodeError::BadMagic(_),
                ..
            })
        ));
        assert_eq!(
            n.on_deliver(now, p(1), &msg(p(3))),
            Err(DeliverError::SenderMismatch {
                cpg: p(1),
                envelope: p(3)
            })
        );
        assert_eq!(n.on_deliver(now, p(3), &msg(p(3))), Err(DeliverError::NotMember(p(3))));
        assert_eq!(n.stats().refused_deliveries, 3);
        assert_eq!(n.on_deliver(now, p(1), &msg(p(1))), Ok(()));
        assert_eq!(n.stats().dc_disagreements, 0);
        // p(2) claiming the DC role of a view whose lowest member is p(1): a disagreement.
        assert_eq!(n.on_deliver(now, p(2), &msg(p(2))), Ok(()));
        assert_eq!(n.stats().dc_disagreements, 1);
    }

    #[test]
    fn outbox_is_bounded() {
        let now = Instant::ZERO;
        let mut n = CrmNode::new(p(2), NoQuorumPolicy::Ignore);
        assert!(matches!(
            n.update_attributes(vec![change("x")]),
            Err(UpdateError::Request(RequestError::NotMember))
        ));
        n.on_confchg(
            now,
            &Confchg {
                members: vec![p(1), p(2)],
                left: vec![],
                joined: vec![p(2)],
            },
        )
        .unwrap();
        let mut accepted = 0;
        while n.update_attributes(vec![change("x")]).is_ok() {
            accepted += 1;
            assert!(accepted <= OUTBOX_MAX);
        }
        assert_eq!(n.update_attributes(vec![change("y")]), Err(UpdateError::Busy));
        let out = drain(&mut n);
        assert_eq!(out.len(), OUTBOX_MAX);
        assert!(n.update_attributes(vec![change("y")]).is_ok());
    }

    #[test]
    fn refused_confchg_is_counted() {
        let mut n = CrmNode::new(p(1), NoQuorumPolicy::Ignore);
        let bad = Confchg {
            members: vec![p(1)],
            left: vec![p(1)],
            joined: vec![],
        };
        assert!(n.on_confchg(Instant::ZERO, &bad).is_err());
        assert_eq!(n.stats().refused_confchgs, 1);
        assert!(!n.membership().is_member());
    }
}

//! votequorum's state machine: the node table, the quorum decision, exec messages,
//! synchronisation and timers (`exec/votequorum.c`). Library requests are in
//! `requests.rs`.

use std::collections::BTreeMap;

use totem::{Instant, NodeId, RingId};

use crate::icmap::Value;
use crate::ids::ConnId;
use crate::service::{Ctx, SyncProgress};
use crate::CsError;

use super::calc::{self, QuorumRule, Tally};
use super::config::{ConfigError, Options, TieBreaker};
use super::exec::{ExecMessage, NodeFlags, QdeviceOperation, ReconfigParam, QDEVICE_NODEID};
use super::ipc::{self, TrackFlags};
use super::nodes::{NodeState, NodeTable};

/// A client that asked for notifications (TRACKSTART with CHANGES or CHANGES_ONLY).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracker {
    pub flags: TrackFlags,
    pub context: u64,
}

/// The votequorum service (service 5).
#[derive(Debug)]
pub struct VoteQuorum {
    pub(super) opts: Options,
    pub(super) table: NodeTable,
    pub(super) quorum: u32,
    pub(super) quorate: bool,
    pub(super) wait_for_all_status: bool,
    pub(super) ev_barrier: u32,
    pub(super) ev_tracking_barrier: u32,
    /// Set only while quorate (the tie-breaker of the last quorate membership).
    lowest: Option<NodeId>,
    highest: Option<NodeId>,
    /// Members of the ring being (or last) synchronised, and of the one before.
    pub(super) members: Vec<NodeId>,
    previous_members: Vec<NodeId>,
    pub(super) ring: RingId,
    pub(super) sync_in_progress: bool,
    sync_nodeinfo_sent: bool,
    pub(super) sync_wait_for_poll: bool,
    lms_deadline: Option<Instant>,
    pub(super) qdevice_deadline: Option<Instant>,
    pub(super) qdevice_name: Vec<u8>,
    pub(super) qdevice_reg_conn: Option<ConnId>,
    pub(super) qdevice_master_wins: bool,
    pub(super) trackers: BTreeMap<ConnId, Tracker>,
}

impl VoteQuorum {
    /// `votequorum_exec_init_fn`: reads the options from `ctx.icmap` (see
    /// [`Options::read`]), publishes `runtime.votequorum.*`, marks the quorum provider
    /// present in `ctx.quorum`, and multicasts this node's first NODEINFO (flag FIRST).
    /// `runtime.votequorum.ev_tracking_barrier`, if the host put it in the map, is the
    /// persisted expected-votes barrier (corosync's `ev_tracking` file).
    pub fn new(ctx: &mut Ctx<'_>) -> Result<VoteQuorum, ConfigError> {
        let us = ctx.node_id;
        let barrier = super::config::get_u32(ctx.icmap, "runtime.votequorum.ev_tracking_barrier").unwrap_or(0);
        let opts = Options::read(ctx.icmap, us, barrier)?;
        let mut vq = VoteQuorum {
            table: NodeTable::new(us),
            quorum: 0,
            quorate: false,
            wait_for_all_status: false,
            ev_barrier: 0,
            ev_tracking_barrier: barrier,
            lowest: None,
            highest: None,
            members: Vec::new(),
            previous_members: Vec::new(),
            ring: RingId::default(),
            sync_in_progress: false,
            sync_nodeinfo_sent: false,
            sync_wait_for_poll: false,
            lms_deadline: None,
            qdevice_deadline: None,
            qdevice_name: Vec::new(),
            qdevice_reg_conn: None,
            qdevice_master_wins: false,
            trackers: BTreeMap::new(),
            opts,
        };
        ctx.icmap.set("runtime.votequorum.this_node_id", Value::U32(us));
        ctx.icmap.set(
            "runtime.votequorum.atb_type",
            Value::U32(vq.opts.auto_tie_breaker.code()),
        );
        ctx.icmap
            .set("runtime.votequorum.two_node", Value::U8(vq.opts.two_node.into()));
        ctx.icmap.set(
            "runtime.votequorum.qdevice_can_operate",
            Value::U8(vq.opts.qdevice_can_operate.into()),
        );
        if vq.opts.expected_votes_tracking {
            vq.update_ev_tracking_barrier(ctx, barrier);
        }
        {
            let me = vq.table.us_mut();
            me.votes = vq.opts.votes;
            me.expected_votes = vq.opts.expected_votes;
        }
        vq.table.qdevice.votes = vq.opts.qdevice_votes;
        vq.update_ev_barrier(ctx, vq.opts.expected_votes);
        if vq.opts.wait_for_all {
            vq.update_wait_for_all_status(ctx, true);
        }
        vq.recalculate_quorum(ctx, false, false);
        for key in [
            "quorum.allow_downscale",
            "quorum.wait_for_all",
            "quorum.last_man_standing",
            "quorum.last_man_standing_window",
            "quorum.expected_votes_tracking",
            "quorum.auto_tie_breaker",
            "quorum.auto_tie_breaker_node",
        ] {
            ctx.icmap.set_read_only(key);
        }
        ctx.quorum.provider = true;
        vq.send_nodeinfo(ctx, us);
        Ok(vq)
    }

    pub fn options(&self) -> &Options {
        &self.opts
    }
    pub fn quorate(&self) -> bool {
        self.quorate
    }
    pub fn quorum(&self) -> u32 {
        self.quorum
    }
    pub fn nodes(&self) -> &NodeTable {
        &self.table
    }
    /// The barrier `expected_votes_tracking` keeps; the host persists it (corosync's
    /// `<statedir>/ev_tracking`) and passes it back at startup.
    pub fn ev_tracking_barrier(&self) -> u32 {
        self.ev_tracking_barrier
    }

    // --- icmap-mirrored state ---------------------------------------------------

    pub(super) fn update_wait_for_all_status(&mut self, ctx: &mut Ctx<'_>, on: bool) {
        self.wait_for_all_status = on;
        self.table.us_mut().flags.set(NodeFlags::WFA_STATUS, on);
        ctx.icmap
            .set("runtime.votequorum.wait_for_all_status", Value::U8(on.into()));
    }

    fn update_ev_barrier(&mut self, ctx: &mut Ctx<'_>, v: u32) {
        self.ev_barrier = v;
        ctx.icmap.set("runtime.votequorum.ev_barrier", Value::U32(v));
    }

    fn update_ev_tracking_barrier(&mut self, ctx: &mut Ctx<'_>, v: u32) {
        self.ev_tracking_barrier = v;
        ctx.icmap.set("runtime.votequorum.ev_tracking_barrier", Value::U32(v));
    }

    pub(super) fn update_qdevice_master_wins(&mut self, ctx: &mut Ctx<'_>, on: bool) {
        self.qdevice_master_wins = on;
        ctx.icmap
            .set("runtime.votequorum.qdevice_master_wins", Value::U8(on.into()));
    }

    // --- sending ------------------------------------------------------------------

    /// `votequorum_exec_send_nodeinfo`: our node's or the device slot's entry.
    pub(super) fn send_nodeinfo(&self, ctx: &mut Ctx<'_>, nodeid: NodeId) {
        let Some(n) = self.table.get(nodeid) else { return };
        let msg = ExecMessage::NodeInfo {
            nodeid,
            votes: n.votes,
            expected_votes: n.expected_votes,
            flags: n.flags,
        };
        ctx.out.mcast(msg.encode());
    }

    pub(super) fn send_reconfigure(&self, ctx: &mut Ctx<'_>, param: ReconfigParam, nodeid: NodeId, value: u32) {
        ctx.out
            .mcast(ExecMessage::Reconfigure { nodeid, value, param }.encode());
    }

    /// `votequorum_exec_send_quorum_notification`: to one client, or every tracker.
    pub(super) fn send_quorum_notification(&self, ctx: &mut Ctx<'_>, to: Option<(ConnId, u64)>) {
        let mut nodes: Vec<(NodeId, NodeState)> = self.table.iter().map(|n| (n.id, n.state)).collect();
        if self.table.us().flags.contains(NodeFlags::QDEVICE_REGISTERED) {
            nodes.push((QDEVICE_NODEID, self.table.qdevice.state));
        }
        self.each_target(to, |conn, context| {
            ctx.out
                .event(conn, ipc::quorum_notification(self.quorate, context, &nodes));
        });
    }

    pub(super) fn send_nodelist_notification(&self, ctx: &mut Ctx<'_>, to: Option<(ConnId, u64)>) {
        self.each_target(to, |conn, context| {
            ctx.out
                .event(conn, ipc::nodelist_notification(context, self.ring, &self.members));
        });
    }

    fn send_expectedvotes_notification(&self, ctx: &mut Ctx<'_>) {
        let ev = self.table.us().expected_votes;
        self.each_target(None, |conn, context| {
            ctx.out.event(conn, ipc::expectedvotes_notification(context, ev));
        });
    }

    fn each_target(&self, to: Option<(ConnId, u64)>, mut f: impl FnMut(ConnId, u64)) {
        match to {
            Some((conn, context)) => f(conn, context),
            None => self.trackers.iter().for_each(|(c, t)| f(*c, t.context)),
        }
    }

    /// Hands the decision to the quorum service (corosync's `quorum_callback`).
    fn publish(&self, ctx: &mut Ctx<'_>) {
        ctx.quorum.set(self.quorate, self.members.clone(), self.ring);
    }

    // --- the decision -------------------------------------------------------------

    fn rule(&self, allow_decrease: bool, max_expected: u32) -> QuorumRule {
        QuorumRule {
            allow_decrease,
            max_expected,
            current: self.quorum,
            two_node: self.opts.two_node,
            downscale_barrier: self.opts.allow_downscale.then_some(self.ev_barrier),
        }
    }

    /// `calculate_quorum`: the quorum and the votes it was computed from.
    pub(super) fn calculate_quorum(&self, allow_decrease: bool, max_expected: u32) -> (u32, Tally) {
        let t = calc::tally(&self.table);
        (calc::quorum(t, self.rule(allow_decrease, max_expected)), t)
    }

    fn update_node_expected_votes(&mut self, v: u32) {
        if v != 0 {
            self.table.members_mut().for_each(|n| n.expected_votes = v);
        }
    }

    /// `recalculate_quorum`.
    pub(super) fn recalculate_quorum(&mut self, ctx: &mut Ctx<'_>, allow_decrease: bool, by_current_nodes: bool) {
        // get_total_votes counts configured device votes whether cast or not.
        let mut total = self.table.members().fold(0u32, |t, n| t.wrapping_add(n.votes));
        let mut count = self.table.members().count() as u32;
        if self.table.qdevice.votes != 0 {
            total = total.wrapping_add(self.table.qdevice.votes);
            count += 1;
        }
        if !by_current_nodes {
            count = 0;
        }
        if total > self.table.us().expected_votes {
            self.table.us_mut().expected_votes = total;
            self.send_expectedvotes_notification(ctx);
        }
        let ev = self.table.us().expected_votes;
        if self.opts.expected_votes_tracking && ev > self.ev_tracking_barrier {
            self.update_ev_tracking_barrier(ctx, ev);
        }
        let (q, t) = self.calculate_quorum(allow_decrease, count);
        self.quorum = q;
        self.update_node_expected_votes(count);
        self.are_we_quorate(ctx, t.total_votes);
    }

    /// `are_we_quorate`.
    fn are_we_quorate(&mut self, ctx: &mut Ctx<'_>, total_votes: u32) {
        let expected = self.table.us().expected_votes;
        if self.opts.wait_for_all && self.wait_for_all_status {
            if total_votes != expected {
                tracing::info!(total_votes, expected, "Waiting for all cluster members");
                return;
            }
            self.update_wait_for_all_status(ctx, false);
        }
        let mut quorate = self.quorum <= total_votes;
        if quorate {
            let ids = || self.table.members().map(|n| n.id);
            self.lowest = ids().min();
            self.highest = ids().max();
            ctx.icmap.set(
                "runtime.votequorum.lowest_node_id",
                Value::U32(self.lowest.unwrap_or(0)),
            );
            ctx.icmap.set(
                "runtime.votequorum.highest_node_id",
                Value::U32(self.highest.unwrap_or(0)),
            );
        }
        // The other side of the split must not be able to hold quorum itself.
        let lost = self.previous_members.len() as i64 - self.members.len() as i64;
        if self.opts.auto_tie_breaker != TieBreaker::None
            && total_votes == expected / 2
            && lost < i64::from(self.quorum)
            && self.tie_breaker_wins()
        {
            quorate = true;
        }
        if self.qdevice_master_wins && !quorate && self.master_wins_partition() {
            tracing::debug!("node is quorate as part of master_wins partition");
            quorate = true;
        }
        let changed = quorate != self.quorate;
        if changed {
            tracing::debug!(
                quorate,
                "quorum {}",
                if quorate {
                    "regained, resuming activity"
                } else {
                    "lost, blocking activity"
                }
            );
        }
        self.quorate = quorate;
        self.table.us_mut().flags.set(NodeFlags::QUORATE, quorate);
        if self.opts.wait_for_all {
            self.update_wait_for_all_status(ctx, !quorate);
        }
        if changed && !self.sync_in_progress {
            self.publish(ctx);
            self.send_quorum_notification(ctx, None);
        }
    }

    fn tie_breaker_wins(&self) -> bool {
        calc::tie_breaker_wins(
            &self.opts.auto_tie_breaker,
            &self.table,
            self.lowest,
            self.highest,
            &self.members,
            &self.previous_members,
        )
    }

    fn master_wins_partition(&self) -> bool {
        let both = NodeFlags::QDEVICE_MASTER_WINS | NodeFlags::QDEVICE_CAST_VOTE;
        self.table.members().any(|n| n.flags.contains(both))
    }

    fn lowest_is_member(&self) -> bool {
        self.lowest.is_some_and(|id| self.table.members().any(|n| n.id == id))
    }

    // --- exec messages ------------------------------------------------------------

    pub(super) fn handle_exec(&mut self, ctx: &mut Ctx<'_>, sender: NodeId, msg: ExecMessage) {
        match msg {
            ExecMessage::NodeInfo {
                nodeid,
                votes,
                expected_votes,
                flags,
            } => self.on_nodeinfo(ctx, sender, nodeid, votes, expected_votes, flags),
            ExecMessage::Reconfigure { nodeid, value, param } => self.on_reconfigure(ctx, sender, nodeid, value, param),
            ExecMessage::QdeviceReg { operation, name } => self.on_qdevice_reg(ctx, sender, operation, name),
            ExecMessage::QdeviceReconfigure { old_name, new_name } => {
                tracing::debug!(sender, "qdevice name change request");
                if old_name == self.qdevice_name {
                    self.qdevice_name = new_name;
                }
            }
        }
    }

    /// `message_handler_req_exec_votequorum_nodeinfo`.
    fn on_nodeinfo(
        &mut self,
        ctx: &mut Ctx<'_>,
        sender: NodeId,
        nodeid: NodeId,
        votes: u32,
        expected_votes: u32,
        flags: NodeFlags,
    ) {
        tracing::debug!(sender, nodeid, votes, expected_votes, flags = flags.0, "nodeinfo");
        let is_new = self.table.get(nodeid).is_none();
        if is_new && self.table.allocate(nodeid).is_none() {
            tracing::error!(nodeid, "Unable to find memory for node data");
            return;
        }
        let old = self.table.get(nodeid).cloned().expect("just allocated");
        let (old_votes, old_expected, old_state, old_flags) = if is_new {
            (0, 0, NodeState::Dead, NodeFlags::default())
        } else {
            (old.votes, old.expected_votes, old.state, old.flags)
        };
        let mut allow_downgrade = false;
        let mut by_node = false;
        if nodeid == QDEVICE_NODEID {
            let sender_quorate = self
                .table
                .get(sender)
                .is_some_and(|n| n.flags.contains(NodeFlags::QUORATE));
            let q = &mut self.table.qdevice;
            q.votes = if !self.quorate && sender_quorate {
                votes
            } else {
                q.votes.max(votes)
            };
        } else {
            let n = self.table.get_mut(nodeid).expect("present");
            n.flags = flags;
            n.votes = votes;
            n.state = NodeState::Member;
            if flags.contains(NodeFlags::LEAVING) {
                n.state = NodeState::Leaving;
                allow_downgrade = true;
                by_node = true;
            }
            if !self.quorate && flags.contains(NodeFlags::QUORATE) {
                allow_downgrade = true;
                self.table.us_mut().expected_votes = expected_votes;
            }
            let us_expected = self.table.us().expected_votes;
            let take_theirs = flags.contains(NodeFlags::QUORATE) || self.opts.expected_votes_tracking;
            self.table.get_mut(nodeid).expect("present").expected_votes =
                if take_theirs { expected_votes } else { us_expected };
            if self.opts.last_man_standing && votes > 1 {
                tracing::warn!("Last Man Standing feature is supported only when all cluster nodes votes are set to 1. Disabling LMS.");
                self.opts.last_man_standing = false;
                self.lms_deadline = None;
            }
        }
        let n = self.table.get(nodeid).expect("present").clone();
        if is_new
            || nodeid == self.table.us_id()
            || n.flags.contains(NodeFlags::FIRST)
            || old_votes != n.votes
            || old_expected != n.expected_votes
            || old_flags != n.flags
            || old_state != n.state
        {
            self.recalculate_quorum(ctx, allow_downgrade, by_node);
        }
        // corosync reads the node's flags after the recalculation (ours may have changed).
        let flags = self.table.get(nodeid).map_or(n.flags, |n| n.flags);
        if self.opts.wait_for_all && !flags.contains(NodeFlags::WFA_STATUS) && flags.contains(NodeFlags::QUORATE) {
            self.update_wait_for_all_status(ctx, false);
        }
    }

    /// `message_handler_req_exec_votequorum_reconfigure`.
    fn on_reconfigure(&mut self, ctx: &mut Ctx<'_>, sender: NodeId, nodeid: NodeId, value: u32, param: ReconfigParam) {
        tracing::debug!(sender, nodeid, value, ?param, "reconfigure");
        match param {
            ReconfigParam::ExpectedVotes => {
                self.update_node_expected_votes(value);
                self.send_expectedvotes_notification(ctx);
                self.update_ev_barrier(ctx, value);
                if self.opts.expected_votes_tracking {
                    let me = self.table.us_mut();
                    me.expected_votes = me.expected_votes.max(self.ev_tracking_barrier);
                }
                self.recalculate_quorum(ctx, true, false);
            }
            ReconfigParam::NodeVotes => {
                let Some(n) = self.table.get_mut(nodeid) else { return };
                n.votes = value;
                self.recalculate_quorum(ctx, true, false);
            }
            ReconfigParam::CancelWaitForAll => {
                self.update_wait_for_all_status(ctx, false);
                tracing::info!(nodeid, "wait_for_all_status reset by user");
                self.recalculate_quorum(ctx, false, false);
            }
        }
    }

    /// `message_handler_req_exec_votequorum_qdevice_reg`.
    fn on_qdevice_reg(&mut self, ctx: &mut Ctx<'_>, sender: NodeId, op: QdeviceOperation, name: Vec<u8>) {
        match op {
            QdeviceOperation::Register => {
                if sender != self.table.us_id() {
                    if self.qdevice_name.is_empty() {
                        self.qdevice_name = name;
                    }
                    return;
                }
                if self.table.us().flags.contains(NodeFlags::QDEVICE_REGISTERED) {
                    return;
                }
                let Some(conn) = self.qdevice_reg_conn.take() else {
                    tracing::warn!("Unable to determine origin of the qdevice register call!");
                    return;
                };
                if self.qdevice_name.is_empty() {
                    self.qdevice_name = name.clone();
                }
                let error = if name == self.qdevice_name {
                    self.table.us_mut().flags.insert(NodeFlags::QDEVICE_REGISTERED);
                    self.send_nodeinfo(ctx, QDEVICE_NODEID);
                    self.send_nodeinfo(ctx, self.table.us_id());
                    CsError::Ok
                } else {
                    tracing::warn!("A new qdevice with different name is trying to register!");
                    CsError::Exist
                };
                ctx.out.respond(conn, ipc::status(error));
            }
            QdeviceOperation::Unregister => {
                let still = self
                    .table
                    .members()
                    .any(|n| n.flags.contains(NodeFlags::QDEVICE_REGISTERED));
                if !still {
                    self.qdevice_name.clear();
                }
            }
        }
    }

    // --- synchronisation and timers -----------------------------------------------

    /// `votequorum_sync_init`.
    pub(super) fn begin_sync(&mut self, ctx: &mut Ctx<'_>, members: &[NodeId], ring: RingId) {
        self.sync_in_progress = true;
        self.sync_nodeinfo_sent = false;
        self.sync_wait_for_poll = false;
        if members.len() > 1 {
            self.table.us_mut().flags.remove(NodeFlags::FIRST);
        }
        let mut left = false;
        for id in self.members.clone() {
            if !members.contains(&id) {
                left = true;
                if let Some(n) = self.table.get_mut(id) {
                    n.state = NodeState::Dead;
                }
            }
        }
        if self.opts.last_man_standing {
            let n = members.len() as u32;
            if (n >= self.quorum && left)
                || (n <= self.quorum && self.opts.auto_tie_breaker != TieBreaker::None && self.lowest_is_member())
            {
                self.lms_deadline = Some(ctx.now + self.opts.last_man_standing_window);
            }
        }
        self.previous_members = std::mem::replace(&mut self.members, members.to_vec());
        self.ring = ring;
        let us = self.table.us().flags;
        if us.contains(NodeFlags::QDEVICE_REGISTERED) && us.contains(NodeFlags::QDEVICE_ALIVE) {
            self.qdevice_deadline = Some(ctx.now + self.opts.qdevice_sync_timeout());
            self.sync_wait_for_poll = true;
            tracing::info!("waiting for quorum device poll");
        }
    }

    /// `votequorum_sync_process`: our NODEINFO, then the device slot's.
    pub(super) fn process_sync(&mut self, ctx: &mut Ctx<'_>) -> SyncProgress {
        if !self.sync_nodeinfo_sent {
            self.send_nodeinfo(ctx, self.table.us_id());
            self.send_nodeinfo(ctx, QDEVICE_NODEID);
            if !self.qdevice_name.is_empty() {
                let name = self.qdevice_name.clone();
                ctx.out.mcast(
                    ExecMessage::QdeviceReg {
                        operation: QdeviceOperation::Register,
                        name,
                    }
                    .encode(),
                );
            }
            self.send_nodelist_notification(ctx, None);
            self.sync_nodeinfo_sent = true;
        }
        if self.table.us().flags.contains(NodeFlags::QDEVICE_REGISTERED) && self.sync_wait_for_poll {
            return SyncProgress::Again;
        }
        SyncProgress::Done
    }

    /// `votequorum_sync_activate`: decide, and tell everyone.
    pub(super) fn activate_sync(&mut self, ctx: &mut Ctx<'_>) {
        self.recalculate_quorum(ctx, false, false);
        self.publish(ctx);
        self.send_quorum_notification(ctx, None);
        self.sync_in_progress = false;
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        match (self.lms_deadline, self.qdevice_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(super) fn fire_timers(&mut self, ctx: &mut Ctx<'_>) {
        if self.lms_deadline.is_some_and(|d| d <= ctx.now) {
            self.lms_deadline = None;
            if self.quorate {
                self.recalculate_quorum(ctx, true, true);
            }
        }
        if self.qdevice_deadline.is_some_and(|d| d <= ctx.now) {
            self.qdevice_deadline = None;
            let me = self.table.us_mut();
            if me.flags.contains(NodeFlags::QDEVICE_ALIVE) {
                me.flags.remove(NodeFlags::QDEVICE_ALIVE);
                me.flags.remove(NodeFlags::QDEVICE_CAST_VOTE);
                tracing::info!("lost contact with quorum device");
                self.send_nodeinfo(ctx, self.table.us_id());
                self.sync_wait_for_poll = false;
            }
        }
    }

    /// `votequorum_exec_exit_fn`: with allow_downscale, tell the others we leave.
    pub fn leave(&mut self, ctx: &mut Ctx<'_>) {
        if self.opts.allow_downscale {
            self.table.us_mut().flags.insert(NodeFlags::LEAVING);
            self.send_nodeinfo(ctx, self.table.us_id());
        }
    }

    /// `votequorum_refresh_config`: the host calls this after it changed `quorum.*` or
    /// `nodelist.*` keys (a configuration reload). Only votes, expected votes,
    /// two_node (and the wait_for_all it implies) and the device's votes change at
    /// runtime; `quorum.cancel_wait_for_all` ≥ 1 cancels wait_for_all cluster-wide.
    pub fn reload_config(&mut self, ctx: &mut Ctx<'_>) {
        if super::config::get_u32(ctx.icmap, "quorum.cancel_wait_for_all").is_some_and(|v| v >= 1) {
            ctx.icmap.set("quorum.cancel_wait_for_all", Value::U8(0));
            self.send_reconfigure(ctx, ReconfigParam::CancelWaitForAll, self.table.us_id(), 0);
            return;
        }
        let registered = self.table.us().flags.contains(NodeFlags::QDEVICE_REGISTERED);
        let new = match self
            .opts
            .reload(ctx.icmap, self.table.us_id(), self.ev_tracking_barrier, registered)
        {
            Ok(o) => o,
            Err(e) => {
                tracing::error!("{e}; will continue with current runtime data");
                return;
            }
        };
        let (old_votes, old_expected) = (self.table.us().votes, self.table.us().expected_votes);
        let wfa_dropped = !new.wait_for_all && self.wait_for_all_status;
        {
            let me = self.table.us_mut();
            me.votes = new.votes;
            me.expected_votes = new.expected_votes;
        }
        self.table.qdevice.votes = new.qdevice_votes;
        self.update_ev_barrier(ctx, new.expected_votes);
        ctx.icmap
            .set("runtime.votequorum.two_node", Value::U8(new.two_node.into()));
        ctx.icmap
            .set("runtime.votequorum.atb_type", Value::U32(new.auto_tie_breaker.code()));
        ctx.icmap.set(
            "runtime.votequorum.qdevice_can_operate",
            Value::U8(new.qdevice_can_operate.into()),
        );
        self.opts = new;
        if wfa_dropped && self.opts.wait_for_all_autoset {
            // two_node went off and took the wait_for_all it implied.
            self.update_wait_for_all_status(ctx, false);
        }
        let us = self.table.us_id();
        self.send_nodeinfo(ctx, us);
        self.send_nodeinfo(ctx, QDEVICE_NODEID);
        let (votes, expected) = (self.table.us().votes, self.table.us().expected_votes);
        if votes != old_votes {
            self.send_reconfigure(ctx, ReconfigParam::NodeVotes, us, votes);
        }
        if expected != old_expected {
            self.send_reconfigure(ctx, ReconfigParam::ExpectedVotes, us, expected);
        }
    }
}

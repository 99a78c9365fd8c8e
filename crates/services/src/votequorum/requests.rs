//! votequorum's library calls (`message_handler_req_lib_votequorum_*`).

use crate::ids::ConnId;
use crate::service::Ctx;
use crate::CsError;

use super::config::TieBreaker;
use super::exec::{ExecMessage, NodeFlags, QdeviceOperation, ReconfigParam, QDEVICE_NODEID};
use super::ipc::{self, Info, InfoFlags, Request};
use super::state::{Tracker, VoteQuorum};

impl VoteQuorum {
    /// Handles one request; every call but a QDEVICE_REGISTER that went to the ring
    /// answers at once (that one is answered when its exec message comes back).
    pub(super) fn handle_request(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, req: Request) {
        let reply = match req {
            Request::GetInfo { nodeid } => {
                let (error, info) = self.getinfo(nodeid);
                ipc::getinfo(error, &info)
            }
            Request::SetExpected { expected_votes } => ipc::status(self.set_expected(ctx, expected_votes)),
            Request::SetVotes { votes, nodeid } => ipc::status(self.set_votes(ctx, nodeid, votes)),
            Request::TrackStart { context, flags } => {
                if flags.wants_current() {
                    self.send_nodelist_notification(ctx, Some((conn, context)));
                    self.send_quorum_notification(ctx, Some((conn, context)));
                }
                let error = match self.trackers.entry(conn) {
                    std::collections::btree_map::Entry::Occupied(_) => CsError::Exist,
                    std::collections::btree_map::Entry::Vacant(v) => {
                        if flags.wants_changes() {
                            v.insert(Tracker { flags, context });
                        }
                        CsError::Ok
                    }
                };
                ipc::status(error)
            }
            Request::TrackStop => ipc::status(match self.trackers.remove(&conn) {
                Some(_) => CsError::Ok,
                None => CsError::NotExist,
            }),
            Request::QdeviceRegister { name } => match self.qdevice_register(ctx, conn, name) {
                Some(error) => ipc::status(error),
                None => return,
            },
            Request::QdeviceUnregister { name } => ipc::status(self.qdevice_unregister(ctx, name)),
            Request::QdeviceUpdate { old_name, new_name } => ipc::status(if !self.registered() {
                CsError::NotExist
            } else if old_name != self.qdevice_name {
                CsError::InvalidParam
            } else {
                ctx.out
                    .mcast(ExecMessage::QdeviceReconfigure { old_name, new_name }.encode());
                CsError::Ok
            }),
            Request::QdevicePoll { name, cast_vote, ring } => {
                ipc::status(self.qdevice_poll(ctx, &name, cast_vote, ring))
            }
            Request::QdeviceMasterWins { name, allow } => ipc::status(self.qdevice_master_wins(ctx, &name, allow)),
        };
        ctx.out.respond(conn, reply);
    }

    fn registered(&self) -> bool {
        self.table.us().flags.contains(NodeFlags::QDEVICE_REGISTERED)
    }

    /// GETINFO for `nodeid` (0: this node).
    pub fn getinfo(&self, nodeid: u32) -> (CsError, Info) {
        let nodeid = if nodeid == QDEVICE_NODEID {
            self.table.us_id()
        } else {
            nodeid
        };
        let Some(node) = self.table.get(nodeid) else {
            return (CsError::NotExist, Info::default());
        };
        let mut highest_expected = 0;
        let mut total_votes: u32 = 0;
        for n in self.table.members() {
            highest_expected = highest_expected.max(n.expected_votes);
            total_votes = total_votes.wrapping_add(n.votes);
        }
        if node.flags.contains(NodeFlags::QDEVICE_CAST_VOTE) {
            total_votes = total_votes.wrapping_add(self.table.qdevice.votes);
        }
        let mut flags = InfoFlags::default();
        flags.set(InfoFlags::TWONODE, self.opts.two_node);
        flags.set(InfoFlags::QUORATE, self.quorate);
        flags.set(InfoFlags::WAIT_FOR_ALL, self.opts.wait_for_all);
        flags.set(InfoFlags::LAST_MAN_STANDING, self.opts.last_man_standing);
        flags.set(
            InfoFlags::AUTO_TIE_BREAKER,
            self.opts.auto_tie_breaker != TieBreaker::None,
        );
        flags.set(InfoFlags::ALLOW_DOWNSCALE, self.opts.allow_downscale);
        flags.set(
            InfoFlags::QDEVICE_REGISTERED,
            node.flags.contains(NodeFlags::QDEVICE_REGISTERED),
        );
        flags.set(InfoFlags::QDEVICE_ALIVE, node.flags.contains(NodeFlags::QDEVICE_ALIVE));
        flags.set(
            InfoFlags::QDEVICE_CAST_VOTE,
            node.flags.contains(NodeFlags::QDEVICE_CAST_VOTE),
        );
        flags.set(
            InfoFlags::QDEVICE_MASTER_WINS,
            node.flags.contains(NodeFlags::QDEVICE_MASTER_WINS),
        );
        let info = Info {
            nodeid: node.id,
            state: node.state as u32,
            votes: node.votes,
            expected_votes: node.expected_votes,
            highest_expected,
            total_votes,
            quorum: self.quorum,
            flags,
            qdevice_votes: self.table.qdevice.votes,
            qdevice_name: self.qdevice_name.clone(),
        };
        (CsError::Ok, info)
    }

    /// SETEXPECTED: refused below the votes present, or if it would cost quorum.
    fn set_expected(&mut self, ctx: &mut Ctx<'_>, expected: u32) -> CsError {
        let downscale = std::mem::replace(&mut self.opts.allow_downscale, false);
        let (newquorum, t) = self.calculate_quorum(true, expected);
        self.opts.allow_downscale = downscale;
        if expected < t.total_votes || (self.quorate && newquorum > t.total_votes) {
            return CsError::InvalidParam;
        }
        if expected != 0 {
            self.table.members_mut().for_each(|n| n.expected_votes = expected);
        }
        self.send_reconfigure(ctx, ReconfigParam::ExpectedVotes, self.table.us_id(), expected);
        CsError::Ok
    }

    /// SETVOTES: the new votes must keep quorum between half and all of the votes.
    fn set_votes(&mut self, ctx: &mut Ctx<'_>, nodeid: u32, votes: u32) -> CsError {
        let Some(node) = self.table.get_mut(nodeid) else {
            return CsError::NameNotFound;
        };
        let saved = std::mem::replace(&mut node.votes, votes);
        let (newquorum, t) = self.calculate_quorum(true, 0);
        if newquorum < t.total_votes / 2 || newquorum > t.total_votes {
            if let Some(n) = self.table.get_mut(nodeid) {
                n.votes = saved;
            }
            return CsError::InvalidParam;
        }
        self.send_reconfigure(ctx, ReconfigParam::NodeVotes, nodeid, votes);
        CsError::Ok
    }

    /// QDEVICE_REGISTER; `None`: sent to the ring, answered on delivery.
    fn qdevice_register(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, name: Vec<u8>) -> Option<CsError> {
        if !self.opts.qdevice_can_operate {
            tracing::info!("Registration of quorum device is disabled by incorrect corosync.conf");
            return Some(CsError::Access);
        }
        if self.registered() {
            return Some(if name == self.qdevice_name {
                CsError::Ok
            } else {
                CsError::Exist
            });
        }
        if self.qdevice_reg_conn.is_some() {
            tracing::warn!("Registration request already in progress");
            return Some(CsError::TryAgain);
        }
        self.qdevice_reg_conn = Some(conn);
        ctx.out.mcast(
            ExecMessage::QdeviceReg {
                operation: QdeviceOperation::Register,
                name,
            }
            .encode(),
        );
        None
    }

    fn qdevice_unregister(&mut self, ctx: &mut Ctx<'_>, name: Vec<u8>) -> CsError {
        if !self.registered() {
            return CsError::NotExist;
        }
        if name != self.qdevice_name {
            return CsError::InvalidParam;
        }
        self.qdevice_deadline = None;
        self.sync_wait_for_poll = false;
        let me = self.table.us_mut();
        for f in [
            NodeFlags::QDEVICE_REGISTERED,
            NodeFlags::QDEVICE_ALIVE,
            NodeFlags::QDEVICE_CAST_VOTE,
            NodeFlags::QDEVICE_MASTER_WINS,
        ] {
            me.flags.remove(f);
        }
        self.send_nodeinfo(ctx, self.table.us_id());
        ctx.out.mcast(
            ExecMessage::QdeviceReg {
                operation: QdeviceOperation::Unregister,
                name,
            }
            .encode(),
        );
        CsError::Ok
    }

    fn qdevice_poll(&mut self, ctx: &mut Ctx<'_>, name: &[u8], cast_vote: bool, ring: totem::RingId) -> CsError {
        if !self.opts.qdevice_can_operate {
            return CsError::Access;
        }
        if !self.registered() {
            return CsError::NotExist;
        }
        if ring != self.ring {
            tracing::debug!(%ring, current = %self.ring, "poll ring id is not the last sync ring id; ignoring poll");
            return CsError::MessageError;
        }
        if name != self.qdevice_name.as_slice() {
            return CsError::InvalidParam;
        }
        let me = self.table.us_mut();
        let old = me.flags;
        me.flags.insert(NodeFlags::QDEVICE_ALIVE);
        me.flags.set(NodeFlags::QDEVICE_CAST_VOTE, cast_vote);
        if me.flags != old {
            self.send_nodeinfo(ctx, self.table.us_id());
        }
        self.qdevice_deadline = Some(ctx.now + self.opts.qdevice_timeout());
        self.sync_wait_for_poll = false;
        CsError::Ok
    }

    fn qdevice_master_wins(&mut self, ctx: &mut Ctx<'_>, name: &[u8], allow: bool) -> CsError {
        if !self.opts.qdevice_can_operate {
            return CsError::Access;
        }
        if !self.registered() {
            return CsError::NotExist;
        }
        if name != self.qdevice_name.as_slice() {
            return CsError::InvalidParam;
        }
        let me = self.table.us_mut();
        let old = me.flags;
        me.flags.set(NodeFlags::QDEVICE_MASTER_WINS, allow);
        if me.flags != old {
            self.send_nodeinfo(ctx, self.table.us_id());
        }
        self.update_qdevice_master_wins(ctx, allow);
        CsError::Ok
    }
}

//! votequorum (service 5): corosync 3.1.7's vote-based quorum provider, byte-compatible
//! on the ring and towards libvotequorum (`exec/votequorum.c`, `man/votequorum.5`).
//!
//! The node builds it with [`VoteQuorum::new`] when `quorum.provider` is
//! `corosync_votequorum`; it publishes every decision with `ctx.quorum.set(..)` and
//! keeps `runtime.votequorum.*` in the icmap.

pub mod calc;
pub mod config;
pub mod exec;
mod flags;
pub mod ipc;
pub mod nodes;
mod requests;
mod state;

use totem::{NodeId, RingId};

use crate::ids::{ConnId, ServiceId};
use crate::service::{Ctx, FlowControl, Service, SyncProgress};
use crate::WireError;

pub use config::{ConfigError, Options, TieBreaker};
pub use exec::{ExecMessage, NodeFlags};
pub use nodes::{ClusterNode, NodeState, NodeTable};
pub use state::{Tracker, VoteQuorum};

impl Service for VoteQuorum {
    fn leaving(&mut self, ctx: &mut Ctx<'_>) {
        self.leave(ctx);
    }

    fn id(&self) -> ServiceId {
        ServiceId::Votequorum
    }

    fn name(&self) -> &'static str {
        "corosync vote quorum service v1.0"
    }

    fn deliver(
        &mut self,
        ctx: &mut Ctx<'_>,
        sender: NodeId,
        function: u16,
        msg: &[u8],
        swap: bool,
    ) -> Result<(), WireError> {
        let m = ExecMessage::decode(function, msg, swap)?;
        self.handle_exec(ctx, sender, m);
        Ok(())
    }

    fn syncs(&self) -> bool {
        true
    }

    fn sync_init(&mut self, ctx: &mut Ctx<'_>, _trans: &[NodeId], members: &[NodeId], ring: RingId) {
        self.begin_sync(ctx, members, ring);
    }

    fn sync_process(&mut self, ctx: &mut Ctx<'_>) -> SyncProgress {
        self.process_sync(ctx)
    }

    fn sync_activate(&mut self, ctx: &mut Ctx<'_>) {
        self.activate_sync(ctx);
    }

    fn request(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, id: i32, msg: &[u8]) {
        match ipc::Request::decode(id, msg) {
            Ok(req) => self.handle_request(ctx, conn, req),
            Err(e) => {
                tracing::warn!(%conn, id, "bad votequorum request: {e}");
                ctx.out.respond(conn, ipc::status(crate::CsError::InvalidParam));
            }
        }
    }

    fn flow_control(&self, id: i32) -> Option<FlowControl> {
        (ipc::REQ_GETINFO..=ipc::REQ_QDEVICE_MASTER_WINS)
            .contains(&id)
            .then_some(FlowControl::NotRequired)
    }

    fn disconnect(&mut self, _ctx: &mut Ctx<'_>, conn: ConnId) {
        self.trackers.remove(&conn);
        if self.qdevice_reg_conn == Some(conn) {
            self.qdevice_reg_conn = None;
        }
    }

    fn poll_timeout(&self) -> Option<totem::Instant> {
        self.next_deadline()
    }

    fn handle_timeout(&mut self, ctx: &mut Ctx<'_>) {
        self.fire_timers(ctx);
    }
}

#[cfg(test)]
mod tests;

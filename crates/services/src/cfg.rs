//! The cfg service (service 1, corosync 3.1.7 `exec/cfg.c`): local node id, node
//! addresses and link status, config reload, log reopening, killing a node, and the
//! shutdown protocol in which tracking clients (pacemakerd) may veto a shutdown.
//!
//! What the node must do besides the [`Service`] calls:
//! - optionally feed real link state with [`Cfg::set_link_view`] (without it, the
//!   answers are udpu's: one status "OK" per configured link, a node reachable when it
//!   is a member, its links connected when it is reachable);
//! - after [`HostAction::ReloadConfig`], reload and then call [`Cfg::config_reloaded`]
//!   with the result (it answers the client that asked, on its node);
//! - [`HostAction::Shutdown`] comes for a confirmed shutdown of this node (the SHUTDOWN
//!   exec message from ourselves) and for a KILLNODE naming this node.
//!
//! TRYSHUTDOWN is answered later (when every tracking client replied, or at the
//! timeout `cfg.shutdown_timeout`, default 5 s), RELOAD_CONFIG after the reload: these
//! two calls push no response from `request`.

pub mod codec;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use totem::{Instant, NodeId};
use tracing::{debug, info, warn};

use crate::cmap::config::node_addresses;
use crate::ids::{ConnId, ServiceId};
use crate::outbox::HostAction;
use crate::service::{Ctx, FlowControl, Service};
use crate::wire::printable;
use crate::{CsError, WireError};

use codec::{Exec, InterfaceStatus, LinkStatus, NodeStatus, Request, RequestId, ShutdownFlags};

/// `DEFAULT_SHUTDOWN_TIMEOUT`, in milliseconds.
pub const SHUTDOWN_TIMEOUT_MS: u32 = 5000;
/// `AF_INET`, `AF_INET6` as GET_NODE_ADDRS reports them.
const AF_INET: u32 = 2;
const AF_INET6: u32 = 10;

/// Link state the node knows better than the configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkView {
    /// This node's interfaces for RINGSTATUSGET; empty: one per configured link, "OK".
    pub local: Vec<InterfaceStatus>,
    /// NODESTATUSGET answers by node; nodes missing here get the udpu default.
    pub nodes: BTreeMap<NodeId, NodeStatus>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reply {
    Unknown,
    Yes,
    No,
}

/// A shutdown being decided (`shutdown_con` and its counters).
#[derive(Debug, Clone)]
struct Round {
    conn: ConnId,
    flags: ShutdownFlags,
    yes: u32,
    no: u32,
    expected: u32,
    deadline: Instant,
}

#[derive(Debug, Default)]
pub struct Cfg {
    /// Tracking connections with their latest reply, newest first (qb_list_add).
    trackers: Vec<(ConnId, Reply)>,
    round: Option<Round>,
    links: LinkView,
}

impl Cfg {
    pub fn new() -> Cfg {
        Cfg::default()
    }

    /// Replaces the link state used by RINGSTATUSGET and NODESTATUSGET.
    pub fn set_link_view(&mut self, view: LinkView) {
        self.links = view;
    }

    /// The reload the host did for [`HostAction::ReloadConfig`] finished: answers the
    /// client that asked (if it was on this node).
    pub fn config_reloaded(&mut self, ctx: &mut Ctx<'_>, conn: Option<ConnId>, result: CsError) {
        if let Some(conn) = conn {
            ctx.out.respond(conn, codec::plain(RequestId::ReloadConfig, result));
        }
    }

    fn tracker(&mut self, conn: ConnId) -> Option<&mut Reply> {
        self.trackers.iter_mut().find(|(c, _)| *c == conn).map(|(_, r)| r)
    }

    /// TESTSHUTDOWN to one connection, or to every tracker but `exclude`.
    fn send_test_shutdown(&self, ctx: &mut Ctx<'_>, only: Option<ConnId>, exclude: Option<ConnId>, status: CsError) {
        let flags = self.round.as_ref().map_or(ShutdownFlags::REQUEST, |r| r.flags);
        match only {
            Some(c) => ctx.out.event(c, codec::testshutdown(status, flags)),
            None => {
                for (c, _) in &self.trackers {
                    if Some(*c) != exclude {
                        ctx.out.event(*c, codec::testshutdown(status, flags));
                    }
                }
            }
        }
    }

    /// `check_shutdown_status`: decides once every expected reply is in.
    fn check_shutdown(&mut self, ctx: &mut Ctx<'_>) {
        let Some(r) = &self.round else {
            return;
        };
        if r.yes + r.no < r.expected {
            return;
        }
        let confirmed = r.yes >= r.expected || r.flags == ShutdownFlags::REGARDLESS;
        debug!(
            yes = r.yes,
            no = r.no,
            flags = r.flags.0,
            "shutdown decision is: {}",
            if confirmed { "yes" } else { "no" }
        );
        let conn = r.conn;
        if confirmed {
            ctx.out.respond(conn, codec::plain(RequestId::TryShutdown, CsError::Ok));
            self.round = None;
            ctx.out.mcast(Exec::Shutdown.encode());
        } else {
            ctx.out
                .respond(conn, codec::plain(RequestId::TryShutdown, CsError::Busy));
            self.round = None;
        }
    }

    /// `remove_ci_from_shutdown`: the connection stopped tracking or left; its answer
    /// becomes an implicit yes.
    fn remove_from_shutdown(&mut self, ctx: &mut Ctx<'_>, conn: ConnId) {
        if self.round.as_ref().is_some_and(|r| r.conn == conn) {
            self.round = None;
        }
        let Some(pos) = self.trackers.iter().position(|(c, _)| *c == conn) else {
            return;
        };
        let (_, reply) = self.trackers.remove(pos);
        if let Some(r) = &mut self.round {
            match reply {
                Reply::Yes => r.yes = r.yes.saturating_sub(1),
                Reply::No => r.no = r.no.saturating_sub(1),
                Reply::Unknown => {}
            }
            r.yes += 1;
        }
        self.check_shutdown(ctx);
    }

    fn try_shutdown(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, flags: ShutdownFlags) -> Option<Vec<u8>> {
        if flags == ShutdownFlags::IMMEDIATE {
            ctx.out.mcast(Exec::Shutdown.encode());
            return Some(codec::plain(RequestId::TryShutdown, CsError::Ok));
        }
        if self.round.is_some() {
            return Some(codec::plain(RequestId::TryShutdown, CsError::Exist));
        }
        let mut expected = 0;
        for (c, reply) in &mut self.trackers {
            if *c != conn {
                *reply = Reply::Unknown;
                expected += 1;
            }
        }
        if expected == 0 {
            ctx.out.mcast(Exec::Shutdown.encode());
            return Some(codec::plain(RequestId::TryShutdown, CsError::Ok));
        }
        let timeout = ctx.icmap.u32("cfg.shutdown_timeout").unwrap_or(SHUTDOWN_TIMEOUT_MS);
        self.round = Some(Round {
            conn,
            flags,
            yes: 0,
            no: 0,
            expected,
            deadline: ctx.now + Duration::from_millis(timeout.into()),
        });
        self.send_test_shutdown(ctx, None, Some(conn), CsError::Ok);
        None
    }

    fn reply_to_shutdown(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, yes: bool) -> Vec<u8> {
        let Some(r) = &mut self.round else {
            return codec::plain(RequestId::ReplyToShutdown, CsError::Access);
        };
        let reply = if yes {
            r.yes += 1;
            Reply::Yes
        } else {
            r.no += 1;
            Reply::No
        };
        if let Some(t) = self.tracker(conn) {
            *t = reply;
        }
        self.check_shutdown(ctx);
        codec::plain(RequestId::ReplyToShutdown, CsError::Ok)
    }

    fn track_start(&mut self, ctx: &mut Ctx<'_>, conn: ConnId) {
        if self.tracker(conn).is_some() {
            return;
        }
        self.trackers.insert(0, (conn, Reply::Unknown));
        if let Some(r) = &mut self.round {
            r.expected += 1;
            self.send_test_shutdown(ctx, Some(conn), None, CsError::Ok);
        }
    }

    fn kill_node(ctx: &mut Ctx<'_>, nodeid: u32, reason: Vec<u8>) -> CsError {
        match ctx.icmap.get(&format!("runtime.members.{nodeid}.status")) {
            None => return CsError::NotExist,
            Some(v) => match v.as_str() {
                None => return CsError::Library,
                Some(s) if s != "joined" => return CsError::NotExist,
                Some(_) => {}
            },
        }
        ctx.out.mcast(Exec::KillNode { nodeid, reason }.encode());
        CsError::Ok
    }

    /// udpu's RINGSTATUSGET: this node's configured links, status "OK".
    fn local_interfaces(&self, ctx: &Ctx<'_>) -> Vec<InterfaceStatus> {
        if !self.links.local.is_empty() {
            return self.links.local.clone();
        }
        node_addresses(ctx.icmap, ctx.node_id)
            .into_iter()
            .map(|(link, a)| InterfaceStatus {
                link,
                address: a.to_string(),
                status: "OK".into(),
            })
            .collect()
    }

    /// `totemsrp_nodestatus_get` + `totemudpu_nodestatus_get`: reachable when a member;
    /// each configured link enabled, connected when reachable, the node's address.
    fn node_status(&self, ctx: &Ctx<'_>, nodeid: NodeId) -> NodeStatus {
        if let Some(s) = self.links.nodes.get(&nodeid) {
            return NodeStatus { nodeid, ..s.clone() };
        }
        let reachable = ctx.members.contains(&nodeid);
        // udpu reports the MTU totemsrp works with: netmtu less two mcast headers
        // (totem-wire §2; 1410 at the default 1500).
        let mtu = ctx.icmap.u32("totem.netmtu").unwrap_or(1500).saturating_sub(90);
        NodeStatus {
            nodeid,
            reachable,
            links: node_addresses(ctx.icmap, nodeid)
                .into_iter()
                .map(|(link, a)| LinkStatus {
                    link,
                    enabled: true,
                    connected: reachable,
                    mtu,
                    src_addr: a.to_string(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    fn node_addrs(ctx: &Ctx<'_>, nodeid: u32) -> Vec<u8> {
        let nodeid = if nodeid == 0 { ctx.node_id } else { nodeid };
        let addrs = node_addresses(ctx.icmap, nodeid);
        let Some((_, first)) = addrs.first() else {
            return codec::node_addrs(CsError::NotExist, 0, &[]);
        };
        let family = if first.is_ipv4() { AF_INET } else { AF_INET6 };
        let raw: Vec<[u8; codec::ADDR_LEN]> = addrs
            .iter()
            .map(|(_, a)| {
                let mut b = [0u8; codec::ADDR_LEN];
                match a {
                    IpAddr::V4(v4) => b[..4].copy_from_slice(&v4.octets()),
                    IpAddr::V6(v6) => b.copy_from_slice(&v6.octets()),
                }
                b
            })
            .collect();
        codec::node_addrs(CsError::Ok, family, &raw)
    }

    /// The response to a request, or `None` when it comes later.
    fn handle(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, req: Request) -> Option<Vec<u8>> {
        Some(match req {
            Request::RingStatusGet => codec::ringstatus(&self.local_interfaces(ctx)),
            Request::RingReenable => codec::plain(RequestId::RingReenable, CsError::NotSupported),
            Request::KillNode { nodeid, reason } => {
                codec::plain(RequestId::KillNode, Self::kill_node(ctx, nodeid, reason))
            }
            Request::TryShutdown { flags } => return self.try_shutdown(ctx, conn, flags),
            Request::ReplyToShutdown { yes } => self.reply_to_shutdown(ctx, conn, yes),
            Request::GetNodeAddrs { nodeid } => Self::node_addrs(ctx, nodeid),
            Request::LocalGet => codec::local_get(ctx.node_id),
            Request::ReloadConfig => {
                ctx.out.mcast(
                    Exec::ReloadConfig {
                        source_node: ctx.node_id,
                        conn,
                    }
                    .encode(),
                );
                return None;
            }
            Request::ReopenLogFiles => {
                debug!("Reopening logging files");
                ctx.out.action(HostAction::ReopenLogs);
                codec::plain(RequestId::ReopenLogFiles, CsError::Ok)
            }
            Request::NodeStatusGet { nodeid, version } => {
                if version == codec::NODE_STATUS_V1 {
                    codec::nodestatus_v1(&self.node_status(ctx, nodeid))
                } else {
                    codec::nodestatus_version(CsError::NotSupported)
                }
            }
            Request::TrackStart => {
                self.track_start(ctx, conn);
                codec::plain(RequestId::TrackStart, CsError::Ok)
            }
            Request::TrackStop => {
                self.remove_from_shutdown(ctx, conn);
                codec::plain(RequestId::TrackStop, CsError::Ok)
            }
        })
    }
}

impl Service for Cfg {
    fn id(&self) -> ServiceId {
        ServiceId::Cfg
    }

    fn name(&self) -> &'static str {
        "corosync configuration service"
    }

    fn deliver(
        &mut self,
        ctx: &mut Ctx<'_>,
        sender: NodeId,
        function: u16,
        msg: &[u8],
        swap: bool,
    ) -> Result<(), WireError> {
        match Exec::decode(function, msg, swap)? {
            Exec::RingReenable { .. } => {}
            Exec::KillNode { nodeid, reason } => {
                debug!("request to kill node {nodeid} (us={})", ctx.node_id);
                if nodeid == ctx.node_id {
                    let reason = format!("Killed by node {sender} : {}", printable(&reason));
                    info!("{reason}");
                    ctx.out.action(HostAction::Shutdown { reason });
                }
            }
            Exec::Shutdown => {
                info!("Node {sender} was shut down by sysadmin");
                if sender == ctx.node_id {
                    ctx.out.action(HostAction::Shutdown {
                        reason: "shut down by sysadmin (cfg)".into(),
                    });
                }
            }
            Exec::ReloadConfig { conn, .. } => {
                info!("Config reload requested by node {sender}");
                let conn = (sender == ctx.node_id).then_some(conn);
                ctx.out.action(HostAction::ReloadConfig { conn });
            }
            Exec::CryptoReconfig { phase } => {
                if sender == ctx.node_id {
                    debug!("Crypto reconfiguration phase {phase}");
                    if phase < codec::CRYPTO_PHASE_CLEANUP {
                        ctx.out.mcast(
                            Exec::CryptoReconfig {
                                phase: codec::CRYPTO_PHASE_CLEANUP,
                            }
                            .encode(),
                        );
                    }
                }
            }
        }
        Ok(())
    }

    fn request(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, id: i32, msg: &[u8]) {
        let Some(rid) = RequestId::from_raw(id) else {
            warn!(id, %conn, "unknown cfg request");
            ctx.out
                .respond(conn, codec::plain(RequestId::RingReenable, CsError::InvalidParam));
            return;
        };
        match codec::decode(rid, msg) {
            Ok(req) => {
                if let Some(resp) = self.handle(ctx, conn, req) {
                    ctx.out.respond(conn, resp);
                }
            }
            Err(e) => {
                warn!(%conn, error = %e, "malformed cfg request {rid:?}");
                let err = match e {
                    WireError::NameTooLong(_) => CsError::NameTooLong,
                    _ => CsError::InvalidParam,
                };
                ctx.out.respond(conn, codec::plain(rid, err));
            }
        }
    }

    fn flow_control(&self, id: i32) -> Option<FlowControl> {
        use RequestId::*;
        Some(match RequestId::from_raw(id)? {
            GetNodeAddrs | LocalGet | ReopenLogFiles | NodeStatusGet => FlowControl::NotRequired,
            _ => FlowControl::Required,
        })
    }

    fn disconnect(&mut self, ctx: &mut Ctx<'_>, conn: ConnId) {
        self.remove_from_shutdown(ctx, conn);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.round.as_ref().map(|r| r.deadline)
    }

    /// `shutdown_timer_fn`: undecided trackers count as "no"; everyone hears TIMEOUT.
    fn handle_timeout(&mut self, ctx: &mut Ctx<'_>) {
        let Some(r) = &mut self.round else {
            return;
        };
        if ctx.now < r.deadline {
            return;
        }
        r.no = r.expected;
        let flags = r.flags;
        self.check_shutdown(ctx);
        for (c, _) in &self.trackers {
            ctx.out.event(*c, codec::testshutdown(CsError::Timeout, flags));
        }
    }
}

#[cfg(test)]
mod tests;

//! CPG, closed process groups (corosync 3.1.7 `exec/cpg.c`), as a sans-IO service.
//!
//! Processes join named groups; messages to a group are delivered to every member in
//! agreed order, and membership changes reach members as configuration-change events
//! in the same order as the messages (virtual synchrony per group). Across a ring
//! change the sync protocol re-establishes the membership: every node multicasts a
//! DOWNLIST (computed locally in 3.1.7; the receivers only log it) and a JOINLIST of
//! its local processes; at activation the processes of departed nodes leave with
//! reason NODEDOWN and those announced by joinlists join with reason NODEUP.

pub mod messages;

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};

use totem::{NodeId, RingId};

use crate::error::WireError;
use crate::ids::{ConnId, ServiceId};
use crate::service::{Ctx, FlowControl, Service, SyncProgress};
use crate::wire::printable;
use crate::CsError;
use messages::{req, res, Address, ExecMessage, IterationType, Reason, Request};

/// A process known to be in a group (`struct process_info`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessInfo {
    pub nodeid: NodeId,
    pub pid: u32,
    pub group: Vec<u8>,
}

/// Where a local client stands (`enum cpd_state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CpdState {
    Unjoined,
    LeaveStarted,
    JoinStarted,
    JoinCompleted,
}

/// One client connection (`struct cpg_pd`).
#[derive(Debug, Clone)]
struct Cpd {
    group: Vec<u8>,
    pid: u32,
    state: CpdState,
    flags: u32,
    initial_totem_conf_sent: bool,
    transition_counter: u64,
    initial_transition_counter: u64,
    /// FINALIZE takes the client out of every notification.
    finalized: bool,
    iterations: HashMap<u64, Iteration>,
}

impl Cpd {
    /// Whether this client gets `group`'s deliveries and configuration changes: joined,
    /// or leaving but not yet gone (corosync's JOIN_COMPLETED / LEAVE_STARTED).
    fn receives(&self, group: &[u8]) -> bool {
        !self.finalized && self.group == group && matches!(self.state, CpdState::JoinCompleted | CpdState::LeaveStarted)
    }
}

#[derive(Debug, Clone)]
struct Iteration {
    items: Vec<ProcessInfo>,
    next: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SyncState {
    DownList,
    JoinList,
}

/// Most iterations one client may keep open.
const ITERATIONS_MAX: usize = 64;

/// The CPG service.
#[derive(Debug)]
pub struct Cpg {
    /// Every known process, sorted by (nodeid, pid) as corosync keeps it.
    processes: Vec<ProcessInfo>,
    clients: BTreeMap<ConnId, Cpd>,
    member_list: Vec<NodeId>,
    old_member_list: Vec<NodeId>,
    /// Nodes in our downlist: old members missing from the transitional configuration.
    downlist: Vec<NodeId>,
    /// Joinlist entries received during this sync, in arrival order.
    joinlists: Vec<(NodeId, u32, Vec<u8>)>,
    sync_state: SyncState,
    last_sync_ring: RingId,
    next_iteration: u64,
}

impl Default for Cpg {
    fn default() -> Self {
        Cpg::new()
    }
}

impl Cpg {
    pub fn new() -> Cpg {
        Cpg {
            processes: Vec::new(),
            clients: BTreeMap::new(),
            member_list: Vec::new(),
            old_member_list: Vec::new(),
            downlist: Vec::new(),
            joinlists: Vec::new(),
            sync_state: SyncState::DownList,
            last_sync_ring: RingId::default(),
            next_iteration: 1,
        }
    }

    /// Every process known in `group`, in corosync's order.
    pub fn group_members(&self, group: &[u8]) -> Vec<(NodeId, u32)> {
        self.processes
            .iter()
            .filter(|p| p.group == group)
            .map(|p| (p.nodeid, p.pid))
            .collect()
    }

    /// Every known process.
    pub fn processes(&self) -> &[ProcessInfo] {
        &self.processes
    }

    /// Local clients joined to some group (for status output).
    pub fn local_clients(&self) -> usize {
        self.clients
            .values()
            .filter(|c| c.state == CpdState::JoinCompleted)
            .count()
    }

    fn find(&self, group: &[u8], pid: u32, nodeid: NodeId) -> Option<usize> {
        self.processes
            .iter()
            .position(|p| p.pid == pid && p.nodeid == nodeid && p.group == group)
    }

    /// Inserts in (nodeid, pid) order after equal entries; false if already known.
    fn insert(&mut self, p: ProcessInfo) -> bool {
        if self.find(&p.group, p.pid, p.nodeid).is_some() {
            return false;
        }
        let at = self
            .processes
            .iter()
            .position(|e| e.nodeid > p.nodeid || (e.nodeid == p.nodeid && e.pid > p.pid))
            .unwrap_or(self.processes.len());
        self.processes.insert(at, p);
        true
    }

    /// `do_proc_join` with an immediate notification.
    fn proc_join(&mut self, ctx: &mut Ctx<'_>, group: &[u8], pid: u32, nodeid: NodeId, reason: Reason) {
        if self.insert(ProcessInfo {
            nodeid,
            pid,
            group: group.to_vec(),
        }) {
            let a = Address { nodeid, pid, reason };
            self.notify(ctx, group, &[a], &[]);
        }
    }

    /// `do_proc_leave`: notify (the leaver still sees itself leave), then forget.
    fn proc_leave(&mut self, ctx: &mut Ctx<'_>, group: &[u8], pid: u32, nodeid: NodeId, reason: Reason) {
        let a = Address { nodeid, pid, reason };
        self.notify(ctx, group, &[], &[a]);
        self.processes
            .retain(|p| !(p.pid == pid && p.nodeid == nodeid && p.group == group));
    }

    /// `notify_lib_joinlist`: a confchg event to every local member of `group`.
    fn notify(&mut self, ctx: &mut Ctx<'_>, group: &[u8], joined: &[Address], left: &[Address]) {
        let members: Vec<Address> = self
            .processes
            .iter()
            .filter(|p| p.group == group)
            .filter(|p| !left.iter().any(|l| l.nodeid == p.nodeid && l.pid == p.pid))
            .map(|p| Address {
                nodeid: p.nodeid,
                pid: p.pid,
                reason: Reason::Undefined,
            })
            .collect();
        let event = messages::confchg(group, &members, left, joined);
        // Local processes that joined have completed their join.
        for j in joined.iter().filter(|j| j.nodeid == ctx.node_id) {
            for c in self.clients.values_mut() {
                if c.pid == j.pid && c.group == group && !c.finalized {
                    c.state = CpdState::JoinCompleted;
                }
            }
        }
        for (conn, c) in self.clients.iter_mut() {
            if c.receives(group) {
                ctx.out.event(*conn, event.clone());
                c.transition_counter += 1;
            }
        }
        // A local process that left on request is unjoined.
        for l in left
            .iter()
            .filter(|l| l.nodeid == ctx.node_id && l.reason == Reason::Leave)
        {
            for c in self.clients.values_mut() {
                if c.pid == l.pid && c.group == group {
                    c.pid = 0;
                    c.group.clear();
                    c.state = CpdState::Unjoined;
                }
            }
        }
        let old = self.old_member_list.clone();
        for (conn, c) in self.clients.iter_mut() {
            if !c.finalized && c.flags & messages::FLAG_DELIVER_INITIAL_TOTEM_CONF != 0 && !c.initial_totem_conf_sent {
                c.initial_totem_conf_sent = true;
                ctx.out.event(*conn, messages::totem_confchg(self.last_sync_ring, &old));
            }
        }
    }

    fn downlist_inform_clients(&mut self, ctx: &mut Ctx<'_>) {
        tracing::debug!(old = self.old_member_list.len(), left = ?self.downlist, "my downlist");
        // One event per group, groups in name order (corosync collects them in a map).
        let mut per_group: BTreeMap<Vec<u8>, Vec<Address>> = BTreeMap::new();
        let down = &self.downlist;
        self.processes.retain(|p| {
            if down.contains(&p.nodeid) {
                per_group.entry(p.group.clone()).or_default().push(Address {
                    nodeid: p.nodeid,
                    pid: p.pid,
                    reason: Reason::NodeDown,
                });
                false
            } else {
                true
            }
        });
        for (group, left) in per_group {
            self.notify(ctx, &group, &[], &left);
        }
    }

    fn joinlist_inform_clients(&mut self, ctx: &mut Ctx<'_>) {
        let mut per_group: BTreeMap<Vec<u8>, Vec<Address>> = BTreeMap::new();
        // corosync prepends each received entry to its list, so it walks them newest first.
        let entries: Vec<_> = self.joinlists.iter().rev().cloned().collect();
        for (sender, pid, group) in &entries {
            if *sender == ctx.node_id {
                continue;
            }
            if self.insert(ProcessInfo {
                nodeid: *sender,
                pid: *pid,
                group: group.clone(),
            }) {
                per_group.entry(group.clone()).or_default().push(Address {
                    nodeid: *sender,
                    pid: *pid,
                    reason: Reason::NodeUp,
                });
            }
        }
        for (group, joined) in per_group {
            self.notify(ctx, &group, &joined, &[]);
        }
        // Remote processes no joinlist mentioned left while we were apart.
        let zombies: Vec<ProcessInfo> = self
            .processes
            .iter()
            .filter(|p| p.nodeid != ctx.node_id)
            .filter(|p| {
                !entries
                    .iter()
                    .any(|(s, pid, g)| *s != ctx.node_id && *s == p.nodeid && *pid == p.pid && *g == p.group)
            })
            .cloned()
            .collect();
        for z in zombies {
            self.proc_leave(ctx, &z.group, z.pid, z.nodeid, Reason::ProcDown);
        }
    }

    /// A delivery event to every local client of `group`.
    /// Gives `event` to every local client in `group`: copies for all but the last,
    /// which takes it (one client per group per node is the common case).
    fn send_to_group(&self, ctx: &mut Ctx<'_>, group: &[u8], event: Vec<u8>) {
        let mut receivers = self
            .clients
            .iter()
            .filter(|(_, c)| c.receives(group))
            .map(|(conn, _)| *conn);
        let Some(mut conn) = receivers.next() else {
            return;
        };
        for next in receivers {
            ctx.out.event(conn, event.clone());
            conn = next;
        }
        ctx.out.event(conn, event);
    }

    fn send_joinlist(&self, ctx: &mut Ctx<'_>) {
        let entries: Vec<(u32, Vec<u8>)> = self
            .processes
            .iter()
            .filter(|p| p.nodeid == ctx.node_id)
            .map(|p| (p.pid, p.group.clone()))
            .collect();
        if !entries.is_empty() {
            ctx.out.mcast(ExecMessage::JoinList(entries).encode(ctx.node_id));
        }
    }

    fn handle(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, request: Request) {
        let node = ctx.node_id;
        let Some(cpd) = self.clients.get(&conn) else {
            return;
        };
        let cpd_state = cpd.state;
        match request {
            Request::Join { group, pid, flags } => {
                let error = if self
                    .clients
                    .values()
                    .any(|c| c.pid == pid && c.group == group && !c.group.is_empty())
                {
                    CsError::Exist
                } else if self.find(&group, pid, node).is_some() {
                    // Its leave is not delivered yet.
                    CsError::TryAgain
                } else {
                    match cpd_state {
                        CpdState::Unjoined => {
                            let c = self.clients.get_mut(&conn).expect("checked");
                            c.state = CpdState::JoinStarted;
                            c.pid = pid;
                            c.flags = flags;
                            c.group = group.clone();
                            ctx.out.mcast(
                                ExecMessage::ProcJoin {
                                    group,
                                    pid,
                                    reason: Reason::Join,
                                }
                                .encode(node),
                            );
                            CsError::Ok
                        }
                        CpdState::LeaveStarted => CsError::Busy,
                        CpdState::JoinStarted | CpdState::JoinCompleted => CsError::Exist,
                    }
                };
                ctx.out.respond(conn, messages::status(res::JOIN, error));
            }
            Request::Leave { group, pid } => {
                let error = match cpd_state {
                    CpdState::Unjoined | CpdState::LeaveStarted => CsError::NotExist,
                    CpdState::JoinStarted => CsError::Busy,
                    CpdState::JoinCompleted => {
                        self.clients.get_mut(&conn).expect("checked").state = CpdState::LeaveStarted;
                        ctx.out.mcast(
                            ExecMessage::ProcLeave {
                                group,
                                pid,
                                reason: Reason::Leave,
                            }
                            .encode(node),
                        );
                        CsError::Ok
                    }
                };
                ctx.out.respond(conn, messages::status(res::LEAVE, error));
            }
            Request::Mcast { data } => match cpd_state {
                CpdState::JoinStarted | CpdState::JoinCompleted => {
                    let c = &self.clients[&conn];
                    let buf = ctx.out.buffer();
                    ctx.out.mcast(
                        ExecMessage::Mcast {
                            group: Cow::Borrowed(&c.group),
                            pid: c.pid,
                            source: conn.0,
                            data: Cow::Borrowed(data),
                        }
                        .encode_in(buf, node),
                    );
                }
                _ => tracing::warn!(%conn, "can't mcast: not joined to a group"),
            },
            Request::PartialMcast { msglen, kind, data } => {
                let c = self.clients.get_mut(&conn).expect("checked");
                let mut error = match cpd_state {
                    CpdState::JoinStarted | CpdState::JoinCompleted => CsError::Ok,
                    _ => CsError::NotExist,
                };
                if kind == 1 {
                    c.initial_transition_counter = c.transition_counter;
                }
                if c.transition_counter != c.initial_transition_counter {
                    error = CsError::Interrupt;
                }
                if error == CsError::Ok {
                    let buf = ctx.out.buffer();
                    ctx.out.mcast(
                        ExecMessage::PartialMcast {
                            group: Cow::Borrowed(&c.group),
                            msglen,
                            pid: c.pid,
                            kind,
                            source: conn.0,
                            data: Cow::Borrowed(data),
                        }
                        .encode_in(buf, node),
                    );
                }
                ctx.out.respond(conn, messages::status(res::PARTIAL_SEND, error));
            }
            Request::Membership { group } => {
                ctx.out.respond(conn, messages::membership(&self.group_members(&group)));
            }
            Request::LocalGet => ctx.out.respond(conn, messages::local_get(node)),
            Request::IterationInitialize { group, kind } => {
                let c = self.clients.get_mut(&conn).expect("checked");
                if c.iterations.len() >= ITERATIONS_MAX {
                    ctx.out
                        .respond(conn, messages::iteration_initialize(0, CsError::NoMemory));
                    return;
                }
                let items = iteration_items(&self.processes, &group, kind);
                let handle = self.next_iteration;
                self.next_iteration += 1;
                c.iterations.insert(handle, Iteration { items, next: 0 });
                ctx.out
                    .respond(conn, messages::iteration_initialize(handle, CsError::Ok));
            }
            Request::IterationNext { handle } => {
                let c = self.clients.get_mut(&conn).expect("checked");
                let reply = match c.iterations.get_mut(&handle) {
                    None => messages::iteration_next(None, CsError::Library),
                    Some(it) => match it.items.get(it.next) {
                        None => messages::iteration_next(None, CsError::NoSections),
                        Some(p) => {
                            it.next += 1;
                            messages::iteration_next(Some((&p.group, p.nodeid, p.pid)), CsError::Ok)
                        }
                    },
                };
                ctx.out.respond(conn, reply);
            }
            Request::IterationFinalize { handle } => {
                let c = self.clients.get_mut(&conn).expect("checked");
                let error = if c.iterations.remove(&handle).is_some() {
                    CsError::Ok
                } else {
                    CsError::Library
                };
                ctx.out.respond(conn, messages::status(res::ITERATION_FINALIZE, error));
            }
            Request::Finalize => {
                // corosync drops the client from its list; the library closes next.
                self.clients.get_mut(&conn).expect("checked").finalized = true;
                ctx.out.respond(conn, messages::status(res::FINALIZE, CsError::Ok));
            }
            Request::ZeroCopy(id) => {
                ctx.out.respond(conn, messages::status(id + 5, CsError::NotSupported));
            }
        }
    }
}

/// The copy of the process list an iteration walks, grouped by group name.
fn iteration_items(processes: &[ProcessInfo], group: &[u8], kind: IterationType) -> Vec<ProcessInfo> {
    let mut items: Vec<ProcessInfo> = Vec::new();
    for p in processes {
        match kind {
            IterationType::NameOnly => {
                if items.iter().any(|i| i.group == p.group) {
                    continue;
                }
            }
            IterationType::OneGroup => {
                if p.group != group {
                    continue;
                }
            }
            IterationType::All => {}
        }
        let mut item = p.clone();
        if kind == IterationType::NameOnly {
            item.pid = 0;
            item.nodeid = 0;
        }
        // corosync's "grouped by" insert: right after the first entry of the same group,
        // or at the front for a group not seen yet (so cpgtool lists 1, 3, 2).
        let at = items.iter().position(|i| i.group == item.group).map_or(0, |i| i + 1);
        items.insert(at, item);
    }
    items
}

impl Service for Cpg {
    fn id(&self) -> ServiceId {
        ServiceId::Cpg
    }

    fn name(&self) -> &'static str {
        "corosync cluster closed process group service v1.01"
    }

    fn deliver(
        &mut self,
        ctx: &mut Ctx<'_>,
        sender: NodeId,
        function: u16,
        msg: &[u8],
        swap: bool,
    ) -> Result<(), WireError> {
        match ExecMessage::decode(function, msg, swap)? {
            ExecMessage::ProcJoin { group, pid, .. } => {
                tracing::debug!(sender, pid, group = %printable(&group), "got procjoin message");
                self.proc_join(ctx, &group, pid, sender, Reason::Join);
            }
            ExecMessage::ProcLeave { group, pid, reason } => {
                tracing::debug!(sender, pid, group = %printable(&group), "got procleave message");
                self.proc_leave(ctx, &group, pid, sender, reason);
            }
            ExecMessage::JoinList(entries) => {
                tracing::debug!(sender, entries = entries.len(), "got joinlist message");
                self.joinlists
                    .extend(entries.into_iter().map(|(pid, group)| (sender, pid, group)));
            }
            ExecMessage::Mcast { group, pid, data, .. } => {
                if !self.processes.iter().any(|p| p.nodeid == sender && *p.group == *group) {
                    // corosync logs this only when a local member would have received it.
                    if self.clients.values().any(|c| *c.group == *group) {
                        tracing::warn!(sender, group = %printable(&group), "Unknown node -> we will not deliver message");
                    }
                    return Ok(());
                }
                let event = messages::deliver_in(ctx.out.buffer(), &group, sender, pid, &data);
                self.send_to_group(ctx, &group, event);
            }
            ExecMessage::PartialMcast {
                group,
                msglen,
                pid,
                kind,
                data,
                ..
            } => {
                if !self.processes.iter().any(|p| p.nodeid == sender && *p.group == *group) {
                    return Ok(());
                }
                let event = messages::partial_deliver_in(ctx.out.buffer(), &group, msglen, sender, pid, kind, &data);
                self.send_to_group(ctx, &group, event);
            }
            ExecMessage::DownList { left, .. } => {
                tracing::debug!(sender, left = left.len(), "downlist received");
            }
            ExecMessage::DownListOld => tracing::debug!(sender, "downlist OLD received"),
        }
        Ok(())
    }

    fn syncs(&self) -> bool {
        true
    }

    fn sync_init(&mut self, _ctx: &mut Ctx<'_>, trans: &[NodeId], members: &[NodeId], ring: RingId) {
        // Joinlists delivered since the last activation or abort belong to an older ring
        // (sent in a synchronisation that was cut short after cpg's part, delivered in
        // the transition): taken into this one, they brought back processes that had
        // left since. (corosync clears them only on activation and on an abort during
        // cpg's own part.)
        self.joinlists.clear();
        self.sync_state = SyncState::DownList;
        self.member_list = members.to_vec();
        self.last_sync_ring = ring;
        self.downlist = self
            .old_member_list
            .iter()
            .copied()
            .filter(|n| !trans.contains(n))
            .collect();
    }

    fn sync_process(&mut self, ctx: &mut Ctx<'_>) -> SyncProgress {
        if self.sync_state == SyncState::DownList {
            ctx.out.mcast(
                ExecMessage::DownList {
                    old_members: self.old_member_list.len() as u32,
                    left: self.downlist.clone(),
                }
                .encode(ctx.node_id),
            );
            self.sync_state = SyncState::JoinList;
        }
        self.send_joinlist(ctx);
        SyncProgress::Done
    }

    fn sync_activate(&mut self, ctx: &mut Ctx<'_>) {
        self.old_member_list = self.member_list.clone();
        self.downlist_inform_clients(ctx);
        self.joinlist_inform_clients(ctx);
        self.joinlists.clear();
        let event = messages::totem_confchg(self.last_sync_ring, &self.member_list);
        for (conn, c) in &self.clients {
            if !c.finalized {
                ctx.out.event(*conn, event.clone());
            }
        }
    }

    fn sync_abort(&mut self, _ctx: &mut Ctx<'_>) {
        self.joinlists.clear();
    }

    fn connect(&mut self, _ctx: &mut Ctx<'_>, conn: ConnId, _creds: crate::Credentials) -> Result<(), CsError> {
        self.clients.insert(
            conn,
            Cpd {
                group: Vec::new(),
                pid: 0,
                state: CpdState::Unjoined,
                flags: 0,
                initial_totem_conf_sent: false,
                transition_counter: 0,
                initial_transition_counter: 0,
                finalized: false,
                iterations: HashMap::new(),
            },
        );
        Ok(())
    }

    fn request(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, id: i32, msg: &[u8]) {
        match Request::decode(id, msg) {
            Ok(r) => self.handle(ctx, conn, r),
            Err(e) => {
                tracing::debug!(%conn, id, error = %e, "bad cpg request");
                if !self.is_async(id) {
                    let error = match e {
                        WireError::NameTooLong(_) => CsError::NameTooLong,
                        _ => CsError::InvalidParam,
                    };
                    ctx.out.respond(conn, messages::status(id, error));
                }
            }
        }
    }

    fn flow_control(&self, id: i32) -> Option<FlowControl> {
        match id {
            req::JOIN | req::LEAVE | req::MCAST | req::FINALIZE | 9..=12 => Some(FlowControl::Required),
            req::MEMBERSHIP | req::LOCAL_GET | req::ITERATION_INITIALIZE..=req::ITERATION_FINALIZE => {
                Some(FlowControl::NotRequired)
            }
            _ => None,
        }
    }

    fn is_async(&self, id: i32) -> bool {
        id == req::MCAST
    }

    fn disconnect(&mut self, ctx: &mut Ctx<'_>, conn: ConnId) {
        let Some(c) = self.clients.remove(&conn) else {
            return;
        };
        if !c.group.is_empty() && c.state != CpdState::LeaveStarted {
            ctx.out.mcast(
                ExecMessage::ProcLeave {
                    group: c.group,
                    pid: c.pid,
                    reason: Reason::ProcDown,
                }
                .encode(ctx.node_id),
            );
        }
    }
}

#[cfg(test)]
mod tests;

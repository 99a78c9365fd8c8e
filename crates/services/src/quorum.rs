//! The quorum service (service 3, corosync's `exec/vsf_quorum.c`): libquorum's view of
//! the provider's decision. Without `quorum.provider` it is always quorate
//! (`quorum_type` 0); with `corosync_votequorum` it reports what votequorum published
//! in [`crate::QuorumView`], and tracks membership (joined/left) across syncs for the
//! V1 model's nodelist notifications.

use std::collections::BTreeMap;

use totem::{NodeId, RingId};

use crate::ids::{ConnId, Credentials, ServiceId};
use crate::service::{Ctx, FlowControl, Service};
use crate::votequorum::config::ConfigError;
use crate::votequorum::ipc::TrackFlags;
use crate::wire::{Reader, Writer, RESPONSE_HEADER};
use crate::{CsError, Icmap, WireError};

pub const REQ_GETQUORATE: i32 = 0;
pub const REQ_TRACKSTART: i32 = 1;
pub const REQ_TRACKSTOP: i32 = 2;
pub const REQ_GETTYPE: i32 = 3;
pub const REQ_MODEL_GETTYPE: i32 = 4;

pub const RES_GETQUORATE: i32 = 0;
pub const RES_TRACKSTART: i32 = 1;
pub const RES_TRACKSTOP: i32 = 2;
pub const RES_NOTIFICATION: i32 = 3;
pub const RES_GETTYPE: i32 = 4;
pub const RES_MODEL_GETTYPE: i32 = 5;
pub const RES_V1_QUORUM_NOTIFICATION: i32 = 6;
pub const RES_V1_NODELIST_NOTIFICATION: i32 = 7;

/// `res_lib_quorum_getquorate`, `_gettype`, `_model_gettype`: header + u32, padded.
pub const GETQUORATE_SIZE: usize = 32;
/// Fixed parts of the notifications (`sizeof` of the C structs; the lists follow).
pub const NOTIFICATION_SIZE: usize = 48;
pub const V1_QUORUM_NOTIFICATION_SIZE: usize = 56;
pub const V1_NODELIST_NOTIFICATION_SIZE: usize = 64;

/// `quorum_type` of GETTYPE: `QUORUM_FREE` 0 or `QUORUM_SET` 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum QuorumType {
    Free = 0,
    Set = 1,
}

/// The notification model a client chose (`lib_quorum_model`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[repr(u32)]
pub enum Model {
    #[default]
    V0 = 0,
    V1 = 1,
}

#[derive(Debug, Clone, Copy, Default)]
struct Client {
    model: Model,
    tracking: Option<TrackFlags>,
}

/// The provider named by `quorum.provider`: `Set` for `corosync_votequorum`, `Free`
/// without one; any other name is corosync's "Invalid quorum provider".
pub fn configured_type(icmap: &Icmap) -> Result<QuorumType, ConfigError> {
    match icmap.string("quorum.provider") {
        None => Ok(QuorumType::Free),
        Some("corosync_votequorum") => Ok(QuorumType::Set),
        Some(other) => {
            tracing::error!(provider = other, "Quorum provider failed to initialize.");
            Err(ConfigError::InvalidProvider)
        }
    }
}

/// A quorum view as libquorum receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct View {
    quorate: bool,
    ring: RingId,
    members: Vec<NodeId>,
}

#[derive(Debug)]
pub struct QuorumService {
    quorum_type: QuorumType,
    clients: BTreeMap<ConnId, Client>,
    /// The last [`crate::QuorumView::generation`] reported to trackers.
    reported: u64,
    sync_members: Vec<NodeId>,
    old_members: Vec<NodeId>,
    joined: Vec<NodeId>,
    left: Vec<NodeId>,
    last_sync_ring: RingId,
}

impl QuorumService {
    /// `quorum_exec_init_fn`: reads `quorum.provider` (see [`configured_type`]).
    pub fn new(icmap: &Icmap) -> Result<QuorumService, ConfigError> {
        Ok(QuorumService {
            quorum_type: configured_type(icmap)?,
            clients: BTreeMap::new(),
            reported: 0,
            sync_members: Vec::new(),
            old_members: Vec::new(),
            joined: Vec::new(),
            left: Vec::new(),
            last_sync_ring: RingId::default(),
        })
    }

    pub fn quorum_type(&self) -> QuorumType {
        self.quorum_type
    }

    /// `primary_designated`: always true without a provider.
    pub fn quorate(&self, ctx: &Ctx<'_>) -> bool {
        self.quorum_type == QuorumType::Free || ctx.quorum.quorate
    }

    fn view(&self, ctx: &Ctx<'_>) -> View {
        match self.quorum_type {
            QuorumType::Free => View {
                quorate: true,
                ring: RingId::default(),
                members: Vec::new(),
            },
            QuorumType::Set => View {
                quorate: ctx.quorum.quorate,
                ring: ctx.quorum.ring_id,
                members: ctx.quorum.members.clone(),
            },
        }
    }

    /// `send_library_notification`: to one client or to every tracker.
    fn notify_quorum(&self, ctx: &mut Ctx<'_>, only: Option<ConnId>) {
        let view = self.view(ctx);
        for (conn, c) in &self.clients {
            let wanted = match only {
                Some(o) => o == *conn,
                None => c.tracking.is_some(),
            };
            if wanted {
                let msg = match c.model {
                    Model::V0 => notification_v0(&view),
                    Model::V1 => notification_v1(&view),
                };
                ctx.out.event(*conn, msg);
            }
        }
    }

    /// `send_nodelist_library_notification` (V1 clients only).
    fn notify_nodelist(&self, ctx: &mut Ctx<'_>, only: Option<ConnId>, with_changes: bool) {
        let (joined, left): (&[NodeId], &[NodeId]) = if with_changes {
            (&self.joined, &self.left)
        } else {
            (&[], &[])
        };
        let msg = nodelist_v1(self.last_sync_ring, &self.sync_members, joined, left);
        for (conn, c) in &self.clients {
            let wanted = match only {
                Some(o) => o == *conn,
                None => c.tracking.is_some(),
            };
            if wanted && c.model == Model::V1 {
                ctx.out.event(*conn, msg.clone());
            }
        }
    }
}

/// `res_lib_quorum_notification`: quorate @24, ring_seq @32, entries @40, list @44;
/// sent as `sizeof` (48) + 4·n, as corosync does.
pub fn notification_v0_bytes(quorate: bool, ring_seq: u64, members: &[NodeId]) -> Vec<u8> {
    let mut w = Writer::response(RES_NOTIFICATION, NOTIFICATION_SIZE + 4 * members.len(), CsError::Ok);
    w.i32(24, i32::from(quorate))
        .u64(32, ring_seq)
        .u32(40, members.len() as u32);
    for (i, id) in members.iter().enumerate() {
        w.u32(44 + 4 * i, *id);
    }
    w.finish()
}

fn notification_v0(v: &View) -> Vec<u8> {
    notification_v0_bytes(v.quorate, v.ring.seq, &v.members)
}

/// `res_lib_quorum_v1_quorum_notification`: quorate @24, ring id {nodeid @32, seq @40},
/// entries @48, list @52; `sizeof` (56) + 4·n.
fn notification_v1(v: &View) -> Vec<u8> {
    let n = v.members.len();
    let mut w = Writer::response(
        RES_V1_QUORUM_NOTIFICATION,
        V1_QUORUM_NOTIFICATION_SIZE + 4 * n,
        CsError::Ok,
    );
    w.i32(24, i32::from(v.quorate))
        .u32(32, v.ring.rep)
        .u64(40, v.ring.seq)
        .u32(48, n as u32);
    for (i, id) in v.members.iter().enumerate() {
        w.u32(52 + 4 * i, *id);
    }
    w.finish()
}

/// `res_lib_quorum_v1_nodelist_notification`: ring id @24 {nodeid, seq @32}, member
/// entries @40, joined @48, left @56, then the three lists from @60; `sizeof` (64) + 4·n.
pub fn nodelist_v1(ring: RingId, members: &[NodeId], joined: &[NodeId], left: &[NodeId]) -> Vec<u8> {
    let n = members.len() + joined.len() + left.len();
    let mut w = Writer::response(
        RES_V1_NODELIST_NOTIFICATION,
        V1_NODELIST_NOTIFICATION_SIZE + 4 * n,
        CsError::Ok,
    );
    w.u32(24, ring.rep)
        .u64(32, ring.seq)
        .u32(40, members.len() as u32)
        .u32(48, joined.len() as u32)
        .u32(56, left.len() as u32);
    for (i, id) in members.iter().chain(joined).chain(left).enumerate() {
        w.u32(60 + 4 * i, *id);
    }
    w.finish()
}

fn header_only(id: i32, error: CsError) -> Vec<u8> {
    Writer::response(id, RESPONSE_HEADER, error).finish()
}

fn with_u32(id: i32, error: CsError, v: u32) -> Vec<u8> {
    let mut w = Writer::response(id, GETQUORATE_SIZE, error);
    w.u32(24, v);
    w.finish()
}

impl Service for QuorumService {
    fn id(&self) -> ServiceId {
        ServiceId::Quorum
    }

    fn name(&self) -> &'static str {
        "corosync cluster quorum service v0.1"
    }

    /// The quorum service has no exec messages.
    fn deliver(&mut self, _: &mut Ctx<'_>, _: NodeId, function: u16, _: &[u8], _: bool) -> Result<(), WireError> {
        Err(WireError::UnknownId(ServiceId::Quorum.exec_id(function)))
    }

    fn syncs(&self) -> bool {
        true
    }

    /// `quorum_sync_init`: left = old members not in the transitional configuration (or
    /// not in the new one); joined = new members that were not old members, or left.
    fn sync_init(&mut self, _ctx: &mut Ctx<'_>, trans: &[NodeId], members: &[NodeId], ring: RingId) {
        self.sync_members = members.to_vec();
        self.last_sync_ring = ring;
        self.left = self
            .old_members
            .iter()
            .copied()
            .filter(|id| !trans.contains(id) || !members.contains(id))
            .collect();
        self.joined = members
            .iter()
            .copied()
            .filter(|id| !self.old_members.contains(id) || self.left.contains(id))
            .collect();
        tracing::debug!(members = ?self.sync_members, joined = ?self.joined, left = ?self.left, "quorum sync");
    }

    fn sync_activate(&mut self, ctx: &mut Ctx<'_>) {
        self.old_members = self.sync_members.clone();
        self.notify_nodelist(ctx, None, true);
    }

    fn connect(&mut self, _ctx: &mut Ctx<'_>, conn: ConnId, _creds: Credentials) -> Result<(), CsError> {
        self.clients.insert(conn, Client::default());
        Ok(())
    }

    fn request(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, id: i32, msg: &[u8]) {
        // A connection the host did not announce is still answered and tracked.
        self.clients.entry(conn).or_default();
        let r = Reader::new(msg);
        let reply = match id {
            REQ_GETQUORATE => with_u32(RES_GETQUORATE, CsError::Ok, u32::from(self.quorate(ctx))),
            REQ_GETTYPE => with_u32(RES_GETTYPE, CsError::Ok, self.quorum_type as u32),
            REQ_TRACKSTART => {
                let Ok(flags) = r.u32(16).map(TrackFlags) else {
                    ctx.out
                        .respond(conn, header_only(RES_TRACKSTART, CsError::InvalidParam));
                    return;
                };
                if flags.wants_current() {
                    self.notify_nodelist(ctx, Some(conn), false);
                    self.notify_quorum(ctx, Some(conn));
                }
                let c = self.clients.entry(conn).or_default();
                let error = if c.tracking.is_some() {
                    CsError::Exist
                } else {
                    if flags.wants_changes() {
                        c.tracking = Some(flags);
                    }
                    CsError::Ok
                };
                header_only(RES_TRACKSTART, error)
            }
            REQ_TRACKSTOP => {
                // corosync answers CS_OK even when nothing was tracked.
                if let Some(c) = self.clients.get_mut(&conn) {
                    c.tracking = None;
                }
                header_only(RES_TRACKSTOP, CsError::Ok)
            }
            REQ_MODEL_GETTYPE => {
                let error = match r.u32(16) {
                    Ok(0) => {
                        self.clients.entry(conn).or_default().model = Model::V0;
                        CsError::Ok
                    }
                    Ok(1) => {
                        self.clients.entry(conn).or_default().model = Model::V1;
                        CsError::Ok
                    }
                    _ => CsError::InvalidParam,
                };
                with_u32(RES_MODEL_GETTYPE, error, self.quorum_type as u32)
            }
            other => {
                tracing::warn!(%conn, id = other, "unknown quorum request");
                header_only(other, CsError::InvalidParam)
            }
        };
        ctx.out.respond(conn, reply);
    }

    fn flow_control(&self, id: i32) -> Option<FlowControl> {
        (REQ_GETQUORATE..=REQ_MODEL_GETTYPE)
            .contains(&id)
            .then_some(FlowControl::NotRequired)
    }

    fn disconnect(&mut self, _ctx: &mut Ctx<'_>, conn: ConnId) {
        self.clients.remove(&conn);
    }

    /// The provider decided (`quorum_api_set_quorum`): tell the trackers.
    fn quorum_changed(&mut self, ctx: &mut Ctx<'_>) {
        if ctx.quorum.generation != self.reported {
            self.reported = ctx.quorum.generation;
            self.notify_quorum(ctx, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::icmap::Value;
    use crate::outbox::ClientMessageKind;
    use crate::World;
    use totem::Instant;

    fn u32_at(m: &[u8], at: usize) -> u32 {
        u32::from_ne_bytes(m[at..at + 4].try_into().unwrap())
    }

    /// Sends request `id`: 16 bytes, or 24 with `arg` at offset 16.
    fn call(q: &mut QuorumService, ctx: &mut Ctx<'_>, conn: ConnId, id: i32, arg: Option<u32>) {
        let mut w = Writer::request(id, if arg.is_some() { 24 } else { 16 });
        if let Some(v) = arg {
            w.u32(16, v);
        }
        q.request(ctx, conn, id, &w.finish());
    }

    fn drain(w: &mut World) -> Vec<(ConnId, ClientMessageKind, Vec<u8>)> {
        w.out.clients.drain(..).map(|m| (m.conn, m.kind, m.data)).collect()
    }

    fn setup(provider: bool) -> (World, QuorumService) {
        let mut w = World::new(1);
        if provider {
            w.icmap
                .set("quorum.provider", Value::String("corosync_votequorum".into()));
        }
        let q = QuorumService::new(&w.icmap).unwrap();
        (w, q)
    }

    #[test]
    fn without_provider_always_quorate() {
        let (mut w, mut q) = setup(false);
        let c = ConnId(1);
        let mut ctx = w.ctx(Instant::ZERO);
        q.connect(&mut ctx, c, Credentials::default()).unwrap();
        call(&mut q, &mut ctx, c, REQ_GETTYPE, None);
        call(&mut q, &mut ctx, c, REQ_GETQUORATE, None);
        let out = drain(&mut w);
        assert_eq!(out.len(), 2);
        assert_eq!(
            (out[0].2.len(), u32_at(&out[0].2, 0), u32_at(&out[0].2, 24)),
            (32, RES_GETTYPE as u32, 0)
        );
        assert_eq!(
            (out[1].2.len(), u32_at(&out[1].2, 16), u32_at(&out[1].2, 24)),
            (32, 1, 1)
        );
    }

    #[test]
    fn trackstart_without_connect_still_reports() {
        let (mut w, mut q) = setup(false);
        call(&mut q, &mut w.ctx(Instant::ZERO), ConnId(3), REQ_TRACKSTART, Some(1));
        let out = drain(&mut w);
        assert_eq!(out.len(), 2);
        assert_eq!(
            (out[0].1, u32_at(&out[0].2, 0), u32_at(&out[0].2, 24)),
            (ClientMessageKind::Event, 3, 1)
        );
    }

    #[test]
    fn view_is_primary_without_a_provider() {
        let mut v = crate::QuorumView::default();
        assert!(v.primary());
        v.provider = true;
        assert!(!v.primary());
        v.set(true, vec![1], RingId::default());
        assert!(v.primary());
    }

    #[test]
    fn invalid_provider_is_an_error() {
        let mut m = Icmap::default();
        m.set("quorum.provider", Value::String("corosync_ykd2".into()));
        assert_eq!(QuorumService::new(&m).unwrap_err(), ConfigError::InvalidProvider);
    }

    /// Pacemaker's sequence: GETTYPE, GETQUORATE, TRACKSTART(CURRENT|CHANGES), then a
    /// NOTIFICATION on every decision.
    #[test]
    fn pacemaker_trackstart_and_notifications() {
        let (mut w, mut q) = setup(true);
        let c = ConnId(7);
        w.quorum.set(false, vec![1], RingId { rep: 1, seq: 4 });
        let mut ctx = w.ctx(Instant::ZERO);
        q.connect(&mut ctx, c, Credentials::default()).unwrap();
        call(&mut q, &mut ctx, c, REQ_GETTYPE, None);
        call(&mut q, &mut ctx, c, REQ_GETQUORATE, None);
        call(&mut q, &mut ctx, c, REQ_TRACKSTART, Some(3));
        let out = drain(&mut w);
        assert_eq!(u32_at(&out[0].2, 24), 1, "QUORUM_SET");
        assert_eq!(u32_at(&out[1].2, 24), 0, "not quorate yet");
        assert_eq!(out[2].1, ClientMessageKind::Event);
        let ev = &out[2].2;
        assert_eq!(
            (ev.len(), u32_at(ev, 0), u32_at(ev, 24), u32_at(ev, 40), u32_at(ev, 44)),
            (52, 3, 0, 1, 1)
        );
        assert_eq!(u64::from_ne_bytes(ev[32..40].try_into().unwrap()), 4);
        assert_eq!(
            (out[3].1, out[3].2.len(), u32_at(&out[3].2, 0)),
            (ClientMessageKind::Response, 24, 1)
        );

        w.quorum.set(true, vec![1, 2], RingId { rep: 1, seq: 8 });
        let mut ctx = w.ctx(Instant::ZERO);
        q.quorum_changed(&mut ctx);
        q.quorum_changed(&mut ctx);
        let out = drain(&mut w);
        assert_eq!(out.len(), 1, "one notification per decision");
        assert_eq!(
            (u32_at(&out[0].2, 24), u32_at(&out[0].2, 40), u32_at(&out[0].2, 48)),
            (1, 2, 2)
        );

        // A second TRACKSTART is refused; TRACKSTOP always answers OK.
        let mut ctx = w.ctx(Instant::ZERO);
        call(&mut q, &mut ctx, c, REQ_TRACKSTART, Some(2));
        call(&mut q, &mut ctx, c, REQ_TRACKSTOP, None);
        call(&mut q, &mut ctx, c, REQ_TRACKSTOP, None);
        let out = drain(&mut w);
        let errors: Vec<u32> = out
            .iter()
            .filter(|m| m.1 == ClientMessageKind::Response)
            .map(|m| u32_at(&m.2, 16))
            .collect();
        assert_eq!(errors, [CsError::Exist as u32, 1, 1]);
    }

    #[test]
    fn model_v1_nodelist_with_joined_and_left() {
        let (mut w, mut q) = setup(true);
        let c = ConnId(2);
        let mut ctx = w.ctx(Instant::ZERO);
        q.connect(&mut ctx, c, Credentials::default()).unwrap();
        call(&mut q, &mut ctx, c, REQ_MODEL_GETTYPE, Some(1));
        call(&mut q, &mut ctx, c, REQ_TRACKSTART, Some(4));
        call(&mut q, &mut ctx, c, REQ_MODEL_GETTYPE, Some(5));
        let out = drain(&mut w);
        assert_eq!(out.len(), 3, "CHANGES_ONLY sends nothing at once");
        assert_eq!(
            (out[0].2.len(), u32_at(&out[0].2, 0), u32_at(&out[0].2, 16)),
            (32, 5, 1)
        );
        assert_eq!(u32_at(&out[2].2, 16), CsError::InvalidParam as u32);

        let r1 = RingId { rep: 1, seq: 4 };
        q.sync_init(&mut w.ctx(Instant::ZERO), &[1], &[1, 2, 3], r1);
        q.sync_activate(&mut w.ctx(Instant::ZERO));
        let r2 = RingId { rep: 1, seq: 8 };
        q.sync_init(&mut w.ctx(Instant::ZERO), &[1, 3], &[1, 3, 4], r2);
        q.sync_activate(&mut w.ctx(Instant::ZERO));
        let out = drain(&mut w);
        assert_eq!(out.len(), 2);
        let m = &out[1].2;
        assert_eq!((u32_at(m, 0), u32_at(m, 24)), (7, 1));
        assert_eq!(u64::from_ne_bytes(m[32..40].try_into().unwrap()), 8);
        assert_eq!((u32_at(m, 40), u32_at(m, 48), u32_at(m, 56)), (3, 1, 1));
        let lists: Vec<u32> = (0..5).map(|i| u32_at(m, 60 + 4 * i)).collect();
        assert_eq!(lists, [1, 3, 4, 4, 2]);
        assert_eq!(m.len(), 64 + 20);

        // V1 quorum notification layout.
        w.quorum.set(true, vec![1, 3, 4], r2);
        q.quorum_changed(&mut w.ctx(Instant::ZERO));
        let out = drain(&mut w);
        let m = &out[0].2;
        assert_eq!(
            (
                m.len(),
                u32_at(m, 0),
                u32_at(m, 24),
                u32_at(m, 32),
                u32_at(m, 48),
                u32_at(m, 60)
            ),
            (68, 6, 1, 1, 3, 4)
        );
    }

    #[test]
    fn v0_notification_layout() {
        let m = notification_v0_bytes(true, 0x1c, &[1, 2, 3]);
        assert_eq!(m.len(), 60);
        assert_eq!(
            (u32_at(&m, 24), u32_at(&m, 40), u32_at(&m, 44), u32_at(&m, 52)),
            (1, 3, 1, 3)
        );
    }
}

//! The interface every service implements, and the context it runs in.
//!
//! A service is a sans-IO state machine in corosync's shape (`struct
//! corosync_service_engine`): exec messages delivered in agreed order, configuration
//! changes, the four sync callbacks, and library (IPC) requests from local clients.
//! Everything it produces goes into the [`Outbox`] of its [`Ctx`].

use totem::{ConfigurationChange, Instant, NodeId, RingId};

use crate::icmap::Icmap;
use crate::ids::{ConnId, Credentials, ServiceId};
use crate::outbox::Outbox;
use crate::quorum_view::QuorumView;
use crate::CsError;

/// What a service sees of the node while it handles one input.
pub struct Ctx<'a> {
    pub node_id: NodeId,
    pub now: Instant,
    /// The ring the node is on (the last regular configuration).
    pub ring_id: RingId,
    /// Members of the last regular configuration.
    pub members: &'a [NodeId],
    /// The configuration and runtime map, shared by all services.
    pub icmap: &'a mut Icmap,
    /// Quorum as the quorum provider last decided it.
    pub quorum: &'a mut QuorumView,
    pub out: &'a mut Outbox,
    /// Service synchronisation is running (IPC calls that need flow control must wait).
    pub sync_in_process: bool,
}

/// The result of one call to [`Service::sync_process`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncProgress {
    /// This service is done; the node sends its barrier.
    Done,
    /// Call again later (for example, the send queue was full).
    Again,
}

/// How a library call is to be treated while synchronisation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlowControl {
    /// Allowed at any time.
    NotRequired,
    /// Refused with `CS_ERR_TRY_AGAIN` during synchronisation (corosync's
    /// `CS_LIB_FLOW_CONTROL_REQUIRED`).
    Required,
}

/// Lets the host reach a service's own API (stats, link view) through the node.
pub trait AsAny: std::any::Any {
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any;
    fn as_any(&self) -> &dyn std::any::Any;
}

impl<T: std::any::Any> AsAny for T {
    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

pub trait Service: AsAny {
    fn id(&self) -> ServiceId;

    /// corosync's service name, as the sync log lines name it.
    fn name(&self) -> &'static str;

    /// An exec message of this service (`fn` = the low 16 bits of its id), delivered in
    /// agreed order. `swap`: the sender's byte order differs. A malformed message is an
    /// error and changes nothing.
    fn deliver(
        &mut self,
        ctx: &mut Ctx<'_>,
        sender: NodeId,
        function: u16,
        msg: &[u8],
        swap: bool,
    ) -> Result<(), crate::WireError>;

    /// A configuration change (transitional and regular), before synchronisation starts.
    fn confchg(&mut self, _ctx: &mut Ctx<'_>, _change: &ConfigurationChange) {}

    /// Whether the service takes part in synchronisation (corosync: has `sync_init`).
    fn syncs(&self) -> bool {
        false
    }
    fn sync_init(&mut self, _ctx: &mut Ctx<'_>, _trans: &[NodeId], _members: &[NodeId], _ring: RingId) {}
    fn sync_process(&mut self, _ctx: &mut Ctx<'_>) -> SyncProgress {
        SyncProgress::Done
    }
    fn sync_activate(&mut self, _ctx: &mut Ctx<'_>) {}
    fn sync_abort(&mut self, _ctx: &mut Ctx<'_>) {}

    /// A client connected (after the host's access check). Refusing closes it.
    fn connect(&mut self, _ctx: &mut Ctx<'_>, _conn: ConnId, _creds: Credentials) -> Result<(), CsError> {
        Ok(())
    }
    /// A library request; the header has been checked (`id` ≥ 0, size = length).
    /// Synchronous calls must produce exactly one response: at once, or later for the
    /// calls a service answers after something else happens (cfg TRYSHUTDOWN when the
    /// tracking clients replied or timed out, cfg RELOAD_CONFIG after the reload).
    fn request(&mut self, ctx: &mut Ctx<'_>, conn: ConnId, id: i32, msg: &[u8]);
    /// Whether library call `id` waits for synchronisation; `None`: unknown call.
    fn flow_control(&self, id: i32) -> Option<FlowControl>;
    /// Calls that get no response (cpg MCAST): errors are logged, not answered.
    fn is_async(&self, _id: i32) -> bool {
        false
    }
    /// The client is gone (disconnect or finalize).
    fn disconnect(&mut self, _ctx: &mut Ctx<'_>, _conn: ConnId) {}

    /// Timers of the service (votequorum's last-man-standing window, cfg shutdown).
    fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    fn handle_timeout(&mut self, _ctx: &mut Ctx<'_>) {}

    /// Quorum changed (delivered to every service after the provider decided).
    fn quorum_changed(&mut self, _ctx: &mut Ctx<'_>) {}

    /// The node is about to leave the ring cleanly (votequorum's allow_downscale
    /// announces it).
    fn leaving(&mut self, _ctx: &mut Ctx<'_>) {}

    /// Keys of the map changed (cmap tells its tracking clients).
    fn icmap_changed(&mut self, _ctx: &mut Ctx<'_>, _changes: &[crate::icmap::Change]) {}
}

//! [`Node`]: totem, the sync protocol and the services of one node — the host loop
//! shared by the daemon and the simulator.
//!
//! Call order for a host (the same as [`totem::Totem`]'s): feed one input
//! ([`Node::handle_packet`], [`Node::handle_timeout`], a client call, [`Node::submit_app`]);
//! persist [`Node::poll_ring_seq_to_store`]; send every [`Node::poll_transmit`]; hand
//! every [`Node::poll_client_message`] to its client; carry out every
//! [`Node::poll_action`]; read [`Node::poll_event`]; sleep until [`Node::poll_timeout`].
//! Everything between totem and the services — deliveries, configuration changes,
//! synchronisation, exec messages — happens inside the input call.

use std::collections::{BTreeMap, VecDeque};

use bytes::Bytes;
use totem::pg::{decode_single_group, encode_groups};
use totem::{ConfigurationChange, ConfigurationKind, Event, Instant, NodeId, RingId, SubmitError, Totem, Transmit};

use crate::error::WireError;
use crate::ids::{ConnId, Credentials, ServiceId};
use crate::outbox::{ClientMessage, HostAction, Outbox};
use crate::service::{FlowControl, Service};
use crate::sync::{Sync, SyncCommand, SyncMessage, GROUP as SYNC_GROUP};
use crate::wire::{Header, Writer, RESPONSE_HEADER};
use crate::world::World;
use crate::CsError;

/// Group of the executive services in the totempg envelope (`exec/main.c`).
pub const EXEC_GROUP: &[u8] = b"a";
/// Group of messages the host sends and receives itself (test load, simulator workload).
/// corosync nodes have no handler for it and ignore it.
pub const APP_GROUP: &[u8] = b"ferrosync.app";

/// Messages waiting for room in totem's send queue before clients are told to back off.
const RING_OUT_HIGH: usize = 512;
/// Most messages waiting for totem; past it client sends are refused (TRY_AGAIN) and
/// asynchronous ones disconnect the client.
const RING_OUT_MAX: usize = 4096;
/// Most asynchronous client requests (cpg MCAST) held while synchronisation runs.
const DEFERRED_MAX: usize = 4096;
/// Most application messages held while synchronisation runs.
const APP_HELD_MAX: usize = 4096;

/// What the host sees happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeEvent {
    /// A totem event: configuration changes, state changes (agreed deliveries are
    /// consumed by the services and not repeated here).
    Totem(Event),
    /// A message of [`APP_GROUP`] in agreed order.
    AppDeliver { sender: NodeId, message: Bytes },
    /// Service synchronisation completed on this ring.
    SyncCompleted { ring_id: RingId },
}

/// Where the node stood when it produced a client message (observation for the
/// simulator's checkers; off unless [`Node::observe_client_messages`] turned it on).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    /// The last regular configuration.
    pub ring_id: RingId,
    /// Agreed deliveries (of any group) since that configuration, counting the one
    /// being handled: the same number at every member for the same message.
    pub agreed: u64,
    pub phase: RingPhase,
}

/// Where a node is in the life of its ring, as its services see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingPhase {
    /// Regular configuration installed, synchronisation running.
    Syncing,
    /// Synchronisation completed: the ring's service traffic flows.
    Synced,
    /// Transitional configuration delivered: the old ring's last messages.
    Transitional,
}

/// Counters for status output and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeStats {
    pub exec_rx: u64,
    pub exec_malformed: u64,
    pub sync_completed: u64,
    pub requests: u64,
    pub requests_refused: u64,
    pub clients_disconnected_for_backlog: u64,
}

/// One node's engine: totem plus services.
pub struct Node {
    totem: Totem,
    world: World,
    /// The services this node runs, in id order.
    services: Vec<Box<dyn Service>>,
    sync: Sync,
    /// Which service each client connection belongs to.
    conns: BTreeMap<ConnId, ServiceId>,
    /// Messages for totem that did not fit its send queue yet: (group, message). Held
    /// while synchronisation runs (they belong to the traffic synchronisation orders).
    ring_out: VecDeque<(&'static [u8], Vec<u8>)>,
    /// What the sync protocol and the services send while synchronisation runs
    /// (corosync's `new_message_queue_trans`): goes out first.
    sync_out: VecDeque<(&'static [u8], Vec<u8>)>,
    /// Asynchronous client requests held during synchronisation.
    deferred: VecDeque<(ConnId, Vec<u8>)>,
    /// Application messages held during synchronisation.
    app_held: VecDeque<Vec<u8>>,
    events: VecDeque<NodeEvent>,
    /// Connections are refused until the first synchronisation completed (corosync's
    /// `ipc_allow_connections`).
    ready: bool,
    quorum_generation: u64,
    /// The host changed a service directly: tell the services about map changes even if
    /// the main map did not change (the stats map lives in cmap).
    poked: bool,
    stats: NodeStats,
    now: Instant,
    /// Stamps of the client messages not yet polled (`Some` when observed).
    stamps: Option<VecDeque<Stamp>>,
    /// Agreed deliveries since the last regular configuration.
    ring_delivered: u64,
    /// A transitional configuration came after the last regular one.
    transitional: bool,
    /// Test knob: asynchronous client requests are not held during synchronisation.
    unhold_during_sync: bool,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("node_id", &self.world.node_id)
            .field("ring_id", &self.world.ring_id)
            .field("sync_in_process", &self.world.sync_in_process)
            .finish_non_exhaustive()
    }
}

impl Node {
    /// A node around `totem` with the configuration map `icmap`, running the services
    /// `make` builds (any order; at most one per id). `make` gets the node's context:
    /// services read their configuration from the map and may queue messages for the
    /// first ring (votequorum's first NODEINFO).
    pub fn new<E>(
        mut totem: Totem,
        icmap: crate::Icmap,
        make: impl FnOnce(&mut crate::Ctx<'_>) -> Result<Vec<Box<dyn Service>>, E>,
    ) -> Result<Node, E> {
        totem.set_trans_ack_mode(true);
        let mut world = World::new(totem.node_id());
        world.icmap = icmap;
        world.quorum.quorate = true;
        let mut services = make(&mut world.ctx(Instant::ZERO))?;
        services.sort_by_key(|s| s.id());
        assert!(
            services.windows(2).all(|w| w[0].id() != w[1].id()),
            "one service per id"
        );
        let mut node = Node {
            totem,
            world,
            services,
            sync: Sync::default(),
            conns: BTreeMap::new(),
            ring_out: VecDeque::new(),
            sync_out: VecDeque::new(),
            deferred: VecDeque::new(),
            app_held: VecDeque::new(),
            events: VecDeque::new(),
            ready: false,
            quorum_generation: 0,
            poked: false,
            stats: NodeStats::default(),
            now: Instant::ZERO,
            stamps: None,
            ring_delivered: 0,
            transitional: false,
            unhold_during_sync: false,
        };
        node.pump();
        Ok(node)
    }

    pub fn node_id(&self) -> NodeId {
        self.world.node_id
    }

    pub fn totem(&self) -> &Totem {
        &self.totem
    }

    /// The SRP state machine (membership, ring id, statistics).
    pub fn srp(&self) -> &totem::srp::Srp {
        self.totem.srp()
    }

    /// Resets the SRP counters (`stats.clear.totem`).
    pub fn clear_totem_stats(&mut self) {
        self.totem.clear_stats();
    }

    pub fn icmap(&self) -> &crate::Icmap {
        &self.world.icmap
    }

    /// Changes the map from the host (runtime keys, reloaded configuration); trackers
    /// are told at the next step.
    pub fn icmap_mut(&mut self) -> &mut crate::Icmap {
        &mut self.world.icmap
    }

    pub fn quorum(&self) -> &crate::QuorumView {
        &self.world.quorum
    }

    pub fn stats(&self) -> &NodeStats {
        &self.stats
    }

    /// The first synchronisation completed: clients may connect (corosync's
    /// `ipc_allow_connections`).
    pub fn ready(&self) -> bool {
        self.ready
    }

    /// Synchronisation is running: clients wait.
    pub fn sync_in_process(&self) -> bool {
        self.world.sync_in_process
    }

    /// The last regular configuration this node's services know.
    pub fn ring_id(&self) -> RingId {
        self.world.ring_id
    }

    /// Clients should stop sending (IPC flow control): synchronisation runs or the
    /// ring's send queue is backed up.
    pub fn flow_control(&self) -> bool {
        self.world.sync_in_process || self.ring_out.len() >= RING_OUT_HIGH
    }

    /// Whether the host should read more client requests: false while messages pile up
    /// for totem or held asynchronous requests wait (the host then leaves requests in the
    /// clients' IPC rings, which is the back-pressure that makes their sends fail with
    /// TRY_AGAIN instead of the node queueing without bound).
    pub fn wants_requests(&self) -> bool {
        self.ring_out.len() < RING_OUT_HIGH && self.deferred.len() < RING_OUT_HIGH
    }

    /// A service by id, for the host's status output.
    pub fn service(&self, id: ServiceId) -> Option<&dyn Service> {
        self.services.iter().find(|s| s.id() == id).map(|s| s.as_ref())
    }

    /// A service by type, read-only.
    pub fn service_ref<T: Service>(&self) -> Option<&T> {
        self.services
            .iter()
            .find_map(|s| s.as_ref().as_any().downcast_ref::<T>())
    }

    /// Runs `f` on the service of type `T` (the host's side of a service's own API:
    /// stats, link status, reload results), then moves what it produced.
    pub fn with_service<T: Service, R>(
        &mut self,
        now: Instant,
        f: impl FnOnce(&mut T, &mut crate::Ctx<'_>) -> R,
    ) -> Option<R> {
        self.now = now;
        let i = self
            .services
            .iter()
            .position(|s| s.as_ref().as_any().downcast_ref::<T>().is_some())?;
        let mut ctx = self.world.ctx(now);
        let svc = self.services[i]
            .as_mut()
            .as_any_mut()
            .downcast_mut::<T>()
            .expect("found above");
        let r = f(svc, &mut ctx);
        self.poked = true;
        self.pump();
        Some(r)
    }

    // ---- inputs ----

    pub fn handle_packet(&mut self, now: Instant, bytes: &[u8]) -> Result<(), totem::wire::DecodeError> {
        self.now = now;
        let r = self.totem.handle_packet(now, bytes);
        self.pump();
        r
    }

    /// Like [`Node::handle_packet`] without copying the datagram.
    pub fn handle_datagram(&mut self, now: Instant, bytes: &Bytes) -> Result<(), totem::wire::DecodeError> {
        self.now = now;
        let r = self.totem.handle_datagram(now, bytes);
        self.pump();
        r
    }

    /// Runs every timer (totem's and the services') that is due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if self.totem.poll_timeout().is_some_and(|t| t <= now) {
            self.totem.handle_timeout(now);
        }
        for i in 0..self.services.len() {
            if self.services[i].poll_timeout().is_some_and(|t| t <= now) {
                let mut ctx = self.world.ctx(now);
                self.services[i].handle_timeout(&mut ctx);
            }
        }
        self.pump();
    }

    /// Leaves the ring cleanly.
    pub fn leave(&mut self, now: Instant) {
        self.now = now;
        for i in 0..self.services.len() {
            let mut ctx = self.world.ctx(now);
            self.services[i].leaving(&mut ctx);
        }
        self.pump();
        self.totem.leave(now);
        self.pump();
    }

    /// Sends an application message to every node's host ([`NodeEvent::AppDeliver`]),
    /// in agreed order. Held while synchronisation runs, like client messages.
    pub fn submit_app(&mut self, message: &[u8]) -> Result<(), SubmitError> {
        if self.totem.srp().is_stopped() {
            return Err(SubmitError::Stopped);
        }
        let framed = encode_groups(&[APP_GROUP], message);
        if framed.len() > totem::MESSAGE_MAX {
            return Err(SubmitError::TooLarge {
                len: message.len(),
                max: totem::MESSAGE_MAX - (framed.len() - message.len()),
            });
        }
        if self.world.sync_in_process {
            if self.app_held.len() >= APP_HELD_MAX {
                return Err(SubmitError::QueueFull);
            }
            self.app_held.push_back(message.to_vec());
            return Ok(());
        }
        if !self.ring_out.is_empty() {
            // Behind what is already waiting, so the order is kept.
            if self.ring_out.len() >= RING_OUT_MAX {
                return Err(SubmitError::QueueFull);
            }
            self.ring_out.push_back((APP_GROUP, message.to_vec()));
            return Ok(());
        }
        self.totem.submit(&framed)
    }

    /// A client connected to `service`. `Err`: refuse it (not ready yet, or the
    /// service refused).
    pub fn client_connected(
        &mut self,
        now: Instant,
        conn: ConnId,
        service: ServiceId,
        creds: Credentials,
    ) -> Result<(), CsError> {
        self.now = now;
        if !self.ready {
            tracing::debug!(%conn, "denied connection, not ready (first synchronisation pending)");
            return Err(CsError::TryAgain);
        }
        let Some(i) = self.index(service) else {
            return Err(CsError::NotExist);
        };
        let mut ctx = self.world.ctx(now);
        self.services[i].connect(&mut ctx, conn, creds)?;
        self.conns.insert(conn, service);
        self.pump();
        Ok(())
    }

    /// One request of a connected client (the whole message, header included).
    pub fn client_request(&mut self, now: Instant, conn: ConnId, msg: &[u8]) {
        self.now = now;
        self.request(conn, msg);
        self.pump();
    }

    /// The client is gone.
    pub fn client_disconnected(&mut self, now: Instant, conn: ConnId) {
        self.now = now;
        let Some(service) = self.conns.remove(&conn) else {
            return;
        };
        self.deferred.retain(|(c, _)| *c != conn);
        if let Some(i) = self.index(service) {
            let mut ctx = self.world.ctx(now);
            self.services[i].disconnect(&mut ctx, conn);
        }
        // What a departing client leaves behind (cpg's PROCLEAVE) is client traffic:
        // it queues behind the client's earlier messages even during synchronisation.
        // (corosync sends it with the synchronisation traffic then, so a leave could
        // overtake the same process's join still waiting for the ring, and every node
        // kept the process as a member forever.)
        self.ring_out
            .extend(self.world.out.mcast.drain(..).map(|m| (EXEC_GROUP, m)));
        self.pump();
    }

    // ---- outputs ----

    pub fn poll_ring_seq_to_store(&mut self) -> Option<u64> {
        self.totem.poll_ring_seq_to_store()
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.totem.poll_transmit()
    }

    pub fn poll_client_message(&mut self) -> Option<ClientMessage> {
        self.poll_client_message_stamped().map(|(m, _)| m)
    }

    /// The messages for local clients waiting to be polled, oldest first.
    pub fn pending_client_messages(&self) -> impl ExactSizeIterator<Item = &ClientMessage> {
        self.world.out.clients.iter()
    }

    /// Hands back a [`ClientMessage`]'s buffer once the host sent it on: the services
    /// write their next messages in it instead of a new allocation each.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        self.world.out.recycle(buf);
    }

    /// Records a [`Stamp`] for every client message from now on (an observer's hook;
    /// the daemon does not use it).
    pub fn observe_client_messages(&mut self) {
        if self.stamps.is_none() {
            self.stamps = Some(VecDeque::new());
            self.stamp();
        }
    }

    /// Like [`Node::poll_client_message`], with where the node stood when it produced
    /// the message (`None` unless observed).
    pub fn poll_client_message_stamped(&mut self) -> Option<(ClientMessage, Option<Stamp>)> {
        let m = self.world.out.clients.pop_front()?;
        let stamp = self.stamps.as_mut().and_then(|s| s.pop_front());
        Some((m, stamp))
    }

    /// Test knob (a planted bug for the simulator's checkers): handle asynchronous
    /// client requests (cpg MCAST) during synchronisation instead of holding them.
    #[doc(hidden)]
    pub fn set_unhold_during_sync(&mut self, on: bool) {
        self.unhold_during_sync = on;
    }

    fn here(&self) -> Stamp {
        Stamp {
            ring_id: self.world.ring_id,
            agreed: self.ring_delivered,
            phase: if self.transitional {
                RingPhase::Transitional
            } else if self.world.sync_in_process {
                RingPhase::Syncing
            } else {
                RingPhase::Synced
            },
        }
    }

    /// Stamps the client messages produced since the last call.
    fn stamp(&mut self) {
        let here = self.here();
        if let Some(s) = self.stamps.as_mut() {
            let n = self.world.out.clients.len();
            while s.len() < n {
                s.push_back(here);
            }
        }
    }

    pub fn poll_action(&mut self) -> Option<HostAction> {
        self.world.out.actions.pop_front()
    }

    pub fn poll_event(&mut self) -> Option<NodeEvent> {
        self.events.pop_front()
    }

    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let services = self.services.iter().filter_map(|s| s.poll_timeout()).min();
        match (self.totem.poll_timeout(), services) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ---- internals ----

    fn index(&self, id: ServiceId) -> Option<usize> {
        self.services.iter().position(|s| s.id() == id)
    }

    fn index_raw(&self, id: i32) -> Option<usize> {
        self.services.iter().position(|s| s.id() as i32 == id)
    }

    /// Handles one client request.
    fn request(&mut self, conn: ConnId, msg: &[u8]) {
        let Some(&service) = self.conns.get(&conn) else {
            return;
        };
        let i = self.index(service).expect("connected services exist");
        self.stats.requests += 1;
        let header = match Header::parse(msg, false) {
            Ok(h) if h.id >= 0 => h,
            Ok(h) => {
                self.refuse(conn, false, CsError::InvalidParam, "negative request id", h.id);
                return;
            }
            Err(e) => {
                tracing::warn!(%conn, error = %e, "malformed request, disconnecting the client");
                self.disconnect_client(conn);
                return;
            }
        };
        let svc = &self.services[i];
        let is_async = svc.is_async(header.id);
        let Some(fc) = svc.flow_control(header.id) else {
            self.refuse(conn, is_async, CsError::InvalidParam, "unknown request id", header.id);
            return;
        };
        if fc == FlowControl::Required && !is_async && self.deferred.iter().any(|(c, _)| *c == conn) {
            // The client's held multicasts go first: a LEAVE must not overtake them (they
            // would then go out under the pid of the client's next join).
            self.refuse(conn, false, CsError::TryAgain, "earlier messages still held", header.id);
            return;
        }
        let waiting = (self.world.sync_in_process && !(is_async && self.unhold_during_sync))
            || self.ring_out.len() >= RING_OUT_MAX;
        if fc == FlowControl::Required && waiting {
            if !is_async {
                self.refuse(conn, false, CsError::TryAgain, "synchronising or backlogged", header.id);
                return;
            }
            if self.deferred.len() >= DEFERRED_MAX || self.ring_out.len() >= RING_OUT_MAX {
                tracing::warn!(%conn, ring_out = self.ring_out.len(), deferred = self.deferred.len(), sync = self.world.sync_in_process, "client keeps sending while the ring cannot take it; disconnecting it");
                self.stats.clients_disconnected_for_backlog += 1;
                self.disconnect_client(conn);
                return;
            }
            // Held, not lost: handled in order once the ring can take it.
            self.deferred.push_back((conn, msg.to_vec()));
            return;
        }
        if is_async && !self.deferred.is_empty() {
            // Never overtake this client's held messages.
            self.deferred.push_back((conn, msg.to_vec()));
            return;
        }
        let mut ctx = self.world.ctx(self.now);
        self.services[i].request(&mut ctx, conn, header.id, msg);
    }

    /// Drops a client the node will not serve any more: the host closes its connection
    /// and the services forget it now, so the rest of its requests already read are not
    /// looked at (each would be refused and logged again).
    fn disconnect_client(&mut self, conn: ConnId) {
        self.world.out.action(HostAction::Disconnect { conn });
        self.client_disconnected(self.now, conn);
    }

    fn refuse(&mut self, conn: ConnId, is_async: bool, error: CsError, why: &str, id: i32) {
        self.stats.requests_refused += 1;
        tracing::debug!(%conn, id, why, ?error, "request refused");
        if !is_async {
            let reply = Writer::response(0, RESPONSE_HEADER, error).finish();
            self.world.out.respond(conn, reply);
        }
    }

    /// Moves everything between totem and the services until nothing changes.
    fn pump(&mut self) {
        self.stamp();
        loop {
            let mut progressed = false;
            while let Some(event) = self.totem.poll_event() {
                progressed = true;
                self.totem_event(event);
                self.stamp();
            }
            if self.sync.wants_process() {
                if let Some(i) = self.sync.current_local().and_then(|s| self.index_raw(s)) {
                    let mut ctx = self.world.ctx(self.now);
                    let progress = self.services[i].sync_process(&mut ctx);
                    let cmds = self.sync.processed(progress);
                    progressed |= !cmds.is_empty();
                    self.run_sync(cmds);
                }
            }
            let changes = self.world.icmap.take_changes();
            if !changes.is_empty() || std::mem::take(&mut self.poked) {
                let changes: Vec<_> = changes.into();
                for i in 0..self.services.len() {
                    let mut ctx = self.world.ctx(self.now);
                    self.services[i].icmap_changed(&mut ctx, &changes);
                }
                progressed = true;
            }
            if self.world.quorum.generation != self.quorum_generation {
                self.quorum_generation = self.world.quorum.generation;
                for i in 0..self.services.len() {
                    let mut ctx = self.world.ctx(self.now);
                    self.services[i].quorum_changed(&mut ctx);
                }
                progressed = true;
            }
            self.collect_mcasts();
            progressed |= self.flush_ring_out();
            progressed |= self.release_deferred();
            self.stamp();
            if !progressed {
                return;
            }
        }
    }

    /// Moves what the services multicast into the queue of the current phase.
    fn collect_mcasts(&mut self) {
        let queue = if self.world.sync_in_process {
            &mut self.sync_out
        } else {
            &mut self.ring_out
        };
        queue.extend(self.world.out.mcast.drain(..).map(|m| (EXEC_GROUP, m)));
    }

    /// Hands queued messages to totem while it has room: synchronisation traffic
    /// first, the rest only once synchronisation completed. True if any went.
    fn flush_ring_out(&mut self) -> bool {
        let mut any = submit_queue(&mut self.totem, &mut self.sync_out, &mut self.world.out);
        if !self.world.sync_in_process {
            any |= submit_queue(&mut self.totem, &mut self.ring_out, &mut self.world.out);
        }
        any
    }

    fn totem_event(&mut self, event: Event) {
        match event {
            Event::Deliver { sender, message } => self.deliver(sender, message),
            Event::Configuration(change) => {
                self.confchg(&change);
                self.events.push_back(NodeEvent::Totem(Event::Configuration(change)));
            }
            other => self.events.push_back(NodeEvent::Totem(other)),
        }
    }

    fn confchg(&mut self, change: &ConfigurationChange) {
        if let Some(s) = self.sync.confchg_started() {
            if let Some(i) = self.index_raw(s) {
                let mut ctx = self.world.ctx(self.now);
                self.services[i].sync_abort(&mut ctx);
            }
        }
        self.stamp();
        self.world.sync_in_process = true;
        self.transitional = change.kind == ConfigurationKind::Transitional;
        if change.kind == ConfigurationKind::Regular {
            self.world.ring_id = change.ring_id;
            self.world.members = change.members.clone();
            self.ring_delivered = 0;
        }
        for i in 0..self.services.len() {
            let mut ctx = self.world.ctx(self.now);
            self.services[i].confchg(&mut ctx, change);
        }
        match change.kind {
            ConfigurationKind::Transitional => self.sync.save_transitional(&change.members),
            ConfigurationKind::Regular => {
                let local: Vec<i32> = self
                    .services
                    .iter()
                    .filter(|s| s.syncs())
                    .map(|s| s.id() as i32)
                    .collect();
                let cmds = self.sync.start(&change.members, change.ring_id, &local);
                self.run_sync(cmds);
            }
        }
    }

    fn deliver(&mut self, sender: NodeId, message: Bytes) {
        self.stamp();
        self.ring_delivered += 1;
        let (group, payload) = match decode_single_group(&message) {
            Some(one) => one,
            None => {
                self.stats.exec_malformed += 1;
                return;
            }
        };
        if group == SYNC_GROUP {
            match SyncMessage::decode(payload) {
                Ok(m) => {
                    let cmds = self.sync.deliver(sender, &m);
                    self.run_sync(cmds);
                }
                Err(e) => {
                    self.stats.exec_malformed += 1;
                    tracing::warn!(sender, error = %e, "malformed sync message");
                }
            }
        } else if group == EXEC_GROUP {
            self.stats.exec_rx += 1;
            if let Err(e) = self.exec(sender, payload) {
                self.stats.exec_malformed += 1;
                tracing::warn!(sender, error = %e, "malformed exec message ignored");
            }
        } else if group == APP_GROUP {
            let start = message.len() - payload.len();
            self.events.push_back(NodeEvent::AppDeliver {
                sender,
                message: message.slice(start..),
            });
        }
    }

    fn exec(&mut self, sender: NodeId, msg: &[u8]) -> Result<(), WireError> {
        let h = Header::parse(msg, false)?;
        let service = h.id >> 16;
        let function = (h.id & 0xffff) as u16;
        let Some(i) = self.index_raw(service) else {
            tracing::debug!(sender, id = h.id, "exec message for a service we do not run");
            return Ok(());
        };
        let mut ctx = self.world.ctx(self.now);
        self.services[i].deliver(&mut ctx, sender, function, msg, false)
    }

    fn run_sync(&mut self, cmds: Vec<SyncCommand>) {
        for cmd in cmds {
            match cmd {
                SyncCommand::Send(m) => {
                    self.collect_mcasts();
                    self.sync_out.push_back((SYNC_GROUP, m.encode()));
                }
                SyncCommand::Init {
                    services,
                    trans,
                    members,
                    ring,
                } => {
                    for s in services {
                        if let Some(i) = self.index_raw(s) {
                            let mut ctx = self.world.ctx(self.now);
                            self.services[i].sync_init(&mut ctx, &trans, &members, ring);
                        }
                    }
                }
                SyncCommand::Activate(s) => {
                    if let Some(i) = self.index_raw(s) {
                        let mut ctx = self.world.ctx(self.now);
                        self.services[i].sync_activate(&mut ctx);
                    }
                }
                SyncCommand::Completed => self.sync_completed(),
            }
        }
    }

    fn sync_completed(&mut self) {
        // What the services sent while synchronising goes before the held messages.
        self.stamp();
        self.collect_mcasts();
        self.flush_ring_out();
        self.world.sync_in_process = false;
        self.ready = true;
        self.stats.sync_completed += 1;
        self.totem.trans_ack();
        for m in std::mem::take(&mut self.app_held) {
            self.ring_out.push_back((APP_GROUP, m));
        }
        self.events.push_back(NodeEvent::SyncCompleted {
            ring_id: self.world.ring_id,
        });
        self.release_deferred();
    }

    /// Handles held asynchronous requests while the ring can take them; true if any.
    fn release_deferred(&mut self) -> bool {
        let mut any = false;
        while !self.world.sync_in_process && self.ring_out.len() < RING_OUT_HIGH {
            let Some((conn, msg)) = self.deferred.pop_front() else {
                break;
            };
            any = true;
            let Some(&service) = self.conns.get(&conn) else {
                continue;
            };
            let i = self.index(service).expect("connected services exist");
            let id = Header::parse(&msg, false).map(|h| h.id).unwrap_or(-1);
            let mut ctx = self.world.ctx(self.now);
            self.services[i].request(&mut ctx, conn, id, &msg);
            self.collect_mcasts();
        }
        any
    }
}

/// Submits the front of `queue` to totem until it pushes back; true if any went.
/// The buffers of the messages that went are handed back to `out` for reuse.
fn submit_queue(totem: &mut Totem, queue: &mut VecDeque<(&'static [u8], Vec<u8>)>, out: &mut Outbox) -> bool {
    let mut any = false;
    while let Some((group, m)) = queue.front() {
        // The envelope is `u16 1, u16 len`, the name, then the message. Checked first: a
        // message the ring cannot take yet is not framed for nothing.
        let framed_len = 4 + group.len() + m.len();
        let submitted = totem.check_submit(framed_len).and_then(|()| {
            let framed = encode_groups(&[group], m);
            debug_assert_eq!(framed.len(), framed_len);
            totem.submit_bytes(framed.into())
        });
        match submitted {
            Ok(()) => any = true,
            Err(SubmitError::QueueFull) => break,
            Err(e) => tracing::warn!(error = %e, len = m.len(), "message dropped by totem"),
        }
        if let Some((_, m)) = queue.pop_front() {
            out.recycle(m);
        }
    }
    any
}

//! What services produce: messages for the ring, replies and events for clients, and
//! requests to the host. Drained by [`crate::Node`] after every input.

use std::collections::VecDeque;

use crate::ids::ConnId;

/// A message for one client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMessage {
    pub conn: ConnId,
    pub kind: ClientMessageKind,
    /// The whole message, response header included.
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientMessageKind {
    /// The reply to the request being handled (response ring).
    Response,
    /// An asynchronous event (event ring, dispatch).
    Event,
}

/// Something only the host can do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostAction {
    /// Leave the ring and exit (cfg shutdown, or a kill-node request for this node).
    Shutdown { reason: String },
    /// Reopen log files (cfg REOPEN_LOG_FILES).
    ReopenLogs,
    /// Re-read the configuration file (cfg RELOAD_CONFIG); the host answers with
    /// [`crate::Node::config_reloaded`].
    ReloadConfig { conn: Option<ConnId> },
    /// Disconnect a client (misbehaving, or finalized).
    Disconnect { conn: ConnId },
}

/// Message buffers kept for reuse (see [`Outbox::recycle`]), in bytes of capacity: a
/// token visit delivers up to some hundreds of messages at once, and their events are
/// handed back together…
const SPARE_BYTES: usize = 512 << 10;
/// …each of at most this capacity (a rare large one does not stay allocated).
const SPARE_BUFFER_MAX: usize = 64 << 10;

/// Effects of one step. Bounded by the caller: it is drained after every input.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Exec messages to multicast in agreed order (header included; the node adds the
    /// group envelope).
    pub mcast: VecDeque<Vec<u8>>,
    pub clients: VecDeque<ClientMessage>,
    pub actions: VecDeque<HostAction>,
    /// Buffers of messages already sent on, for the next ones: the hot path (a delivery
    /// event per message and node, an exec message per multicast) then allocates nothing.
    spare: Vec<Vec<u8>>,
    /// Capacity of the buffers in `spare`.
    spare_bytes: usize,
}

impl Outbox {
    /// An empty buffer, with the allocation of an earlier message if one was handed back.
    pub fn buffer(&mut self) -> Vec<u8> {
        let buf = self.spare.pop().unwrap_or_default();
        self.spare_bytes -= buf.capacity();
        buf
    }

    /// Keeps `buf`'s allocation for [`Outbox::buffer`] (up to a bound).
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        let cap = buf.capacity();
        if cap <= SPARE_BUFFER_MAX && self.spare_bytes + cap <= SPARE_BYTES {
            buf.clear();
            self.spare_bytes += cap;
            self.spare.push(buf);
        }
    }

    pub fn mcast(&mut self, msg: Vec<u8>) {
        self.mcast.push_back(msg);
    }

    pub fn respond(&mut self, conn: ConnId, data: Vec<u8>) {
        self.clients.push_back(ClientMessage {
            conn,
            kind: ClientMessageKind::Response,
            data,
        });
    }

    pub fn event(&mut self, conn: ConnId, data: Vec<u8>) {
        self.clients.push_back(ClientMessage {
            conn,
            kind: ClientMessageKind::Event,
            data,
        });
    }

    pub fn action(&mut self, a: HostAction) {
        self.actions.push_back(a);
    }
}

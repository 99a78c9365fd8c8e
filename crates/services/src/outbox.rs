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

/// Effects of one step. Bounded by the caller: it is drained after every input.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Exec messages to multicast in agreed order (header included; the node adds the
    /// group envelope).
    pub mcast: VecDeque<Vec<u8>>,
    pub clients: VecDeque<ClientMessage>,
    pub actions: VecDeque<HostAction>,
}

impl Outbox {
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

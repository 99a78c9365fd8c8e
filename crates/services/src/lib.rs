//! corosync's services as sans-IO state machines, and the host core that drives them
//! together with totem.
//!
//! The daemon (`engine`) and the simulator (`sim`) both run a [`Node`]: it owns the
//! [`totem::Totem`] instance and the services (sync, cpg, cmap, votequorum, quorum,
//! cfg), routes agreed deliveries to them, runs corosync's synchronisation protocol on
//! every configuration change, and turns client requests into exec messages and
//! replies. The host only moves bytes: datagrams, client messages, timers. So the
//! simulator runs exactly the daemon's code.
//!
//! Wire formats are corosync 3.1.7's (x86_64 layouts, native byte order): exec messages
//! in `shared/reference/totem-wire.md` §9–11, IPC messages in `libqb-ipc.md` §6–7.

pub mod cfg;
pub mod cmap;
pub mod cpg;
pub mod error;
pub mod icmap;
pub mod ids;
pub mod node;
#[cfg(test)]
mod node_tests;
pub mod outbox;
pub mod quorum;
pub mod quorum_view;
pub mod service;
pub mod standard;
pub mod sync;
pub mod votequorum;
pub mod wire;
pub mod world;

pub use error::{CsError, WireError};
pub use icmap::{Icmap, Value};
pub use ids::{ConnId, Credentials, ProcessId, ServiceId};
pub use node::{Node, NodeEvent, NodeStats, RingPhase, Stamp};
pub use outbox::{ClientMessage, ClientMessageKind, HostAction, Outbox};
pub use quorum_view::QuorumView;
pub use service::{Ctx, FlowControl, Service, SyncProgress};
pub use standard::standard;
pub use world::World;

//! Sans-IO Totem: the single-ring ordering and membership protocol with extended
//! virtual synchrony, as corosync 3.1.7 runs it over udpu.
//!
//! The crate has no sockets, clocks, threads or global RNG. A host drives a
//! [`Totem`] instance like this (the order matters):
//!
//! 1. feed input: [`Totem::handle_packet`] for every datagram, [`Totem::handle_timeout`]
//!    when the deadline from [`Totem::poll_timeout`] has passed, [`Totem::submit`] for
//!    application messages;
//! 2. persist [`Totem::poll_ring_seq_to_store`] if it returns a seq, then drain
//!    [`Totem::poll_transmit`] and send each datagram;
//! 3. drain [`Totem::poll_event`] (deliveries, configuration changes, ring ids to persist);
//! 4. sleep until [`Totem::poll_timeout`] or the next datagram.

pub mod config;
pub mod pg;
pub mod srp;
pub mod time;
pub mod wire;

mod node;

pub use config::{Config, ConfigError};
pub use node::{SubmitError, Totem, MESSAGE_MAX};
pub use srp::{ConfigurationChange, ConfigurationKind, Event, MembState, Stats, FAILED_TO_RECEIVE};
pub use time::Instant;
pub use wire::{NodeId, RingId};

/// Where a datagram goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Destination {
    /// Unicast to one node (tokens and commit tokens go to the next member of the ring).
    Node(NodeId),
    /// To every node of the nodelist except this one (udpu "multicast").
    AllNodes,
}

/// A datagram the host must send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    pub destination: Destination,
    pub payload: bytes::Bytes,
}

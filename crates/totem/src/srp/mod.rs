//! Totem SRP: token ordering, retransmission, flow control and the membership
//! protocol (GATHER → COMMIT → RECOVERY → OPERATIONAL) with EVS delivery.
//! Follows corosync 3.1.7's `exec/totemsrp.c` behaviour; see `reference/totem-wire.md`.

mod events;

pub use events::{ConfigurationChange, ConfigurationKind, Event, MembState, Stats};

use std::collections::VecDeque;

use bytes::Bytes;

use crate::config::Config;
use crate::time::Instant;
use crate::wire::{Decoded, NodeId, OrfToken, RingId};
use crate::Transmit;

/// The SRP state machine of one node.
#[derive(Debug)]
pub struct Srp {
    config: Config,
    my_id: NodeId,
    state: MembState,
    ring_id: RingId,
    stopped: bool,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    new_frames: VecDeque<Bytes>,
    stats: Stats,
}

impl Srp {
    pub fn new(config: Config, my_id: NodeId, stored_ring_seq: u64, _rng_seed: u64, _now: Instant) -> Self {
        Srp {
            config,
            my_id,
            state: MembState::Gather,
            ring_id: RingId { rep: my_id, seq: stored_ring_seq },
            stopped: false,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            new_frames: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    pub fn node_id(&self) -> NodeId {
        self.my_id
    }
    pub fn state(&self) -> MembState {
        self.state
    }
    pub fn ring_id(&self) -> RingId {
        self.ring_id
    }
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }
    pub fn count_malformed(&mut self) {
        self.stats.malformed_rx += 1;
    }
    pub fn token_is_for_me(&self, token: &OrfToken) -> bool {
        token.ring_id == self.ring_id
    }
    pub fn send_queue_space(&self) -> usize {
        self.config.send_queue_max.saturating_sub(self.new_frames.len())
    }
    pub fn submit_frame(&mut self, frame: Bytes) {
        self.new_frames.push_back(frame);
    }
    pub fn wake(&mut self) {}
    pub fn leave(&mut self, _now: Instant) {
        self.stopped = true;
    }
    pub fn handle_message(&mut self, _now: Instant, _msg: Decoded) {}
    pub fn handle_timeout(&mut self, _now: Instant) {}
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}

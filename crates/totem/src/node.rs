//! [`Totem`]: the SRP state machine with totempg packing on top — the unit a host drives.

use bytes::Bytes;

use crate::config::Config;
use crate::pg::{Assembler, Packer};
use crate::srp::{ConfigurationKind, Event, Srp};
use crate::time::Instant;
use crate::wire::{self, Message, NodeId};
use crate::Transmit;

/// Why [`Totem::submit`] refused a message. The message was not queued; nothing else changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The send queue is full; retry after the ring has made progress (back-pressure).
    #[error("send queue full, try again")]
    QueueFull,
    /// The message is larger than the configured maximum.
    #[error("message of {len} bytes exceeds the maximum of {max}")]
    TooLarge { len: usize, max: usize },
    /// The node has left the ring and sends nothing more.
    #[error("node has left the ring")]
    Stopped,
}

/// Largest application message accepted (corosync's IPC limit is 1 MiB).
pub const MESSAGE_MAX: usize = 1 << 20;

/// One Totem node: ordering, membership, packing and reassembly.
#[derive(Debug)]
pub struct Totem {
    srp: Srp,
    packer: Packer,
    assembler: Assembler,
    events: std::collections::VecDeque<Event>,
}

impl Totem {
    /// A node `node_id` that last persisted ring seq `stored_ring_seq` (0 when none).
    /// Everything random is drawn from `rng_seed`.
    pub fn new(config: Config, node_id: NodeId, stored_ring_seq: u64, rng_seed: u64, now: Instant) -> Self {
        let frame_mtu = config.frame_mtu;
        Totem {
            srp: Srp::new(config, node_id, stored_ring_seq, rng_seed, now),
            packer: Packer::new(frame_mtu),
            assembler: Assembler::new(MESSAGE_MAX),
            events: Default::default(),
        }
    }

    pub fn node_id(&self) -> NodeId {
        self.srp.node_id()
    }

    /// The SRP state machine (membership, ring id, statistics).
    pub fn srp(&self) -> &Srp {
        &self.srp
    }

    /// Feeds one received datagram. Malformed input is counted and dropped.
    pub fn handle_packet(&mut self, now: Instant, bytes: &[u8]) -> Result<(), wire::DecodeError> {
        let decoded = wire::decode(bytes);
        self.handle_decoded(now, decoded)
    }

    /// Like [`Totem::handle_packet`], without copying the payload out of `bytes`.
    pub fn handle_datagram(&mut self, now: Instant, bytes: &Bytes) -> Result<(), wire::DecodeError> {
        let decoded = wire::decode_shared(bytes);
        self.handle_decoded(now, decoded)
    }

    fn handle_decoded(
        &mut self,
        now: Instant,
        decoded: Result<wire::Decoded, wire::DecodeError>,
    ) -> Result<(), wire::DecodeError> {
        let decoded = match decoded {
            Ok(d) => d,
            Err(e) => {
                self.srp.count_malformed();
                return Err(e);
            }
        };
        if let Message::OrfToken(token) = &decoded.message {
            if self.packer.has_partial() && self.srp.token_is_for_me(token) {
                // Close the frame being packed so this token visit can send it.
                self.packer.flush();
                self.move_frames();
            }
        }
        self.srp.handle_message(now, decoded);
        Ok(())
    }

    /// Runs expired timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.srp.handle_timeout(now);
    }

    /// Queues an application message for agreed delivery to every member.
    pub fn submit(&mut self, message: &[u8]) -> Result<(), SubmitError> {
        if self.srp.is_stopped() {
            return Err(SubmitError::Stopped);
        }
        if message.len() > MESSAGE_MAX {
            return Err(SubmitError::TooLarge {
                len: message.len(),
                max: MESSAGE_MAX,
            });
        }
        if self.srp.send_queue_space() < self.packer.frames_needed(message.len()) {
            return Err(SubmitError::QueueFull);
        }
        self.packer.push(message);
        self.move_frames();
        self.srp.wake();
        Ok(())
    }

    /// Leaves the ring cleanly: the others re-form at once instead of after a token timeout.
    pub fn leave(&mut self, now: Instant) {
        self.srp.leave(now);
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.srp.poll_transmit()
    }

    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.srp.poll_timeout()
    }

    /// Next event: application messages arrive whole, reassembled from frames.
    pub fn poll_event(&mut self) -> Option<Event> {
        loop {
            if let Some(e) = self.events.pop_front() {
                return Some(e);
            }
            match self.srp.poll_event()? {
                Event::DeliverFrame {
                    sender,
                    frame,
                    foreign_endian,
                } => {
                    let events = &mut self.events;
                    let mut deliver = |message: Bytes| events.push_back(Event::Deliver { sender, message });
                    if self
                        .assembler
                        .push_frame(sender, &frame, foreign_endian, &mut deliver)
                        .is_err()
                    {
                        self.srp.count_malformed();
                    }
                }
                Event::Configuration(change) => {
                    if change.kind == ConfigurationKind::Transitional {
                        for left in &change.left {
                            self.assembler.forget(*left);
                        }
                    }
                    return Some(Event::Configuration(change));
                }
                other => return Some(other),
            }
        }
    }

    fn move_frames(&mut self) {
        while let Some(frame) = self.packer.pop_frame() {
            self.srp.submit_frame(frame);
        }
    }
}

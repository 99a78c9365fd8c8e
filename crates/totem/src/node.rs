//! [`Totem`]: the SRP state machine with totempg packing on top — the unit a host drives.
//!
//! Messages larger than a frame are split across frames, and a configuration change
//! can fall between two of them. To keep virtual synchrony for whole messages, every
//! node drops all partially reassembled messages at each regular configuration (nodes
//! that move together hold identical partials then), and every sender packs again,
//! whole, each of its messages that still had frames unsent on the old ring.

use std::collections::VecDeque;

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

/// An own message not yet completely sent on a ring.
#[derive(Debug)]
struct Unsent {
    /// Number (in hand-over order to SRP) of the frame that carries its end.
    last_frame: u64,
    message: Bytes,
}

/// One Totem node: ordering, membership, packing and reassembly.
#[derive(Debug)]
pub struct Totem {
    srp: Srp,
    packer: Packer,
    assembler: Assembler,
    events: VecDeque<Event>,
    /// Own messages with frames still unsent, oldest first.
    unsent: VecDeque<Unsent>,
    /// Frames handed to SRP so far.
    frames_queued: u64,
    /// Hold back old messages after a regular configuration until [`Totem::trans_ack`]
    /// (corosync's `waiting_trans_ack`), so that service synchronisation runs first.
    trans_ack_mode: bool,
    /// A regular configuration was installed and the host has not acknowledged it yet.
    waiting_trans_ack: bool,
    /// Own messages queued before the configuration change, sent after `trans_ack`.
    held: VecDeque<Bytes>,
    /// Regular configurations installed by SRP, and handed to the host by `poll_event`:
    /// while the host is behind, its `trans_ack` is for an older ring.
    regulars_installed: u64,
    regulars_polled: u64,
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
            events: VecDeque::new(),
            unsent: VecDeque::new(),
            frames_queued: 0,
            trans_ack_mode: false,
            waiting_trans_ack: false,
            held: VecDeque::new(),
            regulars_installed: 0,
            regulars_polled: 0,
        }
    }

    /// Turns on corosync's synchronisation hold: from each regular configuration on, the
    /// messages that were queued but not yet sent are held back, and only what is
    /// submitted afterwards (the services' synchronisation messages) goes out, until the
    /// host calls [`Totem::trans_ack`]. Without it, old messages are sent at once.
    /// Like corosync, a node starts out waiting (nothing has been synchronised yet), so
    /// what is submitted before the first ring goes out on it at once.
    pub fn set_trans_ack_mode(&mut self, on: bool) {
        self.trans_ack_mode = on;
        if on {
            self.waiting_trans_ack = true;
        } else {
            self.trans_ack();
        }
    }

    /// True between a regular configuration and [`Totem::trans_ack`] (trans-ack mode only).
    pub fn waiting_trans_ack(&self) -> bool {
        self.waiting_trans_ack
    }

    /// Synchronisation has completed: the held messages go out now, before anything
    /// submitted later (corosync's `totempg_trans_ack`).
    ///
    /// An acknowledgement that comes while a newer regular configuration is still
    /// waiting in [`Totem::poll_event`] is for an older ring (its synchronisation
    /// completed on messages delivered during the transition) and is ignored: the held
    /// messages wait for the synchronisation of the ring they will be sent on.
    pub fn trans_ack(&mut self) {
        if self.trans_ack_mode && self.regulars_polled < self.regulars_installed {
            return;
        }
        self.waiting_trans_ack = false;
        for message in std::mem::take(&mut self.held) {
            self.pack(message);
        }
        self.srp.wake();
    }

    /// Messages held back until [`Totem::trans_ack`].
    pub fn held_messages(&self) -> usize {
        self.held.len()
    }

    /// Own messages not yet fully sent: what the next token visits will carry.
    pub fn unsent_messages(&self) -> usize {
        self.unsent.len()
    }

    pub fn node_id(&self) -> NodeId {
        self.srp.node_id()
    }

    /// The SRP state machine (membership, ring id, statistics).
    pub fn srp(&self) -> &Srp {
        &self.srp
    }

    /// Resets the SRP counters ([`Srp::clear_stats`]).
    pub fn clear_stats(&mut self) {
        self.srp.clear_stats();
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
        self.after_srp();
        Ok(())
    }

    /// Runs expired timers.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.srp.handle_timeout(now);
        self.after_srp();
    }

    /// Queues an application message for agreed delivery to every member.
    pub fn submit(&mut self, message: &[u8]) -> Result<(), SubmitError> {
        self.check_submit(message.len())?;
        self.pack(Bytes::copy_from_slice(message));
        self.srp.wake();
        Ok(())
    }

    /// [`Totem::submit`] for a message the caller hands over: not copied.
    pub fn submit_bytes(&mut self, message: Bytes) -> Result<(), SubmitError> {
        self.check_submit(message.len())?;
        self.pack(message);
        self.srp.wake();
        Ok(())
    }

    /// Whether a message of `len` bytes can be queued now: what [`Totem::submit_bytes`]
    /// would answer, without building the message first.
    pub fn check_submit(&self, len: usize) -> Result<(), SubmitError> {
        if self.srp.is_stopped() {
            return Err(SubmitError::Stopped);
        }
        // Larger than the whole send queue holds: it would be refused for ever.
        let max = MESSAGE_MAX.min(self.packer.max_len_for(self.srp.send_queue_capacity()));
        if len > max {
            return Err(SubmitError::TooLarge { len, max });
        }
        if self.srp.send_queue_space() < self.packer.frames_needed(len) {
            return Err(SubmitError::QueueFull);
        }
        Ok(())
    }

    /// Leaves the ring cleanly: the others re-form at once instead of after a token timeout.
    pub fn leave(&mut self, now: Instant) {
        self.srp.leave(now);
    }

    /// A ring seq to write durably (corosync's `ringid_<nodeid>`) before sending anything
    /// from [`Totem::poll_transmit`]: a node that crashes after announcing a ring must not
    /// reuse its seq.
    pub fn poll_ring_seq_to_store(&mut self) -> Option<u64> {
        self.srp.poll_ring_seq_to_store()
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
                    if change.kind == ConfigurationKind::Regular {
                        self.assembler.forget_all();
                        self.regulars_polled += 1;
                    }
                    return Some(Event::Configuration(change));
                }
                other => return Some(other),
            }
        }
    }

    /// Packs one own message and records where it ends.
    fn pack(&mut self, message: Bytes) {
        self.packer.push(&message);
        self.move_frames();
        // Its end is in the frame still being packed, or in the last one handed over.
        let last_frame = if self.packer.has_partial() {
            self.frames_queued
        } else {
            self.frames_queued - 1
        };
        self.unsent.push_back(Unsent { last_frame, message });
    }

    fn move_frames(&mut self) {
        while let Some(frame) = self.packer.pop_frame() {
            self.srp.submit_frame(frame);
            self.frames_queued += 1;
        }
    }

    /// Bookkeeping after SRP ran: forget messages fully sent, and after a new regular
    /// configuration pack again the ones that were not.
    fn after_srp(&mut self) {
        let sent = self.srp.frames_originated();
        while self.unsent.front().is_some_and(|u| u.last_frame < sent) {
            self.unsent.pop_front();
        }
        if !self.srp.take_regular_installed() {
            return;
        }
        self.regulars_installed += 1;
        let dropped = self.srp.take_unsent_frames() as u64;
        self.frames_queued -= dropped;
        debug_assert_eq!(self.frames_queued, sent);
        self.packer = Packer::new(self.packer.frame_mtu());
        let unsent = std::mem::take(&mut self.unsent);
        if self.trans_ack_mode && !self.waiting_trans_ack {
            // Everything queued on the old ring waits for the synchronisation.
            self.waiting_trans_ack = true;
            self.held.extend(unsent.into_iter().map(|u| u.message));
            return;
        }
        // Not in trans-ack mode, or already synchronising (these are synchronisation-era
        // messages of an interrupted ring): send them again at once.
        for unsent in unsent {
            self.pack(unsent.message);
        }
    }
}

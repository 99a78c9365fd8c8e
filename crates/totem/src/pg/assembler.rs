//! Receiving side: per-sender reassembly (corosync's `totempg_deliver_fn`).

use std::collections::HashMap;

use bytes::{Bytes, BytesMut};

use super::frame::FrameView;
use super::FrameError;
use crate::wire::NodeId;

/// corosync's `MESSAGE_SIZE_MAX` (1 MiB), the default bound.
const DEFAULT_MAX_MESSAGE_LEN: usize = 1 << 20;

/// What the assembler dropped, for diagnostics.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct AssemblerStats {
    /// Frames that did not parse (nothing else happened to the sender's state).
    pub malformed: u64,
    /// Continuation numbers that did not follow the sender's previous frame: a
    /// message piece was lost and the sender's assembly re-synchronised.
    pub discontinuities: u64,
    /// Messages dropped because they grew beyond the bound.
    pub oversized: u64,
}

/// A sender in the middle of a message. Senders between messages have no entry, so
/// the map only holds senders with a fragmented message in flight.
#[derive(Debug)]
enum Pending {
    /// Pieces so far, and the `fragmented` number the next frame must continue.
    Partial { buf: BytesMut, last_frag: u8 },
    /// Throw-away mode: the start of the message in flight was lost (or it was too
    /// large); its remaining pieces are skipped until a message boundary.
    ThrowAway,
}

/// How the first message of a frame relates to the sender's state.
enum First {
    /// It starts a new message.
    Fresh,
    /// It continues the message being assembled.
    Extends(BytesMut),
    /// It is the tail of a message whose start is gone.
    Junk,
}

/// Per-sender reassembly of received frames into whole messages.
///
/// Memory is bounded: a partial message never exceeds `max_message_len`, and only
/// senders with a message in flight are tracked ([`Assembler::forget`] drops a
/// departed sender's).
///
/// Re-synchronisation differs from corosync 3.1.7 on purpose: corosync's throw-away
/// mode also discards the complete messages that share a frame with the lost piece
/// (and mis-tracks the buffer when it leaves the mode). Here the lost message alone is
/// dropped: the assembly restarts at the first message boundary, so a frame with
/// `continuation` 0 is always a clean start, and the messages after a stray tail in
/// the same frame are delivered.
#[derive(Debug)]
pub struct Assembler {
    max_message_len: usize,
    pending: HashMap<NodeId, Pending>,
    stats: AssemblerStats,
}

impl Default for Assembler {
    fn default() -> Self {
        Assembler::new(DEFAULT_MAX_MESSAGE_LEN)
    }
}

impl Assembler {
    pub fn new(max_message_len: usize) -> Self {
        Assembler {
            max_message_len,
            pending: HashMap::new(),
            stats: AssemblerStats::default(),
        }
    }

    /// Feeds one frame from `sender` (in agreed order); every completed message is
    /// passed to `deliver`, in order. Messages that fit one frame are zero-copy slices
    /// of `frame`.
    ///
    /// A malformed frame is rejected whole and leaves the sender's state alone.
    /// [`FrameError::MessageTooLarge`] is returned after the frame's other messages
    /// were delivered.
    pub fn push_frame(
        &mut self,
        sender: NodeId,
        frame: &Bytes,
        foreign_endian: bool,
        deliver: &mut dyn FnMut(Bytes),
    ) -> Result<(), FrameError> {
        let view = match FrameView::parse(frame, foreign_endian) {
            Ok(view) => view,
            Err(e) => {
                self.stats.malformed += 1;
                return Err(e);
            }
        };
        let continues = view.continuation != 0;
        let mut first = match self.pending.remove(&sender) {
            None if continues => {
                self.stats.discontinuities += 1;
                First::Junk
            }
            None => First::Fresh,
            Some(Pending::Partial { buf, last_frag }) => {
                if last_frag == view.continuation {
                    First::Extends(buf)
                } else {
                    self.stats.discontinuities += 1;
                    if continues {
                        First::Junk
                    } else {
                        First::Fresh
                    }
                }
            }
            Some(Pending::ThrowAway) if continues => First::Junk,
            Some(Pending::ThrowAway) => First::Fresh,
        };

        let last = view.count().saturating_sub(1);
        let mut next: Option<Pending> = None;
        let mut too_large = None;
        for (i, range) in view.entries().enumerate() {
            // The message continues in the sender's next frame.
            let open = i == last && view.fragmented != 0;
            let first_here = if i == 0 {
                std::mem::replace(&mut first, First::Fresh)
            } else {
                First::Fresh
            };
            match first_here {
                First::Junk => {
                    if open {
                        next = Some(Pending::ThrowAway);
                    }
                }
                First::Extends(mut buf) => {
                    let len = buf.len() + range.len();
                    if len > self.max_message_len {
                        self.stats.oversized += 1;
                        too_large = Some(len);
                        if open {
                            next = Some(Pending::ThrowAway);
                        }
                        continue;
                    }
                    buf.extend_from_slice(&frame[range]);
                    if open {
                        next = Some(Pending::Partial {
                            buf,
                            last_frag: view.fragmented,
                        });
                    } else {
                        deliver(buf.freeze());
                    }
                }
                First::Fresh => {
                    if range.len() > self.max_message_len {
                        self.stats.oversized += 1;
                        too_large = Some(range.len());
                        if open {
                            next = Some(Pending::ThrowAway);
                        }
                    } else if open {
                        // Room for the next frame's piece too: a message over two frames (the
                        // common case for 1 KiB messages) is then assembled without growing,
                        // and at most a frame's worth is left unused.
                        let mut buf = BytesMut::with_capacity(range.len() + frame.len());
                        buf.extend_from_slice(&frame[range]);
                        next = Some(Pending::Partial {
                            buf,
                            last_frag: view.fragmented,
                        });
                    } else {
                        deliver(frame.slice(range));
                    }
                }
            }
        }
        if let Some(state) = next {
            self.pending.insert(sender, state);
        }
        match too_large {
            Some(len) => Err(FrameError::MessageTooLarge {
                len,
                max: self.max_message_len,
            }),
            None => Ok(()),
        }
    }

    /// Drops a departed sender's partial message (corosync does this for the nodes
    /// that left in a configuration change).
    pub fn forget(&mut self, sender: NodeId) {
        self.pending.remove(&sender);
    }

    /// Drops every partial message. Done at each regular configuration: members that
    /// move together hold identical partials then, and senders re-send whole whatever
    /// they had not finished sending on the old ring.
    pub fn forget_all(&mut self) {
        self.pending.clear();
    }

    /// Senders with a message in flight (or in throw-away mode).
    pub fn pending_senders(&self) -> usize {
        self.pending.len()
    }

    pub fn stats(&self) -> AssemblerStats {
        self.stats
    }
}

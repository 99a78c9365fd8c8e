//! totempg: packs application messages into Totem frames, fragments messages larger
//! than one frame, and reassembles them per sender (corosync `exec/totempg.c`).
//! (Placeholder signatures; the full implementation is being written.)

use crate::wire::NodeId;
use bytes::Bytes;

/// A frame that cannot be parsed, or a message that breaks a bound.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame too short: {0} bytes")]
    Truncated(usize),
    #[error("frame length {len} does not match its header ({expected})")]
    BadLength { len: usize, expected: usize },
}

/// Packs outgoing messages into frames of at most `frame_mtu` bytes.
#[derive(Debug)]
pub struct Packer {
    frame_mtu: usize,
}

impl Packer {
    pub fn new(frame_mtu: usize) -> Self {
        Packer { frame_mtu }
    }

    /// Number of frames `len` more bytes would need at most.
    pub fn frames_needed(&self, len: usize) -> usize {
        len / self.frame_mtu + 2
    }

    /// Appends one message; completed frames become available from `pop_frame`.
    pub fn push(&mut self, _message: &[u8]) {}

    /// Closes the partially filled frame, if any.
    pub fn flush(&mut self) {}

    /// True when bytes wait in a partially filled frame.
    pub fn has_partial(&self) -> bool {
        false
    }

    pub fn pop_frame(&mut self) -> Option<Bytes> {
        None
    }
}

/// Per-sender reassembly of received frames into whole messages.
#[derive(Debug, Default)]
pub struct Assembler {}

impl Assembler {
    pub fn new(_max_message_len: usize) -> Self {
        Assembler {}
    }

    /// Feeds one frame from `sender`; every completed message is passed to `deliver`.
    pub fn push_frame(
        &mut self,
        _sender: NodeId,
        _frame: &Bytes,
        _foreign_endian: bool,
        _deliver: &mut dyn FnMut(Bytes),
    ) -> Result<(), FrameError> {
        Ok(())
    }

    /// Drops a departed sender's partial message.
    pub fn forget(&mut self, _sender: NodeId) {}
}

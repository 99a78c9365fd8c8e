//! totempg: packs application messages into Totem frames, fragments messages larger
//! than one frame, and reassembles them per sender (corosync 3.1.7 `exec/totempg.c`).
//!
//! A frame (the payload of one Totem `mcast`) is
//! `i16 version=0, i16 type=0, u8 fragmented, u8 continuation, u16 msg_count,
//! u16 msg_len[msg_count]`, then the messages back to back. `fragmented ≠ 0` means the
//! last message goes on in the sender's next frame, whose `continuation` repeats that
//! number. Everything is native-endian on the wire; ferrosync sends little-endian (what
//! x86 corosync nodes send) and swaps counts and lengths for foreign-endian senders.
//!
//! [`Packer`] reproduces corosync's packing byte for byte (including its fragment
//! numbering quirks), so captured corosync traffic can be replayed as a test vector.
//! [`Assembler`] undoes it per sender, bounded in memory.
//!
//! Each message normally carries a group envelope ([`encode_groups`]): the executive
//! services use group `"a"`, the sync protocol group `"sync"`.

mod assembler;
mod frame;
mod groups;
mod packer;

pub use assembler::{Assembler, AssemblerStats};
pub use frame::{Frame, HEADER_LEN};
pub use groups::{
    decode_groups, decode_groups_endian, decode_single_group, encode_groups, try_encode_groups, MAX_GROUPS,
};
pub use packer::{Packer, MAX_FRAME_MTU, MIN_FRAME_MTU};

/// A frame that cannot be parsed, or a message that breaks a bound.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Shorter than its fixed header or its `msg_len[]` array.
    #[error("frame too short: {0} bytes")]
    Truncated(usize),
    /// corosync ignores a frame whose length is not exactly header + lengths + data.
    #[error("frame length {len} does not match its header ({expected})")]
    BadLength { len: usize, expected: usize },
    /// A frame that marks a fragment (or a continuation) but carries no message.
    #[error("frame has fragment flags but no message")]
    EmptyFragment,
    /// More messages than a frame's `u16` count can say.
    #[error("{0} messages do not fit one frame")]
    TooManyMessages(usize),
    /// A (reassembled) message beyond the assembler's bound; it was dropped.
    #[error("message of at least {len} bytes exceeds the maximum of {max}")]
    MessageTooLarge { len: usize, max: usize },
    /// More groups than corosync's `MAX_GROUPS_PER_MSG`.
    #[error("{0} groups in a message envelope (at most {MAX_GROUPS})")]
    TooManyGroups(usize),
    /// A group name longer than its `u16` length field can say.
    #[error("group name of {0} bytes is too long")]
    GroupNameTooLong(usize),
    /// The group envelope claims more bytes than the message has.
    #[error("group envelope needs {needed} bytes, message has {len}")]
    GroupsTruncated { len: usize, needed: usize },
}

#[cfg(test)]
mod tests;

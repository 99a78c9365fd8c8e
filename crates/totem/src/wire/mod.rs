//! Totem SRP messages as corosync 3.1.7 puts them on the wire (udpu, crypto off).
//!
//! Every struct here is the decoded form of one packed, native-endian C struct
//! from `exec/totemsrp.c`. We always *send* little-endian (sync messages above
//! totem are never byte-swapped by corosync, so x86 peers need LE) and *accept*
//! both byte orders, detected through the header magic.

mod codec;

pub use codec::{
    decode, decode_header, decode_shared, encapsulate, encapsulate_raw, encode, encode_into, encoded_len,
    unencapsulate, DecodeError, Header,
};

use bytes::Bytes;

/// A node's identity on the ring (corosync's `srp_addr`: just the nodeid).
pub type NodeId = u32;

/// Header magic (`TOTEM_MH_MAGIC`).
pub const MAGIC: u16 = 0xC070;
/// Header version (`TOTEM_MH_VERSION`).
pub const VERSION: u8 = 3;
/// Size of `totem_message_header`.
pub const HEADER_LEN: usize = 13;
/// Size of `struct mcast` including the header: the per-datagram overhead of a multicast.
pub const MCAST_HEADER_LEN: usize = 45;
/// Most retransmit requests an `orf_token` carries (`RETRANSMIT_ENTRIES_MAX`).
pub const RTR_ENTRIES_MAX: usize = 30;
/// Most processors a ring can hold (`PROCESSOR_COUNT_MAX`).
pub const PROCESSORS_MAX: usize = 384;

/// Ring identity: the representative (lowest nodeid) and a sequence that rises by 4 per new ring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RingId {
    pub rep: NodeId,
    pub seq: u64,
}

impl std::fmt::Display for RingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // corosync logs ring ids as `rep.seq` in hex.
        write!(f, "{:x}.{:x}", self.rep, self.seq)
    }
}

/// The six Totem message types (header byte 3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum MessageType {
    OrfToken = 0,
    Mcast = 1,
    MergeDetect = 2,
    Join = 3,
    CommitToken = 4,
    TokenHoldCancel = 5,
}

/// One retransmit request carried by the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtrItem {
    pub ring_id: RingId,
    pub seq: u32,
}

/// The ordering/reliability/flow-control token (type 0).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrfToken {
    /// Header nodeid: the node that sent this copy.
    pub sender: NodeId,
    /// Header `target_nodeid`: ignored on receive, kept for byte-exact round trips.
    pub target_nodeid: u32,
    pub seq: u32,
    pub token_seq: u32,
    pub aru: u32,
    pub aru_addr: NodeId,
    pub ring_id: RingId,
    pub backlog: u32,
    pub fcc: u32,
    pub retrans_flg: i32,
    pub rtr_list: Vec<RtrItem>,
}

/// A multicast message (type 1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Mcast {
    /// Header nodeid.
    pub sender: NodeId,
    pub target_nodeid: u32,
    /// True when this re-sends an old-ring message during RECOVERY: `payload`
    /// then starts with the original message's own 45-byte mcast header.
    pub encapsulated: bool,
    pub system_from: NodeId,
    pub seq: u32,
    pub this_seqno: i32,
    pub ring_id: RingId,
    pub node_id: u32,
    pub guarantee: i32,
    pub payload: Bytes,
}

/// Sent by an idle ring's representative so that other rings notice it (type 2).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MergeDetect {
    pub sender: NodeId,
    pub target_nodeid: u32,
    pub system_from: NodeId,
    pub ring_id: RingId,
}

/// A membership join (type 3). With `sender == 0` it is a leave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Join {
    pub sender: NodeId,
    pub target_nodeid: u32,
    pub system_from: NodeId,
    pub ring_seq: u64,
    pub proc_list: Vec<NodeId>,
    pub failed_list: Vec<NodeId>,
}

/// One member's entry in the commit token.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MembEntry {
    /// The ring this member comes from.
    pub ring_id: RingId,
    pub aru: u32,
    pub high_delivered: u32,
    pub received_flg: u32,
}

/// The commit token that installs a new ring (type 4).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommitToken {
    pub sender: NodeId,
    pub target_nodeid: u32,
    pub token_seq: u32,
    /// The new ring's id.
    pub ring_id: RingId,
    pub retrans_flg: u32,
    /// How many `memb_list` entries are filled in.
    pub memb_index: i32,
    /// The new ring's members, sorted ascending.
    pub addr: Vec<NodeId>,
    /// One entry per member of `addr` (same order).
    pub memb_list: Vec<MembEntry>,
}

/// Asks the representative to release a held token (type 5).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenHoldCancel {
    pub sender: NodeId,
    pub target_nodeid: u32,
    pub ring_id: RingId,
}

/// Any Totem message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    OrfToken(OrfToken),
    Mcast(Mcast),
    MergeDetect(MergeDetect),
    Join(Join),
    CommitToken(CommitToken),
    TokenHoldCancel(TokenHoldCancel),
}

impl Message {
    pub fn message_type(&self) -> MessageType {
        match self {
            Message::OrfToken(_) => MessageType::OrfToken,
            Message::Mcast(_) => MessageType::Mcast,
            Message::MergeDetect(_) => MessageType::MergeDetect,
            Message::Join(_) => MessageType::Join,
            Message::CommitToken(_) => MessageType::CommitToken,
            Message::TokenHoldCancel(_) => MessageType::TokenHoldCancel,
        }
    }

    /// The header nodeid of this message.
    pub fn sender(&self) -> NodeId {
        match self {
            Message::OrfToken(m) => m.sender,
            Message::Mcast(m) => m.sender,
            Message::MergeDetect(m) => m.sender,
            Message::Join(m) => m.sender,
            Message::CommitToken(m) => m.sender,
            Message::TokenHoldCancel(m) => m.sender,
        }
    }
}

/// Decoded message plus whether the sender used the other byte order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decoded {
    pub message: Message,
    /// The sender was big-endian (upper layers must byte-swap their own fields).
    pub foreign_endian: bool,
}

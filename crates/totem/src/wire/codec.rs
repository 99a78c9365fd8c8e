//! Byte-exact encoding and decoding of the six Totem SRP messages (corosync 3.1.7, udpu,
//! `totem-wire.md` §3–§4).
//!
//! * **Byte order.** We always encode little-endian. Decoding accepts both orders: a
//!   header magic that reads as `0x70C0` means the sender was big-endian, every field is
//!   read big-endian and [`Decoded::foreign_endian`] is set so that upper layers can swap
//!   their own payloads (totempg does).
//! * **Validation before allocation.** Every count is range-checked and the datagram size
//!   must match the size the counts imply before any list is allocated, so a crafted
//!   packet can neither panic the decoder nor make it allocate more than its own length
//!   (corosync issue #778 was a stack overflow from exactly such a packet).
//! * **Trailing bytes are rejected.** corosync's receive-side checks (`check_*_sanity` in
//!   `exec/totemsrp.c`) only refuse datagrams that are too short, and do not bound the
//!   counts at all; but corosync never *sends* extra bytes: every size in
//!   §4.2 is exact in all 4167 captured packets. Requiring the exact size keeps
//!   decode→encode byte-identical, which the capture tests and the fuzz target rely on.
//!   An mcast has no length field: everything after its 45-byte header is payload.
//! * **Header byte 4 (`encapsulated`)** is meaningful only for mcast (2 normal, 1
//!   encapsulated; anything else is rejected). The other types ignore it on decode, as
//!   corosync does, and encode 0, which is what corosync sends.
//! * **`target_nodeid`** is carried through unchanged so that re-encoding is byte exact;
//!   udpu never sets it and receivers must ignore it.

use super::*;
use bytes::Bytes;

/// Sizes of the fixed parts (header included) and of list items (§4.2, §4.3).
const ORF_TOKEN_LEN: usize = 57;
const RTR_ITEM_LEN: usize = 16;
const MERGE_DETECT_LEN: usize = 29;
const JOIN_LEN: usize = 33;
const COMMIT_TOKEN_LEN: usize = 41;
const MEMB_ENTRY_LEN: usize = 24;
const HOLD_CANCEL_LEN: usize = 25;

/// `MESSAGE_ENCAPSULATED` / `MESSAGE_NOT_ENCAPSULATED` in the mcast header byte 4.
const ENCAPSULATED: u8 = 1;
const NOT_ENCAPSULATED: u8 = 2;

/// Why a datagram was rejected. Decoding never panics and never allocates more
/// than the datagram's own size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("datagram too short: {len} bytes, need {need}")]
    Truncated { len: usize, need: usize },
    #[error("bad magic {0:#06x}")]
    BadMagic(u16),
    #[error("unsupported version {0}")]
    BadVersion(u8),
    #[error("unknown message type {0}")]
    BadType(u8),
    #[error("{field} = {value} is out of range")]
    BadCount { field: &'static str, value: i64 },
    #[error("length mismatch: {len} bytes, expected {expected}")]
    BadLength { len: usize, expected: usize },
    /// An mcast's header byte 4 is neither 1 (encapsulated) nor 2 (normal).
    #[error("mcast encapsulation byte {0} is neither 1 nor 2")]
    BadEncapsulation(u8),
    /// [`unencapsulate`] was given an mcast that is not marked encapsulated.
    #[error("mcast is not encapsulated")]
    NotEncapsulated,
    /// The payload of an encapsulated mcast decoded as another message type.
    #[error("encapsulated message is a {0:?}, not an mcast")]
    InnerNotMcast(MessageType),
}

impl TryFrom<u8> for MessageType {
    type Error = DecodeError;

    fn try_from(value: u8) -> Result<Self, DecodeError> {
        Ok(match value {
            0 => MessageType::OrfToken,
            1 => MessageType::Mcast,
            2 => MessageType::MergeDetect,
            3 => MessageType::Join,
            4 => MessageType::CommitToken,
            5 => MessageType::TokenHoldCancel,
            other => return Err(DecodeError::BadType(other)),
        })
    }
}

/// The common 13-byte header, for callers that only need to peek (e.g. to route or
/// count a datagram) without decoding the body.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    pub message_type: MessageType,
    /// Raw header byte 4 (meaningful for mcast only).
    pub encapsulated: u8,
    pub nodeid: NodeId,
    pub target_nodeid: u32,
    /// The sender was big-endian.
    pub foreign_endian: bool,
}

/// Reads fields in the sender's byte order.
#[derive(Clone, Copy)]
struct Order {
    big_endian: bool,
}

impl Order {
    #[inline(always)]
    fn u32(self, b: &[u8], at: usize) -> u32 {
        let a = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if self.big_endian {
            u32::from_be_bytes(a)
        } else {
            u32::from_le_bytes(a)
        }
    }

    #[inline(always)]
    fn i32(self, b: &[u8], at: usize) -> i32 {
        self.u32(b, at) as i32
    }

    #[inline(always)]
    fn u64(self, b: &[u8], at: usize) -> u64 {
        let a = [
            b[at],
            b[at + 1],
            b[at + 2],
            b[at + 3],
            b[at + 4],
            b[at + 5],
            b[at + 6],
            b[at + 7],
        ];
        if self.big_endian {
            u64::from_be_bytes(a)
        } else {
            u64::from_le_bytes(a)
        }
    }

    /// `memb_ring_id`: packed `{u32 rep; u64 seq}`, 12 bytes.
    #[inline(always)]
    fn ring_id(self, b: &[u8], at: usize) -> RingId {
        RingId {
            rep: self.u32(b, at),
            seq: self.u64(b, at + 4),
        }
    }
}

/// Parses and validates the 13-byte header (magic, version, type).
pub fn decode_header(bytes: &[u8]) -> Result<Header, DecodeError> {
    if bytes.len() < HEADER_LEN {
        return Err(DecodeError::Truncated {
            len: bytes.len(),
            need: HEADER_LEN,
        });
    }
    let magic = u16::from_le_bytes([bytes[0], bytes[1]]);
    let big_endian = if magic == MAGIC {
        false
    } else if magic == MAGIC.swap_bytes() {
        true
    } else {
        return Err(DecodeError::BadMagic(magic));
    };
    if bytes[2] != VERSION {
        return Err(DecodeError::BadVersion(bytes[2]));
    }
    let message_type = MessageType::try_from(bytes[3])?;
    let order = Order { big_endian };
    Ok(Header {
        message_type,
        encapsulated: bytes[4],
        nodeid: order.u32(bytes, 5),
        target_nodeid: order.u32(bytes, 9),
        foreign_endian: big_endian,
    })
}

/// Decodes one datagram; an mcast payload is copied out of `bytes`.
pub fn decode(bytes: &[u8]) -> Result<Decoded, DecodeError> {
    decode_with(bytes, |start| {
        bytes.get(start..).map(Bytes::copy_from_slice).unwrap_or_default()
    })
}

/// Like [`decode`], but an mcast payload is a zero-copy [`Bytes::slice`] of `bytes`.
pub fn decode_shared(bytes: &Bytes) -> Result<Decoded, DecodeError> {
    decode_with(bytes, |start| {
        if start <= bytes.len() {
            bytes.slice(start..)
        } else {
            Bytes::new()
        }
    })
}

/// The shared decoder; `payload(start)` yields the mcast payload `bytes[start..]`
/// (only called once `start <= bytes.len()` is known).
fn decode_with(bytes: &[u8], payload: impl FnOnce(usize) -> Bytes) -> Result<Decoded, DecodeError> {
    let header = decode_header(bytes)?;
    let o = Order {
        big_endian: header.foreign_endian,
    };
    let len = bytes.len();
    let sender = header.nodeid;
    let target_nodeid = header.target_nodeid;
    let message = match header.message_type {
        MessageType::OrfToken => {
            need(len, ORF_TOKEN_LEN)?;
            let n = count("rtr_list_entries", i64::from(o.i32(bytes, 53)), RTR_ENTRIES_MAX)?;
            exact(len, ORF_TOKEN_LEN + RTR_ITEM_LEN * n)?;
            let rtr_list = bytes[ORF_TOKEN_LEN..]
                .chunks_exact(RTR_ITEM_LEN)
                .map(|c| RtrItem {
                    ring_id: o.ring_id(c, 0),
                    seq: o.u32(c, 12),
                })
                .collect();
            Message::OrfToken(OrfToken {
                sender,
                target_nodeid,
                seq: o.u32(bytes, 13),
                token_seq: o.u32(bytes, 17),
                aru: o.u32(bytes, 21),
                aru_addr: o.u32(bytes, 25),
                ring_id: o.ring_id(bytes, 29),
                backlog: o.u32(bytes, 41),
                fcc: o.u32(bytes, 45),
                retrans_flg: o.i32(bytes, 49),
                rtr_list,
            })
        }
        MessageType::Mcast => {
            need(len, MCAST_HEADER_LEN)?;
            let encapsulated = match header.encapsulated {
                NOT_ENCAPSULATED => false,
                ENCAPSULATED => true,
                other => return Err(DecodeError::BadEncapsulation(other)),
            };
            Message::Mcast(Mcast {
                sender,
                target_nodeid,
                encapsulated,
                system_from: o.u32(bytes, 13),
                seq: o.u32(bytes, 17),
                this_seqno: o.i32(bytes, 21),
                ring_id: o.ring_id(bytes, 25),
                node_id: o.u32(bytes, 37),
                guarantee: o.i32(bytes, 41),
                payload: payload(MCAST_HEADER_LEN),
            })
        }
        MessageType::MergeDetect => {
            need(len, MERGE_DETECT_LEN)?;
            exact(len, MERGE_DETECT_LEN)?;
            Message::MergeDetect(MergeDetect {
                sender,
                target_nodeid,
                system_from: o.u32(bytes, 13),
                ring_id: o.ring_id(bytes, 17),
            })
        }
        MessageType::Join => {
            need(len, JOIN_LEN)?;
            let p = count("proc_list_entries", i64::from(o.u32(bytes, 17)), PROCESSORS_MAX)?;
            let f = count("failed_list_entries", i64::from(o.u32(bytes, 21)), PROCESSORS_MAX)?;
            exact(len, JOIN_LEN + 4 * (p + f))?;
            let (procs, failed) = bytes[JOIN_LEN..].split_at(4 * p);
            Message::Join(Join {
                sender,
                target_nodeid,
                system_from: o.u32(bytes, 13),
                ring_seq: o.u64(bytes, 25),
                proc_list: u32_list(o, procs),
                failed_list: u32_list(o, failed),
            })
        }
        MessageType::CommitToken => {
            need(len, COMMIT_TOKEN_LEN)?;
            let n = count("addr_entries", i64::from(o.i32(bytes, 37)), PROCESSORS_MAX)?;
            let memb_index = o.i32(bytes, 33);
            count("memb_index", i64::from(memb_index), n)?;
            exact(len, COMMIT_TOKEN_LEN + (4 + MEMB_ENTRY_LEN) * n)?;
            let (addrs, entries) = bytes[COMMIT_TOKEN_LEN..].split_at(4 * n);
            let memb_list = entries
                .chunks_exact(MEMB_ENTRY_LEN)
                .map(|c| MembEntry {
                    ring_id: o.ring_id(c, 0),
                    aru: o.u32(c, 12),
                    high_delivered: o.u32(c, 16),
                    received_flg: o.u32(c, 20),
                })
                .collect();
            Message::CommitToken(CommitToken {
                sender,
                target_nodeid,
                token_seq: o.u32(bytes, 13),
                ring_id: o.ring_id(bytes, 17),
                retrans_flg: o.u32(bytes, 29),
                memb_index,
                addr: u32_list(o, addrs),
                memb_list,
            })
        }
        MessageType::TokenHoldCancel => {
            need(len, HOLD_CANCEL_LEN)?;
            exact(len, HOLD_CANCEL_LEN)?;
            Message::TokenHoldCancel(TokenHoldCancel {
                sender,
                target_nodeid,
                ring_id: o.ring_id(bytes, 13),
            })
        }
    };
    Ok(Decoded {
        message,
        foreign_endian: header.foreign_endian,
    })
}

/// The fixed part must be present before its counts are read.
#[inline]
fn need(len: usize, need: usize) -> Result<(), DecodeError> {
    if len < need {
        return Err(DecodeError::Truncated { len, need });
    }
    Ok(())
}

/// The whole datagram must have exactly the size its counts imply.
#[inline]
fn exact(len: usize, expected: usize) -> Result<(), DecodeError> {
    if len != expected {
        return Err(DecodeError::BadLength { len, expected });
    }
    Ok(())
}

/// A wire count must lie in `0..=max`.
#[inline]
fn count(field: &'static str, value: i64, max: usize) -> Result<usize, DecodeError> {
    match usize::try_from(value) {
        Ok(n) if n <= max => Ok(n),
        _ => Err(DecodeError::BadCount { field, value }),
    }
}

fn u32_list(o: Order, b: &[u8]) -> Vec<u32> {
    b.chunks_exact(4).map(|c| o.u32(c, 0)).collect()
}

/// Size of `msg` on the wire.
pub fn encoded_len(msg: &Message) -> usize {
    match msg {
        Message::OrfToken(t) => ORF_TOKEN_LEN + RTR_ITEM_LEN * t.rtr_list.len(),
        Message::Mcast(m) => MCAST_HEADER_LEN + m.payload.len(),
        Message::MergeDetect(_) => MERGE_DETECT_LEN,
        Message::Join(j) => JOIN_LEN + 4 * (j.proc_list.len() + j.failed_list.len()),
        Message::CommitToken(c) => COMMIT_TOKEN_LEN + (4 + MEMB_ENTRY_LEN) * c.addr.len(),
        Message::TokenHoldCancel(_) => HOLD_CANCEL_LEN,
    }
}

/// Encodes `msg` little-endian into a new buffer of exactly [`encoded_len`] bytes.
pub fn encode(msg: &Message) -> Vec<u8> {
    let mut v = Vec::with_capacity(encoded_len(msg));
    encode_into(msg, &mut v);
    v
}

/// Appends `msg`, little-endian, to `buf`.
///
/// No validation: the caller keeps lists within the protocol limits (≤ 30 rtr items,
/// ≤ 384 processors), otherwise the datagram is one [`decode`] rejects. A commit token
/// carries `addr.len()` memb entries: a shorter `memb_list` is zero-filled (corosync's
/// buffer is zeroed, so unfilled entries are zeros) and a longer one is cut.
pub fn encode_into(msg: &Message, buf: &mut Vec<u8>) {
    buf.reserve(encoded_len(msg));
    match msg {
        Message::OrfToken(t) => {
            let mut w = Fixed::<ORF_TOKEN_LEN>::header(MessageType::OrfToken, 0, t.sender, t.target_nodeid);
            w.u32(t.seq);
            w.u32(t.token_seq);
            w.u32(t.aru);
            w.u32(t.aru_addr);
            w.ring_id(t.ring_id);
            w.u32(t.backlog);
            w.u32(t.fcc);
            w.u32(t.retrans_flg as u32);
            w.u32(t.rtr_list.len() as u32);
            w.finish(buf);
            for item in &t.rtr_list {
                let mut w = Fixed::<RTR_ITEM_LEN>::new();
                w.ring_id(item.ring_id);
                w.u32(item.seq);
                w.finish(buf);
            }
        }
        Message::Mcast(m) => {
            encode_mcast_into(m, buf);
        }
        Message::MergeDetect(m) => {
            let mut w = Fixed::<MERGE_DETECT_LEN>::header(MessageType::MergeDetect, 0, m.sender, m.target_nodeid);
            w.u32(m.system_from);
            w.ring_id(m.ring_id);
            w.finish(buf);
        }
        Message::Join(j) => {
            let mut w = Fixed::<JOIN_LEN>::header(MessageType::Join, 0, j.sender, j.target_nodeid);
            w.u32(j.system_from);
            w.u32(j.proc_list.len() as u32);
            w.u32(j.failed_list.len() as u32);
            w.u64(j.ring_seq);
            w.finish(buf);
            for id in j.proc_list.iter().chain(&j.failed_list) {
                buf.extend_from_slice(&id.to_le_bytes());
            }
        }
        Message::CommitToken(c) => {
            let mut w = Fixed::<COMMIT_TOKEN_LEN>::header(MessageType::CommitToken, 0, c.sender, c.target_nodeid);
            w.u32(c.token_seq);
            w.ring_id(c.ring_id);
            w.u32(c.retrans_flg);
            w.u32(c.memb_index as u32);
            w.u32(c.addr.len() as u32);
            w.finish(buf);
            for id in &c.addr {
                buf.extend_from_slice(&id.to_le_bytes());
            }
            for i in 0..c.addr.len() {
                let e = c.memb_list.get(i).copied().unwrap_or_default();
                let mut w = Fixed::<MEMB_ENTRY_LEN>::new();
                w.ring_id(e.ring_id);
                w.u32(e.aru);
                w.u32(e.high_delivered);
                w.u32(e.received_flg);
                w.finish(buf);
            }
        }
        Message::TokenHoldCancel(h) => {
            let mut w = Fixed::<HOLD_CANCEL_LEN>::header(MessageType::TokenHoldCancel, 0, h.sender, h.target_nodeid);
            w.ring_id(h.ring_id);
            w.finish(buf);
        }
    }
}

/// Appends an mcast (45-byte header, then the payload) to `buf`.
fn encode_mcast_into(m: &Mcast, buf: &mut Vec<u8>) {
    let flag = if m.encapsulated { ENCAPSULATED } else { NOT_ENCAPSULATED };
    buf.reserve(MCAST_HEADER_LEN + m.payload.len());
    let mut w = Fixed::<MCAST_HEADER_LEN>::header(MessageType::Mcast, flag, m.sender, m.target_nodeid);
    w.u32(m.system_from);
    w.u32(m.seq);
    w.u32(m.this_seqno as u32);
    w.ring_id(m.ring_id);
    w.u32(m.node_id);
    w.u32(m.guarantee as u32);
    w.finish(buf);
    buf.extend_from_slice(&m.payload);
}

/// A fixed-size little-endian record built on the stack and appended in one copy; the
/// write position is a compile-time constant after inlining, so this is plain stores.
struct Fixed<const N: usize> {
    b: [u8; N],
    at: usize,
}

impl<const N: usize> Fixed<N> {
    #[inline(always)]
    fn new() -> Self {
        Fixed { b: [0; N], at: 0 }
    }

    /// Starts a message with its 13-byte `totem_message_header`.
    #[inline(always)]
    fn header(ty: MessageType, encapsulated: u8, nodeid: NodeId, target_nodeid: u32) -> Self {
        let mut w = Self::new();
        w.bytes(&MAGIC.to_le_bytes());
        w.bytes(&[VERSION, ty as u8, encapsulated]);
        w.u32(nodeid);
        w.u32(target_nodeid);
        w
    }

    #[inline(always)]
    fn bytes(&mut self, v: &[u8]) {
        self.b[self.at..self.at + v.len()].copy_from_slice(v);
        self.at += v.len();
    }

    #[inline(always)]
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }

    #[inline(always)]
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }

    #[inline(always)]
    fn ring_id(&mut self, r: RingId) {
        self.u32(r.rep);
        self.u64(r.seq);
    }

    #[inline(always)]
    fn finish(self, buf: &mut Vec<u8>) {
        debug_assert_eq!(self.at, N, "record not completely written");
        buf.extend_from_slice(&self.b);
    }
}

/// Wraps `inner` (an old-ring message re-sent during RECOVERY) in `outer`: the result is
/// `outer` marked encapsulated whose payload is the complete encoded `inner` (its own
/// 45-byte header with the old ring id and seq, then its payload). `outer.payload` and
/// `outer.encapsulated` are overwritten.
///
/// `inner` is re-encoded little-endian; to re-send a foreign-endian original verbatim, as
/// corosync does, use [`encapsulate_raw`] with the received datagram.
pub fn encapsulate(outer: Mcast, inner: &Mcast) -> Mcast {
    let mut v = Vec::with_capacity(MCAST_HEADER_LEN + inner.payload.len());
    encode_mcast_into(inner, &mut v);
    encapsulate_raw(outer, Bytes::from(v))
}

/// Like [`encapsulate`] with an already encoded inner mcast datagram, kept byte for byte.
pub fn encapsulate_raw(mut outer: Mcast, inner_datagram: Bytes) -> Mcast {
    outer.encapsulated = true;
    outer.payload = inner_datagram;
    outer
}

/// Extracts the inner mcast of an encapsulated one, and whether the inner header is in
/// the foreign byte order (its payload must then be swapped by totempg, independently of
/// the outer message's order). The inner payload is a slice of `outer.payload`, no copy.
pub fn unencapsulate(outer: &Mcast) -> Result<(Mcast, bool), DecodeError> {
    if !outer.encapsulated {
        return Err(DecodeError::NotEncapsulated);
    }
    let inner = decode_shared(&outer.payload)?;
    match inner.message {
        Message::Mcast(m) => Ok((m, inner.foreign_endian)),
        other => Err(DecodeError::InnerNotMcast(other.message_type())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::collection::vec;
    use proptest::prelude::*;

    fn rid(rep: u32, seq: u64) -> RingId {
        RingId { rep, seq }
    }

    fn hex(s: &str) -> Vec<u8> {
        let s = s.replace('_', "");
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// An independent big-endian encoder, written field by field from §4.3, to check
    /// that decode handles a foreign-endian sender.
    fn encode_be(msg: &Message) -> Vec<u8> {
        struct Be(Vec<u8>);
        impl Be {
            fn head(ty: u8, enc: u8, nodeid: u32, target: u32) -> Be {
                let mut b = Be(vec![0xC0, 0x70, 3, ty, enc]);
                b.u32(nodeid);
                b.u32(target);
                b
            }
            fn u32(&mut self, v: u32) {
                self.0.extend_from_slice(&v.to_be_bytes());
            }
            fn u64(&mut self, v: u64) {
                self.0.extend_from_slice(&v.to_be_bytes());
            }
            fn ring(&mut self, r: RingId) {
                self.u32(r.rep);
                self.u64(r.seq);
            }
        }
        match msg {
            Message::OrfToken(t) => {
                let mut b = Be::head(0, 0, t.sender, t.target_nodeid);
                for v in [t.seq, t.token_seq, t.aru, t.aru_addr] {
                    b.u32(v);
                }
                b.ring(t.ring_id);
                b.u32(t.backlog);
                b.u32(t.fcc);
                b.u32(t.retrans_flg as u32);
                b.u32(t.rtr_list.len() as u32);
                for r in &t.rtr_list {
                    b.ring(r.ring_id);
                    b.u32(r.seq);
                }
                b.0
            }
            Message::Mcast(m) => {
                let mut b = Be::head(1, if m.encapsulated { 1 } else { 2 }, m.sender, m.target_nodeid);
                b.u32(m.system_from);
                b.u32(m.seq);
                b.u32(m.this_seqno as u32);
                b.ring(m.ring_id);
                b.u32(m.node_id);
                b.u32(m.guarantee as u32);
                b.0.extend_from_slice(&m.payload);
                b.0
            }
            Message::MergeDetect(m) => {
                let mut b = Be::head(2, 0, m.sender, m.target_nodeid);
                b.u32(m.system_from);
                b.ring(m.ring_id);
                b.0
            }
            Message::Join(j) => {
                let mut b = Be::head(3, 0, j.sender, j.target_nodeid);
                b.u32(j.system_from);
                b.u32(j.proc_list.len() as u32);
                b.u32(j.failed_list.len() as u32);
                b.u64(j.ring_seq);
                for &id in j.proc_list.iter().chain(&j.failed_list) {
                    b.u32(id);
                }
                b.0
            }
            Message::CommitToken(c) => {
                let mut b = Be::head(4, 0, c.sender, c.target_nodeid);
                b.u32(c.token_seq);
                b.ring(c.ring_id);
                b.u32(c.retrans_flg);
                b.u32(c.memb_index as u32);
                b.u32(c.addr.len() as u32);
                for &id in &c.addr {
                    b.u32(id);
                }
                for e in &c.memb_list {
                    b.ring(e.ring_id);
                    b.u32(e.aru);
                    b.u32(e.high_delivered);
                    b.u32(e.received_flg);
                }
                b.0
            }
            Message::TokenHoldCancel(h) => {
                let mut b = Be::head(5, 0, h.sender, h.target_nodeid);
                b.ring(h.ring_id);
                b.0
            }
        }
    }

    fn orf(n: usize) -> OrfToken {
        OrfToken {
            sender: 3,
            target_nodeid: 0x0200_0000,
            seq: 100,
            token_seq: 7,
            aru: 98,
            aru_addr: 2,
            ring_id: rid(1, 9),
            backlog: 5,
            fcc: 12,
            retrans_flg: 1,
            rtr_list: (0..n as u32)
                .map(|i| RtrItem {
                    ring_id: rid(1, 5 + u64::from(i)),
                    seq: 99 + i,
                })
                .collect(),
        }
    }

    fn mcast(payload: &'static [u8], encapsulated: bool) -> Mcast {
        Mcast {
            sender: 1,
            target_nodeid: 0,
            encapsulated,
            system_from: 1,
            seq: 27,
            this_seqno: 16,
            ring_id: rid(1, 9),
            node_id: 0,
            guarantee: -1,
            payload: Bytes::from_static(payload),
        }
    }

    fn join(p: usize, f: usize) -> Join {
        Join {
            sender: 2,
            target_nodeid: 0x3d49_0891,
            system_from: 2,
            ring_seq: 0x12,
            proc_list: (1..=p as u32).rev().collect(),
            failed_list: (1000..1000 + f as u32).collect(),
        }
    }

    fn commit(n: usize, memb_index: i32) -> CommitToken {
        CommitToken {
            sender: 1,
            target_nodeid: 0,
            token_seq: 4,
            ring_id: rid(1, 0x12),
            retrans_flg: 1,
            memb_index,
            addr: (1..=n as u32).collect(),
            memb_list: (0..n as u32)
                .map(|i| MembEntry {
                    ring_id: rid(i + 1, 5),
                    aru: i * 3,
                    high_delivered: i * 3 + 1,
                    received_flg: i & 1,
                })
                .collect(),
        }
    }

    fn samples() -> Vec<Message> {
        vec![
            Message::OrfToken(orf(0)),
            Message::OrfToken(orf(1)),
            Message::OrfToken(orf(RTR_ENTRIES_MAX)),
            Message::Mcast(mcast(b"", false)),
            Message::Mcast(mcast(b"totempg frame", false)),
            Message::Mcast(mcast(b"inner", true)),
            Message::MergeDetect(MergeDetect {
                sender: 1,
                target_nodeid: 0x9108_493d,
                system_from: 1,
                ring_id: rid(1, 9),
            }),
            Message::Join(join(0, 0)),
            Message::Join(join(3, 1)),
            Message::Join(join(PROCESSORS_MAX, PROCESSORS_MAX)),
            Message::CommitToken(commit(0, 0)),
            Message::CommitToken(commit(3, 1)),
            Message::CommitToken(commit(PROCESSORS_MAX, PROCESSORS_MAX as i32)),
            Message::TokenHoldCancel(TokenHoldCancel {
                sender: 2,
                target_nodeid: 7,
                ring_id: rid(1, 9),
            }),
        ]
    }

    #[test]
    fn every_type_round_trips_in_both_byte_orders() {
        for msg in samples() {
            let le = encode(&msg);
            assert_eq!(le.len(), encoded_len(&msg), "{msg:?}");
            assert_eq!(&le[..2], &[0x70, 0xC0]);
            assert_eq!(le[3], msg.message_type() as u8);
            let d = decode(&le).unwrap();
            assert!(!d.foreign_endian);
            assert_eq!(d.message, msg);
            let d = decode_shared(&Bytes::from(le.clone())).unwrap();
            assert_eq!(d.message, msg);

            let be = encode_be(&msg);
            assert_eq!(be.len(), le.len());
            let d = decode(&be).unwrap();
            assert!(d.foreign_endian, "{msg:?}");
            assert_eq!(d.message, msg);
            // Re-encoding a foreign message gives our own (little-endian) bytes.
            assert_eq!(encode(&d.message), le);
        }
    }

    #[test]
    fn encode_into_appends() {
        let msgs = samples();
        let mut buf = vec![0xAA];
        for m in &msgs {
            encode_into(m, &mut buf);
        }
        let mut at = 1;
        for m in &msgs {
            let n = encoded_len(m);
            assert_eq!(decode(&buf[at..at + n]).unwrap().message, *m);
            at += n;
        }
        assert_eq!(at, buf.len());
        assert_eq!(buf[0], 0xAA);
    }

    #[test]
    fn hand_built_bytes() {
        // token_hold_cancel, little-endian and big-endian, ring 1.9 from node 2.
        let le = hex("70c0030500_02000000_07000000_01000000_0900000000000000");
        let be = hex("c070030500_00000002_00000007_00000001_0000000000000009");
        assert_eq!((le.len(), be.len()), (25, 25));
        let want = Message::TokenHoldCancel(TokenHoldCancel {
            sender: 2,
            target_nodeid: 7,
            ring_id: rid(1, 9),
        });
        let d = decode(&le).unwrap();
        assert_eq!((d.message.clone(), d.foreign_endian), (want.clone(), false));
        assert_eq!(encode(&want), le);
        let d = decode(&be).unwrap();
        assert_eq!((d.message, d.foreign_endian), (want, true));
    }

    #[test]
    fn mcast_encapsulation_byte() {
        let mut b = encode(&Message::Mcast(mcast(b"x", false)));
        assert_eq!(b[4], 2);
        b[4] = 1;
        match decode(&b).unwrap().message {
            Message::Mcast(m) => assert!(m.encapsulated),
            m => panic!("{m:?}"),
        }
        for bad in [0u8, 3, 0xFF] {
            b[4] = bad;
            assert_eq!(decode(&b), Err(DecodeError::BadEncapsulation(bad)));
        }
        // Other types ignore the byte (corosync never reads it there) and encode 0.
        let mut t = encode(&Message::OrfToken(orf(2)));
        assert_eq!(t[4], 0);
        t[4] = 9;
        assert_eq!(decode(&t).unwrap().message, Message::OrfToken(orf(2)));
    }

    #[test]
    fn header_errors() {
        let good = encode(&Message::MergeDetect(MergeDetect::default()));
        for len in 0..HEADER_LEN {
            assert_eq!(
                decode(&good[..len]),
                Err(DecodeError::Truncated { len, need: HEADER_LEN })
            );
        }
        let mut b = good.clone();
        b[0] = 0xFE;
        b[1] = 0xFE;
        assert_eq!(decode(&b), Err(DecodeError::BadMagic(0xFEFE)));
        let mut b = good.clone();
        b[1] = 0x70; // 0x7070: neither order
        assert_eq!(decode(&b), Err(DecodeError::BadMagic(0x7070)));
        for v in [0u8, 2, 4, 0xFF] {
            let mut b = good.clone();
            b[2] = v;
            assert_eq!(decode(&b), Err(DecodeError::BadVersion(v)));
        }
        for t in [6u8, 7, 0x80, 0xFF] {
            let mut b = good.clone();
            b[3] = t;
            assert_eq!(decode(&b), Err(DecodeError::BadType(t)));
        }
        let h = decode_header(&encode(&Message::Mcast(mcast(b"", true)))).unwrap();
        assert_eq!(
            h,
            Header {
                message_type: MessageType::Mcast,
                encapsulated: 1,
                nodeid: 1,
                target_nodeid: 0,
                foreign_endian: false,
            }
        );
    }

    #[test]
    fn every_truncation_and_extension_is_rejected() {
        for msg in samples() {
            let b = encode(&msg);
            let fixed_min = match msg {
                Message::Mcast(_) => MCAST_HEADER_LEN,
                _ => b.len(),
            };
            for len in 0..fixed_min {
                let e = decode(&b[..len]).unwrap_err();
                assert!(
                    matches!(e, DecodeError::Truncated { .. } | DecodeError::BadLength { .. }),
                    "{msg:?} cut to {len}: {e:?}"
                );
            }
            let mut longer = b.clone();
            longer.push(0);
            match msg {
                Message::Mcast(_) => assert!(decode(&longer).is_ok()),
                _ => assert_eq!(
                    decode(&longer),
                    Err(DecodeError::BadLength {
                        len: b.len() + 1,
                        expected: b.len()
                    })
                ),
            }
        }
    }

    /// Overwrites the u32 at `at` (little-endian).
    fn patched(msg: &Message, at: usize, v: u32) -> Vec<u8> {
        let mut b = encode(msg);
        b[at..at + 4].copy_from_slice(&v.to_le_bytes());
        b
    }

    #[test]
    fn orf_token_counts() {
        let t = Message::OrfToken(orf(2));
        let bad = |v: u32| decode(&patched(&t, 53, v));
        assert_eq!(
            bad(31),
            Err(DecodeError::BadCount {
                field: "rtr_list_entries",
                value: 31
            })
        );
        assert_eq!(
            bad(u32::MAX),
            Err(DecodeError::BadCount {
                field: "rtr_list_entries",
                value: -1
            })
        );
        assert_eq!(
            bad(0x8000_0000),
            Err(DecodeError::BadCount {
                field: "rtr_list_entries",
                value: i64::from(i32::MIN)
            })
        );
        assert_eq!(bad(3), Err(DecodeError::BadLength { len: 89, expected: 105 }));
        assert_eq!(bad(1), Err(DecodeError::BadLength { len: 89, expected: 73 }));
        // The big-endian reading of the same count is checked too.
        let mut be = encode_be(&t);
        be[53..57].copy_from_slice(&31u32.to_be_bytes());
        assert_eq!(
            decode(&be),
            Err(DecodeError::BadCount {
                field: "rtr_list_entries",
                value: 31
            })
        );
    }

    #[test]
    fn join_counts() {
        let j = Message::Join(join(3, 1));
        assert_eq!(
            decode(&patched(&j, 17, 385)),
            Err(DecodeError::BadCount {
                field: "proc_list_entries",
                value: 385
            })
        );
        assert_eq!(
            decode(&patched(&j, 21, 385)),
            Err(DecodeError::BadCount {
                field: "failed_list_entries",
                value: 385
            })
        );
        assert_eq!(
            decode(&patched(&j, 17, u32::MAX)),
            Err(DecodeError::BadCount {
                field: "proc_list_entries",
                value: i64::from(u32::MAX)
            })
        );
        assert_eq!(
            decode(&patched(&j, 17, 4)),
            Err(DecodeError::BadLength { len: 49, expected: 53 })
        );
        assert_eq!(
            decode(&patched(&j, 21, 0)),
            Err(DecodeError::BadLength { len: 49, expected: 45 })
        );
        // Moving one entry from proc to failed keeps the size and is accepted.
        let mut b = patched(&j, 17, 2);
        b[21..25].copy_from_slice(&2u32.to_le_bytes());
        match decode(&b).unwrap().message {
            Message::Join(got) => {
                assert_eq!(got.proc_list, vec![3, 2]);
                assert_eq!(got.failed_list, vec![1, 1000]);
            }
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn commit_token_counts() {
        let c = Message::CommitToken(commit(3, 1));
        let len = 41 + 28 * 3;
        assert_eq!(
            decode(&patched(&c, 37, 385)),
            Err(DecodeError::BadCount {
                field: "addr_entries",
                value: 385
            })
        );
        assert_eq!(
            decode(&patched(&c, 37, u32::MAX)),
            Err(DecodeError::BadCount {
                field: "addr_entries",
                value: -1
            })
        );
        assert_eq!(
            decode(&patched(&c, 37, 2)),
            Err(DecodeError::BadLength { len, expected: 41 + 56 })
        );
        assert_eq!(
            decode(&patched(&c, 33, 4)),
            Err(DecodeError::BadCount {
                field: "memb_index",
                value: 4
            })
        );
        assert_eq!(
            decode(&patched(&c, 33, u32::MAX)),
            Err(DecodeError::BadCount {
                field: "memb_index",
                value: -1
            })
        );
        for idx in 0..=3 {
            assert!(decode(&patched(&c, 33, idx)).is_ok());
        }
        // memb_index is checked against the count even when the count shrank.
        assert_eq!(
            decode(&patched(&commit_msg(0, 0), 33, 1)),
            Err(DecodeError::BadCount {
                field: "memb_index",
                value: 1
            })
        );
    }

    fn commit_msg(n: usize, idx: i32) -> Message {
        Message::CommitToken(commit(n, idx))
    }

    #[test]
    fn commit_token_short_memb_list_is_zero_filled() {
        let mut c = commit(3, 1);
        c.memb_list.truncate(1);
        let b = encode(&Message::CommitToken(c.clone()));
        assert_eq!(b.len(), 41 + 28 * 3);
        match decode(&b).unwrap().message {
            Message::CommitToken(got) => {
                assert_eq!(got.memb_list[0], c.memb_list[0]);
                assert_eq!(&got.memb_list[1..], &[MembEntry::default(); 2]);
            }
            m => panic!("{m:?}"),
        }
        let mut long = commit(2, 1);
        long.memb_list.push(MembEntry {
            aru: 5,
            ..MembEntry::default()
        });
        assert_eq!(encode(&Message::CommitToken(long)), encode(&commit_msg(2, 1)));
    }

    #[test]
    fn decode_shared_does_not_copy_the_payload() {
        let b = Bytes::from(encode(&Message::Mcast(mcast(b"0123456789", false))));
        let Message::Mcast(m) = decode_shared(&b).unwrap().message else {
            panic!("not an mcast")
        };
        assert_eq!(&m.payload[..], b"0123456789");
        assert_eq!(m.payload.as_ptr(), b[MCAST_HEADER_LEN..].as_ptr());
        // decode copies.
        let Message::Mcast(m) = decode(&b).unwrap().message else {
            panic!("not an mcast")
        };
        assert_ne!(m.payload.as_ptr(), b[MCAST_HEADER_LEN..].as_ptr());
    }

    #[test]
    fn encapsulation_round_trip() {
        let inner = Mcast {
            ring_id: rid(2, 1),
            seq: 8,
            sender: 2,
            system_from: 2,
            ..mcast(b"old ring frame", false)
        };
        let outer = Mcast {
            ring_id: rid(1, 9),
            seq: 3,
            payload: Bytes::from_static(b"ignored"),
            ..mcast(b"", false)
        };
        let wrapped = encapsulate(outer.clone(), &inner);
        assert!(wrapped.encapsulated);
        assert_eq!(wrapped.payload.len(), MCAST_HEADER_LEN + 14);
        assert_eq!(wrapped.payload[4], NOT_ENCAPSULATED);
        let datagram = Bytes::from(encode(&Message::Mcast(wrapped.clone())));
        assert_eq!(datagram[4], ENCAPSULATED);
        assert_eq!(datagram.len(), 2 * MCAST_HEADER_LEN + 14);
        let Message::Mcast(got) = decode_shared(&datagram).unwrap().message else {
            panic!("not an mcast")
        };
        assert_eq!(got, wrapped);
        let (got_inner, foreign) = unencapsulate(&got).unwrap();
        assert!(!foreign);
        assert_eq!(got_inner, inner);
        // The inner payload is a slice of the received datagram.
        assert_eq!(got_inner.payload.as_ptr(), datagram[2 * MCAST_HEADER_LEN..].as_ptr());

        // A big-endian original re-sent verbatim is reported as foreign.
        let raw = Bytes::from(encode_be(&Message::Mcast(inner.clone())));
        let wrapped = encapsulate_raw(outer.clone(), raw);
        let (got_inner, foreign) = unencapsulate(&wrapped).unwrap();
        assert!(foreign);
        assert_eq!(got_inner, inner);
    }

    #[test]
    fn unencapsulate_errors() {
        let plain = mcast(b"frame", false);
        assert_eq!(unencapsulate(&plain), Err(DecodeError::NotEncapsulated));
        let mut m = mcast(b"", true);
        m.payload = Bytes::from(encode(&Message::TokenHoldCancel(TokenHoldCancel::default())));
        assert_eq!(
            unencapsulate(&m),
            Err(DecodeError::InnerNotMcast(MessageType::TokenHoldCancel))
        );
        m.payload = Bytes::from_static(&[0x70, 0xC0, 3, 1, 2]);
        assert_eq!(
            unencapsulate(&m),
            Err(DecodeError::Truncated {
                len: 5,
                need: HEADER_LEN
            })
        );
        m.payload = Bytes::from(encode(&Message::Mcast(mcast(b"", false))).split_off(1));
        assert!(unencapsulate(&m).is_err());
    }

    fn ring_id() -> impl Strategy<Value = RingId> {
        (any::<u32>(), any::<u64>()).prop_map(|(rep, seq)| RingId { rep, seq })
    }

    fn memb_entry() -> impl Strategy<Value = MembEntry> {
        (ring_id(), any::<u32>(), any::<u32>(), any::<u32>()).prop_map(
            |(ring_id, aru, high_delivered, received_flg)| MembEntry {
                ring_id,
                aru,
                high_delivered,
                received_flg,
            },
        )
    }

    fn arb_message() -> impl Strategy<Value = Message> {
        let orf = (
            (any::<u32>(), any::<u32>(), any::<u32>(), any::<u32>()),
            (any::<u32>(), any::<u32>(), ring_id()),
            (any::<u32>(), any::<u32>(), any::<i32>()),
            vec(
                (ring_id(), any::<u32>()).prop_map(|(ring_id, seq)| RtrItem { ring_id, seq }),
                0..=RTR_ENTRIES_MAX,
            ),
        )
            .prop_map(
                |(
                    (sender, target_nodeid, seq, token_seq),
                    (aru, aru_addr, ring_id),
                    (backlog, fcc, retrans_flg),
                    rtr_list,
                )| {
                    Message::OrfToken(OrfToken {
                        sender,
                        target_nodeid,
                        seq,
                        token_seq,
                        aru,
                        aru_addr,
                        ring_id,
                        backlog,
                        fcc,
                        retrans_flg,
                        rtr_list,
                    })
                },
            );
        let mcast = (
            (any::<u32>(), any::<u32>(), any::<bool>(), any::<u32>()),
            (any::<u32>(), any::<i32>(), ring_id(), any::<u32>(), any::<i32>()),
            vec(any::<u8>(), 0..1500),
        )
            .prop_map(
                |(
                    (sender, target_nodeid, encapsulated, system_from),
                    (seq, this_seqno, ring_id, node_id, guarantee),
                    payload,
                )| {
                    Message::Mcast(Mcast {
                        sender,
                        target_nodeid,
                        encapsulated,
                        system_from,
                        seq,
                        this_seqno,
                        ring_id,
                        node_id,
                        guarantee,
                        payload: payload.into(),
                    })
                },
            );
        let merge = (any::<u32>(), any::<u32>(), any::<u32>(), ring_id()).prop_map(
            |(sender, target_nodeid, system_from, ring_id)| {
                Message::MergeDetect(MergeDetect {
                    sender,
                    target_nodeid,
                    system_from,
                    ring_id,
                })
            },
        );
        let join = (
            (any::<u32>(), any::<u32>(), any::<u32>(), any::<u64>()),
            vec(any::<u32>(), 0..=PROCESSORS_MAX),
            vec(any::<u32>(), 0..=PROCESSORS_MAX),
        )
            .prop_map(
                |((sender, target_nodeid, system_from, ring_seq), proc_list, failed_list)| {
                    Message::Join(Join {
                        sender,
                        target_nodeid,
                        system_from,
                        ring_seq,
                        proc_list,
                        failed_list,
                    })
                },
            );
        let commit = (0..=PROCESSORS_MAX)
            .prop_flat_map(|n| {
                (
                    (any::<u32>(), any::<u32>(), any::<u32>(), ring_id(), any::<u32>()),
                    0..=n as i32,
                    vec(any::<u32>(), n),
                    vec(memb_entry(), n),
                )
            })
            .prop_map(
                |((sender, target_nodeid, token_seq, ring_id, retrans_flg), memb_index, addr, memb_list)| {
                    Message::CommitToken(CommitToken {
                        sender,
                        target_nodeid,
                        token_seq,
                        ring_id,
                        retrans_flg,
                        memb_index,
                        addr,
                        memb_list,
                    })
                },
            );
        let hold = (any::<u32>(), any::<u32>(), ring_id()).prop_map(|(sender, target_nodeid, ring_id)| {
            Message::TokenHoldCancel(TokenHoldCancel {
                sender,
                target_nodeid,
                ring_id,
            })
        });
        prop_oneof![orf, mcast, merge, join, commit, hold]
    }

    /// The fuzz property: if arbitrary bytes decode, the message survives re-encoding.
    fn check_bytes(bytes: &[u8]) {
        if let Ok(d) = decode(bytes) {
            let again = decode(&encode(&d.message)).expect("re-encoded message must decode");
            assert!(!again.foreign_endian);
            assert_eq!(again.message, d.message);
            assert!(encoded_len(&d.message) == bytes.len());
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..600)) {
            check_bytes(&bytes);
            let _ = decode_shared(&Bytes::from(bytes));
        }

        /// Valid headers with random bodies reach the per-type checks far more often.
        #[test]
        fn arbitrary_bodies_never_panic(
            be in any::<bool>(),
            ty in 0u8..7,
            enc in 0u8..4,
            counts in vec(0u32..400, 3),
            body in vec(any::<u8>(), 0..400),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut b = if be { vec![0xC0, 0x70] } else { vec![0x70, 0xC0] };
            b.extend_from_slice(&[3, ty, enc]);
            b.extend_from_slice(&body);
            // Plant small counts where each type keeps them, so lengths sometimes match.
            let put = |b: &mut Vec<u8>, at: usize, v: u32| {
                if b.len() >= at + 4 {
                    let v = if be { v.to_be_bytes() } else { v.to_le_bytes() };
                    b[at..at + 4].copy_from_slice(&v);
                }
            };
            match ty {
                0 => put(&mut b, 53, counts[0] % 32),
                3 => { put(&mut b, 17, counts[0] % 8); put(&mut b, 21, counts[1] % 8); }
                4 => { put(&mut b, 37, counts[0] % 8); put(&mut b, 33, counts[1] % 9); }
                _ => {}
            }
            check_bytes(&b);
            let len = cut.index(b.len() + 1);
            check_bytes(&b[..len]);
        }

        #[test]
        fn well_formed_messages_round_trip(msg in arb_message()) {
            let le = encode(&msg);
            prop_assert_eq!(le.len(), encoded_len(&msg));
            let d = decode(&le).unwrap();
            prop_assert!(!d.foreign_endian);
            prop_assert_eq!(&d.message, &msg);
            let d = decode(&encode_be(&msg)).unwrap();
            prop_assert!(d.foreign_endian);
            prop_assert_eq!(&d.message, &msg);
            let shared = Bytes::from(le);
            prop_assert_eq!(decode_shared(&shared).unwrap().message, msg);
        }

        #[test]
        fn encapsulated_round_trip(outer in arb_message(), inner in arb_message()) {
            if let (Message::Mcast(outer), Message::Mcast(inner)) = (outer, inner) {
                let wrapped = encapsulate(outer, &inner);
                let bytes = Bytes::from(encode(&Message::Mcast(wrapped)));
                let Message::Mcast(got) = decode_shared(&bytes).unwrap().message else {
                    panic!("not an mcast")
                };
                prop_assert_eq!(unencapsulate(&got).unwrap(), (inner, false));
            }
        }
    }
}

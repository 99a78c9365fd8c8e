//! Sending side: corosync's `mcast_msg` (packing and fragmentation) and
//! `callback_token_received_fn` (sending the partial frame when the token arrives).

use std::collections::VecDeque;

use bytes::{BufMut, Bytes, BytesMut};

use super::frame::{put_header, HEADER_LEN};
use super::groups::MAX_GROUPS;

/// Smallest frame MTU accepted; below it a frame has no room for data.
pub const MIN_FRAME_MTU: usize = 16;
/// Largest frame MTU accepted: a message length must fit the `u16` `msg_len` field.
pub const MAX_FRAME_MTU: usize = u16::MAX as usize;

/// Parts of an enveloped message: the length array, up to `MAX_GROUPS` names, the payload.
const MAX_PARTS: usize = MAX_GROUPS + 2;

/// Packs outgoing messages into frames of at most `frame_mtu` bytes, byte for byte as
/// corosync 3.1.7 does for the same input.
///
/// corosync packs a message as a list of iovecs, and several of its decisions are per
/// iovec: whether a piece "fits" is judged on the whole iovec length, an iovec that
/// ends within 2 bytes of the frame end closes the frame, and the fragment counter
/// restarts at 1 whenever an iovec fits whole. [`Packer::push_vectored`] takes the
/// iovecs; [`Packer::push`] splits a group envelope off as corosync's
/// `totempg_groups_mcast_joined` would.
#[derive(Debug, Clone)]
pub struct Packer {
    frame_mtu: usize,
    /// corosync's `TOTEMPG_PACKET_SIZE`: room for `msg_len[]` plus data.
    packet_size: usize,
    /// Lengths of the messages (or final pieces) waiting in the partial frame.
    lens: Vec<u16>,
    /// Their bytes (corosync's `fragmentation_data`).
    data: Vec<u8>,
    /// `continuation` of the next frame: non-zero while the partial frame starts
    /// with the tail of a fragmented message.
    fragment_continuation: u8,
    /// Next fragment number (corosync's `next_fragment`, never 0 when used).
    next_fragment: u8,
    ready: VecDeque<Bytes>,
}

impl Packer {
    /// `frame_mtu` is the whole frame (header included); corosync's stock udpu value
    /// is 1410. It is clamped to [`MIN_FRAME_MTU`]..=[`MAX_FRAME_MTU`].
    pub fn new(frame_mtu: usize) -> Self {
        let frame_mtu = frame_mtu.clamp(MIN_FRAME_MTU, MAX_FRAME_MTU);
        let packet_size = frame_mtu - HEADER_LEN;
        Packer {
            frame_mtu,
            packet_size,
            lens: Vec::new(),
            data: Vec::with_capacity(packet_size),
            fragment_continuation: 0,
            next_fragment: 1,
            ready: VecDeque::new(),
        }
    }

    pub fn frame_mtu(&self) -> usize {
        self.frame_mtu
    }

    /// Pieces of at least this size may end up alone in a frame (see `frames_needed_vectored`).
    fn big_part(&self) -> usize {
        self.packet_size - 4
    }

    /// Upper bound of the frames one more [`Packer::push`] of `len` bytes completes
    /// (a later [`Packer::flush`] may add one more), for back-pressure.
    ///
    /// Every completed frame but the first carries at least `packet_size − 4` bytes of
    /// the message, except the lone tail of a part that is itself that large; `push`
    /// produces at most one such part.
    pub fn frames_needed(&self, len: usize) -> usize {
        len / self.big_part() + 2
    }

    /// The longest message whose [`Packer::frames_needed`] is at most `frames`.
    pub fn max_len_for(&self, frames: usize) -> usize {
        (frames.saturating_sub(1) * self.big_part()).saturating_sub(1)
    }

    /// Upper bound of the frames one more [`Packer::push_vectored`] of `parts` completes.
    pub fn frames_needed_vectored(&self, parts: &[&[u8]]) -> usize {
        let big = self.big_part();
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let big_parts = parts.iter().filter(|p| p.len() >= big).count();
        1 + total / big + big_parts
    }

    /// Appends one message. Frames that become complete are available from
    /// [`Packer::pop_frame`]; the rest waits for more messages or [`Packer::flush`].
    ///
    /// A message that starts with a valid group envelope ([`super::encode_groups`])
    /// is packed as corosync packs it: length array, each name, then the payload as
    /// separate iovecs. Otherwise the message is one iovec. Either way the receiver
    /// gets the same bytes; only the frame boundaries and fragment numbers differ.
    pub fn push(&mut self, message: &[u8]) {
        match split_envelope(message, self.big_part()) {
            Some((parts, n)) => self.push_vectored(&parts[..n]),
            None => self.push_vectored(&[message]),
        }
    }

    /// Appends one message made of `parts` (corosync's iovecs, e.g. CPG sends its
    /// 184-byte header and the data as two), with corosync's exact packing rules.
    ///
    /// Unlike corosync, a message with no bytes at all is not lost: it gets an empty
    /// entry.
    pub fn push_vectored(&mut self, parts: &[&[u8]]) {
        // corosync drops empty iovecs first; `last` is the last one it keeps.
        let empty: [&[u8]; 1] = [&[]];
        let (parts, last, skip_empty) = match parts.iter().rposition(|p| !p.is_empty()) {
            Some(last) => (parts, last, true),
            None => (&empty[..], 0, false),
        };
        let full = self.packet_size - 2;
        let mut max = self.packet_size.saturating_sub(2 * (self.lens.len() + 1));
        // Bytes of this message in the partial frame, and whether the message ends there.
        let mut cur = 0;
        let mut buffered = false;
        for (i, part) in parts.iter().enumerate() {
            if skip_empty && part.is_empty() {
                continue;
            }
            let mut base = 0;
            loop {
                // corosync judges on the whole iovec length even when part of it has
                // already gone out: the tail of an iovec too big for an empty frame
                // leaves at once, alone, instead of waiting for company.
                if part.len() + self.data.len() + 2 < max {
                    self.data.extend_from_slice(&part[base..]);
                    cur += part.len() - base;
                    self.next_fragment = 1;
                    buffered = true;
                    break;
                }
                let copy = (part.len() - base).min(max.saturating_sub(self.data.len()));
                let done = base + copy == part.len();
                let continuation = self.fragment_continuation;
                let fragmented = if i < last || !done {
                    if self.next_fragment == 0 {
                        self.next_fragment = 1;
                    }
                    let n = self.next_fragment;
                    self.next_fragment = n.wrapping_add(1);
                    n
                } else {
                    0
                };
                self.fragment_continuation = fragmented;
                self.emit(fragmented, continuation, Some((cur + copy, &part[base..base + copy])));
                cur = 0;
                buffered = false;
                max = full;
                base += copy;
                if done {
                    break;
                }
            }
        }
        if buffered {
            // cur < max ≤ packet_size − 2 ≤ u16::MAX (frame_mtu is clamped).
            self.lens.push(cur as u16);
        }
    }

    /// Closes the partially filled frame so it can be sent: corosync sends it when
    /// the token arrives, so that small messages do not wait for more traffic.
    pub fn flush(&mut self) {
        if self.lens.is_empty() {
            return;
        }
        let continuation = std::mem::take(&mut self.fragment_continuation);
        self.emit(0, continuation, None);
    }

    /// True when messages wait in a partially filled frame.
    pub fn has_partial(&self) -> bool {
        !self.lens.is_empty()
    }

    /// The next completed frame, oldest first.
    pub fn pop_frame(&mut self) -> Option<Bytes> {
        self.ready.pop_front()
    }

    /// Queues the partial frame's entries, plus `extra` = (its length, bytes not yet
    /// buffered) as the last entry, as one frame; the partial frame is then empty.
    fn emit(&mut self, fragmented: u8, continuation: u8, extra: Option<(usize, &[u8])>) {
        let count = self.lens.len() + usize::from(extra.is_some());
        let tail = extra.map_or(&[][..], |(_, t)| t);
        let mut out = BytesMut::with_capacity(HEADER_LEN + 2 * count + self.data.len() + tail.len());
        // count ≤ packet_size / 2 < u16::MAX, and an entry length ≤ packet_size − 2.
        put_header(&mut out, fragmented, continuation, count as u16);
        for &len in &self.lens {
            out.put_u16_le(len);
        }
        if let Some((len, _)) = extra {
            out.put_u16_le(len as u16);
        }
        out.put_slice(&self.data);
        out.put_slice(tail);
        debug_assert!(out.len() <= self.frame_mtu);
        self.ready.push_back(out.freeze());
        self.lens.clear();
        self.data.clear();
    }
}

/// Splits a message with a valid group envelope into corosync's iovecs: the length
/// array, each group name, the payload. None when there is no valid envelope or a
/// piece of it is big enough to change the `frames_needed` bound.
fn split_envelope(msg: &[u8], big: usize) -> Option<([&[u8]; MAX_PARTS], usize)> {
    let n = usize::from(u16::from_le_bytes([*msg.first()?, *msg.get(1)?]));
    if n > MAX_GROUPS {
        return None;
    }
    let header_len = 2 + 2 * n;
    let header = msg.get(..header_len)?;
    if header_len >= big {
        return None;
    }
    let mut parts: [&[u8]; MAX_PARTS] = [&[]; MAX_PARTS];
    parts[0] = header;
    let mut off = header_len;
    for i in 0..n {
        let len = usize::from(u16::from_le_bytes([header[2 + 2 * i], header[3 + 2 * i]]));
        if len >= big {
            return None;
        }
        parts[1 + i] = msg.get(off..off + len)?;
        off += len;
    }
    parts[1 + n] = &msg[off..];
    Some((parts, n + 2))
}

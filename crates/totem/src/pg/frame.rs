//! The frame layout: corosync's `struct totempg_mcast`, `msg_len[]`, then the data.

use std::ops::Range;

use bytes::{BufMut, Bytes, BytesMut};

use super::FrameError;

/// Fixed part of a frame: version, type, fragmented, continuation, msg_count.
pub const HEADER_LEN: usize = 8;

/// A validated view of a frame's header and length array; no copies.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FrameView<'a> {
    pub(crate) fragmented: u8,
    pub(crate) continuation: u8,
    lens: &'a [u8],
    foreign_endian: bool,
}

impl<'a> FrameView<'a> {
    /// Checks the header and that the length is exactly `8 + 2·count + Σlen`, as
    /// corosync's `totempg_deliver_fn` does. `version` and `type` are not checked
    /// (corosync ignores them too).
    pub(crate) fn parse(frame: &'a [u8], foreign_endian: bool) -> Result<Self, FrameError> {
        if frame.len() < HEADER_LEN {
            return Err(FrameError::Truncated(frame.len()));
        }
        let count = usize::from(read_u16([frame[6], frame[7]], foreign_endian));
        let data_off = HEADER_LEN + 2 * count;
        let Some(lens) = frame.get(HEADER_LEN..data_off) else {
            return Err(FrameError::Truncated(frame.len()));
        };
        let view = FrameView {
            fragmented: frame[4],
            continuation: frame[5],
            lens,
            foreign_endian,
        };
        let expected = data_off + (0..count).map(|i| view.len(i)).sum::<usize>();
        if expected != frame.len() {
            return Err(FrameError::BadLength {
                len: frame.len(),
                expected,
            });
        }
        if count == 0 && (view.fragmented != 0 || view.continuation != 0) {
            return Err(FrameError::EmptyFragment);
        }
        Ok(view)
    }

    pub(crate) fn count(&self) -> usize {
        self.lens.len() / 2
    }

    fn len(&self, i: usize) -> usize {
        usize::from(read_u16([self.lens[2 * i], self.lens[2 * i + 1]], self.foreign_endian))
    }

    /// Byte ranges of the messages inside the frame, in order.
    pub(crate) fn entries(&self) -> impl Iterator<Item = Range<usize>> + '_ {
        let mut start = HEADER_LEN + self.lens.len();
        (0..self.count()).map(move |i| {
            let end = start + self.len(i);
            let range = start..end;
            start = end;
            range
        })
    }
}

fn read_u16(bytes: [u8; 2], foreign_endian: bool) -> u16 {
    if foreign_endian {
        u16::from_be_bytes(bytes)
    } else {
        u16::from_le_bytes(bytes)
    }
}

/// A decoded frame, for tools and tests; [`super::Assembler`] does not allocate one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Non-zero: the last message continues in the sender's next frame.
    pub fragmented: u8,
    /// Non-zero: the first message continues the sender's previous frame.
    pub continuation: u8,
    /// The packed messages (or message pieces), zero-copy slices of the frame.
    pub messages: Vec<Bytes>,
}

impl Frame {
    pub fn decode(frame: &Bytes, foreign_endian: bool) -> Result<Frame, FrameError> {
        let view = FrameView::parse(frame, foreign_endian)?;
        Ok(Frame {
            fragmented: view.fragmented,
            continuation: view.continuation,
            messages: view.entries().map(|r| frame.slice(r)).collect(),
        })
    }

    /// Encodes little-endian (what ferrosync and x86 corosync send).
    pub fn encode(&self) -> Result<Bytes, FrameError> {
        let count = u16::try_from(self.messages.len()).map_err(|_| FrameError::TooManyMessages(self.messages.len()))?;
        let data: usize = self.messages.iter().map(Bytes::len).sum();
        let mut out = BytesMut::with_capacity(HEADER_LEN + 2 * self.messages.len() + data);
        put_header(&mut out, self.fragmented, self.continuation, count);
        for m in &self.messages {
            let len = u16::try_from(m.len()).map_err(|_| FrameError::MessageTooLarge {
                len: m.len(),
                max: usize::from(u16::MAX),
            })?;
            out.put_u16_le(len);
        }
        for m in &self.messages {
            out.put_slice(m);
        }
        Ok(out.freeze())
    }
}

pub(crate) fn put_header(out: &mut BytesMut, fragmented: u8, continuation: u8, count: u16) {
    out.put_i16_le(0); // version
    out.put_i16_le(0); // type
    out.put_u8(fragmented);
    out.put_u8(continuation);
    out.put_u16_le(count);
}

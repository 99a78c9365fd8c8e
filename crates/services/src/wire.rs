//! Native-endian marshalling of corosync's C structs, by field offset.
//!
//! corosync lays out IPC and exec messages as C structs whose integer fields are
//! `aligned(8)`; the layouts are written down in `shared/reference/libqb-ipc.md` §6–7
//! and `totem-wire.md` §9–11 as offsets. A [`Writer`] fills a zeroed buffer at those
//! offsets and a [`Reader`] reads them back with bounds checks, so a short or hostile
//! message is an error, never a panic.

use crate::error::WireError;

/// `qb_ipc_request_header`: `{i32 id @0; i32 size @8}`.
pub const REQUEST_HEADER: usize = 16;
/// `qb_ipc_response_header`: `{i32 id @0; i32 size @8; i32 error @16}`.
pub const RESPONSE_HEADER: usize = 24;
/// `mar_name_t`: `{u16 length @0; char value[256] @8}`.
pub const MAR_NAME: usize = 264;
/// Longest cmap key (`CS_MAX_NAME_LENGTH` is 256 including the NUL).
pub const MAR_NAME_MAX: usize = 256;
/// `mar_cpg_name_t`: `{u32 length @0; char value[128] @8}`.
pub const CPG_NAME: usize = 136;
/// Longest CPG group name.
pub const CPG_NAME_MAX: usize = 128;

/// Builds a message of a fixed size with fields at given offsets.
#[derive(Debug, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// A zeroed message of `size` bytes.
    pub fn new(size: usize) -> Self {
        Writer::with_room(size, 0)
    }

    /// A zeroed message of `size` bytes, allocated with room for `extra` more: a payload
    /// appended with [`Writer::extend`] then needs no second allocation.
    pub fn with_room(size: usize, extra: usize) -> Self {
        Writer::with_room_in(Vec::new(), size, extra)
    }

    /// [`Writer::with_room`] in `buf`, whose contents are dropped and allocation reused.
    pub fn with_room_in(mut buf: Vec<u8>, size: usize, extra: usize) -> Self {
        buf.clear();
        buf.reserve(size + extra);
        buf.resize(size, 0);
        Writer { buf }
    }

    /// A response: header `{id, size, error}` with the size filled in by [`Writer::finish`].
    pub fn response(id: i32, size: usize, error: crate::CsError) -> Self {
        Writer::response_with_room(id, size, error, 0)
    }

    /// [`Writer::response`] with room for a payload of `extra` bytes.
    pub fn response_with_room(id: i32, size: usize, error: crate::CsError, extra: usize) -> Self {
        Writer::response_in(Vec::new(), id, size, error, extra)
    }

    /// [`Writer::response_with_room`] in `buf` (see [`Writer::with_room_in`]).
    pub fn response_in(buf: Vec<u8>, id: i32, size: usize, error: crate::CsError, extra: usize) -> Self {
        let mut w = Writer::with_room_in(buf, size, extra);
        w.i32(0, id);
        w.i32(16, error as i32);
        w
    }

    /// A request or exec message header `{id, size}`.
    pub fn request(id: i32, size: usize) -> Self {
        Writer::request_with_room(id, size, 0)
    }

    /// [`Writer::request`] with room for a payload of `extra` bytes.
    pub fn request_with_room(id: i32, size: usize, extra: usize) -> Self {
        Writer::request_in(Vec::new(), id, size, extra)
    }

    /// [`Writer::request_with_room`] in `buf` (see [`Writer::with_room_in`]).
    pub fn request_in(buf: Vec<u8>, id: i32, size: usize, extra: usize) -> Self {
        let mut w = Writer::with_room_in(buf, size, extra);
        w.i32(0, id);
        w
    }

    pub fn u8(&mut self, at: usize, v: u8) -> &mut Self {
        self.buf[at] = v;
        self
    }
    pub fn u16(&mut self, at: usize, v: u16) -> &mut Self {
        self.bytes(at, &v.to_ne_bytes())
    }
    pub fn u32(&mut self, at: usize, v: u32) -> &mut Self {
        self.bytes(at, &v.to_ne_bytes())
    }
    pub fn i32(&mut self, at: usize, v: i32) -> &mut Self {
        self.bytes(at, &v.to_ne_bytes())
    }
    pub fn u64(&mut self, at: usize, v: u64) -> &mut Self {
        self.bytes(at, &v.to_ne_bytes())
    }
    pub fn bytes(&mut self, at: usize, v: &[u8]) -> &mut Self {
        self.buf[at..at + v.len()].copy_from_slice(v);
        self
    }

    /// Appends bytes past the fixed part (variable-length payloads).
    pub fn extend(&mut self, v: &[u8]) -> &mut Self {
        self.buf.extend_from_slice(v);
        self
    }

    /// `mar_name_t` at `at` (the caller has checked the length).
    pub fn mar_name(&mut self, at: usize, name: &[u8]) -> &mut Self {
        debug_assert!(name.len() <= MAR_NAME_MAX);
        self.u16(at, name.len() as u16).bytes(at + 8, name)
    }

    /// `mar_cpg_name_t` at `at`.
    pub fn cpg_name(&mut self, at: usize, name: &[u8]) -> &mut Self {
        debug_assert!(name.len() <= CPG_NAME_MAX);
        self.u32(at, name.len() as u32).bytes(at + 8, name)
    }

    /// Sets the header's size field to the final length and returns the bytes.
    pub fn finish(mut self) -> Vec<u8> {
        let len = self.buf.len() as i32;
        self.i32(8, len);
        self.buf
    }

    /// The bytes as written, without touching a header (structs embedded in a message).
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// Reads fields of a received message; every read is bounds-checked.
#[derive(Debug, Clone, Copy)]
pub struct Reader<'a> {
    buf: &'a [u8],
    /// Byte order differs from ours (exec messages from a big-endian peer).
    swap: bool,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, swap: false }
    }

    /// A reader that byte-swaps integers (the sender's byte order differs).
    pub fn with_swap(buf: &'a [u8], swap: bool) -> Self {
        Reader { buf, swap }
    }

    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Fails unless the message holds at least `n` bytes.
    pub fn need(&self, n: usize) -> Result<(), WireError> {
        if self.buf.len() < n {
            return Err(WireError::Short {
                need: n,
                have: self.buf.len(),
            });
        }
        Ok(())
    }

    fn array<const N: usize>(&self, at: usize) -> Result<[u8; N], WireError> {
        self.need(at + N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(&self.buf[at..at + N]);
        if self.swap {
            a.reverse();
        }
        Ok(a)
    }

    pub fn u8(&self, at: usize) -> Result<u8, WireError> {
        self.need(at + 1)?;
        Ok(self.buf[at])
    }
    pub fn u16(&self, at: usize) -> Result<u16, WireError> {
        Ok(u16::from_ne_bytes(self.array(at)?))
    }
    pub fn u32(&self, at: usize) -> Result<u32, WireError> {
        Ok(u32::from_ne_bytes(self.array(at)?))
    }
    pub fn i32(&self, at: usize) -> Result<i32, WireError> {
        Ok(i32::from_ne_bytes(self.array(at)?))
    }
    pub fn u64(&self, at: usize) -> Result<u64, WireError> {
        Ok(u64::from_ne_bytes(self.array(at)?))
    }

    /// `len` raw bytes at `at`.
    pub fn bytes(&self, at: usize, len: usize) -> Result<&'a [u8], WireError> {
        let end = at.checked_add(len).ok_or(WireError::Length(len as u64))?;
        self.need(end)?;
        Ok(&self.buf[at..end])
    }

    /// Everything from `at` on.
    pub fn rest(&self, at: usize) -> Result<&'a [u8], WireError> {
        self.need(at)?;
        Ok(&self.buf[at..])
    }

    /// `mar_name_t` at `at`: the name without padding.
    pub fn mar_name(&self, at: usize) -> Result<&'a [u8], WireError> {
        let len = usize::from(self.u16(at)?);
        if len > MAR_NAME_MAX {
            return Err(WireError::NameTooLong(len));
        }
        self.bytes(at + 8, len)
    }

    /// `mar_cpg_name_t` at `at`.
    pub fn cpg_name(&self, at: usize) -> Result<&'a [u8], WireError> {
        let len = self.u32(at)? as usize;
        if len > CPG_NAME_MAX {
            return Err(WireError::NameTooLong(len));
        }
        self.bytes(at + 8, len)
    }
}

/// The `{id, size}` header of a request or exec message, checked against the length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub id: i32,
    pub size: usize,
}

impl Header {
    /// Reads and checks the header: `size` must equal the message length.
    pub fn parse(msg: &[u8], swap: bool) -> Result<Header, WireError> {
        let r = Reader::with_swap(msg, swap);
        r.need(REQUEST_HEADER)?;
        let id = r.i32(0)?;
        let size = r.i32(8)?;
        if size < REQUEST_HEADER as i32 || size as usize != msg.len() {
            return Err(WireError::Size {
                declared: i64::from(size),
                actual: msg.len(),
            });
        }
        Ok(Header {
            id,
            size: size as usize,
        })
    }
}

/// Renders a name for logs: printable ASCII as is, the rest escaped (as corosync does).
pub fn printable(name: &[u8]) -> String {
    let mut s = String::with_capacity(name.len());
    for &c in name {
        if (b' '..0x7f).contains(&c) && c != b'\\' {
            s.push(c as char);
        } else if c == b'\\' {
            s.push_str("\\\\");
        } else {
            s.push_str(&format!("\\x{c:02X}"));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writer_reader_round_trip() {
        let mut w = Writer::request(0x20003, 200);
        w.cpg_name(16, b"group").u32(152, 42).u64(160, 7);
        let m = w.finish();
        let h = Header::parse(&m, false).unwrap();
        assert_eq!(h, Header { id: 0x20003, size: 200 });
        let r = Reader::new(&m);
        assert_eq!(r.cpg_name(16).unwrap(), b"group");
        assert_eq!(r.u32(152).unwrap(), 42);
        assert_eq!(r.u64(160).unwrap(), 7);
    }

    #[test]
    fn short_and_lying_messages_are_errors() {
        assert!(Header::parse(&[0; 8], false).is_err());
        let mut m = Writer::request(1, 32).finish();
        m.truncate(20);
        assert!(matches!(Header::parse(&m, false), Err(WireError::Size { .. })));
        let mut w = Writer::new(200);
        w.u32(16, 129);
        assert!(matches!(
            Reader::new(&w.finish()).cpg_name(16),
            Err(WireError::NameTooLong(129))
        ));
        assert!(Reader::new(&[0; 4]).u64(0).is_err());
        assert!(Reader::new(&[0; 4]).bytes(2, usize::MAX).is_err());
    }

    #[test]
    fn swapped_reads() {
        let m = 0x0102_0304u32.to_be_bytes();
        let native = Reader::new(&m).u32(0).unwrap();
        let swapped = Reader::with_swap(&m, true).u32(0).unwrap();
        assert_eq!(native.swap_bytes(), swapped);
    }

    #[test]
    fn printable_escapes() {
        assert_eq!(printable(b"ab\\\x01"), "ab\\\\\\x01");
    }
}

//! One server-side connection: the handshake bytes, the notification bytes, the request
//! ring reader and the bounded event queue.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::time::Instant;

use crate::error::IpcError;
use crate::listener::{send_notify_bytes, Credentials};
use crate::ring::RingError;
use crate::server::ConnId;
use crate::session::ShmSession;
use crate::wire::{decode_request, ConnectionRequest, CONNECTION_REQUEST_SIZE, MSG_DISCONNECT};

/// Notification bytes remembered beyond what the request ring can hold are garbage.
const MAX_OWED_REQUESTS: usize = 1 << 20;

/// Request buffers kept for reuse, in bytes of capacity: some passes' worth of small
/// requests…
const SPARE_BYTES: usize = 256 << 10;
/// …each of at most this capacity (a rare 1 MiB request does not stay allocated).
const SPARE_BUFFER_MAX: usize = 64 << 10;

/// Buffers of requests the daemon is done with, for the next requests read.
#[derive(Debug, Default)]
pub(crate) struct BufferPool {
    bufs: Vec<Vec<u8>>,
    /// Capacity of the buffers in `bufs`.
    bytes: usize,
}

impl BufferPool {
    fn take(&mut self) -> Vec<u8> {
        let buf = self.bufs.pop().unwrap_or_default();
        self.bytes -= buf.capacity();
        buf
    }

    /// Keeps `buf` for [`BufferPool::take`], up to the bounds.
    pub fn put(&mut self, buf: Vec<u8>) {
        let cap = buf.capacity();
        if cap <= SPARE_BUFFER_MAX && self.bytes + cap <= SPARE_BYTES {
            self.bytes += cap;
            self.bufs.push(buf);
        }
    }
}

#[derive(Debug)]
pub(crate) enum Phase {
    Handshake {
        buf: [u8; CONNECTION_REQUEST_SIZE],
        got: usize,
        deadline: Instant,
    },
    Active {
        creds: Credentials,
        session: Box<ShmSession>,
    },
}

/// What reading a connection produced.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Inbound {
    /// A request: id and the whole message including its 16-byte header.
    Request(i32, Vec<u8>),
    /// The client closed the socket or sent `QB_IPC_MSG_DISCONNECT`.
    Closed,
}

#[derive(Debug)]
pub(crate) struct Conn {
    pub id: ConnId,
    pub service: usize,
    pub stream: mio::net::UnixStream,
    pub phase: Phase,
    /// Events waiting for room in the event ring, oldest first.
    queue: VecDeque<Vec<u8>>,
    /// Bytes in `queue`.
    queued_bytes: usize,
    /// Events written to the ring whose notification byte did not fit in the socket yet.
    notify_owed: usize,
    /// Notification bytes received whose request chunk was not read yet.
    requests_owed: usize,
    /// Registered for writability too (only while notification bytes are owed).
    pub watching_writable: bool,
    /// Listed in the server's connections owed a batched notification.
    pub batched: bool,
}

impl Conn {
    pub fn new(id: ConnId, service: usize, stream: mio::net::UnixStream, deadline: Instant) -> Self {
        Self {
            id,
            service,
            stream,
            phase: Phase::Handshake {
                buf: [0; CONNECTION_REQUEST_SIZE],
                got: 0,
                deadline,
            },
            queue: VecDeque::new(),
            queued_bytes: 0,
            notify_owed: 0,
            watching_writable: false,
            requests_owed: 0,
            batched: false,
        }
    }

    pub fn creds(&self) -> Option<Credentials> {
        match &self.phase {
            Phase::Active { creds, .. } => Some(*creds),
            Phase::Handshake { .. } => None,
        }
    }

    pub fn session(&self) -> Option<&ShmSession> {
        match &self.phase {
            Phase::Active { session, .. } => Some(session),
            Phase::Handshake { .. } => None,
        }
    }

    /// Reads what is available of the 24-byte connection request. `Ok(None)`: not complete.
    pub fn read_handshake(&mut self) -> Result<Option<ConnectionRequest>, IpcError> {
        let Phase::Handshake { buf, got, .. } = &mut self.phase else {
            return Ok(None);
        };
        while *got < buf.len() {
            match self.stream.read(&mut buf[*got..]) {
                Ok(0) => return Err(IpcError::Disconnected),
                Ok(n) => *got += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Some(ConnectionRequest::decode(buf)?))
    }

    /// Sends the whole handshake response on the fresh socket, without blocking.
    pub fn send_handshake_response(&mut self, bytes: &[u8]) -> Result<(), IpcError> {
        let mut done = 0;
        while done < bytes.len() {
            match self.stream.write(&bytes[done..]) {
                Ok(0) => return Err(IpcError::Disconnected),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A fresh socket's buffer always holds 12 KiB; a client that does not let
                // it is not waited for.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Err(IpcError::Protocol("handshake response did not fit the socket"))
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }

    /// Drains notification bytes; each announces one request chunk. `Ok(true)` when the
    /// client closed the socket (EOF, `ECONNRESET`: a normal close for libqb clients).
    ///
    /// Unless `to_eof`, a read that does not fill the buffer took everything the stream
    /// held, and no second read is made just to see `EAGAIN` (a client sending one request
    /// at a time cost two `recv` calls per request): bytes or a close arriving later wake
    /// the loop again, as edge-triggered readiness fires on every arrival. A close that
    /// came before the wakeup is flagged in it (`Event::is_read_closed`): then `to_eof`.
    fn read_notifications(&mut self, to_eof: bool) -> Result<bool, IpcError> {
        let mut buf = [0u8; 512];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return Ok(true),
                Ok(n) if n < buf.len() && !to_eof => {
                    self.requests_owed = (self.requests_owed + n).min(MAX_OWED_REQUESTS);
                    return Ok(false);
                }
                Ok(n) => self.requests_owed = (self.requests_owed + n).min(MAX_OWED_REQUESTS),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Ok(true),
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Announced requests not read yet (left in the ring while reading is paused or the
    /// per-pass limit was reached).
    pub fn requests_owed(&self) -> usize {
        self.requests_owed
    }

    /// Reads notification bytes and up to `limit` of the request chunks they announce
    /// (the rest stay in the client's ring: back-pressure, as libqb's rate limiting).
    /// Chunks still in the ring after `Closed` are dropped, as libqb does. Requests are
    /// read into buffers taken from `spare` while it has some. `to_eof`: read the socket
    /// until it has nothing (needed when a close may have come; see `read_notifications`).
    pub fn read_requests(
        &mut self,
        out: &mut Vec<Inbound>,
        limit: usize,
        spare: &mut BufferPool,
        to_eof: bool,
    ) -> Result<(), IpcError> {
        let closed = self.read_notifications(to_eof)?;
        let Phase::Active { session, .. } = &self.phase else {
            return Ok(());
        };
        let max = session.request.max_msg_size();
        let mut read = 0;
        while self.requests_owed > 0 && (read < limit || closed) {
            read += 1;
            let mut chunk = spare.take();
            if !session.request.read_chunk_into(&mut chunk)? {
                spare.put(chunk);
                break;
            }
            self.requests_owed -= 1;
            session.request.sem_trywait();
            let hdr = decode_request(&chunk, max)?;
            if hdr.id == MSG_DISCONNECT {
                out.push(Inbound::Closed);
                return Ok(());
            }
            let mut msg = chunk;
            msg.truncate(hdr.size);
            out.push(Inbound::Request(hdr.id, msg));
        }
        if closed {
            out.push(Inbound::Closed);
        }
        Ok(())
    }

    /// Writes a response chunk (the client waits on the response semaphore).
    pub fn respond(&mut self, data: &[u8]) -> Result<(), IpcError> {
        let session = self.session().ok_or(IpcError::NoSuchConnection(self.id))?;
        session.response.write_chunk(data)?;
        Ok(())
    }

    /// Events waiting for room in the ring.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Bytes of the events waiting for room in the ring.
    pub fn queued_bytes(&self) -> usize {
        self.queued_bytes
    }

    /// Events written whose notification byte did not fit in the socket yet.
    pub fn notify_owed(&self) -> usize {
        self.notify_owed
    }

    /// True when something waits for a retry (queued events or owed notification bytes).
    pub fn backlogged(&self) -> bool {
        !self.queue.is_empty() || self.notify_owed > 0
    }

    /// Appends an event behind any queued ones and delivers what fits.
    pub fn push_event(&mut self, data: &[u8]) -> Result<(), IpcError> {
        self.push_event_quiet(data)?;
        self.flush()
    }

    /// Appends an event and writes what fits into the ring, but leaves the notification
    /// bytes owed until the next [`Conn::flush`] (one send for a whole batch of events).
    /// With nothing queued the event goes straight into the ring; it is copied only when
    /// it has to wait.
    pub fn push_event_quiet(&mut self, data: &[u8]) -> Result<(), IpcError> {
        if self.queue.is_empty() {
            if let Phase::Active { session, .. } = &self.phase {
                if write_event(session, &mut self.notify_owed, data)? {
                    return Ok(());
                }
            }
        }
        self.queued_bytes += data.len();
        self.queue.push_back(data.to_vec());
        self.write_queued()
    }

    fn write_queued(&mut self) -> Result<(), IpcError> {
        let Phase::Active { session, .. } = &self.phase else {
            return Ok(());
        };
        while let Some(ev) = self.queue.front() {
            if !write_event(session, &mut self.notify_owed, ev)? {
                break;
            }
            self.queued_bytes -= ev.len();
            self.queue.pop_front();
        }
        Ok(())
    }

    /// Moves queued events into the event ring while it has room, then sends the owed
    /// notification bytes (one per event written, as few sends as possible).
    pub fn flush(&mut self) -> Result<(), IpcError> {
        self.write_queued()?;
        while self.notify_owed > 0 {
            match send_notify_bytes(&self.stream, self.notify_owed) {
                Ok(0) => break,
                Ok(n) => self.notify_owed -= n,
                Err(e) if matches!(e.kind(), io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset) => {
                    return Err(IpcError::Disconnected)
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// Writes one event into the session's event ring and counts its notification byte as
/// owed; false (nothing written) while the ring is full.
fn write_event(session: &ShmSession, notify_owed: &mut usize, event: &[u8]) -> Result<bool, IpcError> {
    match session.event.write_chunk(event) {
        Ok(()) => {
            *notify_owed += 1;
            Ok(true)
        }
        Err(RingError::Full) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

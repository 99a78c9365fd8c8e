//! Native client: connects to a libqb IPC server (ours or libqb's own) over SHM.

use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use crate::error::IpcError;
use crate::listener::{self, peer_credentials, Credentials};
use crate::ring::{Ring, RingError};
use crate::sys::install_sigbus_handler;
use crate::wire::{ConnectionRequest, ConnectionResponse, CONNECTION_RESPONSE_SIZE, CONNECTION_TYPE_SHM};

/// The corosync client libraries' buffer size (`IPC_REQUEST_SIZE`).
pub const DEFAULT_MAX_MSG_SIZE: usize = 1 << 20;
/// Default for [`Client::send_recv`]'s wait and the handshake.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// libqb checks the socket for a hang-up between slices of the response wait.
const WAIT_SLICE: Duration = Duration::from_millis(200);
/// How often a full request ring is looked at again while `send_recv` waits for room.
const ROOM_POLL: Duration = Duration::from_millis(1);
/// Flow-control levels `1..=FC_ENABLE_MAX` refuse a send (libqb `fc_enable_max`).
const FC_ENABLE_MAX: i32 = 1;

/// A connection to one service, like a libqb `qb_ipcc_connection_t` in SHM mode.
///
/// Shareable between threads, as corosync's client libraries are: one thread may wait for
/// events while another sends. Requests are serialised (a notification byte must follow its
/// own chunk, a response answers the request before it), and so are event receivers; the
/// two sides never wait for each other.
#[derive(Debug)]
pub struct Client {
    stream: UnixStream,
    calls: Mutex<Calls>,
    event: Mutex<Ring>,
    max_msg_size: usize,
    timeout: Duration,
}

/// The rings of the request/response side.
#[derive(Debug)]
struct Calls {
    request: Ring,
    response: Ring,
}

/// A lock whose holder panicked still guards rings in a consistent state: every ring
/// operation completes or fails as a whole.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Client {
    /// `qb_ipcc_connect(service, 1 MiB)`.
    pub fn connect(service: &str) -> Result<Client, IpcError> {
        Self::connect_with(service, DEFAULT_MAX_MSG_SIZE)
    }

    /// Connects asking for `max_msg_size` (the server may raise it).
    pub fn connect_with(service: &str, max_msg_size: usize) -> Result<Client, IpcError> {
        Self::connect_timeout(service, max_msg_size, DEFAULT_TIMEOUT)
    }

    /// Connects with `timeout` for the handshake and, afterwards, for each response. A
    /// stopped or frozen server accepts the socket connection (the kernel queues it) but
    /// never answers: the handshake then fails with `Timeout`.
    pub fn connect_timeout(service: &str, max_msg_size: usize, timeout: Duration) -> Result<Client, IpcError> {
        if !listener::valid_service_name(service) {
            return Err(IpcError::BadServiceName(service.to_owned()));
        }
        install_sigbus_handler()?;
        let max = u32::try_from(max_msg_size).map_err(|_| IpcError::TooLarge {
            len: max_msg_size,
            max: u32::MAX as usize,
        })?;
        let mut stream = listener::connect(service)?;
        let timeout = timeout.max(Duration::from_millis(1));
        stream.set_read_timeout(Some(timeout))?;
        stream.set_write_timeout(Some(timeout))?;
        stream.write_all(&ConnectionRequest { max_msg_size: max }.encode())?;
        let mut buf = vec![0u8; CONNECTION_RESPONSE_SIZE];
        stream.read_exact(&mut buf).map_err(|e| match e.kind() {
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => IpcError::Disconnected,
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => IpcError::Timeout,
            _ => IpcError::Io(e),
        })?;
        let resp = ConnectionResponse::decode(&buf)?;
        if resp.error != 0 {
            return Err(IpcError::Refused(-resp.error));
        }
        if resp.connection_type != CONNECTION_TYPE_SHM {
            return Err(IpcError::UnsupportedTransport(resp.connection_type));
        }
        let negotiated = resp.max_msg_size as usize;
        if negotiated < max_msg_size {
            return Err(IpcError::Protocol("server offered a smaller maximum message size"));
        }
        let request = Ring::open(&resp.request, negotiated, true)?;
        let response = Ring::open(&resp.response, negotiated, false)?;
        let event = Ring::open(&resp.event, negotiated, false)?;
        Ok(Client {
            stream,
            calls: Mutex::new(Calls { request, response }),
            event: Mutex::new(event),
            max_msg_size: negotiated,
            timeout,
        })
    }

    /// The negotiated maximum message size.
    pub fn max_msg_size(&self) -> usize {
        self.max_msg_size
    }

    /// How long [`Client::send_recv`] waits for the response.
    pub fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    /// Whether the server asks clients to hold back sends (the request ring's flow-control
    /// level, as libqb's `qb_ipcc_fc_enable_max` check; corosync's
    /// `cpg_flow_control_state_get`).
    pub fn flow_control_enabled(&self) -> bool {
        self.flow_control_at(FC_ENABLE_MAX)
    }

    /// Whether a send with libqb's `fc_enable_max` raised to `fc_enable_max` would be
    /// refused now.
    pub fn flow_control_at(&self, fc_enable_max: i32) -> bool {
        refuses(&lock(&self.calls).request, fc_enable_max)
    }

    /// The server's credentials (`SO_PEERCRED` on the setup socket, as Pacemaker checks).
    pub fn server_credentials(&self) -> Result<Credentials, IpcError> {
        Ok(peer_credentials(&self.stream)?)
    }

    /// Sends one request and does not wait (`qb_ipcc_send`; e.g. cpg MCAST). The message
    /// must start with its header. `Err(TryAgain)` under flow control or with a full ring.
    pub fn send(&self, msg: &[u8]) -> Result<(), IpcError> {
        self.send_until(&lock(&self.calls), msg, None, FC_ENABLE_MAX)
    }

    /// [`Client::send`] with libqb's `fc_enable_max` raised for this send, as libcpg's
    /// `cpg_mcast_joined` raises it to 2: flow-control levels up to it refuse the send.
    pub fn send_limited(&self, msg: &[u8], fc_enable_max: i32) -> Result<(), IpcError> {
        self.send_until(&lock(&self.calls), msg, None, fc_enable_max)
    }

    /// Writes the chunk and announces it. With `room_deadline`, a full request ring is
    /// waited on until then instead of failing at once.
    fn send_until(
        &self,
        calls: &Calls,
        msg: &[u8],
        room_deadline: Option<Instant>,
        fc_enable_max: i32,
    ) -> Result<(), IpcError> {
        if msg.len() > self.max_msg_size {
            return Err(IpcError::TooLarge {
                len: msg.len(),
                max: self.max_msg_size,
            });
        }
        if calls.request.ref_count() != 2 {
            return Err(IpcError::Disconnected);
        }
        if refuses(&calls.request, fc_enable_max) {
            return Err(IpcError::TryAgain);
        }
        loop {
            match calls.request.write_chunk(msg) {
                Ok(()) => break,
                Err(RingError::Full) => match room_deadline {
                    Some(d) if Instant::now() < d => {
                        if self.hung_up()? {
                            return Err(IpcError::Disconnected);
                        }
                        std::thread::sleep(ROOM_POLL);
                    }
                    _ => return Err(IpcError::TryAgain),
                },
                Err(e) => return Err(e.into()),
            }
        }
        // The chunk is in the ring: it must be announced, or the server would pair the next
        // notification with it. libqb retries until the byte is sent; we wait for room up to
        // the timeout.
        let deadline = Instant::now() + self.timeout;
        loop {
            match listener::send_notify_byte(&self.stream) {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) if matches!(e.kind(), io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset) => {
                    return Err(IpcError::Disconnected)
                }
                Err(e) => return Err(e.into()),
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(IpcError::Timeout);
            }
            let mut fds = [PollFd::new(self.stream.as_fd(), PollFlags::POLLOUT)];
            match poll(
                &mut fds,
                PollTimeout::try_from(left.min(WAIT_SLICE)).unwrap_or(PollTimeout::MAX),
            ) {
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(io::Error::from(e).into()),
            }
        }
    }

    /// Sends a request and waits for its response (`qb_ipcc_sendv_recv`), at most the
    /// configured timeout. Unlike libqb, which fails with `EAGAIN`, it also waits for room
    /// in the request ring: a libqb server frees the previous request only after answering
    /// it, so a large request right after a response can find the ring still occupied. A response that arrives after a timeout would be taken as the
    /// answer to the next request, as with libqb: drop the client after `Timeout`.
    pub fn send_recv(&self, msg: &[u8]) -> Result<Vec<u8>, IpcError> {
        let calls = lock(&self.calls);
        let deadline = Instant::now() + self.timeout;
        self.send_until(&calls, msg, Some(deadline), FC_ENABLE_MAX)?;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if calls.response.sem_timedwait(left.min(WAIT_SLICE))? {
                return calls
                    .response
                    .read_chunk()?
                    .ok_or(IpcError::Protocol("response posted without a chunk"));
            }
            if self.hung_up()? {
                return Err(IpcError::Disconnected);
            }
            if left.is_zero() {
                return Err(IpcError::Timeout);
            }
        }
    }

    fn hung_up(&self) -> Result<bool, IpcError> {
        let mut fds = [PollFd::new(self.stream.as_fd(), rdhup())];
        poll(&mut fds, PollTimeout::ZERO).map_err(io::Error::from)?;
        let r = fds[0].revents().unwrap_or(PollFlags::empty());
        Ok(r.intersects(rdhup() | PollFlags::POLLHUP | PollFlags::POLLERR))
    }

    /// Receives one event (`qb_ipcc_event_recv`): waits up to `timeout` (`None`: forever)
    /// for the notification byte, reads the event chunk, consumes the byte. `Ok(None)` on
    /// timeout. POLLIN on [`AsRawFd::as_raw_fd`] means an event is pending.
    pub fn recv_event(&self, timeout: Option<Duration>) -> Result<Option<Vec<u8>>, IpcError> {
        let event = lock(&self.event);
        let deadline = timeout.map(|t| Instant::now() + t);
        loop {
            // The notification byte first, without waiting: with events flowing this is
            // the only system call per event (the chunk was committed before its byte).
            let mut byte = [0u8; 1];
            match nix::sys::socket::recv(
                self.stream.as_raw_fd(),
                &mut byte,
                nix::sys::socket::MsgFlags::MSG_DONTWAIT,
            ) {
                Ok(0) => return Err(IpcError::Disconnected),
                Ok(_) => {
                    if !event.sem_timedwait(self.timeout)? {
                        return Err(IpcError::Protocol("event notification without an event"));
                    }
                    return event
                        .read_chunk()?
                        .map(Some)
                        .ok_or(IpcError::Protocol("event posted without a chunk"));
                }
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => {}
                Err(nix::errno::Errno::ECONNRESET) => return Err(IpcError::Disconnected),
                Err(e) => return Err(io::Error::from(e).into()),
            }
            let wait = match deadline {
                None => PollTimeout::NONE,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(None);
                    }
                    PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX)
                }
            };
            let mut fds = [PollFd::new(self.stream.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, wait) {
                Ok(0) => return Ok(None),
                Ok(_) => {
                    let r = fds[0].revents().unwrap_or(PollFlags::empty());
                    if !r.contains(PollFlags::POLLIN) {
                        return Err(IpcError::Disconnected);
                    }
                }
                Err(nix::errno::Errno::EINTR) => {}
                Err(e) => return Err(io::Error::from(e).into()),
            }
        }
    }
}

/// Whether the request ring's flow-control level refuses a send allowed up to
/// `fc_enable_max` (levels `1..=fc_enable_max` refuse).
fn refuses(request: &Ring, fc_enable_max: i32) -> bool {
    let fc = request.flow_control().unwrap_or(0);
    fc > 0 && fc <= fc_enable_max
}

/// `POLLRDHUP`, which nix does not name.
fn rdhup() -> PollFlags {
    PollFlags::from_bits_retain(libc::POLLRDHUP)
}

impl AsRawFd for Client {
    /// The setup socket, as `qb_ipcc_fd_get`: POLLIN means an event is pending.
    fn as_raw_fd(&self) -> RawFd {
        self.stream.as_raw_fd()
    }
}

impl AsFd for Client {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.stream.as_fd()
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        // libqb clients never send QB_IPC_MSG_DISCONNECT: shutdown + close.
        let _ = self.stream.shutdown(std::net::Shutdown::Both);
    }
}

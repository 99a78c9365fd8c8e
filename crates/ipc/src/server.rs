//! The libqb IPC server: listeners per service, handshakes, connections, mio glue.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use mio::{Interest, Registry, Token};
use tracing::{debug, error, info, warn};

use crate::conn::{BufferPool, Conn, Inbound, Phase};
use crate::error::IpcError;
use crate::listener::{self, peer_credentials, Credentials};
use crate::session::ShmSession;
use crate::sys::install_sigbus_handler;
use crate::wire::{ConnectionResponse, CONNECTION_TYPE_SHM};

/// Largest maximum message size a client may ask for (libqb takes the larger of client's
/// and server's; unbounded, a client could make us create huge files).
pub const MAX_NEGOTIATED_MSG_SIZE: usize = 64 << 20;
/// Requests read from one connection per pass; the rest wait for the next pass, so one
/// fast sender cannot hand the daemon more than it can queue.
pub const REQUESTS_PER_PASS: usize = 256;

/// Hashes the server's own connection numbers (sequential, never chosen by a client, so
/// no flooding concern): one multiplication instead of SipHash, whose lookups on the event
/// path were ~8 % of a receiving daemon's user-space instructions.
#[derive(Default, Clone, Copy)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type ConnMap = HashMap<u64, Conn, std::hash::BuildHasherDefault<IdHasher>>;

/// A connection, unique for the life of the [`Server`] (never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ipc#{}", self.0)
    }
}

/// Server settings.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Service names, each served on the abstract socket `@<name>` (NUL-padded).
    /// corosync's: `cfg`, `cpg`, `quorum`, `votequorum`, `cmap`.
    pub services: Vec<String>,
    /// The server's maximum message size (corosync: 1 MiB). The negotiated maximum is the
    /// larger of this and the client's, up to [`MAX_NEGOTIATED_MSG_SIZE`].
    pub max_msg_size: usize,
    /// Events queued per connection while its event ring is full; one more and the client
    /// is disconnected.
    pub event_queue_max: usize,
    /// The same bound in bytes (events are up to `max_msg_size` each).
    pub event_queue_max_bytes: usize,
    /// Where the per-connection directories are created (libqb: `/dev/shm`).
    pub shm_dir: PathBuf,
    /// Live connections (handshakes included) beyond which new clients are refused with
    /// `-EAGAIN` (tools report `CS_ERR_TRY_AGAIN`).
    pub max_connections: usize,
    /// A client that has not completed its handshake by then is dropped.
    pub handshake_timeout: Duration,
    /// How often queued events are retried (clients do not say when they drained a ring).
    pub event_retry_interval: Duration,
    /// `chown` the connection's files to the client (needs root for other uids; libqb
    /// ignores a failing directory chown but not a failing file chown).
    pub chown: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            services: ["cfg", "cpg", "quorum", "votequorum", "cmap"]
                .map(String::from)
                .to_vec(),
            max_msg_size: 1 << 20,
            event_queue_max: 4096,
            event_queue_max_bytes: 64 << 20,
            shm_dir: PathBuf::from("/dev/shm"),
            max_connections: 1024,
            handshake_timeout: Duration::from_secs(5),
            event_retry_interval: Duration::from_millis(20),
            chown: true,
        }
    }
}

/// Who may connect besides root (uid 0 or gid 0), like corosync's `uidgid` entries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessPolicy {
    pub uids: HashSet<u32>,
    pub gids: HashSet<u32>,
}

impl AccessPolicy {
    /// corosync `cs_ipcs_connection_accept`: root user or group always, otherwise a
    /// listed uid or gid.
    pub fn allows(&self, uid: u32, gid: u32) -> bool {
        uid == 0 || gid == 0 || self.uids.contains(&uid) || self.gids.contains(&gid)
    }
}

/// What the server has to tell the daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// A client completed the handshake on `services[service]`.
    Connected {
        conn: ConnId,
        service: usize,
        creds: Credentials,
    },
    /// A request: the whole message, 16-byte header included (`id` is the header's id).
    Request { conn: ConnId, id: i32, data: Vec<u8> },
    /// The connection is gone (client closed, misbehaved, was too slow, or the daemon
    /// called [`Server::disconnect`]); its files are removed. Exactly once per `Connected`.
    Disconnected { conn: ConnId },
}

#[derive(Debug)]
struct Listener {
    name: String,
    socket: mio::net::UnixListener,
}

/// The libqb-compatible IPC server (SHM transport). See the crate docs for the loop.
#[derive(Debug)]
pub struct Server {
    config: ServerConfig,
    listeners: Vec<Listener>,
    conns: ConnMap,
    next_id: u64,
    events: VecDeque<ServerEvent>,
    access: AccessPolicy,
    /// New clients are accepted (see [`Server::set_ready`]).
    ready: bool,
    registry: Option<Registry>,
    token_base: usize,
    retry_at: Option<Instant>,
    now: Instant,
    /// Requests are read (see [`Server::set_reading`]).
    reading: bool,
    /// Buffers for requests, handed back by [`Server::recycle`].
    spare: BufferPool,
    /// What one connection's read produced (kept for its allocation).
    inbound: Vec<Inbound>,
    /// Connections with announced requests still in their ring.
    pending: std::collections::BTreeSet<u64>,
    /// Connections with batched events whose notification is still owed (each once: its
    /// [`Conn::batched`] is set while it is listed here).
    unnotified: Vec<u64>,
}

impl Server {
    /// Binds one listener per service. Installs the process-wide SIGBUS guard.
    pub fn bind(config: ServerConfig) -> Result<Server, IpcError> {
        install_sigbus_handler()?;
        let mut listeners = Vec::new();
        for name in &config.services {
            if !listener::valid_service_name(name) {
                return Err(IpcError::BadServiceName(name.clone()));
            }
            let std_l: UnixListener = listener::bind(name)?;
            listeners.push(Listener {
                name: name.clone(),
                socket: mio::net::UnixListener::from_std(std_l),
            });
        }
        info!(services = ?config.services, shm_dir = %config.shm_dir.display(), "IPC server listening");
        Ok(Server {
            config,
            listeners,
            conns: ConnMap::default(),
            next_id: 0,
            events: VecDeque::new(),
            access: AccessPolicy::default(),
            ready: true,
            registry: None,
            token_base: 0,
            retry_at: None,
            now: Instant::now(),
            reading: true,
            spare: BufferPool::default(),
            inbound: Vec::new(),
            pending: std::collections::BTreeSet::new(),
            unnotified: Vec::new(),
        })
    }

    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// Registers the listeners with `registry`; the server uses tokens `>= token_base` for
    /// all its fds (listeners first, then one per connection, never reused).
    pub fn register(&mut self, registry: &Registry, token_base: usize) -> io::Result<()> {
        for (i, l) in self.listeners.iter_mut().enumerate() {
            registry.register(&mut l.socket, Token(token_base + i), Interest::READABLE)?;
        }
        self.registry = Some(registry.try_clone()?);
        self.token_base = token_base;
        Ok(())
    }

    /// True for the tokens this server handed out.
    pub fn owns(&self, token: Token) -> bool {
        self.registry.is_some() && token.0 >= self.token_base
    }

    /// Replaces who besides root may connect. Existing connections stay.
    pub fn set_access(&mut self, policy: AccessPolicy) {
        self.access = policy;
    }

    fn conn_token(&self, id: u64) -> Token {
        Token(self.token_base + self.listeners.len() + id as usize)
    }

    /// Handles readiness of one of our tokens: accepts, handshakes, reads requests,
    /// delivers queued events. Never blocks.
    pub fn handle_ready(&mut self, token: Token, now: Instant) {
        self.handle_readiness(token, now, true);
    }

    /// [`Server::handle_ready`] for an event from the poll: when it does not report the
    /// peer's close, a short read of a connection's socket is taken as all there is.
    pub fn handle_event(&mut self, event: &mio::event::Event, now: Instant) {
        let closed = event.is_read_closed() || event.is_error();
        self.handle_readiness(event.token(), now, closed);
    }

    fn handle_readiness(&mut self, token: Token, now: Instant, to_eof: bool) {
        self.now = now;
        let Some(rel) = token.0.checked_sub(self.token_base) else {
            return;
        };
        if rel < self.listeners.len() {
            self.accept(rel, now);
        } else {
            self.service_conn((rel - self.listeners.len()) as u64, now, to_eof);
        }
    }

    fn accept(&mut self, service: usize, now: Instant) {
        if self.registry.is_none() {
            error!("IPC server used before register()");
            return;
        }
        loop {
            let (mut stream, _) = match self.listeners[service].socket.accept() {
                Ok(s) => s,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    warn!(service = %self.listeners[service].name, error = %e, "IPC accept failed");
                    return;
                }
            };
            // Handshakes in progress count too, with room for refusing politely.
            if self.conns.len() >= self.config.max_connections.saturating_mul(2) {
                warn!(service = %self.listeners[service].name, "too many IPC connections; dropping a new one");
                continue;
            }
            let id = self.next_id;
            self.next_id += 1;
            let token = self.conn_token(id);
            let Some(registry) = self.registry.as_ref() else {
                return;
            };
            // Writability only while notification bytes are owed (see `watch_writable`):
            // a client reading each byte would otherwise wake the daemon every time.
            if let Err(e) = registry.register(&mut stream, token, Interest::READABLE) {
                warn!(error = %e, "could not register IPC connection");
                continue;
            }
            let deadline = now + self.config.handshake_timeout;
            self.conns.insert(id, Conn::new(ConnId(id), service, stream, deadline));
            self.service_conn(id, now, true);
        }
    }

    fn service_conn(&mut self, id: u64, now: Instant, to_eof: bool) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if matches!(conn.phase, Phase::Handshake { .. }) {
            match conn.read_handshake() {
                Ok(None) => return,
                Ok(Some(req)) => {
                    if let Err(e) = self.establish(id, req.max_msg_size as usize) {
                        debug!(conn = %ConnId(id), error = %e, "IPC handshake failed");
                        self.close(id);
                    }
                }
                Err(e) => {
                    debug!(conn = %ConnId(id), error = %e, "IPC handshake aborted");
                    self.close(id);
                }
            }
            return;
        }
        let mut inbound = std::mem::take(&mut self.inbound);
        let limit = if self.reading { REQUESTS_PER_PASS } else { 0 };
        let read = conn.read_requests(&mut inbound, limit, &mut self.spare, to_eof);
        if conn.requests_owed() > 0 {
            self.pending.insert(id);
        } else {
            self.pending.remove(&id);
        }
        let conn_id = conn.id;
        let pid = conn.creds().map(|c| c.pid).unwrap_or(0);
        let mut closed = false;
        for msg in inbound.drain(..) {
            match msg {
                Inbound::Request(rid, data) => self.events.push_back(ServerEvent::Request {
                    conn: conn_id,
                    id: rid,
                    data,
                }),
                Inbound::Closed => closed = true,
            }
        }
        self.inbound = inbound;
        if let Err(e) = read {
            warn!(conn = %conn_id, pid, error = %e, "IPC client broke the protocol (garbage, or truncated its files); disconnecting");
            self.close(id);
            return;
        }
        if closed {
            debug!(conn = %conn_id, pid, "IPC client closed the connection");
            self.close(id);
            return;
        }
        self.flush_conn(id, now);
    }

    fn establish(&mut self, id: u64, client_max: usize) -> Result<(), IpcError> {
        let active = self
            .conns
            .values()
            .filter(|c| matches!(c.phase, Phase::Active { .. }))
            .count();
        let conn = self.conns.get_mut(&id).ok_or(IpcError::NoSuchConnection(ConnId(id)))?;
        let creds = peer_credentials(&conn.stream)?;
        let service_name = &self.listeners[conn.service].name;
        if let Some(errno) = refusal(
            &self.access,
            &self.config,
            self.ready,
            active,
            creds,
            client_max,
            service_name,
        ) {
            let _ = conn.send_handshake_response(&ConnectionResponse::refused(errno).encode()?);
            return Err(IpcError::Refused(errno));
        }
        let max = client_max.max(self.config.max_msg_size);
        let fd = conn.stream.as_raw_fd();
        let session = match ShmSession::create(&self.config.shm_dir, creds, fd, service_name, max, self.config.chown) {
            Ok(s) => s,
            Err(e) => {
                error!(service = %service_name, pid = creds.pid, error = %e, "could not create IPC shared memory");
                let errno = e.raw_os_error().unwrap_or(libc::ENOMEM);
                let _ = conn.send_handshake_response(&ConnectionResponse::refused(errno).encode()?);
                return Err(e.into());
            }
        };
        let [request, response, event] = session.names().clone();
        let resp = ConnectionResponse {
            error: 0,
            connection_type: CONNECTION_TYPE_SHM,
            max_msg_size: max as u32,
            request,
            response,
            event,
        };
        conn.send_handshake_response(&resp.encode()?)?;
        debug!(
            service = %service_name, pid = creds.pid, uid = creds.uid, dir = %session.dir().display(),
            "IPC connection established"
        );
        conn.phase = Phase::Active {
            creds,
            session: Box::new(session),
        };
        self.events.push_back(ServerEvent::Connected {
            conn: conn.id,
            service: conn.service,
            creds,
        });
        Ok(())
    }

    /// Removes a connection: deregisters and closes the socket, removes its files and
    /// reports `Disconnected` if the daemon saw it connect.
    fn close(&mut self, id: u64) {
        self.pending.remove(&id);
        self.unnotified.retain(|&u| u != id);
        let Some(mut conn) = self.conns.remove(&id) else {
            return;
        };
        if let Some(registry) = &self.registry {
            let _ = registry.deregister(&mut conn.stream);
        }
        let _ = conn.stream.shutdown(std::net::Shutdown::Both);
        if matches!(conn.phase, Phase::Active { .. }) {
            self.events.push_back(ServerEvent::Disconnected { conn: conn.id });
        }
        // Dropping conn drops the session: files and directory are removed.
    }

    fn flush_conn(&mut self, id: u64, now: Instant) {
        let Some(conn) = self.conns.get_mut(&id) else {
            return;
        };
        if let Err(e) = conn.flush() {
            let pid = conn.creds().map(|c| c.pid).unwrap_or(0);
            log_delivery_failure(conn.id, pid, &e);
            self.close(id);
            return;
        }
        if conn.backlogged() && self.retry_at.is_none() {
            self.retry_at = Some(now + self.config.event_retry_interval);
        }
        self.watch_writable(id);
    }

    /// Asks for writability while `id` owes notification bytes (its socket was full) and
    /// stops once they are sent. The retry timer covers a failed re-registration.
    fn watch_writable(&mut self, id: u64) {
        let token = self.conn_token(id);
        let (Some(conn), Some(registry)) = (self.conns.get_mut(&id), self.registry.as_ref()) else {
            return;
        };
        let want = conn.notify_owed() > 0;
        if want == conn.watching_writable {
            return;
        }
        let interest = if want {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        if registry.reregister(&mut conn.stream, token, interest).is_ok() {
            conn.watching_writable = want;
        }
    }

    /// Next event the daemon must handle.
    pub fn poll_event(&mut self) -> Option<ServerEvent> {
        self.events.pop_front()
    }

    /// Hands back the buffer of a [`ServerEvent::Request`] once it was used: the next
    /// requests are read into it instead of a new allocation each.
    pub fn recycle(&mut self, buf: Vec<u8>) {
        self.spare.put(buf);
    }

    fn active(&mut self, conn: ConnId) -> Result<&mut Conn, IpcError> {
        match self.conns.get_mut(&conn.0) {
            Some(c) if matches!(c.phase, Phase::Active { .. }) => Ok(c),
            _ => Err(IpcError::NoSuchConnection(conn)),
        }
    }

    fn max_msg(&mut self, conn: ConnId) -> Result<usize, IpcError> {
        let c = self.active(conn)?;
        Ok(c.session().map(|s| s.response.max_msg_size()).unwrap_or(0))
    }

    /// Sends the synchronous response to the client's current request (response ring +
    /// semaphore). A client whose response ring is full or whose files are broken is
    /// disconnected (libqb clients have at most one request outstanding).
    pub fn respond(&mut self, conn: ConnId, data: &[u8]) -> Result<(), IpcError> {
        let max = self.max_msg(conn)?;
        if data.len() > max {
            return Err(IpcError::TooLarge { len: data.len(), max });
        }
        let c = self.active(conn)?;
        if let Err(e) = c.respond(data) {
            let pid = c.creds().map(|c| c.pid).unwrap_or(0);
            warn!(conn = %conn, pid, error = %e, "IPC response failed; disconnecting");
            self.close(conn.0);
            return Err(e);
        }
        Ok(())
    }

    /// Sends an event (event ring + semaphore + one notification byte). When the ring is
    /// full the event is queued and retried from [`Server::handle_timeout`]; a client whose
    /// queue would exceed `event_queue_max` events or `event_queue_max_bytes` is
    /// disconnected (`Err(EventQueueOverflow)`, a warning naming its pid, `Disconnected`).
    pub fn send_event(&mut self, conn: ConnId, data: &[u8]) -> Result<(), IpcError> {
        self.send_event_with(conn, data, true)
    }

    fn send_event_with(&mut self, conn: ConnId, data: &[u8], notify: bool) -> Result<(), IpcError> {
        let (max_events, max_bytes) = (self.config.event_queue_max, self.config.event_queue_max_bytes);
        let c = self.active(conn)?;
        let max = c.session().map_or(0, |s| s.response.max_msg_size());
        if data.len() > max {
            return Err(IpcError::TooLarge { len: data.len(), max });
        }
        let (events, bytes) = (c.queued(), c.queued_bytes());
        if events >= max_events || bytes + data.len() > max_bytes {
            let pid = c.creds().map(|c| c.pid).unwrap_or(0);
            warn!(conn = %conn, pid, events, bytes, "IPC client too slow reading events; disconnecting pid {pid}");
            self.close(conn.0);
            return Err(IpcError::EventQueueOverflow);
        }
        let pushed = if notify {
            c.push_event(data)
        } else {
            c.push_event_quiet(data)
        };
        if let Err(e) = pushed {
            let pid = c.creds().map(|c| c.pid).unwrap_or(0);
            log_delivery_failure(conn, pid, &e);
            self.close(conn.0);
            return Err(e);
        }
        if !notify {
            if !c.batched {
                c.batched = true;
                self.unnotified.push(conn.0);
            }
        } else {
            if c.backlogged() && self.retry_at.is_none() {
                self.retry_at = Some(self.now + self.config.event_retry_interval);
            }
            self.watch_writable(conn.0);
        }
        Ok(())
    }

    /// Like [`Server::send_event`], but the client is notified only at the next
    /// [`Server::flush_events`]: a burst of events to one client costs one `send` instead
    /// of one per event.
    pub fn send_event_batched(&mut self, conn: ConnId, data: &[u8]) -> Result<(), IpcError> {
        self.send_event_with(conn, data, false)
    }

    /// Notifies every client that got batched events since the last call.
    pub fn flush_events(&mut self) {
        let now = self.now;
        let mut ids = std::mem::take(&mut self.unnotified);
        ids.sort_unstable();
        for &id in &ids {
            if let Some(c) = self.conns.get_mut(&id) {
                c.batched = false;
            }
            self.flush_conn(id, now);
        }
        // Keep the allocation.
        ids.clear();
        self.unnotified = ids;
    }

    /// Closes a connection; a `Disconnected` event follows.
    pub fn disconnect(&mut self, conn: ConnId) {
        self.close(conn.0);
    }

    /// Sets the request ring's flow-control level (0 off; 1 or 2 make libqb clients'
    /// sends fail with `EAGAIN`, i.e. `CS_ERR_TRY_AGAIN`).
    pub fn set_flow_control(&mut self, conn: ConnId, level: i32) -> Result<(), IpcError> {
        let c = self.active(conn)?;
        let r = c.session().map(|s| s.request.set_flow_control(level)).unwrap_or(Ok(()));
        if let Err(e) = r {
            self.close(conn.0);
            return Err(e.into());
        }
        Ok(())
    }

    /// Events waiting behind a full event ring of `conn` (0 for unknown connections).
    pub fn queued_events(&self, conn: ConnId) -> usize {
        self.conns.get(&conn.0).map_or(0, Conn::queued)
    }

    /// Bytes of the events waiting behind a full event ring of `conn`.
    pub fn queued_event_bytes(&self, conn: ConnId) -> usize {
        self.conns.get(&conn.0).map_or(0, Conn::queued_bytes)
    }

    /// Whether new clients are accepted; until then their handshake gets `-EAGAIN`, which
    /// the client libraries report as `CS_ERR_TRY_AGAIN` (corosync refuses connections
    /// until its first synchronisation completed). On by default.
    pub fn set_ready(&mut self, ready: bool) {
        self.ready = ready;
    }

    /// Credentials of a connected client.
    pub fn credentials(&self, conn: ConnId) -> Option<Credentials> {
        self.conns.get(&conn.0).and_then(Conn::creds)
    }

    /// Number of connections (handshakes included).
    pub fn connection_count(&self) -> usize {
        self.conns.len()
    }

    /// Pauses (`false`) or resumes reading requests from every client, as libqb's
    /// `qb_ipcs_request_rate_limit(QB_IPCS_RATE_OFF)`: while paused, requests stay in the
    /// clients' rings, which fill, and their sends fail with `EAGAIN` (`CS_ERR_TRY_AGAIN`).
    /// Closes are still noticed.
    pub fn set_reading(&mut self, on: bool) {
        self.reading = on;
    }

    /// Whether requests are read (see [`Server::set_reading`]).
    pub fn reading(&self) -> bool {
        self.reading
    }

    /// When [`Server::handle_timeout`] must run next: queued events to retry, handshakes
    /// to time out, requests left in a ring by the per-pass limit or a pause now over.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let handshakes = self.conns.values().filter_map(|c| match c.phase {
            Phase::Handshake { deadline, .. } => Some(deadline),
            Phase::Active { .. } => None,
        });
        let pending = (self.reading && !self.pending.is_empty()).then_some(self.now);
        handshakes.chain(self.retry_at).chain(pending).min()
    }

    /// Retries queued events and drops handshakes past their deadline.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        let expired: Vec<u64> = self
            .conns
            .iter()
            .filter(|(_, c)| matches!(c.phase, Phase::Handshake { deadline, .. } if deadline <= now))
            .map(|(&id, _)| id)
            .collect();
        for id in expired {
            debug!(conn = %ConnId(id), "IPC handshake timed out");
            self.close(id);
        }
        if self.reading && !self.pending.is_empty() {
            let pending: Vec<u64> = self.pending.iter().copied().collect();
            for id in pending {
                self.service_conn(id, now, true);
            }
        }
        if self.retry_at.is_some_and(|t| t <= now) {
            self.retry_at = None;
            let backlogged: Vec<u64> = self
                .conns
                .iter()
                .filter(|(_, c)| c.backlogged())
                .map(|(&id, _)| id)
                .collect();
            for id in backlogged {
                self.flush_conn(id, now);
            }
        }
    }
}

/// Why a client that completed its handshake is refused (`errno` for the response), if
/// it is: corosync's uid/gid check (`cs_ipcs_connection_accept`, `-EACCES`), the
/// connection limit (`-EAGAIN`, "try again"), an absurd buffer size (`-EMSGSIZE`).
fn refusal(
    access: &AccessPolicy,
    config: &ServerConfig,
    ready: bool,
    active: usize,
    creds: Credentials,
    client_max: usize,
    service: &str,
) -> Option<i32> {
    let pid = creds.pid;
    if !ready {
        debug!(service, pid, "IPC connection refused: not ready yet");
        Some(libc::EAGAIN)
    } else if !access.allows(creds.uid, creds.gid) {
        error!(
            service,
            pid,
            uid = creds.uid,
            gid = creds.gid,
            "Denied IPC connection attempt from {}:{}",
            creds.uid,
            creds.gid
        );
        Some(libc::EACCES)
    } else if active >= config.max_connections {
        warn!(service, pid, "IPC connection refused: too many connections");
        Some(libc::EAGAIN)
    } else if client_max > MAX_NEGOTIATED_MSG_SIZE {
        warn!(
            service,
            pid, client_max, "IPC connection refused: message size too large"
        );
        Some(libc::EMSGSIZE)
    } else {
        None
    }
}

/// A client that is simply gone is normal; anything else (truncated files, corrupt ring)
/// is worth a warning.
fn log_delivery_failure(conn: ConnId, pid: u32, e: &IpcError) {
    if matches!(e, IpcError::Disconnected) {
        debug!(conn = %conn, pid, "IPC client gone while sending it an event");
    } else {
        warn!(conn = %conn, pid, error = %e, "IPC event delivery failed; disconnecting");
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let ids: Vec<u64> = self.conns.keys().copied().collect();
        for id in ids {
            self.close(id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_policy_like_corosync() {
        let mut p = AccessPolicy::default();
        assert!(p.allows(0, 1000));
        assert!(p.allows(1000, 0));
        assert!(!p.allows(1000, 1000));
        p.uids.insert(1000);
        assert!(p.allows(1000, 5));
        p.gids.insert(7);
        assert!(p.allows(5, 7));
        assert!(!p.allows(5, 6));
    }

    #[test]
    fn server_and_client_can_move_between_threads() {
        fn send<T: Send>() {}
        fn shared<T: Send + Sync>() {}
        send::<Server>();
        shared::<crate::Client>();
    }

    #[test]
    fn bad_service_names_are_refused() {
        let cfg = ServerConfig {
            services: vec!["a/b".into()],
            ..ServerConfig::default()
        };
        assert!(matches!(Server::bind(cfg), Err(IpcError::BadServiceName(_))));
    }
}

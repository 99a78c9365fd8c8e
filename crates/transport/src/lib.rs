//! Totem's udpu transport over real UDP sockets, as corosync 3.1.7's `totemudpu.c`: the
//! payload is the raw totem message, "multicast" is one unicast per nodelist node, one port
//! (`mcastport`) for everything, and datagrams from addresses outside the nodelist are
//! dropped (`block_unlisted_ips`). IPv4 and IPv6 both work; a link has one family.
//!
//! The socket is non-blocking and registered with a caller's [`mio::Poll`], so one
//! event-loop thread can drive sockets, signals and timers together.

pub mod crypto;
mod faults;

use std::collections::{HashSet, VecDeque};
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use mio::net::UdpSocket;
use mio::{Interest, Registry, Token};
use totem::{Destination, NodeId};

pub use crypto::{Crypto, OpenError};
pub use faults::Faults;

/// Receive buffer size: a whole UDP datagram always fits, so nothing is ever truncated.
pub const RECV_BUFFER: usize = 65_536;
/// Most datagrams the fault hook holds back at once; beyond this it drops (bounded memory).
pub const DELAYED_MAX: usize = 1024;
/// Datagrams handed to the kernel in one `sendmmsg` call.
pub const SEND_BATCH: usize = 64;
/// Most datagrams queued between two [`Udpu::flush`] calls; beyond it the queue is sent
/// at once (bounded memory).
pub const OUTQ_MAX: usize = 1024;

/// Why the transport could not start.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("local node {0} is not in the nodelist")]
    NotInNodelist(NodeId),
}

/// What one udpu link needs to know.
#[derive(Clone, Debug)]
pub struct UdpuConfig {
    /// Link number (`ringX_addr`), for messages and status.
    pub link: u8,
    pub local_nodeid: NodeId,
    /// Every node of the nodelist with its address on this link, this node included.
    pub nodes: Vec<(NodeId, SocketAddr)>,
    pub block_unlisted_ips: bool,
    /// Test-only packet loss and delay on send; `None` in production.
    pub faults: Option<Faults>,
}

/// Counters of one link, reported in the daemon's status.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    pub tx_packets: u64,
    pub tx_bytes: u64,
    /// Sends that failed (unreachable, buffer full, family mismatch).
    pub tx_errors: u64,
    pub rx_packets: u64,
    pub rx_bytes: u64,
    /// Datagrams dropped because their source is not in the nodelist.
    pub rx_blocked_unlisted: u64,
    /// Datagrams dropped or held back by the test fault hook.
    pub fault_dropped: u64,
    pub fault_delayed: u64,
}

/// One udpu link: a bound socket plus the nodelist's addresses on it.
#[derive(Debug)]
pub struct Udpu {
    link: u8,
    socket: UdpSocket,
    local_addr: SocketAddr,
    local_nodeid: NodeId,
    nodes: Vec<(NodeId, SocketAddr)>,
    allowed: HashSet<IpAddr>,
    block_unlisted_ips: bool,
    faults: Option<Faults>,
    delayed: VecDeque<(Instant, SocketAddr, Vec<u8>)>,
    stats: LinkStats,
    /// When each node of `nodes` (same index) was last heard on this link: link health.
    last_rx: Vec<Option<Instant>>,
    /// Datagrams waiting for [`Udpu::flush`]: their bytes end to end, and per datagram
    /// the destination and the end offset in `outq_bytes`.
    outq_bytes: Vec<u8>,
    outq: Vec<(SocketAddr, usize)>,
}

impl Udpu {
    /// Binds this node's address (its nodelist entry, `addr:mcastport`).
    pub fn bind(config: UdpuConfig) -> Result<Self, TransportError> {
        let local_addr = config
            .nodes
            .iter()
            .find(|(id, _)| *id == config.local_nodeid)
            .map(|(_, a)| *a)
            .ok_or(TransportError::NotInNodelist(config.local_nodeid))?;
        let socket = UdpSocket::bind(local_addr).map_err(|source| TransportError::Bind {
            addr: local_addr,
            source,
        })?;
        Ok(Udpu {
            link: config.link,
            last_rx: vec![None; config.nodes.len()],
            socket,
            local_addr,
            local_nodeid: config.local_nodeid,
            allowed: config.nodes.iter().map(|(_, a)| a.ip()).collect(),
            nodes: config.nodes,
            block_unlisted_ips: config.block_unlisted_ips,
            faults: config.faults,
            delayed: VecDeque::new(),
            stats: LinkStats::default(),
            outq_bytes: Vec::new(),
            outq: Vec::new(),
        })
    }

    /// Registers the socket for readability with the caller's poll.
    pub fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        registry.register(&mut self.socket, token, Interest::READABLE)
    }

    pub fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        registry.deregister(&mut self.socket)
    }

    /// Replaces the nodelist's addresses on this link (a configuration reload added or
    /// removed nodes): datagrams go to the new set at once, and nodes that stay keep their
    /// link-health history. This node's own address cannot change (its socket is bound).
    pub fn set_nodes(&mut self, nodes: Vec<(NodeId, SocketAddr)>) -> Result<(), TransportError> {
        match nodes.iter().find(|(id, _)| *id == self.local_nodeid) {
            Some((_, a)) if *a == self.local_addr => {}
            _ => return Err(TransportError::NotInNodelist(self.local_nodeid)),
        }
        self.last_rx = nodes
            .iter()
            .map(|(id, a)| {
                self.nodes
                    .iter()
                    .position(|(oid, oa)| oid == id && oa == a)
                    .and_then(|i| self.last_rx[i])
            })
            .collect();
        self.allowed = nodes.iter().map(|(_, a)| a.ip()).collect();
        self.nodes = nodes;
        Ok(())
    }

    /// Whether node `id` has an address on this link.
    pub fn has_node(&self, id: NodeId) -> bool {
        self.nodes.iter().any(|(n, _)| *n == id)
    }

    pub fn link(&self) -> u8 {
        self.link
    }

    /// Each nodelist node on this link with when it was last heard here (`None`: never).
    pub fn peers(&self) -> impl Iterator<Item = (NodeId, SocketAddr, Option<Instant>)> + '_ {
        self.nodes
            .iter()
            .zip(&self.last_rx)
            .map(|(&(id, addr), &t)| (id, addr, t))
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn stats(&self) -> &LinkStats {
        &self.stats
    }

    /// Queues `payload`: for one node (itself included — a singleton ring passes the token
    /// to itself), or for every other nodelist node. [`Udpu::flush`] sends the queue in as
    /// few system calls as it can, in order.
    pub fn send(&mut self, now: Instant, destination: Destination, payload: &[u8]) {
        match destination {
            Destination::Node(id) => match self.nodes.iter().find(|(n, _)| *n == id) {
                Some(&(_, addr)) => self.send_to(now, addr, payload),
                None => {
                    self.stats.tx_errors += 1;
                    tracing::debug!(node = id, "no address for destination node");
                }
            },
            Destination::AllNodes => {
                for i in 0..self.nodes.len() {
                    let (id, addr) = self.nodes[i];
                    if id != self.local_nodeid {
                        self.send_to(now, addr, payload);
                    }
                }
            }
        }
    }

    fn send_to(&mut self, now: Instant, addr: SocketAddr, payload: &[u8]) {
        if let Some(faults) = &mut self.faults {
            match faults.decide() {
                faults::Fate::Drop => {
                    self.stats.fault_dropped += 1;
                    return;
                }
                faults::Fate::Delay(d) => {
                    if self.delayed.len() < DELAYED_MAX {
                        self.delayed.push_back((now + d, addr, payload.to_vec()));
                        self.stats.fault_delayed += 1;
                    } else {
                        self.stats.fault_dropped += 1;
                    }
                    return;
                }
                faults::Fate::Send => {}
            }
        }
        if self.outq.len() >= OUTQ_MAX {
            self.flush();
        }
        self.outq_bytes.extend_from_slice(payload);
        self.outq.push((addr, self.outq_bytes.len()));
    }

    /// Sends every queued datagram, [`SEND_BATCH`] per `sendmmsg`.
    pub fn flush(&mut self) {
        use nix::sys::socket::{sendmmsg, MsgFlags, MultiHeaders, SockaddrStorage};
        use std::io::IoSlice;
        use std::os::fd::AsRawFd;
        if self.outq.is_empty() {
            return;
        }
        let fd = self.socket.as_raw_fd();
        let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(SEND_BATCH.min(self.outq.len()), None);
        let mut start = 0usize;
        let mut done = 0usize;
        while done < self.outq.len() {
            let batch = &self.outq[done..(done + SEND_BATCH).min(self.outq.len())];
            let mut slices = Vec::with_capacity(batch.len());
            let mut addrs = Vec::with_capacity(batch.len());
            let mut at = start;
            for &(addr, end) in batch {
                slices.push([IoSlice::new(&self.outq_bytes[at..end])]);
                addrs.push(Some(SockaddrStorage::from(addr)));
                at = end;
            }
            let sent = match sendmmsg(fd, &mut headers, &slices, &addrs, [], MsgFlags::MSG_DONTWAIT) {
                Ok(r) => r.count(),
                Err(nix::errno::Errno::EINTR) => continue,
                // The first datagram failed (buffer full, unreachable): count it and go on.
                Err(e) => {
                    tracing::trace!(error = %e, "send failed");
                    0
                }
            };
            let sent = sent.min(batch.len());
            for &(_, end) in &batch[..sent] {
                self.stats.tx_packets += 1;
                self.stats.tx_bytes += (end - start) as u64;
                start = end;
            }
            if sent < batch.len() {
                // The kernel refused the next one: it is lost, as a failed sendto.
                self.stats.tx_errors += 1;
                start = batch[sent].1;
                done += sent + 1;
            } else {
                done += sent;
            }
        }
        self.outq.clear();
        self.outq_bytes.clear();
    }

    fn raw_send(&mut self, addr: SocketAddr, payload: &[u8]) {
        match self.socket.send_to(payload, addr) {
            Ok(_) => {
                self.stats.tx_packets += 1;
                self.stats.tx_bytes += payload.len() as u64;
            }
            Err(e) => {
                self.stats.tx_errors += 1;
                tracing::trace!(%addr, error = %e, "send failed");
            }
        }
    }

    /// When the next held-back datagram is due (fault hook only).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.delayed.iter().map(|(t, ..)| *t).min()
    }

    /// Sends the held-back datagrams that are due.
    pub fn flush_delayed(&mut self, now: Instant) {
        let mut i = 0;
        while i < self.delayed.len() {
            if self.delayed[i].0 <= now {
                if let Some((_, addr, bytes)) = self.delayed.remove(i) {
                    self.raw_send(addr, &bytes);
                }
            } else {
                i += 1;
            }
        }
    }

    /// Reads the next accepted datagram into `buf` (at least [`RECV_BUFFER`] bytes) and
    /// returns its length; `None` once the socket has nothing more to read.
    pub fn recv(&mut self, now: Instant, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
        loop {
            match self.socket.recv_from(buf) {
                Ok((len, from)) => {
                    if self.block_unlisted_ips && !self.allowed.contains(&from.ip()) {
                        self.stats.rx_blocked_unlisted += 1;
                        tracing::debug!(link = self.link, %from, "dropped datagram from an address not in the nodelist");
                        continue;
                    }
                    let peer = self
                        .nodes
                        .iter()
                        .position(|(_, a)| *a == from)
                        .or_else(|| self.nodes.iter().position(|(_, a)| a.ip() == from.ip()));
                    if let Some(i) = peer {
                        self.last_rx[i] = Some(now);
                    }
                    self.stats.rx_packets += 1;
                    self.stats.rx_bytes += len as u64;
                    return Some((len, from));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return None,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    // ICMP errors surface here on Linux (ECONNREFUSED from a dead peer): not fatal.
                    tracing::trace!(error = %e, "recv error");
                    continue;
                }
            }
        }
    }
}

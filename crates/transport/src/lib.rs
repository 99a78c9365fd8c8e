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
/// Socket send and receive buffer asked for (the kernel doubles it for bookkeeping).
pub const SOCKET_BUFFER: usize = 4 << 20;
/// Most datagrams in one segmented (GSO) send (the kernel allows 64 or more).
pub const GSO_SEGMENTS_MAX: usize = 64;
/// Most bytes in one segmented send (a UDP datagram's payload limit, with room).
pub const GSO_BYTES_MAX: usize = 65_000;
/// A UDP payload that fits unfragmented in any IPv4 path (576 − 28): a segmented send of
/// datagrams this small refused as too large means the offload itself does not work.
const SEGMENT_FITS_ANY_MTU: usize = 548;
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
    /// UDP segmentation offload on send: runs of equal-size datagrams to one peer leave
    /// in one system call and travel the local stack as one packet. Turned off for good
    /// on the first error that says the kernel or device cannot do it.
    gso: bool,
    /// Largest datagram sent segmented. The kernel segments only datagrams that fit the
    /// path MTU unfragmented and refuses a larger run whole (EMSGSIZE or EINVAL): an
    /// old-ring frame re-sent encapsulated in RECOVERY is such a datagram, and refused on
    /// every retransmission it left a ring in RECOVERY for good. Lowered on that refusal;
    /// larger datagrams then go one by one and IP fragments them.
    gso_segment_max: usize,
    /// A coalesced receive (UDP GRO) being handed out one datagram at a time.
    gro: Gro,
}

/// Datagrams of one GRO receive not yet returned by [`Udpu::recv`].
#[derive(Debug, Default)]
struct Gro {
    buf: Vec<u8>,
    len: usize,
    at: usize,
    segment: usize,
    from: Option<SocketAddr>,
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
        // Room for a few token visits of every peer (64 frames each by default): a burst
        // must not overflow the default 208 KiB. Forced as root (corosync runs as root),
        // else what `rmem_max` allows.
        let bytes = SOCKET_BUFFER;
        if nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::RcvBufForce, &bytes).is_err() {
            let _ = nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::RcvBuf, &bytes);
        }
        if nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::SndBufForce, &bytes).is_err() {
            let _ = nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::SndBuf, &bytes);
        }
        // Coalesced receives where the kernel can (split again in `recv`); without it
        // every datagram is read on its own, as before.
        if let Err(e) = nix::sys::socket::setsockopt(&socket, nix::sys::socket::sockopt::UdpGroSegment, &true) {
            tracing::debug!(error = %e, "UDP GRO not available");
        }
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
            gso: true,
            gso_segment_max: usize::MAX,
            gro: Gro::default(),
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

    /// Whether segmented sends (UDP GSO) are in use on this link.
    pub fn segmentation_offload(&self) -> bool {
        self.gso
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

    /// Sends every queued datagram. Per destination the order is kept; destinations go
    /// in the order of their last datagram (the token, queued last, leaves last). Runs of
    /// equal-size datagrams to one peer go as one segmented send (UDP GSO); the rest
    /// [`SEND_BATCH`] per `sendmmsg`.
    pub fn flush(&mut self) {
        if self.outq.is_empty() {
            return;
        }
        if let [(addr, end)] = self.outq[..] {
            // One datagram (a forwarded token, a join): one plain send, nothing to plan.
            let bytes = std::mem::take(&mut self.outq_bytes);
            self.raw_send(addr, &bytes[..end]);
            self.outq_bytes = bytes;
            self.outq_bytes.clear();
            self.outq.clear();
            return;
        }
        let outq = std::mem::take(&mut self.outq);
        let bytes = std::mem::take(&mut self.outq_bytes);
        let mut spans: Vec<(SocketAddr, std::ops::Range<usize>)> = Vec::with_capacity(outq.len());
        let mut start = 0;
        for &(addr, end) in &outq {
            spans.push((addr, start..end));
            start = end;
        }
        let mut singles: Vec<(SocketAddr, std::ops::Range<usize>)> = Vec::new();
        for dest in destinations_by_last(&spans) {
            let mine: Vec<std::ops::Range<usize>> = spans
                .iter()
                .filter(|(a, _)| *a == dest)
                .map(|(_, r)| r.clone())
                .collect();
            for run in gso_runs(&mine) {
                if run.len() >= 2 && self.gso && run[0].len() <= self.gso_segment_max {
                    // What was queued before goes first.
                    self.send_batch(&bytes, &std::mem::take(&mut singles));
                    if self.send_segmented(dest, &bytes, run) {
                        continue;
                    }
                }
                singles.extend(run.iter().map(|r| (dest, r.clone())));
            }
        }
        self.send_batch(&bytes, &singles);
        // Keep the allocations.
        self.outq = outq;
        self.outq.clear();
        self.outq_bytes = bytes;
        self.outq_bytes.clear();
    }

    /// One `sendmsg` with `UDP_SEGMENT`; false if the kernel refused the offload (for
    /// datagrams this large, or for good on this link) and the caller sends the run
    /// datagram by datagram.
    fn send_segmented(&mut self, dest: SocketAddr, bytes: &[u8], run: &[std::ops::Range<usize>]) -> bool {
        use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, SockaddrStorage};
        use std::io::IoSlice;
        use std::os::fd::AsRawFd;
        let segment = run[0].len() as u16;
        let iov: Vec<IoSlice<'_>> = run.iter().map(|r| IoSlice::new(&bytes[r.clone()])).collect();
        let addr = SockaddrStorage::from(dest);
        let cmsg = [ControlMessage::UdpGsoSegments(&segment)];
        let total: usize = run.iter().map(|r| r.len()).sum();
        match sendmsg(
            self.socket.as_raw_fd(),
            &iov,
            &cmsg,
            MsgFlags::MSG_DONTWAIT,
            Some(&addr),
        ) {
            Ok(_) => {
                self.stats.tx_packets += run.len() as u64;
                self.stats.tx_bytes += total as u64;
                true
            }
            Err(nix::errno::Errno::EMSGSIZE | nix::errno::Errno::EINVAL)
                if usize::from(segment) > SEGMENT_FITS_ANY_MTU =>
            {
                tracing::debug!(
                    link = self.link,
                    segment,
                    "datagrams of this size do not fit the path MTU unfragmented; sending them one by one"
                );
                self.gso_segment_max = usize::from(segment) - 1;
                false
            }
            Err(
                nix::errno::Errno::EIO
                | nix::errno::Errno::EINVAL
                | nix::errno::Errno::ENOPROTOOPT
                | nix::errno::Errno::EOPNOTSUPP,
            ) => {
                tracing::info!(
                    link = self.link,
                    "UDP segmentation offload unavailable; sending datagram by datagram"
                );
                self.gso = false;
                false
            }
            Err(e) => {
                // Lost like a failed sendto of each datagram.
                tracing::trace!(error = %e, "segmented send failed");
                self.stats.tx_errors += run.len() as u64;
                true
            }
        }
    }

    /// Sends `items` in order, [`SEND_BATCH`] per `sendmmsg`.
    fn send_batch(&mut self, bytes: &[u8], items: &[(SocketAddr, std::ops::Range<usize>)]) {
        use nix::sys::socket::{sendmmsg, MsgFlags, MultiHeaders, SockaddrStorage};
        use std::io::IoSlice;
        use std::os::fd::AsRawFd;
        if items.is_empty() {
            return;
        }
        let fd = self.socket.as_raw_fd();
        let mut headers = MultiHeaders::<SockaddrStorage>::preallocate(SEND_BATCH.min(items.len()), None);
        let mut done = 0usize;
        while done < items.len() {
            let batch = &items[done..(done + SEND_BATCH).min(items.len())];
            let slices: Vec<[IoSlice<'_>; 1]> = batch.iter().map(|(_, r)| [IoSlice::new(&bytes[r.clone()])]).collect();
            let addrs: Vec<Option<SockaddrStorage>> =
                batch.iter().map(|(a, _)| Some(SockaddrStorage::from(*a))).collect();
            let sent = match sendmmsg(fd, &mut headers, &slices, &addrs, [], MsgFlags::MSG_DONTWAIT) {
                Ok(r) => r.count(),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(e) => {
                    tracing::trace!(error = %e, "send failed");
                    0
                }
            };
            let sent = sent.min(batch.len());
            for (_, r) in &batch[..sent] {
                self.stats.tx_packets += 1;
                self.stats.tx_bytes += r.len() as u64;
            }
            if sent < batch.len() {
                // The kernel refused the next one: it is lost, as a failed sendto.
                self.stats.tx_errors += 1;
                done += sent + 1;
            } else {
                done += sent;
            }
        }
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
            if let Some(r) = self.next_gro_segment(buf) {
                return Some(r);
            }
            match self.recv_coalesced(buf) {
                Ok((len, from, segment)) => {
                    let count = if segment > 0 && segment < len {
                        len.div_ceil(segment)
                    } else {
                        1
                    };
                    if !self.accept_rx(now, len, count, from) {
                        continue;
                    }
                    if count > 1 {
                        // Several datagrams in one receive: the first is returned in place,
                        // the others are kept for the next calls.
                        self.gro.buf.clear();
                        self.gro.buf.extend_from_slice(&buf[..len]);
                        self.gro.len = len;
                        self.gro.at = segment;
                        self.gro.segment = segment;
                        self.gro.from = Some(from);
                        return Some((segment, from));
                    }
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

    /// The next datagram of a coalesced receive, copied to `buf`.
    fn next_gro_segment(&mut self, buf: &mut [u8]) -> Option<(usize, SocketAddr)> {
        let from = self.gro.from?;
        if self.gro.at >= self.gro.len {
            self.gro.from = None;
            return None;
        }
        let end = (self.gro.at + self.gro.segment).min(self.gro.len);
        let n = end - self.gro.at;
        buf[..n].copy_from_slice(&self.gro.buf[self.gro.at..end]);
        self.gro.at = end;
        Some((n, from))
    }

    /// `recvmsg` asking for the GRO segment size: (length, source, segment size or 0).
    fn recv_coalesced(&mut self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr, usize)> {
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, SockaddrStorage};
        use std::io::IoSliceMut;
        use std::os::fd::AsRawFd;
        let mut cmsg = nix::cmsg_space!(i32);
        let mut iov = [IoSliceMut::new(buf)];
        let msg = recvmsg::<SockaddrStorage>(
            self.socket.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::MSG_DONTWAIT,
        )
        .map_err(io::Error::from)?;
        let mut segment = 0usize;
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                if let ControlMessageOwned::UdpGroSegments(s) = c {
                    segment = usize::try_from(s).unwrap_or(0);
                }
            }
        }
        let from = msg
            .address
            .and_then(|a: SockaddrStorage| {
                a.as_sockaddr_in()
                    .map(|v4| SocketAddr::from(std::net::SocketAddrV4::from(*v4)))
                    .or_else(|| {
                        a.as_sockaddr_in6()
                            .map(|v6| SocketAddr::from(std::net::SocketAddrV6::from(*v6)))
                    })
            })
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "datagram without a source address"))?;
        Ok((msg.bytes, from, segment))
    }

    /// Filters `count` datagrams (`len` bytes) received from `from` by source and counts
    /// them; false: dropped.
    fn accept_rx(&mut self, now: Instant, len: usize, count: usize, from: SocketAddr) -> bool {
        if self.block_unlisted_ips && !self.allowed.contains(&from.ip()) {
            self.stats.rx_blocked_unlisted += count as u64;
            tracing::debug!(link = self.link, %from, "dropped datagram from an address not in the nodelist");
            return false;
        }
        let peer = self
            .nodes
            .iter()
            .position(|(_, a)| *a == from)
            .or_else(|| self.nodes.iter().position(|(_, a)| a.ip() == from.ip()));
        if let Some(i) = peer {
            self.last_rx[i] = Some(now);
        }
        self.stats.rx_packets += count as u64;
        self.stats.rx_bytes += len as u64;
        true
    }
}

/// Each destination once, ordered by the position of its last datagram.
fn destinations_by_last(spans: &[(SocketAddr, std::ops::Range<usize>)]) -> Vec<SocketAddr> {
    let mut order: Vec<(usize, SocketAddr)> = Vec::new();
    for (i, (a, _)) in spans.iter().enumerate() {
        match order.iter_mut().find(|(_, d)| d == a) {
            Some(e) => e.0 = i,
            None => order.push((i, *a)),
        }
    }
    order.sort_by_key(|(last, _)| *last);
    order.into_iter().map(|(_, a)| a).collect()
}

/// Splits one destination's datagrams (in order) into runs a segmented send can carry:
/// equal sizes, the last one possibly shorter, at most [`GSO_SEGMENTS_MAX`] datagrams and
/// [`GSO_BYTES_MAX`] bytes.
fn gso_runs(items: &[std::ops::Range<usize>]) -> Vec<&[std::ops::Range<usize>]> {
    let mut runs = Vec::new();
    let mut start = 0;
    while start < items.len() {
        let size = items[start].len();
        let mut end = start + 1;
        let mut total = size;
        while end < items.len()
            && end - start < GSO_SEGMENTS_MAX
            && total + items[end].len() <= GSO_BYTES_MAX
            && items[end].len() <= size
            && items[end - 1].len() == size
            && size > 0
        {
            total += items[end].len();
            end += 1;
        }
        runs.push(&items[start..end]);
        start = end;
    }
    runs
}

//! The daemon's side of the libqb IPC server: connections and requests go to the
//! services ([`services::Node`]), replies and events come back, and the node's flow
//! control and the `uidgid.*` access rules are applied to the clients.

use std::collections::{BTreeMap, HashSet};

use ipc::{AccessPolicy, Server, ServerConfig, ServerEvent};
use services::cmap::stats::{IpcConnKey, IpcConnStats};
use services::{ClientMessageKind, ConnId, Credentials, Node, ServiceId};

/// Tokens at and above this belong to the IPC server.
pub const TOKEN_BASE: usize = 1 << 20;
/// Events queued for one client (its event ring full) before it must stop sending, in
/// number and in bytes, whichever comes first; it may send again once both are back
/// below the low marks. A client that sends flat out and dispatches in another thread
/// (cpgbench) is thus paced by its own reading, as corosync paces it, but only after a
/// backlog of some megabytes: with a small one its sends mostly fail with TRY_AGAIN,
/// and a client that retries at once spins on the CPU its own dispatch thread needs.
/// The byte mark stays far below the server's disconnect bound (64 MiB).
const BACKLOG_HIGH: Backlog = Backlog {
    events: 1 << 16,
    bytes: 8 << 20,
};
const BACKLOG_LOW: Backlog = Backlog {
    events: 1 << 14,
    bytes: 2 << 20,
};

/// A client's queued events, counted both ways.
#[derive(Clone, Copy)]
struct Backlog {
    events: usize,
    bytes: usize,
}

impl Backlog {
    fn reaches(self, mark: Backlog) -> bool {
        self.events >= mark.events || self.bytes >= mark.bytes
    }

    /// Whether a client with this backlog is held back: from the high mark until it is
    /// below the low mark again (`held`: it is held now), or while the node asks it.
    fn holds(self, held: bool, node_asks: bool) -> bool {
        node_asks || self.reaches(BACKLOG_HIGH) || (held && self.reaches(BACKLOG_LOW))
    }
}

/// Events queued per client before it is disconnected as too slow (corosync's queue
/// is unbounded; ours is not). Beyond the client's own sends, which flow control stops,
/// everything already in the ring still arrives: up to totem's send queue of frames of
/// small messages from this node alone. The server's byte bound (64 MiB) is the memory
/// limit; this count only has to stay above what the ring can hold in flight.
const EVENT_QUEUE_MAX: usize = 1 << 18;
/// The flow-control level clients are given: like corosync's `QB_IPCS_RATE_OFF_2`, it
/// stops only the sends that raised their limit to 2 (libcpg's `cpg_mcast_joined`);
/// every other call still reaches the services, which answer TRY_AGAIN where corosync
/// does. Level 1 would block cmap too, and Pacemaker cannot register its group then.
const FLOW_CONTROL_LEVEL: i32 = 2;

/// One connected client, as cmap's stats map shows it.
struct Client {
    key: IpcConnKey,
    stats: IpcConnStats,
    /// Currently told to hold back.
    flow_control: bool,
}

pub struct IpcHost {
    server: Server,
    /// Service of each listener index of the server.
    services: Vec<ServiceId>,
    /// Connected clients: flow control and counters (`stats.ipcs.*`).
    conns: BTreeMap<u64, Client>,
    /// Connections closed since the stats map was last updated.
    closed: Vec<IpcConnKey>,
    /// A cmap request was handed to the node since [`IpcHost::take_cmap_requested`]: it
    /// may have asked to clear statistics.
    cmap_requested: bool,
    /// The node asks every client to hold back (synchronisation, ring backlog).
    flow_control: bool,
    /// Requests from every client since start (never cleared, unlike `stats.ipcs.*`).
    requests: u64,
    access: AccessPolicy,
    /// The map's generation `access` was derived at (`None`: never).
    access_generation: Option<u64>,
}

impl IpcHost {
    /// Listens on corosync's five service names (abstract sockets of this network
    /// namespace).
    pub fn bind(registry: &mio::Registry) -> Result<IpcHost, ipc::IpcError> {
        let services = [
            ServiceId::Cfg,
            ServiceId::Cpg,
            ServiceId::Quorum,
            ServiceId::Votequorum,
            ServiceId::Cmap,
        ];
        let config = ServerConfig {
            services: services.iter().map(|s| s.ipc_name().to_owned()).collect(),
            event_queue_max: EVENT_QUEUE_MAX,
            ..ServerConfig::default()
        };
        let mut server = Server::bind(config)?;
        // Clients wait until the first synchronisation completed.
        server.set_ready(false);
        server.register(registry, TOKEN_BASE)?;
        Ok(IpcHost {
            server,
            services: services.to_vec(),
            conns: BTreeMap::new(),
            closed: Vec::new(),
            cmap_requested: false,
            flow_control: false,
            requests: 0,
            access: AccessPolicy::default(),
            access_generation: None,
        })
    }

    pub fn owns(&self, token: mio::Token) -> bool {
        self.server.owns(token)
    }

    pub fn handle_ready(&mut self, event: &mio::event::Event, now: std::time::Instant) {
        self.server.handle_event(event, now);
    }

    pub fn poll_timeout(&self) -> Option<std::time::Instant> {
        self.server.poll_timeout()
    }

    pub fn handle_timeout(&mut self, now: std::time::Instant) {
        self.server.handle_timeout(now);
        self.update_flow_control();
    }

    /// Requests from every client since start.
    pub fn requests(&self) -> u64 {
        self.requests
    }

    pub fn connections(&self) -> usize {
        self.conns.len()
    }

    /// Hands what the server received to the node; true if anything was.
    pub fn to_node(&mut self, node: &mut Node, now: totem::Instant) -> bool {
        let mut any = false;
        while let Some(ev) = self.server.poll_event() {
            any = true;
            match ev {
                ServerEvent::Connected { conn, service, creds } => {
                    let service = self.services[service];
                    let creds = Credentials {
                        pid: creds.pid,
                        uid: creds.uid,
                        gid: creds.gid,
                    };
                    match node.client_connected(now, ConnId(conn.0), service, creds) {
                        Ok(()) => {
                            tracing::debug!(%conn, %service, pid = creds.pid, uid = creds.uid, "client connected");
                            let procname = std::fs::read_to_string(format!("/proc/{}/comm", creds.pid))
                                .map(|s| s.trim_end().to_owned())
                                .unwrap_or_default();
                            let client = Client {
                                key: IpcConnKey {
                                    service: service as u16,
                                    pid: creds.pid,
                                    conn: conn.0,
                                },
                                stats: IpcConnStats {
                                    procname,
                                    ..IpcConnStats::default()
                                },
                                flow_control: false,
                            };
                            self.conns.insert(conn.0, client);
                            self.update_flow_control();
                        }
                        Err(e) => {
                            tracing::debug!(%conn, %service, error = ?e, "connection refused");
                            self.server.disconnect(conn);
                        }
                    }
                }
                ServerEvent::Request { conn, data, .. } => {
                    self.requests += 1;
                    if let Some(c) = self.conns.get_mut(&conn.0) {
                        c.stats.requests += 1;
                        self.cmap_requested |= c.key.service == ServiceId::Cmap as u16;
                    }
                    node.client_request(now, ConnId(conn.0), &data);
                    self.server.recycle(data);
                }
                ServerEvent::Disconnected { conn } => {
                    if let Some(c) = self.conns.remove(&conn.0) {
                        self.closed.push(c.key);
                        node.client_disconnected(now, ConnId(conn.0));
                    }
                }
            }
        }
        any
    }

    /// Delivers the node's replies and events to the clients.
    pub fn from_node(&mut self, node: &mut Node) {
        while let Some(m) = node.poll_client_message() {
            let conn = ipc::ConnId(m.conn.0);
            let r = match m.kind {
                ClientMessageKind::Response => self.server.respond(conn, &m.data),
                ClientMessageKind::Event => self.server.send_event_batched(conn, &m.data),
            };
            if let (Ok(()), Some(c)) = (&r, self.conns.get_mut(&conn.0)) {
                match m.kind {
                    ClientMessageKind::Response => c.stats.responses += 1,
                    ClientMessageKind::Event => c.stats.dispatched += 1,
                }
            }
            if let Err(e) = r {
                tracing::debug!(%conn, error = %e, "client message not delivered");
            }
            node.recycle(m.data);
        }
        self.server.flush_events();
        self.server.set_ready(node.ready());
        // Back-pressure: requests stay in the clients' rings while the node is backed up.
        self.server.set_reading(node.wants_requests());
        self.flow_control = node.flow_control();
        self.update_flow_control();
        // Only when the map changed: this runs after every datagram.
        let generation = node.icmap().generation();
        if self.access_generation != Some(generation) {
            self.access_generation = Some(generation);
            let access = access_policy(node.icmap());
            if access != self.access {
                tracing::debug!(uids = ?access.uids, gids = ?access.gids, "IPC access rules changed");
                self.server.set_access(access.clone());
                self.access = access;
            }
            dump_flight_data_if_asked(node);
        }
    }

    /// Tells each client to hold back while the node asks it or while its own events
    /// pile up, and lets it go again once they drained (with hysteresis).
    fn update_flow_control(&mut self) {
        for (&c, client) in self.conns.iter_mut() {
            let queued = Backlog {
                events: self.server.queued_events(ipc::ConnId(c)),
                bytes: self.server.queued_event_bytes(ipc::ConnId(c)),
            };
            let on = &mut client.flow_control;
            let want = queued.holds(*on, self.flow_control);
            if want != *on {
                *on = want;
                client.stats.flow_control = u32::from(want);
                client.stats.flow_control_count += u64::from(want);
                let level = if want { FLOW_CONTROL_LEVEL } else { 0 };
                let _ = self.server.set_flow_control(ipc::ConnId(c), level);
            }
        }
    }

    /// Writes every connection's counters into cmap's stats map (`stats.ipcs.*`) and
    /// removes those of closed connections.
    pub fn update_stats(&mut self, node: &mut Node, now: totem::Instant) {
        let closed = std::mem::take(&mut self.closed);
        let conns: Vec<(IpcConnKey, IpcConnStats)> = self
            .conns
            .iter()
            .map(|(&c, client)| {
                let mut stats = client.stats.clone();
                stats.queued = self.server.queued_events(ipc::ConnId(c)) as u32;
                stats.queueing = i32::from(stats.queued > 0);
                (client.key, stats)
            })
            .collect();
        node.with_service::<services::cmap::Cmap, _>(now, |cmap, _| {
            let map = cmap.stats_mut();
            for key in closed {
                map.remove_connection(key);
            }
            for (key, stats) in &conns {
                map.set_connection(*key, stats);
            }
            map.set("stats.ipcs.global.active", services::Value::U64(conns.len() as u64));
        });
    }

    /// Whether a cmap request came since the last call.
    pub fn take_cmap_requested(&mut self) -> bool {
        std::mem::take(&mut self.cmap_requested)
    }

    /// `stats.clear.ipc`: every connection's counters back to zero.
    pub fn clear_stats(&mut self) {
        for c in self.conns.values_mut() {
            c.stats.clear_counters();
        }
    }

    pub fn disconnect(&mut self, conn: ConnId) {
        self.server.disconnect(ipc::ConnId(conn.0));
    }
}

/// corosync's `cs_ipcs_connection_accept`: `uidgid.config.{uid,gid}.<N>` from the
/// configuration and `uidgid.{uid,gid}.<N>` set at run time through cmap (as Pacemaker
/// does for its group).
fn access_policy(map: &services::Icmap) -> AccessPolicy {
    let ids = |kind: &str| -> HashSet<u32> {
        [format!("uidgid.{kind}."), format!("uidgid.config.{kind}.")]
            .iter()
            .flat_map(|prefix| {
                map.iter_prefix(prefix)
                    .filter(|(_, v)| **v == services::Value::U8(1))
                    .filter_map(move |(k, _)| k[prefix.len()..].parse().ok())
            })
            .collect()
    };
    AccessPolicy {
        uids: ids("uid"),
        gids: ids("gid"),
    }
}

/// corosync's `corosync-blackbox` asks for a flight-recorder dump by setting this key.
pub const DUMP_FLIGHT_DATA_KEY: &str = "runtime.blackbox.dump_flight_data";

/// Dumps the flight recorder when a client set [`DUMP_FLIGHT_DATA_KEY`] to `yes`, then sets
/// it to `no`: the client sees the dump is written, and the next `yes` is a change again.
fn dump_flight_data_if_asked(node: &mut Node) {
    if node.icmap().string(DUMP_FLIGHT_DATA_KEY) != Some("yes") {
        return;
    }
    match crate::blackbox::recorder().dump() {
        Ok(path) => tracing::info!(path = %path.display(), "flight recorder dumped (asked over cmap)"),
        Err(e) => tracing::warn!(error = %e, "flight recorder dump failed"),
    }
    node.icmap_mut()
        .set(DUMP_FLIGHT_DATA_KEY, services::Value::String("no".into()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_backlog_holds_from_the_high_mark_to_below_the_low_one_in_events_or_bytes() {
        let b = |events, bytes| Backlog { events, bytes };
        assert!(!b(1000, 100_000).holds(false, false));
        assert!(b(1000, 100_000).holds(false, true), "the node asks");
        assert!(b(BACKLOG_HIGH.events, 0).holds(false, false));
        assert!(
            b(10, BACKLOG_HIGH.bytes).holds(false, false),
            "16 KiB events reach the byte mark first"
        );
        assert!(
            b(BACKLOG_LOW.events, 0).holds(true, false),
            "still held above the low mark"
        );
        assert!(
            !b(BACKLOG_LOW.events, 0).holds(false, false),
            "not held again below the high mark"
        );
        assert!(
            !b(BACKLOG_LOW.events - 1, BACKLOG_LOW.bytes - 1).holds(true, false),
            "released below both"
        );
        // Held well before the server disconnects the client (64 MiB, EVENT_QUEUE_MAX).
        const { assert!(BACKLOG_HIGH.bytes * 4 <= 64 << 20 && BACKLOG_HIGH.events * 4 <= EVENT_QUEUE_MAX) };
    }

    #[test]
    fn uidgid_keys_make_the_policy() {
        let mut m = services::Icmap::default();
        m.set("uidgid.uid.1000", services::Value::U8(1));
        m.set("uidgid.gid.113", services::Value::U8(1));
        m.set("uidgid.gid.bad", services::Value::U8(1));
        m.set("uidgid.config.uid.2000", services::Value::U8(1));
        m.set("uidgid.uid.3000", services::Value::U8(0));
        let p = access_policy(&m);
        assert!(p.allows(1000, 5) && p.allows(7, 113) && p.allows(2000, 5) && !p.allows(7, 8) && !p.allows(3000, 5));
    }
}

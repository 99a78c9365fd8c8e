//! Simulated CPG client processes: on every node a few clients (fake connection ids
//! and pids) talk to the node's CPG service through [`services::Node`]'s client
//! interface with libcpg's request bytes, join and leave groups, multicast
//! sequence-numbered messages, retry on CS_ERR_TRY_AGAIN, and record every
//! configuration change and delivery they receive in [`crate::cpg_history`].
//!
//! Driven from their own seeded random stream (so the totem workload and faults of a
//! seed are drawn as before), deterministic and bounded: a client stops multicasting
//! while 64 of its messages are not yet delivered back to it. Clients die with their
//! node; some also disconnect, or leave and join again (always with a fresh pid).

use std::collections::BTreeMap;
use std::time::Duration;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use services::cpg::messages::{encode, res};
use services::{ClientMessage, ClientMessageKind, ConnId, Credentials, CsError, ServiceId, Stamp};
use totem::NodeId;

use crate::cpg_history::{CpgEntry, CpgMsg, Proc, SessIdx, Session, SessionEnd, View};
use crate::engine::Engine;

/// Most messages of one client multicast but not yet delivered back to it.
const IN_FLIGHT_MAX: usize = 64;
/// Bytes of identity at the start of every CPG payload: node, pid, seq.
const HEADER: usize = 12;

/// Where a client stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// No connection (node down, never connected, or disconnected).
    Disconnected,
    /// Connected, in no group.
    Connected,
    /// JOIN sent, reply pending.
    JoinSent,
    /// JOIN accepted; its own join not yet in a view.
    Joining,
    /// Its own join is in its view.
    Joined,
    /// LEAVE sent, reply pending.
    LeaveSent,
    /// LEAVE accepted; its own leave not yet delivered.
    Leaving,
}

/// One client process.
#[derive(Clone, Debug)]
pub struct Client {
    pub node: usize,
    pub conn: Option<ConnId>,
    pub state: State,
    pub session: Option<SessIdx>,
    pub pid: u32,
    pub group: usize,
    pub next_seq: u32,
    /// Own messages delivered back in the current session.
    pub self_delivered: usize,
}

/// The seed's choice of client behaviour.
#[derive(Clone, Debug)]
pub struct ClientProfile {
    pub per_node: usize,
    pub groups: usize,
    /// Mean gap between client steps, ns.
    pub mean_gap_ns: u64,
    pub max_burst: u32,
    /// Percent chances per step of a joined client: leave, disconnect.
    pub leave_pct: u32,
    pub disconnect_pct: u32,
    /// Every node runs votequorum with `wait_for_all` (not a client choice, but drawn
    /// from the same stream so the totem scenario of a seed stays as it was).
    pub wait_for_all: bool,
}

impl ClientProfile {
    pub fn choose(rng: &mut SmallRng, token_ns: u64) -> Self {
        ClientProfile {
            per_node: rng.gen_range(1..=2),
            groups: rng.gen_range(1..=2),
            mean_gap_ns: token_ns / rng.gen_range(2..12),
            max_burst: [1, 3, 8][rng.gen_range(0..3)],
            leave_pct: [0, 3, 8][rng.gen_range(0..3)],
            disconnect_pct: [0, 2, 5][rng.gen_range(0..3)],
            wait_for_all: rng.gen_bool(0.3),
        }
    }
}

/// Every client of the run.
#[derive(Debug)]
pub struct Clients {
    pub clients: Vec<Client>,
    pub profile: ClientProfile,
    rng: SmallRng,
    by_conn: BTreeMap<ConnId, usize>,
    next_conn: u64,
    next_pid: u32,
    /// Client actions are stopped (liveness phase: only probes).
    pub frozen: bool,
}

impl Clients {
    pub fn new(nodes: usize, seed: u64, token_ns: u64) -> Self {
        let mut rng = SmallRng::seed_from_u64(seed ^ 0xc1_1e47_5eed);
        let profile = ClientProfile::choose(&mut rng, token_ns);
        let groups = profile.groups;
        let clients = (0..nodes * profile.per_node)
            .map(|k| Client {
                node: k / profile.per_node,
                conn: None,
                state: State::Disconnected,
                session: None,
                pid: 0,
                group: k % groups,
                next_seq: 0,
                self_delivered: 0,
            })
            .collect();
        Clients {
            clients,
            profile,
            rng,
            by_conn: BTreeMap::new(),
            next_conn: 1,
            next_pid: 1000,
            frozen: false,
        }
    }

    pub fn gap(&mut self) -> Duration {
        let u: f64 = self.rng.gen_range(0.001..1.0);
        Duration::from_nanos(((-u.ln()) * self.profile.mean_gap_ns as f64) as u64 + 1)
    }
}

/// The payload of message `seq` of process `p`, `len` bytes (at least [`HEADER`]).
pub fn payload(p: Proc, seq: u32, len: usize) -> Vec<u8> {
    let mut v = Vec::with_capacity(len.max(HEADER));
    v.extend_from_slice(&p.0.to_le_bytes());
    v.extend_from_slice(&p.1.to_le_bytes());
    v.extend_from_slice(&seq.to_le_bytes());
    let base = (seq as usize).wrapping_mul(13) ^ p.1 as usize;
    v.extend((HEADER..len.max(HEADER)).map(|i| (base + i) as u8));
    v
}

/// Reads a payload back; `None` if it is not one [`payload`] wrote.
pub fn decode(data: &[u8]) -> Option<CpgMsg> {
    if data.len() < HEADER {
        return None;
    }
    let u = |at: usize| u32::from_le_bytes([data[at], data[at + 1], data[at + 2], data[at + 3]]);
    let (node, pid, seq) = (u(0), u(4), u(8));
    let base = (seq as usize).wrapping_mul(13) ^ pid as usize;
    let intact = data
        .iter()
        .enumerate()
        .skip(HEADER)
        .all(|(i, b)| *b == (base + i) as u8);
    intact.then_some(CpgMsg { from: (node, pid), seq })
}

fn ne_u32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

fn addresses(d: &[u8], from: usize, n: usize) -> Option<Vec<Proc>> {
    (0..n)
        .map(|k| Some((ne_u32(d, from + 24 * k)?, ne_u32(d, from + 24 * k + 8)?)))
        .collect()
}

fn reasons(d: &[u8], from: usize, n: usize) -> Option<Vec<u32>> {
    (0..n).map(|k| ne_u32(d, from + 24 * k + 16)).collect()
}

/// A CONFCHG_CALLBACK: members, left, joined, and the reasons of joined then left.
#[allow(clippy::type_complexity)]
fn parse_confchg(d: &[u8]) -> Option<(Vec<Proc>, Vec<Proc>, Vec<Proc>, Vec<u32>)> {
    let (m, j, l) = (
        ne_u32(d, 160)? as usize,
        ne_u32(d, 168)? as usize,
        ne_u32(d, 176)? as usize,
    );
    if m + j + l > 3 * 384 {
        return None;
    }
    let members = addresses(d, 184, m)?;
    let left = addresses(d, 184 + 24 * m, l)?;
    let joined = addresses(d, 184 + 24 * (m + l), j)?;
    let mut why = reasons(d, 184 + 24 * (m + l), j)?;
    why.extend(reasons(d, 184 + 24 * m, l)?);
    Some((members, left, joined, why))
}

impl Engine {
    fn client_node_id(&self, c: usize) -> NodeId {
        self.ids[self.cpg.clients[c].node]
    }

    /// One client step: a few clients act.
    pub fn cpg_step(&mut self) {
        if self.cpg.clients.is_empty() || self.cpg.frozen {
            return;
        }
        let n = self.cpg.clients.len();
        let actors = self.cpg.rng.gen_range(1..=n.min(3));
        for _ in 0..actors {
            let c = self.cpg.rng.gen_range(0..n);
            self.client_act(c);
            if self.failure.is_some() {
                return;
            }
        }
    }

    fn client_act(&mut self, c: usize) {
        let node = self.cpg.clients[c].node;
        if !self.hosts[node].is_up() {
            return;
        }
        let now = self.now;
        match self.cpg.clients[c].state {
            State::Disconnected => {
                let conn = ConnId(self.cpg.next_conn);
                self.cpg.next_conn += 1;
                let creds = Credentials { pid: 1, uid: 0, gid: 0 };
                let Some(t) = self.hosts[node].totem.as_mut() else {
                    return;
                };
                match t.client_connected(now, conn, ServiceId::Cpg, creds) {
                    Ok(()) => {
                        let cl = &mut self.cpg.clients[c];
                        cl.conn = Some(conn);
                        cl.state = State::Connected;
                        self.cpg.by_conn.insert(conn, c);
                    }
                    Err(CsError::TryAgain) => {}
                    Err(e) => self.fail("cpg client", format!("connect refused: {e:?}")),
                }
                self.drain(node);
            }
            State::Connected => {
                let pid = self.cpg.next_pid;
                self.cpg.next_pid += 1;
                let group = groups_name(self.cpg.clients[c].group);
                let cl = &mut self.cpg.clients[c];
                cl.pid = pid;
                cl.state = State::JoinSent;
                let req = encode::join(&group, pid, 0);
                self.client_send(c, &req);
            }
            State::Joining | State::Joined => {
                let roll = self.cpg.rng.gen_range(0..100);
                let p = &self.cpg.profile;
                if roll < p.disconnect_pct {
                    self.client_disconnect(c);
                } else if roll < p.disconnect_pct + p.leave_pct && self.cpg.clients[c].state == State::Joined {
                    let group = groups_name(self.cpg.clients[c].group);
                    let cl = &mut self.cpg.clients[c];
                    cl.state = State::LeaveSent;
                    let req = encode::leave(&group, cl.pid);
                    self.client_send(c, &req);
                } else {
                    let k = self.cpg.rng.gen_range(1..=self.cpg.profile.max_burst);
                    for _ in 0..k {
                        self.client_mcast(c);
                    }
                }
            }
            State::JoinSent | State::LeaveSent | State::Leaving => {}
        }
    }

    /// Multicasts the client's next message unless too many are in flight.
    pub fn client_mcast(&mut self, c: usize) -> bool {
        let cl = &self.cpg.clients[c];
        let Some(s) = cl.session else { return false };
        if self.history.cpg.sessions[s].sent.len() - cl.self_delivered >= IN_FLIGHT_MAX {
            return false;
        }
        let seq = cl.next_seq;
        let p = (self.client_node_id(c), cl.pid);
        let len = HEADER + self.cpg.rng.gen_range(0..200);
        let req = encode::mcast(&payload(p, seq, len));
        self.cpg.clients[c].next_seq += 1;
        self.history.cpg.sessions[s].sent.push(seq);
        self.client_send(c, &req);
        true
    }

    fn client_send(&mut self, c: usize, req: &[u8]) {
        let (node, conn) = (self.cpg.clients[c].node, self.cpg.clients[c].conn);
        let Some(conn) = conn else { return };
        let (pid, state) = (self.cpg.clients[c].pid, self.cpg.clients[c].state);
        if state != State::Joined && state != State::Joining {
            self.trace.line(self.now, Some(self.ids[node]), || {
                format!("  client p{pid} {state:?} ({conn})")
            });
        }
        let now = self.now;
        if let Some(t) = self.hosts[node].totem.as_mut() {
            t.client_request(now, conn, req);
        }
        self.drain(node);
    }

    fn client_disconnect(&mut self, c: usize) {
        let node = self.cpg.clients[c].node;
        let Some(conn) = self.cpg.clients[c].conn else { return };
        let pid = self.cpg.clients[c].pid;
        self.trace.line(self.now, Some(self.ids[node]), || {
            format!("  client p{pid} disconnects ({conn})")
        });
        self.end_session(c, SessionEnd::Disconnected);
        self.reset_client(c);
        let now = self.now;
        if let Some(t) = self.hosts[node].totem.as_mut() {
            t.client_disconnected(now, conn);
        }
        self.drain(node);
    }

    fn end_session(&mut self, c: usize, why: SessionEnd) {
        if let Some(s) = self.cpg.clients[c].session.take() {
            self.history.cpg.sessions[s].ended = Some((self.now, why));
        }
        self.cpg.clients[c].self_delivered = 0;
    }

    fn reset_client(&mut self, c: usize) {
        let cl = &mut self.cpg.clients[c];
        if let Some(conn) = cl.conn.take() {
            self.cpg.by_conn.remove(&conn);
        }
        cl.state = State::Disconnected;
    }

    /// Node `i` crashed or exited: its clients die with it.
    pub fn cpg_node_down(&mut self, i: usize) {
        for c in 0..self.cpg.clients.len() {
            if self.cpg.clients[c].node == i {
                self.end_session(c, SessionEnd::NodeDown);
                self.reset_client(c);
            }
        }
    }

    /// The node asked to disconnect a client (backlog).
    pub(crate) fn cpg_kicked(&mut self, conn: ConnId) {
        let Some(&c) = self.cpg.by_conn.get(&conn) else { return };
        self.client_disconnect(c);
    }

    /// A reply or event for a client of node `i`.
    pub(crate) fn cpg_receive(&mut self, i: usize, m: ClientMessage, stamp: Option<Stamp>) {
        let Some(&c) = self.cpg.by_conn.get(&m.conn) else {
            return;
        };
        debug_assert_eq!(self.cpg.clients[c].node, i);
        let d = &m.data;
        let (Some(id), Some(err)) = (ne_u32(d, 0), ne_u32(d, 16)) else {
            self.fail("cpg client", format!("n{}: short client message", self.ids[i]));
            return;
        };
        let id = id as i32;
        let me = (self.ids[i], self.cpg.clients[c].pid);
        // Replies answer the one request in flight (a refusal's header carries id 0).
        let state = self.cpg.clients[c].state;
        match (m.kind, id) {
            (ClientMessageKind::Response, _) if state == State::JoinSent => {
                self.trace.line(self.now, Some(self.ids[i]), || {
                    format!("  client p{} join reply {err}", me.1)
                });
                if err == CsError::Ok as u32 {
                    let group = self.cpg.clients[c].group;
                    let s = self.history.cpg.sessions.len();
                    self.history.cpg.sessions.push(Session {
                        proc_: me,
                        inc: self.hosts[i].inc,
                        group,
                        started: self.now,
                        ended: None,
                        log: Vec::new(),
                        sent: Vec::new(),
                    });
                    let cl = &mut self.cpg.clients[c];
                    cl.session = Some(s);
                    cl.state = State::Joining;
                    cl.next_seq = 0;
                } else {
                    // TRY_AGAIN (synchronising, or our old leave pending), BUSY: later.
                    self.cpg.clients[c].state = State::Connected;
                }
            }
            (ClientMessageKind::Response, _) if state == State::LeaveSent => {
                self.trace.line(self.now, Some(self.ids[i]), || {
                    format!("  client p{} leave reply {err}", me.1)
                });
                self.cpg.clients[c].state = if err == CsError::Ok as u32 {
                    State::Leaving
                } else {
                    State::Joined
                };
            }
            (ClientMessageKind::Event, res::CONFCHG_CALLBACK) => {
                let Some((members, left, joined, reasons)) = parse_confchg(d) else {
                    self.fail("cpg client", format!("n{}: malformed CONFCHG_CALLBACK", self.ids[i]));
                    return;
                };
                let Some(s) = self.cpg.clients[c].session else { return };
                let v = View {
                    stamp,
                    members,
                    joined,
                    left,
                    reasons,
                };
                let v = if i == 0 {
                    match self.mutate_view(c, s, v) {
                        Some(v) => v,
                        None => return,
                    }
                } else {
                    v
                };
                let gone = v.left.contains(&me);
                if v.joined.contains(&me) && self.cpg.clients[c].state == State::Joining {
                    self.cpg.clients[c].state = State::Joined;
                }
                self.trace.line(self.now, Some(self.ids[i]), || {
                    format!(
                        "  client p{} view {:?} joined {:?} left {:?} ({:?})",
                        me.1, v.members, v.joined, v.left, v.stamp
                    )
                });
                self.history.cpg.sessions[s].log.push(CpgEntry::View(v));
                if gone {
                    self.end_session(c, SessionEnd::Left);
                    self.cpg.clients[c].state = State::Connected;
                }
            }
            (ClientMessageKind::Event, res::DELIVER_CALLBACK) => {
                let (Some(node), Some(pid), Some(len)) = (ne_u32(d, 168), ne_u32(d, 176), ne_u32(d, 160)) else {
                    self.fail("cpg client", format!("n{}: malformed DELIVER_CALLBACK", self.ids[i]));
                    return;
                };
                let data = d.get(184..184 + len as usize).unwrap_or(&[]);
                let msg = match decode(data) {
                    Some(msg) if msg.from == (node, pid) => msg,
                    _ => {
                        let detail = format!(
                            "n{}: a {len}-byte delivery from n{node}/p{pid} is not a payload that process sent",
                            self.ids[i]
                        );
                        self.fail("cpg client", detail);
                        return;
                    }
                };
                let Some(s) = self.cpg.clients[c].session else { return };
                if i == 0 && self.mutate_delivery(c, s, msg, stamp) {
                    return;
                }
                self.record_delivery(c, s, msg, stamp);
            }
            _ => {}
        }
    }

    pub(crate) fn record_delivery(&mut self, c: usize, s: SessIdx, msg: CpgMsg, stamp: Option<Stamp>) {
        if msg.from == self.history.cpg.sessions[s].proc_ {
            self.cpg.clients[c].self_delivered += 1;
        }
        self.history.cpg.sessions[s].log.push(CpgEntry::Deliver {
            at: self.now,
            msg,
            stamp,
        });
    }

    /// Liveness for the clients, once the totem ring converged: client actions stop,
    /// every joined client multicasts a probe, and within `bound` every client must
    /// be settled (joined, or out of any group), see one final view of exactly the
    /// joined clients of its group, and have every message it sent delivered back
    /// (which includes its probe) and every probe of its group delivered.
    pub fn cpg_liveness(&mut self, bound: Duration) {
        self.cpg.frozen = true;
        let start = self.now;
        let settled = |e: &Engine| {
            e.hosts
                .iter()
                .all(|h| !h.is_up() || h.totem.as_ref().is_some_and(|t| !t.sync_in_process()))
                && e.cpg
                    .clients
                    .iter()
                    .all(|c| matches!(c.state, State::Disconnected | State::Connected | State::Joined))
        };
        if !self.run_until(start + bound, settled) {
            if self.failure.is_none() {
                let detail = format!(
                    "clients not settled within {bound:?} of convergence: {}",
                    self.describe_clients()
                );
                self.fail("liveness: cpg", detail);
            }
            return;
        }
        let mut probes: Vec<(usize, CpgMsg)> = Vec::new();
        for c in 0..self.cpg.clients.len() {
            if self.cpg.clients[c].state != State::Joined {
                continue;
            }
            let (group, pid, seq) = {
                let cl = &self.cpg.clients[c];
                (cl.group, cl.pid, cl.next_seq)
            };
            let from = (self.client_node_id(c), pid);
            if self.client_mcast(c) {
                probes.push((group, CpgMsg { from, seq }));
            }
        }
        let start = self.now;
        let done = |e: &Engine| e.cpg_final_state(&probes).is_none();
        if !self.run_until(start + bound, done) && self.failure.is_none() {
            let why = self.cpg_final_state(&probes).unwrap_or_default();
            let detail = format!("{why}; after {bound:?}: {}", self.describe_clients());
            self.fail("liveness: cpg", detail);
        }
    }

    /// What is still missing for the final state, `None` once reached.
    fn cpg_final_state(&self, probes: &[(usize, CpgMsg)]) -> Option<String> {
        let h = &self.history.cpg;
        for c in &self.cpg.clients {
            if c.state != State::Joined {
                continue;
            }
            let s = c.session.expect("joined clients have a session");
            let sess = &h.sessions[s];
            let mut want: Vec<Proc> = self
                .cpg
                .clients
                .iter()
                .filter(|o| o.state == State::Joined && o.group == c.group)
                .map(|o| (self.ids[o.node], o.pid))
                .collect();
            want.sort_unstable();
            let mut have: Vec<Proc> = sess.last_view().map(|v| v.members.clone()).unwrap_or_default();
            have.sort_unstable();
            if have != want {
                return Some(format!("{} last view {have:?}, live members {want:?}", h.name(s)));
            }
            if c.self_delivered < sess.sent.len() {
                let n = sess.sent.len() - c.self_delivered;
                return Some(format!("{} has {n} of its own messages undelivered", h.name(s)));
            }
            let got: std::collections::HashSet<CpgMsg> = sess.delivered().collect();
            if let Some((_, p)) = probes.iter().find(|(g, p)| *g == c.group && !got.contains(p)) {
                return Some(format!("{} never delivered probe {p}", h.name(s)));
            }
        }
        None
    }

    fn describe_clients(&self) -> String {
        let mut s = String::new();
        for c in &self.cpg.clients {
            s += &format!(
                "\n    client n{}/p{} g{}: {:?}, {} own delivered of {}",
                self.ids[c.node],
                c.pid,
                c.group,
                c.state,
                c.self_delivered,
                c.session.map_or(0, |x| self.history.cpg.sessions[x].sent.len())
            );
        }
        s
    }
}

fn groups_name(g: usize) -> Vec<u8> {
    format!("sim.g{g}").into_bytes()
}

impl Clients {
    /// Group names, for the history.
    pub fn group_names(&self) -> Vec<Vec<u8>> {
        (0..self.profile.groups).map(groups_name).collect()
    }
}

//! CPG: closed process groups with agreed, virtually synchronous delivery (`cpg.h`).
//!
//! ```no_run
//! use client::cpg::{Cpg, CpgEvent, Guarantee};
//! use client::DispatchFlags;
//! # fn main() -> client::Result<()> {
//! let cpg = Cpg::initialize()?;
//! cpg.join("demo")?;
//! cpg.mcast_joined(Guarantee::Agreed, b"hello")?;
//! // Every member, the sender included, receives the message in the same order.
//! cpg.dispatch(DispatchFlags::One, |event| match event {
//!     CpgEvent::Deliver { nodeid, pid, data, .. } => println!("{nodeid}/{pid}: {data:?}"),
//!     CpgEvent::Confchg { members, .. } => println!("{} members", members.len()),
//!     CpgEvent::TotemConfchg { .. } => {}
//! })?;
//! # Ok(()) }
//! ```
//!
//! A sender that should not stop to dispatch shares the connection with a thread that
//! does, as with libcpg:
//!
//! ```no_run
//! use std::sync::Arc;
//! use client::cpg::{Cpg, Guarantee};
//! use client::{CsError, DispatchFlags};
//! # fn main() -> client::Result<()> {
//! let cpg = Arc::new(Cpg::initialize()?);
//! cpg.join("demo")?;
//! let receiver = Arc::clone(&cpg);
//! std::thread::spawn(move || receiver.dispatch(DispatchFlags::Blocking, |event| println!("{event:?}")));
//! for i in 0u32..1000 {
//!     while let Err(e) = cpg.mcast_joined(Guarantee::Agreed, &i.to_le_bytes()) {
//!         if e.cs_error() != CsError::TryAgain {
//!             return Err(e);
//!         }
//!         std::thread::sleep(std::time::Duration::from_millis(1));
//!     }
//! }
//! # Ok(()) }
//! ```

use std::collections::HashMap;
use std::sync::Mutex;

use services::cpg::messages::{
    encode, req, res, IterationType, Reason, ADDRESS_SIZE, FLAG_DELIVER_INITIAL_TOTEM_CONF, PROCESSOR_COUNT_MAX,
};
use services::wire::{Reader, Writer, CPG_NAME_MAX, RESPONSE_HEADER};
use services::WireError;
use totem::{NodeId, RingId};

pub use services::cpg::messages::Address;

use crate::conn::{event_id, service_fd, Conn, DispatchFlags};
use crate::error::{Error, Result};
use crate::options::Options;

/// Delivery guarantee of a message (`cpg_guarantee_t`); every CPG message is agreed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guarantee {
    Unordered = 0,
    Fifo = 1,
    Agreed = 2,
    Safe = 3,
}

/// A process in a group, as iteration reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    pub group: Vec<u8>,
    pub nodeid: NodeId,
    pub pid: u32,
}

/// An event of a CPG connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CpgEvent {
    /// A message multicast to a group this connection joined (`cpg_deliver_fn_t`).
    Deliver {
        group: Vec<u8>,
        nodeid: NodeId,
        pid: u32,
        data: Vec<u8>,
    },
    /// The group's membership changed (`cpg_confchg_fn_t`).
    Confchg {
        group: Vec<u8>,
        members: Vec<Address>,
        left: Vec<Address>,
        joined: Vec<Address>,
    },
    /// The ring's membership changed (`cpg_totem_confchg_fn_t`; with
    /// [`Cpg::initialize_model`]`(true)` also once after the join).
    TotemConfchg { ring_id: RingId, members: Vec<NodeId> },
}

/// `LIBCPG_PARTIAL_*` fragment kinds.
const PARTIAL_FIRST: u32 = 1;
const PARTIAL_CONTINUED: u32 = 2;
const PARTIAL_LAST: u32 = 3;
/// Room libcpg keeps free below the IPC maximum before it fragments a message.
const FRAGMENT_MARGIN: usize = 1024;
/// `req_lib_cpg_partial_mcast` without the data.
const PARTIAL_MCAST_HEADER: usize = 56;
/// `req_lib_cpg_mcast` without the data.
const MCAST_HEADER: usize = 40;

/// A CPG connection (`cpg_handle_t`). `Sync`: one thread may dispatch while others call.
#[derive(Debug)]
pub struct Cpg {
    conn: Conn,
    pid: u32,
    /// `CPG_MODEL_V1` flags sent with every join.
    join_flags: u32,
    /// Messages arriving in fragments, by group and sender; held by the dispatching thread.
    assembling: Mutex<Assembling>,
    /// Held while one message goes out in fragments: receivers assemble per sender, so
    /// two threads' fragments must not interleave.
    fragmenting: Mutex<()>,
}

/// Fragments collected so far, by group, sender node and sender pid.
type Assembling = HashMap<(Vec<u8>, NodeId, u32), Vec<u8>>;

service_fd!(Cpg);

fn check_group(group: &[u8]) -> Result<&[u8]> {
    if group.is_empty() || group.len() > CPG_NAME_MAX {
        return Err(Error::InvalidArgument(format!(
            "group name of {} bytes (1 to {CPG_NAME_MAX})",
            group.len()
        )));
    }
    Ok(group)
}

impl Cpg {
    /// Connects (`cpg_initialize`).
    pub fn initialize() -> Result<Cpg> {
        Self::initialize_with(&Options::default())
    }

    /// Connects with explicit options.
    pub fn initialize_with(options: &Options) -> Result<Cpg> {
        Ok(Cpg {
            conn: Conn::open("cpg", options)?,
            pid: std::process::id(),
            join_flags: 0,
            assembling: Mutex::new(HashMap::new()),
            fragmenting: Mutex::new(()),
        })
    }

    /// `cpg_model_initialize` with `CPG_MODEL_V1`: with `initial_totem_conf`
    /// (`CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF`), every join is followed at once by a
    /// [`CpgEvent::TotemConfchg`] with the current ring.
    pub fn initialize_model(initial_totem_conf: bool, options: &Options) -> Result<Cpg> {
        let mut cpg = Self::initialize_with(options)?;
        if initial_totem_conf {
            cpg.join_flags = FLAG_DELIVER_INITIAL_TOTEM_CONF;
        }
        Ok(cpg)
    }

    /// The pid this connection joins with (the process's own, as libcpg sends).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Uses another pid in joins and leaves (several members in one process, as tests do).
    pub fn set_pid(&mut self, pid: u32) {
        self.pid = pid;
    }

    /// The local node id (`cpg_local_get`).
    pub fn local_get(&self) -> Result<NodeId> {
        let msg = Writer::request(req::LOCAL_GET, 16).finish();
        let reply = self.conn.call(&msg, res::LOCAL_GET, 32)?;
        Reader::new(&reply).u32(24).map_err(|e| self.conn.reply_err(e))
    }

    /// Joins `group` (`cpg_join`). `CS_ERR_TRY_AGAIN` while a previous leave is in progress.
    pub fn join(&self, group: impl AsRef<[u8]>) -> Result<()> {
        let msg = encode::join(check_group(group.as_ref())?, self.pid, self.join_flags);
        self.conn.call(&msg, res::JOIN, RESPONSE_HEADER)?;
        Ok(())
    }

    /// Leaves `group` (`cpg_leave`).
    pub fn leave(&self, group: impl AsRef<[u8]>) -> Result<()> {
        let msg = encode::leave(check_group(group.as_ref())?, self.pid);
        self.conn.call(&msg, res::LEAVE, RESPONSE_HEADER)?;
        Ok(())
    }

    /// The largest message sent in one piece (`cpg_max_atomic_msgsize_get`); longer ones
    /// go in fragments, reassembled by the receivers.
    pub fn max_atomic_msgsize_get(&self) -> usize {
        self.conn.max_msg_size() - MCAST_HEADER - FRAGMENT_MARGIN
    }

    /// Whether the daemon asks senders to hold back (`cpg_flow_control_state_get`).
    pub fn flow_control_state_get(&self) -> bool {
        self.conn.flow_control_enabled()
    }

    /// Multicasts `data` to the joined group (`cpg_mcast_joined`). Fails with
    /// `CS_ERR_TRY_AGAIN` under flow control: call [`Cpg::dispatch`] and retry.
    pub fn mcast_joined(&self, guarantee: Guarantee, data: &[u8]) -> Result<()> {
        if data.len() > self.max_atomic_msgsize_get() {
            return self.mcast_fragments(guarantee, data);
        }
        let mut msg = encode::mcast(data);
        msg[24..28].copy_from_slice(&(guarantee as u32).to_ne_bytes());
        self.conn.send(&msg)
    }

    /// libcpg's `send_fragments`: PARTIAL_MCAST requests, each answered.
    fn mcast_fragments(&self, guarantee: Guarantee, data: &[u8]) -> Result<()> {
        let total = u32::try_from(data.len())
            .map_err(|_| Error::InvalidArgument(format!("message of {} bytes", data.len())))?;
        let chunk = self.conn.max_msg_size() - PARTIAL_MCAST_HEADER - FRAGMENT_MARGIN;
        let _one_at_a_time = crate::lock(&self.fragmenting);
        let pieces: Vec<&[u8]> = data.chunks(chunk).collect();
        for (i, piece) in pieces.iter().enumerate() {
            let kind = match i {
                0 => PARTIAL_FIRST,
                _ if i + 1 == pieces.len() => PARTIAL_LAST,
                _ => PARTIAL_CONTINUED,
            };
            let mut w = Writer::request_with_room(req::PARTIAL_MCAST, PARTIAL_MCAST_HEADER, piece.len());
            w.u32(24, guarantee as u32)
                .u32(32, total)
                .u32(40, piece.len() as u32)
                .u32(48, kind)
                .extend(piece);
            self.conn.call(&w.finish(), res::PARTIAL_SEND, RESPONSE_HEADER)?;
        }
        Ok(())
    }

    /// The processes in `group` (`cpg_membership_get`).
    pub fn membership_get(&self, group: impl AsRef<[u8]>) -> Result<Vec<Address>> {
        let mut w = Writer::request(req::MEMBERSHIP, 152);
        w.cpg_name(16, check_group(group.as_ref())?);
        let reply = self
            .conn
            .call(&w.finish(), res::MEMBERSHIP, 32 + ADDRESS_SIZE * PROCESSOR_COUNT_MAX)?;
        let r = Reader::new(&reply);
        let parse = || -> std::result::Result<Vec<Address>, WireError> {
            let n = r.u32(24)? as usize;
            if n > PROCESSOR_COUNT_MAX {
                return Err(WireError::Value("member count"));
            }
            (0..n).map(|i| address(&r, 32 + i * ADDRESS_SIZE)).collect()
        };
        parse().map_err(|e| self.conn.reply_err(e))
    }

    /// Every group and its members (`cpg_iteration_*` with `CPG_ITERATION_ALL`), or one
    /// group's members with `Some(group)`.
    pub fn iterate(&self, group: Option<&[u8]>) -> Result<Vec<GroupMember>> {
        let mut w = Writer::request(req::ITERATION_INITIALIZE, 160);
        match group {
            Some(g) => {
                w.cpg_name(16, check_group(g)?).u32(152, IterationType::OneGroup as u32);
            }
            None => {
                w.u32(152, IterationType::All as u32);
            }
        }
        let reply = self.conn.call(&w.finish(), res::ITERATION_INITIALIZE, 32)?;
        let handle = Reader::new(&reply).u64(24).map_err(|e| self.conn.reply_err(e))?;
        self.conn.iterate(
            handle,
            (req::ITERATION_NEXT, res::ITERATION_NEXT, 168),
            (req::ITERATION_FINALIZE, res::ITERATION_FINALIZE),
            |r| {
                Ok(GroupMember {
                    group: r.cpg_name(24)?.to_vec(),
                    nodeid: r.u32(160)?,
                    pid: r.u32(164)?,
                })
            },
        )
    }

    /// Handles events as `flags` says (`cpg_dispatch`); returns how many were handled
    /// (fragments of a message not yet complete count, but are not passed on).
    ///
    /// Another thread may multicast meanwhile (share the `Cpg` in an `Arc`); a second
    /// dispatching thread waits for the first. The handler must not dispatch on this `Cpg`.
    pub fn dispatch(&self, flags: DispatchFlags, mut f: impl FnMut(CpgEvent)) -> Result<usize> {
        let mut assembling = crate::lock(&self.assembling);
        self.conn.dispatch(flags, |conn, event| {
            if let Some(ev) = decode_event(event, &mut assembling).map_err(|e| conn.reply_err(e))? {
                f(ev);
            }
            Ok(())
        })
    }

    /// Says goodbye (`cpg_finalize`): the daemon removes this connection's memberships.
    pub fn finalize(self) -> Result<()> {
        let msg = Writer::request(req::FINALIZE, 16).finish();
        self.conn.call(&msg, res::FINALIZE, RESPONSE_HEADER)?;
        Ok(())
    }
}

fn address(r: &Reader<'_>, at: usize) -> std::result::Result<Address, WireError> {
    Ok(Address {
        nodeid: r.u32(at)?,
        pid: r.u32(at + 8)?,
        reason: Reason::from_raw(r.u32(at + 16)?),
    })
}

/// Decodes an event; fragments are collected in `assembling` until the last one. A
/// delivered message keeps the event's buffer (its header cut off), not a copy.
fn decode_event(event: Vec<u8>, assembling: &mut Assembling) -> std::result::Result<Option<CpgEvent>, WireError> {
    let r = Reader::new(&event);
    Ok(match event_id(&event) {
        Some(res::DELIVER_CALLBACK) => {
            let len = r.u32(160)? as usize;
            r.bytes(184, len)?;
            let (group, nodeid, pid) = (r.cpg_name(24)?.to_vec(), r.u32(168)?, r.u32(176)?);
            let mut data = event;
            data.truncate(184 + len);
            data.drain(..184);
            Some(CpgEvent::Deliver {
                group,
                nodeid,
                pid,
                data,
            })
        }
        Some(res::PARTIAL_DELIVER_CALLBACK) => {
            let group = r.cpg_name(24)?.to_vec();
            let msglen = r.u32(160)? as usize;
            let fraglen = r.u32(168)? as usize;
            let (nodeid, pid, kind) = (r.u32(176)?, r.u32(184)?, r.u32(192)?);
            let data = r.bytes(200, fraglen)?;
            let key = (group, nodeid, pid);
            if kind == PARTIAL_FIRST {
                // A first fragment restarts the sender's message (an interrupted one is lost).
                assembling.insert(key.clone(), Vec::with_capacity(msglen.min(1 << 26)));
            }
            let Some(buf) = assembling.get_mut(&key) else {
                return Ok(None);
            };
            buf.extend_from_slice(data);
            if buf.len() > msglen {
                assembling.remove(&key);
                return Err(WireError::Length(msglen as u64));
            }
            if kind != PARTIAL_LAST {
                return Ok(None);
            }
            let data = assembling.remove(&key).unwrap_or_default();
            if data.len() != msglen {
                return Err(WireError::Length(msglen as u64));
            }
            let (group, nodeid, pid) = key;
            Some(CpgEvent::Deliver {
                group,
                nodeid,
                pid,
                data,
            })
        }
        Some(res::CONFCHG_CALLBACK) => {
            let members = r.u32(160)? as usize;
            let joined = r.u32(168)? as usize;
            let left = r.u32(176)? as usize;
            if members + joined + left > 3 * PROCESSOR_COUNT_MAX {
                return Err(WireError::Value("confchg entry count"));
            }
            let list = |from: usize, n: usize| {
                (from..from + n)
                    .map(|i| address(&r, 184 + i * ADDRESS_SIZE))
                    .collect::<std::result::Result<Vec<_>, _>>()
            };
            Some(CpgEvent::Confchg {
                group: r.cpg_name(24)?.to_vec(),
                members: list(0, members)?,
                left: list(members, left)?,
                joined: list(members + left, joined)?,
            })
        }
        Some(res::TOTEM_CONFCHG_CALLBACK) => {
            let n = r.u32(40)? as usize;
            if n > PROCESSOR_COUNT_MAX {
                return Err(WireError::Value("member count"));
            }
            Some(CpgEvent::TotemConfchg {
                ring_id: RingId {
                    rep: r.u32(24)?,
                    seq: r.u64(32)?,
                },
                members: (0..n)
                    .map(|i| r.u32(44 + 4 * i))
                    .collect::<std::result::Result<_, _>>()?,
            })
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use services::cpg::messages::{self as m, Request};

    fn addr(nodeid: u32, pid: u32, reason: Reason) -> Address {
        Address { nodeid, pid, reason }
    }

    /// libcpg handles are used from several threads (a dispatch thread beside senders);
    /// so are ours, and every other service's.
    #[test]
    fn connections_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Cpg>();
        shared::<crate::cmap::Cmap>();
        shared::<crate::quorum::Quorum>();
        shared::<crate::votequorum::Votequorum>();
        shared::<crate::cfg::Cfg>();
    }

    #[test]
    fn events_decode_what_the_daemon_sends() {
        let mut asm = HashMap::new();
        let ev = m::deliver(b"g", 2, 77, b"payload");
        assert_eq!(
            decode_event(ev.clone(), &mut asm).unwrap(),
            Some(CpgEvent::Deliver {
                group: b"g".to_vec(),
                nodeid: 2,
                pid: 77,
                data: b"payload".to_vec()
            })
        );
        let members = [addr(1, 10, Reason::Join), addr(2, 20, Reason::Join)];
        let left = [addr(3, 30, Reason::NodeDown)];
        let joined = [addr(2, 20, Reason::Join)];
        let ev = m::confchg(b"g", &members, &left, &joined);
        assert_eq!(
            decode_event(ev.clone(), &mut asm).unwrap(),
            Some(CpgEvent::Confchg {
                group: b"g".to_vec(),
                members: members.to_vec(),
                left: left.to_vec(),
                joined: joined.to_vec()
            })
        );
        let ev = m::totem_confchg(RingId { rep: 1, seq: 9 }, &[1, 2, 3]);
        assert_eq!(
            decode_event(ev.clone(), &mut asm).unwrap(),
            Some(CpgEvent::TotemConfchg {
                ring_id: RingId { rep: 1, seq: 9 },
                members: vec![1, 2, 3]
            })
        );
        assert!(decode_event(ev[..30].to_vec(), &mut asm).is_err());
    }

    #[test]
    fn fragments_are_reassembled_per_sender() {
        let mut asm = HashMap::new();
        let a = m::partial_deliver(b"g", 6, 1, 5, PARTIAL_FIRST, b"ab");
        let other = m::partial_deliver(b"g", 2, 2, 5, PARTIAL_FIRST, b"xy");
        let b = m::partial_deliver(b"g", 6, 1, 5, PARTIAL_CONTINUED, b"cd");
        let c = m::partial_deliver(b"g", 6, 1, 5, PARTIAL_LAST, b"ef");
        assert_eq!(decode_event(a.clone(), &mut asm).unwrap(), None);
        assert_eq!(decode_event(other.clone(), &mut asm).unwrap(), None);
        assert_eq!(decode_event(b.clone(), &mut asm).unwrap(), None);
        assert_eq!(
            decode_event(c.clone(), &mut asm).unwrap(),
            Some(CpgEvent::Deliver {
                group: b"g".to_vec(),
                nodeid: 1,
                pid: 5,
                data: b"abcdef".to_vec()
            })
        );
        // A fragment whose start was never seen is dropped; overflow is an error.
        assert_eq!(decode_event(c.clone(), &mut asm).unwrap(), None);
        let big = m::partial_deliver(b"g", 1, 3, 5, PARTIAL_FIRST, b"toolong");
        assert!(decode_event(big.clone(), &mut asm).is_err());
    }

    #[test]
    fn partial_mcast_requests_decode_as_the_daemon_reads_them() {
        let mut w = Writer::request(req::PARTIAL_MCAST, PARTIAL_MCAST_HEADER);
        w.u32(24, Guarantee::Agreed as u32)
            .u32(32, 10)
            .u32(40, 3)
            .u32(48, PARTIAL_FIRST)
            .extend(b"abc");
        assert_eq!(
            Request::decode(req::PARTIAL_MCAST, &w.finish()).unwrap(),
            Request::PartialMcast {
                msglen: 10,
                kind: PARTIAL_FIRST,
                data: b"abc"
            }
        );
    }

    #[test]
    fn group_names_are_checked_before_sending() {
        assert!(check_group(b"").is_err());
        assert!(check_group(&[b'x'; 129]).is_err());
        assert!(check_group(&[b'x'; 128]).is_ok());
    }
}

//! CPG message layouts (corosync 3.1.7 `include/corosync/ipc_cpg.h`, `exec/cpg.c`).

use std::borrow::Cow;

use totem::{NodeId, RingId};

use crate::error::WireError;
use crate::ids::ServiceId;
use crate::wire::{Reader, Writer, CPG_NAME, CPG_NAME_MAX, RESPONSE_HEADER};
use crate::CsError;

/// Largest number of members in replies (`PROCESSOR_COUNT_MAX`).
pub const PROCESSOR_COUNT_MAX: usize = 384;
/// `mar_cpg_address_t`: three 8-aligned u32.
pub const ADDRESS_SIZE: usize = 24;

/// Library request ids.
pub mod req {
    pub const JOIN: i32 = 0;
    pub const LEAVE: i32 = 1;
    pub const MCAST: i32 = 2;
    pub const MEMBERSHIP: i32 = 3;
    pub const LOCAL_GET: i32 = 4;
    pub const ITERATION_INITIALIZE: i32 = 5;
    pub const ITERATION_NEXT: i32 = 6;
    pub const ITERATION_FINALIZE: i32 = 7;
    pub const FINALIZE: i32 = 8;
    pub const ZC_ALLOC: i32 = 9;
    pub const ZC_FREE: i32 = 10;
    pub const ZC_EXECUTE: i32 = 11;
    pub const PARTIAL_MCAST: i32 = 12;
}

/// Library response and event ids.
pub mod res {
    pub const JOIN: i32 = 0;
    pub const LEAVE: i32 = 1;
    pub const MEMBERSHIP: i32 = 3;
    pub const CONFCHG_CALLBACK: i32 = 4;
    pub const DELIVER_CALLBACK: i32 = 5;
    pub const LOCAL_GET: i32 = 7;
    pub const ITERATION_INITIALIZE: i32 = 9;
    pub const ITERATION_NEXT: i32 = 10;
    pub const ITERATION_FINALIZE: i32 = 11;
    pub const FINALIZE: i32 = 12;
    pub const TOTEM_CONFCHG_CALLBACK: i32 = 13;
    pub const PARTIAL_DELIVER_CALLBACK: i32 = 17;
    pub const PARTIAL_SEND: i32 = 18;
}

/// Exec message functions (service 2).
pub mod exec {
    pub const PROCJOIN: u16 = 0;
    pub const PROCLEAVE: u16 = 1;
    pub const JOINLIST: u16 = 2;
    pub const MCAST: u16 = 3;
    pub const DOWNLIST_OLD: u16 = 4;
    pub const DOWNLIST: u16 = 5;
    pub const PARTIAL_MCAST: u16 = 6;
}

/// Why a process appears in a configuration change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Reason {
    Undefined = 0,
    Join = 1,
    Leave = 2,
    NodeDown = 3,
    NodeUp = 4,
    ProcDown = 5,
}

impl Reason {
    pub fn from_raw(v: u32) -> Reason {
        match v {
            1 => Reason::Join,
            2 => Reason::Leave,
            3 => Reason::NodeDown,
            4 => Reason::NodeUp,
            5 => Reason::ProcDown,
            _ => Reason::Undefined,
        }
    }
}

/// `mar_cpg_address_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address {
    pub nodeid: NodeId,
    pub pid: u32,
    pub reason: Reason,
}

/// CPG_ITERATION_* of ITERATIONINITIALIZE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IterationType {
    NameOnly = 1,
    OneGroup = 2,
    All = 3,
}

/// `CPG_MODEL_V1_DELIVER_INITIAL_TOTEM_CONF`.
pub const FLAG_DELIVER_INITIAL_TOTEM_CONF: u32 = 1;

fn check_name(name: &[u8]) -> Result<(), WireError> {
    if name.len() > CPG_NAME_MAX {
        return Err(WireError::NameTooLong(name.len()));
    }
    Ok(())
}

/// An exec message of the CPG service. Decoded multicasts borrow their group and data
/// from the delivered message (no copy per message and member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecMessage<'a> {
    ProcJoin {
        group: Vec<u8>,
        pid: u32,
        reason: Reason,
    },
    ProcLeave {
        group: Vec<u8>,
        pid: u32,
        reason: Reason,
    },
    /// `(pid, group)` of every local member of the sender.
    JoinList(Vec<(u32, Vec<u8>)>),
    Mcast {
        group: Cow<'a, [u8]>,
        pid: u32,
        source: u64,
        data: Cow<'a, [u8]>,
    },
    DownList {
        old_members: u32,
        left: Vec<NodeId>,
    },
    DownListOld,
    PartialMcast {
        group: Cow<'a, [u8]>,
        msglen: u32,
        pid: u32,
        kind: u32,
        source: u64,
        data: Cow<'a, [u8]>,
    },
}

/// `req_exec_cpg_procjoin`: group @16, pid @152, reason @160.
const PROCJOIN_SIZE: usize = 168;
/// `req_exec_cpg_mcast` up to the data.
const MCAST_HEADER: usize = 184;
/// `req_exec_cpg_partial_mcast` up to the data.
const PARTIAL_MCAST_HEADER: usize = 200;
/// `req_exec_cpg_downlist`: always 384 node ids.
const DOWNLIST_SIZE: usize = 32 + 4 * PROCESSOR_COUNT_MAX;
/// A joinlist entry: `{u32 pid; mar_cpg_name_t name}` with the name at 8.
const JOINLIST_ENTRY: usize = 8 + CPG_NAME;

impl<'a> ExecMessage<'a> {
    pub fn encode(&self, own: NodeId) -> Vec<u8> {
        self.encode_in(Vec::new(), own)
    }

    /// [`ExecMessage::encode`]; the multicasts are written in `buf` (its allocation reused).
    pub fn encode_in(&self, buf: Vec<u8>, own: NodeId) -> Vec<u8> {
        let id = |f| ServiceId::Cpg.exec_id(f);
        match self {
            ExecMessage::ProcJoin { group, pid, reason } | ExecMessage::ProcLeave { group, pid, reason } => {
                let f = if matches!(self, ExecMessage::ProcJoin { .. }) {
                    exec::PROCJOIN
                } else {
                    exec::PROCLEAVE
                };
                let mut w = Writer::request(id(f), PROCJOIN_SIZE);
                w.cpg_name(16, group).u32(152, *pid).u32(160, *reason as u32);
                w.finish()
            }
            ExecMessage::JoinList(entries) => {
                // Begins with a 24-byte *response* header, as cpg.c sends it.
                let mut w = Writer::request(id(exec::JOINLIST), RESPONSE_HEADER + JOINLIST_ENTRY * entries.len());
                for (i, (pid, group)) in entries.iter().enumerate() {
                    let at = RESPONSE_HEADER + JOINLIST_ENTRY * i;
                    w.u32(at, *pid).cpg_name(at + 8, group);
                }
                w.finish()
            }
            ExecMessage::Mcast {
                group,
                pid,
                source,
                data,
            } => {
                let mut w = Writer::request_in(buf, id(exec::MCAST), MCAST_HEADER, data.len());
                w.cpg_name(16, group)
                    .u32(152, data.len() as u32)
                    .u32(160, *pid)
                    .u32(168, own)
                    .u64(176, *source)
                    .extend(data);
                w.finish()
            }
            ExecMessage::DownList { old_members, left } => {
                let mut w = Writer::request(id(exec::DOWNLIST), DOWNLIST_SIZE);
                w.u32(16, *old_members).u32(24, left.len() as u32);
                for (i, n) in left.iter().take(PROCESSOR_COUNT_MAX).enumerate() {
                    w.u32(32 + 4 * i, *n);
                }
                w.finish()
            }
            ExecMessage::DownListOld => Writer::request(id(exec::DOWNLIST_OLD), 24 + 4 * PROCESSOR_COUNT_MAX).finish(),
            ExecMessage::PartialMcast {
                group,
                msglen,
                pid,
                kind,
                source,
                data,
            } => {
                let mut w = Writer::request_in(buf, id(exec::PARTIAL_MCAST), PARTIAL_MCAST_HEADER, data.len());
                w.cpg_name(16, group)
                    .u32(152, *msglen)
                    .u32(160, data.len() as u32)
                    .u32(168, *pid)
                    .u32(176, *kind)
                    .u32(184, own)
                    .u64(192, *source)
                    .extend(data);
                w.finish()
            }
        }
    }

    /// Decodes exec function `f` (the header was checked by the caller).
    pub fn decode(f: u16, msg: &'a [u8], swap: bool) -> Result<ExecMessage<'a>, WireError> {
        let r = Reader::with_swap(msg, swap);
        Ok(match f {
            exec::PROCJOIN | exec::PROCLEAVE => {
                r.need(PROCJOIN_SIZE)?;
                let group = r.cpg_name(16)?.to_vec();
                let pid = r.u32(152)?;
                let reason = Reason::from_raw(r.u32(160)?);
                if f == exec::PROCJOIN {
                    ExecMessage::ProcJoin { group, pid, reason }
                } else {
                    ExecMessage::ProcLeave { group, pid, reason }
                }
            }
            exec::JOINLIST => {
                let body = r.rest(RESPONSE_HEADER)?;
                if body.len() % JOINLIST_ENTRY != 0 {
                    return Err(WireError::Length(body.len() as u64));
                }
                let mut entries = Vec::with_capacity(body.len() / JOINLIST_ENTRY);
                for i in 0..body.len() / JOINLIST_ENTRY {
                    let at = RESPONSE_HEADER + JOINLIST_ENTRY * i;
                    entries.push((r.u32(at)?, r.cpg_name(at + 8)?.to_vec()));
                }
                ExecMessage::JoinList(entries)
            }
            exec::MCAST => {
                r.need(MCAST_HEADER)?;
                let len = r.u32(152)? as usize;
                if len != msg.len() - MCAST_HEADER {
                    return Err(WireError::Length(len as u64));
                }
                ExecMessage::Mcast {
                    group: Cow::Borrowed(r.cpg_name(16)?),
                    pid: r.u32(160)?,
                    source: r.u64(176)?,
                    data: Cow::Borrowed(r.bytes(MCAST_HEADER, len)?),
                }
            }
            exec::DOWNLIST => {
                r.need(DOWNLIST_SIZE)?;
                let n = r.u32(24)? as usize;
                if n > PROCESSOR_COUNT_MAX {
                    return Err(WireError::Length(n as u64));
                }
                ExecMessage::DownList {
                    old_members: r.u32(16)?,
                    left: (0..n).map(|i| r.u32(32 + 4 * i)).collect::<Result<_, _>>()?,
                }
            }
            exec::DOWNLIST_OLD => ExecMessage::DownListOld,
            exec::PARTIAL_MCAST => {
                r.need(PARTIAL_MCAST_HEADER)?;
                let fraglen = r.u32(160)? as usize;
                if fraglen != msg.len() - PARTIAL_MCAST_HEADER {
                    return Err(WireError::Length(fraglen as u64));
                }
                ExecMessage::PartialMcast {
                    group: Cow::Borrowed(r.cpg_name(16)?),
                    msglen: r.u32(152)?,
                    pid: r.u32(168)?,
                    kind: r.u32(176)?,
                    source: r.u64(192)?,
                    data: Cow::Borrowed(r.bytes(PARTIAL_MCAST_HEADER, fraglen)?),
                }
            }
            other => return Err(WireError::UnknownId(ServiceId::Cpg.exec_id(other))),
        })
    }
}

/// A library request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request<'a> {
    Join {
        group: Vec<u8>,
        pid: u32,
        flags: u32,
    },
    Leave {
        group: Vec<u8>,
        pid: u32,
    },
    Mcast {
        data: &'a [u8],
    },
    Membership {
        group: Vec<u8>,
    },
    LocalGet,
    IterationInitialize {
        group: Vec<u8>,
        kind: IterationType,
    },
    IterationNext {
        handle: u64,
    },
    IterationFinalize {
        handle: u64,
    },
    Finalize,
    PartialMcast {
        msglen: u32,
        kind: u32,
        data: &'a [u8],
    },
    /// Zero-copy calls (9–11): not supported, answered with an error.
    ZeroCopy(i32),
}

impl<'a> Request<'a> {
    pub fn decode(id: i32, msg: &'a [u8]) -> Result<Request<'a>, WireError> {
        let r = Reader::new(msg);
        Ok(match id {
            req::JOIN => {
                r.need(168)?;
                Request::Join {
                    group: r.cpg_name(16)?.to_vec(),
                    pid: r.u32(152)?,
                    flags: r.u32(160)?,
                }
            }
            req::LEAVE => {
                r.need(160)?;
                Request::Leave {
                    group: r.cpg_name(16)?.to_vec(),
                    pid: r.u32(152)?,
                }
            }
            req::MCAST => {
                r.need(40)?;
                let len = r.u32(32)? as usize;
                if len != msg.len() - 40 {
                    return Err(WireError::Length(len as u64));
                }
                Request::Mcast {
                    data: r.bytes(40, len)?,
                }
            }
            req::MEMBERSHIP => {
                r.need(152)?;
                Request::Membership {
                    group: r.cpg_name(16)?.to_vec(),
                }
            }
            req::LOCAL_GET => Request::LocalGet,
            req::ITERATION_INITIALIZE => {
                r.need(160)?;
                let kind = match r.u32(152)? {
                    1 => IterationType::NameOnly,
                    2 => IterationType::OneGroup,
                    3 => IterationType::All,
                    _ => return Err(WireError::Value("iteration type")),
                };
                let group = if kind == IterationType::OneGroup {
                    r.cpg_name(16)?.to_vec()
                } else {
                    Vec::new()
                };
                Request::IterationInitialize { group, kind }
            }
            req::ITERATION_NEXT => Request::IterationNext { handle: r.u64(16)? },
            req::ITERATION_FINALIZE => Request::IterationFinalize { handle: r.u64(16)? },
            req::FINALIZE => Request::Finalize,
            req::PARTIAL_MCAST => {
                r.need(56)?;
                let fraglen = r.u32(40)? as usize;
                if fraglen != msg.len() - 56 {
                    return Err(WireError::Length(fraglen as u64));
                }
                Request::PartialMcast {
                    msglen: r.u32(32)?,
                    kind: r.u32(48)?,
                    data: r.bytes(56, fraglen)?,
                }
            }
            req::ZC_ALLOC | req::ZC_FREE | req::ZC_EXECUTE => Request::ZeroCopy(id),
            other => return Err(WireError::UnknownId(other)),
        })
    }
}

/// Request encoders: what libcpg sends (the inverse of [`Request::decode`]), for
/// simulated and test clients.
pub mod encode {
    use super::req;
    use crate::wire::Writer;

    /// `req_lib_cpg_join`: group @16, pid @152, flags @160.
    pub fn join(group: &[u8], pid: u32, flags: u32) -> Vec<u8> {
        let mut w = Writer::request(req::JOIN, 168);
        w.cpg_name(16, group).u32(152, pid).u32(160, flags);
        w.finish()
    }

    /// `req_lib_cpg_leave`: group @16, pid @152.
    pub fn leave(group: &[u8], pid: u32) -> Vec<u8> {
        let mut w = Writer::request(req::LEAVE, 160);
        w.cpg_name(16, group).u32(152, pid);
        w.finish()
    }

    /// `req_lib_cpg_mcast`: guarantee @16, msglen @32, data @40.
    pub fn mcast(data: &[u8]) -> Vec<u8> {
        let mut w = Writer::request_with_room(req::MCAST, 40, data.len());
        w.u32(32, data.len() as u32).extend(data);
        w.finish()
    }
}

/// A plain response header of `size` bytes.
pub fn status(id: i32, error: CsError) -> Vec<u8> {
    Writer::response(id, RESPONSE_HEADER, error).finish()
}

pub fn local_get(node: NodeId) -> Vec<u8> {
    let mut w = Writer::response(res::LOCAL_GET, 32, CsError::Ok);
    w.u32(24, node);
    w.finish()
}

/// MEMBERSHIP reply: always the full 9248-byte struct.
pub fn membership(members: &[(NodeId, u32)]) -> Vec<u8> {
    let mut w = Writer::response(res::MEMBERSHIP, 32 + ADDRESS_SIZE * PROCESSOR_COUNT_MAX, CsError::Ok);
    let n = members.len().min(PROCESSOR_COUNT_MAX);
    w.u32(24, n as u32);
    for (i, (node, pid)) in members.iter().take(n).enumerate() {
        w.u32(32 + ADDRESS_SIZE * i, *node).u32(40 + ADDRESS_SIZE * i, *pid);
    }
    w.finish()
}

pub fn iteration_initialize(handle: u64, error: CsError) -> Vec<u8> {
    let mut w = Writer::response(res::ITERATION_INITIALIZE, 32, error);
    w.u64(24, handle);
    w.finish()
}

/// ITERATIONNEXT reply: `{group @24; nodeid @160; pid @164}`.
pub fn iteration_next(item: Option<(&[u8], NodeId, u32)>, error: CsError) -> Vec<u8> {
    let mut w = Writer::response(res::ITERATION_NEXT, 168, error);
    if let Some((group, node, pid)) = item {
        w.cpg_name(24, group).u32(160, node).u32(164, pid);
    }
    w.finish()
}

/// CONFCHG_CALLBACK: members, then left, then joined.
pub fn confchg(group: &[u8], members: &[Address], left: &[Address], joined: &[Address]) -> Vec<u8> {
    let mut w = Writer::response(res::CONFCHG_CALLBACK, 184, CsError::Ok);
    w.cpg_name(24, group)
        .u32(160, members.len() as u32)
        .u32(168, joined.len() as u32)
        .u32(176, left.len() as u32);
    for a in members.iter().chain(left).chain(joined) {
        let mut e = [0u8; ADDRESS_SIZE];
        e[0..4].copy_from_slice(&a.nodeid.to_ne_bytes());
        e[8..12].copy_from_slice(&a.pid.to_ne_bytes());
        e[16..20].copy_from_slice(&(a.reason as u32).to_ne_bytes());
        w.extend(&e);
    }
    w.finish()
}

/// DELIVER_CALLBACK: group @24, msglen @160, nodeid @168, pid @176, data @184.
pub fn deliver(group: &[u8], node: NodeId, pid: u32, data: &[u8]) -> Vec<u8> {
    deliver_in(Vec::new(), group, node, pid, data)
}

/// [`deliver`] written in `buf` (its allocation reused).
pub fn deliver_in(buf: Vec<u8>, group: &[u8], node: NodeId, pid: u32, data: &[u8]) -> Vec<u8> {
    let mut w = Writer::response_in(buf, res::DELIVER_CALLBACK, 184, CsError::Ok, data.len());
    w.cpg_name(24, group)
        .u32(160, data.len() as u32)
        .u32(168, node)
        .u32(176, pid)
        .extend(data);
    w.finish()
}

/// PARTIAL_DELIVER_CALLBACK: msglen @160, fraglen @168, nodeid @176, pid @184, type @192.
pub fn partial_deliver(group: &[u8], msglen: u32, node: NodeId, pid: u32, kind: u32, data: &[u8]) -> Vec<u8> {
    partial_deliver_in(Vec::new(), group, msglen, node, pid, kind, data)
}

/// [`partial_deliver`] written in `buf` (its allocation reused).
pub fn partial_deliver_in(
    buf: Vec<u8>,
    group: &[u8],
    msglen: u32,
    node: NodeId,
    pid: u32,
    kind: u32,
    data: &[u8],
) -> Vec<u8> {
    let mut w = Writer::response_in(buf, res::PARTIAL_DELIVER_CALLBACK, 200, CsError::Ok, data.len());
    w.cpg_name(24, group)
        .u32(160, msglen)
        .u32(168, data.len() as u32)
        .u32(176, node)
        .u32(184, pid)
        .u32(192, kind)
        .extend(data);
    w.finish()
}

/// TOTEM_CONFCHG_CALLBACK: ring id @24/@32, entries @40, list @44; sized 48 + 4·n as
/// corosync sizes it.
pub fn totem_confchg(ring: RingId, members: &[NodeId]) -> Vec<u8> {
    let mut w = Writer::response(res::TOTEM_CONFCHG_CALLBACK, 48 + 4 * members.len(), CsError::Ok);
    w.u32(24, ring.rep).u64(32, ring.seq).u32(40, members.len() as u32);
    for (i, m) in members.iter().enumerate() {
        w.u32(44 + 4 * i, *m);
    }
    w.finish()
}

/// Checks a group name a client sent.
pub fn valid_group(name: &[u8]) -> Result<(), WireError> {
    check_name(name)
}

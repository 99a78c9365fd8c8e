//! cfg's library and exec messages (`include/corosync/ipc_cfg.h`, `include/corosync/cfg.h`,
//! the `req_exec_cfg_*` structs of `exec/cfg.c`), by field offset on x86_64.

use crate::error::WireError;
use crate::ids::{ConnId, ServiceId};
use crate::wire::{Header, Reader, Writer, MAR_NAME, MAR_NAME_MAX, REQUEST_HEADER, RESPONSE_HEADER};
use crate::CsError;

/// Library request ids (`enum req_lib_cfg_types`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestId {
    RingStatusGet = 0,
    RingReenable = 1,
    KillNode = 2,
    TryShutdown = 3,
    ReplyToShutdown = 4,
    GetNodeAddrs = 5,
    LocalGet = 6,
    ReloadConfig = 7,
    ReopenLogFiles = 8,
    NodeStatusGet = 9,
    TrackStart = 10,
    TrackStop = 11,
}

impl RequestId {
    pub fn from_raw(id: i32) -> Option<RequestId> {
        use RequestId::*;
        [
            RingStatusGet,
            RingReenable,
            KillNode,
            TryShutdown,
            ReplyToShutdown,
            GetNodeAddrs,
            LocalGet,
            ReloadConfig,
            ReopenLogFiles,
            NodeStatusGet,
            TrackStart,
            TrackStop,
        ]
        .into_iter()
        .find(|r| *r as i32 == id)
    }

    /// `enum res_lib_cfg_types`.
    pub fn response_id(self) -> i32 {
        match self {
            RequestId::RingStatusGet => 0,
            RequestId::RingReenable => 1,
            RequestId::TrackStart => 2,
            RequestId::TrackStop => 3,
            RequestId::KillNode => 8,
            RequestId::TryShutdown => 9,
            RequestId::GetNodeAddrs => 11,
            RequestId::LocalGet => 12,
            RequestId::ReplyToShutdown => 13,
            RequestId::ReloadConfig => 14,
            RequestId::ReopenLogFiles => 15,
            RequestId::NodeStatusGet => 16,
        }
    }

    /// The request size the fields need.
    pub fn request_size(self) -> usize {
        match self {
            RequestId::KillNode => 288,
            RequestId::NodeStatusGet => 32,
            RequestId::TryShutdown | RequestId::ReplyToShutdown | RequestId::GetNodeAddrs | RequestId::TrackStart => 24,
            _ => REQUEST_HEADER,
        }
    }

    /// The size of an error response the client can take.
    pub fn error_size(self) -> usize {
        match self {
            RequestId::RingStatusGet => RINGSTATUS_RESPONSE,
            RequestId::LocalGet | RequestId::GetNodeAddrs | RequestId::NodeStatusGet => 32,
            _ => RESPONSE_HEADER,
        }
    }
}

/// `MESSAGE_RES_CFG_TESTSHUTDOWN`.
pub const RES_TESTSHUTDOWN: i32 = 10;
/// `res_lib_cfg_ringstatusget`.
pub const RINGSTATUS_RESPONSE: usize = 10272;
/// `CFG_MAX_INTERFACES`, `CFG_INTERFACE_NAME_MAX_LEN`, `CFG_INTERFACE_STATUS_MAX_LEN`.
pub const INTERFACES_MAX: usize = 16;
pub const INTERFACE_NAME_MAX: usize = 128;
pub const INTERFACE_STATUS_MAX: usize = 512;
/// `res_lib_cfg_nodestatusget_v1`.
pub const NODESTATUS_V1_RESPONSE: usize = 4200;
/// `CFG_MAX_LINKS`, `CFG_MAX_HOST_LEN`.
pub const LINKS_MAX: usize = 8;
pub const HOST_MAX: usize = 256;
/// `CFG_NODE_STATUS_V1`.
pub const NODE_STATUS_V1: u32 = 1;
/// `TOTEMIP_ADDRLEN`.
pub const ADDR_LEN: usize = 16;

/// `corosync_shutdown_flags_t`; compared for equality as corosync does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownFlags(pub u32);

impl ShutdownFlags {
    pub const REQUEST: ShutdownFlags = ShutdownFlags(0);
    pub const REGARDLESS: ShutdownFlags = ShutdownFlags(1);
    pub const IMMEDIATE: ShutdownFlags = ShutdownFlags(2);
}

/// A decoded library request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    RingStatusGet,
    RingReenable,
    KillNode { nodeid: u32, reason: Vec<u8> },
    TryShutdown { flags: ShutdownFlags },
    ReplyToShutdown { yes: bool },
    GetNodeAddrs { nodeid: u32 },
    LocalGet,
    ReloadConfig,
    ReopenLogFiles,
    NodeStatusGet { nodeid: u32, version: u32 },
    TrackStart,
    TrackStop,
}

pub fn decode(id: RequestId, msg: &[u8]) -> Result<Request, WireError> {
    let r = Reader::new(msg);
    r.need(id.request_size())?;
    Ok(match id {
        RequestId::RingStatusGet => Request::RingStatusGet,
        RequestId::RingReenable => Request::RingReenable,
        RequestId::KillNode => {
            // cs_name_t: {u16 length @24; u8 value[256] @26}.
            let len = usize::from(r.u16(24)?);
            if len > MAR_NAME_MAX {
                return Err(WireError::NameTooLong(len));
            }
            Request::KillNode {
                nodeid: r.u32(16)?,
                reason: r.bytes(26, len)?.to_vec(),
            }
        }
        RequestId::TryShutdown => Request::TryShutdown {
            flags: ShutdownFlags(r.u32(16)?),
        },
        RequestId::ReplyToShutdown => Request::ReplyToShutdown { yes: r.u32(16)? != 0 },
        RequestId::GetNodeAddrs => Request::GetNodeAddrs { nodeid: r.u32(16)? },
        RequestId::LocalGet => Request::LocalGet,
        RequestId::ReloadConfig => Request::ReloadConfig,
        RequestId::ReopenLogFiles => Request::ReopenLogFiles,
        RequestId::NodeStatusGet => Request::NodeStatusGet {
            nodeid: r.u32(16)?,
            version: r.u32(24)?,
        },
        RequestId::TrackStart => Request::TrackStart,
        RequestId::TrackStop => Request::TrackStop,
    })
}

/// A header-only response (or the zeroed fixed-size error response of a call).
pub fn plain(id: RequestId, error: CsError) -> Vec<u8> {
    Writer::response(id.response_id(), id.error_size(), error).finish()
}

/// `res_lib_cfg_local_get`: nodeid @24.
pub fn local_get(nodeid: u32) -> Vec<u8> {
    let mut w = Writer::response(RequestId::LocalGet.response_id(), 32, CsError::Ok);
    w.u32(24, nodeid);
    w.finish()
}

/// `res_lib_cfg_testshutdown` (event): flags @24.
pub fn testshutdown(error: CsError, flags: ShutdownFlags) -> Vec<u8> {
    let mut w = Writer::response(RES_TESTSHUTDOWN, 32, error);
    w.u32(24, flags.0);
    w.finish()
}

/// One interface of RINGSTATUSGET: `"<id> <address>"` and its status text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceStatus {
    pub link: u8,
    pub address: String,
    pub status: String,
}

/// `res_lib_cfg_ringstatusget`: interface_count @24; `char name[16][128]` @32;
/// `char status[16][512]` @2080. A name or status too long for its slot makes the
/// whole answer CS_ERR_NAME_TOO_LONG (with the entries before it), as in corosync.
pub fn ringstatus(ifaces: &[InterfaceStatus]) -> Vec<u8> {
    let n = ifaces.len().min(INTERFACES_MAX);
    let mut error = CsError::Ok;
    let mut w = Writer::response(RequestId::RingStatusGet.response_id(), RINGSTATUS_RESPONSE, CsError::Ok);
    w.u32(24, n as u32);
    for (i, f) in ifaces.iter().take(n).enumerate() {
        if f.address.len() >= INTERFACE_NAME_MAX - 3 || f.status.len() >= INTERFACE_STATUS_MAX {
            error = CsError::NameTooLong;
            break;
        }
        let name = format!("{} {}", f.link, f.address);
        w.bytes(32 + i * INTERFACE_NAME_MAX, name.as_bytes());
        w.bytes(2080 + i * INTERFACE_STATUS_MAX, f.status.as_bytes());
    }
    w.i32(16, error as i32);
    w.finish()
}

/// One link in `corosync_knet_link_status_v1` (520 bytes: enabled @0, connected @1,
/// dynconnected @2, mtu @4, src_ipaddr @8, dst_ipaddr @264).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkStatus {
    pub link: u8,
    pub enabled: bool,
    pub connected: bool,
    pub dynconnected: bool,
    pub mtu: u32,
    pub src_addr: String,
    pub dst_addr: String,
}

/// `corosync_cfg_node_status_v1`: version @0, nodeid @4, reachable @8, remote @9,
/// external @10, onwire_min/max/ver @11–13, `link_status[8]` @16 (520 bytes each).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NodeStatus {
    pub nodeid: u32,
    pub reachable: bool,
    pub remote: bool,
    pub external: bool,
    pub onwire_min: u8,
    pub onwire_max: u8,
    pub onwire_ver: u8,
    pub links: Vec<LinkStatus>,
}

fn c_string(s: &str) -> &[u8] {
    &s.as_bytes()[..s.len().min(HOST_MAX - 1)]
}

/// `res_lib_cfg_nodestatusget_v1`, 4200 bytes; the node status starts @24.
pub fn nodestatus_v1(s: &NodeStatus) -> Vec<u8> {
    let mut w = Writer::response(
        RequestId::NodeStatusGet.response_id(),
        NODESTATUS_V1_RESPONSE,
        CsError::Ok,
    );
    let base = 24;
    w.u32(base, NODE_STATUS_V1)
        .u32(base + 4, s.nodeid)
        .u8(base + 8, s.reachable.into())
        .u8(base + 9, s.remote.into())
        .u8(base + 10, s.external.into())
        .u8(base + 11, s.onwire_min)
        .u8(base + 12, s.onwire_max)
        .u8(base + 13, s.onwire_ver);
    for l in s.links.iter().filter(|l| usize::from(l.link) < LINKS_MAX) {
        let at = base + 16 + usize::from(l.link) * 520;
        w.u8(at, l.enabled.into())
            .u8(at + 1, l.connected.into())
            .u8(at + 2, l.dynconnected.into())
            .u32(at + 4, l.mtu)
            .bytes(at + 8, c_string(&l.src_addr))
            .bytes(at + 264, c_string(&l.dst_addr));
    }
    w.finish()
}

/// `res_lib_cfg_nodestatusget_version`: version @24 (unsupported version, failures).
pub fn nodestatus_version(error: CsError) -> Vec<u8> {
    Writer::response(RequestId::NodeStatusGet.response_id(), 32, error).finish()
}

/// `res_lib_cfg_get_node_addrs`: family @24, num_addrs @28, 16-byte addresses from @32.
/// corosync sizes it by the interfaces found and counts the addresses it copies.
pub fn node_addrs(error: CsError, family: u32, addrs: &[[u8; ADDR_LEN]]) -> Vec<u8> {
    let mut w = Writer::response(
        RequestId::GetNodeAddrs.response_id(),
        32 + addrs.len() * ADDR_LEN,
        error,
    );
    if !addrs.is_empty() {
        w.u32(24, family).u32(28, addrs.len() as u32);
    }
    for (i, a) in addrs.iter().enumerate() {
        w.bytes(32 + i * ADDR_LEN, a);
    }
    w.finish()
}

/// Exec message ids (`enum cfg_message_req_types`).
pub const EXEC_RINGREENABLE: u16 = 0;
pub const EXEC_KILLNODE: u16 = 1;
pub const EXEC_SHUTDOWN: u16 = 2;
pub const EXEC_RELOAD_CONFIG: u16 = 3;
pub const EXEC_CRYPTO_RECONFIG: u16 = 4;
/// `CRYPTO_RECONFIG_PHASE_ACTIVATE`, `_CLEANUP`.
pub const CRYPTO_PHASE_ACTIVATE: u32 = 1;
pub const CRYPTO_PHASE_CLEANUP: u32 = 2;

/// A cfg exec message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exec {
    /// `req_exec_cfg_ringreenable` (32): source {nodeid @16, conn @24}.
    RingReenable { source_node: u32, conn: ConnId },
    /// `req_exec_cfg_killnode` (288): nodeid @16, reason (mar_name_t) @24.
    KillNode { nodeid: u32, reason: Vec<u8> },
    /// `req_exec_cfg_shutdown` (16).
    Shutdown,
    /// `req_exec_cfg_reload_config` (32): source {nodeid @16, conn @24}.
    ReloadConfig { source_node: u32, conn: ConnId },
    /// `req_exec_cfg_crypto_reconfig` (24): phase @16.
    CryptoReconfig { phase: u32 },
}

impl Exec {
    pub fn function(&self) -> u16 {
        match self {
            Exec::RingReenable { .. } => EXEC_RINGREENABLE,
            Exec::KillNode { .. } => EXEC_KILLNODE,
            Exec::Shutdown => EXEC_SHUTDOWN,
            Exec::ReloadConfig { .. } => EXEC_RELOAD_CONFIG,
            Exec::CryptoReconfig { .. } => EXEC_CRYPTO_RECONFIG,
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let id = ServiceId::Cfg.exec_id(self.function());
        match self {
            Exec::RingReenable { source_node, conn } | Exec::ReloadConfig { source_node, conn } => {
                let mut w = Writer::request(id, 32);
                w.u32(16, *source_node).u64(24, conn.0);
                w.finish()
            }
            Exec::KillNode { nodeid, reason } => {
                let mut w = Writer::request(id, 288);
                w.u32(16, *nodeid)
                    .mar_name(24, &reason[..reason.len().min(MAR_NAME_MAX)]);
                w.finish()
            }
            Exec::Shutdown => Writer::request(id, REQUEST_HEADER).finish(),
            Exec::CryptoReconfig { phase } => {
                let mut w = Writer::request(id, 24);
                w.u32(16, *phase);
                w.finish()
            }
        }
    }

    pub fn decode(function: u16, msg: &[u8], swap: bool) -> Result<Exec, WireError> {
        Header::parse(msg, swap)?;
        let r = Reader::with_swap(msg, swap);
        Ok(match function {
            EXEC_RINGREENABLE | EXEC_RELOAD_CONFIG => {
                r.need(32)?;
                let (source_node, conn) = (r.u32(16)?, ConnId(r.u64(24)?));
                if function == EXEC_RINGREENABLE {
                    Exec::RingReenable { source_node, conn }
                } else {
                    Exec::ReloadConfig { source_node, conn }
                }
            }
            EXEC_KILLNODE => {
                r.need(24 + MAR_NAME)?;
                Exec::KillNode {
                    nodeid: r.u32(16)?,
                    reason: r.mar_name(24)?.to_vec(),
                }
            }
            EXEC_SHUTDOWN => Exec::Shutdown,
            EXEC_CRYPTO_RECONFIG => Exec::CryptoReconfig { phase: r.u32(16)? },
            other => return Err(WireError::UnknownId(ServiceId::Cfg.exec_id(other))),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_layouts_round_trip() {
        let msgs = [
            (
                Exec::RingReenable {
                    source_node: 1,
                    conn: ConnId(9),
                },
                32,
            ),
            (
                Exec::KillNode {
                    nodeid: 3,
                    reason: b"fenced".to_vec(),
                },
                288,
            ),
            (Exec::Shutdown, 16),
            (
                Exec::ReloadConfig {
                    source_node: 2,
                    conn: ConnId(7),
                },
                32,
            ),
            (Exec::CryptoReconfig { phase: 1 }, 24),
        ];
        for (m, size) in msgs {
            let b = m.encode();
            assert_eq!(b.len(), size, "{m:?}");
            let r = Reader::new(&b);
            assert_eq!(r.i32(0).unwrap(), (1 << 16) | i32::from(m.function()));
            assert_eq!(r.i32(8).unwrap(), size as i32);
            assert_eq!(Exec::decode(m.function(), &b, false).unwrap(), m);
        }
        let k = Exec::KillNode {
            nodeid: 3,
            reason: b"x".to_vec(),
        }
        .encode();
        assert_eq!(Reader::new(&k).u32(16).unwrap(), 3);
        assert_eq!(Reader::new(&k).mar_name(24).unwrap(), b"x");
        assert!(Exec::decode(9, &Exec::Shutdown.encode(), false).is_err());
        assert!(Exec::decode(EXEC_KILLNODE, &Exec::Shutdown.encode(), false).is_err());
    }

    #[test]
    fn ringstatus_layout() {
        let m = ringstatus(&[InterfaceStatus {
            link: 0,
            address: "10.0.0.1".into(),
            status: "OK".into(),
        }]);
        assert_eq!(m.len(), 10272);
        let r = Reader::new(&m);
        assert_eq!(r.i32(0).unwrap(), 0);
        assert_eq!(r.i32(16).unwrap(), CsError::Ok as i32);
        assert_eq!(r.u32(24).unwrap(), 1);
        assert_eq!(&m[32..43], b"0 10.0.0.1\0");
        assert_eq!(&m[2080..2083], b"OK\0");
        let long = ringstatus(&[InterfaceStatus {
            link: 0,
            address: "x".repeat(125),
            status: "OK".into(),
        }]);
        assert_eq!(Reader::new(&long).i32(16).unwrap(), CsError::NameTooLong as i32);
    }

    #[test]
    fn nodestatus_layout() {
        let m = nodestatus_v1(&NodeStatus {
            nodeid: 2,
            reachable: true,
            links: vec![LinkStatus {
                link: 1,
                enabled: true,
                connected: true,
                mtu: 1500,
                src_addr: "10.0.0.2".into(),
                ..Default::default()
            }],
            ..Default::default()
        });
        assert_eq!(m.len(), 4200);
        let r = Reader::new(&m);
        assert_eq!(r.i32(0).unwrap(), 16);
        assert_eq!((r.u32(24).unwrap(), r.u32(28).unwrap(), r.u8(32).unwrap()), (1, 2, 1));
        let l1 = 24 + 16 + 520;
        assert_eq!(
            (r.u8(l1).unwrap(), r.u8(l1 + 1).unwrap(), r.u32(l1 + 4).unwrap()),
            (1, 1, 1500)
        );
        assert_eq!(&m[l1 + 8..l1 + 17], b"10.0.0.2\0");
        assert_eq!(r.u8(24 + 16).unwrap(), 0);
    }

    #[test]
    fn small_responses() {
        let l = local_get(5);
        assert_eq!((l.len(), Reader::new(&l).u32(24).unwrap()), (32, 5));
        let t = testshutdown(CsError::Ok, ShutdownFlags::REGARDLESS);
        assert_eq!(
            (
                t.len(),
                Reader::new(&t).i32(0).unwrap(),
                Reader::new(&t).u32(24).unwrap()
            ),
            (32, 10, 1)
        );
        let a = node_addrs(CsError::Ok, 2, &[[10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]);
        let r = Reader::new(&a);
        assert_eq!((a.len(), r.u32(24).unwrap(), r.u32(28).unwrap()), (48, 2, 1));
        assert_eq!(&a[32..36], &[10, 0, 0, 1]);
        assert_eq!(plain(RequestId::TrackStart, CsError::Ok).len(), 24);
        assert_eq!(
            Reader::new(&plain(RequestId::TrackStart, CsError::Ok)).i32(0).unwrap(),
            2
        );
    }

    #[test]
    fn killnode_request_with_long_reason_is_refused() {
        let mut w = Writer::request(2, 288);
        w.u32(16, 3).u16(24, 257);
        assert_eq!(
            decode(RequestId::KillNode, &w.finish()),
            Err(WireError::NameTooLong(257))
        );
        let mut w = Writer::request(2, 288);
        w.u32(16, 3).u16(24, 4).bytes(26, b"test");
        assert_eq!(
            decode(RequestId::KillNode, &w.finish()).unwrap(),
            Request::KillNode {
                nodeid: 3,
                reason: b"test".to_vec()
            }
        );
    }
}

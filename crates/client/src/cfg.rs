//! cfg: node and link status, configuration reload, log reopening, shutdown and kill
//! (`cfg.h`).
//!
//! ```no_run
//! use client::cfg::Cfg;
//! # fn main() -> client::Result<()> {
//! let mut cfg = Cfg::initialize()?;
//! let me = cfg.local_get()?;
//! for link in cfg.node_status_get(me)?.links {
//!     println!("link {}: connected {}", link.link, link.connected);
//! }
//! # Ok(()) }
//! ```

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use services::cfg::codec::{
    RequestId, ShutdownFlags, ADDR_LEN, HOST_MAX, INTERFACES_MAX, INTERFACE_NAME_MAX, INTERFACE_STATUS_MAX, LINKS_MAX,
    NODESTATUS_V1_RESPONSE, NODE_STATUS_V1, RES_TESTSHUTDOWN, RINGSTATUS_RESPONSE,
};
use services::wire::{Reader, Writer, MAR_NAME_MAX, RESPONSE_HEADER};
use services::WireError;
use totem::NodeId;

pub use services::cfg::codec::{InterfaceStatus, LinkStatus, NodeStatus};

use crate::conn::{event_id, service_fd, Conn, DispatchFlags};
use crate::error::{Error, Result};
use crate::options::Options;

/// How insistent a shutdown request is (`corosync_cfg_shutdown_flags_t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shutdown {
    /// Every tracking client must agree.
    Request,
    /// Ask the tracking clients, shut down whatever they answer.
    Regardless,
    /// Shut down without asking.
    Immediate,
}

impl Shutdown {
    fn flags(self) -> ShutdownFlags {
        match self {
            Shutdown::Request => ShutdownFlags::REQUEST,
            Shutdown::Regardless => ShutdownFlags::REGARDLESS,
            Shutdown::Immediate => ShutdownFlags::IMMEDIATE,
        }
    }
}

/// An event of a tracking cfg connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CfgEvent {
    /// Someone asked the daemon to shut down: answer with [`Cfg::reply_to_shutdown`]
    /// (`corosync_cfg_shutdown_callback_t`). `flags` is the raw flag word.
    ShutdownRequest { flags: u32 },
}

/// A cfg connection (`corosync_cfg_handle_t`).
#[derive(Debug)]
pub struct Cfg {
    conn: Conn,
}

service_fd!(Cfg);

fn c_str(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

impl Cfg {
    pub fn initialize() -> Result<Cfg> {
        Self::initialize_with(&Options::default())
    }

    pub fn initialize_with(options: &Options) -> Result<Cfg> {
        Ok(Cfg {
            conn: Conn::open("cfg", options)?,
        })
    }

    fn simple(&self, id: RequestId) -> Result<()> {
        self.conn.call(
            &Writer::request(id as i32, id.request_size()).finish(),
            id.response_id(),
            RESPONSE_HEADER,
        )?;
        Ok(())
    }

    /// The local node id (`corosync_cfg_local_get`).
    pub fn local_get(&self) -> Result<NodeId> {
        let id = RequestId::LocalGet;
        let reply = self
            .conn
            .call(&Writer::request(id as i32, 16).finish(), id.response_id(), 32)?;
        Reader::new(&reply).u32(24).map_err(|e| self.conn.reply_err(e))
    }

    /// A node's reachability and links (`corosync_cfg_node_status_get`, version 1).
    pub fn node_status_get(&self, nodeid: NodeId) -> Result<NodeStatus> {
        let id = RequestId::NodeStatusGet;
        let mut w = Writer::request(id as i32, id.request_size());
        w.u32(16, nodeid).u32(24, NODE_STATUS_V1);
        let reply = self.conn.call(&w.finish(), id.response_id(), NODESTATUS_V1_RESPONSE)?;
        let r = Reader::new(&reply);
        let parse = || -> std::result::Result<NodeStatus, WireError> {
            let base = 24;
            let mut links = Vec::new();
            for link in 0..LINKS_MAX {
                let at = base + 16 + link * 520;
                let l = LinkStatus {
                    link: link as u8,
                    enabled: r.u8(at)? != 0,
                    connected: r.u8(at + 1)? != 0,
                    dynconnected: r.u8(at + 2)? != 0,
                    mtu: r.u32(at + 4)?,
                    src_addr: c_str(r.bytes(at + 8, HOST_MAX)?),
                    dst_addr: c_str(r.bytes(at + 264, HOST_MAX)?),
                };
                if l.enabled || l.connected || !l.src_addr.is_empty() {
                    links.push(l);
                }
            }
            Ok(NodeStatus {
                nodeid: r.u32(base + 4)?,
                reachable: r.u8(base + 8)? != 0,
                remote: r.u8(base + 9)? != 0,
                external: r.u8(base + 10)? != 0,
                onwire_min: r.u8(base + 11)?,
                onwire_max: r.u8(base + 12)?,
                onwire_ver: r.u8(base + 13)?,
                links,
            })
        };
        parse().map_err(|e| self.conn.reply_err(e))
    }

    /// A node's addresses (`corosync_cfg_get_node_addrs`).
    pub fn get_node_addrs(&self, nodeid: NodeId) -> Result<Vec<IpAddr>> {
        let id = RequestId::GetNodeAddrs;
        let mut w = Writer::request(id as i32, id.request_size());
        w.u32(16, nodeid);
        let reply = self.conn.call(&w.finish(), id.response_id(), 32)?;
        let r = Reader::new(&reply);
        let parse = || -> std::result::Result<Vec<IpAddr>, WireError> {
            let family = r.u32(24)?;
            let n = r.u32(28)? as usize;
            if n > INTERFACES_MAX {
                return Err(WireError::Value("address count"));
            }
            (0..n)
                .map(|i| {
                    let b = r.bytes(32 + i * ADDR_LEN, ADDR_LEN)?;
                    Ok(match family as i32 {
                        nix::libc::AF_INET6 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(b).unwrap_or_default())),
                        _ => IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3])),
                    })
                })
                .collect()
        };
        parse().map_err(|e| self.conn.reply_err(e))
    }

    /// The local links and their status text, as `corosync-cfgtool -s` prints them
    /// (`corosync_cfg_ring_status_get`).
    pub fn ring_status_get(&self) -> Result<Vec<InterfaceStatus>> {
        let id = RequestId::RingStatusGet;
        let reply = self.conn.call(
            &Writer::request(id as i32, 16).finish(),
            id.response_id(),
            RINGSTATUS_RESPONSE,
        )?;
        let r = Reader::new(&reply);
        let parse = || -> std::result::Result<Vec<InterfaceStatus>, WireError> {
            let n = r.u32(24)? as usize;
            if n > INTERFACES_MAX {
                return Err(WireError::Value("interface count"));
            }
            (0..n)
                .map(|i| {
                    let name = c_str(r.bytes(32 + i * INTERFACE_NAME_MAX, INTERFACE_NAME_MAX)?);
                    let status = c_str(r.bytes(2080 + i * INTERFACE_STATUS_MAX, INTERFACE_STATUS_MAX)?);
                    let (link, address) = name.split_once(' ').unwrap_or(("0", &name));
                    Ok(InterfaceStatus {
                        link: link.parse().map_err(|_| WireError::Value("interface name"))?,
                        address: address.to_owned(),
                        status,
                    })
                })
                .collect()
        };
        parse().map_err(|e| self.conn.reply_err(e))
    }

    /// Re-enables redundant rings (`corosync_cfg_ring_reenable`; a no-op with knet and udpu).
    pub fn ring_reenable(&self) -> Result<()> {
        self.simple(RequestId::RingReenable)
    }

    /// Every node re-reads corosync.conf (`corosync_cfg_reload_config`).
    pub fn reload_config(&self) -> Result<()> {
        self.simple(RequestId::ReloadConfig)
    }

    /// The daemon reopens its log files (`corosync_cfg_reopen_log_files`).
    pub fn reopen_log_files(&self) -> Result<()> {
        self.simple(RequestId::ReopenLogFiles)
    }

    /// Tells `nodeid`'s daemon to exit, with `reason` in its log (`corosync_cfg_kill_node`).
    pub fn kill_node(&self, nodeid: NodeId, reason: &str) -> Result<()> {
        if reason.len() > MAR_NAME_MAX {
            return Err(Error::InvalidArgument(format!(
                "reason of {} bytes (at most {MAR_NAME_MAX})",
                reason.len()
            )));
        }
        let id = RequestId::KillNode;
        let mut w = Writer::request(id as i32, id.request_size());
        w.u32(16, nodeid)
            .u16(24, reason.len() as u16)
            .bytes(26, reason.as_bytes());
        self.conn.call(&w.finish(), id.response_id(), RESPONSE_HEADER)?;
        Ok(())
    }

    /// Asks the local daemon to shut down (`corosync_cfg_try_shutdown`).
    pub fn try_shutdown(&self, how: Shutdown) -> Result<()> {
        let id = RequestId::TryShutdown;
        let mut w = Writer::request(id as i32, id.request_size());
        w.u32(16, how.flags().0);
        self.conn.call(&w.finish(), id.response_id(), RESPONSE_HEADER)?;
        Ok(())
    }

    /// Answers a [`CfgEvent::ShutdownRequest`] (`corosync_cfg_replyto_shutdown`).
    pub fn reply_to_shutdown(&self, allow: bool) -> Result<()> {
        let id = RequestId::ReplyToShutdown;
        let mut w = Writer::request(id as i32, id.request_size());
        w.u32(16, u32::from(allow));
        self.conn.call(&w.finish(), id.response_id(), RESPONSE_HEADER)?;
        Ok(())
    }

    /// Receive shutdown requests as events (`corosync_cfg_trackstart`).
    pub fn track_start(&self) -> Result<()> {
        self.simple(RequestId::TrackStart)
    }

    /// `corosync_cfg_trackstop`.
    pub fn track_stop(&self) -> Result<()> {
        self.simple(RequestId::TrackStop)
    }

    /// Handles events as `flags` says (`corosync_cfg_dispatch`).
    pub fn dispatch(&self, flags: DispatchFlags, mut f: impl FnMut(CfgEvent)) -> Result<usize> {
        self.conn.dispatch(flags, |conn, event| {
            if event_id(&event) == Some(RES_TESTSHUTDOWN) {
                let flags = Reader::new(&event).u32(24).map_err(|e| conn.reply_err(e))?;
                f(CfgEvent::ShutdownRequest { flags });
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use services::cfg::codec::{self, Request};

    #[test]
    fn requests_decode_as_the_daemon_reads_them() {
        let id = RequestId::KillNode;
        let mut w = Writer::request(id as i32, id.request_size());
        w.u32(16, 3).u16(24, 6).bytes(26, b"fenced");
        assert_eq!(
            codec::decode(id, &w.finish()).unwrap(),
            Request::KillNode {
                nodeid: 3,
                reason: b"fenced".to_vec()
            }
        );
        let id = RequestId::NodeStatusGet;
        let mut w = Writer::request(id as i32, id.request_size());
        w.u32(16, 2).u32(24, NODE_STATUS_V1);
        assert_eq!(
            codec::decode(id, &w.finish()).unwrap(),
            Request::NodeStatusGet { nodeid: 2, version: 1 }
        );
    }
}

//! votequorum: votes, expected votes and quorum flags (`votequorum.h`).
//!
//! ```no_run
//! use client::votequorum::Votequorum;
//! # fn main() -> client::Result<()> {
//! let mut vq = Votequorum::initialize()?;
//! let info = vq.get_info(0)?; // 0: the local node
//! println!("votes {}/{} quorum {}", info.total_votes, info.expected_votes, info.quorum);
//! # Ok(()) }
//! ```

use services::votequorum::ipc::{
    InfoFlags, GETINFO_SIZE, QUORUM_NOTIFICATION_SIZE, REQ_GETINFO, REQ_SETEXPECTED, REQ_SETVOTES, REQ_TRACKSTART,
    REQ_TRACKSTOP, RES_EXPECTEDVOTES_NOTIFICATION, RES_GETINFO, RES_NODELIST_NOTIFICATION, RES_QUORUM_NOTIFICATION,
    RES_STATUS, STATUS_SIZE,
};
use services::wire::{Reader, Writer};
use services::WireError;
use totem::{NodeId, RingId};

use crate::conn::{event_id, service_fd, Conn, DispatchFlags};
use crate::error::Result;
use crate::options::Options;
use crate::TrackFlags;

/// A node's state as votequorum sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeState {
    Member,
    Dead,
    Leaving,
    /// A value this client does not know.
    Other(u32),
}

impl NodeState {
    fn from_raw(v: u32) -> NodeState {
        match v {
            1 => NodeState::Member,
            2 => NodeState::Dead,
            3 => NodeState::Leaving,
            other => NodeState::Other(other),
        }
    }
}

/// `votequorum_info`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    pub nodeid: NodeId,
    pub state: NodeState,
    pub votes: u32,
    pub expected_votes: u32,
    pub highest_expected: u32,
    pub total_votes: u32,
    pub quorum: u32,
    pub flags: InfoFlags,
    pub qdevice_votes: u32,
    pub qdevice_name: String,
}

impl NodeInfo {
    pub fn quorate(&self) -> bool {
        self.flags.contains(InfoFlags::QUORATE)
    }
}

/// An event of a tracking votequorum connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VotequorumEvent {
    /// `votequorum_quorum_notification_fn_t`.
    Quorum {
        context: u64,
        quorate: bool,
        nodes: Vec<(NodeId, NodeState)>,
    },
    /// `votequorum_nodelist_notification_fn_t`: the ring and its members.
    Nodelist {
        context: u64,
        ring_id: RingId,
        members: Vec<NodeId>,
    },
    /// `votequorum_expectedvotes_notification_fn_t`.
    ExpectedVotes { context: u64, expected_votes: u32 },
}

/// A votequorum connection (`votequorum_handle_t`).
#[derive(Debug)]
pub struct Votequorum {
    conn: Conn,
}

service_fd!(Votequorum);

impl Votequorum {
    pub fn initialize() -> Result<Votequorum> {
        Self::initialize_with(&Options::default())
    }

    pub fn initialize_with(options: &Options) -> Result<Votequorum> {
        Ok(Votequorum {
            conn: Conn::open("votequorum", options)?,
        })
    }

    /// `votequorum_getinfo` for `nodeid` (0: the local node).
    pub fn get_info(&self, nodeid: NodeId) -> Result<NodeInfo> {
        let mut w = Writer::request(REQ_GETINFO, 24);
        w.u32(16, nodeid);
        let reply = self.conn.call(&w.finish(), RES_GETINFO, GETINFO_SIZE)?;
        let r = Reader::new(&reply);
        let parse = || -> std::result::Result<NodeInfo, WireError> {
            let name = r.bytes(60, GETINFO_SIZE - 60)?;
            let end = name.iter().position(|c| *c == 0).unwrap_or(name.len());
            Ok(NodeInfo {
                nodeid: r.u32(24)?,
                state: NodeState::from_raw(r.u32(28)?),
                votes: r.u32(32)?,
                expected_votes: r.u32(36)?,
                highest_expected: r.u32(40)?,
                total_votes: r.u32(44)?,
                quorum: r.u32(48)?,
                flags: InfoFlags(r.u32(52)?),
                qdevice_votes: r.u32(56)?,
                qdevice_name: String::from_utf8_lossy(&name[..end]).into_owned(),
            })
        };
        parse().map_err(|e| self.conn.reply_err(e))
    }

    /// `votequorum_setexpected`.
    pub fn set_expected(&self, expected_votes: u32) -> Result<()> {
        let mut w = Writer::request(REQ_SETEXPECTED, 24);
        w.u32(16, expected_votes);
        self.conn.call(&w.finish(), RES_STATUS, STATUS_SIZE)?;
        Ok(())
    }

    /// `votequorum_setvotes` (`nodeid` 0: the local node).
    pub fn set_votes(&self, nodeid: NodeId, votes: u32) -> Result<()> {
        let mut w = Writer::request(REQ_SETVOTES, 24);
        w.u32(16, votes).u32(20, nodeid);
        self.conn.call(&w.finish(), RES_STATUS, STATUS_SIZE)?;
        Ok(())
    }

    /// `votequorum_trackstart`: events carry `context`.
    pub fn trackstart(&self, context: u64, flags: TrackFlags) -> Result<()> {
        let mut w = Writer::request(REQ_TRACKSTART, 32);
        w.u64(16, context).u32(24, flags.0);
        self.conn.call(&w.finish(), RES_STATUS, STATUS_SIZE)?;
        Ok(())
    }

    /// `votequorum_trackstop`.
    pub fn trackstop(&self) -> Result<()> {
        self.conn
            .call(&Writer::request(REQ_TRACKSTOP, 16).finish(), RES_STATUS, STATUS_SIZE)?;
        Ok(())
    }

    /// Handles events as `flags` says (`votequorum_dispatch`).
    pub fn dispatch(&self, flags: DispatchFlags, mut f: impl FnMut(VotequorumEvent)) -> Result<usize> {
        self.conn.dispatch(flags, |conn, event| {
            if let Some(ev) = decode_event(&event).map_err(|e| conn.reply_err(e))? {
                f(ev);
            }
            Ok(())
        })
    }
}

fn decode_event(event: &[u8]) -> std::result::Result<Option<VotequorumEvent>, WireError> {
    let r = Reader::new(event);
    let max = services::cpg::messages::PROCESSOR_COUNT_MAX;
    Ok(match event_id(event) {
        Some(RES_QUORUM_NOTIFICATION) => {
            r.need(QUORUM_NOTIFICATION_SIZE)?;
            let n = r.u32(40)? as usize;
            if n > max {
                return Err(WireError::Value("node count"));
            }
            Some(VotequorumEvent::Quorum {
                quorate: r.u32(24)? != 0,
                context: r.u64(32)?,
                nodes: (0..n)
                    .map(|i| Ok((r.u32(48 + 8 * i)?, NodeState::from_raw(r.u32(52 + 8 * i)?))))
                    .collect::<std::result::Result<_, WireError>>()?,
            })
        }
        Some(RES_NODELIST_NOTIFICATION) => {
            let n = r.u32(48)? as usize;
            if n > max {
                return Err(WireError::Value("node count"));
            }
            Some(VotequorumEvent::Nodelist {
                context: r.u64(24)?,
                ring_id: RingId {
                    rep: r.u32(32)?,
                    seq: r.u64(40)?,
                },
                members: (0..n)
                    .map(|i| r.u32(56 + 4 * i))
                    .collect::<std::result::Result<_, _>>()?,
            })
        }
        Some(RES_EXPECTEDVOTES_NOTIFICATION) => Some(VotequorumEvent::ExpectedVotes {
            context: r.u64(24)?,
            expected_votes: r.u32(32)?,
        }),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use services::votequorum::ipc as vq;

    #[test]
    fn events_decode_what_the_daemon_sends() {
        let ev = vq::nodelist_notification(5, RingId { rep: 2, seq: 40 }, &[1, 2]);
        assert_eq!(
            decode_event(&ev).unwrap(),
            Some(VotequorumEvent::Nodelist {
                context: 5,
                ring_id: RingId { rep: 2, seq: 40 },
                members: vec![1, 2]
            })
        );
        let ev = vq::expectedvotes_notification(5, 3);
        assert_eq!(
            decode_event(&ev).unwrap(),
            Some(VotequorumEvent::ExpectedVotes {
                context: 5,
                expected_votes: 3
            })
        );
        assert!(decode_event(&ev[..30]).is_err());
    }

    #[test]
    fn requests_decode_as_the_daemon_reads_them() {
        let mut w = Writer::request(REQ_SETVOTES, 24);
        w.u32(16, 2).u32(20, 3);
        let req = vq::Request::decode(REQ_SETVOTES, &w.finish()).unwrap();
        assert!(format!("{req:?}").contains('3'), "{req:?}");
    }
}

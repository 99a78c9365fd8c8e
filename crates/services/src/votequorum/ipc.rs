//! votequorum's library messages (`include/corosync/ipc_votequorum.h`): requests from
//! libvotequorum and the responses and events it reads, at their C offsets and sizes.

use totem::{NodeId, RingId};

use crate::error::WireError;
use crate::wire::{Reader, Writer, RESPONSE_HEADER};
use crate::CsError;

use super::exec::QDEVICE_NAME_MAX;
use super::nodes::NodeState;

pub const REQ_GETINFO: i32 = 0;
pub const REQ_SETEXPECTED: i32 = 1;
pub const REQ_SETVOTES: i32 = 2;
pub const REQ_TRACKSTART: i32 = 3;
pub const REQ_TRACKSTOP: i32 = 4;
pub const REQ_QDEVICE_REGISTER: i32 = 5;
pub const REQ_QDEVICE_UNREGISTER: i32 = 6;
pub const REQ_QDEVICE_UPDATE: i32 = 7;
pub const REQ_QDEVICE_POLL: i32 = 8;
pub const REQ_QDEVICE_MASTER_WINS: i32 = 9;

pub const RES_STATUS: i32 = 0;
pub const RES_GETINFO: i32 = 1;
pub const RES_QUORUM_NOTIFICATION: i32 = 3;
pub const RES_EXPECTEDVOTES_NOTIFICATION: i32 = 4;
pub const RES_NODELIST_NOTIFICATION: i32 = 5;

/// `struct res_lib_votequorum_getinfo`.
pub const GETINFO_SIZE: usize = 320;
/// `struct res_lib_votequorum_status`.
pub const STATUS_SIZE: usize = RESPONSE_HEADER;
/// Fixed parts of the three events.
pub const QUORUM_NOTIFICATION_SIZE: usize = 48;
pub const NODELIST_NOTIFICATION_SIZE: usize = 56;
pub const EXPECTEDVOTES_NOTIFICATION_SIZE: usize = 40;

super::flags::bit_flags!(
    /// `CS_TRACK_*` flags of a TRACKSTART (shared with the quorum service).
    TrackFlags {
        CURRENT = 1;
        CHANGES = 2;
        CHANGES_ONLY = 4;
    }
);

impl TrackFlags {
    /// An immediate report is wanted (CURRENT or CHANGES).
    pub fn wants_current(self) -> bool {
        self.intersects(TrackFlags::CURRENT | TrackFlags::CHANGES)
    }
    /// Later changes are wanted (CHANGES or CHANGES_ONLY).
    pub fn wants_changes(self) -> bool {
        self.intersects(TrackFlags::CHANGES | TrackFlags::CHANGES_ONLY)
    }
}

super::flags::bit_flags!(
    /// `VOTEQUORUM_INFO_*` flags of GETINFO.
    InfoFlags {
        TWONODE = 1;
        QUORATE = 2;
        WAIT_FOR_ALL = 4;
        LAST_MAN_STANDING = 8;
        AUTO_TIE_BREAKER = 16;
        ALLOW_DOWNSCALE = 32;
        QDEVICE_REGISTERED = 64;
        QDEVICE_ALIVE = 128;
        QDEVICE_CAST_VOTE = 256;
        QDEVICE_MASTER_WINS = 512;
    }
);

/// A decoded library request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    GetInfo {
        nodeid: NodeId,
    },
    SetExpected {
        expected_votes: u32,
    },
    SetVotes {
        votes: u32,
        nodeid: NodeId,
    },
    TrackStart {
        context: u64,
        flags: TrackFlags,
    },
    TrackStop,
    QdeviceRegister {
        name: Vec<u8>,
    },
    QdeviceUnregister {
        name: Vec<u8>,
    },
    QdeviceUpdate {
        old_name: Vec<u8>,
        new_name: Vec<u8>,
    },
    QdevicePoll {
        name: Vec<u8>,
        cast_vote: bool,
        ring: RingId,
    },
    QdeviceMasterWins {
        name: Vec<u8>,
        allow: bool,
    },
}

fn name_at(r: &Reader<'_>, at: usize) -> Result<Vec<u8>, WireError> {
    let field = r.bytes(at, QDEVICE_NAME_MAX)?;
    let end = field.iter().position(|c| *c == 0).unwrap_or(field.len());
    Ok(field[..end].to_vec())
}

impl Request {
    pub fn decode(id: i32, msg: &[u8]) -> Result<Request, WireError> {
        let r = Reader::new(msg);
        Ok(match id {
            REQ_GETINFO => Request::GetInfo { nodeid: r.u32(16)? },
            REQ_SETEXPECTED => Request::SetExpected {
                expected_votes: r.u32(16)?,
            },
            REQ_SETVOTES => Request::SetVotes {
                votes: r.u32(16)?,
                nodeid: r.u32(20)?,
            },
            REQ_TRACKSTART => Request::TrackStart {
                context: r.u64(16)?,
                flags: TrackFlags(r.u32(24)?),
            },
            REQ_TRACKSTOP => Request::TrackStop,
            REQ_QDEVICE_REGISTER => Request::QdeviceRegister { name: name_at(&r, 16)? },
            REQ_QDEVICE_UNREGISTER => Request::QdeviceUnregister { name: name_at(&r, 16)? },
            REQ_QDEVICE_UPDATE => Request::QdeviceUpdate {
                old_name: name_at(&r, 16)?,
                new_name: name_at(&r, 16 + QDEVICE_NAME_MAX)?,
            },
            // name @16, int cast_vote @272, ring id {u32 @280, u64 @288}.
            REQ_QDEVICE_POLL => Request::QdevicePoll {
                name: name_at(&r, 16)?,
                cast_vote: r.i32(272)? != 0,
                ring: RingId {
                    rep: r.u32(280)?,
                    seq: r.u64(288)?,
                },
            },
            REQ_QDEVICE_MASTER_WINS => Request::QdeviceMasterWins {
                name: name_at(&r, 16)?,
                allow: r.u32(272)? != 0,
            },
            other => return Err(WireError::UnknownId(other)),
        })
    }
}

/// `res_lib_votequorum_status`.
pub fn status(error: CsError) -> Vec<u8> {
    Writer::response(RES_STATUS, STATUS_SIZE, error).finish()
}

/// The body of a GETINFO response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Info {
    pub nodeid: NodeId,
    pub state: u32,
    pub votes: u32,
    pub expected_votes: u32,
    pub highest_expected: u32,
    pub total_votes: u32,
    pub quorum: u32,
    pub flags: InfoFlags,
    pub qdevice_votes: u32,
    pub qdevice_name: Vec<u8>,
}

/// `res_lib_votequorum_getinfo` (320 bytes; the body is zero on error).
pub fn getinfo(error: CsError, info: &Info) -> Vec<u8> {
    let mut w = Writer::response(RES_GETINFO, GETINFO_SIZE, error);
    if error == CsError::Ok {
        w.u32(24, info.nodeid)
            .u32(28, info.state)
            .u32(32, info.votes)
            .u32(36, info.expected_votes)
            .u32(40, info.highest_expected)
            .u32(44, info.total_votes)
            .u32(48, info.quorum)
            .u32(52, info.flags.0)
            .u32(56, info.qdevice_votes)
            .bytes(60, super::exec::clamp_name(&info.qdevice_name));
    }
    w.finish()
}

/// QUORUM_NOTIFICATION: quorate @24, context @32, entries @40, `{nodeid, state}` @48.
pub fn quorum_notification(quorate: bool, context: u64, nodes: &[(NodeId, NodeState)]) -> Vec<u8> {
    let mut w = Writer::response(RES_QUORUM_NOTIFICATION, QUORUM_NOTIFICATION_SIZE, CsError::Ok);
    w.u32(24, u32::from(quorate))
        .u64(32, context)
        .u32(40, nodes.len() as u32);
    for (id, state) in nodes {
        w.extend(&id.to_ne_bytes()).extend(&(*state as u32).to_ne_bytes());
    }
    w.finish()
}

/// NODELIST_NOTIFICATION: context @24, ring id {nodeid @32, seq @40}, entries @48, list @56.
pub fn nodelist_notification(context: u64, ring: RingId, members: &[NodeId]) -> Vec<u8> {
    let mut w = Writer::response(RES_NODELIST_NOTIFICATION, NODELIST_NOTIFICATION_SIZE, CsError::Ok);
    w.u64(24, context)
        .u32(32, ring.rep)
        .u64(40, ring.seq)
        .u32(48, members.len() as u32);
    for id in members {
        w.extend(&id.to_ne_bytes());
    }
    w.finish()
}

/// EXPECTEDVOTES_NOTIFICATION: context @24, expected_votes @32.
pub fn expectedvotes_notification(context: u64, expected_votes: u32) -> Vec<u8> {
    let mut w = Writer::response(
        RES_EXPECTEDVOTES_NOTIFICATION,
        EXPECTEDVOTES_NOTIFICATION_SIZE,
        CsError::Ok,
    );
    w.u64(24, context).u32(32, expected_votes);
    w.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32_at(m: &[u8], at: usize) -> u32 {
        u32::from_ne_bytes(m[at..at + 4].try_into().unwrap())
    }

    #[test]
    fn getinfo_layout() {
        let info = Info {
            nodeid: 2,
            state: 1,
            votes: 1,
            expected_votes: 3,
            highest_expected: 3,
            total_votes: 2,
            quorum: 2,
            flags: InfoFlags::QUORATE | InfoFlags::WAIT_FOR_ALL,
            qdevice_votes: 0,
            qdevice_name: b"Qdev".to_vec(),
        };
        let m = getinfo(CsError::Ok, &info);
        assert_eq!(m.len(), 320);
        assert_eq!(u32_at(&m, 0), 1);
        assert_eq!(u32_at(&m, 8), 320);
        assert_eq!(u32_at(&m, 16), 1);
        let fields: Vec<u32> = (0..9).map(|i| u32_at(&m, 24 + 4 * i)).collect();
        assert_eq!(fields, [2, 1, 1, 3, 3, 2, 2, 6, 0]);
        assert_eq!(&m[60..65], b"Qdev\0");
        let e = getinfo(CsError::NotExist, &info);
        assert_eq!((e.len(), u32_at(&e, 16), u32_at(&e, 24)), (320, 12, 0));
    }

    #[test]
    fn event_layouts() {
        let m = quorum_notification(true, 0xAABB, &[(1, NodeState::Member), (3, NodeState::Dead)]);
        assert_eq!(m.len(), 48 + 16);
        assert_eq!((u32_at(&m, 0), u32_at(&m, 8), u32_at(&m, 24)), (3, 64, 1));
        assert_eq!(u64::from_ne_bytes(m[32..40].try_into().unwrap()), 0xAABB);
        assert_eq!(
            (
                u32_at(&m, 40),
                u32_at(&m, 48),
                u32_at(&m, 52),
                u32_at(&m, 56),
                u32_at(&m, 60)
            ),
            (2, 1, 1, 3, 2)
        );

        let m = nodelist_notification(7, RingId { rep: 1, seq: 0x1c }, &[1, 2, 3]);
        assert_eq!(m.len(), 56 + 12);
        assert_eq!((u32_at(&m, 0), u32_at(&m, 32), u32_at(&m, 48)), (5, 1, 3));
        assert_eq!(u64::from_ne_bytes(m[40..48].try_into().unwrap()), 0x1c);
        assert_eq!((u32_at(&m, 56), u32_at(&m, 64)), (1, 3));

        let m = expectedvotes_notification(9, 4);
        assert_eq!((m.len(), u32_at(&m, 0), u32_at(&m, 32)), (40, 4, 4));
        assert_eq!(status(CsError::Exist).len(), 24);
    }

    #[test]
    fn requests_decode_at_libvotequorum_offsets() {
        let mut w = Writer::request(REQ_TRACKSTART, 32);
        w.u64(16, 77).u32(24, 3);
        assert_eq!(
            Request::decode(REQ_TRACKSTART, &w.finish()).unwrap(),
            Request::TrackStart {
                context: 77,
                flags: TrackFlags(3)
            }
        );
        let mut w = Writer::request(REQ_SETVOTES, 24);
        w.u32(16, 2).u32(20, 5);
        assert_eq!(
            Request::decode(REQ_SETVOTES, &w.finish()).unwrap(),
            Request::SetVotes { votes: 2, nodeid: 5 }
        );
        let mut w = Writer::request(REQ_QDEVICE_POLL, 296);
        w.bytes(16, b"dev").i32(272, 1).u32(280, 4).u64(288, 0x20);
        assert_eq!(
            Request::decode(REQ_QDEVICE_POLL, &w.finish()).unwrap(),
            Request::QdevicePoll {
                name: b"dev".to_vec(),
                cast_vote: true,
                ring: RingId { rep: 4, seq: 0x20 }
            }
        );
        let mut w = Writer::request(REQ_QDEVICE_UPDATE, 528);
        w.bytes(16, b"a").bytes(271, b"b");
        assert_eq!(
            Request::decode(REQ_QDEVICE_UPDATE, &w.finish()).unwrap(),
            Request::QdeviceUpdate {
                old_name: b"a".to_vec(),
                new_name: b"b".to_vec()
            }
        );
        assert!(Request::decode(REQ_GETINFO, &Writer::request(0, 16).finish()).is_err());
        assert!(matches!(Request::decode(42, &[0; 24]), Err(WireError::UnknownId(42))));
    }
}

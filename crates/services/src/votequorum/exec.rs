//! votequorum's exec messages (`exec/votequorum.c`, `struct req_exec_quorum_*`).
//!
//! The structs are `packed` but their header is `aligned(8)`, so gcc rounds each size
//! up to a multiple of 8: NODEINFO 32, RECONFIGURE 32 (28 used), QDEVICE_REG 280 (275
//! used), QDEVICE_RECONFIGURE 528 (526 used). We send the rounded sizes, as corosync
//! does, and accept anything that holds the used part.

use totem::NodeId;

use crate::error::WireError;
use crate::ids::ServiceId;
use crate::wire::{Header, Reader, Writer};

pub const FN_NODEINFO: u16 = 0;
pub const FN_RECONFIGURE: u16 = 1;
pub const FN_QDEVICE_REG: u16 = 2;
pub const FN_QDEVICE_RECONFIGURE: u16 = 3;

pub const NODEINFO_SIZE: usize = 32;
pub const RECONFIGURE_SIZE: usize = 32;
const RECONFIGURE_USED: usize = 28;
pub const QDEVICE_REG_SIZE: usize = 280;
const QDEVICE_REG_USED: usize = 275;
pub const QDEVICE_RECONFIGURE_SIZE: usize = 528;
const QDEVICE_RECONFIGURE_USED: usize = 526;

/// `VOTEQUORUM_QDEVICE_MAX_NAME_LEN`, including the NUL.
pub const QDEVICE_NAME_MAX: usize = 255;
/// The node id of the quorum device slot.
pub const QDEVICE_NODEID: NodeId = 0;

super::flags::bit_flags!(
    /// `NODE_FLAGS_*` of a NODEINFO message.
    NodeFlags {
        QUORATE = 1;
        LEAVING = 2;
        WFA_STATUS = 4;
        FIRST = 8;
        QDEVICE_REGISTERED = 16;
        QDEVICE_ALIVE = 32;
        QDEVICE_CAST_VOTE = 64;
        QDEVICE_MASTER_WINS = 128;
    }
);

/// What RECONFIGURE changes (`VOTEQUORUM_RECONFIG_PARAM_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ReconfigParam {
    ExpectedVotes = 1,
    NodeVotes = 2,
    CancelWaitForAll = 3,
}

/// `VOTEQUORUM_QDEVICE_OPERATION_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum QdeviceOperation {
    Unregister = 0,
    Register = 1,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecMessage {
    NodeInfo {
        nodeid: NodeId,
        votes: u32,
        expected_votes: u32,
        flags: NodeFlags,
    },
    Reconfigure {
        nodeid: NodeId,
        value: u32,
        param: ReconfigParam,
    },
    QdeviceReg {
        operation: QdeviceOperation,
        name: Vec<u8>,
    },
    QdeviceReconfigure {
        old_name: Vec<u8>,
        new_name: Vec<u8>,
    },
}

/// A C string of a fixed-size field: the bytes before the first NUL.
fn c_string(field: &[u8]) -> Vec<u8> {
    let end = field.iter().position(|c| *c == 0).unwrap_or(field.len());
    field[..end].to_vec()
}

/// Truncates a name to what fits with its NUL in a `QDEVICE_NAME_MAX` field.
pub fn clamp_name(name: &[u8]) -> &[u8] {
    &name[..name.len().min(QDEVICE_NAME_MAX - 1)]
}

impl ExecMessage {
    pub fn encode(&self) -> Vec<u8> {
        let id = |f| ServiceId::Votequorum.exec_id(f);
        match self {
            ExecMessage::NodeInfo {
                nodeid,
                votes,
                expected_votes,
                flags,
            } => {
                let mut w = Writer::request(id(FN_NODEINFO), NODEINFO_SIZE);
                w.u32(16, *nodeid)
                    .u32(20, *votes)
                    .u32(24, *expected_votes)
                    .u32(28, flags.0);
                w.finish()
            }
            ExecMessage::Reconfigure { nodeid, value, param } => {
                let mut w = Writer::request(id(FN_RECONFIGURE), RECONFIGURE_SIZE);
                w.u32(16, *nodeid).u32(20, *value).u8(24, *param as u8);
                w.finish()
            }
            ExecMessage::QdeviceReg { operation, name } => {
                let mut w = Writer::request(id(FN_QDEVICE_REG), QDEVICE_REG_SIZE);
                w.u32(16, *operation as u32).bytes(20, clamp_name(name));
                w.finish()
            }
            ExecMessage::QdeviceReconfigure { old_name, new_name } => {
                let mut w = Writer::request(id(FN_QDEVICE_RECONFIGURE), QDEVICE_RECONFIGURE_SIZE);
                w.bytes(16, clamp_name(old_name))
                    .bytes(16 + QDEVICE_NAME_MAX, clamp_name(new_name));
                w.finish()
            }
        }
    }

    /// Decodes the message of function `function` (the whole message, header included).
    pub fn decode(function: u16, msg: &[u8], swap: bool) -> Result<ExecMessage, WireError> {
        let h = Header::parse(msg, swap)?;
        let r = Reader::with_swap(msg, swap);
        match function {
            FN_NODEINFO => {
                r.need(NODEINFO_SIZE)?;
                Ok(ExecMessage::NodeInfo {
                    nodeid: r.u32(16)?,
                    votes: r.u32(20)?,
                    expected_votes: r.u32(24)?,
                    flags: NodeFlags(r.u32(28)?),
                })
            }
            FN_RECONFIGURE => {
                r.need(RECONFIGURE_USED)?;
                let param = match r.u8(24)? {
                    1 => ReconfigParam::ExpectedVotes,
                    2 => ReconfigParam::NodeVotes,
                    3 => ReconfigParam::CancelWaitForAll,
                    _ => return Err(WireError::Value("reconfigure param")),
                };
                Ok(ExecMessage::Reconfigure {
                    nodeid: r.u32(16)?,
                    value: r.u32(20)?,
                    param,
                })
            }
            FN_QDEVICE_REG => {
                r.need(QDEVICE_REG_USED)?;
                let operation = match r.u32(16)? {
                    0 => QdeviceOperation::Unregister,
                    1 => QdeviceOperation::Register,
                    _ => return Err(WireError::Value("qdevice operation")),
                };
                Ok(ExecMessage::QdeviceReg {
                    operation,
                    name: c_string(r.bytes(20, QDEVICE_NAME_MAX)?),
                })
            }
            FN_QDEVICE_RECONFIGURE => {
                r.need(QDEVICE_RECONFIGURE_USED)?;
                Ok(ExecMessage::QdeviceReconfigure {
                    old_name: c_string(r.bytes(16, QDEVICE_NAME_MAX)?),
                    new_name: c_string(r.bytes(16 + QDEVICE_NAME_MAX, QDEVICE_NAME_MAX)?),
                })
            }
            _ => Err(WireError::UnknownId(h.id)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// NODEINFO messages corosync 3.1.7 sent in `shared/reference/totem-captures/ring.tsv`
    /// (datagram number, then the 32 bytes), with the values they carry.
    const CAPTURED: [(&str, &str, u32, u32, u32, u32); 6] = [
        (
            "#3 n1 startup",
            "0000050000000000200000000000000001000000010000000300000008000000",
            1,
            1,
            3,
            8,
        ),
        (
            "#17 n1 qdevice slot",
            "0000050000000000200000000000000000000000000000000000000000000000",
            0,
            0,
            0,
            0,
        ),
        (
            "#58 n2 startup",
            "0000050000000000200000000000000002000000010000000300000008000000",
            2,
            1,
            3,
            8,
        ),
        (
            "#118 n1 quorate",
            "0000050000000000200000000000000001000000010000000300000001000000",
            1,
            1,
            3,
            1,
        ),
        (
            "#3669 n2 quorate",
            "0000050000000000200000000000000002000000010000000300000001000000",
            2,
            1,
            3,
            1,
        ),
        (
            "#3861 n3 rejoined",
            "0000050000000000200000000000000003000000010000000300000000000000",
            3,
            1,
            3,
            0,
        ),
    ];

    #[test]
    fn captured_nodeinfo_decodes_and_reencodes() {
        for (what, h, nodeid, votes, expected_votes, flags) in CAPTURED {
            let bytes = hex(h);
            let m = ExecMessage::decode(FN_NODEINFO, &bytes, false).unwrap();
            let want = ExecMessage::NodeInfo {
                nodeid,
                votes,
                expected_votes,
                flags: NodeFlags(flags),
            };
            assert_eq!(m, want, "{what}");
            assert_eq!(m.encode(), bytes, "{what}");
        }
    }

    #[test]
    fn layouts() {
        let m = ExecMessage::Reconfigure {
            nodeid: 7,
            value: 9,
            param: ReconfigParam::NodeVotes,
        }
        .encode();
        assert_eq!(m.len(), 32);
        assert_eq!(&m[0..4], &0x0005_0001i32.to_ne_bytes());
        assert_eq!(&m[8..12], &32i32.to_ne_bytes());
        assert_eq!(&m[16..20], &7u32.to_ne_bytes());
        assert_eq!(&m[20..24], &9u32.to_ne_bytes());
        assert_eq!(m[24], 2);

        let m = ExecMessage::QdeviceReg {
            operation: QdeviceOperation::Register,
            name: b"Qdevice".to_vec(),
        }
        .encode();
        assert_eq!(m.len(), 280);
        assert_eq!(&m[16..20], &1u32.to_ne_bytes());
        assert_eq!(&m[20..28], b"Qdevice\0");

        let m = ExecMessage::QdeviceReconfigure {
            old_name: b"a".to_vec(),
            new_name: b"b".to_vec(),
        }
        .encode();
        assert_eq!(m.len(), 528);
        assert_eq!(m[16], b'a');
        assert_eq!(m[271], b'b');
    }

    #[test]
    fn round_trips_and_swaps() {
        let msgs = [
            ExecMessage::Reconfigure {
                nodeid: 3,
                value: 5,
                param: ReconfigParam::ExpectedVotes,
            },
            ExecMessage::QdeviceReg {
                operation: QdeviceOperation::Unregister,
                name: b"dev".to_vec(),
            },
            ExecMessage::QdeviceReconfigure {
                old_name: b"dev".to_vec(),
                new_name: b"dev2".to_vec(),
            },
        ];
        for (f, m) in [FN_RECONFIGURE, FN_QDEVICE_REG, FN_QDEVICE_RECONFIGURE]
            .into_iter()
            .zip(msgs)
        {
            assert_eq!(ExecMessage::decode(f, &m.encode(), false).unwrap(), m);
        }
        // A big-endian peer's NODEINFO.
        let mut m = vec![0u8; 32];
        m[0..4].copy_from_slice(&0x0005_0000i32.to_be_bytes());
        m[8..12].copy_from_slice(&32i32.to_be_bytes());
        m[16..20].copy_from_slice(&2u32.to_be_bytes());
        m[28..32].copy_from_slice(&1u32.to_be_bytes());
        let swapped = ExecMessage::decode(FN_NODEINFO, &m, cfg!(target_endian = "little")).unwrap();
        assert!(matches!(
            swapped,
            ExecMessage::NodeInfo {
                nodeid: 2,
                flags: NodeFlags(1),
                ..
            }
        ));
    }

    #[test]
    fn malformed_are_errors() {
        let mut m = ExecMessage::Reconfigure {
            nodeid: 1,
            value: 1,
            param: ReconfigParam::NodeVotes,
        }
        .encode();
        m[24] = 9;
        assert!(ExecMessage::decode(FN_RECONFIGURE, &m, false).is_err());
        let short = Writer::request(ServiceId::Votequorum.exec_id(0), 24).finish();
        assert!(ExecMessage::decode(FN_NODEINFO, &short, false).is_err());
        let ok = ExecMessage::NodeInfo {
            nodeid: 1,
            votes: 1,
            expected_votes: 1,
            flags: NodeFlags::default(),
        }
        .encode();
        assert!(matches!(
            ExecMessage::decode(9, &ok, false),
            Err(WireError::UnknownId(_))
        ));
    }
}

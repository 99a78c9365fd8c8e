//! The group envelope corosync's totempg puts in front of every message:
//! `u16 ngroups, u16 len[ngroups]`, the names without terminator, then the payload.

use super::FrameError;

/// corosync's `MAX_GROUPS_PER_MSG`: no corosync node sends more.
pub const MAX_GROUPS: usize = 32;

/// Wraps `payload` in a little-endian group envelope.
///
/// # Panics
///
/// With more than [`MAX_GROUPS`] groups or a name longer than `u16::MAX`; use
/// [`try_encode_groups`] for names that are not constants.
pub fn encode_groups(groups: &[&[u8]], payload: &[u8]) -> Vec<u8> {
    match try_encode_groups(groups, payload) {
        Ok(msg) => msg,
        Err(e) => panic!("invalid group envelope: {e}"),
    }
}

/// Wraps `payload` in a little-endian group envelope, checking the bounds.
pub fn try_encode_groups(groups: &[&[u8]], payload: &[u8]) -> Result<Vec<u8>, FrameError> {
    if groups.len() > MAX_GROUPS {
        return Err(FrameError::TooManyGroups(groups.len()));
    }
    let names: usize = groups.iter().map(|g| g.len()).sum();
    let mut msg = Vec::with_capacity(2 + 2 * groups.len() + names + payload.len());
    // groups.len() ≤ MAX_GROUPS.
    msg.extend_from_slice(&(groups.len() as u16).to_le_bytes());
    for g in groups {
        let len = u16::try_from(g.len()).map_err(|_| FrameError::GroupNameTooLong(g.len()))?;
        msg.extend_from_slice(&len.to_le_bytes());
    }
    for g in groups {
        msg.extend_from_slice(g);
    }
    msg.extend_from_slice(payload);
    Ok(msg)
}

/// Splits a message into its group names and payload (little-endian sender).
pub fn decode_groups(msg: &[u8]) -> Result<(Vec<&[u8]>, &[u8]), FrameError> {
    decode_groups_endian(msg, false)
}

/// The one group name and the payload of a little-endian message addressed to exactly one
/// group; `None` for any other envelope, valid or not. What [`decode_groups`] gives for
/// such a message, without allocating (once per message delivered).
pub fn decode_single_group(msg: &[u8]) -> Option<(&[u8], &[u8])> {
    if msg.get(..2)? != [1, 0] {
        return None;
    }
    let len = usize::from(u16::from_le_bytes([*msg.get(2)?, *msg.get(3)?]));
    let name = msg.get(4..4 + len)?;
    Some((name, &msg[4 + len..]))
}

/// Splits a message into its group names and payload; `foreign_endian` as reported
/// for the sender's frame (corosync's `group_endian_convert`).
pub fn decode_groups_endian(msg: &[u8], foreign_endian: bool) -> Result<(Vec<&[u8]>, &[u8]), FrameError> {
    let read = |i: usize| -> Option<usize> {
        let b = [*msg.get(i)?, *msg.get(i + 1)?];
        Some(usize::from(if foreign_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }))
    };
    let truncated = |needed: usize| FrameError::GroupsTruncated { len: msg.len(), needed };
    let n = read(0).ok_or_else(|| truncated(2))?;
    if n > MAX_GROUPS {
        return Err(FrameError::TooManyGroups(n));
    }
    let mut off = 2 + 2 * n;
    if msg.len() < off {
        return Err(truncated(off));
    }
    let mut names = Vec::with_capacity(n);
    for i in 0..n {
        let len = read(2 + 2 * i).ok_or_else(|| truncated(off))?;
        let name = msg.get(off..off + len).ok_or_else(|| truncated(off + len))?;
        names.push(name);
        off += len;
    }
    Ok((names, &msg[off..]))
}

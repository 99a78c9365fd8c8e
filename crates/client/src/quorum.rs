//! quorum: is this partition quorate, and who is in it (`quorum.h`).
//!
//! ```no_run
//! use client::quorum::{Quorum, QuorumEvent};
//! use client::{DispatchFlags, TrackFlags};
//! # fn main() -> client::Result<()> {
//! let mut q = Quorum::initialize()?;
//! println!("quorate: {}", q.getquorate()?);
//! q.trackstart(TrackFlags::CURRENT | TrackFlags::CHANGES)?;
//! q.dispatch(DispatchFlags::One, |QuorumEvent { quorate, members, .. }| {
//!     println!("quorate={quorate} members={members:?}");
//! })?;
//! # Ok(()) }
//! ```

use services::quorum::{
    REQ_GETQUORATE, REQ_GETTYPE, REQ_TRACKSTART, REQ_TRACKSTOP, RES_GETQUORATE, RES_GETTYPE, RES_NOTIFICATION,
    RES_TRACKSTART, RES_TRACKSTOP,
};
use services::wire::{Reader, Writer, RESPONSE_HEADER};
use services::WireError;
use totem::NodeId;

use crate::conn::{event_id, service_fd, Conn, DispatchFlags};
use crate::error::Result;
use crate::options::Options;
use crate::TrackFlags;

/// Whether a quorum provider is configured (`QUORUM_FREE` / `QUORUM_SET`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuorumType {
    /// No provider: always quorate.
    Free,
    /// A provider (votequorum) decides.
    Set,
}

/// A quorum notification (`quorum_notification_fn_t`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuorumEvent {
    pub quorate: bool,
    pub ring_seq: u64,
    pub members: Vec<NodeId>,
}

/// A quorum connection (`quorum_handle_t`).
#[derive(Debug)]
pub struct Quorum {
    conn: Conn,
    kind: QuorumType,
}

service_fd!(Quorum);

impl Quorum {
    /// Connects and asks the quorum type, as `quorum_initialize` does.
    pub fn initialize() -> Result<Quorum> {
        Self::initialize_with(&Options::default())
    }

    pub fn initialize_with(options: &Options) -> Result<Quorum> {
        let conn = Conn::open("quorum", options)?;
        let reply = conn.call(&Writer::request(REQ_GETTYPE, 16).finish(), RES_GETTYPE, 32)?;
        let kind = match Reader::new(&reply).u32(24).map_err(|e| conn.reply_err(e))? {
            0 => QuorumType::Free,
            _ => QuorumType::Set,
        };
        Ok(Quorum { conn, kind })
    }

    /// The type learnt at connection.
    pub fn quorum_type(&self) -> QuorumType {
        self.kind
    }

    /// `quorum_getquorate`.
    pub fn getquorate(&self) -> Result<bool> {
        let reply = self
            .conn
            .call(&Writer::request(REQ_GETQUORATE, 16).finish(), RES_GETQUORATE, 32)?;
        Ok(Reader::new(&reply).u32(24).map_err(|e| self.conn.reply_err(e))? != 0)
    }

    /// `quorum_trackstart`: notifications as events.
    pub fn trackstart(&self, flags: TrackFlags) -> Result<()> {
        let mut w = Writer::request(REQ_TRACKSTART, 24);
        w.u32(16, flags.0);
        self.conn.call(&w.finish(), RES_TRACKSTART, RESPONSE_HEADER)?;
        Ok(())
    }

    /// `quorum_trackstop`.
    pub fn trackstop(&self) -> Result<()> {
        self.conn.call(
            &Writer::request(REQ_TRACKSTOP, 16).finish(),
            RES_TRACKSTOP,
            RESPONSE_HEADER,
        )?;
        Ok(())
    }

    /// Handles notifications as `flags` says (`quorum_dispatch`).
    pub fn dispatch(&self, flags: DispatchFlags, mut f: impl FnMut(QuorumEvent)) -> Result<usize> {
        self.conn.dispatch(flags, |conn, event| {
            if let Some(ev) = decode_event(&event).map_err(|e| conn.reply_err(e))? {
                f(ev);
            }
            Ok(())
        })
    }
}

fn decode_event(event: &[u8]) -> std::result::Result<Option<QuorumEvent>, WireError> {
    if event_id(event) != Some(RES_NOTIFICATION) {
        return Ok(None);
    }
    let r = Reader::new(event);
    let n = r.u32(40)? as usize;
    if n > services::cpg::messages::PROCESSOR_COUNT_MAX {
        return Err(WireError::Value("member count"));
    }
    Ok(Some(QuorumEvent {
        quorate: r.u32(24)? != 0,
        ring_seq: r.u64(32)?,
        members: (0..n)
            .map(|i| r.u32(44 + 4 * i))
            .collect::<std::result::Result<_, _>>()?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notifications_decode_what_the_daemon_sends() {
        let ev = services::quorum::notification_v0_bytes(true, 12, &[1, 3]);
        assert_eq!(
            decode_event(&ev).unwrap(),
            Some(QuorumEvent {
                quorate: true,
                ring_seq: 12,
                members: vec![1, 3]
            })
        );
        assert!(decode_event(&ev[..42]).is_err());
    }
}

//! The crate's error type.

use std::io;

use thiserror::Error;

use crate::ring::RingError;
use crate::server::ConnId;
use crate::wire::WireError;

#[derive(Debug, Error)]
pub enum IpcError {
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    #[error("invalid service name {0:?}")]
    BadServiceName(String),
    #[error("malformed message: {0}")]
    Wire(#[from] WireError),
    #[error("shared ring: {0}")]
    Ring(#[from] RingError),
    #[error("no such connection {0}")]
    NoSuchConnection(ConnId),
    #[error("message of {len} bytes exceeds the maximum {max}")]
    TooLarge { len: usize, max: usize },
    #[error("server refused the connection: {}", io::Error::from_raw_os_error(*.0))]
    Refused(i32),
    #[error("server chose IPC transport {0}; only SHM (1) is supported")]
    UnsupportedTransport(i32),
    #[error("try again: flow control on or request ring full")]
    TryAgain,
    #[error("timed out waiting for the peer")]
    Timeout,
    #[error("peer disconnected")]
    Disconnected,
    #[error("client's event queue exceeded its bound; client disconnected")]
    EventQueueOverflow,
    #[error("protocol error: {0}")]
    Protocol(&'static str),
}

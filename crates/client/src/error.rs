//! The client's error type.

use ipc::IpcError;
use services::{CsError, WireError};
use thiserror::Error;

/// Why a call failed.
#[derive(Debug, Error)]
pub enum Error {
    /// The daemon could not be reached, stopped answering, or broke the IPC protocol.
    #[error("{service}: {source}")]
    Ipc {
        service: &'static str,
        #[source]
        source: IpcError,
    },
    /// The daemon answered with an error code (`cs_error_t`).
    #[error("{service}: {}", cs_text(*code))]
    Cs { service: &'static str, code: CsError },
    /// A reply or event did not have the layout its id promises.
    #[error("{service}: malformed reply: {source}")]
    Reply {
        service: &'static str,
        #[source]
        source: WireError,
    },
    /// A reply with another id than the request's (the connection is out of step).
    #[error("{service}: reply id {got}, expected {expected}")]
    UnexpectedReply {
        service: &'static str,
        got: i32,
        expected: i32,
    },
    /// The caller's argument cannot be sent (too long a name, an empty key, …).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
}

impl Error {
    /// The corosync error code a C client would have seen for this failure.
    pub fn cs_error(&self) -> CsError {
        match self {
            Error::Cs { code, .. } => *code,
            Error::Ipc { source, .. } => match source {
                IpcError::TryAgain => CsError::TryAgain,
                IpcError::Timeout => CsError::Timeout,
                IpcError::Refused(e) if *e == libc_eacces() => CsError::Access,
                IpcError::TooLarge { .. } => CsError::TooBig,
                _ => CsError::Library,
            },
            Error::Reply { .. } | Error::UnexpectedReply { .. } => CsError::MessageError,
            Error::InvalidArgument(_) => CsError::InvalidParam,
        }
    }

    /// The daemon is not there or not answering (not running, stopped, frozen): as opposed
    /// to a daemon that answered "no".
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            Error::Ipc {
                source: IpcError::Io(_) | IpcError::Timeout | IpcError::Disconnected,
                ..
            }
        )
    }
}

fn libc_eacces() -> i32 {
    nix::errno::Errno::EACCES as i32
}

/// corosync's `cs_strerror` wording.
pub fn cs_text(code: CsError) -> &'static str {
    use CsError::*;
    match code {
        Ok => "success",
        Library => "library error",
        Version => "version error",
        Init => "initialization error",
        Timeout => "timeout",
        TryAgain => "try again",
        InvalidParam => "invalid parameter",
        NoMemory => "not enough memory to complete the requested task",
        BadHandle => "bad handle",
        Busy => "busy",
        Access => "access denied",
        NotExist => "does not exist",
        NameTooLong => "name is too long",
        Exist => "already exists",
        NoSpace => "insufficient memory",
        Interrupt => "system call interrupted by a signal",
        NameNotFound => "name not found",
        NoResources => "no resources",
        NotSupported => "the requested operation is not supported",
        BadOperation => "bad operation",
        FailedOperation => "failed operation",
        MessageError => "message error",
        QueueFull => "queue full",
        QueueNotAvailable => "queue not available",
        BadFlags => "bad flags",
        TooBig => "too big",
        NoSections => "no sections",
        ContextNotFound => "context not found",
        TooManyGroups => "too many groups",
        Security => "security error",
    }
}

/// The crate's result type.
pub type Result<T> = std::result::Result<T, Error>;

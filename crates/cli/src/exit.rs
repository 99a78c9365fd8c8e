//! What the command's exit status means, for scripts:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done; for `status` and `quorum status`: the node is in a quorate partition |
//! | 1 | the daemon refused or failed the request (not found, access denied, …) |
//! | 2 | bad command line |
//! | 3 | no daemon answered: not running, stopped (SIGSTOP) or frozen, within `--timeout` |
//! | 4 | the daemon answered, but the node is not quorate (`status`, `quorum status`) |

use std::fmt;

/// A failure with a chosen exit code.
#[derive(Debug)]
pub struct Exit {
    pub code: i32,
    pub message: String,
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

pub const FAILED: i32 = 1;
pub const UNREACHABLE: i32 = 3;
pub const NOT_QUORATE: i32 = 4;

/// The exit code for an error chain: an [`Exit`] or a client error anywhere in it decides.
pub fn code_of(e: &anyhow::Error) -> i32 {
    for cause in e.chain() {
        if let Some(x) = cause.downcast_ref::<Exit>() {
            return x.code;
        }
        if let Some(c) = cause.downcast_ref::<client::Error>() {
            return if c.is_unreachable() { UNREACHABLE } else { FAILED };
        }
    }
    FAILED
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_cause() {
        let refused = client::Error::Cs {
            service: "cmap",
            code: client::CsError::NotExist,
        };
        assert_eq!(code_of(&anyhow::Error::new(refused).context("get x")), FAILED);
        let gone = client::Error::Ipc {
            service: "cmap",
            source: ipc::IpcError::Timeout,
        };
        assert_eq!(code_of(&anyhow::Error::new(gone).context("connect")), UNREACHABLE);
        let nq = Exit {
            code: NOT_QUORATE,
            message: "not quorate".into(),
        };
        assert_eq!(code_of(&anyhow::Error::new(nq)), NOT_QUORATE);
        assert_eq!(code_of(&anyhow::anyhow!("other")), FAILED);
    }
}

//! How a connection is opened.

use std::time::Duration;

/// Connection options shared by every service handle.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long to wait for the handshake and for each reply. A stopped or frozen daemon
    /// makes calls fail with a timeout after this long.
    pub timeout: Duration,
    /// The largest message asked for (corosync's libraries ask for 1 MiB).
    pub max_msg_size: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            timeout: ipc::client::DEFAULT_TIMEOUT,
            max_msg_size: ipc::client::DEFAULT_MAX_MSG_SIZE,
        }
    }
}

impl Options {
    /// The defaults with another timeout.
    pub fn with_timeout(timeout: Duration) -> Options {
        Options {
            timeout,
            ..Options::default()
        }
    }
}

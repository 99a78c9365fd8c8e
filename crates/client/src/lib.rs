//! A native Rust client for ferrosyncd (and for corosync 3 itself): cpg, cmap, quorum,
//! votequorum and cfg over libqb's shared-memory IPC, with no C library.
//!
//! The shape follows corosync's own Rust bindings (`rust-corosync`): one handle per
//! service, blocking calls, a pollable fd ([`std::os::fd::AsRawFd`]) that is readable
//! when events are pending, and `dispatch(DispatchFlags, handler)` to handle them. Where
//! the C API takes callbacks at initialisation, this one takes a closure per dispatch, and
//! events are enums.
//!
//! Errors keep corosync's codes ([`Error::cs_error`]); a stopped or frozen daemon makes
//! calls fail after [`Options::timeout`] with an error for which
//! [`Error::is_unreachable`] is true.
//!
//! Each module's documentation has an example: [`cpg`], [`cmap`], [`quorum`],
//! [`votequorum`], [`cfg`], and [`sam`] for process health checking; `examples/` has
//! programs to run against a daemon (`cpg_chat`, `cmap_dump`, `quorum_watch`, `cfg_links`,
//! `sam_worker`).

pub mod cfg;
pub mod cmap;
mod conn;
pub mod cpg;
mod error;
mod options;
pub mod quorum;
mod retry;
pub mod sam;
pub mod votequorum;

pub use conn::DispatchFlags;
pub use error::{cs_text, Error, Result};
pub use options::Options;
pub use retry::retry_try_again;
pub use services::votequorum::ipc::TrackFlags;
pub use services::CsError;
pub use totem::{NodeId, RingId};

/// Locks `m`, taking over from a holder that panicked: what these locks guard (a socket,
/// fragments being assembled, the right to send fragments) stays usable after a panic in
/// a caller's code.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

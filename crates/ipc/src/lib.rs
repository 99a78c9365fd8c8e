//! libqb 2.0-compatible IPC over shared memory: the server ferrosyncd runs so that the
//! unmodified corosync client libraries (libcpg, libcmap, libquorum, libvotequorum, libcfg)
//! and Pacemaker talk to it, and a native Rust client.
//!
//! Service-agnostic: whole messages (bytes with their libqb headers) move between clients
//! and the daemon; the services interpret them. Facts: `shared/reference/libqb-ipc.md`.
//!
//! # Server in a mio loop
//!
//! ```no_run
//! use std::time::Instant;
//! use ipc::{Server, ServerConfig, ServerEvent};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let mut poll = mio::Poll::new()?;
//! let mut server = Server::bind(ServerConfig::default())?; // @cfg @cpg @quorum @votequorum @cmap
//! server.register(poll.registry(), 1 << 20)?;               // tokens >= 1<<20 are the server's
//! let mut events = mio::Events::with_capacity(256);
//! loop {
//!     let timeout = server.poll_timeout().map(|t| t.saturating_duration_since(Instant::now()));
//!     poll.poll(&mut events, timeout)?;
//!     let now = Instant::now();
//!     for ev in &events {
//!         if server.owns(ev.token()) {
//!             server.handle_ready(ev.token(), now);
//!         }
//!     }
//!     server.handle_timeout(now);
//!     while let Some(ev) = server.poll_event() {
//!         match ev {
//!             ServerEvent::Connected { conn, service, creds } => { /* new client */ }
//!             ServerEvent::Request { conn, id, data } => {
//!                 // data = 16-byte request header + body; answer with a 24-byte
//!                 // response header + body (error CS_OK = 1), except cpg MCAST.
//!                 let _ = server.respond(conn, &data); // (an echo, for the example)
//!             }
//!             ServerEvent::Disconnected { conn } => { /* forget the client */ }
//!         }
//!     }
//! }
//! # }
//! ```
//!
//! * Tokens: the listeners use `token_base + i` (i = index in `services`), connection n
//!   uses `token_base + services.len() + n`, n growing, never reused. Give the server a
//!   base above every other token of the daemon.
//! * Time: `handle_ready`/`handle_timeout` take `now`; `poll_timeout` asks for a wake-up
//!   while events are queued behind a full event ring (every `event_retry_interval`) or a
//!   handshake is pending (`handshake_timeout`).
//! * Every `Connected` is followed by exactly one `Disconnected`, whatever the cause (the
//!   client closed, sent garbage, truncated its files, was too slow reading events, or the
//!   daemon called `disconnect`). The connection's directory and files are gone by then.
//! * SIGBUS: `Server::bind` (and `Client::connect`) install a process-wide SIGBUS handler
//!   once. It only repairs faults inside this crate's shared mappings (a client truncated
//!   a file: the page reads as zeros and the connection is dropped at its next access);
//!   any other SIGBUS gets the default action. Do not install another SIGBUS handler.
//! * Authorisation: root (uid 0 or gid 0) always; others per [`AccessPolicy`] (corosync's
//!   `uidgid.uid.*`/`uidgid.gid.*`). Refused clients get `-EACCES` in the handshake, which
//!   libqb clients return as `EACCES` (corosync libraries: `CS_ERR_ACCESS` / library error).
//! * The daemon must run as root to `chown` the files to non-root clients (Pacemaker's
//!   `hacluster` daemons) and because Pacemaker checks the server is root.
//!
//! # Client
//!
//! [`Client::connect`] does the handshake and maps the rings the server names; it works
//! against real libqb servers too. [`Client::send_recv`] for requests with a response,
//! [`Client::send`] for those without (cpg MCAST), [`Client::recv_event`] for events;
//! poll the client's fd for POLLIN to learn that an event is pending.

pub mod client;
mod conn;
pub mod error;
pub mod listener;
pub mod ring;
pub mod server;
mod session;
mod sys;
pub mod wire;

pub use client::Client;
pub use error::IpcError;
pub use listener::Credentials;
pub use server::{AccessPolicy, ConnId, Server, ServerConfig, ServerEvent};
pub use sys::install_sigbus_handler;

//! One IPC connection to one service: requests with checked replies, events, dispatch.

use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use ipc::IpcError;
use services::wire::{Reader, RESPONSE_HEADER};
use services::CsError;

use crate::error::{Error, Result};
use crate::options::Options;

/// libqb's `fc_enable_max` around a cpg multicast (libcpg sets 2 for `cpg_mcast_joined`).
const MCAST_FC_ENABLE_MAX: i32 = 2;

/// How [`dispatch`](crate::cpg::Cpg::dispatch) waits, as corosync's `cs_dispatch_flags_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DispatchFlags {
    /// Wait for one event and handle it (`CS_DISPATCH_ONE`).
    One = 1,
    /// Handle every event already pending, without waiting (`CS_DISPATCH_ALL`).
    All = 2,
    /// Handle events until the connection fails (`CS_DISPATCH_BLOCKING`).
    Blocking = 3,
    /// Handle at most one pending event, without waiting (`CS_DISPATCH_ONE_NONBLOCKING`).
    OneNonblocking = 4,
}

/// A connection to one service of the daemon.
#[derive(Debug)]
pub(crate) struct Conn {
    pub(crate) service: &'static str,
    ipc: ipc::Client,
}

impl Conn {
    pub(crate) fn open(service: &'static str, options: &Options) -> Result<Conn> {
        let ipc = ipc::Client::connect_timeout(service, options.max_msg_size, options.timeout)
            .map_err(|source| Error::Ipc { service, source })?;
        Ok(Conn { service, ipc })
    }

    fn ipc_err(&self, source: IpcError) -> Error {
        Error::Ipc {
            service: self.service,
            source,
        }
    }

    pub(crate) fn reply_err(&self, source: services::WireError) -> Error {
        Error::Reply {
            service: self.service,
            source,
        }
    }

    pub(crate) fn max_msg_size(&self) -> usize {
        self.ipc.max_msg_size()
    }

    /// Whether the daemon holds back cpg multicasts now (flow-control levels 1 and 2).
    pub(crate) fn flow_control_enabled(&self) -> bool {
        self.ipc.flow_control_at(MCAST_FC_ENABLE_MAX)
    }

    /// Sends `request` and returns the reply whatever its error code, after checking its id
    /// and that it holds at least `min_len` bytes (the C struct the reply id promises).
    pub(crate) fn call_raw(&self, request: &[u8], reply_id: i32, min_len: usize) -> Result<(CsError, Vec<u8>)> {
        let reply = self.ipc.send_recv(request).map_err(|e| self.ipc_err(e))?;
        let r = Reader::new(&reply);
        let got = r.i32(0).map_err(|e| self.reply_err(e))?;
        if got != reply_id {
            return Err(Error::UnexpectedReply {
                service: self.service,
                got,
                expected: reply_id,
            });
        }
        let code = CsError::from_raw(r.i32(16).map_err(|e| self.reply_err(e))?);
        // Error replies may be only a header; successful ones must be whole.
        let need = if code == CsError::Ok { min_len } else { RESPONSE_HEADER };
        r.need(need).map_err(|e| self.reply_err(e))?;
        Ok((code, reply))
    }

    /// Like [`Conn::call_raw`], but any code other than `CS_OK` is an error.
    pub(crate) fn call(&self, request: &[u8], reply_id: i32, min_len: usize) -> Result<Vec<u8>> {
        let (code, reply) = self.call_raw(request, reply_id, min_len)?;
        self.check(code)?;
        Ok(reply)
    }

    /// Walks a server-side iterator (cmap's and cpg's ITER_NEXT/ITER_FINALIZE): asks for
    /// items until `CS_ERR_NO_SECTIONS`, parses each, and always finalizes the handle;
    /// the first failure wins.
    pub(crate) fn iterate<T>(
        &self,
        handle: u64,
        next: (i32, i32, usize),
        finalize: (i32, i32),
        parse: impl Fn(&Reader<'_>) -> std::result::Result<T, services::WireError>,
    ) -> Result<Vec<T>> {
        let (next_id, next_reply, next_len) = next;
        let mut items = Vec::new();
        let result = loop {
            let mut w = services::wire::Writer::request(next_id, 24);
            w.u64(16, handle);
            let (code, reply) = match self.call_raw(&w.finish(), next_reply, next_len) {
                Ok(r) => r,
                Err(e) => break Err(e),
            };
            if code == CsError::NoSections {
                break Ok(());
            }
            if let Err(e) = self.check(code) {
                break Err(e);
            }
            match parse(&Reader::new(&reply)) {
                Ok(item) => items.push(item),
                Err(e) => break Err(self.reply_err(e)),
            }
        };
        let mut w = services::wire::Writer::request(finalize.0, 24);
        w.u64(16, handle);
        let finalized = self.call(&w.finish(), finalize.1, RESPONSE_HEADER);
        result?;
        finalized?;
        Ok(items)
    }

    pub(crate) fn check(&self, code: CsError) -> Result<()> {
        if code == CsError::Ok {
            Ok(())
        } else {
            Err(Error::Cs {
                service: self.service,
                code,
            })
        }
    }

    /// Sends a request that has no reply (cpg MCAST). `CS_ERR_TRY_AGAIN` under flow control,
    /// at the level libcpg's `cpg_mcast_joined` obeys: the daemon's level-2 flow control
    /// (corosync's `QB_IPCS_RATE_OFF_2`) stops it while other calls still pass.
    pub(crate) fn send(&self, request: &[u8]) -> Result<()> {
        self.ipc
            .send_limited(request, MCAST_FC_ENABLE_MAX)
            .map_err(|e| match e {
                IpcError::TryAgain => Error::Cs {
                    service: self.service,
                    code: CsError::TryAgain,
                },
                other => self.ipc_err(other),
            })
    }

    /// Waits up to `timeout` (`None`: forever) for one event.
    pub(crate) fn next_event(&self, timeout: Option<Duration>) -> Result<Option<Vec<u8>>> {
        self.ipc.recv_event(timeout).map_err(|e| self.ipc_err(e))
    }

    /// Runs `handle` on events as `flags` says; returns how many were handled.
    pub(crate) fn dispatch(
        &self,
        flags: DispatchFlags,
        mut handle: impl FnMut(&Conn, Vec<u8>) -> Result<()>,
    ) -> Result<usize> {
        let mut handled = 0;
        loop {
            let wait = match flags {
                DispatchFlags::One if handled == 0 => None,
                DispatchFlags::Blocking => None,
                _ => Some(Duration::ZERO),
            };
            let Some(event) = self.next_event(wait)? else {
                return Ok(handled);
            };
            handle(self, event)?;
            handled += 1;
            if matches!(flags, DispatchFlags::One | DispatchFlags::OneNonblocking) {
                return Ok(handled);
            }
        }
    }
}

impl AsRawFd for Conn {
    fn as_raw_fd(&self) -> RawFd {
        self.ipc.as_raw_fd()
    }
}

impl std::os::fd::AsFd for Conn {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.ipc.as_fd()
    }
}

/// The id of an event (its response header's id).
pub(crate) fn event_id(event: &[u8]) -> Option<i32> {
    Reader::new(event).i32(0).ok()
}

/// Implements the pollable-fd part of a service handle.
macro_rules! service_fd {
    ($t:ty) => {
        impl std::os::fd::AsRawFd for $t {
            /// The connection's fd: readable when an event is pending (`*_fd_get`).
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                self.conn.as_raw_fd()
            }
        }

        impl std::os::fd::AsFd for $t {
            /// The connection's fd, for `poll`/`mio` (readable: an event is pending).
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(&self.conn)
            }
        }
    };
}
pub(crate) use service_fd;

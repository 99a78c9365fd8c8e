//! Identifiers shared by every service: services, client connections, credentials.

use std::fmt;

/// corosync's service ids (`include/corosync/corodefs.h`); exec message ids are
/// `service << 16 | fn`, and the sync protocol runs the services in this order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u16)]
pub enum ServiceId {
    Cmap = 0,
    Cfg = 1,
    Cpg = 2,
    Quorum = 3,
    Votequorum = 5,
}

impl ServiceId {
    pub const ALL: [ServiceId; 5] = [
        ServiceId::Cmap,
        ServiceId::Cfg,
        ServiceId::Cpg,
        ServiceId::Quorum,
        ServiceId::Votequorum,
    ];

    pub fn from_raw(v: u16) -> Option<ServiceId> {
        ServiceId::ALL.into_iter().find(|s| *s as u16 == v)
    }

    /// The IPC name clients connect to (`exec/ipc_glue.c cs_ipcs_serv_short_name`).
    pub fn ipc_name(self) -> &'static str {
        match self {
            ServiceId::Cmap => "cmap",
            ServiceId::Cfg => "cfg",
            ServiceId::Cpg => "cpg",
            ServiceId::Quorum => "quorum",
            ServiceId::Votequorum => "votequorum",
        }
    }

    pub fn from_ipc_name(name: &str) -> Option<ServiceId> {
        ServiceId::ALL.into_iter().find(|s| s.ipc_name() == name)
    }

    /// The exec message id of function `f` of this service.
    pub fn exec_id(self, f: u16) -> i32 {
        ((self as i32) << 16) | i32::from(f)
    }
}

impl fmt::Display for ServiceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.ipc_name())
    }
}

/// One client connection, as the host (IPC server or simulator) names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConnId(pub u64);

impl fmt::Display for ConnId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "conn#{}", self.0)
    }
}

/// The peer credentials of a client process (SO_PEERCRED).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Credentials {
    pub pid: u32,
    pub uid: u32,
    pub gid: u32,
}

/// A process in a CPG group: the node it runs on and its pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProcessId {
    pub node: u32,
    pub pid: u32,
}

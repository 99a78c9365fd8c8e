//! ferrosync's CRM runtime as sans-IO state machines.
//!
//! Like `totem` and `services`, nothing here opens a socket, reads a clock or starts
//! a thread: inputs are CPG deliveries and configuration changes of the CRM group,
//! quorum changes, timer expiries and `now`; outputs are messages to multicast and
//! writes to ask of the CIB manager, polled by the host. Everything is deterministic,
//! so the simulator can drive it.
//!
//! - [`messages`]: the versioned, bounded wire format of the CRM group.
//! - [`membership`]: the view of the group and of quorum, and the DC, chosen without
//!   an election (the module documentation explains why none is needed).
//! - [`attrd`]: node attributes (pacemaker-attrd): replicated in agreed order,
//!   dampened, synchronised to joiners and across merges, written by the DC.
//! - [`node`]: [`CrmNode`], the three behind one host interface.
//! - [`cib_manager`]: the replicated CIB (pacemaker-based): patchsets in agreed order,
//!   sync rounds on joins and merges, persistence asked of the host.
//! - [`cib_store`]: the CIB on disk (`cib.xml`, `.sig`, backups); the one module here
//!   that does I/O.

pub mod attrd;
pub mod cib_manager;
pub mod cib_store;
pub mod dc;
pub mod effects;
pub mod ids;
pub mod local;
pub mod lrm;
pub mod membership;
pub mod messages;
pub mod node;
pub mod ops;
pub mod status;
pub mod transition;

#[cfg(test)]
mod crm_sim;
#[cfg(test)]
mod harness;

pub use attrd::{Attrd, CibRequest, RequestError};
pub use ids::{AttrName, AttrValue, NodeId, ProcessId, ValueError};
pub use membership::{dc_candidate, Confchg, Membership, NoQuorumPolicy};
pub use messages::{AttrChange, Change, Envelope};
pub use node::{CrmNode, DeliverError, Output, UpdateError};

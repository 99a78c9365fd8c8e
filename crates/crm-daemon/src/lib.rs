//! `ferrosync-crmd`: the host process of ferrosync's CRM. It runs one
//! [`crmd::CrmNode`] (membership and DC, attributes, the replicated CIB, the
//! controller) over ferrosyncd's CPG and quorum services, runs the agents it asks for
//! with the `executor` and `fencer` crates, keeps the CIB on disk with
//! [`crmd::cib_store`], and serves a control socket for the command line.
//!
//! - [`host`]: the event loop;
//! - [`agents`]: agent and fencing requests on the executor and the fencer;
//! - [`config`]: fence devices, topology and `no-quorum-policy` read from the CIB;
//! - [`control`]: the control socket and its requests;
//! - [`ops_text`]: the JSON form of CIB operations;
//! - [`sendq`]: multicasts held back by CPG flow control;
//! - [`tools`]: `crm_attribute`, `crm_master`, `attrd_updater`, `crm_node` for the agents;
//! - [`logging`]: stderr or a reopenable log file;
//! - [`local`]: a local cluster of real processes in namespaces (demo, benchmarks, tests).

pub mod agents;
pub mod config;
pub mod control;
pub mod host;
pub mod local;
pub mod logging;
pub mod ops_text;
pub mod sendq;
pub mod tools;

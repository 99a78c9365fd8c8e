//! Resource-manager tools over the [`cib`] and [`scheduler`] crates:
//!
//! - [`output`]: `crm_simulate` text; [`simulate`]: injections, executing a
//!   graph into the revised status, and the four-section report;
//! - [`conformance`]: the harness over Pacemaker's scheduler regression cases
//!   and the CI gate's lists of passing case names;
//! - [`fuzzgen`]: random small CIBs for differential testing.

pub mod admin;
pub mod conformance;
pub mod fuzzgen;
pub mod mon;
pub mod names;
pub mod output;
pub mod simulate;

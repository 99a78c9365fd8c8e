//! Resource manager: CIB model, Pacemaker-compatible scheduler and the
//! `crm_simulate`-style text output.
//!
//! - [`cib`]: CIB XML model, validation and op-digests;
//! - [`unpack`]: CIB → [`model::Cluster`] (node and resource state);
//! - [`scheduler`]: placement, actions, orderings → transition graph;
//! - [`output`]: `crm_simulate` text; [`simulate`]: injections + report.

pub mod cib;
pub mod conformance;
pub mod fuzzgen;
pub mod model;
pub mod output;
pub mod rules;
pub mod scheduler;
pub mod score;
pub mod simulate;
pub mod unpack;
pub mod xml;

pub use cib::{Cib, CibError};
pub use scheduler::{schedule, Options, TransitionGraph};

//! Deterministic simulator for the Totem core, in the style of TigerBeetle's VOPR.
//!
//! A run is a pure function of one `u64` seed: N real [`totem::Totem`] nodes exchange
//! datagrams over a virtual network in virtual time, under a seed-chosen mix of faults
//! and workload, while invariant checkers watch every delivery and configuration
//! change. A safety phase with faults is followed by a liveness phase on a healed
//! cluster that must converge and deliver everything.
//!
//! ```no_run
//! let report = sim::run(&sim::SimOptions { seed: 7, ..Default::default() });
//! assert!(report.passed(), "{}", report.summary());
//! ```

pub mod demo;
pub mod engine;
pub mod faults;
pub mod history;
pub mod invariants;
pub mod network;
pub mod node;
pub mod packets;
pub mod regressions;
pub mod report;
pub mod run;
pub mod scenario;
pub mod workload;

pub use engine::Mutation;
pub use report::{Failure, RunReport};
pub use run::{run, SimOptions};

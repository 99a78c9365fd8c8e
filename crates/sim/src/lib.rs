//! Deterministic simulator for the Totem core, in the style of TigerBeetle's VOPR.
//!
//! A run is a pure function of one `u64` seed: N real [`totem::Totem`] nodes exchange
//! datagrams over a virtual network in virtual time, under a seed-chosen mix of faults
//! and workload (swarm testing), while invariant checkers watch every delivery and
//! configuration change. A safety phase with faults is followed by a liveness phase on
//! a healed cluster that must converge to one ring and deliver everything.
//!
//! Layout: [`scenario`] (what a seed decides) → [`mod@run`] (phases) → [`engine`] (event
//! loop driving the nodes) with [`network`], [`faults`], [`workload`] and [`node`]
//! (the host around one Totem); observations go to [`history`] and are judged by
//! [`invariants`] (one property per file); [`report`] holds results and the timeline.
//!
//! ```no_run
//! let report = sim::run(&sim::SimOptions { seed: 7, ..Default::default() });
//! assert!(report.passed(), "{}", report.summary());
//! ```
//!
//! From the command line: `sim --seed 7 -v` (timeline; `-vv` adds every datagram),
//! `sim --seeds 0..2000` (sweep), `sim --seeds 0..300 --nodes 32`, `sim demo`.
//!
//! Sweeps run with Totem's debug assertions and overflow checks on, in the optimised
//! `sweep` profile: `cargo run --profile sweep -p sim -- --seeds A..B` (as CI does).
//! `sim --plant skip-gap|swap-transitional|drop-recovery-resends|eager-silence` plants a
//! protocol bug in every node, to see the checkers catch it; `sim --plant
//! cpg-stale-downlist` plants a CPG bug in node 1's host.

pub mod clients;
pub mod cpg_history;
pub mod demo;
pub mod engine;
pub mod faults;
pub mod history;
pub mod invariants;
pub mod latency;
pub mod network;
pub mod node;
pub mod packets;
pub mod regressions;
pub mod report;
pub mod run;
pub mod scenario;
pub mod service_mutations;
pub mod workload;

pub use engine::Mutation;
pub use report::{Failure, RunReport};
pub use run::{run, SimOptions};

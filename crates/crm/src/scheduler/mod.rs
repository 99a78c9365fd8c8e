//! The scheduler: a pure function from a CIB to a transition graph.
//!
//! Pipeline (after Pacemaker's `pcmk__schedule_actions`): unpack status,
//! node criteria (locations, stickiness, failures), assignment in priority
//! order, action creation, orderings and flag propagation, graph.

pub mod actions;
mod clone_order;
pub mod constraints;
pub mod graph;
pub mod placement;

use crate::cib::Cib;
use crate::model::Cluster;
pub use actions::{Action, ActionSet, Edge};
pub use graph::TransitionGraph;

/// Scheduler inputs besides the CIB.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Effective "now" in seconds since the epoch; defaults to the CIB's
    /// `execution-date`, else the current time.
    pub now: Option<i64>,
}

/// Everything the scheduler computed, for display and execution.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// The cluster as unpacked, with assignments and next roles filled in.
    pub cluster: Cluster,
    pub actions: Vec<Action>,
    pub edges: Vec<Edge>,
}

/// Effective time for a CIB.
pub fn effective_now(cib: &Cib, opts: &Options) -> i64 {
    opts.now.or(cib.execution_date).unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    })
}

/// Runs the whole scheduler and returns the detailed result.
pub fn run(cib: &Cib, opts: &Options) -> Schedule {
    let now = effective_now(cib, opts);
    let mut cluster = crate::unpack::unpack(cib, now);
    placement::apply_node_criteria(&mut cluster);
    placement::apply_node_health(&mut cluster);
    let cons = constraints::unpack_constraints(cib, &mut cluster);
    placement::apply_stickiness_and_failures(&mut cluster);
    placement::apply_tickets(&mut cluster, &cons);
    {
        let mut a = placement::Assigner::new(&mut cluster, &cons);
        a.assign_all();
    }
    let set = actions::create_actions(cib, &mut cluster, &cons);
    Schedule {
        cluster,
        actions: set.actions,
        edges: set.edges,
    }
}

/// `schedule(&Cib, &Options) -> TransitionGraph`.
pub fn schedule(cib: &Cib, opts: &Options) -> TransitionGraph {
    let s = run(cib, opts);
    graph::build(&s)
}

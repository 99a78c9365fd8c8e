//! `crm_simulate`-style simulation: inject events into a CIB, schedule,
//! "execute" the transition (every action succeeds), and render the four
//! sections of the report.

use cib::xml::Element;
use cib::Cib;
use scheduler::graph::GraphAction;
use scheduler::model::Cluster;
use scheduler::{self, Options, Schedule, TransitionGraph};

use crate::names::ResourceNames;
use crate::output;

mod inject;
pub mod results;
mod typed_store;
mod xml_store;

pub use inject::{inject, InjectError, Injections};

/// The rendered report and the underlying results.
#[derive(Debug, Clone)]
pub struct Simulation {
    pub schedule: Schedule,
    pub graph: TransitionGraph,
    /// The CIB with the transition's results in its typed status; its
    /// element tree is the original's ([`Simulation::revised_document`]
    /// writes them into one).
    pub revised_cib: Cib,
    pub revised: Cluster,
    pub current_text: String,
    pub summary_text: String,
    pub executed_text: String,
    pub revised_text: String,
}

impl Simulation {
    /// `cib` (the CIB simulated) as crm_simulate saves it after the
    /// transition (`--save-output`): the element tree with every result
    /// written into its status, as the typed status has them. `now` is the
    /// simulation's.
    pub fn revised_document(&self, cib: &Cib, now: i64) -> Element {
        let mut root = (*cib.root).clone();
        let names = ResourceNames::of(&self.schedule.cluster);
        results::record_transition(&mut root, &self.graph.executed(), &names, now);
        root
    }

    /// The full report in `crm_simulate -S` layout.
    pub fn report(&self) -> String {
        self.report_noting(None)
    }

    /// The report with a note on the effective date, which crm_simulate
    /// prints each time it unpacks the CIB: before the current and before
    /// the revised status (`set_effective_date`).
    pub fn report_noting(&self, date_note: Option<&str>) -> String {
        let note = date_note.map(|n| format!("{n}\n")).unwrap_or_default();
        format!(
            "{note}Current cluster status:\n{}\nTransition Summary:\n{}\nExecuting Cluster Transition:\n{}{note}\nRevised Cluster Status:\n{}",
            self.current_text, self.summary_text, self.executed_text, self.revised_text
        )
    }
}

/// Executes a graph as crm_simulate does: every action it runs
/// ([`TransitionGraph::executed`]) succeeds, its result is written into a
/// copy of the CIB's status ([`results::record_transition`]), and the
/// cluster is what unpacking that CIB gives. `names` are those of `cib`'s
/// resources as unpacked.
pub fn execute(cib: &Cib, executed: &[&GraphAction], names: &ResourceNames, opts: &Options) -> (Cib, Cluster) {
    let mut status = (*cib.status).clone();
    results::record_transition(&mut status, executed, names, opts.now);
    let revised = cib.with_status(status);
    let cluster = scheduler::unpack::unpack_with(&revised, opts);
    (revised, cluster)
}

/// Runs the full simulation on a CIB.
pub fn simulate(cib: &Cib, opts: &Options) -> Simulation {
    // Status is displayed from the CIB as unpacked, without anything the
    // scheduler derived (bans, tickets, fencing decisions).
    let base = scheduler::unpack::unpack_with(cib, opts);
    let schedule = scheduler::run_unpacked(cib, base.clone());
    let graph = scheduler::graph::build(&schedule);
    let current_text = output::cluster_status(&base);
    let summary_text = output::transition_summary(&schedule);
    let names = ResourceNames::of(&base);
    let executed = graph.executed();
    let executed_text = output::executed_actions(&executed, &names);
    let (revised_cib, revised) = execute(cib, &executed, &names, opts);
    drop(executed);
    let revised_text = output::cluster_status(&revised);
    Simulation {
        schedule,
        graph,
        revised_cib,
        revised,
        current_text,
        summary_text,
        executed_text,
        revised_text,
    }
}

/// The system clock in seconds since the epoch, for tools that simulate
/// "now" (the scheduler itself never reads a clock).
pub fn system_clock() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

//! `crm_simulate`-style simulation: inject events into a CIB, schedule,
//! "execute" the transition (every action succeeds), and render the four
//! sections of the report.

use crate::output;
use cib::xml::Element;
use cib::{Cib, CibError};
use scheduler::ids::clone_strip;
use scheduler::model::Cluster;

use crate::names::ResourceNames;

pub mod results;
mod typed_store;
mod xml_store;
use scheduler::{self, Options, Schedule, TransitionGraph};

/// Events to inject before scheduling, like `crm_simulate`'s options.
#[derive(Debug, Clone, Default)]
pub struct Injections {
    pub node_up: Vec<String>,
    pub node_down: Vec<String>,
    pub node_fail: Vec<String>,
    /// `rsc_task_intervalms@node=rc`.
    pub op_inject: Vec<String>,
    pub quorum: Option<bool>,
}

/// Why an injection could not be applied.
#[derive(Debug, thiserror::Error)]
pub enum InjectError {
    #[error("invalid operation injection '{0}': expected rsc_task_interval@node=rc")]
    BadOpSpec(String),
    #[error("cannot inject '{spec}': unknown resource '{rsc}'")]
    UnknownResource { spec: String, rsc: String },
    #[error("cannot inject for unknown node '{0}'")]
    UnknownNode(String),
    #[error(transparent)]
    Cib(#[from] CibError),
}

/// The rendered report and the underlying results.
#[derive(Debug, Clone)]
pub struct Simulation {
    pub schedule: Schedule,
    pub graph: TransitionGraph,
    /// The CIB with the transition's results in its (typed) status.
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
        results::record_transition(&mut root, &self.graph, &names, now);
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

fn node_state_mut<'a>(root: &'a mut Element, cib: &Cib, node: &str) -> Result<&'a mut Element, InjectError> {
    let def = cib
        .configuration
        .nodes
        .iter()
        .find(|n| n.uname == node || n.id == node)
        .ok_or_else(|| InjectError::UnknownNode(node.to_string()))?;
    let (id, uname) = (def.id.clone(), def.uname.clone());
    if root.child("status").is_none() {
        root.push(Element::new("status"));
    }
    let status = root.child_mut("status").expect("just ensured");
    let pos = status.elements().position(|e| {
        e.name == "node_state" && (e.attr("id") == Some(id.as_str()) || e.attr("uname") == Some(uname.as_str()))
    });
    if pos.is_none() {
        let mut e = Element::new("node_state");
        e.set_attr("id", id.clone());
        e.set_attr("uname", uname.clone());
        status.push(e);
    }
    let st = status
        .elements_mut()
        .filter(|e| e.name == "node_state")
        .find(|e| e.attr("id") == Some(id.as_str()) || e.attr("uname") == Some(uname.as_str()))
        .expect("just ensured");
    Ok(st)
}

fn set_node(st: &mut Element, in_ccm: &str, crmd: &str, join: &str, expected: &str) {
    st.set_attr("in_ccm", in_ccm);
    st.set_attr("crmd", crmd);
    st.set_attr("join", join);
    st.set_attr("expected", expected);
}

/// Applies injections to a CIB (returns the modified CIB).
pub fn inject(cib: &Cib, inj: &Injections) -> Result<Cib, InjectError> {
    let mut root = (*cib.root).clone();
    if let Some(q) = inj.quorum {
        root.set_attr("have-quorum", if q { "1" } else { "0" });
    }
    for n in &inj.node_up {
        let st = node_state_mut(&mut root, cib, n)?;
        set_node(st, "true", "online", "member", "member");
    }
    for n in &inj.node_down {
        let st = node_state_mut(&mut root, cib, n)?;
        set_node(st, "false", "offline", "down", "down");
    }
    for n in &inj.node_fail {
        let st = node_state_mut(&mut root, cib, n)?;
        set_node(st, "false", "offline", "down", "member");
    }
    let mut call_id = 1000;
    for spec in &inj.op_inject {
        let (key, rest) = spec
            .split_once('@')
            .ok_or_else(|| InjectError::BadOpSpec(spec.clone()))?;
        let (node, rc) = rest
            .split_once('=')
            .ok_or_else(|| InjectError::BadOpSpec(spec.clone()))?;
        let rc: i32 = rc.parse().map_err(|_| InjectError::BadOpSpec(spec.clone()))?;
        let mut parts: Vec<&str> = key.rsplitn(3, '_').collect();
        if parts.len() != 3 {
            return Err(InjectError::BadOpSpec(spec.clone()));
        }
        parts.reverse();
        let (rsc, task, interval) = (parts[0], parts[1], parts[2]);
        let interval: u64 = interval.parse().map_err(|_| InjectError::BadOpSpec(spec.clone()))?;
        let def = find_primitive(cib, rsc).ok_or_else(|| InjectError::UnknownResource {
            spec: spec.clone(),
            rsc: rsc.to_string(),
        })?;
        let st = node_state_mut(&mut root, cib, node)?;
        if st.child("lrm").is_none() {
            let mut lrm = Element::new("lrm");
            lrm.set_attr("id", st.attr("id").unwrap_or_default().to_string());
            st.push(lrm);
        }
        let lrm = st.child_mut("lrm").expect("ensured");
        if lrm.child("lrm_resources").is_none() {
            lrm.push(Element::new("lrm_resources"));
        }
        let rs = lrm.child_mut("lrm_resources").expect("ensured");
        if !rs
            .elements()
            .any(|e| e.name == "lrm_resource" && e.attr("id") == Some(rsc))
        {
            let mut e = Element::new("lrm_resource");
            e.set_attr("id", rsc);
            e.set_attr("class", def.0.clone());
            if let Some(p) = &def.1 {
                e.set_attr("provider", p.clone());
            }
            e.set_attr("type", def.2.clone());
            rs.push(e);
        }
        let lr = rs
            .elements_mut()
            .find(|e| e.name == "lrm_resource" && e.attr("id") == Some(rsc))
            .expect("ensured");
        let target = if task == "monitor" && interval == 0 { 7 } else { 0 };
        call_id += 1;
        let mut op = Element::new("lrm_rsc_op");
        let id = if interval > 0 {
            format!("{rsc}_{task}_{interval}")
        } else if rc != target {
            format!("{rsc}_last_failure_0")
        } else {
            format!("{rsc}_last_0")
        };
        op.set_attr("id", id);
        op.set_attr("operation_key", format!("{rsc}_{task}_{interval}"));
        op.set_attr("operation", task);
        op.set_attr(
            "transition-key",
            format!("0:0:{target}:00000000-0000-0000-0000-000000000000"),
        );
        op.set_attr("call-id", call_id.to_string());
        op.set_attr("rc-code", rc.to_string());
        op.set_attr("op-status", if rc == target { "0" } else { "4" });
        op.set_attr("interval", interval.to_string());
        lr.push(op);
    }
    Ok(Cib::from_element(root)?)
}

fn find_primitive(cib: &Cib, id: &str) -> Option<(String, Option<String>, String)> {
    fn walk(defs: &[cib::ResourceDef], id: &str) -> Option<(String, Option<String>, String)> {
        for d in defs {
            match &d.kind {
                cib::ResourceKind::Primitive {
                    class, provider, ty, ..
                } => {
                    if d.id == id || clone_strip(id) == d.id {
                        return Some((class.clone(), provider.clone(), ty.clone()));
                    }
                }
                cib::ResourceKind::Group { children } => {
                    if let Some(x) = walk(children, id) {
                        return Some(x);
                    }
                }
                cib::ResourceKind::Clone { child, .. } => {
                    if let Some(x) = walk(std::slice::from_ref(child), id) {
                        return Some(x);
                    }
                }
                cib::ResourceKind::Bundle(b) => {
                    if let Some(x) = b.child.as_ref().and_then(|ch| walk(std::slice::from_ref(ch), id)) {
                        return Some(x);
                    }
                }
            }
        }
        None
    }
    walk(&cib.configuration.resources, id)
}

/// Executes the graph as crm_simulate does: every action succeeds, its
/// result is written into a copy of the CIB's status
/// ([`results::record_transition`]), and the cluster is what unpacking that
/// CIB gives. `names` are those of `cib`'s resources as unpacked.
pub fn execute(cib: &Cib, g: &TransitionGraph, names: &ResourceNames, opts: &Options) -> (Cib, Cluster) {
    let mut status = (*cib.status).clone();
    results::record_transition(&mut status, g, names, opts.now);
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
    let executed_text = output::executed_actions(&graph, &names);
    let (revised_cib, revised) = execute(cib, &graph, &names, opts);
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

//! The scheduler: a pure function from a CIB to a transition graph.
//!
//! Pipeline (after Pacemaker's `pcmk__schedule_actions`): unpack status,
//! node criteria (locations, stickiness, failures), assignment in priority
//! order, action creation, orderings and flag propagation, graph.
//!
//! [`unpack`] turns the CIB into a [`model::Cluster`] (node and resource
//! state); [`run`] / [`schedule`] plan from it. Nothing here reads a clock or
//! does I/O: "now" comes in through [`Options`].

pub mod action_set;
pub mod actions;
pub mod anti_colocation;
pub mod bundle;
pub mod cleanup;
mod clone_order;
pub mod coloc_sets;
mod connect;
pub mod constraint_types;
pub mod constraints;
pub mod digests;
mod fail_names;
pub mod failcount;
mod failure_block;
pub mod graph;
pub mod graph_details;
mod history;
pub mod ids;
pub mod migration;
pub mod model;
pub mod notify;
pub mod op_meta;
pub mod order_sets;
pub mod placement;
mod plan;
pub mod probes;
pub mod promotable;
pub mod recurring;
pub mod remote;
pub mod shutdown_lock;
pub mod task;
pub mod unfencing;
pub mod unpack;
pub mod utilization;
mod version;

pub use action_set::{Action, ActionSet, Edge};
use cib::Cib;
pub use graph::TransitionGraph;
pub use plan::{Options, Schedule};
pub use task::{ActionId, Task};

/// Runs the whole scheduler and returns the detailed result.
pub fn run(cib: &Cib, opts: &Options) -> Schedule {
    run_unpacked(cib, unpack::unpack_with(cib, opts))
}

/// [`run`] from the cluster as `unpack::unpack_with(cib, opts)` returns it
/// (for callers that keep a copy of the unpacked status).
pub fn run_unpacked(cib: &Cib, mut cluster: model::Cluster) -> Schedule {
    placement::apply_node_criteria(&mut cluster);
    shutdown_lock::apply_shutdown_locks(&mut cluster);
    placement::apply_node_health(&mut cluster);
    let mut cons = constraints::unpack_constraints(cib, &mut cluster);
    cluster.failcount_clears = failcount::param_change_clears(cib, &cluster);
    placement::apply_stickiness_and_failures(&mut cluster);
    remote::apply_exclusive_discovery(&mut cluster);
    placement::apply_tickets(&mut cluster, &cons);
    bundle::apply(&mut cluster, &mut cons);
    remote::internal_constraints(&mut cluster, &mut cons);
    {
        let mut a = placement::Assigner::new(&mut cluster, &cons);
        a.assign_all();
    }
    remote::plan_fencing(&mut cluster);
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

/// Small CIBs for the scheduler's unit tests.
#[cfg(test)]
pub(crate) mod testutil {
    use cib::Cib;

    /// A quorate cluster of online nodes `n1..=nodes` without fencing,
    /// with the given resources, constraints and node attributes
    /// (`(node number, name, value)`).
    pub fn cib(nodes: usize, resources: &str, constraints: &str, attrs: &[(usize, &str, &str)]) -> Cib {
        cib_running(nodes, resources, constraints, attrs, &[])
    }

    /// [`cib`] where each `(node number, resource)` of `running` was
    /// started successfully (a Dummy primitive's history).
    pub fn cib_running(
        nodes: usize,
        resources: &str,
        constraints: &str,
        attrs: &[(usize, &str, &str)],
        running: &[(usize, &str)],
    ) -> Cib {
        Cib::parse(&cib_running_xml(nodes, resources, constraints, attrs, running)).expect("test CIB parses")
    }

    /// The text of [`cib`], for tests that add to its status.
    pub fn cib_xml(nodes: usize, resources: &str, constraints: &str, attrs: &[(usize, &str, &str)]) -> String {
        cib_running_xml(nodes, resources, constraints, attrs, &[])
    }

    fn cib_running_xml(
        nodes: usize,
        resources: &str,
        constraints: &str,
        attrs: &[(usize, &str, &str)],
        running: &[(usize, &str)],
    ) -> String {
        let mut node_defs = String::new();
        let mut states = String::new();
        for i in 1..=nodes {
            node_defs.push_str(&format!("<node id=\"{i}\" uname=\"n{i}\"/>"));
            let mut a = String::new();
            for (j, (n, name, value)) in attrs.iter().enumerate() {
                if *n == i {
                    a.push_str(&format!("<nvpair id=\"a{i}-{j}\" name=\"{name}\" value=\"{value}\"/>"));
                }
            }
            let lrm: String = running
                .iter()
                .filter(|(n, _)| *n == i)
                .map(|(_, r)| {
                    format!(
                        "<lrm_resource id=\"{r}\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">\
                         <lrm_rsc_op id=\"{r}_last_0\" operation_key=\"{r}_start_0\" operation=\"start\" \
                         call-id=\"1\" rc-code=\"0\" op-status=\"0\" interval=\"0\" \
                         transition-key=\"1:1:0:x\" transition-magic=\"0:0;1:1:0:x\"/></lrm_resource>"
                    )
                })
                .collect();
            let lrm = if lrm.is_empty() {
                lrm
            } else {
                format!("<lrm id=\"{i}\"><lrm_resources>{lrm}</lrm_resources></lrm>")
            };
            states.push_str(&format!(
                "<node_state id=\"{i}\" uname=\"n{i}\" in_ccm=\"true\" crmd=\"online\" join=\"member\" \
                 expected=\"member\"><transient_attributes id=\"{i}\"><instance_attributes id=\"s{i}\">{a}\
                 </instance_attributes></transient_attributes>{lrm}</node_state>"
            ));
        }
        format!(
            "<cib epoch=\"1\" num_updates=\"0\" admin_epoch=\"0\" validate-with=\"pacemaker-3.0\" have-quorum=\"1\">\
             <configuration><crm_config><cluster_property_set id=\"o\">\
             <nvpair id=\"o1\" name=\"stonith-enabled\" value=\"false\"/></cluster_property_set></crm_config>\
             <nodes>{node_defs}</nodes><resources>{resources}</resources><constraints>{constraints}</constraints>\
             </configuration><status>{states}</status></cib>"
        )
    }

    /// `xml` (from [`cib_xml`]) with a history for Dummy resource `rsc` on
    /// node `node`: operations `(task, interval ms, rc)` in call order.
    /// The node must have no history yet.
    pub fn with_history(xml: &str, node: usize, rsc: &str, ops: &[(&str, u32, u32)]) -> Cib {
        let entries: String = ops
            .iter()
            .enumerate()
            .map(|(i, (task, interval, rc))| {
                let call = i + 1;
                let id = if *interval == 0 {
                    format!("{rsc}_last_0")
                } else {
                    format!("{rsc}_{task}_{interval}")
                };
                format!(
                    "<lrm_rsc_op id=\"{id}\" operation_key=\"{rsc}_{task}_{interval}\" operation=\"{task}\" \
                     call-id=\"{call}\" rc-code=\"{rc}\" op-status=\"0\" interval=\"{interval}\" \
                     transition-key=\"{call}:1:0:x\" transition-magic=\"0:{rc};{call}:1:0:x\"/>"
                )
            })
            .collect();
        let lrm = format!(
            "<lrm id=\"{node}\"><lrm_resources><lrm_resource id=\"{rsc}\" class=\"ocf\" provider=\"pacemaker\" \
             type=\"Dummy\">{entries}</lrm_resource></lrm_resources></lrm>"
        );
        let state = format!("<node_state id=\"{node}\"");
        let from = xml.find(&state).expect("the node's state");
        let at = from + xml[from..].find("</node_state>").expect("its end");
        Cib::parse(&format!("{}{lrm}{}", &xml[..at], &xml[at..])).expect("test CIB parses")
    }

    /// A Dummy primitive.
    pub fn dummy(id: &str) -> String {
        format!("<primitive id=\"{id}\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"/>")
    }

    /// A clone of `inner` with the given meta attributes.
    pub fn clone(id: &str, inner: &str, meta: &[(&str, &str)]) -> String {
        let nv: String = meta
            .iter()
            .map(|(k, v)| format!("<nvpair id=\"{id}-{k}\" name=\"{k}\" value=\"{v}\"/>"))
            .collect();
        format!("<clone id=\"{id}\"><meta_attributes id=\"{id}-m\">{nv}</meta_attributes>{inner}</clone>")
    }

    /// The scheduler's result for a CIB ("now" is its execution-date, else
    /// the epoch).
    pub fn run(cib: &Cib) -> super::Schedule {
        super::run(cib, &super::Options::for_cib(cib, None, || 0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_is_the_given_date_else_the_execution_date_else_the_clock() {
        let dated = testutil::cib(1, "", "", &[]);
        let mut with_date = dated.clone();
        with_date.execution_date = Some(500);
        assert_eq!(Options::for_cib(&with_date, Some(7), || 9).now, 7);
        assert_eq!(Options::for_cib(&with_date, None, || 9).now, 500);
        assert_eq!(Options::for_cib(&dated, None, || 9).now, 9);
    }
}

//! A simulated transition's results written into the CIB's status, as
//! crm_simulate writes them (`simulate_resource_action`,
//! `simulate_fencing_action`, `pcmk__create_history_xml`): every resource
//! action succeeds with its expected result and leaves an `lrm_rsc_op`;
//! fencing takes the node down and clears its history and transient
//! attributes; pseudo-events and other node events record nothing. The
//! revised status is then whatever unpacking that status gives, so it
//! follows the same history rules as any real CIB.
//!
//! The same writes go to either store ([`HistoryStore`]): the typed status
//! the scheduler reads (a copy of it costs a fifth of a copy of the element
//! tree, and nothing needs parsing again), or the element tree, for a CIB
//! saved to a file.

use std::collections::BTreeMap;

use cib::LrmOp;
use scheduler::graph::{op_key, ActionKind, GraphAction};
use scheduler::graph_details::{Agent, FEATURE_SET};
use scheduler::task::Task;

use crate::names::ResourceNames;

/// The transition key's placeholder node, for results no controller ran
/// (`FAKE_TE_ID`).
const FAKE_TE_ID: &str = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

/// A status section results are written into. Nodes and resource
/// histories are addressed by position, as each store lists them.
pub trait HistoryStore {
    /// The `node_state` of node `uname`, added (with id `uuid`, else the
    /// name) when there is none (`pcmk__inject_node`).
    fn node_state(&mut self, uname: &str, uuid: Option<&str>) -> usize;
    /// The node is down; its `lrm` and `transient_attributes` are gone.
    fn fence(&mut self, node: usize);
    /// The node's history entry called `id`, when it has exactly one:
    /// crm_simulate's XPath finds none among several (`get_xpath_object`).
    fn the_resource(&self, node: usize, id: &str) -> Option<usize>;
    /// Adds an empty history entry for the agent's resource.
    fn add_resource(&mut self, node: usize, agent: &Agent) -> usize;
    /// The highest call id in an entry (0 when none is higher).
    fn last_call_id(&self, node: usize, rsc: usize) -> i64;
    /// Writes `op` over the entry's operation of the same id, or adds it.
    /// `key` is its `operation_key`.
    fn write_op(&mut self, node: usize, rsc: usize, op: &LrmOp, key: &str);
}

/// Writes the results of a graph's executed actions
/// ([`scheduler::TransitionGraph::executed`], in that order) into `store`. `now`
/// stands for the executor's clock in `last-rc-change` (crm_simulate uses
/// the wall clock; the simulated time keeps runs reproducible).
pub fn record_transition(store: &mut impl HistoryStore, executed: &[&GraphAction], names: &ResourceNames, now: i64) {
    for a in executed {
        record_action(store, a, names, now);
    }
}

/// Records one executed action.
pub fn record_action(store: &mut impl HistoryStore, a: &GraphAction, names: &ResourceNames, now: i64) {
    match a.kind {
        ActionKind::PseudoEvent => {}
        ActionKind::CrmEvent => {
            if a.task == Task::Fence && a.attributes.get("CRM_meta_stonith_action").map(String::as_str) != Some("on") {
                if let Some(target) = &a.on_node {
                    let n = store.node_state(target, a.on_node_uuid.as_deref());
                    store.fence(n);
                }
            }
        }
        ActionKind::RscOp => record_rsc_op(store, a, names, now),
    }
}

fn record_rsc_op(store: &mut impl HistoryStore, a: &GraphAction, names: &ResourceNames, now: i64) {
    // Node-wide re-probes, deletions and metadata leave no history.
    if matches!(a.task, Task::Delete) || matches!(a.task.as_str(), "probe_again" | "meta-data") {
        return;
    }
    let (Some(agent), Some(node)) = (&a.agent, &a.on_node) else {
        return;
    };
    let target_rc: i32 = a
        .attributes
        .get("CRM_meta_op_target_rc")
        .and_then(|v| v.parse().ok())
        .filter(|&rc| rc >= 0)
        .unwrap_or(0);
    let n = store.node_state(node, a.on_node_uuid.as_deref());
    let r = resource_history(store, n, agent, names);
    let op = HistoryOp {
        rsc: &agent.id,
        task: a.task.as_str(),
        interval_ms: a.interval_ms,
        rc: target_rc,
        target_rc,
        reason: "User-injected result",
        attributes: &a.attributes,
        digest: Some(crmd::lrm::op_digest(&a.attributes)),
    };
    op.write(store, n, r, now);
}

/// The resource's history entry on a node, added when missing
/// (`pcmk__inject_resource_history`): the one under the name crm_simulate
/// finds the resource by ([`ResourceNames::of_action`]), else the one
/// under the graph's name, which a new entry takes.
fn resource_history(store: &mut impl HistoryStore, n: usize, agent: &Agent, names: &ResourceNames) -> usize {
    let name = names.of_action(agent);
    store
        .the_resource(n, name)
        .or_else(|| (name != agent.id).then(|| store.the_resource(n, &agent.id)).flatten())
        .unwrap_or_else(|| store.add_resource(n, agent))
}

/// One operation's result, as `pcmk__create_history_xml` records it: a
/// simulated action's, or one injected with `-i`.
pub(super) struct HistoryOp<'a> {
    pub rsc: &'a str,
    pub task: &'a str,
    pub interval_ms: u64,
    pub rc: i32,
    pub target_rc: i32,
    /// The exit reason, recorded only when `rc` is not `target_rc`.
    pub reason: &'a str,
    /// The action's parameters and `CRM_meta_*` attributes (none for an
    /// injected result).
    pub attributes: &'a BTreeMap<String, String>,
    /// `op-digest` of the parameters (none for an injected result).
    pub digest: Option<String>,
}

impl HistoryOp<'_> {
    /// Writes the entries into history entry `r` of node `n`, with the call
    /// id after the entry's highest.
    pub(super) fn write(&self, store: &mut impl HistoryStore, n: usize, r: usize, now: i64) {
        // A reload is recorded as the start it amounts to.
        let task = match self.task {
            "reload" | "reload-agent" => "start",
            t => t,
        };
        let key = op_key(self.rsc, task, self.interval_ms);
        let meta = |name: &str| self.attributes.get(&format!("CRM_meta_{name}")).cloned();
        let migration = matches!(task, "migrate_to" | "migrate_from");
        let failed = self.rc != self.target_rc;
        let mut ids = vec![if task == "notify" {
            let kind = meta("notify_type").unwrap_or_default();
            let op = meta("notify_operation").unwrap_or_default();
            format!("{}_{kind}_notify_{op}_0", self.rsc)
        } else if migration || (self.interval_ms > 0 && !failed) {
            key.clone()
        } else if failed {
            op_key(self.rsc, "last_failure", 0)
        } else {
            op_key(self.rsc, "last", 0)
        }];
        // A failed one-shot operation updates `last` too.
        if failed && self.interval_ms == 0 && task != "notify" && !migration {
            ids.push(op_key(self.rsc, "last", 0));
        }
        let call_id = store.last_call_id(n, r) + 1;
        let transition_key = format!("{call_id}:-1:{}:{FAKE_TE_ID}", self.target_rc);
        let mut entry = LrmOp {
            id: String::new(),
            operation: task.to_string(),
            call_id,
            rc_code: self.rc,
            op_status: 0,
            interval_ms: self.interval_ms,
            transition_magic: Some(format!("0:{};{transition_key}", self.rc)),
            transition_key: Some(transition_key),
            op_digest: self.digest.clone(),
            crm_feature_set: Some(FEATURE_SET.to_string()),
            last_rc_change: Some(now),
            migrate_source: meta("migrate_source").filter(|_| migration),
            migrate_target: meta("migrate_target").filter(|_| migration),
            exit_reason: Some(if failed { self.reason } else { "" }.to_string()),
            ..LrmOp::default()
        };
        for id in ids {
            entry.id = id;
            store.write_op(n, r, &entry, &key);
        }
    }
}

#[cfg(test)]
mod tests {
    use cib::Cib;
    use scheduler::Options;

    use crate::simulate::simulate;

    /// Two nodes with fencing; `status` is the status section's content.
    fn cib(resources: &str, status: &str) -> Cib {
        let xml = format!(
            r#"<cib have-quorum="1" execution-date="1000"><configuration>
<crm_config><cluster_property_set id="o"><nvpair id="o1" name="stonith-enabled" value="true"/></cluster_property_set></crm_config>
<nodes><node id="1" uname="n1"/><node id="2" uname="n2"/></nodes>
<resources><primitive id="F" class="stonith" type="fence_xvm"/>{resources}</resources><constraints/></configuration>
<status>{status}</status></cib>"#
        );
        Cib::parse(&xml).expect("test CIB parses")
    }

    const UP: &str = r#"in_ccm="true" crmd="online" join="member" expected="member""#;
    const DUMMY: &str = r#"class="ocf" provider="pacemaker" type="Dummy""#;

    fn op(id: &str, task: &str, call_id: u32, rc: u32) -> String {
        format!(
            r#"<lrm_rsc_op id="{id}" operation="{task}" call-id="{call_id}" rc-code="{rc}" op-status="0" interval="0" transition-key="1:1:{rc}:x"/>"#
        )
    }

    fn ops<'a>(c: &'a Cib, node: &str, rsc: &str) -> Vec<&'a cib::LrmOp> {
        c.status
            .nodes
            .iter()
            .filter(|n| n.uname.as_deref() == Some(node))
            .flat_map(|n| &n.lrm)
            .filter(|r| r.id == rsc)
            .flat_map(|r| &r.ops)
            .collect()
    }

    fn run(c: &Cib) -> crate::simulate::Simulation {
        simulate(c, &Options::for_cib(c, None, || 0))
    }

    #[test]
    fn a_start_and_its_monitor_are_recorded_after_the_probes() {
        let rscs = format!(
            r#"<primitive id="A" {DUMMY}><operations><op id="A-m" name="monitor" interval="10s"/></operations></primitive>"#
        );
        let status = format!(r#"<node_state id="1" uname="n1" {UP}/><node_state id="2" uname="n2" {UP}/>"#);
        let sim = run(&cib(&rscs, &status));
        let on: Vec<&str> = ["n1", "n2"]
            .into_iter()
            .filter(|n| ops(&sim.revised_cib, n, "A").iter().any(|o| o.operation == "start"))
            .collect();
        assert_eq!(on.len(), 1, "{}", sim.revised_cib.to_xml());
        let history = ops(&sim.revised_cib, on[0], "A");
        let last = history.iter().find(|o| o.id == "A_last_0").expect("last entry");
        // The probe (rc 7, expected) came first: the start took its entry
        // with the next call id.
        assert_eq!((last.operation.as_str(), last.call_id, last.rc_code), ("start", 2, 0));
        assert_eq!(last.target_rc(), Some(0));
        let monitor = history
            .iter()
            .find(|o| o.id == "A_monitor_10000")
            .expect("monitor entry");
        assert_eq!((monitor.call_id, monitor.interval_ms), (3, 10_000));
        assert!(monitor.op_digest.is_some());
        // The other node's probe found it stopped, and says so.
        let other = if on[0] == "n1" { "n2" } else { "n1" };
        let probe = ops(&sim.revised_cib, other, "A");
        assert_eq!(probe.len(), 1);
        assert_eq!((probe[0].operation.as_str(), probe[0].rc_code), ("monitor", 7));
        assert!(
            sim.revised_text.contains("A\t(ocf:pacemaker:Dummy):\t Started"),
            "{}",
            sim.revised_text
        );
    }

    #[test]
    fn fencing_takes_the_node_down_and_clears_its_history_and_attributes() {
        let rscs = format!(r#"<primitive id="A" {DUMMY}/>"#);
        let status = format!(
            r#"<node_state id="1" uname="n1" {UP}><lrm id="1"><lrm_resources><lrm_resource id="F" class="stonith" type="fence_xvm">{}</lrm_resource></lrm_resources></lrm></node_state>
<node_state id="2" uname="n2" in_ccm="false" crmd="offline" join="down" expected="member"><transient_attributes id="2"><instance_attributes id="s2"><nvpair id="s2-a" name="fail-count-A#start_0" value="1"/></instance_attributes></transient_attributes><lrm id="2"><lrm_resources><lrm_resource id="A" {DUMMY}>{}</lrm_resource></lrm_resources></lrm></node_state>"#,
            op("F_last_0", "start", 1, 0),
            op("A_last_0", "start", 1, 0)
        );
        let sim = run(&cib(&rscs, &status));
        let n2 = sim
            .revised_cib
            .status
            .nodes
            .iter()
            .find(|n| n.id == "2")
            .expect("n2's state");
        assert_eq!(n2.in_ccm.as_deref(), Some("false"));
        assert_eq!(n2.expected.as_deref(), Some("down"));
        assert!(n2.lrm.is_empty() && n2.transient.is_empty(), "{n2:?}");
        // A was recovered on n1.
        assert_eq!(ops(&sim.revised_cib, "n1", "A")[0].operation, "start");
        assert!(sim.revised_text.contains("OFFLINE: [ n2 ]"), "{}", sim.revised_text);
    }

    #[test]
    fn a_name_with_two_histories_on_the_node_gets_a_third() {
        // crm_simulate's xpath finds no single entry and adds one, so the
        // copy the first entry says is running stays "running" (inc6).
        let rscs = format!(
            r#"<clone id="C"><meta_attributes id="C-m"><nvpair id="C-m1" name="globally-unique" value="true"/>
<nvpair id="C-m2" name="clone-max" value="1"/></meta_attributes><primitive id="X" {DUMMY}/></clone>
<primitive id="B" {DUMMY}/>"#
        );
        let status = format!(
            r#"<node_state id="1" uname="n1" {UP}><lrm id="1"><lrm_resources>
<lrm_resource id="X:0" {DUMMY}>{}</lrm_resource>
<lrm_resource id="X:0" {DUMMY}>{}</lrm_resource>
</lrm_resources></lrm></node_state><node_state id="2" uname="n2" {UP}/>"#,
            op("X-0-start", "start", 1, 0),
            op("X-0-probe", "monitor", 1, 7)
        );
        let c = cib(&rscs, &status);
        let mut status = (*c.status).clone();
        let stop = scheduler::graph::GraphAction {
            id: scheduler::task::ActionId(1),
            kind: scheduler::graph::ActionKind::RscOp,
            task: scheduler::task::Task::Stop,
            operation_key: "X:0_stop_0".into(),
            internal_key: None,
            on_node: Some("n1".into()),
            on_node_uuid: Some("1".into()),
            rsc: Some("X:0".into()),
            interval_ms: 0,
            timeout_ms: None,
            agent: Some(scheduler::graph_details::Agent {
                id: "X:0".into(),
                long_id: None,
                class: "ocf".into(),
                provider: Some("pacemaker".into()),
                ty: "Dummy".into(),
            }),
            attributes: [("CRM_meta_op_target_rc".to_string(), "0".to_string())].into(),
            downed: Vec::new(),
        };
        let names = crate::names::ResourceNames::of(&scheduler::unpack::unpack(&c, 0));
        super::record_action(&mut status, &stop, &names, 0);
        let entries: Vec<_> = status.nodes[0].lrm.iter().filter(|r| r.id == "X:0").collect();
        assert_eq!(entries.len(), 3);
        assert_eq!(entries[2].ops[0].operation, "stop");
        assert_eq!(entries[2].ops[0].call_id, 1);
    }
}

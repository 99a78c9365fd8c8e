//! Events injected into a CIB before scheduling, as crm_simulate's options
//! inject them (`pcmk__inject_scheduler_input`): quorum, nodes coming up,
//! going down or failing, and operation results with their fail counts.

use cib::xml::Element;
use std::collections::BTreeMap;

use cib::{Cib, CibError};
use scheduler::graph_details::Agent;
use scheduler::ids::clone_strip;

use super::results::{HistoryOp, HistoryStore};

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

impl Injections {
    /// Nothing to inject: the CIB can be used as loaded.
    pub fn is_empty(&self) -> bool {
        self.node_up.is_empty()
            && self.node_down.is_empty()
            && self.node_fail.is_empty()
            && self.op_inject.is_empty()
            && self.quorum.is_none()
    }
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

/// The configured node called `node` (by name or id).
fn configured_node<'c>(cib: &'c Cib, node: &str) -> Result<&'c cib::NodeDef, InjectError> {
    cib.configuration
        .nodes
        .iter()
        .find(|n| n.uname == node || n.id == node)
        .ok_or_else(|| InjectError::UnknownNode(node.to_string()))
}

/// The `node_state` of configured node `node`, found or created as crm_simulate does.
fn node_state_mut<'a>(root: &'a mut Element, cib: &Cib, node: &str) -> Result<&'a mut Element, InjectError> {
    let def = configured_node(cib, node)?;
    let n = root.node_state(&def.uname, Some(&def.id));
    Ok(super::xml_store::nth_node_mut(root, n))
}

fn set_node(st: &mut Element, in_ccm: &str, crmd: &str, join: &str, expected: &str) {
    st.set_attr("in_ccm", in_ccm);
    st.set_attr("crmd", crmd);
    st.set_attr("join", join);
    st.set_attr("expected", expected);
}

/// The agent of the configured primitive `id` names (an instance number
/// stripped), the first in document order.
fn find_primitive(cib: &Cib, id: &str) -> Option<(String, Option<String>, String)> {
    cib.configuration.all_resources().find_map(|d| match &d.kind {
        cib::ResourceKind::Primitive {
            class, provider, ty, ..
        } if d.id == id || clone_strip(id) == d.id => Some((class.clone(), provider.clone(), ty.clone())),
        _ => None,
    })
}

/// Applies injections to a CIB (returns the modified CIB), in
/// crm_simulate's order (`pcmk__inject_scheduler_input`): quorum, nodes up,
/// down and failed, then operation results. `now` stands for the clock of
/// the injected results and failures (crm_simulate uses the wall clock).
pub fn inject(cib: &Cib, inj: &Injections, now: i64) -> Result<Cib, InjectError> {
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
    for spec in &inj.op_inject {
        inject_op(&mut root, cib, spec, now)?;
    }
    Ok(Cib::from_element(root)?)
}

/// `rsc_task_interval@node=rc`: a result in the resource's history, and a
/// fail count unless it is a success or a probe finding it stopped
/// (`inject_action`, `create_op`, `pcmk__inject_failcount`).
fn inject_op(root: &mut Element, cib: &Cib, spec: &str, now: i64) -> Result<(), InjectError> {
    let bad = || InjectError::BadOpSpec(spec.to_string());
    let (key, rest) = spec.split_once('@').ok_or_else(bad)?;
    let (node, rc) = rest.split_once('=').ok_or_else(bad)?;
    let rc: i32 = rc.trim().parse().map_err(|_| bad())?;
    let (rsc, task, interval_ms) = parse_op_key(key).ok_or_else(bad)?;
    let (class, provider, ty) = find_primitive(cib, rsc).ok_or_else(|| InjectError::UnknownResource {
        spec: spec.to_string(),
        rsc: rsc.to_string(),
    })?;
    let def = configured_node(cib, node)?;
    let n = root.node_state(&def.uname, Some(&def.id));
    if rc != 0 && !(rc == 7 && interval_ms == 0) {
        let st = super::xml_store::nth_node_mut(root, n);
        let op = format!("{rsc}#{task}_{interval_ms}");
        inject_transient_attr(st, &format!("fail-count-{op}"), "value++", true);
        inject_transient_attr(st, &format!("last-failure-{op}"), &now.to_string(), false);
    }
    let agent = Agent {
        id: rsc.to_string(),
        long_id: None,
        class,
        provider,
        ty,
    };
    let r = root
        .the_resource(n, rsc)
        .unwrap_or_else(|| root.add_resource(n, &agent));
    // Recorded against an expected 0 (`pcmk__inject_action_result`), with
    // no parameters and so no digest (`create_op`).
    let op = HistoryOp {
        rsc,
        task,
        interval_ms,
        rc,
        target_rc: 0,
        reason: "Simulated action result",
        attributes: &BTreeMap::new(),
        digest: None,
    };
    op.write(root, n, r, now);
    Ok(())
}

/// `RSC_TASK_INTERVAL` split as `parse_op_key` does: the interval after
/// the last `_`, a task with an `_` of its own (`migrate_to`,
/// `migrate_from`) before it whole, else the task after the `_` before.
fn parse_op_key(key: &str) -> Option<(&str, &str, u64)> {
    let (rest, interval) = key.rsplit_once('_')?;
    let interval_ms = interval.parse().ok()?;
    let (rsc, task) = ["migrate_to", "migrate_from"]
        .iter()
        .find_map(|t| rest.strip_suffix(t).and_then(|r| r.strip_suffix('_')).map(|r| (r, *t)))
        .or_else(|| rest.rsplit_once('_'))?;
    (!rsc.is_empty() && !task.is_empty()).then_some((rsc, task, interval_ms))
}

/// The node's transient attribute set (`inject_transient_attr`), created
/// with the node's id when missing.
fn transient_set(st: &mut Element) -> &mut Element {
    let node_id = st.attr("id").unwrap_or_default().to_string();
    if st.child("transient_attributes").is_none() {
        let mut attrs = Element::new("transient_attributes");
        attrs.set_attr("id", node_id.clone());
        st.push(attrs);
    }
    let attrs = st.child_mut("transient_attributes").expect("just ensured");
    if attrs.child("instance_attributes").is_none() {
        let mut set = Element::new("instance_attributes");
        set.set_attr("id", node_id);
        attrs.push(set);
    }
    attrs.child_mut("instance_attributes").expect("just ensured")
}

/// Sets a transient attribute as `inject_transient_attr` does: in an
/// nvpair whose id is the set's id and the name (`#` and `:` made `.`),
/// added when no nvpair has that id. An nvpair of the same name under
/// another id (one the attribute manager wrote) stays, and the later one
/// is what the scheduler reads. `increment`: the value is `value++`, one
/// more than the nvpair's (a new one counts from 0).
fn inject_transient_attr(st: &mut Element, name: &str, value: &str, increment: bool) {
    let set = transient_set(st);
    let id = format!("{}-{name}", set.attr("id").unwrap_or_default()).replace(['#', ':'], ".");
    let existing = set
        .elements()
        .position(|e| e.name == "nvpair" && e.attr("id") == Some(id.as_str()));
    let e = match existing {
        Some(i) => set.elements_mut().nth(i).expect("found above"),
        None => {
            let mut e = Element::new("nvpair");
            e.set_attr("id", id);
            e.set_attr("name", name);
            set.push(e);
            set.elements_mut().last().expect("just pushed")
        }
    };
    let value = if increment {
        let current = e.attr("value").and_then(cib::score::parse_score).unwrap_or(0);
        cib::score::to_text(cib::score::add(current, 1))
    } else {
        value.to_string()
    };
    e.set_attr("value", value);
}

#[cfg(test)]
mod tests {
    use super::{inject, parse_op_key, Injections};
    use cib::Cib;

    /// Node n1 (id 1) and these `node_state` entries; (id, uname, crmd) of each after
    /// injecting `inj`.
    fn states_after(states: &str, inj: &Injections) -> Vec<(String, String, String)> {
        let xml = format!(
            "<cib><configuration><crm_config/><nodes><node id=\"1\" uname=\"n1\"/></nodes><resources/>\
             <constraints/></configuration><status>{states}</status></cib>"
        );
        let cib = inject(&Cib::parse(&xml).unwrap(), inj, 0).unwrap();
        let attr = |e: &cib::xml::Element, a: &str| e.attr(a).unwrap_or_default().to_string();
        cib.root
            .child("status")
            .unwrap()
            .children_named("node_state")
            .map(|e| (attr(e, "id"), attr(e, "uname"), attr(e, "crmd")))
            .collect()
    }

    #[test]
    fn nodes_are_found_by_name_then_by_id_as_crm_simulate_does() {
        let down = Injections {
            node_down: vec!["n1".into()],
            ..Injections::default()
        };
        let s = |id: &str, uname: &str, crmd: &str| (id.to_string(), uname.to_string(), crmd.to_string());
        // By name first, though another entry has the node's id.
        let two = r#"<node_state id="1" uname="old" crmd="online"/><node_state id="99" uname="n1" crmd="online"/>"#;
        assert_eq!(
            states_after(two, &down),
            [s("1", "old", "online"), s("99", "n1", "offline")]
        );
        // By id when no entry has the name: it takes the name.
        let renamed = r#"<node_state id="1" uname="old" crmd="online"/>"#;
        assert_eq!(states_after(renamed, &down), [s("1", "n1", "offline")]);
        // Else a new entry.
        assert_eq!(states_after("", &down), [s("1", "n1", "offline")]);
    }

    #[test]
    fn any_injection_makes_the_set_non_empty() {
        assert!(Injections::default().is_empty());
        let one = |f: fn(&mut Injections)| {
            let mut i = Injections::default();
            f(&mut i);
            i.is_empty()
        };
        assert!(!one(|i| i.node_up.push("n1".into())));
        assert!(!one(|i| i.node_down.push("n1".into())));
        assert!(!one(|i| i.node_fail.push("n1".into())));
        assert!(!one(|i| i.op_inject.push("r_start_0@n1=0".into())));
        assert!(!one(|i| i.quorum = Some(false)));
    }

    #[test]
    fn operation_keys_split_as_pacemaker_splits_them() {
        assert_eq!(parse_op_key("rsc1_monitor_10000"), Some(("rsc1", "monitor", 10_000)));
        assert_eq!(parse_op_key("my_rsc_start_0"), Some(("my_rsc", "start", 0)));
        assert_eq!(parse_op_key("vm_migrate_to_0"), Some(("vm", "migrate_to", 0)));
        assert_eq!(parse_op_key("vm_migrate_from_0"), Some(("vm", "migrate_from", 0)));
        assert_eq!(parse_op_key("rsc1:0_stop_0"), Some(("rsc1:0", "stop", 0)));
        for bad in ["rsc", "rsc_start", "rsc_start_x", "_start_0", "rsc__0"] {
            assert_eq!(parse_op_key(bad), None, "{bad}");
        }
    }
}

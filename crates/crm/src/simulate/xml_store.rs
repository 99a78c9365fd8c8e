//! Results written into a CIB's element tree (its `<cib>` root), for a CIB
//! saved to a file: the same entries as in the typed status, with the
//! attributes crm_simulate writes (`pcmk__create_history_xml`).

use cib::xml::{Element, XmlNode};
use cib::LrmOp;
use scheduler::graph_details::Agent;

use super::results::HistoryStore;

/// Who wrote the entries (`crm-debug-origin`).
const ORIGIN: &str = "crm_simulate";

fn status(root: &Element) -> Option<&Element> {
    root.child("status")
}

fn status_mut(root: &mut Element) -> &mut Element {
    if root.child("status").is_none() {
        root.push(Element::new("status"));
    }
    root.child_mut("status").expect("just ensured")
}

fn nth_node(root: &Element, node: usize) -> &Element {
    status(root)
        .and_then(|s| s.children_named("node_state").nth(node))
        .expect("a node_state this store returned")
}

/// The `node_state` at position `node`, as [`HistoryStore::node_state`]
/// returned it.
pub(super) fn nth_node_mut(root: &mut Element, node: usize) -> &mut Element {
    status_mut(root)
        .elements_mut()
        .filter(|e| e.name == "node_state")
        .nth(node)
        .expect("a node_state this store returned")
}

fn resources(st: &Element) -> impl Iterator<Item = &Element> {
    st.child("lrm")
        .and_then(|l| l.child("lrm_resources"))
        .into_iter()
        .flat_map(|rs| rs.children_named("lrm_resource"))
}

fn resources_mut(st: &mut Element) -> &mut Element {
    if st.child("lrm").is_none() {
        let mut lrm = Element::new("lrm");
        lrm.set_attr("id", st.attr("id").unwrap_or_default().to_string());
        st.push(lrm);
    }
    let lrm = st.child_mut("lrm").expect("just ensured");
    if lrm.child("lrm_resources").is_none() {
        lrm.push(Element::new("lrm_resources"));
    }
    lrm.child_mut("lrm_resources").expect("just ensured")
}

fn nth_resource_mut(st: &mut Element, rsc: usize) -> &mut Element {
    resources_mut(st)
        .elements_mut()
        .filter(|e| e.name == "lrm_resource")
        .nth(rsc)
        .expect("an lrm_resource this store returned")
}

impl HistoryStore for Element {
    fn node_state(&mut self, uname: &str, uuid: Option<&str>) -> usize {
        // As `pcmk__inject_node`: by name, then by id (an entry may have no name yet: it
        // gets this one), else a new entry.
        let by = |attr: &str, value: &str| {
            status(self).and_then(|s| s.children_named("node_state").position(|e| e.attr(attr) == Some(value)))
        };
        if let Some(i) = by("uname", uname) {
            return i;
        }
        if let Some(i) = uuid.and_then(|id| by("id", id)) {
            nth_node_mut(self, i).set_attr("uname", uname);
            return i;
        }
        let mut e = Element::new("node_state");
        e.set_attr("id", uuid.unwrap_or(uname));
        e.set_attr("uname", uname);
        let st = status_mut(self);
        st.push(e);
        st.children_named("node_state").count() - 1
    }

    fn fence(&mut self, node: usize) {
        let st = nth_node_mut(self, node);
        for (k, v) in [
            ("in_ccm", "false"),
            ("crmd", "offline"),
            ("join", "down"),
            ("expected", "down"),
            ("crm-debug-origin", "simulate_fencing_action"),
        ] {
            st.set_attr(k, v);
        }
        st.children
            .retain(|c| !matches!(c, XmlNode::Element(e) if e.name == "lrm" || e.name == "transient_attributes"));
    }

    fn the_resource(&self, node: usize, id: &str) -> Option<usize> {
        let mut found = resources(nth_node(self, node))
            .enumerate()
            .filter(|(_, r)| r.attr("id") == Some(id));
        match (found.next(), found.next()) {
            (Some((i, _)), None) => Some(i),
            _ => None,
        }
    }

    fn add_resource(&mut self, node: usize, agent: &Agent) -> usize {
        let rs = resources_mut(nth_node_mut(self, node));
        let mut e = Element::new("lrm_resource");
        e.set_attr("id", agent.id.clone());
        e.set_attr("class", agent.class.clone());
        if let Some(p) = &agent.provider {
            e.set_attr("provider", p.clone());
        }
        e.set_attr("type", agent.ty.clone());
        rs.push(e);
        rs.children_named("lrm_resource").count() - 1
    }

    fn last_call_id(&self, node: usize, rsc: usize) -> i64 {
        resources(nth_node(self, node))
            .nth(rsc)
            .into_iter()
            .flat_map(|r| r.children_named("lrm_rsc_op"))
            .filter_map(|o| o.attr("call-id").and_then(|v| v.trim().parse::<i64>().ok()))
            .fold(0, i64::max)
    }

    fn write_op(&mut self, node: usize, rsc: usize, op: &LrmOp, key: &str) {
        let history = nth_resource_mut(nth_node_mut(self, node), rsc);
        let pos = history
            .elements()
            .position(|e| e.name == "lrm_rsc_op" && e.attr("id") == Some(op.id.as_str()));
        let e = match pos {
            Some(i) => history.elements_mut().nth(i).expect("found above"),
            None => {
                history.push(Element::new("lrm_rsc_op"));
                history.elements_mut().last().expect("just pushed")
            }
        };
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let attrs: [(&str, String); 15] = [
            ("id", op.id.clone()),
            ("operation_key", key.to_string()),
            ("operation", op.operation.clone()),
            ("crm-debug-origin", ORIGIN.to_string()),
            ("crm_feature_set", text(&op.crm_feature_set)),
            ("transition-key", text(&op.transition_key)),
            ("transition-magic", text(&op.transition_magic)),
            ("exit-reason", text(&op.exit_reason)),
            ("call-id", op.call_id.to_string()),
            ("rc-code", op.rc_code.to_string()),
            ("op-status", op.op_status.to_string()),
            ("interval", op.interval_ms.to_string()),
            ("last-rc-change", op.last_rc_change.unwrap_or(0).to_string()),
            ("exec-time", "0".to_string()),
            ("queue-time", "0".to_string()),
        ];
        for (k, v) in attrs {
            e.set_attr(k, v);
        }
        for (k, v) in [
            ("migrate_source", &op.migrate_source),
            ("migrate_target", &op.migrate_target),
        ] {
            if let Some(v) = v {
                e.set_attr(k, v.clone());
            }
        }
        if let Some(d) = &op.op_digest {
            e.set_attr("op-digest", d.clone());
        }
    }
}

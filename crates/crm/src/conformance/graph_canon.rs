//! Canonical text of a transition graph, independent of action ids and
//! synapse order: the same form as `scheduler-cases/graph-canon.py`, so the
//! in-process harness scores graphs exactly as `score-graphs.py` does.
//!
//! Each action is named `ELEMENT:OPERATION_KEY[@NODE]`; one line per action
//! with `<-` and its sorted inputs. Unless only edges are compared, the
//! action's agent, attributes (except `crm_feature_set`), `downed` nodes and
//! the synapse priority follow, and the graph's attributes (except
//! `transition_id`) come first.

use cib::xml::{Element, XmlError};

/// What is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Actions and orderings only (`--edges`).
    Edges,
    /// Actions, orderings, agents and attributes.
    Full,
}

fn action_name(el: &Element) -> String {
    let op = el
        .attr("operation_key")
        .filter(|k| !k.is_empty())
        .or_else(|| el.attr("operation"))
        .unwrap_or("None");
    match el.attr("on_node").filter(|n| !n.is_empty()) {
        Some(node) => format!("{}:{op}@{node}", el.name),
        None => format!("{}:{op}", el.name),
    }
}

fn sorted_attrs(el: &Element) -> Vec<(&str, &str)> {
    let mut v: Vec<(&str, &str)> = el.attrs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    v.sort_unstable();
    v
}

fn action_line(act: &Element, inputs: &[String], priority: Option<&str>, detail: Detail) -> String {
    let mut line = action_name(act);
    if !inputs.is_empty() {
        line.push_str(" <- ");
        line.push_str(&inputs.join(", "));
    }
    if detail == Detail::Edges {
        return line;
    }
    if let Some(p) = priority.filter(|p| !p.is_empty()) {
        line.push_str(&format!("  [priority {p}]"));
    }
    if let Some(agent) = act.child("primitive") {
        let parts: Vec<String> = sorted_attrs(agent).iter().map(|(k, v)| format!("{k}={v}")).collect();
        line.push_str("\n    agent ");
        line.push_str(&parts.join(" "));
    }
    if let Some(attrs) = act.child("attributes") {
        for (k, v) in sorted_attrs(attrs) {
            if k != "crm_feature_set" {
                line.push_str(&format!("\n    {k}={v}"));
            }
        }
    }
    if let Some(downed) = act.child("downed") {
        let mut ids: Vec<&str> = downed.elements().map(|n| n.attr("id").unwrap_or("")).collect();
        ids.sort_unstable();
        line.push_str("\n    downed ");
        line.push_str(&ids.join(" "));
    }
    line
}

/// The canonical lines of a graph document, sorted.
pub fn canon(text: &str, detail: Detail) -> Result<Vec<String>, XmlError> {
    let root = Element::parse(text)?;
    let mut lines = Vec::new();
    if detail == Detail::Full {
        for (k, v) in sorted_attrs(&root) {
            if k != "transition_id" {
                lines.push(format!("graph {k}={v}"));
            }
        }
    }
    for syn in root.children_named("synapse") {
        let mut inputs: Vec<String> = syn
            .children_named("inputs")
            .flat_map(|i| i.children_named("trigger"))
            .flat_map(|t| t.elements())
            .map(action_name)
            .collect();
        inputs.sort_unstable();
        for act in syn.child("action_set").into_iter().flat_map(|s| s.elements()) {
            lines.push(action_line(act, &inputs, syn.attr("priority"), detail));
        }
    }
    lines.sort_unstable();
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRAPH: &str = r#"<transition_graph cluster-delay="60s" transition_id="3">
  <synapse id="0" priority="2">
    <action_set>
      <rsc_op id="7" operation="start" operation_key="r_start_0" on_node="n1" on_node_uuid="1">
        <primitive id="r" class="ocf" provider="heartbeat" type="Dummy"/>
        <attributes CRM_meta_timeout="20000" crm_feature_set="3.16.1" b="2"/>
      </rsc_op>
    </action_set>
    <inputs>
      <trigger><pseudo_event id="9" operation="start" operation_key="g_start_0"/></trigger>
      <trigger><crm_event id="2" operation="stonith" operation_key="stonith-n2-reboot" on_node="n2"/></trigger>
    </inputs>
  </synapse>
  <synapse id="1">
    <action_set><pseudo_event id="9" operation="start" operation_key="g_start_0"/></action_set>
    <inputs/>
  </synapse>
</transition_graph>"#;

    #[test]
    fn edges_name_actions_by_key_and_node() {
        assert_eq!(
            canon(GRAPH, Detail::Edges).unwrap(),
            vec![
                "pseudo_event:g_start_0",
                "rsc_op:r_start_0@n1 <- crm_event:stonith-n2-reboot@n2, pseudo_event:g_start_0",
            ]
        );
    }

    #[test]
    fn full_adds_graph_attributes_agent_and_sorted_attributes() {
        let full = canon(GRAPH, Detail::Full).unwrap();
        assert_eq!(full[0], "graph cluster-delay=60s");
        assert_eq!(
            full[2],
            "rsc_op:r_start_0@n1 <- crm_event:stonith-n2-reboot@n2, pseudo_event:g_start_0  [priority 2]\n    \
             agent class=ocf id=r provider=heartbeat type=Dummy\n    CRM_meta_timeout=20000\n    b=2"
        );
        assert_eq!(full.len(), 3);
    }

    #[test]
    fn ids_and_synapse_order_do_not_matter() {
        let renumbered = GRAPH.replace("id=\"9\"", "id=\"4\"").replace("id=\"7\"", "id=\"1\"");
        assert_eq!(
            canon(GRAPH, Detail::Full).unwrap(),
            canon(&renumbered, Detail::Full).unwrap()
        );
    }
}

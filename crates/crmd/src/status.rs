//! The status section as the DC writes it: `node_state` per node (membership,
//! join, expected state), its `<lrm>` history and its transient attributes, as
//! [`CibOp`]s that say what they mean whatever CIB version they are applied to.

use cib::xml::Element;

use crate::attrd::CibRequest;
use crate::cib_manager::{CibOp, CibPath, XmlAttr};
use crate::ids::NodeId;

fn path(p: String) -> CibPath {
    // Built from node ids and resource names checked by the caller.
    CibPath::new(p).expect("status paths are well-formed")
}

fn attr(name: &str) -> XmlAttr {
    XmlAttr::new(name).expect("status attribute names are valid")
}

pub fn node_state_path(node: NodeId) -> CibPath {
    path(format!("/cib/status/node_state[@id='{}']", node.0))
}

fn transient_path(node: NodeId) -> CibPath {
    path(format!(
        "/cib/status/node_state[@id='{0}']/transient_attributes[@id='{0}']",
        node.0
    ))
}

fn lrm_path(node: NodeId) -> CibPath {
    path(format!("/cib/status/node_state[@id='{0}']/lrm[@id='{0}']", node.0))
}

/// Whether `rsc` can name a path component (a quote cannot).
pub fn valid_rsc_name(rsc: &str) -> bool {
    !rsc.is_empty() && !rsc.contains('\'')
}

/// A node's membership as the scheduler reads it (`in_ccm`, `crmd`, `join`, and
/// `expected` when given).
pub fn node_state(node: NodeId, uname: Option<&str>, online: bool, expected: Option<&str>) -> CibOp {
    let mut attrs = Vec::new();
    if let Some(u) = uname {
        attrs.push((attr("uname"), u.to_string()));
    }
    attrs.push((attr("in_ccm"), online.to_string()));
    attrs.push((attr("crmd"), if online { "online" } else { "offline" }.to_string()));
    attrs.push((attr("join"), if online { "member" } else { "down" }.to_string()));
    if let Some(e) = expected {
        attrs.push((attr("expected"), e.to_string()));
    }
    CibOp::Merge {
        path: node_state_path(node),
        attrs,
    }
}

/// The state the node is expected in (`down` once it was told to shut down, so
/// that its leaving is clean).
pub fn expected(node: NodeId, state: &str) -> CibOp {
    CibOp::Merge {
        path: node_state_path(node),
        attrs: vec![(attr("expected"), state.to_string())],
    }
}

/// The node in `/cib/configuration/nodes` (Pacemaker adds every node that joins).
pub fn configured_node(node: NodeId, uname: &str) -> CibOp {
    CibOp::Merge {
        path: path(format!("/cib/configuration/nodes/node[@id='{}']", node.0)),
        attrs: vec![(attr("uname"), uname.to_string())],
    }
}

/// Replaces the node's whole `<lrm>` with what it reported at its join.
pub fn replace_lrm(node: NodeId, lrm: Element) -> CibOp {
    CibOp::Put {
        parent: node_state_path(node),
        element: lrm,
    }
}

/// One resource's history on a node: replaced, or removed when `None`.
pub fn lrm_resource(node: NodeId, rsc: &str, history: Option<Element>) -> CibOp {
    let list = path(format!(
        "/cib/status/node_state[@id='{0}']/lrm[@id='{0}']/lrm_resources",
        node.0
    ));
    match history {
        Some(element) => CibOp::Put { parent: list, element },
        None => CibOp::Purge {
            path: path(format!("{list}/lrm_resource[@id='{rsc}']")),
        },
    }
}

/// After fencing: down, expected down, history and attributes gone
/// (Pacemaker's `send_stonith_update` and the erasure after it).
pub fn fenced(node: NodeId, uname: &str) -> CibOp {
    CibOp::Batch(vec![
        node_state(node, Some(uname), false, Some("down")),
        CibOp::Purge { path: lrm_path(node) },
        CibOp::Purge {
            path: transient_path(node),
        },
    ])
}

fn nvpair(node: NodeId, name: &str, value: &str) -> Element {
    let mut e = Element::new("nvpair");
    e.set_attr("id", format!("status-{}-{}", node.0, name));
    e.set_attr("name", name);
    e.set_attr("value", value);
    e
}

fn transient_element(node: NodeId, attrs: &[(crate::ids::AttrName, crate::ids::AttrValue)]) -> Element {
    let mut set = Element::new("instance_attributes");
    set.set_attr("id", format!("status-{}", node.0));
    for (k, v) in attrs {
        set.push(nvpair(node, k.as_str(), v.as_str()));
    }
    let mut t = Element::new("transient_attributes");
    t.set_attr("id", node.0.to_string());
    t.push(set);
    t
}

/// The attribute writer's request as CIB ops; `known` lists the nodes with a
/// `node_state` now (a `ReplaceAll` clears those it does not name).
pub fn attributes(req: &CibRequest, known: &[NodeId]) -> CibOp {
    match req {
        CibRequest::Update { node, attrs } => {
            let set = path(format!(
                "/cib/status/node_state[@id='{0}']/transient_attributes[@id='{0}']/instance_attributes[@id='status-{0}']",
                node.0
            ));
            CibOp::Batch(
                attrs
                    .iter()
                    .map(|(name, value)| match value {
                        Some(v) => CibOp::Put {
                            parent: set.clone(),
                            element: nvpair(*node, name.as_str(), v.as_str()),
                        },
                        None => CibOp::Purge {
                            path: path(format!("{set}/nvpair[@id='status-{}-{}']", node.0, name.as_str())),
                        },
                    })
                    .collect(),
            )
        }
        CibRequest::Erase { node } => CibOp::Purge {
            path: transient_path(*node),
        },
        CibRequest::ReplaceAll { nodes } => {
            let mut ops: Vec<CibOp> = known
                .iter()
                .filter(|n| !nodes.contains_key(n))
                .map(|n| CibOp::Purge {
                    path: transient_path(*n),
                })
                .collect();
            ops.extend(nodes.iter().map(|(n, attrs)| CibOp::Put {
                parent: node_state_path(*n),
                element: transient_element(*n, attrs),
            }));
            CibOp::Batch(ops)
        }
    }
}

/// `have-quorum` and `dc-uuid` on the root.
pub fn cluster(quorate: bool, dc: NodeId) -> CibOp {
    CibOp::Merge {
        path: path("/cib".into()),
        attrs: vec![
            (attr("have-quorum"), if quorate { "1" } else { "0" }.to_string()),
            (attr("dc-uuid"), dc.0.to_string()),
        ],
    }
}

/// Whether the status says a resource may still be active on `node`: its last
/// one-shot operation left it running (a start, promote or migration that
/// succeeded or is pending; a probe that found it running).
pub fn may_run_resources(doc: &cib::document::CibDocument, node: NodeId) -> bool {
    let Some(list) = doc.find(&format!(
        "/cib/status/node_state[@id='{0}']/lrm[@id='{0}']/lrm_resources",
        node.0
    )) else {
        return false;
    };
    list.children_named("lrm_resource").any(|r| {
        let Some(id) = r.attr("id") else { return false };
        r.children_named("lrm_rsc_op")
            .find(|op| op.attr("id") == Some(format!("{id}_last_0").as_str()))
            .is_some_and(|op| {
                let task = op.attr("operation").unwrap_or("");
                let rc = op.attr("rc-code").unwrap_or("");
                let pending = op.attr("op-status") == Some("-1");
                let active = matches!(task, "start" | "promote" | "migrate_to" | "migrate_from" | "monitor")
                    && matches!(rc, "0" | "8");
                pending || active
            })
    })
}

//! Definitions Pacemaker generates rather than reads: the implicit
//! `ocf:pacemaker:remote` connections of guest and bundle nodes and the
//! names of a bundle's guest nodes. Shared by `remote` and `bundle`.

use cib::{NvSet, OpDef, ResourceDef, ResourceKind};

/// The guest node names a bundle's replicas get (`{bundle}-{N}`), when the
/// bundle runs a primitive.
pub(super) fn bundle_node_names(def: &ResourceDef) -> Vec<String> {
    match &def.kind {
        ResourceKind::Bundle(b) if b.child.is_some() => (0..b.replicas).map(|i| format!("{}-{i}", def.id)).collect(),
        _ => Vec::new(),
    }
}

fn op(id: &str, name: &str, interval_ms: u64, timeout: &str) -> OpDef {
    OpDef {
        id: format!("{id}-{name}-interval-{}", interval_ms / 1000),
        name: name.to_string(),
        interval_ms,
        role: None,
        attrs: vec![
            ("interval".into(), format!("{}s", interval_ms / 1000).into()),
            ("timeout".into(), timeout.into()),
        ],
        meta: Vec::new(),
        instance: Vec::new(),
    }
}

/// An internal `ocf:pacemaker:remote` connection named `name` into
/// `container` (`pe_create_remote_xml`), for guest and bundle nodes.
pub(super) fn connection_def(
    name: &str,
    container: &str,
    addr: Option<String>,
    port: Option<String>,
    start_timeout: &str,
) -> ResourceDef {
    let id = name.to_string();
    let meta = vec![
        ("internal_rsc".to_string(), "true".to_string()),
        ("container".to_string(), container.to_string()),
    ];
    let mut instance = Vec::new();
    if addr.is_some() || port.is_some() {
        let mut pairs = Vec::new();
        if let Some(a) = addr {
            pairs.push(("addr".to_string(), a));
        }
        if let Some(p) = port {
            pairs.push(("port".to_string(), p));
        }
        instance.push(NvSet {
            id: format!("{id}-instance_attributes"),
            score: 0,
            rule: None,
            pairs,
        });
    }
    ResourceDef {
        id: id.clone(),
        kind: ResourceKind::Primitive {
            class: "ocf".into(),
            provider: Some("pacemaker".into()),
            ty: "remote".into(),
            ops: vec![op(&id, "monitor", 30_000, "30s"), op(&id, "start", 0, start_timeout)].into(),
        },
        meta: vec![NvSet {
            id: format!("{id}-meta_attributes"),
            score: 0,
            rule: None,
            pairs: meta,
        }],
        instance: instance.into(),
        utilization: Vec::new(),
        description: None,
        template: None,
    }
}

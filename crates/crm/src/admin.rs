//! Administration verbs as pure functions: the current CIB in, a list of CIB
//! edits ([`CibOp`]) out. The caller decides where the edits go: applied to a
//! file offline ([`apply`]) or sent to the CIB manager, which applies the list
//! atomically and in order.
//!
//! The edits are those `crm_resource`, `crm_attribute` and `cibadmin` of
//! Pacemaker 2.1.5 (and `pcs` where no Pacemaker tool has the verb) make:
//!
//! | verb | like | edits |
//! |---|---|---|
//! | [`resource_create`] | `pcs resource create ID CLASS:PROVIDER:TYPE k=v op … meta …` | a `<primitive>` with `ID-instance_attributes`, `ID-meta_attributes`, `<operations>` (a `monitor` with `interval=60s` unless one is given), optionally in a group |
//! | [`resource_delete`] | `pcs resource delete ID` | the resource (its group or clone when it is the only member) and every constraint naming it (a set member is dropped from its set, an emptied set or constraint goes), its tag references |
//! | [`resource_move`] | `crm_resource --move -r ID [-N NODE] [--lifetime D]` | `cli-prefer-ID` (`INFINITY`, role `Started`) after removing the old one and `cli-ban-ID-on-NODE`; without a node: a ban from the current node |
//! | [`resource_ban`] | `crm_resource --ban -r ID [-N NODE] [--lifetime D]` | `cli-ban-ID-on-NODE` (`-INFINITY`) |
//! | [`resource_clear`] | `crm_resource --clear -r ID [-N NODE]` | removes `cli-prefer-ID` (if it names the node) and `cli-ban-ID-on-NODE`, for every node without `-N` |
//! | [`resource_meta`] | `crm_resource --meta -r ID -p NAME -v VALUE` / `-d NAME` | the meta attribute where `crm_resource` puts it (a clone child's goes to the clone unless the child has it) |
//! | [`resource_disable`], [`resource_enable`] | `pcs resource disable/enable` | `target-role=Stopped` set / deleted |
//! | [`resource_restart`] | `crm_resource --restart` | two lists: stop (`target-role=Stopped`) then start (the previous `target-role` restored); the host applies the first, waits until the resource is stopped, then applies the second |
//! | [`resource_cleanup`] | `crm_resource --cleanup` / `--refresh` | on each online node the resource is known on (or the one given): its `fail-count-RSC#…` and `last-failure-RSC#…` transient attributes, and its `lrm_resource` history entry (for `--cleanup` only where an operation failed; `--refresh`: always); [`resource_cleanup_plan`] separates the attributes (attrd's) from the history (the CIB's) |
//! | [`location_add`], [`colocation_add`], [`order_add`], [`constraint_remove`] | `pcs constraint location/colocation/order …`, `cibadmin -D` | ids as pcs makes them (`location-RSC-NODE-SCORE`, `colocation-RSC-WITH-SCORE`, `order-FIRST-THEN-KIND`) |
//! | [`property_set`], [`property_unset`] | `crm_attribute -t crm_config -n NAME -v VALUE` / `-D` | the nvpair where it is, else in `cib-bootstrap-options` |
//! | [`node_standby`] | `crm_attribute -N NODE -n standby -v on` / `-D` | the node's `nodes-ID` instance attributes |
//! | [`config_replace`] | `cibadmin --replace` of the configuration (`pcs cluster cib-push`) | each changed section replaced |
//!
//! Errors name the resource, node, element or attribute at fault.

use scheduler::ids::clone_strip;
use std::collections::BTreeSet;

use cib::document::CibDocument;
use cib::score::parse_score;
use cib::xml::Element;
use cib::Cib;
pub use crmd::cib_manager::{CibOp, CibPath, CibRequestError};
use crmd::cib_manager::{PathError, XmlAttr};
use scheduler::model::{Cluster, NodeIdx, Role, RscIdx, Variant};
use thiserror::Error;

/// Why a verb refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AdminError {
    #[error("resource '{0}' not found (no <primitive>, <group>, <clone>, <master> or <bundle> with id=\"{0}\")")]
    UnknownResource(String),
    #[error("node '{0}' not found (no <node uname=\"{0}\">)")]
    UnknownNode(String),
    #[error("constraint '{0}' not found")]
    UnknownConstraint(String),
    #[error("id '{id}' is already used by <{element} id=\"{id}\">")]
    IdExists { id: String, element: String },
    #[error("<{element}> attribute '{attribute}': invalid score '{value}'")]
    BadScore {
        element: String,
        attribute: String,
        value: String,
    },
    #[error("invalid {what} '{value}': {reason}")]
    Invalid {
        what: &'static str,
        value: String,
        reason: String,
    },
    #[error("resource '{rsc}' is already active on {node}")]
    AlreadyActive { rsc: String, node: String },
    #[error("resource '{0}' is not active on exactly one node: give a node")]
    NotActiveOnce(String),
    #[error("multiple attributes match name={name} ({ids})")]
    Ambiguous { name: String, ids: String },
    #[error("the CIB has no <{0}> element")]
    MissingSection(String),
    #[error("the CIB cannot be read: {0}")]
    Cib(String),
    #[error(transparent)]
    Path(#[from] PathError),
    #[error(transparent)]
    Apply(#[from] CibRequestError),
}

type Result<T> = std::result::Result<T, AdminError>;

/// Applies `ops` in order to a copy of `doc` (all or none; versions untouched).
pub fn apply(doc: &CibDocument, ops: &[CibOp]) -> std::result::Result<CibDocument, CibRequestError> {
    crmd::cib_manager::apply_ops(doc, ops)
}

// ---------------------------------------------------------------- helpers

fn path(s: impl Into<String>) -> Result<CibPath> {
    Ok(CibPath::new(s)?)
}

fn attr(name: &str) -> Result<XmlAttr> {
    XmlAttr::new(name).map_err(AdminError::from)
}

fn comp(e: &Element) -> String {
    match e.attr("id") {
        Some(id) => format!("{}[@id='{id}']", e.name),
        None => e.name.to_string(),
    }
}

fn section<'a>(doc: &'a CibDocument, name: &str) -> Result<&'a Element> {
    doc.root()
        .child("configuration")
        .and_then(|c| c.child(name))
        .ok_or_else(|| AdminError::MissingSection(name.to_string()))
}

fn all_elements<'a>(e: &'a Element, out: &mut Vec<&'a Element>) {
    out.push(e);
    for c in e.elements() {
        all_elements(c, out);
    }
}

const RSC_TAGS: [&str; 5] = ["primitive", "group", "clone", "master", "bundle"];

/// A resource element: its path, the element and its parent's element (when
/// the parent is a resource).
struct Found<'a> {
    path: String,
    el: &'a Element,
    parent: Option<(String, &'a Element)>,
}

fn find_rsc<'a>(doc: &'a CibDocument, id: &str) -> Result<Found<'a>> {
    let resources = section(doc, "resources")?;
    fn walk<'a>(e: &'a Element, base: &str, parent: Option<(String, &'a Element)>, id: &str) -> Option<Found<'a>> {
        for c in e.elements().filter(|c| RSC_TAGS.contains(&c.name.as_str())) {
            let p = format!("{base}/{}", comp(c));
            if c.attr("id") == Some(id) {
                return Some(Found {
                    path: p,
                    el: c,
                    parent: parent.clone(),
                });
            }
            if let Some(f) = walk(c, &p, Some((p.clone(), c)), id) {
                return Some(f);
            }
        }
        None
    }
    walk(resources, "/cib/configuration/resources", None, id).ok_or_else(|| AdminError::UnknownResource(id.into()))
}

/// A resource `crm_resource --move/--ban/--clear` can name: not the
/// primitive (or group) inside a globally unique clone, whose instances are
/// `ID:N` (it reports such an id as not found; `--meta` finds it).
fn find_addressable<'a>(doc: &'a CibDocument, id: &str) -> Result<Found<'a>> {
    let f = find_rsc(doc, id)?;
    let resources = section(doc, "resources")?;
    let mut all = Vec::new();
    all_elements(resources, &mut all);
    for cl in all.into_iter().filter(|e| e.name == "clone" || e.name == "master") {
        let unique = cl.children_named("meta_attributes").any(|m| {
            m.children_named("nvpair")
                .any(|nv| nv.attr("name") == Some("globally-unique") && nv.attr("value").is_some_and(cib::is_true))
        });
        if !unique || cl.attr("id") == Some(id) {
            continue;
        }
        let mut inside = BTreeSet::new();
        rsc_ids_under(cl, &mut inside);
        if inside.contains(id) {
            return Err(AdminError::Invalid {
                what: "resource",
                value: id.into(),
                reason: format!(
                    "it is inside the globally unique clone '{}': name the clone",
                    cl.attr("id").unwrap_or_default()
                ),
            });
        }
    }
    Ok(f)
}

/// Every element id in the configuration, with the element's name.
fn config_ids(doc: &CibDocument) -> Vec<(String, String)> {
    let mut v = Vec::new();
    if let Some(c) = doc.root().child("configuration") {
        let mut all = Vec::new();
        all_elements(c, &mut all);
        for e in all {
            if let Some(id) = e.attr("id") {
                v.push((id.to_string(), e.name.to_string()));
            }
        }
    }
    v
}

fn check_new_id(doc: &CibDocument, id: &str) -> Result<()> {
    check_id_syntax(id)?;
    if let Some((_, el)) = config_ids(doc).into_iter().find(|(i, _)| i == id) {
        return Err(AdminError::IdExists {
            id: id.into(),
            element: el,
        });
    }
    Ok(())
}

/// An XML ID as Pacemaker's schema wants it (`xsd:ID`, roughly: a letter or
/// `_` first, then letters, digits, `.`, `-`, `_`).
fn check_id_syntax(id: &str) -> Result<()> {
    let mut chars = id.chars();
    let ok_first = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_');
    if !ok_first || !chars.all(|c| c.is_alphanumeric() || ".-_".contains(c)) {
        return Err(AdminError::Invalid {
            what: "id",
            value: id.into(),
            reason: "must start with a letter or '_' and hold only letters, digits, '.', '-', '_'".into(),
        });
    }
    Ok(())
}

/// `crm_xml_set_id`-style sanitising of a generated id (`:` and other
/// characters not allowed in an ID become `_`... Pacemaker's `crm_xml_sanitize_id`
/// turns them into `.`).
fn sanitize_id(id: &str) -> String {
    let mut s: String = id
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || "-_".contains(c) {
                c
            } else {
                '.'
            }
        })
        .collect();
    if s.chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '.' || c == '-')
    {
        s.insert(0, '_');
    }
    s
}

/// `id`, or `id-1`, `id-2`, … until unused (pcs `find_unique_id`).
fn unique_id(doc: &CibDocument, id: &str) -> String {
    let ids: BTreeSet<String> = config_ids(doc).into_iter().map(|(i, _)| i).collect();
    if !ids.contains(id) {
        return id.to_string();
    }
    (1..)
        .map(|n| format!("{id}-{n}"))
        .find(|c| !ids.contains(c))
        .expect("unbounded")
}

fn nvpair(id: &str, name: &str, value: &str) -> Element {
    let mut e = Element::new("nvpair");
    e.set_attr("id", id);
    e.set_attr("name", name);
    e.set_attr("value", value);
    e
}

fn check_score(element: &str, attribute: &str, value: &str) -> Result<()> {
    if parse_score(value).is_none() {
        return Err(AdminError::BadScore {
            element: element.into(),
            attribute: attribute.into(),
            value: value.into(),
        });
    }
    Ok(())
}

fn check_role(value: &str) -> Result<()> {
    if Role::parse(value).is_none() {
        return Err(AdminError::Invalid {
            what: "role",
            value: value.into(),
            reason: "expected Started, Stopped, Promoted, Unpromoted (or Master, Slave)".into(),
        });
    }
    Ok(())
}

fn parse_cib(doc: &CibDocument) -> Result<Cib> {
    Cib::from_element(doc.root().clone()).map_err(|e| AdminError::Cib(e.to_string()))
}

/// The cluster as the scheduler sees it at `now` (for where resources run), with
/// rules' dates read in the host's zone as Pacemaker's tools read them.
fn cluster(doc: &CibDocument, now: i64) -> Result<Cluster> {
    let opts = scheduler::Options::at(now).in_zone(cib::time::local_zone());
    Ok(scheduler::unpack::unpack_with(&parse_cib(doc)?, &opts))
}

/// Configured node names (`<node uname>`), then status-only ones.
fn node_names(doc: &CibDocument) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    if let Ok(nodes) = section(doc, "nodes") {
        for n in nodes.children_named("node") {
            if let Some(u) = n.attr("uname") {
                v.push(u.into());
            }
        }
    }
    if let Some(st) = doc.root().child("status") {
        for n in st.children_named("node_state") {
            if let Some(u) = n.attr("uname") {
                if !v.iter().any(|x| x == u) {
                    v.push(u.into());
                }
            }
        }
    }
    v
}

fn check_node(doc: &CibDocument, c: Option<&Cluster>, node: &str) -> Result<()> {
    let known = match c {
        Some(c) => c.node_by_name(node).is_some(),
        None => node_names(doc).iter().any(|n| n == node),
    };
    if known {
        Ok(())
    } else {
        Err(AdminError::UnknownNode(node.into()))
    }
}

fn constraint<'a>(doc: &'a CibDocument, id: &str) -> Option<&'a Element> {
    section(doc, "constraints")
        .ok()?
        .elements()
        .find(|e| e.attr("id") == Some(id))
}

fn constraint_path(id: &str, name: &str) -> Result<CibPath> {
    path(format!("/cib/configuration/constraints/{name}[@id='{id}']"))
}

// ----------------------------------------------------------- resource create

/// An operation of a new primitive: `name`, `interval` and more attributes
/// (`timeout`, `role`, `on-fail`, …).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OpSpec {
    pub name: String,
    pub interval: String,
    pub attrs: Vec<(String, String)>,
}

/// A new primitive (`pcs resource create`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PrimitiveSpec {
    pub id: String,
    /// `class:provider:type` (ocf) or `class:type`.
    pub agent: String,
    pub params: Vec<(String, String)>,
    pub meta: Vec<(String, String)>,
    pub ops: Vec<OpSpec>,
    /// Put it last in this group (created when missing).
    pub group: Option<String>,
    /// Create it with `target-role=Stopped`.
    pub disabled: bool,
}

/// The interval pcs gives a monitor when the agent's metadata is not read.
pub const DEFAULT_MONITOR_INTERVAL: &str = "60s";

fn parse_agent(agent: &str) -> Result<(String, Option<String>, String)> {
    let bad = |reason: &str| AdminError::Invalid {
        what: "resource agent",
        value: agent.into(),
        reason: reason.into(),
    };
    let parts: Vec<&str> = agent.split(':').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(bad("empty field"));
    }
    match parts.as_slice() {
        ["ocf", p, t] => Ok(("ocf".into(), Some(p.to_string()), t.to_string())),
        ["ocf", _] => Err(bad("ocf agents need class:provider:type")),
        [c, t] if ["stonith", "systemd", "lsb", "service", "upstart", "nagios"].contains(c) => {
            Ok((c.to_string(), None, t.to_string()))
        }
        [c, _] | [c, _, _] if *c != "ocf" => Err(bad("unknown class (ocf, stonith, systemd, lsb, service)")),
        _ => Err(bad("expected class:provider:type or class:type")),
    }
}

/// `cib::parse_interval_ms` accepts `10`, `10s`, `1min`, `PT10S` …
fn interval_ms(v: &str) -> Result<u64> {
    cib::parse_interval_ms(v).ok_or_else(|| AdminError::Invalid {
        what: "interval",
        value: v.into(),
        reason: "not a duration (10, 10s, 1min, PT10S)".into(),
    })
}

/// The `<primitive>` element `spec` describes (validated).
pub fn primitive_element(spec: &PrimitiveSpec) -> Result<Element> {
    check_id_syntax(&spec.id)?;
    let (class, provider, ty) = parse_agent(&spec.agent)?;
    let id = &spec.id;
    let mut p = Element::new("primitive");
    p.set_attr("class", class);
    p.set_attr("id", id);
    if let Some(pr) = provider {
        p.set_attr("provider", pr);
    }
    p.set_attr("type", ty);
    let mut seen = BTreeSet::new();
    if !spec.params.is_empty() {
        let set_id = format!("{id}-instance_attributes");
        let mut ia = Element::new("instance_attributes");
        ia.set_attr("id", &set_id);
        for (k, v) in &spec.params {
            if !seen.insert(("p", k.clone())) {
                return Err(AdminError::Invalid {
                    what: "parameter",
                    value: k.clone(),
                    reason: "given twice".into(),
                });
            }
            ia.push(nvpair(&sanitize_id(&format!("{set_id}-{k}")), k, v));
        }
        p.push(ia);
    }
    let mut meta: Vec<(String, String)> = spec.meta.clone();
    if spec.disabled && !meta.iter().any(|(k, _)| k == "target-role") {
        meta.push(("target-role".into(), "Stopped".into()));
    }
    if !meta.is_empty() {
        let set_id = format!("{id}-meta_attributes");
        let mut ma = Element::new("meta_attributes");
        ma.set_attr("id", &set_id);
        for (k, v) in &meta {
            if !seen.insert(("m", k.clone())) {
                return Err(AdminError::Invalid {
                    what: "meta attribute",
                    value: k.clone(),
                    reason: "given twice".into(),
                });
            }
            ma.push(nvpair(&sanitize_id(&format!("{set_id}-{k}")), k, v));
        }
        p.push(ma);
    }
    let mut ops = spec.ops.clone();
    if !ops.iter().any(|o| o.name == "monitor") {
        ops.push(OpSpec {
            name: "monitor".into(),
            interval: DEFAULT_MONITOR_INTERVAL.into(),
            attrs: Vec::new(),
        });
    }
    let mut operations = Element::new("operations");
    let mut op_ids = BTreeSet::new();
    let mut keys = BTreeSet::new();
    for o in &ops {
        if o.name.is_empty() {
            return Err(AdminError::Invalid {
                what: "operation",
                value: String::new(),
                reason: "empty name".into(),
            });
        }
        let interval = if o.interval.is_empty() {
            "0s"
        } else {
            o.interval.as_str()
        };
        let ms = interval_ms(interval)?;
        let role = o.attrs.iter().find(|(k, _)| k == "role").map(|(_, v)| v.clone());
        if let Some(r) = &role {
            check_role(r)?;
        }
        if !keys.insert((o.name.clone(), ms, role)) {
            return Err(AdminError::Invalid {
                what: "operation",
                value: format!("{} interval={interval}", o.name),
                reason: "defined twice".into(),
            });
        }
        let base = sanitize_id(&format!("{id}-{}-interval-{interval}", o.name));
        let mut op_id = base.clone();
        let mut n = 0;
        while !op_ids.insert(op_id.clone()) {
            n += 1;
            op_id = format!("{base}-{n}");
        }
        let mut e = Element::new("op");
        e.set_attr("id", op_id);
        e.set_attr("interval", interval);
        e.set_attr("name", &o.name);
        for (k, v) in &o.attrs {
            if k == "id" || k == "name" || k == "interval" {
                continue;
            }
            e.set_attr(k, v);
        }
        operations.push(e);
    }
    p.push(operations);
    Ok(p)
}

/// `pcs resource create`.
pub fn resource_create(doc: &CibDocument, spec: &PrimitiveSpec) -> Result<Vec<CibOp>> {
    let p = primitive_element(spec)?;
    let mut new_ids = Vec::new();
    let mut all = Vec::new();
    all_elements(&p, &mut all);
    for e in all {
        if let Some(id) = e.attr("id") {
            check_new_id(doc, id)?;
            new_ids.push(id.to_string());
        }
    }
    section(doc, "resources")?;
    match &spec.group {
        None => Ok(vec![CibOp::Create {
            parent: path("/cib/configuration/resources")?,
            element: p,
        }]),
        Some(g) => match find_rsc(doc, g) {
            Ok(f) if f.el.name == "group" => Ok(vec![CibOp::Create {
                parent: path(f.path)?,
                element: p,
            }]),
            Ok(f) => Err(AdminError::Invalid {
                what: "group",
                value: g.clone(),
                reason: format!("it is a <{}>, not a <group>", f.el.name),
            }),
            Err(_) => {
                check_new_id(doc, g)?;
                if new_ids.contains(g) {
                    return Err(AdminError::IdExists {
                        id: g.clone(),
                        element: "primitive".into(),
                    });
                }
                let mut group = Element::new("group");
                group.set_attr("id", g);
                group.push(p);
                Ok(vec![CibOp::Create {
                    parent: path("/cib/configuration/resources")?,
                    element: group,
                }])
            }
        },
    }
}

// ----------------------------------------------------------- resource delete

fn rsc_ids_under(e: &Element, out: &mut BTreeSet<String>) {
    if RSC_TAGS.contains(&e.name.as_str()) {
        if let Some(id) = e.attr("id") {
            out.insert(id.to_string());
        }
    }
    for c in e.elements() {
        rsc_ids_under(c, out);
    }
}

/// Edits removing every reference to the resources `ids` from the
/// constraints: a constraint naming one goes; a set member is dropped from
/// its set, a set left empty goes, a constraint left without sets goes.
fn constraint_refs_removal(doc: &CibDocument, ids: &BTreeSet<String>) -> Result<Vec<CibOp>> {
    let Ok(cons) = section(doc, "constraints") else {
        return Ok(Vec::new());
    };
    let mut ops = Vec::new();
    for c in cons.elements() {
        let Some(cid) = c.attr("id") else { continue };
        let cpath = format!("/cib/configuration/constraints/{}", comp(c));
        let direct = ["rsc", "with-rsc", "first", "then"]
            .iter()
            .any(|a| c.attr(a).is_some_and(|v| ids.contains(v)));
        if direct {
            ops.push(CibOp::Delete {
                path: constraint_path(cid, &c.name)?,
            });
            continue;
        }
        let sets: Vec<&Element> = c.children_named("resource_set").collect();
        if sets.is_empty() {
            continue;
        }
        let mut remaining_sets = sets.len();
        let mut set_ops = Vec::new();
        for s in &sets {
            let refs: Vec<&Element> = s.children_named("resource_ref").collect();
            let gone: Vec<&&Element> = refs
                .iter()
                .filter(|r| r.attr("id").is_some_and(|v| ids.contains(v)))
                .collect();
            if gone.is_empty() {
                continue;
            }
            let spath = format!("{cpath}/{}", comp(s));
            if gone.len() == refs.len() {
                remaining_sets -= 1;
                set_ops.push(CibOp::Delete { path: path(&spath)? });
            } else {
                for r in gone {
                    set_ops.push(CibOp::Delete {
                        path: path(format!("{spath}/{}", comp(r)))?,
                    });
                }
            }
        }
        if remaining_sets == 0 {
            ops.push(CibOp::Delete { path: path(&cpath)? });
        } else {
            ops.extend(set_ops);
        }
    }
    Ok(ops)
}

/// `pcs resource delete ID`: the resource and the constraints naming it. A
/// group's only member or a clone's child takes its group or clone with it.
/// (pcs stops the resource first; a live host should
/// [`resource_disable`] and wait before applying these edits.)
pub fn resource_delete(doc: &CibDocument, rsc: &str) -> Result<Vec<CibOp>> {
    let f = find_rsc(doc, rsc)?;
    let (del_path, del_el) = match &f.parent {
        Some((pp, pe)) if ["clone", "master"].contains(&pe.name.as_str()) => (pp.clone(), *pe),
        Some((pp, pe)) if pe.name == "group" && pe.elements().filter(|e| e.name == "primitive").count() == 1 => {
            (pp.clone(), *pe)
        }
        _ => (f.path.clone(), f.el),
    };
    let mut ids = BTreeSet::new();
    rsc_ids_under(del_el, &mut ids);
    let mut ops = constraint_refs_removal(doc, &ids)?;
    // Tag references (a tag left empty goes).
    if let Ok(tags) = section(doc, "tags") {
        for t in tags.children_named("tag") {
            let tpath = format!("/cib/configuration/tags/{}", comp(t));
            let refs: Vec<&Element> = t.children_named("obj_ref").collect();
            let gone: Vec<&&Element> = refs
                .iter()
                .filter(|r| r.attr("id").is_some_and(|v| ids.contains(v)))
                .collect();
            if gone.is_empty() {
                continue;
            }
            if gone.len() == refs.len() {
                ops.push(CibOp::Delete { path: path(tpath)? });
            } else {
                for r in gone {
                    ops.push(CibOp::Delete {
                        path: path(format!("{tpath}/{}", comp(r)))?,
                    });
                }
            }
        }
    }
    ops.push(CibOp::Delete { path: path(del_path)? });
    Ok(ops)
}

// -------------------------------------------------------- move / ban / clear

/// Adds an ISO 8601 duration (`PT1H`, `P1D`, `P1Y2M3DT4H5M6S`, `P2W`) to
/// `now` (epoch seconds, UTC), years and months by the calendar.
pub fn add_duration(now: i64, duration: &str) -> Option<i64> {
    let d = duration.trim();
    let rest = d.strip_prefix('P')?;
    let (date, time) = match rest.split_once('T') {
        Some((a, b)) => (a, Some(b)),
        None => (rest, None),
    };
    let mut fields: Vec<(cib::CompactString, cib::CompactString)> = Vec::new();
    let mut read = |part: &str, names: &[(char, &str)]| -> Option<()> {
        let mut num = String::new();
        for ch in part.chars() {
            if ch.is_ascii_digit() {
                num.push(ch);
                continue;
            }
            let n: i64 = num.parse().ok()?;
            num.clear();
            let name = names.iter().find(|(c, _)| *c == ch)?.1;
            fields.push((name.into(), n.to_string().into()));
        }
        num.is_empty().then_some(())
    };
    read(date, &[('Y', "years"), ('M', "months"), ('W', "weeks"), ('D', "days")])?;
    if let Some(t) = time {
        read(t, &[('H', "hours"), ('M', "minutes"), ('S', "seconds")])?;
    }
    if fields.is_empty() {
        return None;
    }
    cib::time::add_duration(now, &cib::time::TimeZone::UTC, &fields)
}

fn lifetime_end(lifetime: Option<&str>, now: i64) -> Result<Option<String>> {
    match lifetime {
        None => Ok(None),
        Some(l) => add_duration(now, l)
            .map(|t| Some(cib::time::iso_utc(t)))
            .ok_or_else(|| AdminError::Invalid {
                what: "lifetime",
                value: l.into(),
                reason: "not an ISO 8601 duration (PT1H, P1D, …)".into(),
            }),
    }
}

fn promoted_role(promoted: bool) -> &'static str {
    if promoted {
        "Promoted"
    } else {
        "Started"
    }
}

/// The location constraint `crm_resource` writes (`cli_resource_ban` /
/// `cli_resource_prefer`).
fn cli_location(rsc: &str, node: &str, ban: bool, end: Option<&str>, promoted: bool) -> Element {
    let id = if ban {
        format!("cli-ban-{rsc}-on-{node}")
    } else {
        format!("cli-prefer-{rsc}")
    };
    let score = if ban { "-INFINITY" } else { "INFINITY" };
    let mut loc = Element::new("rsc_location");
    loc.set_attr("id", &id);
    loc.set_attr("rsc", rsc);
    loc.set_attr("role", promoted_role(promoted));
    match end {
        None => {
            loc.set_attr("node", node);
            loc.set_attr("score", score);
        }
        Some(end) => {
            let (rule_id, expr_id, life_id) = if ban {
                (format!("{id}-rule"), format!("{id}-expr"), format!("{id}-lifetime"))
            } else {
                (
                    format!("cli-prefer-rule-{rsc}"),
                    format!("cli-prefer-expr-{rsc}"),
                    format!("cli-prefer-lifetime-end-{rsc}"),
                )
            };
            let mut rule = Element::new("rule");
            rule.set_attr("id", rule_id);
            rule.set_attr("score", score);
            rule.set_attr("boolean-op", "and");
            let mut expr = Element::new("expression");
            expr.set_attr("id", expr_id);
            expr.set_attr("attribute", "#uname");
            expr.set_attr("operation", "eq");
            expr.set_attr("value", node);
            expr.set_attr("type", "string");
            rule.push(expr);
            let mut de = Element::new("date_expression");
            de.set_attr("id", life_id);
            de.set_attr("operation", "lt");
            de.set_attr("end", end);
            rule.push(de);
            loc.push(rule);
        }
    }
    loc
}

/// Create or replace a constraint (`cib update` of a constraints fragment).
fn upsert_constraint(doc: &CibDocument, el: Element) -> Result<CibOp> {
    let id = el.attr("id").unwrap_or_default().to_string();
    match constraint(doc, &id) {
        Some(old) if old.name == el.name => Ok(CibOp::Modify {
            path: constraint_path(&id, &el.name)?,
            element: el,
        }),
        Some(old) => Err(AdminError::IdExists {
            id,
            element: old.name.to_string(),
        }),
        None => {
            if let Some((_, name)) = config_ids(doc).into_iter().find(|(i, _)| *i == id) {
                return Err(AdminError::IdExists { id, element: name });
            }
            Ok(CibOp::Create {
                parent: path("/cib/configuration/constraints")?,
                element: el,
            })
        }
    }
}

/// Where the resource is active (`pe__find_active_requires`): the node and
/// how many nodes; a promotable clone counts its promoted instances.
fn current_location(c: &Cluster, rsc: &str, promoted_only: bool) -> (Option<String>, usize) {
    let Some(r) = c.rsc_by_id(rsc) else {
        return (None, 0);
    };
    let promotable = matches!(c.rscs[r].variant, Variant::Clone { promotable: true, .. });
    let mut nodes: Vec<NodeIdx> = Vec::new();
    let mut promoted: Vec<NodeIdx> = Vec::new();
    for p in c.primitives_of(r) {
        for &n in &c.rscs[p].observed.running_on {
            if !nodes.contains(&n) {
                nodes.push(n);
            }
            if c.rscs[p].observed.role == Role::Promoted && !promoted.contains(&n) {
                promoted.push(n);
            }
        }
    }
    let list = if promotable && (promoted_only || !promoted.is_empty()) {
        promoted
    } else {
        nodes
    };
    let first = list.first().map(|&n| c.nodes[n].uname.clone());
    (first, list.len())
}

fn is_clone(doc: &CibDocument, rsc: &str) -> bool {
    find_rsc(doc, rsc).is_ok_and(|f| f.el.name == "clone" || f.el.name == "master")
}

/// Options of [`resource_move`] and [`resource_ban`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MoveOptions {
    /// ISO 8601 duration after which the constraint expires.
    pub lifetime: Option<String>,
    /// Only the promoted role (`--promoted`).
    pub promoted: bool,
    /// Move even where already active (`--force`); also bans the current node.
    pub force: bool,
}

/// `crm_resource --move -r RSC [-N NODE]` at time `now` (epoch s).
pub fn resource_move(
    doc: &CibDocument,
    rsc: &str,
    node: Option<&str>,
    opts: &MoveOptions,
    now: i64,
) -> Result<Vec<CibOp>> {
    find_addressable(doc, rsc)?;
    let end = lifetime_end(opts.lifetime.as_deref(), now)?;
    let c = cluster(doc, now)?;
    let Some(dest) = node else {
        // Without a node: ban the current location.
        return ban_current(doc, &c, rsc, opts, end.as_deref());
    };
    check_node(doc, Some(&c), dest)?;
    let (mut current, count) = current_location(&c, rsc, opts.promoted);
    if count > 1 {
        if is_clone(doc, rsc) {
            current = None;
        } else {
            return Err(AdminError::NotActiveOnce(rsc.into()));
        }
    }
    let cur_is_dest = current.as_deref() == Some(dest);
    if cur_is_dest && !opts.force {
        return Err(AdminError::AlreadyActive {
            rsc: rsc.into(),
            node: dest.into(),
        });
    }
    let mut ops = Vec::new();
    // Old preferences (for any node) and a ban from the destination go.
    let prefer = format!("cli-prefer-{rsc}");
    if constraint(doc, &prefer).is_some() {
        ops.push(CibOp::Delete {
            path: constraint_path(&prefer, "rsc_location")?,
        });
    }
    let ban = format!("cli-ban-{rsc}-on-{dest}");
    if constraint(doc, &ban).is_some() {
        ops.push(CibOp::Delete {
            path: constraint_path(&ban, "rsc_location")?,
        });
    }
    ops.push(CibOp::Create {
        parent: path("/cib/configuration/constraints")?,
        element: cli_location(rsc, dest, false, end.as_deref(), opts.promoted),
    });
    if opts.force && !cur_is_dest {
        if let Some(cur) = current {
            let after = apply(doc, &ops)?;
            ops.push(upsert_constraint(
                &after,
                cli_location(rsc, &cur, true, end.as_deref(), opts.promoted),
            )?);
        }
    }
    Ok(ops)
}

fn ban_current(doc: &CibDocument, c: &Cluster, rsc: &str, opts: &MoveOptions, end: Option<&str>) -> Result<Vec<CibOp>> {
    let (current, count) = current_location(c, rsc, opts.promoted);
    match current {
        Some(n) if count == 1 => Ok(vec![upsert_constraint(
            doc,
            cli_location(rsc, &n, true, end, opts.promoted),
        )?]),
        _ => Err(AdminError::NotActiveOnce(rsc.into())),
    }
}

/// `crm_resource --ban -r RSC [-N NODE]`: without a node, from where it is
/// active.
pub fn resource_ban(
    doc: &CibDocument,
    rsc: &str,
    node: Option<&str>,
    opts: &MoveOptions,
    now: i64,
) -> Result<Vec<CibOp>> {
    find_addressable(doc, rsc)?;
    let end = lifetime_end(opts.lifetime.as_deref(), now)?;
    match node {
        Some(n) => {
            check_node(doc, None, n)?;
            Ok(vec![upsert_constraint(
                doc,
                cli_location(rsc, n, true, end.as_deref(), opts.promoted),
            )?])
        }
        None => {
            let c = cluster(doc, now)?;
            ban_current(doc, &c, rsc, opts, end.as_deref())
        }
    }
}

/// `crm_resource --clear -r RSC [-N NODE]`: the `cli-prefer-RSC` constraint
/// when it names the node (any node without `-N`) and `cli-ban-RSC-on-NODE`.
pub fn resource_clear(doc: &CibDocument, rsc: &str, node: Option<&str>) -> Result<Vec<CibOp>> {
    find_addressable(doc, rsc)?;
    let nodes: Vec<String> = match node {
        Some(n) => {
            check_node(doc, None, n)?;
            vec![n.to_string()]
        }
        None => node_names(doc),
    };
    let mut ops = Vec::new();
    let prefer = format!("cli-prefer-{rsc}");
    if let Some(p) = constraint(doc, &prefer) {
        let names_node = |n: &str| {
            p.attr("node") == Some(n)
                || p.children_named("rule").any(|r| {
                    r.attr("id") == Some(&format!("cli-prefer-rule-{rsc}"))
                        && r.children_named("expression")
                            .any(|e| e.attr("attribute") == Some("#uname") && e.attr("value") == Some(n))
                })
        };
        if nodes.iter().any(|n| names_node(n)) {
            ops.push(CibOp::Delete {
                path: constraint_path(&prefer, &p.name)?,
            });
        }
    }
    for n in &nodes {
        let ban = format!("cli-ban-{rsc}-on-{n}");
        if let Some(b) = constraint(doc, &ban) {
            ops.push(CibOp::Delete {
                path: constraint_path(&ban, &b.name)?,
            });
        }
    }
    Ok(ops)
}

// ------------------------------------------------------------ meta attributes

/// The nvpairs called `name` in `el`'s direct `set_tag` children (with paths).
fn own_nvpairs<'a>(el: &'a Element, el_path: &str, set_tag: &str, name: &str) -> Vec<(String, &'a Element)> {
    let mut v = Vec::new();
    for s in el.elements().filter(|e| e.name == set_tag) {
        let sp = format!("{el_path}/{}", comp(s));
        let mut all = Vec::new();
        all_elements(s, &mut all);
        for e in all {
            if e.name == "nvpair" && e.attr("name") == Some(name) {
                // nvpairs sit directly in the set (rules aside).
                if s.elements().any(|x| std::ptr::eq(x, e)) {
                    v.push((format!("{sp}/{}", comp(e)), e));
                }
            }
        }
    }
    v
}

/// `find_matching_attr_resources`: which resources `crm_resource --meta` edits.
fn meta_targets<'a>(doc: &'a CibDocument, rsc: &str, name: &str) -> Result<Vec<Found<'a>>> {
    let f = find_rsc(doc, rsc)?;
    let has = |x: &Found<'_>| !own_nvpairs(x.el, &x.path, "meta_attributes", name).is_empty();
    if let Some((pp, pe)) = &f.parent {
        if ["clone", "master"].contains(&pe.name.as_str()) {
            if has(&f) {
                return Ok(vec![f]);
            }
            let parent = find_rsc(doc, pe.attr("id").unwrap_or_default())?;
            debug_assert_eq!(&parent.path, pp);
            return Ok(vec![parent]);
        }
    }
    if ["clone", "master"].contains(&f.el.name.as_str()) {
        if let Some(child) = f.el.elements().find(|e| e.name == "primitive") {
            let child = find_rsc(doc, child.attr("id").unwrap_or_default())?;
            if has(&child) {
                return Ok(vec![child]);
            }
        }
        return Ok(vec![f]);
    }
    // A group: members holding the attribute too, then the group.
    let mut out = Vec::new();
    if f.el.name == "group" {
        for m in f.el.elements().filter(|e| e.name == "primitive") {
            let mf = find_rsc(doc, m.attr("id").unwrap_or_default())?;
            if has(&mf) {
                out.push(mf);
            }
        }
    }
    out.push(f);
    Ok(out)
}

/// `crm_resource -r RSC --meta -p NAME -v VALUE` (`Some`) or `-d NAME` (`None`).
pub fn resource_meta(doc: &CibDocument, rsc: &str, name: &str, value: Option<&str>) -> Result<Vec<CibOp>> {
    attr(name)?;
    let mut ops = Vec::new();
    for t in meta_targets(doc, rsc, name)? {
        let pairs = own_nvpairs(t.el, &t.path, "meta_attributes", name);
        if pairs.len() > 1 {
            let ids: Vec<&str> = pairs.iter().filter_map(|(_, e)| e.attr("id")).collect();
            return Err(AdminError::Ambiguous {
                name: name.into(),
                ids: ids.join(", "),
            });
        }
        match (value, pairs.first()) {
            (Some(v), Some((p, _))) => ops.push(CibOp::SetAttribute {
                path: path(p.clone())?,
                name: attr("value")?,
                value: v.into(),
            }),
            (Some(v), None) => {
                let id = t.el.attr("id").unwrap_or_default();
                let set_id = format!("{id}-meta_attributes");
                let pair = nvpair(&format!("{set_id}-{name}"), name, v);
                match t
                    .el
                    .children_named("meta_attributes")
                    .find(|s| s.attr("id") == Some(&set_id))
                {
                    Some(_) => ops.push(CibOp::Create {
                        parent: path(format!("{}/meta_attributes[@id='{set_id}']", t.path))?,
                        element: pair,
                    }),
                    None => {
                        if let Some((_, el)) = config_ids(doc).into_iter().find(|(i, _)| *i == set_id) {
                            return Err(AdminError::IdExists {
                                id: set_id,
                                element: el,
                            });
                        }
                        let mut set = Element::new("meta_attributes");
                        set.set_attr("id", &set_id);
                        set.push(pair);
                        ops.push(CibOp::Create {
                            parent: path(t.path.clone())?,
                            element: set,
                        });
                    }
                }
            }
            (None, Some((p, _))) => ops.push(CibOp::Delete { path: path(p.clone())? }),
            (None, None) => {}
        }
    }
    Ok(ops)
}

/// `pcs resource disable`: `target-role=Stopped`.
pub fn resource_disable(doc: &CibDocument, rsc: &str) -> Result<Vec<CibOp>> {
    resource_meta(doc, rsc, "target-role", Some("Stopped"))
}

/// `pcs resource enable`: the `target-role` meta attribute removed.
pub fn resource_enable(doc: &CibDocument, rsc: &str) -> Result<Vec<CibOp>> {
    resource_meta(doc, rsc, "target-role", None)
}

/// The two steps of a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restart {
    /// Apply first: `target-role=Stopped`.
    pub stop: Vec<CibOp>,
    /// Apply once the resource is stopped everywhere: the `target-role` the
    /// resource had before (removed if it had none).
    pub start: Vec<CibOp>,
}

/// `crm_resource --restart -r RSC`, as two edit lists the host applies with
/// a wait in between (`start` is made against the CIB after `stop`).
pub fn resource_restart(doc: &CibDocument, rsc: &str) -> Result<Restart> {
    let before: Vec<(String, Option<String>)> = meta_targets(doc, rsc, "target-role")?
        .iter()
        .map(|t| {
            let v = own_nvpairs(t.el, &t.path, "meta_attributes", "target-role")
                .first()
                .and_then(|(_, e)| e.attr("value").map(str::to_string));
            (t.el.attr("id").unwrap_or_default().to_string(), v)
        })
        .collect();
    let stop = resource_disable(doc, rsc)?;
    let stopped = apply(doc, &stop)?;
    let mut start = Vec::new();
    for (id, v) in before {
        let cur = apply(&stopped, &start)?;
        let f = find_rsc(&cur, &id)?;
        let pairs = own_nvpairs(f.el, &f.path, "meta_attributes", "target-role");
        if let Some((p, _)) = pairs.first() {
            start.push(match v {
                Some(v) => CibOp::SetAttribute {
                    path: path(p.clone())?,
                    name: attr("value")?,
                    value: v,
                },
                None => CibOp::Delete { path: path(p.clone())? },
            });
        }
    }
    Ok(Restart { stop, start })
}

// ------------------------------------------------------------------- cleanup

/// What [`resource_cleanup`] removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CleanupKind {
    /// `--cleanup`: fail counts, and the history of resources with a failed
    /// operation.
    #[default]
    Failures,
    /// `--refresh`: fail counts and the whole history (re-probed).
    Refresh,
}

/// Whether a history entry is a failure as `crm_resource --cleanup` counts
/// it: not pending or cancelled, and either not done or not the expected rc
/// (probes finding the resource stopped are fine).
fn op_failed(op: &Element) -> bool {
    let status: i32 = op.attr("op-status").and_then(|v| v.parse().ok()).unwrap_or(0);
    let rc: i32 = op.attr("rc-code").and_then(|v| v.parse().ok()).unwrap_or(0);
    if status == -1 || status == 1 {
        return false;
    }
    if status != 0 {
        return true;
    }
    let target: Option<i32> = op
        .attr("transition-key")
        .and_then(|k| k.split(':').nth(2))
        .and_then(|v| v.parse().ok());
    let probe = op.attr("operation") == Some("monitor") && op.attr("interval").is_none_or(|v| v == "0");
    if probe && (rc == 7 || rc == 8) {
        return false;
    }
    match target {
        Some(t) => rc != t,
        None => rc != 0,
    }
}

/// Whether a transient attribute name is a fail count or last failure of
/// `name` (`attrd`'s `^(fail-count|last-failure)-RSC#.+_[0-9]+$`), optionally
/// of one operation and interval.
fn is_fail_attr(attr_name: &str, name: &str, op: Option<(&str, u64)>) -> bool {
    for prefix in ["fail-count-", "last-failure-"] {
        let Some(rest) = attr_name.strip_prefix(prefix).and_then(|r| r.strip_prefix(name)) else {
            continue;
        };
        let Some(key) = rest.strip_prefix('#') else { continue };
        let Some((task, interval)) = key.rsplit_once('_') else {
            continue;
        };
        if task.is_empty() || interval.is_empty() || !interval.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        match op {
            None => return true,
            Some((t, i)) => {
                if t == task && interval.parse::<u64>().ok() == Some(i) {
                    return true;
                }
            }
        }
    }
    false
}

/// Options of [`resource_cleanup`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CleanupOptions {
    /// Only this resource (with its children); all when `None`.
    pub rsc: Option<String>,
    /// Only this node.
    pub node: Option<String>,
    /// Only this operation and interval (`--operation`, `--interval`).
    pub operation: Option<(String, String)>,
    pub kind: CleanupKind,
}

/// `crm_resource --cleanup` / `--refresh`: the status entries a controller
/// and attrd remove. For each primitive of the resource and each online node
/// it is known on (or the node given): the `fail-count-NAME#OP_INTERVAL` and
/// `last-failure-…` transient attributes (NAME without a clone instance
/// number for anonymous clones), and the node's `lrm_resource` entry of the
/// resource — for `--cleanup` only if one of its operations failed.
pub fn resource_cleanup(doc: &CibDocument, opts: &CleanupOptions, now: i64) -> Result<Vec<CibOp>> {
    let plan = resource_cleanup_plan(doc, opts, now)?;
    let mut ops: Vec<CibOp> = plan
        .fail_attributes
        .into_iter()
        .map(|a| CibOp::Delete { path: a.path })
        .collect();
    ops.extend(plan.history);
    Ok(ops)
}

/// A fail count or last-failure attribute a cleanup clears.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailAttribute {
    /// The node's name.
    pub node: String,
    /// `fail-count-RSC#OP_INTERVAL` or `last-failure-…`.
    pub name: String,
    /// Where it is in the CIB status.
    pub path: CibPath,
}

/// What a cleanup clears, split by owner: transient attributes belong to
/// the attribute manager (a live host asks attrd to clear them, or its next
/// write brings them back); history entries are CIB edits.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CleanupPlan {
    pub fail_attributes: Vec<FailAttribute>,
    /// `lrm_resource` deletions.
    pub history: Vec<CibOp>,
}

/// [`resource_cleanup`] split into the attributes to clear and the history
/// to delete.
pub fn resource_cleanup_plan(doc: &CibDocument, opts: &CleanupOptions, now: i64) -> Result<CleanupPlan> {
    let c = cluster(doc, now)?;
    let prims: Vec<RscIdx> = match &opts.rsc {
        Some(r) => {
            // Implicit resources (guest node connections) are not in the
            // configuration: the unpacked cluster knows them.
            let idx = c.rsc_by_id(r).ok_or_else(|| AdminError::UnknownResource(r.clone()))?;
            c.primitives_of(idx)
        }
        None => RscIdx::all(c.rscs.len())
            .filter(|&r| c.rscs[r].is_primitive())
            .collect(),
    };
    if let Some(n) = &opts.node {
        check_node(doc, Some(&c), n)?;
    }
    let op_filter: Option<(String, u64)> = match &opts.operation {
        Some((t, i)) => Some((t.clone(), interval_ms(if i.is_empty() { "0" } else { i })?)),
        None => None,
    };
    let Some(status) = doc.root().child("status") else {
        return Ok(CleanupPlan::default());
    };
    let mut ops = Vec::new();
    let mut attrs = Vec::new();
    let mut done = BTreeSet::new();
    for ns in status.children_named("node_state") {
        let Some(uname) = ns.attr("uname") else { continue };
        if opts.node.as_deref().is_some_and(|n| n != uname) {
            continue;
        }
        let Some(ni) = c.node_by_name(uname) else { continue };
        if !c.nodes[ni].online {
            continue;
        }
        let ns_path = format!("/cib/status/{}", comp(ns));
        for &p in &prims {
            let rs = &c.rscs[p];
            let unique = matches!(c.rscs[c.top_parent(p)].variant, Variant::Clone { unique: true, .. });
            let base = clone_strip(&rs.id).to_string();
            let fail_name = if rs.config.instance.is_some() && !unique {
                base.clone()
            } else {
                rs.id.clone()
            };
            // History entries of this primitive on this node.
            let hist: Vec<&str> = rs
                .observed
                .history_ids
                .iter()
                .filter(|(n, _)| *n == ni)
                .map(|(_, id)| id.as_str())
                .collect();
            let known = !hist.is_empty() || rs.observed.known_on.contains(&ni);
            if !known && opts.node.is_none() {
                continue;
            }
            // Transient attributes.
            for ta in ns.children_named("transient_attributes") {
                for ia in ta.children_named("instance_attributes") {
                    for nv in ia.children_named("nvpair") {
                        let Some(an) = nv.attr("name") else { continue };
                        let of_op = op_filter.as_ref().map(|(t, i)| (t.as_str(), *i));
                        if is_fail_attr(an, &fail_name, of_op) {
                            let pth = format!("{ns_path}/{}/{}/{}", comp(ta), comp(ia), comp(nv));
                            if done.insert(pth.clone()) {
                                attrs.push(FailAttribute {
                                    node: uname.to_string(),
                                    name: an.to_string(),
                                    path: path(pth)?,
                                });
                            }
                        }
                    }
                }
            }
            // History.
            for lrm in ns.children_named("lrm") {
                for lrs in lrm.children_named("lrm_resources") {
                    for lr in lrs.children_named("lrm_resource") {
                        let Some(lid) = lr.attr("id") else { continue };
                        if !hist.contains(&lid) {
                            continue;
                        }
                        let failed = lr.children_named("lrm_rsc_op").any(|o| {
                            op_failed(o)
                                && op_filter.as_ref().is_none_or(|(t, i)| {
                                    o.attr("operation") == Some(t.as_str())
                                        && o.attr("interval").and_then(|v| v.parse::<u64>().ok()).unwrap_or(0) == *i
                                })
                        });
                        if opts.kind == CleanupKind::Refresh || failed {
                            let pth = format!("{ns_path}/{}/{}/{}", comp(lrm), comp(lrs), comp(lr));
                            if done.insert(pth.clone()) {
                                ops.push(CibOp::Delete { path: path(pth)? });
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(CleanupPlan {
        fail_attributes: attrs,
        history: ops,
    })
}

// --------------------------------------------------------------- constraints

fn check_rsc_exists(doc: &CibDocument, rsc: &str) -> Result<()> {
    find_rsc(doc, rsc).map(|_| ())
}

/// `pcs constraint location RSC prefers|avoids NODE[=SCORE]`: `score` as
/// given (negative for avoids); `id` defaults to `location-RSC-NODE-SCORE`.
pub fn location_add(
    doc: &CibDocument,
    id: Option<&str>,
    rsc: &str,
    node: &str,
    score: &str,
    role: Option<&str>,
) -> Result<Vec<CibOp>> {
    check_rsc_exists(doc, rsc)?;
    check_node(doc, None, node)?;
    check_score("rsc_location", "score", score)?;
    if let Some(r) = role {
        check_role(r)?;
    }
    let id = match id {
        Some(i) => {
            check_new_id(doc, i)?;
            i.to_string()
        }
        None => unique_id(doc, &sanitize_id(&format!("location-{rsc}-{node}-{score}"))),
    };
    let mut e = Element::new("rsc_location");
    e.set_attr("id", &id);
    e.set_attr("node", node);
    e.set_attr("rsc", rsc);
    if let Some(r) = role {
        e.set_attr("role", r);
    }
    e.set_attr("score", score);
    Ok(vec![CibOp::Create {
        parent: path("/cib/configuration/constraints")?,
        element: e,
    }])
}

/// `pcs constraint colocation add RSC with WITH [SCORE]` (`id` defaults to
/// `colocation-RSC-WITH-SCORE`).
pub fn colocation_add(
    doc: &CibDocument,
    id: Option<&str>,
    rsc: &str,
    with_rsc: &str,
    score: &str,
    rsc_role: Option<&str>,
    with_role: Option<&str>,
) -> Result<Vec<CibOp>> {
    check_rsc_exists(doc, rsc)?;
    check_rsc_exists(doc, with_rsc)?;
    check_score("rsc_colocation", "score", score)?;
    for r in [rsc_role, with_role].into_iter().flatten() {
        check_role(r)?;
    }
    let id = match id {
        Some(i) => {
            check_new_id(doc, i)?;
            i.to_string()
        }
        None => unique_id(doc, &sanitize_id(&format!("colocation-{rsc}-{with_rsc}-{score}"))),
    };
    let mut e = Element::new("rsc_colocation");
    e.set_attr("id", &id);
    e.set_attr("rsc", rsc);
    if let Some(r) = rsc_role {
        e.set_attr("rsc-role", r);
    }
    e.set_attr("score", score);
    e.set_attr("with-rsc", with_rsc);
    if let Some(r) = with_role {
        e.set_attr("with-rsc-role", r);
    }
    Ok(vec![CibOp::Create {
        parent: path("/cib/configuration/constraints")?,
        element: e,
    }])
}

const ACTIONS: [&str; 5] = ["start", "stop", "promote", "demote", "monitor"];

/// `pcs constraint order [ACTION] FIRST then [ACTION] THEN [kind=K]` (`id`
/// defaults to `order-FIRST-THEN-KIND`, kind lower-case, default mandatory).
#[allow(clippy::too_many_arguments)]
pub fn order_add(
    doc: &CibDocument,
    id: Option<&str>,
    first: &str,
    first_action: Option<&str>,
    then: &str,
    then_action: Option<&str>,
    kind: Option<&str>,
    symmetrical: Option<bool>,
) -> Result<Vec<CibOp>> {
    check_rsc_exists(doc, first)?;
    check_rsc_exists(doc, then)?;
    for a in [first_action, then_action].into_iter().flatten() {
        if !ACTIONS.contains(&a) {
            return Err(AdminError::Invalid {
                what: "action",
                value: a.into(),
                reason: format!("expected one of {}", ACTIONS.join(", ")),
            });
        }
    }
    let kind = match kind {
        None => None,
        Some(k) => Some(
            ["Mandatory", "Optional", "Serialize"]
                .into_iter()
                .find(|x| x.eq_ignore_ascii_case(k))
                .ok_or_else(|| AdminError::Invalid {
                    what: "kind",
                    value: k.into(),
                    reason: "expected Mandatory, Optional or Serialize".into(),
                })?,
        ),
    };
    let id = match id {
        Some(i) => {
            check_new_id(doc, i)?;
            i.to_string()
        }
        None => unique_id(
            doc,
            &sanitize_id(&format!(
                "order-{first}-{then}-{}",
                kind.unwrap_or("Mandatory").to_ascii_lowercase()
            )),
        ),
    };
    let mut e = Element::new("rsc_order");
    e.set_attr("first", first);
    e.set_attr("first-action", first_action.unwrap_or("start"));
    e.set_attr("id", &id);
    if let Some(k) = kind {
        e.set_attr("kind", k);
    }
    if let Some(s) = symmetrical {
        e.set_attr("symmetrical", if s { "true" } else { "false" });
    }
    e.set_attr("then", then);
    e.set_attr("then-action", then_action.unwrap_or("start"));
    Ok(vec![CibOp::Create {
        parent: path("/cib/configuration/constraints")?,
        element: e,
    }])
}

/// `pcs constraint remove ID` / `cibadmin -D`: a constraint by id.
pub fn constraint_remove(doc: &CibDocument, id: &str) -> Result<Vec<CibOp>> {
    let c = constraint(doc, id).ok_or_else(|| AdminError::UnknownConstraint(id.into()))?;
    Ok(vec![CibOp::Delete {
        path: constraint_path(id, &c.name)?,
    }])
}

// ---------------------------------------------------------------- properties

/// The nvpairs called `name` in a list of sets (paths from `base`).
fn set_nvpairs<'a>(sec: &'a Element, base: &str, set_tag: &str, name: &str) -> Vec<(String, &'a Element)> {
    let mut v = Vec::new();
    for s in sec.elements().filter(|e| e.name == set_tag) {
        for nv in s.children_named("nvpair") {
            if nv.attr("name") == Some(name) {
                v.push((format!("{base}/{}/{}", comp(s), comp(nv)), nv));
            }
        }
    }
    v
}

fn one<'a>(v: Vec<(String, &'a Element)>, name: &str) -> Result<Option<(String, &'a Element)>> {
    if v.len() > 1 {
        let ids: Vec<&str> = v.iter().filter_map(|(_, e)| e.attr("id")).collect();
        return Err(AdminError::Ambiguous {
            name: name.into(),
            ids: ids.join(", "),
        });
    }
    Ok(v.into_iter().next())
}

/// The sections `crm_attribute -t` works on: the section, its set element and the id
/// of the set it creates.
pub const OPTION_SECTIONS: &[(&str, &str, &str)] = &[
    ("crm_config", "cluster_property_set", "cib-bootstrap-options"),
    ("rsc_defaults", "meta_attributes", "rsc-options"),
    ("op_defaults", "meta_attributes", "op-options"),
];

fn option_section(section: &str) -> Result<(&'static str, &'static str, &'static str)> {
    OPTION_SECTIONS
        .iter()
        .find(|(s, _, _)| *s == section)
        .copied()
        .ok_or_else(|| AdminError::Invalid {
            what: "section",
            value: section.into(),
            reason: "not one of crm_config, rsc_defaults, op_defaults".into(),
        })
}

/// `crm_attribute -t SECTION -n NAME -v VALUE` (`Some`) / `-D` (`None`): an option
/// in `crm_config`, `rsc_defaults` or `op_defaults`. A missing section is created.
pub fn option_set(doc: &CibDocument, section: &str, name: &str, value: Option<&str>) -> Result<Vec<CibOp>> {
    attr(name)?;
    let (section, set_tag, set_id) = option_section(section)?;
    let base = format!("/cib/configuration/{section}");
    let Ok(sec) = self::section(doc, section) else {
        let Some(value) = value else { return Ok(Vec::new()) };
        let mut set = Element::new(set_tag);
        set.set_attr("id", set_id);
        set.push(nvpair(&format!("{set_id}-{name}"), name, value));
        let mut el = Element::new(section);
        el.push(set);
        return Ok(vec![CibOp::Create {
            parent: path("/cib/configuration")?,
            element: el,
        }]);
    };
    match (value, one(set_nvpairs(sec, &base, set_tag, name), name)?) {
        (Some(v), Some((p, _))) => Ok(vec![CibOp::SetAttribute {
            path: path(p)?,
            name: attr("value")?,
            value: v.into(),
        }]),
        (Some(v), None) => {
            let pair = nvpair(&format!("{set_id}-{name}"), name, v);
            if sec.children_named(set_tag).any(|s| s.attr("id") == Some(set_id)) {
                Ok(vec![CibOp::Create {
                    parent: path(format!("{base}/{set_tag}[@id='{set_id}']"))?,
                    element: pair,
                }])
            } else {
                let mut set = Element::new(set_tag);
                set.set_attr("id", set_id);
                set.push(pair);
                Ok(vec![CibOp::Create {
                    parent: path(base)?,
                    element: set,
                }])
            }
        }
        (None, Some((p, _))) => Ok(vec![CibOp::Delete { path: path(p)? }]),
        (None, None) => Ok(Vec::new()),
    }
}

/// One nvpair of a set, as `crm_attribute -G` finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NvPair {
    pub set_id: String,
    pub id: String,
    pub name: String,
    pub value: String,
}

fn pairs_of(parent: &Element, set_tag: &str) -> Vec<NvPair> {
    let mut v = Vec::new();
    for s in parent.elements().filter(|e| e.name == set_tag) {
        for nv in s.children_named("nvpair") {
            v.push(NvPair {
                set_id: s.attr("id").unwrap_or_default().to_string(),
                id: nv.attr("id").unwrap_or_default().to_string(),
                name: nv.attr("name").unwrap_or_default().to_string(),
                value: nv.attr("value").unwrap_or_default().to_string(),
            });
        }
    }
    v
}

/// `crm_attribute -t SECTION -G`: every option of `crm_config`, `rsc_defaults` or
/// `op_defaults` (none when the section is missing).
pub fn option_pairs(doc: &CibDocument, section: &str) -> Result<Vec<NvPair>> {
    let (section, set_tag, _) = option_section(section)?;
    Ok(self::section(doc, section).map_or_else(|_| Vec::new(), |sec| pairs_of(sec, set_tag)))
}

/// `crm_attribute -t crm_config -n NAME -v VALUE`.
pub fn property_set(doc: &CibDocument, name: &str, value: &str) -> Result<Vec<CibOp>> {
    option_set(doc, "crm_config", name, Some(value))
}

/// `crm_attribute -t crm_config -n NAME -D` (nothing when it is not set).
pub fn property_unset(doc: &CibDocument, name: &str) -> Result<Vec<CibOp>> {
    option_set(doc, "crm_config", name, None)
}

// --------------------------------------------------------------------- nodes

/// A node's permanent attribute sets: `instance_attributes` (`crm_attribute -N`) or
/// `utilization` (`crm_attribute -z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeSet {
    Attributes,
    Utilization,
}

impl NodeSet {
    fn tag(self) -> &'static str {
        match self {
            NodeSet::Attributes => "instance_attributes",
            NodeSet::Utilization => "utilization",
        }
    }

    fn id(self, node_id: &str) -> String {
        match self {
            NodeSet::Attributes => format!("nodes-{node_id}"),
            NodeSet::Utilization => format!("nodes-{node_id}-utilization"),
        }
    }
}

fn configured_node<'a>(doc: &'a CibDocument, node: &str) -> Result<&'a Element> {
    section(doc, "nodes")?
        .children_named("node")
        .find(|n| n.attr("uname") == Some(node))
        .ok_or_else(|| AdminError::UnknownNode(node.into()))
}

/// `crm_attribute -N NODE -n NAME -v VALUE` (`Some`) / `-D` (`None`) on a
/// node's permanent attributes (configuration `<node>`).
pub fn node_attribute(doc: &CibDocument, node: &str, name: &str, value: Option<&str>) -> Result<Vec<CibOp>> {
    node_set_attribute(doc, node, NodeSet::Attributes, name, value)
}

/// [`node_attribute`] in either of a node's sets.
pub fn node_set_attribute(
    doc: &CibDocument,
    node: &str,
    set: NodeSet,
    name: &str,
    value: Option<&str>,
) -> Result<Vec<CibOp>> {
    attr(name)?;
    let n = configured_node(doc, node)?;
    let nid = n.attr("id").ok_or_else(|| AdminError::Invalid {
        what: "node",
        value: node.into(),
        reason: "its <node> has no id".into(),
    })?;
    let npath = format!("/cib/configuration/nodes/{}", comp(n));
    let found = one(set_nvpairs(n, &npath, set.tag(), name), name)?;
    match (value, found) {
        (Some(v), Some((p, _))) => Ok(vec![CibOp::SetAttribute {
            path: path(p)?,
            name: attr("value")?,
            value: v.into(),
        }]),
        (Some(v), None) => {
            let set_id = set.id(nid);
            let pair = nvpair(&format!("{set_id}-{name}"), name, v);
            if n.children_named(set.tag()).any(|s| s.attr("id") == Some(&set_id)) {
                Ok(vec![CibOp::Create {
                    parent: path(format!("{npath}/{}[@id='{set_id}']", set.tag()))?,
                    element: pair,
                }])
            } else {
                let mut el = Element::new(set.tag());
                el.set_attr("id", &set_id);
                el.push(pair);
                Ok(vec![CibOp::Create {
                    parent: path(npath)?,
                    element: el,
                }])
            }
        }
        (None, Some((p, _))) => Ok(vec![CibOp::Delete { path: path(p)? }]),
        (None, None) => Ok(Vec::new()),
    }
}

/// `crm_attribute -N NODE -G` on a node's permanent attributes: every nvpair of the set.
pub fn node_set_pairs(doc: &CibDocument, node: &str, set: NodeSet) -> Result<Vec<NvPair>> {
    Ok(pairs_of(configured_node(doc, node)?, set.tag()))
}

/// `crm_attribute -N NODE -n standby -v on` (`true`) or `-D` (`false`,
/// `pcs node unstandby`).
pub fn node_standby(doc: &CibDocument, node: &str, standby: bool) -> Result<Vec<CibOp>> {
    node_attribute(doc, node, "standby", standby.then_some("on"))
}

// -------------------------------------------------------------------- config

/// `cibadmin --replace` of the configuration (`pcs cluster cib-push`): every
/// section of `new` (a `<configuration>` or a whole `<cib>`) that differs is
/// replaced, added or removed. `new` must be a valid CIB configuration.
pub fn config_replace(doc: &CibDocument, new: &Element) -> Result<Vec<CibOp>> {
    let new_config = match new.name.as_str() {
        "configuration" => new.clone(),
        "cib" => new
            .child("configuration")
            .cloned()
            .ok_or_else(|| AdminError::MissingSection("configuration".into()))?,
        other => {
            return Err(AdminError::Invalid {
                what: "configuration",
                value: format!("<{other}>"),
                reason: "expected <cib> or <configuration>".into(),
            })
        }
    };
    // Validate as a whole CIB with the current status.
    let mut check = doc.root().clone();
    if let Some(c) = check.child_mut("configuration") {
        *c = new_config.clone();
    }
    Cib::from_element(check).map_err(|e| AdminError::Cib(e.to_string()))?;
    let old = doc
        .root()
        .child("configuration")
        .ok_or_else(|| AdminError::MissingSection("configuration".into()))?;
    let mut ops = Vec::new();
    for s in old.elements() {
        if !new_config.elements().any(|n| n.name == s.name) {
            ops.push(CibOp::Delete {
                path: path(format!("/cib/configuration/{}", s.name))?,
            });
        }
    }
    for s in new_config.elements() {
        match old.child(&s.name) {
            Some(o) if cib::patchset::normalized(o) == cib::patchset::normalized(s) => {}
            Some(_) => ops.push(CibOp::Modify {
                path: path(format!("/cib/configuration/{}", s.name))?,
                element: s.clone(),
            }),
            None => ops.push(CibOp::Create {
                parent: path("/cib/configuration")?,
                element: s.clone(),
            }),
        }
    }
    Ok(ops)
}

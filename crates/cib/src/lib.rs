//! The cluster information base (CIB): Pacemaker's XML configuration and
//! status, as a typed model on top of the original element tree.
//!
//! [`Cib::parse`] validates and builds the typed view; the original tree is
//! kept in [`Cib::root`] so unknown elements survive [`Cib::to_xml`].
//!
//! Besides the model: [`xml`] (owned element tree), [`digest`] (op-digests
//! exactly as Pacemaker computes them), [`rules`] (rule, expression and date
//! evaluation) and [`score`] (±INFINITY arithmetic) — what both the scheduler
//! and a CIB manager need.

pub mod digest;
pub mod document;
mod parse;
pub mod patchset;
pub mod rules;
pub mod score;
pub mod time;
pub mod version;
mod warning;
pub mod xml;

use crate::score::Score;
pub use crate::xml::CompactString;
use crate::xml::{Element, XmlError};

pub use parse::is_true;
pub use parse::parse_interval_ms;
pub use parse::str_to_boolean;
pub use warning::Warning;

/// Why a CIB could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CibError {
    #[error(transparent)]
    Xml(#[from] XmlError),
    #[error("invalid CIB: <{element}{}> attribute '{attribute}': {message}", id.as_ref().map(|i| format!(" id=\"{i}\"")).unwrap_or_default())]
    Attribute {
        element: String,
        id: Option<String>,
        attribute: String,
        message: String,
    },
    #[error("invalid CIB: <{element}{}>: {message}", id.as_ref().map(|i| format!(" id=\"{i}\"")).unwrap_or_default())]
    Element {
        element: String,
        id: Option<String>,
        message: String,
    },
}

/// A set of name/value pairs (`instance_attributes`, `meta_attributes`,
/// `cluster_property_set`, `utilization`) with optional rule and score.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NvSet {
    pub id: String,
    pub score: Score,
    pub rule: Option<Rule>,
    pub pairs: Vec<(String, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BoolOp {
    And,
    Or,
}

/// A `<rule>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub id: String,
    pub score: Option<Score>,
    pub score_attribute: Option<String>,
    pub boolean_op: BoolOp,
    pub role: Option<String>,
    pub items: Vec<RuleItem>,
}

/// One condition inside a rule.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleItem {
    Expr {
        attribute: String,
        operation: String,
        value: Option<String>,
        value_type: Option<String>,
        value_source: Option<String>,
    },
    Date {
        operation: String,
        start: Option<String>,
        end: Option<String>,
        /// `date_spec` / `duration` children, as attribute lists.
        spec: Option<Vec<(CompactString, CompactString)>>,
        duration: Option<Vec<(CompactString, CompactString)>>,
    },
    Rsc {
        class: Option<String>,
        provider: Option<String>,
        ty: Option<String>,
    },
    Op {
        name: String,
        interval_ms: Option<u64>,
    },
    Rule(Rule),
}

/// An `<op>` definition of a primitive.
#[derive(Debug, Clone, PartialEq)]
pub struct OpDef {
    pub id: String,
    pub name: String,
    pub interval_ms: u64,
    pub role: Option<String>,
    /// All attributes of the element except id, name, interval (timeout,
    /// on-fail, enabled, start-delay, ...).
    pub attrs: Vec<(CompactString, CompactString)>,
    pub meta: Vec<NvSet>,
    pub instance: Vec<NvSet>,
}

impl OpDef {
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .or_else(|| {
                self.meta
                    .iter()
                    .flat_map(|s| s.pairs.iter())
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.as_str())
            })
    }
}

/// A resource definition from `<resources>`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceDef {
    pub id: String,
    pub kind: ResourceKind,
    pub meta: Vec<NvSet>,
    /// Shared: every clone instance's unpacked resource refers to them.
    pub instance: std::sync::Arc<Vec<NvSet>>,
    pub utilization: Vec<NvSet>,
    pub description: Option<String>,
    /// The `<template>` a primitive is based on.
    pub template: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ResourceKind {
    Primitive {
        class: String,
        provider: Option<String>,
        ty: String,
        /// Shared like `instance`.
        ops: std::sync::Arc<Vec<OpDef>>,
    },
    Group {
        children: Vec<ResourceDef>,
    },
    Clone {
        /// Legacy `<master>` element (always promotable).
        master: bool,
        child: Box<ResourceDef>,
    },
    /// A bundle: replicas of a container (with optional IP and a primitive
    /// run inside through a Pacemaker Remote connection).
    Bundle(Box<BundleDef>),
}

impl ResourceDef {
    /// The definitions directly inside this one: a group's members, a
    /// clone's child, a bundle's primitive.
    pub fn children(&self) -> &[ResourceDef] {
        match &self.kind {
            ResourceKind::Primitive { .. } => &[],
            ResourceKind::Group { children } => children,
            ResourceKind::Clone { child, .. } => std::slice::from_ref(child),
            ResourceKind::Bundle(b) => b.child.as_deref().map_or(&[], std::slice::from_ref),
        }
    }
}

/// The parts of a `<bundle>` the scheduler uses.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleDef {
    /// `docker`, `podman` or `rkt` (the container agent).
    pub runtime: String,
    pub image: String,
    /// `replicas` (defaults to promoted-max, else 1).
    pub replicas: usize,
    pub replicas_per_host: usize,
    pub promoted_max: usize,
    pub ip_range_start: Option<String>,
    pub control_port: Option<String>,
    pub host_interface: Option<String>,
    pub host_netmask: Option<String>,
    /// The runtime element's `run-command`.
    pub run_command: Option<String>,
    /// The runtime element's `options` (passed to the container launcher).
    pub launcher_options: Option<String>,
    /// The runtime element's `network`.
    pub container_network: Option<String>,
    /// `<network add-host>`: map the replicas' names to their addresses
    /// (the default, also for a value that is not a boolean).
    pub add_host: bool,
    /// `<network>`'s port mappings, in order.
    pub ports: Vec<BundlePort>,
    /// `<storage>`'s mappings, in order.
    pub mounts: Vec<BundleMount>,
    /// The primitive run inside each replica.
    pub child: Option<Box<ResourceDef>>,
}

/// A bundle port mapping: `port` (or a `range`) on the host to
/// `internal-port` (by default the same) in the container.
#[derive(Debug, Clone, PartialEq)]
pub struct BundlePort {
    pub source: String,
    pub target: String,
}

/// A bundle storage mapping from `source` on the host to `target` in the
/// container.
#[derive(Debug, Clone, PartialEq)]
pub struct BundleMount {
    pub source: String,
    pub target: String,
    pub options: Option<String>,
    /// Given as `source-dir-root`: each replica mounts its own
    /// subdirectory `{source}/{bundle}-{N}`.
    pub per_replica: bool,
}

/// An `rsc_location` constraint.
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    pub id: String,
    pub rsc: Option<String>,
    pub rsc_pattern: Option<String>,
    pub node: Option<String>,
    pub score: Option<Score>,
    pub rules: Vec<Rule>,
    pub role: Option<String>,
    pub discovery: Option<String>,
    pub sets: Vec<ResourceSet>,
}

/// A `resource_set` inside a constraint.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceSet {
    pub id: String,
    pub resources: Vec<String>,
    pub sequential: Option<bool>,
    pub require_all: Option<bool>,
    pub ordering: Option<String>,
    pub action: Option<String>,
    pub role: Option<String>,
    pub score: Option<Score>,
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Colocation {
    pub id: String,
    pub rsc: Option<String>,
    pub with_rsc: Option<String>,
    pub score: Score,
    pub rsc_role: Option<String>,
    pub with_rsc_role: Option<String>,
    pub node_attribute: Option<String>,
    pub influence: Option<bool>,
    pub sets: Vec<ResourceSet>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderKind {
    Mandatory,
    Optional,
    Serialize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub id: String,
    pub first: Option<String>,
    pub then: Option<String>,
    pub first_action: Option<String>,
    pub then_action: Option<String>,
    pub kind: OrderKind,
    pub symmetrical: Option<bool>,
    /// Deprecated `require-all` (false means clone-min=1 for a clone "first").
    pub require_all: Option<bool>,
    pub sets: Vec<ResourceSet>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ticket {
    pub id: String,
    pub rsc: Option<String>,
    pub rsc_role: Option<String>,
    pub ticket: String,
    pub loss_policy: Option<String>,
    pub sets: Vec<ResourceSet>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Constraint {
    Location(Location),
    Colocation(Colocation),
    Order(Order),
    Ticket(Ticket),
}

/// A `<node>` from the configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeDef {
    pub id: String,
    pub uname: String,
    pub node_type: Option<String>,
    pub score: Option<Score>,
    pub instance: Vec<NvSet>,
    pub utilization: Vec<NvSet>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct FencingLevel {
    pub id: String,
    pub target: Option<String>,
    pub index: u32,
    pub devices: Vec<String>,
}

/// `/cib/configuration`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Configuration {
    pub crm_config: Vec<NvSet>,
    pub nodes: Vec<NodeDef>,
    pub resources: Vec<ResourceDef>,
    pub constraints: Vec<Constraint>,
    pub rsc_defaults: Vec<NvSet>,
    pub op_defaults: Vec<NvSet>,
    pub fencing_levels: Vec<FencingLevel>,
    /// `<tag id><obj_ref id/></tag>` groups referenced by constraints.
    pub tags: Vec<(String, Vec<String>)>,
}

impl Configuration {
    /// Every resource definition, each before the ones inside it
    /// ([`ResourceDef::children`]), in document order.
    pub fn all_resources(&self) -> impl Iterator<Item = &ResourceDef> {
        let mut stack = vec![self.resources.iter()];
        std::iter::from_fn(move || loop {
            let level = stack.last_mut()?;
            match level.next() {
                Some(def) => {
                    stack.push(def.children().iter());
                    return Some(def);
                }
                None => {
                    stack.pop();
                }
            }
        })
    }
}

/// One `lrm_rsc_op` history entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LrmOp {
    pub id: String,
    pub operation: String,
    pub call_id: i64,
    pub rc_code: i32,
    pub op_status: i32,
    pub interval_ms: u64,
    pub transition_key: Option<String>,
    /// `status:rc;transition-key` of the result as recorded.
    pub transition_magic: Option<String>,
    pub op_digest: Option<String>,
    pub op_restart_digest: Option<String>,
    pub op_secure_digest: Option<String>,
    pub op_secure_params: Option<String>,
    pub op_force_restart: Option<String>,
    pub crm_feature_set: Option<String>,
    pub last_rc_change: Option<i64>,
    pub migrate_source: Option<String>,
    pub migrate_target: Option<String>,
    pub exit_reason: Option<String>,
    pub on_node: Option<String>,
}

impl LrmOp {
    /// The target rc encoded in the transition key (third field).
    pub fn target_rc(&self) -> Option<i32> {
        self.transition_key
            .as_deref()
            .and_then(|k| k.split(':').nth(2))
            .and_then(|v| v.parse().ok())
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct LrmResource {
    pub id: String,
    pub class: Option<String>,
    pub provider: Option<String>,
    pub ty: Option<String>,
    pub container: Option<String>,
    /// `shutdown-lock`: when the node it was locked to shut down (epoch s).
    pub shutdown_lock: Option<i64>,
    pub ops: Vec<LrmOp>,
}

/// A `node_state` from the status section.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeState {
    pub id: String,
    pub uname: Option<String>,
    pub in_ccm: Option<String>,
    pub crmd: Option<String>,
    pub join: Option<String>,
    pub expected: Option<String>,
    pub shutdown: Option<String>,
    pub transient: Vec<NvSet>,
    pub lrm: Vec<LrmResource>,
    /// Whether the node_state has an `<lrm>` element at all.
    pub has_lrm: bool,
    /// `node_fenced` (Pacemaker Remote nodes: fenced since last seen).
    pub node_fenced: Option<String>,
}

/// `/cib/status` plus `/cib/status/tickets`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Status {
    pub nodes: Vec<NodeState>,
    pub tickets: Vec<(String, Vec<(CompactString, CompactString)>)>,
}

/// A parsed CIB.
#[derive(Debug, Clone)]
pub struct Cib {
    /// The element tree as read (unknown elements kept). Shared, like the
    /// configuration: copies of a CIB that differ only in their typed
    /// status ([`Cib::with_status`]) cost nothing to make.
    pub root: std::sync::Arc<Element>,
    pub have_quorum: bool,
    pub dc_uuid: Option<String>,
    pub execution_date: Option<i64>,
    pub configuration: std::sync::Arc<Configuration>,
    /// Shared: the scheduler keeps it in the unpacked cluster without a copy.
    pub status: std::sync::Arc<Status>,
    /// What was ignored while reading it, as Pacemaker ignores it.
    pub warnings: Vec<Warning>,
}

impl Cib {
    /// Parses and validates CIB XML text.
    pub fn parse(text: &str) -> Result<Cib, CibError> {
        let root = Element::parse(text)?;
        Cib::from_element(root)
    }

    /// Builds the typed model from an element tree.
    pub fn from_element(root: Element) -> Result<Cib, CibError> {
        parse::build(root)
    }

    /// The same CIB with another typed status, as the scheduler reads it.
    /// The element tree is shared, not rewritten: [`Cib::root`] keeps the
    /// status it was read with.
    pub fn with_status(&self, status: Status) -> Cib {
        Cib {
            status: std::sync::Arc::new(status),
            ..self.clone()
        }
    }

    /// Serialises the CIB (the original tree, with any changes applied).
    pub fn to_xml(&self) -> String {
        self.root.to_xml_string()
    }

    /// Merged value of a `crm_config` property (first set wins, sets
    /// sorted by score as Pacemaker does).
    pub fn property(&self, name: &str) -> Option<&str> {
        first_value(&self.configuration.crm_config, name)
    }
}

/// The first value of `name` in a list of unconditional nvsets, highest
/// score first.
pub fn first_value<'a>(sets: &'a [NvSet], name: &str) -> Option<&'a str> {
    let mut sorted: Vec<&NvSet> = sets.iter().filter(|s| s.rule.is_none()).collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.score));
    sorted
        .iter()
        .flat_map(|s| s.pairs.iter())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Where a constraint names resources: element, id, attributes, sets.
type RefSite<'a> = (&'a str, &'a str, Vec<(&'a str, &'a Option<String>)>, &'a [ResourceSet]);

impl Cib {
    /// Constraint attributes that name no configured resource, template or
    /// tag. Pacemaker ignores such constraints with a configuration error;
    /// callers decide whether to warn or refuse.
    pub fn dangling_references(&self) -> Vec<CibError> {
        // A bundle's primitive counts: Pacemaker resolves its id to the bundle.
        let mut known: Vec<&str> = self.configuration.all_resources().map(|d| d.id.as_str()).collect();
        for (t, _) in &self.configuration.tags {
            known.push(t);
        }
        let templates: Vec<String> = self
            .root
            .child("configuration")
            .and_then(|c| c.child("resources"))
            .map(|r| {
                r.children_named("template")
                    .filter_map(|t| t.attr("id").map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let is_known = |id: &str| known.contains(&id) || templates.iter().any(|t| t == id);
        let mut errors = Vec::new();
        let mut check = |element: &str, cid: &str, attribute: &str, value: &Option<String>| {
            if let Some(v) = value {
                if !is_known(v) {
                    errors.push(CibError::Attribute {
                        element: element.to_string(),
                        id: Some(cid.to_string()),
                        attribute: attribute.to_string(),
                        message: format!("references unknown resource '{v}'"),
                    });
                }
            }
        };
        for c in &self.configuration.constraints {
            let (element, id, attrs, sets): RefSite<'_> = match c {
                Constraint::Location(l) => ("rsc_location", &l.id, vec![("rsc", &l.rsc)], &l.sets),
                Constraint::Colocation(co) => (
                    "rsc_colocation",
                    &co.id,
                    vec![("rsc", &co.rsc), ("with-rsc", &co.with_rsc)],
                    &co.sets,
                ),
                Constraint::Order(o) => (
                    "rsc_order",
                    &o.id,
                    vec![("first", &o.first), ("then", &o.then)],
                    &o.sets,
                ),
                Constraint::Ticket(t) => ("rsc_ticket", &t.id, vec![("rsc", &t.rsc)], &t.sets),
            };
            for (attr, v) in attrs {
                check(element, id, attr, v);
            }
            for s in sets {
                for r in &s.resources {
                    check("resource_ref", &s.id, "id", &Some(r.clone()));
                }
            }
        }
        errors
    }
}

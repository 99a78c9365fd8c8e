//! Element tree → typed CIB model, with validation errors that name the
//! element and attribute at fault.

use foldhash::{HashMap, HashMapExt};

use super::*;
use crate::score::parse_score;

type Ids<'a> = HashMap<&'a str, &'a Element>;

fn collect_ids<'a>(e: &'a Element, ids: &mut Ids<'a>) {
    if let Some(id) = e.attr("id") {
        ids.entry(id).or_insert(e);
    }
    for c in e.elements() {
        collect_ids(c, ids);
    }
}

fn missing(e: &Element, attr: &str) -> CibError {
    CibError::Attribute {
        element: e.name.to_string(),
        id: e.attr("id").map(str::to_string),
        attribute: attr.to_string(),
        message: "required attribute is missing".into(),
    }
}

fn bad(e: &Element, attr: &str, msg: impl Into<String>) -> CibError {
    CibError::Attribute {
        element: e.name.to_string(),
        id: e.attr("id").map(str::to_string),
        attribute: attr.to_string(),
        message: msg.into(),
    }
}

fn req<'a>(e: &'a Element, attr: &str) -> Result<&'a str, CibError> {
    e.attr(attr).ok_or_else(|| missing(e, attr))
}

fn opt(e: &Element, attr: &str) -> Option<String> {
    e.attr(attr).map(str::to_string)
}

fn score_attr(e: &Element, attr: &str) -> Result<Option<Score>, CibError> {
    match e.attr(attr) {
        None => Ok(None),
        Some(v) => parse_score(v)
            .map(Some)
            .ok_or_else(|| bad(e, attr, format!("'{v}' is not a valid score"))),
    }
}

fn bool_attr(e: &Element, attr: &str) -> Option<bool> {
    e.attr(attr).map(is_true)
}

/// Pacemaker's `crm_str_to_boolean`: `None` for a value that is neither
/// true nor false (the caller's default then applies).
pub fn str_to_boolean(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "y" | "1" => Some(true),
        "false" | "off" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// Pacemaker's `crm_is_true`.
pub fn is_true(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "true" | "on" | "yes" | "y" | "1")
}

/// Parses an interval (`10s`, `1min`, `500ms`, `PT5M`, plain seconds) to ms.
pub fn parse_interval_ms(s: &str) -> Option<u64> {
    let t = s.trim();
    if t.is_empty() {
        return Some(0);
    }
    if let Some(rest) = t.strip_prefix('P') {
        return parse_iso_duration_ms(rest);
    }
    let digits_end = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(digits_end);
    let n: f64 = num.parse().ok()?;
    let mult: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "s" | "sec" | "secs" => 1000.0,
        "ms" | "msec" | "msecs" => 1.0,
        "us" | "usec" | "usecs" => 0.001,
        "m" | "min" | "mins" => 60_000.0,
        "h" | "hr" | "hrs" => 3_600_000.0,
        _ => return None,
    };
    Some((n * mult) as u64)
}

fn parse_iso_duration_ms(s: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut in_time = false;
    let mut num = String::new();
    for ch in s.chars() {
        match ch {
            'T' => in_time = true,
            '0'..='9' => num.push(ch),
            _ => {
                let n: u64 = num.parse().ok()?;
                num.clear();
                let secs = match (ch, in_time) {
                    ('Y', false) => n * 365 * 86400,
                    ('M', false) => n * 30 * 86400,
                    ('W', false) => n * 7 * 86400,
                    ('D', false) => n * 86400,
                    ('H', _) => n * 3600,
                    ('M', true) => n * 60,
                    ('S', _) => n,
                    _ => return None,
                };
                total += secs * 1000;
            }
        }
    }
    if !num.is_empty() {
        return None;
    }
    Some(total)
}

/// Resolves an `id-ref` to the referenced element (or returns `e`).
fn deref<'a>(e: &'a Element, ids: &Ids<'a>) -> Result<&'a Element, CibError> {
    match e.attr("id-ref") {
        Some(r) => ids
            .get(r)
            .copied()
            .ok_or_else(|| bad(e, "id-ref", format!("references unknown id '{r}'"))),
        None => Ok(e),
    }
}

fn nvset(e: &Element, ids: &Ids<'_>) -> Result<NvSet, CibError> {
    let src = deref(e, ids)?;
    let mut set = NvSet {
        id: src.attr("id").unwrap_or_default().to_string(),
        score: score_attr(src, "score")?.unwrap_or(0),
        ..Default::default()
    };
    for c in src.elements() {
        match c.name.as_str() {
            "nvpair" => {
                // An nvpair's own name and value win over those of the
                // nvpair it references (`populate_hash`).
                let r = deref(c, ids)?;
                let name = match c.attr("name").or_else(|| r.attr("name")) {
                    Some(n) => n,
                    None => req(r, "name")?,
                };
                // An nvpair without a value sets nothing.
                if let Some(value) = c.attr("value").or_else(|| r.attr("value")) {
                    set.pairs.push((name.to_string(), value.to_string()));
                }
            }
            "rule" => set.rule = Some(rule(c, ids)?),
            _ => {}
        }
    }
    Ok(set)
}

fn nvsets(parent: &Element, name: &str, ids: &Ids<'_>) -> Result<Vec<NvSet>, CibError> {
    parent.children_named(name).map(|e| nvset(e, ids)).collect()
}

fn rule(e: &Element, ids: &Ids<'_>) -> Result<Rule, CibError> {
    let e = deref(e, ids)?;
    let boolean_op = match e.attr("boolean-op") {
        None => BoolOp::And,
        Some(v) if v.eq_ignore_ascii_case("and") => BoolOp::And,
        Some(v) if v.eq_ignore_ascii_case("or") => BoolOp::Or,
        Some(v) => return Err(bad(e, "boolean-op", format!("'{v}' is not 'and' or 'or'"))),
    };
    let mut items = Vec::new();
    for c in e.elements() {
        let item = match c.name.as_str() {
            "expression" => {
                let c = deref(c, ids)?;
                RuleItem::Expr {
                    attribute: req(c, "attribute")?.to_string(),
                    operation: req(c, "operation")?.to_string(),
                    value: opt(c, "value"),
                    value_type: opt(c, "type"),
                    value_source: opt(c, "value-source"),
                }
            }
            "date_expression" => {
                let c = deref(c, ids)?;
                RuleItem::Date {
                    operation: c.attr("operation").unwrap_or("in_range").to_string(),
                    start: opt(c, "start"),
                    end: opt(c, "end"),
                    spec: c.child("date_spec").map(|d| d.attrs.clone()),
                    duration: c.child("duration").map(|d| d.attrs.clone()),
                }
            }
            "rsc_expression" => RuleItem::Rsc {
                class: opt(c, "class"),
                provider: opt(c, "provider"),
                ty: opt(c, "type"),
            },
            "op_expression" => RuleItem::Op {
                name: req(c, "name")?.to_string(),
                interval_ms: match c.attr("interval") {
                    None => None,
                    Some(v) => {
                        Some(parse_interval_ms(v).ok_or_else(|| bad(c, "interval", format!("bad interval '{v}'")))?)
                    }
                },
            },
            "rule" => RuleItem::Rule(rule(c, ids)?),
            _ => continue,
        };
        items.push(item);
    }
    Ok(Rule {
        id: e.attr("id").unwrap_or_default().to_string(),
        score: score_attr(e, "score")?,
        score_attribute: opt(e, "score-attribute"),
        boolean_op,
        role: opt(e, "role"),
        items,
    })
}

fn op_def(e: &Element, ids: &Ids<'_>) -> Result<OpDef, CibError> {
    let name = req(e, "name")?.to_string();
    let interval_ms = match e.attr("interval") {
        None => 0,
        Some(v) => parse_interval_ms(v).ok_or_else(|| bad(e, "interval", format!("'{v}' is not a valid interval")))?,
    };
    Ok(OpDef {
        id: e.attr("id").unwrap_or_default().to_string(),
        name,
        interval_ms,
        role: opt(e, "role"),
        attrs: e
            .attrs
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "id" | "name" | "interval"))
            .cloned()
            .collect(),
        meta: nvsets(e, "meta_attributes", ids)?,
        instance: nvsets(e, "instance_attributes", ids)?,
    })
}

fn resource(e: &Element, ids: &Ids<'_>) -> Result<ResourceDef, CibError> {
    let id = req(e, "id")?.to_string();
    let kind = match e.name.as_str() {
        "primitive" => {
            // Primitives may inherit class/type from a template.
            let tmpl = match e.attr("template") {
                Some(t) => Some(
                    ids.get(t)
                        .copied()
                        .ok_or_else(|| bad(e, "template", format!("references unknown template '{t}'")))?,
                ),
                None => None,
            };
            let get = |a: &str| e.attr(a).or_else(|| tmpl.and_then(|t| t.attr(a)));
            let class = get("class").ok_or_else(|| missing(e, "class"))?.to_string();
            let ty = get("type").ok_or_else(|| missing(e, "type"))?.to_string();
            let provider = get("provider").map(str::to_string);
            if class == "ocf" && provider.is_none() {
                return Err(bad(e, "provider", "class 'ocf' requires a provider"));
            }
            // The primitive's own operations, then the template's for a name
            // and role it does not define (`unpack_template`,
            // `template_op_key`: no role, Started and Unpromoted count alike).
            let ops_of = |holder: &Element| -> Result<Vec<OpDef>, CibError> {
                let mut v = Vec::new();
                if let Some(o) = holder.child("operations") {
                    for op in deref(o, ids)?.children_named("op") {
                        v.push(op_def(op, ids)?);
                    }
                }
                Ok(v)
            };
            let op_key = |o: &OpDef| {
                let role = match o.role.as_deref() {
                    None | Some("Started" | "Unpromoted" | "Slave") => "Unknown",
                    Some(r) => r,
                };
                format!("{}-{role}", o.name)
            };
            let mut ops = ops_of(e)?;
            if let Some(t) = tmpl {
                let own: foldhash::HashSet<String> = ops.iter().map(op_key).collect();
                ops.extend(ops_of(t)?.into_iter().filter(|o| !own.contains(&op_key(o))));
            }
            ResourceKind::Primitive {
                class,
                provider,
                ty,
                ops: ops.into(),
            }
        }
        "group" => {
            let mut children = Vec::new();
            for c in e.children_named("primitive") {
                children.push(resource(c, ids)?);
            }
            ResourceKind::Group { children }
        }
        "clone" | "master" => {
            let child = e
                .elements()
                .find(|c| matches!(c.name.as_str(), "primitive" | "group"))
                .ok_or_else(|| CibError::Element {
                    element: e.name.to_string(),
                    id: Some(id.clone()),
                    message: "clone has no primitive or group child".into(),
                })?;
            ResourceKind::Clone {
                master: e.name == "master",
                child: Box::new(resource(child, ids)?),
            }
        }
        "bundle" => ResourceKind::Bundle(Box::new(bundle(e, &id, ids)?)),
        other => {
            return Err(CibError::Element {
                element: other.to_string(),
                id: Some(id),
                message: "not a resource element".into(),
            })
        }
    };
    // A template's sets come first, then the primitive's own, which win
    // among equal scores (`unpack_template` appends the primitive's
    // children to a copy of the template).
    let (mut meta, mut instance, mut utilization) = (Vec::new(), Vec::new(), Vec::new());
    for src in e
        .attr("template")
        .and_then(|t| ids.get(t).copied())
        .into_iter()
        .chain([e])
    {
        meta.extend(nvsets(src, "meta_attributes", ids)?);
        instance.extend(nvsets(src, "instance_attributes", ids)?);
        utilization.extend(nvsets(src, "utilization", ids)?);
    }
    Ok(ResourceDef {
        id,
        kind,
        meta,
        instance: instance.into(),
        utilization,
        description: opt(e, "description"),
        template: opt(e, "template"),
    })
}

/// A `<bundle>`: its container runtime element, `<network>` and primitive.
fn bundle(e: &Element, id: &str, ids: &Ids<'_>) -> Result<BundleDef, CibError> {
    let rt = e
        .elements()
        .find(|c| matches!(c.name.as_str(), "docker" | "podman" | "rkt"))
        .ok_or_else(|| CibError::Element {
            element: e.name.to_string(),
            id: Some(id.to_string()),
            message: "bundle has no docker, podman or rkt element".into(),
        })?;
    let num = |el: &Element, a: &str| el.attr(a).and_then(|v| v.trim().parse::<usize>().ok());
    let promoted_max = num(rt, "promoted-max").or_else(|| num(rt, "masters")).unwrap_or(0);
    let replicas = match num(rt, "replicas") {
        None if promoted_max > 0 => promoted_max,
        v => v.unwrap_or(1).max(1),
    };
    let net = e.child("network");
    let net_attr = |a: &str| net.and_then(|n| n.attr(a)).map(str::to_string);
    let child = match e.child("primitive") {
        Some(p) => Some(Box::new(resource(p, ids)?)),
        None => None,
    };
    // Every element under <network> is a port mapping; those without a
    // port or range are invalid and left out (`pe__unpack_bundle`).
    let ports = net
        .into_iter()
        .flat_map(|n| n.elements())
        .filter_map(|p| {
            let (source, target) = match p.attr("port") {
                Some(port) => (port, p.attr("internal-port")),
                None => (p.attr("range")?, None),
            };
            (!source.is_empty()).then(|| BundlePort {
                source: source.to_string(),
                target: target.unwrap_or(source).to_string(),
            })
        })
        .collect();
    let mounts = e
        .child("storage")
        .into_iter()
        .flat_map(|st| st.elements())
        .filter_map(|m| {
            let (source, per_replica) = match m.attr("source-dir") {
                Some(dir) => (dir, false),
                None => (m.attr("source-dir-root")?, true),
            };
            Some(BundleMount {
                source: source.to_string(),
                target: m.attr("target-dir")?.to_string(),
                options: m.attr("options").map(str::to_string),
                per_replica,
            })
        })
        .collect();
    Ok(BundleDef {
        runtime: rt.name.to_string(),
        image: rt.attr("image").unwrap_or_default().to_string(),
        replicas,
        replicas_per_host: num(rt, "replicas-per-host").unwrap_or(1).max(1),
        promoted_max,
        ip_range_start: net_attr("ip-range-start"),
        control_port: net_attr("control-port"),
        host_interface: net_attr("host-interface"),
        host_netmask: net_attr("host-netmask"),
        run_command: rt.attr("run-command").map(str::to_string),
        launcher_options: rt.attr("options").map(str::to_string),
        container_network: rt.attr("network").map(str::to_string),
        add_host: net_attr("add-host").and_then(|v| str_to_boolean(&v)).unwrap_or(true),
        ports,
        mounts,
        child,
    })
}

fn resource_sets(e: &Element, ids: &Ids<'_>) -> Result<Vec<ResourceSet>, CibError> {
    let mut out = Vec::new();
    for s in e.children_named("resource_set") {
        let s = deref(s, ids)?;
        let mut resources = Vec::new();
        for r in s.children_named("resource_ref") {
            resources.push(req(r, "id")?.to_string());
        }
        out.push(ResourceSet {
            id: s.attr("id").unwrap_or_default().to_string(),
            resources,
            sequential: bool_attr(s, "sequential"),
            require_all: bool_attr(s, "require-all"),
            ordering: opt(s, "ordering"),
            action: opt(s, "action"),
            role: opt(s, "role"),
            score: score_attr(s, "score")?,
            kind: opt(s, "kind"),
        });
    }
    Ok(out)
}

fn constraint(e: &Element, ids: &Ids<'_>) -> Result<Option<Constraint>, CibError> {
    let e = deref(e, ids)?;
    Ok(Some(match e.name.as_str() {
        "rsc_location" => {
            let mut rules = Vec::new();
            for r in e.children_named("rule") {
                rules.push(rule(r, ids)?);
            }
            Constraint::Location(Location {
                id: req(e, "id")?.to_string(),
                rsc: opt(e, "rsc"),
                rsc_pattern: opt(e, "rsc-pattern"),
                node: opt(e, "node"),
                score: score_attr(e, "score")?,
                rules,
                role: opt(e, "role"),
                discovery: opt(e, "resource-discovery"),
                sets: resource_sets(e, ids)?,
            })
        }
        "rsc_colocation" => {
            // A missing score means 0 (the constraint is then ignored).
            let score = score_attr(e, "score")?.unwrap_or(0);
            Constraint::Colocation(Colocation {
                id: req(e, "id")?.to_string(),
                rsc: opt(e, "rsc"),
                with_rsc: opt(e, "with-rsc"),
                score,
                rsc_role: opt(e, "rsc-role"),
                with_rsc_role: opt(e, "with-rsc-role"),
                node_attribute: opt(e, "node-attribute"),
                // An invalid value means the default (`unpack_influence`).
                influence: e.attr("influence").and_then(str_to_boolean),
                sets: resource_sets(e, ids)?,
            })
        }
        "rsc_order" => {
            let kind = match (e.attr("kind"), e.attr("score")) {
                (Some(k), _) if k.eq_ignore_ascii_case("optional") => OrderKind::Optional,
                (Some(k), _) if k.eq_ignore_ascii_case("serialize") => OrderKind::Serialize,
                (Some(_), _) => OrderKind::Mandatory,
                (None, Some(_)) => match score_attr(e, "score")? {
                    Some(0) => OrderKind::Optional,
                    _ => OrderKind::Mandatory,
                },
                (None, None) => OrderKind::Mandatory,
            };
            Constraint::Order(Order {
                id: req(e, "id")?.to_string(),
                first: opt(e, "first"),
                then: opt(e, "then"),
                first_action: opt(e, "first-action"),
                then_action: opt(e, "then-action"),
                kind,
                symmetrical: bool_attr(e, "symmetrical"),
                require_all: bool_attr(e, "require-all"),
                sets: resource_sets(e, ids)?,
            })
        }
        "rsc_ticket" => Constraint::Ticket(Ticket {
            id: req(e, "id")?.to_string(),
            rsc: opt(e, "rsc"),
            rsc_role: opt(e, "rsc-role"),
            ticket: req(e, "ticket")?.to_string(),
            loss_policy: opt(e, "loss-policy"),
            sets: resource_sets(e, ids)?,
        }),
        _ => return Ok(None),
    }))
}

fn lrm_op(e: &Element) -> Result<LrmOp, CibError> {
    let int = |a: &str| -> Result<Option<i64>, CibError> {
        match e.attr(a) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse::<i64>()
                .map(Some)
                .map_err(|_| bad(e, a, format!("'{v}' is not an integer"))),
        }
    };
    // History intervals are plain milliseconds.
    let interval_ms = match e.attr("interval") {
        None => 0,
        Some(v) => v
            .trim()
            .parse::<u64>()
            .map_err(|_| bad(e, "interval", format!("'{v}' is not a number of milliseconds")))?,
    };
    // Older CIBs carry rc/status only in transition-magic.
    let magic = e.attr("transition-magic").and_then(|m| {
        let (st, rest) = m.split_once(':')?;
        let (rc, _) = rest.split_once(';')?;
        Some((st.parse::<i32>().ok()?, rc.parse::<i32>().ok()?))
    });
    let rc_code = match int("rc-code")? {
        Some(v) => v as i32,
        None => magic.map(|m| m.1).ok_or_else(|| missing(e, "rc-code"))?,
    };
    let op_status = match int("op-status")? {
        Some(v) => v as i32,
        None => magic.map(|m| m.0).unwrap_or(0),
    };
    Ok(LrmOp {
        id: req(e, "id")?.to_string(),
        operation: req(e, "operation")?.to_string(),
        call_id: int("call-id")?.unwrap_or(0),
        rc_code,
        op_status,
        interval_ms,
        transition_key: opt(e, "transition-key"),
        transition_magic: opt(e, "transition-magic"),
        op_digest: opt(e, "op-digest"),
        op_restart_digest: opt(e, "op-restart-digest"),
        op_secure_digest: opt(e, "op-secure-digest"),
        op_secure_params: opt(e, "op-secure-params"),
        op_force_restart: opt(e, "op-force-restart"),
        crm_feature_set: opt(e, "crm_feature_set"),
        last_rc_change: int("last-rc-change")?.or(int("last-run")?),
        migrate_source: opt(e, "migrate_source"),
        migrate_target: opt(e, "migrate_target"),
        exit_reason: opt(e, "exit-reason"),
        on_node: opt(e, "on_node"),
    })
}

/// A `node_state`, or `None` (with the warning) for an entry Pacemaker
/// ignores: one without `id` or without `uname`.
fn node_state(e: &Element, ids: &Ids<'_>, warnings: &mut Vec<Warning>) -> Result<Option<NodeState>, CibError> {
    let (id, uname) = (e.attr("id"), e.attr("uname"));
    let missing = match (id, uname) {
        (None, _) => Some(("id", uname)),
        (_, None) => Some(("uname", id)),
        _ => None,
    };
    if let Some((missing, other)) = missing {
        warnings.push(Warning::NodeStateWithout {
            missing,
            other: other.map(str::to_string),
        });
        return Ok(None);
    }
    let mut transient = Vec::new();
    if let Some(t) = e.child("transient_attributes") {
        transient = nvsets(t, "instance_attributes", ids)?;
    }
    let mut lrm = Vec::new();
    let lrm_el = e.child("lrm");
    if let Some(rs) = lrm_el.and_then(|l| l.child("lrm_resources")) {
        for r in rs.children_named("lrm_resource") {
            let mut ops = Vec::new();
            for o in r.children_named("lrm_rsc_op") {
                ops.push(lrm_op(o)?);
            }
            lrm.push(LrmResource {
                id: req(r, "id")?.to_string(),
                class: opt(r, "class"),
                provider: opt(r, "provider"),
                ty: opt(r, "type"),
                container: opt(r, "container"),
                shutdown_lock: opt(r, "shutdown-lock").and_then(|v| v.trim().parse().ok()),
                ops,
            });
        }
    }
    Ok(Some(NodeState {
        id: req(e, "id")?.to_string(),
        uname: opt(e, "uname"),
        in_ccm: opt(e, "in_ccm"),
        crmd: opt(e, "crmd"),
        join: opt(e, "join"),
        expected: opt(e, "expected"),
        shutdown: opt(e, "shutdown"),
        transient,
        lrm,
        has_lrm: lrm_el.is_some(),
        node_fenced: opt(e, "node_fenced"),
    }))
}

pub(super) fn build(root: Element) -> Result<Cib, CibError> {
    if root.name != "cib" {
        return Err(CibError::Element {
            element: root.name.to_string(),
            id: None,
            message: "the root element must be <cib>".into(),
        });
    }
    let mut ids = Ids::new();
    collect_ids(&root, &mut ids);
    let conf_el = root.child("configuration").ok_or_else(|| CibError::Element {
        element: "cib".into(),
        id: None,
        message: "missing <configuration>".into(),
    })?;
    let mut conf = Configuration::default();
    if let Some(c) = conf_el.child("crm_config") {
        conf.crm_config = nvsets(c, "cluster_property_set", &ids)?;
    }
    if let Some(ns) = conf_el.child("nodes") {
        for n in ns.children_named("node") {
            let id = req(n, "id")?.to_string();
            conf.nodes.push(NodeDef {
                uname: n.attr("uname").unwrap_or(&id).to_string(),
                id,
                node_type: opt(n, "type"),
                score: score_attr(n, "score")?,
                instance: nvsets(n, "instance_attributes", &ids)?,
                utilization: nvsets(n, "utilization", &ids)?,
            });
        }
    }
    if let Some(rs) = conf_el.child("resources") {
        for r in rs.elements() {
            if matches!(r.name.as_str(), "primitive" | "group" | "clone" | "master" | "bundle") {
                conf.resources.push(resource(r, &ids)?);
            }
        }
    }
    if let Some(cs) = conf_el.child("constraints") {
        for c in cs.elements() {
            if let Some(c) = constraint(c, &ids)? {
                conf.constraints.push(c);
            }
        }
    }
    if let Some(d) = conf_el.child("rsc_defaults") {
        conf.rsc_defaults = nvsets(d, "meta_attributes", &ids)?;
    }
    if let Some(d) = conf_el.child("op_defaults") {
        conf.op_defaults = nvsets(d, "meta_attributes", &ids)?;
    }
    if let Some(ft) = conf_el.child("fencing-topology") {
        for l in ft.children_named("fencing-level") {
            let index = req(l, "index")?;
            conf.fencing_levels.push(FencingLevel {
                id: l.attr("id").unwrap_or_default().to_string(),
                target: opt(l, "target"),
                index: index
                    .parse()
                    .map_err(|_| bad(l, "index", format!("'{index}' is not a number")))?,
                devices: req(l, "devices")?.split(',').map(|s| s.trim().to_string()).collect(),
            });
        }
    }
    if let Some(tags) = conf_el.child("tags") {
        for t in tags.children_named("tag") {
            let refs = t
                .children_named("obj_ref")
                .filter_map(|o| o.attr("id").map(str::to_string))
                .collect();
            conf.tags.push((req(t, "id")?.to_string(), refs));
        }
    }
    let mut status = Status::default();
    let mut warnings = Vec::new();
    if let Some(st) = root.child("status") {
        for n in st.children_named("node_state") {
            status.nodes.extend(node_state(n, &ids, &mut warnings)?);
        }
        if let Some(t) = st.child("tickets") {
            for ts in t.children_named("ticket_state") {
                status.tickets.push((req(ts, "id")?.to_string(), ts.attrs.clone()));
            }
        }
    }
    let execution_date = match root.attr("execution-date") {
        None => None,
        Some(v) => Some(
            v.trim()
                .parse::<i64>()
                .map_err(|_| bad(&root, "execution-date", format!("'{v}' is not a number")))?,
        ),
    };
    let have_quorum = root.attr("have-quorum").map(is_true).unwrap_or(false);
    let dc_uuid = opt(&root, "dc-uuid");
    drop(ids);
    Ok(Cib {
        have_quorum,
        dc_uuid,
        execution_date,
        configuration: std::sync::Arc::new(conf),
        status: std::sync::Arc::new(status),
        warnings,
        root: std::sync::Arc::new(root),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_that_are_neither_true_nor_false_are_none() {
        for (v, b) in [
            ("yes", Some(true)),
            ("ON", Some(true)),
            ("n", Some(false)),
            ("0", Some(false)),
            ("invalid", None),
        ] {
            assert_eq!(str_to_boolean(v), b, "{v}");
        }
    }

    #[test]
    fn intervals() {
        assert_eq!(parse_interval_ms("10s"), Some(10_000));
        assert_eq!(parse_interval_ms("10"), Some(10_000));
        assert_eq!(parse_interval_ms("1min"), Some(60_000));
        assert_eq!(parse_interval_ms("500ms"), Some(500));
        assert_eq!(parse_interval_ms("PT1M30S"), Some(90_000));
        assert_eq!(parse_interval_ms("banana"), None);
    }

    #[test]
    fn error_names_element_and_attribute() {
        let xml = r#"<cib><configuration><resources/><constraints>
            <rsc_location id="l1" rsc="a" node="n1" score="lots"/></constraints></configuration></cib>"#;
        let err = Cib::parse(xml).unwrap_err().to_string();
        assert!(err.contains("rsc_location"), "{err}");
        assert!(err.contains("score"), "{err}");
        assert!(err.contains("l1"), "{err}");
    }

    #[test]
    fn all_resources_lists_each_definition_before_its_children() {
        let xml = r#"<cib><configuration><resources>
            <primitive id="a" class="ocf" provider="heartbeat" type="Dummy"/>
            <clone id="c"><group id="g">
              <primitive id="g1" class="ocf" provider="heartbeat" type="Dummy"/>
              <primitive id="g2" class="ocf" provider="heartbeat" type="Dummy"/>
            </group></clone>
            <bundle id="b"><docker image="i"/>
              <primitive id="bp" class="ocf" provider="heartbeat" type="Dummy"/></bundle>
            <primitive id="z" class="ocf" provider="heartbeat" type="Dummy"/>
            </resources></configuration></cib>"#;
        let cib = Cib::parse(xml).expect("valid");
        let ids: Vec<&str> = cib.configuration.all_resources().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["a", "c", "g", "g1", "g2", "b", "bp", "z"]);
    }

    #[test]
    fn constraints_on_a_bundles_primitive_are_not_dangling() {
        let xml = r#"<cib><configuration><resources>
            <bundle id="b"><docker image="i"/>
              <primitive id="bp" class="ocf" provider="heartbeat" type="Dummy"/></bundle>
            </resources><constraints>
            <rsc_location id="l1" rsc="bp" node="n1" score="10"/>
            <rsc_location id="l2" rsc="nosuch" node="n1" score="10"/>
            </constraints></configuration></cib>"#;
        let cib = Cib::parse(xml).expect("valid");
        let errs: Vec<String> = cib.dangling_references().iter().map(ToString::to_string).collect();
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(errs[0].contains("l2") && errs[0].contains("nosuch"), "{errs:?}");
    }

    #[test]
    fn missing_type_is_reported() {
        let xml = r#"<cib><configuration><resources><primitive id="r" class="ocf" provider="x"/></resources></configuration></cib>"#;
        let err = Cib::parse(xml).unwrap_err().to_string();
        assert!(err.contains("primitive") && err.contains("'type'"), "{err}");
    }

    #[test]
    fn node_state_without_id_or_uname_is_ignored_with_a_warning() {
        let xml = r#"<cib><configuration><nodes><node id="1" uname="n1"/></nodes><resources/></configuration>
            <status><node_state uname="n1" crmd="online"/><node_state id="1" crmd="online"/>
            <node_state id="1" uname="n1" crmd="online"/></status></cib>"#;
        let cib = Cib::parse(xml).expect("accepted, as Pacemaker does");
        assert_eq!(cib.status.nodes.len(), 1);
        assert_eq!(
            cib.warnings,
            [
                Warning::NodeStateWithout {
                    missing: "id",
                    other: Some("n1".into())
                },
                Warning::NodeStateWithout {
                    missing: "uname",
                    other: Some("1".into())
                },
            ]
        );
        assert_eq!(cib.warnings[0].to_string(), "ignoring node_state 'n1' without id");
    }

    #[test]
    fn an_nvpair_without_value_sets_nothing() {
        let xml = r#"<cib><configuration><crm_config><cluster_property_set id="o">
            <nvpair id="a" name="empty"/><nvpair id="b" name="set" value=""/></cluster_property_set></crm_config>
            <resources/></configuration></cib>"#;
        let cib = Cib::parse(xml).expect("valid");
        assert_eq!(
            cib.configuration.crm_config[0].pairs,
            [("set".to_string(), String::new())]
        );
    }
}

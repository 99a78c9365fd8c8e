//! Constraints resolved against the working set: location scores applied to
//! node tables, colocations and orderings with resource indices.

use crate::model::{Cluster, Discover, NodeIdx, Role, RscIdx, Variant, Warning};
use cib::rules::eval_rule;
use cib::score::{self, parse_score, Score, INFINITY};
use cib::{Cib, Constraint, OrderKind};

use crate::constraint_types::{Coloc, Constraints, Ordering, TicketDep};

fn resolve(c: &Cluster, cib: &Cib, id: &str) -> Vec<RscIdx> {
    if let Some(r) = c
        .rscs
        .iter()
        .position(|r| r.id == id && (r.parent.is_none() || !is_instance_of_clone(c, r.parent)))
        .map(RscIdx)
    {
        return vec![r];
    }
    if let Some((_, refs)) = cib.configuration.tags.iter().find(|(t, _)| t == id) {
        return refs.iter().flat_map(|r| resolve(c, cib, r)).collect();
    }
    // A template stands for every primitive based on it.
    c.rscs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.config.template.as_deref() == Some(id) && r.config.instance.is_none())
        .map(|(i, _)| RscIdx(i))
        .collect()
}

/// Whether `id` names a template or tag rather than a resource.
fn is_tag(c: &Cluster, id: &str) -> bool {
    !c.rscs.iter().any(|r| r.id == id)
}

fn is_instance_of_clone(c: &Cluster, parent: Option<RscIdx>) -> bool {
    let mut p = parent;
    while let Some(x) = p {
        if matches!(c.rscs[x].variant, Variant::Clone { .. }) {
            return true;
        }
        p = c.rscs[x].parent;
    }
    false
}

/// The score a location rule gives a node: its `score`, or the node attribute named by
/// `score-attribute` (0 when unset or not a score).
fn rule_score(rule: &cib::Rule, attrs: &std::collections::BTreeMap<String, String>) -> Score {
    match (&rule.score_attribute, rule.score) {
        (Some(a), _) => attrs.get(a).and_then(|v| parse_score(v)).unwrap_or(0),
        (None, Some(s)) => s,
        (None, None) => 0,
    }
}

/// The nodes a location rule matches, each with the score it gives there.
fn rule_matches(c: &Cluster, rule: &cib::Rule, rsc: RscIdx) -> Vec<(NodeIdx, Score)> {
    NodeIdx::all(c.nodes.len())
        .filter(|&n| {
            // The resource's parameters as they are on this node.
            let mut node_ctx = c.rule_context();
            node_ctx.node_attrs = Some(&c.nodes[n].attrs);
            let mut params = std::collections::BTreeMap::new();
            crate::unpack::merge_nvsets(&c.rscs[rsc].config.instance_sets, &node_ctx, &mut params);
            let mut ctx = c.rule_context();
            ctx.node_attrs = Some(&c.nodes[n].attrs);
            ctx.rsc_params = Some(if params.is_empty() {
                &c.rscs[rsc].config.params
            } else {
                &params
            });
            ctx.rsc_meta = Some(&c.rscs[rsc].config.meta);
            eval_rule(rule, &ctx)
        })
        .map(|n| (n, rule_score(rule, &c.nodes[n].attrs)))
        .collect()
}

fn role_of(s: &Option<String>) -> Role {
    s.as_deref()
        .and_then(Role::parse)
        .map(|r| if r == Role::Started { Role::Unknown } else { r })
        .unwrap_or(Role::Unknown)
}

/// `rsc` and everything under it: children, and a bundle's implicit members
/// (`Cluster::with_descendants` without the latter).
fn subtree(c: &Cluster, rsc: RscIdx) -> Vec<RscIdx> {
    let mut targets = vec![rsc];
    let mut i = 0;
    while i < targets.len() {
        targets.extend(c.rscs[targets[i]].children.iter().copied());
        targets.extend(super::bundle::implicit_members(c, targets[i]));
        i += 1;
    }
    targets
}

/// The resources a promoted- or unpromoted-role location on `rsc` counts
/// for: `rsc`, and when `rsc` is a bundle also its child clone, whose
/// instances are the ones promoted (`pcmk__bundle_rsc_location`,
/// lib/pacemaker/pcmk_sched_bundle.c:911-918).
fn role_location_holders(c: &Cluster, rsc: RscIdx) -> Vec<RscIdx> {
    let child = c.bundles.iter().filter(|b| b.rsc == rsc).filter_map(|b| b.child_clone);
    std::iter::once(rsc).chain(child).collect()
}

/// Records a location's `resource-discovery` mode for `rsc` (and its
/// children) on `node`; the strongest mode wins.
fn set_discover(c: &mut Cluster, rsc: RscIdx, node: NodeIdx, mode: Discover) {
    for t in subtree(c, rsc) {
        let e = c.rscs[t].remote.discover.entry(node).or_default();
        if *e < mode {
            *e = mode;
        }
        if mode == Discover::Exclusive {
            c.rscs[t].remote.exclusive_discover = true;
        }
    }
}

/// Adds `score` for `rsc` (and every primitive under it) on `node`, or on
/// all nodes when `node` is `None`.
pub fn resource_location(c: &mut Cluster, rsc: RscIdx, node: Option<NodeIdx>, s: Score) {
    for t in subtree(c, rsc) {
        let allowed = &mut c.rscs[t].plan.allowed;
        match node {
            Some(n) => {
                allowed[n.0] = Some(score::add(allowed[n.0].unwrap_or(0), s));
            }
            None => {
                for a in allowed.iter_mut() {
                    *a = Some(score::add(a.unwrap_or(0), s));
                }
            }
        }
    }
}

/// Adds a configured location's `score` on `node` for `rsc` and what it
/// contains, as each variant's `apply_location` passes it on: a group gives
/// it to its first member only and its later members the node with score 0
/// (`pcmk__group_apply_location`, lib/pacemaker/pcmk_sched_group.c:636-669),
/// because the first member takes their scores in through the group's
/// internal colocations when it is placed; counted for each member too, the
/// group's preference would weigh once per member there.
fn configured_location(c: &mut Cluster, rsc: RscIdx, node: NodeIdx, s: Score) {
    let allowed = &mut c.rscs[rsc].plan.allowed;
    allowed[node.0] = Some(score::add(allowed[node.0].unwrap_or(0), s));
    let is_group = matches!(c.rscs[rsc].variant, Variant::Group);
    let children = c.rscs[rsc].children.clone();
    for (i, k) in children.into_iter().enumerate() {
        configured_location(c, k, node, if is_group && i > 0 { 0 } else { s });
    }
    for k in super::bundle::implicit_members(c, rsc) {
        configured_location(c, k, node, s);
    }
}

/// Applies location constraints and builds colocation/ordering lists.
pub fn unpack_constraints(cib: &Cib, c: &mut Cluster) -> Constraints {
    let mut out = Constraints::default();
    for con in &cib.configuration.constraints {
        match con {
            Constraint::Location(l) => {
                let mut rscs: Vec<RscIdx> = Vec::new();
                if let Some(r) = &l.rsc {
                    rscs = resolve(c, cib, r);
                }
                for set in &l.sets {
                    for r in &set.resources {
                        rscs.extend(resolve(c, cib, r));
                    }
                }
                if let Some(p) = &l.rsc_pattern {
                    match RscPattern::parse(p) {
                        // Only configured top-level resources
                        // (`data_set->resources`): a bundle's IPs,
                        // connections and child clone are its children.
                        Ok(pattern) => rscs.extend(c.top.iter().copied().filter(|&r| {
                            pattern.matches(&c.rscs[r].id)
                                && !c.rscs[r].remote.bundle_implicit
                                && !c.bundles.iter().any(|b| b.child_clone == Some(r))
                        })),
                        Err(e) => c.warnings.push(Warning::InvalidRscPattern {
                            constraint: l.id.clone(),
                            pattern: p.clone(),
                            reason: e.to_string(),
                        }),
                    }
                }
                let role = role_of(&l.role);
                let role_specific = role == Role::Promoted || role == Role::Unpromoted;
                // Rules may carry their own role (role-specific rules only
                // affect promotion).
                for &r in &rscs {
                    if role_specific {
                        break;
                    }
                    for rule in &l.rules {
                        let rrole = role_of(&rule.role);
                        if rrole != Role::Promoted && rrole != Role::Unpromoted {
                            continue;
                        }
                        for (n, sc) in rule_matches(c, rule, r) {
                            for holder in role_location_holders(c, r) {
                                out.role_locations.push((holder, n, sc, rrole));
                            }
                        }
                    }
                }
                for r in rscs {
                    if role_specific {
                        // Role-specific locations only affect promotion.
                        let holders = role_location_holders(c, r);
                        if let (Some(node), Some(sc)) = (&l.node, l.score) {
                            if let Some(n) = c.node_by_name(node) {
                                for &holder in &holders {
                                    out.role_locations.push((holder, n, sc, role));
                                }
                            }
                        }
                        for rule in &l.rules {
                            for (n, sc) in rule_matches(c, rule, r) {
                                for &holder in &holders {
                                    out.role_locations.push((holder, n, sc, role));
                                }
                            }
                        }
                        continue;
                    }
                    let discover = match l.discovery.as_deref() {
                        Some("never") => Discover::Never,
                        Some("exclusive") => Discover::Exclusive,
                        _ => Discover::Always,
                    };
                    if let (Some(node), Some(s)) = (&l.node, l.score) {
                        if let Some(n) = c.node_by_name(node) {
                            configured_location(c, r, n, s);
                            set_discover(c, r, n, discover);
                        }
                    }
                    for rule in &l.rules {
                        if matches!(role_of(&rule.role), Role::Promoted | Role::Unpromoted) {
                            continue;
                        }
                        for (n, s) in rule_matches(c, rule, r) {
                            configured_location(c, r, n, s);
                            set_discover(c, r, n, discover);
                        }
                    }
                }
            }
            Constraint::Colocation(co) => {
                if co.sets.is_empty() {
                    let (Some(a), Some(b)) = (&co.rsc, &co.with_rsc) else {
                        continue;
                    };
                    // Pacemaker ignores colocations between two templates/tags.
                    if is_tag(c, a) && is_tag(c, b) {
                        continue;
                    }
                    for d in resolve(c, cib, a) {
                        for p in resolve(c, cib, b) {
                            out.colocs.push(Coloc {
                                id: co.id.clone(),
                                dependent: d,
                                primary: p,
                                score: co.score,
                                dependent_role: role_of(&co.rsc_role),
                                primary_role: role_of(&co.with_rsc_role),
                                node_attribute: co.node_attribute.clone(),
                                influence: co.influence.unwrap_or_else(|| c.rscs[d].is_critical()),
                                primary_group: None,
                            });
                        }
                    }
                } else {
                    super::coloc_sets::unpack(c, co, &|id| resolve(c, cib, id), &mut out.colocs);
                }
            }
            Constraint::Order(o) => {
                if o.sets.is_empty() {
                    let (Some(a), Some(b)) = (&o.first, &o.then) else {
                        continue;
                    };
                    let fa = o.first_action.clone().unwrap_or_else(|| "start".into());
                    let ta = o.then_action.clone().unwrap_or_else(|| fa.clone());
                    for f in resolve(c, cib, a) {
                        for t in resolve(c, cib, b) {
                            out.orders.push(Ordering {
                                id: o.id.clone(),
                                first: f,
                                first_action: fa.clone(),
                                then: t,
                                then_action: ta.clone(),
                                kind: o.kind,
                                symmetrical: o.symmetrical.unwrap_or(o.kind != OrderKind::Serialize)
                                    && o.kind != OrderKind::Serialize,
                                clone_min: minimum_first_instances(c, f, o.require_all),
                            });
                        }
                    }
                } else {
                    super::order_sets::unpack(o, &|id| resolve(c, cib, id), &mut out);
                }
            }
            Constraint::Ticket(t) => {
                // (resource, role): a set's own role applies to its members
                // (`unpack_rsc_ticket_set`).
                let mut rscs: Vec<(RscIdx, Option<Role>)> = Vec::new();
                let top_role = t.rsc_role.as_deref().and_then(Role::parse);
                if let Some(r) = &t.rsc {
                    rscs = resolve(c, cib, r).into_iter().map(|x| (x, top_role)).collect();
                }
                for s in &t.sets {
                    let role = s.role.as_deref().and_then(Role::parse);
                    for r in &s.resources {
                        rscs.extend(resolve(c, cib, r).into_iter().map(|x| (x, role)));
                    }
                }
                for (r, role) in rscs {
                    out.tickets.push(TicketDep {
                        rsc: r,
                        ticket: t.ticket.clone(),
                        loss_policy: t.loss_policy.clone().unwrap_or_else(|| "stop".into()),
                        role,
                    });
                }
            }
        }
    }
    // Colocations with score 0 are ignored.
    out.colocs.retain(|co| co.score != 0);
    let _ = INFINITY;
    out
}

/// `get_minimum_first_instances`: a clone's `clone-min`, else 1 when the
/// ordering says `require-all=false`; 0 for non-clones.
fn minimum_first_instances(c: &Cluster, first: RscIdx, require_all: Option<bool>) -> usize {
    if !matches!(c.rscs[first].variant, Variant::Clone { .. }) {
        return 0;
    }
    if let Some(v) = c.rscs[first].config.meta.get("clone-min") {
        return v.trim().parse::<i64>().unwrap_or(0).max(0) as usize;
    }
    usize::from(require_all == Some(false))
}

/// An `rsc-pattern`: a POSIX extended regular expression, inverted by a
/// leading "!".
pub struct RscPattern {
    re: regex::Regex,
    invert: bool,
}

impl RscPattern {
    pub fn parse(pattern: &str) -> Result<RscPattern, regex::Error> {
        let (pattern, invert) = match pattern.strip_prefix('!') {
            Some(p) => (p, true),
            None => (pattern, false),
        };
        Ok(RscPattern {
            re: regex::Regex::new(pattern)?,
            invert,
        })
    }

    /// Whether a resource id matches.
    pub fn matches(&self, id: &str) -> bool {
        self.re.is_match(id) != self.invert
    }
}

#[cfg(test)]
mod pattern_tests {
    use super::RscPattern;
    use crate::model::Warning;
    use crate::testutil::{cib, dummy, run};

    fn matches(pattern: &str, id: &str) -> bool {
        RscPattern::parse(pattern).expect("valid pattern").matches(id)
    }

    #[test]
    fn regex_patterns_and_inversion() {
        assert!(matches("^rsc[0-9]$", "rsc1"));
        assert!(!matches("^rsc[0-9]$", "rsc10"));
        assert!(matches("meta-", "meta-rsc"));
        assert!(matches("!rsc", "invert-match"));
        assert!(!matches("!rsc3.*", "rsc3a"));
        assert!(RscPattern::parse("(").is_err());
    }

    #[test]
    fn a_group_location_scores_its_first_member_only() {
        // The group's -10 on n1 counts once, on m1; m2's own +15 there,
        // taken in by m1 through the internal colocation, outweighs it
        // (counted for m2 as well, it would not: -10 + (15 - 10) < 0).
        let rscs = format!("<group id=\"g\">{}{}</group>", dummy("m1"), dummy("m2"));
        let cons = r#"<rsc_location id="l1" rsc="g" node="n1" score="-10"/>
<rsc_location id="l2" rsc="m2" node="n1" score="15"/>"#;
        let s = run(&cib(2, &rscs, cons, &[]));
        let c = &s.cluster;
        let m2 = c.rsc_by_id("m2").expect("m2");
        assert_eq!(c.rscs[m2].plan.allowed[c.node_by_name("n1").expect("n1").0], Some(15));
        for m in ["m1", "m2"] {
            let r = c.rsc_by_id(m).expect("member");
            assert_eq!(c.rscs[r].plan.assigned, c.node_by_name("n1"), "{m}");
        }
    }

    #[test]
    fn an_invalid_pattern_is_reported_not_dropped() {
        let s = run(&cib(
            1,
            &dummy("r"),
            r#"<rsc_location id="bad" rsc-pattern="(" node="n1" score="10"/>"#,
            &[],
        ));
        assert!(matches!(
            s.cluster.warnings.as_slice(),
            [Warning::InvalidRscPattern { constraint, pattern, .. }] if constraint == "bad" && pattern == "("
        ));
        assert!(s.cluster.warnings[0].to_string().contains("bad"));
    }
}

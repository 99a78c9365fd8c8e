//! Constraints resolved against the working set: location scores applied to
//! node tables, colocations and orderings with resource indices.

use crate::cib::{Cib, Constraint, OrderKind};
use crate::model::{Cluster, NodeIdx, Role, RscIdx, Variant};
use crate::rules::{eval_rule, RuleContext};
use crate::score::{self, parse_score, Score, INFINITY};

/// A colocation between two resources.
#[derive(Debug, Clone)]
pub struct Coloc {
    pub id: String,
    pub dependent: RscIdx,
    pub primary: RscIdx,
    pub score: Score,
    pub dependent_role: Role,
    pub primary_role: Role,
    pub node_attribute: Option<String>,
    pub influence: bool,
}

/// An ordering between two resource actions.
#[derive(Debug, Clone)]
pub struct Ordering {
    pub id: String,
    pub first: RscIdx,
    pub first_action: String,
    pub then: RscIdx,
    pub then_action: String,
    pub kind: OrderKind,
    pub symmetrical: bool,
    /// Instances of a clone "first" that must be runnable before "then"
    /// may run (`clone-min`, or 1 for `require-all=false`); 0 = all.
    pub clone_min: usize,
}

/// Ticket dependency.
#[derive(Debug, Clone)]
pub struct TicketDep {
    pub rsc: RscIdx,
    pub ticket: String,
    pub loss_policy: String,
    pub role: Option<Role>,
}

#[derive(Debug, Default)]
pub struct Constraints {
    /// Role-specific (Promoted/Unpromoted) location scores:
    /// (resource, node, score, role).
    pub role_locations: Vec<(RscIdx, NodeIdx, Score, Role)>,
    pub colocs: Vec<Coloc>,
    pub orders: Vec<Ordering>,
    pub tickets: Vec<TicketDep>,
}

fn resolve(c: &Cluster, cib: &Cib, id: &str) -> Vec<RscIdx> {
    if let Some(r) = c
        .rscs
        .iter()
        .position(|r| r.id == id && (r.parent.is_none() || !is_instance_of_clone(c, r.parent)))
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
        .filter(|(_, r)| r.template.as_deref() == Some(id) && r.instance.is_none())
        .map(|(i, _)| i)
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
fn rule_score(rule: &crate::cib::Rule, attrs: &std::collections::BTreeMap<String, String>) -> Score {
    match (&rule.score_attribute, rule.score) {
        (Some(a), _) => attrs.get(a).and_then(|v| parse_score(v)).unwrap_or(0),
        (None, Some(s)) => s,
        (None, None) => 0,
    }
}

/// The nodes a location rule matches, each with the score it gives there.
fn rule_matches(c: &Cluster, rule: &crate::cib::Rule) -> Vec<(NodeIdx, Score)> {
    (0..c.nodes.len())
        .filter(|&n| {
            let mut ctx = RuleContext::new(c.now);
            ctx.node_attrs = Some(&c.nodes[n].attrs);
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

/// Adds `score` for `rsc` (and every primitive under it) on `node`, or on
/// all nodes when `node` is `None`.
pub fn resource_location(c: &mut Cluster, rsc: RscIdx, node: Option<NodeIdx>, s: Score) {
    let mut targets = vec![rsc];
    let mut i = 0;
    while i < targets.len() {
        let kids = c.rscs[targets[i]].children.clone();
        targets.extend(kids);
        i += 1;
    }
    for t in targets {
        let allowed = &mut c.rscs[t].allowed;
        match node {
            Some(n) => {
                allowed[n] = Some(score::add(allowed[n].unwrap_or(0), s));
            }
            None => {
                for a in allowed.iter_mut() {
                    *a = Some(score::add(a.unwrap_or(0), s));
                }
            }
        }
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
                    rscs.extend(
                        c.top
                            .iter()
                            .copied()
                            .filter(|&r| simple_pattern_match(p, &c.rscs[r].id)),
                    );
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
                        for (n, sc) in rule_matches(c, rule) {
                            out.role_locations.push((r, n, sc, rrole));
                        }
                    }
                }
                for r in rscs {
                    if role_specific {
                        // Role-specific locations only affect promotion.
                        if let (Some(node), Some(sc)) = (&l.node, l.score) {
                            if let Some(n) = c.node_by_name(node) {
                                out.role_locations.push((r, n, sc, role));
                            }
                        }
                        for rule in &l.rules {
                            for (n, sc) in rule_matches(c, rule) {
                                out.role_locations.push((r, n, sc, role));
                            }
                        }
                        continue;
                    }
                    if let (Some(node), Some(s)) = (&l.node, l.score) {
                        if let Some(n) = c.node_by_name(node) {
                            resource_location(c, r, Some(n), s);
                        }
                    }
                    for rule in &l.rules {
                        if matches!(role_of(&rule.role), Role::Promoted | Role::Unpromoted) {
                            continue;
                        }
                        for (n, s) in rule_matches(c, rule) {
                            resource_location(c, r, Some(n), s);
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
                                influence: co.influence.unwrap_or_else(|| {
                                    !c.rscs[d].meta.get("critical").is_some_and(|v| {
                                        matches!(v.to_ascii_lowercase().as_str(), "false" | "no" | "off" | "0" | "n")
                                    })
                                }),
                            });
                        }
                    }
                } else {
                    // Resource sets: sequential sets chain members; each set
                    // is colocated with the next one.
                    let sets: Vec<(Vec<RscIdx>, bool, Score, Role)> = co
                        .sets
                        .iter()
                        .map(|s| {
                            (
                                s.resources.iter().flat_map(|r| resolve(c, cib, r)).collect(),
                                s.sequential.unwrap_or(true),
                                s.score.unwrap_or(co.score),
                                role_of(&s.role),
                            )
                        })
                        .collect();
                    for (members, seq, s, role) in &sets {
                        if *seq {
                            for w in members.windows(2) {
                                out.colocs.push(Coloc {
                                    id: co.id.clone(),
                                    dependent: w[1],
                                    primary: w[0],
                                    score: *s,
                                    dependent_role: *role,
                                    primary_role: *role,
                                    node_attribute: co.node_attribute.clone(),
                                    influence: true,
                                });
                            }
                        }
                    }
                    for w in sets.windows(2) {
                        let (a, _, _, ra) = &w[0];
                        let (b, _, _, rb) = &w[1];
                        if let (Some(&p), Some(&d)) = (a.last(), b.first()) {
                            out.colocs.push(Coloc {
                                id: co.id.clone(),
                                dependent: d,
                                primary: p,
                                score: co.score,
                                dependent_role: *rb,
                                primary_role: *ra,
                                node_attribute: co.node_attribute.clone(),
                                influence: true,
                            });
                        }
                    }
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
                    let sets: Vec<(Vec<RscIdx>, bool, String)> = o
                        .sets
                        .iter()
                        .map(|s| {
                            (
                                s.resources.iter().flat_map(|r| resolve(c, cib, r)).collect(),
                                s.sequential.unwrap_or(true),
                                s.action.clone().unwrap_or_else(|| "start".into()),
                            )
                        })
                        .collect();
                    let sym = o.symmetrical.unwrap_or(true) && o.kind != OrderKind::Serialize;
                    for (members, seq, act) in &sets {
                        if *seq {
                            for w in members.windows(2) {
                                out.orders.push(Ordering {
                                    id: o.id.clone(),
                                    first: w[0],
                                    first_action: act.clone(),
                                    then: w[1],
                                    then_action: act.clone(),
                                    kind: o.kind,
                                    symmetrical: sym,
                                    clone_min: 0,
                                });
                            }
                        }
                    }
                    for w in sets.windows(2) {
                        let (a, seq_a, fa) = &w[0];
                        let (b, seq_b, ta) = &w[1];
                        let firsts: Vec<RscIdx> = if *seq_a {
                            a.last().copied().into_iter().collect()
                        } else {
                            a.clone()
                        };
                        let thens: Vec<RscIdx> = if *seq_b {
                            b.first().copied().into_iter().collect()
                        } else {
                            b.clone()
                        };
                        for &f in &firsts {
                            for &t in &thens {
                                out.orders.push(Ordering {
                                    id: o.id.clone(),
                                    first: f,
                                    first_action: fa.clone(),
                                    then: t,
                                    then_action: ta.clone(),
                                    kind: o.kind,
                                    symmetrical: sym,
                                    clone_min: 0,
                                });
                            }
                        }
                    }
                }
            }
            Constraint::Ticket(t) => {
                let mut rscs = Vec::new();
                if let Some(r) = &t.rsc {
                    rscs = resolve(c, cib, r);
                }
                for s in &t.sets {
                    for r in &s.resources {
                        rscs.extend(resolve(c, cib, r));
                    }
                }
                for r in rscs {
                    out.tickets.push(TicketDep {
                        rsc: r,
                        ticket: t.ticket.clone(),
                        loss_policy: t.loss_policy.clone().unwrap_or_else(|| "stop".into()),
                        role: t.rsc_role.as_deref().and_then(Role::parse),
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
    if let Some(v) = c.rscs[first].meta.get("clone-min") {
        return v.trim().parse::<i64>().unwrap_or(0).max(0) as usize;
    }
    usize::from(require_all == Some(false))
}

/// Matches `rsc-pattern` values of the simple forms used in practice:
/// `^prefix`, `suffix$`, `^exact$`, `.*` wildcards and plain substrings.
pub fn simple_pattern_match(pattern: &str, id: &str) -> bool {
    let anchored_start = pattern.starts_with('^');
    let anchored_end = pattern.ends_with('$') && !pattern.ends_with("\\$");
    let core = pattern.trim_start_matches('^').trim_end_matches('$');
    let parts: Vec<&str> = core.split(".*").collect();
    let mut pos = 0usize;
    for (i, part) in parts.iter().enumerate() {
        let part = part.replace("\\.", ".");
        if part.is_empty() {
            continue;
        }
        if i == 0 && anchored_start {
            if !id.starts_with(part.as_str()) {
                return false;
            }
            pos = part.len();
        } else if let Some(found) = id[pos..].find(part.as_str()) {
            pos += found + part.len();
        } else {
            return false;
        }
    }
    if anchored_end {
        if let Some(last) = parts.last() {
            if !last.is_empty() && !id.ends_with(&last.replace("\\.", ".")) {
                return false;
            }
        }
    }
    true
}

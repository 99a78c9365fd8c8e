//! Colocation constraints with resource sets (`unpack_colocation_set`,
//! `colocate_rsc_sets`). Inside a set each member is placed with the one
//! before it (`ordering=listed`: the other way round; negative scores:
//! against every earlier member); between sets, the earlier set depends on
//! the later one. Set colocations have no node attribute.

use crate::constraint_types::Coloc;
use crate::model::{Cluster, Role, RscIdx};
use cib::score::Score;
use cib::{Colocation, ResourceSet};

fn role_of(s: &Option<String>) -> Role {
    s.as_deref()
        .and_then(Role::parse)
        .map(|r| if r == Role::Started { Role::Unknown } else { r })
        .unwrap_or(Role::Unknown)
}

/// `unpack_influence`: the constraint's setting, else the dependent's
/// `critical` meta-attribute.
fn influence(c: &Cluster, co: &Colocation, dependent: RscIdx) -> bool {
    co.influence.unwrap_or_else(|| c.rscs[dependent].is_critical())
}

fn new_coloc(
    c: &Cluster,
    co: &Colocation,
    dependent: RscIdx,
    primary: RscIdx,
    score: Score,
    roles: (Role, Role),
    out: &mut Vec<Coloc>,
) {
    if score == 0 || dependent == primary {
        return;
    }
    out.push(Coloc {
        id: co.id.clone(),
        dependent,
        primary,
        score,
        dependent_role: roles.0,
        primary_role: roles.1,
        node_attribute: None,
        influence: influence(c, co, dependent),
        primary_group: None,
    });
}

/// Colocations for a constraint with resource sets.
pub fn unpack(c: &Cluster, co: &Colocation, members: &dyn Fn(&str) -> Vec<RscIdx>, out: &mut Vec<Coloc>) {
    let expand = |s: &ResourceSet| -> Vec<RscIdx> { s.resources.iter().flat_map(|r| members(r)).collect() };
    let mut last: Option<(&ResourceSet, Vec<RscIdx>)> = None;
    for set in &co.sets {
        let rscs = expand(set);
        unpack_one_set(c, co, set, &rscs, out);
        if let Some((prev, prev_rscs)) = &last {
            between_sets(c, co, prev, prev_rscs, set, &rscs, out);
        }
        last = Some((set, rscs));
    }
}

fn unpack_one_set(c: &Cluster, co: &Colocation, set: &ResourceSet, rscs: &[RscIdx], out: &mut Vec<Coloc>) {
    let score = set.score.unwrap_or(co.score);
    if score == 0 || set.sequential == Some(false) {
        return;
    }
    let role = role_of(&set.role);
    let listed = set
        .ordering
        .as_deref()
        .is_some_and(|o| !o.eq_ignore_ascii_case("group"));
    if score > 0 && !listed {
        for w in rscs.windows(2) {
            new_coloc(c, co, w[1], w[0], score, (role, role), out);
        }
    } else if score > 0 {
        for w in rscs.windows(2) {
            new_coloc(c, co, w[0], w[1], score, (role, role), out);
        }
    } else {
        for (i, &r) in rscs.iter().enumerate() {
            for &with in &rscs[..i] {
                new_coloc(c, co, r, with, score, (role, role), out);
            }
        }
    }
}

fn between_sets(
    c: &Cluster,
    co: &Colocation,
    set1: &ResourceSet,
    rscs1: &[RscIdx],
    set2: &ResourceSet,
    rscs2: &[RscIdx],
    out: &mut Vec<Coloc>,
) {
    if co.score == 0 {
        return;
    }
    let roles = (role_of(&set1.role), role_of(&set2.role));
    // A sequential set is represented by its first (set1) or last (set2)
    // member.
    let deps: Vec<RscIdx> = if set1.sequential != Some(false) {
        rscs1.first().copied().into_iter().collect()
    } else {
        rscs1.to_vec()
    };
    let prims: Vec<RscIdx> = if set2.sequential != Some(false) {
        rscs2.last().copied().into_iter().collect()
    } else {
        rscs2.to_vec()
    };
    for &d in &deps {
        for &p in &prims {
            new_coloc(c, co, d, p, co.score, roles, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(id: &str, rscs: &[&str], seq: Option<bool>) -> ResourceSet {
        ResourceSet {
            id: id.into(),
            resources: rscs.iter().map(|s| s.to_string()).collect(),
            sequential: seq,
            require_all: None,
            ordering: None,
            action: None,
            role: None,
            score: None,
            kind: None,
        }
    }

    fn cluster() -> Cluster {
        let xml = r#"<cib><configuration><crm_config/><nodes/><resources>
<primitive id="A" class="ocf" provider="pacemaker" type="Dummy"/><primitive id="B" class="ocf" provider="pacemaker" type="Dummy"/>
<primitive id="C" class="ocf" provider="pacemaker" type="Dummy"/><primitive id="D" class="ocf" provider="pacemaker" type="Dummy"/>
</resources><constraints/></configuration><status/></cib>"#;
        crate::unpack::unpack(&cib::Cib::parse(xml).expect("valid"), 0)
    }

    /// The colocated (dependent, primary) resource index pairs.
    fn pairs(sets: Vec<ResourceSet>, score: Score) -> Vec<(usize, usize)> {
        let c = cluster();
        let co = Colocation {
            id: "co".into(),
            rsc: None,
            with_rsc: None,
            score,
            rsc_role: None,
            with_rsc_role: None,
            node_attribute: None,
            influence: None,
            sets,
        };
        let mut out = Vec::new();
        unpack(&c, &co, &|id| c.rsc_by_id(id).into_iter().collect(), &mut out);
        out.iter().map(|x| (x.dependent.0, x.primary.0)).collect()
    }

    #[test]
    fn earlier_set_depends_on_later_set() {
        // {A B} then {C D}: B with A inside; A (first) with D (last).
        let p = pairs(vec![set("s1", &["A", "B"], None), set("s2", &["C", "D"], None)], 100);
        assert!(p.contains(&(1, 0)));
        assert!(p.contains(&(3, 2)));
        assert!(p.contains(&(0, 3)));
        assert_eq!(p.len(), 3);
    }

    #[test]
    fn negative_set_separates_every_pair() {
        let p = pairs(vec![set("s", &["A", "B", "C"], None)], -100);
        assert_eq!(p, vec![(1, 0), (2, 0), (2, 1)]);
    }

    #[test]
    fn unordered_sets_use_every_member() {
        let p = pairs(vec![set("s1", &["A", "B"], Some(false)), set("s2", &["C"], None)], 100);
        assert_eq!(p, vec![(0, 2), (1, 2)]);
    }
}

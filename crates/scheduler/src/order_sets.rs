//! Ordering constraints with resource sets (`unpack_order_set`,
//! `order_rsc_sets`): orderings inside sequential sets, between consecutive
//! sets, their inverses for symmetrical constraints, and the
//! `one-or-more:<set>` pseudo-action for sets with `require-all=false`.

use crate::action_set::{flags, map_first_action, ActionSet};
use crate::connect::connect;
use crate::constraint_types::{Constraints, OneOrMore, SetOrdering, Symmetry};
use crate::model::{Cluster, RscIdx, Variant};
use cib::{Order, OrderKind, ResourceSet};

/// The inverse action, or the action itself when it has none.
fn invert(action: &str) -> String {
    crate::action_set::invert(action).unwrap_or(action).to_string()
}

fn parse_kind(s: &ResourceSet, parent: OrderKind) -> OrderKind {
    match s.kind.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("mandatory") => OrderKind::Mandatory,
        Some("optional") => OrderKind::Optional,
        Some("serialize") => OrderKind::Serialize,
        _ => match s.score {
            Some(0) => OrderKind::Optional,
            Some(_) => OrderKind::Mandatory,
            None => parent,
        },
    }
}

/// `get_ordering_symmetry`.
fn symmetry(kind: OrderKind, symmetrical: Option<bool>) -> Symmetry {
    match symmetrical {
        Some(true) if kind != OrderKind::Serialize => Symmetry::Symmetric,
        Some(_) => Symmetry::Asymmetric,
        None if kind == OrderKind::Serialize => Symmetry::Asymmetric,
        None => Symmetry::Symmetric,
    }
}

/// Unpacks an ordering constraint that has resource sets.
pub fn unpack(o: &Order, members: &dyn Fn(&str) -> Vec<RscIdx>, out: &mut Constraints) {
    let sym = symmetry(o.kind, o.symmetrical);
    let expand = |s: &ResourceSet| -> Vec<RscIdx> { s.resources.iter().flat_map(|r| members(r)).collect() };
    let mut last: Option<&ResourceSet> = None;
    for set in &o.sets {
        unpack_one_set(o, set, &expand(set), out);
        if let Some(prev) = last {
            order_sets(prev, set, &expand(prev), &expand(set), o.kind, sym, out);
            if sym == Symmetry::Symmetric {
                order_sets(set, prev, &expand(set), &expand(prev), o.kind, Symmetry::Inverse, out);
            }
        }
        last = Some(set);
    }
}

/// Orderings inside one set.
fn unpack_one_set(o: &Order, set: &ResourceSet, rscs: &[RscIdx], out: &mut Constraints) {
    if rscs.len() < 2 {
        return;
    }
    let action = set.action.clone().unwrap_or_else(|| "start".into());
    let kind = parse_kind(set, o.kind);
    let sym = symmetry(kind, o.symmetrical);
    let sequential = set.sequential.unwrap_or(true);
    let mut push = |first: RscIdx, then: RscIdx, action: &str, symmetry: Symmetry| {
        out.set_orders.push(SetOrdering {
            first,
            first_action: action.to_string(),
            then,
            then_action: action.to_string(),
            kind,
            symmetry,
            flag_action: action.to_string(),
        });
    };
    if kind == OrderKind::Serialize {
        for (i, &a) in rscs.iter().enumerate() {
            for &b in &rscs[i + 1..] {
                push(a, b, &action, sym);
            }
        }
    } else if sequential {
        for w in rscs.windows(2) {
            push(w[0], w[1], &action, sym);
        }
    }
    if sym == Symmetry::Asymmetric || !sequential {
        return;
    }
    let inv = invert(&action);
    for w in rscs.windows(2) {
        push(w[1], w[0], &inv, Symmetry::Inverse);
    }
}

/// `order_rsc_sets`: orderings from `set1` to `set2`.
fn order_sets(
    set1: &ResourceSet,
    set2: &ResourceSet,
    rscs1: &[RscIdx],
    rscs2: &[RscIdx],
    kind: OrderKind,
    symmetry: Symmetry,
    out: &mut Constraints,
) {
    let mut action1 = set1.action.clone().unwrap_or_else(|| "start".into());
    let mut action2 = set2.action.clone().unwrap_or_else(|| "start".into());
    if symmetry == Symmetry::Inverse {
        action1 = invert(&action1);
        action2 = invert(&action2);
    }
    // One-or-more only applies while starting or promoting.
    let require_all = set1.require_all.unwrap_or(true) || matches!(action1.as_str(), "stop" | "demote");
    if !require_all {
        let name = format!("one-or-more:{}", set1.id);
        out.one_or_more.push(OneOrMore {
            name,
            firsts: rscs1.iter().map(|&r| (r, action1.clone())).collect(),
            thens: rscs2.iter().map(|&r| (r, action2.clone())).collect(),
            kind,
            symmetry,
            flag_action: action2.clone(),
        });
        return;
    }
    // Only an explicitly sequential set is represented by one end.
    let firsts: Vec<RscIdx> = match set1.sequential {
        Some(true) if symmetry == Symmetry::Inverse => rscs1.first().copied().into_iter().collect(),
        Some(true) => rscs1.last().copied().into_iter().collect(),
        _ => rscs1.to_vec(),
    };
    let thens: Vec<RscIdx> = match set2.sequential {
        Some(true) if symmetry == Symmetry::Inverse => rscs2.last().copied().into_iter().collect(),
        Some(true) => rscs2.first().copied().into_iter().collect(),
        _ => rscs2.to_vec(),
    };
    for &f in &firsts {
        for &t in &thens {
            out.set_orders.push(SetOrdering {
                first: f,
                first_action: action1.clone(),
                then: t,
                then_action: action2.clone(),
                kind,
                symmetry,
                flag_action: action2.clone(),
            });
        }
    }
}

/// `ordering_flags_for_kind` in this crate's edge flags.
fn edge_flags(c: &Cluster, first: RscIdx, kind: OrderKind, symmetry: Symmetry, flag_action: &str) -> u32 {
    if kind == OrderKind::Serialize {
        return flags::SERIALIZE;
    }
    if kind != OrderKind::Mandatory {
        return 0;
    }
    match symmetry {
        Symmetry::Asymmetric => flags::ASYMMETRICAL,
        Symmetry::Inverse => flags::IMPLIES_FIRST,
        Symmetry::Symmetric => {
            // As for simple orderings: a clone's completion pseudo-action
            // does not force restarts of what follows it.
            let first_is_clone = matches!(c.rscs[first].variant, Variant::Clone { .. });
            let mut f = if first_is_clone { 0 } else { flags::IMPLIES_THEN };
            if matches!(flag_action, "start" | "promote") {
                f |= flags::RUNNABLE_LEFT;
            }
            f
        }
    }
}

/// Creates the edges (and one-or-more pseudo-actions) for set orderings.
pub fn create_edges(s: &mut ActionSet, c: &Cluster, cons: &Constraints) {
    for o in &cons.set_orders {
        let fa = map_first_action(c, o.first, &o.first_action);
        let fl = edge_flags(c, o.first, o.kind, o.symmetry, &o.flag_action);
        connect(s, c, o.first, &fa, o.then, &o.then_action, fl);
    }
    for oom in &cons.one_or_more {
        let pseudo = match s.find(None, &oom.name, 0, None) {
            Some(p) => p,
            None => {
                let p = s.add(None, &oom.name, 0, None, true);
                s.actions[p].pseudo = true;
                p
            }
        };
        for (r, task) in &oom.firsts {
            let task = map_first_action(c, *r, task);
            for f in actions_of(s, c, *r, &task) {
                s.order(f, pseudo, flags::ONE_OR_MORE | flags::IMPLIES_THEN_PRINTED);
            }
        }
        let fl = match oom.thens.first() {
            Some(&(r, _)) => edge_flags(c, r, oom.kind, oom.symmetry, &oom.flag_action),
            None => 0,
        } | flags::RUNNABLE_LEFT;
        // IMPLIES_THEN from a pseudo-action that is never required does
        // nothing; keep the runnable part.
        for (r, task) in &oom.thens {
            for t in actions_of(s, c, *r, task) {
                s.order(pseudo, t, fl & !flags::IMPLIES_THEN);
            }
        }
    }
}

/// The actions a resource-level ordering attaches to (`connect`'s rule).
fn actions_of(s: &ActionSet, c: &Cluster, r: RscIdx, task: &str) -> Vec<usize> {
    if matches!(c.rscs[r].variant, Variant::Group | Variant::Clone { .. }) {
        s.find(Some(r), task, 0, None).into_iter().collect()
    } else {
        s.of(r, task)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(id: &str, rscs: &[&str], seq: Option<bool>, require_all: Option<bool>) -> ResourceSet {
        ResourceSet {
            id: id.into(),
            resources: rscs.iter().map(|s| s.to_string()).collect(),
            sequential: seq,
            require_all,
            ordering: None,
            action: None,
            role: None,
            score: None,
            kind: None,
        }
    }

    fn order(sets: Vec<ResourceSet>) -> Order {
        Order {
            id: "o".into(),
            first: None,
            then: None,
            first_action: None,
            then_action: None,
            kind: OrderKind::Mandatory,
            symmetrical: None,
            require_all: None,
            sets,
        }
    }

    fn idx(name: &str) -> Vec<RscIdx> {
        vec![RscIdx(usize::from(name.as_bytes()[0] - b'A'))]
    }

    #[test]
    fn sequential_set_chains_members_and_inverts_for_stops() {
        let mut out = Constraints::default();
        unpack(&order(vec![set("s", &["A", "B", "C"], None, None)]), &idx, &mut out);
        let pairs: Vec<(usize, &str, usize, Symmetry)> = out
            .set_orders
            .iter()
            .map(|o| (o.first.0, o.first_action.as_str(), o.then.0, o.symmetry))
            .collect();
        assert!(pairs.contains(&(0, "start", 1, Symmetry::Symmetric)));
        assert!(pairs.contains(&(1, "start", 2, Symmetry::Symmetric)));
        assert!(pairs.contains(&(2, "stop", 1, Symmetry::Inverse)));
        assert!(pairs.contains(&(1, "stop", 0, Symmetry::Inverse)));
    }

    #[test]
    fn sets_without_explicit_sequential_order_every_member() {
        let mut out = Constraints::default();
        unpack(
            &order(vec![
                set("a", &["A", "B"], None, None),
                set("b", &["C", "D"], None, None),
            ]),
            &idx,
            &mut out,
        );
        let between = out
            .set_orders
            .iter()
            .filter(|o| o.symmetry == Symmetry::Symmetric && o.first < RscIdx(2) && o.then >= RscIdx(2))
            .count();
        assert_eq!(between, 4);
    }

    #[test]
    fn require_all_false_uses_a_one_or_more_pseudo_action() {
        let mut out = Constraints::default();
        unpack(
            &order(vec![
                set("a", &["A", "B"], Some(false), Some(false)),
                set("b", &["C"], None, None),
            ]),
            &idx,
            &mut out,
        );
        assert_eq!(out.one_or_more.len(), 1);
        assert_eq!(out.one_or_more[0].name, "one-or-more:a");
        // The inverse (stops) requires all.
        assert!(out
            .set_orders
            .iter()
            .any(|o| o.first == RscIdx(2) && o.first_action == "stop"));
    }
}

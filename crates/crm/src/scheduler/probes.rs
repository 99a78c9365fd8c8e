//! Which clone instance is probed on a node (`clone_create_probe` and
//! `probe_anonymous_clone` in `lib/pacemaker/pcmk_sched_clone.c`): an
//! anonymous clone needs its state discovered once per node, so only one
//! instance is probed there; a unique clone probes every instance.

use crate::model::{Cluster, NodeIdx, RscIdx, Variant};

/// The top-level anonymous clone `r` belongs to, with the clone's child
/// (the instance) that contains `r`. Bundles probe their replicas
/// themselves and are left out.
fn anonymous_instance(c: &Cluster, r: RscIdx) -> Option<(RscIdx, RscIdx)> {
    let mut instance = r;
    let mut cur = c.rscs[r].parent;
    while let Some(p) = cur {
        if let Variant::Clone { unique, .. } = c.rscs[p].variant {
            let bundled = c.bundles.iter().any(|b| b.rsc == p || b.child_clone == Some(p));
            return (!unique && !bundled && c.rscs[p].parent.is_none()).then_some((p, instance));
        }
        instance = p;
        cur = c.rscs[p].parent;
    }
    None
}

/// `rsc_known_on`: the resource or any primitive inside it has a known
/// state on the node.
fn known_on(c: &Cluster, r: RscIdx, n: NodeIdx) -> bool {
    c.primitives_of(r).into_iter().any(|p| c.rscs[p].known_on.contains(&n))
}

/// The node an instance is placed on (`location(rsc, NULL, FALSE)`).
fn assigned(c: &Cluster, r: RscIdx) -> Option<NodeIdx> {
    c.rscs[r]
        .assigned
        .or_else(|| c.primitives_of(r).into_iter().find_map(|p| c.rscs[p].assigned))
}

/// The instance of anonymous clone `clone` to probe on `n`: one already
/// known there, else the one to be started there, else the first.
fn probed_instance(c: &Cluster, clone: RscIdx, n: NodeIdx) -> Option<RscIdx> {
    let mut children = c.rscs[clone].children.clone();
    children.sort_by_key(|&ch| c.rscs[ch].instance.unwrap_or(usize::MAX));
    children
        .iter()
        .copied()
        .find(|&ch| known_on(c, ch, n))
        .or_else(|| children.iter().copied().find(|&ch| assigned(c, ch) == Some(n)))
        .or_else(|| children.first().copied())
}

/// Whether primitive `r` is the one to probe on `n` as far as its clone is
/// concerned (always, outside anonymous clones).
pub fn instance_probed_on(c: &Cluster, r: RscIdx, n: NodeIdx) -> bool {
    match anonymous_instance(c, r) {
        Some((clone, instance)) => probed_instance(c, clone, n) == Some(instance),
        None => true,
    }
}

/// What a probe of `r` orders before: the start of its top-level clone,
/// or its own start outside clones (`pcmk__probe_rsc_on_node`; Pacemaker
/// also keeps fence devices' probes on the device itself when unfencing is
/// in use, which this scheduler does not implement).
pub fn probe_target(c: &Cluster, r: RscIdx) -> RscIdx {
    let top = c.top_parent(r);
    match c.rscs[top].variant {
        Variant::Clone { .. } => top,
        _ => r,
    }
}

#[cfg(test)]
mod tests {
    use crate::scheduler::testutil::{cib, clone, dummy, run};

    fn probes(s: &crate::scheduler::Schedule) -> Vec<(String, usize)> {
        s.actions
            .iter()
            .filter(|a| a.task == "monitor" && a.interval_ms == 0)
            .map(|a| (s.cluster.rscs[a.rsc.unwrap()].id.clone(), a.node.unwrap()))
            .collect()
    }

    #[test]
    fn anonymous_clones_probe_the_instance_placed_on_the_node() {
        let s = run(&cib(2, &clone("c", &dummy("d"), &[]), "", &[]));
        assert_eq!(probes(&s), [("d:0".to_string(), 0), ("d:1".to_string(), 1)]);
    }

    #[test]
    fn anonymous_clones_probe_the_first_instance_where_none_is_placed() {
        let s = run(&cib(2, &clone("c", &dummy("d"), &[("clone-max", "1")]), "", &[]));
        assert_eq!(probes(&s), [("d:0".to_string(), 0), ("d:0".to_string(), 1)]);
    }

    #[test]
    fn unique_clones_probe_every_instance() {
        let s = run(&cib(
            1,
            &clone("c", &dummy("d"), &[("globally-unique", "true"), ("clone-max", "2")]),
            "",
            &[],
        ));
        let n = s
            .actions
            .iter()
            .filter(|a| a.task == "monitor" && a.interval_ms == 0)
            .count();
        assert_eq!(n, 2);
    }
}

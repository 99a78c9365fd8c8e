//! Instance numbers of anonymous clones in the revised status.
//!
//! crm_simulate shows the revised status by unpacking the updated CIB
//! again, and unpacking numbers anonymous instances afresh: node by node in
//! status order, a history entry goes to the instance already active on
//! that node, else to the first inactive one (`find_anonymous_clone`,
//! lib/pengine/unpack.c:1757-1878 in Pacemaker 2.1.5). So the k-th node
//! with an active instance gets instance k, whatever number the transition
//! used there. A cloned group shows its instance numbers; any anonymous
//! clone shows an instance numbered beyond `clone-max` as an orphan.

use scheduler::ids::clone_strip;
use scheduler::model::{Cluster, NodeIdx, RscIdx, Variant};

/// Renumbers the instances of every anonymous clone in `c` as unpacking
/// the revised CIB would, orphans being those numbered beyond `clone-max`.
/// Clones it cannot renumber with certainty (an instance on several nodes,
/// two on one node, orphans or a blocked inactive instance) keep their
/// numbers.
pub fn renumber(c: &mut Cluster) {
    for cl in RscIdx::all(c.rscs.len()) {
        if let Some((clone_max, order)) = unpack_order(c, cl) {
            for (number, &inst) in order.iter().enumerate() {
                rename(c, inst, number, number >= clone_max);
            }
            c.rscs[cl].children = order;
        }
    }
}

/// `clone-max` and the instances of `cl` in the order unpacking would
/// number them, if it is an anonymous clone (of groups or of primitives)
/// that can be renumbered.
fn unpack_order(c: &Cluster, cl: RscIdx) -> Option<(usize, Vec<RscIdx>)> {
    let Variant::Clone {
        unique: false,
        clone_max,
        ..
    } = c.rscs[cl].variant
    else {
        return None;
    };
    let kids = &c.rscs[cl].children;
    let same_kind = kids.iter().all(|&k| matches!(c.rscs[k].variant, Variant::Group))
        || kids.iter().all(|&k| c.rscs[k].is_primitive());
    // Orphans only for being numbered beyond clone-max.
    let numbered = kids.iter().enumerate().all(|(i, &k)| {
        c.rscs[k].config.instance == Some(i)
            && c.primitives_of(k)
                .iter()
                .all(|&p| c.rscs[p].observed.orphan == (i >= clone_max))
    });
    if kids.is_empty() || !same_kind || !numbered {
        return None;
    }
    let mut active: Vec<(NodeIdx, RscIdx)> = Vec::new();
    let mut inactive = Vec::new();
    for &k in kids {
        match nodes_of(c, k).as_slice() {
            [] if c.rscs[k].plan.blocked => return None,
            [] => inactive.push(k),
            [n] if active.iter().all(|&(m, _)| m != *n) => active.push((*n, k)),
            _ => return None,
        }
    }
    // Node indices follow the status order.
    active.sort_by_key(|&(n, _)| n);
    Some((clone_max, active.into_iter().map(|(_, k)| k).chain(inactive).collect()))
}

/// The nodes any member of instance `inst` is active on.
fn nodes_of(c: &Cluster, inst: RscIdx) -> Vec<NodeIdx> {
    let mut out: Vec<NodeIdx> = Vec::new();
    for p in c.primitives_of(inst) {
        for &n in &c.rscs[p].observed.running_on {
            if !out.contains(&n) {
                out.push(n);
            }
        }
    }
    out
}

/// Gives instance `inst` and its members the instance number `number`.
fn rename(c: &mut Cluster, inst: RscIdx, number: usize, orphan: bool) {
    let mut all = vec![inst];
    all.extend(c.primitives_of(inst));
    all.dedup();
    for r in all {
        let base = clone_strip(&c.rscs[r].id).to_string();
        c.rscs[r].id = format!("{base}:{number}");
        c.rscs[r].config.instance = Some(number);
        c.rscs[r].observed.orphan = orphan;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cluster with anonymous clone `C` of group `G` (members `a`, `b`)
    /// with instances 0..3; `running[i]` is where instance i's `a` runs.
    fn cloned_group(running: &[Option<NodeIdx>]) -> Cluster {
        let group = "<group id=\"G\"><primitive id=\"a\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"/>\
                     <primitive id=\"b\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"/></group>";
        let xml = format!(
            "<cib epoch=\"1\" num_updates=\"0\" admin_epoch=\"0\" have-quorum=\"1\"><configuration><crm_config/>\
             <nodes><node id=\"1\" uname=\"n1\"/><node id=\"2\" uname=\"n2\"/><node id=\"3\" uname=\"n3\"/></nodes>\
             <resources><clone id=\"C\">{group}</clone></resources><constraints/></configuration><status/></cib>"
        );
        let cib = cib::Cib::parse(&xml).expect("test CIB parses");
        let mut c = scheduler::unpack::unpack(&cib, 0);
        let cl = c.rsc_by_id("C").expect("C");
        for (i, on) in running.iter().enumerate() {
            let inst = c.rscs[cl].children[i];
            let a = c.rscs[inst].children[0];
            c.rscs[a].observed.running_on = on.iter().copied().collect();
        }
        c
    }

    fn where_is(c: &Cluster, id: &str) -> Vec<NodeIdx> {
        c.rscs[c.rsc_by_id(id).expect(id)].observed.running_on.clone()
    }

    #[test]
    fn instances_are_numbered_by_the_node_they_are_active_on() {
        // fuzz-1448: the transition started instance 2 on n1 and instance
        // 0 stays on n2; unpacked again, n1's history comes first.
        let mut c = cloned_group(&[Some(NodeIdx(1)), None, Some(NodeIdx(0))]);
        renumber(&mut c);
        assert_eq!(where_is(&c, "a:0"), [NodeIdx(0)]);
        assert_eq!(where_is(&c, "a:1"), [NodeIdx(1)]);
        assert!(where_is(&c, "a:2").is_empty());
        let cl = c.rsc_by_id("C").expect("C");
        let ids: Vec<&str> = c.rscs[cl].children.iter().map(|&k| c.rscs[k].id.as_str()).collect();
        assert_eq!(ids, ["G:0", "G:1", "G:2"]);
    }

    #[test]
    fn an_instance_active_on_two_nodes_keeps_the_numbers() {
        let mut c = cloned_group(&[Some(NodeIdx(1)), None, Some(NodeIdx(0))]);
        let cl = c.rsc_by_id("C").expect("C");
        let b0 = c.rscs[c.rscs[cl].children[0]].children[1];
        c.rscs[b0].observed.running_on = vec![NodeIdx(2)];
        renumber(&mut c);
        assert_eq!(where_is(&c, "a:0"), [NodeIdx(1)]);
        assert_eq!(where_is(&c, "a:2"), [NodeIdx(0)]);
    }

    #[test]
    fn an_orphan_left_alone_after_the_transition_takes_a_configured_number() {
        // fuzz-1377: clone-max 2, instances 0 and 1 stopped by the
        // transition, orphan 2 still active (unmanaged) on n3. Unpacked
        // again, n3's history is the first active instance: 0, no orphan.
        let xml = "<cib epoch=\"1\" num_updates=\"0\" admin_epoch=\"0\" have-quorum=\"1\"><configuration><crm_config/>\
                   <nodes><node id=\"1\" uname=\"n1\"/><node id=\"2\" uname=\"n2\"/><node id=\"3\" uname=\"n3\"/></nodes>\
                   <resources><clone id=\"C\"><primitive id=\"p\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"/>\
                   </clone></resources><constraints/></configuration><status/></cib>";
        let cib = cib::Cib::parse(xml).expect("test CIB parses");
        let mut c = scheduler::unpack::unpack(&cib, 0);
        let cl = c.rsc_by_id("C").expect("C");
        if let Variant::Clone { clone_max, .. } = &mut c.rscs[cl].variant {
            *clone_max = 2;
        }
        let orphan = c.rscs[cl].children[2];
        c.rscs[orphan].observed.orphan = true;
        c.rscs[orphan].observed.running_on = vec![NodeIdx(2)];
        renumber(&mut c);
        let p0 = c.rsc_by_id("p:0").expect("p:0");
        assert_eq!(c.rscs[p0].observed.running_on, [NodeIdx(2)]);
        assert!(!c.rscs[p0].observed.orphan);
        let p2 = c.rsc_by_id("p:2").expect("p:2");
        assert!(c.rscs[p2].observed.orphan && c.rscs[p2].observed.running_on.is_empty());
    }
}

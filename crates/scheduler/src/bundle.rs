//! Bundle placement (after `pcmk__bundle_allocate` and
//! `pcmk__bundle_internal_constraints`): each replica's child may only run
//! on its replica's guest node, the child clone only on bundle nodes, and a
//! replica's IP follows its container.

use crate::constraint_types::{Coloc, Constraints, Ordering};
use crate::model::{Cluster, NodeIdx, Role};
use cib::score::INFINITY;
use cib::OrderKind;

/// A bundle's replica IPs: location constraints on the bundle apply to
/// them as to its containers (`pcmk__bundle_rsc_location`).
pub fn implicit_members(c: &Cluster, r: crate::model::RscIdx) -> Vec<crate::model::RscIdx> {
    c.bundles
        .iter()
        .filter(|b| b.rsc == r)
        .flat_map(|b| b.replicas.iter())
        .filter_map(|rep| rep.ip)
        .collect()
}

/// Whether `r` is a bundle's IP or connection, whose parameters are not
/// reproduced exactly, so that its history digests cannot be compared. A
/// container's are (`crate::unpack` builds them as
/// `create_container_resource` does).
pub fn digests_unknown(c: &Cluster, r: crate::model::RscIdx) -> bool {
    c.rscs[r].remote.bundle_implicit
        && !c
            .bundles
            .iter()
            .flat_map(|b| b.replicas.iter())
            .any(|rep| rep.container == r)
}

/// A bundle's children as Pacemaker lists them (`rsc->children`): each
/// replica's IP, container and connection, then the child clone
/// (`pe__unpack_bundle`, lib/pengine/bundle.c:176, 425, 587 and 1071);
/// `None` when `r` is no bundle. Here the bundle's own children are its
/// containers only.
pub fn pacemaker_children(c: &Cluster, r: crate::model::RscIdx) -> Option<Vec<crate::model::RscIdx>> {
    let b = c.bundles.iter().find(|b| b.rsc == r)?;
    let replicas = b
        .replicas
        .iter()
        .flat_map(|rep| [rep.ip, Some(rep.container), rep.remote]);
    Some(replicas.chain([b.child_clone]).flatten().collect())
}

/// Pins replica children to their guest nodes and ties IPs to containers.
pub fn apply(c: &mut Cluster, cons: &mut Constraints) {
    for bi in 0..c.bundles.len() {
        let b = c.bundles[bi].clone();
        let bundle_nodes: Vec<NodeIdx> = b.replicas.iter().filter_map(|r| r.node).collect();
        if let Some(cl) = b.child_clone {
            for n in NodeIdx::all(c.nodes.len()) {
                c.rscs[cl].plan.allowed[n.0] = Some(if bundle_nodes.contains(&n) { 0 } else { -INFINITY });
            }
        }
        for rep in &b.replicas {
            if let (Some(inst), Some(node)) = (rep.child, rep.node) {
                for p in c.primitives_of(inst) {
                    // Only the replica's node is in the instance's table.
                    for n in NodeIdx::all(c.nodes.len()) {
                        c.rscs[p].plan.allowed[n.0] = if n == node { Some(INFINITY) } else { None };
                    }
                }
            }
            if let Some(ip) = rep.ip {
                // Start the IP, then the container; colocate the IP with it.
                cons.orders.push(Ordering {
                    id: "bundle-ip-then-container".into(),
                    first: ip,
                    first_action: "start".into(),
                    then: rep.container,
                    then_action: "start".into(),
                    kind: OrderKind::Mandatory,
                    symmetrical: true,
                    clone_min: 0,
                });
                cons.colocs.push(Coloc {
                    id: "ip-with-docker".into(),
                    dependent: ip,
                    primary: rep.container,
                    score: INFINITY,
                    dependent_role: Role::Unknown,
                    primary_role: Role::Unknown,
                    node_attribute: None,
                    influence: true,
                    primary_group: None,
                });
            }
        }
    }
}

//! Assignment of a bundle and its implicit resources in Pacemaker's order
//! (`pcmk__bundle_allocate`, lib/pacemaker/pcmk_sched_bundle.c:73-167):
//! the containers first, then replica by replica its IP, its connection and
//! its child instance, and the child clone last.

use super::Assigner;
use crate::model::RscIdx;

impl Assigner<'_> {
    /// The bundle whose shell (the clone of its containers) is `r`.
    pub(super) fn bundle_of(&self, r: RscIdx) -> Option<usize> {
        self.c.bundles.iter().position(|b| b.rsc == r)
    }

    /// Whether `r` is assigned by its bundle rather than on its own: a
    /// replica's IP or connection, or the bundle's child clone. Pacemaker's
    /// `data_set->resources` holds only the bundle.
    pub(super) fn assigned_with_bundle(&self, r: RscIdx) -> bool {
        self.c.bundles.iter().any(|b| {
            b.child_clone == Some(r) || b.replicas.iter().any(|rep| rep.ip == Some(r) || rep.remote == Some(r))
        })
    }

    /// Assigns bundle `bi`. A replica's child is assigned on its own before
    /// the child clone, to the replica's guest node (the only node in its
    /// table, at INFINITY): it is placed there even when the replica's
    /// container cannot run, because a guest node counts as coming up
    /// (`pcmk__finalize_assignment`, lib/pacemaker/pcmk_sched_resource.c:
    /// 343-347), so its start is scheduled and then found unrunnable.
    pub(super) fn assign_bundle(&mut self, bi: usize) {
        let shell = self.c.bundles[bi].rsc;
        if !self.c.rscs[shell].plan.provisional || self.allocating[shell.0] {
            return;
        }
        self.assign_clone(shell);
        let bundle = self.c.bundles[bi].clone();
        for rep in &bundle.replicas {
            if let Some(ip) = rep.ip {
                self.assign(ip);
            }
            if let Some(conn) = rep.remote {
                self.assign(conn);
            }
            if let Some(child) = rep.child {
                // The child clone is being assigned meanwhile, so the
                // instance does not assign its parent first.
                let Some(cl) = bundle.child_clone else { continue };
                let was = std::mem::replace(&mut self.allocating[cl.0], true);
                self.assign(child);
                self.allocating[cl.0] = was;
            }
        }
        if let Some(cl) = bundle.child_clone {
            self.assign(cl);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{cib_running, dummy, run};

    /// Where each resource of `ids` is assigned.
    fn placed(s: &crate::Schedule, ids: &[&str]) -> Vec<Option<String>> {
        ids.iter()
            .map(|id| {
                let r = s.cluster.rsc_by_id(id).expect("resource");
                s.cluster.rscs[r]
                    .plan
                    .assigned
                    .map(|n| s.cluster.nodes[n].uname.clone())
            })
            .collect()
    }

    #[test]
    fn a_replica_child_goes_to_its_guest_node_even_when_its_container_cannot_run() {
        // utilization-complex: B must run with D, one replica per host, so
        // only B-docker-0 can run; Pacemaker still assigns Bc:1 to B-1 (and
        // then finds its start unrunnable). With placement by utilization
        // the resources are sorted by their scores on the online nodes, B-0
        // first, where the child clone may run and B-1's connection not: as
        // top-level resources, the clone was assigned before the connection
        // that brings B-1 up, and B-1 was not available to Bc:1.
        let rscs = format!(
            "{}<bundle id=\"B\"><meta_attributes id=\"B-m\"><nvpair id=\"B-p\" name=\"priority\" value=\"9\"/>\
             </meta_attributes><docker image=\"img\" replicas=\"2\"/><network control-port=\"3121\"/>{}</bundle>",
            dummy("D"),
            dummy("Bc")
        );
        let cons = "<rsc_colocation id=\"c\" rsc=\"B\" with-rsc=\"D\" score=\"INFINITY\"/>";
        let running = [(1, "D"), (1, "B-docker-0"), (1, "B-0")];
        let mut cib = cib_running(2, &rscs, cons, &[], &running);
        std::sync::Arc::make_mut(&mut cib.configuration).crm_config[0]
            .pairs
            .push(("placement-strategy".into(), "utilization".into()));
        let s = run(&cib);
        assert_eq!(
            placed(&s, &["B-docker-0", "B-docker-1", "Bc:0", "Bc:1"]),
            [Some("n1".into()), None, Some("B-0".into()), Some("B-1".into())]
        );
    }
}

//! Votequorum's `wait_for_all` (in runs that configure it on every node): "the cluster
//! will be quorate for the first time only after all nodes have been visible at least
//! once at the same time" (votequorum(5)). So before the first quorate decision of the
//! run, by any node, some node installed a regular configuration holding every node of
//! the nodelist. (Not necessarily the ring of the decision: the votes are counted as the
//! nodes announce themselves during synchronisation, so a node that stops before that
//! ring's synchronisation completed was still seen, and the decision is published on the
//! next ring.) A node that leaves cleanly announces it, and votequorum lowers the
//! expected votes to the nodes still there (corosync's LEAVING flag); runs in which a
//! node left before the first quorum are not judged.
//!
//! Later decisions are not constrained here: a node stops waiting when it sees every
//! expected vote, and also when a quorate peer that no longer waits announces itself —
//! possibly in a message of an old ring delivered during a transition, from a peer that
//! is not in the new ring — so a restarted node may legitimately become quorate in a
//! majority that lacks some node.
//!
//! Checked online on every new decision (`QuorumView::generation`) a node publishes.

use totem::{ConfigurationKind, NodeId};

use crate::engine::Engine;
use crate::history::Entry;

/// The violation, if the run's first quorum (by `node`, on a ring of `members`) came
/// before any ring of the whole nodelist: `rings` are the member lists of every regular
/// configuration installed so far.
pub fn check<'a>(
    node: NodeId,
    members: &[NodeId],
    nodelist: &[NodeId],
    mut rings: impl Iterator<Item = &'a [NodeId]>,
) -> Result<(), String> {
    if rings.any(|r| nodelist.iter().all(|n| r.contains(n))) {
        return Ok(());
    }
    Err(format!(
        "n{node} made the run's first quorum with wait_for_all on a ring of {members:?}, \
         but no ring ever held all of {nodelist:?}"
    ))
}

impl Engine {
    /// Checks node `i`'s latest quorum decision, if it is new and the run's first quorum.
    pub(crate) fn wait_for_all_observe(&mut self, i: usize) {
        if !self.cpg.profile.wait_for_all {
            return;
        }
        let Some(t) = self.hosts[i].totem.as_ref() else { return };
        let q = t.quorum();
        let (generation, _, _) = self.wfa_seen[i];
        if q.generation == generation {
            return;
        }
        let (quorate, members) = (q.quorate, q.members.clone());
        let first_of_run = quorate && !self.wfa_seen.iter().any(|s| s.2);
        self.wfa_seen[i] = (q.generation, quorate, self.wfa_seen[i].2 || quorate);
        if first_of_run && self.counters.leaves == 0 {
            let rings = self.history.incs.iter().flat_map(|inc| {
                inc.log.iter().filter_map(|e| match e {
                    Entry::Config { change, .. } if change.kind == ConfigurationKind::Regular => {
                        Some(&change.members[..])
                    }
                    _ => None,
                })
            });
            if let Err(detail) = check(self.ids[i], &members, &self.ids, rings) {
                self.fail("quorum_wait_for_all", detail);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn catches_a_first_quorum_without_everyone() {
        let all: &[u32] = &[3, 1, 2];
        let some: &[u32] = &[1, 2];
        assert!(super::check(1, &[1, 2], &[1, 2, 3], [some, all].into_iter()).is_ok());
        let err = super::check(1, &[1, 2], &[1, 2, 3], [some, some].into_iter()).unwrap_err();
        assert!(err.contains("no ring ever held all"), "{err}");
    }
}

//! Votequorum's `wait_for_all` (in runs that configure it on every node): "the cluster
//! will be quorate for the first time only after all nodes have been visible at least
//! once at the same time" (votequorum(5)).
//!
//! A node waits from its start, and again whenever it lost quorum; it stops waiting when
//! it sees every expected vote, or when a peer that is quorate (and no longer waiting)
//! announces itself (corosync clears the wait then: the peer's quorum goes back to a
//! ring where all nodes were seen). So, checked on every decision that turns a node
//! quorate: the decision's ring holds every node of the nodelist, or another node of
//! that ring has already been quorate in its current life. By induction every quorum
//! of the run descends from a moment when all nodes were together; the first quorum of
//! the run needs all nodes.
//!
//! Checked online on every new decision (`QuorumView::generation`) a node publishes.

use totem::NodeId;

use crate::engine::Engine;

/// The violation, if `node` turning quorate on a ring of `members` is not allowed:
/// `vouched` holds the nodes that have been quorate before in their current life.
pub fn check(node: NodeId, members: &[NodeId], nodelist: &[NodeId], vouched: &[NodeId]) -> Result<(), String> {
    let missing: Vec<NodeId> = nodelist.iter().copied().filter(|n| !members.contains(n)).collect();
    if missing.is_empty() || members.iter().any(|m| *m != node && vouched.contains(m)) {
        return Ok(());
    }
    Err(format!(
        "n{node} became quorate with wait_for_all on a ring of {members:?}, without {missing:?}, \
         and no other member had been quorate before"
    ))
}

impl Engine {
    /// Checks node `i`'s latest quorum decision, if it is new.
    pub(crate) fn wait_for_all_observe(&mut self, i: usize) {
        if !self.cpg.profile.wait_for_all {
            return;
        }
        let Some(t) = self.hosts[i].totem.as_ref() else { return };
        let q = t.quorum();
        let (generation, was_quorate, _) = self.wfa_seen[i];
        if q.generation == generation {
            return;
        }
        let (quorate, members) = (q.quorate, q.members.clone());
        self.wfa_seen[i] = (q.generation, quorate, self.wfa_seen[i].2 || quorate);
        if quorate && !was_quorate {
            let vouched: Vec<NodeId> = (0..self.hosts.len())
                .filter(|j| *j != i && self.hosts[*j].is_alive() && self.wfa_seen[*j].2)
                .map(|j| self.ids[j])
                .collect();
            if let Err(detail) = check(self.ids[i], &members, &self.ids, &vouched) {
                self.fail("quorum_wait_for_all", detail);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn catches_a_quorum_without_everyone_and_without_a_quorate_peer() {
        assert!(super::check(1, &[1, 2, 3], &[1, 2, 3], &[]).is_ok());
        assert!(super::check(1, &[1, 2], &[1, 2, 3], &[2]).is_ok());
        let err = super::check(1, &[1, 2], &[1, 2, 3], &[1, 3]).unwrap_err();
        assert!(err.contains("without [3]"), "{err}");
    }
}

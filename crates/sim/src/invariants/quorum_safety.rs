//! Votequorum safety: two rings with disjoint memberships are never both quorate while
//! each has a member that still considers it current.
//!
//! "Considers it current" means: the node is running (not paused, crashed or gone), its
//! totem is OPERATIONAL in that ring, its last regular configuration is that ring,
//! synchronisation on it completed, and votequorum's last decision was made on that
//! ring and says quorate. Real votequorum guarantees this without any timing
//! assumption: with every node holding one vote and expected votes from the nodelist,
//! a ring is quorate only with a majority of the nodelist's votes, and two disjoint
//! rings cannot both hold a majority. A node cut off in an old, larger ring (the token
//! timeout has not fired yet) is still current in a ring that *contains* the new
//! majority, never in a disjoint one, so stale nodes cannot trip it; a paused node is
//! not counted until it runs again (then it re-checks as soon as it processes input).
//! It catches what matters: a minority that believes itself quorate while a majority
//! elsewhere is too (stale votes counted, expected votes lowered, a decision taken
//! before synchronisation completed).
//!
//! Checked online: whenever a node's observation changes, against every other node's.

use totem::{MembState, NodeId, RingId};

use crate::engine::{Engine, Mutation};

/// The violation, if `mine` (node `me`'s quorate ring) is disjoint from another current
/// quorate ring in `all`.
pub fn check(all: &[Option<(RingId, Vec<NodeId>)>], ids: &[NodeId], me: usize) -> Result<(), String> {
    let Some((ring, members)) = &all[me] else {
        return Ok(());
    };
    for (j, other) in all.iter().enumerate() {
        let Some((r2, m2)) = other else { continue };
        if j != me && r2 != ring && !members.iter().any(|m| m2.contains(m)) {
            return Err(format!(
                "n{} is quorate in ring {ring} {members:?} while n{} is quorate in ring {r2} {m2:?}, disjoint",
                ids[me], ids[j]
            ));
        }
    }
    Ok(())
}

impl Engine {
    /// Re-reads node `i`'s quorum observation and checks it if it changed.
    pub(crate) fn quorum_observe(&mut self, i: usize) {
        let h = &self.hosts[i];
        let obs = match (&h.totem, &h.last_regular) {
            (Some(t), Some((reg, members)))
                if h.is_up()
                    && t.srp().state() == MembState::Operational
                    && t.srp().ring_id() == *reg
                    && t.ring_id() == *reg
                    && !t.sync_in_process() =>
            {
                let q = t.quorum();
                let quorate =
                    (q.quorate && q.ring_id == *reg) || (i == 0 && self.mutation() == Some(Mutation::FalseQuorate));
                quorate.then(|| (*reg, members.clone()))
            }
            _ => None,
        };
        if obs == self.quorate_in[i] {
            return;
        }
        self.trace.line(self.now, Some(self.ids[i]), || match &obs {
            Some((ring, _)) => format!("quorate in ring {ring}"),
            None => "not (or no longer) quorate in a current, synchronised ring".into(),
        });
        self.quorate_in[i] = obs;
        // Others may have been paused since: only running nodes count.
        let all: Vec<_> = (0..self.hosts.len())
            .map(|j| {
                if self.hosts[j].is_up() {
                    self.quorate_in[j].clone()
                } else {
                    None
                }
            })
            .collect();
        if let Err(detail) = check(&all, &self.ids, i) {
            self.fail("quorum_safety", detail);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catches_two_disjoint_quorate_rings() {
        let r = |seq| RingId { rep: 1, seq };
        let ids = [1, 2, 3, 4, 5];
        let mut all = vec![None; 5];
        all[0] = Some((r(8), vec![1, 2, 3, 4, 5]));
        all[3] = Some((r(12), vec![3, 4, 5]));
        assert!(
            check(&all, &ids, 3).is_ok(),
            "overlapping: a stale ring contains the new one"
        );
        all[0] = Some((r(9), vec![1, 2]));
        let err = check(&all, &ids, 0).unwrap_err();
        assert!(err.contains("disjoint"), "{err}");
    }
}

//! Planted service-level bugs in node 1's host (index 0), to prove the CPG, sync and
//! quorum checkers can fail. Each corrupts what node 1's clients (or its quorum
//! observer) see, the way a buggy CPG, sync or votequorum would.

use services::Stamp;

use crate::cpg_history::{CpgEntry, CpgMsg, SessIdx, View};
use crate::engine::{Engine, Mutation};

/// What the mutations hold back.
#[derive(Debug, Default)]
pub struct MutationState {
    /// Deliveries node 1's clients received so far.
    delivered: u64,
    held_delivery: Option<(usize, SessIdx, CpgMsg, Option<Stamp>)>,
    /// A view announcing a remote joiner, held until that joiner's first message.
    held_view: Option<(usize, SessIdx, View)>,
    done: bool,
    /// [`Mutation::DropFinalRingDelivery`] lost its message.
    pub(crate) final_delivery_dropped: bool,
}

impl Engine {
    /// `Some(view)` to record now, `None` if the mutation holds it.
    pub(crate) fn mutate_view(&mut self, c: usize, s: SessIdx, v: View) -> Option<View> {
        if self.mutation() == Some(Mutation::CpgStaleDownlist) {
            return Some(self.stale_downlist(v));
        }
        if self.mutation() != Some(Mutation::CpgDeliverBeforeJoin) {
            return Some(v);
        }
        if let Some((hc, hs, held)) = self.mutant.held_view.take() {
            self.push_view(hc, hs, held);
        }
        let me = self.history.cpg.sessions[s].proc_;
        let has_view = self.history.cpg.sessions[s].last_view().is_some();
        if !self.mutant.done && has_view && !v.joined.is_empty() && !v.joined.contains(&me) && !v.left.contains(&me) {
            self.mutant.done = true;
            self.mutant.held_view = Some((c, s, v));
            return None;
        }
        Some(v)
    }

    /// [`Mutation::CpgStaleDownlist`]: the first change removing a process for its node
    /// keeps the last such process as a member.
    fn stale_downlist(&mut self, mut v: View) -> View {
        if self.mutant.done {
            return v;
        }
        let Some(kept) = v.left_with_node().last().copied() else {
            return v;
        };
        self.mutant.done = true;
        let at = v.left.iter().position(|p| *p == kept).expect("a left process");
        v.left.remove(at);
        if v.reasons.len() > v.joined.len() + at {
            v.reasons.remove(v.joined.len() + at);
        }
        let pos = v.members.iter().position(|p| *p > kept).unwrap_or(v.members.len());
        v.members.insert(pos, kept);
        v
    }

    fn push_view(&mut self, _c: usize, s: SessIdx, v: View) {
        if self.history.cpg.sessions[s].ended.is_none() {
            self.history.cpg.sessions[s].log.push(CpgEntry::View(v));
        }
    }

    /// True if the mutation consumed the delivery.
    pub(crate) fn mutate_delivery(&mut self, c: usize, s: SessIdx, msg: CpgMsg, stamp: Option<Stamp>) -> bool {
        match self.mutation() {
            Some(Mutation::CpgSwapDeliveries) => {
                self.mutant.delivered += 1;
                match self.mutant.delivered {
                    3 => {
                        self.mutant.held_delivery = Some((c, s, msg, stamp));
                        true
                    }
                    4 => {
                        self.record_delivery(c, s, msg, stamp);
                        if let Some((hc, hs, hm, hst)) = self.mutant.held_delivery.take() {
                            if self.history.cpg.sessions[hs].ended.is_none() {
                                self.record_delivery(hc, hs, hm, hst);
                            }
                        }
                        true
                    }
                    _ => false,
                }
            }
            Some(Mutation::CpgDropDelivery) => {
                self.mutant.delivered += 1;
                self.mutant.delivered == 3
            }
            Some(Mutation::CpgDeliverBeforeJoin) => {
                let Some((hc, hs, held)) = self.mutant.held_view.take() else {
                    return false;
                };
                if hs == s && held.joined.contains(&msg.from) {
                    self.record_delivery(c, s, msg, stamp);
                    self.push_view(hc, hs, held);
                    return true;
                }
                self.mutant.held_view = Some((hc, hs, held));
                false
            }
            _ => false,
        }
    }
}

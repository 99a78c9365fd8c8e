//! When we last had proof that each peer was alive, for the failure detector in GATHER.
//!
//! A datagram whose header names the node that sent it *now* proves that node alive at
//! its arrival: ORF and commit tokens (the forwarder), joins, merge detects and token
//! hold cancels. A multicast does not: a retransmission carries its originator's header,
//! and the originator may have crashed since. An ORF token of our ring also proves every
//! member alive at our previous receipt of a token of that ring (each of them forwarded
//! it in between), which is how a quiet member that is not our predecessor stays heard.
//!
//! Bounded: at most [`crate::wire::PROCESSORS_MAX`] peers, the least recently heard
//! forgotten first (a forgotten peer counts as silent for ever, as a peer never heard).

use crate::time::Instant;
use crate::wire::{NodeId, RingId, PROCESSORS_MAX};

/// What we know of one peer.
#[derive(Clone, Copy, Debug)]
struct Peer {
    id: NodeId,
    /// Last proof of life.
    at: Instant,
    /// Highest ring seq named in its joins (a leave naming a lower one is stale).
    join_seq: u64,
    /// Its last proof of life was a join or a commit token: it was forming a ring, and
    /// may since be in COMMIT, silent by protocol until that ring forms or its token
    /// timer gives up on it.
    forming: bool,
}

/// Last proof of life per peer, and the last token receipt per ring.
#[derive(Clone, Debug, Default)]
pub(crate) struct Liveness {
    /// Unordered.
    heard: Vec<Peer>,
    /// Our last receipt of an ORF token: its ring and when.
    last_token: Option<(RingId, Instant)>,
}

impl Liveness {
    /// `node` sent a datagram that arrived `now`.
    pub(crate) fn heard(&mut self, node: NodeId, now: Instant) {
        self.proof(node, now, false);
    }

    /// `node` sent a join or a commit token that arrived `now` (see [`Peer::forming`]).
    pub(crate) fn heard_forming(&mut self, node: NodeId, now: Instant) {
        self.proof(node, now, true);
    }

    fn proof(&mut self, node: NodeId, now: Instant, forming: bool) {
        if let Some(peer) = self.peer(node) {
            if now >= peer.at {
                peer.at = now;
                peer.forming = forming;
            }
        }
    }

    /// `node` sent a join naming ring seq `ring_seq` that arrived `now`.
    pub(crate) fn joined(&mut self, node: NodeId, ring_seq: u64, now: Instant) {
        self.heard_forming(node, now);
        if let Some(peer) = self.peer(node) {
            peer.join_seq = peer.join_seq.max(ring_seq);
        }
    }

    /// Whether `node`'s last proof of life was a join or a commit token.
    pub(crate) fn was_forming(&self, node: NodeId) -> bool {
        self.heard.iter().any(|p| p.id == node && p.forming)
    }

    /// A leave from `node` naming ring seq `ring_seq` was sent before a join we already
    /// had from it (a delayed or duplicated leave of an earlier life): ignore it.
    pub(crate) fn leave_is_stale(&self, node: NodeId, ring_seq: u64) -> bool {
        self.heard.iter().any(|p| p.id == node && p.join_seq > ring_seq)
    }

    /// The entry of `node`, made if needed (evicting the least recently heard when full).
    fn peer(&mut self, node: NodeId) -> Option<&mut Peer> {
        if node == 0 {
            return None;
        }
        let i = match self.heard.iter().position(|p| p.id == node) {
            Some(i) => i,
            None => {
                if self.heard.len() >= PROCESSORS_MAX {
                    let oldest = (0..self.heard.len())
                        .min_by_key(|&i| self.heard[i].at)
                        .expect("the list is full, so not empty");
                    self.heard.swap_remove(oldest);
                }
                self.heard.push(Peer {
                    id: node,
                    at: Instant::ZERO,
                    join_seq: 0,
                    forming: false,
                });
                self.heard.len() - 1
            }
        };
        debug_assert!(self.heard.len() <= PROCESSORS_MAX);
        Some(&mut self.heard[i])
    }

    /// An ORF token of `ring` (members `members`) arrived `now` from `sender`.
    pub(crate) fn token(&mut self, ring: RingId, members: &[NodeId], sender: NodeId, now: Instant) {
        if let Some((last_ring, at)) = self.last_token {
            if last_ring == ring {
                for &m in members {
                    self.heard(m, at);
                }
            }
        }
        self.heard(sender, now);
        self.last_token = Some((ring, now));
    }

    /// We could not listen until `now` (our process was stopped: the host called us
    /// late for a timer): a peer's silence before proves nothing, so it counts from now.
    pub(crate) fn woke_up(&mut self, now: Instant) {
        for peer in &mut self.heard {
            peer.at = peer.at.max(now);
        }
    }

    /// The highest ring seq `node` named in a join to us (`None`: no join, or forgotten).
    pub(crate) fn join_seq(&self, node: NodeId) -> Option<u64> {
        self.heard
            .iter()
            .find(|p| p.id == node && p.join_seq > 0)
            .map(|p| p.join_seq)
    }

    /// When `node` was last proved alive (`None`: never, or forgotten).
    pub(crate) fn last_heard(&self, node: NodeId) -> Option<Instant> {
        self.heard.iter().find(|p| p.id == node).map(|p| p.at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    #[test]
    fn a_datagram_proves_its_sender_and_never_moves_back() {
        let mut l = Liveness::default();
        assert_eq!(l.last_heard(3), None);
        l.heard(3, at(10));
        l.heard(3, at(5));
        assert_eq!(l.last_heard(3), Some(at(10)));
        l.heard(0, at(20));
        assert_eq!(l.last_heard(0), None);
    }

    #[test]
    fn a_token_proves_every_member_at_the_previous_receipt() {
        let ring = RingId { rep: 1, seq: 8 };
        let mut l = Liveness::default();
        l.token(ring, &[1, 2, 3], 1, at(100));
        assert_eq!(l.last_heard(3), None, "one receipt proves only the forwarder");
        l.token(ring, &[1, 2, 3], 1, at(130));
        assert_eq!(l.last_heard(3), Some(at(100)));
        assert_eq!(l.last_heard(1), Some(at(130)));
        // A token of another ring says nothing about this ring's rotation.
        let next = RingId { rep: 1, seq: 12 };
        l.token(next, &[1, 2, 3, 4], 1, at(200));
        assert_eq!(l.last_heard(4), None);
    }

    #[test]
    fn our_own_stall_does_not_count_as_their_silence() {
        let mut l = Liveness::default();
        l.heard(3, at(100));
        l.heard(4, at(900));
        l.woke_up(at(1000));
        assert_eq!(l.last_heard(3), Some(at(1000)));
        assert_eq!(l.last_heard(4), Some(at(1000)));
        assert_eq!(l.last_heard(5), None, "nobody new is made up");
    }

    #[test]
    fn the_newest_proof_says_whether_a_peer_was_forming_a_ring() {
        let mut l = Liveness::default();
        l.heard(3, at(10));
        assert!(!l.was_forming(3));
        l.joined(3, 20, at(20));
        assert!(l.was_forming(3), "a join");
        l.heard(3, at(15));
        assert!(l.was_forming(3), "an older proof changes nothing");
        l.heard(3, at(30));
        assert!(!l.was_forming(3), "a token since");
        l.heard_forming(3, at(40));
        assert!(l.was_forming(3), "a commit token");
        assert!(!l.was_forming(4), "never heard");
    }

    #[test]
    fn a_leave_older_than_a_join_is_stale() {
        let mut l = Liveness::default();
        assert!(!l.leave_is_stale(4, 20));
        l.joined(4, 20, at(1));
        assert!(!l.leave_is_stale(4, 20), "a leave from the same ring is news");
        l.joined(4, 25, at(2));
        assert!(l.leave_is_stale(4, 20), "it has joined again since");
        assert!(!l.leave_is_stale(4, 25));
    }

    #[test]
    fn bounded_forgetting_the_least_recently_heard() {
        let mut l = Liveness::default();
        for n in 1..=PROCESSORS_MAX as NodeId {
            l.heard(n, at(u64::from(n)));
        }
        l.heard(9999, at(10_000));
        assert_eq!(l.last_heard(1), None);
        assert_eq!(l.last_heard(2), Some(at(2)));
        assert_eq!(l.last_heard(9999), Some(at(10_000)));
    }
}

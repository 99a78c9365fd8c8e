//! RECOVERY and the EVS switch to OPERATIONAL: old-ring messages are re-sent
//! encapsulated on the new ring so that every member coming from the same old ring
//! ends up with the same set, then delivered in the order EVS prescribes.

use super::seq;
use super::timers::Timer;
use super::{sets, ConfigurationChange, ConfigurationKind, Event, MembState, Srp};
use crate::wire::{self, CommitToken, NodeId};

impl Srp {
    /// The commit token has gone round once: every member has filled in its entry.
    pub(super) fn recovery_enter(&mut self, token: CommitToken) {
        self.ring_committed = true;
        self.recovery_queue.reinit(0);
        self.retrans_message_queue.clear();
        self.resent_in_recovery.clear();

        // Transitional members: in the new ring, in our old ring, and coming from it.
        self.my_trans_memb_list = token
            .addr
            .iter()
            .zip(&token.memb_list)
            .filter(|(id, entry)| entry.ring_id == self.my_old_ring_id && sets::contains(&self.my_memb_list, **id))
            .map(|(id, _)| *id)
            .collect();

        let anyone_missing = token
            .addr
            .iter()
            .zip(&token.memb_list)
            .any(|(id, entry)| sets::contains(&self.my_trans_memb_list, *id) && entry.received_flg == 0);
        let planted_drop = self.config.planted_bug == Some(crate::config::PlantedBug::DropRecoveryResends);
        if anyone_missing && !planted_drop {
            // (nodeid, aru) of the members coming with us from our old ring.
            let peers: Vec<(NodeId, u32)> = token
                .addr
                .iter()
                .zip(&token.memb_list)
                .filter(|(id, e)| sets::contains(&self.my_trans_memb_list, **id) && e.ring_id == self.my_old_ring_id)
                .map(|(id, e)| (*id, e.aru))
                .collect();
            let high = self.old_ring_state_high_seq_received;
            let low_ring_aru = peers
                .iter()
                .map(|p| p.1)
                .fold(high, |a, b| if seq::lt(b, a) { b } else { a });
            let max_aru = peers
                .iter()
                .map(|p| p.1)
                .fold(low_ring_aru, |a, b| if seq::lt(a, b) { b } else { a });
            // Re-send what we hold beyond the lowest aru. A message at or below some
            // member's aru is held by that member for sure, so only the lowest such member
            // re-sends it (corosync has every member re-send everything: with many members
            // the copies overflow the recovery window and recovery never completes).
            let range = high.wrapping_sub(low_ring_aru);
            for k in 1..=range.min(super::sort_queue::SORT_QUEUE_SIZE) {
                let old_seq = low_ring_aru.wrapping_add(k);
                if seq::lte(old_seq, max_aru) {
                    let resender = peers.iter().filter(|p| seq::lte(old_seq, p.1)).map(|p| p.0).min();
                    if resender != Some(self.my_id) {
                        continue;
                    }
                }
                if let Some(stored) = self.regular_queue.get(old_seq) {
                    let outer = self.encapsulate(&stored.mcast);
                    self.retrans_message_queue.push_back((old_seq, outer));
                }
            }
        }

        self.my_aru = 0;
        self.my_aru_count = 0;
        self.my_high_seq_received = 0;
        self.my_install_seq = 0;
        self.my_token_seq = u32::MAX;
        self.my_retrans_flg_count = 0;
        self.my_rotation_counter = 0;
        self.my_set_retrans_flg = false;
        self.my_last_seq = 0;
        self.my_seq_unchanged = 0;
        self.stats.recovery_entered += 1;
        self.stats.continuous_gather = 0;
        self.enter_state(MembState::Recovery, "commit token rotated");
        self.set_timer(Timer::TokenLoss, self.config.token);

        // Second rotation of the commit token: it tells the others to enter RECOVERY and
        // brings it back to the representative, which then starts the ORF token.
        let next = self.next_in_ring();
        self.commit_token_send(token, next);
    }

    /// Recovery is complete: deliver per EVS and install the new regular configuration.
    pub(super) fn operational_enter(&mut self) {
        self.consensus.clear();
        self.old_ring_state_saved = false;
        self.move_recovered_to_regular();

        let swap = self.config.planted_bug == Some(crate::config::PlantedBug::SwapTransitional);
        // 1. Old-ring messages up to the first gap, still in the old configuration.
        let end = self.old_ring_state_high_seq_received;
        if !swap {
            self.deliver_to_app(false, end);
        }

        // 2. The transitional configuration.
        let left = sets::subtract(&self.my_memb_list, &self.my_trans_memb_list);
        let joined = sets::subtract(&self.my_new_memb_list, &self.my_trans_memb_list);
        self.my_memb_list = self.my_new_memb_list.clone();
        self.emit(Event::Configuration(ConfigurationChange {
            kind: ConfigurationKind::Transitional,
            ring_id: self.my_ring_id,
            members: sets::sorted(&self.my_trans_memb_list),
            left: sets::sorted(&left),
            joined: Vec::new(),
        }));

        // 3. The rest of the old ring's messages, from transitional members only.
        if !swap {
            self.deliver_to_app(true, end);
        }

        // 4. The regular configuration.
        self.emit(Event::Configuration(ConfigurationChange {
            kind: ConfigurationKind::Regular,
            ring_id: self.my_ring_id,
            members: sets::sorted(&self.my_new_memb_list),
            left: Vec::new(),
            joined: sets::sorted(&joined),
        }));
        if swap {
            self.deliver_to_app(false, end);
            self.deliver_to_app(true, end);
        }

        // The recovery queue becomes the new ring's regular queue; its messages were
        // delivered above (unwrapped), so delivery on the new ring starts after them.
        std::mem::swap(&mut self.regular_queue, &mut self.recovery_queue);
        self.recovery_queue.reinit(0);
        self.my_last_aru = 0;
        self.last_released = 0;
        self.my_set_retrans_flg = false;
        self.my_proc_list = self.my_new_memb_list.clone();
        self.my_failed_list.clear();
        // A node that left and is a member of this ring has joined again, even if none of
        // its joins reached us (seed 93012668: n1 left, restarted and formed a ring with
        // n3 without n3 reading a join of it; still "departed", it was failed at n3's next
        // round and left out).
        let members = &self.my_new_memb_list;
        self.departed.retain(|n| !members.contains(n));
        self.vouched.clear();
        self.timeout_graced = false;
        self.joins_while_committed.clear();
        self.my_high_delivered = self.my_high_seq_received;
        self.regular_installed = true;
        self.operational_visits = 0;
        self.stats.operational_entered += 1;
        self.enter_state(MembState::Operational, "recovery complete");
    }

    /// Unwraps the recovered old-ring messages into the old ring's queue (skipping ones
    /// we already hold, and ones from another old ring).
    fn move_recovered_to_regular(&mut self) {
        let mut recovered = Vec::new();
        for (_, stored) in self.recovery_queue.iter() {
            if !stored.mcast.encapsulated || seq::lt(self.my_aru, stored.mcast.seq) {
                continue;
            }
            match wire::unencapsulate(&stored.mcast) {
                Ok((inner, foreign_endian)) if inner.ring_id == self.my_old_ring_id => {
                    recovered.push(super::sort_queue::Stored {
                        mcast: inner,
                        foreign_endian,
                    });
                }
                Ok(_) => {}
                Err(_) => self.stats.malformed_rx += 1,
            }
        }
        for stored in recovered {
            let old_seq = stored.mcast.seq;
            if self.regular_queue.insert(old_seq, stored) && seq::lt(self.old_ring_state_high_seq_received, old_seq) {
                self.old_ring_state_high_seq_received = old_seq;
            }
        }
    }
}

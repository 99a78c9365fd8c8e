//! Receiving multicasts: storing them in the right sort queue, advancing `my_aru`,
//! agreed delivery in sequence order, and token-hold cancellation.

use super::seq;
use super::sort_queue::Stored;
use super::timers::Timer;
use super::{Event, MembState, Srp};
use crate::wire::{Mcast, TokenHoldCancel};

impl Srp {
    pub(super) fn handle_mcast(&mut self, mcast: Mcast, foreign_endian: bool) {
        self.stats.mcast_rx += 1;
        if mcast.ring_id != self.my_ring_id {
            if mcast.system_from == 0 || mcast.system_from == self.my_id {
                return;
            }
            if self.is_stale(mcast.system_from, mcast.ring_id.seq) {
                self.stats.rx_msg_dropped += 1;
                return;
            }
            self.foreign_sender(mcast.system_from, "foreign message");
            return;
        }
        if mcast.system_from != self.my_id && self.proves_token_passed(mcast.seq) {
            // Only the token holder multicasts: the token has moved on from us.
            self.timers.cancel(Timer::TokenRetransmit);
        }
        let seq_no = mcast.seq;
        if mcast.encapsulated && self.state == MembState::Recovery {
            if let Ok((inner, _)) = crate::wire::unencapsulate(&mcast) {
                if inner.ring_id == self.my_old_ring_id {
                    self.resent_in_recovery.insert(inner.seq);
                }
            }
        }
        let stored = Stored { mcast, foreign_endian };
        let added = if stored.mcast.encapsulated {
            self.state == MembState::Recovery && self.recovery_queue.insert(seq_no, stored)
        } else {
            // Regular messages belong to the ring whose queue we still hold: not after
            // COMMIT saved that ring's state (RECOVERY fetches anything missing later).
            !self.old_ring_state_saved
                && matches!(self.state, MembState::Operational | MembState::Gather)
                && self.regular_queue.insert(seq_no, stored)
        };
        if !added {
            return;
        }
        if seq::lt(self.my_high_seq_received, seq_no) {
            self.my_high_seq_received = seq_no;
        }
        self.update_aru();
        if self.state == MembState::Operational {
            self.deliver_agreed();
        }
    }

    /// Whether a message numbered `seq` can only have been sent after the token we sent
    /// last arrived: it carries a number above any that token had handed out. corosync
    /// cancels the token retransmission on any foreign message, but a message the previous
    /// holder sent just before the token can arrive after it (jitter, a second link); if
    /// the token we forwarded was lost, that cancel leaves it lost until the token timeout
    /// and the ring re-forms for nothing.
    fn proves_token_passed(&self, seq: u32) -> bool {
        match &self.saved_token {
            Some(super::SavedToken::Orf(t)) => seq::lt(t.seq, seq),
            _ => true,
        }
    }

    /// Advances `my_aru` over every message received without a gap.
    pub(super) fn update_aru(&mut self) {
        let queue = if self.state == MembState::Recovery {
            &self.recovery_queue
        } else {
            &self.regular_queue
        };
        let mut aru = self.my_aru;
        while seq::lt(aru, self.my_high_seq_received) && queue.get(aru.wrapping_add(1)).is_some() {
            aru = aru.wrapping_add(1);
        }
        self.my_aru = aru;
    }

    /// Delivers regular-queue messages after `my_high_delivered` up to `end`. Without
    /// `skip` it stops at the first gap; with `skip` (after the transitional
    /// configuration) it steps over gaps and delivers only messages from members of the
    /// transitional configuration, as EVS requires.
    pub(super) fn deliver_to_app(&mut self, skip: bool, end: u32) {
        self.deliver_up_to(skip, end, usize::MAX);
    }

    /// Agreed delivery in OPERATIONAL: in order up to the first gap, while fewer than
    /// `delivery_backlog_max` events wait for the host (the rest wait in the sort queue
    /// and [`Srp::poll_event`] resumes them).
    pub(super) fn deliver_agreed(&mut self) {
        let end = self.my_high_seq_received;
        self.deliver_up_to(false, end, self.config.delivery_backlog_max);
    }

    fn deliver_up_to(&mut self, skip: bool, end: u32, backlog_max: usize) {
        let mut next = self.my_high_delivered.wrapping_add(1);
        while seq::lte(next, end) && self.events.len() < backlog_max {
            let Some(stored) = self.regular_queue.get(next) else {
                if !skip && !self.planted_skip_gap() {
                    break;
                }
                self.my_high_delivered = next;
                next = next.wrapping_add(1);
                continue;
            };
            self.my_high_delivered = next;
            next = next.wrapping_add(1);
            if skip && !self.my_trans_memb_list.contains(&stored.mcast.system_from) {
                continue;
            }
            let event = Event::DeliverFrame {
                sender: stored.mcast.system_from,
                frame: stored.mcast.payload.clone(),
                foreign_endian: stored.foreign_endian,
            };
            self.emit(event);
        }
    }

    /// The planted [`crate::config::PlantedBug::SkipGap`]: agreed delivery steps over
    /// the first gap a node sees past the 100th message of a ring (once per node, and
    /// not while the services synchronise: a lost synchronisation message stalls them,
    /// and a skipped part of a message breaks it, which other checkers see first).
    fn planted_skip_gap(&mut self) -> bool {
        if self.config.planted_bug != Some(crate::config::PlantedBug::SkipGap)
            || self.planted_gap_skipped
            || seq::lt(self.my_high_delivered, 100)
        {
            return false;
        }
        self.planted_gap_skipped = true;
        true
    }

    pub(super) fn handle_token_hold_cancel(&mut self, m: TokenHoldCancel) {
        self.stats.token_hold_cancel_rx += 1;
        if m.ring_id != self.my_ring_id {
            return;
        }
        self.my_seq_unchanged = 0;
        if self.my_ring_id.rep == self.my_id && self.my_token_held {
            // Release the held token now instead of at the hold timer.
            self.my_token_held = false;
            self.timers.cancel(Timer::Hold);
            self.token_retransmit_timeout();
        } else {
            self.ring_busy_again();
        }
    }
}

//! The ORF token: ordering (sequence assignment), retransmission requests, flow
//! control, aru bookkeeping, token hold, and the RECOVERY → OPERATIONAL rotations
//! (totemsrp.c `message_handler_orf_token` and helpers).

use bytes::Bytes;

use super::seq;
use super::sort_queue::{Stored, SORT_QUEUE_SIZE};
use super::timers::Timer;
use super::{sets, MembState, SavedToken, Srp};
use crate::wire::{self, Mcast, Message, NodeId, OrfToken, RtrItem, RTR_ENTRIES_MAX};

impl Srp {
    pub(super) fn handle_orf_token(&mut self, mut token: OrfToken) {
        self.stats.orf_token_rx += 1;
        if !matches!(self.state, MembState::Operational | MembState::Recovery) {
            return;
        }
        if token.ring_id != self.my_ring_id {
            return;
        }
        // A retransmitted copy of a token we already processed.
        if seq::lte(token.token_seq, self.my_token_seq) {
            return;
        }
        if token.rtr_list.len() > RTR_ENTRIES_MAX {
            self.stats.rx_msg_dropped += 1;
            return;
        }
        // A new token of our ring: every member forwarded it since our last one.
        self.liveness
            .token(self.my_ring_id, &self.my_new_memb_list, token.sender, self.now);

        // The token came: a hold cancel we sent did its job (or was not needed).
        self.timers.cancel(Timer::HoldCancel);
        if let Some(sent) = self.token_sent_at.take() {
            // Karn: a rotation that needed a resend says nothing about the usual one.
            if self.token_resends == 0 {
                self.rotation.sample(self.now - sent, self.my_new_memb_list.len());
            }
            self.rotation.returned(self.token_resends > 0);
        }

        // Idle detection: merge-detect and token hold.
        if token.seq == self.my_last_seq {
            if !self.timers.is_set(Timer::MergeDetect) {
                self.set_timer(Timer::MergeDetect, self.config.merge);
            }
            self.my_seq_unchanged = self.my_seq_unchanged.saturating_add(1);
        } else {
            self.timers.cancel(Timer::MergeDetect);
            self.timers.cancel(Timer::Hold);
            self.my_seq_unchanged = 0;
        }
        self.my_last_seq = token.seq;
        let is_rep = self.my_ring_id.rep == self.my_id;
        let unchanged_const = self.config.seqno_unchanged_const;
        self.my_token_held = if is_rep {
            self.my_seq_unchanged > unchanged_const
        } else {
            self.my_seq_unchanged >= unchanged_const
        };
        let mut forward = !(is_rep && self.my_token_held);

        if self.state == MembState::Operational {
            self.messages_free(token.aru);
        }

        let last_aru = self.my_last_aru;
        self.my_last_aru = token.aru;

        let mut allowed = self.fcc_calculate(&token);
        let retransmitted = self.orf_token_rtr(&mut token, &mut allowed);
        if self.my_token_held
            && self.config.cancel_token_hold_on_retransmit
            && (!token.rtr_list.is_empty() || retransmitted > 0)
        {
            self.my_token_held = false;
            forward = true;
        }
        self.fcc_rtr_limit(&token, &mut allowed);
        let originated = self.orf_token_mcast(&mut token, allowed);
        if self.my_token_held && originated > 0 {
            // corosync decides to hold before sending and so keeps the token right after
            // sending a message: a member that lost it could not ask for it again until the
            // next message or the hold timer. The ring is not idle; pass the token on.
            self.my_token_held = false;
            forward = true;
        }
        self.fcc_token_update(&mut token, retransmitted + originated);

        if seq::lt(self.my_aru, token.aru) || self.my_id == token.aru_addr || token.aru_addr == 0 {
            token.aru = self.my_aru;
            token.aru_addr = if token.aru == token.seq { 0 } else { self.my_id };
        }
        if token.aru == last_aru && token.aru_addr != 0 {
            self.my_aru_count = self.my_aru_count.saturating_add(1);
        } else {
            self.my_aru_count = 0;
        }

        if self.my_aru_count > self.config.fail_recv_const && token.aru_addr == self.my_id {
            // corosync's "FAILED TO RECEIVE": we are the one holding the ring back.
            self.failed_to_recv = true;
            sets::merge(&mut self.my_failed_list, &[self.my_id]);
            self.gather_enter(super::events::FAILED_TO_RECEIVE);
            return;
        }

        self.my_token_seq = token.token_seq;
        token.token_seq = token.token_seq.wrapping_add(1);

        if self.state == MembState::Recovery {
            self.recovery_rotation(&mut token);
        }

        // Idle: seq unchanged for `seqno_unchanged_const` visits and nothing sent now.
        self.ring_idle = self.my_seq_unchanged >= unchanged_const && retransmitted + originated == 0;
        // The representative's count of idle visits is at least ours when the token
        // reaches it (every count restarts at a node's first visit after the last change of
        // `seq`, and no node's first visit comes after the representative's next one): past
        // the constant, it will hold this token before it comes back to us (unless it has
        // something to send, and then the token comes back at once).
        self.rep_holds = self.ring_idle && !is_rep && self.my_seq_unchanged > unchanged_const;
        self.token_send(token, forward);
        self.set_timer(Timer::TokenLoss, self.config.token);
        self.arm_token_retransmit();
        if is_rep && self.my_token_held {
            self.set_timer(Timer::Hold, self.config.hold);
        }

        if self.state == MembState::Operational {
            self.deliver_agreed();
            self.operational_visit();
        }
    }

    /// RECOVERY bookkeeping on each visit: the retransmit flag, the install point, and
    /// the switch to OPERATIONAL once everyone holds every recovered message.
    fn recovery_rotation(&mut self, token: &mut OrfToken) {
        if !self.retrans_message_queue.is_empty() {
            if token.retrans_flg == 0 {
                token.retrans_flg = 1;
                self.my_set_retrans_flg = true;
            }
        } else if token.retrans_flg == 1 && self.my_set_retrans_flg {
            token.retrans_flg = 0;
            self.my_set_retrans_flg = false;
        }
        if token.retrans_flg == 0 {
            self.my_retrans_flg_count = self.my_retrans_flg_count.saturating_add(1);
        } else {
            self.my_retrans_flg_count = 0;
        }
        if self.my_retrans_flg_count == 2 {
            self.my_install_seq = token.seq;
        }
        if self.my_retrans_flg_count >= 2 && seq::lte(self.my_install_seq, self.my_aru) {
            self.my_received_flg = true;
        }
        if self.my_retrans_flg_count >= 3 && seq::lte(self.my_install_seq, token.aru) {
            self.my_rotation_counter += 1;
        } else {
            self.my_rotation_counter = 0;
        }
        if self.my_rotation_counter == 2 {
            self.my_rotation_counter = 0;
            self.my_retrans_flg_count = 0;
            self.operational_enter();
        }
    }

    /// Saves the token for retransmission and forwards it unless we hold it.
    fn token_send(&mut self, mut token: OrfToken, forward: bool) {
        token.sender = self.my_id;
        let next = self.next_in_ring();
        self.token_target = next;
        if forward {
            self.stats.orf_token_tx += 1;
            self.send_to(next, &Message::OrfToken(token.clone()));
        }
        self.token_sent_at = forward.then_some(self.now);
        self.token_resends = 0;
        self.saved_token = Some(SavedToken::Orf(token));
    }

    /// The member after us in the ring (sorted nodeids, wrapping).
    pub(super) fn next_in_ring(&self) -> NodeId {
        let members = &self.my_new_memb_list;
        match members.iter().position(|&n| n == self.my_id) {
            Some(i) => members[(i + 1) % members.len()],
            None => self.my_id,
        }
    }

    /// The representative starts the new ring's first token (RECOVERY).
    pub(super) fn orf_token_send_initial(&mut self) {
        let retrans = !self.retrans_message_queue.is_empty();
        self.my_set_retrans_flg = retrans;
        let token = OrfToken {
            sender: self.my_id,
            target_nodeid: 0,
            seq: 0,
            token_seq: 0,
            aru: u32::MAX,
            aru_addr: self.my_id,
            ring_id: self.my_ring_id,
            backlog: 0,
            fcc: 0,
            retrans_flg: i32::from(retrans),
            rtr_list: Vec::new(),
        };
        self.token_send(token, true);
        self.set_timer(Timer::TokenLoss, self.config.token);
        self.arm_token_retransmit();
    }

    /// Frees messages every member has (the token's aru seen one rotation ago) and we
    /// delivered.
    fn messages_free(&mut self, token_aru: u32) {
        let mut release_to = token_aru;
        if seq::lt(self.my_last_aru, release_to) {
            release_to = self.my_last_aru;
        }
        if seq::lt(self.my_high_delivered, release_to) {
            release_to = self.my_high_delivered;
        }
        if seq::lt(release_to, self.last_released) || release_to == self.last_released {
            return;
        }
        self.regular_queue.release_to(release_to);
        self.last_released = release_to;
    }

    /// How many messages this visit may send (window, per-visit cap, backlog share).
    fn fcc_calculate(&mut self, token: &OrfToken) -> u32 {
        let window = self.config.window_size;
        let mut allowed = self.config.max_messages.min(window.saturating_sub(token.fcc));
        self.my_cbl = self.backlog_len();
        let total = token.backlog.wrapping_add(self.my_cbl).wrapping_sub(self.my_pbl);
        if total != 0 {
            let share = (u64::from(window) * u64::from(self.my_pbl) / u64::from(total)) as u32;
            if share > 0 && allowed > share {
                allowed = share;
            }
        }
        allowed
    }

    fn backlog_len(&self) -> u32 {
        let len = if self.state == MembState::Recovery {
            self.retrans_message_queue.len()
        } else {
            self.new_message_queue.len()
        };
        len.min(u32::MAX as usize) as u32
    }

    /// Never let the ring run further ahead of the release point than the sort queue holds
    /// (corosync's limit) and, on a running ring, than half of it: RECOVERY re-sends that
    /// whole stretch on the new ring, parts of it more than once (every member holding a
    /// message beyond the highest aru re-sends it unless another copy reached it first),
    /// and the new ring holds no more than the sort queue before it installs. With the
    /// whole queue on the old ring, recovery after a member fell far behind filled the new
    /// ring's queue and never ended (seed 99006225 with window 512/1536).
    fn fcc_rtr_limit(&self, token: &OrfToken, allowed: &mut u32) {
        let capacity = if self.state == MembState::Recovery {
            SORT_QUEUE_SIZE
        } else {
            SORT_QUEUE_SIZE / 2
        };
        let margin = capacity
            .saturating_sub(*allowed)
            .saturating_sub(self.config.window_size);
        let queue_head = if self.state == MembState::Recovery {
            self.recovery_queue.head()
        } else {
            self.last_released
        };
        if seq::lt(queue_head.wrapping_add(margin), token.seq) {
            *allowed = 0;
        }
    }

    fn fcc_token_update(&mut self, token: &mut OrfToken, sent: u32) {
        token.fcc = token.fcc.wrapping_add(sent).wrapping_sub(self.my_trc);
        token.backlog = token.backlog.wrapping_add(self.my_cbl).wrapping_sub(self.my_pbl);
        self.my_trc = sent;
        self.my_pbl = self.my_cbl;
    }

    /// Answers the token's retransmit requests, then adds our own gaps to it.
    fn orf_token_rtr(&mut self, token: &mut OrfToken, allowed: &mut u32) -> u32 {
        let recovery = self.state == MembState::Recovery;
        let mut sent = 0u32;
        let mut i = 0;
        while sent < *allowed && i < token.rtr_list.len() {
            let item = token.rtr_list[i];
            if item.ring_id == self.my_ring_id && self.remcast(item.seq, recovery) {
                token.rtr_list.remove(i);
                self.stats.mcast_retx += 1;
                sent += 1;
            } else {
                i += 1;
            }
        }
        *allowed -= sent;

        let range = token.seq.wrapping_sub(self.my_aru);
        if range >= SORT_QUEUE_SIZE {
            // We are hopelessly behind (corosync asserts here); the aru check fails us out.
            return sent;
        }
        let queue = if recovery {
            &mut self.recovery_queue
        } else {
            &mut self.regular_queue
        };
        let mut k = 1;
        while token.rtr_list.len() < RTR_ENTRIES_MAX && k <= range {
            let missing = self.my_aru.wrapping_add(k);
            k += 1;
            if !queue.in_range(missing) {
                break;
            }
            if queue.in_use(missing) || queue.miss(missing) < self.config.miss_count_const {
                continue;
            }
            if !token.rtr_list.iter().any(|r| r.seq == missing) {
                token.rtr_list.push(RtrItem {
                    ring_id: self.my_ring_id,
                    seq: missing,
                });
            }
        }
        sent
    }

    /// Re-multicasts message `seq` if we hold it.
    fn remcast(&mut self, seq_no: u32, recovery: bool) -> bool {
        let queue = if recovery {
            &self.recovery_queue
        } else {
            &self.regular_queue
        };
        let Some(stored) = queue.get(seq_no) else { return false };
        let msg = Message::Mcast(stored.mcast.clone());
        self.multicast(&msg);
        true
    }

    /// Sends up to `allowed` new messages (old-ring messages in RECOVERY).
    fn orf_token_mcast(&mut self, token: &mut OrfToken, allowed: u32) -> u32 {
        let recovery = self.state == MembState::Recovery;
        let mut sent = 0;
        while sent < allowed {
            let mcast = if recovery {
                let Some((old_seq, mut m)) = self.retrans_message_queue.pop_front() else {
                    break;
                };
                if self.resent_in_recovery.contains(&old_seq) {
                    // Another member re-sent it already (every member above the highest
                    // aru holds its own copies of those): a second copy would only take
                    // room in the recovery window, which at 64 nodes filled up with
                    // duplicates before recovery ended and nobody could send again
                    // (seed 92000111 at 64 nodes).
                    self.stats.recovery_dup_skipped += 1;
                    continue;
                }
                token.seq = token.seq.wrapping_add(1);
                m.seq = token.seq;
                m
            } else {
                let Some(frame) = self.new_message_queue.pop_front() else {
                    break;
                };
                self.frames_originated += 1;
                token.seq = token.seq.wrapping_add(1);
                self.new_mcast(token.seq, frame)
            };
            let mut mcast = mcast;
            mcast.this_seqno = self.global_seqno;
            self.global_seqno = self.global_seqno.wrapping_add(1);
            mcast.ring_id = self.my_ring_id;
            self.stats.mcast_tx += 1;
            self.multicast(&Message::Mcast(mcast.clone()));
            let stored = Stored {
                mcast,
                foreign_endian: false,
            };
            let queue = if recovery {
                &mut self.recovery_queue
            } else {
                &mut self.regular_queue
            };
            queue.insert(token.seq, stored);
            self.my_high_seq_received = token.seq;
            sent += 1;
        }
        self.update_aru();
        sent
    }

    fn new_mcast(&self, seq_no: u32, payload: Bytes) -> Mcast {
        Mcast {
            sender: self.my_id,
            target_nodeid: 0,
            encapsulated: false,
            system_from: self.my_id,
            seq: seq_no,
            this_seqno: 0,
            ring_id: self.my_ring_id,
            node_id: 0,
            guarantee: 0,
            payload,
        }
    }

    /// Wraps an old-ring message for re-sending on the new ring during RECOVERY.
    pub(super) fn encapsulate(&self, inner: &Mcast) -> Mcast {
        let outer = Mcast {
            sender: self.my_id,
            target_nodeid: 0,
            encapsulated: true,
            system_from: self.my_id,
            seq: 0,
            this_seqno: 0,
            ring_id: self.my_ring_id,
            node_id: 0,
            guarantee: 0,
            payload: Bytes::new(),
        };
        wire::encapsulate(outer, inner)
    }
}

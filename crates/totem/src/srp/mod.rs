//! Totem SRP: token ordering, retransmission, flow control and the membership
//! protocol (GATHER → COMMIT → RECOVERY → OPERATIONAL) with EVS delivery.
//!
//! The logic follows corosync 3.1.7's `exec/totemsrp.c` (facts in
//! `reference/totem-wire.md` §4–§7) so that a ferrosync node can share a ring with
//! corosync. Where corosync is fragile we are stricter, never incompatible: wire input
//! is validated, stale messages from a ring every member has left are ignored instead
//! of restarting membership, and every queue is bounded.

mod events;
mod liveness;
mod membership;
mod receive;
mod recovery;
mod rotation;
mod seq;
mod sets;
mod sort_queue;
mod timers;
mod token;

pub use events::{ConfigurationChange, ConfigurationKind, Event, MembState, Stats, FAILED_TO_RECEIVE};

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::config::Config;
use crate::time::Instant;
use crate::wire::{self, CommitToken, Decoded, Message, NodeId, OrfToken, RingId};
use crate::{Destination, Transmit};

use sort_queue::SortQueue;
use timers::{Timer, Timers};

/// What the last token we processed was (for retransmission).
#[derive(Clone, Debug)]
enum SavedToken {
    Orf(OrfToken),
    Commit(CommitToken),
}

/// The SRP state machine of one node.
#[derive(Debug)]
pub struct Srp {
    config: Config,
    my_id: NodeId,
    state: MembState,
    stopped: bool,
    rng: SmallRng,
    now: Instant,
    /// When a timer was last answered late (more than a join interval): our process was
    /// not running, and what the peers said meanwhile has not been read yet.
    woke_at: Option<Instant>,
    /// The planted gap skip happened (tests of the simulator's checkers only).
    planted_gap_skipped: bool,

    // ---- ring identity ----
    /// The ring we are on (or forming, from COMMIT on).
    my_ring_id: RingId,
    /// Highest ring seq seen anywhere; a new ring gets this + 4.
    token_ring_id_seq: u64,
    /// Set on entering RECOVERY for `my_ring_id`: every member then went through COMMIT
    /// for it, so their later messages carry at least its seq (used to spot stale ones).
    ring_committed: bool,

    // ---- membership sets ----
    /// Members of the current (last installed) regular configuration.
    my_memb_list: Vec<NodeId>,
    /// Members of the ring being formed (commit token's addr list).
    my_new_memb_list: Vec<NodeId>,
    /// Members coming with us from our old ring (transitional configuration).
    my_trans_memb_list: Vec<NodeId>,
    my_proc_list: Vec<NodeId>,
    my_failed_list: Vec<NodeId>,
    /// Nodes whose join matched our sets in this GATHER round.
    consensus: Vec<NodeId>,
    /// Nodes we received any join from in this GATHER round.
    heard: Vec<NodeId>,
    /// Nodes that sent us a join not naming us failed since our failed list was last
    /// cleared, with the arrival of the last such join (an outsider's verdict on them is
    /// not taken while they keep sending them); bounded.
    vouched: Vec<(NodeId, Instant)>,
    /// A consensus timeout waited once more for nodes that talk but disagree, since our
    /// failed list was last cleared.
    timeout_graced: bool,
    /// When a consensus timeout that found us agreeing restarted the collection of joins
    /// in this round (`None`: not since the round began). A node not heard since then is
    /// silent to the next consensus timeout, whatever it said before.
    consensus_restarted_at: Option<Instant>,
    /// Nodes that left (sent a leave) and have not joined since; bounded.
    departed: Vec<NodeId>,
    /// Last proof of life of each peer (the failure detector's input).
    liveness: liveness::Liveness,
    /// When we last entered GATHER.
    gather_entered_at: Instant,
    /// Token visits since this node entered OPERATIONAL on the current ring.
    operational_visits: u32,
    /// Outsiders (joins, or senders of foreign messages) seen before the new ring
    /// settled; taken up once it has.
    deferred_joins: Vec<wire::Join>,
    deferred_foreign: Vec<NodeId>,
    /// The latest join of each node that COMMIT or RECOVERY ignored (its sender is not in
    /// the ring being formed, or it names an older ring); taken up if that ring fails and
    /// we gather again.
    joins_while_committed: Vec<wire::Join>,
    failed_to_recv: bool,
    originated_orf_token: bool,

    // ---- old ring state kept across a failed recovery ----
    old_ring_state_saved: bool,
    my_old_ring_id: RingId,
    old_ring_state_aru: u32,
    old_ring_state_high_seq_received: u32,

    // ---- ordering ----
    regular_queue: SortQueue,
    recovery_queue: SortQueue,
    /// Frames waiting for the token (bounded by `config.send_queue_max`).
    new_message_queue: VecDeque<Bytes>,
    /// Old-ring messages to re-send encapsulated during RECOVERY, with their old seq.
    retrans_message_queue: VecDeque<(u32, wire::Mcast)>,
    /// Old-ring messages of our old ring (by old seq) that someone already re-sent in
    /// this RECOVERY: ours need not go too.
    resent_in_recovery: std::collections::HashSet<u32>,
    my_aru: u32,
    my_high_seq_received: u32,
    my_high_delivered: u32,
    my_last_aru: u32,
    my_aru_count: u32,
    last_released: u32,
    my_token_seq: u32,
    my_install_seq: u32,
    my_received_flg: bool,
    my_set_retrans_flg: bool,
    my_retrans_flg_count: u32,
    my_rotation_counter: u32,
    /// Mcasts this node originated since start (`this_seqno`).
    global_seqno: i32,
    /// Frames from `new_message_queue` sent on a ring so far.
    frames_originated: u64,
    /// A regular configuration was installed since the host last asked.
    regular_installed: bool,
    /// A ring seq the host must persist before sending anything more.
    ring_seq_to_store: Option<u64>,

    // ---- flow control ----
    my_trc: u32,
    my_pbl: u32,
    my_cbl: u32,

    // ---- token hold ----
    my_last_seq: u32,
    my_seq_unchanged: u32,
    my_token_held: bool,
    saved_token: Option<SavedToken>,
    token_target: NodeId,
    /// When the saved ORF token first went out (`None` while we hold it).
    token_sent_at: Option<Instant>,
    /// Retransmissions of the saved token so far (the next wait doubles with each).
    token_resends: u32,
    /// Recent rotation times, for the fast token retransmission.
    rotation: rotation::RotationClock,
    /// The token we forwarded last found the ring idle (see `arm_token_retransmit`).
    ring_idle: bool,
    /// And the representative will hold it for `hold` before it comes back.
    rep_holds: bool,
    /// Hold cancels sent since the token last came (none: no cancel outstanding).
    hold_cancels_sent: u32,

    timers: Timers,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: Stats,
}

impl Srp {
    /// A node that last persisted ring seq `stored_ring_seq`. It starts in GATHER and
    /// sends its first join at once.
    pub fn new(config: Config, my_id: NodeId, stored_ring_seq: u64, rng_seed: u64, now: Instant) -> Self {
        assert!(my_id != 0, "nodeid 0 is reserved (it marks a leave)");
        // corosync adds 1 to the loaded seq before forming its first ring.
        let start_ring = RingId {
            rep: my_id,
            seq: stored_ring_seq.wrapping_add(1),
        };
        let mut srp = Srp {
            config,
            my_id,
            state: MembState::Gather,
            stopped: false,
            rng: SmallRng::seed_from_u64(rng_seed),
            now,
            woke_at: None,
            planted_gap_skipped: false,
            my_ring_id: start_ring,
            token_ring_id_seq: start_ring.seq,
            ring_committed: false,
            my_memb_list: vec![my_id],
            my_new_memb_list: Vec::new(),
            my_trans_memb_list: Vec::new(),
            my_proc_list: Vec::new(),
            my_failed_list: Vec::new(),
            consensus: Vec::new(),
            heard: Vec::new(),
            vouched: Vec::new(),
            timeout_graced: false,
            consensus_restarted_at: None,
            departed: Vec::new(),
            liveness: liveness::Liveness::default(),
            gather_entered_at: now,
            operational_visits: 0,
            deferred_joins: Vec::new(),
            joins_while_committed: Vec::new(),
            deferred_foreign: Vec::new(),
            failed_to_recv: false,
            originated_orf_token: false,
            old_ring_state_saved: false,
            my_old_ring_id: start_ring,
            old_ring_state_aru: 0,
            old_ring_state_high_seq_received: 0,
            regular_queue: SortQueue::new(0),
            recovery_queue: SortQueue::new(0),
            new_message_queue: VecDeque::new(),
            retrans_message_queue: VecDeque::new(),
            resent_in_recovery: std::collections::HashSet::new(),
            my_aru: 0,
            my_high_seq_received: 0,
            my_high_delivered: 0,
            my_last_aru: 0,
            my_aru_count: 0,
            last_released: 0,
            my_token_seq: u32::MAX,
            my_install_seq: 0,
            my_received_flg: true,
            my_set_retrans_flg: false,
            my_retrans_flg_count: 0,
            my_rotation_counter: 0,
            global_seqno: 0,
            frames_originated: 0,
            regular_installed: false,
            ring_seq_to_store: None,
            my_trc: 0,
            my_pbl: 0,
            my_cbl: 0,
            my_last_seq: 0,
            my_seq_unchanged: 0,
            my_token_held: false,
            saved_token: None,
            token_target: my_id,
            token_sent_at: None,
            token_resends: 0,
            rotation: rotation::RotationClock::default(),
            ring_idle: false,
            rep_holds: false,
            hold_cancels_sent: 0,
            timers: Timers::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        };
        srp.gather_enter("startup");
        srp
    }

    pub fn node_id(&self) -> NodeId {
        self.my_id
    }

    pub fn state(&self) -> MembState {
        self.state
    }

    /// The ring this node is on, or is forming from COMMIT on.
    pub fn ring_id(&self) -> RingId {
        self.my_ring_id
    }

    /// Members of the last regular configuration this node installed.
    pub fn members(&self) -> &[NodeId] {
        &self.my_memb_list
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Every counter back to zero (corosync's `totemsrp_stats_clear`, for `stats.clear.totem`).
    pub fn clear_stats(&mut self) {
        self.stats = Stats::default();
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Frames waiting for the token.
    pub fn backlog(&self) -> usize {
        self.new_message_queue.len()
    }

    pub fn count_malformed(&mut self) {
        self.stats.malformed_rx += 1;
    }

    /// True when `token` will be processed by this node as the ring's current token.
    pub fn token_is_for_me(&self, token: &OrfToken) -> bool {
        token.ring_id == self.my_ring_id && matches!(self.state, MembState::Operational)
    }

    /// The send queue's bound, in frames.
    pub fn send_queue_capacity(&self) -> usize {
        self.config.send_queue_max
    }

    /// Room left in the send queue, in frames.
    pub fn send_queue_space(&self) -> usize {
        self.config.send_queue_max.saturating_sub(self.new_message_queue.len())
    }

    /// Queues one totempg frame. The caller keeps the queue bounded: it checks
    /// [`Srp::send_queue_space`] before accepting a message, and may exceed the bound
    /// only by the frames of one message when it re-packs after a configuration change.
    pub fn submit_frame(&mut self, frame: Bytes) {
        debug_assert!(frame.len() <= self.config.frame_mtu);
        if self.stopped {
            return;
        }
        self.new_message_queue.push_back(frame);
    }

    /// The ring seq to persist durably *before* the next [`Srp::poll_transmit`] (corosync
    /// writes `ringid_<nodeid>` on entering COMMIT, before the commit token goes on).
    pub fn poll_ring_seq_to_store(&mut self) -> Option<u64> {
        self.ring_seq_to_store.take()
    }

    /// How many submitted frames have been sent on a ring (in submission order).
    pub fn frames_originated(&self) -> u64 {
        self.frames_originated
    }

    /// True once after each regular configuration is installed.
    pub fn take_regular_installed(&mut self) -> bool {
        std::mem::take(&mut self.regular_installed)
    }

    /// Takes back the frames not sent yet (to re-pack them for a new configuration).
    pub fn take_unsent_frames(&mut self) -> usize {
        let n = self.new_message_queue.len();
        self.new_message_queue.clear();
        n
    }

    /// New data is waiting: ask the representative to release a held token.
    pub fn wake(&mut self) {
        if self.stopped || self.state != MembState::Operational {
            return;
        }
        self.ring_busy_again();
        if !self.my_token_held {
            return;
        }
        self.my_token_held = false;
        if self.my_ring_id.rep == self.my_id {
            self.send_hold_cancel();
            // We hold it ourselves: corosync would get its own cancel back over udpu.
            self.timers.cancel(Timer::Hold);
            self.token_retransmit_timeout();
        } else {
            self.hold_cancels_sent = 0;
            self.hold_cancel_timeout();
        }
    }

    /// Multicasts a token hold cancel.
    fn send_hold_cancel(&mut self) {
        let msg = Message::TokenHoldCancel(wire::TokenHoldCancel {
            sender: self.my_id,
            target_nodeid: 0,
            ring_id: self.my_ring_id,
        });
        self.stats.token_hold_cancel_tx += 1;
        self.multicast(&msg);
    }

    /// Sends (again) the hold cancel of a waiting message, until the token comes: a lost
    /// cancel would leave the message waiting for the representative's hold timer
    /// (≈ 0.7 s at the defaults). Resent on the token's fast schedule, doubling, at most
    /// until the hold would have ended anyway.
    fn hold_cancel_timeout(&mut self) {
        if self.state != MembState::Operational {
            return;
        }
        let wait = self
            .rotation
            .retransmit_after(self.hold_cancels_sent, self.config.token_retransmit);
        if self.hold_cancels_sent > 0 && wait >= self.config.token_retransmit {
            return;
        }
        self.send_hold_cancel();
        self.hold_cancels_sent += 1;
        self.set_timer(Timer::HoldCancel, wait);
    }

    /// Leaves the ring: multicasts a leave (a join with header nodeid 0 naming this node
    /// failed) so the others re-form at once, then goes silent.
    pub fn leave(&mut self, now: Instant) {
        if self.stopped {
            return;
        }
        self.now = now;
        let proc_list = sets::subtract(&self.my_proc_list, &[self.my_id]);
        let mut failed_list = sets::subtract(&self.my_failed_list, &[self.my_id]);
        failed_list.push(self.my_id);
        let msg = Message::Join(wire::Join {
            sender: 0,
            target_nodeid: 0,
            system_from: self.my_id,
            ring_seq: self.my_ring_id.seq,
            proc_list,
            failed_list,
        });
        self.stats.memb_join_tx += 1;
        self.multicast(&msg);
        self.stopped = true;
        self.timers.cancel_all();
        self.new_message_queue.clear();
    }

    /// Processes one decoded datagram.
    pub fn handle_message(&mut self, now: Instant, decoded: Decoded) {
        if self.stopped {
            return;
        }
        self.advance_time(now);
        let foreign = decoded.foreign_endian;
        // Proof of life from headers that name the node sending now (tokens: see
        // `handle_orf_token`; multicasts may be retransmissions by someone else).
        match &decoded.message {
            Message::Join(j) if j.sender != 0 => self.liveness.heard_forming(j.system_from, now),
            Message::CommitToken(t) => self.liveness.heard_forming(t.sender, now),
            Message::MergeDetect(m) => self.liveness.heard(m.system_from, now),
            Message::TokenHoldCancel(m) => self.liveness.heard(m.sender, now),
            Message::Join(_) | Message::OrfToken(_) | Message::Mcast(_) => {}
        }
        match decoded.message {
            Message::OrfToken(token) => self.handle_orf_token(token),
            Message::Mcast(mcast) => self.handle_mcast(mcast, foreign),
            Message::MergeDetect(m) => self.handle_merge_detect(m),
            Message::Join(join) => self.handle_join(join),
            Message::CommitToken(token) => self.handle_commit_token(token),
            Message::TokenHoldCancel(m) => self.handle_token_hold_cancel(m),
        }
    }

    /// Runs every timer that has expired by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.stopped {
            return;
        }
        self.advance_time(now);
        while let Some(timer) = self.timers.pop_expired(now) {
            match timer {
                Timer::TokenLoss => self.token_loss_timeout(),
                Timer::TokenRetransmit => self.token_retransmit_timeout(),
                Timer::Hold => self.hold_timeout(),
                Timer::MergeDetect => self.merge_detect_timeout(),
                Timer::Join => self.join_timeout(),
                Timer::Consensus => self.consensus_timeout(),
                Timer::Silent => self.silent_timeout(),
                Timer::HoldCancel => self.hold_cancel_timeout(),
            }
        }
    }

    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.stopped {
            return None;
        }
        self.timers.next_deadline()
    }

    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front();
        // Deliveries paused for a full backlog resume as the host drains it.
        if self.state == MembState::Operational && seq::lt(self.my_high_delivered, self.my_high_seq_received) {
            self.deliver_agreed();
        }
        event
    }

    /// Events the host has not polled yet.
    pub fn events_pending(&self) -> usize {
        self.events.len()
    }

    // ---- plumbing shared by the submodules ----

    fn advance_time(&mut self, now: Instant) {
        // Time is monotonic by contract; tolerate a host that repeats a timestamp.
        debug_assert!(now >= self.now, "time went backwards: {now} < {}", self.now);
        // A timer answered more than a join interval late means we were not running (a
        // stopped process, a stalled host): what the peers said meanwhile waited in the
        // socket buffer or was lost, so their silence counts only from now.
        if self
            .timers
            .next_deadline()
            .is_some_and(|due| now > due + self.config.join)
        {
            self.liveness.woke_up(now);
            self.woke_at = Some(now);
        }
        self.now = self.now.max(now);
    }

    fn after(&self, d: Duration) -> Instant {
        self.now + d
    }

    fn set_timer(&mut self, timer: Timer, after: Duration) {
        let at = self.after(after);
        self.timers.set(timer, at);
    }

    /// Queues an event for the host. Nothing is ever dropped: agreed deliveries in
    /// OPERATIONAL wait while `delivery_backlog_max` are pending (see
    /// `deliver_agreed`); the others are bounded by the protocol (a recovery delivers at
    /// most a sort queue of old-ring messages, a configuration change a few events).
    fn emit(&mut self, event: Event) {
        self.events.push_back(event);
    }

    fn send_to(&mut self, node: NodeId, msg: &Message) {
        self.transmits.push_back(Transmit {
            destination: Destination::Node(node),
            payload: Bytes::from(wire::encode(msg)),
        });
    }

    fn multicast(&mut self, msg: &Message) {
        self.transmits.push_back(Transmit {
            destination: Destination::AllNodes,
            payload: Bytes::from(wire::encode(msg)),
        });
    }

    fn enter_state(&mut self, state: MembState, reason: &'static str) {
        self.state = state;
        self.emit(Event::StateChange {
            state,
            ring_id: self.my_ring_id,
            reason,
        });
    }

    /// A random delay in `[0, max)`, drawn from the injected seed.
    fn jitter(&mut self, max: Duration) -> Duration {
        if max.is_zero() {
            return Duration::ZERO;
        }
        Duration::from_nanos(self.rng.gen_range(0..max.as_nanos().min(u128::from(u64::MAX)) as u64))
    }

    /// True when a message on `ring` from `sender` can only be a leftover of a ring that
    /// `sender` has since left for ours (it went through COMMIT for our ring, so anything
    /// it sends now carries at least our ring seq). Likewise a verdict on `sender` in a
    /// join naming `ring_seq`: it was reached before `sender` committed with us.
    fn is_stale(&self, sender: NodeId, ring_seq: u64) -> bool {
        self.ring_committed && ring_seq < self.my_ring_id.seq && sets::contains(&self.my_new_memb_list, sender)
    }
}

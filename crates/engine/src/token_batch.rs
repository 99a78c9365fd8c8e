//! Holding the token briefly while local clients are sending flat out, so that each token
//! visit carries more of their messages.
//!
//! Under load most of a ring's cost is per rotation, not per message: every hop is a
//! datagram and a wakeup of the next daemon whatever the token carries. A libqb client
//! adds one message per request round trip to its daemon, and on a fast ring the token is
//! back before many were added (about a dozen 64-byte messages per rotation on 3 nodes),
//! so most of the CPU went to rotations. When the token reaches a node whose clients
//! queued at least [`MIN_UNSENT`] messages since each of its last two visits (sustained
//! load, not a burst such as service synchronisation, whose barriers wait for every
//! rotation), the daemon keeps it for at most the configured hold (`token_batch_hold_us`)
//! while it goes on serving requests, and lets it go as soon as a full visit
//! (`max_messages` frames) is ready. On 3 nodes this took the daemons' CPU per 64-byte
//! message from ~15 to ~7 µs (README, CPG table).
//!
//! Between two such holds a client may pause for a moment: a single-threaded one (corosync's
//! `cpgbench2 -S`, any poll loop) stops sending while it dispatches the burst of its own
//! messages that the released visit delivered. The two-visit rule then fails and the
//! token went round almost empty several times per hold, each rotation a datagram and a
//! wakeup per node. So within [`SUSTAIN`] of a full hold, a token that finds any own
//! message waits up to [`SHORT_HOLD`]. On 3 nodes, flat out, this raised 64-byte
//! throughput in poll mode from 64–100k to 96–106k messages a second (best-of-two rounds
//! that alternated with the rule off, three runs) and cut the daemons' CPU per message
//! from 11–17 to 10 µs; thread mode was unchanged within the noise, 1 KiB poll rose ~15 %,
//! and latency at 1000 messages a second is unchanged: such a ring never meets the
//! two-visit rule, so never this one either.
//!
//! For the protocol this is a token delayed on its way, which the simulator's networks do
//! all the time: no state of the core changes while it waits. The hold stays below the
//! 1 ms slack of the predecessor's token resend, so it causes no resends by itself. A ring
//! under light load never meets the condition (at 1000 messages a second a visit finds
//! one message or none), so latency there is unchanged.

use std::os::fd::{AsFd, AsRawFd};
use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
use services::Node;
use totem::wire::{decode_header, MessageType};

/// Default `token_batch_hold_us`.
pub const DEFAULT_HOLD: Duration = Duration::from_micros(800);
// The predecessor resends a token after twice a hop plus 1 ms: a shorter hold never makes
// it resend (`token_batch_hold_us` is capped at 999 for the same reason).
const _: () = assert!(DEFAULT_HOLD.as_micros() < 1000);

/// Own messages queued since the last visit that make a token worth holding.
pub const MIN_UNSENT: usize = 2;
/// How long after a full hold a token with any own message to send is held briefly.
pub const SUSTAIN: Duration = Duration::from_millis(5);
/// The brief hold (never longer than the configured one).
pub const SHORT_HOLD: Duration = Duration::from_micros(250);

/// What a node knows when a token arrives: the inputs of [`HoldPolicy::starts`].
#[derive(Debug, Clone, Copy)]
pub struct Arrival {
    /// OPERATIONAL and not synchronising services.
    pub serving: bool,
    /// Own messages not yet sent, now and at the previous token's arrival.
    pub unsent: usize,
    pub unsent_before: usize,
    /// Complete frames waiting.
    pub frames_ready: usize,
    /// Time since the last full hold began, if there was one.
    pub since_full_hold: Option<Duration>,
}

/// When to hold a token and when to let it go; no I/O.
#[derive(Debug, Clone, Copy)]
pub struct HoldPolicy {
    /// Longest hold; zero never holds.
    pub hold: Duration,
    /// Frames that fill a visit (`max_messages`): once ready, waiting gains nothing.
    pub target_frames: usize,
}

/// How long a token is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Sustained load: the configured hold.
    Full,
    /// Load paused since a full hold: [`SHORT_HOLD`].
    Short,
}

impl HoldPolicy {
    /// Whether to hold an ORF token that arrives as `a` says, and for how long.
    pub fn starts(&self, a: Arrival) -> Option<Hold> {
        if self.hold.is_zero() || !a.serving || a.frames_ready >= self.target_frames {
            return None;
        }
        if a.unsent >= MIN_UNSENT && a.unsent_before >= MIN_UNSENT {
            Some(Hold::Full)
        } else if a.unsent >= 1 && a.since_full_hold.is_some_and(|d| d < SUSTAIN) {
            Some(Hold::Short)
        } else {
            None
        }
    }

    /// The longest time a hold of `kind` lasts.
    pub fn limit(&self, kind: Hold) -> Duration {
        match kind {
            Hold::Full => self.hold,
            Hold::Short => self.hold.min(SHORT_HOLD),
        }
    }

    /// Whether a hold of `kind` since `since` should end at `now`, and why.
    pub fn ends(&self, kind: Hold, since: Instant, now: Instant, frames_ready: usize) -> Option<Release> {
        if frames_ready >= self.target_frames {
            Some(Release::Full)
        } else if now.saturating_duration_since(since) >= self.limit(kind) {
            Some(Release::Expired)
        } else {
            None
        }
    }
}

/// Why a held token went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// A full visit was ready.
    Full,
    /// The hold was over.
    Expired,
    /// Another token arrived (resent, or a new ring's) and must not overtake it.
    AnotherToken,
}

/// What the hold did since the daemon started: published in cmap as
/// `stats.srp.token_batch_*`, to see whether it triggers and what ends it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HoldStats {
    pub holds: u64,
    /// Of which short ones ([`Hold::Short`]).
    pub short_holds: u64,
    pub released_full: u64,
    pub released_expired: u64,
    pub released_for_another_token: u64,
    /// Total time tokens were held, in microseconds.
    pub held_us: u64,
}

impl HoldStats {
    /// The cmap keys under `stats.srp.` and their values.
    pub fn entries(&self) -> [(&'static str, u64); 6] {
        [
            ("token_batch_holds", self.holds),
            ("token_batch_short_holds", self.short_holds),
            ("token_batch_released_full", self.released_full),
            ("token_batch_released_expired", self.released_expired),
            (
                "token_batch_released_for_another_token",
                self.released_for_another_token,
            ),
            ("token_batch_held_us", self.held_us),
        ]
    }

    fn released(&mut self, why: Release, held: Duration) {
        match why {
            Release::Full => self.released_full += 1,
            Release::Expired => self.released_expired += 1,
            Release::AnotherToken => self.released_for_another_token += 1,
        }
        self.held_us = self.held_us.saturating_add(held.as_micros() as u64);
    }
}

/// The held token and its deadline timer (a timerfd: epoll's own timeout has only
/// millisecond resolution).
pub struct TokenBatch {
    policy: HoldPolicy,
    timer: TimerFd,
    /// The held token datagram (plaintext); empty when none is held.
    held: Vec<u8>,
    /// When the held token arrived, and for how long it may be held.
    since: Option<(Instant, Hold)>,
    /// When the last full hold began.
    last_full_hold: Option<Instant>,
    /// Own messages unsent when the last token arrived.
    unsent_at_last_token: usize,
    stats: HoldStats,
}

impl TokenBatch {
    /// The timer is registered as `token`; its readiness only wakes the loop.
    pub fn new(registry: &Registry, token: Token, policy: HoldPolicy) -> std::io::Result<Self> {
        let timer = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .map_err(std::io::Error::from)?;
        registry.register(&mut SourceFd(&timer.as_fd().as_raw_fd()), token, Interest::READABLE)?;
        Ok(TokenBatch {
            policy,
            timer,
            held: Vec::new(),
            since: None,
            last_full_hold: None,
            unsent_at_last_token: 0,
            stats: HoldStats::default(),
        })
    }

    pub fn is_holding(&self) -> bool {
        self.since.is_some()
    }

    /// Whether `datagram` is an exact copy of the held token (the same token on another
    /// link): the core would drop it by its `token_seq` anyway.
    pub fn is_copy(&self, datagram: &[u8]) -> bool {
        self.is_holding() && self.held == datagram
    }

    /// Holds `datagram` if the policy says so (then the caller must not feed it to the
    /// node); false otherwise.
    pub fn try_hold(&mut self, node: &Node, datagram: &[u8], now: Instant) -> bool {
        if self.is_holding() {
            return false;
        }
        if !decode_header(datagram).is_ok_and(|h| h.message_type == MessageType::OrfToken) {
            return false;
        }
        let unsent = node.totem().unsent_messages();
        let arrival = Arrival {
            serving: node.srp().state() == totem::MembState::Operational && !node.sync_in_process(),
            unsent,
            unsent_before: std::mem::replace(&mut self.unsent_at_last_token, unsent),
            frames_ready: node.srp().backlog(),
            since_full_hold: self.last_full_hold.map(|t| now.saturating_duration_since(t)),
        };
        let Some(kind) = self.policy.starts(arrival) else {
            return false;
        };
        self.held.clear();
        self.held.extend_from_slice(datagram);
        self.since = Some((now, kind));
        self.stats.holds += 1;
        match kind {
            Hold::Full => self.last_full_hold = Some(now),
            Hold::Short => self.stats.short_holds += 1,
        }
        let spec = TimeSpec::from_duration(self.policy.limit(kind));
        if let Err(e) = self.timer.set(Expiration::OneShot(spec), TimerSetTimeFlags::empty()) {
            // Without the timer the loop still wakes at the deadline, rounded up to 1 ms.
            tracing::debug!(error = %e, "cannot arm the token hold timer");
        }
        true
    }

    /// Whether the held token should go now (a full visit is ready, or its time is up),
    /// and why.
    pub fn due(&self, node: &Node, now: Instant) -> Option<Release> {
        let (since, kind) = self.since?;
        self.policy.ends(kind, since, now, node.srp().backlog())
    }

    /// Ends the hold and hands the token over; give the buffer back with [`Self::give_back`].
    pub fn take(&mut self, why: Release, now: Instant) -> Vec<u8> {
        debug_assert!(self.is_holding());
        if let Some((since, _)) = self.since.take() {
            self.stats.released(why, now.saturating_duration_since(since));
        }
        // Disarming also clears an expiry not read yet (timerfd_settime resets the count).
        if let Err(e) = self.timer.unset() {
            tracing::debug!(error = %e, "cannot disarm the token hold timer");
        }
        std::mem::take(&mut self.held)
    }

    pub fn give_back(&mut self, buf: Vec<u8>) {
        self.held = buf;
    }

    pub fn stats(&self) -> HoldStats {
        self.stats
    }

    /// `stats.clear.totem`: the hold's counters are published with the SRP's.
    pub fn clear_stats(&mut self) {
        self.stats = HoldStats::default();
    }

    /// When the held token goes at the latest.
    pub fn deadline(&self) -> Option<Instant> {
        self.since.map(|(s, kind)| s + self.policy.limit(kind))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: HoldPolicy = HoldPolicy {
        hold: Duration::from_micros(800),
        target_frames: 64,
    };

    /// A token finding `unsent` own messages, `before` at the previous visit.
    fn arrival(unsent: usize, before: usize) -> Arrival {
        Arrival {
            serving: true,
            unsent,
            unsent_before: before,
            frames_ready: 0,
            since_full_hold: None,
        }
    }

    #[test]
    fn holds_only_under_sustained_own_load_with_room_in_the_visit() {
        assert_eq!(POLICY.starts(arrival(MIN_UNSENT, MIN_UNSENT)), Some(Hold::Full));
        let nearly_full = Arrival {
            frames_ready: 63,
            ..arrival(100, 100)
        };
        assert_eq!(POLICY.starts(nearly_full), Some(Hold::Full));
        let busy = Arrival {
            serving: false,
            ..arrival(100, 100)
        };
        assert_eq!(POLICY.starts(busy), None, "forming a ring or synchronising");
        assert_eq!(
            POLICY.starts(arrival(MIN_UNSENT - 1, 100)),
            None,
            "light load: latency first"
        );
        assert_eq!(
            POLICY.starts(arrival(100, MIN_UNSENT - 1)),
            None,
            "a burst, not sustained load"
        );
        let full = Arrival {
            frames_ready: 64,
            ..arrival(100, 100)
        };
        assert_eq!(POLICY.starts(full), None, "the visit is full already");
        let off = HoldPolicy {
            hold: Duration::ZERO,
            ..POLICY
        };
        assert_eq!(off.starts(arrival(100, 100)), None, "token_batch_hold_us: 0");
    }

    #[test]
    fn a_pause_in_sustained_load_gets_a_short_hold() {
        let paused = |since_full_hold| Arrival {
            since_full_hold,
            ..arrival(1, 0)
        };
        assert_eq!(POLICY.starts(paused(Some(Duration::from_millis(1)))), Some(Hold::Short));
        assert_eq!(POLICY.starts(paused(Some(SUSTAIN))), None, "the load stopped");
        assert_eq!(POLICY.starts(paused(None)), None, "light load never held fully");
        let nothing = Arrival {
            since_full_hold: Some(Duration::ZERO),
            ..arrival(0, 5)
        };
        assert_eq!(POLICY.starts(nothing), None, "nothing to carry");
        assert_eq!(POLICY.limit(Hold::Short), SHORT_HOLD);
        let brief = HoldPolicy {
            hold: Duration::from_micros(100),
            ..POLICY
        };
        assert_eq!(
            brief.limit(Hold::Short),
            Duration::from_micros(100),
            "never above the setting"
        );
    }

    #[test]
    fn lets_go_when_the_visit_is_full_or_the_hold_is_over() {
        let t0 = Instant::now();
        let at = |us| t0 + Duration::from_micros(us);
        assert_eq!(POLICY.ends(Hold::Full, t0, at(799), 63), None);
        assert_eq!(POLICY.ends(Hold::Full, t0, at(799), 64), Some(Release::Full));
        assert_eq!(POLICY.ends(Hold::Full, t0, at(800), 0), Some(Release::Expired));
        assert_eq!(POLICY.ends(Hold::Full, t0, at(900), 64), Some(Release::Full));
        assert_eq!(POLICY.ends(Hold::Short, t0, at(249), 0), None);
        assert_eq!(POLICY.ends(Hold::Short, t0, at(250), 0), Some(Release::Expired));
        // A clock read before the hold began (never, but saturating) does not end it.
        assert_eq!(POLICY.ends(Hold::Full, at(5), t0, 0), None);
    }

    #[test]
    fn releases_are_counted_by_reason_with_the_time_held() {
        let mut s = HoldStats {
            holds: 3,
            ..HoldStats::default()
        };
        s.released(Release::Full, Duration::from_micros(120));
        s.released(Release::Expired, Duration::from_micros(800));
        s.released(Release::AnotherToken, Duration::from_micros(5));
        assert_eq!(
            s.entries(),
            [
                ("token_batch_holds", 3),
                ("token_batch_short_holds", 0),
                ("token_batch_released_full", 1),
                ("token_batch_released_expired", 1),
                ("token_batch_released_for_another_token", 1),
                ("token_batch_held_us", 925),
            ]
        );
    }
}

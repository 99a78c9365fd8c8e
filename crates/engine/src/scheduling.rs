//! When to run at real-time priority (`system.sched_rr: auto`, ferrosync's default).
//!
//! Corosync runs at `SCHED_RR` all the time so that a machine saturated by other work cannot
//! hold up the token. Real-time priority also gives the lowest wake-up latency: a real-time
//! daemon runs the moment a client's request or a datagram wakes it, even on a core where
//! a client spins (at 1000 msgs/s p99 160–180 µs against 1.9–2.7 ms at the normal policy,
//! with cpgbench2's poll-mode sender spinning). But real-time priority costs the daemon's
//! own clients when they send many requests: each request wakes the daemon on the core of
//! the client that sent it, which it preempts there, so client and daemon take turns on one
//! core instead of running side by side (64-byte CPG flat out, three daemons on two cores:
//! 146–151k msgs/s at real-time priority against 355–388k when the sender's daemon runs at
//! the normal policy; the README's CPG section).
//!
//! So the [`Governor`] keeps the daemon at real-time priority except while its local clients
//! are busy (more than [`BUSY_REQUESTS`] requests a second over a [`WINDOW`], until fewer than
//! [`QUIET_REQUESTS`] again): then it runs at the normal policy, where the kernel shares cores
//! fairly. The daemon's own CPU use is no measure of that: at 1000 msgs/s the token rotates
//! without pause and each daemon takes a third of a CPU. Whatever its clients do, the daemon
//! goes back to real-time priority for [`HOLD`] as soon as its loop is not scheduled on
//! time — what real-time priority is there to prevent. Outside real-time priority (and
//! during the hold) the loop asks to be woken every `threshold`, a sixteenth of the token
//! timeout; a wakeup later than `threshold` past that deadline means the daemon did not get a
//! CPU when it should have (a loop iteration of its own is bounded far below: datagrams are
//! read in bursts of 256). That first late wakeup is survived by the protocol: the token is
//! retransmitted after about a quarter of its timeout and lost only after all of it.
//!
//! Pure: the loop passes `now` and its count of client requests so far, and applies the
//! [`Switch`] it gets back.

use std::time::{Duration, Instant};

/// How long the daemon stays at real-time priority after its last late wakeup.
pub const HOLD: Duration = Duration::from_secs(300);
/// The late-wakeup threshold as a fraction of the token timeout.
pub const TOKEN_FRACTION: u32 = 16;
/// The threshold is never below this (a short token on a busy machine would promote the
/// daemon for ordinary scheduling noise).
pub const MIN_THRESHOLD: Duration = Duration::from_millis(20);
/// Client requests are counted over windows this long.
pub const WINDOW: Duration = Duration::from_secs(1);
/// Above this many requests a second in a window the clients are busy…
pub const BUSY_REQUESTS: f64 = 5_000.0;
/// …until they are below this rate again (the gap keeps a load near one bound from flapping).
pub const QUIET_REQUESTS: f64 = 2_000.0;

/// A scheduling class the daemon should switch to, and why.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Switch {
    /// To `SCHED_RR`: a wakeup came `late` past its deadline.
    Starved { late: Duration },
    /// To `SCHED_RR`: the clients are quiet (`rate` requests a second in the last window).
    Quiet { rate: f64 },
    /// To the normal policy: the clients are busy (`rate` requests a second in the last window).
    Busy { rate: f64 },
    /// To the normal policy: [`HOLD`] passed without a late wakeup, and the clients are busy.
    HoldOver,
}

impl Switch {
    pub fn to_realtime(self) -> bool {
        matches!(self, Switch::Starved { .. } | Switch::Quiet { .. })
    }
}

/// Counters for the statistics map.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GovernorStats {
    /// Switches to real-time priority because the loop ran late.
    pub starved: u64,
    /// Wakeups later than the threshold (including those while real-time).
    pub late_wakeups: u64,
    /// The latest wakeup seen, past its deadline.
    pub max_late: Duration,
    /// Switches to the normal policy because the clients were busy.
    pub busy: u64,
}

/// Decides the daemon's scheduling class (see the module docs).
#[derive(Debug, Clone)]
pub struct Governor {
    threshold: Duration,
    realtime: bool,
    /// Real-time whatever the load until then: the loop ran late.
    starved_until: Option<Instant>,
    busy: bool,
    /// When the loop asked to be woken at the latest, to see whether it runs on time.
    check_at: Instant,
    /// The current window: its start and the count of client requests then.
    window: (Instant, u64),
    stats: GovernorStats,
}

impl Governor {
    /// A governor for a ring with this token timeout; the daemon is at real-time priority
    /// at `now`, when its clients had made `requests`.
    pub fn new(token_timeout: Duration, now: Instant, requests: u64) -> Self {
        let threshold = (token_timeout / TOKEN_FRACTION).max(MIN_THRESHOLD);
        Self {
            threshold,
            realtime: true,
            starved_until: None,
            busy: false,
            check_at: now + threshold,
            window: (now, requests),
            stats: GovernorStats::default(),
        }
    }

    pub fn threshold(&self) -> Duration {
        self.threshold
    }

    pub fn is_realtime(&self) -> bool {
        self.realtime
    }

    pub fn stats(&self) -> GovernorStats {
        self.stats
    }

    /// Whether the loop's wakeups are timed. Not while the daemon is at real-time priority
    /// for quiet clients: nothing would change then, and an idle daemon sleeps undisturbed.
    /// (The request windows need no wakeups of their own: busy clients wake the loop, and the
    /// token wakes it several times a second.)
    fn watching(&self) -> bool {
        !self.realtime || self.starved_until.is_some()
    }

    /// The loop must wake by then (a timeout of its `epoll_wait`), if at any time.
    pub fn deadline(&self) -> Option<Instant> {
        if !self.watching() {
            return None;
        }
        Some(
            self.starved_until
                .map_or(self.check_at, |until| self.check_at.min(until)),
        )
    }

    /// Called on every wakeup of the loop with the count of client requests so far; what to
    /// switch to, if anything.
    pub fn on_wakeup(&mut self, now: Instant, requests: u64) -> Option<Switch> {
        let mut late_now = None;
        if !self.watching() {
            // Untimed: a wakeup long after the last says nothing. Timing starts afresh.
            self.check_at = now + self.threshold;
        } else if now >= self.check_at {
            let late = now - self.check_at;
            self.stats.max_late = self.stats.max_late.max(late);
            self.check_at = now + self.threshold;
            if late > self.threshold {
                self.stats.late_wakeups += 1;
                self.starved_until = Some(now + HOLD);
                late_now = Some(late);
            }
        }
        let mut rate = None;
        if now >= self.window.0 + WINDOW {
            let r = requests.saturating_sub(self.window.1) as f64 / (now - self.window.0).as_secs_f64();
            self.window = (now, requests);
            if r > BUSY_REQUESTS {
                self.busy = true;
            } else if r < QUIET_REQUESTS {
                self.busy = false;
            }
            rate = Some(r);
        }
        let starved = self.starved_until.is_some_and(|until| now < until);
        let held_over = self.starved_until.is_some() && !starved;
        if held_over {
            self.starved_until = None;
        }
        let want = starved || !self.busy;
        if want == self.realtime {
            return None;
        }
        self.realtime = want;
        Some(match (late_now, rate) {
            (Some(late), _) => {
                self.stats.starved += 1;
                Switch::Starved { late }
            }
            (None, Some(rate)) if want => Switch::Quiet { rate },
            (None, Some(rate)) => {
                self.stats.busy += 1;
                Switch::Busy { rate }
            }
            (None, None) => {
                debug_assert!(held_over && !want, "only the hold's end switches without a sample");
                self.stats.busy += 1;
                Switch::HoldOver
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: Duration = Duration::from_millis(1650);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    /// A daemon whose clients make `rate` requests a second, woken at every deadline of the
    /// governor (and `late` past it); the switches it was told.
    struct Run {
        governor: Governor,
        now: Instant,
        requests: f64,
    }

    impl Run {
        fn new() -> Self {
            let now = Instant::now();
            Run {
                governor: Governor::new(TOKEN, now, 0),
                now,
                requests: 0.0,
            }
        }

        fn wake_at(&mut self, at: Instant, rate: f64) -> Option<Switch> {
            self.requests += (at - self.now).as_secs_f64() * rate;
            self.now = at;
            self.governor.on_wakeup(at, self.requests as u64)
        }

        fn run_for(&mut self, d: Duration, rate: f64, late: Duration) -> Vec<Switch> {
            let end = self.now + d;
            let mut switches = Vec::new();
            while self.now < end {
                // Untimed, the loop is still woken by the token now and then.
                let next = self.governor.deadline().unwrap_or(self.now + ms(200));
                let at = (next + late).min(end);
                switches.extend(self.wake_at(at, rate));
            }
            switches
        }
    }

    #[test]
    fn threshold_is_a_sixteenth_of_the_token_but_not_below_the_floor() {
        let t0 = Instant::now();
        assert_eq!(Governor::new(TOKEN, t0, 0).threshold(), TOKEN / 16);
        assert_eq!(Governor::new(ms(100), t0, 0).threshold(), MIN_THRESHOLD);
    }

    #[test]
    fn a_daemon_with_quiet_clients_stays_real_time() {
        let mut r = Run::new();
        assert!(r.governor.is_realtime());
        assert_eq!(r.run_for(ms(60_000), 1000.0, ms(5)), []);
        assert!(r.governor.is_realtime());
        assert_eq!(r.governor.deadline(), None, "an idle daemon sleeps undisturbed");
        assert_eq!(r.governor.stats().late_wakeups, 0);
    }

    #[test]
    fn busy_clients_step_the_daemon_down_and_quiet_ones_back_up() {
        let mut r = Run::new();
        let down = r.run_for(ms(1500), 150_000.0, Duration::ZERO);
        assert!(
            matches!(down[..], [Switch::Busy { rate }] if rate > 149_000.0),
            "{down:?}"
        );
        assert!(!r.governor.is_realtime());
        // Between the bounds: no change either way.
        assert_eq!(r.run_for(ms(10_000), 3000.0, Duration::ZERO), []);
        let up = r.run_for(ms(2000), 1000.0, Duration::ZERO);
        assert!(matches!(up[..], [Switch::Quiet { .. }]), "{up:?}");
        assert_eq!(r.run_for(ms(10_000), 3000.0, Duration::ZERO), []);
        assert!(r.governor.is_realtime());
        assert_eq!(r.governor.stats().busy, 1);
    }

    #[test]
    fn a_late_wakeup_promotes_the_daemon_of_busy_clients_for_the_hold() {
        let mut r = Run::new();
        r.run_for(ms(1500), 90_000.0, Duration::ZERO);
        assert!(!r.governor.is_realtime());
        let at = r.governor.deadline().unwrap() + ms(300);
        assert_eq!(r.wake_at(at, 90_000.0), Some(Switch::Starved { late: ms(300) }));
        // Busy all along, but real-time until the hold is over…
        assert_eq!(r.run_for(HOLD - ms(1), 90_000.0, Duration::ZERO), []);
        assert!(r.governor.is_realtime());
        // …then back to the normal policy.
        assert_eq!(r.run_for(ms(1000), 90_000.0, Duration::ZERO), [Switch::HoldOver]);
        let s = r.governor.stats();
        assert_eq!((s.starved, s.late_wakeups, s.busy), (1, 1, 2));
    }

    #[test]
    fn late_again_while_real_time_extends_the_hold() {
        let mut r = Run::new();
        r.run_for(ms(1500), 90_000.0, Duration::ZERO);
        let t1 = r.governor.deadline().unwrap() + ms(500);
        assert!(matches!(r.wake_at(t1, 90_000.0), Some(Switch::Starved { .. })));
        let t2 = t1 + ms(200_000);
        // Not woken since t1: 200 s late, and already real-time.
        assert_eq!(r.wake_at(t2, 90_000.0), None);
        assert_eq!(r.run_for(HOLD - ms(1), 90_000.0, Duration::ZERO), []);
        assert!(r.governor.is_realtime());
        assert_eq!(r.governor.stats().late_wakeups, 2);
        assert_eq!(r.governor.stats().starved, 1);
    }

    #[test]
    fn a_quiet_daemon_sleeping_long_is_not_starved() {
        let mut r = Run::new();
        let at = r.now + ms(10_000);
        assert_eq!(r.wake_at(at, 0.0), None);
        // Busy clients from then on: timing starts at that wakeup, not before.
        assert!(matches!(
            r.run_for(ms(1500), 90_000.0, Duration::ZERO)[..],
            [Switch::Busy { .. }]
        ));
        assert_eq!(r.governor.stats().late_wakeups, 0);
        assert!(r.governor.deadline().is_some());
    }

    #[test]
    fn busy_wakeups_between_deadlines_are_not_late() {
        let mut r = Run::new();
        // A loop woken every 7 µs by traffic: every check is within a few µs of its deadline.
        for _ in 0..200_000 {
            let at = r.now + Duration::from_micros(7);
            r.wake_at(at, 1000.0);
        }
        assert_eq!(r.governor.stats().late_wakeups, 0);
        assert!(r.governor.stats().max_late < Duration::from_micros(7));
    }
}

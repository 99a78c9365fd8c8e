//! When to run at real-time priority (`system.sched_rr: auto`, ferrosync's default).
//!
//! Corosync runs at `SCHED_RR` all the time so that a machine saturated by other work cannot
//! hold up the token. The price is paid on every busy machine, saturated or not: a real-time
//! daemon preempts whatever runs on the core it wakes on, usually its own client's, so a
//! client's request and the daemon's answer take turns on one core instead of running side
//! by side (measured: 64-byte CPG 149–160k msgs/s at real-time priority against 373–395k at
//! the normal one, three daemons on two cores; the README's CPG section).
//!
//! So the daemon starts at the normal policy and watches for what real-time priority is there
//! to prevent: its loop not running on time. It asks to be woken every `threshold`; a wakeup
//! later than `threshold` past its deadline means the daemon was runnable, or should have
//! been, but did not get a CPU (a busy loop iteration is bounded far below: datagrams are read
//! in bursts of 256). Then it switches to `SCHED_RR` and stays there until `hold` has passed
//! without another late wakeup. A first late wakeup is survived by the protocol: the
//! threshold is a sixteenth of the token timeout, and the token is retransmitted after about a
//! quarter of it.
//!
//! Pure: the loop passes `now` and applies what [`StarvationWatch::on_wakeup`] returns.

use std::time::{Duration, Instant};

/// How long the daemon stays at real-time priority after its last late wakeup.
pub const REALTIME_HOLD: Duration = Duration::from_secs(300);
/// The late-wakeup threshold as a fraction of the token timeout.
pub const TOKEN_FRACTION: u32 = 16;
/// The threshold is never below this (a short token on a busy machine would promote the
/// daemon for ordinary scheduling noise).
pub const MIN_THRESHOLD: Duration = Duration::from_millis(20);

/// What the loop should do with its scheduling class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Switch {
    /// Go to `SCHED_RR`: a wakeup came `late` past its deadline.
    ToRealtime { late: Duration },
    /// Back to the normal policy: `hold` passed without a late wakeup.
    ToNormal,
}

/// Which class the watch believes the daemon is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Normal,
    /// Real-time until this instant unless another late wakeup extends it.
    Realtime {
        until: Instant,
    },
}

/// Counters for the statistics map.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StarvationStats {
    /// Switches to real-time priority so far.
    pub promotions: u64,
    /// Wakeups later than the threshold so far (including those while real-time).
    pub late_wakeups: u64,
    /// The latest wakeup seen, past its deadline.
    pub max_late: Duration,
}

/// Promotes the daemon to real-time priority when its loop runs late (see the module docs).
#[derive(Debug, Clone)]
pub struct StarvationWatch {
    threshold: Duration,
    hold: Duration,
    class: Class,
    /// When the loop asked to be woken at the latest.
    check_at: Instant,
    stats: StarvationStats,
}

impl StarvationWatch {
    /// A watch for a ring with this token timeout, starting at the normal policy at `now`.
    pub fn new(token_timeout: Duration, hold: Duration, now: Instant) -> Self {
        let threshold = (token_timeout / TOKEN_FRACTION).max(MIN_THRESHOLD);
        Self {
            threshold,
            hold,
            class: Class::Normal,
            check_at: now + threshold,
            stats: StarvationStats::default(),
        }
    }

    pub fn threshold(&self) -> Duration {
        self.threshold
    }

    pub fn class(&self) -> Class {
        self.class
    }

    pub fn stats(&self) -> StarvationStats {
        self.stats
    }

    /// The loop must wake by then (a timeout of its `epoll_wait`).
    pub fn deadline(&self) -> Instant {
        match self.class {
            Class::Normal => self.check_at,
            Class::Realtime { until } => self.check_at.min(until),
        }
    }

    /// Called on every wakeup of the loop; what to switch to, if anything.
    pub fn on_wakeup(&mut self, now: Instant) -> Option<Switch> {
        let mut late_now = None;
        if now >= self.check_at {
            let late = now - self.check_at;
            self.stats.max_late = self.stats.max_late.max(late);
            self.check_at = now + self.threshold;
            if late > self.threshold {
                self.stats.late_wakeups += 1;
                late_now = Some(late);
            }
        }
        match (self.class, late_now) {
            (Class::Normal, Some(late)) => {
                self.class = Class::Realtime { until: now + self.hold };
                self.stats.promotions += 1;
                Some(Switch::ToRealtime { late })
            }
            (Class::Realtime { .. }, Some(_)) => {
                self.class = Class::Realtime { until: now + self.hold };
                None
            }
            (Class::Realtime { until }, None) if now >= until => {
                self.class = Class::Normal;
                Some(Switch::ToNormal)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: Duration = Duration::from_millis(1650);
    const HOLD: Duration = Duration::from_secs(300);

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn threshold_is_a_sixteenth_of_the_token_but_not_below_the_floor() {
        let t0 = Instant::now();
        assert_eq!(StarvationWatch::new(TOKEN, HOLD, t0).threshold(), TOKEN / 16);
        assert_eq!(StarvationWatch::new(ms(100), HOLD, t0).threshold(), MIN_THRESHOLD);
    }

    #[test]
    fn wakeups_on_time_or_early_never_switch() {
        let t0 = Instant::now();
        let mut w = StarvationWatch::new(TOKEN, HOLD, t0);
        let mut now = t0;
        for step in 0..10_000u64 {
            // Busy loop: wakeups every few µs; and idle ones at the deadline, a bit late.
            now += if step % 100 == 0 {
                w.deadline() - now + ms(5)
            } else {
                Duration::from_micros(7)
            };
            assert_eq!(w.on_wakeup(now), None);
        }
        assert_eq!(w.class(), Class::Normal);
        assert_eq!(w.stats().promotions, 0);
        assert_eq!(w.stats().max_late, ms(5));
    }

    #[test]
    fn a_late_wakeup_promotes_and_the_hold_demotes() {
        let t0 = Instant::now();
        let mut w = StarvationWatch::new(TOKEN, HOLD, t0);
        let late = w.threshold() + ms(1);
        let t1 = w.deadline() + late;
        assert_eq!(w.on_wakeup(t1), Some(Switch::ToRealtime { late }));
        assert_eq!(w.class(), Class::Realtime { until: t1 + HOLD });
        // At real-time priority: the watch still wakes the loop, to know when to step down.
        let mut now = t1;
        while now + w.threshold() < t1 + HOLD {
            now = w.deadline();
            assert_eq!(w.on_wakeup(now), None);
        }
        now = w.deadline();
        assert!(now >= t1 + HOLD);
        assert_eq!(w.on_wakeup(now), Some(Switch::ToNormal));
        assert_eq!(w.class(), Class::Normal);
        assert_eq!(w.stats().promotions, 1);
    }

    #[test]
    fn late_again_while_realtime_extends_the_hold() {
        let t0 = Instant::now();
        let mut w = StarvationWatch::new(TOKEN, HOLD, t0);
        let t1 = w.deadline() + ms(500);
        assert!(matches!(w.on_wakeup(t1), Some(Switch::ToRealtime { .. })));
        let t2 = t1 + ms(200_000);
        // Not checked since t1: 200 s late.
        assert_eq!(w.on_wakeup(t2), None);
        assert_eq!(w.class(), Class::Realtime { until: t2 + HOLD });
        assert_eq!(w.stats().late_wakeups, 2);
        assert_eq!(w.stats().promotions, 1);
        assert_eq!(w.stats().max_late, t2 - (t1 + w.threshold()));
    }
}

//! How soon to retransmit a token we forwarded: from the measured rotation time, not
//! only corosync's fixed `token_retransmit` (token / 4.2, ≈ 0.87 s at the defaults).
//!
//! A lost token stalls the whole ring until someone resends it; at 5 % loss that is
//! every twentieth hop, so with the fixed timer corosync spends most of its time waiting
//! (median latency ≈ 0.5 s). We resend when the token has not come back within twice the
//! usual rotation (plus a millisecond of slack), doubling the wait on each retry up to the
//! configured timer. A needless resend costs one small datagram: the receiver drops it by
//! its `token_seq`, as corosync does, so the wire format is unchanged.
//!
//! The usual rotation is the median of the recent ones: rotations in which the
//! representative held an idle token take the hold time and would inflate a mean; the
//! median follows a ring that turns busy within a few rotations. The samples outlive a
//! configuration change: the commit token and the new ring's first rotations are timed
//! by the old ring's figure (a ring of other size is off by a factor that the doubling
//! absorbs), where none at all would leave a lost commit token to the configured timer.

use std::time::Duration;

/// Rotations remembered.
const WINDOW: usize = 16;
/// Added to twice the median: scheduling noise on a loaded host.
const SLACK: Duration = Duration::from_millis(1);

#[derive(Clone, Debug, Default)]
pub(crate) struct RotationClock {
    samples: [Duration; WINDOW],
    len: usize,
    next: usize,
}

impl RotationClock {
    /// One measured rotation: from our forwarding of the token to its return.
    pub(crate) fn sample(&mut self, rotation: Duration) {
        self.samples[self.next] = rotation;
        self.next = (self.next + 1) % WINDOW;
        self.len = (self.len + 1).min(WINDOW);
    }

    fn median(&self) -> Option<Duration> {
        if self.len == 0 {
            return None;
        }
        let mut s = self.samples;
        let s = &mut s[..self.len];
        s.sort_unstable();
        Some(s[self.len / 2])
    }

    /// Wait before retransmission number `attempt` (0 = the first) of a token, never longer
    /// than `cap` (the configured `token_retransmit`). Without samples: `cap`.
    pub(crate) fn retransmit_after(&self, attempt: u32, cap: Duration) -> Duration {
        let Some(median) = self.median() else {
            return cap;
        };
        let base = median.saturating_mul(2).saturating_add(SLACK);
        base.saturating_mul(1u32 << attempt.min(16)).min(cap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: Duration = Duration::from_millis(869);

    #[test]
    fn without_samples_the_configured_timer() {
        assert_eq!(RotationClock::default().retransmit_after(0, CAP), CAP);
    }

    #[test]
    fn twice_the_median_plus_slack_doubling_to_the_cap() {
        let mut c = RotationClock::default();
        for _ in 0..5 {
            c.sample(Duration::from_micros(500));
        }
        assert_eq!(c.retransmit_after(0, CAP), Duration::from_millis(2));
        assert_eq!(c.retransmit_after(1, CAP), Duration::from_millis(4));
        assert_eq!(c.retransmit_after(9, CAP), CAP);
        assert_eq!(c.retransmit_after(40, CAP), CAP);
    }

    #[test]
    fn held_rotations_do_not_move_the_median_of_a_busy_ring() {
        let mut c = RotationClock::default();
        for i in 0..WINDOW {
            c.sample(if i % 4 == 0 {
                Duration::from_millis(680)
            } else {
                Duration::from_micros(400)
            });
        }
        assert_eq!(c.retransmit_after(0, CAP), Duration::from_micros(1800));
    }

    #[test]
    fn an_idle_ring_keeps_the_configured_timer_and_a_busy_one_takes_over_quickly() {
        let mut c = RotationClock::default();
        for _ in 0..WINDOW {
            c.sample(Duration::from_millis(700));
        }
        assert_eq!(c.retransmit_after(0, CAP), CAP);
        for _ in 0..WINDOW / 2 + 1 {
            c.sample(Duration::from_micros(300));
        }
        assert_eq!(c.retransmit_after(0, CAP), Duration::from_micros(1600));
    }
}

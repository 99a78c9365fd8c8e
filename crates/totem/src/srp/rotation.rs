//! How soon to retransmit a token we forwarded: from the measured rotation time, not
//! only corosync's fixed `token_retransmit` (token / 4.2, ≈ 0.87 s at the defaults).
//!
//! A lost token stalls the whole ring until someone resends it; at 5 % loss that is
//! every twentieth hop, so with the fixed timer corosync spends most of its time waiting
//! (median latency ≈ 0.5 s). We resend when the token has not come back (nor anything
//! proved it passed on) within twice the usual hop (a rotation divided by the ring's size,
//! plus a millisecond of slack), doubling the wait on each retry up to the configured
//! timer. A needless resend costs one small datagram: the receiver drops it by its
//! `token_seq`, as corosync does, so the wire format is unchanged. Hold cancels, which
//! wait for the token's return, go by the rotation.
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
    rotations: MedianWindow,
    /// The same rotations divided by the ring's size: one hop each.
    hops: MedianWindow,
    /// Of our last [`WINDOW`] forwarded tokens, which needed a resend before the token
    /// came back (bit 0 the latest).
    resent: u16,
}

/// The last [`WINDOW`] durations, also kept sorted: the median is read at every token we
/// forward, and sorting the window each time was a sixth of an idle ring's user-space
/// instructions per hop.
#[derive(Clone, Debug, Default)]
struct MedianWindow {
    /// In arrival order, a ring buffer from `next`.
    arrived: [Duration; WINDOW],
    sorted: [Duration; WINDOW],
    len: usize,
    next: usize,
}

impl MedianWindow {
    fn push(&mut self, d: Duration) {
        if self.len == WINDOW {
            let gone = self.arrived[self.next];
            let at = self.sorted[..self.len].partition_point(|x| *x < gone);
            debug_assert_eq!(self.sorted[at], gone);
            self.sorted.copy_within(at + 1..self.len, at);
            self.len -= 1;
        }
        self.arrived[self.next] = d;
        self.next = (self.next + 1) % WINDOW;
        let at = self.sorted[..self.len].partition_point(|x| *x <= d);
        self.sorted.copy_within(at..self.len, at + 1);
        self.sorted[at] = d;
        self.len += 1;
    }

    fn median(&self) -> Option<Duration> {
        (self.len > 0).then(|| self.sorted[self.len / 2])
    }
}

impl RotationClock {
    /// One measured rotation: from our forwarding of the token to its return.
    pub(crate) fn sample(&mut self, rotation: Duration, ring_size: usize) {
        self.rotations.push(rotation);
        self.hops.push(rotation / ring_size.clamp(1, u32::MAX as usize) as u32);
    }

    /// The token we forwarded came back; `resent`: only after we resent it.
    pub(crate) fn returned(&mut self, resent: bool) {
        self.resent = (self.resent << 1) | u16::from(resent);
    }

    /// Whether tokens are lost often enough that a rotation of `ring_size` hops is likely
    /// to lose one: at least one resend in the last [`WINDOW`] per `WINDOW / ring_size`.
    /// Then a lost token must be resent on the fast schedule even on an idle ring.
    pub(crate) fn lossy(&self, ring_size: usize) -> bool {
        self.resent.count_ones() as usize * ring_size >= WINDOW
    }

    fn median(&self) -> Option<Duration> {
        self.rotations.median()
    }

    /// Wait before retransmission number `attempt` (0 = the first) of a token we
    /// forwarded: twice the usual hop plus [`SLACK`], doubling on each retry, never longer
    /// than `cap`. Without samples: `cap`.
    ///
    /// A hop, not a rotation: a rotation that lost the token somewhere took that hop's
    /// retransmission wait too (Karn's rule only drops the rotations that needed *our*
    /// resend), so under loss the median rotation contains resend waits. Were the wait
    /// twice the rotation, each lost hop would add twice the median to the next samples
    /// and the estimate would grow without bound once half the rotations lose a hop (about
    /// 2 % loss at 32 nodes): 0.4 s waits, rotations over the token timeout, and a ring
    /// re-formed with no fault (seed 70000158 at 32 nodes). Per hop, `k` lost hops of `n`
    /// add `2k/n` hops each: the estimate settles at `1 / (1 - 2·loss)` of the loss-free one.
    pub(crate) fn hop_retransmit_after(&self, attempt: u32, cap: Duration) -> Duration {
        let Some(hop) = self.hops.median() else {
            return cap;
        };
        let base = hop.saturating_mul(2).saturating_add(SLACK);
        base.saturating_mul(1u32 << attempt.min(16)).min(cap)
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
    fn lossy_once_a_rotation_is_likely_to_lose_a_hop() {
        let mut c = RotationClock::default();
        assert!(!c.lossy(32));
        c.returned(true);
        assert!(c.lossy(16) && c.lossy(32), "1 in 16 at 16 hops a rotation");
        assert!(!c.lossy(3));
        for _ in 0..4 {
            c.returned(true);
        }
        assert!(!c.lossy(3), "5 in 16 at 3 hops: under one a rotation");
        c.returned(true);
        assert!(c.lossy(3));
        for _ in 0..WINDOW {
            c.returned(false);
        }
        assert!(!c.lossy(32), "forgotten after a window of clean returns");
    }

    #[test]
    fn median_is_the_middle_of_the_last_window_sorted() {
        let mut w = MedianWindow::default();
        assert_eq!(w.median(), None);
        let mut all = Vec::new();
        // Distinct and repeated values in a scrambled order, past several windows.
        for i in 0..5 * WINDOW as u64 {
            let d = Duration::from_micros(i * 7 % 11 + i % 3);
            w.push(d);
            all.push(d);
            let mut last: Vec<Duration> = all.iter().rev().take(WINDOW).copied().collect();
            last.sort();
            assert_eq!(w.median(), Some(last[last.len() / 2]), "after {} samples", all.len());
            assert_eq!(&w.sorted[..w.len], &last[..]);
        }
    }

    #[test]
    fn without_samples_the_configured_timer() {
        assert_eq!(RotationClock::default().retransmit_after(0, CAP), CAP);
    }

    #[test]
    fn twice_the_median_plus_slack_doubling_to_the_cap() {
        let mut c = RotationClock::default();
        for _ in 0..5 {
            c.sample(Duration::from_micros(500), 1);
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
            c.sample(
                if i % 4 == 0 {
                    Duration::from_millis(680)
                } else {
                    Duration::from_micros(400)
                },
                1,
            );
        }
        assert_eq!(c.retransmit_after(0, CAP), Duration::from_micros(1800));
    }

    #[test]
    fn an_idle_ring_keeps_the_configured_timer_and_a_busy_one_takes_over_quickly() {
        let mut c = RotationClock::default();
        for _ in 0..WINDOW {
            c.sample(Duration::from_millis(700), 1);
        }
        assert_eq!(c.retransmit_after(0, CAP), CAP);
        for _ in 0..WINDOW / 2 + 1 {
            c.sample(Duration::from_micros(300), 1);
        }
        assert_eq!(c.retransmit_after(0, CAP), Duration::from_micros(1600));
    }

    #[test]
    fn per_hop_for_a_forwarded_token() {
        let mut c = RotationClock::default();
        assert_eq!(c.hop_retransmit_after(0, CAP), CAP);
        for _ in 0..5 {
            c.sample(Duration::from_millis(16), 32);
        }
        assert_eq!(c.hop_retransmit_after(0, CAP), Duration::from_millis(2));
        assert_eq!(c.hop_retransmit_after(2, CAP), Duration::from_millis(8));
        assert_eq!(c.hop_retransmit_after(9, CAP), CAP);
        // The rotation-based wait (hold cancels) is unchanged.
        assert_eq!(c.retransmit_after(0, CAP), Duration::from_millis(33));
    }

    #[test]
    fn lost_hops_elsewhere_do_not_feed_back() {
        // 32 hops of 0.5 ms; every rotation loses k hops, each costing the current wait
        // (2 ms without loss): it settles at hop = (0.5 + k/32) / (1 - 2k/32) ms.
        for (k, limit_us) in [(1u32, 2300), (3, 2800), (6, 3300)] {
            let mut c = RotationClock::default();
            c.sample(Duration::from_millis(16), 32);
            for _ in 0..200 {
                let wait = c.hop_retransmit_after(0, CAP);
                c.sample(Duration::from_millis(16) + wait * k, 32);
            }
            let settled = c.hop_retransmit_after(0, CAP);
            assert!(
                settled < Duration::from_micros(limit_us),
                "{k} lost hops a rotation: {settled:?}"
            );
        }
    }
}

//! The protocol's timers as plain deadlines; the host learns the earliest through
//! `poll_timeout` and calls `handle_timeout` once it has passed.

use crate::time::Instant;

/// The timers of corosync's totemsrp that matter on the protocol path.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// No token seen for `token`: the token (or a member) is lost.
    TokenLoss = 0,
    /// Resend the last token/commit token.
    TokenRetransmit = 1,
    /// Release the token held by the idle representative.
    Hold = 2,
    /// Idle representative announces its ring.
    MergeDetect = 3,
    /// Resend the join in GATHER.
    Join = 4,
    /// Consensus deadline in GATHER.
    Consensus = 5,
    /// In GATHER: give up early on nodes that sent nothing while the rest agree.
    Silent = 6,
    /// Our token hold cancel may have been lost: the token has not come since.
    HoldCancel = 7,
}

const COUNT: usize = 8;
const ALL: [Timer; COUNT] = [
    Timer::TokenLoss,
    Timer::TokenRetransmit,
    Timer::Hold,
    Timer::MergeDetect,
    Timer::Join,
    Timer::Consensus,
    Timer::Silent,
    Timer::HoldCancel,
];

#[derive(Clone, Debug, Default)]
pub(crate) struct Timers {
    deadlines: [Option<Instant>; COUNT],
}

impl Timers {
    pub(crate) fn set(&mut self, timer: Timer, at: Instant) {
        self.deadlines[timer as usize] = Some(at);
    }

    pub(crate) fn cancel(&mut self, timer: Timer) {
        self.deadlines[timer as usize] = None;
    }

    pub(crate) fn is_set(&self, timer: Timer) -> bool {
        self.deadlines[timer as usize].is_some()
    }

    pub(crate) fn deadline(&self, timer: Timer) -> Option<Instant> {
        self.deadlines[timer as usize]
    }

    pub(crate) fn cancel_all(&mut self) {
        self.deadlines = [None; COUNT];
    }

    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.iter().flatten().min().copied()
    }

    /// The earliest expired timer (ties broken by timer order), cleared before it is returned.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<Timer> {
        let (timer, _) = ALL
            .iter()
            .filter_map(|&t| self.deadlines[t as usize].filter(|&d| d <= now).map(|d| (t, d)))
            .min_by_key(|&(t, d)| (d, t))?;
        self.deadlines[timer as usize] = None;
        Some(timer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earliest_first_and_cleared() {
        let mut t = Timers::default();
        t.set(Timer::Join, Instant::from_nanos(50));
        t.set(Timer::TokenLoss, Instant::from_nanos(100));
        assert_eq!(t.next_deadline(), Some(Instant::from_nanos(50)));
        assert_eq!(t.pop_expired(Instant::from_nanos(40)), None);
        assert_eq!(t.pop_expired(Instant::from_nanos(200)), Some(Timer::Join));
        assert_eq!(t.pop_expired(Instant::from_nanos(200)), Some(Timer::TokenLoss));
        assert_eq!(t.pop_expired(Instant::from_nanos(200)), None);
        assert!(!t.is_set(Timer::Join));
    }
}

//! No unjustified exclusions: a node that was in a node's last regular configuration and
//! is missing from its next one must have given a reason in the preceding token +
//! consensus timeout — it crashed, left or restarted, it was paused for a good part of a
//! token timeout, some link was cut, datagrams were being lost at random, it or another
//! node was slowed down and fell behind (its receive buffer overflowed or held datagrams
//! for as long as such a pause: it hears everyone late, as over cut links), or it failed
//! to receive (corosync's "FAILED TO
//! RECEIVE", a legitimate exclusion) — or the node that installed the configuration did
//! (a node stopped for long finds everyone else gone), or some other node crashed, left
//! or restarted meanwhile. A node that stayed up, was never stopped for long and could
//! reach everyone must stay a member: under Pacemaker an exclusion means fencing.
//!
//! A pause shorter than [`PAUSE_EXCUSE`] of the token timeout excuses nothing: the
//! failure detector gives a member up early only after it has been silent for the token
//! timeout (plus two join intervals), a stopped node was last heard at most about two
//! rotations before it stopped (an idle ring's rotation includes the representative's
//! hold, about a fifth of the token), and a token lost at a stopped node starts a
//! GATHER that may reach the consensus timeout.
//!
//! Faults count from the installer's previous regular configuration on, or from token +
//! consensus before, whichever is earlier: a membership round may take several
//! consensus timeouts, and what started it counts.

use std::time::Duration;

use totem::{ConfigurationKind, Instant, NodeId};

use super::Invariant;
use crate::history::{Disturbance, Entry, History, IncIdx, Span};

/// The shortest pause, as a fraction of the token timeout, that may cost a membership.
pub const PAUSE_EXCUSE: f64 = 0.4;

#[derive(Default)]
pub struct JustifiedExclusion {
    /// Each incarnation's last regular configuration: when, and its members.
    last: Vec<Option<(Instant, Vec<NodeId>)>>,
}

impl Invariant for JustifiedExclusion {
    fn name(&self) -> &'static str {
        "justified_exclusion"
    }

    fn observe(&mut self, h: &History, who: IncIdx, entry: &Entry) -> Result<(), String> {
        let Entry::Config { at, change } = entry else {
            return Ok(());
        };
        if change.kind != ConfigurationKind::Regular {
            return Ok(());
        }
        if self.last.len() <= who {
            self.last.resize(who + 1, None);
        }
        let previous = self.last[who].replace((*at, change.members.clone()));
        let (Some((since, previous)), Some(timing)) = (previous, h.timing) else {
            return Ok(());
        };
        let me = h.incs[who].node;
        let w = Window {
            start: Instant::from_nanos(
                at.as_nanos()
                    .saturating_sub((timing.token + timing.consensus).as_nanos() as u64),
            ),
            round: since,
            end: *at,
            excused_pause: timing.token.mul_f64(PAUSE_EXCUSE),
            token: timing.token,
        };
        // The installer's own stop (it finds everyone else gone) excuses it too, even one
        // that ended up to a token before its previous configuration: a node resuming
        // delivers the configuration it had reached before the stop at once, and the
        // verdicts made on it meanwhile stay in the others' joins for the whole round.
        // (Seed 2 at 32 nodes: n14, stopped until 7.7476 s, delivered its old ring then,
        // was left out by the others, and formed a ring of its own 3.5 s later.)
        let installer_excused = unexcused(h, me, &w).is_none() || stopped_before(h, me, since, &w);
        for &gone in previous.iter().filter(|n| **n != me && !change.members.contains(n)) {
            if installer_excused {
                return Ok(());
            }
            if let Some(why) = unexcused(h, gone, &w) {
                return Err(format!(
                    "{} installed ring {} at {at} without n{gone}, which {why}",
                    super::name(h, who),
                    change.ring_id
                ));
            }
        }
        Ok(())
    }
}

/// Where to look for an excuse.
struct Window {
    /// Token + consensus before the configuration.
    start: Instant,
    /// The previous regular configuration: a fault since then may have started the
    /// membership round that ends here, however long it took.
    round: Instant,
    end: Instant,
    excused_pause: Duration,
    token: Duration,
}

/// When `node`, stopped over `pause`, last had a chance to be heard: the start of its
/// pause, or earlier if it stopped in a stalled ring before anyone could notice the token
/// loss — another node stopped for at least the token timeout (the token is lost at it)
/// was stopped from at most a token timeout before `node` stopped until then. In a
/// stalled ring nobody speaks until its token timer expires, so to everyone else `node`
/// has been silent since that other node stopped. (Seed 6 at 4 nodes: the ring stalled at
/// a node stopped for 1.8 s; another stopped for 237 ms 17 ms before the token loss began
/// a GATHER, and its last token was 0.9 s old.)
fn stalled_since(h: &History, node: NodeId, pause: &Span, token: Duration) -> Instant {
    h.disturbances
        .iter()
        .filter(|s| matches!(s.what, Disturbance::Pause(m) if m != node))
        .filter(|s| s.from <= pause.from && s.from + token >= pause.from)
        .filter(|s| s.to.is_none_or(|to| to >= pause.from && to - s.from >= token))
        .map(|s| s.from)
        .fold(pause.from, Instant::min)
}

/// Whether `node` had been stopped for at least the excused pause until at most a token
/// before `since`.
fn stopped_before(h: &History, node: NodeId, since: Instant, w: &Window) -> bool {
    h.disturbances.iter().any(|s| {
        matches!(s.what, Disturbance::Pause(n) if n == node)
            && s.to
                .is_some_and(|to| to <= since && to + w.token >= since && to - s.from >= w.excused_pause)
    })
}

/// Why excluding `node` was not justified, or `None` if it was.
fn unexcused(h: &History, node: NodeId, w: &Window) -> Option<String> {
    let alive_throughout = h
        .incs
        .iter()
        .any(|inc| inc.node == node && inc.started <= w.start && inc.ended.is_none_or(|(ended, _)| ended > w.end));
    if !alive_throughout {
        return None;
    }
    let mut longest_pause = Duration::ZERO;
    let from = w.start.min(w.round);
    // Others crashing or restarting: joins from new lives that know nobody, commit
    // tokens lost with a crashed member, consensus timeouts that give up on whoever
    // disagrees (corosync's rule). Known weakness: without this excuse, 1 of 2,000
    // seeds (924) excludes a live node after 12 crashes in 7 s.
    let churn = h.incs.iter().any(|inc| {
        inc.node != node
            && ((inc.inc > 0 && inc.started > from && inc.started <= w.end)
                || inc.ended.is_some_and(|(t, _)| t > from && t <= w.end))
    });
    if churn {
        return None;
    }
    for span in &h.disturbances {
        match span.what {
            Disturbance::Cut | Disturbance::Lossy => {
                if !span.overlap(from, w.end).is_zero() {
                    return None;
                }
            }
            // A node, slowed down, fell behind: its receive buffer overflowed (it lost
            // tokens, joins or commit tokens) or held datagrams for as long as an
            // excusable pause. It may be failed (seeds 93005507 and 93017517: a node
            // handling one datagram per 4.5 ms with 512 in its buffer lagged up to 2.3 s
            // and was left out). And it hears everyone late, as if its incoming links
            // were cut: its verdicts on live nodes are made in good faith, and its
            // ring-mates adopt them as corosync's do (memb_join_process merges a
            // ring-mate's failed list), so it excuses exclusions like a cut link does.
            // (Seed 96000096: n5, reading its socket a second late, failed six live
            // nodes in a join; the others took its word on some of them and split.)
            Disturbance::Backlog(_) => {
                if !span.overlap(from, w.end).is_zero() {
                    return None;
                }
            }
            // A pause going on at the exclusion counts whole: the node was not coming back
            // soon, and corosync too would have given up on it after `consensus`.
            Disturbance::Pause(n) if n == node => {
                let end = span.to.unwrap_or(w.end).max(w.end);
                let silent = Span {
                    from: stalled_since(h, node, span, w.token),
                    ..*span
                };
                longest_pause = longest_pause.max(silent.overlap(from, end));
            }
            Disturbance::Pause(_) => {}
            // corosync's "FAILED TO RECEIVE": the node gives up on everyone, and they on it
            // (with a small `fail_recv_const`, one message lost until it had been missed
            // `miss_count_const` times is enough: seed 1686).
            Disturbance::ReceiveFailure(n) => {
                if n == node && span.from >= from && span.from <= w.end {
                    return None;
                }
            }
        }
    }
    if longest_pause >= w.excused_pause {
        return None;
    }
    Some(format!(
        "stayed up and reachable since {from} (longest pause {longest_pause:?}, under {:?})",
        w.excused_pause
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::craft::{regular, ring};
    use crate::history::Timing;
    use crate::invariants::test_util::history;

    fn at(ms: u64) -> Instant {
        Instant::from_nanos(ms * 1_000_000)
    }

    /// Three nodes that formed {1, 2, 3} at time zero; node 1 then installs {1, 2} at 5 s.
    fn check(disturbances: &[Span]) -> Result<(), String> {
        let mut h = history(3);
        h.timing = Some(Timing {
            token: Duration::from_millis(1000),
            consensus: Duration::from_millis(1200),
        });
        h.disturbances = disturbances.to_vec();
        let mut inv = JustifiedExclusion::default();
        let config_at = |entry: Entry, t: Instant| match entry {
            Entry::Config { change, .. } => Entry::Config { at: t, change },
            Entry::Deliver(_) => unreachable!(),
        };
        inv.observe(&h, 0, &config_at(regular(ring(1, 4), &[1, 2, 3], &[2, 3]), at(2900)))?;
        inv.observe(&h, 0, &config_at(regular(ring(1, 8), &[1, 2], &[]), at(5000)))
    }

    fn pause(node: NodeId, from: u64, to: u64) -> Span {
        Span {
            what: Disturbance::Pause(node),
            from: at(from),
            to: Some(at(to)),
        }
    }

    #[test]
    fn excluding_a_node_that_was_up_and_reachable_fails() {
        let err = check(&[]).unwrap_err();
        assert!(err.contains("without n3"), "{err}");
        let err = check(&[pause(3, 4500, 4800), pause(2, 3000, 4900)]).unwrap_err();
        assert!(err.contains("longest pause 300ms"), "{err}");
    }

    #[test]
    fn a_long_pause_a_cut_or_loss_in_the_window_excuses_it() {
        assert_eq!(check(&[pause(3, 4000, 4400)]), Ok(()));
        for what in [Disturbance::Cut, Disturbance::Lossy, Disturbance::Backlog(3)] {
            assert_eq!(
                check(&[Span {
                    what,
                    from: at(3000),
                    to: None
                }]),
                Ok(())
            );
        }
        // So does a third node's backlog: it heard everyone late and its verdicts spread.
        assert_eq!(
            check(&[Span {
                what: Disturbance::Backlog(2),
                from: at(3000),
                to: None
            }]),
            Ok(())
        );
        // Before the window (token + consensus = 2.2 s) it counts for nothing.
        assert!(check(&[
            pause(3, 1000, 2700),
            Span {
                what: Disturbance::Cut,
                from: at(0),
                to: Some(at(2000))
            }
        ])
        .is_err());
    }

    #[test]
    fn the_installers_stop_just_before_its_previous_configuration_excuses_it() {
        // Node 1 installed {1, 2, 3} at 2.9 s on resuming from a stop: the round that ends
        // at 5 s began with that stop.
        assert_eq!(check(&[pause(1, 2000, 2900)]), Ok(()));
        assert!(check(&[pause(1, 2750, 2900)]).is_err(), "too short a stop");
        assert!(check(&[pause(1, 1000, 1800)]).is_err(), "over a token before");
        assert!(
            check(&[pause(3, 2000, 2900)]).is_err(),
            "another node's stop before the window"
        );
    }

    #[test]
    fn a_receive_failure_of_either_side_excuses_it() {
        let failed = |node, ms| Span {
            what: Disturbance::ReceiveFailure(node),
            from: at(ms),
            to: Some(at(ms)),
        };
        assert_eq!(check(&[failed(3, 4900)]), Ok(()), "the excluded node failed to receive");
        assert_eq!(check(&[failed(1, 4900)]), Ok(()), "the installer did");
        assert!(
            check(&[failed(2, 4900)]).is_err(),
            "a third node's failure excuses nothing"
        );
        assert!(check(&[failed(3, 2000)]).is_err(), "before the window");
    }

    #[test]
    fn a_short_pause_in_a_ring_stalled_by_a_long_one_counts_from_the_stall() {
        // Node 2 stops with the token for 1.5 s (over the 1 s token timeout); node 3 stops
        // for 300 ms just before the token loss is noticed: silent since 3.5 s, not 4.4 s.
        assert_eq!(check(&[pause(2, 3500, 5000), pause(3, 4400, 4700)]), Ok(()));
        // Not when the long pause had ended (the ring ran again), nor for a short one,
        // nor when node 3 stopped after the loss was noticed (it had sent joins).
        assert!(check(&[pause(2, 3000, 4300), pause(3, 4400, 4700)]).is_err());
        assert!(check(&[pause(2, 4000, 4500), pause(3, 4400, 4700)]).is_err());
        assert!(check(&[pause(2, 3000, 5000), pause(3, 4400, 4700)]).is_err());
    }

    #[test]
    fn the_failure_detector_before_issue_13_is_caught() {
        // Seed 1144 (7 nodes): the old detector fails n2, never stopped, after
        // fail_silent_after of silence in a round; the current one waits until it has been
        // silent for a token timeout. (Seeds 386, 1562, 2048, 3011, 318, 5654, 3208 and
        // 1924 showed the same until protocol or scenario changes changed their course —
        // 386 with the refusal of outsiders' verdicts from joins naming our live members
        // failed: the seed is found with `sim --seeds 0..3000 --plant eager-silence`,
        // which gives 1144 and 2538 since.)
        let opts = |planted_bug| crate::SimOptions {
            seed: 1144,
            planted_bug,
            ..Default::default()
        };
        let old = crate::run(&opts(Some(totem::config::PlantedBug::EagerSilence)));
        let failure = old.failure.expect("the old detector excludes a live node");
        assert_eq!(failure.what, "justified_exclusion", "{failure}");
        let new = crate::run(&opts(None));
        assert!(new.passed(), "{}", new.summary());
    }

    #[test]
    fn a_crashed_or_restarted_node_may_be_left_out() {
        let mut h = history(3);
        h.timing = Some(Timing {
            token: Duration::from_millis(1000),
            consensus: Duration::from_millis(1200),
        });
        let w = Window {
            start: at(2800),
            round: at(2800),
            end: at(5000),
            excused_pause: Duration::from_millis(400),
            token: Duration::from_millis(1000),
        };
        assert!(unexcused(&h, 2, &w).is_some(), "before any churn");
        h.end(2, at(4000), crate::history::End::Crashed);
        h.start(3, at(4500));
        assert_eq!(unexcused(&h, 3, &w), None, "it restarted");
        assert_eq!(unexcused(&h, 2, &w), None, "others' churn excuses it");
    }
}

//! What corosync does at start to keep the token moving under memory and CPU pressure:
//! lock the process's memory (`mlockall`) and run at the highest round-robin real-time
//! priority. Memory is locked by default, as in corosync; real-time priority is kept except
//! while local clients are busy and the loop runs on time ([`AdaptivePriority`],
//! `system.sched_rr: auto`), or always (`sched_rr: yes`, corosync's default). Failures are
//! warnings, not errors.

use std::time::{Duration, Instant};

use crate::scheduling::{Governor, GovernorStats, Switch, HOLD};
use thread_priority::{
    set_thread_priority_and_policy, thread_native_id, RealtimeThreadSchedulePolicy, ThreadPriority,
    ThreadSchedulePolicy,
};

/// Locks current and future memory; false (and a warning) if the kernel refused.
pub fn lock_memory() -> bool {
    use nix::sys::mman::{mlockall, MlockAllFlags};
    match mlockall(MlockAllFlags::MCL_CURRENT | MlockAllFlags::MCL_FUTURE) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "Could not lock memory of service to avoid page faults");
            false
        }
    }
}

/// Switches the calling thread (the daemon's only one) to `SCHED_RR` at the highest
/// priority; false (and a warning) if that is not allowed.
pub fn realtime_priority() -> bool {
    let policy = ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::RoundRobin);
    match set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Max, policy) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = ?e, "Could not set SCHED_RR at the highest priority");
            false
        }
    }
}

/// Switches the calling thread to the normal policy (`SCHED_OTHER`), at nice value `nice` if
/// given (`system.priority`); false (and a warning) if that is not allowed.
pub fn normal_priority(nice: Option<i32>) -> bool {
    let policy = ThreadSchedulePolicy::Normal(thread_priority::NormalThreadSchedulePolicy::Other);
    // `None`: PRIO_PROCESS 0 is the calling thread on Linux.
    let target = nice.unwrap_or_else(|| rustix::process::getpriority_process(None).unwrap_or(0));
    // The crate sets a nice value with the policy: ask for the target itself, so that no step
    // lowers it (which would need a privilege that leaving real-time priority does not).
    if let Err(e) = set_thread_priority_and_policy(thread_native_id(), crate_priority_for_nice(target), policy) {
        tracing::warn!(error = ?e, nice = target, "Could not set the normal scheduling policy");
        return false;
    }
    if rustix::process::getpriority_process(None).ok() != Some(target) {
        if let Err(e) = rustix::process::setpriority_process(None, target) {
            tracing::warn!(error = %e, nice = target, "Could not set the priority");
            return false;
        }
    }
    true
}

/// The `thread_priority` value the crate maps to nice value `nice` for the normal policy
/// (its mapping: 0 → 19 … 99 → -20, in steps of 0.39), or the lowest one mapping above it.
fn crate_priority_for_nice(nice: i32) -> ThreadPriority {
    let crate_nice = |p: u8| (39.0f32 * (1.0 - f32::from(p) / 99.0)) as i32 - 20;
    let p = (0..=99u8).rev().find(|&p| crate_nice(p) >= nice).unwrap_or(0);
    ThreadPriority::Crossplatform(p.try_into().expect("0..=99 is a priority"))
}

/// `system.sched_rr: auto`: real-time priority except while the local clients are busy, and
/// always while the loop runs late ([`crate::scheduling`] decides; this applies and logs).
#[derive(Debug)]
pub struct AdaptivePriority {
    governor: Governor,
    /// The nice value of the normal policy (`system.priority`), if configured.
    nice: Option<i32>,
}

impl AdaptivePriority {
    /// Takes real-time priority now (`None` if refused: then this is of no use); the clients
    /// have made `requests` so far.
    pub fn start(token_timeout: Duration, nice: Option<i32>, now: Instant, requests: u64) -> Option<Self> {
        realtime_priority().then(|| Self {
            governor: Governor::new(token_timeout, now, requests),
            nice,
        })
    }

    pub fn deadline(&self) -> Option<Instant> {
        self.governor.deadline()
    }

    pub fn stats(&self) -> GovernorStats {
        self.governor.stats()
    }

    pub fn is_realtime(&self) -> bool {
        self.governor.is_realtime()
    }

    /// Called on every wakeup of the daemon's loop with the clients' requests so far.
    pub fn on_wakeup(&mut self, now: Instant, requests: u64) {
        let Some(switch) = self.governor.on_wakeup(now, requests) else {
            return;
        };
        match switch {
            Switch::Starved { late } => tracing::warn!(
                late_ms = late.as_millis() as u64,
                threshold_ms = self.governor.threshold().as_millis() as u64,
                hold_s = HOLD.as_secs(),
                "main loop was not scheduled on time; real-time priority (SCHED_RR) for the hold"
            ),
            Switch::HoldOver => tracing::info!(
                hold_s = HOLD.as_secs(),
                "main loop on time for the hold, clients busy; normal scheduling policy"
            ),
            Switch::Busy { rate } | Switch::Quiet { rate } => tracing::debug!(
                requests_per_s = rate.round() as u64,
                realtime = switch.to_realtime(),
                "clients' requests changed the scheduling class"
            ),
        }
        if switch.to_realtime() {
            realtime_priority();
        } else {
            normal_priority(self.nice);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn realtime_priority_applies_as_root_and_fails_softly_otherwise() {
        // In a thread of its own: the test harness's other threads keep their policy.
        let (ok, policy) = std::thread::spawn(|| {
            let ok = realtime_priority();
            (ok, thread_priority::thread_schedule_policy().ok())
        })
        .join()
        .unwrap();
        if nix::unistd::geteuid().is_root() {
            assert!(ok);
            assert_eq!(
                policy,
                Some(ThreadSchedulePolicy::Realtime(RealtimeThreadSchedulePolicy::RoundRobin))
            );
        }
    }

    #[test]
    fn crate_priorities_land_on_every_nice_value() {
        // Applied on threads of their own, the nice value read back is the one asked for.
        for nice in [19, 12, 5, 0] {
            let got = std::thread::spawn(move || {
                assert!(normal_priority(Some(nice)));
                rustix::process::getpriority_process(None).unwrap()
            })
            .join()
            .unwrap();
            assert_eq!(got, nice);
        }
        for nice in -20..=19 {
            let ThreadPriority::Crossplatform(p) = crate_priority_for_nice(nice) else {
                unreachable!()
            };
            let policy = ThreadSchedulePolicy::Normal(thread_priority::NormalThreadSchedulePolicy::Other);
            assert_eq!(ThreadPriority::Crossplatform(p).to_posix(policy).unwrap(), nice);
        }
    }

    #[test]
    fn normal_priority_leaves_real_time_and_sets_the_nice_value() {
        let (rt, normal, policy, nice) = std::thread::spawn(|| {
            let rt = realtime_priority();
            let normal = normal_priority(Some(5));
            (
                rt,
                normal,
                thread_priority::thread_schedule_policy().ok(),
                rustix::process::getpriority_process(None).ok(),
            )
        })
        .join()
        .unwrap();
        // Raising the nice value needs no privilege; leaving real-time does not either.
        assert!(normal);
        assert_eq!(
            policy,
            Some(ThreadSchedulePolicy::Normal(
                thread_priority::NormalThreadSchedulePolicy::Other
            ))
        );
        assert_eq!(nice, Some(5));
        if nix::unistd::geteuid().is_root() {
            assert!(rt);
        }
    }
}

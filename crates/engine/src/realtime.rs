//! What corosync does at start to keep the token moving under memory and CPU pressure:
//! lock the process's memory (`mlockall`) and run at the highest round-robin real-time
//! priority. Both are on by default, as in corosync; failures are warnings, not errors.

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
}

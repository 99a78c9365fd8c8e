//! What corosync does at start to keep the token moving under memory and CPU pressure:
//! lock the process's memory (`mlockall`) and run at the highest round-robin real-time
//! priority. Both are on by default, as in corosync; failures are warnings, not errors.
//! Beyond corosync, a real-time daemon keeps to one CPU ([`CpuAffinity`]).

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

/// Where the daemon runs (`system.cpu_affinity`, a ferrosync key).
///
/// A real-time daemon preempts whatever runs on the core it wakes on. Left to the kernel
/// it keeps waking on the core of the client whose request woke it, so request and
/// answer take turns on one core while the other idles: cpgbench2-like senders reached
/// 82k msgs/s there and 330k with the daemon on a core of its own (3 nodes on 2 cores).
/// On one CPU of its own, the kernel puts the clients elsewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CpuAffinity {
    /// At real-time priority and with several CPUs allowed: the last of them.
    Auto,
    /// Wherever the kernel schedules it (`none`).
    Free,
    /// On this CPU.
    Cpu(usize),
}

impl CpuAffinity {
    /// `auto`, `none` or a CPU number.
    pub fn parse(value: &str) -> Result<CpuAffinity, String> {
        match value {
            "auto" => Ok(CpuAffinity::Auto),
            "none" => Ok(CpuAffinity::Free),
            n => match n.parse::<usize>() {
                Ok(cpu) if cpu < nix::sched::CpuSet::count() => Ok(CpuAffinity::Cpu(cpu)),
                _ => Err(format!("{value:?} is not auto, none or a CPU number")),
            },
        }
    }
}

/// Pins the calling thread (and the threads it starts later) as `choice` says;
/// `realtime`: it runs at real-time priority. The CPU it now runs on, or `None` when it
/// was left free (a refusal is a warning, as for the priority).
pub fn pin(choice: CpuAffinity, realtime: bool) -> Option<usize> {
    use nix::sched::{sched_getaffinity, sched_setaffinity, CpuSet};
    use nix::unistd::Pid;
    let cpu = match choice {
        CpuAffinity::Free => return None,
        CpuAffinity::Cpu(cpu) => cpu,
        CpuAffinity::Auto => {
            if !realtime {
                return None;
            }
            let allowed = sched_getaffinity(Pid::from_raw(0)).ok()?;
            let cpus: Vec<usize> = (0..CpuSet::count())
                .filter(|&c| allowed.is_set(c).unwrap_or(false))
                .collect();
            match cpus[..] {
                [.., last] if cpus.len() > 1 => last,
                _ => return None,
            }
        }
    };
    let mut set = CpuSet::new();
    let pinned = set.set(cpu).and_then(|()| sched_setaffinity(Pid::from_raw(0), &set));
    match pinned {
        Ok(()) => Some(cpu),
        Err(e) => {
            tracing::warn!(cpu, error = %e, "Could not keep to one CPU");
            None
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
    fn cpu_affinity_values() {
        assert_eq!(CpuAffinity::parse("auto"), Ok(CpuAffinity::Auto));
        assert_eq!(CpuAffinity::parse("none"), Ok(CpuAffinity::Free));
        assert_eq!(CpuAffinity::parse("3"), Ok(CpuAffinity::Cpu(3)));
        for bad in ["", "-1", "two", "1,2", "100000"] {
            assert!(CpuAffinity::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn pinning_keeps_the_thread_to_one_cpu() {
        use nix::sched::{sched_getaffinity, CpuSet};
        use nix::unistd::Pid;
        // Each in a thread of its own: the harness's threads keep their affinity.
        let on = |choice, realtime| {
            std::thread::spawn(move || {
                let cpu = pin(choice, realtime);
                let set = sched_getaffinity(Pid::from_raw(0)).unwrap();
                let cpus: Vec<usize> = (0..CpuSet::count()).filter(|&c| set.is_set(c).unwrap()).collect();
                (cpu, cpus)
            })
            .join()
            .unwrap()
        };
        let (_, allowed) = on(CpuAffinity::Free, true);
        assert!(!allowed.is_empty());
        assert_eq!(on(CpuAffinity::Free, true).0, None);
        assert_eq!(on(CpuAffinity::Auto, false), (None, allowed.clone()));
        let first = allowed[0];
        assert_eq!(on(CpuAffinity::Cpu(first), false), (Some(first), vec![first]));
        let last = *allowed.last().unwrap();
        if allowed.len() > 1 {
            assert_eq!(on(CpuAffinity::Auto, true), (Some(last), vec![last]));
        } else {
            assert_eq!(on(CpuAffinity::Auto, true), (None, allowed.clone()));
        }
    }
}

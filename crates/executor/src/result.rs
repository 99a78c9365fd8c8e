//! Typed results: OCF exit codes, execution status, exit reasons, LSB and systemd mappings.

use std::fmt;

/// An agent's exit code in OCF terms (`include/crm/common/results.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OcfRc {
    /// 0: success (for a monitor: running).
    Ok,
    /// 1: generic error.
    ErrGeneric,
    /// 2: invalid parameters.
    ErrArgs,
    /// 3: action not implemented.
    ErrUnimplemented,
    /// 4: insufficient privileges.
    ErrPerm,
    /// 5: required software not installed.
    ErrInstalled,
    /// 6: misconfigured.
    ErrConfigured,
    /// 7: not running (cleanly stopped).
    NotRunning,
    /// 8: running in the promoted role.
    RunningPromoted,
    /// 9: failed in the promoted role.
    FailedPromoted,
    /// 190: running, but degraded.
    Degraded,
    /// 191: promoted, but degraded.
    DegradedPromoted,
    /// 193: still in progress (Pacemaker-internal; e.g. a systemd unit that is activating).
    Pending,
    /// Any other code, kept as is (treated as a generic error).
    Other(i32),
}

impl OcfRc {
    /// From an exit code.
    pub fn from_code(code: i32) -> Self {
        match code {
            0 => Self::Ok,
            1 => Self::ErrGeneric,
            2 => Self::ErrArgs,
            3 => Self::ErrUnimplemented,
            4 => Self::ErrPerm,
            5 => Self::ErrInstalled,
            6 => Self::ErrConfigured,
            7 => Self::NotRunning,
            8 => Self::RunningPromoted,
            9 => Self::FailedPromoted,
            190 => Self::Degraded,
            191 => Self::DegradedPromoted,
            193 => Self::Pending,
            other => Self::Other(other),
        }
    }

    /// The numeric code, as recorded in `rc-code`.
    pub fn code(self) -> i32 {
        match self {
            Self::Ok => 0,
            Self::ErrGeneric => 1,
            Self::ErrArgs => 2,
            Self::ErrUnimplemented => 3,
            Self::ErrPerm => 4,
            Self::ErrInstalled => 5,
            Self::ErrConfigured => 6,
            Self::NotRunning => 7,
            Self::RunningPromoted => 8,
            Self::FailedPromoted => 9,
            Self::Degraded => 190,
            Self::DegradedPromoted => 191,
            Self::Pending => 193,
            Self::Other(c) => c,
        }
    }

    /// Pacemaker's description (`services_ocf_exitcode_str`).
    pub fn description(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::ErrGeneric => "error",
            Self::ErrArgs => "invalid parameter",
            Self::ErrUnimplemented => "unimplemented feature",
            Self::ErrPerm => "insufficient privileges",
            Self::ErrInstalled => "not installed",
            Self::ErrConfigured => "not configured",
            Self::NotRunning => "not running",
            Self::RunningPromoted => "promoted",
            Self::FailedPromoted => "promoted (failed)",
            Self::Degraded => "OCF_DEGRADED",
            Self::DegradedPromoted => "promoted (degraded)",
            Self::Pending => "OCF_PENDING",
            Self::Other(_) => "unknown",
        }
    }
}

impl fmt::Display for OcfRc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.description(), self.code())
    }
}

/// How the execution itself went (Pacemaker's `op-status`, `enum pcmk_exec_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExecStatus {
    /// 0: the agent ran and exited; look at the rc.
    Done,
    /// 1: the operation was cancelled.
    Cancelled,
    /// 2: the agent did not finish in time and was killed.
    TimedOut,
    /// 3: the class does not support this action.
    NotSupported,
    /// 4: the agent could not be run properly (killed by a signal, cannot execute…).
    Error,
    /// 7: the agent is not installed.
    NotInstalled,
}

impl ExecStatus {
    /// The numeric `op-status`.
    pub fn code(self) -> i32 {
        match self {
            Self::Done => 0,
            Self::Cancelled => 1,
            Self::TimedOut => 2,
            Self::NotSupported => 3,
            Self::Error => 4,
            Self::NotInstalled => 7,
        }
    }

    /// The text tools show for it.
    pub fn description(self) -> &'static str {
        match self {
            Self::Done => "complete",
            Self::Cancelled => "Cancelled",
            Self::TimedOut => "Timed Out",
            Self::NotSupported => "NOT SUPPORTED",
            Self::Error => "Error",
            Self::NotInstalled => "Not installed",
        }
    }
}

impl fmt::Display for ExecStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// The prefix agents print on stderr before an exit reason.
pub const EXIT_REASON_PREFIX: &str = "ocf-exit-reason:";
/// Pacemaker keeps at most this many characters of an exit reason.
pub const EXIT_REASON_MAX: usize = 128;

/// The exit reason in an agent's stderr: the text after the last `ocf-exit-reason:` up to the end
/// of its line, at most 128 characters; `None` if absent or empty.
pub fn exit_reason(stderr: &str) -> Option<String> {
    let at = stderr.rfind(EXIT_REASON_PREFIX)?;
    let rest = &stderr[at + EXIT_REASON_PREFIX.len()..];
    let line = rest.split('\n').next().unwrap_or("").trim_end_matches('\r');
    let reason: String = line.chars().take(EXIT_REASON_MAX).collect();
    (!reason.is_empty()).then_some(reason)
}

/// Maps an LSB init script's exit code to OCF (Pacemaker's `services__lsb2ocf`). `status` is
/// LSB's own code table (0 running, 1–3 dead/not running, 4 unknown); every other action uses
/// the same numbers as OCF for 0–7.
pub fn lsb_to_ocf(status_action: bool, code: i32) -> OcfRc {
    if status_action {
        match code {
            0 => OcfRc::Ok,
            1..=3 => OcfRc::NotRunning,
            5 => OcfRc::ErrInstalled,
            6 => OcfRc::ErrPerm,
            _ => OcfRc::ErrGeneric,
        }
    } else {
        match code {
            0..=7 => OcfRc::from_code(code),
            _ => OcfRc::ErrGeneric,
        }
    }
}

/// Maps `systemctl is-active` output to OCF, as Pacemaker maps a unit's `ActiveState`.
pub fn systemd_state_to_ocf(state: &str) -> OcfRc {
    match state.trim() {
        "active" | "reloading" => OcfRc::Ok,
        "activating" | "deactivating" => OcfRc::Pending,
        _ => OcfRc::NotRunning,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in (0..=9).chain([190, 191, 193, 42, -1]) {
            assert_eq!(OcfRc::from_code(code).code(), code);
        }
        assert_eq!(OcfRc::from_code(7), OcfRc::NotRunning);
        assert_eq!(OcfRc::from_code(9), OcfRc::FailedPromoted);
        assert_eq!(OcfRc::from_code(42), OcfRc::Other(42));
        assert_eq!(OcfRc::NotRunning.to_string(), "not running (7)");
        assert_eq!(ExecStatus::TimedOut.code(), 2);
    }

    #[test]
    fn exit_reason_is_the_last_one_bounded() {
        assert_eq!(exit_reason("noise\n"), None);
        assert_eq!(
            exit_reason("ocf-exit-reason:first\nx\nINFO: ocf-exit-reason:second one\nafter"),
            Some("second one".into())
        );
        let long = format!("ocf-exit-reason:{}\n", "é".repeat(300));
        assert_eq!(exit_reason(&long).unwrap().chars().count(), 128);
        assert_eq!(exit_reason("ocf-exit-reason:\n"), None);
    }

    #[test]
    fn lsb_and_systemd_mapping() {
        assert_eq!(lsb_to_ocf(true, 0), OcfRc::Ok);
        assert_eq!(lsb_to_ocf(true, 3), OcfRc::NotRunning);
        assert_eq!(lsb_to_ocf(true, 1), OcfRc::NotRunning);
        assert_eq!(lsb_to_ocf(true, 4), OcfRc::ErrGeneric);
        assert_eq!(lsb_to_ocf(false, 5), OcfRc::ErrInstalled);
        assert_eq!(lsb_to_ocf(false, 150), OcfRc::ErrGeneric);
        assert_eq!(systemd_state_to_ocf("active\n"), OcfRc::Ok);
        assert_eq!(systemd_state_to_ocf("activating"), OcfRc::Pending);
        assert_eq!(systemd_state_to_ocf("failed"), OcfRc::NotRunning);
        assert_eq!(systemd_state_to_ocf("inactive"), OcfRc::NotRunning);
    }
}

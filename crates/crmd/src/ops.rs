//! What the controller asks its host to run — agent operations and fencing — and the
//! results the host hands back. Plain data: the host maps them onto the `executor`
//! and `fencer` crates (which start processes); nothing here does.

use std::collections::BTreeMap;
use std::fmt;

/// The host's handle of one agent operation. A recurring monitor keeps its key for
/// every result it reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExecKey(pub u64);

impl fmt::Display for ExecKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "exec#{}", self.0)
    }
}

/// A resource agent: `class[:provider]:type`, as the CIB's primitive names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AgentSpec {
    pub class: String,
    pub provider: Option<String>,
    pub kind: String,
}

impl fmt::Display for AgentSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.provider {
            Some(p) => write!(f, "{}:{}:{}", self.class, p, self.kind),
            None => write!(f, "{}:{}", self.class, self.kind),
        }
    }
}

/// Run an agent action (`start`, `stop`, `monitor`, `promote`, …) for a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecRequest {
    pub key: ExecKey,
    /// The resource's id as the agent sees it (`OCF_RESOURCE_INSTANCE`), e.g. `db:1`.
    pub rsc: String,
    pub agent: AgentSpec,
    pub task: String,
    /// 0: once. Otherwise report the first result, then every change.
    pub interval_ms: u64,
    pub timeout_ms: u64,
    /// Instance parameters (`OCF_RESKEY_<name>`).
    pub params: BTreeMap<String, String>,
    /// Meta attributes without their `CRM_meta_` prefix (`OCF_RESKEY_CRM_meta_<name>`).
    pub meta: BTreeMap<String, String>,
}

/// Pacemaker's `op-status` (`PCMK_EXEC_*`): whether the agent ran to completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExecStatus {
    Done,
    Cancelled,
    Timeout,
    NotSupported,
    Error,
    NotInstalled,
}

impl ExecStatus {
    /// The number Pacemaker writes as `op-status`.
    pub fn code(self) -> i32 {
        match self {
            ExecStatus::Done => 0,
            ExecStatus::Cancelled => 1,
            ExecStatus::Timeout => 2,
            ExecStatus::NotSupported => 3,
            ExecStatus::Error => 4,
            ExecStatus::NotInstalled => 7,
        }
    }
}

/// One result of an [`ExecRequest`] (a recurring one reports several).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecResult {
    pub key: ExecKey,
    /// The OCF exit code (0 ok, 7 not running, 8 running promoted, …).
    pub rc: i32,
    pub status: ExecStatus,
    pub exit_reason: Option<String>,
    pub exec_ms: u64,
    pub queue_ms: u64,
}

/// A fencing action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FenceAction {
    Reboot,
    Off,
    On,
}

impl FenceAction {
    /// The value of the graph's `CRM_meta_stonith_action`.
    pub fn parse(s: &str) -> Option<FenceAction> {
        match s {
            "reboot" => Some(FenceAction::Reboot),
            "off" | "poweroff" => Some(FenceAction::Off),
            "on" => Some(FenceAction::On),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            FenceAction::Reboot => "reboot",
            FenceAction::Off => "off",
            FenceAction::On => "on",
        }
    }
}

/// The host's handle of one fencing request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FenceKey(pub u64);

/// Fence a node (by its name), with the devices and topology of the current CIB.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FenceRequest {
    pub key: FenceKey,
    pub target: String,
    pub action: FenceAction,
    pub timeout_ms: u64,
}

/// How a [`FenceRequest`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FenceOutcome {
    pub key: FenceKey,
    /// `Err` says why no device could fence the target.
    pub result: Result<(), String>,
}

//! The types of the transition contract the controller executes: action
//! ids and what each action does.

use std::fmt;

/// An action's id in a transition graph (Pacemaker's `action->id`): what
/// synapse inputs refer to and what results are reported against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActionId(pub usize);

impl fmt::Display for ActionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What a graph action does: a resource agent action, a collective's
/// pseudo-action, or a node-level action.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Task {
    Start,
    Stop,
    /// A probe (interval 0) or a recurring monitor.
    Monitor,
    Promote,
    Demote,
    MigrateTo,
    MigrateFrom,
    Reload,
    /// A collective's pseudo-actions completing its members' actions.
    Running,
    Stopped,
    Promoted,
    Demoted,
    /// Fencing a node (`stonith`).
    Fence,
    /// A clean shutdown of a node (`do_shutdown`).
    Shutdown,
    /// Utilization freed on a node (`load_stopped_NODE`).
    LoadStopped,
    /// Stopping a recurring operation (`cancel`).
    Cancel,
    /// A clone instance's notification, or a clone's pre/post
    /// notification pseudo-action.
    Notify,
    /// A clone's "notifications confirmed" pseudo-action.
    Notified,
    /// Resetting a resource's fail count on a node (`clear_failcount`).
    ClearFailcount,
    /// Deleting a resource's history on a node (`delete`).
    Delete,
    /// Removing a resource's history entry from the CIB status
    /// (`lrm_delete`, `pe__clear_resource_history`).
    LrmDelete,
    /// Another agent action configured as an operation (a recurring op
    /// with an agent-specific name).
    Agent(String),
}

impl Task {
    /// The scheduler's and Pacemaker's name for the task.
    pub fn as_str(&self) -> &str {
        match self {
            Task::Start => "start",
            Task::Stop => "stop",
            Task::Monitor => "monitor",
            Task::Promote => "promote",
            Task::Demote => "demote",
            Task::MigrateTo => "migrate_to",
            Task::MigrateFrom => "migrate_from",
            Task::Reload => "reload-agent",
            Task::Running => "running",
            Task::Stopped => "stopped",
            Task::Promoted => "promoted",
            Task::Demoted => "demoted",
            Task::Fence => "stonith",
            Task::Shutdown => "do_shutdown",
            Task::LoadStopped => "load_stopped",
            Task::Cancel => "cancel",
            Task::Notify => "notify",
            Task::Notified => "notified",
            Task::ClearFailcount => "clear_failcount",
            Task::Delete => "delete",
            Task::LrmDelete => "lrm_delete",
            Task::Agent(name) => name,
        }
    }

    /// The task named `name` (an agent action when not one of the above).
    pub fn from_name(name: &str) -> Task {
        match name {
            "start" => Task::Start,
            "stop" => Task::Stop,
            "monitor" => Task::Monitor,
            "promote" => Task::Promote,
            "demote" => Task::Demote,
            "migrate_to" => Task::MigrateTo,
            "migrate_from" => Task::MigrateFrom,
            "reload-agent" => Task::Reload,
            "running" => Task::Running,
            "stopped" => Task::Stopped,
            "promoted" => Task::Promoted,
            "demoted" => Task::Demoted,
            "stonith" => Task::Fence,
            "do_shutdown" => Task::Shutdown,
            "load_stopped" => Task::LoadStopped,
            "cancel" => Task::Cancel,
            "notify" => Task::Notify,
            "notified" => Task::Notified,
            "clear_failcount" => Task::ClearFailcount,
            "delete" => Task::Delete,
            "lrm_delete" => Task::LrmDelete,
            other => Task::Agent(other.to_string()),
        }
    }

    /// A node-level action rather than a resource's.
    pub fn is_node_level(&self) -> bool {
        matches!(self, Task::Fence | Task::Shutdown)
    }
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for name in [
            "start",
            "stop",
            "monitor",
            "promote",
            "demote",
            "migrate_to",
            "migrate_from",
            "reload-agent",
            "running",
            "stopped",
            "promoted",
            "demoted",
            "stonith",
            "do_shutdown",
            "load_stopped",
            "cancel",
            "notify",
            "notified",
            "clear_failcount",
            "delete",
            "lrm_delete",
            "custom-check",
        ] {
            assert_eq!(Task::from_name(name).as_str(), name);
        }
        assert_eq!(Task::from_name("custom-check"), Task::Agent("custom-check".into()));
        assert!(Task::Fence.is_node_level() && !Task::Stop.is_node_level());
    }
}

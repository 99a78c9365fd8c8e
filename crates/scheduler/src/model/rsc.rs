//! A resource in the working set, split by who writes what: its
//! configuration ([`RscConfig`]), what the CIB status says about it
//! ([`RscObserved`]) and what the scheduler decides for it ([`RscPlan`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use cib::score::Score;
use cib::OpDef;

use super::{NodeIdx, Role, RscIdx, Variant};

/// A resource (primitive, group or clone) in the working set.
#[derive(Debug, Clone)]
pub struct Rsc {
    pub id: String,
    pub variant: Variant,
    pub parent: Option<RscIdx>,
    pub children: Vec<RscIdx>,
    /// Configuration, fixed once unpacked.
    pub config: RscConfig,
    /// What the CIB status (the operation history) says.
    pub observed: RscObserved,
    /// What the scheduler decides.
    pub plan: RscPlan,
    /// Container / remote-connection links.
    pub remote: RscRemote,
}

/// A resource's configuration, unpacked from its definition (with
/// inherited meta-attributes): apart from the few fields noted, nothing
/// changes it afterwards, so it is kept apart from the state the history
/// and the scheduler fill in.
#[derive(Debug, Clone)]
pub struct RscConfig {
    // Shared, so that cloning the cluster (the simulation keeps the
    // unpacked cluster beside the scheduler's working copy) copies no maps.
    pub meta: Arc<BTreeMap<String, String>>,
    pub params: Arc<BTreeMap<String, String>>,
    /// The instance attribute sets as configured (rules may depend on the
    /// node, see `value-source=param`).
    pub instance_sets: Arc<Vec<cib::NvSet>>,
    pub ops: Arc<Vec<OpDef>>,
    pub description: Option<String>,
    pub priority: i32,
    pub stickiness: Score,
    pub migration_threshold: i64,
    /// Also cleared before the history is replayed where a failure blocks
    /// its expiry (`failure_block`).
    pub failure_timeout_s: i64,
    /// Also cleared by the history (multiple-active=block, on-fail=block, a
    /// failed stop, a node in maintenance) and by placement (loss-policy=freeze,
    /// fencing enabled without a device).
    pub managed: bool,
    pub target_role: Option<Role>,
    pub requires_fencing: bool,
    pub requires_quorum: bool,
    /// `requires=unfencing` (`pe_rsc_needs_unfencing`): its node must be
    /// unfenced before it is probed or started there.
    pub requires_unfencing: bool,
    /// `allow-migrate` (cleared when history shows a migration that failed).
    pub allow_migrate: bool,
    pub utilization: BTreeMap<String, i64>,
    /// Instance number for clone instances.
    pub instance: Option<usize>,
    /// The template a primitive is based on.
    pub template: Option<String>,
}

/// What the CIB status says about a resource, from replaying its
/// operation history: its state before the transition, as opposed to its
/// configuration and to what the scheduler decides.
#[derive(Debug, Clone, Default)]
pub struct RscObserved {
    /// Current role.
    pub role: Role,
    pub running_on: Vec<NodeIdx>,
    /// Nodes where the state is known (has history).
    pub known_on: Vec<NodeIdx>,
    pub failed: bool,
    /// In the status but not configured (also the one instance a clone with
    /// clone-max=0 keeps, set when the configuration is unpacked).
    pub orphan: bool,
    pub failure_ignored: bool,
    pub start_pending: bool,
    /// Nodes whose history ends in a pending start (call-id -1). Such an
    /// entry stays the newest one even after simulated results are
    /// recorded, so the resource still counts as active there.
    pub pending_start_on: Vec<NodeIdx>,
    /// Node the resource is shutdown-locked to, and when the lock started
    /// (also set or dropped by the scheduler's `shutdown_lock`).
    pub lock_node: Option<NodeIdx>,
    pub lock_time: i64,
    /// A migrate_to succeeded but its migrate_from has not happened yet
    /// (both cleared by the scheduler's `migration` when it is abandoned).
    pub partial_migration_source: Option<NodeIdx>,
    pub partial_migration_target: Option<NodeIdx>,
    /// Sources of completed migrations still missing their stop.
    pub dangling_migrations: Vec<NodeIdx>,
    /// Failed probes the status display names, as (node, rc): masked
    /// probe failures whose history entry names its node (`on_node`).
    pub failed_probe_rc: Vec<(NodeIdx, i32)>,
    /// Recurring ops currently active: (node, name, interval ms).
    pub active_recurring: Vec<(NodeIdx, String, u64)>,
    /// History entries (`lrm_resource` ids) mapped to this resource, per node.
    pub history_ids: Vec<(NodeIdx, String)>,
}

/// What the scheduler decides for a resource (placement, roles, recovery):
/// the output of scheduling, empty until then except where noted.
#[derive(Debug, Clone)]
pub struct RscPlan {
    /// Role after the transition (`Unknown` until decided; unpacking the
    /// status already sets it for some failures (on-fail=stop, a blocked
    /// demote, a connection to reset), target-role and the connection of a
    /// remote node shutting down).
    pub next_role: Role,
    /// Set while unpacking the history (a failure to recover from, a
    /// failed container or migration): the resource must stop first.
    pub stop_needed: bool,
    /// Set by the history (on-fail=block, multiple-active=block, a failed
    /// stop) as well as by placement (loss-policy=freeze).
    pub blocked: bool,
    /// Node scores (`allowed_nodes`); `None` = not allowed at all.
    pub allowed: Vec<Option<Score>>,
    pub assigned: Option<NodeIdx>,
    pub provisional: bool,
}

impl RscPlan {
    /// Before scheduling, in a cluster of `nodes` nodes: nothing decided,
    /// no node allowed yet, assignment still to come.
    pub fn unplanned(nodes: usize) -> RscPlan {
        RscPlan {
            next_role: Role::Unknown,
            stop_needed: false,
            blocked: false,
            allowed: vec![None; nodes],
            assigned: None,
            provisional: true,
        }
    }
}

/// How a resource relates to Pacemaker Remote: connection resources,
/// containers and the resources they contain (`container` meta).
#[derive(Debug, Clone, Default)]
pub struct RscRemote {
    /// An `ocf:pacemaker:remote` connection (explicit or implied by a guest).
    pub is_conn: bool,
    /// The resource's container (`container` meta, or the guest's resource).
    pub container: Option<RscIdx>,
    /// Resources whose container is this one.
    pub fillers: Vec<RscIdx>,
    /// `reconnect_interval` of a connection, in milliseconds.
    pub reconnect_ms: u64,
    /// A bundle replica's connection: its container may run on remote
    /// nodes, and it prefers (10000) rather than requires its container's
    /// node.
    pub allow_remote_remotes: bool,
    /// An orphan whose history names a container.
    pub orphan_filler: bool,
    /// `resource-discovery` of location constraints per node (probes on
    /// Pacemaker Remote nodes are commonly limited this way).
    pub discover: BTreeMap<NodeIdx, Discover>,
    /// Some location constraint has `resource-discovery=exclusive`.
    pub exclusive_discover: bool,
    /// Its recorded failure fences the node it happened on (on-fail=fence).
    pub failure_fences: bool,
    /// A connection failure (on-fail=reset-remote) kept until the reconnect
    /// interval clears it.
    pub reset_kept: bool,
    /// A container, IP or connection a bundle creates (their parameters,
    /// derived from the bundle's configuration, are not reproduced).
    pub bundle_implicit: bool,
}

/// `resource-discovery` modes, weakest first (`always` is the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub enum Discover {
    #[default]
    Always,
    Never,
    Exclusive,
}

impl Rsc {
    /// `critical` (`pe_rsc_critical`): unset or true. Colocations with it
    /// as the dependent influence their primary by default.
    pub fn is_critical(&self) -> bool {
        self.config.meta.get("critical").is_none_or(|v| cib::is_true(v))
    }

    pub fn is_primitive(&self) -> bool {
        matches!(self.variant, Variant::Primitive { .. })
    }

    /// The single node it runs on, if exactly one.
    pub fn current_node(&self) -> Option<NodeIdx> {
        self.observed.running_on.first().copied()
    }

    /// `class[:provider]:type` as shown in status.
    pub fn agent(&self) -> String {
        match &self.variant {
            Variant::Primitive { class, provider, ty } => match provider {
                Some(p) if class == "ocf" => format!("{class}:{p}:{ty}"),
                _ => format!("{class}:{ty}"),
            },
            _ => String::new(),
        }
    }
}

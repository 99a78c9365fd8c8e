//! The unpacked cluster state the scheduler works on (Pacemaker's
//! "working set"): nodes with their status and resources with their
//! current roles, built from a [`cib::Cib`] by [`crate::unpack`].

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::sync::Arc;

use cib::score::Score;
pub use cib::Warning;

mod idx;
mod rsc;
pub use idx::{NodeIdx, RscIdx};
pub use rsc::{Discover, Rsc, RscConfig, RscObserved, RscPlan, RscRemote};

/// Resource roles, ordered as Pacemaker's `enum rsc_role_e`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Role {
    #[default]
    Unknown,
    Stopped,
    Started,
    Unpromoted,
    Promoted,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Unknown => "Unknown",
            Role::Stopped => "Stopped",
            Role::Started => "Started",
            Role::Unpromoted => "Unpromoted",
            Role::Promoted => "Promoted",
        }
    }

    /// Parses role names, including the legacy Master/Slave.
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s.to_ascii_lowercase().as_str() {
            "stopped" => Role::Stopped,
            "started" => Role::Started,
            "unpromoted" | "slave" => Role::Unpromoted,
            "promoted" | "master" => Role::Promoted,
            "unknown" => Role::Unknown,
            _ => return None,
        })
    }
}

/// `no-quorum-policy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoQuorumPolicy {
    Stop,
    Freeze,
    Ignore,
    Demote,
    Suicide,
}

/// Cluster-wide options from `crm_config`.
#[derive(Debug, Clone)]
pub struct ClusterOptions {
    pub stonith_enabled: bool,
    pub stonith_action: String,
    pub symmetric: bool,
    pub no_quorum_policy: NoQuorumPolicy,
    pub maintenance_mode: bool,
    pub stop_all_resources: bool,
    pub stop_orphan_resources: bool,
    pub stop_orphan_actions: bool,
    pub start_failure_is_fatal: bool,
    pub startup_fencing: bool,
    pub enable_startup_probes: bool,
    pub concurrent_fencing: bool,
    /// Some resource requires unfencing or some fence device provides it
    /// (`pe_flag_enable_unfencing`).
    pub enable_unfencing: bool,
    pub placement_strategy: String,
    /// `shutdown-lock`: resources stopped by a clean shutdown stay on that node.
    pub shutdown_lock: bool,
    /// `have-watchdog`: SBD watchdog fencing counts as a fence device.
    pub have_watchdog: bool,
    /// `shutdown-lock-limit` in seconds (0 = locks never expire).
    pub shutdown_lock_limit_s: i64,
    pub default_stickiness: Score,
    /// `node-health-strategy` (none, migrate-on-red, only-green,
    /// progressive, custom).
    pub health_strategy: String,
    /// Scores for red, yellow, green and the progressive base.
    pub health_scores: (Score, Score, Score, Score),
    /// Options the transition graph carries for the controller.
    pub graph: GraphOptions,
}

/// Cluster options copied into the transition graph, as configured
/// (Pacemaker's defaults when unset).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GraphOptions {
    pub cluster_delay: String,
    pub stonith_timeout: String,
    pub batch_limit: String,
    pub migration_limit: Option<String>,
}

/// A cluster node and its state.
#[derive(Debug, Clone)]
pub struct Node {
    pub id: String,
    pub uname: String,
    pub online: bool,
    pub unclean: bool,
    pub standby: bool,
    pub standby_onfail: bool,
    pub pending: bool,
    pub maintenance: bool,
    pub shutdown: bool,
    pub expected_up: bool,
    /// Whether the node has a node_state at all.
    pub seen: bool,
    /// Why it must be fenced, if it is unclean.
    pub fence_reason: Option<String>,
    /// Node attributes (configuration and transient), plus `#uname`, `#id`.
    pub attrs: BTreeMap<String, String>,
    pub utilization: BTreeMap<String, i64>,
    /// Base score from `<node score>`.
    pub weight: Score,
    pub is_dc: bool,
    /// Sum of `#health*` attribute scores (0 when the strategy is none).
    pub health_score: Score,
    /// `pe__node_health`: 1 green, 0 yellow, -1 red.
    pub health: i32,
    /// Cluster, Pacemaker Remote or guest node.
    pub kind: NodeKind,
    /// Pacemaker Remote / guest state (unused for cluster nodes).
    pub remote: RemoteNode,
}

impl Node {
    /// A node as configured, before its status is unpacked: offline, not
    /// unclean, healthy, with the given attributes.
    pub fn configured(id: &str, uname: &str, kind: NodeKind, attrs: BTreeMap<String, String>) -> Self {
        Node {
            id: id.to_string(),
            uname: uname.to_string(),
            online: false,
            unclean: false,
            standby: false,
            standby_onfail: false,
            pending: false,
            maintenance: false,
            shutdown: false,
            expected_up: false,
            seen: false,
            fence_reason: None,
            attrs,
            utilization: BTreeMap::new(),
            weight: 0,
            is_dc: false,
            health_score: 0,
            health: 1,
            kind,
            remote: RemoteNode::default(),
        }
    }
}

/// What a node is: a full cluster member, a Pacemaker Remote node (its
/// connection resource is an `ocf:pacemaker:remote` primitive) or a guest
/// node (its connection is implied by a `remote-node` meta-attribute, or a
/// bundle replica, and it lives inside a container resource).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NodeKind {
    #[default]
    Cluster,
    Remote,
    Guest,
}

/// Pacemaker Remote bookkeeping of a node (`remote_rsc`,
/// `remote_requires_reset`, `remote_was_fenced`, `unseen`, ...).
#[derive(Debug, Clone, Default)]
pub struct RemoteNode {
    /// The connection resource, if any (orphaned node entries have none).
    pub conn: Option<RscIdx>,
    /// The node must be "reset" (fenced, or its container recovered).
    pub requires_reset: bool,
    /// The node_state says the node was fenced (`node_fenced`).
    pub was_fenced: bool,
    /// Fencing may be revoked if the connection starts elsewhere.
    pub unseen: bool,
    /// `resource-discovery-enabled=false`.
    pub discovery_disabled: bool,
    /// The node's resource history has been unpacked.
    pub unpacked: bool,
    /// Created for an orphaned connection found in the history, after the
    /// resources' node tables were built: no resource may be placed there.
    pub late: bool,
    /// A bundle replica's node: only its replica's child may run there.
    pub bundle_node: bool,
    /// A bundle node also configured in `<nodes>`.
    pub listed: bool,
}

impl Node {
    pub fn is_remote(&self) -> bool {
        self.kind == NodeKind::Remote
    }

    pub fn is_guest(&self) -> bool {
        self.kind == NodeKind::Guest
    }

    /// Remote or guest node (`pe__is_guest_or_remote_node`).
    pub fn is_remote_or_guest(&self) -> bool {
        self.kind != NodeKind::Cluster
    }

    /// Pacemaker's `pcmk__node_available(node, false, false)`.
    pub fn can_run(&self) -> bool {
        self.online && !self.shutdown && !self.unclean && !self.standby && !self.maintenance
    }
}

/// What a resource is.
#[derive(Debug, Clone, PartialEq)]
pub enum Variant {
    Primitive {
        class: String,
        provider: Option<String>,
        ty: String,
    },
    Group,
    Clone {
        promotable: bool,
        clone_max: usize,
        clone_node_max: usize,
        promoted_max: usize,
        promoted_node_max: usize,
        unique: bool,
        interleave: bool,
        ordered: bool,
    },
}

/// How a failed action is handled (`on-fail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum OnFail {
    // Declared in order of severity (Pacemaker's `cmp_on_fail`).
    Ignore,
    Demote,
    Recover,
    /// Fence a remote node whose connection failed, then reconnect.
    ResetRemote,
    RestartContainer,
    Migrate,
    Block,
    Stop,
    Standby,
    Fence,
}

/// The whole unpacked cluster.
#[derive(Debug, Clone)]
pub struct Cluster {
    pub nodes: Vec<Node>,
    pub rscs: Vec<Rsc>,
    /// Top-level resources in configuration order.
    pub top: Vec<RscIdx>,
    pub options: ClusterOptions,
    pub have_quorum: bool,
    pub have_stonith_resource: bool,
    /// Effective "now" (seconds since the epoch).
    pub now: i64,
    /// The zone rules read dates in (Pacemaker's local time zone).
    pub tz: cib::time::TimeZone,
    /// The zone `now` was given in, when not `tz` (see `Options::now_zone`).
    pub now_zone: Option<cib::time::TimeZone>,
    /// Fail counts: (rsc, node) → count.
    pub fail_counts: BTreeMap<(RscIdx, NodeIdx), Score>,
    /// Tickets: id → granted.
    pub tickets: BTreeMap<String, (bool, bool)>,
    /// Configuration problems found while scheduling (the input is still
    /// scheduled, as Pacemaker does, without the offending part).
    pub warnings: Vec<Warning>,
    /// Bans found while unpacking history: (rsc, node or all nodes).
    pub history_bans: Vec<(RscIdx, Option<NodeIdx>)>,
    pub op_defaults: Vec<cib::NvSet>,
    /// The CIB's `crm_feature_set`: digests computed without a history
    /// entry follow it (`pe__calculate_digests`).
    pub feature_set: Option<String>,
    /// (resource, node) fail counts this transition clears (no threshold ban).
    pub failcount_clears: Vec<(RscIdx, NodeIdx)>,
    /// Recurring operations whose failure expired, rescheduled where the
    /// resource stays active (resource, node, task, interval).
    pub expired_recurring: Vec<(RscIdx, NodeIdx, String, u64)>,
    /// When the cluster must run the scheduler again even if nothing
    /// happens (`recheck_by`: a shutdown lock expires).
    pub recheck_by: Option<i64>,
    /// (resource, node) history entries removed from the CIB status
    /// (`pe__clear_resource_history`: an expired or abandoned shutdown lock).
    pub history_clears: Vec<(RscIdx, NodeIdx)>,
    /// Fail counts whose failures all expired (`failure-timeout`): the
    /// scheduler clears them ("it expired").
    pub expired_fail_counts: Vec<(RscIdx, NodeIdx)>,
    /// The status section, for history look-ups across nodes (migrations).
    pub status: Arc<cib::Status>,
    /// Bundles, expanded into ordinary resources (see [`Bundle`]).
    pub bundles: Vec<Bundle>,
    /// Expected op-digests computed so far, by (resource, operation,
    /// interval): they depend only on the configuration, and the history
    /// checks ask for the same one several times.
    pub(crate) digest_cache: std::cell::RefCell<foldhash::HashMap<(RscIdx, String, u64), String>>,
}

/// A bundle expanded into resources: the bundle itself is a unique clone
/// (id = bundle id) whose instances are the replicas' containers; each
/// replica may add an IP address and, when the bundle runs a primitive, a
/// guest node connection and an instance of the bundle's child clone.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub rsc: RscIdx,
    pub image: String,
    pub replicas: Vec<Replica>,
    /// `{bundle}-clone` (or `-master` when promotable).
    pub child_clone: Option<RscIdx>,
}

/// One bundle replica.
#[derive(Debug, Clone)]
pub struct Replica {
    pub container: RscIdx,
    pub ip: Option<RscIdx>,
    pub ipaddr: Option<String>,
    pub remote: Option<RscIdx>,
    pub child: Option<RscIdx>,
    /// The replica's guest node.
    pub node: Option<NodeIdx>,
}

impl Cluster {
    /// What rules are evaluated against: "now" in the cluster's zone.
    pub fn rule_context(&self) -> cib::rules::RuleContext<'_> {
        cib::rules::RuleContext::new(self.now)
            .in_zone(&self.tz)
            .with_now_zone(self.now_zone.as_ref())
    }
    pub fn node_by_name(&self, name: &str) -> Option<NodeIdx> {
        self.nodes
            .iter()
            .position(|n| n.uname == name)
            .or_else(|| self.nodes.iter().position(|n| n.id == name))
            .map(NodeIdx)
    }

    pub fn rsc_by_id(&self, id: &str) -> Option<RscIdx> {
        self.rscs.iter().position(|r| r.id == id).map(RscIdx)
    }

    /// The top-most ancestor of a resource.
    pub fn top_parent(&self, mut r: RscIdx) -> RscIdx {
        while let Some(p) = self.rscs[r].parent {
            r = p;
        }
        r
    }

    /// `pe__find_active_on`: the node a resource counts as active on, with
    /// the number of nodes it is active on and how many of them are clean.
    /// A resource that does not require fencing prefers its first clean
    /// node (its copies on unclean nodes go away with the fencing).
    pub fn active_on(&self, r: RscIdx) -> (Option<NodeIdx>, usize, usize) {
        let rs = &self.rscs[r];
        let happy = |n: NodeIdx| self.nodes[n].online && !self.nodes[n].unclean;
        let clean = rs.observed.running_on.iter().filter(|&&n| happy(n)).count();
        let active = if let Some(src) = rs.observed.partial_migration_source {
            // A partially migrated resource is active on its source.
            rs.observed
                .running_on
                .iter()
                .copied()
                .find(|&n| n == src)
                .or_else(|| rs.observed.running_on.first().copied())
        } else if rs.config.requires_fencing {
            rs.observed.running_on.first().copied()
        } else {
            rs.observed
                .running_on
                .iter()
                .copied()
                .find(|&n| happy(n))
                .or_else(|| rs.observed.running_on.first().copied())
        };
        (active, rs.observed.running_on.len(), clean)
    }

    /// `r` and everything under it (children, theirs, …), parents first.
    pub fn with_descendants(&self, r: RscIdx) -> Vec<RscIdx> {
        let mut all = vec![r];
        let mut i = 0;
        while i < all.len() {
            all.extend(self.rscs[all[i]].children.iter().copied());
            i += 1;
        }
        all
    }

    /// All primitives under `r` (including itself), in order.
    pub fn primitives_of(&self, r: RscIdx) -> Vec<RscIdx> {
        let mut out = Vec::new();
        self.collect_primitives(r, &mut out);
        out
    }

    fn collect_primitives(&self, r: RscIdx, out: &mut Vec<RscIdx>) {
        if self.rscs[r].is_primitive() {
            out.push(r);
        } else {
            for &c in &self.rscs[r].children {
                self.collect_primitives(c, out);
            }
        }
    }

    /// Pacemaker's `clone_name`: the name the resource's history was
    /// recorded under when it differs from the resource's id (the last one
    /// mapped, as `unpack_find_resource` overwrites it), reset where a
    /// numbered name was found stopped (`process_rsc_state`: older status
    /// sections recorded instance numbers).
    pub fn clone_name(&self, r: RscIdx) -> Option<&str> {
        let rs = &self.rscs[r];
        let mut name: Option<&str> = None;
        for (i, (m, id)) in rs.observed.history_ids.iter().enumerate() {
            if *id != rs.id {
                name = Some(id);
            }
            // Only the last entry on a node can be the active one.
            let later_on_same = rs.observed.history_ids[i + 1..].iter().any(|(x, _)| x == m);
            let active = !later_on_same && rs.observed.running_on.contains(m);
            if !active && name.is_some_and(|h| h.contains(':')) {
                name = None;
            }
        }
        name
    }

    /// Whether `r` is a clone whose instances are notified
    /// (`pe_rsc_notify`).
    pub fn notifies(&self, r: RscIdx) -> bool {
        matches!(self.rscs[r].variant, Variant::Clone { .. })
            && self.rscs[r].config.meta.get("notify").is_some_and(|v| cib::is_true(v))
    }

    /// Whether the resource is part of a bundle (`pe_rsc_is_bundled`): a
    /// replica's container, IP or connection, or an instance of the
    /// bundle's child.
    pub fn is_bundled(&self, r: RscIdx) -> bool {
        let top = self.top_parent(r);
        self.bundles.iter().any(|b| {
            b.rsc == top
                || b.child_clone == Some(top)
                || b.replicas
                    .iter()
                    .any(|rep| rep.ip == Some(r) || rep.remote == Some(r) || rep.container == r)
        })
    }

    /// `pe__update_recheck_time`: the earliest future time to recheck.
    pub fn update_recheck(&mut self, t: i64) {
        if t > self.now && self.recheck_by.is_none_or(|r| r > t) {
            self.recheck_by = Some(t);
        }
    }

    /// A collective's `running_on` as Pacemaker records it: the nodes of
    /// its primitives, except that an unmanaged primitive adds its node to
    /// its parents only while the node is online (`native_add_running`,
    /// lib/pengine/native.c:89). A primitive's own nodes are all of them.
    pub fn recorded_running_on(&self, r: RscIdx) -> Vec<NodeIdx> {
        if self.rscs[r].is_primitive() {
            return self.rscs[r].observed.running_on.clone();
        }
        let mut out = Vec::new();
        for p in self.primitives_of(r) {
            for &n in &self.rscs[p].observed.running_on {
                if (self.rscs[p].config.managed || self.nodes[n].online) && !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        out
    }

    /// `pe_can_fence` (lib/pengine/utils.c:36-77): a guest node when every
    /// host of its container is online or can be fenced; any other node
    /// when fencing is enabled with a device, and the cluster has quorum,
    /// ignores its loss, or the node is still in the membership.
    pub fn can_fence(&self, n: NodeIdx) -> bool {
        let node = &self.nodes[n];
        if node.is_guest() {
            let container = node.remote.conn.and_then(|r| self.rscs[r].remote.container);
            return container.is_none_or(|ct| {
                self.rscs[ct]
                    .observed
                    .running_on
                    .iter()
                    .all(|&h| h == n || self.nodes[h].online || self.can_fence(h))
            });
        }
        self.options.stonith_enabled
            && self.have_stonith_resource
            && (self.have_quorum || self.options.no_quorum_policy == NoQuorumPolicy::Ignore || node.online)
    }

    /// Whether node `n` is in `r`'s node table as unpacked in a symmetric
    /// cluster (what a clone's stopped list shows, whatever the score).
    /// Nodes created late are in none. A bundle's node is in none either
    /// (the bundle sets its discovery to never, and `resource_node_score`,
    /// lib/pengine/utils.c:352-363, then gives it no default score), except
    /// when it is also configured in `<nodes>`: resources unpacked before
    /// the bundle copied it then, and the bundle only bans it there
    /// (`disallow_node`, lib/pengine/bundle.c:436-447 and 502-531).
    pub fn in_symmetric_table(&self, r: RscIdx, n: NodeIdx) -> bool {
        let node = &self.nodes[n];
        if !node.remote.late {
            return true;
        }
        node.remote.listed
            && self
                .bundles
                .iter()
                .find(|b| b.replicas.iter().any(|rep| rep.node == Some(n)))
                .is_some_and(|b| r < b.rsc)
    }

    /// Whether the resource belongs to a promotable clone.
    pub fn in_promotable(&self, r: RscIdx) -> bool {
        let t = self.top_parent(r);
        matches!(self.rscs[t].variant, Variant::Clone { promotable: true, .. })
    }
}

/// Pacemaker's `pcmk__numeric_strcasecmp`-style node name order.
pub fn cmp_node_names(a: &str, b: &str) -> Ordering {
    let (ab, bb) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < ab.len() && j < bb.len() {
        if ab[i].is_ascii_digit() && bb[j].is_ascii_digit() {
            let si = i;
            while i < ab.len() && ab[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < bb.len() && bb[j].is_ascii_digit() {
                j += 1;
            }
            let na = a[si..i].trim_start_matches('0');
            let nb = b[sj..j].trim_start_matches('0');
            let o = na.len().cmp(&nb.len()).then(na.cmp(nb));
            if o != Ordering::Equal {
                return o;
            }
        } else {
            let o = ab[i].to_ascii_lowercase().cmp(&bb[j].to_ascii_lowercase());
            if o != Ordering::Equal {
                return o;
            }
            i += 1;
            j += 1;
        }
    }
    (ab.len() - i).cmp(&(bb.len() - j))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_bundle_node_listed_in_nodes_is_in_the_tables_of_resources_unpacked_before_its_bundle() {
        use crate::testutil::{cib, clone, dummy};
        let bundle = format!(
            "<bundle id=\"B\"><docker image=\"img\"/><network control-port=\"3121\"/>{}</bundle>",
            dummy("Bc")
        );
        let resources = format!(
            "{}{bundle}{}",
            clone("early", &dummy("e"), &[]),
            clone("late", &dummy("l"), &[])
        );
        let table = |listed: bool| {
            let mut cib = cib(2, &resources, "", &[]);
            if listed {
                std::sync::Arc::make_mut(&mut cib.configuration)
                    .nodes
                    .push(cib::NodeDef {
                        id: "B-0".into(),
                        uname: "B-0".into(),
                        node_type: Some("remote".into()),
                        score: None,
                        instance: Vec::new(),
                        utilization: Vec::new(),
                    });
            }
            let c = crate::unpack::unpack(&cib, 0);
            let n = c.node_by_name("B-0").expect("bundle node");
            ["early", "late"].map(|id| c.in_symmetric_table(c.rsc_by_id(id).expect("clone"), n))
        };
        assert_eq!(table(true), [true, false]);
        assert_eq!(table(false), [false, false]);
    }
}

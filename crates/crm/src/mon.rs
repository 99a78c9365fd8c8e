//! Cluster status as `crm_mon` of Pacemaker 2.1.5 shows it, from a CIB with
//! its status section: text (`crm_mon -1`, with `-r`, `-A`, `-f`), XML
//! (`crm_mon --output-as=xml`) and JSON.
//!
//! [`status`] unpacks the CIB (as `crm_simulate` does for its "Current
//! cluster status") and collects the failed operations; [`Status::text`],
//! [`Status::xml`] and [`Status::json`] render it. What `crm_mon` reads from
//! the running cluster rather than the CIB (the stack, the "Last updated"
//! clock) is passed in [`MonOptions`].
//!
//! # JSON shape
//!
//! ```text
//! { "summary": { "stack", "dc": {"name","id","version","with_quorum"} | null,
//!                "last_updated", "last_change": {"time","user","client","origin"},
//!                "nodes_configured", "resources_configured", "resources_disabled",
//!                "resources_blocked", "maintenance_mode", "stop_all_resources",
//!                "stonith_enabled", "symmetric_cluster", "no_quorum_policy" },
//!   "nodes": [ {"name","id","type":"member|remote|guest","online","standby",
//!               "standby_onfail","maintenance","pending","unclean","shutdown",
//!               "expected_up","is_dc","health":"green|yellow|red","resources_running",
//!               "attributes": {NAME: VALUE}} ],
//!   "resources": [ RESOURCE ],   // top level, configuration order
//!   "failures": [ {"op_key","node","rc","rc_text","status","exit_reason","call",
//!                  "task","interval_ms","last_rc_change","exec_ms","queue_ms"} ],
//!   "fail_counts": [ {"node","resource","fail_count","last_failure"} ] }
//! RESOURCE = {"id","kind":"primitive|group|clone|bundle","agent"?, "role"?, "target_role"?,
//!             "active","orphaned","blocked","managed","failed","failure_ignored",
//!             "promotable"?, "unique"?, "disabled"?, "nodes":[NAME], "children":[RESOURCE]}
//! ```
//! Times are epoch seconds (numbers) or null; node and resource names as in
//! the CIB.

use scheduler::ids::clone_strip;
use std::fmt::Write as _;

use cib::xml::{escape_attr, Element};
use cib::Cib;
use scheduler::model::{cmp_node_names, Bundle, Cluster, NodeIdx, NodeKind, Role, RscIdx, Variant};
use serde_json::{json, Value};

use crate::output;

/// What `crm_mon` knows from outside the CIB, and which sections to show.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MonOptions {
    /// `Stack:`; `None`: the CIB's `cluster-infrastructure`, else `unknown`
    /// (what `crm_mon` shows offline).
    pub stack: Option<String>,
    /// The `Last updated:` text (`crm_mon` prints its clock as `ctime`).
    pub last_updated: String,
    /// `-r`: "Full List of Resources" with inactive ones; otherwise
    /// "Active Resources".
    pub inactive: bool,
    /// `-A`: the "Node Attributes" section.
    pub node_attributes: bool,
    /// `-f`: the "Migration Summary" section (fail counts).
    pub fail_counts: bool,
}

/// A failed operation (`data_set->failed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// `operation_key` (or the history entry's id when it has none).
    pub op_key: String,
    pub has_op_key: bool,
    pub node: String,
    pub rsc: String,
    pub task: String,
    pub interval_ms: u64,
    pub rc: i32,
    pub status: i32,
    pub exit_reason: Option<String>,
    pub call: Option<String>,
    pub last_rc_change: Option<i64>,
    pub exec_ms: Option<String>,
    pub queue_ms: Option<String>,
}

/// The unpacked cluster with what the status views need.
#[derive(Debug, Clone)]
pub struct Status {
    pub cluster: Cluster,
    pub root: std::sync::Arc<Element>,
    pub failures: Vec<Failure>,
    /// Per resource: the first pending (non-probe) operation and its node.
    pub pending: Pending,
    /// The configuration's constraints (for bans).
    pub constraints: Vec<cib::Constraint>,
}

/// Per resource: a pending operation's task and node.
pub type Pending = Vec<Option<(String, NodeIdx)>>;

/// Unpacks `cib` for the status views at the options' "now", with rules'
/// dates in their zone (crm_mon reads them in the host's).
pub fn status(cib: &Cib, opts: &scheduler::Options) -> Status {
    let cluster = scheduler::unpack::unpack_with(cib, opts);
    let failures = failures(&cluster, &cib.root);
    let pending = pending_ops(&cluster, &cib.root);
    Status {
        cluster,
        root: cib.root.clone(),
        failures,
        pending,
        constraints: cib.configuration.constraints.clone(),
    }
}

// ------------------------------------------------------------------ helpers

/// `services_ocf_exitcode_str`.
pub fn exit_str(rc: i32) -> &'static str {
    match rc {
        0 => "ok",
        1 => "error",
        2 => "invalid parameter",
        3 => "unimplemented feature",
        4 => "insufficient privileges",
        5 => "not installed",
        6 => "not configured",
        7 => "not running",
        8 => "promoted",
        9 => "promoted (failed)",
        190 => "degraded",
        191 => "promoted (degraded)",
        _ => "unknown",
    }
}

/// `pcmk_exec_status_str`.
pub fn exec_status_str(status: i32) -> &'static str {
    match status {
        -1 => "pending",
        0 => "complete",
        1 => "Cancelled",
        2 => "Timed Out",
        3 => "NOT SUPPORTED",
        4 => "Error",
        5 => "Hard error",
        6 => "Fatal error",
        7 => "Not installed",
        8 => "Internal communication failure",
        9 => "Cannot execute now",
        10 => "No fence device",
        11 => "CIB secrets unavailable",
        _ => "UNKNOWN!",
    }
}

/// `pcmk__readable_interval`.
pub fn readable_interval(mut ms: u64) -> String {
    const S: u64 = 1000;
    const M: u64 = 60 * S;
    const H: u64 = 60 * M;
    const D: u64 = 24 * H;
    let mut s = String::new();
    if ms > D {
        let _ = write!(s, "{}d", ms / D);
        ms %= D;
    }
    if ms > H {
        let _ = write!(s, "{}h", ms / H);
        ms %= H;
    }
    if ms > M {
        let _ = write!(s, "{}m", ms / M);
        ms %= M;
    }
    if ms > S {
        let _ = write!(s, "{}", ms / S);
        ms %= S;
        if ms > 0 {
            let _ = write!(s, ".{ms:03}");
        }
        s.push('s');
    } else if ms > 0 {
        let _ = write!(s, "{ms}ms");
    } else if s.is_empty() {
        s.push_str("0s");
    }
    s
}

pub use cib::time::{ctime, iso_utc};

fn sorted_nodes(c: &Cluster) -> Vec<NodeIdx> {
    let mut v: Vec<NodeIdx> = NodeIdx::all(c.nodes.len()).collect();
    v.sort_by(|&a, &b| cmp_node_names(&c.nodes[a].uname, &c.nodes[b].uname));
    v
}

fn find_nvpair<'a>(e: &'a Element, name: &str) -> Option<&'a Element> {
    if e.name == "nvpair" && e.attr("name") == Some(name) {
        return Some(e);
    }
    e.elements().find_map(|c| find_nvpair(c, name))
}

/// `native_active`.
fn native_active(c: &Cluster, p: RscIdx) -> bool {
    let rs = &c.rscs[p];
    rs.observed
        .running_on
        .iter()
        .any(|&n| c.nodes[n].unclean || c.nodes[n].online || !rs.config.managed)
}

/// `rsc->fns->active(rsc, all)`.
fn active(c: &Cluster, r: RscIdx, all: bool) -> bool {
    let rs = &c.rscs[r];
    match rs.variant {
        Variant::Primitive { .. } => native_active(c, r),
        _ if rs.children.is_empty() => false,
        _ if all => rs.children.iter().all(|&k| active(c, k, true)),
        _ => rs.children.iter().any(|&k| active(c, k, false)),
    }
}

/// Where the history of a failed op lives: the parsed op-key.
fn parse_op_key(key: &str) -> Option<(String, String, u64)> {
    let (rest, interval) = key.rsplit_once('_')?;
    let interval: u64 = interval.parse().ok()?;
    for t in ["migrate_to", "migrate_from"] {
        if let Some(r) = rest.strip_suffix(&format!("_{t}")) {
            return Some((r.to_string(), t.to_string(), interval));
        }
    }
    if let Some(i) = rest.find("_pre_notify_").or_else(|| rest.find("_post_notify_")) {
        return Some((rest[..i].to_string(), rest[i + 1..].to_string(), interval));
    }
    let (rsc, task) = rest.rsplit_once('_')?;
    Some((rsc.to_string(), task.to_string(), interval))
}

fn num<T: std::str::FromStr>(e: &Element, a: &str) -> Option<T> {
    e.attr(a).and_then(|v| v.trim().parse().ok())
}

/// Whether a history entry is a failure the scheduler records
/// (`record_failed_op`): not pending or cancelled; done (or "error") with an
/// unexpected result, or any other execution status.
fn is_failure(op: &Element) -> bool {
    let status: i32 = num(op, "op-status").unwrap_or(0);
    let rc: i32 = num(op, "rc-code").unwrap_or(0);
    let interval: u64 = num(op, "interval").unwrap_or(0);
    let task = op.attr("operation").unwrap_or("");
    let is_probe = task == "monitor" && interval == 0;
    let target: i32 = op
        .attr("transition-key")
        .and_then(|k| k.split(':').nth(2))
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1);
    match status {
        -1 | 1 => false,
        0 | 4 => {
            if target >= 0 && rc == target {
                return false;
            }
            match rc {
                // A recurring action the agent does not implement.
                3 if interval > 0 => false,
                0 => !(is_probe && target == 7),
                7 => !(is_probe || target == rc),
                8 => !(is_probe || target == rc),
                _ => true,
            }
        }
        _ => true,
    }
}

/// The failed operations in the order Pacemaker records them: nodes in
/// status order, resources in history order, operations by call id; online
/// nodes only; one per (op key, node).
fn failures(c: &Cluster, root: &Element) -> Vec<Failure> {
    let mut out: Vec<Failure> = Vec::new();
    let Some(status) = root.child("status") else {
        return out;
    };
    for ns in status.children_named("node_state") {
        let id = ns.attr("id").unwrap_or("");
        let Some(n) = c
            .nodes
            .iter()
            .position(|x| x.id == id)
            .map(NodeIdx)
            .or_else(|| ns.attr("uname").and_then(|u| c.node_by_name(u)))
        else {
            continue;
        };
        if !c.nodes[n].online {
            continue;
        }
        let uname = c.nodes[n].uname.clone();
        for lrm in ns.children_named("lrm") {
            for lrs in lrm.children_named("lrm_resources") {
                for lr in lrs.children_named("lrm_resource") {
                    let mut ops: Vec<&Element> = lr.children_named("lrm_rsc_op").collect();
                    ops.sort_by_key(call_order);
                    for op in ops {
                        if !is_failure(op) {
                            continue;
                        }
                        let has_op_key = op.attr("operation_key").is_some();
                        let key = op.attr("operation_key").or(op.attr("id")).unwrap_or("").to_string();
                        if out.iter().any(|f| f.op_key == key && f.node == uname) {
                            continue;
                        }
                        let (rsc, task, interval) = parse_op_key(&key)
                            .unwrap_or_else(|| ("unknown resource".into(), "unknown action".into(), 0));
                        out.push(Failure {
                            op_key: key,
                            has_op_key,
                            node: uname.clone(),
                            rsc,
                            task,
                            interval_ms: interval,
                            rc: num(op, "rc-code").unwrap_or(0),
                            status: num(op, "op-status").unwrap_or(0),
                            exit_reason: op.attr("exit-reason").map(str::to_string),
                            call: op.attr("call-id").map(str::to_string),
                            last_rc_change: num(op, "last-rc-change"),
                            exec_ms: op.attr("exec-time").map(str::to_string),
                            queue_ms: op.attr("queue-time").map(str::to_string),
                        });
                    }
                }
            }
        }
    }
    out
}

/// `sort_op_by_callid`: by call id, pending operations (-1) last.
fn call_order(o: &&Element) -> i64 {
    match num::<i64>(o, "call-id") {
        Some(c) if c >= 0 => c,
        _ => i64::MAX,
    }
}

/// `compare_version(a, b) < 0` (dot-separated numbers).
fn version_lt(a: &str, b: &str) -> bool {
    let parse = |v: &str| -> Vec<u64> { v.split('.').map(|x| x.parse().unwrap_or(0)).collect() };
    let (a, b) = (parse(a), parse(b));
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i).copied().unwrap_or(0), b.get(i).copied().unwrap_or(0));
        if x != y {
            return x < y;
        }
    }
    false
}

/// Whether `key` is `PREFIX-NAME[:N]#OP_INTERVAL` (`generate_fail_regex`;
/// no instance number for unique clones, no operation part for CIBs older
/// than feature set 3.0.13).
fn fail_attr_matches(key: &str, prefix: &str, name: &str, unique: bool, legacy: bool) -> bool {
    let Some(mut rest) = key
        .strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('-'))
        .and_then(|r| r.strip_prefix(name))
    else {
        return false;
    };
    if !unique {
        if let Some(after) = rest.strip_prefix(':') {
            let digits = after.chars().take_while(char::is_ascii_digit).count();
            if digits > 0 {
                rest = &after[digits..];
            }
        }
    }
    if legacy {
        return rest.is_empty();
    }
    let Some(op) = rest.strip_prefix('#') else {
        return false;
    };
    match op.rsplit_once('_') {
        Some((task, interval)) => {
            !task.is_empty() && !interval.is_empty() && interval.chars().all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

/// The node index of a `node_state`.
fn state_node(c: &Cluster, ns: &Element) -> Option<NodeIdx> {
    let id = ns.attr("id").unwrap_or("");
    c.nodes
        .iter()
        .position(|x| x.id == id)
        .map(NodeIdx)
        .or_else(|| ns.attr("uname").and_then(|u| c.node_by_name(u)))
}

/// The resource whose history on node `n` is recorded as `hid`.
fn history_rsc(c: &Cluster, n: NodeIdx, hid: &str) -> Option<RscIdx> {
    c.rscs
        .iter()
        .position(|r| r.is_primitive() && r.observed.history_ids.iter().any(|(m, h)| *m == n && h == hid))
        .map(RscIdx)
        .or_else(|| c.rsc_by_id(hid))
}

/// `rsc->pending_task`: the first pending operation other than a probe, in
/// history order.
fn pending_ops(c: &Cluster, root: &Element) -> Pending {
    let mut out: Pending = vec![None; c.rscs.len()];
    let Some(status) = root.child("status") else {
        return out;
    };
    for ns in status.children_named("node_state") {
        let Some(n) = state_node(c, ns) else { continue };
        for lr in ns
            .children_named("lrm")
            .flat_map(|l| l.children_named("lrm_resources"))
            .flat_map(|l| l.children_named("lrm_resource"))
        {
            let Some(r) = lr.attr("id").and_then(|h| history_rsc(c, n, h)) else {
                continue;
            };
            if out[r.0].is_some() {
                continue;
            }
            let mut ops: Vec<&Element> = lr.children_named("lrm_rsc_op").collect();
            ops.sort_by_key(call_order);
            for o in ops {
                if num::<i32>(o, "op-status") != Some(-1) {
                    continue;
                }
                let task = o.attr("operation").unwrap_or("");
                let interval: u64 = num(o, "interval").unwrap_or(0);
                if task == "monitor" && interval == 0 {
                    continue;
                }
                out[r.0] = Some((task.to_string(), n));
                break;
            }
        }
    }
    out
}

/// `pcmk_xe_mask_probe_failure`: probes that found the agent not installed
/// are not listed.
fn masked_probe(f: &Failure) -> bool {
    f.task == "monitor" && f.interval_ms == 0 && (f.status == 7 || f.rc == 5)
}

// ------------------------------------------------------------------ summary

impl Status {
    fn crm_config_value(&self, name: &str) -> Option<String> {
        let cfg = self.root.child("configuration")?.child("crm_config")?;
        find_nvpair(cfg, name).and_then(|e| e.attr("value")).map(str::to_string)
    }

    fn stack(&self, opts: &MonOptions) -> String {
        opts.stack
            .clone()
            .or_else(|| self.crm_config_value("cluster-infrastructure"))
            .unwrap_or_else(|| "unknown".into())
    }

    fn dc(&self) -> Option<NodeIdx> {
        self.cluster.nodes.iter().position(|n| n.is_dc).map(NodeIdx)
    }

    fn dc_version(&self) -> Option<String> {
        find_nvpair(&self.root, "dc-version")
            .and_then(|e| e.attr("value"))
            .map(str::to_string)
    }

    fn with_quorum(&self) -> bool {
        self.root.attr("have-quorum").is_some_and(cib::is_true)
    }

    fn last_change(&self) -> String {
        let r = &self.root;
        let (w, u, c, o) = (
            r.attr("cib-last-written"),
            r.attr("update-user"),
            r.attr("update-client"),
            r.attr("update-origin"),
        );
        let mut s = w.unwrap_or("").to_string();
        if let Some(u) = u {
            let _ = write!(s, " by {u}");
        }
        if let Some(c) = c {
            let _ = write!(s, " via {c}");
        }
        if let Some(o) = o {
            let _ = write!(s, " on {o}");
        }
        s
    }

    /// (instances, disabled, blocked).
    /// (`pe__count_common`): leaves that are not stopped orphans.
    fn counts(&self) -> (usize, usize, usize) {
        let c = &self.cluster;
        fn leaves(c: &Cluster, r: RscIdx, out: &mut Vec<RscIdx>) {
            if let Some(b) = c.bundles.iter().find(|b| b.rsc == r) {
                for rep in &b.replicas {
                    for x in [rep.ip, rep.child, Some(rep.container), rep.remote]
                        .into_iter()
                        .flatten()
                    {
                        leaves(c, x, out);
                    }
                }
            } else if c.rscs[r].is_primitive() {
                out.push(r);
            } else {
                for &k in &c.rscs[r].children {
                    leaves(c, k, out);
                }
            }
        }
        let mut all = Vec::new();
        for &r in &c.top {
            let in_bundle = c.bundles.iter().any(|b| {
                b.child_clone == Some(r) || b.replicas.iter().any(|rep| rep.ip == Some(r) || rep.remote == Some(r))
            });
            if !in_bundle {
                leaves(c, r, &mut all);
            }
        }
        let prims: Vec<&scheduler::model::Rsc> = all
            .into_iter()
            .map(|r| &c.rscs[r])
            .filter(|r| !r.observed.orphan || r.observed.role > Role::Stopped)
            .collect();
        let disabled = prims
            .iter()
            .filter(|r| r.config.target_role == Some(Role::Stopped))
            .count();
        let blocked = prims.iter().filter(|r| r.plan.blocked).count();
        (prims.len(), disabled, blocked)
    }

    fn node_health(&self, n: NodeIdx) -> &'static str {
        match self.cluster.nodes[n].health {
            h if h < 0 => "red",
            0 => "yellow",
            _ => "green",
        }
    }

    fn node_type(&self, n: NodeIdx) -> &'static str {
        match self.cluster.nodes[n].kind {
            NodeKind::Cluster => "member",
            NodeKind::Remote | NodeKind::Guest => "remote",
        }
    }

    /// Primitives running on a node (`running_rsc`).
    fn running_count(&self, n: NodeIdx) -> usize {
        self.cluster
            .rscs
            .iter()
            .filter(|r| r.is_primitive() && r.observed.running_on.contains(&n))
            .count()
    }

    /// Attributes shown for a node (`filter_attr_list`), sorted.
    fn shown_attrs(&self, n: NodeIdx) -> Vec<(&str, &str)> {
        const FILTER: [&str; 6] = ["fail-count", "last-failure", "shutdown", "terminate", "standby", "#"];
        self.cluster.nodes[n]
            .attrs
            .iter()
            .filter(|(k, _)| !FILTER.iter().any(|f| k.starts_with(f)))
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }

    /// `pe_get_failcount`: the summed fail counts of a resource's history
    /// name on a node and the latest last-failure.
    fn failcount(&self, n: NodeIdx, r: RscIdx) -> (i64, i64) {
        let c = &self.cluster;
        let name = self.fail_name(r);
        let unique = matches!(c.rscs[c.top_parent(r)].variant, Variant::Clone { unique: true, .. });
        let legacy = self
            .root
            .attr("crm_feature_set")
            .is_none_or(|v| version_lt(v, "3.0.13"));
        let mut count = 0i64;
        let mut last = 0i64;
        for (k, v) in &c.nodes[n].attrs {
            if fail_attr_matches(k, "fail-count", &name, unique, legacy) {
                let s = i64::from(cib::score::lenient_score(v));
                count = (count + s).clamp(-i64::from(cib::score::INFINITY), i64::from(cib::score::INFINITY));
            } else if fail_attr_matches(k, "last-failure", &name, unique, legacy) {
                last = last.max(v.trim().parse().unwrap_or(0));
            }
        }
        if count <= 0 {
            last = 0;
        }
        (count, last)
    }

    /// Name under which a resource's fail counts are recorded.
    fn fail_name(&self, r: RscIdx) -> String {
        let c = &self.cluster;
        let rs = &c.rscs[r];
        let unique = matches!(c.rscs[c.top_parent(r)].variant, Variant::Clone { unique: true, .. });
        if rs.config.instance.is_some() && !unique {
            clone_strip(&rs.id).to_string()
        } else {
            rs.id.clone()
        }
    }

    fn visible_failures(&self) -> impl Iterator<Item = &Failure> {
        self.failures.iter().filter(|f| !masked_probe(f))
    }
}

// --------------------------------------------------------------------- text

fn resource_header(opts: &MonOptions) -> &'static str {
    if opts.inactive {
        "Full List of Resources:"
    } else {
        "Active Resources:"
    }
}

impl Status {
    /// `crm_mon -1` text (with `-r`, `-A`, `-f` as `opts` asks).
    pub fn text(&self, opts: &MonOptions) -> String {
        let c = &self.cluster;
        let mut out = String::from("Cluster Summary:\n");
        let _ = writeln!(out, "  * Stack: {}", self.stack(opts));
        match self.dc() {
            Some(n) => {
                let _ = writeln!(
                    out,
                    "  * Current DC: {} (version {}) - partition {} quorum",
                    c.nodes[n].uname,
                    self.dc_version().unwrap_or_else(|| "unknown".into()),
                    if self.with_quorum() { "with" } else { "WITHOUT" }
                );
            }
            None => out.push_str("  * Current DC: NONE\n"),
        }
        let _ = writeln!(out, "  * Last updated: {}", opts.last_updated);
        let _ = writeln!(out, "  * Last change:  {}", self.last_change());
        let nn = c.nodes.len();
        let _ = writeln!(out, "  * {nn} node{} configured", if nn == 1 { "" } else { "s" });
        let (ni, nd, nb) = self.counts();
        let pl = if ni == 1 { "" } else { "s" };
        let _ = match (nd, nb) {
            (0, 0) => writeln!(out, "  * {ni} resource instance{pl} configured"),
            (d, 0) => writeln!(out, "  * {ni} resource instance{pl} configured ({d} DISABLED)"),
            (0, b) => writeln!(
                out,
                "  * {ni} resource instance{pl} configured ({b} BLOCKED from further action due to failure)"
            ),
            (d, b) => writeln!(
                out,
                "  * {ni} resource instance{pl} configured ({d} DISABLED, {b} BLOCKED from further action due to failure)"
            ),
        };
        if c.options.maintenance_mode {
            out.push_str("\n              *** Resource management is DISABLED ***\n");
            out.push_str("  The cluster will not attempt to start, stop or recover services\n");
        } else if c.options.stop_all_resources {
            out.push_str("\n    *** Resource management is DISABLED ***\n");
            out.push_str("  The cluster will keep all resources stopped\n");
        }
        out.push_str("\nNode List:\n");
        let mut nodes = String::new();
        output::node_list(c, &mut nodes);
        for l in nodes.lines().skip(1) {
            out.push_str(l.strip_prefix("  ").unwrap_or(l));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(resource_header(opts));
        out.push('\n');
        let mut rsc = String::new();
        for &r in &c.top {
            self.top_text(r, opts.inactive, &mut rsc);
        }
        if rsc.is_empty() {
            rsc = if opts.inactive {
                "  * No resources\n".into()
            } else {
                "  * No active resources\n".into()
            };
        }
        out.push_str(&rsc);
        if opts.node_attributes {
            let mut sec = String::new();
            for n in sorted_nodes(c) {
                if !c.nodes[n].online {
                    continue;
                }
                let attrs = self.shown_attrs(n);
                if attrs.is_empty() {
                    continue;
                }
                let _ = writeln!(sec, "  * Node: {}:", c.nodes[n].uname);
                for (k, v) in attrs {
                    match self.expected_ping(n, k) {
                        Some(e) => {
                            let val: i64 = v.trim().parse().unwrap_or(0);
                            if val <= 0 {
                                let _ = writeln!(sec, "    * {k:<32}\t: {v:<10}\t: Connectivity is lost");
                            } else if val < e {
                                let _ = writeln!(
                                    sec,
                                    "    * {k:<32}\t: {v:<10}\t: Connectivity is degraded (Expected={e})"
                                );
                            } else {
                                let _ = writeln!(sec, "    * {k:<32}\t: {v:<10}");
                            }
                        }
                        None => {
                            let _ = writeln!(sec, "    * {k:<32}\t: {v:<10}");
                        }
                    }
                }
            }
            if !sec.is_empty() {
                out.push_str("\nNode Attributes:\n");
                out.push_str(&sec);
            }
        }
        if opts.fail_counts && self.any_online_state() {
            out.push_str("\nMigration Summary:\n");
            for (n, entries) in self.migration_summary() {
                let _ = writeln!(out, "  * Node: {}:", c.nodes[n].uname);
                for (id, thr, fc, lf) in entries {
                    let mut s = format!("{id}: migration-threshold={thr}");
                    if fc > 0 {
                        let _ = write!(s, " fail-count={}", cib::score::to_text(fc as i32));
                    }
                    if lf > 0 {
                        let _ = write!(s, " last-failure='{}'", ctime(lf));
                    }
                    let _ = writeln!(out, "    * {s}");
                }
            }
        }
        let mut failed = String::new();
        for f in self.visible_failures() {
            let _ = writeln!(failed, "  * {}", failure_text(f));
        }
        if !failed.is_empty() {
            out.push_str("\nFailed Resource Actions:\n");
            out.push_str(&failed);
        }
        out
    }

    /// Per node in status order (online nodes with fail counts): the
    /// resources with a fail count (history id, threshold, count, last).
    #[allow(clippy::type_complexity)]
    fn migration_summary(&self) -> Vec<(NodeIdx, Vec<(String, i64, i64, i64)>)> {
        let c = &self.cluster;
        let mut out = Vec::new();
        let Some(status) = self.root.child("status") else {
            return out;
        };
        for ns in status.children_named("node_state") {
            let id = ns.attr("id").unwrap_or("");
            let Some(n) = c.nodes.iter().position(|x| x.id == id).map(NodeIdx) else {
                continue;
            };
            if !c.nodes[n].online {
                continue;
            }
            let mut entries = Vec::new();
            for lr in ns
                .children_named("lrm")
                .flat_map(|l| l.children_named("lrm_resources"))
                .flat_map(|l| l.children_named("lrm_resource"))
            {
                let Some(hid) = lr.attr("id") else { continue };
                let Some(r) = self.history_rsc(n, hid) else { continue };
                let (fc, lf) = self.failcount(n, r);
                if fc <= 0 {
                    continue;
                }
                entries.push((output_id(c, r), c.rscs[r].config.migration_threshold, fc, lf));
            }
            if !entries.is_empty() {
                out.push((n, entries));
            }
        }
        out
    }

    /// Whether a node of the status section is online.
    fn any_online_state(&self) -> bool {
        let c = &self.cluster;
        self.root.child("status").is_some_and(|st| {
            st.children_named("node_state")
                .any(|ns| state_node(c, ns).is_some_and(|n| c.nodes[n].online))
        })
    }

    fn history_rsc(&self, n: NodeIdx, hid: &str) -> Option<RscIdx> {
        history_rsc(&self.cluster, n, hid)
    }

    fn top_text(&self, r: RscIdx, inactive: bool, out: &mut String) {
        let c = &self.cluster;
        let rs = &c.rscs[r];
        let is_active = active(c, r, true);
        let partially = active(c, r, false);
        if rs.observed.orphan && !is_active {
            return;
        }
        if rs.config.meta.get("internal_rsc").is_some_and(|v| v == "true") {
            return;
        }
        if c.bundles.iter().any(|b| {
            b.child_clone == Some(r) || b.replicas.iter().any(|rep| rep.ip == Some(r) || rep.remote == Some(r))
        }) {
            return;
        }
        if let Some(b) = c.bundles.iter().find(|b| b.rsc == r) {
            if !inactive && !partially {
                return;
            }
            bundle_text(c, &self.pending, b, out);
            return;
        }
        if !partially && !inactive {
            return;
        }
        // A partially active resource running on no node is not shown
        // (`pe__rsc_running_on_any`, lib/pengine/pe_output.c:2707).
        if partially && c.recorded_running_on(r).is_empty() {
            return;
        }
        rsc_text(c, &self.pending, r, 1, inactive, out);
    }
}

/// The display id of a resource's history (`rsc_printable_id`).
fn output_id(c: &Cluster, r: RscIdx) -> String {
    let rs = &c.rscs[r];
    let unique = matches!(c.rscs[c.top_parent(r)].variant, Variant::Clone { unique: true, .. });
    if rs.config.instance.is_some() && !unique {
        clone_strip(&rs.id).to_string()
    } else {
        rs.id.clone()
    }
}

/// `failed_action_friendly`.
pub fn failure_text(f: &Failure) -> String {
    let mut s = format!("{} ", f.rsc);
    if f.interval_ms != 0 {
        let _ = write!(s, "{}-interval ", readable_interval(f.interval_ms));
    }
    let task = if f.task == "monitor" && f.interval_ms == 0 {
        "probe"
    } else {
        f.task.as_str()
    };
    let _ = write!(s, "{task} on {}", f.node);
    let reason = f.exit_reason.as_deref().filter(|r| !r.is_empty());
    if f.status == 0 {
        let _ = write!(s, " returned '{}'", exit_str(f.rc));
        if let Some(r) = reason {
            let _ = write!(s, " ({r})");
        }
    } else {
        let _ = write!(s, " could not be executed ({}", exec_status_str(f.status));
        if let Some(r) = reason {
            let _ = write!(s, ": {r}");
        }
        s.push(')');
    }
    if let Some(t) = f.last_rc_change {
        let _ = write!(s, " at {}", ctime(t));
    }
    if let Some(e) = f.exec_ms.as_deref().and_then(|v| v.parse::<u64>().ok()) {
        if e > 0 {
            let _ = write!(s, " after {}", readable_interval(e));
        }
    }
    s
}

fn is_disabled(c: &Cluster, r: RscIdx) -> bool {
    c.rscs[r].config.target_role == Some(Role::Stopped)
}

fn rsc_text(c: &Cluster, pend: &Pending, r: RscIdx, indent: usize, inactive: bool, out: &mut String) {
    let pad = "  ".repeat(indent);
    let rs = &c.rscs[r];
    match &rs.variant {
        Variant::Primitive { .. } => {
            let _ = writeln!(out, "{pad}* {}", primitive_text_as(c, pend, r, &output_id(c, r), None));
        }
        Variant::Group => {
            let all = active(c, r, true);
            let partially = active(c, r, false);
            let mut attrs: Vec<String> = Vec::new();
            if !all && partially && !inactive {
                let n = rs.children.iter().filter(|&&k| !active(c, k, true)).count();
                if n > 0 {
                    attrs.push(format!("{n} member{} inactive", if n == 1 { "" } else { "s" }));
                }
            }
            if !rs.config.managed {
                attrs.push("unmanaged".into());
            }
            if is_disabled(c, r) {
                attrs.push("disabled".into());
            }
            let mut body = String::new();
            for &k in &rs.children {
                if !inactive && !active(c, k, false) {
                    continue;
                }
                rsc_text(c, pend, k, indent + 1, inactive, &mut body);
            }
            if body.is_empty() {
                return;
            }
            if attrs.is_empty() {
                let _ = writeln!(out, "{pad}* Resource Group: {}:", rs.id);
            } else {
                let _ = writeln!(out, "{pad}* Resource Group: {} ({}):", rs.id, attrs.join(", "));
            }
            out.push_str(&body);
        }
        Variant::Clone { .. } => clone_text(c, pend, r, indent, inactive, out),
    }
}

fn clone_text(c: &Cluster, pend: &Pending, r: RscIdx, indent: usize, inactive: bool, out: &mut String) {
    let pad = "  ".repeat(indent);
    let rs = &c.rscs[r];
    let Variant::Clone {
        promotable,
        unique,
        clone_max,
        ..
    } = rs.variant
    else {
        return;
    };
    let child_name = rs
        .children
        .first()
        .map(|&k| clone_strip(&c.rscs[k].id).to_string())
        .unwrap_or_default();
    let mut attrs = Vec::new();
    if promotable {
        attrs.push("promotable");
    }
    if unique {
        attrs.push("unique");
    }
    if !rs.config.managed {
        attrs.push("unmanaged");
    }
    if is_disabled(c, r) {
        attrs.push("disabled");
    }
    let header = if attrs.is_empty() {
        format!("{pad}* Clone Set: {} [{}]:\n", rs.id, child_name)
    } else {
        format!("{pad}* Clone Set: {} [{}] ({}):\n", rs.id, child_name, attrs.join(", "))
    };
    let mut body = String::new();
    let mut promoted: Vec<NodeIdx> = Vec::new();
    let mut started: Vec<NodeIdx> = Vec::new();
    let mut full: Vec<RscIdx> = Vec::new();
    for &k in &rs.children {
        let prims = c.primitives_of(k);
        let partially = prims.iter().any(|&p| native_active(c, p));
        let all_active = prims.iter().all(|&p| native_active(c, p));
        if unique {
            if partially || !rs.observed.orphan {
                full.push(k);
            }
            continue;
        }
        if prims.iter().any(|&p| pend[p.0].is_some()) {
            full.push(k);
            continue;
        }
        if !partially {
            continue;
        }
        let odd = prims.iter().any(|&p| {
            let x = &c.rscs[p];
            x.observed.orphan || !x.config.managed || x.observed.failed
        });
        if odd || !all_active {
            full.push(k);
            continue;
        }
        let mut locs: Vec<NodeIdx> = Vec::new();
        for &p in &prims {
            for &n in &c.rscs[p].observed.running_on {
                if !locs.contains(&n) {
                    locs.push(n);
                }
            }
        }
        if locs.len() == 1 {
            let n = locs[0];
            if !c.nodes[n].online && c.nodes[n].unclean {
                full.push(k);
            } else if prims.iter().map(|&p| c.rscs[p].observed.role).max() > Some(Role::Unpromoted) {
                promoted.push(n);
            } else {
                started.push(n);
            }
        } else {
            full.push(k);
        }
    }
    for k in &full {
        rsc_text(c, pend, *k, indent + 1, inactive, &mut body);
    }
    let inner = "  ".repeat(indent + 1);
    promoted.sort_by(|&a, &b| cmp_node_names(&c.nodes[a].uname, &c.nodes[b].uname));
    started.sort_by(|&a, &b| cmp_node_names(&c.nodes[a].uname, &c.nodes[b].uname));
    let mut active_instances = 0;
    if !promoted.is_empty() {
        active_instances += promoted.len();
        let names: Vec<&str> = promoted.iter().map(|&n| c.nodes[n].uname.as_str()).collect();
        let _ = writeln!(body, "{inner}* Promoted: [ {} ]", names.join(" "));
    }
    if !started.is_empty() {
        active_instances += started.len();
        let names: Vec<&str> = started.iter().map(|&n| c.nodes[n].uname.as_str()).collect();
        let label = if promotable { "Unpromoted" } else { "Started" };
        let _ = writeln!(body, "{inner}* {label}: [ {} ]", names.join(" "));
    }
    if inactive && !unique && clone_max > active_instances {
        let running: Vec<NodeIdx> = c
            .primitives_of(r)
            .iter()
            .flat_map(|&p| {
                c.rscs[p]
                    .observed
                    .running_on
                    .iter()
                    .copied()
                    .filter(move |&n| c.rscs[p].config.managed || c.nodes[n].online)
            })
            .collect();
        let known: Vec<NodeIdx> = c
            .primitives_of(r)
            .iter()
            .flat_map(|&p| c.rscs[p].observed.known_on.clone())
            .collect();
        let mut stopped: Vec<(String, NodeIdx)> = Vec::new();
        for n in sorted_nodes(c) {
            let allowed = if c.options.symmetric {
                c.in_symmetric_table(r, n)
            } else {
                known.contains(&n)
            };
            if !allowed || running.contains(&n) {
                continue;
            }
            let probe = c
                .primitives_of(r)
                .iter()
                .flat_map(|&p| c.rscs[p].observed.failed_probe_rc.clone())
                .find(|(m, _)| *m == n);
            let state = match probe {
                Some((_, rc)) => format!("Stopped ({})", exit_str(rc)),
                None if is_disabled(c, r) => "Stopped (disabled)".into(),
                None => "Stopped".into(),
            };
            stopped.push((state, n));
        }
        let mut states: Vec<String> = stopped.iter().map(|(s, _)| s.clone()).collect();
        states.sort();
        states.dedup();
        for st in states {
            let names: Vec<&str> = stopped
                .iter()
                .filter(|(s, _)| *s == st)
                .map(|(_, n)| c.nodes[*n].uname.as_str())
                .collect();
            let _ = writeln!(body, "{inner}* {st}: [ {} ]", names.join(" "));
        }
    }
    if body.is_empty() && !inactive {
        return;
    }
    out.push_str(&header);
    out.push_str(&body);
}

fn bundle_text(c: &Cluster, pend: &Pending, b: &Bundle, out: &mut String) {
    let rs = &c.rscs[b.rsc];
    let unique = matches!(rs.variant, Variant::Clone { clone_node_max, .. } if clone_node_max > 1)
        && rs.config.meta.get("globally-unique").is_some_and(|v| v == "true");
    let mut body = String::new();
    for rep in &b.replicas {
        let shown = rep.child.unwrap_or(rep.container);
        let mut name = c.rscs[rep.remote.unwrap_or(rep.container)].id.clone();
        if let Some(ip) = &rep.ipaddr {
            let _ = write!(name, " ({ip})");
        }
        let line = primitive_text_as(c, pend, shown, &name, Some(c.rscs[rep.container].current_node()));
        let _ = writeln!(body, "    * {line}");
    }
    let _ = writeln!(
        out,
        "  * Container bundle{}: {} [{}]{}{}:",
        if b.replicas.len() > 1 { " set" } else { "" },
        rs.id,
        b.image,
        if unique { " (unique)" } else { "" },
        if rs.config.managed { "" } else { " (unmanaged)" }
    );
    out.push_str(&body);
}

// The primitive line of `crm_simulate`'s output (`crate::output`), with the
// name and node a bundle replica shows.
fn displayable_role(c: &Cluster, r: RscIdx) -> Role {
    let role = c.rscs[r].observed.role;
    if role == Role::Started && c.in_promotable(r) {
        Role::Unpromoted
    } else {
        role
    }
}

fn primitive_text_as(c: &Cluster, pend: &Pending, r: RscIdx, name: &str, at: Option<Option<NodeIdx>>) -> String {
    let rs = &c.rscs[r];
    let pending = pend[r.0].as_ref();
    let mut s = format!("{name}\t({}):\t", rs.agent());
    let multiple = at.is_none() && rs.observed.running_on.len() > 1;
    // An inactive resource shows the node it is shutdown-locked to.
    let node = match at {
        Some(n) => n,
        None if multiple => None,
        None => rs.current_node().or(pending.map(|(_, n)| *n)).or(rs.observed.lock_node),
    };
    if rs.observed.orphan {
        s.push_str(" ORPHANED");
    }
    let role = displayable_role(c, r);
    if rs.observed.failed {
        s.push_str(" FAILED");
        if role > Role::Unpromoted {
            let _ = write!(s, " {}", role.as_str());
        }
    } else {
        let state = match pending.map(|(t, _)| t.as_str()) {
            Some("start") => "Starting",
            Some("stop") => "Stopping",
            Some("migrate_to") | Some("migrate_from") => "Migrating",
            Some("promote") => "Promoting",
            Some("demote") => "Demoting",
            _ => role.as_str(),
        };
        let _ = write!(s, " {state}");
    }
    if let Some(n) = node {
        let _ = write!(s, " {}", c.nodes[n].uname);
    }
    if role == Role::Stopped {
        let probe = rs
            .observed
            .failed_probe_rc
            .iter()
            .find(|(n, _)| node.is_none_or(|x| x == *n));
        if let Some((_, rc)) = probe {
            let _ = write!(s, " ({}) ", exit_str(*rc));
        }
    }
    let mut flags: Vec<String> = Vec::new();
    if let Some(n) = node {
        if !c.nodes[n].online && c.nodes[n].unclean {
            flags.push("UNCLEAN".into());
        }
        if rs.observed.lock_node == Some(n) {
            flags.push("LOCKED".into());
        }
    }
    if pending.is_some_and(|(t, _)| t == "monitor") {
        flags.push("Monitoring".into());
    }
    output::finish_primitive_line(c, r, s, flags, multiple)
}

// ---------------------------------------------------------------------- xml

struct Xml {
    out: String,
    depth: usize,
}

impl Xml {
    fn open(&mut self, name: &str, attrs: &[(&str, String)], empty: bool) {
        let _ = write!(self.out, "{}<{name}", "  ".repeat(self.depth));
        for (k, v) in attrs {
            let _ = write!(self.out, " {k}=\"{}\"", escape_attr(v));
        }
        if empty {
            self.out.push_str("/>\n");
        } else {
            self.out.push_str(">\n");
            self.depth += 1;
        }
    }
    fn close(&mut self, name: &str) {
        self.depth -= 1;
        let _ = writeln!(self.out, "{}</{name}>", "  ".repeat(self.depth));
    }
}

fn b(v: bool) -> String {
    if v { "true" } else { "false" }.to_string()
}

impl Status {
    /// `crm_mon --output-as=xml` (`request` is echoed in the root element).
    pub fn xml(&self, opts: &MonOptions, request: &str) -> String {
        let c = &self.cluster;
        let mut x = Xml {
            out: String::new(),
            depth: 0,
        };
        x.open(
            "pacemaker-result",
            &[("api-version", "2.25".into()), ("request", request.into())],
            false,
        );
        x.open("summary", &[], false);
        x.open("stack", &[("type", self.stack(opts))], true);
        match self.dc() {
            Some(n) => x.open(
                "current_dc",
                &[
                    ("present", "true".into()),
                    ("version", self.dc_version().unwrap_or_default()),
                    ("name", c.nodes[n].uname.clone()),
                    ("id", c.nodes[n].id.clone()),
                    ("with_quorum", b(self.with_quorum())),
                    ("mixed_version", "false".into()),
                ],
                true,
            ),
            None => x.open("current_dc", &[("present", "false".into())], true),
        }
        x.open("last_update", &[("time", opts.last_updated.clone())], true);
        let r = &self.root;
        x.open(
            "last_change",
            &[
                ("time", r.attr("cib-last-written").unwrap_or("").into()),
                ("user", r.attr("update-user").unwrap_or("").into()),
                ("client", r.attr("update-client").unwrap_or("").into()),
                ("origin", r.attr("update-origin").unwrap_or("").into()),
            ],
            true,
        );
        x.open("nodes_configured", &[("number", c.nodes.len().to_string())], true);
        let (ni, nd, nb) = self.counts();
        x.open(
            "resources_configured",
            &[
                ("number", ni.to_string()),
                ("disabled", nd.to_string()),
                ("blocked", nb.to_string()),
            ],
            true,
        );
        let o = &c.options;
        let nqp = self
            .crm_config_value("no-quorum-policy")
            .filter(|v| ["stop", "freeze", "ignore", "demote", "suicide"].contains(&v.as_str()))
            .unwrap_or_else(|| "stop".into());
        let stonith_timeout_ms = self
            .crm_config_value("stonith-timeout")
            .and_then(|v| cib::parse_interval_ms(&v))
            .unwrap_or(60000);
        let pfd_ms = self
            .crm_config_value("priority-fencing-delay")
            .and_then(|v| cib::parse_interval_ms(&v))
            .unwrap_or(0);
        x.open(
            "cluster_options",
            &[
                ("stonith-enabled", b(o.stonith_enabled)),
                ("symmetric-cluster", b(o.symmetric)),
                ("no-quorum-policy", nqp),
                ("maintenance-mode", b(o.maintenance_mode)),
                ("stop-all-resources", b(o.stop_all_resources)),
                ("stonith-timeout-ms", stonith_timeout_ms.to_string()),
                ("priority-fencing-delay-ms", pfd_ms.to_string()),
            ],
            true,
        );
        x.close("summary");
        x.open("nodes", &[], false);
        for n in sorted_nodes(c) {
            let node = &c.nodes[n];
            let mut attrs = vec![
                ("name", node.uname.clone()),
                ("id", node.id.clone()),
                ("online", b(node.online)),
                ("standby", b(node.standby)),
                ("standby_onfail", b(node.standby_onfail)),
                ("maintenance", b(node.maintenance)),
                ("pending", b(node.pending)),
                ("unclean", b(node.unclean)),
                ("health", self.node_health(n).into()),
            ];
            if node.online && node.kind == NodeKind::Cluster {
                attrs.push((
                    "feature_set",
                    node.attrs
                        .get("#feature-set")
                        .cloned()
                        .unwrap_or_else(|| "<3.15.1".into()),
                ));
            }
            attrs.extend([
                ("shutdown", b(node.shutdown)),
                ("expected_up", b(node.expected_up)),
                ("is_dc", b(node.is_dc)),
                ("resources_running", self.running_count(n).to_string()),
                ("type", self.node_type(n).into()),
            ]);
            if node.kind == NodeKind::Guest {
                if let Some(ct) = node.remote.conn.and_then(|r| c.rscs[r].remote.container) {
                    attrs.push(("id_as_resource", c.rscs[ct].id.clone()));
                }
            }
            x.open("node", &attrs, true);
        }
        x.close("nodes");
        let mut body = Xml {
            out: String::new(),
            depth: 2,
        };
        for &r in &c.top {
            self.top_xml(r, &mut body);
        }
        if body.out.is_empty() {
            x.open("resources", &[], true);
        } else {
            x.open("resources", &[], false);
            x.out.push_str(&body.out);
            x.close("resources");
        }
        // Node attributes.
        let mut na = Xml {
            out: String::new(),
            depth: 2,
        };
        for n in sorted_nodes(c) {
            if !c.nodes[n].online {
                continue;
            }
            let attrs = self.shown_attrs(n);
            if attrs.is_empty() {
                continue;
            }
            na.open("node", &[("name", c.nodes[n].uname.clone())], false);
            for (k, v) in attrs {
                let mut a = vec![("name", k.to_string()), ("value", v.to_string())];
                if let Some(e) = self.expected_ping(n, k) {
                    a.push(("expected", e.to_string()));
                }
                na.open("attribute", &a, true);
            }
            na.close("node");
        }
        if !na.out.is_empty() {
            x.open("node_attributes", &[], false);
            x.out.push_str(&na.out);
            x.close("node_attributes");
        }
        // Operation history.
        let hist = self.history_xml();
        if hist.is_empty() {
            if self.any_online_state() {
                x.open("node_history", &[], true);
            }
        } else {
            x.open("node_history", &[], false);
            x.out.push_str(&hist);
            x.close("node_history");
        }
        let mut fl = Xml {
            out: String::new(),
            depth: 2,
        };
        for f in self.visible_failures() {
            let mut attrs = vec![
                (if f.has_op_key { "op_key" } else { "id" }, f.op_key.clone()),
                ("node", f.node.clone()),
                ("exitstatus", exit_str(f.rc).into()),
                ("exitreason", f.exit_reason.clone().unwrap_or_else(|| "none".into())),
                ("exitcode", f.rc.to_string()),
            ];
            if let Some(call) = &f.call {
                attrs.push(("call", call.clone()));
            }
            attrs.push(("status", exec_status_str(f.status).into()));
            if let Some(t) = f.last_rc_change.filter(|&t| t > 0) {
                attrs.push(("last-rc-change", iso_utc(t)));
                if let Some(q) = &f.queue_ms {
                    attrs.push(("queued", q.clone()));
                }
                if let Some(e) = &f.exec_ms {
                    attrs.push(("exec", e.clone()));
                }
                attrs.push(("interval", f.interval_ms.to_string()));
                attrs.push(("task", f.task.clone()));
            }
            fl.open("failure", &attrs, true);
        }
        if !fl.out.is_empty() {
            x.open("failures", &[], false);
            x.out.push_str(&fl.out);
            x.close("failures");
        }
        let tickets = self.tickets();
        if !tickets.is_empty() {
            x.open("tickets", &[], false);
            for (id, granted, standby, last) in tickets {
                let mut attrs = vec![
                    ("id", id),
                    ("status", if granted { "granted" } else { "revoked" }.to_string()),
                    ("standby", b(standby)),
                ];
                if let Some(t) = last {
                    attrs.push(("last-granted", ctime(t)));
                }
                x.open("ticket", &attrs, true);
            }
            x.close("tickets");
        }
        let bans = self.bans();
        if !bans.is_empty() {
            x.open("bans", &[], false);
            for (id, rsc, node, w, promoted) in bans {
                x.open(
                    "ban",
                    &[
                        ("id", id),
                        ("resource", rsc),
                        ("node", node),
                        ("weight", w.to_string()),
                        ("promoted-only", b(promoted)),
                        ("master_only", b(promoted)),
                    ],
                    true,
                );
            }
            x.close("bans");
        }
        x.open("status", &[("code", "0".into()), ("message", "OK".into())], true);
        x.close("pacemaker-result");
        x.out
    }

    /// Negative location constraints naming a node directly (rules are not
    /// evaluated here): id, resource, node, score, promoted only.
    fn bans(&self) -> Vec<(String, String, String, i32, bool)> {
        let c = &self.cluster;
        let mut out = Vec::new();
        for con in &self.constraints {
            let cib::Constraint::Location(l) = con else { continue };
            let Some(rsc) = l.rsc.as_deref().filter(|r| c.rsc_by_id(r).is_some()) else {
                continue;
            };
            let promoted = l
                .role
                .as_deref()
                .is_some_and(|r| Role::parse(r) == Some(Role::Promoted));
            if let (Some(node), Some(w)) = (l.node.as_deref(), l.score) {
                if w < 0 && c.node_by_name(node).is_some() {
                    out.push((l.id.clone(), rsc.to_string(), node.to_string(), w, promoted));
                }
                continue;
            }
            // One placement per rule, on the nodes where it holds.
            for rule in &l.rules {
                let Some(w) = rule.score.filter(|&w| w < 0) else {
                    continue;
                };
                for n in sorted_nodes(c) {
                    let ctx = cib::rules::RuleContext {
                        node_attrs: Some(&c.nodes[n].attrs),
                        ..c.rule_context()
                    };
                    if cib::rules::eval_rule(rule, &ctx) {
                        out.push((rule.id.clone(), rsc.to_string(), c.nodes[n].uname.clone(), w, promoted));
                    }
                }
            }
        }
        // `data_set->placement_constraints` and each one's node list are
        // built by prepending.
        out.reverse();
        out
    }

    /// Tickets from the status section (`ticket_state`) and the `rsc_ticket`
    /// constraints: id, granted, standby, last granted.
    fn tickets(&self) -> Vec<(String, bool, bool, Option<i64>)> {
        let mut out: Vec<(String, bool, bool, Option<i64>)> = Vec::new();
        if let Some(ts) = self.root.child("status").and_then(|s| s.child("tickets")) {
            for t in ts.children_named("ticket_state") {
                let Some(id) = t.attr("id") else { continue };
                out.push((
                    id.to_string(),
                    t.attr("granted").is_some_and(cib::is_true),
                    t.attr("standby").is_some_and(cib::is_true),
                    num(t, "last-granted"),
                ));
            }
        }
        if let Some(cons) = self.root.child("configuration").and_then(|c| c.child("constraints")) {
            for rt in cons.children_named("rsc_ticket") {
                if let Some(id) = rt.attr("ticket") {
                    if !out.iter().any(|t| t.0 == id) {
                        out.push((id.to_string(), false, false, None));
                    }
                }
            }
        }
        out
    }

    /// `add_extra_info`: the connectivity a ping resource on the node
    /// expects for attribute `name` (host count × multiplier).
    fn expected_ping(&self, n: NodeIdx, name: &str) -> Option<i64> {
        let c = &self.cluster;
        for rs in c
            .rscs
            .iter()
            .filter(|r| r.is_primitive() && r.observed.running_on.contains(&n))
        {
            let ty = match &rs.variant {
                Variant::Primitive { ty, .. } => ty.as_str(),
                _ => continue,
            };
            if !ty.eq_ignore_ascii_case("ping") && !ty.eq_ignore_ascii_case("pingd") {
                continue;
            }
            let attr = rs.config.params.get("name").map_or("pingd", String::as_str);
            if !attr.eq_ignore_ascii_case(name) {
                continue;
            }
            let hosts = rs
                .config
                .params
                .get("host_list")
                .map_or(0, |h| h.split(' ').count() as i64);
            let mult = rs
                .config
                .params
                .get("multiplier")
                .and_then(|m| m.trim().parse::<i64>().ok())
                .unwrap_or(1);
            return Some(hosts * mult);
        }
        None
    }

    fn history_xml(&self) -> String {
        let c = &self.cluster;
        let mut x = Xml {
            out: String::new(),
            depth: 2,
        };
        let Some(status) = self.root.child("status") else {
            return x.out;
        };
        for ns in status.children_named("node_state") {
            let id = ns.attr("id").unwrap_or("");
            let Some(n) = c.nodes.iter().position(|x| x.id == id).map(NodeIdx) else {
                continue;
            };
            if !c.nodes[n].online {
                continue;
            }
            let mut body = Xml {
                out: String::new(),
                depth: x.depth + 1,
            };
            for lr in ns
                .children_named("lrm")
                .take(1)
                .flat_map(|l| l.children_named("lrm_resources").take(1))
                .flat_map(|l| l.children_named("lrm_resource"))
            {
                let hid = lr.attr("id").unwrap_or("");
                let mut ops: Vec<&Element> = lr
                    .children_named("lrm_rsc_op")
                    .filter(|o| {
                        let task = o.attr("operation").unwrap_or("");
                        let probe = task == "monitor" && o.attr("interval").is_none_or(|v| v == "0");
                        let rc: i32 = num(o, "rc-code").unwrap_or(0);
                        task != "notify" && !(probe && rc == 7)
                    })
                    .collect();
                if ops.is_empty() {
                    continue;
                }
                // Pending operations (call id -1) sort last.
                ops.sort_by_key(|o| match num::<i64>(o, "call-id") {
                    Some(c) if c >= 0 => c,
                    _ => i64::MAX,
                });
                match self.history_rsc(n, hid) {
                    None => body.open(
                        "resource_history",
                        &[("id", hid.into()), ("orphan", "true".into())],
                        false,
                    ),
                    Some(r) => {
                        let (fc, lf) = self.failcount(n, r);
                        let mut attrs = vec![
                            ("id", output_id(c, r)),
                            ("orphan", "false".into()),
                            ("migration-threshold", c.rscs[r].config.migration_threshold.to_string()),
                        ];
                        if fc > 0 {
                            attrs.push(("fail-count", fc.to_string()));
                        }
                        if lf > 0 {
                            attrs.push(("last-failure", ctime(lf)));
                        }
                        body.open("resource_history", &attrs, false);
                    }
                }
                for o in ops {
                    let task = o.attr("operation").unwrap_or("");
                    let interval = o.attr("interval").unwrap_or("0");
                    let task = if task == "monitor" && interval == "0" {
                        "probe"
                    } else {
                        task
                    };
                    // `pcmk__scan_min_int(…, 0)`: pending results read as 0.
                    let rc: i32 = num::<i32>(o, "rc-code").unwrap_or(0).max(0);
                    let mut attrs = vec![
                        ("call", o.attr("call-id").unwrap_or("").to_string()),
                        ("task", task.to_string()),
                        ("rc", rc.to_string()),
                        ("rc_text", exit_str(rc).to_string()),
                    ];
                    if interval != "0" {
                        attrs.push(("interval", format!("{interval}ms")));
                    }
                    if let Some(t) = num::<i64>(o, "last-rc-change").filter(|&t| t > 0) {
                        attrs.push(("last-rc-change", ctime(t)));
                    }
                    if let Some(v) = o.attr("exec-time") {
                        attrs.push(("exec-time", format!("{v}ms")));
                    }
                    if let Some(v) = o.attr("queue-time") {
                        attrs.push(("queue-time", format!("{v}ms")));
                    }
                    body.open("operation_history", &attrs, true);
                }
                body.close("resource_history");
            }
            if !body.out.is_empty() {
                x.open("node", &[("name", c.nodes[n].uname.clone())], false);
                x.out.push_str(&body.out);
                x.close("node");
            }
        }
        x.out
    }

    fn top_xml(&self, r: RscIdx, x: &mut Xml) {
        let c = &self.cluster;
        let rs = &c.rscs[r];
        if rs.observed.orphan && !active(c, r, true) {
            return;
        }
        // (Implicit resources such as guest node connections are listed.)
        if c.bundles.iter().any(|b| {
            b.child_clone == Some(r) || b.replicas.iter().any(|rep| rep.ip == Some(r) || rep.remote == Some(r))
        }) {
            return;
        }
        if let Some(bd) = c.bundles.iter().find(|b| b.rsc == r) {
            self.bundle_xml(bd, x);
            return;
        }
        self.rsc_xml(r, x);
    }

    fn native_xml(&self, r: RscIdx, id: &str, x: &mut Xml) {
        let c = &self.cluster;
        let rs = &c.rscs[r];
        let role = if rs.observed.role == Role::Started && c.in_promotable(r) {
            Role::Unpromoted
        } else {
            rs.observed.role
        };
        let pending = self.pending[r.0].as_ref().map(|(t, _)| t.as_str());
        let state = match pending {
            Some("start") => "Starting",
            Some("stop") => "Stopping",
            Some("migrate_to") | Some("migrate_from") => "Migrating",
            Some("promote") => "Promoting",
            Some("demote") => "Demoting",
            _ => role.as_str(),
        };
        let mut attrs = vec![
            ("id", id.to_string()),
            ("resource_agent", rs.agent()),
            ("role", state.to_string()),
        ];
        // Inherited from the parents (orphaned clone instances lack it).
        let mut target = rs.config.meta.get("target-role");
        let mut up = rs.parent;
        while target.is_none() {
            let Some(p) = up else { break };
            target = c.rscs[p].config.meta.get("target-role");
            up = c.rscs[p].parent;
        }
        if let Some(t) = target {
            attrs.push(("target_role", t.clone()));
        }
        attrs.extend([
            ("active", b(native_active(c, r))),
            ("orphaned", b(rs.observed.orphan)),
            ("blocked", b(rs.plan.blocked)),
            ("managed", b(rs.config.managed)),
            ("failed", b(rs.observed.failed)),
            ("failure_ignored", b(rs.observed.failure_ignored)),
            ("nodes_running_on", rs.observed.running_on.len().to_string()),
        ]);
        if pending == Some("monitor") {
            attrs.push(("pending", "Monitoring".into()));
        }
        if let Some(l) = rs.observed.lock_node {
            attrs.push(("locked_to", c.nodes[l].uname.clone()));
        }
        if rs.observed.running_on.is_empty() {
            x.open("resource", &attrs, true);
            return;
        }
        x.open("resource", &attrs, false);
        for &n in &rs.observed.running_on {
            x.open(
                "node",
                &[
                    ("name", c.nodes[n].uname.clone()),
                    ("id", c.nodes[n].id.clone()),
                    ("cached", b(c.nodes[n].online)),
                ],
                true,
            );
        }
        x.close("resource");
    }

    fn rsc_xml(&self, r: RscIdx, x: &mut Xml) {
        let c = &self.cluster;
        let rs = &c.rscs[r];
        match rs.variant {
            Variant::Primitive { .. } => self.native_xml(r, &output_id(c, r), x),
            Variant::Group => {
                x.open(
                    "group",
                    &[
                        ("id", rs.id.clone()),
                        ("number_resources", rs.children.len().to_string()),
                        ("managed", b(rs.config.managed)),
                        ("disabled", b(is_disabled(c, r))),
                    ],
                    false,
                );
                for &k in &rs.children {
                    self.rsc_xml(k, x);
                }
                x.close("group");
            }
            Variant::Clone { promotable, unique, .. } => {
                let mut attrs = vec![
                    ("id", rs.id.clone()),
                    ("multi_state", b(promotable)),
                    ("unique", b(unique)),
                    ("managed", b(rs.config.managed)),
                    ("disabled", b(is_disabled(c, r))),
                    ("failed", b(rs.observed.failed)),
                    ("failure_ignored", b(rs.observed.failure_ignored)),
                ];
                // `configured_role_str`: the clone's, else its first child's.
                let target = rs.config.meta.get("target-role").or_else(|| {
                    rs.children
                        .first()
                        .and_then(|&k| c.rscs[k].config.meta.get("target-role"))
                });
                if let Some(t) = target {
                    attrs.push(("target_role", t.clone()));
                }
                if rs.children.is_empty() {
                    return;
                }
                x.open("clone", &attrs, false);
                for &k in &rs.children {
                    self.rsc_xml(k, x);
                }
                x.close("clone");
            }
        }
    }

    fn bundle_xml(&self, bd: &Bundle, x: &mut Xml) {
        let c = &self.cluster;
        let rs = &c.rscs[bd.rsc];
        let ty = self
            .root
            .child("configuration")
            .and_then(|cf| cf.child("resources"))
            .and_then(|res| {
                res.elements()
                    .find(|e| e.name == "bundle" && e.attr("id") == Some(&rs.id))
            })
            .and_then(|e| {
                e.elements()
                    .find(|k| ["docker", "podman", "rkt"].contains(&k.name.as_str()))
            })
            .map(|e| e.name.to_string())
            .unwrap_or_else(|| "docker".into());
        let unique = matches!(rs.variant, Variant::Clone { clone_node_max, .. } if clone_node_max > 1)
            && rs.config.meta.get("globally-unique").is_some_and(|v| v == "true");
        x.open(
            "bundle",
            &[
                ("id", rs.id.clone()),
                ("type", ty),
                ("image", bd.image.clone()),
                ("unique", b(unique)),
                ("managed", b(rs.config.managed)),
                ("failed", b(rs.observed.failed)),
            ],
            false,
        );
        for (i, rep) in bd.replicas.iter().enumerate() {
            x.open("replica", &[("id", i.to_string())], false);
            if let Some(ip) = rep.ip {
                self.native_xml(ip, &c.rscs[ip].id, x);
            }
            if let Some(ch) = rep.child {
                self.native_xml(ch, &output_id(c, ch), x);
            }
            self.native_xml(rep.container, &c.rscs[rep.container].id, x);
            if let Some(rm) = rep.remote {
                self.native_xml(rm, &c.rscs[rm].id, x);
            }
            x.close("replica");
        }
        x.close("bundle");
    }
}

// --------------------------------------------------------------------- json

impl Status {
    /// The status as JSON (shape in the module documentation).
    pub fn json(&self, opts: &MonOptions) -> Value {
        let c = &self.cluster;
        let (ni, nd, nb) = self.counts();
        let r = &self.root;
        let dc = self.dc().map(|n| {
            json!({
                "name": c.nodes[n].uname,
                "id": c.nodes[n].id,
                "version": self.dc_version(),
                "with_quorum": self.with_quorum(),
            })
        });
        let summary = json!({
            "stack": self.stack(opts),
            "dc": dc,
            "with_quorum": self.with_quorum(),
            "last_updated": opts.last_updated,
            "last_change": {
                "time": r.attr("cib-last-written"),
                "user": r.attr("update-user"),
                "client": r.attr("update-client"),
                "origin": r.attr("update-origin"),
            },
            "nodes_configured": c.nodes.len(),
            "resources_configured": ni,
            "resources_disabled": nd,
            "resources_blocked": nb,
            "maintenance_mode": c.options.maintenance_mode,
            "stop_all_resources": c.options.stop_all_resources,
            "stonith_enabled": c.options.stonith_enabled,
            "symmetric_cluster": c.options.symmetric,
            "no_quorum_policy": self.crm_config_value("no-quorum-policy").unwrap_or_else(|| "stop".into()),
        });
        let nodes: Vec<Value> = sorted_nodes(c)
            .into_iter()
            .map(|n| {
                let node = &c.nodes[n];
                let attrs: serde_json::Map<String, Value> = self
                    .shown_attrs(n)
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                    .collect();
                json!({
                    "name": node.uname,
                    "id": node.id,
                    "type": match node.kind { NodeKind::Cluster => "member", NodeKind::Remote => "remote", NodeKind::Guest => "guest" },
                    "online": node.online,
                    "standby": node.standby,
                    "standby_onfail": node.standby_onfail,
                    "maintenance": node.maintenance,
                    "pending": node.pending,
                    "unclean": node.unclean,
                    "shutdown": node.shutdown,
                    "expected_up": node.expected_up,
                    "is_dc": node.is_dc,
                    "health": self.node_health(n),
                    "resources_running": self.running_count(n),
                    "attributes": attrs,
                })
            })
            .collect();
        let resources: Vec<Value> = c
            .top
            .iter()
            .filter(|&&r| {
                let rs = &c.rscs[r];
                (!rs.observed.orphan || active(c, r, true))
                    && rs.config.meta.get("internal_rsc").is_none_or(|v| v != "true")
            })
            .map(|&r| self.rsc_json(r))
            .collect();
        let failures: Vec<Value> = self
            .visible_failures()
            .map(|f| {
                json!({
                    "op_key": f.op_key,
                    "node": f.node,
                    "resource": f.rsc,
                    "task": f.task,
                    "interval_ms": f.interval_ms,
                    "rc": f.rc,
                    "rc_text": exit_str(f.rc),
                    "status": exec_status_str(f.status),
                    "exit_reason": f.exit_reason,
                    "call": f.call.as_deref().and_then(|v| v.parse::<i64>().ok()),
                    "last_rc_change": f.last_rc_change,
                    "exec_ms": f.exec_ms.as_deref().and_then(|v| v.parse::<u64>().ok()),
                    "queue_ms": f.queue_ms.as_deref().and_then(|v| v.parse::<u64>().ok()),
                    "text": failure_text(f),
                })
            })
            .collect();
        let mut fail_counts = Vec::new();
        for (n, entries) in self.migration_summary() {
            for (id, _thr, fc, lf) in entries {
                fail_counts.push(json!({
                    "node": c.nodes[n].uname,
                    "resource": id,
                    "fail_count": fc,
                    "last_failure": if lf > 0 { Some(lf) } else { None },
                }));
            }
        }
        json!({
            "summary": summary,
            "nodes": nodes,
            "resources": resources,
            "failures": failures,
            "fail_counts": fail_counts,
        })
    }

    fn rsc_json(&self, r: RscIdx) -> Value {
        let c = &self.cluster;
        let rs = &c.rscs[r];
        let nodes: Vec<&str> = rs
            .observed
            .running_on
            .iter()
            .map(|&n| c.nodes[n].uname.as_str())
            .collect();
        let bundle = c.bundles.iter().find(|b| b.rsc == r);
        let mut v = json!({
            "id": if rs.is_primitive() { output_id(c, r) } else { rs.id.clone() },
            "active": active(c, r, false),
            "orphaned": rs.observed.orphan,
            "blocked": rs.plan.blocked,
            "managed": rs.config.managed,
            "failed": rs.observed.failed,
            "failure_ignored": rs.observed.failure_ignored,
            "target_role": rs.config.meta.get("target-role"),
        });
        let m = v.as_object_mut().expect("object");
        match rs.variant {
            Variant::Primitive { .. } => {
                let role = if rs.observed.role == Role::Started && c.in_promotable(r) {
                    Role::Unpromoted
                } else {
                    rs.observed.role
                };
                m.insert("kind".into(), json!("primitive"));
                m.insert("agent".into(), json!(rs.agent()));
                m.insert("role".into(), json!(role.as_str()));
                m.insert("nodes".into(), json!(nodes));
            }
            Variant::Group => {
                m.insert("kind".into(), json!("group"));
                m.insert("disabled".into(), json!(is_disabled(c, r)));
            }
            Variant::Clone { promotable, unique, .. } => {
                m.insert("kind".into(), json!(if bundle.is_some() { "bundle" } else { "clone" }));
                m.insert("promotable".into(), json!(promotable));
                m.insert("unique".into(), json!(unique));
                m.insert("disabled".into(), json!(is_disabled(c, r)));
                if let Some(bd) = bundle {
                    m.insert("image".into(), json!(bd.image));
                }
            }
        }
        if !rs.children.is_empty() {
            let kids: Vec<Value> = rs.children.iter().map(|&k| self.rsc_json(k)).collect();
            m.insert("children".into(), json!(kids));
        }
        v
    }
}

//! CIB → [`Cluster`]: cluster options, node status (online, unclean,
//! standby, ...), resources with inherited meta attributes, and the
//! resource history (current roles, failures, fail counts).

use crate::ids::clone_strip;
use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::*;
use crate::plan::Options;
use cib::rules::{eval_rule, RuleContext};
use cib::score::{self, lenient_score, parse_score, Score, INFINITY};
use cib::{first_value, Cib, LrmOp, LrmResource, NvSet, ResourceDef, ResourceKind};

mod bundle;
mod container;
mod implicit;
mod migration;
mod op_order;
mod remote;

pub(crate) use op_order::sorted_by_call_id;

/// PCMK_EXEC_* values.
mod exec {
    pub const PENDING: i32 = -1;
    pub const DONE: i32 = 0;
    pub const CANCELLED: i32 = 1;
    pub const TIMEOUT: i32 = 2;
    pub const NOT_SUPPORTED: i32 = 3;
    pub const ERROR: i32 = 4;
    pub const ERROR_HARD: i32 = 5;
    pub const ERROR_FATAL: i32 = 6;
    pub const NOT_INSTALLED: i32 = 7;
    pub const NO_FENCE_DEVICE: i32 = 10;
    pub const NO_SECRETS: i32 = 11;
}

/// The cluster option set that always comes first (`CIB_OPTIONS_FIRST`).
const CIB_OPTIONS_FIRST: &str = "cib-bootstrap-options";

fn is_true(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "true" | "on" | "yes" | "y" | "1")
}

/// Merges nvsets into `out` without overwriting existing keys; sets whose
/// rule fails are skipped. The order is `make_pairs`': highest score first
/// and, among equal scores, the later set in the document first.
pub fn merge_nvsets(sets: &[NvSet], ctx: &RuleContext<'_>, out: &mut BTreeMap<String, String>) {
    merge_nvsets_first(sets, None, ctx, out);
}

/// [`merge_nvsets`] with the set called `always_first` (if any) ahead of
/// all others (`cib-bootstrap-options` for cluster options).
pub fn merge_nvsets_first(
    sets: &[NvSet],
    always_first: Option<&str>,
    ctx: &RuleContext<'_>,
    out: &mut BTreeMap<String, String>,
) {
    populate(sets, always_first, ctx, out, false);
}

/// [`merge_nvsets`], but each value replaces what came before it, as a
/// node's transient attributes are read (`add_node_attrs` with
/// `overwrite`): the last nvpair of a name wins.
pub fn merge_nvsets_overwriting(sets: &[NvSet], ctx: &RuleContext<'_>, out: &mut BTreeMap<String, String>) {
    populate(sets, None, ctx, out, true);
}

/// `pe__unpack_dataset_nvpairs` with `populate_hash`.
fn populate(
    sets: &[NvSet],
    always_first: Option<&str>,
    ctx: &RuleContext<'_>,
    out: &mut BTreeMap<String, String>,
    overwrite: bool,
) {
    let mut sorted: Vec<&NvSet> = sets.iter().rev().collect();
    sorted.sort_by_key(|s| (always_first != Some(s.id.as_str()), std::cmp::Reverse(s.score)));
    for s in sorted {
        if let Some(r) = &s.rule {
            if !eval_rule(r, ctx) {
                continue;
            }
        }
        for (k, v) in &s.pairs {
            // "#default" drops any value set so far (`populate_hash`).
            if v.eq_ignore_ascii_case("#default") {
                out.remove(k);
                continue;
            }
            if overwrite {
                out.insert(k.clone(), v.clone());
            } else {
                out.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
    }
}

fn options(cib: &Cib, opts: &Options) -> ClusterOptions {
    let mut p = BTreeMap::new();
    let rules = RuleContext::new(opts.now)
        .in_zone(&opts.tz)
        .with_now_zone(opts.now_zone.as_ref());
    merge_nvsets_first(&cib.configuration.crm_config, Some(CIB_OPTIONS_FIRST), &rules, &mut p);
    let get = |k: &str| p.get(k).map(String::as_str);
    let flag = |k: &str, d: bool| get(k).map(is_true).unwrap_or(d);
    let nqp = match get("no-quorum-policy").unwrap_or("stop") {
        "freeze" => NoQuorumPolicy::Freeze,
        "ignore" => NoQuorumPolicy::Ignore,
        "demote" => NoQuorumPolicy::Demote,
        "suicide" | "fence" => {
            // Only if fencing is on, and the cluster ever had quorum.
            let panic = cib
                .root
                .attr("no-quorum-panic")
                .and_then(|v| v.trim().parse::<i64>().ok())
                .unwrap_or(0);
            let stonith = get("stonith-enabled").map(is_true).unwrap_or(true);
            if stonith && (panic != 0 || cib.have_quorum) {
                NoQuorumPolicy::Suicide
            } else {
                NoQuorumPolicy::Stop
            }
        }
        _ => NoQuorumPolicy::Stop,
    };
    let health_strategy = get("node-health-strategy").unwrap_or("none").to_ascii_lowercase();
    let opt_score = |k: &str, d: Score| get(k).and_then(parse_score).unwrap_or(d);
    let health_scores = match health_strategy.as_str() {
        "migrate-on-red" => (-INFINITY, 0, 0, 0),
        "only-green" => (-INFINITY, -INFINITY, 0, 0),
        "progressive" | "custom" => (
            opt_score("node-health-red", -INFINITY),
            opt_score("node-health-yellow", 0),
            opt_score("node-health-green", 0),
            if health_strategy == "progressive" {
                opt_score("node-health-base", 0)
            } else {
                0
            },
        ),
        _ => (0, 0, 0, 0),
    };
    ClusterOptions {
        health_strategy,
        health_scores,
        stonith_enabled: flag("stonith-enabled", true),
        stonith_action: match get("stonith-action") {
            Some("off") | Some("poweroff") => "off".into(),
            _ => "reboot".into(),
        },
        symmetric: flag("symmetric-cluster", true),
        no_quorum_policy: nqp,
        maintenance_mode: flag("maintenance-mode", false),
        stop_all_resources: flag("stop-all-resources", false),
        stop_orphan_resources: flag("stop-orphan-resources", true),
        stop_orphan_actions: flag("stop-orphan-actions", true),
        start_failure_is_fatal: flag("start-failure-is-fatal", true),
        startup_fencing: flag("startup-fencing", true) && flag("stonith-enabled", true),
        enable_startup_probes: flag("enable-startup-probes", true),
        concurrent_fencing: flag("concurrent-fencing", false),
        enable_unfencing: unfencing_enabled(cib),
        placement_strategy: get("placement-strategy").unwrap_or("default").to_string(),
        shutdown_lock: flag("shutdown-lock", false),
        have_watchdog: flag("have-watchdog", false),
        shutdown_lock_limit_s: get("shutdown-lock-limit")
            .and_then(cib::parse_interval_ms)
            .map_or(0, |ms| (ms / 1000) as i64),
        default_stickiness: get("default-resource-stickiness").and_then(parse_score).unwrap_or(0),
        graph: GraphOptions {
            cluster_delay: get("cluster-delay").unwrap_or("60s").to_string(),
            stonith_timeout: get("stonith-timeout").unwrap_or("60s").to_string(),
            batch_limit: get("batch-limit").unwrap_or("0").to_string(),
            migration_limit: get("migration-limit").map(str::to_string),
        },
    }
}

/// A clone's instance count as `pcmk__scan_min_int(value, 0)` reads it:
/// the leading integer (`strtoll`), 0 when there is none or it is negative.
fn scan_count(v: &str) -> usize {
    let t = v.trim_start();
    let digits_end = t
        .char_indices()
        .find(|&(i, ch)| !(ch.is_ascii_digit() || (i == 0 && (ch == '-' || ch == '+'))))
        .map_or(t.len(), |(i, _)| i);
    t[..digits_end]
        .parse::<i64>()
        .map_or(0, |n| n.clamp(0, i64::from(i32::MAX)) as usize)
}

/// `XPATH_ENABLE_UNFENCING`: a `provides` or `requires` meta-attribute of
/// exactly `unfencing` anywhere in the resources (templates, bundles and
/// operations included) or in `rsc_defaults`. Pacemaker looks at the raw
/// XML before unpacking, so rules and id-refs are not evaluated.
fn unfencing_enabled(cib: &Cib) -> bool {
    fn unfencing_pair(e: &cib::xml::Element) -> bool {
        e.name == "nvpair"
            && matches!(e.attr("name"), Some("provides" | "requires"))
            && e.attr("value") == Some("unfencing")
    }
    fn in_meta_sets(e: &cib::xml::Element) -> bool {
        e.elements()
            .any(|ch| (ch.name == "meta_attributes" && ch.elements().any(unfencing_pair)) || in_meta_sets(ch))
    }
    let Some(conf) = cib.root.child("configuration") else {
        return false;
    };
    conf.child("resources").is_some_and(in_meta_sets)
        || conf.children_named("rsc_defaults").any(|d| {
            d.children_named("meta_attributes")
                .any(|m| m.elements().any(unfencing_pair))
        })
}

/// Unpacks the configuration and status of `cib` into a [`Cluster`], with
/// rules' dates in UTC (see [`unpack_with`]).
pub fn unpack(cib: &Cib, now: i64) -> Cluster {
    unpack_with(cib, &Options::at(now))
}

/// [`unpack`] at the options' "now", with rules' dates in their zones.
pub fn unpack_with(cib: &Cib, opts: &Options) -> Cluster {
    let now = opts.now;
    let options = options(cib, opts);
    let have_quorum = cib.have_quorum;
    let have_watchdog = options.have_watchdog;
    let mut c = Cluster {
        nodes: Vec::new(),
        rscs: Vec::new(),
        top: Vec::new(),
        options,
        have_quorum,
        have_stonith_resource: have_watchdog,
        now,
        tz: opts.tz.clone(),
        now_zone: opts.now_zone.clone(),
        fail_counts: BTreeMap::new(),
        tickets: BTreeMap::new(),
        warnings: cib.warnings.clone(),
        history_bans: Vec::new(),
        op_defaults: cib.configuration.op_defaults.clone(),
        feature_set: cib.root.attr("crm_feature_set").map(str::to_string),
        bundles: Vec::new(),
        failcount_clears: Vec::new(),
        history_clears: Vec::new(),
        recheck_by: None,
        expired_recurring: Vec::new(),
        expired_fail_counts: Vec::new(),
        status: Arc::clone(&cib.status),
        digest_cache: Default::default(),
    };
    unpack_nodes(cib, &mut c);
    unpack_resources(cib, &mut c);
    unpack_node_states(cib, &mut c);
    compute_health(&mut c);
    unpack_history(cib, &mut c);
    unpack_tickets(cib, &mut c);
    c
}

fn unpack_tickets(cib: &Cib, c: &mut Cluster) {
    for (id, attrs) in &cib.status.tickets {
        let get = |k: &str| attrs.iter().find(|(a, _)| a == k).map(|(_, v)| is_true(v));
        c.tickets.insert(
            id.clone(),
            (get("granted").unwrap_or(false), get("standby").unwrap_or(false)),
        );
    }
}

fn unpack_nodes(cib: &Cib, c: &mut Cluster) {
    for n in &cib.configuration.nodes {
        if matches!(n.node_type.as_deref(), Some("ping")) {
            continue;
        }
        let is_remote = n.node_type.as_deref().is_some_and(|t| t.eq_ignore_ascii_case("remote"));
        let mut attrs = BTreeMap::new();
        attrs.insert("#uname".to_string(), n.uname.clone());
        attrs.insert("#id".to_string(), n.id.clone());
        attrs.insert(
            "#kind".to_string(),
            if is_remote { "remote" } else { "cluster" }.to_string(),
        );
        // `add_node_attrs`: whether the node is the DC, and the cluster name.
        let is_dc = cib.dc_uuid.as_deref().is_some_and(|d| d.eq_ignore_ascii_case(&n.id));
        attrs.insert("#is_dc".to_string(), is_dc.to_string());
        let mut opts = BTreeMap::new();
        merge_nvsets_first(
            &cib.configuration.crm_config,
            Some(CIB_OPTIONS_FIRST),
            &c.rule_context(),
            &mut opts,
        );
        if let Some(name) = opts.get("cluster-name") {
            attrs.insert("#cluster-name".to_string(), name.clone());
        }
        let mut cfg = BTreeMap::new();
        merge_nvsets(&n.instance, &c.rule_context(), &mut cfg);
        for (k, v) in cfg {
            attrs.entry(k).or_insert(v);
        }
        // `#site-name`: the node's site-name attribute, else the cluster
        // name (`add_node_attrs`).
        if !attrs.contains_key("#site-name") {
            if let Some(site) = attrs.get("site-name").or_else(|| opts.get("cluster-name")).cloned() {
                attrs.insert("#site-name".to_string(), site);
            }
        }
        let mut util = BTreeMap::new();
        merge_nvsets(&n.utilization, &c.rule_context(), &mut util);
        let kind = if is_remote { NodeKind::Remote } else { NodeKind::Cluster };
        c.nodes.push(Node {
            // Remote node entries get start-up fencing only once linked to
            // a connection resource (`handle_startup_fencing`).
            unclean: c.options.startup_fencing && !is_remote,
            utilization: util
                .into_iter()
                .filter_map(|(k, v)| v.parse::<i64>().ok().map(|v| (k, v)))
                .collect(),
            weight: n.score.unwrap_or(0),
            is_dc: cib.dc_uuid.as_deref() == Some(n.id.as_str()),
            ..Node::configured(&n.id, &n.uname, kind, attrs)
        });
    }
    remote::create_remote_nodes(cib, c);
}

fn fence_node(c: &mut Cluster, n: NodeIdx, reason: &str) {
    if remote::fence_node(c, n, reason) {
        return;
    }
    let node = &mut c.nodes[n];
    if !node.unclean || node.fence_reason.is_none() {
        node.unclean = true;
        node.fence_reason = Some(reason.to_string());
    }
}

fn unpack_node_states(cib: &Cib, c: &mut Cluster) {
    for st in &cib.status.nodes {
        let Some(n) = c
            .nodes
            .iter()
            .position(|x| x.id == st.id)
            .map(NodeIdx)
            .or_else(|| st.uname.as_deref().and_then(|u| c.node_by_name(u)))
        else {
            continue;
        };
        if c.nodes[n].is_remote_or_guest() {
            remote::first_pass(c, n, st);
            continue;
        }
        // Transient attributes override configured ones.
        let mut tr = BTreeMap::new();
        merge_nvsets_overwriting(&st.transient, &c.rule_context(), &mut tr);
        for (k, v) in tr {
            c.nodes[n].attrs.insert(k, v);
        }
        let attrs = c.nodes[n].attrs.clone();
        let node = &mut c.nodes[n];
        node.unclean = false;
        node.seen = true;
        node.standby = attrs.get("standby").is_some_and(|v| is_true(v));
        node.maintenance = attrs.get("maintenance").is_some_and(|v| is_true(v));
        let shutdown = attrs.get("shutdown").is_some_and(|v| !v.is_empty() && v != "0");
        node.shutdown = shutdown;
        node.expected_up = !shutdown && st.expected.as_deref() == Some("member");
        let in_ccm = st.in_ccm.as_deref().map(is_true_or_timestamp);
        let crmd_online = st
            .crmd
            .as_deref()
            .is_some_and(|v| v.eq_ignore_ascii_case("online") || is_timestamp(v));
        let join = st.join.as_deref();
        let exp = st.expected.as_deref().unwrap_or("down");
        let terminate = attrs
            .get("terminate")
            .is_some_and(|t| is_true(t) || t.chars().next().is_some_and(|ch| ch != '0' && ch.is_ascii_digit()));
        let online;
        if !c.options.stonith_enabled {
            if in_ccm != Some(true) {
                online = false;
            } else if crmd_online {
                online = join == Some("member");
            } else if !c.nodes[n].expected_up {
                online = false;
            } else {
                online = false;
                fence_node(c, n, "peer is unexpectedly down");
            }
        } else if c.nodes[n].shutdown {
            online = crmd_online;
        } else if in_ccm.is_none() {
            online = false;
            fence_node(c, n, "peer has not been seen by the cluster");
        } else if join == Some("banned") {
            online = in_ccm == Some(true);
            fence_node(c, n, "peer failed Pacemaker membership criteria");
        } else if !terminate && exp == "down" {
            online = in_ccm == Some(true);
            if in_ccm == Some(true) || crmd_online {
                c.nodes[n].standby = true;
                c.nodes[n].pending = true;
            }
        } else if terminate && join == Some("down") && in_ccm != Some(true) && !crmd_online {
            online = false;
        } else if in_ccm != Some(true) {
            online = false;
            fence_node(c, n, "peer is no longer part of the cluster");
        } else if !crmd_online {
            online = true;
            fence_node(c, n, "peer process is no longer available");
        } else if terminate {
            online = true;
            fence_node(c, n, "termination was requested");
        } else if join == Some("member") {
            online = true;
        } else if matches!(join, Some("pending") | Some("down")) {
            online = true;
            c.nodes[n].standby = true;
            c.nodes[n].pending = true;
        } else {
            online = true;
            fence_node(c, n, "peer was in an unknown state");
        }
        c.nodes[n].online = online;
        if !c.have_quorum && c.nodes[n].online && c.options.no_quorum_policy == NoQuorumPolicy::Suicide {
            fence_node(c, n, "cluster does not have quorum");
        }
    }
    // Nodes never seen are unclean when startup-fencing is on.
    for n in NodeIdx::all(c.nodes.len()) {
        if !c.nodes[n].seen
            && c.nodes[n].unclean
            && c.nodes[n].fence_reason.is_none()
            && !c.nodes[n].is_remote_or_guest()
        {
            c.nodes[n].fence_reason = Some("node is unclean".into());
        }
    }
}

/// Node health (`pe__node_health` and `pe__sum_node_health_scores`).
fn compute_health(c: &mut Cluster) {
    if matches!(c.options.health_strategy.as_str(), "none" | "") {
        return;
    }
    let (red, yellow, green, base) = c.options.health_scores;
    let score_of = |v: &str| -> Score {
        match v.to_ascii_lowercase().as_str() {
            "red" => red,
            "yellow" => yellow,
            "green" => green,
            _ => parse_score(v).unwrap_or(0),
        }
    };
    for node in &mut c.nodes {
        let mut sum = base;
        let mut state = 1;
        for (k, v) in &node.attrs {
            if !k.starts_with("#health") {
                continue;
            }
            sum = score::add(score_of(v), sum);
            if state < 0 {
                continue;
            }
            if v.eq_ignore_ascii_case("red") {
                state = -1;
            } else if v.eq_ignore_ascii_case("yellow") {
                state = 0;
            } else {
                let sc = score_of(v);
                if sc <= red {
                    state = -1;
                } else if sc <= yellow && yellow != green {
                    state = 0;
                }
            }
        }
        node.health_score = sum;
        node.health = state;
    }
}

fn is_timestamp(v: &str) -> bool {
    v.parse::<i64>().is_ok_and(|t| t > 0)
}

fn is_true_or_timestamp(v: &str) -> bool {
    is_true(v) || is_timestamp(v)
}

fn rsc_meta(
    cib: &Cib,
    def: &ResourceDef,
    parent_meta: Option<&BTreeMap<String, String>>,
    rules: RuleContext<'_>,
) -> BTreeMap<String, String> {
    let (class, provider, ty) = match &def.kind {
        ResourceKind::Primitive {
            class, provider, ty, ..
        } => (class.as_str(), provider.as_deref(), ty.as_str()),
        _ => ("", None, ""),
    };
    let mut ctx = rules;
    ctx.rsc = Some((class, provider, ty));
    let mut meta = BTreeMap::new();
    merge_nvsets(&def.meta, &ctx, &mut meta);
    if let Some(pm) = parent_meta {
        for (k, v) in pm {
            meta.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    merge_nvsets(&cib.configuration.rsc_defaults, &ctx, &mut meta);
    meta
}

struct RscBuild<'a> {
    cib: &'a Cib,
}

/// Whether every primitive in a resource definition has an agent class with
/// the "unique" capability (OCF, and stonith for compatibility); templated
/// ones count as such.
fn agents_can_be_unique(def: &ResourceDef) -> bool {
    match &def.kind {
        ResourceKind::Primitive { class, .. } => {
            class.is_empty() || class.eq_ignore_ascii_case("ocf") || class.eq_ignore_ascii_case("stonith")
        }
        ResourceKind::Group { children } => children.iter().all(agents_can_be_unique),
        ResourceKind::Clone { child, .. } => agents_can_be_unique(child),
        ResourceKind::Bundle(_) => true,
    }
}

impl RscBuild<'_> {
    fn add(
        &self,
        c: &mut Cluster,
        def: &ResourceDef,
        parent: Option<RscIdx>,
        id_override: Option<String>,
        instance: Option<usize>,
    ) -> RscIdx {
        let parent_meta = parent.map(|p| c.rscs[p].config.meta.clone());
        let meta = rsc_meta(self.cib, def, parent_meta.as_deref(), c.rule_context());
        let mut params = BTreeMap::new();
        merge_nvsets(&def.instance, &c.rule_context(), &mut params);
        // A group's or clone's instance attributes reach its members unless
        // they set their own (`get_rsc_attributes`).
        if let Some(p) = parent {
            for (k, v) in c.rscs[p].config.params.iter() {
                params.entry(k.clone()).or_insert_with(|| v.clone());
            }
        }
        let mut util = BTreeMap::new();
        merge_nvsets(&def.utilization, &c.rule_context(), &mut util);
        let id = id_override.unwrap_or_else(|| def.id.clone());
        let nnodes = c.nodes.len();
        let in_clone = parent.is_some_and(|p| matches!(c.rscs[c.top_parent(p)].variant, Variant::Clone { .. }))
            || matches!(def.kind, ResourceKind::Clone { .. });
        let variant = match &def.kind {
            ResourceKind::Primitive {
                class, provider, ty, ..
            } => Variant::Primitive {
                class: class.clone(),
                provider: provider.clone(),
                ty: ty.clone(),
            },
            ResourceKind::Group { .. } => Variant::Group,
            ResourceKind::Clone { master, child } => {
                let get = |k: &str| meta.get(k).map(|v| scan_count(v));
                let promotable = *master || meta.get("promotable").is_some_and(|v| is_true(v));
                let unique_asked = meta.get("globally-unique").is_some_and(|v| is_true(v));
                // A clone forced anonymous runs at most one instance per
                // node (`pe__force_anon`).
                let forced_anon = unique_asked && !agents_can_be_unique(child);
                // clone-max defaults to the nodes known when the clone is
                // unpacked (`clone_unpack`): bundles add their nodes as they
                // are unpacked, orphaned connections only with the status.
                // Every `<node>` of the configuration counts from the start
                // (`unpack_nodes` creates remote ones too).
                let mut names: std::collections::BTreeSet<&str> =
                    self.cib.configuration.nodes.iter().map(|n| n.uname.as_str()).collect();
                names.extend(c.nodes.iter().filter(|n| !n.remote.late).map(|n| n.uname.as_str()));
                let bundle_names: Vec<String> = self
                    .cib
                    .configuration
                    .resources
                    .iter()
                    .filter(|d| matches!(d.kind, ResourceKind::Bundle(_)) && c.rsc_by_id(&d.id).is_some())
                    .flat_map(implicit::bundle_node_names)
                    .collect();
                names.extend(bundle_names.iter().map(String::as_str));
                let known = names.len().max(1);
                let clone_max = get("clone-max").unwrap_or(known);
                Variant::Clone {
                    promotable,
                    clone_max: if forced_anon { clone_max.min(known) } else { clone_max },
                    // Anonymous clones run at most one instance per node
                    // (`clone_unpack` ignores a larger clone-node-max).
                    clone_node_max: if forced_anon {
                        1
                    } else if !unique_asked {
                        get("clone-node-max").unwrap_or(1).min(1)
                    } else {
                        get("clone-node-max").unwrap_or(1)
                    },
                    // The legacy names count only when the new ones are absent.
                    promoted_max: get("promoted-max").or_else(|| get("master-max")).unwrap_or(1),
                    promoted_node_max: get("promoted-node-max").or_else(|| get("master-node-max")).unwrap_or(1),
                    // Only OCF agents can be globally unique; clones of
                    // others are forced anonymous (`recursive_clear_unique`).
                    unique: meta.get("globally-unique").is_some_and(|v| is_true(v)) && agents_can_be_unique(child),
                    interleave: meta.get("interleave").is_some_and(|v| is_true(v)),
                    ordered: meta.get("ordered").is_some_and(|v| is_true(v)),
                }
            }
            ResourceKind::Bundle(_) => Variant::Group,
        };
        let is_stonith = matches!(&variant, Variant::Primitive { class, .. } if class == "stonith");
        if is_stonith {
            c.have_stonith_resource = true;
        }
        let stickiness = meta
            .get("resource-stickiness")
            .or(meta.get("resource_stickiness"))
            .and_then(|v| parse_score(v))
            .unwrap_or(if in_clone { 1 } else { c.options.default_stickiness });
        let migration_threshold = meta
            .get("migration-threshold")
            .and_then(|v| parse_score(v))
            .map(|s| s as i64)
            .unwrap_or(INFINITY as i64);
        let failure_timeout_s = meta
            .get("failure-timeout")
            .and_then(|v| cib::parse_interval_ms(v))
            .map(|ms| (ms / 1000) as i64)
            .unwrap_or(0);
        let managed = configured_managed(&meta, c.options.maintenance_mode);
        let is_remote_conn = matches!(&variant, Variant::Primitive { class, provider, ty }
            if class == "ocf" && provider.as_deref() == Some("pacemaker") && ty == "remote");
        // `unpack_requires`: fence devices and remote connections need only
        // quorum; otherwise fencing if it is enabled, nothing if quorum is
        // ignored, quorum else (also for a value that is not valid).
        let configured = meta.get("requires").map(|v| v.to_ascii_lowercase());
        let requires: String = match configured.as_deref() {
            Some("nothing" | "quorum" | "fencing") => configured.clone().unwrap_or_default(),
            Some("unfencing") if is_stonith || !c.options.stonith_enabled => "quorum".into(),
            Some("unfencing") => "unfencing".into(),
            _ if is_stonith || is_remote_conn => "quorum".into(),
            // The default "unfencing" falls back to quorum, not to the
            // no-quorum-policy's default, when fencing is disabled.
            _ if c.options.enable_unfencing && c.options.stonith_enabled => "unfencing".into(),
            _ if c.options.enable_unfencing => "quorum".into(),
            _ if c.options.stonith_enabled => "fencing".into(),
            _ if c.options.no_quorum_policy == NoQuorumPolicy::Ignore => "nothing".into(),
            _ => "quorum".into(),
        };
        let ops = match &def.kind {
            ResourceKind::Primitive { ops, .. } => ops.clone(),
            _ => Default::default(),
        };
        // Remote nodes' connections migrate unless told otherwise; a guest
        // node's (one with a container, as a bundle replica's) does not
        // (`pe__unpack_resource`, lib/pengine/complex.c:683-704).
        let allow_migrate = match meta.get("allow-migrate") {
            Some(v) => is_true(v),
            None => is_remote_conn && !meta.contains_key("container"),
        };
        let idx = RscIdx(c.rscs.len());
        c.rscs.push(Rsc {
            id,
            variant,
            parent,
            children: Vec::new(),
            config: RscConfig {
                priority: meta.get("priority").map_or(0, |v| lenient_score(v)),
                target_role: meta.get("target-role").and_then(|v| Role::parse(v)),
                meta: Arc::new(meta),
                params: Arc::new(params),
                instance_sets: def.instance.clone(),
                ops,
                description: def.description.clone(),
                stickiness,
                migration_threshold,
                failure_timeout_s,
                managed,
                requires_fencing: requires == "fencing" || requires == "unfencing",
                requires_quorum: requires != "nothing",
                requires_unfencing: requires == "unfencing",
                allow_migrate,
                utilization: util
                    .into_iter()
                    .filter_map(|(k, v)| v.parse::<i64>().ok().map(|v| (k, v)))
                    .collect(),
                instance,
                template: def.template.clone(),
            },
            observed: RscObserved::default(),
            plan: RscPlan::unplanned(nnodes),
            remote: RscRemote::default(),
        });
        if let Some(p) = parent {
            c.rscs[p].children.push(idx);
        }
        // Role targets only make sense inside promotable clones.
        if matches!(
            c.rscs[idx].config.target_role,
            Some(Role::Promoted) | Some(Role::Unpromoted)
        ) && !c.in_promotable(idx)
        {
            c.rscs[idx].config.target_role = None;
        }
        match &def.kind {
            ResourceKind::Group { children } => {
                for ch in children {
                    let cid = instance.map(|i| format!("{}:{i}", ch.id));
                    self.add(c, ch, Some(idx), cid, instance);
                }
            }
            ResourceKind::Clone { child, .. } => {
                let n = match c.rscs[idx].variant {
                    Variant::Clone { clone_max, .. } => clone_max,
                    _ => 0,
                };
                // With clone-max=0 one instance still exists, as an orphan,
                // so that history entries find their clone (`clone_unpack`).
                for i in 0..n.max(1) {
                    let inst = self.add(c, child, Some(idx), Some(format!("{}:{i}", child.id)), Some(i));
                    if i >= n {
                        for m in std::iter::once(inst).chain(c.rscs[inst].children.clone()) {
                            c.rscs[m].observed.orphan = true;
                        }
                    }
                }
            }
            _ => {}
        }
        idx
    }
}

fn unpack_resources(cib: &Cib, c: &mut Cluster) {
    let b = RscBuild { cib };
    let mut top = Vec::new();
    for def in &cib.configuration.resources {
        if let ResourceKind::Bundle(bd) = &def.kind {
            bundle::add_bundle(&b, c, def, bd, &mut top);
            continue;
        }
        top.push(b.add(c, def, None, None, None));
    }
    remote::add_guest_connections(&b, cib, c, &mut top);
    remote::link_resources(c);
    bundle::link(c);
    // Stable sort by priority, higher first.
    top.sort_by(|a, b| c.rscs[*b].config.priority.cmp(&c.rscs[*a].config.priority));
    c.top = top;
}

/// Where a history entry for `id` on `node` belongs.
enum HistoryTarget {
    Rsc(RscIdx),
    /// An anonymous clone (top index) needs an orphan instance.
    CloneOrphan(RscIdx),
    Unknown,
}

/// Which resource (or clone instance) a history entry belongs to
/// (`unpack_find_resource` / `find_anonymous_clone`).
fn find_resource_for_history(c: &Cluster, node: NodeIdx, id: &str) -> HistoryTarget {
    if let Some(r) = bundle::history_target(c, node, id) {
        return HistoryTarget::Rsc(r);
    }
    if let Some(r) = c
        .rscs
        .iter()
        .position(|r| r.id == id && r.is_primitive() && r.config.instance.is_none())
        .map(RscIdx)
    {
        return HistoryTarget::Rsc(r);
    }
    let base = clone_strip(id);
    let Some(first) = c
        .rscs
        .iter()
        .position(|r| r.is_primitive() && r.config.instance.is_some() && clone_strip(&r.id) == base)
        .map(RscIdx)
    else {
        return HistoryTarget::Unknown;
    };
    let top = c.top_parent(first);
    if matches!(c.rscs[top].variant, Variant::Clone { unique: true, .. }) {
        return match c.rscs.iter().position(|r| r.id == id && r.is_primitive()).map(RscIdx) {
            Some(r) => HistoryTarget::Rsc(r),
            None => HistoryTarget::CloneOrphan(top),
        };
    }
    let matching = |inst: RscIdx| -> Option<RscIdx> {
        c.primitives_of(inst)
            .into_iter()
            .find(|&p| clone_strip(&c.rscs[p].id) == base)
    };
    let mut inactive = None;
    let mut skip_inactive = false;
    for &inst in &c.rscs[top].children {
        let mut locs: Vec<NodeIdx> = Vec::new();
        for p in c.primitives_of(inst) {
            for &n in &c.rscs[p].observed.running_on {
                if !locs.contains(&n) {
                    locs.push(n);
                }
            }
        }
        if let Some(&loc) = locs.first() {
            if loc == node {
                if let Some(p) = matching(inst) {
                    if c.rscs[p].observed.running_on.is_empty() {
                        return clean_instance_or_orphan(c, node, top, p);
                    }
                    skip_inactive = true;
                }
            }
        } else if !skip_inactive && inactive.is_none() && !c.rscs[inst].plan.blocked {
            inactive = matching(inst);
        }
    }
    match (skip_inactive, inactive) {
        (false, Some(p)) => clean_instance_or_orphan(c, node, top, p),
        _ => HistoryTarget::CloneOrphan(top),
    }
}

/// Instances that do not need fencing found on an offline or unclean node
/// are orphans unless the clone has an instance for every node, so that
/// they do not use up an instance number a clean node could use.
fn clean_instance_or_orphan(c: &Cluster, node: NodeIdx, top: RscIdx, p: RscIdx) -> HistoryTarget {
    let universal = matches!(c.rscs[top].variant, Variant::Clone { clone_max, .. } if clone_max == c.nodes.len());
    let n = &c.nodes[node];
    if !c.rscs[p].config.requires_fencing && (!n.online || n.unclean) && !universal {
        HistoryTarget::CloneOrphan(top)
    } else {
        HistoryTarget::Rsc(p)
    }
}

fn unpack_history(cib: &Cib, c: &mut Cluster) {
    crate::failure_block::disable_blocked_timeouts(cib, c);
    // Fail counts first (they do not depend on history).
    for st in &cib.status.nodes {
        let Some(n) = c.nodes.iter().position(|x| x.id == st.id).map(NodeIdx) else {
            continue;
        };
        let attrs = c.nodes[n].attrs.clone();
        for (k, v) in &attrs {
            let Some(rest) = k.strip_prefix("fail-count-") else {
                continue;
            };
            let Some(rsc_id) = crate::fail_names::fail_attr_rsc(rest, c.feature_set.as_deref()) else {
                continue;
            };
            let Some(count) = parse_score(v) else { continue };
            for r in RscIdx::all(c.rscs.len()) {
                let rid = &c.rscs[r].id;
                let matches =
                    rid == rsc_id || (c.rscs[r].config.instance.is_some() && clone_strip(rid) == clone_strip(rsc_id));
                if matches && c.rscs[r].is_primitive() {
                    // Expiry via failure-timeout.
                    let ft = c.rscs[r].config.failure_timeout_s;
                    if ft > 0 {
                        let last = attrs
                            .iter()
                            .filter(|(a, _)| {
                                a.strip_prefix("last-failure-").is_some_and(|x| {
                                    crate::fail_names::fail_attr_rsc(x, c.feature_set.as_deref()) == Some(rsc_id)
                                })
                            })
                            .filter_map(|(_, t)| t.parse::<i64>().ok())
                            .max()
                            .unwrap_or(0);
                        if last > 0 && c.now > last + ft {
                            if count > 0 && !c.expired_fail_counts.contains(&(r, n)) {
                                c.expired_fail_counts.push((r, n));
                            }
                            continue;
                        }
                        // Recheck just after the last failure expires
                        // (`check_operation_expiry`).
                        if count != 0 {
                            c.update_recheck(last + ft + 1);
                        }
                    }
                    let e = c.fail_counts.entry((r, n)).or_insert(0);
                    *e = score::add(*e, count);
                    if c.rscs[r].config.instance.is_none() {
                        break;
                    }
                }
            }
        }
    }
    remote::unpack_node_histories(cib, c);
    remote::finish_status(c);
    // multiple-active handling for resources active on several nodes.
    for r in RscIdx::all(c.rscs.len()) {
        if !c.rscs[r].is_primitive() || c.rscs[r].observed.running_on.len() < 2 || c.rscs[r].config.instance.is_some() {
            continue;
        }
        let policy = c.rscs[r]
            .config
            .meta
            .get("multiple-active")
            .cloned()
            .unwrap_or_default();
        match policy.as_str() {
            "stop_only" => c.history_bans.push((r, None)),
            "block" => {
                // A group with multiple-active=block is blocked as a whole.
                let targets = match c.rscs[r].parent {
                    Some(p) if matches!(c.rscs[p].variant, Variant::Group) => c.primitives_of(p),
                    _ => vec![r],
                };
                for t in targets {
                    c.rscs[t].config.managed = false;
                    c.rscs[t].plan.blocked = true;
                }
            }
            _ => {}
        }
    }
    // Resources with no history at all are Stopped.
    for r in &mut c.rscs {
        if r.observed.role == Role::Unknown {
            r.observed.role = Role::Stopped;
        }
    }
    // Parents: role is the max of children.
    for i in RscIdx::all(c.rscs.len()).rev() {
        if !c.rscs[i].is_primitive() {
            let kids = c.rscs[i].children.clone();
            let role = kids
                .iter()
                .map(|&k| c.rscs[k].observed.role)
                .max()
                .unwrap_or(Role::Stopped);
            c.rscs[i].observed.role = role;
            let mut on = Vec::new();
            for &k in &kids {
                for &n in &c.rscs[k].observed.running_on {
                    if !on.contains(&n) {
                        on.push(n);
                    }
                }
            }
            c.rscs[i].observed.running_on = on;
        }
    }
}

fn op_on_fail(c: &Cluster, r: RscIdx, task: &str, interval_ms: u64) -> OnFail {
    let rsc = &c.rscs[r];
    let def = rsc
        .config
        .ops
        .iter()
        .find(|o| o.name == task && o.interval_ms == interval_ms);
    let mut v = def.and_then(|o| o.attr("on-fail")).map(str::to_string);
    if v.is_none() {
        let mut d = BTreeMap::new();
        let mut ctx = c.rule_context();
        ctx.op = Some((task, interval_ms));
        merge_nvsets(&c.op_defaults, &ctx, &mut d);
        v = d.get("on-fail").cloned();
    }
    let parsed = match v.as_deref() {
        Some("ignore") | Some("nothing") => Some(OnFail::Ignore),
        Some("block") => Some(OnFail::Block),
        Some("stop") => Some(OnFail::Stop),
        Some("restart") => Some(OnFail::Recover),
        Some("standby") => Some(OnFail::Standby),
        Some("fence") => Some(if c.options.stonith_enabled {
            OnFail::Fence
        } else {
            OnFail::Stop
        }),
        Some("demote") => Some(OnFail::Demote),
        Some("migrate") => Some(OnFail::Migrate),
        Some("restart-container") if rsc.remote.container.is_some() => Some(OnFail::RestartContainer),
        _ => None,
    };
    // Resources in containers recover by restarting the container; failures
    // of an active remote connection fence the remote node.
    if parsed.is_none() && rsc.remote.container.is_some() {
        return OnFail::RestartContainer;
    }
    let is_probe = task == "monitor" && interval_ms == 0;
    if (parsed.is_none() || !rsc.config.managed) && remote::is_remote_conn(c, r) && !is_probe && task != "start" {
        return if !rsc.config.managed {
            OnFail::Stop
        } else {
            OnFail::ResetRemote
        };
    }
    if task == "stop" {
        match parsed {
            Some(OnFail::Standby) | Some(OnFail::Demote) | Some(OnFail::Stop) | None => {
                if c.options.stonith_enabled {
                    OnFail::Fence
                } else {
                    OnFail::Block
                }
            }
            Some(x) => x,
        }
    } else {
        parsed.unwrap_or(OnFail::Recover)
    }
}

fn set_active(c: &mut Cluster, r: RscIdx, role: &mut Role) {
    *role = if c.in_promotable(r) {
        Role::Unpromoted
    } else {
        Role::Started
    };
}

fn set_next_role(c: &mut Cluster, r: RscIdx, role: Role) {
    c.rscs[r].plan.next_role = role;
}

/// Bans a resource (the whole anonymous clone for clone instances) from a
/// node, or from all nodes with `node == None`.
fn ban(c: &mut Cluster, r: RscIdx, node: Option<NodeIdx>) {
    let targets: Vec<RscIdx> = {
        let top = c.top_parent(r);
        match c.rscs[top].variant {
            Variant::Clone { unique: false, .. } => {
                // Every instance of the same primitive.
                let base = clone_strip(&c.rscs[r].id).to_string();
                c.primitives_of(top)
                    .into_iter()
                    .filter(|&p| clone_strip(&c.rscs[p].id) == base)
                    .collect()
            }
            _ => vec![r],
        }
    };
    for t in targets {
        c.history_bans.push((t, node));
    }
}

fn effective_rc(rc: i32) -> i32 {
    match rc {
        190 => 0,
        191 => 8,
        x => x,
    }
}

/// The group a cloned group's instances are made from.
fn cloned_group_template(c: &Cluster, top: RscIdx) -> Option<RscIdx> {
    let &first = c.rscs[top].children.first()?;
    matches!(c.rscs[first].variant, Variant::Group).then_some(first)
}

/// Whether a resource is managed by its configuration alone: `is-managed`,
/// its `maintenance` meta attribute and the cluster's maintenance mode
/// (`pe__unpack_resource`, lib/pengine/complex.c). Running on a node in
/// maintenance makes a resource unmanaged later, while its history is
/// unpacked, and concerns that resource only.
fn configured_managed(meta: &BTreeMap<String, String>, maintenance_mode: bool) -> bool {
    meta.get("is-managed").is_none_or(|v| is_true(v))
        && !meta.get("maintenance").is_some_and(|v| is_true(v))
        && !maintenance_mode
}

/// A new instance of a clone, configured as `src` (an existing instance or
/// member) but with no state: Pacemaker creates instances beyond
/// clone-max, found in the history, as full copies of the clone's child
/// (`create_child_clone`).
fn fresh_instance(src: &Rsc, id: String, parent: RscIdx, number: usize, maintenance_mode: bool) -> Rsc {
    let mut r = src.clone();
    r.id = id;
    r.parent = Some(parent);
    r.children = Vec::new();
    r.observed.orphan = true;
    r.config.instance = Some(number);
    r.observed.role = Role::Unknown;
    r.plan.next_role = Role::Unknown;
    r.observed.running_on = Vec::new();
    r.observed.known_on = Vec::new();
    r.observed.failed = false;
    r.plan.stop_needed = false;
    r.plan.blocked = false;
    r.observed.start_pending = false;
    r.observed.failed_probe_rc = Vec::new();
    r.plan.assigned = None;
    r.plan.provisional = true;
    r.observed.active_recurring = Vec::new();
    r.observed.history_ids = Vec::new();
    // Clone orphans are ordinary instances beyond clone-max
    // (stop-orphan-resources concerns resources no longer configured),
    // unpacked afresh from the configuration (`create_child_clone`,
    // lib/pengine/clone.c): whether the template instance became unmanaged
    // by running on a node in maintenance does not carry over.
    r.config.managed = configured_managed(&src.config.meta, maintenance_mode);
    r
}

/// `create_anonymous_orphan` for a cloned group: one more instance of the
/// group (beyond clone-max, so an orphan) with a copy of every member.
fn create_group_orphan(c: &mut Cluster, top: RscIdx) -> RscIdx {
    let template = cloned_group_template(c, top).unwrap_or(top);
    let number = c.rscs[top].children.len();
    let renumber = |id: &str| format!("{}:{number}", clone_strip(id));
    let mm = c.options.maintenance_mode;
    let fresh = |src: &Rsc, id: String, parent: RscIdx| fresh_instance(src, id, parent, number, mm);
    let group = RscIdx(c.rscs.len());
    let g = fresh(&c.rscs[template], renumber(&c.rscs[template].id), top);
    c.rscs.push(g);
    c.rscs[top].children.push(group);
    for m in c.rscs[template].children.clone() {
        let idx = RscIdx(c.rscs.len());
        let member = fresh(&c.rscs[m], renumber(&c.rscs[m].id), group);
        c.rscs.push(member);
        c.rscs[group].children.push(idx);
    }
    group
}

/// `unpack_shutdown_lock`: a history entry with an unexpired
/// `shutdown-lock` locks the resource to this node (an expired one is
/// simply ignored; Pacemaker also schedules a history clean-up).
fn unpack_shutdown_lock(c: &mut Cluster, r: RscIdx, n: NodeIdx, lr: &LrmResource) {
    let Some(lock_time) = lr.shutdown_lock.filter(|&t| t != 0) else {
        return;
    };
    let limit = c.options.shutdown_lock_limit_s;
    if limit > 0 && c.now > lock_time + limit {
        // The expired lock's history is removed (`unpack_shutdown_lock`).
        c.history_clears.push((r, n));
        return;
    }
    c.rscs[r].observed.lock_node = Some(n);
    c.rscs[r].observed.lock_time = lock_time;
}

/// A configured primitive instance of clone `top` to copy for an orphan
/// instance.
fn primitive_template(c: &Cluster, top: RscIdx) -> Option<RscIdx> {
    let kids = &c.rscs[top].children;
    let primitive = |k: &RscIdx| c.rscs[*k].is_primitive();
    // With clone-max=0 the only instance is itself an orphan; it still
    // carries the configuration new instances are made from.
    kids.iter()
        .copied()
        .find(|&k| primitive(&k) && !c.rscs[k].observed.orphan)
        .or_else(|| kids.iter().copied().find(primitive))
}

fn unpack_lrm_resource(c: &mut Cluster, n: NodeIdx, lr: &LrmResource) {
    if lr.ops.is_empty() {
        return;
    }
    let r = match find_resource_for_history(c, n, &lr.id) {
        HistoryTarget::Rsc(r) => r,
        HistoryTarget::CloneOrphan(top) if cloned_group_template(c, top).is_some() => {
            let inst = create_group_orphan(c, top);
            let base = clone_strip(&lr.id);
            let member = c.rscs[inst]
                .children
                .iter()
                .copied()
                .find(|&m| clone_strip(&c.rscs[m].id) == base);
            match member {
                Some(m) => m,
                None => return,
            }
        }
        HistoryTarget::CloneOrphan(top) if primitive_template(c, top).is_some() => {
            let template = primitive_template(c, top).unwrap_or(top);
            let number = c.rscs[top].children.len();
            let id = format!("{}:{number}", clone_strip(&lr.id));
            let idx = RscIdx(c.rscs.len());
            let inst = fresh_instance(&c.rscs[template], id, top, number, c.options.maintenance_mode);
            c.rscs.push(inst);
            c.rscs[top].children.push(idx);
            c.history_bans.push((idx, None));
            remote::link_orphan(c, idx, lr);
            idx
        }
        target => {
            // Orphan: known in history but not configured (for anonymous
            // clones, an extra orphan instance of the clone).
            let parent = match target {
                HistoryTarget::CloneOrphan(top) => Some(top),
                _ => None,
            };
            let idx = RscIdx(c.rscs.len());
            let nnodes = c.nodes.len();
            let id = match parent {
                Some(top) => format!("{}:{}", clone_strip(&lr.id), c.rscs[top].children.len()),
                None => lr.id.clone(),
            };
            c.rscs.push(Rsc {
                id,
                variant: Variant::Primitive {
                    class: lr.class.clone().unwrap_or_default(),
                    provider: lr.provider.clone(),
                    ty: lr.ty.clone().unwrap_or_default(),
                },
                parent,
                children: Vec::new(),
                config: RscConfig {
                    meta: Arc::default(),
                    params: Arc::default(),
                    instance_sets: Arc::default(),
                    ops: Arc::default(),
                    description: None,
                    priority: 0,
                    stickiness: 0,
                    migration_threshold: INFINITY as i64,
                    failure_timeout_s: 0,
                    // Clone orphans are ordinary instances beyond clone-max;
                    // stop-orphan-resources concerns unconfigured resources.
                    managed: match parent {
                        Some(top) => c.rscs[top].config.managed && !c.options.maintenance_mode,
                        None => c.options.stop_orphan_resources && !c.options.maintenance_mode,
                    },
                    target_role: None,
                    requires_fencing: c.options.stonith_enabled,
                    requires_quorum: true,
                    requires_unfencing: false,
                    allow_migrate: false,
                    utilization: BTreeMap::new(),
                    instance: parent.map(|top| c.rscs[top].children.len()),
                    template: None,
                },
                observed: RscObserved {
                    orphan: true,
                    ..RscObserved::default()
                },
                plan: RscPlan::unplanned(nnodes),
                remote: RscRemote::default(),
            });
            match parent {
                Some(top) => c.rscs[top].children.push(idx),
                None => c.top.push(idx),
            }
            if c.options.stop_orphan_resources || parent.is_some() {
                c.history_bans.push((idx, None));
            }
            remote::link_orphan(c, idx, lr);
            idx
        }
    };
    if c.options.shutdown_lock {
        unpack_shutdown_lock(c, r, n, lr);
    }
    c.rscs[r].observed.history_ids.push((n, lr.id.clone()));
    let ops = sorted_by_call_id(&lr.ops);
    let saved_role = c.rscs[r].observed.role;
    let mut h = HistoryState {
        role: Role::Unknown,
        on_fail: OnFail::Ignore,
        last_failure: None,
    };
    for op in &ops {
        unpack_rsc_op(c, &OpAt { r, n, op }, &mut h);
    }
    let HistoryState { role, on_fail, .. } = h;
    if c.nodes[n].online {
        let recurring = recurring_in_history(&ops);
        c.rscs[r]
            .observed
            .active_recurring
            .extend(recurring.into_iter().map(|(task, i)| (n, task, i)));
    }
    process_rsc_state(c, r, n, role, on_fail);
    // `get_target_role` ignores Started and (for promotable clones) Promoted.
    if let Some(tr) = c.rscs[r]
        .config
        .target_role
        .filter(|t| matches!(t, Role::Stopped | Role::Unpromoted))
    {
        let nr = c.rscs[r].plan.next_role;
        if nr == Role::Unknown || tr < nr {
            set_next_role(c, r, tr);
        }
    }
    let cur = migration::keep_partial_target_role(c, r, n, c.rscs[r].observed.role);
    c.rscs[r].observed.role = cur.max(saved_role);
}

/// What replaying a resource's history on a node has found so far
/// (`unpack_lrm_resource`'s running state).
struct HistoryState<'a> {
    role: Role,
    on_fail: OnFail,
    last_failure: Option<&'a LrmOp>,
}

/// One history entry of resource `r` on node `n`.
struct OpAt<'a> {
    r: RscIdx,
    n: NodeIdx,
    op: &'a LrmOp,
}

fn unpack_rsc_op<'a>(c: &mut Cluster, at: &OpAt<'a>, h: &mut HistoryState<'a>) {
    let OpAt { r, n, op } = *at;
    let task = op.operation.as_str();
    if task == "notify" || task == "meta-data" {
        return;
    }
    let target_rc = op.target_rc().unwrap_or(-1);
    let mut rc = op.rc_code;
    let mut status = op.op_status;
    let is_probe = task == "monitor" && op.interval_ms == 0;
    let ft = c.rscs[r].config.failure_timeout_s;
    let expired = status != exec::NOT_INSTALLED
        && ft > 0
        && rc != target_rc
        && op.last_rc_change.is_some_and(|t| c.now >= t + ft)
        && !remote::keeps_monitor_failure(c, r, op)
        // Probes that found the resource running, stopped or promoted
        // never expire (`check_operation_expiry`).
        && !(is_probe && matches!(rc, 0 | 7 | 8 | 190 | 191));
    // remap_operation
    if task == "monitor" {
        rc = effective_rc(rc);
    }
    let maskable_probe = is_probe
        && ((status == exec::DONE || status == exec::ERROR || status == exec::NOT_INSTALLED) && (rc == 5 || rc == 2)
            || status == exec::NOT_INSTALLED);
    if maskable_probe {
        status = exec::DONE;
        rc = 7;
    }
    if status == exec::DONE || status == exec::ERROR {
        status = exec::DONE;
        if target_rc < 0 || target_rc != rc {
            status = exec::ERROR;
        }
        match rc {
            0 => {
                if is_probe && target_rc == 7 {
                    status = exec::DONE;
                }
            }
            7 => {
                if is_probe || target_rc == rc || !c.rscs[r].config.managed {
                    h.role = Role::Stopped;
                    c.rscs[r].plan.next_role = Role::Unknown;
                    // Not running clears earlier failure handling.
                    h.on_fail = OnFail::Ignore;
                    status = exec::DONE;
                } else if target_rc != rc {
                    status = exec::ERROR;
                }
            }
            8 => {
                // A probe finding the resource promoted is not a failure.
                if target_rc == rc || is_probe {
                    status = exec::DONE;
                } else {
                    status = exec::ERROR;
                }
                h.role = Role::Promoted;
            }
            9 | 191 => {
                h.role = Role::Promoted;
                status = exec::ERROR;
            }
            6 => status = exec::ERROR_FATAL,
            3 => {
                if op.interval_ms == 0 {
                    check_recoverable(c, r, n, task);
                    status = exec::ERROR_HARD;
                } else {
                    status = exec::NOT_SUPPORTED;
                }
            }
            5 | 2 | 4 => {
                check_recoverable(c, r, n, task);
                status = exec::ERROR_HARD;
            }
            _ => {
                if status == exec::DONE {
                    status = exec::ERROR;
                }
            }
        }
    }
    if expired && rc != target_rc && op.interval_ms == 0 && !maskable_probe {
        return;
    }
    // An expired recurring-monitor failure on a clean online node is only
    // rescheduled: Pacemaker forces its restart digest to differ, so the
    // configuration check later requires the monitor again.
    if expired && rc != target_rc && op.interval_ms > 0 && !maskable_probe && c.nodes[n].online && !c.nodes[n].unclean {
        c.expired_recurring.push((r, n, op.operation.clone(), op.interval_ms));
        return;
    }
    if expired && maskable_probe && op.rc_code != target_rc {
        if h.role <= Role::Stopped {
            h.role = Role::Unknown;
        }
        return;
    }
    if maskable_probe {
        update_resource_state(c, at, 7, h, h.last_failure);
        // `record_failed_op` skips offline nodes, and the status display
        // finds a failed probe only through the entry's `on_node`
        // (`pe__failed_probe_for_rsc`), which older histories lack.
        if c.nodes[n].online && op.on_node.is_some() {
            c.rscs[r].observed.failed_probe_rc.push((n, op.rc_code));
        }
        ban(c, r, Some(n));
        return;
    }
    match status {
        exec::CANCELLED => return,
        exec::PENDING => {
            if task == "start" {
                c.rscs[r].observed.start_pending = true;
                if op.call_id < 0 && !c.rscs[r].observed.pending_start_on.contains(&n) {
                    c.rscs[r].observed.pending_start_on.push(n);
                }
                set_active(c, r, &mut h.role);
            } else if task == "promote" {
                h.role = Role::Promoted;
            } else if task == "migrate_to" && c.nodes[n].unclean {
                // A migrate_to still pending on an unclean node forces a
                // stop on its target (`unpack_rsc_op`).
                if let Some(t) = op.migrate_target.as_deref().and_then(|t| c.node_by_name(t)) {
                    if !c.rscs[r].observed.dangling_migrations.contains(&t) {
                        c.rscs[r].observed.dangling_migrations.push(t);
                    }
                }
            }
            return;
        }
        exec::DONE => {
            update_resource_state(c, at, rc, h, h.last_failure);
            return;
        }
        exec::NOT_INSTALLED => {
            let fs = op_on_fail(c, r, task, op.interval_ms);
            if fs == OnFail::Ignore {
                h.on_fail = OnFail::Migrate;
            }
            ban(c, r, Some(n));
            h.last_failure = Some(op);
            rsc_op_failure(c, at, rc, h);
            return;
        }
        exec::NO_FENCE_DEVICE | exec::NO_SECRETS => status = exec::ERROR_HARD,
        _ => {}
    }
    h.last_failure = Some(op);
    let fs = op_on_fail(c, r, task, op.interval_ms);
    if fs == OnFail::Ignore || (fs == OnFail::RestartContainer && task == "stop") {
        update_resource_state(c, at, target_rc, h, None);
        c.rscs[r].observed.failure_ignored = true;
        if fs == OnFail::RestartContainer && h.on_fail <= OnFail::Recover {
            h.on_fail = fs;
        }
    } else {
        rsc_op_failure(c, at, rc, h);
        if status == exec::ERROR_HARD {
            ban(c, r, Some(n));
        } else if status == exec::ERROR_FATAL {
            ban(c, r, None);
        }
    }
    let _ = exec::TIMEOUT;
}

fn check_recoverable(c: &mut Cluster, r: RscIdx, n: NodeIdx, task: &str) {
    if task != "stop" {
        return;
    }
    // Failed stops are recovered by fencing (`check_recoverable`,
    // lib/pengine/unpack.c:3347-3370).
    if c.can_fence(n) {
        return;
    }
    c.rscs[r].config.managed = false;
    c.rscs[r].plan.blocked = true;
}

fn rsc_op_failure(c: &mut Cluster, at: &OpAt<'_>, rc: i32, h: &mut HistoryState<'_>) {
    let OpAt { r, n, op } = *at;
    let task = op.operation.as_str();
    let action_on_fail = op_on_fail(c, r, task, op.interval_ms);
    if action_on_fail > h.on_fail {
        h.on_fail = action_on_fail;
    }
    match task {
        "stop" => ban(c, r, Some(n)),
        "migrate_to" => migration::migrate_to_failure(c, r, n, op, &mut h.role),
        "migrate_from" => migration::migrate_from_failure(c, r, n, op, &mut h.role),
        "promote" => h.role = Role::Promoted,
        "demote" => {
            if action_on_fail == OnFail::Block {
                h.role = Role::Promoted;
                set_next_role(c, r, Role::Stopped);
            } else if rc == 7 {
                h.role = Role::Stopped;
            } else {
                h.role = Role::Unpromoted;
            }
        }
        _ => {}
    }
    let is_probe = task == "monitor" && op.interval_ms == 0;
    if is_probe && rc == 5 {
        h.role = Role::Stopped;
    } else if h.role < Role::Started {
        set_active(c, r, &mut h.role);
    }
    let fail_role = match action_on_fail {
        OnFail::Stop => Role::Stopped,
        OnFail::ResetRemote if c.rscs[r].remote.reconnect_ms > 0 => Role::Stopped,
        _ if task == "promote" => Role::Unpromoted,
        _ => Role::Started,
    };
    if fail_role != Role::Started && c.rscs[r].plan.next_role < fail_role {
        set_next_role(c, r, fail_role);
    }
    if fail_role == Role::Stopped {
        ban(c, r, None);
    }
}

/// `update_resource_state`: a history entry's result as the resource's
/// role; `last_failure` is the failure a monitor's success may clear.
fn update_resource_state(
    c: &mut Cluster,
    at: &OpAt<'_>,
    rc: i32,
    h: &mut HistoryState<'_>,
    last_failure: Option<&LrmOp>,
) {
    let OpAt { r, n, op } = *at;
    let task = op.operation.as_str();
    let mut clear = false;
    let is_probe = task == "monitor" && op.interval_ms == 0;
    if rc == 5 && is_probe {
        h.role = Role::Stopped;
    } else if rc == 7 {
        clear = true;
    } else if task == "monitor" {
        if let Some(lf) = last_failure {
            if lf.operation == op.operation && lf.interval_ms == op.interval_ms {
                clear = true;
            }
        }
        if h.role < Role::Started {
            set_active(c, r, &mut h.role);
        }
        if rc == 8 {
            h.role = Role::Promoted;
        }
    } else if task == "start" {
        h.role = Role::Started;
        if c.in_promotable(r) {
            h.role = Role::Unpromoted;
        }
        clear = true;
    } else if task == "stop" {
        h.role = Role::Stopped;
        clear = true;
    } else if task == "promote" {
        h.role = Role::Promoted;
        clear = true;
    } else if task == "demote" {
        if h.on_fail == OnFail::Demote {
            clear = true;
        }
        h.role = Role::Unpromoted;
    } else if task == "migrate_from" {
        h.role = Role::Started;
        clear = true;
    } else if task == "migrate_to" {
        migration::migrate_to_success(c, r, n, op, &mut h.role);
    } else if h.role < Role::Started {
        set_active(c, r, &mut h.role);
    }
    if clear {
        match h.on_fail {
            OnFail::Stop | OnFail::Fence | OnFail::Migrate | OnFail::Standby => {}
            // With a reconnect interval, a failed connection waits for its
            // failure to be cleared before reconnecting.
            OnFail::ResetRemote if c.rscs[r].remote.reconnect_ms > 0 => {}
            _ => {
                h.on_fail = OnFail::Ignore;
                set_next_role(c, r, Role::Unknown);
            }
        }
    }
}

fn process_rsc_state(c: &mut Cluster, r: RscIdx, n: NodeIdx, role: Role, mut on_fail: OnFail) {
    c.rscs[r].observed.role = role;
    // Known there once its history gave it a role (a pending probe alone
    // does not).
    if role != Role::Unknown && !c.rscs[r].observed.known_on.contains(&n) {
        c.rscs[r].observed.known_on.push(n);
    }
    let node_online = c.nodes[n].online;
    if role > Role::Stopped && !node_online && !c.nodes[n].maintenance && c.rscs[r].config.managed {
        if let Some(reason) = remote::active_on_down_node(c, r, n) {
            fence_node(c, n, &reason);
        }
    }
    let save_on_fail = on_fail;
    if c.nodes[n].unclean {
        on_fail = OnFail::Ignore;
    }
    match on_fail {
        OnFail::Ignore => {}
        OnFail::Demote => c.rscs[r].observed.failed = true,
        OnFail::Fence => {
            let reason = format!("{} failed there", c.rscs[r].id);
            c.rscs[r].remote.failure_fences = true;
            fence_node(c, n, &reason);
        }
        OnFail::Standby => {
            c.nodes[n].standby = true;
            c.nodes[n].standby_onfail = true;
        }
        OnFail::Block => {
            c.rscs[r].config.managed = false;
            c.rscs[r].plan.blocked = true;
        }
        OnFail::Migrate => ban(c, r, Some(n)),
        OnFail::Stop => set_next_role(c, r, Role::Stopped),
        OnFail::Recover => {
            if role != Role::Stopped && role != Role::Unknown {
                c.rscs[r].observed.failed = true;
                c.rscs[r].plan.stop_needed = true;
            }
        }
        OnFail::RestartContainer => {
            c.rscs[r].observed.failed = true;
            c.rscs[r].plan.stop_needed = true;
            if let Some(ct) = c.rscs[r].remote.container {
                c.rscs[ct].plan.stop_needed = true;
            }
        }
        OnFail::ResetRemote => remote::reset_remote(c, r, n, role),
    }
    remote::failed_connection_unseen(c, r);
    let _ = save_on_fail;
    if role != Role::Stopped && role != Role::Unknown {
        if c.nodes[n].maintenance {
            c.rscs[r].config.managed = false;
        }
        if !c.rscs[r].observed.running_on.contains(&n) {
            c.rscs[r].observed.running_on.push(n);
        }
        match on_fail {
            OnFail::Ignore => {}
            OnFail::Demote | OnFail::Block => c.rscs[r].observed.failed = true,
            _ => {
                c.rscs[r].observed.failed = true;
                c.rscs[r].plan.stop_needed = true;
            }
        }
    }
}

/// Score of a fail count for (rsc, node); 0 if none.
pub fn fail_count(c: &Cluster, r: RscIdx, n: NodeIdx) -> Score {
    c.fail_counts.get(&(r, n)).copied().unwrap_or(0)
}

/// The merged value of an option for op defaults (used for timeouts).
pub fn op_default(cib: &Cib, name: &str) -> Option<String> {
    first_value(&cib.configuration.op_defaults, name).map(str::to_string)
}

/// `calculate_active_ops`: the indices of the last successful stop and of
/// the last start (or, without one, the last promote/demote, else the
/// monitor that found it running after the last stop), -1 for none.
pub(crate) fn active_ops_window(ops: &[&LrmOp]) -> (i64, i64) {
    let (mut start, mut stop) = (-1i64, -1i64);
    let (mut implied_monitor, mut implied_clone) = (-1i64, -1i64);
    for (i, op) in ops.iter().enumerate() {
        let i = i as i64;
        match op.operation.as_str() {
            "stop" if op.op_status == 0 => stop = i,
            "start" | "migrate_from" => start = i,
            "monitor" if implied_monitor <= stop && matches!(op.rc_code, 0 | 8) => implied_monitor = i,
            "promote" | "demote" => implied_clone = i,
            _ => {}
        }
    }
    if start == -1 {
        start = if implied_clone != -1 {
            implied_clone
        } else {
            implied_monitor
        };
    }
    (start, stop)
}

/// `process_recurring`: the recurring operations in a node's history that
/// count as already scheduled there (task, interval): those after the last
/// start, or after the last stop when the resource stopped since, that are
/// not pending.
fn recurring_in_history(ops: &[&LrmOp]) -> Vec<(String, u64)> {
    let (start, stop) = active_ops_window(ops);
    ops.iter()
        .enumerate()
        .filter(|&(i, _)| {
            let i = i as i64;
            !(start < stop && i <= stop) && i >= start
        })
        .filter(|(_, op)| op.interval_ms > 0 && op.op_status != -1)
        .map(|(_, op)| (op.operation.clone(), op.interval_ms))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_resources(stonith: bool, resources: &str, rsc_defaults: &str) -> Cib {
        Cib::parse(&format!(
            "<cib epoch=\"1\" num_updates=\"0\" admin_epoch=\"0\"><configuration><crm_config>\
             <cluster_property_set id=\"o\"><nvpair id=\"o1\" name=\"stonith-enabled\" value=\"{stonith}\"/>\
             </cluster_property_set></crm_config><nodes/><resources>{resources}</resources><constraints/>\
             <rsc_defaults>{rsc_defaults}</rsc_defaults></configuration><status/></cib>"
        ))
        .expect("test CIB parses")
    }

    #[test]
    fn a_failed_probe_is_shown_only_when_its_entry_names_the_node() {
        let probe = |on_node: &str| {
            let xml = format!(
                "<cib epoch=\"1\" num_updates=\"0\" admin_epoch=\"0\" have-quorum=\"1\"><configuration><crm_config/>\
                 <nodes><node id=\"1\" uname=\"n1\"/></nodes><resources>\
                 <primitive id=\"r\" class=\"ocf\" provider=\"heartbeat\" type=\"VolGroup\"/></resources>\
                 <constraints/></configuration><status><node_state id=\"1\" uname=\"n1\" in_ccm=\"true\" \
                 crmd=\"online\" join=\"member\" expected=\"member\"><lrm id=\"1\"><lrm_resources>\
                 <lrm_resource id=\"r\" class=\"ocf\" provider=\"heartbeat\" type=\"VolGroup\">\
                 <lrm_rsc_op id=\"r_monitor_0\" operation=\"monitor\" call-id=\"6\" rc-code=\"5\" op-status=\"4\" \
                 interval=\"0\" transition-key=\"7:0:7:x\" {on_node}/></lrm_resource></lrm_resources></lrm>\
                 </node_state></status></cib>"
            );
            let c = unpack(&Cib::parse(&xml).expect("test CIB parses"), 0);
            c.rscs[0].observed.failed_probe_rc.clone()
        };
        assert_eq!(probe("on_node=\"n1\""), [(NodeIdx(0), 5)]);
        assert_eq!(probe(""), []);
    }

    #[test]
    fn only_a_remote_node_s_connection_migrates_by_default_not_a_guest_node_s() {
        // utilization-complex: bundle connection B-0 moves with its
        // container by stop and start, without migrate_to.
        let resources = "<primitive id=\"R\" class=\"ocf\" provider=\"pacemaker\" type=\"remote\"/>\
                         <primitive id=\"G\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">\
                         <meta_attributes id=\"G-m\"><nvpair id=\"G-g\" name=\"remote-node\" value=\"g1\"/>\
                         </meta_attributes></primitive>\
                         <bundle id=\"B\"><docker image=\"img\"/><network control-port=\"3121\"/>\
                         <primitive id=\"Bc\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"/></bundle>";
        let c = unpack(&with_resources(false, resources, ""), 0);
        let migrates = |id: &str| c.rscs[c.rsc_by_id(id).expect(id)].config.allow_migrate;
        assert!(migrates("R"));
        assert!(!migrates("g1"));
        assert!(!migrates("B-0"));
    }

    #[test]
    fn clone_counts_take_the_leading_integer_and_zero_when_invalid() {
        for (v, n) in [
            ("3", 3),
            (" 2", 2),
            ("4abc", 4),
            ("+1", 1),
            ("-1", 0),
            ("abc", 0),
            ("", 0),
        ] {
            assert_eq!(scan_count(v), n, "{v:?}");
        }
    }

    #[test]
    fn anonymous_clones_run_at_most_one_instance_per_node() {
        let clone = |unique: &str| {
            format!(
                "<clone id=\"c\"><meta_attributes id=\"m\"><nvpair id=\"n\" name=\"clone-node-max\" value=\"2\"/>\
                 <nvpair id=\"u\" name=\"globally-unique\" value=\"{unique}\"/></meta_attributes>\
                 <primitive id=\"d\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"/></clone>"
            )
        };
        for (unique, node_max) in [("false", 1), ("true", 2)] {
            let c = unpack(&with_resources(false, &clone(unique), ""), 0);
            let top = c.rsc_by_id("c").expect("clone");
            match c.rscs[top].variant {
                Variant::Clone { clone_node_max, .. } => assert_eq!(clone_node_max, node_max, "unique={unique}"),
                _ => panic!("not a clone"),
            }
        }
    }

    #[test]
    fn a_clone_with_clone_max_zero_keeps_one_orphaned_instance() {
        let clone = "<clone id=\"c\"><meta_attributes id=\"m\"><nvpair id=\"n\" name=\"clone-max\" value=\"0\"/>\
                     </meta_attributes><primitive id=\"d\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"/></clone>";
        let c = unpack(&with_resources(false, clone, ""), 0);
        let top = c.rsc_by_id("c").expect("clone");
        assert!(matches!(c.rscs[top].variant, Variant::Clone { clone_max: 0, .. }));
        let kids = &c.rscs[top].children;
        assert_eq!(kids.len(), 1);
        assert!(c.rscs[kids[0]].observed.orphan && c.rscs[kids[0]].id == "d:0");
    }

    #[test]
    fn instances_beyond_clone_max_zero_are_configured_as_the_clone_s_child() {
        // Each running copy of an unmanaged primitive in a clone-max=0 clone
        // is an orphan instance made from the configuration: unmanaged too.
        let clone = "<clone id=\"c\"><meta_attributes id=\"m\"><nvpair id=\"n\" name=\"clone-max\" value=\"0\"/>\
                     </meta_attributes><primitive id=\"d\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">\
                     <meta_attributes id=\"dm\"><nvpair id=\"dm1\" name=\"is-managed\" value=\"false\"/>\
                     </meta_attributes></primitive></clone>";
        let c = unpack(
            &crate::testutil::cib_running(2, clone, "", &[], &[(1, "d"), (2, "d")]),
            0,
        );
        let top = c.rsc_by_id("c").expect("clone");
        let active: Vec<_> = c.rscs[top]
            .children
            .iter()
            .filter(|&&k| !c.rscs[k].observed.running_on.is_empty())
            .collect();
        assert_eq!(active.len(), 2);
        for &k in active {
            assert!(
                c.rscs[k].observed.orphan && !c.rscs[k].config.managed,
                "{}",
                c.rscs[k].id
            );
        }
    }

    #[test]
    fn unfencing_is_enabled_by_an_exact_meta_attribute_only() {
        let meta = |name: &str, value: &str| {
            format!("<meta_attributes id=\"m\"><nvpair id=\"n\" name=\"{name}\" value=\"{value}\"/></meta_attributes>")
        };
        let rsc = |inner: &str| {
            format!("<primitive id=\"r\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">{inner}</primitive>")
        };
        let op = |inner: &str| {
            rsc(&format!(
                "<operations><op id=\"o\" name=\"start\" interval=\"0\">{inner}</op></operations>"
            ))
        };
        for (resources, defaults, enabled) in [
            (rsc(&meta("provides", "unfencing")), String::new(), true),
            (rsc(&meta("requires", "unfencing")), String::new(), true),
            (op(&meta("requires", "unfencing")), String::new(), true),
            (String::new(), meta("requires", "unfencing"), true),
            // XPath compares values exactly, and only in meta-attributes.
            (rsc(&meta("requires", "Unfencing")), String::new(), false),
            (rsc(&meta("requires", "fencing")), String::new(), false),
            (
                rsc("<instance_attributes id=\"i\"><nvpair id=\"n\" name=\"provides\" value=\"unfencing\"/></instance_attributes>"),
                String::new(),
                false,
            ),
        ] {
            assert_eq!(unfencing_enabled(&with_resources(true, &resources, &defaults)), enabled, "{resources}{defaults}");
        }
    }

    #[test]
    fn with_unfencing_in_use_resources_require_it_unless_fencing_is_disabled() {
        let resources = "<primitive id=\"f\" class=\"stonith\" type=\"fence_mpath\"><meta_attributes id=\"m\">\
                         <nvpair id=\"n\" name=\"provides\" value=\"unfencing\"/></meta_attributes></primitive>\
                         <primitive id=\"r\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"/>";
        let c = unpack(&with_resources(true, resources, ""), 0);
        let (f, r) = (&c.rscs[0], &c.rscs[1]);
        assert!(c.options.enable_unfencing);
        assert!(
            !f.config.requires_unfencing && !f.config.requires_fencing,
            "fence devices need quorum only"
        );
        assert!(r.config.requires_unfencing && r.config.requires_fencing);
        // The default "unfencing" falls back to "quorum" without fencing.
        let c = unpack(&with_resources(false, resources, ""), 0);
        let r = &c.rscs[1];
        assert!(!r.config.requires_unfencing && !r.config.requires_fencing && r.config.requires_quorum);
    }

    fn op(operation: &str, interval_ms: u64, rc_code: i32) -> LrmOp {
        LrmOp {
            operation: operation.into(),
            interval_ms,
            rc_code,
            ..Default::default()
        }
    }

    fn recurring(ops: &[LrmOp]) -> Vec<(String, u64)> {
        recurring_in_history(&ops.iter().collect::<Vec<_>>())
    }

    #[test]
    fn recurring_ops_after_the_last_start_count() {
        let ops = [op("monitor", 5000, 0), op("start", 0, 0), op("monitor", 10000, 0)];
        assert_eq!(recurring(&ops), [("monitor".to_string(), 10000)]);
    }

    #[test]
    fn after_a_stop_only_later_ops_count_and_without_start_or_stop_all_do() {
        let stopped = [
            op("start", 0, 0),
            op("monitor", 10000, 0),
            op("stop", 0, 0),
            op("monitor", 20000, 7),
        ];
        assert_eq!(recurring(&stopped), [("monitor".to_string(), 20000)]);
        let never_started = [op("monitor", 0, 7), op("monitor", 20000, 7)];
        assert_eq!(recurring(&never_started), [("monitor".to_string(), 20000)]);
        let mut pending = op("monitor", 20000, 7);
        pending.op_status = -1;
        assert!(recurring(&[pending]).is_empty());
    }

    fn set(id: &str, score: Score, value: &str) -> NvSet {
        NvSet {
            id: id.into(),
            score,
            rule: None,
            pairs: vec![("k".into(), value.into())],
        }
    }

    fn merged(sets: &[NvSet], first: Option<&str>) -> String {
        let mut out = BTreeMap::new();
        merge_nvsets_first(sets, first, &RuleContext::new(0), &mut out);
        out["k"].clone()
    }

    #[test]
    fn among_equal_scores_the_later_set_wins_and_a_higher_score_beats_both() {
        assert_eq!(merged(&[set("a", 0, "1"), set("b", 0, "2")], None), "2");
        assert_eq!(merged(&[set("a", 5, "1"), set("b", 0, "2")], None), "1");
        assert_eq!(merged(&[set("a", 0, "1"), set("b", 5, "2")], Some("a")), "1");
    }
}

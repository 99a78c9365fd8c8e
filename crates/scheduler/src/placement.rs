//! Node scores and assignment of resources to nodes
//! (`pcmk__primitive_assign`, `pcmk__group_assign`, colocation scoring and
//! the node tie-break of `compare_nodes`).

// Node and resource indices address several parallel tables at once.
#![allow(clippy::needless_range_loop)]

use std::cmp::Ordering as CmpOrdering;

mod bundle;
mod promotion;

use crate::constraint_types::{Coloc, Constraints};
use crate::model::{Cluster, NoQuorumPolicy, NodeIdx, Role, RscIdx, Variant};
use crate::unpack::fail_count;
use cib::score::{self, Score, INFINITY};

/// Marker Pacemaker uses while merging only-positive scores.
const INFINITY_HACK: Score = INFINITY * -100;

/// Initial node tables, stickiness, fail-count bans and history bans.
pub fn apply_node_criteria(c: &mut Cluster) {
    let nnodes = c.nodes.len();
    for r in RscIdx::all(c.rscs.len()) {
        for n in 0..nnodes {
            // Node tables are copied before status is unpacked, so offline
            // nodes keep their configured weight; availability is checked
            // separately.
            let base = c.nodes[n].weight;
            let known_node = !c.nodes[n].remote.late;
            c.rscs[r].plan.allowed[n] = if c.options.symmetric && known_node {
                Some(base)
            } else {
                None
            };
        }
    }
}

/// Node health as a location score for every resource
/// (`pcmk__apply_node_health`).
pub fn apply_node_health(c: &mut Cluster) {
    if matches!(c.options.health_strategy.as_str(), "none" | "") {
        return;
    }
    for n in NodeIdx::all(c.nodes.len()) {
        let h = c.nodes[n].health_score;
        if h == 0 {
            continue;
        }
        for &r in &c.top.clone() {
            let allow_unhealthy = c.rscs[r]
                .config
                .meta
                .get("allow-unhealthy-nodes")
                .is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "on" | "1" | "y"));
            if h < 0 && allow_unhealthy {
                continue;
            }
            super::constraints::resource_location(c, r, Some(n), h);
        }
    }
}

/// Stickiness, migration-threshold and history bans (after locations).
pub fn apply_stickiness_and_failures(c: &mut Cluster) {
    for r in RscIdx::all(c.rscs.len()) {
        let rs = &c.rscs[r];
        if !rs.is_primitive() {
            continue;
        }
        if rs.config.managed && rs.config.stickiness >= 1 && rs.observed.running_on.len() == 1 {
            let n = rs.observed.running_on[0];
            if let Some(w) = c.rscs[r].plan.allowed[n.0] {
                c.rscs[r].plan.allowed[n.0] = Some(score::add(w, c.rscs[r].config.stickiness));
            }
        }
    }
    for n in NodeIdx::all(c.nodes.len()) {
        for r in RscIdx::all(c.rscs.len()) {
            if !c.rscs[r].is_primitive() {
                continue;
            }
            let fc = score::add(fail_count(c, r, n), super::remote::fillers_fail_count(c, r, n));
            let thr = c.rscs[r].config.migration_threshold;
            // Ignored failures also ignore the migration threshold.
            let cleared = c.failcount_clears.contains(&(r, n));
            if fc > 0 && thr > 0 && (fc as i64) >= thr && !c.rscs[r].observed.failure_ignored && !cleared {
                ban_failed(c, r, n);
            }
        }
    }
    for (r, n) in std::mem::take(&mut c.history_bans) {
        match n {
            Some(n) => set_ban(c, r, n),
            None => {
                for n in NodeIdx::all(c.nodes.len()) {
                    set_ban(c, r, n);
                }
            }
        }
    }
}

fn set_ban(c: &mut Cluster, r: RscIdx, n: NodeIdx) {
    c.rscs[r].plan.allowed[n.0] = Some(-INFINITY);
}

/// `__fail_limit__`: ban the resource (the whole anonymous clone for clone
/// instances: the clone itself and everything in it, as
/// `resource_node_score` recurses into children) from the node.
fn ban_failed(c: &mut Cluster, r: RscIdx, n: NodeIdx) {
    let top = c.top_parent(r);
    let targets = match c.rscs[top].variant {
        Variant::Clone { unique: false, .. } => c.with_descendants(top),
        _ => vec![r],
    };
    for t in targets {
        set_ban(c, t, n);
    }
}

/// Ticket constraints (`constraints_for_ticket`).
pub fn apply_tickets(c: &mut Cluster, cons: &Constraints) {
    for t in &cons.tickets {
        let (granted, standby) = c.tickets.get(&t.ticket).copied().unwrap_or((false, false));
        if granted && !standby {
            continue;
        }
        for r in c.primitives_of(t.rsc) {
            let role_matches = t.role.is_none_or(|x| x == c.rscs[r].observed.role);
            let running = !c.rscs[r].observed.running_on.is_empty();
            let ban_all = |c: &mut Cluster| {
                for a in c.rscs[r].plan.allowed.iter_mut() {
                    *a = Some(-INFINITY);
                }
            };
            if !granted && running {
                match t.loss_policy.as_str() {
                    "demote" => {
                        if t.role != Some(Role::Promoted) {
                            ban_all(c);
                        }
                    }
                    "fence" => {
                        if !role_matches {
                            continue;
                        }
                        ban_all(c);
                        for n in c.rscs[r].observed.running_on.clone() {
                            let node = &mut c.nodes[n];
                            if !node.unclean {
                                node.unclean = true;
                                node.fence_reason = Some("deadman ticket was lost".into());
                            }
                        }
                    }
                    "freeze" => {
                        if role_matches {
                            c.rscs[r].config.managed = false;
                            c.rscs[r].plan.blocked = true;
                        }
                    }
                    _ => ban_all(c),
                }
            } else if t.role != Some(Role::Promoted) || t.loss_policy == "stop" {
                ban_all(c);
            }
        }
    }
}

/// `all_coloc` of `distribute_children`: fewer instances than available
/// nodes, so colocation preferences decide which nodes get one.
fn clone_all_coloc(c: &Cluster, cl: RscIdx) -> bool {
    let Variant::Clone { clone_max, .. } = c.rscs[cl].variant else {
        return false;
    };
    clone_max < c.nodes.iter().filter(|n| n.can_run()).count()
}

fn is_true(v: &str) -> bool {
    matches!(v.to_ascii_lowercase().as_str(), "true" | "yes" | "on" | "1" | "y")
}

/// Assignment state.
pub struct Assigner<'a> {
    pub c: &'a mut Cluster,
    pub colocs: Vec<Coloc>,
    /// Clone-with-clone colocations copied to each dependent instance.
    inst_this_with: Vec<Coloc>,
    /// Colocations with a clone copied to each of its instances as primary
    /// (only consulted for the instances' own preferences).
    inst_with_this: Vec<Coloc>,
    /// The score a resource had on the node it was assigned to.
    chosen_weight: Vec<Score>,
    /// Colocations with a clone on either side, as configured.
    clone_level: Vec<Coloc>,
    /// Promotion priority of promotable clone instances.
    promo_priority: Vec<Score>,
    /// Promotion sort index of promotable clone instances.
    sort_index: Vec<Score>,
    /// Next roles as unpacked (before placement filled them in).
    initial_next: Vec<Role>,
    role_locations: Vec<(RscIdx, NodeIdx, Score, Role)>,
    tickets: Vec<crate::constraint_types::TicketDep>,
    allocating: Vec<bool>,
    merging: Vec<bool>,
    pub node_count: Vec<usize>,
    /// Node preferred for the instance being assigned (clone pass 1).
    prefer: Option<NodeIdx>,
    /// Remaining node capacity (only used by non-default strategies).
    remaining: Vec<std::collections::BTreeMap<String, i64>>,
    /// Colocations as configured (groups and clones not expanded), with
    /// the groups' internal ones: what `rsc_cons`/`rsc_cons_lhs` hold
    /// before assignment moves them (see `util_cons`).
    util_colocs: Vec<Coloc>,
}

impl<'a> Assigner<'a> {
    pub fn new(c: &'a mut Cluster, cons: &Constraints) -> Self {
        let n = c.rscs.len();
        let nn = c.nodes.len();
        let mut colocs = Vec::new();
        let mut inst_this_with = Vec::new();
        let mut inst_with_this = Vec::new();
        let mut clone_level = Vec::new();
        let mut extra_member_colocs: Vec<Coloc> = Vec::new();
        // Internal group colocations come first.
        for g in 0..n {
            if matches!(c.rscs[g].variant, Variant::Group) {
                let kids = c.rscs[g].children.clone();
                for w in kids.windows(2) {
                    colocs.push(Coloc {
                        id: "group:internal_colocation".into(),
                        dependent: w[1],
                        primary: w[0],
                        score: INFINITY,
                        dependent_role: Role::Unknown,
                        primary_role: Role::Unknown,
                        node_attribute: None,
                        // A member influences the one before it unless it
                        // is not critical (`group_internal_constraints`).
                        influence: c.rscs[w[1]].is_critical(),
                        primary_group: None,
                    });
                }
            }
        }
        let mut util_colocs = colocs.clone();
        util_colocs.extend(cons.colocs.iter().cloned());
        for co in &cons.colocs {
            let mut co = co.clone();
            // "group with R" → first member with R; "R with group" → R with
            // the last member (optional colocations use the first member).
            if matches!(c.rscs[co.dependent].variant, Variant::Group) {
                let members = c.rscs[co.dependent].children.clone();
                let Some(&f) = members.first() else { continue };
                // `expand_group_colocations`: once a member is unmanaged,
                // the internal colocations no longer carry mandatory ones to
                // later members, so those get them directly.
                if co.score == INFINITY {
                    let mut any_unmanaged = !c.rscs[f].config.managed;
                    for &m in &members[1..] {
                        if any_unmanaged {
                            let mut x = co.clone();
                            x.dependent = m;
                            extra_member_colocs.push(x);
                        } else if !c.rscs[m].config.managed {
                            any_unmanaged = true;
                        }
                    }
                }
                co.dependent = f;
            }
            if matches!(c.rscs[co.primary].variant, Variant::Group) {
                let kids = &c.rscs[co.primary].children;
                match kids.last() {
                    Some(&l) => {
                        co.primary_group = Some(co.primary);
                        co.primary = l;
                    }
                    None => continue,
                }
            }
            if matches!(c.rscs[co.dependent].variant, Variant::Clone { .. })
                || matches!(c.rscs[co.primary].variant, Variant::Clone { .. })
            {
                clone_level.push(co.clone());
            }
            // "clone with R": the clone's colocations reach its instances
            // (`append_parent_colocation`), positive finite ones only when
            // not every node gets an instance.
            if matches!(c.rscs[co.dependent].variant, Variant::Clone { .. }) {
                let all = clone_all_coloc(c, co.dependent);
                let primary_is_clone = matches!(c.rscs[co.primary].variant, Variant::Clone { .. });
                if all || co.score < 0 || co.score >= INFINITY {
                    for &inst in &c.rscs[co.dependent].children.clone() {
                        let target = if c.rscs[inst].is_primitive() {
                            Some(inst)
                        } else {
                            c.rscs[inst].children.first().copied()
                        };
                        if let Some(t) = target {
                            let mut x = co.clone();
                            x.dependent = t;
                            if primary_is_clone {
                                inst_this_with.push(x);
                            } else {
                                colocs.push(x);
                            }
                        }
                    }
                }
                if !primary_is_clone {
                    continue;
                }
            }
            // "R with clone": instances take R's preferences into account
            // only when not every node gets an instance (or to avoid it),
            // and only those the colocation influences (`add_instance_constraints`,
            // then `apply_with_this` for the clone as a whole).
            if matches!(c.rscs[co.primary].variant, Variant::Clone { .. })
                && co.has_influence(c, None)
                && (co.score < 0 || clone_all_coloc(c, co.primary))
            {
                for &inst in &c.rscs[co.primary].children.clone() {
                    if !co.has_influence(c, Some(inst)) {
                        continue;
                    }
                    if let Some(t) = c.primitives_of(inst).first().copied() {
                        let mut x = co.clone();
                        x.primary = t;
                        inst_with_this.push(x);
                    }
                }
            }
            colocs.push(co);
        }
        colocs.extend(extra_member_colocs);
        let remaining = c.nodes.iter().map(|x| x.utilization.clone()).collect();
        let promo_priority = c.rscs.iter().map(|r| r.config.priority).collect();
        let initial_next = c.rscs.iter().map(|r| r.plan.next_role).collect();
        Assigner {
            c,
            colocs,
            inst_this_with,
            inst_with_this,
            chosen_weight: vec![0; n],
            clone_level,
            promo_priority,
            sort_index: vec![0; n],
            initial_next,
            role_locations: cons.role_locations.clone(),
            tickets: cons.tickets.clone(),
            allocating: vec![false; n],
            merging: vec![false; n],
            node_count: vec![0; nn],
            remaining,
            prefer: None,
            util_colocs,
        }
    }

    fn uses_utilization(&self) -> bool {
        self.c.options.placement_strategy != "default"
    }

    /// Sorts top-level resources like `pcmk__sort_resources` (priority,
    /// then score on the current node, then scores node by node).
    fn sort_resources(&mut self) {
        let mut nodes: Vec<NodeIdx> = NodeIdx::all(self.c.nodes.len()).collect();
        nodes.sort_by(|&a, &b| {
            // Unavailable nodes count as -INFINITY (`pcmk__sort_nodes`).
            let avail = self.available(b).cmp(&self.available(a));
            if avail != CmpOrdering::Equal {
                return avail;
            }
            let o = self.cmp_capacity(a, b);
            if self.c.options.placement_strategy == "balanced" && o != CmpOrdering::Equal {
                return o;
            }
            self.c.nodes[a].uname.as_bytes().cmp(self.c.nodes[b].uname.as_bytes())
        });
        // Each resource is compared by its scores combined with those of the
        // resources it is colocated with (`cmp_resources`).
        let tables: foldhash::HashMap<RscIdx, Vec<Option<Score>>> = self
            .c
            .top
            .clone()
            .into_iter()
            .map(|r| {
                let mut merging = vec![false; self.c.rscs.len()];
                (r, self.this_with_scores(r, None, None, 1.0, &mut merging))
            })
            .collect();
        let c = &*self.c;
        let weight = |r: RscIdx, n: Option<NodeIdx>| -> Score {
            n.and_then(|n| tables.get(&r).and_then(|t| t[n.0])).unwrap_or(-INFINITY)
        };
        let mut top = c.top.clone();
        top.sort_by(|&a, &b| {
            c.rscs[b]
                .config
                .priority
                .cmp(&c.rscs[a].config.priority)
                .then_with(|| weight(b, c.active_on(b).0).cmp(&weight(a, c.active_on(a).0)))
                .then_with(|| {
                    for &n in &nodes {
                        let o = weight(b, Some(n)).cmp(&weight(a, Some(n)));
                        if o != CmpOrdering::Equal {
                            return o;
                        }
                    }
                    CmpOrdering::Equal
                })
        });
        self.c.top = top;
    }

    /// `pcmk__compare_node_capacities`: Less when `a` has more free capacity.
    fn cmp_capacity(&self, a: NodeIdx, b: NodeIdx) -> CmpOrdering {
        let (ua, ub) = (&self.remaining[a.0], &self.remaining[b.0]);
        let mut result = 0i32;
        for (k, &va) in ua {
            let vb = ub.get(k).copied().unwrap_or(0);
            result += match va.cmp(&vb) {
                CmpOrdering::Greater => -1,
                CmpOrdering::Less => 1,
                CmpOrdering::Equal => 0,
            };
        }
        for (k, &vb) in ub {
            if ua.contains_key(k) {
                continue;
            }
            if 0 < vb {
                result += 1;
            }
        }
        result.cmp(&0)
    }

    fn has_capacity(&self, n: NodeIdx, need: &std::collections::BTreeMap<String, i64>) -> bool {
        need.iter()
            .all(|(k, &v)| self.remaining[n.0].get(k).copied().unwrap_or(0) >= v)
    }

    /// Whether a group's colocations have moved to its members
    /// (`expand_group_colocations` runs when the group's assignment starts).
    fn group_expanded(&self, g: RscIdx) -> bool {
        self.allocating[g.0] || !self.c.rscs[g].plan.provisional
    }

    /// Colocations configured for `x` itself (as dependent when
    /// `this_with`, else as primary), with those a clone instance takes
    /// from its parent (`append_parent_colocation`: the parent's "with"
    /// colocations when not every node gets an instance, or negative or
    /// mandatory ones; colocations with the parent it is influenced by
    /// when not every node gets an instance, or negative ones).
    fn own_cons(&self, x: RscIdx, this_with: bool) -> Vec<&Coloc> {
        let mut out: Vec<&Coloc> = self
            .util_colocs
            .iter()
            .filter(|co| if this_with { co.dependent == x } else { co.primary == x })
            .collect();
        if let Some(p) = self.c.rscs[x].parent {
            if matches!(self.c.rscs[p].variant, Variant::Clone { .. }) {
                let all = clone_all_coloc(self.c, p);
                for co in &self.util_colocs {
                    if this_with && co.dependent == p && (all || co.score < 0 || co.score == INFINITY) {
                        out.push(co);
                    }
                    if !this_with && co.primary == p && co.has_influence(self.c, Some(x)) && (all || co.score < 0) {
                        out.push(co);
                    }
                }
            }
        }
        out
    }

    /// `rsc_cons` (`this_with`) or `rsc_cons_lhs` of `x` at this point of
    /// the assignment: once a group is being assigned, its colocations are
    /// its first member's (mandatory ones every member's after an unmanaged
    /// one) and the colocations with it its last member's
    /// (`expand_group_colocations`, lib/pacemaker/pcmk_sched_group.c:26-85).
    fn util_cons(&self, x: RscIdx, this_with: bool) -> Vec<&Coloc> {
        if matches!(self.c.rscs[x].variant, Variant::Group) {
            if self.group_expanded(x) {
                return Vec::new();
            }
            return self.own_cons(x, this_with);
        }
        let mut out = self.own_cons(x, this_with);
        if let Some(g) = self.c.rscs[x].parent {
            if matches!(self.c.rscs[g].variant, Variant::Group) && self.group_expanded(g) {
                let members = &self.c.rscs[g].children;
                let pos = members.iter().position(|&m| m == x).unwrap_or(0);
                if this_with {
                    let any_unmanaged = members[..pos].iter().any(|&m| !self.c.rscs[m].config.managed);
                    for co in self.own_cons(g, true) {
                        if pos == 0 || (any_unmanaged && co.score == INFINITY) {
                            out.push(co);
                        }
                    }
                } else if pos + 1 == members.len() {
                    out.extend(self.own_cons(g, false));
                }
            }
        }
        out
    }

    /// `pcmk__colocation_affects(dependent, primary, colocation, true)`
    /// decides on location (for mandatory colocations: no role filter
    /// excludes them, and a placed promotable instance is a matter of role).
    fn coloc_affects_location(&self, dependent: RscIdx, primary: RscIdx, co: &Coloc) -> bool {
        let d = &self.c.rscs[dependent];
        let promotable_parent = d
            .parent
            .is_some_and(|p| matches!(self.c.rscs[p].variant, Variant::Clone { promotable: true, .. }));
        if co.dependent_role >= Role::Unpromoted && promotable_parent && !d.plan.provisional {
            return false;
        }
        if co.score > 0 && co.dependent_role != Role::Unknown && co.dependent_role != d.plan.next_role {
            return false;
        }
        if co.score > 0 && co.primary_role != Role::Unknown && co.primary_role != self.c.rscs[primary].plan.next_role {
            return false;
        }
        if co.score < 0 && co.dependent_role != Role::Unknown && co.dependent_role == d.plan.next_role {
            return false;
        }
        !(co.score < 0 && co.primary_role != Role::Unknown && co.primary_role == self.c.rscs[primary].plan.next_role)
    }

    /// `colocated_resources`: `x` and the resources in mandatory
    /// colocation chains with it, as seen from `orig`
    /// (`pcmk__colocated_resources`, lib/pacemaker/pcmk_sched_resource.c:211-268;
    /// a group adds its members' first, `pcmk__group_colocated_resources`,
    /// lib/pacemaker/pcmk_sched_group.c:673-707). A clone does not follow
    /// colocations of non-clones with it; a clone instance follows its
    /// parent's.
    fn colocated_resources(&self, x: RscIdx, orig: RscIdx, list: &mut Vec<RscIdx>) {
        if matches!(self.c.rscs[x].variant, Variant::Group) {
            for &m in &self.c.rscs[x].children {
                self.colocated_resources(m, orig, list);
            }
        }
        if list.contains(&x) {
            return;
        }
        list.push(x);
        for co in self.util_cons(x, true) {
            if co.primary == orig {
                continue;
            }
            if co.score >= INFINITY && self.coloc_affects_location(x, co.primary, co) {
                self.colocated_resources(co.primary, orig, list);
            }
        }
        // A bundle (a clone of its containers here) is no clone there
        // (`pe_rsc_is_clone`).
        let is_clone = |r: RscIdx| {
            matches!(self.c.rscs[r].variant, Variant::Clone { .. }) && !self.c.bundles.iter().any(|b| b.rsc == r)
        };
        for co in self.util_cons(x, false) {
            let dep = co.dependent;
            if dep == orig || (is_clone(x) && !is_clone(dep)) {
                continue;
            }
            if co.score >= INFINITY && self.coloc_affects_location(dep, x, co) {
                self.colocated_resources(dep, orig, list);
            }
        }
    }

    /// `add_utilization` of `x` into `need`: only what is not assigned yet;
    /// a group its members not on `list`; a clone one instance only (one on
    /// `list`, or one with a member on `list`, else its first)
    /// (lib/pacemaker/pcmk_sched_primitive.c:1402, pcmk_sched_group.c:712,
    /// pcmk_sched_clone.c:1148).
    fn add_utilization(&self, x: RscIdx, list: &[RscIdx], need: &mut std::collections::BTreeMap<String, i64>) {
        let rs = &self.c.rscs[x];
        if !rs.plan.provisional {
            return;
        }
        match rs.variant {
            Variant::Primitive { .. } => {
                for (k, v) in &rs.config.utilization {
                    *need.entry(k.clone()).or_insert(0) += v;
                }
            }
            Variant::Group => {
                for &m in &rs.children {
                    if self.c.rscs[m].plan.provisional && !list.contains(&m) {
                        self.add_utilization(m, list, need);
                    }
                }
            }
            Variant::Clone { .. } => {
                let mut existing = false;
                for &child in &rs.children {
                    if list.contains(&child) {
                        existing = true;
                    } else if self.c.rscs[child].children.iter().any(|m| list.contains(m)) {
                        self.add_utilization(child, list, need);
                        existing = true;
                    }
                }
                if !existing {
                    if let Some(&first) = rs.children.first() {
                        self.add_utilization(first, list, need);
                    }
                }
            }
        }
    }

    /// `pcmk__ban_insufficient_capacity`; returns the most capable node
    /// when no node can hold everything.
    fn ban_insufficient_capacity(&mut self, r: RscIdx) -> Option<NodeIdx> {
        let mut list = Vec::new();
        self.colocated_resources(r, r, &mut list);
        let mut need = std::collections::BTreeMap::new();
        for &x in &list {
            self.add_utilization(x, &list, &mut need);
        }
        let candidates: Vec<NodeIdx> = NodeIdx::all(self.c.nodes.len())
            .filter(|&n| self.available(n) && self.c.rscs[r].plan.allowed[n.0].is_some_and(|w| w >= 0))
            .collect();
        let mut any = false;
        let mut most: Option<NodeIdx> = None;
        for &n in &candidates {
            if self.has_capacity(n, &need) {
                any = true;
            }
            if most.is_none_or(|m| self.cmp_capacity(n, m) == CmpOrdering::Less) {
                most = Some(n);
            }
        }
        let own = self.c.rscs[r].config.utilization.clone();
        for &n in &candidates {
            let ok = if any {
                self.has_capacity(n, &need)
            } else {
                self.has_capacity(n, &own)
            };
            if !ok {
                self.c.rscs[r].plan.allowed[n.0] = Some(-INFINITY);
            }
        }
        if any {
            None
        } else {
            most
        }
    }

    fn available(&self, n: NodeIdx) -> bool {
        self.c.nodes[n].can_run()
    }

    /// Assigns every resource in priority order.
    pub fn assign_all(&mut self) {
        if self.uses_utilization() {
            self.sort_resources();
        }
        let top = self.c.top.clone();
        // Remote connections first: they decide which remote nodes can run
        // resources. Only top-level ones (`allocate_resources` walks
        // `data_set->resources`): a bundle's connections are its children
        // there and are assigned with the bundle.
        // A migrating connection prefers its partial migration target
        // (lib/pacemaker/pcmk_sched_allocate.c:310-323).
        for &r in &top {
            if self.c.rscs[r].remote.is_conn && !self.c.rscs[r].remote.bundle_implicit {
                self.prefer = self.c.rscs[r].observed.partial_migration_target;
                self.assign(r);
                self.prefer = None;
            }
        }
        for r in top {
            if !self.assigned_with_bundle(r) {
                self.assign(r);
            }
        }
    }

    pub fn assign(&mut self, r: RscIdx) {
        match self.c.rscs[r].variant {
            Variant::Primitive { .. } => self.assign_primitive(r),
            Variant::Group => self.assign_group(r),
            Variant::Clone { .. } => match self.bundle_of(r) {
                Some(b) => self.assign_bundle(b),
                None => self.assign_clone(r),
            },
        }
    }

    fn assign_group(&mut self, g: RscIdx) {
        if !self.c.rscs[g].plan.provisional || self.allocating[g.0] {
            return;
        }
        self.allocating[g.0] = true;
        let kids = self.c.rscs[g].children.clone();
        for &k in &kids {
            self.assign(k);
        }
        if let Some(&f) = kids.first() {
            self.c.rscs[g].plan.next_role = self.c.rscs[f].plan.next_role;
            self.c.rscs[g].plan.assigned = self.c.rscs[f].plan.assigned;
        }
        self.allocating[g.0] = false;
        self.c.rscs[g].plan.provisional = false;
    }

    fn assign_clone(&mut self, cl: RscIdx) {
        if !self.c.rscs[cl].plan.provisional || self.allocating[cl.0] {
            return;
        }
        self.allocating[cl.0] = true;
        let (clone_node_max, _) = match self.c.rscs[cl].variant {
            Variant::Clone {
                clone_node_max,
                promotable,
                ..
            } => (clone_node_max, promotable),
            _ => (1, false),
        };
        let clone_max = match self.c.rscs[cl].variant {
            Variant::Clone { clone_max, .. } => clone_max,
            _ => 0,
        };
        if matches!(self.c.rscs[cl].variant, Variant::Clone { promotable: true, .. }) {
            self.add_promotion_scores(cl);
        }
        // `pcmk__clone_allocate`: primaries first, then the dependents'
        // preferences go into the clone's own node scores.
        let level = self.clone_level.clone();
        for co in &level {
            if co.dependent == cl {
                self.assign(co.primary_to_assign());
            }
        }
        for co in &level {
            if co.primary == cl && co.has_influence(self.c, None) {
                let factor = co.score as f64 / INFINITY as f64;
                let mut table = self.c.rscs[cl].plan.allowed.clone();
                self.add_colocated_node_scores(
                    co.dependent,
                    &mut table,
                    co.node_attribute.as_deref(),
                    factor,
                    true,
                    true,
                );
                self.c.rscs[cl].plan.allowed = table;
            }
        }
        // Order instances like `pcmk__cmp_instance`: instances whose current
        // node may keep them first, then by priority, active ones, failed
        // ones last, then by instance number.
        let mut kids = self.c.rscs[cl].children.clone();
        let current_of = |c: &Cluster, k: RscIdx| -> Option<NodeIdx> {
            c.primitives_of(k)
                .iter()
                .find_map(|&p| c.rscs[p].observed.running_on.first().copied())
        };
        kids.sort_by_key(|&k| self.instance_key(k));
        let available_nodes = NodeIdx::all(self.c.nodes.len()).filter(|&n| self.available(n)).count();
        let loop_max = clone_max.checked_div(available_nodes).unwrap_or(1).max(1);
        let mut per_node = vec![0usize; self.c.nodes.len()];
        let mut allocated = 0usize;
        let node_of = |this: &Self, k: RscIdx| -> Option<NodeIdx> {
            this.c
                .primitives_of(k)
                .first()
                .and_then(|&p| this.c.rscs[p].plan.assigned)
        };
        // Pass 1: keep active instances where they are.
        for &k in &kids {
            if allocated >= clone_max {
                break;
            }
            let prims = self.c.primitives_of(k);
            if prims.iter().any(|&p| self.c.rscs[p].observed.failed) {
                continue;
            }
            let Some(cur) = current_of(self.c, k) else { continue };
            let ok = self.available(cur)
                && prims
                    .iter()
                    .all(|&p| self.c.rscs[p].plan.allowed[cur.0].is_some_and(|w| w >= 0));
            if !ok || per_node[cur.0] >= loop_max || per_node[cur.0] >= clone_node_max {
                continue;
            }
            if self.preassign_instance(k, cur, &per_node, clone_node_max) {
                per_node[cur.0] += 1;
                allocated += 1;
            }
        }
        // Pass 2: everything else, up to clone-max.
        for &k in &kids {
            let prims = self.c.primitives_of(k);
            if prims.iter().all(|&p| !self.c.rscs[p].plan.provisional) {
                continue;
            }
            // Past the limit an instance is banned and not assigned at all
            // (`distribute_children`, lib/pacemaker/pcmk_sched_clone.c:
            // 266-275): an unmanaged one is not kept where it runs either,
            // so it has no start to recover it there.
            if allocated >= clone_max {
                for &p in &prims {
                    for a in self.c.rscs[p].plan.allowed.iter_mut() {
                        *a = Some(-INFINITY);
                    }
                }
                continue;
            }
            self.assign_instance(k, &per_node, clone_node_max);
            if let Some(n) = node_of(self, k) {
                per_node[n.0] += 1;
                allocated += 1;
            }
        }
        self.allocating[cl.0] = false;
        self.c.rscs[cl].plan.provisional = false;
        if matches!(self.c.rscs[cl].variant, Variant::Clone { promotable: true, .. }) {
            self.set_instance_roles(cl);
        }
        let any = self
            .c
            .primitives_of(cl)
            .iter()
            .any(|&p| self.c.rscs[p].plan.assigned.is_some());
        self.c.rscs[cl].plan.next_role = if any { Role::Started } else { Role::Stopped };
    }

    /// `allocate_instance` with a preferred node: the instance keeps its
    /// current node only if that is its best choice; otherwise its scores
    /// and assignment are rolled back for the second pass.
    fn preassign_instance(&mut self, k: RscIdx, cur: NodeIdx, per_node: &[usize], clone_node_max: usize) -> bool {
        let mut members = vec![k];
        members.extend(self.c.rscs[k].children.iter().copied());
        let snapshot: Vec<(RscIdx, Vec<Option<Score>>, Role)> = members
            .iter()
            .map(|&r| (r, self.c.rscs[r].plan.allowed.clone(), self.c.rscs[r].plan.next_role))
            .collect();
        let counts = self.node_count.clone();
        let remaining = self.remaining.clone();
        self.prefer = Some(cur);
        self.assign_instance(k, per_node, clone_node_max);
        self.prefer = None;
        if self.instance_node(k) == Some(cur) {
            return true;
        }
        // Roll back (the bans of `can_run_instance` stay, as in Pacemaker,
        // but they were applied before the snapshot there; reapplying them
        // in the second pass gives the same result).
        for (r, allowed, role) in snapshot {
            let rs = &mut self.c.rscs[r];
            rs.plan.allowed = allowed;
            rs.plan.next_role = role;
            rs.plan.assigned = None;
            rs.plan.provisional = true;
        }
        self.node_count = counts;
        self.remaining = remaining;
        false
    }

    /// Sort key of `pcmk__cmp_instance`: instances active on a node they
    /// may stay on first, then by priority, active ones, those whose node
    /// can run resources, not failed, then by instance number.
    fn instance_key(&self, k: RscIdx) -> (bool, Score, bool, bool, bool, usize) {
        let prims = self.c.primitives_of(k);
        let cur = prims
            .iter()
            .find_map(|&p| self.c.rscs[p].observed.running_on.first().copied());
        let allowed_here = cur.is_none_or(|n| {
            prims
                .iter()
                .all(|&p| self.c.rscs[p].plan.allowed[n.0].is_some_and(|w| w >= 0))
        });
        let usable = cur.filter(|_| allowed_here);
        let failed = prims.iter().any(|&p| self.c.rscs[p].observed.failed);
        (
            !allowed_here,
            -self.promo_priority[k.0],
            usable.is_none(),
            usable.is_some_and(|n| !self.available(n)),
            failed && usable.is_some(),
            self.c.rscs[k].config.instance.unwrap_or(usize::MAX),
        )
    }

    /// Assigns one clone instance (`can_run_instance`): not on nodes that
    /// cannot run resources, where the clone's own score is negative, or
    /// that already have clone-node-max instances.
    fn assign_instance(&mut self, k: RscIdx, per_node: &[usize], clone_node_max: usize) {
        let prims = self.c.primitives_of(k);
        let cl = self.c.top_parent(k);
        for (n, &count) in NodeIdx::all(per_node.len()).zip(per_node) {
            let parent = self.c.rscs[cl].plan.allowed[n.0];
            let ban = if !self.available(n) || count >= clone_node_max || parent.is_none() {
                Some(-INFINITY)
            } else {
                parent.filter(|&w| w < 0)
            };
            if let Some(b) = ban {
                for &p in &prims {
                    if self.c.rscs[p].plan.allowed[n.0].is_some() || b <= -INFINITY {
                        self.c.rscs[p].plan.allowed[n.0] = Some(b);
                    }
                }
            }
        }
        self.assign(k);
    }

    fn assign_primitive(&mut self, r: RscIdx) {
        if let Some(p) = self.c.rscs[r].parent {
            if !self.allocating[p.0] && self.c.rscs[p].plan.provisional {
                self.assign(p);
            }
        }
        if !self.c.rscs[r].plan.provisional || self.allocating[r.0] {
            return;
        }
        self.allocating[r.0] = true;

        // A bundle replica's connection whose container is placed on a
        // remote or guest node must run where that node's connection runs
        // (pacemaker-remoted takes a single connection):
        // "child-remote-with-docker-remote", added once the containers are
        // assigned (`pcmk__bundle_allocate`,
        // lib/pacemaker/pcmk_sched_bundle.c:110-120).
        let container = self
            .c
            .bundles
            .iter()
            .flat_map(|b| b.replicas.iter())
            .find(|rep| rep.remote == Some(r))
            .map(|rep| rep.container);
        if let Some(ct) = container {
            self.assign(ct);
            let host_conn = self.c.rscs[ct]
                .plan
                .assigned
                .filter(|&n| self.c.nodes[n].is_remote_or_guest())
                .and_then(|n| self.c.nodes[n].remote.conn);
            if let Some(x) = host_conn {
                self.colocs.push(Coloc {
                    id: "child-remote-with-docker-remote".into(),
                    dependent: r,
                    primary: x,
                    score: INFINITY,
                    dependent_role: Role::Unknown,
                    primary_role: Role::Unknown,
                    node_attribute: None,
                    influence: true,
                    primary_group: None,
                });
            }
        }

        // Colocations where r is the dependent: place the primary first.
        let this_with: Vec<Coloc> = self
            .colocs
            .iter()
            .chain(self.inst_this_with.iter())
            .filter(|co| co.dependent == r)
            .cloned()
            .collect();
        for co in this_with {
            let archive = if co.dependent_role >= Role::Promoted || (co.score < 0 && co.score > -INFINITY) {
                Some(self.c.rscs[r].plan.allowed.clone())
            } else {
                None
            };
            self.assign(co.primary_to_assign());
            self.apply_coloc_to_weights(r, &co);
            if let Some(a) = archive {
                if !self.any_available(&self.c.rscs[r].plan.allowed) {
                    self.c.rscs[r].plan.allowed = a;
                }
            }
        }
        // Colocations where r is the primary: take dependents' preferences.
        let with_this: Vec<Coloc> = self
            .colocs
            .iter()
            .chain(self.inst_with_this.iter())
            .filter(|co| co.primary == r && co.has_influence(self.c, None))
            .cloned()
            .collect();
        for co in with_this {
            let factor = co.score as f64 / INFINITY as f64;
            let mut table = self.c.rscs[r].plan.allowed.clone();
            self.add_colocated_node_scores(
                co.dependent,
                &mut table,
                co.node_attribute.as_deref(),
                factor,
                true,
                false,
            );
            self.c.rscs[r].plan.allowed = table;
        }

        let rs = &self.c.rscs[r];
        if rs.plan.next_role == Role::Stopped || rs.config.target_role == Some(Role::Stopped) {
            for a in self.c.rscs[r].plan.allowed.iter_mut() {
                *a = Some(-INFINITY);
            }
            self.c.rscs[r].plan.next_role = Role::Stopped;
        } else if !self.c.have_quorum
            && self.c.options.no_quorum_policy == NoQuorumPolicy::Freeze
            && self.c.rscs[r].observed.role <= Role::Stopped
        {
            // Cannot be elevated under no-quorum-policy=freeze.
        }
        if self.c.options.stonith_enabled && !self.c.have_stonith_resource {
            self.c.rscs[r].config.managed = false;
        }
        if !self.c.rscs[r].config.managed {
            let cur = self.c.rscs[r].current_node();
            self.c.rscs[r].plan.next_role = self.c.rscs[r].observed.role;
            self.finalize(r, cur, true);
        } else if self.c.options.stop_all_resources {
            self.finalize(r, None, true);
        } else {
            // A preferred node given by the caller wins over the most
            // capable one (`assign_best_node`,
            // lib/pacemaker/pcmk_sched_primitive.c:156-160).
            let most_free = if self.uses_utilization() {
                self.ban_insufficient_capacity(r)
            } else {
                None
            };
            let prefer = self.prefer.or(most_free);
            let chosen = self.best_node(r, prefer);
            self.finalize(r, chosen, false);
        }
        self.allocating[r.0] = false;
    }

    fn finalize(&mut self, r: RscIdx, chosen: Option<NodeIdx>, force: bool) {
        let mut chosen = chosen;
        if !force {
            if let Some(n) = chosen {
                let w = self.c.rscs[r].plan.allowed[n.0].unwrap_or(-INFINITY);
                // The graph may assume a bundle node's connection comes up
                // (a replica's child is allowed nowhere else).
                if w < 0 || (!self.available(n) && !self.c.nodes[n].remote.bundle_node) {
                    chosen = None;
                }
            }
        }
        self.c.rscs[r].plan.provisional = false;
        self.c.rscs[r].plan.assigned = chosen;
        self.chosen_weight[r.0] = chosen.and_then(|n| self.c.rscs[r].plan.allowed[n.0]).unwrap_or(0);
        match chosen {
            None => self.c.rscs[r].plan.next_role = Role::Stopped,
            Some(n) => {
                self.node_count[n.0] += 1;
                if self.uses_utilization() {
                    let util = self.c.rscs[r].config.utilization.clone();
                    for (k, v) in util {
                        *self.remaining[n.0].entry(k).or_insert(0) -= v;
                    }
                }
                if self.c.rscs[r].plan.next_role == Role::Unknown {
                    self.c.rscs[r].plan.next_role = if self.c.in_promotable(r) {
                        Role::Unpromoted
                    } else {
                        Role::Started
                    };
                }
            }
        }
        super::remote::connection_assigned(self.c, r);
    }

    fn any_available(&self, table: &[Option<Score>]) -> bool {
        table
            .iter()
            .enumerate()
            .any(|(n, w)| w.is_some_and(|w| w >= 0) && self.available(NodeIdx(n)))
    }

    /// Sorts candidate nodes like `pcmk__sort_nodes` and applies
    /// `assign_best_node`'s preference for the current node.
    fn best_node(&self, r: RscIdx, prefer: Option<NodeIdx>) -> Option<NodeIdx> {
        let rs = &self.c.rscs[r];
        let current = self.c.active_on(r).0;
        let mut nodes: Vec<NodeIdx> = NodeIdx::all(self.c.nodes.len())
            .filter(|&n| rs.plan.allowed[n.0].is_some())
            .collect();
        nodes.sort_by(|&a, &b| self.compare_nodes(r, a, b, current));
        let best = *nodes.first()?;
        if let Some(p) = prefer {
            let pw = rs.plan.allowed[p.0].unwrap_or(-INFINITY);
            let bw = if self.available(best) {
                rs.plan.allowed[best.0].unwrap_or(-INFINITY)
            } else {
                -INFINITY
            };
            if rs.plan.allowed[p.0].is_some() && pw >= bw && self.available(p) && pw >= 0 {
                return Some(p);
            }
        }
        let mut chosen = best;
        let unique_instance = rs.config.instance.is_some()
            && matches!(
                self.c.rscs[self.c.top_parent(r)].variant,
                Variant::Clone { unique: true, .. }
            );
        let bw = rs.plan.allowed[best.0].unwrap_or(-INFINITY);
        if !unique_instance && bw > 0 && self.available(best) {
            if let Some(run) = current {
                if self.available(run) && rs.plan.allowed[run.0].is_some_and(|w| w >= 0) {
                    for &n in nodes.iter().skip(1) {
                        if rs.plan.allowed[n.0] != Some(bw) {
                            break;
                        }
                        if n == run {
                            chosen = n;
                        }
                    }
                }
            }
        }
        Some(chosen)
    }

    fn compare_nodes(&self, r: RscIdx, a: NodeIdx, b: NodeIdx, active: Option<NodeIdx>) -> CmpOrdering {
        let rs = &self.c.rscs[r];
        let wa = if self.available(a) {
            rs.plan.allowed[a.0].unwrap_or(-INFINITY)
        } else {
            -INFINITY
        };
        let wb = if self.available(b) {
            rs.plan.allowed[b.0].unwrap_or(-INFINITY)
        } else {
            -INFINITY
        };
        if wa != wb {
            return wb.cmp(&wa);
        }
        let strategy = self.c.options.placement_strategy.as_str();
        if strategy != "minimal" {
            if strategy == "balanced" {
                let o = self.cmp_capacity(a, b);
                if o != CmpOrdering::Equal {
                    return o;
                }
            }
            if self.node_count[a.0] != self.node_count[b.0] {
                return self.node_count[a.0].cmp(&self.node_count[b.0]);
            }
            if let Some(act) = active {
                if act == a {
                    return CmpOrdering::Less;
                }
                if act == b {
                    return CmpOrdering::Greater;
                }
            }
        }
        self.c.nodes[a].uname.as_bytes().cmp(self.c.nodes[b].uname.as_bytes())
    }

    /// `pcmk__apply_coloc_to_weights`.
    fn apply_coloc_to_weights(&mut self, dep: RscIdx, co: &Coloc) {
        let primary = co.primary;
        if self.c.rscs[primary].plan.provisional {
            return;
        }
        if matches!(self.c.rscs[primary].variant, Variant::Clone { .. }) {
            self.apply_clone_coloc(dep, co);
            return;
        }
        // Role filters (`pcmk__colocation_affects`).
        let dep_next = self.c.rscs[dep].plan.next_role;
        let pri_next = self.c.rscs[primary].plan.next_role;
        if co.score > 0 {
            if co.dependent_role != Role::Unknown && co.dependent_role != dep_next {
                return;
            }
            // A clone's role is checked per instance below
            // (`pcmk__update_dependent_with_promotable`).
            let primary_is_clone = matches!(self.c.rscs[primary].variant, Variant::Clone { .. });
            if co.primary_role != Role::Unknown && co.primary_role != pri_next && !primary_is_clone {
                return;
            }
        } else {
            if co.dependent_role != Role::Unknown && co.dependent_role == dep_next {
                return;
            }
            if co.primary_role != Role::Unknown && co.primary_role == pri_next {
                return;
            }
        }
        let attr = co.node_attribute.as_deref().unwrap_or("#id");
        let pnode = self.c.rscs[primary].plan.assigned;
        let value = pnode.and_then(|n| self.c.nodes[n].attrs.get(attr).cloned());
        if pnode.is_none() && co.score < 0 {
            return;
        }
        let mut work = self.c.rscs[dep].plan.allowed.clone();
        for (n, slot) in work.iter_mut().enumerate() {
            let Some(w) = *slot else { continue };
            if pnode.is_none() {
                *slot = Some(score::add(-co.score, w));
            } else if self.c.nodes[n].attrs.get(attr).map(|v| v.to_ascii_lowercase())
                == value.as_ref().map(|v| v.to_ascii_lowercase())
            {
                if co.score < INFINITY {
                    *slot = Some(score::add(co.score, w));
                }
            } else if co.score >= INFINITY {
                *slot = Some(score::add(-co.score, w));
            }
        }
        if co.score <= -INFINITY || co.score >= INFINITY || self.any_available(&work) {
            self.c.rscs[dep].plan.allowed = work;
        }
    }

    /// `pcmk__clone_apply_coloc_score` while placing `dep`: role-specific
    /// colocations with a promotable clone use the nodes of instances in
    /// that role; interleaved clones pair instances; mandatory ones allow
    /// only nodes with an instance; optional ones apply each instance.
    fn apply_clone_coloc(&mut self, dep: RscIdx, co: &Coloc) {
        let primary = co.primary;
        let promotable = matches!(self.c.rscs[primary].variant, Variant::Clone { promotable: true, .. });
        if promotable && co.primary_role != Role::Unknown {
            self.update_dependent_with_promotable(dep, co);
            return;
        }
        if self.interleaved_with(dep, primary) {
            match self.compatible_instance(dep, primary) {
                Some(inst) => {
                    let mut x = co.clone();
                    x.primary = inst;
                    self.apply_coloc_to_weights(dep, &x);
                }
                None if co.score >= INFINITY => {
                    for a in self.c.rscs[dep].plan.allowed.iter_mut() {
                        *a = Some(-INFINITY);
                    }
                }
                None => {}
            }
            return;
        }
        let kids = self.c.rscs[primary].children.clone();
        if co.score >= INFINITY {
            let with: Vec<NodeIdx> = kids
                .iter()
                .filter(|&&k| !self.c.primitives_of(k).iter().any(|&p| self.c.rscs[p].plan.blocked))
                .filter_map(|&k| self.instance_node(k))
                .collect();
            for (n, slot) in self.c.rscs[dep].plan.allowed.iter_mut().enumerate() {
                if slot.is_some() && !with.contains(&NodeIdx(n)) {
                    *slot = Some(-INFINITY);
                }
            }
            return;
        }
        for k in kids {
            let mut x = co.clone();
            x.primary = k;
            self.apply_coloc_to_weights(dep, &x);
        }
    }

    /// Where an instance (primitive or group) is placed.
    fn instance_node(&self, k: RscIdx) -> Option<NodeIdx> {
        self.c
            .primitives_of(k)
            .first()
            .and_then(|&p| self.c.rscs[p].plan.assigned)
    }

    /// `pcmk__update_dependent_with_promotable`: nodes of the instances
    /// that will have the colocation's role get the (optional) score; a
    /// mandatory colocation bans every other node and adds the instance's
    /// own placement score.
    fn update_dependent_with_promotable(&mut self, dep: RscIdx, co: &Coloc) {
        let attr = co.node_attribute.clone().unwrap_or_else(|| "#uname".into());
        let mut affected: Vec<(NodeIdx, Score)> = Vec::new();
        for k in self.c.rscs[co.primary].children.clone() {
            let Some(n) = self.instance_node(k) else { continue };
            if self.c.rscs[k].plan.next_role != co.primary_role {
                continue;
            }
            if co.score < INFINITY {
                let value = self.c.nodes[n].attrs.get(&attr).map(|v| v.to_ascii_lowercase());
                for m in NodeIdx::all(self.c.nodes.len()) {
                    let Some(w) = self.c.rscs[dep].plan.allowed[m.0] else {
                        continue;
                    };
                    if self.c.nodes[m].attrs.get(&attr).map(|v| v.to_ascii_lowercase()) == value {
                        self.c.rscs[dep].plan.allowed[m.0] = Some(score::add(w, co.score));
                    }
                }
            }
            let first = self.c.primitives_of(k).first().copied().unwrap_or(k);
            affected.push((n, self.chosen_weight[first.0]));
        }
        if co.score >= INFINITY && (co.dependent_role != Role::Promoted || co.primary_role != Role::Promoted) {
            // `node_list_exclude(..., TRUE)`.
            for n in NodeIdx::all(self.c.nodes.len()) {
                let Some(w) = self.c.rscs[dep].plan.allowed[n.0] else {
                    if affected.iter().any(|&(m, _)| m == n) {
                        self.c.rscs[dep].plan.allowed[n.0] = Some(-INFINITY);
                    }
                    continue;
                };
                let merged = affected
                    .iter()
                    .find(|&&(m, _)| m == n)
                    .map(|&(_, aw)| score::add(w, aw));
                self.c.rscs[dep].plan.allowed[n.0] = Some(merged.unwrap_or(-INFINITY));
            }
        }
    }

    /// Whether the instance `dep` is colocated instance-by-instance with the
    /// clone `primary`: its own clone has `interleave=true` and both allow
    /// the same number of instances per node.
    fn interleaved_with(&self, dep: RscIdx, primary: RscIdx) -> bool {
        let top = self.c.top_parent(dep);
        if top == primary
            || !self.c.rscs[top]
                .config
                .meta
                .get("interleave")
                .is_some_and(|v| is_true(v))
        {
            return false;
        }
        match (&self.c.rscs[top].variant, &self.c.rscs[primary].variant) {
            (Variant::Clone { clone_node_max: a, .. }, Variant::Clone { clone_node_max: b, .. }) => a == b,
            _ => false,
        }
    }

    /// `find_compatible_child` while placing `dep`: the instance of
    /// `primary` placed on the best node `dep` may use.
    fn compatible_instance(&self, dep: RscIdx, primary: RscIdx) -> Option<RscIdx> {
        let allowed = &self.c.rscs[dep].plan.allowed;
        let mut nodes: Vec<NodeIdx> = NodeIdx::all(self.c.nodes.len())
            .filter(|&n| allowed[n.0].is_some())
            .collect();
        nodes.sort_by(|&a, &b| self.compare_nodes(dep, a, b, None));
        nodes.into_iter().find_map(|n| {
            self.c.rscs[primary].children.iter().copied().find(|&k| {
                let prims = self.c.primitives_of(k);
                !prims.iter().any(|&p| self.c.rscs[p].plan.blocked)
                    && prims.first().and_then(|&p| self.c.rscs[p].plan.assigned) == Some(n)
            })
        })
    }

    /// `pcmk__add_colocated_node_scores` (with `pcmk__coloc_select_active`
    /// when `active` is set).
    fn add_colocated_node_scores(
        &mut self,
        rsc: RscIdx,
        nodes: &mut Vec<Option<Score>>,
        attr: Option<&str>,
        factor: f64,
        active: bool,
        nonnegative: bool,
    ) {
        if self.merging[rsc.0] {
            return;
        }
        self.merging[rsc.0] = true;
        let mut work = nodes.clone();
        let is_group = matches!(self.c.rscs[rsc].variant, Variant::Group);
        if is_group {
            if let Some(&first) = self.c.rscs[rsc].children.first() {
                self.add_colocated_node_scores(first, &mut work, attr, factor, active, nonnegative);
            } else {
                self.merging[rsc.0] = false;
                return;
            }
        } else {
            self.add_node_scores_matching_attr(&mut work, rsc, attr, factor, nonnegative);
        }
        if self.any_available(&work) {
            let multiplier = if factor < 0.0 { -1.0 } else { 1.0 };
            let lhs_of = if is_group {
                self.c.rscs[rsc].children.last().copied().unwrap_or(rsc)
            } else {
                rsc
            };
            let deps: Vec<Coloc> = self
                .colocs
                .iter()
                .filter(|co| co.primary == lhs_of && co.has_influence(self.c, None))
                .cloned()
                .collect();
            for co in deps {
                let f = multiplier * co.score as f64 / INFINITY as f64;
                self.add_colocated_node_scores(
                    co.dependent,
                    &mut work,
                    co.node_attribute.as_deref(),
                    f,
                    true,
                    nonnegative,
                );
            }
        } else if active {
            self.merging[rsc.0] = false;
            return;
        }
        if nonnegative {
            for w in work.iter_mut().flatten() {
                if *w == INFINITY_HACK {
                    *w = 1;
                }
            }
        }
        *nodes = work;
        self.merging[rsc.0] = false;
    }

    /// `pcmk__add_colocated_node_scores` with `pcmk__coloc_select_this_with`,
    /// as `cmp_resources` uses it: `r`'s own scores (a group's from its last
    /// member) when `base` is `None`, else `base` with `r`'s scores added at
    /// `factor`; then, while some node is still available, the scores of the
    /// resources `r` is colocated with, recursively. A primary that leaves
    /// no node available adds nothing (`pcmk__coloc_select_active`).
    fn this_with_scores(
        &self,
        r: RscIdx,
        base: Option<&[Option<Score>]>,
        attr: Option<&str>,
        factor: f64,
        merging: &mut [bool],
    ) -> Vec<Option<Score>> {
        let unchanged = || base.map_or_else(|| self.c.rscs[r].plan.allowed.clone(), <[_]>::to_vec);
        if merging[r.0] {
            return unchanged();
        }
        merging[r.0] = true;
        let mut work = match (&self.c.rscs[r].variant, base) {
            (Variant::Group, _) => {
                let kids = &self.c.rscs[r].children;
                let member = if base.is_none() { kids.last() } else { kids.first() };
                match member {
                    Some(&m) => self.this_with_scores(m, base, attr, factor, merging),
                    None => {
                        merging[r.0] = false;
                        return unchanged();
                    }
                }
            }
            (_, None) => self.c.rscs[r].plan.allowed.clone(),
            (_, Some(b)) => {
                let mut w = b.to_vec();
                self.add_node_scores_matching_attr(&mut w, r, attr, factor, false);
                w
            }
        };
        if self.any_available(&work) {
            let multiplier = if factor < 0.0 { -1.0 } else { 1.0 };
            let with: Vec<Coloc> = self.colocs.iter().filter(|co| co.dependent == r).cloned().collect();
            for co in with {
                let f = multiplier * co.score as f64 / INFINITY as f64;
                work = self.this_with_scores(co.primary, Some(&work), co.node_attribute.as_deref(), f, merging);
            }
        } else if base.is_some() {
            merging[r.0] = false;
            return unchanged();
        }
        merging[r.0] = false;
        work
    }

    fn add_node_scores_matching_attr(
        &self,
        work: &mut [Option<Score>],
        other: RscIdx,
        attr: Option<&str>,
        factor: f64,
        only_positive: bool,
    ) {
        let attr = attr.unwrap_or("#uname");
        for n in 0..work.len() {
            let Some(w) = work[n] else { continue };
            let value = self.c.nodes[n].attrs.get(attr);
            // Best score of `other` among available nodes with the same value.
            let mut best = -INFINITY;
            for (m, ow) in self.c.rscs[other].plan.allowed.iter().enumerate() {
                let Some(ow) = *ow else { continue };
                if ow > best
                    && self.available(NodeIdx(m))
                    && self.c.nodes[NodeIdx(m)].attrs.get(attr).map(|v| v.to_ascii_lowercase())
                        == value.map(|v| v.to_ascii_lowercase())
                {
                    best = ow;
                }
            }
            if factor < 0.0 && best < 0 {
                continue;
            }
            if w == INFINITY_HACK {
                continue;
            }
            let wf = factor * best as f64;
            let mut weight = if wf < 0.0 { (wf - 0.5) as i64 } else { (wf + 0.5) as i64 };
            if weight == 0 && best != 0 {
                if factor > 0.0 {
                    weight = 1;
                } else if factor < 0.0 {
                    weight = -1;
                }
            }
            let weight = weight.clamp(-(INFINITY as i64), INFINITY as i64) as Score;
            let new_score = score::add(weight, w);
            if only_positive && new_score < 0 && w > 0 {
                // Negative results mark the node unusable instead.
                work[n] = Some(INFINITY_HACK);
                continue;
            }
            if only_positive && new_score < 0 && w == 0 {
                continue;
            }
            work[n] = Some(new_score);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::NodeIdx;

    /// Group `g` of `x` then `y`, active on n1, where `y` may not run;
    /// `y_meta` goes into `y`'s meta-attributes.
    fn group_placement(y_meta: &str) -> (Option<String>, Option<String>) {
        let op = |id: &str| {
            format!(
                "<lrm_resource id=\"{id}\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"><lrm_rsc_op id=\"{id}1\" \
                 operation=\"start\" call-id=\"1\" rc-code=\"0\" op-status=\"0\" interval=\"0\" transition-key=\"1:1:0:x\" \
                 op-digest=\"f2317cad3d54cec5d7d7aa7d0bf35cf8\"/></lrm_resource>"
            )
        };
        let xml = format!(
            "<cib epoch=\"1\" num_updates=\"0\" admin_epoch=\"0\" have-quorum=\"1\"><configuration><crm_config>\
             <cluster_property_set id=\"o\"><nvpair id=\"o1\" name=\"stonith-enabled\" value=\"false\"/>\
             </cluster_property_set></crm_config><nodes><node id=\"1\" uname=\"n1\"/><node id=\"2\" uname=\"n2\"/></nodes>\
             <resources><group id=\"g\"><primitive id=\"x\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"/>\
             <primitive id=\"y\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"><meta_attributes id=\"ym\">{y_meta}\
             </meta_attributes></primitive></group></resources><constraints>\
             <rsc_location id=\"ban\" rsc=\"y\" node=\"n1\" score=\"-INFINITY\"/></constraints></configuration><status>\
             <node_state id=\"1\" uname=\"n1\" in_ccm=\"true\" crmd=\"online\" join=\"member\" expected=\"member\">\
             <lrm id=\"1\"><lrm_resources>{}{}</lrm_resources></lrm></node_state>\
             <node_state id=\"2\" uname=\"n2\" in_ccm=\"true\" crmd=\"online\" join=\"member\" expected=\"member\"/>\
             </status></cib>",
            op("x"),
            op("y")
        );
        let s = crate::testutil::run(&cib::Cib::parse(&xml).expect("test CIB parses"));
        let node = |id: &str| {
            let r = s.cluster.rsc_by_id(id).expect("resource");
            s.cluster.rscs[r]
                .plan
                .assigned
                .map(|n| s.cluster.nodes[n].uname.clone())
        };
        (node("x"), node("y"))
    }

    #[test]
    fn an_unmanaged_instance_past_clone_max_is_not_kept_where_it_runs() {
        // `distribute_children` bans instances past the limit and does not
        // assign them at all, so an unmanaged one (here on a node in
        // maintenance, with clone-max 0) is not kept on its node and stops
        // rather than being recovered there (fuzz-1298).
        use crate::testutil::{cib_xml, clone, dummy, run, with_history};
        let rscs = clone("C", &dummy("R"), &[("clone-max", "0")]);
        let xml = cib_xml(1, &rscs, "", &[(1, "maintenance", "true")]);
        let s = run(&with_history(&xml, 1, "R", &[("start", 0, 1)]));
        let r = s
            .cluster
            .rscs
            .iter()
            .find(|r| r.id.starts_with("R:") && r.observed.running_on == [NodeIdx(0)]);
        let r = r.expect("the running instance");
        assert!(!r.config.managed);
        assert_eq!(r.plan.assigned, None);
        assert!(!s
            .actions
            .iter()
            .any(|a| a.task == "start" && a.node == Some(NodeIdx(0))));
    }

    #[test]
    fn resources_are_assigned_in_order_of_their_scores_with_what_they_are_colocated_with() {
        use crate::testutil::{cib, dummy, run};
        let resources = format!("{}{}{}", dummy("a"), dummy("b"), dummy("z"));
        let constraints = "<rsc_colocation id=\"c\" rsc=\"a\" with-rsc=\"z\" score=\"INFINITY\"/>\
                           <rsc_location id=\"lz\" rsc=\"z\" node=\"n1\" score=\"50\"/>\
                           <rsc_location id=\"lb\" rsc=\"b\" node=\"n1\" score=\"20\"/>";
        let mut cib = cib(2, &resources, constraints, &[]);
        // Only other placement strategies sort (`allocate_resources`).
        let strategy = ("placement-strategy".to_string(), "utilization".to_string());
        std::sync::Arc::make_mut(&mut cib.configuration).crm_config[0]
            .pairs
            .push(strategy);
        let s = run(&cib);
        let order: Vec<&str> = s.cluster.top.iter().map(|&r| s.cluster.rscs[r].id.as_str()).collect();
        // `a` counts z's 50 on n1 (`cmp_resources`), so it comes before `b`.
        assert_eq!(order, ["a", "z", "b"]);
    }

    #[test]
    fn a_group_member_that_is_not_critical_does_not_move_the_members_before_it() {
        let n2 = Some("n2".to_string());
        assert_eq!(group_placement(""), (n2.clone(), n2));
        let not_critical = "<nvpair id=\"c\" name=\"critical\" value=\"false\"/>";
        assert_eq!(group_placement(not_critical), (Some("n1".to_string()), None));
    }

    /// Where `A` (configured first) and bundle `B`'s container, IP and
    /// connection go on two empty nodes, with the given constraints.
    fn bundle_placement(constraints: &str) -> Vec<(String, Option<String>)> {
        let resources = format!(
            "{}<bundle id=\"B\"><docker image=\"img\"/><network ip-range-start=\"192.168.1.10\" \
             control-port=\"3121\"/>{}</bundle>",
            crate::testutil::dummy("A"),
            crate::testutil::dummy("Bc")
        );
        let s = crate::testutil::run(&crate::testutil::cib(2, &resources, constraints, &[]));
        ["A", "B-docker-0", "B-ip-192.168.1.10", "B-0"]
            .iter()
            .map(|id| {
                let r = s.cluster.rsc_by_id(id).expect("resource");
                (
                    id.to_string(),
                    s.cluster.rscs[r]
                        .plan
                        .assigned
                        .map(|n| s.cluster.nodes[n].uname.clone()),
                )
            })
            .collect()
    }

    fn placed(on: [&str; 4]) -> Vec<(String, Option<String>)> {
        ["A", "B-docker-0", "B-ip-192.168.1.10", "B-0"]
            .iter()
            .zip(on)
            .map(|(id, n)| (id.to_string(), Some(n.to_string())))
            .collect()
    }

    #[test]
    fn a_bundle_connection_is_assigned_with_its_bundle_not_with_top_level_connections() {
        // `A` comes first and takes n1 (fewest resources, then the name);
        // crm_simulate 2.1.5 puts the whole replica on n2.
        assert_eq!(bundle_placement(""), placed(["n1", "n2", "n2", "n2"]));
    }

    #[test]
    fn an_rsc_pattern_matches_configured_resources_only_not_a_bundle_s_members() {
        // "^B-" names no configured resource (the IP and the connection are
        // the bundle's children), so it bans nothing (crm_simulate 2.1.5).
        let ban = "<rsc_location id=\"l1\" rsc-pattern=\"^B-\" node=\"n1\" score=\"-INFINITY\"/>\
                   <rsc_location id=\"l2\" rsc-pattern=\"^B-\" node=\"n2\" score=\"-INFINITY\"/>";
        assert_eq!(bundle_placement(ban), placed(["n1", "n2", "n2", "n2"]));
    }

    #[test]
    fn reaching_the_migration_threshold_bans_the_whole_anonymous_clone_not_only_its_instances() {
        // `pcmk__threshold_reached` bans the clone; `resource_node_score`
        // sets the score on it and on everything in it. The clone's own
        // table counts when resources are sorted for other placement
        // strategies (bug-lf-2619).
        use crate::testutil::{cib_running, clone, run};
        let x = "<primitive id=\"X\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"><meta_attributes id=\"xm\">\
                 <nvpair id=\"xm1\" name=\"migration-threshold\" value=\"1\"/></meta_attributes></primitive>";
        let cib = cib_running(
            2,
            &clone("C", x, &[]),
            "",
            // The test CIB has no crm_feature_set: per-resource fail counts.
            &[(1, "fail-count-X", "1")],
            &[(1, "X"), (2, "X")],
        );
        let s = run(&cib);
        let c = &s.cluster;
        let n1 = c.node_by_name("n1").expect("n1");
        for id in ["C", "X:0", "X:1"] {
            let r = c.rsc_by_id(id).expect("resource");
            assert_eq!(c.rscs[r].plan.allowed[n1.0], Some(-super::INFINITY), "{id}");
        }
    }

    #[test]
    fn capacity_counts_one_instance_of_a_colocated_clone_and_a_clone_instance_follows_its_parent_s_colocations() {
        // colocated-utilization-clone: the capacity needed for rsc1:0 is
        // its own, one instance of clone2 (colocated with clone1, followed
        // through the colocations the instance takes from clone1) and not
        // group2 (a clone does not follow a non-clone colocated with it).
        // n1 (cpu 4) cannot hold rsc1 with a group1 instance (6), so clone1
        // goes to n2 and n3; then group1:0 with group2 (8) fits only on n3.
        let util = |id: &str, v: u32| {
            format!(
                "<primitive id=\"{id}\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"><utilization id=\"{id}-u\">\
                 <nvpair id=\"{id}-u1\" name=\"cpu\" value=\"{v}\"/></utilization></primitive>"
            )
        };
        let max2 = [("clone-max", "2")];
        let resources = format!(
            "{}{}<group id=\"group2\">{}{}</group>",
            crate::testutil::clone("clone1", &util("rsc1", 2), &max2),
            crate::testutil::clone(
                "clone2",
                &format!("<group id=\"group1\">{}{}</group>", util("rsc2", 2), util("rsc3", 2)),
                &max2
            ),
            util("rsc4", 2),
            util("rsc5", 2)
        );
        let constraints = "<rsc_colocation id=\"c1\" rsc=\"clone2\" with-rsc=\"clone1\" score=\"INFINITY\"/>\
                           <rsc_colocation id=\"c2\" rsc=\"group2\" with-rsc=\"clone2\" score=\"INFINITY\"/>";
        let mut cib = crate::testutil::cib(3, &resources, constraints, &[]);
        by_cpu(&mut cib, &["4", "8", "10"]);
        let s = crate::testutil::run(&cib);
        let on = |id: &str| {
            let r = s.cluster.rsc_by_id(id).expect("resource");
            s.cluster.rscs[r]
                .plan
                .assigned
                .map(|n| s.cluster.nodes[n].uname.as_str())
        };
        let placed: Vec<_> = [
            "rsc1:0", "rsc1:1", "rsc2:0", "rsc3:0", "rsc2:1", "rsc3:1", "rsc4", "rsc5",
        ]
        .iter()
        .map(|id| on(id))
        .collect();
        let expected = ["n2", "n3", "n3", "n3", "n2", "n2", "n3", "n3"];
        assert_eq!(placed, expected.map(Some));
    }

    /// The resources `pcmk__colocated_resources` finds from `from` before
    /// anything is assigned, with `D` and `E` (Dummy) colocated with
    /// `inner` (wrapped in a bundle or a clone by `wrap`).
    fn colocated_with(wrap: &str, from: &str) -> Vec<String> {
        use crate::testutil::{cib, dummy};
        let resources = format!("{}{}{wrap}", dummy("D"), dummy("E"));
        let constraints = "<rsc_colocation id=\"d\" rsc=\"D\" with-rsc=\"B\" score=\"INFINITY\"/>\
                           <rsc_colocation id=\"e\" rsc=\"E\" with-rsc=\"B\" score=\"INFINITY\"/>";
        let cib = cib(2, &resources, constraints, &[]);
        let mut cluster = crate::unpack::unpack(&cib, 0);
        super::apply_node_criteria(&mut cluster);
        let mut cons = crate::constraints::unpack_constraints(&cib, &mut cluster);
        crate::bundle::apply(&mut cluster, &mut cons);
        let a = super::Assigner::new(&mut cluster, &cons);
        let d = a.c.rsc_by_id(from).expect("resource");
        let mut list = Vec::new();
        a.colocated_resources(d, d, &mut list);
        let mut ids: Vec<String> = list.iter().map(|&r| a.c.rscs[r].id.clone()).collect();
        ids.sort();
        ids
    }

    #[test]
    fn a_bundle_follows_the_non_clones_colocated_with_it_a_clone_does_not() {
        // `pe_rsc_is_clone` is false for a bundle, so from D the chain goes
        // through bundle B to E; through a clone it stops at the clone.
        let bundle = format!(
            "<bundle id=\"B\"><docker image=\"img\"/><network control-port=\"3121\"/>{}</bundle>",
            crate::testutil::dummy("Bc")
        );
        assert_eq!(colocated_with(&bundle, "D"), ["B", "D", "E"]);
        let clone = crate::testutil::clone("B", &crate::testutil::dummy("Bc"), &[]);
        assert_eq!(colocated_with(&clone, "D"), ["B", "D"]);
    }

    /// `placement-strategy: utilization`, and node i offering `cpus[i]` cpu.
    fn by_cpu(cib: &mut cib::Cib, cpus: &[&str]) {
        std::sync::Arc::make_mut(&mut cib.configuration).crm_config[0]
            .pairs
            .push(("placement-strategy".into(), "utilization".into()));
        for (node, cpu) in std::sync::Arc::make_mut(&mut cib.configuration)
            .nodes
            .iter_mut()
            .zip(cpus)
        {
            node.utilization.push(cib::NvSet {
                id: format!("{}-u", node.id),
                score: 0,
                rule: None,
                pairs: vec![("cpu".into(), (*cpu).into())],
            });
        }
    }

    /// A remote connection `R` (ocf:pacemaker:remote).
    const REMOTE_R: &str = "<primitive id=\"R\" class=\"ocf\" provider=\"pacemaker\" type=\"remote\"/>";

    /// `<node_state>` of online member `n{i}` with history `lrm`.
    fn node_state(i: u32, lrm: &str) -> String {
        format!(
            "<node_state id=\"{i}\" uname=\"n{i}\" in_ccm=\"true\" crmd=\"online\" join=\"member\" \
             expected=\"member\">{lrm}</node_state>"
        )
    }

    /// A CIB of nodes n1 and n2 without fencing.
    fn two_node_cib(resources: &str, constraints: &str, status: &str) -> String {
        format!(
            "<cib epoch=\"1\" num_updates=\"0\" admin_epoch=\"0\" have-quorum=\"1\"><configuration><crm_config>\
             <cluster_property_set id=\"o\"><nvpair id=\"o1\" name=\"stonith-enabled\" value=\"false\"/>\
             </cluster_property_set></crm_config><nodes><node id=\"1\" uname=\"n1\"/><node id=\"2\" uname=\"n2\"/>\
             </nodes><resources>{resources}</resources><constraints>{constraints}</constraints></configuration>\
             <status>{status}</status></cib>"
        )
    }

    #[test]
    fn a_partially_migrated_remote_connection_prefers_its_migration_target() {
        // remote-partial-migrate2: connections are assigned first, each
        // preferring its partial migration target, where the migration
        // then goes on (`allocate_resources`).
        let history = "<lrm id=\"1\"><lrm_resources><lrm_resource id=\"R\" class=\"ocf\" provider=\"pacemaker\" \
                       type=\"remote\"><lrm_rsc_op id=\"R_last_0\" operation_key=\"R_migrate_to_0\" \
                       operation=\"migrate_to\" call-id=\"2\" rc-code=\"0\" op-status=\"0\" interval=\"0\" \
                       transition-key=\"1:1:0:x\" transition-magic=\"0:0;1:1:0:x\" migrate_source=\"n1\" \
                       migrate_target=\"n2\"/></lrm_resource></lrm_resources></lrm>";
        let xml = two_node_cib(REMOTE_R, "", &(node_state(1, history) + &node_state(2, "")));
        let cib = cib::Cib::parse(&xml).expect("test CIB parses");
        let s = crate::testutil::run(&cib);
        let c = &s.cluster;
        let r = c.rsc_by_id("R").expect("R");
        assert_eq!(c.rscs[r].observed.partial_migration_target, c.node_by_name("n2"));
        assert_eq!(c.rscs[r].plan.assigned, c.node_by_name("n2"));
    }

    #[test]
    fn a_bundle_connection_runs_where_the_connection_of_its_container_s_remote_node_runs() {
        // bundle-connection-with-container: B's container is placed on
        // remote node R, so B's connection goes where R's connection runs
        // (n2), not to the emptier n1.
        let history = "<lrm id=\"2\"><lrm_resources><lrm_resource id=\"R\" class=\"ocf\" provider=\"pacemaker\" \
                       type=\"remote\"><lrm_rsc_op id=\"R_last_0\" operation_key=\"R_start_0\" operation=\"start\" \
                       call-id=\"2\" rc-code=\"0\" op-status=\"0\" interval=\"0\" transition-key=\"1:1:0:x\" \
                       transition-magic=\"0:0;1:1:0:x\"/></lrm_resource></lrm_resources></lrm>";
        let resources = format!(
            "{REMOTE_R}<bundle id=\"B\"><docker image=\"img\"/><network control-port=\"3121\"/>{}</bundle>",
            crate::testutil::dummy("Bc")
        );
        let xml = two_node_cib(
            &resources,
            "<rsc_location id=\"r\" rsc=\"R\" node=\"n2\" score=\"INFINITY\"/>\
             <rsc_location id=\"b\" rsc=\"B\" node=\"R\" score=\"INFINITY\"/>",
            &(node_state(1, "") + &node_state(2, history)),
        );
        let s = crate::testutil::run(&cib::Cib::parse(&xml).expect("test CIB parses"));
        let c = &s.cluster;
        let on = |id: &str| c.rscs[c.rsc_by_id(id).expect(id)].plan.assigned;
        assert_eq!(on("B-docker-0"), c.node_by_name("R"));
        assert_eq!(on("B-0"), c.node_by_name("n2"));
    }

    #[test]
    fn a_node_the_caller_prefers_wins_over_the_most_capable_one() {
        // X:0 runs on n1 (cpu 2 of 2). With D (cpu 4) colocated with its
        // clone, no node has room for both, so n2 is the most capable node;
        // but the clone keeps X:0 where it runs (its preferred node; no
        // stickiness, so the scores are equal).
        let x = "<primitive id=\"X\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"><utilization id=\"xu\">\
                 <nvpair id=\"xu1\" name=\"cpu\" value=\"2\"/></utilization></primitive>";
        let d = "<primitive id=\"D\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"><utilization id=\"du\">\
                 <nvpair id=\"du1\" name=\"cpu\" value=\"4\"/></utilization></primitive>";
        let meta = [("clone-max", "1"), ("resource-stickiness", "0")];
        let resources = format!("{}{d}", crate::testutil::clone("C", x, &meta));
        let constraints = "<rsc_colocation id=\"c\" rsc=\"D\" with-rsc=\"C\" score=\"INFINITY\"/>";
        let mut cib = crate::testutil::cib_running(2, &resources, constraints, &[], &[(1, "X")]);
        by_cpu(&mut cib, &["2", "4"]);
        let s = crate::testutil::run(&cib);
        let c = &s.cluster;
        let x0 = c.rsc_by_id("X:0").expect("X:0");
        assert_eq!(c.rscs[x0].observed.running_on, [c.node_by_name("n1").expect("n1")]);
        assert_eq!(c.rscs[x0].plan.assigned, c.node_by_name("n1"));
    }

    #[test]
    fn a_dependent_of_a_group_being_assigned_does_not_assign_its_last_member_early() {
        // fuzz-309: while g's first member x is assigned (stopped), x
        // assigns C first (g with C), and C wants g's last member y (C
        // with g). That assigns the group, which is already being
        // assigned (`apply_this_with` calls the group's assign), so y is
        // assigned only after x and follows it off every node.
        use crate::testutil::{cib, clone, dummy, run};
        let x = "<primitive id=\"x\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"><meta_attributes id=\"xm\">\
                 <nvpair id=\"xm1\" name=\"target-role\" value=\"Stopped\"/></meta_attributes></primitive>";
        let resources = format!(
            "<group id=\"g\">{x}{}</group>{}",
            dummy("y"),
            clone("C", &dummy("z"), &[])
        );
        let constraints = "<rsc_colocation id=\"gc\" rsc=\"g\" with-rsc=\"C\" score=\"100\"/>\
                           <rsc_colocation id=\"cg\" rsc=\"C\" with-rsc=\"g\" score=\"-10\"/>";
        let s = run(&cib(2, &resources, constraints, &[]));
        let y = s.cluster.rsc_by_id("y").expect("y");
        assert_eq!(s.cluster.rscs[y].plan.assigned, None);
    }
}

//! Promotable clones (`pcmk_sched_promotable.c`): promotion scores from
//! `master-*` node attributes, instance promotion priorities, the clone's
//! own node scores that turn them into sort indexes, and the choice of the
//! instances to promote.

use super::Assigner;
use crate::ids::clone_strip;
use crate::model::{NoQuorumPolicy, NodeIdx, Role, RscIdx, Variant};
use cib::score::{self, parse_score, Score, INFINITY};

impl Assigner<'_> {
    /// `promotion_score_applies`: whether the promotion score of primitive
    /// `p` (an anonymous instance or a member of one) counts on node `n`.
    fn promotion_score_applies(&self, p: RscIdx, n: NodeIdx) -> bool {
        let c = &*self.c;
        let top = c.top_parent(p);
        let base = clone_strip(&c.rscs[p].id);
        let unique = matches!(c.rscs[top].variant, Variant::Clone { unique: true, .. });
        let same_base = |q: RscIdx| clone_strip(&c.rscs[q].id) == base;
        let allowed = c.rscs[p].plan.allowed[n.0].is_some_and(|w| w >= 0);
        if !unique {
            let active = c
                .primitives_of(top)
                .into_iter()
                .find(|&q| same_base(q) && c.rscs[q].observed.running_on.contains(&n));
            if active == Some(p) {
                return allowed;
            }
            if active.is_none()
                && c.primitives_of(top)
                    .into_iter()
                    .any(|q| same_base(q) && c.rscs[q].observed.known_on.contains(&n))
            {
                return allowed;
            }
        }
        let rs = &c.rscs[p];
        if rs.observed.running_on.is_empty() && rs.observed.known_on.is_empty() {
            return allowed;
        }
        (rs.observed.known_on.contains(&n) || rs.observed.running_on.contains(&n)) && allowed
    }

    /// `promotion_score`: the `master-NAME` node attribute (NAME as known in
    /// the history, else the id, else the id without instance number), summed
    /// over a cloned group's members; `None` when no score is set.
    fn promotion_score(&self, k: RscIdx, n: NodeIdx) -> Option<Score> {
        let c = &*self.c;
        if !c.rscs[k].is_primitive() {
            let mut any = false;
            let mut sum: Score = 0;
            for &m in &c.rscs[k].children {
                if let Some(s) = self.promotion_score(m, n) {
                    any = true;
                    sum = sum.saturating_add(s);
                }
            }
            return any.then_some(sum);
        }
        if !self.promotion_score_applies(k, n) {
            return None;
        }
        let rs = &c.rscs[k];
        // A guest's instance may read its attributes from the container's host.
        let attrs = &c.nodes[crate::remote::attribute_node(c, k, n)].attrs;
        let top = c.top_parent(k);
        let unique = matches!(c.rscs[top].variant, Variant::Clone { unique: true, .. });
        let history_name = c.clone_name(k);
        let name = history_name.unwrap_or(&rs.id);
        let value = attrs.get(&format!("master-{name}")).or_else(|| {
            let base = clone_strip(&rs.id);
            (!unique && base != name)
                .then(|| attrs.get(&format!("master-{base}")))
                .flatten()
        });
        value.map(|v| parse_score(v).unwrap_or(0))
    }

    /// `pcmk__add_promotion_scores`: before placement, positive promotion
    /// scores raise the instances' node scores, and the best one becomes the
    /// instance's priority.
    pub(super) fn add_promotion_scores(&mut self, cl: RscIdx) {
        for k in self.c.rscs[cl].children.clone() {
            for n in NodeIdx::all(self.c.nodes.len()) {
                if self.c.rscs[k].plan.allowed[n.0].is_none() || !self.available(n) {
                    continue;
                }
                let s = self.promotion_score(k, n).unwrap_or(0);
                // A cloned group's own scores do not steer its members.
                if s > 0 && self.c.rscs[k].is_primitive() {
                    if let Some(w) = self.c.rscs[k].plan.allowed[n.0] {
                        self.c.rscs[k].plan.allowed[n.0] = Some(score::add(w, s));
                    }
                }
                if s > self.promo_priority[k.0] {
                    self.promo_priority[k.0] = s;
                }
            }
        }
    }

    /// `set_instance_priority`: the promotion priority of an instance placed
    /// on a node.
    fn set_instance_priority(&mut self, cl: RscIdx, k: RscIdx) {
        let Some(node) = self.instance_node(k) else { return };
        let next = self.requested_next_role(k);
        // No promotion on a guest node whose container will not run
        // (`pcmk__node_available(.., consider_guest)`).
        let guest_down = !crate::remote::guest_available(self.c, node);
        match next {
            _ if guest_down => self.promo_priority[k.0] = -INFINITY,
            Role::Unpromoted | Role::Stopped => self.promo_priority[k.0] = -INFINITY,
            Role::Promoted => {}
            _ => self.promo_priority[k.0] = self.promotion_score(k, node).unwrap_or(-1),
        }
        // Locations for the promoted role (of the instance or the clone).
        for &(r, n, sc, role) in &self.role_locations {
            if role == Role::Promoted && n == node && (r == cl || r == k) {
                self.promo_priority[k.0] = score::add(self.promo_priority[k.0], sc);
            }
        }
        // Colocations of the instance that depend on its role.
        let first = self.c.primitives_of(k).first().copied().unwrap_or(k);
        let colocs: Vec<super::Coloc> = self
            .colocs
            .iter()
            .chain(self.inst_this_with.iter())
            .filter(|co| co.dependent == k || co.dependent == first)
            .filter(|co| co.dependent_role >= Role::Unpromoted)
            .cloned()
            .collect();
        for co in colocs {
            self.apply_coloc_to_priority(k, node, &co);
        }
        self.sort_index[k.0] = if next == Role::Promoted {
            INFINITY
        } else {
            self.promo_priority[k.0]
        };
    }

    /// The next role an instance had before placement: from failure
    /// handling, lowered by `target-role` (`get_target_role` ignores
    /// Started and Promoted); the highest of a cloned group's members.
    fn requested_next_role(&self, k: RscIdx) -> Role {
        self.c
            .primitives_of(k)
            .iter()
            .map(|&p| {
                let init = self.initial_next[p.0];
                match self.c.rscs[p].config.target_role {
                    Some(t) if t != Role::Started && t != Role::Promoted => {
                        if init == Role::Unknown || t < init {
                            t
                        } else {
                            init
                        }
                    }
                    _ => init,
                }
            })
            .max()
            .unwrap_or(Role::Unknown)
    }

    /// `pcmk__apply_coloc_to_priority` and, for a promotable primary,
    /// `pcmk__update_promotable_dependent_priority`.
    fn apply_coloc_to_priority(&mut self, k: RscIdx, node: NodeIdx, co: &super::Coloc) {
        let primary = co.primary;
        if let Variant::Clone { promotable, .. } = self.c.rscs[primary].variant {
            if !promotable || co.primary_role == Role::Unknown || co.dependent_role != Role::Promoted {
                return;
            }
            let found = self.c.rscs[primary]
                .children
                .iter()
                .any(|&pk| self.c.rscs[pk].plan.next_role == co.primary_role && self.instance_node(pk) == Some(node));
            if found {
                self.promo_priority[k.0] = score::add(self.promo_priority[k.0], co.score);
            } else if co.score >= INFINITY {
                self.promo_priority[k.0] = -INFINITY;
            }
            return;
        }
        let Some(pnode) = self.instance_node(primary) else {
            return;
        };
        let attr = co.node_attribute.as_deref().unwrap_or("#id");
        let value = |n: NodeIdx| self.c.nodes[n].attrs.get(attr).map(|v| v.to_ascii_lowercase());
        if value(node) != value(pnode) {
            if co.score >= INFINITY && co.dependent_role == Role::Promoted {
                self.promo_priority[k.0] = -INFINITY;
            }
            return;
        }
        if co.primary_role != Role::Unknown && co.primary_role != self.c.rscs[primary].plan.next_role {
            return;
        }
        let s = if co.dependent_role == Role::Unpromoted {
            -co.score
        } else {
            co.score
        };
        self.promo_priority[k.0] = score::add(s, self.promo_priority[k.0]);
    }

    /// `node_to_be_promoted_on`: where the instance can be promoted, if at
    /// all (a cloned group only when every member can).
    fn node_to_be_promoted_on(&self, k: RscIdx, per_node: &[usize], promoted_node_max: usize) -> Option<NodeIdx> {
        let c = &*self.c;
        let node = self.instance_node(k)?;
        let prims = c.primitives_of(k);
        let managed = prims.iter().all(|&p| c.rscs[p].config.managed);
        if !managed {
            if !prims.iter().any(|&p| c.rscs[p].observed.role == Role::Promoted) {
                return None;
            }
        } else if self.promo_priority[k.0] < 0 || !c.nodes[node].can_run() {
            return None;
        }
        let cl = c.top_parent(k);
        c.rscs[cl].plan.allowed[node.0]?;
        if per_node[node.0] >= promoted_node_max && managed {
            return None;
        }
        Some(node)
    }

    /// `pcmk__set_instance_roles`: promotion priorities, the clone's node
    /// scores turned into sort indexes, then the first eligible instances
    /// (up to promoted-max, promoted-node-max per node) are promoted.
    pub(super) fn set_instance_roles(&mut self, cl: RscIdx) {
        let Variant::Clone {
            promoted_max,
            promoted_node_max,
            ..
        } = self.c.rscs[cl].variant
        else {
            return;
        };
        let mut kids = self.c.rscs[cl].children.clone();
        for &k in &kids {
            self.set_instance_priority(cl, k);
        }
        // `sort_promotable_instances`.
        let mut table = self.c.rscs[cl].plan.allowed.clone();
        for &k in &kids {
            if self.sort_index[k.0] < 0 {
                continue;
            }
            if let Some(n) = self.instance_node(k) {
                if let Some(w) = table[n.0] {
                    table[n.0] = Some(score::add(self.sort_index[k.0], w));
                }
            }
        }
        let colocs = self.clone_level.clone();
        for co in &colocs {
            if co.dependent == cl && co.dependent_role == Role::Promoted {
                let factor = co.score as f64 / INFINITY as f64;
                let active = co.score < INFINITY;
                self.add_colocated_node_scores(
                    co.primary,
                    &mut table,
                    co.node_attribute.as_deref(),
                    factor,
                    active,
                    false,
                );
            }
        }
        for co in &colocs {
            if co.primary == cl && co.primary_role == Role::Promoted && co.has_influence(self.c, None) {
                let factor = co.score as f64 / INFINITY as f64;
                self.add_colocated_node_scores(
                    co.dependent,
                    &mut table,
                    co.node_attribute.as_deref(),
                    factor,
                    true,
                    true,
                );
            }
        }
        // A promoted-role ticket that is not granted forbids promotion.
        let prims_of_cl = self.c.primitives_of(cl);
        for t in &self.tickets {
            if t.role != Some(Role::Promoted) || !(t.rsc == cl || kids.contains(&t.rsc) || prims_of_cl.contains(&t.rsc))
            {
                continue;
            }
            let (granted, standby) = self.c.tickets.get(&t.ticket).copied().unwrap_or((false, false));
            if !granted || standby {
                for w in table.iter_mut().flatten() {
                    *w = -INFINITY;
                }
            }
        }
        let roles: Vec<Role> = RscIdx::all(self.c.rscs.len())
            .map(|k| {
                self.c
                    .primitives_of(k)
                    .iter()
                    .map(|&p| self.c.rscs[p].observed.role)
                    .max()
                    .unwrap_or(Role::Stopped)
            })
            .collect();
        for &k in &kids {
            let managed = self.c.primitives_of(k).iter().all(|&p| self.c.rscs[p].config.managed);
            let node = self.instance_node(k);
            if !managed && roles[k.0] == Role::Promoted {
                self.sort_index[k.0] = INFINITY;
            } else if let (Some(n), true) = (node, self.sort_index[k.0] >= 0) {
                self.sort_index[k.0] = table[n.0].unwrap_or(-INFINITY);
            }
        }
        let current_role = |k: RscIdx| -> Role { roles[k.0] };
        kids.sort_by(|&a, &b| {
            self.sort_index[b.0]
                .cmp(&self.sort_index[a.0])
                .then_with(|| current_role(b).cmp(&current_role(a)))
                .then_with(|| self.instance_key(a).cmp(&self.instance_key(b)))
        });
        self.c.rscs[cl].children = kids.clone();
        // `set_instance_role`.
        let clone_managed = self.c.rscs[cl].config.managed;
        let freeze = !self.c.have_quorum && self.c.options.no_quorum_policy == NoQuorumPolicy::Freeze;
        let mut count = 0usize;
        let mut per_node = vec![0usize; self.c.nodes.len()];
        for &k in &kids {
            let mut chosen = None;
            if self.sort_index[k.0] >= 0 && (count < promoted_max || !clone_managed) {
                chosen = self.node_to_be_promoted_on(k, &per_node, promoted_node_max);
            }
            let prims = self.c.primitives_of(k);
            if chosen.is_some() && freeze && current_role(k) < Role::Promoted {
                chosen = None;
            }
            let role = match chosen {
                Some(n) => {
                    per_node[n.0] += 1;
                    count += 1;
                    Role::Promoted
                }
                None => Role::Unpromoted,
            };
            for p in prims {
                if self.c.rscs[p].plan.assigned.is_some() {
                    self.c.rscs[p].plan.next_role = role;
                } else {
                    self.c.rscs[p].plan.next_role = Role::Stopped;
                }
            }
            self.c.rscs[k].plan.next_role = if self.instance_node(k).is_some() {
                role
            } else {
                Role::Stopped
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::Role;
    use crate::testutil::{cib, clone, run};

    fn stateful(id: &str) -> String {
        format!("<primitive id=\"{id}\" class=\"ocf\" provider=\"pacemaker\" type=\"Stateful\"/>")
    }

    fn promoted_nodes(s: &crate::Schedule, base: &str) -> Vec<String> {
        s.cluster
            .rscs
            .iter()
            .filter(|r| r.id.starts_with(&format!("{base}:")) && r.plan.next_role == Role::Promoted)
            .filter_map(|r| r.plan.assigned.map(|n| s.cluster.nodes[n].uname.clone()))
            .collect()
    }

    #[test]
    fn highest_promotion_score_is_promoted() {
        let rscs = clone("S-clone", &stateful("S"), &[("promotable", "true")]);
        let attrs = [(1, "master-S", "5"), (2, "master-S", "10")];
        let s = run(&cib(2, &rscs, "", &attrs));
        assert_eq!(promoted_nodes(&s, "S"), vec!["n2".to_string()]);
    }

    #[test]
    fn no_promotion_score_means_no_promotion() {
        let rscs = clone("S-clone", &stateful("S"), &[("promotable", "true")]);
        let s = run(&cib(2, &rscs, "", &[]));
        assert!(promoted_nodes(&s, "S").is_empty());
    }

    #[test]
    fn promoted_role_location_wins_over_scores() {
        let rscs = clone("S-clone", &stateful("S"), &[("promotable", "true")]);
        let cons = "<rsc_location id=\"l1\" rsc=\"S-clone\" role=\"Promoted\" node=\"n1\" score=\"100\"/>";
        let attrs = [(1, "master-S", "5"), (2, "master-S", "10")];
        let s = run(&cib(2, &rscs, cons, &attrs));
        assert_eq!(promoted_nodes(&s, "S"), vec!["n1".to_string()]);
    }

    #[test]
    fn a_promoted_role_location_on_a_bundle_promotes_its_child_there() {
        // bundle-order-startup-clone-2: the location is the child clone's
        // too (`pcmk__bundle_rsc_location`), so the instance on B-1 gets
        // priority -1 + 100 and is promoted without any promotion score.
        let rscs = format!(
            "<bundle id=\"B\"><docker image=\"img\" replicas=\"2\" promoted-max=\"1\"/>\
             <network control-port=\"3121\"/>{}</bundle>",
            stateful("S")
        );
        let cons = "<rsc_location id=\"l1\" rsc=\"B\" role=\"Promoted\" node=\"B-1\" score=\"100\"/>";
        let s = run(&cib(2, &rscs, cons, &[]));
        assert_eq!(promoted_nodes(&s, "S"), vec!["B-1".to_string()]);
    }

    #[test]
    fn colocation_with_promoted_role_follows_the_promoted_instance() {
        let rscs = format!(
            "{}<primitive id=\"P\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"/>",
            clone("S-clone", &stateful("S"), &[("promotable", "true")])
        );
        let cons = "<rsc_colocation id=\"c1\" rsc=\"P\" with-rsc=\"S-clone\" with-rsc-role=\"Promoted\" \
                    score=\"INFINITY\"/>";
        let attrs = [(1, "master-S", "5"), (2, "master-S", "10")];
        let s = run(&cib(2, &rscs, cons, &attrs));
        let p = s.cluster.rsc_by_id("P").expect("P exists");
        assert_eq!(
            s.cluster.rscs[p]
                .plan
                .assigned
                .map(|n| s.cluster.nodes[n].uname.as_str()),
            Some("n2")
        );
    }
}

//! Constraints as the scheduler uses them, resolved to resource indices:
//! colocations, orderings (plain and from resource sets), ticket
//! dependencies. `constraints` fills them in; placement, actions and the
//! modules for sets, bundles and remote nodes read them.

use crate::model::{Cluster, NodeIdx, Role, RscIdx};
use cib::score::Score;
use cib::OrderKind;

/// A colocation between two resources.
#[derive(Debug, Clone)]
pub struct Coloc {
    pub id: String,
    pub dependent: RscIdx,
    pub primary: RscIdx,
    pub score: Score,
    pub dependent_role: Role,
    pub primary_role: Role,
    pub node_attribute: Option<String>,
    /// `influence` (else the dependent's `critical` meta-attribute): the
    /// dependent's preferences move an active primary.
    pub influence: bool,
    /// The group the colocation names as primary ("R with group"): its
    /// score goes through the group's last member, but the dependent
    /// assigns the whole group first, so a loop back into a group being
    /// assigned stops there instead of assigning its last member early
    /// (`apply_this_with`, lib/pacemaker/pcmk_sched_primitive.c:276-318;
    /// the group breaks the loop, `pcmk__group_assign`,
    /// lib/pacemaker/pcmk_sched_group.c:97-115).
    pub primary_group: Option<RscIdx>,
}

impl Coloc {
    /// What the dependent assigns before taking this colocation's score.
    pub fn primary_to_assign(&self) -> RscIdx {
        self.primary_group.unwrap_or(self.primary)
    }

    /// `pcmk__colocation_has_influence`: whether the dependent's preferences
    /// count for `primary` (the colocation's primary or one of its
    /// instances). Without `influence` they still count while the primary
    /// is inactive; a bundle connection never moves its clean, active
    /// container.
    pub fn has_influence(&self, c: &Cluster, primary: Option<RscIdx>) -> bool {
        let p = &c.rscs[primary.unwrap_or(self.primary)];
        if c.rscs[self.dependent].remote.allow_remote_remotes && !p.observed.failed && p.observed.running_on.len() == 1
        {
            return false;
        }
        self.influence || p.observed.running_on.is_empty()
    }
}

/// An ordering between two resource actions.
#[derive(Debug, Clone)]
pub struct Ordering {
    pub id: String,
    pub first: RscIdx,
    pub first_action: String,
    pub then: RscIdx,
    pub then_action: String,
    pub kind: OrderKind,
    pub symmetrical: bool,
    /// Instances of a clone "first" that must be runnable before "then"
    /// may run (`clone-min`, or 1 for `require-all=false`); 0 = all.
    pub clone_min: usize,
}

/// Ticket dependency.
#[derive(Debug, Clone)]
pub struct TicketDep {
    pub rsc: RscIdx,
    pub ticket: String,
    pub loss_policy: String,
    pub role: Option<Role>,
}

#[derive(Debug, Default)]
pub struct Constraints {
    /// Role-specific (Promoted/Unpromoted) location scores:
    /// (resource, node, score, role).
    pub role_locations: Vec<(RscIdx, NodeIdx, Score, Role)>,
    pub colocs: Vec<Coloc>,
    pub orders: Vec<Ordering>,
    pub tickets: Vec<TicketDep>,
    /// Orderings from resource sets, with their flags decided.
    pub set_orders: Vec<SetOrdering>,
    /// `require-all=false` sets.
    pub one_or_more: Vec<OneOrMore>,
}

/// Which way an ordering's flags go (`enum ordering_symmetry`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Symmetry {
    Symmetric,
    Asymmetric,
    /// The inverse half of a symmetrical ordering.
    Inverse,
}

/// One ordering derived from a set constraint, flags already decided.
#[derive(Debug, Clone)]
pub struct SetOrdering {
    pub first: RscIdx,
    pub first_action: String,
    pub then: RscIdx,
    pub then_action: String,
    pub kind: OrderKind,
    pub symmetry: Symmetry,
    /// The action that decides whether the ordering is runnable-left.
    pub flag_action: String,
}

/// A `require-all=false` set: "then" may run once any "first" can.
#[derive(Debug, Clone)]
pub struct OneOrMore {
    /// `one-or-more:<set id>`.
    pub name: String,
    pub firsts: Vec<(RscIdx, String)>,
    pub thens: Vec<(RscIdx, String)>,
    pub kind: OrderKind,
    pub symmetry: Symmetry,
    pub flag_action: String,
}

#[cfg(test)]
mod tests {
    use crate::testutil::{dummy, run};

    /// `a` with `b` (influence as given), `a` banned from n1, `b`
    /// preferring n1; `b_on_n1` gives `b` a history there.
    fn placed(influence: &str, b_on_n1: bool, a_meta: &str) -> (Option<String>, Option<String>) {
        let history = if b_on_n1 {
            "<lrm id=\"1\"><lrm_resources><lrm_resource id=\"b\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">\
             <lrm_rsc_op id=\"b1\" operation=\"start\" call-id=\"1\" rc-code=\"0\" op-status=\"0\" interval=\"0\" \
             transition-key=\"1:1:0:x\" op-digest=\"f2317cad3d54cec5d7d7aa7d0bf35cf8\"/></lrm_resource></lrm_resources></lrm>"
        } else {
            ""
        };
        let a = format!(
            "<primitive id=\"a\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"><meta_attributes id=\"am\">{a_meta}\
             </meta_attributes></primitive>"
        );
        let xml = format!(
            "<cib epoch=\"1\" num_updates=\"0\" admin_epoch=\"0\" have-quorum=\"1\"><configuration><crm_config>\
             <cluster_property_set id=\"o\"><nvpair id=\"o1\" name=\"stonith-enabled\" value=\"false\"/>\
             </cluster_property_set></crm_config><nodes><node id=\"1\" uname=\"n1\"/><node id=\"2\" uname=\"n2\"/></nodes>\
             <resources>{a}{}</resources><constraints>\
             <rsc_colocation id=\"c\" rsc=\"a\" with-rsc=\"b\" score=\"INFINITY\" {influence}/>\
             <rsc_location id=\"ban\" rsc=\"a\" node=\"n1\" score=\"-INFINITY\"/>\
             <rsc_location id=\"pref\" rsc=\"b\" node=\"n1\" score=\"100\"/></constraints></configuration><status>\
             <node_state id=\"1\" uname=\"n1\" in_ccm=\"true\" crmd=\"online\" join=\"member\" expected=\"member\">{history}</node_state>\
             <node_state id=\"2\" uname=\"n2\" in_ccm=\"true\" crmd=\"online\" join=\"member\" expected=\"member\"/>\
             </status></cib>",
            dummy("b")
        );
        let s = run(&cib::Cib::parse(&xml).expect("test CIB parses"));
        let node = |id: &str| {
            let r = s.cluster.rsc_by_id(id).expect("resource");
            s.cluster.rscs[r]
                .plan
                .assigned
                .map(|n| s.cluster.nodes[n].uname.clone())
        };
        (node("a"), node("b"))
    }

    fn on(n: &str) -> Option<String> {
        Some(n.to_string())
    }

    #[test]
    fn without_influence_an_active_primary_stays_and_an_inactive_one_still_follows() {
        assert_eq!(placed("influence=\"false\"", true, ""), (None, on("n1")));
        assert_eq!(placed("influence=\"false\"", false, ""), (on("n2"), on("n2")));
        // With influence (the default, also for an invalid value), the
        // active primary moves to where its dependent can run.
        assert_eq!(placed("", true, ""), (on("n2"), on("n2")));
        assert_eq!(placed("influence=\"invalid\"", true, ""), (on("n2"), on("n2")));
    }

    #[test]
    fn a_dependent_that_is_not_critical_has_no_influence_by_default() {
        let not_critical = "<nvpair id=\"cr\" name=\"critical\" value=\"false\"/>";
        assert_eq!(placed("", true, not_critical), (None, on("n1")));
        // An invalid `critical` is not true, so not critical either.
        let invalid = "<nvpair id=\"cr\" name=\"critical\" value=\"maybe\"/>";
        assert_eq!(placed("", true, invalid), (None, on("n1")));
        assert_eq!(placed("influence=\"true\"", true, not_critical), (on("n2"), on("n2")));
    }
}

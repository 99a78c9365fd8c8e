//! Constraints as the scheduler uses them, resolved to resource indices:
//! colocations, orderings (plain and from resource sets), ticket
//! dependencies. `constraints` fills them in; placement, actions and the
//! modules for sets, bundles and remote nodes read them.

use crate::model::{NodeIdx, Role, RscIdx};
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
    pub influence: bool,
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

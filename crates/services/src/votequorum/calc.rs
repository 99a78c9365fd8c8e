//! The quorum arithmetic of `calculate_quorum` and `are_we_quorate`, as pure functions.

use totem::NodeId;

use super::config::TieBreaker;
use super::exec::NodeFlags;
use super::nodes::NodeTable;

/// Votes seen among the members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    pub highest_expected: u32,
    pub total_votes: u32,
    pub total_nodes: u32,
}

/// Counts the members' votes; the device's when this node says it casts them.
pub fn tally(table: &NodeTable) -> Tally {
    let mut t = Tally::default();
    for n in table.members() {
        t.highest_expected = t.highest_expected.max(n.expected_votes);
        t.total_votes = t.total_votes.wrapping_add(n.votes);
        t.total_nodes += 1;
    }
    if table.us().flags.contains(NodeFlags::QDEVICE_CAST_VOTE) {
        t.total_votes = t.total_votes.wrapping_add(table.qdevice.votes);
        t.total_nodes += 1;
    }
    t
}

/// Inputs of the quorum formula besides the tally.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QuorumRule {
    /// Quorum may go down (admin action, LMS, a node leaving with allow_downscale).
    pub allow_decrease: bool,
    /// Expected votes to use instead of the highest seen (0: none).
    pub max_expected: u32,
    /// The current quorum (it never decreases unless allowed).
    pub current: u32,
    pub two_node: bool,
    /// allow_downscale's barrier: expected votes never go below it.
    pub downscale_barrier: Option<u32>,
}

/// `calculate_quorum`: max((expected + 2) / 2, (votes + 2) / 2), never below the current
/// quorum unless allowed; 1 in two_node mode with at most two nodes.
pub fn quorum(t: Tally, rule: QuorumRule) -> u32 {
    let mut max_expected = rule.max_expected;
    if let (Some(barrier), true, true) = (rule.downscale_barrier, rule.allow_decrease, max_expected > 0) {
        max_expected = max_expected.max(barrier);
    }
    let highest = if max_expected > 0 {
        max_expected
    } else {
        t.highest_expected
    };
    // Unsigned C arithmetic: absurd votes from a peer wrap, as they do in corosync.
    let mut q = (highest.wrapping_add(2) / 2).max(t.total_votes.wrapping_add(2) / 2);
    if !rule.allow_decrease {
        q = q.max(rule.current);
    }
    if rule.two_node && t.total_nodes <= 2 {
        q = 1;
    }
    q
}

/// `check_auto_tie_breaker`: whether this partition holds the tie-breaker node.
pub fn tie_breaker_wins(
    atb: &TieBreaker,
    table: &NodeTable,
    lowest: Option<NodeId>,
    highest: Option<NodeId>,
    members: &[NodeId],
    previous: &[NodeId],
) -> bool {
    let member_with = |id: Option<NodeId>| id.is_some_and(|id| table.members().any(|n| n.id == id));
    match atb {
        TieBreaker::None => false,
        TieBreaker::Lowest => member_with(lowest),
        TieBreaker::Highest => member_with(highest),
        TieBreaker::List(list) => {
            for (i, id) in list.iter().enumerate() {
                if members.contains(id) {
                    // An earlier tie-breaker that was with us before may be on the other
                    // side now: we cannot know.
                    return !list[..i].iter().any(|p| previous.contains(p));
                }
            }
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (highest expected, total votes, nodes, allow_decrease, current, two_node) → quorum.
    #[test]
    fn quorum_table() {
        let rows: [(u32, u32, u32, bool, u32, bool, u32); 12] = [
            (3, 3, 3, false, 0, false, 2),
            (3, 2, 2, false, 0, false, 2),
            (3, 1, 1, false, 0, false, 2),
            (4, 4, 4, false, 0, false, 3),
            (5, 5, 5, false, 0, false, 3),
            (5, 7, 5, false, 0, false, 4),
            (2, 2, 2, false, 0, true, 1),
            (2, 1, 1, false, 0, true, 1),
            (3, 3, 3, false, 0, true, 2),
            (3, 3, 3, false, 4, false, 4),
            (3, 3, 3, true, 4, false, 2),
            (1, 1, 1, false, 0, false, 1),
        ];
        for (i, (exp, votes, nodes, dec, cur, two, want)) in rows.into_iter().enumerate() {
            let t = Tally {
                highest_expected: exp,
                total_votes: votes,
                total_nodes: nodes,
            };
            let rule = QuorumRule {
                allow_decrease: dec,
                current: cur,
                two_node: two,
                ..QuorumRule::default()
            };
            assert_eq!(quorum(t, rule), want, "row {i}");
        }
    }

    #[test]
    fn max_expected_and_downscale_barrier() {
        let t = Tally {
            highest_expected: 5,
            total_votes: 2,
            total_nodes: 2,
        };
        let lms = QuorumRule {
            allow_decrease: true,
            max_expected: 2,
            ..QuorumRule::default()
        };
        assert_eq!(quorum(t, lms), 2);
        let ad = QuorumRule {
            downscale_barrier: Some(5),
            ..lms
        };
        assert_eq!(quorum(t, ad), 3);
    }
}

//! Processor sets as corosync keeps them: small vectors of nodeids, compared as sets.

use crate::wire::NodeId;

pub(crate) fn contains(set: &[NodeId], id: NodeId) -> bool {
    set.contains(&id)
}

/// Every member of `a` is in `b`.
pub(crate) fn subset(a: &[NodeId], b: &[NodeId]) -> bool {
    a.iter().all(|x| b.contains(x))
}

pub(crate) fn equal(a: &[NodeId], b: &[NodeId]) -> bool {
    subset(a, b) && subset(b, a)
}

/// Adds the members of `from` missing in `into`, keeping insertion order (as on the wire).
pub(crate) fn merge(into: &mut Vec<NodeId>, from: &[NodeId]) {
    for &id in from {
        if !into.contains(&id) {
            into.push(id);
        }
    }
}

/// `a − b`.
pub(crate) fn subtract(a: &[NodeId], b: &[NodeId]) -> Vec<NodeId> {
    a.iter().copied().filter(|x| !b.contains(x)).collect()
}

/// Sorted ascending copy.
pub(crate) fn sorted(a: &[NodeId]) -> Vec<NodeId> {
    let mut v = a.to_vec();
    v.sort_unstable();
    v.dedup();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations() {
        assert!(subset(&[1, 2], &[2, 3, 1]));
        assert!(!subset(&[1, 4], &[2, 3, 1]));
        assert!(equal(&[3, 1, 2], &[1, 2, 3]));
        assert!(!equal(&[1, 2], &[1, 2, 3]));
        let mut v = vec![3, 1];
        merge(&mut v, &[1, 2, 3, 4]);
        assert_eq!(v, vec![3, 1, 2, 4]);
        assert_eq!(subtract(&[1, 2, 3], &[2]), vec![1, 3]);
        assert_eq!(sorted(&[3, 1, 3, 2]), vec![1, 2, 3]);
        assert!(contains(&[1, 2], 2));
    }
}

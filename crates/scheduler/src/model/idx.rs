//! Typed indices into [`Cluster::nodes`](super::Cluster::nodes) and
//! [`Cluster::rscs`](super::Cluster::rscs).
//!
//! Both tables are plain vectors; the newtypes exist so that a node index
//! cannot be used where a resource index is meant (or the other way round).
//! Per-node and per-resource side tables stay plain vectors indexed with
//! `.0`.

use std::ops::{Index, IndexMut};

use super::{Node, Rsc};

/// Index of a node in [`Cluster::nodes`](super::Cluster::nodes): a newtype
/// so that a node index is not a resource index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeIdx(pub usize);

/// Index of a resource in [`Cluster::rscs`](super::Cluster::rscs): a
/// newtype so that a resource index is not a node index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RscIdx(pub usize);

impl NodeIdx {
    /// All indices of a node table of length `len`, in order.
    pub fn all(len: usize) -> impl DoubleEndedIterator<Item = NodeIdx> + ExactSizeIterator + Clone {
        (0..len).map(NodeIdx)
    }
}

impl RscIdx {
    /// All indices of a resource table of length `len`, in order.
    pub fn all(len: usize) -> impl DoubleEndedIterator<Item = RscIdx> + ExactSizeIterator + Clone {
        (0..len).map(RscIdx)
    }
}

impl Index<NodeIdx> for [Node] {
    type Output = Node;
    fn index(&self, i: NodeIdx) -> &Node {
        &self[i.0]
    }
}

impl IndexMut<NodeIdx> for [Node] {
    fn index_mut(&mut self, i: NodeIdx) -> &mut Node {
        &mut self[i.0]
    }
}

impl Index<NodeIdx> for Vec<Node> {
    type Output = Node;
    fn index(&self, i: NodeIdx) -> &Node {
        &self[i.0]
    }
}

impl IndexMut<NodeIdx> for Vec<Node> {
    fn index_mut(&mut self, i: NodeIdx) -> &mut Node {
        &mut self[i.0]
    }
}

impl Index<RscIdx> for [Rsc] {
    type Output = Rsc;
    fn index(&self, i: RscIdx) -> &Rsc {
        &self[i.0]
    }
}

impl IndexMut<RscIdx> for [Rsc] {
    fn index_mut(&mut self, i: RscIdx) -> &mut Rsc {
        &mut self[i.0]
    }
}

impl Index<RscIdx> for Vec<Rsc> {
    type Output = Rsc;
    fn index(&self, i: RscIdx) -> &Rsc {
        &self[i.0]
    }
}

impl IndexMut<RscIdx> for Vec<Rsc> {
    fn index_mut(&mut self, i: RscIdx) -> &mut Rsc {
        &mut self[i.0]
    }
}

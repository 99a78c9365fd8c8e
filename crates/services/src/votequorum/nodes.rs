//! The node table (`cluster_nodes` / `cluster_members_list`): every node votequorum
//! has heard of, in node id order, this node included; the quorum device slot apart.

use std::collections::BTreeMap;

use totem::NodeId;

use super::exec::{NodeFlags, QDEVICE_NODEID};

/// Most nodes kept (`PROCESSOR_COUNT_MAX + 1`); past it a dead node's slot is reused.
pub const NODES_MAX: usize = 385;

/// `nodestate_t` / `VOTEQUORUM_NODESTATE_*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum NodeState {
    /// A slot never given a state: the quorum device slot (corosync zeroes slots).
    Unset = 0,
    Member = 1,
    Dead = 2,
    Leaving = 3,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterNode {
    pub id: NodeId,
    pub state: NodeState,
    pub votes: u32,
    pub expected_votes: u32,
    pub flags: NodeFlags,
}

impl ClusterNode {
    /// A freshly allocated slot (`allocate_node` zeroes it).
    pub fn new(id: NodeId) -> ClusterNode {
        ClusterNode {
            id,
            state: NodeState::Unset,
            votes: 0,
            expected_votes: 0,
            flags: NodeFlags::default(),
        }
    }

    pub fn is_member(&self) -> bool {
        self.state == NodeState::Member
    }
}

#[derive(Debug, Clone)]
pub struct NodeTable {
    us: NodeId,
    nodes: BTreeMap<NodeId, ClusterNode>,
    /// The quorum device slot (node id 0); only its votes and state are used.
    pub qdevice: ClusterNode,
}

impl NodeTable {
    /// A table holding only this node: a member with one vote and the FIRST flag.
    pub fn new(us: NodeId) -> NodeTable {
        let mut me = ClusterNode::new(us);
        me.state = NodeState::Member;
        me.votes = 1;
        me.flags.insert(NodeFlags::FIRST);
        NodeTable {
            us,
            nodes: BTreeMap::from([(us, me)]),
            qdevice: ClusterNode::new(QDEVICE_NODEID),
        }
    }

    pub fn us_id(&self) -> NodeId {
        self.us
    }

    pub fn us(&self) -> &ClusterNode {
        &self.nodes[&self.us]
    }

    pub fn us_mut(&mut self) -> &mut ClusterNode {
        self.nodes.get_mut(&self.us).expect("this node is always in the table")
    }

    pub fn get(&self, id: NodeId) -> Option<&ClusterNode> {
        if id == QDEVICE_NODEID {
            return Some(&self.qdevice);
        }
        self.nodes.get(&id)
    }

    pub fn get_mut(&mut self, id: NodeId) -> Option<&mut ClusterNode> {
        if id == QDEVICE_NODEID {
            return Some(&mut self.qdevice);
        }
        self.nodes.get_mut(&id)
    }

    /// Adds a node (not the device slot); a full table gives up a dead node's slot.
    /// `None` if the table is full of live nodes.
    pub fn allocate(&mut self, id: NodeId) -> Option<&mut ClusterNode> {
        if self.nodes.len() >= NODES_MAX {
            let dead = self.nodes.values().find(|n| n.state == NodeState::Dead)?.id;
            self.nodes.remove(&dead);
        }
        Some(self.nodes.entry(id).or_insert_with(|| ClusterNode::new(id)))
    }

    /// Every node but the device slot, in id order.
    pub fn iter(&self) -> impl Iterator<Item = &ClusterNode> {
        self.nodes.values()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut ClusterNode> {
        self.nodes.values_mut()
    }

    pub fn members(&self) -> impl Iterator<Item = &ClusterNode> {
        self.iter().filter(|n| n.is_member())
    }

    pub fn members_mut(&mut self) -> impl Iterator<Item = &mut ClusterNode> {
        self.iter_mut().filter(|n| n.is_member())
    }

    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordered_with_us_and_a_device_slot() {
        let mut t = NodeTable::new(5);
        t.allocate(9).unwrap().state = NodeState::Member;
        t.allocate(2).unwrap();
        let ids: Vec<_> = t.iter().map(|n| n.id).collect();
        assert_eq!(ids, [2, 5, 9]);
        let members: Vec<_> = t.members().map(|n| n.id).collect();
        assert_eq!(members, [5, 9]);
        assert_eq!(t.get(0).unwrap().id, 0);
        assert!(t.us().flags.contains(NodeFlags::FIRST));
    }

    #[test]
    fn full_table_reuses_dead_slots() {
        let mut t = NodeTable::new(1);
        for id in 2..=NODES_MAX as u32 {
            t.allocate(id).unwrap().state = NodeState::Member;
        }
        assert!(t.allocate(10_000).is_none());
        t.get_mut(7).unwrap().state = NodeState::Dead;
        assert!(t.allocate(10_000).is_some());
        assert!(t.get(7).is_none());
        assert_eq!(t.len(), NODES_MAX);
    }
}

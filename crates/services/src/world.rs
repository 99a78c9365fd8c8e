//! The state all services share on one node: the map, the quorum decision, the ring,
//! and the outbox. [`World::ctx`] lends it to one service for one input; tests build
//! a `World` to drive a service alone.

use totem::{Instant, NodeId, RingId};

use crate::icmap::Icmap;
use crate::outbox::Outbox;
use crate::quorum_view::QuorumView;
use crate::service::Ctx;

#[derive(Debug)]
pub struct World {
    pub node_id: NodeId,
    pub ring_id: RingId,
    pub members: Vec<NodeId>,
    pub icmap: Icmap,
    pub quorum: QuorumView,
    pub out: Outbox,
    pub sync_in_process: bool,
}

impl World {
    pub fn new(node_id: NodeId) -> World {
        World {
            node_id,
            ring_id: RingId::default(),
            members: Vec::new(),
            icmap: Icmap::default(),
            quorum: QuorumView::default(),
            out: Outbox::default(),
            sync_in_process: true,
        }
    }

    pub fn ctx(&mut self, now: Instant) -> Ctx<'_> {
        Ctx {
            node_id: self.node_id,
            now,
            ring_id: self.ring_id,
            members: &self.members,
            icmap: &mut self.icmap,
            quorum: &mut self.quorum,
            out: &mut self.out,
            sync_in_process: self.sync_in_process,
        }
    }
}

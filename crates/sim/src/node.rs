//! The host around one Totem node: process status, simulated disk, socket buffer,
//! timer bookkeeping and the outbox of messages waiting for back-pressure to clear.

use std::collections::VecDeque;

use bytes::Bytes;
use services::Node;
use totem::{MembState, NodeId, RingId, Totem};

use crate::history::{End, IncIdx};
use crate::workload::Outbox;

/// Process status of a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Running.
    Up,
    /// Stopped (SIGSTOP-like): processes nothing; datagrams queue in its socket buffer.
    Paused,
    /// Not running: crashed, or left the ring and exited.
    Down(End),
}

/// One simulated machine.
#[derive(Debug)]
pub struct Host {
    pub id: NodeId,
    /// The running Totem instance; `None` while down.
    /// The running node (totem plus services, the daemon's host loop); `None` while down.
    pub totem: Option<Node>,
    pub status: Status,
    /// Simulated disk: the last ring seq Totem asked us to persist.
    pub disk_ring_seq: u64,
    /// Current (or last) incarnation in the history.
    pub inc: IncIdx,
    /// Incarnation number of `inc` (0 for the first life).
    pub incarnation: u32,
    /// Deadline of the timer event currently scheduled for this node.
    pub timer: Option<u64>,
    /// Timer firings at the same instant in a row (a stuck `poll_timeout` is a bug).
    pub timer_spins: u32,
    /// Datagrams that arrived while paused or not yet handled while slowed down, oldest
    /// first: (sender index, bytes). Bounded by the seed's socket buffer.
    pub socket: VecDeque<(usize, Bytes)>,
    /// A slowdown going on (the process is starved: it handles one datagram per the
    /// given time): until when, and that time.
    pub slow: Option<(totem::Instant, std::time::Duration)>,
    /// While slowed down: when it is done with the datagram in hand (virtual ns).
    pub busy_until: u64,
    /// The scheduled drain event for `socket` while slowed down (virtual ns).
    pub drain_at: Option<u64>,
    /// Last reported membership state and ring.
    pub state: MembState,
    pub ring: RingId,
    /// Last regular configuration of the current incarnation: ring id and members.
    pub last_regular: Option<(RingId, Vec<NodeId>)>,
    pub outbox: Outbox,
    /// Deliveries seen by this incarnation (drives the delivery-swap mutation).
    pub delivered: u64,
}

impl Host {
    pub fn new(id: NodeId, totem: Node, inc: IncIdx) -> Self {
        Host {
            id,
            totem: Some(totem),
            status: Status::Up,
            disk_ring_seq: 0,
            inc,
            incarnation: 0,
            timer: None,
            timer_spins: 0,
            socket: VecDeque::new(),
            slow: None,
            busy_until: 0,
            drain_at: None,
            state: MembState::Gather,
            ring: RingId::default(),
            last_regular: None,
            outbox: Outbox::default(),
            delivered: 0,
        }
    }

    pub fn is_up(&self) -> bool {
        self.status == Status::Up
    }

    /// Running or paused: the incarnation is still alive.
    pub fn is_alive(&self) -> bool {
        matches!(self.status, Status::Up | Status::Paused)
    }

    /// Forgets everything volatile (crash, exit); the disk survives.
    pub fn stop(&mut self, why: End) {
        self.totem = None;
        self.status = Status::Down(why);
        self.timer = None;
        self.socket.clear();
        self.slow = None;
        self.drain_at = None;
        self.outbox.reset();
        self.last_regular = None;
        self.delivered = 0;
    }

    /// Boots a new incarnation on the same disk.
    pub fn boot(&mut self, totem: Node, inc: IncIdx, incarnation: u32) {
        self.totem = Some(totem);
        self.status = Status::Up;
        self.inc = inc;
        self.incarnation = incarnation;
        self.timer = None;
        self.timer_spins = 0;
        self.state = MembState::Gather;
        self.outbox.reset();
    }
}

/// The services every simulated node runs around its totem instance, as the daemon does,
/// with a configuration map like a corosync.conf for the nodelist `ids` and votequorum
/// as the quorum provider.
pub fn boot_services(totem: Totem, ids: &[NodeId]) -> Node {
    boot_services_with(totem, ids, false)
}

/// [`boot_services`], with votequorum's `wait_for_all` option as given.
pub fn boot_services_with(totem: Totem, ids: &[NodeId], wait_for_all: bool) -> Node {
    use services::Value;
    let mut map = services::Icmap::default();
    map.set("totem.cluster_name", Value::String("sim".into()));
    map.set("quorum.provider", Value::String("corosync_votequorum".into()));
    if wait_for_all {
        map.set("quorum.wait_for_all", Value::U8(1));
    }
    for (i, id) in ids.iter().enumerate() {
        map.set(format!("nodelist.node.{i}.nodeid"), Value::U32(*id));
        map.set(
            format!("nodelist.node.{i}.ring0_addr"),
            Value::String(format!("10.0.{}.{}", id >> 8, id & 0xff)),
        );
    }
    let mut node = Node::new(totem, map, services::standard).expect("the simulator's configuration is valid");
    node.observe_client_messages();
    node
}

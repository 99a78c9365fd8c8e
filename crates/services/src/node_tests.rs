//! Several [`Node`]s joined by a lossless in-process network with virtual time: the
//! whole host loop (totem, sync, services) without the simulator.

use std::collections::VecDeque;
use std::time::Duration;

use totem::{Config, Destination, Instant, Totem};

use crate::cpg::messages::{req, res};
use crate::cpg::Cpg;
use crate::node::{Node, NodeEvent};
use crate::wire::{Reader, Writer};
use crate::{ClientMessageKind, ConnId, Credentials, CsError, Icmap, ServiceId};

pub struct Net {
    pub nodes: Vec<Node>,
    pub now: Instant,
    wire: VecDeque<(usize, Vec<u8>)>,
    /// Client messages each node produced: (conn, kind, bytes).
    pub client_out: Vec<Vec<(ConnId, ClientMessageKind, Vec<u8>)>>,
    pub events: Vec<Vec<NodeEvent>>,
}

impl Net {
    pub fn new(n: u32) -> Net {
        let config = Config::from_token(Duration::from_millis(1000), 4);
        let nodes: Vec<Node> = (1..=n)
            .map(|id| {
                let totem = Totem::new(config.clone(), id, 0, u64::from(id), Instant::ZERO);
                Node::new(totem, Icmap::default(), |_| {
                    Ok::<_, ()>(vec![Box::new(Cpg::new()) as Box<dyn crate::Service>])
                })
                .unwrap()
            })
            .collect();
        let count = nodes.len();
        Net {
            nodes,
            now: Instant::ZERO,
            wire: VecDeque::new(),
            client_out: vec![Vec::new(); count],
            events: vec![Vec::new(); count],
        }
    }

    fn drain(&mut self, i: usize) {
        let n = self.nodes.len();
        while self.nodes[i].poll_ring_seq_to_store().is_some() {}
        while let Some(t) = self.nodes[i].poll_transmit() {
            match t.destination {
                Destination::Node(id) => self.wire.push_back((id as usize - 1, t.payload.to_vec())),
                Destination::AllNodes => {
                    for j in (0..n).filter(|j| *j != i) {
                        self.wire.push_back((j, t.payload.to_vec()));
                    }
                }
            }
        }
        while let Some(m) = self.nodes[i].poll_client_message() {
            self.client_out[i].push((m.conn, m.kind, m.data));
        }
        while self.nodes[i].poll_action().is_some() {}
        while let Some(e) = self.nodes[i].poll_event() {
            self.events[i].push(e);
        }
    }

    /// Runs for `d` of virtual time, delivering datagrams at once.
    pub fn run(&mut self, d: Duration) {
        let end = self.now + d;
        for i in 0..self.nodes.len() {
            self.drain(i);
        }
        loop {
            while let Some((to, p)) = self.wire.pop_front() {
                let _ = self.nodes[to].handle_packet(self.now, &p);
                self.drain(to);
            }
            let next = self.nodes.iter().filter_map(Node::poll_timeout).min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    for i in 0..self.nodes.len() {
                        if self.nodes[i].poll_timeout().is_some_and(|t| t <= self.now) {
                            self.nodes[i].handle_timeout(self.now);
                            self.drain(i);
                        }
                    }
                }
                _ => {
                    self.now = end;
                    return;
                }
            }
        }
    }

    pub fn request(&mut self, i: usize, conn: u64, msg: &[u8]) {
        let now = self.now;
        self.nodes[i].client_request(now, ConnId(conn), msg);
        self.drain(i);
    }
}

fn join(group: &[u8], pid: u32) -> Vec<u8> {
    let mut w = Writer::request(req::JOIN, 168);
    w.cpg_name(16, group).u32(152, pid);
    w.finish()
}

fn mcast(data: &[u8]) -> Vec<u8> {
    let mut w = Writer::response(req::MCAST, 40, CsError::Ok);
    w.u32(32, data.len() as u32).extend(data);
    w.finish()
}

fn error_of(m: &[u8]) -> i32 {
    Reader::new(m).i32(16).unwrap()
}

#[test]
fn three_nodes_synchronise_and_cpg_delivers_in_one_order() {
    let mut net = Net::new(3);
    net.run(Duration::from_secs(5));
    for (i, node) in net.nodes.iter().enumerate() {
        assert!(!node.sync_in_process(), "node {i} still synchronising");
        assert_eq!(node.totem().srp().members().len(), 3);
        assert!(net.events[i]
            .iter()
            .any(|e| matches!(e, NodeEvent::SyncCompleted { .. })));
    }
    for i in 0..3 {
        let now = net.now;
        net.nodes[i]
            .client_connected(now, ConnId(1), ServiceId::Cpg, Credentials::default())
            .unwrap();
        net.request(i, 1, &join(b"grp", 100 + i as u32));
    }
    net.run(Duration::from_millis(100));
    for i in 0..3 {
        net.request(i, 1, &mcast(format!("from {i}").as_bytes()));
    }
    net.run(Duration::from_millis(100));
    let order = |i: usize| -> Vec<Vec<u8>> {
        net.client_out[i]
            .iter()
            .filter(|(_, k, d)| {
                *k == ClientMessageKind::Event && Reader::new(d).i32(0).unwrap() == res::DELIVER_CALLBACK
            })
            .map(|(_, _, d)| d[184..].to_vec())
            .collect()
    };
    let first = order(0);
    assert_eq!(first.len(), 3);
    assert_eq!(order(1), first);
    assert_eq!(order(2), first);
    // Join replies were CS_OK.
    for i in 0..3 {
        let (_, _, reply) = net.client_out[i]
            .iter()
            .find(|(_, k, _)| *k == ClientMessageKind::Response)
            .unwrap();
        assert_eq!(error_of(reply), CsError::Ok as i32);
    }
}

#[test]
fn clients_wait_for_the_first_synchronisation_and_get_try_again_during_sync() {
    let mut net = Net::new(1);
    let r = net.nodes[0].client_connected(Instant::ZERO, ConnId(1), ServiceId::Cpg, Credentials::default());
    assert_eq!(r, Err(CsError::TryAgain));
    net.run(Duration::from_secs(3));
    assert!(!net.nodes[0].sync_in_process());
    let now = net.now;
    net.nodes[0]
        .client_connected(now, ConnId(1), ServiceId::Cpg, Credentials::default())
        .unwrap();
    // A request id the service does not have is refused, not crashed on.
    net.request(0, 1, &Writer::request(99, 16).finish());
    let (_, _, reply) = net.client_out[0].pop().unwrap();
    assert_eq!(error_of(&reply), CsError::InvalidParam as i32);
}

#[test]
fn app_messages_pass_through_in_order() {
    let mut net = Net::new(2);
    net.run(Duration::from_secs(5));
    for k in 0..5u8 {
        net.nodes[0].submit_app(&[k]).unwrap();
    }
    net.run(Duration::from_millis(200));
    let got: Vec<u8> = net.events[1]
        .iter()
        .filter_map(|e| match e {
            NodeEvent::AppDeliver { sender: 1, message } => Some(message[0]),
            _ => None,
        })
        .collect();
    assert_eq!(got, vec![0, 1, 2, 3, 4]);
}

#[test]
fn a_client_disconnected_for_a_bad_request_is_not_served_the_rest_of_its_batch() {
    let mut net = Net::new(1);
    net.run(Duration::from_secs(3));
    let now = net.now;
    let node = &mut net.nodes[0];
    node.client_connected(now, ConnId(1), ServiceId::Cpg, Credentials::default())
        .unwrap();
    node.client_request(now, ConnId(1), b"bad");
    // Read in the same pass as the bad one: answered would be InvalidParam.
    node.client_request(now, ConnId(1), &Writer::request(99, 16).finish());
    let mut actions = Vec::new();
    while let Some(a) = node.poll_action() {
        actions.push(a);
    }
    assert_eq!(actions, vec![crate::HostAction::Disconnect { conn: ConnId(1) }]);
    assert!(node.poll_client_message().is_none());
    // The host's own notice of the close changes nothing more.
    node.client_disconnected(now, ConnId(1));
    assert!(node.poll_action().is_none());
}

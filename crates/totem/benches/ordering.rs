//! How fast the protocol core orders messages, in-process with no network: N real
//! nodes exchange datagrams through a FIFO, so the figure is the cost of the core alone
//! (encode, decode, token processing, sort queue, packing, reassembly, delivery).

use std::collections::VecDeque;
use std::time::Duration;

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use totem::{Config, Destination, Event, Instant, MembState, Totem};

struct Ring {
    nodes: Vec<Totem>,
    wire: VecDeque<(usize, Bytes)>,
    now: Instant,
    delivered: Vec<u64>,
}

impl Ring {
    fn new(n: usize) -> Ring {
        let mut config = Config::from_token(Duration::from_millis(1000), 4);
        config.send_queue_max = 1 << 16;
        let nodes = (1..=n as u32)
            .map(|id| Totem::new(config.clone(), id, 0, 0, Instant::ZERO))
            .collect();
        let mut ring = Ring {
            nodes,
            wire: VecDeque::new(),
            now: Instant::ZERO,
            delivered: vec![0; n],
        };
        for i in 0..n {
            ring.drain(i);
        }
        ring.run(|r| {
            r.nodes
                .iter()
                .all(|t| t.srp().state() == MembState::Operational && t.srp().members().len() == n)
        });
        ring
    }

    fn drain(&mut self, i: usize) {
        let n = self.nodes.len();
        while let Some(t) = self.nodes[i].poll_transmit() {
            match t.destination {
                Destination::Node(id) => self.wire.push_back((id as usize - 1, t.payload)),
                Destination::AllNodes => {
                    for j in (0..n).filter(|&j| j != i) {
                        self.wire.push_back((j, t.payload.clone()));
                    }
                }
            }
        }
        while let Some(e) = self.nodes[i].poll_event() {
            if let Event::Deliver { .. } = e {
                self.delivered[i] += 1;
            }
        }
    }

    /// Moves datagrams (and, when the wire is idle, time) until `done`.
    fn run(&mut self, done: impl Fn(&Ring) -> bool) {
        while !done(self) {
            if let Some((to, bytes)) = self.wire.pop_front() {
                self.nodes[to].handle_datagram(self.now, &bytes).expect("valid");
                self.drain(to);
                continue;
            }
            let next = self
                .nodes
                .iter()
                .filter_map(|t| t.poll_timeout())
                .min()
                .expect("a timer");
            self.now = self.now.max(next);
            for i in 0..self.nodes.len() {
                if self.nodes[i].poll_timeout().is_some_and(|t| t <= self.now) {
                    self.nodes[i].handle_timeout(self.now);
                    self.drain(i);
                }
            }
        }
    }

    /// Every node submits `per_node` messages; returns once all nodes delivered all of them.
    fn order(&mut self, per_node: usize, payload: &[u8]) {
        let n = self.nodes.len();
        let target: Vec<u64> = self.delivered.iter().map(|d| d + (per_node * n) as u64).collect();
        for i in 0..n {
            for _ in 0..per_node {
                self.nodes[i].submit(payload).expect("queue room");
            }
            self.drain(i);
        }
        self.run(|r| r.delivered.iter().zip(&target).all(|(d, t)| d >= t));
    }
}

fn ordering(c: &mut Criterion) {
    let mut group = c.benchmark_group("ordered");
    group.sample_size(10);
    for &nodes in &[3usize, 16] {
        for &size in &[64usize, 1024] {
            let per_node = 16_000 / nodes;
            let payload = vec![0xA5u8; size];
            let mut ring = Ring::new(nodes);
            group.throughput(Throughput::Elements((per_node * nodes) as u64));
            group.bench_with_input(BenchmarkId::new(format!("{nodes}-nodes"), size), &size, |b, _| {
                b.iter(|| ring.order(per_node, &payload));
            });
        }
    }
    group.finish();
}

criterion_group!(benches, ordering);
criterion_main!(benches);

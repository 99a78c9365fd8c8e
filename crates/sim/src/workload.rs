//! Application payloads and the seeded workload generator.
//!
//! Every payload starts with its identity (origin node, incarnation, counter) so a
//! delivery can be traced back to exactly one submit, and the rest is a pattern derived
//! from that identity so corruption or truncation is detected too.

use std::collections::VecDeque;

use rand::rngs::SmallRng;
use rand::Rng;
use totem::NodeId;

/// Bytes of identity at the start of every payload.
pub const HEADER_LEN: usize = 8;

/// Identity of one application message: who sent it, from which life, in what order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MsgId {
    pub node: NodeId,
    pub inc: u32,
    pub counter: u32,
}

impl std::fmt::Display for MsgId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "n{}.{}#{}", self.node, self.inc, self.counter)
    }
}

/// Byte `i` of the padding of `id` is `(pad_base(id) + i) mod 256`: cheap to write and to
/// check with slice compares against [`RAMP`].
fn pad_base(id: MsgId) -> usize {
    (id.counter as usize).wrapping_mul(31) ^ (id.node as usize).wrapping_mul(7) ^ ((id.inc as usize) << 3)
}

/// 0, 1, …, 255, 0, 1, …, 255: every run of the padding is a window of this table.
static RAMP: [u8; 512] = {
    let mut t = [0u8; 512];
    let mut i = 0;
    while i < 512 {
        t[i] = (i % 256) as u8;
        i += 1;
    }
    t
};

/// The padding bytes from offset `from` to `to` of `id`'s payload, in windows of at most 256.
fn pad_chunks(id: MsgId, from: usize, to: usize) -> impl Iterator<Item = (usize, &'static [u8])> {
    let base = pad_base(id);
    (from..to).step_by(256).map(move |at| {
        let start = base.wrapping_add(at) & 0xff;
        (at, &RAMP[start..start + (to - at).min(256)])
    })
}

/// Builds the payload of `id`, `len` bytes long (at least [`HEADER_LEN`]).
pub fn encode(id: MsgId, len: usize, out: &mut Vec<u8>) {
    let len = len.max(HEADER_LEN);
    out.clear();
    out.extend_from_slice(&(id.node as u16).to_le_bytes());
    out.extend_from_slice(&(id.inc as u16).to_le_bytes());
    out.extend_from_slice(&id.counter.to_le_bytes());
    for (_, chunk) in pad_chunks(id, HEADER_LEN, len) {
        out.extend_from_slice(chunk);
    }
}

/// What a delivered payload claims to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded {
    pub id: MsgId,
    /// Length as delivered.
    pub len: u32,
    /// False when the padding differs from what [`encode`] writes for `id`.
    pub intact: bool,
}

/// Reads a delivered payload back; `None` when it is too short to carry an identity.
pub fn decode(payload: &[u8]) -> Option<Decoded> {
    if payload.len() < HEADER_LEN {
        return None;
    }
    let id = MsgId {
        node: u32::from(u16::from_le_bytes([payload[0], payload[1]])),
        inc: u32::from(u16::from_le_bytes([payload[2], payload[3]])),
        counter: u32::from_le_bytes([payload[4], payload[5], payload[6], payload[7]]),
    };
    let intact = pad_chunks(id, HEADER_LEN, payload.len()).all(|(at, chunk)| &payload[at..at + chunk.len()] == chunk);
    Some(Decoded {
        id,
        len: payload.len() as u32,
        intact,
    })
}

/// The seed's choice of traffic shape (swarm testing: some runs are quiet, some flooded).
#[derive(Clone, Debug)]
pub struct WorkloadProfile {
    /// Mean gap between workload steps, ns.
    pub mean_gap_ns: u64,
    /// Most senders in one burst.
    pub max_senders: usize,
    /// Most messages one sender submits in one burst.
    pub max_per_sender: u32,
    /// Weights of small (≤ 64 B), medium (≤ one frame) and large (several frames) sizes.
    pub size_weights: [u32; 3],
}

impl WorkloadProfile {
    pub fn choose(rng: &mut SmallRng, nodes: usize, token_ns: u64) -> Self {
        let size_weights = match rng.gen_range(0..4) {
            0 => [10, 0, 0],
            1 => [6, 3, 1],
            2 => [1, 4, 1],
            _ => [1, 1, 3],
        };
        WorkloadProfile {
            mean_gap_ns: token_ns / rng.gen_range(2..20),
            max_senders: rng.gen_range(1..=nodes),
            max_per_sender: [1, 3, 10, 40][rng.gen_range(0..4)],
            size_weights,
        }
    }

    /// A payload size drawn from the profile.
    pub fn size(&self, rng: &mut SmallRng, frame: usize) -> usize {
        let total: u32 = self.size_weights.iter().sum();
        let mut pick = rng.gen_range(0..total);
        let class = self.size_weights.iter().position(|w| {
            if pick < *w {
                true
            } else {
                pick -= w;
                false
            }
        });
        match class {
            Some(0) => rng.gen_range(HEADER_LEN..=64),
            Some(1) => rng.gen_range(65..=frame),
            _ => rng.gen_range(frame + 1..=frame * 4 + 100),
        }
    }

    /// Gap until the next workload step, ns (exponential-ish around the mean).
    pub fn gap(&self, rng: &mut SmallRng) -> u64 {
        let u: f64 = rng.gen_range(0.001..1.0);
        ((-u.ln()) * self.mean_gap_ns as f64) as u64 + 1
    }
}

/// Messages a node wants to send but Totem refused for now (back-pressure), in order.
#[derive(Debug, Default)]
pub struct Outbox {
    pub pending: VecDeque<(MsgId, usize)>,
    /// Next counter of the current incarnation.
    pub next_counter: u32,
}

impl Outbox {
    /// Starts a new incarnation: pending messages die with the old one.
    pub fn reset(&mut self) {
        self.pending.clear();
        self.next_counter = 0;
    }

    /// Queues a new message of `len` bytes for `node`'s incarnation `inc`.
    pub fn push(&mut self, node: NodeId, inc: u32, len: usize) {
        let id = MsgId {
            node,
            inc,
            counter: self.next_counter,
        };
        self.next_counter += 1;
        self.pending.push_back((id, len));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trip_and_corruption() {
        let id = MsgId {
            node: 7,
            inc: 3,
            counter: 99,
        };
        let mut buf = Vec::new();
        encode(id, 3000, &mut buf);
        assert_eq!(buf.len(), 3000);
        let d = decode(&buf).unwrap();
        assert_eq!(
            d,
            Decoded {
                id,
                len: 3000,
                intact: true
            }
        );
        for (i, b) in buf.iter().enumerate().skip(HEADER_LEN) {
            assert_eq!(usize::from(*b), (pad_base(id) + i) % 256);
        }
        buf[2000] ^= 1;
        assert!(!decode(&buf).unwrap().intact);
        buf[2000] ^= 1;
        buf[2999] ^= 0x80;
        assert!(!decode(&buf).unwrap().intact);
        encode(id, 1, &mut buf);
        assert_eq!(buf.len(), HEADER_LEN);
        assert!(decode(&buf[..4]).is_none());
    }
}

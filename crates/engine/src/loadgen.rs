//! Benchmark and soak load without a client: `FERROSYNC_TEST_LOAD=RATE[:SIZE]` makes the
//! daemon submit RATE messages per second of SIZE bytes (default 64) to the ring (RATE 0:
//! only measure what the others send). Each
//! carries its send time on `CLOCK_MONOTONIC`, which every network namespace of one host
//! shares, so every node measures send → agreed delivery of the others' load messages.
//! The figures appear under `load` in the status file.
//!
//! This stands in for a CPG client until the IPC service exists; it is off unless the
//! variable is set, and the messages are recognised by a magic prefix.

use std::time::Duration;

use nix::time::{clock_gettime, ClockId};
use serde_json::json;
use services::Node;
use totem::SubmitError;

pub const LOAD_ENV: &str = "FERROSYNC_TEST_LOAD";

const MAGIC: &[u8; 8] = b"FSLOAD01";
/// Magic, sender nodeid, counter, send time (ns).
const HEADER_LEN: usize = 8 + 4 + 8 + 8;
/// How far ahead a receive-only load is next "due".
const IDLE: Duration = Duration::from_secs(86_400);
/// Never submit more than this many at once after a stall (the rest are skipped).
const CATCH_UP_MAX: u32 = 100;

fn monotonic_ns() -> u64 {
    clock_gettime(ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
        .unwrap_or(0)
}

/// What `FERROSYNC_TEST_LOAD` asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadSpec {
    pub rate: u32,
    pub size: usize,
}

impl LoadSpec {
    /// `RATE` or `RATE:SIZE`; rate 0..=100000 messages/s, size up to 1 MiB.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (rate, size) = match spec.split_once(':') {
            Some((r, s)) => (r, Some(s)),
            None => (spec, None),
        };
        let rate: u32 = rate
            .trim()
            .parse()
            .map_err(|_| format!("rate {rate:?} is not a number"))?;
        if rate > 100_000 {
            return Err(format!("rate {rate} is outside 0..=100000 messages/s"));
        }
        let size = match size {
            None => 64,
            Some(s) => s.trim().parse().map_err(|_| format!("size {s:?} is not a number"))?,
        };
        if size > totem::MESSAGE_MAX {
            return Err(format!("size {size} exceeds {} bytes", totem::MESSAGE_MAX));
        }
        Ok(LoadSpec {
            rate,
            size: size.max(HEADER_LEN),
        })
    }
}

/// Latencies in µs, in buckets of 1/8 of a power of two (12.5 % resolution), bounded.
#[derive(Debug)]
struct Histogram {
    counts: Vec<u64>,
    max_us: u64,
    total: u64,
}

const SUB: u64 = 8;

impl Histogram {
    fn new() -> Self {
        Histogram {
            counts: vec![0; 64 * SUB as usize],
            max_us: 0,
            total: 0,
        }
    }

    fn bucket(us: u64) -> usize {
        if us < SUB {
            return us as usize;
        }
        let exp = 63 - u64::from(us.leading_zeros());
        let sub = (us >> (exp - 3)) & (SUB - 1);
        ((exp - 2) * SUB + sub) as usize
    }

    /// Upper bound of a bucket, µs.
    fn bucket_high(b: usize) -> u64 {
        let b = b as u64;
        if b < SUB {
            return b;
        }
        let exp = b / SUB + 2;
        let sub = b % SUB;
        ((SUB + sub + 1) << (exp - 3)) - 1
    }

    fn record(&mut self, us: u64) {
        let b = Self::bucket(us).min(self.counts.len() - 1);
        self.counts[b] += 1;
        self.total += 1;
        self.max_us = self.max_us.max(us);
    }

    fn percentile(&self, p: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((self.total as f64) * p).ceil().max(1.0) as u64;
        let mut seen = 0;
        for (b, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::bucket_high(b).min(self.max_us);
            }
        }
        self.max_us
    }
}

/// The sending side and the latency record of one node.
#[derive(Debug)]
pub struct Load {
    spec: LoadSpec,
    node_id: u32,
    interval: Duration,
    next: std::time::Instant,
    counter: u64,
    refused: u64,
    skipped: u64,
    buf: Vec<u8>,
    received: u64,
    latency: Histogram,
}

impl Load {
    pub fn new(spec: LoadSpec, node_id: u32, now: std::time::Instant) -> Self {
        let mut buf = vec![0u8; spec.size];
        for (i, b) in buf.iter_mut().enumerate().skip(HEADER_LEN) {
            *b = i as u8;
        }
        Load {
            spec,
            node_id,
            interval: Duration::from_nanos(1_000_000_000 / u64::from(spec.rate.max(1))),
            // Receive-only: never due (a day ahead, moved on at each tick).
            next: if spec.rate == 0 { now + IDLE } else { now },
            counter: 0,
            refused: 0,
            skipped: 0,
            buf,
            received: 0,
            latency: Histogram::new(),
        }
    }

    pub fn next_due(&self) -> std::time::Instant {
        self.next
    }

    /// Submits the messages due by `now`; a queue that is full counts as refused (the
    /// ring is behind: that is what the figures should show, not hide).
    pub fn tick(&mut self, now: std::time::Instant, totem: &mut Node) {
        if self.spec.rate == 0 {
            self.next = now + IDLE;
            return;
        }
        let mut n = 0;
        while self.next <= now {
            if n == CATCH_UP_MAX {
                let behind = now.duration_since(self.next).as_nanos() / self.interval.as_nanos().max(1);
                self.skipped += behind as u64 + 1;
                self.next = now + self.interval;
                break;
            }
            self.buf[..8].copy_from_slice(MAGIC);
            self.buf[8..12].copy_from_slice(&self.node_id.to_le_bytes());
            self.buf[12..20].copy_from_slice(&self.counter.to_le_bytes());
            self.buf[20..28].copy_from_slice(&monotonic_ns().to_le_bytes());
            match totem.submit_app(&self.buf) {
                Ok(()) => self.counter += 1,
                Err(SubmitError::QueueFull) => self.refused += 1,
                Err(_) => return,
            }
            self.next += self.interval;
            n += 1;
        }
    }

    /// Sends nothing while the node is not on a ring (formation): the wait would measure
    /// startup, not the ring. The schedule resumes from `now`.
    pub fn pause(&mut self, now: std::time::Instant) {
        if self.spec.rate > 0 {
            self.next = now + self.interval;
        }
    }

    /// Records the latency of a delivered load message from another node.
    pub fn delivered(&mut self, sender: u32, message: &[u8]) {
        if sender == self.node_id || message.len() < HEADER_LEN || &message[..8] != MAGIC {
            return;
        }
        let sent = u64::from_le_bytes(message[20..28].try_into().expect("8 bytes"));
        let us = monotonic_ns().saturating_sub(sent) / 1000;
        self.received += 1;
        self.latency.record(us);
    }

    pub fn to_json(&self) -> serde_json::Value {
        let ms = |us: u64| us as f64 / 1000.0;
        json!({
            "rate": self.spec.rate, "size": self.spec.size,
            "sent": self.counter, "refused": self.refused, "skipped": self.skipped,
            "received": self.received,
            "latency_ms": {
                "p50": ms(self.latency.percentile(0.5)),
                "p99": ms(self.latency.percentile(0.99)),
                "max": ms(self.latency.max_us),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_parses_rate_and_size_and_names_bad_values() {
        assert_eq!(LoadSpec::parse("100").unwrap(), LoadSpec { rate: 100, size: 64 });
        assert_eq!(LoadSpec::parse("1000:256").unwrap(), LoadSpec { rate: 1000, size: 256 });
        assert_eq!(LoadSpec::parse("10:4").unwrap().size, HEADER_LEN);
        assert_eq!(LoadSpec::parse("0").unwrap().rate, 0);
        assert!(LoadSpec::parse("100001").unwrap_err().contains("outside"));
        assert!(LoadSpec::parse("x").unwrap_err().contains("not a number"));
        assert!(LoadSpec::parse("10:y").unwrap_err().contains("size"));
        assert!(LoadSpec::parse("10:99999999").unwrap_err().contains("exceeds"));
    }

    #[test]
    fn histogram_buckets_are_ordered_and_bound_their_values() {
        let mut last = 0;
        for us in (0..100_000u64).step_by(7) {
            let b = Histogram::bucket(us);
            assert!(b >= last);
            last = b;
            assert!(Histogram::bucket_high(b) >= us, "{us} in bucket {b}");
            assert!(Histogram::bucket_high(b) <= us + us / 8 + 1, "{us} in bucket {b}");
        }
    }

    #[test]
    fn percentiles_within_an_eighth() {
        let mut h = Histogram::new();
        for us in 1..=1000 {
            h.record(us);
        }
        let p50 = h.percentile(0.5);
        let p99 = h.percentile(0.99);
        assert!((500..=563).contains(&p50), "{p50}");
        assert!((990..=1000).contains(&p99), "{p99}");
        assert_eq!(h.percentile(1.0), 1000);
    }
}

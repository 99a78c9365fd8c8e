//! `ferrosync bench cpg`: CPG throughput and latency through the client library. Run it on
//! every node at once: each instance sends (unless `--receive-only`) and checks the
//! sequence of every sender it receives.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use client::cpg::{Cpg, CpgEvent, Guarantee};
use client::{CsError, DispatchFlags};
use serde_json::json;

use crate::daemon::{open, print_json, DaemonArgs};
use crate::exit::{Exit, FAILED};

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: BenchCommand,
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Multicast through CPG; print msgs/s, MB/s, latency and sequence checks.
    Cpg(CpgBench),
    /// kill -9 of the node running a Dummy → the Dummy elsewhere (fencing on; root).
    Failover(super::bench_failover::FailoverBench),
}

#[derive(Args, Debug)]
struct CpgBench {
    /// Message size in bytes (at least the 32-byte header).
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Messages per second to send (0: as fast as flow control allows).
    #[arg(long, default_value_t = 0)]
    rate: u64,
    /// How long to send.
    #[arg(long, default_value_t = 10.0)]
    seconds: f64,
    /// The group to use.
    #[arg(long, default_value = "ferrosync.bench")]
    group: String,
    /// Wait until this many processes are in the group before starting.
    #[arg(long, default_value_t = 1)]
    members: usize,
    /// Only receive (and check sequences).
    #[arg(long)]
    receive_only: bool,
    /// How long to wait after sending for the other senders to finish.
    #[arg(long, default_value_t = 30.0)]
    grace: f64,
    #[command(flatten)]
    daemon: DaemonArgs,
}

const MAGIC: u32 = 0x6672_6263; // "frbc"
const HEADER: usize = 32;
const DATA: u8 = 0;
const DONE: u8 = 1;
/// How long the sender waits when flow control refuses a message (libqb clients poll).
const TRY_AGAIN_PAUSE: Duration = Duration::from_micros(100);
/// The receive thread's longest wait for an event, so it notices the sender's end.
const RECEIVE_WAIT: Duration = Duration::from_millis(5);
/// Latency samples kept (own messages); beyond it every other one is dropped.
const SAMPLES_MAX: usize = 1 << 22;

/// The bench's message header: magic, kind, sender, sequence, send time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Header {
    kind: u8,
    seq: u64,
    sent_ns: u64,
}

impl Header {
    fn write(&self, buf: &mut [u8]) {
        buf[0..4].copy_from_slice(&MAGIC.to_le_bytes());
        buf[4] = self.kind;
        buf[8..16].copy_from_slice(&self.seq.to_le_bytes());
        buf[16..24].copy_from_slice(&self.sent_ns.to_le_bytes());
    }

    fn read(buf: &[u8]) -> Option<Header> {
        if buf.len() < HEADER || buf[0..4] != MAGIC.to_le_bytes() {
            return None;
        }
        Some(Header {
            kind: buf[4],
            seq: u64::from_le_bytes(buf[8..16].try_into().ok()?),
            sent_ns: u64::from_le_bytes(buf[16..24].try_into().ok()?),
        })
    }
}

/// What one receiver saw of one sender.
#[derive(Debug, Default, Clone)]
struct SenderTrack {
    received: u64,
    bytes: u64,
    last_seq: u64,
    seq_errors: u64,
    /// The sender's last sequence number, once its DONE arrived.
    done_at: Option<u64>,
}

impl SenderTrack {
    fn on_data(&mut self, seq: u64, len: usize) {
        self.received += 1;
        self.bytes += len as u64;
        if seq != self.last_seq + 1 {
            self.seq_errors += 1;
        }
        self.last_seq = seq;
    }

    fn missing(&self) -> u64 {
        self.done_at.map_or(0, |d| d.saturating_sub(self.last_seq))
    }
}

/// What this instance received: per-sender sequence tracks and own-message latencies.
struct Receipts {
    me: (u32, u32),
    /// The clock the send times in the headers count from (own messages only).
    clock: Instant,
    senders: BTreeMap<(u32, u32), SenderTrack>,
    latencies: Vec<u64>,
    sampled: u64,
    first_rx: Option<Instant>,
    last_rx: Instant,
}

impl Receipts {
    fn new(me: (u32, u32), clock: Instant) -> Receipts {
        Receipts {
            me,
            clock,
            senders: BTreeMap::new(),
            latencies: Vec::new(),
            sampled: 0,
            first_rx: None,
            last_rx: Instant::now(),
        }
    }

    fn on_event(&mut self, ev: CpgEvent) {
        let at_ns = self.clock.elapsed().as_nanos() as u64;
        let CpgEvent::Deliver { nodeid, pid, data, .. } = ev else {
            return;
        };
        let Some(h) = Header::read(&data) else { return };
        let t = self.senders.entry((nodeid, pid)).or_default();
        match h.kind {
            DATA => {
                t.on_data(h.seq, data.len());
                self.first_rx.get_or_insert_with(Instant::now);
                self.last_rx = Instant::now();
                if (nodeid, pid) == self.me {
                    self.sampled += 1;
                    if self.latencies.len() < SAMPLES_MAX || self.sampled.is_multiple_of(2) {
                        self.latencies.push(at_ns.saturating_sub(h.sent_ns));
                    }
                }
            }
            DONE => t.done_at = Some(h.seq),
            _ => {}
        }
    }
}

/// Percentile of sorted samples.
fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

pub fn run(args: BenchArgs, json: bool) -> Result<()> {
    match args.command {
        BenchCommand::Cpg(b) => cpg(b, json),
        BenchCommand::Failover(b) => super::bench_failover::run(b, json),
    }
}

fn cpg(b: CpgBench, json: bool) -> Result<()> {
    if b.size < HEADER {
        bail!("--size must be at least {HEADER} (the bench header)");
    }
    let seconds = Duration::try_from_secs_f64(b.seconds).context("--seconds")?;
    let grace = Duration::try_from_secs_f64(b.grace).context("--grace")?;
    let options = b.daemon.options()?;
    let cpg = open("cpg", || Cpg::initialize_with(&options))?;
    cpg.join(&b.group).with_context(|| format!("join {}", b.group))?;
    let me = (cpg.local_get()?, cpg.pid());

    // Wait for the other instances. Deliveries dispatched in the same call as the last
    // join are kept: another instance may be sending already (it saw that join first).
    let clock = Instant::now();
    let mut receipts = Receipts::new(me, clock);
    let mut members = 0usize;
    let wait_end = Instant::now() + options.timeout.max(Duration::from_secs(30));
    while members < b.members {
        if Instant::now() > wait_end {
            bail!("only {members} of {} processes joined {}", b.members, b.group);
        }
        cpg.dispatch(DispatchFlags::All, |ev| match ev {
            CpgEvent::Confchg { members: m, .. } => members = m.len(),
            ev => receipts.on_event(ev),
        })?;
        if members < b.members {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    // Deliveries are handled on their own thread, as cpgbench2's thread mode and libcpg
    // users do, so that sending never stops to dispatch and the receiver never waits for a
    // burst of sends.
    let sender_finished = AtomicBool::new(false);
    let (seq, send_time, rx) = std::thread::scope(|scope| -> Result<(u64, Duration, Receipts)> {
        let receiver = scope.spawn(|| receive(&cpg, receipts, &sender_finished, grace, b.receive_only));
        let sent = send(&cpg, &b, seconds, clock, options.timeout);
        sender_finished.store(true, Ordering::Release);
        let rx = receiver
            .join()
            .map_err(|_| anyhow::anyhow!("the receive thread panicked"))??;
        let (seq, send_time) = sent?;
        Ok((seq, send_time, rx))
    })?;
    let _ = cpg.leave(&b.group);

    let Receipts {
        senders,
        mut latencies,
        first_rx,
        last_rx,
        ..
    } = rx;
    latencies.sort_unstable();
    let secs = send_time.as_secs_f64();
    let rx_span = first_rx.map_or(secs, |f| last_rx.duration_since(f).as_secs_f64().max(1e-9));
    let received: u64 = senders.values().map(|t| t.received).sum();
    let rx_bytes: u64 = senders.values().map(|t| t.bytes).sum();
    let seq_errors: u64 = senders.values().map(|t| t.seq_errors).sum();
    let missing: u64 = senders.values().map(SenderTrack::missing).sum();
    let unfinished = senders.values().filter(|t| t.done_at.is_none()).count();
    let ms = |ns: u64| ns as f64 / 1e6;
    let report = json!({
        "node": me.0,
        "pid": me.1,
        "group": b.group,
        "size": b.size,
        "rate": b.rate,
        "seconds": secs,
        "sent": seq,
        "sent_per_s": seq as f64 / secs,
        "sent_mb_per_s": (seq * b.size as u64) as f64 / secs / 1e6,
        "received": received,
        "received_per_s": received as f64 / rx_span,
        "received_mb_per_s": rx_bytes as f64 / rx_span / 1e6,
        "senders": senders.len(),
        "latency_ms": {
            "samples": latencies.len(),
            "p50": ms(percentile(&latencies, 0.50)),
            "p99": ms(percentile(&latencies, 0.99)),
            "max": ms(latencies.last().copied().unwrap_or(0)),
        },
        "seq_errors": seq_errors,
        "missing": missing,
        "unfinished_senders": unfinished,
    });
    if json {
        print_json(&report)?;
    } else {
        println!(
            "bench cpg: node {} group {} size {} B, {}, {:.1} s",
            me.0,
            b.group,
            b.size,
            if b.rate == 0 {
                "flat out".to_owned()
            } else {
                format!("{} msgs/s", b.rate)
            },
            secs
        );
        if !b.receive_only {
            println!(
                "sent      {seq} msgs  {:.0} msgs/s  {:.2} MB/s",
                report["sent_per_s"].as_f64().unwrap_or(0.0),
                report["sent_mb_per_s"].as_f64().unwrap_or(0.0)
            );
            println!(
                "latency   p50 {:.3} ms  p99 {:.3} ms  max {:.3} ms  (own messages, send to delivery; {} samples)",
                report["latency_ms"]["p50"].as_f64().unwrap_or(0.0),
                report["latency_ms"]["p99"].as_f64().unwrap_or(0.0),
                report["latency_ms"]["max"].as_f64().unwrap_or(0.0),
                latencies.len()
            );
        }
        println!(
            "received  {received} msgs from {} senders  {:.0} msgs/s  {:.2} MB/s",
            senders.len(),
            report["received_per_s"].as_f64().unwrap_or(0.0),
            report["received_mb_per_s"].as_f64().unwrap_or(0.0)
        );
        println!("sequence  {seq_errors} errors, {missing} missing, {unfinished} senders unfinished");
    }
    if seq_errors > 0 || missing > 0 || unfinished > 0 {
        return Err(Exit {
            code: FAILED,
            message: format!("{seq_errors} sequence errors, {missing} missing, {unfinished} senders unfinished"),
        }
        .into());
    }
    Ok(())
}

/// Sends for `seconds` (at `--rate`, or as fast as flow control allows), then the final
/// marker; returns how many were sent and for how long.
fn send(cpg: &Cpg, b: &CpgBench, seconds: Duration, clock: Instant, timeout: Duration) -> Result<(u64, Duration)> {
    let now_ns = || clock.elapsed().as_nanos() as u64;
    let start = Instant::now();
    let end = start + seconds;
    if b.receive_only {
        std::thread::sleep(seconds);
        return Ok((0, start.elapsed()));
    }
    let mut buf = vec![0xa5u8; b.size];
    let mut seq = 0u64;
    let interval = (b.rate > 0).then(|| Duration::from_secs_f64(1.0 / b.rate as f64));
    let mut next_send = start;
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        if interval.is_some() && now < next_send {
            std::thread::sleep(next_send - now);
            continue;
        }
        Header {
            kind: DATA,
            seq: seq + 1,
            sent_ns: now_ns(),
        }
        .write(&mut buf);
        match cpg.mcast_joined(Guarantee::Agreed, &buf) {
            Ok(()) => {
                seq += 1;
                if let Some(i) = interval {
                    next_send += i;
                }
            }
            Err(e) if e.cs_error() == CsError::TryAgain => std::thread::sleep(TRY_AGAIN_PAUSE),
            Err(e) => return Err(e).context("send"),
        }
    }
    let send_time = start.elapsed();
    let mut done = [0u8; HEADER];
    Header {
        kind: DONE,
        seq,
        sent_ns: now_ns(),
    }
    .write(&mut done);
    client::retry_try_again(Instant::now() + timeout, TRY_AGAIN_PAUSE, || {
        cpg.mcast_joined(Guarantee::Agreed, &done)
    })
    .context("send the final marker")?;
    Ok((seq, send_time))
}

/// Handles deliveries until the sender has finished and every sender seen has said it is
/// done, or `grace` after the sender finished.
fn receive(
    cpg: &Cpg,
    mut rx: Receipts,
    sender_finished: &AtomicBool,
    grace: Duration,
    receive_only: bool,
) -> Result<Receipts> {
    let mut drain_end = None;
    loop {
        if sender_finished.load(Ordering::Acquire) {
            let all_done = !rx.senders.is_empty()
                && rx.senders.values().all(|t| t.done_at.is_some_and(|d| t.last_seq >= d))
                && (receive_only || rx.senders.get(&rx.me).is_some_and(|t| t.done_at.is_some()));
            let deadline = *drain_end.get_or_insert_with(|| Instant::now() + grace);
            if all_done || Instant::now() >= deadline {
                return Ok(rx);
            }
        }
        if cpg.dispatch(DispatchFlags::All, |ev| rx.on_event(ev))? == 0 {
            poll_fd(cpg, RECEIVE_WAIT)?;
        }
    }
}

fn poll_fd(cpg: &Cpg, wait: Duration) -> Result<()> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    use std::os::fd::AsFd;
    let mut fds = [PollFd::new(cpg.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::try_from(wait).unwrap_or(PollTimeout::MAX)) {
        Ok(_) | Err(nix::errno::Errno::EINTR) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_foreign_messages_are_ignored() {
        let mut b = [0u8; 40];
        let h = Header {
            kind: DONE,
            seq: 7,
            sent_ns: 99,
        };
        h.write(&mut b);
        assert_eq!(Header::read(&b), Some(h));
        assert_eq!(Header::read(b"hello"), None);
        assert_eq!(Header::read(&[0u8; 40]), None);
    }

    #[test]
    fn sequence_tracking_counts_gaps_and_missing_tail() {
        let mut t = SenderTrack::default();
        for s in [1, 2, 4, 5] {
            t.on_data(s, 10);
        }
        assert_eq!(t.seq_errors, 1);
        t.done_at = Some(7);
        assert_eq!(t.missing(), 2);
        assert_eq!(percentile(&[1, 2, 3, 4, 100], 0.5), 3);
        assert_eq!(percentile(&[], 0.99), 0);
    }
}

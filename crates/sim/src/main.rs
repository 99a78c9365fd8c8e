//! `sim`: run one seed, sweep a seed range, or show the narrated demo.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant as WallClock;

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use sim::{run, SimOptions};
use totem::config::PlantedBug;

#[derive(Parser, Debug)]
#[command(name = "sim", about = "Deterministic Totem simulator (VOPR style)")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Run one seed.
    #[arg(long, conflicts_with = "seeds")]
    seed: Option<u64>,
    /// Sweep a half-open seed range, e.g. `0..2000`.
    #[arg(long)]
    seeds: Option<String>,
    /// Node count (2 to 128); by default each seed picks 3..=9. Beyond 9 nodes the token
    /// timeout grows by 30 ms per node (as corosync's token_coefficient adds 650 ms).
    #[arg(long, value_parser = clap::value_parser!(u64).range(2..=sim::run::MAX_NODES as u64))]
    nodes: Option<u64>,
    /// Print the timeline of a single run (twice, -vv: every datagram too).
    #[arg(short, long, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Worker threads for a sweep (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Plant a protocol bug in every node, to see the checkers catch it
    /// (`eager-silence`: the failure detector before issue 13; `skip-gap`: agreed delivery
    /// steps over a missing message; `swap-transitional`: the old ring's last messages come
    /// after the new regular configuration; `drop-recovery-resends`: RECOVERY re-sends
    /// nothing); or in node 1's host (`cpg-stale-downlist`: its CPG clients get the first
    /// transitional change of a group without one process of a departed node).
    #[arg(long, value_parser = parse_plant)]
    plant: Option<Plant>,
    /// Token visit limits `MAX_MESSAGES/WINDOW_SIZE` for every seed instead of its own
    /// (e.g. `512/1536`), to replay seeds under another default.
    #[arg(long, value_parser = parse_window)]
    window: Option<(u32, u32)>,
}

fn parse_window(s: &str) -> Result<(u32, u32), String> {
    let (m, w) = s
        .split_once('/')
        .ok_or_else(|| format!("expected MAX_MESSAGES/WINDOW_SIZE, got {s:?}"))?;
    let m: u32 = m.trim().parse().map_err(|e| format!("max_messages {m:?}: {e}"))?;
    let w: u32 = w.trim().parse().map_err(|e| format!("window_size {w:?}: {e}"))?;
    if m == 0 || w < m {
        return Err(format!("need 1 <= max_messages <= window_size, got {m}/{w}"));
    }
    Ok((m, w))
}

/// A planted bug: in every node's Totem, or in node 1's host (a service-level mutation).
#[derive(Clone, Copy, Debug)]
enum Plant {
    Protocol(PlantedBug),
    Host(sim::Mutation),
}

/// The planted bug, as [`SimOptions`] takes it.
fn planted(plant: Option<Plant>) -> (Option<PlantedBug>, Option<sim::Mutation>) {
    match plant {
        Some(Plant::Protocol(b)) => (Some(b), None),
        Some(Plant::Host(m)) => (None, Some(m)),
        None => (None, None),
    }
}

fn parse_plant(s: &str) -> Result<Plant, String> {
    match s {
        "eager-silence" => Ok(Plant::Protocol(PlantedBug::EagerSilence)),
        "skip-gap" => Ok(Plant::Protocol(PlantedBug::SkipGap)),
        "swap-transitional" => Ok(Plant::Protocol(PlantedBug::SwapTransitional)),
        "drop-recovery-resends" => Ok(Plant::Protocol(PlantedBug::DropRecoveryResends)),
        "cpg-stale-downlist" => Ok(Plant::Host(sim::Mutation::CpgStaleDownlist)),
        _ => Err(format!(
            "unknown planted bug {s:?} (known: eager-silence, skip-gap, swap-transitional, drop-recovery-resends, \
             cpg-stale-downlist)"
        )),
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// A narrated five-node run: formation, ordering, crash, re-formation, rejoin.
    Demo,
    /// Delivery latency under packet loss (virtual time; one sender at a fixed rate).
    Latency {
        /// Loss probability per datagram copy, e.g. 0.05.
        #[arg(long, default_value_t = 0.05)]
        loss: f64,
        /// Messages per second from the sender.
        #[arg(long, default_value_t = 100)]
        rate: u32,
        /// Sending node (1 = the ring's representative).
        #[arg(long, default_value_t = 1)]
        sender: usize,
        /// Measured virtual seconds.
        #[arg(long, default_value_t = 60)]
        secs: u64,
        /// Message size in bytes.
        #[arg(long, default_value_t = 64)]
        size: usize,
        /// One-way network latency in µs.
        #[arg(long, default_value_t = 100)]
        latency_us: u64,
        /// corosync `token` in ms (650 ms per node beyond two is added).
        #[arg(long, default_value_t = 3000)]
        token_ms: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

fn main() -> Result<ExitCode> {
    let cli = Cli::parse();
    let nodes = cli.nodes.map(|n| n as usize);
    match (&cli.command, cli.seed, &cli.seeds) {
        (Some(Command::Demo), _, _) => match sim::demo::demo() {
            Ok(text) => {
                print!("{text}");
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => {
                eprintln!("demo failed: {e}");
                Ok(ExitCode::FAILURE)
            }
        },
        (
            Some(Command::Latency {
                loss,
                rate,
                sender,
                secs,
                size,
                latency_us,
                token_ms,
                seed,
            }),
            _,
            _,
        ) => {
            let opts = sim::latency::LatencyOptions {
                nodes: nodes.unwrap_or(3),
                loss: *loss,
                latency: std::time::Duration::from_micros(*latency_us),
                jitter: std::time::Duration::from_micros(*latency_us / 2),
                rate: *rate,
                sender: *sender,
                size: *size,
                duration: std::time::Duration::from_secs(*secs),
                token: std::time::Duration::from_millis(*token_ms),
                seed: *seed,
            };
            let wall = WallClock::now();
            let report = sim::latency::measure(&opts);
            println!("{opts:?}");
            println!("{report}");
            println!("({:.1} s wall)", wall.elapsed().as_secs_f64());
            Ok(
                if report.membership_changes == 0 && report.delivered == report.submitted * (opts.nodes as u64 - 1) {
                    ExitCode::SUCCESS
                } else {
                    ExitCode::FAILURE
                },
            )
        }
        (None, Some(seed), None) => Ok(single(seed, nodes, cli.verbose, cli.plant, cli.window)),
        (None, None, Some(range)) => sweep(range, nodes, cli.threads, cli.plant, cli.window),
        _ => bail!("give --seed S, --seeds A..B or the demo subcommand (see --help)"),
    }
}

fn single(seed: u64, nodes: Option<usize>, verbose: u8, plant: Option<Plant>, window: Option<(u32, u32)>) -> ExitCode {
    let (planted_bug, mutation) = planted(plant);
    let opts = SimOptions {
        seed,
        nodes,
        verbose: verbose > 0,
        packets: verbose > 1,
        mutation,
        planted_bug,
        window,
    };
    let report = run(&opts);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "scenario: {}", report.scenario);
    for line in &report.timeline {
        let _ = writeln!(out, "{line}");
    }
    let _ = writeln!(out, "{}", report.summary());
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn parse_range(s: &str) -> Result<(u64, u64)> {
    let (a, b) = s.split_once("..").context("expected A..B")?;
    let (a, b): (u64, u64) = (
        a.trim().parse().context("range start")?,
        b.trim().parse().context("range end")?,
    );
    if b <= a {
        bail!("empty seed range {a}..{b}");
    }
    Ok((a, b))
}

/// One finished seed of a sweep.
struct Outcome {
    seed: u64,
    failure: Option<String>,
    virtual_secs: f64,
}

fn sweep(
    range: &str,
    nodes: Option<usize>,
    threads: Option<usize>,
    plant: Option<Plant>,
    window: Option<(u32, u32)>,
) -> Result<ExitCode> {
    let (planted_bug, mutation) = planted(plant);
    let (start, end) = parse_range(range)?;
    let threads = threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()))
        .max(1);
    // Panics are reported per seed; keep stderr quiet.
    std::panic::set_hook(Box::new(|_| {}));
    let wall = WallClock::now();
    // Workers claim disjoint chunks of the range; results are sorted by seed afterwards.
    const CHUNK: u64 = 8;
    let next = AtomicU64::new(start);
    let results = Mutex::new(Vec::with_capacity((end - start) as usize));
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let a = next.fetch_add(CHUNK, Ordering::Relaxed);
                if a >= end {
                    break;
                }
                let mut local = Vec::new();
                for seed in a..(a + CHUNK).min(end) {
                    let r = run(&SimOptions {
                        seed,
                        nodes,
                        planted_bug,
                        mutation,
                        window,
                        ..Default::default()
                    });
                    if r.failure.is_some() {
                        // At once, so that a long sweep stopped early still names its failures.
                        println!("failed: seed {seed}");
                    }
                    local.push(Outcome {
                        seed,
                        failure: r.failure.as_ref().map(|_| r.summary()),
                        virtual_secs: r.virtual_time.as_secs_f64(),
                    });
                }
                results
                    .lock()
                    .expect("no worker panics while holding the lock")
                    .extend(local);
            });
        }
    });
    let mut results = results.into_inner().expect("workers done");
    results.sort_by_key(|o| o.seed);
    let elapsed = wall.elapsed().as_secs_f64();
    let failed: Vec<&Outcome> = results.iter().filter(|o| o.failure.is_some()).collect();
    for o in &failed {
        println!("FAIL {}", o.failure.as_deref().unwrap_or_default());
        let override_nodes = nodes.map(|n| format!(" --nodes {n}")).unwrap_or_default();
        println!("  reproduce: sim --seed {}{override_nodes} -v", o.seed);
    }
    let virtual_secs: f64 = results.iter().map(|o| o.virtual_secs).sum();
    println!(
        "{} seeds on {threads} threads: {virtual_secs:.1} virtual s in {elapsed:.1} wall s ({:.1} seeds/s)",
        results.len(),
        results.len() as f64 / elapsed.max(1e-9)
    );
    if !failed.is_empty() {
        let seeds: Vec<String> = failed.iter().map(|o| o.seed.to_string()).collect();
        println!("failing seeds: {}", seeds.join(" "));
    }
    println!("{} passed, {} failed", results.len() - failed.len(), failed.len());
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

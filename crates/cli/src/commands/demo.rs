//! `ferrosync demo`: a 3-node cluster of real `ferrosyncd` processes on loopback
//! (127.0.0.1–3, one port) in a temporary directory: membership forming, `kill -9` of one
//! node and the ring re-forming, the node rejoining, a clean leave — with timings — then
//! everything stopped by PID and the directory removed.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use engine::local_cluster::{ClusterError, LocalCluster, NodeView, Spec};
use nix::sys::signal::Signal;

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// UDP port of every node (corosync's mcastport).
    #[arg(long, default_value_t = 5405)]
    port: u16,
    /// Base token timeout in ms (short, so failures are detected fast).
    #[arg(long, default_value_t = 1000)]
    token: u64,
    /// The ferrosyncd executable (default: next to this program).
    #[arg(long, value_name = "FILE")]
    daemon: Option<PathBuf>,
    /// Keep the temporary directory (configs, logs, status files) for inspection.
    #[arg(long)]
    keep: bool,
}

/// Bound of each wait: far above token + consensus, so a stuck demo still ends.
const WAIT: Duration = Duration::from_secs(30);

pub fn run(args: DemoArgs) -> Result<()> {
    let daemon = match args.daemon {
        Some(d) => d,
        None => {
            let exe = std::env::current_exe().context("locate this executable")?;
            exe.with_file_name("ferrosyncd")
        }
    };
    if !daemon.is_file() {
        bail!(
            "{} not found; build it next to ferrosync with `cargo build --release` (the whole workspace) or pass --daemon",
            daemon.display()
        );
    }
    if args.token < 100 {
        bail!(
            "--token {} is too short for a real network loop (at least 100 ms)",
            args.token
        );
    }
    for host in 1..=3 {
        let addr = std::net::SocketAddr::from(([127, 0, 0, host], args.port));
        if let Err(e) = std::net::UdpSocket::bind(addr) {
            bail!("cannot use {addr} ({e}); is a cluster engine running? Pick another with --port");
        }
    }
    let interrupted = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&interrupted)).context("install signal handler")?;
    }
    let demo = Demo {
        start: Instant::now(),
        interrupted,
    };
    let mut cluster = LocalCluster::start(Spec::new(daemon, 3, [127, 0, 0], args.port, args.token))?;
    cluster.keep_dir |= args.keep;
    demo.say(&format!(
        "3 ferrosyncd on 127.0.0.1-3 port {}, token {} ms, in {}",
        args.port,
        args.token,
        cluster.dir.display()
    ));
    for id in 1..=3 {
        demo.say(&format!("  node {id}: pid {}", cluster.pid(id).unwrap_or(0)));
    }
    let result = demo.script(&mut cluster);
    demo.say("stopping every node (SIGTERM by PID)");
    for id in 1..=3 {
        let _ = cluster.signal(id, Signal::SIGTERM);
    }
    for id in 1..=3 {
        let _ = cluster.wait_exit(id, Duration::from_secs(3));
    }
    let dir = cluster.dir.clone();
    let keep = cluster.keep_dir;
    drop(cluster);
    if keep {
        demo.say(&format!("kept {}", dir.display()));
    } else {
        demo.say(&format!("removed {}", dir.display()));
    }
    result
}

struct Demo {
    start: Instant,
    interrupted: Arc<AtomicBool>,
}

impl Demo {
    fn say(&self, what: &str) {
        println!("[{:7.3}s] {what}", self.start.elapsed().as_secs_f64());
    }

    fn script(&self, c: &mut LocalCluster) -> Result<()> {
        let (ring, took) = self.wait(c, &[1, 2, 3])?;
        self.say(&format!(
            "ring {} formed with members {:?} after {} ms",
            ring.ring_id,
            ring.members,
            took.as_millis()
        ));
        self.show(c);

        self.say("kill -9 node 3");
        c.kill(3)?;
        let (ring, took) = self.wait(c, &[1, 2])?;
        self.say(&format!(
            "ring re-formed as {} with members {:?}, {} ms after the kill (token timeout, then the silent node is given up on)",
            ring.ring_id,
            ring.members,
            took.as_millis()
        ));
        self.show(c);

        self.say("restarting node 3");
        let pid = c.start_node(3)?;
        let (ring, took) = self.wait(c, &[1, 2, 3])?;
        self.say(&format!(
            "node 3 (pid {pid}) rejoined: ring {} with members {:?} after {} ms",
            ring.ring_id,
            ring.members,
            took.as_millis()
        ));
        self.show(c);

        self.say("SIGTERM node 1: it sends a leave message");
        let sent = Instant::now();
        c.signal(1, Signal::SIGTERM)?;
        let (ring, _) = self.wait(c, &[2, 3])?;
        self.say(&format!(
            "ring re-formed as {} with members {:?} {} ms after the leave (no token timeout)",
            ring.ring_id,
            ring.members,
            sent.elapsed().as_millis()
        ));
        Ok(())
    }

    /// Waits for one ring of `members`, in short steps so Ctrl-C still cleans up.
    fn wait(&self, c: &LocalCluster, members: &[u32]) -> Result<(NodeView, Duration)> {
        let start = Instant::now();
        loop {
            if self.interrupted.load(Ordering::Relaxed) {
                bail!("interrupted");
            }
            match c.wait_for_ring(members, Duration::from_millis(100)) {
                Ok((view, _)) => return Ok((view, start.elapsed())),
                Err(ClusterError::Timeout { views, .. }) if start.elapsed() >= WAIT => {
                    bail!("no ring of {members:?} after {WAIT:?}; node views: {views:?}")
                }
                Err(ClusterError::Timeout { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn show(&self, c: &LocalCluster) {
        for id in 1..=c.spec.nodes {
            match c.view(id) {
                Some(v) if c.pid(id).is_some() => println!(
                    "            node {id}: {:<11} ring {:<6} members {:?}",
                    v.state, v.ring_id, v.members
                ),
                _ => println!("            node {id}: down"),
            }
        }
    }
}

//! `ferrosync demo`: a 3-node cluster of real `ferrosyncd` processes on loopback
//! (127.0.0.1–3, one port) in a temporary directory: membership forming, `kill -9` of one
//! node and the ring re-forming, the node rejoining, a clean leave — with timings — then
//! everything stopped by PID and the directory removed. As root, then the resource
//! manager: 3 nodes in network namespaces with a `ferrosync-crmd` each, a Dummy
//! resource started, its node killed, fenced by the test fence agent, and the Dummy
//! started elsewhere.

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
    /// Skip the resource-manager part (it needs root: network namespaces).
    #[arg(long)]
    no_crm: bool,
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
    let mut cluster = LocalCluster::start(Spec::new(daemon.clone(), 3, [127, 0, 0], args.port, args.token))?;
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
    let keep_all = args.keep;
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
    result?;
    if args.no_crm {
        return Ok(());
    }
    if !nix::unistd::geteuid().is_root() {
        demo.say("the resource-manager part needs root (network namespaces): run `sudo ferrosync demo` to see a resource fail over");
        return Ok(());
    }
    crm_demo(&demo, &daemon, args.token, keep_all)
}

/// The resource manager: a Dummy fails over when its node is killed.
fn crm_demo(demo: &Demo, daemon: &std::path::Path, token: u64, keep: bool) -> Result<()> {
    use crm_daemon::local::{dummy_agent, fence_agent_dir, LocalCrm, Programs};
    let crmd = daemon.with_file_name("ferrosync-crmd");
    if !crmd.is_file() {
        bail!("{} not found; build the whole workspace", crmd.display());
    }
    let scratch = tempfile::tempdir().context("temporary directory")?;
    let (ocf_root, (provider, kind)) = dummy_agent(scratch.path()).context("write the Dummy agent")?;
    let programs = Programs {
        ferrosyncd: daemon.to_path_buf(),
        crmd,
        fence_agents: fence_agent_dir(&scratch.path().join("fence-agents")).context("write the fence agent")?,
        ocf_root,
        tools: std::env::current_exe().ok(),
    };
    let spec = Spec {
        netns: Some(format!("fdemo{}-", std::process::id())),
        ..Spec::new(daemon.to_path_buf(), 3, [10, 213, 0], 5405, token)
    };
    demo.say("resource manager: 3 ferrosyncd in network namespaces, a ferrosync-crmd on each");
    let mut crm = LocalCrm::start(spec, programs)?;
    crm.cluster.keep_dir |= keep;
    demo.say(&format!("  in {}", crm.cluster.dir.display()));
    crm_script(demo, &mut crm, provider, kind)
}

fn crm_script(demo: &Demo, crm: &mut crm_daemon::local::LocalCrm, provider: &str, kind: &str) -> Result<()> {
    crm.wait_settled(&[1, 2, 3], WAIT).with_context(|| crm.logs(20))?;
    demo.say(&format!(
        "configuration: fencing with the test fence agent, one ocf:{provider}:{kind} with a 10 s monitor"
    ));
    let answer = crm.ask(1, &crm.dummy_config("dummy", (provider, kind), "60s"))?;
    if answer["ok"] != serde_json::json!(true) {
        bail!("the configuration was refused: {answer}");
    }
    let start = Instant::now();
    let at = demo.wait_for("the Dummy to start", || match crm.dummy_running("dummy").as_slice() {
        [n] => Some(*n),
        _ => None,
    })?;
    demo.say(&format!(
        "dummy started on node{at} after {} ms",
        start.elapsed().as_millis()
    ));
    // Its result recorded, the DC idle: the status shows it.
    crm.wait_settled(&[1, 2, 3], WAIT)?;
    print_status(crm, at)?;
    demo.say(&format!("kill -9 node{at} (its ferrosyncd and ferrosync-crmd)"));
    let killed = Instant::now();
    crm.power_off(at)?;
    let now_at = demo.wait_for("the Dummy to run elsewhere", || {
        match crm.dummy_running("dummy").as_slice() {
            [n] if *n != at => Some(*n),
            _ => None,
        }
    })?;
    let fenced = std::fs::read_to_string(crm.fence_dir.join("requests.log"))
        .unwrap_or_default()
        .lines()
        .any(|l| l.contains(&format!("node{at}")) && (l.contains("action=reboot") || l.contains("action=off")));
    demo.say(&format!(
        "node{at} {}; dummy started on node{now_at} {} ms after the kill",
        if fenced {
            "was fenced by the test fence agent"
        } else {
            "was not fenced (!)"
        },
        killed.elapsed().as_millis()
    ));
    let live: Vec<u32> = (1..=3).filter(|&n| n != at).collect();
    crm.wait_settled(&live, WAIT)?;
    print_status(crm, now_at)?;
    demo.say("stopping the resource manager and its cluster (by PID)");
    if crm.cluster.keep_dir {
        demo.say(&format!("kept {}", crm.cluster.dir.display()));
    }
    Ok(())
}

/// `ferrosync crm status` as node `n` sees it.
fn print_status(crm: &crm_daemon::local::LocalCrm, n: u32) -> Result<()> {
    let doc = crm.query(n)?;
    let cib = cib::Cib::from_element(doc.root().clone())?;
    let now = crm::simulate::system_clock();
    let opts = crm::mon::MonOptions {
        stack: Some("ferrosync".into()),
        last_updated: crm::mon::ctime(now),
        inactive: true,
        node_attributes: false,
        fail_counts: false,
    };
    let at = scheduler::Options::at(now).in_zone(cib::time::local_zone());
    for line in crm::mon::status(&cib, &at).text(&opts).lines() {
        println!("            {line}");
    }
    Ok(())
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

    /// Polls `f` until it gives a value (bounded by [`WAIT`], Ctrl-C aware).
    fn wait_for<T>(&self, what: &str, mut f: impl FnMut() -> Option<T>) -> Result<T> {
        let start = Instant::now();
        loop {
            if self.interrupted.load(Ordering::Relaxed) {
                bail!("interrupted");
            }
            if let Some(v) = f() {
                return Ok(v);
            }
            if start.elapsed() >= WAIT {
                bail!("no sign of {what} after {WAIT:?}");
            }
            std::thread::sleep(Duration::from_millis(50));
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

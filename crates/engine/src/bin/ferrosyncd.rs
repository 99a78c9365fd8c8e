//! `ferrosyncd`: the cluster engine daemon (corosync-compatible udpu Totem).

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use clap::Parser;
use engine::blackbox;
use engine::conf::{ClusterConfig, SchedRr, TransportKind};
use engine::daemon::Daemon;
use engine::pidfile::PidFile;
use engine::startup::Startup;

#[derive(Parser, Debug)]
#[command(name = "ferrosyncd", version, about = "ferrosync cluster engine daemon")]
struct Args {
    /// Stay in the foreground (do not daemonize).
    #[arg(short = 'f')]
    foreground: bool,
    /// Configuration file (corosync.conf syntax) [default: /etc/ferrosync/corosync.conf, or
    /// /etc/corosync/corosync.conf if only that exists].
    #[arg(short = 'c', value_name = "FILE")]
    config: Option<PathBuf>,
    /// Test the configuration and exit.
    #[arg(short = 't')]
    test: bool,
    /// PID file.
    #[arg(
        short = 'p',
        long = "pidfile",
        value_name = "FILE",
        default_value = "/run/ferrosyncd.pid"
    )]
    pidfile: PathBuf,
    /// This node's nodeid (needed when several nodelist addresses are local, e.g. on loopback).
    #[arg(long)]
    nodeid: Option<u32>,
    /// State directory for ringid_<nodeid> and status.json (overrides system.state_dir).
    #[arg(long, value_name = "DIR")]
    statedir: Option<PathBuf>,
    /// Log debug messages whatever logging.debug says.
    #[arg(short = 'd', long)]
    debug: bool,
    /// Do not serve the libqb IPC (corosync's client libraries, Pacemaker): for several
    /// daemons in one network namespace, where only one can own the service names.
    #[arg(long)]
    no_ipc: bool,
    /// Always run at the highest SCHED_RR real-time priority (corosync's default and `-r`;
    /// `system.sched_rr: yes`). By default ferrosyncd leaves it while its clients are busy and
    /// its loop runs on time (`sched_rr: auto`).
    #[arg(short = 'r', long, overrides_with = "no_realtime")]
    realtime: bool,
    /// Never run at real-time priority (corosync's `-p`, `system.sched_rr: no`; here `-p`
    /// names the pid file).
    #[arg(long)]
    no_realtime: bool,
    /// Do not lock the daemon's memory (corosync always tries `mlockall`).
    #[arg(long)]
    no_mlockall: bool,
    /// Write the man page ferrosyncd.8 into DIR and exit (packaging).
    #[arg(long, value_name = "DIR", hide = true)]
    generate_man: Option<PathBuf>,
}

fn main() {
    let args = Args::parse();
    if let Some(dir) = &args.generate_man {
        if let Err(e) = write_man(dir) {
            eprintln!("ferrosyncd: error: {e:#}");
            std::process::exit(1);
        }
        return;
    }
    let mut startup = Startup::from_env();
    if let Err(e) = run(args, &mut startup) {
        // In the background the parent prints it; in the foreground we do.
        startup.failed(&format!("{e:#}"));
        tracing::error!("{e:#}");
        eprintln!("ferrosyncd: error: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: Args, startup: &mut Startup) -> Result<()> {
    let config = args
        .config
        .clone()
        .unwrap_or_else(|| engine::conf::first_existing(&engine::conf::DEFAULT_CONFIGS));
    let conf = ClusterConfig::load(&config)?;
    for w in &conf.warnings {
        eprintln!("ferrosyncd: warning: {w}");
    }
    let node_id = match args.nodeid {
        Some(id) if conf.node(id).is_some() => Ok(id),
        Some(id) => bail!("{}: nodeid {id} is not in the nodelist", conf.file),
        None => conf
            .find_local_node()
            .map_err(|e| anyhow::anyhow!("{}: {e}", conf.file)),
    };
    if args.test && conf.crypto {
        // The daemon would refuse this key at start-up: say so now.
        let key = std::fs::read(&conf.keyfile).with_context(|| format!("keyfile {}", conf.keyfile.display()))?;
        transport::crypto::Crypto::new(&key, 1, 0)
            .map_err(|e| anyhow::anyhow!("keyfile {}: {e}", conf.keyfile.display()))?;
    }
    if args.test {
        // Like `corosync -t`, a config written for another host still checks out.
        let node = match &node_id {
            Ok(id) => format!("node {id}"),
            Err(e) => format!("local node unknown here: {e:#}"),
        };
        println!(
            "{}: configuration OK ({node}, {} nodes, token {} ms, consensus {} ms)",
            conf.file,
            conf.nodes.len(),
            conf.totem.token.as_millis(),
            conf.totem.consensus.as_millis()
        );
        return Ok(());
    }
    let node_id = node_id?;
    if conf.transport != TransportKind::Udpu {
        eprintln!("ferrosyncd: warning: running udpu although the configuration asks for another transport");
    }
    let state_dir = args
        .statedir
        .clone()
        .or_else(|| conf.state_dir.clone())
        .unwrap_or_else(|| PathBuf::from("/var/lib/ferrosync"));
    if !args.foreground {
        // Runs us again with -f in the background and exits with its start-up verdict.
        Startup::daemonize().context("start in the background")?;
    }
    engine::logging::init(&conf, args.debug || conf.logging.debug, args.foreground);
    std::fs::create_dir_all(&state_dir).with_context(|| format!("create {}", state_dir.display()))?;
    // Ring ids, status and flight-recorder dumps are the daemon's own: 0700 (as corosync's
    // /var/lib/corosync).
    std::fs::set_permissions(&state_dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .with_context(|| format!("chmod 0700 {}", state_dir.display()))?;
    blackbox::recorder().set_dump_dir(&state_dir);
    blackbox::install_panic_hook();
    let pid_guard = PidFile::acquire(&args.pidfile)?;
    // As corosync: memory locked and real-time round robin, so that paging and busy
    // neighbours do not delay the token; by default not while its own clients are busy.
    if !args.no_mlockall {
        engine::realtime::lock_memory();
    }
    let scheduling = conf.scheduling;
    let sched_rr = match (args.realtime, args.no_realtime) {
        (_, true) => SchedRr::No,
        (true, _) => SchedRr::Yes,
        _ => scheduling.sched_rr,
    };
    let mut daemon = Daemon::new(conf, node_id, state_dir, !args.no_ipc)?;
    let realtime = match sched_rr {
        SchedRr::Yes => engine::realtime::realtime_priority(),
        SchedRr::Auto => daemon.adapt_priority(scheduling.nice),
        SchedRr::No => false,
    };
    if sched_rr != SchedRr::No && !realtime {
        // As corosync: the highest priority of the normal policy if real-time is refused.
        engine::realtime::normal_priority(Some(-20));
    } else if sched_rr == SchedRr::No && scheduling.nice.is_some() {
        engine::realtime::normal_priority(scheduling.nice);
    }
    startup.ready();
    // Under systemd (Type=notify): the sockets are bound, clients may connect.
    if let Err(e) = engine::sdnotify::ready(&format!("node {node_id} started")) {
        tracing::warn!(error = %e, "could not notify systemd");
    }
    let result = daemon.run();
    drop(pid_guard);
    result.map_err(Into::into)
}

/// ferrosyncd.8 from the option definitions above, so it never drifts from `--help`.
fn write_man(dir: &std::path::Path) -> Result<()> {
    use clap::CommandFactory;
    let mut out = Vec::new();
    clap_mangen::Man::new(Args::command()).section("8").render(&mut out)?;
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let path = dir.join("ferrosyncd.8");
    std::fs::write(&path, out).with_context(|| format!("write {}", path.display()))?;
    Ok(())
}

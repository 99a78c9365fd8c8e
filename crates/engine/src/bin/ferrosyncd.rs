//! `ferrosyncd`: the cluster engine daemon (corosync-compatible udpu Totem).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use clap::Parser;
use engine::blackbox::{self, BlackboxLayer};
use engine::conf::{ClusterConfig, TransportKind};
use engine::daemon::Daemon;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

#[derive(Parser, Debug)]
#[command(name = "ferrosyncd", version, about = "ferrosync cluster engine daemon")]
struct Args {
    /// Stay in the foreground (do not daemonize).
    #[arg(short = 'f')]
    foreground: bool,
    /// Configuration file (corosync.conf syntax).
    #[arg(short = 'c', value_name = "FILE", default_value = "/etc/ferrosync/corosync.conf")]
    config: PathBuf,
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
    /// Run at the highest SCHED_RR real-time priority (the default, as corosync's `-r`).
    #[arg(short = 'r', long, overrides_with = "no_realtime")]
    realtime: bool,
    /// Keep the normal scheduling policy (corosync's `-p`; here `-p` names the pid file).
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
    if let Err(e) = run(args) {
        eprintln!("ferrosyncd: error: {e:#}");
        std::process::exit(1);
    }
}

fn run(args: Args) -> Result<()> {
    let conf = ClusterConfig::load(&args.config)?;
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
        // Fork before any thread or socket exists; stdio goes to /dev/null.
        nix::unistd::daemon(true, false).context("daemonize")?;
    }
    init_logging(&conf, args.debug || conf.logging.debug, args.foreground);
    std::fs::create_dir_all(&state_dir).with_context(|| format!("create {}", state_dir.display()))?;
    blackbox::recorder().set_dump_dir(&state_dir);
    blackbox::install_panic_hook();
    let pid_guard = PidFile::create(&args.pidfile)?;
    // As corosync: memory locked and real-time round robin, so that paging and busy
    // neighbours do not delay the token.
    if !args.no_mlockall {
        engine::realtime::lock_memory();
    }
    if !args.no_realtime {
        engine::realtime::realtime_priority();
    }
    let result = Daemon::new(conf, node_id, state_dir, !args.no_ipc).and_then(|daemon| {
        // Under systemd (Type=notify): the sockets are bound, clients may connect.
        if let Err(e) = engine::sdnotify::ready(&format!("node {node_id} started")) {
            tracing::warn!(error = %e, "could not notify systemd");
        }
        daemon.run()
    });
    drop(pid_guard);
    result.map_err(Into::into)
}

/// Removes the pid file when the daemon exits normally.
struct PidFile(PathBuf);

impl PidFile {
    fn create(path: &std::path::Path) -> Result<Self> {
        if let Ok(text) = std::fs::read_to_string(path) {
            if let Ok(pid) = text.trim().parse::<i32>() {
                let alive = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok();
                if alive && pid != std::process::id() as i32 {
                    bail!("{}: another ferrosyncd (pid {pid}) is running", path.display());
                }
            }
        }
        std::fs::write(path, format!("{}\n", std::process::id()))
            .with_context(|| format!("write pid file {}", path.display()))?;
        Ok(PidFile(path.to_owned()))
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Where log lines go: stderr and/or the configured log file.
#[derive(Clone)]
struct Sink {
    stderr: bool,
    /// Write to the log file (`engine::logfile`, reopened on SIGHUP).
    file: bool,
    /// `/dev/log`, non-blocking: a slow syslog daemon loses lines instead of stalling the loop.
    syslog: Option<Arc<std::os::unix::net::UnixDatagram>>,
}

/// syslog priority (facility daemon) from the level word of a formatted line.
fn syslog_priority(line: &str) -> u8 {
    let head = &line[..line.len().min(48)];
    let severity = if head.contains(" ERROR ") {
        3
    } else if head.contains(" WARN ") {
        4
    } else if head.contains(" DEBUG ") || head.contains(" TRACE ") {
        7
    } else {
        6
    };
    (3 << 3) | severity
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.stderr {
            let _ = std::io::stderr().write_all(buf);
        }
        if self.file {
            engine::logfile::write(buf);
        }
        if let Some(sock) = &self.syslog {
            let line = String::from_utf8_lossy(buf);
            let line = line.trim_end();
            let msg = format!("<{}>ferrosyncd[{}]: {line}", syslog_priority(line), std::process::id());
            let _ = sock.send(msg.as_bytes());
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn init_logging(conf: &ClusterConfig, debug: bool, foreground: bool) {
    if conf.logging.to_logfile {
        if let Some(path) = &conf.logging.logfile {
            if let Err(e) = engine::logfile::open(path) {
                eprintln!("ferrosyncd: warning: cannot open log file {}: {e}", path.display());
            }
        }
    }
    let file = engine::logfile::is_open();
    let syslog = if conf.logging.to_syslog {
        let sock = std::os::unix::net::UnixDatagram::unbound()
            .and_then(|s| s.connect("/dev/log").map(|()| s))
            .and_then(|s| s.set_nonblocking(true).map(|()| s));
        match sock {
            Ok(s) => Some(Arc::new(s)),
            Err(e) => {
                eprintln!("ferrosyncd: warning: logging.to_syslog: cannot reach /dev/log: {e}");
                None
            }
        }
    } else {
        None
    };
    let sink = Sink {
        stderr: conf.logging.to_stderr || foreground,
        file,
        syslog,
    };
    let level = if debug { LevelFilter::DEBUG } else { LevelFilter::INFO };
    // The flight recorder sees debug events whatever the configured level.
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .with_filter(level);
    tracing_subscriber::registry()
        .with(fmt)
        .with(BlackboxLayer.with_filter(LevelFilter::DEBUG))
        .init();
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

#[cfg(test)]
mod tests {
    use super::syslog_priority;

    #[test]
    fn syslog_priority_follows_the_level() {
        assert_eq!(
            syslog_priority("2026-11-23T16:54:49.928597Z  INFO engine::daemon: x"),
            30
        );
        assert_eq!(
            syslog_priority("2026-11-23T16:54:49.928597Z ERROR engine::daemon: x"),
            27
        );
        assert_eq!(
            syslog_priority("2026-11-23T16:54:49.928597Z  WARN engine::daemon: x"),
            28
        );
        assert_eq!(
            syslog_priority("2026-11-23T16:54:49.928597Z DEBUG engine::daemon: x"),
            31
        );
        assert_eq!(syslog_priority(""), 30);
    }
}

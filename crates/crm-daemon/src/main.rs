//! `ferrosync-crmd`: see the library documentation (`crm_daemon`).

use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use crm_daemon::host::{self, HostConfig, SignalFlags};
use crm_daemon::tools::ToolsSource;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// ferrosync's cluster resource manager: keeps the CIB replicated over ferrosyncd's CPG,
/// runs resource and fence agents, and moves resources when nodes or resources fail.
#[derive(Parser, Debug)]
#[command(name = "ferrosync-crmd", version)]
struct Args {
    /// This node's name (default: nodelist.node.X.name of the local node, else the hostname).
    #[arg(long)]
    uname: Option<String>,
    /// Where the CIB is kept (cib.xml, its digest and backups).
    #[arg(long, default_value = "/var/lib/ferrosync/crm")]
    state_dir: PathBuf,
    /// The control socket (JSON lines) for the command line.
    #[arg(long, default_value = "/run/ferrosync/crm.sock")]
    socket: PathBuf,
    /// HA_RSCTMP for the agents (their own default, /run/resource-agents, if unset).
    #[arg(long)]
    rsctmp: Option<PathBuf>,
    /// More environment for the agents, KEY=VALUE (repeatable).
    #[arg(long = "agent-env", value_parser = parse_env)]
    agent_env: Vec<(String, String)>,
    /// The `ferrosync` binary agents run as crm_attribute, crm_master, attrd_updater and
    /// crm_node (linked under STATE_DIR/sbin), or a directory that holds them, or `none`
    /// (default: `ferrosync` beside this program, else in ../bin or /usr/bin).
    #[arg(long)]
    tools: Option<PathBuf>,
    /// OCF_ROOT.
    #[arg(long, default_value = "/usr/lib/ocf")]
    ocf_root: PathBuf,
    /// Where fence agents named without a path are.
    #[arg(long, default_value = "/usr/sbin")]
    fence_agent_dir: PathBuf,
    /// Timeout of a fencing action without pcmk_<action>_timeout, in seconds.
    #[arg(long, default_value_t = 60)]
    stonith_timeout: u64,
    /// How long to wait for ferrosyncd at start, in seconds.
    #[arg(long, default_value_t = 60)]
    connect_timeout: u64,
    /// How long a clean shutdown (SIGTERM: the DC stops this node's resources) may take
    /// before the process leaves anyway, in seconds; a second SIGTERM leaves at once.
    #[arg(long, default_value_t = 120)]
    shutdown_timeout: u64,
    /// Log to this file instead of stderr (SIGHUP reopens it).
    #[arg(long)]
    log_file: Option<PathBuf>,
    /// error, warn, info, debug or trace.
    #[arg(long, default_value = "info")]
    log_level: tracing::Level,
    /// Write the man page ferrosync-crmd.8 into DIR and exit (packaging).
    #[arg(long, value_name = "DIR", hide = true)]
    generate_man: Option<PathBuf>,
}

fn write_man(dir: &std::path::Path) -> anyhow::Result<()> {
    use clap::CommandFactory;
    let mut out = Vec::new();
    clap_mangen::Man::new(Args::command()).section("8").render(&mut out)?;
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let path = dir.join("ferrosync-crmd.8");
    std::fs::write(&path, out).with_context(|| format!("write {}", path.display()))?;
    Ok(())
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() && !k.contains('\0') && !v.contains('\0') => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("'{s}' is not KEY=VALUE")),
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(dir) = &args.generate_man {
        return write_man(dir);
    }
    crm_daemon::logging::init(args.log_level, args.log_file.as_deref()).context("open the log file")?;
    let flags = SignalFlags {
        term: Arc::new(AtomicBool::new(false)),
        hup: Arc::new(AtomicBool::new(false)),
    };
    let (signal_rx, signal_tx) = UnixStream::pair().context("signal pipe")?;
    signal_rx.set_nonblocking(true)?;
    signal_tx.set_nonblocking(true)?;
    for sig in [SIGTERM, SIGINT] {
        signal_hook::flag::register(sig, flags.term.clone()).context("signal handler")?;
    }
    signal_hook::flag::register(SIGHUP, flags.hup.clone()).context("signal handler")?;
    for sig in [SIGTERM, SIGINT, SIGHUP] {
        signal_hook::low_level::pipe::register(sig, signal_tx.try_clone()?).context("signal handler")?;
    }
    let cfg = HostConfig {
        uname: args.uname,
        state_dir: args.state_dir,
        socket: args.socket,
        rsctmp: args.rsctmp,
        agent_env: args.agent_env,
        ocf_root: args.ocf_root,
        tools: match args.tools {
            None => ToolsSource::find(),
            Some(p) if p.as_os_str() == "none" => None,
            Some(p) if p.is_dir() => Some(ToolsSource::Dir(p)),
            Some(p) if p.is_file() => Some(ToolsSource::Binary(p)),
            Some(p) => anyhow::bail!("--tools {}: no such file or directory", p.display()),
        },
        fence_agent_dir: args.fence_agent_dir,
        stonith_timeout: Duration::from_secs(args.stonith_timeout),
        connect_timeout: Duration::from_secs(args.connect_timeout),
        shutdown_timeout: Duration::from_secs(args.shutdown_timeout),
    };
    let result = host::run(cfg, flags, signal_rx);
    if let Err(e) = &result {
        tracing::error!("{e:#}");
    }
    result
}

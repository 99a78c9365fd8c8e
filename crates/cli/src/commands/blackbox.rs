//! `ferrosync blackbox`: prints a flight recorder dump, or first asks the running daemon for
//! one (SIGUSR2 to the pid in its status file, then waits for `<statedir>/fdata`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use engine::blackbox;

#[derive(Args, Debug)]
pub struct BlackboxArgs {
    /// A dump file (default: `<statedir>/fdata`).
    file: Option<PathBuf>,
    /// Ask the running daemon to dump its recorder first.
    #[arg(long)]
    dump: bool,
    /// The daemon's state directory.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/ferrosync")]
    statedir: PathBuf,
}

pub fn run(args: BlackboxArgs) -> Result<()> {
    let file = args
        .file
        .clone()
        .unwrap_or_else(|| args.statedir.join(blackbox::DUMP_NAME));
    if args.dump {
        request_dump(&args.statedir, &file)?;
    }
    let bytes = std::fs::read(&file).with_context(|| format!("read {}", file.display()))?;
    let records = blackbox::parse_dump(&bytes).with_context(|| file.display().to_string())?;
    for r in &records {
        println!(
            "{} {:<5} {}",
            blackbox::format_time(r.unix_ns),
            blackbox::level_name(r.level),
            r.text
        );
    }
    eprintln!("{} records from {}", records.len(), file.display());
    Ok(())
}

fn request_dump(statedir: &std::path::Path, file: &std::path::Path) -> Result<()> {
    let status = engine::status::read(statedir)
        .with_context(|| format!("read the daemon's status in {}", statedir.display()))?;
    let pid = status["pid"]
        .as_u64()
        .and_then(|p| i32::try_from(p).ok())
        .filter(|p| *p > 0);
    let Some(pid) = pid else {
        bail!("status file has no valid pid")
    };
    let before = std::fs::metadata(file).and_then(|m| m.modified()).ok();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGUSR2)
        .with_context(|| format!("signal ferrosyncd (pid {pid})"))?;
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        let now = std::fs::metadata(file).and_then(|m| m.modified()).ok();
        if now.is_some() && now != before {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("ferrosyncd (pid {pid}) did not write {} within 5 s", file.display())
}

//! `ferrosync blackbox`: prints a flight recorder dump, or first asks the running daemon for
//! one over IPC, as `corosync-blackbox` does: it sets cmap's
//! `runtime.blackbox.dump_flight_data` to `yes`; the daemon writes `<statedir>/fdata` and
//! sets the key back to `no`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use client::cmap::{Cmap, Map, Value};
use engine::blackbox;

use crate::daemon::{open, DaemonArgs};

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
    #[command(flatten)]
    daemon: DaemonArgs,
}

pub fn run(args: BlackboxArgs, json: bool) -> Result<()> {
    let file = args
        .file
        .clone()
        .unwrap_or_else(|| args.statedir.join(blackbox::DUMP_NAME));
    if args.dump {
        request_dump(&args.daemon)?;
    }
    let bytes = std::fs::read(&file).with_context(|| format!("read {}", file.display()))?;
    let records = blackbox::parse_dump(&bytes).with_context(|| file.display().to_string())?;
    if json {
        let list: Vec<_> = records
            .iter()
            .map(|r| serde_json::json!({"time": blackbox::format_time(r.unix_ns), "level": blackbox::level_name(r.level), "text": r.text}))
            .collect();
        println!("{}", serde_json::Value::from(list));
        return Ok(());
    }
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

fn request_dump(daemon: &DaemonArgs) -> Result<()> {
    const KEY: &str = "runtime.blackbox.dump_flight_data";
    let options = daemon.options()?;
    let cmap = open("cmap", || Cmap::initialize_with(Map::Icmap, &options))?;
    cmap.set(KEY, &Value::String("yes".into()))
        .context("ask the daemon for a dump")?;
    let end = Instant::now() + options.timeout;
    while Instant::now() < end {
        match cmap.get(KEY) {
            Ok(Value::String(s)) if s == "yes" => {}
            Ok(_) => return Ok(()),
            Err(e) => return Err(e).context("wait for the dump"),
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    bail!("the daemon did not write its dump within {:?}", options.timeout)
}

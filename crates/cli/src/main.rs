//! `ferrosync`: the command-line tool. Each subcommand lives in its own module under
//! `commands/`; the exit status is documented in `exit.rs`.

// mimalloc (without transparent huge pages, which cost a 2 MiB page clear
// in every short run): the simulation allocates many small strings and
// vectors, and in-process (`crm bench`, `crm conformance`) it takes a third
// less time than with glibc's malloc.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod commands;
mod compat;
mod daemon;
mod exit;
mod man;
mod simulate;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "ferrosync", version, about = "ferrosync cluster stack tool")]
struct Cli {
    /// Print the result as JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// The local node's ring, members, quorum and links to every peer (exit 3: no daemon
    /// answers; 4: not quorate).
    Status(commands::status::StatusArgs),
    /// Read, change and track the configuration and runtime map.
    Cmap(commands::cmap::CmapArgs),
    /// Quorum state, votes and expected votes.
    Quorum(commands::quorum::QuorumArgs),
    /// Process groups: list, members, send, listen.
    Cpg(commands::cpg::CpgArgs),
    /// Links, configuration reload, shutdown, kill-node, log reopening.
    Cfg(commands::cfg::CfgArgs),
    /// Benchmarks through the client library.
    Bench(commands::bench::BenchArgs),
    /// Resource manager tools (scheduler simulation, conformance).
    Crm(commands::crm::CrmArgs),
    /// Start a local 3-node cluster, kill and restart a node, show the timings.
    Demo(commands::demo::DemoArgs),
    /// Generate the cluster's shared authentication key.
    Keygen(commands::keygen::KeygenArgs),
    /// Print a flight recorder dump (`--dump` asks the running daemon for one first).
    Blackbox(commands::blackbox::BlackboxArgs),
    /// Write the man pages (ferrosync.1 and one per subcommand) into a directory.
    #[command(hide = true)]
    Man {
        /// Where to write them.
        dir: std::path::PathBuf,
    },
}

fn main() {
    // Run as crm_attribute, crm_master, attrd_updater or crm_node (links made by
    // ferrosync-crmd for the resource agents).
    let mut args = std::env::args_os();
    if let Some(tool) = args.next().as_ref().and_then(compat::tool_named) {
        std::process::exit(compat::run(tool, args.collect()));
    }
    let cli = Cli::parse();
    let json = cli.json;
    let result = match cli.command {
        Command::Status(args) => commands::status::run(args, json),
        Command::Cmap(args) => commands::cmap::run(args, json),
        Command::Quorum(args) => commands::quorum::run(args, json),
        Command::Cpg(args) => commands::cpg::run(args, json),
        Command::Cfg(args) => commands::cfg::run(args, json),
        Command::Bench(args) => commands::bench::run(args, json),
        Command::Crm(args) => commands::crm::run(args),
        Command::Demo(args) => commands::demo::run(args),
        Command::Keygen(args) => commands::keygen::run(args, json),
        Command::Blackbox(args) => commands::blackbox::run(args, json),
        Command::Man { dir } => man::write_all(<Cli as clap::CommandFactory>::command(), &dir),
    };
    if let Err(e) = result {
        if json {
            println!(
                "{}",
                serde_json::json!({"error": format!("{e:#}"), "exit": exit::code_of(&e)})
            );
        }
        eprintln!("ferrosync: {e:#}");
        std::process::exit(exit::code_of(&e));
    }
}

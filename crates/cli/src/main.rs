//! `ferrosync`: the command-line tool. Each subcommand lives in its own
//! module under `commands/`.

mod commands;

use anyhow::Result;
use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "ferrosync", version, about = "ferrosync cluster stack tool")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Resource manager tools (scheduler simulation, conformance).
    Crm(commands::crm::CrmArgs),
    /// Start a local 3-node cluster, kill and restart a node, show the timings.
    Demo(commands::demo::DemoArgs),
    /// Show the local daemon's membership, ring id, state and links.
    Status(commands::status::StatusArgs),
    /// Generate the cluster's shared authentication key.
    Keygen(commands::keygen::KeygenArgs),
    /// Print a flight recorder dump (`--dump` asks the running daemon for one first).
    Blackbox(commands::blackbox::BlackboxArgs),
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Crm(args) => commands::crm::run(args),
        Command::Demo(args) => commands::demo::run(args),
        Command::Status(args) => commands::status::run(args),
        Command::Keygen(args) => commands::keygen::run(args),
        Command::Blackbox(args) => commands::blackbox::run(args),
    }
}

//! `ferrosync quorum`: quorum state and votes, as `corosync-quorumtool` shows and sets them.

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use client::votequorum::Votequorum;

use super::view::{flag_names, View};
use crate::daemon::{open, print_json, DaemonArgs};
use crate::exit::{Exit, NOT_QUORATE};

#[derive(Args, Debug)]
pub struct QuorumArgs {
    #[command(subcommand)]
    command: QuorumCommand,
    #[command(flatten)]
    daemon: DaemonArgs,
}

#[derive(Subcommand, Debug)]
enum QuorumCommand {
    /// Quorum, votes and members (`corosync-quorumtool -s`); exit 4 if not quorate.
    Status,
    /// The members and their votes (`corosync-quorumtool -l`).
    List,
    /// Print the status again at every change (`corosync-quorumtool -m`).
    Monitor {
        /// Stop after this many reports (default: run until interrupted).
        #[arg(long, value_name = "N")]
        count: Option<u64>,
    },
    /// Set a node's votes (`corosync-quorumtool -v VOTES -n NODEID`).
    SetVotes {
        votes: u32,
        /// The node (default: the local node).
        #[arg(long, value_name = "NODEID", default_value_t = 0)]
        node: u32,
    },
    /// Set the expected votes (`corosync-quorumtool -e`).
    SetExpected { votes: u32 },
}

pub fn run(args: QuorumArgs, json: bool) -> Result<()> {
    let options = args.daemon.options()?;
    match args.command {
        QuorumCommand::Status => {
            let view = View::gather(&options)?;
            if json {
                print_json(&view.to_json())?;
            } else {
                print!("{}", render_status(&view));
            }
            quorate_or_exit(&view)
        }
        QuorumCommand::List => {
            let view = View::gather(&options)?;
            if json {
                print_json(&view.to_json()["nodes"])?;
            } else {
                print!("{}", render_members(&view));
            }
            Ok(())
        }
        QuorumCommand::Monitor { count } => monitor(&options, json, count),
        QuorumCommand::SetVotes { votes, node } => {
            if votes == 0 {
                bail!("votes must be at least 1");
            }
            let vq = open("votequorum", || Votequorum::initialize_with(&options))?;
            vq.set_votes(node, votes).context("set votes")?;
            if json {
                print_json(&serde_json::json!({"node": node, "votes": votes}))?;
            }
            Ok(())
        }
        QuorumCommand::SetExpected { votes } => {
            if votes == 0 {
                bail!("expected votes must be at least 1");
            }
            let vq = open("votequorum", || Votequorum::initialize_with(&options))?;
            vq.set_expected(votes).context("set expected votes")?;
            if json {
                print_json(&serde_json::json!({"expected_votes": votes}))?;
            }
            Ok(())
        }
    }
}

/// Exit status 4 when the partition is not quorate.
pub fn quorate_or_exit(view: &View) -> Result<()> {
    if view.quorate {
        return Ok(());
    }
    Err(Exit {
        code: NOT_QUORATE,
        message: format!("node {} is not in a quorate partition", view.local),
    }
    .into())
}

fn monitor(options: &client::Options, json: bool, count: Option<u64>) -> Result<()> {
    use client::quorum::Quorum;
    use client::{DispatchFlags, TrackFlags};
    let q = open("quorum", || Quorum::initialize_with(options))?;
    q.trackstart(TrackFlags::CURRENT | TrackFlags::CHANGES)
        .context("track quorum changes")?;
    let mut reports = 0u64;
    while count.is_none_or(|c| reports < c) {
        let mut changed = false;
        // Block without a timeout: a monitor waits for changes however long they take.
        q.dispatch(DispatchFlags::One, |_| changed = true)
            .context("wait for quorum changes")?;
        if !changed {
            continue;
        }
        let view = View::gather(options)?;
        if json {
            println!("{}", view.to_json());
        } else {
            println!("{}", render_status(&view));
        }
        reports += 1;
    }
    Ok(())
}

/// `corosync-quorumtool -s`'s layout.
pub fn render_status(v: &View) -> String {
    let yes = |b: bool| if b { "Yes" } else { "No" };
    let mut s = String::from("Quorum information\n------------------\n");
    s += &format!(
        "Quorum provider:  {}\n",
        v.provider.as_deref().unwrap_or("(none: always quorate)")
    );
    s += &format!("Nodes:            {}\n", v.members().count());
    s += &format!("Node ID:          {}\n", v.local);
    s += &format!("Ring ID:          {}\n", v.ring_text());
    s += &format!("Quorate:          {}\n", yes(v.quorate));
    if let Some(i) = &v.votequorum {
        s += "\nVotequorum information\n----------------------\n";
        s += &format!("Expected votes:   {}\n", i.expected_votes);
        s += &format!("Highest expected: {}\n", i.highest_expected);
        s += &format!("Total votes:      {}\n", i.total_votes);
        s += &format!("Quorum:           {}\n", i.quorum);
        s += &format!("Flags:            {}\n", flag_names(i).join(" "));
    }
    s += "\nMembership information\n----------------------\n";
    s + &render_members(v)
}

/// The membership table.
pub fn render_members(v: &View) -> String {
    let mut s = String::from("    Nodeid      Votes Name\n");
    for n in v.members() {
        let votes = n.votes.map_or("-".to_owned(), |x| x.to_string());
        s += &format!(
            "{:>10} {:>10} {}{}\n",
            n.nodeid,
            votes,
            n.name,
            if n.local { " (local)" } else { "" }
        );
    }
    s
}

//! `ferrosync status`: the local daemon's ring, members, quorum and every link to every
//! peer, asked over IPC. A daemon that does not answer within `--timeout` (not running,
//! stopped, frozen) gives exit status 3; a non-quorate partition exit status 4.

use anyhow::Result;
use clap::Args;

use super::quorum::{quorate_or_exit, render_members};
use super::view::View;
use crate::daemon::{print_json, DaemonArgs};

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    daemon: DaemonArgs,
}

pub fn run(args: StatusArgs, json: bool) -> Result<()> {
    let view = View::gather(&args.daemon.options()?)?;
    if json {
        print_json(&view.to_json())?;
    } else {
        print!("{}", render(&view));
    }
    quorate_or_exit(&view)
}

/// The human-readable report.
fn render(v: &View) -> String {
    let mut s = format!(
        "Cluster {:?}, local node {}, ring {}, {}\n",
        v.cluster_name,
        v.local,
        v.ring_text(),
        if v.quorate { "quorate" } else { "NOT QUORATE" }
    );
    if let Some(i) = &v.votequorum {
        s += &format!(
            "Votes: {} of {} expected, quorum {}\n",
            i.total_votes, i.expected_votes, i.quorum
        );
    }
    s += "\nMembers:\n";
    s += &render_members(v);
    s += "\nLinks:\n";
    for n in &v.nodes {
        let state = if n.local {
            "local".to_owned()
        } else if n.member {
            "member".to_owned()
        } else {
            "NOT A MEMBER".to_owned()
        };
        let links = match &n.status {
            Some(st) if !st.links.is_empty() => st
                .links
                .iter()
                .map(|l| format!("link{} {}", l.link, if l.connected { "up" } else { "DOWN" }))
                .collect::<Vec<_>>()
                .join(", "),
            Some(_) => "no links".to_owned(),
            None => "unknown".to_owned(),
        };
        s += &format!("  node {:<4} {:<14} {:<12} {links}\n", n.nodeid, n.name, state);
    }
    s
}

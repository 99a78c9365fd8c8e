//! `ferrosync cpg`: process groups, as `corosync-cpgtool` lists them, plus sending and
//! listening from the command line.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use client::cpg::{Address, Cpg, CpgEvent, Guarantee};
use client::DispatchFlags;
use serde_json::json;

use crate::daemon::{open, print_json, DaemonArgs};

#[derive(Args, Debug)]
pub struct CpgArgs {
    #[command(subcommand)]
    command: CpgCommand,
    #[command(flatten)]
    daemon: DaemonArgs,
}

#[derive(Subcommand, Debug)]
enum CpgCommand {
    /// Every group and its members (`corosync-cpgtool`).
    List,
    /// One group's members.
    Members { group: String },
    /// Join GROUP, send MESSAGE, wait until it is delivered back, leave.
    Send { group: String, message: String },
    /// Join GROUP and print deliveries and membership changes.
    Listen {
        group: String,
        /// Stop after this many messages (default: run until interrupted).
        #[arg(long, value_name = "N")]
        count: Option<u64>,
    },
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn addresses(list: &[Address]) -> serde_json::Value {
    list.iter()
        .map(|a| json!({"nodeid": a.nodeid, "pid": a.pid, "reason": format!("{:?}", a.reason)}))
        .collect()
}

pub fn run(args: CpgArgs, json: bool) -> Result<()> {
    let options = args.daemon.options()?;
    let cpg = open("cpg", || Cpg::initialize_with(&options))?;
    match args.command {
        CpgCommand::List => {
            let all = cpg.iterate(None).context("list groups")?;
            let mut groups: std::collections::BTreeMap<Vec<u8>, Vec<(u32, u32)>> = Default::default();
            for m in all {
                groups.entry(m.group).or_default().push((m.nodeid, m.pid));
            }
            if json {
                let v: serde_json::Map<String, serde_json::Value> = groups
                    .iter()
                    .map(|(g, ms)| {
                        let list: Vec<_> = ms.iter().map(|(n, p)| json!({"nodeid": n, "pid": p})).collect();
                        (text(g), list.into())
                    })
                    .collect();
                print_json(&v.into())?;
            } else {
                println!("Group Name\t       PID\t Node ID");
                for (g, ms) in &groups {
                    println!("{}", text(g));
                    for (n, p) in ms {
                        println!("\t\t{p:>10}\t{n:>8}");
                    }
                }
            }
        }
        CpgCommand::Members { group } => {
            let members = cpg.membership_get(&group).context("ask the group's members")?;
            if json {
                print_json(&addresses(&members))?;
            } else {
                for a in &members {
                    println!("node {} pid {}", a.nodeid, a.pid);
                }
            }
        }
        CpgCommand::Send { group, message } => {
            cpg.join(&group).with_context(|| format!("join {group}"))?;
            let me = cpg.local_get()?;
            let pid = cpg.pid();
            let deadline = Instant::now() + options.timeout;
            let mut sent = false;
            let mut delivered = false;
            while !delivered {
                if Instant::now() >= deadline {
                    bail!("the message was not delivered within {:?}", options.timeout);
                }
                if !sent {
                    match cpg.mcast_joined(Guarantee::Agreed, message.as_bytes()) {
                        Ok(()) => sent = true,
                        Err(e) if e.cs_error() == client::CsError::TryAgain => {}
                        Err(e) => return Err(e).context("send"),
                    }
                }
                cpg.dispatch(DispatchFlags::All, |ev| {
                    if let CpgEvent::Deliver {
                        nodeid, pid: p, data, ..
                    } = ev
                    {
                        delivered |= sent && nodeid == me && p == pid && data == message.as_bytes();
                    }
                })?;
                if !delivered {
                    std::thread::sleep(Duration::from_millis(2));
                }
            }
            cpg.leave(&group).with_context(|| format!("leave {group}"))?;
            if json {
                print_json(&json!({"group": group, "sent": message, "delivered": true}))?;
            }
        }
        CpgCommand::Listen { group, count } => {
            cpg.join(&group).with_context(|| format!("join {group}"))?;
            let mut messages = 0u64;
            while count.is_none_or(|c| messages < c) {
                cpg.dispatch(DispatchFlags::One, |ev| match ev {
                    CpgEvent::Deliver { nodeid, pid, data, .. } => {
                        messages += 1;
                        if json {
                            println!("{}", json!({"deliver": {"nodeid": nodeid, "pid": pid, "data": text(&data)}}));
                        } else {
                            println!("node {nodeid} pid {pid}: {}", text(&data));
                        }
                    }
                    CpgEvent::Confchg {
                        members, left, joined, ..
                    } => {
                        if json {
                            println!(
                                "{}",
                                json!({"confchg": {"members": addresses(&members), "left": addresses(&left), "joined": addresses(&joined)}})
                            );
                        } else {
                            let ids = |l: &[Address]| {
                                l.iter()
                                    .map(|a| format!("{}/{}", a.nodeid, a.pid))
                                    .collect::<Vec<_>>()
                                    .join(" ")
                            };
                            println!(
                                "members [{}] joined [{}] left [{}]",
                                ids(&members),
                                ids(&joined),
                                ids(&left)
                            );
                        }
                    }
                    CpgEvent::TotemConfchg { .. } => {}
                })
                .context("wait for messages")?;
            }
            cpg.leave(&group).with_context(|| format!("leave {group}"))?;
        }
    }
    Ok(())
}

//! `ferrosync cfg`: links, configuration reload, shutdown, kill-node and log reopening, as
//! `corosync-cfgtool` does them.

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use client::cfg::{Cfg, Shutdown};
use serde_json::json;

use crate::daemon::{open, print_json, DaemonArgs};

#[derive(Args, Debug)]
pub struct CfgArgs {
    #[command(subcommand)]
    command: CfgCommand,
    #[command(flatten)]
    daemon: DaemonArgs,
}

#[derive(Subcommand, Debug)]
enum CfgCommand {
    /// The local links and every peer's link status (`corosync-cfgtool -s -n`).
    Links,
    /// Every node re-reads its configuration file (`corosync-cfgtool -R`).
    Reload,
    /// Shut the local daemon down (`corosync-cfgtool -H`); clients tracking shutdown
    /// (Pacemaker) are asked first unless --force.
    Shutdown {
        /// Do not wait for the clients' consent.
        #[arg(long)]
        force: bool,
    },
    /// Make NODEID's daemon exit (`corosync-cfgtool -k`).
    KillNode {
        nodeid: u32,
        #[arg(long, default_value = "killed by ferrosync cfg kill-node")]
        reason: String,
    },
    /// The daemon reopens its log files (`corosync-cfgtool -L`).
    ReopenLogs,
}

pub fn run(args: CfgArgs, json: bool) -> Result<()> {
    let options = args.daemon.options()?;
    let cfg = open("cfg", || Cfg::initialize_with(&options))?;
    let done = |what: &str| -> Result<()> {
        if json {
            print_json(&json!({"done": what}))?;
        }
        Ok(())
    };
    match args.command {
        CfgCommand::Links => {
            let local = cfg.local_get().context("ask the local node id")?;
            let ifaces = cfg.ring_status_get().context("ask the local links")?;
            let cmap = open("cmap", || {
                client::cmap::Cmap::initialize_with(client::cmap::Map::Icmap, &options)
            })?;
            let mut ids: Vec<u32> = cmap
                .iter_prefix("nodelist.node.")
                .unwrap_or_default()
                .into_iter()
                .filter(|(k, _)| k.ends_with(".nodeid"))
                .filter_map(|(_, v)| v.as_u32())
                .collect();
            ids.sort_unstable();
            let peers: Vec<_> = ids
                .iter()
                .filter(|&&n| n != local)
                .map(|&n| (n, cfg.node_status_get(n)))
                .collect();
            if json {
                let peers: Vec<_> = peers
                    .iter()
                    .map(|(n, st)| match st {
                        Ok(st) => json!({
                            "nodeid": n,
                            "reachable": st.reachable,
                            "links": st.links.iter().map(|l| json!({"link": l.link, "connected": l.connected, "enabled": l.enabled})).collect::<Vec<_>>(),
                        }),
                        Err(e) => json!({"nodeid": n, "error": e.to_string()}),
                    })
                    .collect();
                let ifaces: Vec<_> = ifaces
                    .iter()
                    .map(|i| json!({"link": i.link, "address": i.address, "status": i.status}))
                    .collect();
                print_json(&json!({"local_node": local, "links": ifaces, "peers": peers}))?;
            } else {
                println!("Local node ID {local}");
                for i in &ifaces {
                    println!("LINK ID {}\n\taddr\t= {}\n\tstatus\t= {}", i.link, i.address, i.status);
                }
                for (n, st) in &peers {
                    match st {
                        Ok(st) => {
                            let links: Vec<String> = st
                                .links
                                .iter()
                                .map(|l| format!("link {} {}", l.link, if l.connected { "up" } else { "DOWN" }))
                                .collect();
                            println!(
                                "nodeid {n:>4}: {} {}",
                                if st.reachable { "reachable  " } else { "UNREACHABLE" },
                                links.join(", ")
                            );
                        }
                        Err(e) => println!("nodeid {n:>4}: {e}"),
                    }
                }
            }
            Ok(())
        }
        CfgCommand::Reload => {
            cfg.reload_config().context("reload the configuration")?;
            done("reload")
        }
        CfgCommand::Shutdown { force } => {
            let how = if force { Shutdown::Immediate } else { Shutdown::Request };
            cfg.try_shutdown(how).context("shut down")?;
            done("shutdown")
        }
        CfgCommand::KillNode { nodeid, reason } => {
            cfg.kill_node(nodeid, &reason)
                .with_context(|| format!("kill node {nodeid}"))?;
            done("kill-node")
        }
        CfgCommand::ReopenLogs => {
            cfg.reopen_log_files().context("reopen log files")?;
            done("reopen-logs")
        }
    }
}

//! `ferrosync status`: membership, ring id, state, links and counters of the local daemon,
//! read from its status file `<statedir>/status.json` (the admin interface until the libqb
//! IPC lands).

use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;
use serde_json::Value;

#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The daemon's state directory (system.state_dir or ferrosyncd --statedir).
    #[arg(long, value_name = "DIR", default_value = "/var/lib/ferrosync")]
    statedir: PathBuf,
    /// Print the raw status document (JSON).
    #[arg(long)]
    json: bool,
    /// Also list the key store (cmap key names).
    #[arg(long)]
    keys: bool,
}

pub fn run(args: StatusArgs) -> Result<()> {
    let status = engine::status::read(&args.statedir).with_context(|| {
        format!(
            "read {} (is ferrosyncd running with this state directory?)",
            engine::status::path(&args.statedir).display()
        )
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&status)?);
        return Ok(());
    }
    print!("{}", render(&status, args.keys));
    Ok(())
}

fn pid_alive(pid: u64) -> bool {
    i32::try_from(pid).is_ok_and(|p| p > 0 && nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), None).is_ok())
}

/// The human-readable report.
fn render(s: &Value, keys: bool) -> String {
    let mut out = String::new();
    let pid = s["pid"].as_u64().unwrap_or(0);
    let state = s["state"].as_str().unwrap_or("?");
    let running = state != "LEFT" && pid_alive(pid);
    out += &format!(
        "Cluster {:?}, local node {} (pid {pid}{})\n",
        s["cluster_name"].as_str().unwrap_or(""),
        s["node_id"],
        if running { "" } else { ", NOT RUNNING: status is stale" }
    );
    out += &format!(
        "State:   {state}\nRing ID: {}\n",
        s["ring_id"]["text"].as_str().unwrap_or("?")
    );
    let members: Vec<String> = s["members"]
        .as_array()
        .map(|m| m.iter().map(ToString::to_string).collect())
        .unwrap_or_default();
    out += &format!("Members: {} ({})\n", members.len(), members.join(" "));
    out += &format!(
        "Uptime:  {:.1} s, {} membership change(s)\n",
        s["uptime_ms"].as_u64().unwrap_or(0) as f64 / 1000.0,
        s["membership_changes"]
    );
    for l in s["links"].as_array().into_iter().flatten() {
        out += &format!(
            "Link {}:  {} tx {} pkts ({} errors), rx {} pkts, blocked unlisted {}\n",
            l["link"],
            l["local"].as_str().unwrap_or("?"),
            l["tx_packets"],
            l["tx_errors"],
            l["rx_packets"],
            l["rx_blocked_unlisted"]
        );
    }
    if keys {
        for (k, v) in s["keys"].as_object().into_iter().flatten() {
            out += &format!("{k} = {}\n", v.as_str().unwrap_or(""));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_membership_and_flags_stale_status() {
        let s = serde_json::json!({
            "cluster_name": "c", "node_id": 2, "pid": 0, "state": "OPERATIONAL",
            "ring_id": {"text": "1.9"}, "members": [1, 2, 3], "uptime_ms": 1500, "membership_changes": 2,
            "links": [{"link": 0, "local": "127.0.0.2:5405", "tx_packets": 5, "tx_errors": 0,
                       "rx_packets": 7, "rx_blocked_unlisted": 1}],
            "keys": {"totem.token": "1000"}
        });
        let text = render(&s, true);
        assert!(
            text.contains("local node 2 (pid 0, NOT RUNNING: status is stale)"),
            "{text}"
        );
        assert!(text.contains("Ring ID: 1.9\n"));
        assert!(text.contains("Members: 3 (1 2 3)\n"));
        assert!(text.contains("Link 0:  127.0.0.2:5405 tx 5 pkts (0 errors), rx 7 pkts, blocked unlisted 1"));
        assert!(text.contains("totem.token = 1000\n"));
    }
}

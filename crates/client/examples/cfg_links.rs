//! Prints every node's reachability and links, like `corosync-cfgtool -n`.
//!
//! `cargo run -p client --example cfg_links`

use client::cfg::Cfg;
use client::cmap::{Cmap, Map};

fn main() -> client::Result<()> {
    let cfg = Cfg::initialize()?;
    let cmap = Cmap::initialize(Map::Icmap)?;
    let me = cfg.local_get()?;
    for (key, value) in cmap.iter_prefix("nodelist.node.")? {
        let Some(node) = key.ends_with(".nodeid").then(|| value.as_u32()).flatten() else {
            continue;
        };
        if node == me {
            continue;
        }
        let status = cfg.node_status_get(node)?;
        let links: Vec<String> = status
            .links
            .iter()
            .map(|l| format!("link {} {}", l.link, if l.connected { "up" } else { "down" }))
            .collect();
        println!("node {node}: reachable {} {}", status.reachable, links.join(", "));
    }
    Ok(())
}

//! Network namespaces for partition and link tests: node N lives in namespace `<prefix>N` with
//! address `<subnet>.N/24` on `eth0`, a veth whose peer `pN` sits on bridge `br0` of namespace
//! `<prefix>br`. Moving a node's port to a second bridge `br1` cuts it off from `br0` but not
//! from the other nodes moved there, which makes an N+M partition. Link X > 0 is `ethX` on
//! bridge `lX` with the subnet's third octet + X; [`Topology::set_link`] cuts or restores it.
//! Everything is deleted on drop; addresses exist only inside the namespaces.

use std::process::Command;

/// A bridge namespace and one namespace per node.
pub struct Topology {
    prefix: String,
    nodes: u32,
    created: Vec<String>,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

impl Topology {
    /// Creates the namespaces, or explains why it cannot (not root, no `ip`, no netns support).
    pub fn create(prefix: &str, nodes: u32, links: u8, subnet: [u8; 3]) -> Result<Self, String> {
        let mut t = Topology {
            prefix: prefix.to_owned(),
            nodes,
            created: Vec::new(),
        };
        let br = t.bridge_ns();
        ip(&["netns", "add", &br])?;
        t.created.push(br.clone());
        ip(&["-n", &br, "link", "set", "lo", "up"])?;
        for bridge in ["br0", "br1"] {
            ip(&["-n", &br, "link", "add", bridge, "type", "bridge"])?;
            ip(&["-n", &br, "link", "set", bridge, "up"])?;
        }
        let [a, b, c] = subnet;
        for id in 1..=nodes {
            let ns = t.ns(id);
            ip(&["netns", "add", &ns])?;
            t.created.push(ns.clone());
            let port = format!("p{id}");
            ip(&[
                "-n", &br, "link", "add", &port, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ])?;
            ip(&["-n", &br, "link", "set", &port, "master", "br0", "up"])?;
            ip(&["-n", &ns, "link", "set", "lo", "up"])?;
            ip(&["-n", &ns, "addr", "add", &format!("{a}.{b}.{c}.{id}/24"), "dev", "eth0"])?;
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
        }
        for link in 1..links {
            let bridge = format!("l{link}");
            ip(&["-n", &br, "link", "add", &bridge, "type", "bridge"])?;
            ip(&["-n", &br, "link", "set", &bridge, "up"])?;
            for id in 1..=nodes {
                let (ns, port, dev) = (t.ns(id), format!("l{link}p{id}"), format!("eth{link}"));
                ip(&[
                    "-n", &br, "link", "add", &port, "type", "veth", "peer", "name", &dev, "netns", &ns,
                ])?;
                ip(&["-n", &br, "link", "set", &port, "master", &bridge, "up"])?;
                let addr = format!("{a}.{b}.{}.{id}/24", c.wrapping_add(link));
                ip(&["-n", &ns, "addr", "add", &addr, "dev", &dev])?;
                ip(&["-n", &ns, "link", "set", &dev, "up"])?;
            }
        }
        Ok(t)
    }

    /// Takes link `link`'s bridge down (no traffic between any nodes on it) or up again.
    pub fn set_link(&self, link: u8, up: bool) -> Result<(), String> {
        let bridge = if link == 0 {
            "br0".to_owned()
        } else {
            format!("l{link}")
        };
        ip(&[
            "-n",
            &self.bridge_ns(),
            "link",
            "set",
            &bridge,
            if up { "up" } else { "down" },
        ])
    }

    fn bridge_ns(&self) -> String {
        format!("{}br", self.prefix)
    }

    /// The namespace of node `id`.
    pub fn ns(&self, id: u32) -> String {
        format!("{}{id}", self.prefix)
    }

    /// Cuts `side` off from the other nodes (they still reach each other).
    pub fn partition(&self, side: &[u32]) -> Result<(), String> {
        side.iter().try_for_each(|&id| self.attach(id, "br1"))
    }

    /// Puts every node back on one bridge.
    pub fn heal(&self) -> Result<(), String> {
        (1..=self.nodes).try_for_each(|id| self.attach(id, "br0"))
    }

    /// Moves node `id`'s veth to `bridge` in the bridge namespace.
    fn attach(&self, id: u32, bridge: &str) -> Result<(), String> {
        ip(&[
            "-n",
            &self.bridge_ns(),
            "link",
            "set",
            &format!("p{id}"),
            "master",
            bridge,
        ])
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        for ns in self.created.iter().rev() {
            let _ = ip(&["netns", "del", ns]);
        }
    }
}

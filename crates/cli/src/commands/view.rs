//! The cluster as the local daemon sees it, gathered over IPC: what `status` and
//! `quorum status|list|monitor` print.

use std::time::Duration;

use anyhow::{Context, Result};
use client::cfg::{Cfg, NodeStatus};
use client::cmap::{Cmap, Map};
use client::quorum::{Quorum, QuorumType};
use client::votequorum::{NodeInfo, Votequorum, VotequorumEvent};
use client::{DispatchFlags, NodeId, RingId, TrackFlags};
use serde_json::json;

use crate::daemon::open;

/// One node: a ring member or a configured node.
#[derive(Debug, Clone)]
pub struct NodeRow {
    pub nodeid: NodeId,
    pub member: bool,
    pub local: bool,
    /// Votes as votequorum counts them (`None` without votequorum or for a non-member).
    pub votes: Option<u32>,
    pub name: String,
    /// Link status; `None` if cfg could not say.
    pub status: Option<NodeStatus>,
}

/// Everything one `status` prints.
#[derive(Debug, Clone)]
pub struct View {
    pub cluster_name: String,
    pub local: NodeId,
    pub provider: Option<String>,
    pub ring_id: Option<RingId>,
    pub ring_seq: u64,
    pub quorate: bool,
    pub votequorum: Option<NodeInfo>,
    pub nodes: Vec<NodeRow>,
}

impl View {
    /// Asks the daemon; fails if it does not answer within the options' timeout.
    pub fn gather(options: &client::Options) -> Result<View> {
        let cmap = open("cmap", || Cmap::initialize_with(Map::Icmap, options))?;
        let cfg = open("cfg", || Cfg::initialize_with(options))?;
        let local = cfg.local_get().context("ask the local node id")?;
        let cluster_name = cmap
            .get("totem.cluster_name")
            .map(|v| v.to_string())
            .unwrap_or_default();
        let provider = cmap.get("quorum.provider").ok().map(|v| v.to_string());
        let mut quorum = open("quorum", || Quorum::initialize_with(options))?;
        let quorate = quorum.getquorate().context("ask whether the partition is quorate")?;
        quorum
            .trackstart(TrackFlags::CURRENT)
            .context("ask the quorum service for the membership")?;
        let mut ring_seq = 0;
        let mut members = Vec::new();
        wait_for("quorum", &mut quorum, options.timeout, |q, flags| {
            q.dispatch(flags, |ev| {
                ring_seq = ev.ring_seq;
                members = ev.members.clone();
            })
        })?;
        let mut ring_id = None;
        let mut votequorum = None;
        let mut votes = std::collections::BTreeMap::new();
        if quorum.quorum_type() == QuorumType::Set {
            let mut vq = open("votequorum", || Votequorum::initialize_with(options))?;
            vq.trackstart(0, TrackFlags::CURRENT)
                .context("ask votequorum for the ring")?;
            wait_for("votequorum", &mut vq, options.timeout, |vq, flags| {
                vq.dispatch(flags, |ev| {
                    if let VotequorumEvent::Nodelist {
                        ring_id: r, members: m, ..
                    } = ev
                    {
                        ring_id = Some(r);
                        members = m;
                    }
                })
            })?;
            votequorum = Some(vq.get_info(0).context("ask votequorum about the local node")?);
            for &m in &members {
                if let Ok(i) = vq.get_info(m) {
                    votes.insert(m, i.votes);
                }
            }
        }
        let mut ids: Vec<NodeId> = members.clone();
        for (key, v) in cmap.iter_prefix("nodelist.node.").unwrap_or_default() {
            if key.ends_with(".nodeid") {
                if let Some(id) = v.as_u32() {
                    ids.push(id);
                }
            }
        }
        ids.sort_unstable();
        ids.dedup();
        let nodes = ids
            .into_iter()
            .map(|nodeid| {
                let name = cfg
                    .get_node_addrs(nodeid)
                    .ok()
                    .and_then(|a| a.first().map(ToString::to_string))
                    .unwrap_or_else(|| format!("node{nodeid}"));
                NodeRow {
                    nodeid,
                    member: members.contains(&nodeid),
                    local: nodeid == local,
                    votes: votes.get(&nodeid).copied(),
                    name,
                    status: cfg.node_status_get(nodeid).ok(),
                }
            })
            .collect();
        Ok(View {
            cluster_name,
            local,
            provider,
            ring_id,
            ring_seq,
            quorate,
            votequorum,
            nodes,
        })
    }

    pub fn ring_text(&self) -> String {
        match self.ring_id {
            Some(r) => format!("{}.{:x}", r.rep, r.seq),
            None => format!("{:x}", self.ring_seq),
        }
    }

    pub fn members(&self) -> impl Iterator<Item = &NodeRow> {
        self.nodes.iter().filter(|n| n.member)
    }

    pub fn to_json(&self) -> serde_json::Value {
        let vq = self.votequorum.as_ref().map(|i| {
            json!({
                "expected_votes": i.expected_votes,
                "highest_expected": i.highest_expected,
                "total_votes": i.total_votes,
                "quorum": i.quorum,
                "flags": flag_names(i),
            })
        });
        json!({
            "cluster_name": self.cluster_name,
            "local_node": self.local,
            "quorum_provider": self.provider,
            "ring_id": self.ring_text(),
            "quorate": self.quorate,
            "votequorum": vq,
            "nodes": self.nodes.iter().map(|n| json!({
                "nodeid": n.nodeid,
                "member": n.member,
                "local": n.local,
                "votes": n.votes,
                "name": n.name,
                "reachable": n.status.as_ref().map(|s| s.reachable),
                "links": n.status.as_ref().map(|s| s.links.iter().map(|l| json!({
                    "link": l.link,
                    "enabled": l.enabled,
                    "connected": l.connected,
                    "mtu": l.mtu,
                    "src": l.src_addr,
                    "dst": l.dst_addr,
                })).collect::<Vec<_>>()),
            })).collect::<Vec<_>>(),
        })
    }
}

/// Waits until `dispatch` has handled at least one event, at most `timeout`.
pub fn wait_for<T: std::os::fd::AsFd>(
    service: &'static str,
    handle: &mut T,
    timeout: Duration,
    mut dispatch: impl FnMut(&mut T, DispatchFlags) -> client::Result<usize>,
) -> Result<()> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let deadline = std::time::Instant::now() + timeout;
    loop {
        if dispatch(handle, DispatchFlags::OneNonblocking)? > 0 {
            return Ok(());
        }
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        if left.is_zero() {
            return Err(client::Error::Ipc {
                service,
                source: ipc::IpcError::Timeout,
            })
            .context("wait for the membership notification");
        }
        let mut fds = [PollFd::new(handle.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX)) {
            Ok(_) | Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
}

/// Votequorum's flag names, as corosync-quorumtool prints them.
pub fn flag_names(i: &NodeInfo) -> Vec<&'static str> {
    use services::votequorum::ipc::InfoFlags as F;
    let mut out = Vec::new();
    for (f, name) in [
        (F::TWONODE, "2Node"),
        (F::QUORATE, "Quorate"),
        (F::WAIT_FOR_ALL, "WaitForAll"),
        (F::LAST_MAN_STANDING, "LastManStanding"),
        (F::AUTO_TIE_BREAKER, "AutoTieBreaker"),
        (F::ALLOW_DOWNSCALE, "AllowDownscale"),
        (F::QDEVICE_REGISTERED, "Qdevice"),
    ] {
        if i.flags.contains(f) {
            out.push(name);
        }
    }
    out
}

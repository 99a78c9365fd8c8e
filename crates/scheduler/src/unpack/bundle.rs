//! Bundles, expanded into ordinary resources (after Pacemaker's
//! `pe__unpack_bundle`): per replica a container primitive
//! (`{bundle}-{docker|podman|rkt}-{N}`), an optional `IPaddr2`
//! (`{bundle}-ip-{address}`) and, when the bundle runs a primitive, a guest
//! node connection (`{bundle}-{N}`) plus one instance of the child clone
//! (`{bundle}-clone`, or `{bundle}-master` when promotable) pinned to that
//! replica's guest node. The bundle itself becomes a unique clone whose
//! instances are the containers, so constraints naming the bundle apply to
//! them and they spread over the nodes like clone instances.

use crate::ids::clone_strip;
use std::net::Ipv4Addr;

use super::implicit::connection_def;
use super::RscBuild;
use crate::model::*;
use cib::{BundleDef, NvSet, OpDef, ResourceDef, ResourceKind};

fn nvset(id: String, pairs: Vec<(String, String)>) -> NvSet {
    NvSet {
        id,
        score: 0,
        rule: None,
        pairs,
    }
}

fn op(id: &str, name: &str, interval_s: u64, timeout: Option<&str>) -> OpDef {
    let mut attrs = vec![("interval".into(), format!("{interval_s}s").into())];
    if let Some(t) = timeout {
        attrs.push(("timeout".into(), t.into()));
    }
    OpDef {
        id: format!("{id}-{name}-{interval_s}"),
        name: name.to_string(),
        interval_ms: interval_s * 1000,
        role: None,
        attrs,
        meta: Vec::new(),
        instance: Vec::new(),
    }
}

fn primitive(id: String, provider: &str, ty: &str, params: Vec<(String, String)>, ops: Vec<OpDef>) -> ResourceDef {
    let instance = if params.is_empty() {
        Vec::new()
    } else {
        vec![nvset(format!("{id}-instance_attributes"), params)]
    };
    ResourceDef {
        id,
        kind: ResourceKind::Primitive {
            class: "ocf".into(),
            provider: Some(provider.into()),
            ty: ty.into(),
            ops: ops.into(),
        },
        meta: Vec::new(),
        instance: instance.into(),
        utilization: Vec::new(),
        description: None,
        template: None,
    }
}

/// The replica's address: `ip-range-start` plus the replica number.
fn replica_ip(start: &str, offset: usize) -> Option<String> {
    let base: Ipv4Addr = start.trim().parse().ok()?;
    let v = u32::from(base).checked_add(u32::try_from(offset).ok()?)?;
    Some(Ipv4Addr::from(v).to_string())
}

/// Adds a bundle's resources; top-level ones are pushed onto `top`.
pub(super) fn add_bundle(b: &RscBuild<'_>, c: &mut Cluster, def: &ResourceDef, bd: &BundleDef, top: &mut Vec<RscIdx>) {
    let id = &def.id;
    // The bundle: a unique clone of its containers.
    let shell = ResourceDef {
        id: id.clone(),
        kind: ResourceKind::Group { children: Vec::new() },
        meta: def.meta.clone(),
        instance: Default::default(),
        utilization: Vec::new(),
        description: def.description.clone(),
        template: None,
    };
    let brsc = b.add(c, &shell, None, None, None);
    c.rscs[brsc].variant = Variant::Clone {
        promotable: false,
        clone_max: bd.replicas,
        clone_node_max: bd.replicas_per_host,
        promoted_max: 0,
        promoted_node_max: 1,
        unique: true,
        interleave: false,
        ordered: false,
    };
    top.push(brsc);
    let mut replicas = Vec::new();
    let addresses: Vec<Option<String>> = (0..bd.replicas)
        .map(|i| bd.ip_range_start.as_deref().and_then(|s| replica_ip(s, i)))
        .collect();
    let host_options = super::container::host_options(bd, id, &addresses);
    for (i, ipaddr) in addresses.iter().cloned().enumerate() {
        let cid = format!("{id}-{}-{i}", bd.runtime);
        let cdef = primitive(
            cid.clone(),
            "heartbeat",
            &bd.runtime,
            super::container::params(bd, id, i, ipaddr.as_deref(), &host_options),
            vec![op(&cid, "monitor", 60, None)],
        );
        let container = b.add(c, &cdef, Some(brsc), None, Some(i));
        let ip = ipaddr.as_ref().map(|addr| {
            let mut params = vec![("ip".to_string(), addr.clone())];
            if let Some(nic) = &bd.host_interface {
                params.push(("nic".into(), nic.clone()));
            }
            params.push((
                "cidr_netmask".into(),
                bd.host_netmask.clone().unwrap_or_else(|| "32".into()),
            ));
            let ipid = format!("{id}-ip-{addr}");
            let mut idef = primitive(
                ipid.clone(),
                "heartbeat",
                "IPaddr2",
                params,
                vec![op(&ipid, "monitor", 60, None)],
            );
            idef.meta = def.meta.clone();
            let r = b.add(c, &idef, None, None, None);
            top.push(r);
            r
        });
        let remote = bd.child.as_ref().map(|_| {
            let name = format!("{id}-{i}");
            let port = bd.control_port.clone().unwrap_or_else(|| "3121".into());
            let addr = ipaddr.clone().unwrap_or_else(|| "#uname".into());
            let mut rdef = connection_def(&name, &cid, Some(addr), Some(port), "60s");
            rdef.meta.extend(def.meta.iter().cloned());
            let r = b.add(c, &rdef, None, None, None);
            top.push(r);
            r
        });
        replicas.push(Replica {
            container,
            ip,
            ipaddr,
            remote,
            child: None,
            node: c.node_by_name(&format!("{id}-{i}")),
        });
    }
    let mut child_clone = None;
    if let Some(child) = &bd.child {
        let suffix = if bd.promoted_max > 0 { "master" } else { "clone" };
        let mut own = vec![
            ("ordered".to_string(), "true".to_string()),
            ("clone-max".into(), bd.replicas.to_string()),
            ("clone-node-max".into(), bd.replicas_per_host.to_string()),
            ("globally-unique".into(), (bd.replicas_per_host > 1).to_string()),
        ];
        if bd.promoted_max > 0 {
            own.push(("promotable".into(), "true".into()));
            own.push(("promoted-max".into(), bd.promoted_max.to_string()));
        }
        let mut meta = vec![nvset(format!("{id}-{suffix}-meta"), own)];
        meta.extend(def.meta.iter().cloned());
        let cdef = ResourceDef {
            id: format!("{id}-{suffix}"),
            kind: ResourceKind::Clone {
                master: false,
                child: child.clone(),
            },
            meta,
            instance: Default::default(),
            utilization: Vec::new(),
            description: None,
            template: None,
        };
        let cl = b.add(c, &cdef, None, None, None);
        top.push(cl);
        let kids = c.rscs[cl].children.clone();
        // The child clone notifies if its primitive does (`pe__unpack_bundle`).
        let child_notifies = kids
            .iter()
            .flat_map(|&k| c.primitives_of(k))
            .any(|p| c.rscs[p].config.meta.get("notify").is_some_and(|v| cib::is_true(v)));
        if child_notifies {
            std::sync::Arc::make_mut(&mut c.rscs[cl].config.meta).insert("notify".into(), "true".into());
        }
        for (i, rep) in replicas.iter_mut().enumerate() {
            let Some(&inst) = kids.get(i) else { continue };
            rep.child = Some(inst);
            // Utilization configured for the inner primitive is the
            // container's (`pe__unpack_bundle`,
            // lib/pengine/bundle.c:1046-1067): the replica's guest node has
            // no capacity of its own.
            if let Some(&p) = c.primitives_of(inst).first() {
                let moved = std::mem::take(&mut c.rscs[p].config.utilization);
                c.rscs[rep.container].config.utilization = moved;
            }
            // A replica's child is discovered (probed) only on its own node.
            if let Some(n) = rep.node {
                for p in c.primitives_of(inst) {
                    c.rscs[p].remote.discover.insert(n, Discover::Exclusive);
                    c.rscs[p].remote.exclusive_discover = true;
                }
            }
        }
        child_clone = Some(cl);
    }
    c.bundles.push(Bundle {
        rsc: brsc,
        image: bd.image.clone(),
        replicas,
        child_clone,
    });
}

/// Finishes bundle links once connections are linked: replica connections
/// may run on remote nodes, and replica nodes are bundle nodes.
pub(super) fn link(c: &mut Cluster) {
    for bi in 0..c.bundles.len() {
        for ri in 0..c.bundles[bi].replicas.len() {
            let rep = c.bundles[bi].replicas[ri].clone();
            if let Some(r) = rep.remote {
                c.rscs[r].remote.allow_remote_remotes = true;
            }
            for r in [Some(rep.container), rep.ip, rep.remote].into_iter().flatten() {
                c.rscs[r].remote.bundle_implicit = true;
            }
            if let Some(n) = rep.node {
                c.nodes[n].remote.bundle_node = true;
            }
        }
    }
}

/// The replica child a history entry on a bundle node belongs to
/// (`pe__find_bundle_replica`): the instance of that node's replica.
pub(super) fn history_target(c: &Cluster, node: NodeIdx, id: &str) -> Option<RscIdx> {
    if !c.nodes[node].remote.bundle_node {
        return None;
    }
    let base = clone_strip(id);
    c.bundles
        .iter()
        .flat_map(|b| b.replicas.iter())
        .filter(|rep| rep.node == Some(node))
        .filter_map(|rep| rep.child)
        .flat_map(|inst| c.primitives_of(inst))
        .find(|&p| clone_strip(&c.rscs[p].id) == base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replica_addresses_count_up_from_the_range_start() {
        assert_eq!(replica_ip("192.168.122.131", 0).as_deref(), Some("192.168.122.131"));
        assert_eq!(replica_ip("192.168.122.131", 2).as_deref(), Some("192.168.122.133"));
        assert_eq!(replica_ip("10.0.0.255", 1).as_deref(), Some("10.0.1.0"));
        assert_eq!(replica_ip("not-an-ip", 0), None);
    }

    #[test]
    fn a_container_restarts_when_its_recorded_digest_is_not_that_of_its_parameters() {
        // bundle-nested-colocation: the containers' parameters are
        // Pacemaker's, so a start recorded with their digest stays and one
        // recorded with another restarts.
        let bundle = "<bundle id=\"B\"><docker image=\"img\" network=\"host\"/></bundle>";
        let started = |digest: &str| {
            let cib = crate::testutil::cib(1, bundle, "", &[]);
            let c = crate::unpack::unpack(&cib, 0);
            let r = c.rsc_by_id("B-docker-0").expect("container");
            let op = cib::LrmOp {
                operation: "start".into(),
                ..Default::default()
            };
            let digest = if digest.is_empty() {
                crate::digests::expected_digest(&c, r, &op)
            } else {
                digest.to_string()
            };
            let history = format!(
                "<lrm id=\"1\"><lrm_resources><lrm_resource id=\"B-docker-0\" class=\"ocf\" provider=\"heartbeat\" \
                 type=\"docker\"><lrm_rsc_op id=\"B-docker-0_last_0\" operation_key=\"B-docker-0_start_0\" \
                 operation=\"start\" call-id=\"1\" rc-code=\"0\" op-status=\"0\" interval=\"0\" \
                 transition-key=\"1:1:0:x\" transition-magic=\"0:0;1:1:0:x\" op-digest=\"{digest}\"/>\
                 </lrm_resource></lrm_resources></lrm>"
            );
            let xml = crate::testutil::cib_xml(1, bundle, "", &[])
                .replace("</node_state>", &format!("{history}</node_state>"));
            let s = crate::testutil::run(&cib::Cib::parse(&xml).expect("test CIB parses"));
            s.actions
                .iter()
                .any(|a| a.rsc == Some(r) && a.task == "start" && !a.optional && a.runnable)
        };
        assert!(!started(""));
        assert!(started("0123456789abcdef0123456789abcdef"));
    }

    #[test]
    fn utilization_of_the_inner_primitive_is_the_container_s() {
        let child = "<primitive id=\"Bc\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">\
                     <utilization id=\"u\"><nvpair id=\"u1\" name=\"cpu\" value=\"4\"/></utilization></primitive>";
        let bundle = format!(
            "<bundle id=\"B\"><docker image=\"img\" replicas=\"2\"/><network control-port=\"3121\"/>{child}</bundle>"
        );
        let c = crate::unpack::unpack(&crate::testutil::cib(2, &bundle, "", &[]), 0);
        let util = |id: &str| {
            let r = c.rsc_by_id(id).expect("resource");
            c.rscs[r]
                .config
                .utilization
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
        };
        for id in ["B-docker-0", "B-docker-1"] {
            assert_eq!(util(id), ["cpu=4"], "{id}");
        }
        for id in ["Bc:0", "Bc:1"] {
            assert!(util(id).is_empty(), "{id}");
        }
    }
}

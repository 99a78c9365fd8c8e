//! Unfencing (`stonith-NODE-on`). Once some fence device provides
//! unfencing or some resource requires it (`pe_flag_enable_unfencing`), a
//! node must be unfenced before it probes or starts such a resource or any
//! fence device, and before resources that require unfencing start on it
//! again (`pcmk__order_vs_unfence`, `pcmk__order_restart_vs_unfence` in
//! `lib/pacemaker/pcmk_sched_fencing.c`). The unfencing is optional until a
//! node has never been unfenced (`#node-unfenced`), a device's parameters
//! differ from those it was last unfenced with (`#digests-all`), or a
//! device's definition changed in its history (`trigger_unfencing`,
//! `lib/pengine/utils.c`).

use crate::action_set::{flags, ActionSet};
use crate::digests::unfencing_summaries;
use crate::model::{Cluster, NodeIdx, RscIdx, Variant};

/// A fence device's history showed a changed definition on a node: the
/// node is unfenced again, for this reason (`trigger_unfencing` from
/// `pcmk__rsc_agent_changed`, `force_restart`, `schedule_reload`,
/// `pcmk__reschedule_recurring`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceChange {
    /// The agent's class, provider or type changed.
    Definition,
    /// Parameters changed and force a restart.
    Parameters,
    /// Parameters changed and are reloaded.
    Reload,
    /// A recurring operation's parameters changed.
    Reschedule,
}

impl DeviceChange {
    fn reason(self) -> &'static str {
        match self {
            DeviceChange::Definition => "Device definition changed",
            DeviceChange::Parameters => "Device parameters changed",
            DeviceChange::Reload => "Device parameters changed (reload)",
            DeviceChange::Reschedule => "Device parameters changed (reschedule)",
        }
    }
}

fn is_fence_device(c: &Cluster, r: RscIdx) -> bool {
    matches!(&c.rscs[r].variant, Variant::Primitive { class, .. } if class == "stonith")
}

/// Whether a probe or start of `r` waits for its node's unfencing.
fn needs_unfenced_node(c: &Cluster, r: RscIdx) -> bool {
    (is_fence_device(c, r) && c.options.enable_unfencing) || c.rscs[r].config.requires_unfencing
}

/// `pcmk__node_unfenced`: a node without `#node-unfenced`, or with "0",
/// was never unfenced.
fn node_unfenced(c: &Cluster, n: NodeIdx) -> bool {
    c.nodes[n].attrs.get("#node-unfenced").is_some_and(|v| v != "0")
}

/// Only a node that is up, clean and not shutting down is unfenced on
/// demand (`trigger_unfencing`).
fn can_be_unfenced(c: &Cluster, n: NodeIdx) -> bool {
    let node = &c.nodes[n];
    node.online && !node.unclean && !node.shutdown
}

/// The fence devices that unfence (`find_unfencing_devices`), in the order
/// Pacemaker lists them: its recursion prepends, so the configuration's
/// last device comes first.
fn unfencing_devices(c: &Cluster) -> Vec<RscIdx> {
    fn walk(c: &Cluster, r: RscIdx, out: &mut Vec<RscIdx>) {
        let rs = &c.rscs[r];
        if !rs.children.is_empty() {
            for &ch in &rs.children {
                walk(c, ch, out);
            }
        } else if is_fence_device(c, r)
            && (rs.config.requires_unfencing
                || rs
                    .config
                    .meta
                    .get("provides")
                    .is_some_and(|v| v.eq_ignore_ascii_case("unfencing")))
        {
            out.push(r);
        }
    }
    let mut out = Vec::new();
    for &r in &c.top {
        walk(c, r, &mut out);
    }
    out.reverse();
    out
}

/// The `digests-all` and `digests-secure` meta-attributes every fencing
/// action of `n` carries once unfencing is in use: each unfencing device's
/// summary followed by a comma (`pe_fence_op`).
pub fn digest_meta(c: &Cluster, n: NodeIdx) -> Option<(String, String)> {
    if !c.options.enable_unfencing {
        return None;
    }
    let (mut all, mut secure) = (String::new(), String::new());
    for d in unfencing_devices(c) {
        let (a, s) = unfencing_summaries(c, d, n);
        all.push_str(&a);
        all.push(',');
        secure.push_str(&s);
        secure.push(',');
    }
    Some((all, secure))
}

/// Whether a device's parameters differ from those `n` was last unfenced
/// with: neither summary matches the node's recorded ones. Unknown (no
/// `#digests-all`) counts as unchanged (`pe__compare_fencing_digest`).
fn device_changed_since_unfencing(c: &Cluster, n: NodeIdx) -> bool {
    let attrs = &c.nodes[n].attrs;
    let Some(recorded_all) = attrs.get("#digests-all") else {
        return false;
    };
    let recorded_secure = attrs.get("#digests-secure");
    unfencing_devices(c).into_iter().any(|d| {
        let (all, secure) = unfencing_summaries(c, d, n);
        !recorded_all.contains(&all) && !recorded_secure.is_some_and(|r| r.contains(&secure))
    })
}

/// The node's unfencing (`pe_fence_op(node, "on", true, ...)`): required
/// from its creation when a device changed since the node was unfenced.
fn unfence(s: &mut ActionSet, c: &Cluster, n: NodeIdx) -> usize {
    if let Some(u) = s.unfencing_of(n) {
        return u;
    }
    let u = s.unfence(n);
    if device_changed_since_unfencing(c, n) && c.can_fence(n) {
        s.actions[u].optional = false;
    }
    u
}

/// Requires the unfencing of `n` (`trigger_unfencing` with a node): the
/// first reason given is kept.
fn require(s: &mut ActionSet, c: &Cluster, n: NodeIdx, reason: &str) {
    if !can_be_unfenced(c, n) {
        return;
    }
    let u = unfence(s, c, n);
    if c.can_fence(n) {
        s.actions[u].optional = false;
    }
    if s.actions[u].reason.is_none() {
        s.actions[u].reason = Some(reason.to_string());
    }
}

/// Creates the unfencing actions and their orderings, once the resources'
/// actions exist, in Pacemaker's order of creation (so the first reason
/// wins as there): the restart orderings of resources that require
/// unfencing, then the devices' definition changes, then probes node by
/// node, then starts and stops.
pub fn create(s: &mut ActionSet, c: &Cluster, changes: &[(RscIdx, NodeIdx, DeviceChange)]) {
    if !c.options.enable_unfencing {
        return;
    }
    let on_node = |s: &ActionSet, r: RscIdx, task: &str, n: NodeIdx| -> Vec<usize> {
        s.of(r, task)
            .into_iter()
            .filter(|&a| s.actions[a].node == Some(n))
            .collect()
    };
    // `pcmk__order_restart_vs_unfence`, for every node the resource may
    // run on: its stop there comes before the unfencing, its start there
    // after it, and a required unfencing restarts it there.
    for r in RscIdx::all(c.rscs.len()) {
        let rs = &c.rscs[r];
        if !rs.is_primitive() || !rs.config.managed || is_fence_device(c, r) || !rs.config.requires_unfencing {
            continue;
        }
        for n in NodeIdx::all(c.nodes.len()) {
            if rs.plan.allowed.get(n.0).is_none_or(Option::is_none) {
                continue;
            }
            let u = unfence(s, c, n);
            for st in on_node(s, r, "stop", n) {
                s.order(st, u, 0);
            }
            for st in on_node(s, r, "start", n) {
                s.order(u, st, flags::IMPLIES_THEN);
            }
        }
    }
    for &(r, n, change) in changes {
        if is_fence_device(c, r) {
            require(s, c, n, change.reason());
        }
    }
    // Probes, node by node (`pcmk__schedule_probes`), then starts
    // (`start_resource`).
    let probes: Vec<(NodeIdx, RscIdx, usize)> = {
        let mut v: Vec<_> = s
            .actions
            .iter()
            .filter(|a| a.task == "monitor" && a.interval_ms == 0 && a.cancels.is_none())
            .filter_map(|a| Some((a.node?, a.rsc?, a.id)))
            .filter(|&(_, r, _)| c.rscs[r].is_primitive() && needs_unfenced_node(c, r))
            .collect();
        v.sort();
        v
    };
    for (n, r, p) in probes {
        let u = unfence(s, c, n);
        s.order(u, p, 0);
        if !node_unfenced(c, n) {
            require(s, c, n, &format!("required by {} monitor", c.rscs[r].id));
        }
    }
    for r in RscIdx::all(c.rscs.len()) {
        if !c.rscs[r].is_primitive() || !needs_unfenced_node(c, r) {
            continue;
        }
        for st in s.of(r, "start") {
            let Some(n) = s.actions[st].node else { continue };
            let u = unfence(s, c, n);
            s.order(u, st, flags::IMPLIES_THEN);
            if !node_unfenced(c, n) {
                require(s, c, n, &format!("required by {} start", c.rscs[r].id));
            }
        }
        // `stop_resource`: a stop where the resource needs unfencing comes
        // before the unfencing, which requires it.
        if c.rscs[r].config.requires_unfencing {
            for st in s.of(r, "stop") {
                let Some(n) = s.actions[st].node else { continue };
                let u = unfence(s, c, n);
                s.order(st, u, flags::IMPLIES_FIRST);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::NodeIdx;
    use crate::testutil::run;
    use crate::Schedule;

    /// Two fenced nodes, a fence device that provides unfencing and a
    /// Dummy `d`; `status` holds each node's `node_state` content.
    fn cib(device_params: &str, status: [&str; 2], feature_set: &str) -> cib::Cib {
        let states: String = (1..=2)
            .map(|i| {
                format!(
                    "<node_state id=\"{i}\" uname=\"n{i}\" in_ccm=\"true\" crmd=\"online\" join=\"member\" \
                     expected=\"member\">{}</node_state>",
                    status[i - 1]
                )
            })
            .collect();
        cib::Cib::parse(&format!(
            "<cib epoch=\"1\" num_updates=\"0\" admin_epoch=\"0\" crm_feature_set=\"{feature_set}\" \
             have-quorum=\"1\"><configuration><crm_config/>\
             <nodes><node id=\"1\" uname=\"n1\"/><node id=\"2\" uname=\"n2\"/></nodes><resources>\
             <primitive id=\"fence\" class=\"stonith\" type=\"fence_mpath\">\
             <instance_attributes id=\"fence-i\">{device_params}</instance_attributes>\
             <meta_attributes id=\"fence-m\"><nvpair id=\"fence-p\" name=\"provides\" value=\"unfencing\"/>\
             </meta_attributes></primitive>\
             <primitive id=\"d\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"/>\
             </resources><constraints>\
             <rsc_location id=\"l\" rsc=\"d\" node=\"n1\" score=\"100\"/></constraints>\
             </configuration><status>{states}</status></cib>"
        ))
        .expect("test CIB parses")
    }

    fn attrs(i: usize, pairs: &[(&str, &str)]) -> String {
        let nv: String = pairs
            .iter()
            .enumerate()
            .map(|(j, (k, v))| format!("<nvpair id=\"a{i}-{j}\" name=\"{k}\" value=\"{v}\"/>"))
            .collect();
        format!("<transient_attributes id=\"{i}\"><instance_attributes id=\"t{i}\">{nv}</instance_attributes></transient_attributes>")
    }

    /// Everything probed already; `d` runs on n1, `fence` on n2.
    fn history(i: usize) -> String {
        let op = |rsc: &str, ty: &str, class: &str, task: &str, call: u32| {
            format!(
                "<lrm_resource id=\"{rsc}\" class=\"{class}\" provider=\"pacemaker\" type=\"{ty}\">\
                 <lrm_rsc_op id=\"{rsc}_last_0\" operation_key=\"{rsc}_{task}_0\" operation=\"{task}\" \
                 call-id=\"{call}\" rc-code=\"{}\" op-status=\"0\" interval=\"0\" transition-key=\"1:1:0:x\"/>\
                 </lrm_resource>",
                if task == "start" { 0 } else { 7 }
            )
        };
        let (d, f) = if i == 1 {
            ("start", "monitor")
        } else {
            ("monitor", "start")
        };
        format!(
            "<lrm id=\"{i}\"><lrm_resources>{}{}</lrm_resources></lrm>",
            op("d", "Dummy", "ocf", d, 1),
            op("fence", "fence_mpath", "stonith", f, 2)
        )
    }

    fn action(s: &Schedule, key: (&str, &str, &str)) -> usize {
        let (rsc, task, node) = key;
        s.actions
            .iter()
            .find(|a| {
                let named = match a.rsc {
                    Some(r) => s.cluster.rscs[r].id == rsc,
                    None => rsc.is_empty(),
                };
                named && a.task == task && a.node.is_some_and(|n| s.cluster.nodes[n].uname == node)
            })
            .unwrap_or_else(|| panic!("no {rsc} {task} on {node}"))
            .id
    }

    fn unfencing(s: &Schedule, node: &str) -> Option<usize> {
        s.actions
            .iter()
            .find(|a| a.is_unfencing() && a.node.is_some_and(|n| s.cluster.nodes[n].uname == node))
            .map(|a| a.id)
    }

    fn ordered(s: &Schedule, first: usize, then: usize) -> bool {
        s.edges.iter().any(|e| e.first == first && e.then == then)
    }

    #[test]
    fn a_node_never_unfenced_is_unfenced_before_its_probes_and_starts() {
        let s = run(&cib(
            "",
            [&attrs(1, &[]), &attrs(2, &[("#node-unfenced", "1")])],
            "3.16.1",
        ));
        let d = s.cluster.rscs.iter().position(|r| r.id == "d").expect("d");
        assert!(
            s.cluster.rscs[d].config.requires_unfencing,
            "the default once unfencing is in use"
        );
        let on1 = unfencing(&s, "n1").expect("n1 unfenced");
        assert!(!s.actions[on1].optional);
        // The first probe on the node names it (`trigger_unfencing`).
        assert_eq!(s.actions[on1].reason.as_deref(), Some("required by fence monitor"));
        for key in [("fence", "monitor", "n1"), ("d", "monitor", "n1"), ("d", "start", "n1")] {
            assert!(ordered(&s, on1, action(&s, key)), "unfencing before {key:?}");
        }
        // n2 was unfenced: its unfencing stays optional, yet orders.
        let on2 = unfencing(&s, "n2").expect("n2 considered");
        assert!(s.actions[on2].optional);
        assert!(ordered(&s, on2, action(&s, ("fence", "monitor", "n2"))));
    }

    #[test]
    fn changed_device_parameters_unfence_again_and_restart_what_needs_it() {
        let unfenced = |i: usize| {
            attrs(
                i,
                &[
                    ("#node-unfenced", "1"),
                    ("#digests-all", "fence:fence_mpath:0123456789abcdef0123456789abcdef,"),
                    ("#digests-secure", "fence:fence_mpath:0123456789abcdef0123456789abcdef,"),
                ],
            )
        };
        let (s1, s2) = (
            format!("{}{}", unfenced(1), history(1)),
            format!("{}{}", unfenced(2), history(2)),
        );
        let s = run(&cib(
            "<nvpair id=\"k\" name=\"key\" value=\"1\"/>",
            [&s1, &s2],
            "3.16.1",
        ));
        let on1 = unfencing(&s, "n1").expect("n1 unfenced");
        assert!(!s.actions[on1].optional);
        // Without a history change of the device there, no reason: crm_simulate
        // prints no summary line for it.
        assert_eq!(s.actions[on1].reason, None);
        let (stop, start) = (action(&s, ("d", "stop", "n1")), action(&s, ("d", "start", "n1")));
        assert!(
            !s.actions[stop].optional && !s.actions[start].optional,
            "d restarts on n1"
        );
        assert!(ordered(&s, stop, on1) && ordered(&s, on1, start));
    }

    #[test]
    fn fencing_carries_each_unfencing_device_digest_last_configured_first() {
        // Parameters and digests of mpath-node1 in Pacemaker's
        // start-then-stop-with-unfence graph (feature set 3.0.10).
        let params = "<nvpair id=\"p1\" name=\"devices\" value=\"/dev/mapper/clustPVa\"/>\
                      <nvpair id=\"p2\" name=\"key\" value=\"1233\"/>\
                      <nvpair id=\"p3\" name=\"pcmk_host_list\" value=\"rhel7-node1.example.com\"/>";
        let s = run(&cib(params, [&attrs(1, &[]), &attrs(2, &[])], "3.0.10"));
        let (all, secure) = super::digest_meta(&s.cluster, NodeIdx(0)).expect("unfencing in use");
        assert_eq!(all, "fence:fence_mpath:019ed48e26413030411da3ae8888a649,");
        assert_eq!(secure, "fence:fence_mpath:21f9562fe6837f7357aab98ba69f71fb,");
    }
}

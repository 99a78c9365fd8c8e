//! Writes a [`Model`] as CIB XML, drawing the constraints on the way
//! (they only name resources, so they need not be part of the model).

use std::fmt::Write as _;

use cib::digest::operation_digest;

use super::model::{Agent, Hist, Model, NodeState, Prim, Top};
use super::Rng;

fn score(rng: &mut Rng) -> &'static str {
    const SCORES: &[&str] = &["INFINITY", "-INFINITY", "100", "50", "10", "-10", "200", "0"];
    SCORES[rng.below(SCORES.len())]
}

/// The recurring monitor interval (ms) for a role: promotable resources
/// need distinct intervals per role.
fn monitor_ms(promoted: bool) -> u64 {
    if promoted {
        11_000
    } else {
        10_000
    }
}

pub fn render(m: &Model, rng: &mut Rng) -> String {
    let mut x = String::new();
    let fs = m
        .feature_set
        .map(|v| format!(" crm_feature_set=\"{v}\""))
        .unwrap_or_default();
    let _ = writeln!(
        x,
        "<cib epoch=\"1\" num_updates=\"1\" admin_epoch=\"0\" validate-with=\"pacemaker-3.9\"{fs} have-quorum=\"{}\" dc-uuid=\"1\">",
        u8::from(m.have_quorum)
    );
    x.push_str("  <configuration>\n    <crm_config>\n      <cluster_property_set id=\"opts\">\n");
    let mut opt = |name: &str, value: &str| {
        let _ = writeln!(
            x,
            "        <nvpair id=\"opt-{name}\" name=\"{name}\" value=\"{value}\"/>"
        );
    };
    opt("stonith-enabled", if m.stonith { "true" } else { "false" });
    opt("no-quorum-policy", m.no_quorum_policy);
    if let Some(p) = m.placement {
        opt("placement-strategy", p);
    }
    x.push_str("      </cluster_property_set>\n    </crm_config>\n    <nodes>\n");
    for (i, n) in m.nodes.iter().enumerate() {
        let id = i + 1;
        let _ = write!(x, "      <node id=\"{id}\" uname=\"node{id}\">");
        if n.standby || n.maintenance {
            let _ = write!(x, "<instance_attributes id=\"node{id}-ia\">");
            if n.standby {
                let _ = write!(x, "<nvpair id=\"node{id}-standby\" name=\"standby\" value=\"on\"/>");
            }
            if n.maintenance {
                let _ = write!(x, "<nvpair id=\"node{id}-maint\" name=\"maintenance\" value=\"true\"/>");
            }
            x.push_str("</instance_attributes>");
        }
        if let Some(c) = n.capacity {
            let _ = write!(
                x,
                "<utilization id=\"node{id}-util\"><nvpair id=\"node{id}-cpu\" name=\"cpu\" value=\"{c}\"/></utilization>"
            );
        }
        x.push_str("</node>\n");
    }
    x.push_str("    </nodes>\n    <resources>\n");
    if m.stonith {
        x.push_str("      <primitive id=\"fence\" class=\"stonith\" type=\"fence_dummy\"/>\n");
    }
    for top in &m.resources {
        resource(&mut x, top);
    }
    x.push_str("    </resources>\n    <constraints>\n");
    constraints(&mut x, m, rng);
    x.push_str("    </constraints>\n");
    if m.stickiness > 0 {
        let _ = writeln!(
            x,
            "    <rsc_defaults><meta_attributes id=\"rsc-defaults\"><nvpair id=\"stick\" name=\"resource-stickiness\" value=\"{}\"/></meta_attributes></rsc_defaults>",
            m.stickiness
        );
    }
    x.push_str("  </configuration>\n  <status>\n");
    status(&mut x, m);
    x.push_str("  </status>\n</cib>\n");
    x
}

fn meta(x: &mut String, owner: &str, pairs: &[(&str, String)]) {
    if pairs.is_empty() {
        return;
    }
    let _ = write!(x, "<meta_attributes id=\"{owner}-meta\">");
    for (k, v) in pairs {
        let _ = write!(x, "<nvpair id=\"{owner}-{k}\" name=\"{k}\" value=\"{v}\"/>");
    }
    x.push_str("</meta_attributes>");
}

fn primitive(x: &mut String, p: &Prim) {
    let _ = write!(
        x,
        "<primitive id=\"{}\" class=\"ocf\" provider=\"pacemaker\" type=\"{}\">",
        p.id,
        p.agent.name()
    );
    let mut pairs = Vec::new();
    if p.allow_migrate {
        pairs.push(("allow-migrate", "true".to_string()));
    }
    if let Some(t) = p.migration_threshold {
        pairs.push(("migration-threshold", t.to_string()));
    }
    if p.unmanaged {
        pairs.push(("is-managed", "false".to_string()));
    }
    if let Some(r) = p.target_role {
        pairs.push(("target-role", r.to_string()));
    }
    meta(x, &p.id, &pairs);
    if let Some(u) = p.utilization {
        let _ = write!(
            x,
            "<utilization id=\"{0}-util\"><nvpair id=\"{0}-cpu\" name=\"cpu\" value=\"{u}\"/></utilization>",
            p.id
        );
    }
    let on_fail = p.on_fail.map(|f| format!(" on-fail=\"{f}\"")).unwrap_or_default();
    x.push_str("<operations>");
    match p.agent {
        Agent::Dummy => {
            let _ = write!(
                x,
                "<op id=\"{}-mon\" name=\"monitor\" interval=\"10s\"{on_fail}/>",
                p.id
            );
        }
        Agent::Stateful => {
            let _ = write!(
                x,
                "<op id=\"{0}-mon-u\" name=\"monitor\" interval=\"10s\" role=\"Unpromoted\"{on_fail}/><op id=\"{0}-mon-p\" name=\"monitor\" interval=\"11s\" role=\"Promoted\"{on_fail}/>",
                p.id
            );
        }
    }
    x.push_str("</operations></primitive>");
}

fn resource(x: &mut String, top: &Top) {
    x.push_str("      ");
    match top {
        Top::Prim(p) => primitive(x, p),
        Top::Group { id, members } => {
            let _ = write!(x, "<group id=\"{id}\">");
            for p in members {
                primitive(x, p);
            }
            x.push_str("</group>");
        }
        Top::Clone(c) => {
            let _ = write!(x, "<clone id=\"{}\">", c.id);
            let mut pairs = Vec::new();
            if c.promotable {
                pairs.push(("promotable", "true".to_string()));
            }
            if let Some(n) = c.clone_max {
                pairs.push(("clone-max", n.to_string()));
            }
            if let Some(n) = c.promoted_max {
                pairs.push(("promoted-max", n.to_string()));
            }
            if c.interleave {
                pairs.push(("interleave", "true".to_string()));
            }
            if c.notify {
                pairs.push(("notify", "true".to_string()));
            }
            meta(x, &c.id, &pairs);
            if let Some(g) = &c.group_id {
                let _ = write!(x, "<group id=\"{g}\">");
                for p in &c.members {
                    primitive(x, p);
                }
                x.push_str("</group>");
            } else {
                primitive(x, &c.members[0]);
            }
            x.push_str("</clone>");
        }
    }
    x.push('\n');
}

/// Resources a constraint may name: every top-level resource, and the
/// members of plain groups.
fn targets(m: &Model) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for t in &m.resources {
        out.push((t.id().to_string(), t.is_promotable()));
        if let Top::Group { members, .. } = t {
            for p in members {
                out.push((p.id.clone(), false));
            }
        }
    }
    out
}

fn constraints(x: &mut String, m: &Model, rng: &mut Rng) {
    let ts = targets(m);
    let n_nodes = m.nodes.len();
    let mut cid = 0;
    for (t, promotable) in &ts {
        if rng.chance(45) {
            cid += 1;
            let role = rng.attr(*promotable, 50, " role=\"Promoted\"");
            let _ = writeln!(
                x,
                "      <rsc_location id=\"loc{cid}\" rsc=\"{t}\" node=\"node{}\" score=\"{}\"{role}/>",
                1 + rng.below(n_nodes),
                score(rng)
            );
        }
    }
    for _ in 0..rng.below(ts.len() + 1) {
        let (a, pa) = &ts[rng.below(ts.len())];
        let (b, pb) = &ts[rng.below(ts.len())];
        // A group constrained with its own member contradicts the group's
        // own ordering and colocation: left out, as no one configures it.
        if a == b || related(m, a, b) {
            continue;
        }
        cid += 1;
        match rng.below(10) {
            0..=3 => {
                let role_a = rng.attr(*pa, 40, " rsc-role=\"Promoted\"");
                let role_b = rng.attr(*pb, 40, " with-rsc-role=\"Promoted\"");
                let _ = writeln!(
                    x,
                    "      <rsc_colocation id=\"col{cid}\" rsc=\"{a}\" with-rsc=\"{b}\" score=\"{}\"{role_a}{role_b}/>",
                    score(rng)
                );
            }
            4..=7 => {
                let kind = ["Mandatory", "Optional", "Serialize"][rng.below(3)];
                let fa = rng.attr(*pa, 40, " first-action=\"promote\"");
                let ta = rng.attr(*pb, 30, " then-action=\"promote\"");
                let sym = rng.attr(true, 20, " symmetrical=\"false\"");
                let _ = writeln!(
                    x,
                    "      <rsc_order id=\"ord{cid}\" first=\"{a}\" then=\"{b}\" kind=\"{kind}\"{fa}{ta}{sym}/>"
                );
            }
            _ => resource_sets(x, m, cid, &ts, rng),
        }
    }
}

/// One `resource_set` of one or two resources not in `used` (a resource
/// in both sets of an ordering makes Pacemaker order an action with itself,
/// which it asserts against).
fn set<'a>(x: &mut String, id: &str, ts: &'a [(String, bool)], used: &mut Vec<&'a str>, rng: &mut Rng) {
    let seq = rng.attr(true, 30, " sequential=\"false\"");
    let _ = write!(x, "<resource_set id=\"{id}\"{seq}>");
    let mut any = false;
    for _ in 0..1 + rng.below(2) {
        let (t, _) = &ts[rng.below(ts.len())];
        if !used.contains(&t.as_str()) {
            let _ = write!(x, "<resource_ref id=\"{t}\"/>");
            used.push(t);
            any = true;
        }
    }
    if !any {
        // An empty set is invalid: fall back on any resource not yet used.
        if let Some((t, _)) = ts.iter().find(|(t, _)| !used.contains(&t.as_str())) {
            let _ = write!(x, "<resource_ref id=\"{t}\"/>");
            used.push(t);
        }
    }
    x.push_str("</resource_set>");
}

/// Whether one of `a` and `b` is a group and the other its member.
fn related(m: &Model, a: &str, b: &str) -> bool {
    m.resources.iter().any(|t| match t {
        Top::Group { id, members } => {
            (id == a && members.iter().any(|p| p.id == b)) || (id == b && members.iter().any(|p| p.id == a))
        }
        _ => false,
    })
}

/// An ordering or colocation over two resource sets.
fn resource_sets(x: &mut String, m: &Model, cid: usize, ts: &[(String, bool)], rng: &mut Rng) {
    if ts.iter().any(|(a, _)| ts.iter().any(|(b, _)| related(m, a, b))) {
        // Keep sets to resources that are not a group and its member.
        let tops: Vec<(String, bool)> = ts
            .iter()
            .filter(|(t, _)| m.resources.iter().any(|r| r.id() == t))
            .cloned()
            .collect();
        if tops.len() < 2 {
            return;
        }
        return resource_sets(x, m, cid, &tops, rng);
    }
    let (tag, extra) = if rng.chance(50) {
        ("rsc_order", " kind=\"Mandatory\"".to_string())
    } else {
        ("rsc_colocation", format!(" score=\"{}\"", score(rng)))
    };
    let _ = write!(x, "      <{tag} id=\"set{cid}\"{extra}>");
    let mut used = Vec::new();
    set(x, &format!("set{cid}-1"), ts, &mut used, rng);
    set(x, &format!("set{cid}-2"), ts, &mut used, rng);
    let _ = writeln!(x, "</{tag}>");
}

fn op(x: &mut String, fs: &str, id: &str, key: (&str, &str, u64), call: &mut u32, target: u8, rc: u8) {
    let (rsc, task, interval) = key;
    *call += 1;
    let digest = operation_digest(&Default::default(), interval, 20_000);
    let _ = writeln!(
        x,
        "            <lrm_rsc_op id=\"{id}\" operation_key=\"{rsc}_{task}_{interval}\" operation=\"{task}\"{fs} transition-key=\"{call}:1:{target}:00000000-0000-0000-0000-000000000000\" transition-magic=\"0:{rc};{call}:1:{target}:00000000-0000-0000-0000-000000000000\" call-id=\"{call}\" rc-code=\"{rc}\" op-status=\"0\" interval=\"{interval}\" last-rc-change=\"1000000000\" op-digest=\"{digest}\"/>"
    );
}

fn history(x: &mut String, fs: &str, p: &Prim, h: Hist, call: &mut u32) {
    let r = p.id.as_str();
    let _ = writeln!(
        x,
        "          <lrm_resource id=\"{r}\" class=\"ocf\" provider=\"pacemaker\" type=\"{}\">",
        p.agent.name()
    );
    let last = format!("{r}_last_0");
    let failure = format!("{r}_last_failure_0");
    match h {
        Hist::None => {}
        Hist::Stopped => op(x, fs, &last, (r, "monitor", 0), call, 7, 7),
        Hist::Started => {
            op(x, fs, &last, (r, "start", 0), call, 0, 0);
            op(x, fs, &format!("{r}_monitor_10000"), (r, "monitor", 10_000), call, 0, 0);
        }
        Hist::Promoted => {
            op(x, fs, &last, (r, "promote", 0), call, 0, 0);
            op(x, fs, &format!("{r}_monitor_11000"), (r, "monitor", 11_000), call, 8, 8);
        }
        Hist::MonitorFailed => {
            op(x, fs, &last, (r, "start", 0), call, 0, 0);
            let ms = monitor_ms(false);
            op(x, fs, &format!("{r}_monitor_{ms}"), (r, "monitor", ms), call, 0, 1);
            *call -= 1;
            op(x, fs, &failure, (r, "monitor", ms), call, 0, 1);
        }
        Hist::StartFailed => {
            op(x, fs, &last, (r, "start", 0), call, 0, 1);
            *call -= 1;
            op(x, fs, &failure, (r, "start", 0), call, 0, 1);
        }
    }
    x.push_str("          </lrm_resource>\n");
}

fn status(x: &mut String, m: &Model) {
    let prims: Vec<&Prim> = m.resources.iter().flat_map(|t| t.prims()).collect();
    let fs = m
        .feature_set
        .map(|v| format!(" crm_feature_set=\"{v}\""))
        .unwrap_or_default();
    let mut call = 10;
    for (i, node) in m.nodes.iter().enumerate() {
        let n = i + 1;
        let (in_ccm, crmd, join, expected) = match node.state {
            NodeState::Offline => ("false", "offline", "down", "down"),
            NodeState::Lost => ("false", "offline", "down", "member"),
            NodeState::Online => ("true", "online", "member", "member"),
        };
        let _ = writeln!(
            x,
            "    <node_state id=\"{n}\" uname=\"node{n}\" in_ccm=\"{in_ccm}\" crmd=\"{crmd}\" join=\"{join}\" expected=\"{expected}\">"
        );
        let mut attrs: Vec<(String, String)> = Vec::new();
        for p in &prims {
            if let Some(c) = p.fail_count[i] {
                let key = match p.hist[i] {
                    Hist::StartFailed => "start_0".to_string(),
                    _ => format!("monitor_{}", monitor_ms(false)),
                };
                let v = if c == u32::MAX {
                    "INFINITY".to_string()
                } else {
                    c.to_string()
                };
                attrs.push((format!("fail-count-{}#{key}", p.id), v));
                attrs.push((format!("last-failure-{}#{key}", p.id), "1000000000".to_string()));
            }
        }
        for (rsc, s) in &node.promotion {
            attrs.push((format!("master-{rsc}"), s.to_string()));
        }
        if !attrs.is_empty() {
            let _ = write!(
                x,
                "      <transient_attributes id=\"{n}\"><instance_attributes id=\"status-{n}\">"
            );
            for (k, v) in &attrs {
                let _ = write!(
                    x,
                    "<nvpair id=\"status-{n}-{}\" name=\"{k}\" value=\"{v}\"/>",
                    k.replace('#', "-")
                );
            }
            x.push_str("</instance_attributes></transient_attributes>\n");
        }
        let _ = writeln!(x, "      <lrm id=\"{n}\">\n        <lrm_resources>");
        for p in &prims {
            history(x, &fs, p, p.hist[i], &mut call);
        }
        x.push_str("        </lrm_resources>\n      </lrm>\n    </node_state>\n");
    }
}

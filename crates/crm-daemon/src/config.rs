//! What the host reads from the CIB itself: the fence devices and topology it registers
//! with the fencer (as `pacemaker-fenced` does from the CIB's `class="stonith"`
//! primitives and `fencing-topology`), and `no-quorum-policy`.

use std::collections::BTreeMap;
use std::time::Duration;

use cib::document::CibDocument;
use cib::xml::Element;
use crmd::NoQuorumPolicy;
use tracing::warn;

/// A fence device as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfig {
    /// The agent (the primitive's `type`, e.g. `fence_ipmilan`).
    pub agent: String,
    /// Its instance attributes, `pcmk_*` options included.
    pub params: BTreeMap<String, String>,
}

/// Fencing as configured: devices by id, topology levels by target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FencingConfig {
    pub devices: BTreeMap<String, DeviceConfig>,
    /// Node → its (index, devices) levels, patterns and attributes resolved.
    pub topology: BTreeMap<String, Levels>,
    /// `stonith-timeout`, when set.
    pub timeout: Option<Duration>,
}

fn nvpairs(set: &Element, into: &mut BTreeMap<String, String>) {
    for nv in set.children_named("nvpair") {
        if let (Some(n), Some(v)) = (nv.attr("name"), nv.attr("value")) {
            into.entry(n.to_string()).or_insert_with(|| v.to_string());
        }
    }
}

fn collect_primitives<'a>(e: &'a Element, out: &mut Vec<&'a Element>) {
    for c in e.elements() {
        match c.name.as_str() {
            "primitive" => out.push(c),
            "group" | "clone" | "master" => collect_primitives(c, out),
            _ => {}
        }
    }
}

/// The fence devices and topology of `doc`.
pub fn fencing(doc: &CibDocument) -> FencingConfig {
    let mut out = FencingConfig::default();
    if let Some(resources) = doc.find("/cib/configuration/resources") {
        let mut prims = Vec::new();
        collect_primitives(resources, &mut prims);
        for p in prims {
            if p.attr("class") != Some("stonith") {
                continue;
            }
            let (Some(id), Some(agent)) = (p.attr("id"), p.attr("type")) else {
                continue;
            };
            let mut meta = BTreeMap::new();
            for set in p.children_named("meta_attributes") {
                nvpairs(set, &mut meta);
            }
            if meta
                .get("target-role")
                .is_some_and(|r| r.eq_ignore_ascii_case("stopped"))
            {
                continue;
            }
            let mut params = BTreeMap::new();
            for set in p.children_named("instance_attributes") {
                nvpairs(set, &mut params);
            }
            out.devices.insert(
                id.to_string(),
                DeviceConfig {
                    agent: agent.to_string(),
                    params,
                },
            );
        }
    }
    out.topology = topology(doc);
    out.timeout = property(doc, "stonith-timeout").and_then(|v| match cib::parse_interval_ms(&v) {
        Some(ms) if ms > 0 => Some(Duration::from_millis(ms)),
        _ => {
            warn!(value = v, "stonith-timeout is not a duration: the default applies");
            None
        }
    });
    out
}

/// A node's fencing levels: (index, devices), as written.
pub type Levels = Vec<(u32, Vec<String>)>;

/// Whom a fencing level is for (`target`, `target-pattern`, `target-attribute` with
/// `target-value`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum LevelTarget {
    Name(String),
    Pattern(String),
    Attribute { name: String, value: String },
}

/// The node names the CIB knows (configuration `<node>`s and `node_state`s), each with
/// its permanent attributes.
fn known_nodes(doc: &CibDocument) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    if let Some(nodes) = doc.find("/cib/configuration/nodes") {
        for n in nodes.children_named("node") {
            let Some(name) = n.attr("uname") else { continue };
            let attrs = out.entry(name.to_string()).or_default();
            for set in n.children_named("instance_attributes") {
                nvpairs(set, attrs);
            }
        }
    }
    if let Some(status) = doc.find("/cib/status") {
        for n in status.children_named("node_state") {
            if let Some(name) = n.attr("uname") {
                out.entry(name.to_string()).or_default();
            }
        }
    }
    out
}

/// The fencing levels of each node, as `pacemaker-fenced` chooses them
/// (`find_topology_for_host`): the levels of its own name if any, else those of the
/// first pattern (a regular expression searched in the name) or attribute that matches
/// it. Pattern and attribute levels are resolved against the nodes the CIB knows.
fn topology(doc: &CibDocument) -> BTreeMap<String, Levels> {
    let mut groups: Vec<(LevelTarget, Levels)> = Vec::new();
    let Some(topo) = doc.find("/cib/configuration/fencing-topology") else {
        return BTreeMap::new();
    };
    for level in topo.children_named("fencing-level") {
        let id = level.attr("id");
        let target = match (
            level.attr("target"),
            level.attr("target-pattern"),
            level.attr("target-attribute"),
            level.attr("target-value"),
        ) {
            (Some(t), _, _, _) => LevelTarget::Name(t.to_string()),
            (None, Some(p), _, _) => match regex::Regex::new(p) {
                Ok(_) => LevelTarget::Pattern(p.to_string()),
                Err(e) => {
                    warn!(id, pattern = p, error = %e, "fencing level with an invalid target-pattern: ignored");
                    continue;
                }
            },
            (None, None, Some(a), Some(v)) => LevelTarget::Attribute {
                name: a.to_string(),
                value: v.to_string(),
            },
            _ => {
                warn!(
                    id,
                    "fencing level without target, target-pattern or target-attribute and target-value: ignored"
                );
                continue;
            }
        };
        let (Some(index), Some(devices)) = (level.attr("index").and_then(|i| i.parse().ok()), level.attr("devices"))
        else {
            warn!(id, "fencing level without index or devices: ignored");
            continue;
        };
        let devices = devices
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(str::to_string)
            .collect();
        match groups.iter_mut().find(|(t, _)| *t == target) {
            Some((_, levels)) => levels.push((index, devices)),
            None => groups.push((target, vec![(index, devices)])),
        }
    }
    let mut out = BTreeMap::new();
    for (t, levels) in &groups {
        if let LevelTarget::Name(n) = t {
            out.insert(n.clone(), levels.clone());
        }
    }
    for (node, attrs) in known_nodes(doc) {
        if out.contains_key(&node) {
            continue;
        }
        let first = groups.iter().find(|(t, _)| match t {
            LevelTarget::Name(_) => false,
            LevelTarget::Pattern(p) => regex::Regex::new(p).is_ok_and(|re| re.is_match(&node)),
            LevelTarget::Attribute { name, value } => attrs.get(name) == Some(value),
        });
        if let Some((_, levels)) = first {
            out.insert(node, levels.clone());
        }
    }
    out
}

/// The value of cluster property `name` (the first set that has it).
pub fn property(doc: &CibDocument, name: &str) -> Option<String> {
    let crm = doc.find("/cib/configuration/crm_config")?;
    crm.children_named("cluster_property_set")
        .flat_map(|s| s.children_named("nvpair"))
        .find(|nv| nv.attr("name") == Some(name))
        .and_then(|nv| nv.attr("value"))
        .map(str::to_string)
}

/// `no-quorum-policy` (Pacemaker's default: stop).
pub fn no_quorum_policy(doc: &CibDocument) -> NoQuorumPolicy {
    match property(doc, "no-quorum-policy").as_deref() {
        Some("freeze") => NoQuorumPolicy::Freeze,
        Some("ignore") => NoQuorumPolicy::Ignore,
        Some("demote") => NoQuorumPolicy::Demote,
        Some("suicide") => NoQuorumPolicy::Suicide,
        Some("stop") | None => NoQuorumPolicy::Stop,
        Some(other) => {
            warn!(value = other, "unknown no-quorum-policy: stop");
            NoQuorumPolicy::Stop
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_topology_and_policy() {
        let doc = CibDocument::parse(
            r#"<cib admin_epoch="0" epoch="3" num_updates="0" validate-with="pacemaker-3.9">
<configuration><crm_config><cluster_property_set id="o">
<nvpair id="o1" name="no-quorum-policy" value="ignore"/></cluster_property_set></crm_config>
<nodes/><resources>
<primitive id="f1" class="stonith" type="fence_ferrosync_test"><instance_attributes id="f1-i">
<nvpair id="f1-a" name="state_dir" value="/tmp/x"/><nvpair id="f1-b" name="pcmk_host_list" value="n1 n2"/></instance_attributes></primitive>
<primitive id="f2" class="stonith" type="fence_dummy"><meta_attributes id="f2-m"><nvpair id="f2-r" name="target-role" value="Stopped"/></meta_attributes></primitive>
<group id="g"><primitive id="d" class="ocf" provider="pacemaker" type="Dummy"/></group>
</resources><constraints/>
<fencing-topology><fencing-level id="l1" target="n1" index="1" devices="f1"/><fencing-level id="l2" target="n1" index="2" devices="f1, f3"/>
<fencing-level id="l3" target-pattern="n.*" index="1" devices="f1"/></fencing-topology>
</configuration><status/></cib>"#,
        )
        .unwrap();
        let f = fencing(&doc);
        assert_eq!(f.devices.keys().collect::<Vec<_>>(), ["f1"]);
        assert_eq!(f.devices["f1"].agent, "fence_ferrosync_test");
        assert_eq!(f.devices["f1"].params["pcmk_host_list"], "n1 n2");
        assert_eq!(
            f.topology["n1"],
            vec![
                (1, vec!["f1".to_string()]),
                (2, vec!["f1".to_string(), "f3".to_string()])
            ]
        );
        assert_eq!(f.timeout, None);
        assert_eq!(no_quorum_policy(&doc), NoQuorumPolicy::Ignore);
        assert_eq!(no_quorum_policy(&CibDocument::empty(0)), NoQuorumPolicy::Stop);
        assert_eq!(fencing(&CibDocument::empty(0)), FencingConfig::default());
    }

    #[test]
    fn levels_by_name_then_first_pattern_or_attribute() {
        let doc = CibDocument::parse(
            r#"<cib admin_epoch="0" epoch="3" num_updates="0" validate-with="pacemaker-3.9">
<configuration><crm_config><cluster_property_set id="o">
<nvpair id="o1" name="stonith-timeout" value="90s"/></cluster_property_set></crm_config>
<nodes><node id="1" uname="web1"/><node id="2" uname="web2"/>
<node id="3" uname="db1"><instance_attributes id="n3"><nvpair id="n3r" name="rack" value="r7"/></instance_attributes></node></nodes>
<resources/><constraints/>
<fencing-topology>
<fencing-level id="a" target-attribute="rack" target-value="r7" index="1" devices="pdu7"/>
<fencing-level id="p1" target-pattern="^web" index="1" devices="ipmi"/>
<fencing-level id="p2" target-pattern="^web" index="2" devices="pdu1,pdu2"/>
<fencing-level id="n" target="web2" index="1" devices="special"/>
<fencing-level id="bad" target-pattern="(" index="1" devices="x"/>
<fencing-level id="half" target-attribute="rack" index="1" devices="x"/>
</fencing-topology>
</configuration><status><node_state id="4" uname="web9"/></status></cib>"#,
        )
        .unwrap();
        let f = fencing(&doc);
        let levels = |devs: &[(u32, &[&str])]| -> Vec<(u32, Vec<String>)> {
            devs.iter()
                .map(|(i, d)| (*i, d.iter().map(|s| s.to_string()).collect()))
                .collect()
        };
        assert_eq!(f.topology["web1"], levels(&[(1, &["ipmi"]), (2, &["pdu1", "pdu2"])]));
        assert_eq!(
            f.topology["web9"], f.topology["web1"],
            "a node known only from the status"
        );
        assert_eq!(f.topology["web2"], levels(&[(1, &["special"])]), "its own name first");
        assert_eq!(f.topology["db1"], levels(&[(1, &["pdu7"])]));
        assert_eq!(f.topology.len(), 4);
        assert_eq!(f.timeout, Some(Duration::from_secs(90)));
    }
}

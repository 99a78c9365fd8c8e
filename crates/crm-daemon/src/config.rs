//! What the host reads from the CIB itself: the fence devices and topology it registers
//! with the fencer (as `pacemaker-fenced` does from the CIB's `class="stonith"`
//! primitives and `fencing-topology`), and `no-quorum-policy`.

use std::collections::BTreeMap;

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
    /// target → (index, devices), as written.
    pub topology: BTreeMap<String, Vec<(u32, Vec<String>)>>,
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
    if let Some(topo) = doc.find("/cib/configuration/fencing-topology") {
        for level in topo.children_named("fencing-level") {
            let Some(target) = level.attr("target") else {
                warn!(
                    id = level.attr("id"),
                    "fencing level without a plain target is not supported yet"
                );
                continue;
            };
            let (Some(index), Some(devices)) =
                (level.attr("index").and_then(|i| i.parse().ok()), level.attr("devices"))
            else {
                warn!(id = level.attr("id"), "fencing level without index or devices");
                continue;
            };
            let devices = devices
                .split(',')
                .map(str::trim)
                .filter(|d| !d.is_empty())
                .map(str::to_string)
                .collect();
            out.topology
                .entry(target.to_string())
                .or_default()
                .push((index, devices));
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
        assert_eq!(no_quorum_policy(&doc), NoQuorumPolicy::Ignore);
        assert_eq!(no_quorum_policy(&CibDocument::empty(0)), NoQuorumPolicy::Stop);
        assert_eq!(fencing(&CibDocument::empty(0)), FencingConfig::default());
    }
}

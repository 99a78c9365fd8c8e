//! Unfencing through the simulator: `Fence (on)` is listed only with a
//! reason, and executing it leaves the node and its history alone
//! (`simulate_fencing_action` in crm_simulate).

use cib::Cib;
use crm::simulate::simulate;
use scheduler::model::NodeIdx;
use scheduler::Options;

/// A history entry's common attributes, with the digest of a resource
/// without parameters (so nothing counts as changed).
fn op() -> String {
    let digest = cib::digest::operation_digest(&Default::default(), 0, 20_000);
    format!(r#"transition-key="1:1:0:x" op-status="0" interval="0" op-digest="{digest}""#)
}

/// Two nodes and a fence device that provides unfencing, running on node2;
/// a Dummy `d` prefers node1. `node1_attrs` are node1's transient
/// attributes; node2 was unfenced.
fn cib(node1_attrs: &str, d_on_node1: bool) -> Cib {
    let op = op();
    let d_history = if d_on_node1 {
        format!(
            r#"<lrm_resource id="d" class="ocf" provider="pacemaker" type="Dummy"><lrm_rsc_op id="d1" operation="start" call-id="1" rc-code="0" {op}/></lrm_resource>
<lrm_resource id="fence" class="stonith" type="fence_mpath"><lrm_rsc_op id="f0" operation="monitor" call-id="2" rc-code="7" {op}/></lrm_resource>"#
        )
    } else {
        String::new()
    };
    let xml = format!(
        r#"<cib have-quorum="1" execution-date="1000" crm_feature_set="3.16.1"><configuration>
  <crm_config><cluster_property_set id="o"><nvpair id="o1" name="stonith-enabled" value="true"/></cluster_property_set></crm_config>
  <nodes><node id="1" uname="node1"/><node id="2" uname="node2"/></nodes>
  <resources>
<primitive id="fence" class="stonith" type="fence_mpath"><meta_attributes id="f-m"><nvpair id="f-m1" name="provides" value="unfencing"/></meta_attributes></primitive>
<primitive id="d" class="ocf" provider="pacemaker" type="Dummy"/>
  </resources><constraints><rsc_location id="l" rsc="d" node="node1" score="100"/></constraints></configuration>
<status>
  <node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member">
<transient_attributes id="1"><instance_attributes id="t1">{node1_attrs}</instance_attributes></transient_attributes>
<lrm id="1"><lrm_resources>{d_history}</lrm_resources></lrm></node_state>
  <node_state id="2" uname="node2" in_ccm="true" crmd="online" join="member" expected="member">
<transient_attributes id="2"><instance_attributes id="t2"><nvpair id="u2" name="&#35;node-unfenced" value="1"/></instance_attributes></transient_attributes>
<lrm id="2"><lrm_resources>
<lrm_resource id="fence" class="stonith" type="fence_mpath"><lrm_rsc_op id="f1" operation="start" call-id="1" rc-code="0" {op}/></lrm_resource>
<lrm_resource id="d" class="ocf" provider="pacemaker" type="Dummy"><lrm_rsc_op id="d0" operation="monitor" call-id="2" rc-code="7" {op}/></lrm_resource>
  </lrm_resources></lrm></node_state>
</status></cib>"#
    );
    Cib::parse(&xml).expect("test CIB parses")
}

#[test]
fn a_new_node_is_unfenced_first_and_stays_up_with_its_resources() {
    let c = cib("", false);
    let sim = simulate(&c, &Options::for_cib(&c, None, || 0));
    assert!(
        sim.summary_text
            .contains("* Fence (on) node1 'required by fence monitor'"),
        "{}",
        sim.summary_text
    );
    assert!(!sim.summary_text.contains("node2 'required"), "{}", sim.summary_text);
    // Unfencing neither takes node1 down nor wipes what started there.
    assert!(
        sim.revised_text.contains("* Online: [ node1 node2 ]"),
        "{}",
        sim.revised_text
    );
    assert!(sim.revised_text.contains("Started node1"), "{}", sim.revised_text);
}

#[test]
fn an_unfencing_required_without_a_reason_is_not_listed() {
    // node1 was unfenced with other device parameters: it is unfenced again
    // (and d restarted there), but nothing names a reason.
    let attrs = r#"<nvpair id="u1" name="&#35;node-unfenced" value="1"/>
<nvpair id="u2" name="&#35;digests-all" value="fence:fence_mpath:0123456789abcdef0123456789abcdef,"/>"#;
    let c = cib(attrs, true);
    let sim = simulate(&c, &Options::for_cib(&c, None, || 0));
    let unfence = sim
        .schedule
        .actions
        .iter()
        .find(|a| a.is_unfencing() && a.node == Some(NodeIdx(0)));
    assert!(unfence.is_some_and(|a| !a.optional), "node1 is unfenced");
    assert!(!sim.summary_text.contains("Fence"), "{}", sim.summary_text);
    assert!(
        sim.summary_text
            .contains("* Restart    d       ( node1 )  due to required stonith"),
        "{}",
        sim.summary_text
    );
}

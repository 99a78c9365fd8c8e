//! Remote and guest nodes through the simulator: connections bring their
//! nodes online, a failed container fences its guest by recovery, a
//! recovery that ran on a guest clears its failure.

use cib::Cib;
use crm::simulate::simulate;
use scheduler::Options;

const OP: &str = r#"transition-key="1:1:0:x" op-status="0" interval="0""#;

/// Two cluster nodes, a remote node whose connection runs on node1 and a
/// guest node in VM `vm` on node2; `extra_status` is added to node2's
/// history.
fn cib(vm_history: &str) -> Cib {
    let xml = format!(
        r#"<cib have-quorum="1" execution-date="1000"><configuration>
  <crm_config><cluster_property_set id="o"><nvpair id="o1" name="stonith-enabled" value="true"/></cluster_property_set></crm_config>
  <nodes><node id="1" uname="node1"/><node id="2" uname="node2"/></nodes>
  <resources>
<primitive id="fence" class="stonith" type="fence_xvm"/>
<primitive id="remote1" class="ocf" provider="pacemaker" type="remote"/>
<primitive id="vm" class="ocf" provider="heartbeat" type="VirtualDomain">
  <meta_attributes id="vm-m"><nvpair id="vm-m1" name="remote-node" value="guest1"/></meta_attributes>
</primitive>
  </resources><constraints/></configuration>
<status>
  <node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"><lrm id="1"><lrm_resources>
<lrm_resource id="fence" class="stonith" type="fence_xvm"><lrm_rsc_op id="f1" operation="start" call-id="1" rc-code="0" {OP}/></lrm_resource>
<lrm_resource id="remote1" class="ocf" provider="pacemaker" type="remote"><lrm_rsc_op id="r1" operation="start" call-id="2" rc-code="0" {OP}/></lrm_resource>
  </lrm_resources></lrm></node_state>
  <node_state id="2" uname="node2" in_ccm="true" crmd="online" join="member" expected="member"><lrm id="2"><lrm_resources>
{vm_history}
  </lrm_resources></lrm></node_state>
  <node_state id="remote1" uname="remote1" remote_node="true"/>
</status></cib>"#
    );
    Cib::parse(&xml).expect("test CIB parses")
}

const VM_AND_GUEST_UP: &str = r#"<lrm_resource id="vm" class="ocf" provider="heartbeat" type="VirtualDomain"><lrm_rsc_op id="v1" operation="start" call-id="3" rc-code="0" transition-key="1:1:0:x" op-status="0" interval="0"/></lrm_resource>
<lrm_resource id="guest1" class="ocf" provider="pacemaker" type="remote" container="vm"><lrm_rsc_op id="g1" operation="start" call-id="4" rc-code="0" transition-key="1:1:0:x" op-status="0" interval="0"/></lrm_resource>"#;

#[test]
fn running_connections_bring_remote_and_guest_nodes_online() {
    let sim = {
        let c = cib(VM_AND_GUEST_UP);
        simulate(&c, &Options::for_cib(&c, None, || 0))
    };
    assert!(
        sim.current_text.contains("* RemoteOnline: [ remote1 ]"),
        "{}",
        sim.current_text
    );
    assert!(
        sim.current_text.contains("* GuestOnline: [ guest1 ]"),
        "{}",
        sim.current_text
    );
    // The guest's implicit connection is not listed as a resource.
    assert!(!sim.current_text.contains("guest1\t("), "{}", sim.current_text);
    // Nothing is fenced or stopped (the test history has no digests, so
    // definitions count as changed and restart in place).
    assert!(!sim.summary_text.contains("Fence"), "{}", sim.summary_text);
    assert!(!sim.summary_text.contains("Stop"), "{}", sim.summary_text);
}

#[test]
fn a_failed_container_fences_its_guest_by_recovery() {
    let failed = VM_AND_GUEST_UP.replace(
        r#"<lrm_rsc_op id="v1" operation="start" call-id="3" rc-code="0" transition-key="1:1:0:x" op-status="0" interval="0"/>"#,
        r#"<lrm_rsc_op id="v1" operation="start" call-id="3" rc-code="0" transition-key="1:1:0:x" op-status="0" interval="0"/><lrm_rsc_op id="v2" operation="monitor" call-id="5" rc-code="1" transition-key="1:1:0:x" op-status="4" interval="10000"/>"#,
    );
    let sim = {
        let c = cib(&failed);
        simulate(&c, &Options::for_cib(&c, None, || 0))
    };
    assert!(
        sim.summary_text
            .contains("Fence (reboot) guest1 (resource: vm) 'guest is unclean'"),
        "{}",
        sim.summary_text
    );
    assert!(sim.summary_text.contains("Recover    vm"), "{}", sim.summary_text);
}

/// A promoted instance on guest node guest1 whose monitor failed with
/// on-fail=demote (its promotion score is gone, so it is not promoted again).
const GUEST_DEMOTE: &str = r#"<cib have-quorum="1" execution-date="1000" epoch="1" num_updates="0" admin_epoch="0" validate-with="pacemaker-3.7"><configuration>
  <crm_config><cluster_property_set id="o"><nvpair id="o1" name="stonith-enabled" value="false"/></cluster_property_set></crm_config>
  <nodes><node id="1" uname="node1"/></nodes>
  <resources>
<primitive id="vm" class="ocf" provider="heartbeat" type="VirtualDomain">
  <meta_attributes id="vm-m"><nvpair id="vm-m1" name="remote-node" value="guest1"/></meta_attributes>
</primitive>
<clone id="c"><meta_attributes id="cm"><nvpair id="cm1" name="promotable" value="true"/></meta_attributes><primitive id="s" class="ocf" provider="pacemaker" type="Stateful"><operations><op id="m" name="monitor" interval="10s" role="Promoted" on-fail="demote"/></operations></primitive></clone>
  </resources><constraints><rsc_location id="l" rsc="c" node="guest1" score="100"/><rsc_location id="l2" rsc="c" node="node1" score="-INFINITY"/></constraints></configuration>
<status>
  <node_state id="1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"><lrm id="1"><lrm_resources>
<lrm_resource id="vm" class="ocf" provider="heartbeat" type="VirtualDomain"><lrm_rsc_op id="v1" operation_key="vm_start_0" operation="start" call-id="3" rc-code="0" transition-key="1:1:0:x" transition-magic="0:0;1:1:0:x" op-status="0" interval="0" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/></lrm_resource>
<lrm_resource id="guest1" class="ocf" provider="pacemaker" type="remote" container="vm"><lrm_rsc_op id="g1" operation_key="guest1_start_0" operation="start" call-id="4" rc-code="0" transition-key="1:1:0:x" transition-magic="0:0;1:1:0:x" op-status="0" interval="0"/></lrm_resource>
  </lrm_resources></lrm></node_state>
  <node_state id="guest1" uname="guest1" remote_node="true"><lrm id="guest1"><lrm_resources>
<lrm_resource id="s" class="ocf" provider="pacemaker" type="Stateful"><lrm_rsc_op id="s_last_0" operation_key="s_promote_0" operation="promote" call-id="2" rc-code="0" op-status="0" interval="0" transition-key="1:1:0:x" transition-magic="0:0;1:1:0:x" op-digest="f2317cad3d54cec5d7d7aa7d0bf35cf8"/><lrm_rsc_op id="s_last_failure_0" operation_key="s_monitor_10000" operation="monitor" call-id="3" rc-code="7" op-status="0" interval="10000" transition-key="1:1:8:x" transition-magic="0:7;1:1:8:x"/></lrm_resource>
  </lrm_resources></lrm></node_state>
</status></cib>"#;

#[test]
fn a_demote_that_ran_on_a_guest_clears_the_failure_it_recovers() {
    // The failure stays in a guest's history only when nothing ran there;
    // the demote did, so crm_simulate 2.1.5 shows "Unpromoted: [ guest1 ]".
    let c = Cib::parse(GUEST_DEMOTE).expect("test CIB parses");
    let sim = simulate(&c, &Options::for_cib(&c, None, || 0));
    assert!(
        sim.current_text.contains("FAILED Promoted guest1"),
        "{}",
        sim.current_text
    );
    assert!(
        sim.revised_text.contains("* Unpromoted: [ guest1 ]"),
        "{}",
        sim.revised_text
    );
    assert!(!sim.revised_text.contains("FAILED"), "{}", sim.revised_text);
}

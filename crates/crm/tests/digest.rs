//! Every op-digest recorded in the reference CIB (produced by Pacemaker
//! 2.1.5) is reproduced from the configuration, and the steady-state CIB
//! schedules nothing.

use cib::Cib;
use scheduler::digests::expected_digest;
use scheduler::Options;

const SAMPLE: &str = include_str!("data/two-node.xml");

#[test]
fn reference_digests_match() {
    let cib = Cib::parse(SAMPLE).expect("reference CIB parses");
    let cluster = scheduler::unpack::unpack(&cib, 0);
    let mut checked = 0;
    for st in &cib.status.nodes {
        for lr in &st.lrm {
            let r = cluster.rsc_by_id(&lr.id).expect("history resource is configured");
            for op in &lr.ops {
                let Some(recorded) = &op.op_digest else { continue };
                assert_eq!(&expected_digest(&cluster, r, op), recorded, "{} on {}", op.id, st.id);
                checked += 1;
            }
        }
    }
    assert!(checked >= 5, "only {checked} digests checked");
}

#[test]
fn steady_state_schedules_nothing() {
    let cib = Cib::parse(SAMPLE).expect("reference CIB parses");
    let sim = crm::simulate::simulate(&cib, &Options::for_cib(&cib, None, || 0));
    assert!(sim.summary_text.trim().is_empty(), "{}", sim.summary_text);
    assert!(sim.graph.synapses.is_empty(), "{:?}", sim.graph.synapses);
}

#[test]
fn node_failure_fences_and_moves() {
    let cib = Cib::parse(SAMPLE).expect("reference CIB parses");
    let inj = crm::simulate::Injections {
        node_fail: vec!["node1".into()],
        ..Default::default()
    };
    let cib = crm::simulate::inject(&cib, &inj, 0).expect("injection applies");
    let sim = crm::simulate::simulate(&cib, &Options::for_cib(&cib, None, || 0));
    let lines: Vec<String> = sim
        .summary_text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert!(
        lines.contains(&"* Fence (reboot) node1 'peer is no longer part of the cluster'".to_string()),
        "{lines:?}"
    );
    assert_eq!(lines.iter().filter(|l| l.starts_with("* Move")).count(), 3, "{lines:?}");
}

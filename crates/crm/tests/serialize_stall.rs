//! A serializing order whose "first" is required yet cannot run: rsc1's
//! start (a disabled member of a group being restarted) stays an input of
//! rsc4's start, which therefore never runs (`should_add_input_to_graph`
//! keeps an unrunnable input when the ordering can change actions, and
//! `pe_order_serialize_only` can). The CIB is `ferrosync crm fuzz` seed 2;
//! the expectations are crm_simulate 2.1.5's.

use cib::Cib;
use crm::simulate::simulate;
use scheduler::Options;

fn sim() -> crm::simulate::Simulation {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/serialize-stall.xml"))
        .expect("test CIB");
    let cib = Cib::parse(&text).expect("test CIB parses");
    simulate(&cib, &Options::for_cib(&cib, None, || 0))
}

#[test]
fn the_start_ordered_after_an_unrunnable_required_start_never_runs() {
    let sim = sim();
    // It is still scheduled: the summary starts it.
    assert!(sim.summary_text.contains("Start      rsc4"), "{}", sim.summary_text);
    let rsc4 = sim
        .graph
        .synapses
        .iter()
        .find(|s| s.action.operation_key == "rsc4_start_0")
        .expect("rsc4's start in the graph");
    let waits_for: Vec<&str> = sim
        .graph
        .absent_inputs
        .iter()
        .filter(|a| rsc4.inputs.contains(&a.id))
        .map(|a| a.operation_key.as_str())
        .collect();
    assert_eq!(waits_for, ["rsc1_start_0"]);
    assert!(
        !sim.executed_text.contains("rsc4            start"),
        "{}",
        sim.executed_text
    );
    assert!(
        sim.revised_text.contains("rsc4\t(ocf:pacemaker:Dummy):\t Stopped"),
        "{}",
        sim.revised_text
    );
}

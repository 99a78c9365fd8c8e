//! Operation results injected as crm_simulate's `-i` injects them
//! (`inject_action`): the history entry against an expected 0, with the
//! call id after the entry's highest, no digest of its own, and a fail
//! count in an nvpair of crm_simulate's own id, which the scheduler reads
//! after the attribute manager's. CIBs from `ferrosync crm fuzz` (seeds 141
//! and 392); the expected summaries are crm_simulate 2.1.5's.

use cib::Cib;
use crm::simulate::{inject, simulate, Injections};
use scheduler::Options;

fn summary(file: &str, spec: &str) -> (Cib, Vec<String>) {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let cib = Cib::parse(&std::fs::read_to_string(path).expect("test CIB")).expect("test CIB parses");
    let opts = Options::for_cib(&cib, None, || 0);
    let inj = Injections {
        op_inject: vec![spec.to_string()],
        ..Default::default()
    };
    let cib = inject(&cib, &inj, opts.now).expect("injection applies");
    let sim = simulate(&cib, &opts);
    let lines = sim
        .summary_text
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    (cib, lines)
}

#[test]
fn an_injected_failure_counts_from_its_own_nvpair() {
    // node1 already holds fail-count-rsc1#monitor_10000=3 (migration
    // threshold 3) under the attribute manager's id; the injection adds
    // `status-1-fail-count-rsc1.monitor_10000` = 1, which is read last.
    let (cib, lines) = summary("inject-monitor-failure.xml", "rsc1_monitor_10000@node1=7");
    assert_eq!(
        lines,
        [
            "* Recover rsc1 ( node1 )",
            "* Start rsc2 ( node1 )",
            "* Start rsc3 ( node1 )"
        ]
    );
    let node1 = cib.status.nodes.iter().find(|n| n.id == "1").expect("node1");
    let counts: Vec<&str> = node1
        .transient
        .iter()
        .flat_map(|s| &s.pairs)
        .filter(|(k, _)| k == "fail-count-rsc1#monitor_10000")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(counts, ["3", "1"]);
}

#[test]
fn an_injected_start_failure_is_no_definition_change() {
    // The failure's own entry has no digest; `last_0` keeps the one it had,
    // and it is the one checked (the later of two entries of one call id
    // in reverse document order).
    let (cib, lines) = summary("inject-start-failure.xml", "rsc1_start_0@node1=1");
    assert_eq!(
        lines,
        [
            "* Start fence ( node1 )",
            "* Recover rsc1:0 ( Unpromoted -> Promoted node1 )",
            "* Start rsc1:1 ( node2 )",
            "* Start rsc2 ( node1 )",
            "* Start rsc3 ( node1 )",
            "* Start rsc4 ( node1 )",
            "* Recover rsc5 ( node2 -> node1 )",
            "* Move rsc6 ( node2 -> node1 )",
            "* Move rsc7 ( node2 -> node1 )"
        ]
    );
    let node1 = cib.status.nodes.iter().find(|n| n.id == "1").expect("node1");
    let ops: Vec<(&str, i32, bool)> = node1
        .lrm
        .iter()
        .filter(|r| r.id == "rsc1")
        .flat_map(|r| &r.ops)
        .filter(|o| o.call_id == 12)
        .map(|o| (o.id.as_str(), o.rc_code, o.op_digest.is_some()))
        .collect();
    assert_eq!(ops, [("rsc1_last_0", 1, true), ("rsc1_last_failure_0", 1, false)]);
}

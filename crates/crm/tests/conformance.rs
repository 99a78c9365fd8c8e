//! Runs the scheduler regression cases (../shared/scheduler-cases) and fails,
//! naming the cases, if a case listed in `conformance/` (summaries, graph
//! edges, graphs) no longer passes.

use std::path::PathBuf;

use crm::conformance::gate::compare_all;

fn cases_dir() -> PathBuf {
    if let Ok(d) = std::env::var("FERROSYNC_SCHEDULER_CASES") {
        return PathBuf::from(d);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/scheduler-cases")
}

#[test]
fn passing_cases_keep_passing() {
    let dir = cases_dir();
    if !dir.join("index.tsv").exists() {
        eprintln!(
            "skipping: scheduler cases not found at {} (set FERROSYNC_SCHEDULER_CASES)",
            dir.display()
        );
        return;
    }
    let gate_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance");
    let report = crm::conformance::run_all(&dir, None, 2).expect("cases readable");
    println!("{}", report.render(false));
    let gate = compare_all(&gate_dir, &report).expect("gate lists readable");
    let new = gate.new_passes();
    if !new.is_empty() {
        println!(
            "newly passing (add them with `ferrosync crm conformance --gate crates/crm/conformance --record`):\n{new}"
        );
    }
    let regressions = gate.regressions();
    assert!(regressions.is_empty(), "listed cases no longer pass:\n{regressions}");
}

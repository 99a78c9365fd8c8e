//! Runs the scheduler regression cases (../shared/scheduler-cases) and fails
//! if fewer pass than recorded in `conformance-baseline.txt`.

use std::path::PathBuf;

fn cases_dir() -> PathBuf {
    if let Ok(d) = std::env::var("FERROSYNC_SCHEDULER_CASES") {
        return PathBuf::from(d);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/scheduler-cases")
}

#[test]
fn conformance_does_not_regress() {
    let dir = cases_dir();
    if !dir.join("index.tsv").exists() {
        eprintln!(
            "skipping: scheduler cases not found at {} (set FERROSYNC_SCHEDULER_CASES)",
            dir.display()
        );
        return;
    }
    let baseline_path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance-baseline.txt");
    let baseline: usize = std::fs::read_to_string(&baseline_path)
        .expect("baseline file")
        .split_whitespace()
        .next()
        .and_then(|w| w.parse().ok())
        .expect("baseline starts with a number");
    let report = crm::conformance::run_all(&dir, None, 2).expect("cases readable");
    println!("{}", report.render(false));
    assert!(
        report.passed() >= baseline,
        "conformance regressed: {} passed, baseline {}",
        report.passed(),
        baseline
    );
}

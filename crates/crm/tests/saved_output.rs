//! The CIB saved after a simulation (`--save-output`) holds the same
//! history as the typed status the revised status was unpacked from: for
//! every scheduler case, reading the saved CIB back gives an equal status
//! and the same revised status text.

use std::path::PathBuf;

use cib::Cib;
use scheduler::Options;

fn cases_dir() -> PathBuf {
    if let Ok(d) = std::env::var("FERROSYNC_SCHEDULER_CASES") {
        return PathBuf::from(d);
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/scheduler-cases")
}

#[test]
fn the_saved_cib_reads_back_as_the_revised_status() {
    let dir = cases_dir();
    if !dir.join("index.tsv").exists() {
        eprintln!("skipping: scheduler cases not found at {}", dir.display());
        return;
    }
    let cases = crm::conformance::read_index(&dir).expect("index readable");
    let mut differ = Vec::new();
    for case in &cases {
        let text = std::fs::read_to_string(dir.join("cases").join(format!("{}.xml", case.name))).expect("case");
        let cib = Cib::parse(&text).expect("case parses");
        let opts = Options::for_cib(&cib, None, || 0);
        let sim = crm::simulate::simulate(&cib, &opts);
        let saved = Cib::from_element(sim.revised_document(&cib, opts.now)).expect("saved CIB parses");
        let text = crm::output::cluster_status(&scheduler::unpack::unpack_with(&saved, &opts));
        if *saved.status != *sim.revised_cib.status || text != sim.revised_text {
            differ.push(case.name.clone());
        }
    }
    assert!(differ.is_empty(), "saved CIBs that differ: {differ:?}");
}

//! `ferrosync-simulate` prints what `ferrosync crm simulate` prints, for the same
//! options, and rejects a bad command line with exit status 2.

use std::path::Path;
use std::process::{Command, Output};

fn cib() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../crm/tests/data/two-node.xml")
        .display()
        .to_string()
}

fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin).args(args).env("LC_ALL", "C").output().unwrap()
}

#[test]
fn the_lean_binary_matches_crm_simulate() {
    let cib = cib();
    let graph = std::env::temp_dir().join(format!("ferrosync-simulate-test-{}.xml", std::process::id()));
    let graph = graph.display().to_string();
    for extra in [
        vec![],
        vec!["-S", "-s"],
        vec!["--json"],
        vec!["-q", "false", "--set-datetime=2026-01-01 00:00:00"],
    ] {
        let mut lean_args = vec!["-x", cib.as_str()];
        lean_args.extend(&extra);
        let mut full_args = vec!["crm", "simulate", "--xml", cib.as_str()];
        full_args.extend(&extra);
        let lean = run(env!("CARGO_BIN_EXE_ferrosync-simulate"), &lean_args);
        let full = run(env!("CARGO_BIN_EXE_ferrosync"), &full_args);
        assert!(
            lean.status.success(),
            "{extra:?}: {}",
            String::from_utf8_lossy(&lean.stderr)
        );
        assert!(!lean.stdout.is_empty());
        assert_eq!(lean.stdout, full.stdout, "{extra:?}");
    }
    let out = run(
        env!("CARGO_BIN_EXE_ferrosync-simulate"),
        &["-x", cib.as_str(), "-G", graph.as_str()],
    );
    assert!(out.status.success());
    assert!(std::fs::read_to_string(&graph).unwrap().contains("<transition_graph"));
    let _ = std::fs::remove_file(&graph);
}

#[test]
fn a_bad_command_line_exits_2() {
    for args in [&["--no-such-option"][..], &[], &["-x"], &["-x", "f", "-q", "maybe"]] {
        let out = run(env!("CARGO_BIN_EXE_ferrosync-simulate"), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

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

#[test]
fn a_saved_output_cib_starts_where_the_transition_ended() {
    let cib = cib();
    let saved = std::env::temp_dir().join(format!("ferrosync-simulate-out-{}.xml", std::process::id()));
    let saved = saved.display().to_string();
    let first = run(
        env!("CARGO_BIN_EXE_ferrosync-simulate"),
        &["-x", cib.as_str(), "-S", "-O", saved.as_str()],
    );
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let again = run(
        env!("CARGO_BIN_EXE_ferrosync"),
        &["crm", "simulate", "-x", saved.as_str(), "-S"],
    );
    let _ = std::fs::remove_file(&saved);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    let section = |out: &[u8], from: &str, to: &str| {
        let text = String::from_utf8_lossy(out).into_owned();
        let start = text.find(from).expect("section") + from.len();
        let end = text[start..].find(to).map_or(text.len(), |e| start + e);
        text[start..end].trim().to_string()
    };
    // The saved CIB's current status is the first run's revised status.
    assert_eq!(
        section(&again.stdout, "Current cluster status:", "Transition Summary:"),
        section(&first.stdout, "Revised Cluster Status:", "\u{0}"),
    );
}

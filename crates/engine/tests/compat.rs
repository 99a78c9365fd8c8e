//! Compatibility with the real corosync 3.1.7 and Pacemaker 2.1.5 (Debian packages,
//! installed by `.ci/run`): each test runs one of the scripts in `scripts/` with this
//! build's `ferrosyncd`, in network namespaces, and passes when the script does.
//! Needs root; `FERROSYNC_SKIP_COMPAT=1` skips them on a machine without the packages.

use std::path::Path;
use std::process::Command;

fn run_script(name: &str, env: &[(&str, &str)]) {
    if std::env::var_os("FERROSYNC_SKIP_COMPAT").is_some() {
        eprintln!("skipped: FERROSYNC_SKIP_COMPAT is set");
        return;
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts").join(name);
    let out = Command::new("timeout")
        .arg("600")
        .arg("bash")
        .arg(&script)
        .env("FERROSYNCD", env!("CARGO_BIN_EXE_ferrosyncd"))
        .envs(env.iter().copied())
        .output()
        .expect("run bash");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    println!("{text}");
    assert!(
        out.status.success(),
        "{name} failed ({}); corosync, pacemaker, libcpg-dev and nftables must be installed (.ci/run does it):\n{text}",
        out.status
    );
}

/// Every corosync tool's output against 3 ferrosyncd matches the same against 3 corosync.
#[test]
fn corosync_tools_match_corosync_field_by_field() {
    run_script("tools-compare.sh", &[]);
}

/// 1 ferrosyncd + 2 corosync: one ring, service sync, quorum, CPG both ways, kill -9 and
/// restart of each node in turn.
#[test]
fn mixed_ring_with_corosync() {
    run_script("interop-corosync.sh", &[("HOLD", "3")]);
}

/// Pacemaker 2.1.5 on 3 ferrosyncd: DC, every node online, a Dummy fails over after kill -9.
#[test]
fn pacemaker_on_three_nodes() {
    run_script("pacemaker.sh", &[("NODES", "3")]);
}

/// Pacemaker 2.1.5 on a single ferrosyncd.
#[test]
fn pacemaker_on_one_node() {
    run_script(
        "pacemaker.sh",
        &[("NODES", "1"), ("NSPREFIX", "fpo"), ("SUBNET", "10.206.0")],
    );
}

//! `ferrosync bench failover`: kill -9 of the node running a Dummy → the Dummy running
//! elsewhere, with fencing (the test fence agent), on 3 nodes in network namespaces
//! (`crm_daemon::local::LocalCrm`): the figure the side-by-side script
//! (crates/engine/scripts/bench-crm-failover.sh) compares with corosync + Pacemaker.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;
use crm_daemon::local::{dummy_agent, fence_agent_dir, LocalCrm, Programs};
use engine::local_cluster::Spec;
use serde_json::json;

#[derive(Args, Debug)]
pub struct FailoverBench {
    /// The effective token timeout in ms (corosync's default for 3 nodes: 3000 +
    /// 650 = 3650; `token: 1000` is 1650 with the default coefficient).
    #[arg(long, default_value_t = 3650)]
    token: u64,
    /// Runs, each on a fresh cluster.
    #[arg(long, default_value_t = 3)]
    repeat: u32,
    /// The ferrosyncd and ferrosync-crmd executables' directory (default: next to this program).
    #[arg(long, value_name = "DIR")]
    bin_dir: Option<PathBuf>,
}

const WAIT: Duration = Duration::from_secs(120);

pub fn run(b: FailoverBench, json_out: bool) -> Result<()> {
    if !nix::unistd::geteuid().is_root() {
        bail!("the failover benchmark needs root (network namespaces)");
    }
    let dir = match b.bin_dir {
        Some(d) => d,
        None => std::env::current_exe()?
            .parent()
            .context("this program's directory")?
            .to_path_buf(),
    };
    let scratch = tempfile::tempdir()?;
    let (ocf_root, (provider, kind)) = dummy_agent(scratch.path())?;
    let programs = Programs {
        ferrosyncd: dir.join("ferrosyncd"),
        crmd: dir.join("ferrosync-crmd"),
        fence_agents: fence_agent_dir(&scratch.path().join("fence"))?,
        ocf_root,
        tools: std::env::current_exe().ok(),
    };
    let mut runs = Vec::new();
    for r in 1..=b.repeat {
        let t = once(&programs, b.token, (provider, kind)).with_context(|| format!("run {r}"))?;
        if !json_out {
            println!(
                "run {r}: Dummy started elsewhere {:.3} s after kill -9 (token {} ms, fencing on)",
                t.as_secs_f64(),
                b.token
            );
        }
        runs.push(t.as_secs_f64());
    }
    let mut sorted = runs.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    if json_out {
        println!("{}", json!({"token_ms": b.token, "runs_s": runs, "median_s": median}));
    } else {
        println!("median: {median:.3} s over {} runs", runs.len());
    }
    Ok(())
}

/// One fresh cluster: configure, wait for the Dummy, kill its node, time the failover.
fn once(programs: &Programs, token: u64, agent: (&str, &str)) -> Result<Duration> {
    let spec = Spec {
        netns: Some(format!("fbf{}-", std::process::id())),
        ..Spec::new(programs.ferrosyncd.clone(), 3, [10, 215, 0], 5405, token)
    };
    let mut crm = LocalCrm::start(spec, programs.clone())?;
    crm.wait_settled(&[1, 2, 3], WAIT)?;
    let answer = crm.ask(1, &crm.dummy_config("dummy", agent, "60s"))?;
    if answer["ok"] != json!(true) {
        bail!("configuration refused: {answer}");
    }
    let at = poll(|| match crm.dummy_running("dummy").as_slice() {
        [n] => Some(*n),
        _ => None,
    })
    .context("the Dummy did not start")?;
    crm.wait_settled(&[1, 2, 3], WAIT)?;
    let killed = Instant::now();
    crm.power_off(at)?;
    poll(|| match crm.dummy_running("dummy").as_slice() {
        [n] if *n != at => Some(()),
        _ => None,
    })
    .with_context(|| format!("the Dummy did not move\n{}", crm.logs(30)))?;
    Ok(killed.elapsed())
}

fn poll<T>(mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let end = Instant::now() + WAIT;
    while Instant::now() < end {
        if let Some(v) = f() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

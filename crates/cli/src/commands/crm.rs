//! `ferrosync crm …`: scheduler simulation, the conformance harness, cluster
//! status and the administration verbs.
//!
//! The verbs are `crm::admin` functions from the current CIB to a list of CIB
//! edits; [`Target`] decides where the edits go (offline: `--cib FILE`,
//! applied and written back with the version bumped as Pacemaker's tools do).

use scheduler::ids::clone_strip;
use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use cib::Cib;
use clap::{Args, Subcommand};
use crm::simulate::{simulate, system_clock};
use scheduler::model::RscIdx;
use scheduler::Options;

#[derive(Args, Debug)]
pub struct CrmArgs {
    #[command(subcommand)]
    command: CrmCommand,
}

#[derive(Subcommand, Debug)]
enum CrmCommand {
    /// Simulate a transition like `crm_simulate -S -x FILE`.
    Simulate(SimulateArgs),
    /// Run the scheduler regression cases and compare with the expected
    /// summaries.
    Conformance(ConformanceArgs),
    /// Time the whole case set with crm_simulate and with ferrosync.
    Bench(BenchArgs),
    /// Differential fuzzing: random small CIBs through both crm_simulate
    /// and ferrosync; report and save disagreements.
    Fuzz(FuzzArgs),
    /// Cluster status like `crm_mon -1` (`--json`, or crm_mon's `--xml`).
    Status(StatusArgs),
    /// Resources: create, delete, move, ban, clear, cleanup, restart, enable, disable, meta.
    Resource(ResourceArgs),
    /// Constraints: location, colocation, order, remove, show.
    Constraint(ConstraintArgs),
    /// Cluster properties (cib-bootstrap-options): set, unset, show.
    Property(PropertyArgs),
    /// The whole configuration: show, edit, push FILE.
    Config(ConfigArgs),
    /// Nodes: standby, online.
    Node(NodeArgs),
}

#[derive(Args, Debug)]
struct BenchArgs {
    /// Directory with index.tsv, cases/ and expected/.
    #[arg(long, default_value = "../shared/scheduler-cases")]
    cases: PathBuf,
    /// The reference binary.
    #[arg(long, default_value = "crm_simulate")]
    crm_simulate: PathBuf,
    /// Parallel jobs for every run (1 measures one case at a time).
    #[arg(long, default_value_t = 1)]
    jobs: usize,
    /// Use this time (seconds) for crm_simulate instead of running it.
    #[arg(long, value_name = "SECONDS")]
    reference_seconds: Option<f64>,
    /// Passes of the in-process run; the quickest counts (one pass lasts a few tenths of a
    /// second, so a single one mostly measures the machine's noise).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=100))]
    in_process_passes: u32,
    /// Print the figures as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct FuzzArgs {
    /// Number of generated cases.
    #[arg(short = 'n', long, default_value_t = 100)]
    count: u64,
    /// First seed.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// The reference binary.
    #[arg(long, default_value = "crm_simulate")]
    crm_simulate: PathBuf,
    /// Where to save disagreeing CIBs (with crm_simulate's output).
    #[arg(long, default_value = "fuzz-disagreements")]
    out: PathBuf,
    /// Also keep every case crm_simulate accepted, as a case directory
    /// (`index.tsv`, `cases/`, `expected/`) that `crm conformance --cases`
    /// scores: the same seeds can then be scored by another build.
    #[arg(long, value_name = "DIR")]
    keep_all: Option<PathBuf>,
}

#[derive(Args, Debug)]
struct SimulateArgs {
    /// CIB XML file to simulate.
    #[arg(short = 'x', long = "xml")]
    xml: PathBuf,
    /// Simulate the transition (always done; accepted for compatibility).
    #[arg(short = 'S', long = "simulate")]
    simulate: bool,
    /// Show allocation scores.
    #[arg(short = 's', long = "show-scores")]
    show_scores: bool,
    /// Save the transition graph to FILE (XML, or JSON if FILE ends in .json).
    #[arg(short = 'G', long = "save-graph")]
    save_graph: Option<PathBuf>,
    /// Save the CIB with the transition's results in its status to FILE.
    #[arg(short = 'O', long = "save-output")]
    save_output: Option<PathBuf>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
    /// Bring a node online.
    #[arg(short = 'u', long = "node-up")]
    node_up: Vec<String>,
    /// Take a node offline cleanly.
    #[arg(short = 'd', long = "node-down")]
    node_down: Vec<String>,
    /// Mark a node as failed.
    #[arg(short = 'f', long = "node-fail")]
    node_fail: Vec<String>,
    /// Inject an operation result: rsc_task_intervalms@node=rc.
    #[arg(short = 'i', long = "op-inject")]
    op_inject: Vec<String>,
    /// Set whether the cluster has quorum.
    #[arg(short = 'q', long = "quorum")]
    quorum: Option<bool>,
    /// Effective date and time ("now"), ISO 8601.
    #[arg(short = 't', long = "set-datetime")]
    datetime: Option<String>,
}

#[derive(Args, Debug)]
struct ConformanceArgs {
    /// Directory with index.tsv, cases/ and expected/.
    #[arg(long, default_value = "../shared/scheduler-cases")]
    cases: PathBuf,
    /// Gate directory (`crates/crm/conformance`): fail, naming them, if cases
    /// on its lists of passing summaries, graph edges or graphs no longer pass.
    #[arg(long)]
    gate: Option<PathBuf>,
    /// Add the newly passing cases to the gate lists.
    #[arg(long, requires = "gate")]
    record: bool,
    /// Only cases whose name contains this text.
    #[arg(long)]
    filter: Option<String>,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// Also print passing cases.
    #[arg(short, long)]
    verbose: bool,
}

pub fn run(args: CrmArgs) -> Result<()> {
    match args.command {
        CrmCommand::Simulate(a) => run_simulate(a),
        CrmCommand::Conformance(a) => run_conformance(a),
        CrmCommand::Bench(a) => run_bench(a),
        CrmCommand::Fuzz(a) => run_fuzz(a),
        CrmCommand::Status(a) => admin_cli::run_status(a),
        CrmCommand::Resource(a) => admin_cli::run_resource(a),
        CrmCommand::Constraint(a) => admin_cli::run_constraint(a),
        CrmCommand::Property(a) => admin_cli::run_property(a),
        CrmCommand::Config(a) => admin_cli::run_config(a),
        CrmCommand::Node(a) => admin_cli::run_node(a),
    }
}

fn run_simulate(a: SimulateArgs) -> Result<()> {
    crate::simulate::run(crate::simulate::SimulateOpts {
        xml: a.xml,
        show_scores: a.show_scores,
        save_graph: a.save_graph,
        save_output: a.save_output,
        json: a.json,
        node_up: a.node_up,
        node_down: a.node_down,
        node_fail: a.node_fail,
        op_inject: a.op_inject,
        quorum: a.quorum,
        datetime: a.datetime,
    })
}

fn run_conformance(a: ConformanceArgs) -> Result<()> {
    let report = crm::conformance::run_all(&a.cases, a.filter.as_deref(), a.jobs.max(1))
        .with_context(|| format!("cannot run cases from {}", a.cases.display()))?;
    print!("{}", report.render(a.verbose));
    let Some(gate) = &a.gate else { return Ok(()) };
    let outcome = crm::conformance::gate::compare_all(gate, &report)?;
    print!("{}", outcome.new_passes());
    let regressions = outcome.regressions();
    if !regressions.is_empty() {
        bail!("listed cases no longer pass:\n{regressions}");
    }
    if a.record {
        crm::conformance::gate::record_new_passes(gate, &report)?;
    }
    Ok(())
}

fn reference_output(bin: &std::path::Path, xml: &std::path::Path, extra: &[String]) -> Result<String> {
    let out = std::process::Command::new(bin)
        .env("LC_ALL", "C")
        .arg("-S")
        .arg("-x")
        .arg(xml)
        .args(extra)
        .output()
        .with_context(|| format!("cannot run {}", bin.display()))?;
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// CPU time (user + system, seconds) used so far by this process or by its
/// waited-for children.
fn cpu_seconds(who: nix::sys::resource::UsageWho) -> f64 {
    nix::sys::resource::getrusage(who).map_or(0.0, |u| {
        let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
        t(u.user_time()) + t(u.system_time())
    })
}

/// A measured run: wall-clock and CPU seconds, failed runs.
struct Timing {
    wall: f64,
    cpu: f64,
    failed: usize,
}

/// Runs `work(i)` for every case index on `jobs` threads, measuring the
/// wall-clock time and the CPU time of `who` (this process, or the child
/// processes it waits for).
fn timed_runs(
    n: usize,
    jobs: usize,
    who: nix::sys::resource::UsageWho,
    work: &(dyn Fn(usize) -> bool + Sync),
) -> Timing {
    let cpu0 = cpu_seconds(who);
    let (wall, failed) = timed_runs_wall(n, jobs, work);
    Timing {
        wall: wall.as_secs_f64(),
        cpu: cpu_seconds(who) - cpu0,
        failed,
    }
}

fn timed_runs_wall(n: usize, jobs: usize, work: &(dyn Fn(usize) -> bool + Sync)) -> (std::time::Duration, usize) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let failures = AtomicUsize::new(0);
    let start = std::time::Instant::now();
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= n {
                    break;
                }
                if !work(i) {
                    failures.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    (start.elapsed(), failures.into_inner())
}

/// Times the whole case set three ways: `crm_simulate -S` one process per
/// case, `ferrosync crm simulate` one process per case (this binary), and
/// the same simulation in-process (parse, schedule, render the summary).
fn run_bench(a: BenchArgs) -> Result<()> {
    let cases = crm::conformance::read_index(&a.cases)?;
    let n = cases.len();
    let xml = |i: usize| a.cases.join("cases").join(format!("{}.xml", cases[i].name));
    let quiet = |cmd: &mut std::process::Command| -> bool {
        cmd.env("LC_ALL", "C")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|st| st.success())
    };
    use nix::sys::resource::UsageWho;
    let reference = match a.reference_seconds {
        Some(secs) => Timing {
            wall: secs,
            cpu: f64::NAN,
            failed: 0,
        },
        None => {
            let t = timed_runs(n, a.jobs, UsageWho::RUSAGE_CHILDREN, &|i| {
                quiet(
                    std::process::Command::new(&a.crm_simulate)
                        .arg("-S")
                        .arg("-x")
                        .arg(xml(i))
                        .args(&cases[i].args),
                )
            });
            if t.failed == n {
                bail!("{} could not run any case", a.crm_simulate.display());
            }
            t
        }
    };
    let exe = std::env::current_exe().context("cannot find this executable")?;
    // The lean `ferrosync-simulate` installed next to this binary if there is
    // one (the same simulation without the command tree), else `ferrosync crm
    // simulate`.
    let lean = exe.with_file_name("ferrosync-simulate");
    let (per_process_bin, per_process_args): (_, &[&str]) = if lean.is_file() {
        (lean, &["-x"])
    } else {
        (exe, &["crm", "simulate", "-x"])
    };
    let per_process = timed_runs(n, a.jobs, UsageWho::RUSAGE_CHILDREN, &|i| {
        quiet(
            std::process::Command::new(&per_process_bin)
                .args(per_process_args)
                .arg(xml(i))
                .args(&cases[i].args),
        )
    });
    let passes: Vec<Timing> = (0..a.in_process_passes)
        .map(|_| {
            timed_runs(n, a.jobs, UsageWho::RUSAGE_SELF, &|i| {
                crm::conformance::run_case(&a.cases, &cases[i]).is_ok_and(|sim| !sim.report().is_empty())
            })
        })
        .collect();
    let first_pass = passes[0].wall;
    let in_process = passes
        .into_iter()
        .min_by(|x, y| x.wall.total_cmp(&y.wall))
        .context("no in-process pass")?;
    let ratio = |r: f64, t: f64| r / t.max(1e-9);
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "cases": n,
                "jobs": a.jobs,
                "crm_simulate_s": reference.wall,
                "crm_simulate_cpu_s": reference.cpu,
                "per_process_binary": per_process_bin.display().to_string(),
                "ferrosync_per_process_s": per_process.wall,
                "ferrosync_per_process_cpu_s": per_process.cpu,
                "ferrosync_in_process_s": in_process.wall,
                "ferrosync_in_process_first_pass_s": first_pass,
                "in_process_passes": a.in_process_passes,
                "ferrosync_in_process_cpu_s": in_process.cpu,
                "per_process_ratio": ratio(reference.wall, per_process.wall),
                "in_process_ratio": ratio(reference.wall, in_process.wall),
                "per_process_cpu_ratio": ratio(reference.cpu, per_process.cpu),
                "in_process_cpu_ratio": ratio(reference.cpu, in_process.cpu),
                "failed_per_process": per_process.failed,
                "failed_in_process": in_process.failed,
            })
        );
        return Ok(());
    }
    println!(
        "cases: {n} (jobs: {}); wall-clock, then CPU time (user + system)",
        a.jobs
    );
    let line = |label: &str, t: &Timing| {
        let mut out = format!(
            "{label:<42} {:8.3} s {:8.3} ms/case   cpu {:8.3} s",
            t.wall,
            t.wall * 1e3 / n as f64,
            t.cpu
        );
        if !std::ptr::eq(t, &reference) {
            out.push_str(&format!(
                "   {:.1}x faster (cpu {:.1}x)",
                ratio(reference.wall, t.wall),
                ratio(reference.cpu, t.cpu)
            ));
        }
        println!("{out}");
    };
    line("crm_simulate, one process per case:", &reference);
    let per_process_label = match per_process_bin.file_name() {
        Some(f) if f == "ferrosync-simulate" => "ferrosync-simulate, one process per case:",
        _ => "ferrosync, one process per case:",
    };
    line(per_process_label, &per_process);
    line(
        &format!("ferrosync, in-process (quickest of {}):", a.in_process_passes),
        &in_process,
    );
    if a.in_process_passes > 1 {
        println!(
            "{:<42} {first_pass:8.3} s   {:.1}x faster",
            "  its first pass:",
            ratio(reference.wall, first_pass)
        );
    }
    if per_process.failed + in_process.failed > 0 {
        println!(
            "failed runs: {} per process, {} in-process",
            per_process.failed, in_process.failed
        );
    }
    Ok(())
}

fn run_fuzz(a: FuzzArgs) -> Result<()> {
    std::fs::create_dir_all(&a.out).with_context(|| format!("cannot create {}", a.out.display()))?;
    let mut disagreements = 0u64;
    let mut refused = 0u64;
    let mut kept = String::from("name\ttier\tgroup\targs\tdescription\n");
    if let Some(dir) = &a.keep_all {
        for sub in ["cases", "expected"] {
            std::fs::create_dir_all(dir.join(sub)).with_context(|| format!("cannot create {}", dir.display()))?;
        }
    }
    for seed in a.seed..a.seed + a.count {
        let text = crm::fuzzgen::generate(seed);
        let path = a.out.join(format!("fuzz-{seed}.xml"));
        std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
        let expected = reference_output(&a.crm_simulate, &path, &[])?;
        // crm_simulate aborts on some valid configurations (an assertion);
        // such a case says nothing about the scheduler.
        if !expected.contains("Revised Cluster Status:") {
            refused += 1;
            println!(
                "REFUSED seed {seed} (crm_simulate gave no result) -> {}",
                path.display()
            );
            continue;
        }
        if let Some(dir) = &a.keep_all {
            std::fs::write(dir.join("cases").join(format!("fuzz-{seed}.xml")), &text)?;
            std::fs::write(dir.join("expected").join(format!("fuzz-{seed}.summary")), &expected)?;
            kept.push_str(&format!("fuzz-{seed}\t1\tfuzz\t\tseed {seed}\n"));
        }
        let cib = Cib::parse(&text).with_context(|| format!("seed {seed}: generated CIB invalid"))?;
        let got = simulate(&cib, &Options::for_cib(&cib, None, system_clock)).report();
        let mut differs = Vec::new();
        for h in ["Transition Summary:", "Revised Cluster Status:"] {
            if crm::conformance::section(&expected, h) != crm::conformance::section(&got, h) {
                differs.push(h.trim_end_matches(':'));
            }
        }
        if differs.is_empty() {
            std::fs::remove_file(&path).ok();
        } else {
            disagreements += 1;
            std::fs::write(a.out.join(format!("fuzz-{seed}.summary")), &expected)?;
            println!("DISAGREE seed {seed} ({}) -> {}", differs.join(", "), path.display());
        }
    }
    if let Some(dir) = &a.keep_all {
        std::fs::write(dir.join("index.tsv"), kept)?;
    }
    println!(
        "{} agreed, {} disagreed, {} refused by crm_simulate (saved under {})",
        a.count - disagreements - refused,
        disagreements,
        refused,
        a.out.display()
    );
    Ok(())
}

// ------------------------------------------------------------ admin verbs

/// Where a verb's CIB comes from and its edits go: the running cluster (through
/// the local ferrosync-crmd's control socket), or a CIB file.
#[derive(Args, Debug, Clone)]
pub struct Target {
    /// Work offline on this CIB file (read, edited in place).
    #[arg(long, value_name = "FILE", conflicts_with = "socket")]
    cib: Option<PathBuf>,
    /// The local ferrosync-crmd's control socket (default /run/ferrosync/crm.sock).
    #[arg(long, value_name = "PATH")]
    socket: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct StatusArgs {
    #[command(flatten)]
    target: Target,
    /// JSON (the shape is documented in crm::mon).
    #[arg(long, conflicts_with = "xml")]
    json: bool,
    /// crm_mon's `--output-as=xml`.
    #[arg(long)]
    xml: bool,
    /// Show inactive resources too ("Full List of Resources", `crm_mon -r`).
    #[arg(short = 'r', long)]
    inactive: bool,
    /// Show node attributes (`crm_mon -A`).
    #[arg(short = 'A', long = "show-node-attributes")]
    node_attributes: bool,
    /// Show fail counts (`crm_mon -f`).
    #[arg(short = 'f', long = "failcounts")]
    fail_counts: bool,
}

#[derive(Args, Debug)]
pub struct ResourceArgs {
    #[command(subcommand)]
    command: ResourceCommand,
    #[command(flatten)]
    target: Target,
}

#[derive(Subcommand, Debug)]
enum ResourceCommand {
    /// `create ID CLASS:PROVIDER:TYPE [NAME=VALUE…] [op NAME NAME=VALUE…]… [meta NAME=VALUE…]`
    /// (like pcs; a monitor op with interval=60s is added when none is given).
    Create {
        id: String,
        agent: String,
        /// Parameters, then `op NAME k=v…` and `meta k=v…` groups.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        rest: Vec<String>,
        /// Put the resource last in this group (created if missing).
        #[arg(long)]
        group: Option<String>,
        /// Create it stopped (target-role=Stopped).
        #[arg(long)]
        disabled: bool,
    },
    /// Delete a resource and the constraints that name it.
    Delete { id: String },
    /// Move to NODE (cli-prefer-ID); without a node, away from where it runs.
    Move {
        id: String,
        node: Option<String>,
        #[command(flatten)]
        opts: MoveArgs,
    },
    /// Keep away from NODE (cli-ban-ID-on-NODE); without a node, from where it runs.
    Ban {
        id: String,
        node: Option<String>,
        #[command(flatten)]
        opts: MoveArgs,
    },
    /// Remove move and ban constraints (on NODE only, if given).
    Clear { id: String, node: Option<String> },
    /// Clear fail counts and failed history so the cluster re-checks.
    Cleanup {
        id: Option<String>,
        #[arg(long)]
        node: Option<String>,
        /// Only failures of this operation (with --interval).
        #[arg(long)]
        operation: Option<String>,
        #[arg(long, default_value = "0")]
        interval: String,
        /// Remove the whole history, not just failures (crm_resource --refresh).
        #[arg(long)]
        refresh: bool,
    },
    /// Stop then start again (target-role=Stopped, then the previous target-role).
    Restart { id: String },
    /// Allow the resource to run (remove target-role).
    Enable { id: String },
    /// Stop the resource (target-role=Stopped).
    Disable { id: String },
    /// Set (or with --delete remove) a meta attribute.
    Meta {
        id: String,
        name: String,
        value: Option<String>,
        #[arg(long, conflicts_with = "value")]
        delete: bool,
    },
}

#[derive(Args, Debug)]
struct MoveArgs {
    /// ISO 8601 duration after which the constraint expires (PT1H, P1D…).
    #[arg(long)]
    lifetime: Option<String>,
    /// Only the promoted role.
    #[arg(long)]
    promoted: bool,
    /// Move even if already there; also ban the current node.
    #[arg(long)]
    force: bool,
}

#[derive(Args, Debug)]
pub struct ConstraintArgs {
    #[command(subcommand)]
    command: ConstraintCommand,
    #[command(flatten)]
    target: Target,
}

#[derive(Subcommand, Debug)]
enum ConstraintCommand {
    /// `location RSC prefers|avoids NODE[=SCORE]…` (score INFINITY by default).
    Location {
        rsc: String,
        #[arg(value_parser = ["prefers", "avoids"])]
        how: String,
        #[arg(required = true)]
        nodes: Vec<String>,
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        role: Option<String>,
    },
    /// `colocation add RSC with WITH [SCORE]` (INFINITY by default).
    Colocation {
        #[arg(value_parser = ["add"])]
        add: String,
        rsc: String,
        #[arg(value_parser = ["with"])]
        with: String,
        with_rsc: String,
        score: Option<String>,
        #[arg(long)]
        id: Option<String>,
        #[arg(long)]
        rsc_role: Option<String>,
        #[arg(long)]
        with_rsc_role: Option<String>,
    },
    /// `order [ACTION] FIRST then [ACTION] THEN [kind=K] [symmetrical=BOOL]`.
    Order {
        #[arg(required = true, num_args = 3..)]
        words: Vec<String>,
        #[arg(long)]
        id: Option<String>,
    },
    /// Remove constraints by id.
    Remove {
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Print the constraints section.
    Show,
}

#[derive(Args, Debug)]
pub struct PropertyArgs {
    #[command(subcommand)]
    command: PropertyCommand,
    #[command(flatten)]
    target: Target,
}

#[derive(Subcommand, Debug)]
enum PropertyCommand {
    /// `set NAME=VALUE…`
    Set {
        #[arg(required = true)]
        pairs: Vec<String>,
    },
    /// `unset NAME…`
    Unset {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Print the set properties.
    Show,
}

#[derive(Args, Debug)]
pub struct ConfigArgs {
    #[command(subcommand)]
    command: ConfigCommand,
    #[command(flatten)]
    target: Target,
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Print the configuration XML.
    Show,
    /// Edit the configuration in $EDITOR and push it.
    Edit,
    /// Replace the configuration with FILE's (`<cib>` or `<configuration>`).
    Push { file: PathBuf },
}

#[derive(Args, Debug)]
pub struct NodeArgs {
    #[command(subcommand)]
    command: NodeCommand,
    #[command(flatten)]
    target: Target,
}

#[derive(Subcommand, Debug)]
enum NodeCommand {
    /// Put a node in standby (its resources move away).
    Standby { node: String },
    /// Take a node out of standby.
    #[command(alias = "unstandby")]
    Online { node: String },
}

mod admin_cli {
    use super::*;
    use cib::document::CibDocument;
    use cib::xml::Element;
    use crm::admin::{self, CibOp, CleanupKind, CleanupOptions, MoveOptions, OpSpec, PrimitiveSpec};
    use crm::mon::{self, MonOptions};
    use crm::simulate::system_clock;

    use super::super::crm_socket::CrmSocket;

    impl Target {
        /// The live cluster's control socket, when no file was given.
        pub(super) fn live(&self) -> Result<Option<CrmSocket>> {
            match self.cib {
                Some(_) => Ok(None),
                None => CrmSocket::connect(self.socket.as_deref()).map(Some),
            }
        }

        /// The current CIB.
        pub(super) fn load(&self) -> Result<CibDocument> {
            let Some(path) = &self.cib else {
                return CrmSocket::connect(self.socket.as_deref())?.query();
            };
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
            CibDocument::parse(&text).with_context(|| format!("cannot load {}", path.display()))
        }

        /// Applies `ops` (all or none): through the cluster, or to the file with its
        /// version bumped (epoch for a configuration change, else num_updates).
        pub(super) fn apply(&self, doc: &CibDocument, ops: &[CibOp]) -> Result<()> {
            if ops.is_empty() {
                return Ok(());
            }
            let Some(path) = &self.cib else {
                CrmSocket::connect(self.socket.as_deref())?.apply(ops)?;
                return Ok(());
            };
            let new = admin::apply(doc, ops)?;
            let Some((mut new, _patch)) = doc.commit(new).context("cannot diff the CIB")? else {
                return Ok(());
            };
            // Stamped like Pacemaker's tools stamp a CIB they write.
            new.root_mut().set_attr("cib-last-written", mon::ctime(system_clock()));
            write_atomically(path, &new.to_xml())
        }
    }

    pub(super) fn write_atomically(path: &std::path::Path, text: &str) -> Result<()> {
        let tmp = path.with_extension("ferrosync-tmp");
        std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
        std::fs::rename(&tmp, path).with_context(|| format!("cannot replace {}", path.display()))
    }

    pub fn run_status(a: StatusArgs) -> Result<()> {
        // Live: the local process's CIB and its view of the group.
        let (doc, daemon) = match a.target.live()? {
            Some(mut live) => (live.query()?, Some(live.status()?)),
            None => (a.target.load()?, None),
        };
        let cib = Cib::from_element(doc.root().clone())?;
        let now = system_clock();
        let st = mon::status(&cib, &Options::at(now).in_zone(cib::time::local_zone()));
        let opts = MonOptions {
            stack: daemon.as_ref().map(|_| "ferrosync".to_string()),
            last_updated: mon::ctime(now),
            inactive: a.inactive,
            node_attributes: a.node_attributes,
            fail_counts: a.fail_counts,
        };
        if a.json {
            let mut v = st.json(&opts);
            if let Some(d) = daemon {
                v["daemon"] = d;
            }
            println!("{}", serde_json::to_string_pretty(&v)?);
        } else if a.xml {
            print!("{}", st.xml(&opts, "crm_mon --output-as=xml"));
        } else {
            print!("{}", st.text(&opts));
        }
        Ok(())
    }

    /// `k=v` words.
    fn pairs(words: &[String]) -> Result<Vec<(String, String)>> {
        words
            .iter()
            .map(|w| {
                w.split_once('=')
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .with_context(|| format!("expected NAME=VALUE, got '{w}'"))
            })
            .collect()
    }

    /// pcs's `k=v… op NAME k=v… meta k=v…` words.
    pub(super) fn create_spec(
        id: String,
        agent: String,
        rest: &[String],
        group: Option<String>,
        disabled: bool,
    ) -> Result<PrimitiveSpec> {
        let mut spec = PrimitiveSpec {
            id,
            agent,
            group,
            disabled,
            ..Default::default()
        };
        enum Mode {
            Params,
            Op,
            Meta,
        }
        let mut mode = Mode::Params;
        let mut i = 0;
        while i < rest.len() {
            let w = &rest[i];
            match w.as_str() {
                // Options after the words (the trailing words take them).
                "--group" => {
                    spec.group = Some(rest.get(i + 1).context("--group needs a name")?.clone());
                    i += 2;
                    continue;
                }
                "--disabled" => {
                    spec.disabled = true;
                    i += 1;
                    continue;
                }
                "op" => {
                    let name = rest.get(i + 1).context("'op' needs an operation name")?;
                    spec.ops.push(OpSpec {
                        name: name.clone(),
                        ..Default::default()
                    });
                    mode = Mode::Op;
                    i += 2;
                    continue;
                }
                "meta" => {
                    mode = Mode::Meta;
                    i += 1;
                    continue;
                }
                _ => {}
            }
            let (k, v) = pairs(std::slice::from_ref(w))?.remove(0);
            match mode {
                Mode::Params => spec.params.push((k, v)),
                Mode::Meta => spec.meta.push((k, v)),
                Mode::Op => {
                    let op = spec.ops.last_mut().expect("op mode has an op");
                    if k == "interval" {
                        op.interval = v;
                    } else {
                        op.attrs.push((k, v));
                    }
                }
            }
            i += 1;
        }
        for op in &mut spec.ops {
            if op.interval.is_empty() {
                op.interval = if op.name == "monitor" { "60s" } else { "0s" }.into();
            }
        }
        Ok(spec)
    }

    /// The edits of a resource verb (the restart's two steps joined).
    pub(super) fn resource_ops(cmd: ResourceCommand, doc: &CibDocument, now: i64) -> Result<Vec<CibOp>> {
        let mo = |o: MoveArgs| MoveOptions {
            lifetime: o.lifetime,
            promoted: o.promoted,
            force: o.force,
        };
        Ok(match cmd {
            ResourceCommand::Create {
                id,
                agent,
                rest,
                group,
                disabled,
            } => admin::resource_create(doc, &create_spec(id, agent, &rest, group, disabled)?)?,
            ResourceCommand::Delete { id } => admin::resource_delete(doc, &id)?,
            ResourceCommand::Move { id, node, opts } => {
                admin::resource_move(doc, &id, node.as_deref(), &mo(opts), now)?
            }
            ResourceCommand::Ban { id, node, opts } => admin::resource_ban(doc, &id, node.as_deref(), &mo(opts), now)?,
            ResourceCommand::Clear { id, node } => admin::resource_clear(doc, &id, node.as_deref())?,
            ResourceCommand::Cleanup {
                id,
                node,
                operation,
                interval,
                refresh,
            } => admin::resource_cleanup(
                doc,
                &CleanupOptions {
                    rsc: id,
                    node,
                    operation: operation.map(|o| (o, interval)),
                    kind: if refresh {
                        CleanupKind::Refresh
                    } else {
                        CleanupKind::Failures
                    },
                },
                now,
            )?,
            ResourceCommand::Restart { id } => {
                // Offline there is nothing to wait for: both steps apply
                // back to back (a running cluster would stop it in between).
                let r = admin::resource_restart(doc, &id)?;
                eprintln!("note: on a CIB file the restart's stop and start apply back to back");
                let mut ops = r.stop;
                ops.extend(r.start);
                ops
            }
            ResourceCommand::Enable { id } => admin::resource_enable(doc, &id)?,
            ResourceCommand::Disable { id } => admin::resource_disable(doc, &id)?,
            ResourceCommand::Meta {
                id,
                name,
                value,
                delete,
            } => {
                if value.is_none() && !delete {
                    bail!("give a VALUE or --delete");
                }
                admin::resource_meta(doc, &id, &name, value.as_deref())?
            }
        })
    }

    pub fn run_resource(a: ResourceArgs) -> Result<()> {
        if let Some(mut live) = a.target.live()? {
            match &a.command {
                // The controller forgets the history on the nodes themselves (a CIB
                // edit alone would be written back by the next join).
                ResourceCommand::Cleanup { id, node, .. } => {
                    let doc = live.query()?;
                    let ids = match id {
                        Some(id) => vec![id.clone()],
                        None => primitive_ids(&doc),
                    };
                    for id in ids {
                        live.cleanup(&id, node.as_deref())?;
                    }
                    return Ok(());
                }
                // Stop, wait until it is stopped everywhere, start again.
                ResourceCommand::Restart { id } => {
                    let doc = live.query()?;
                    let r = admin::resource_restart(&doc, id)?;
                    live.apply(&r.stop)?;
                    wait_stopped(&mut live, id)?;
                    live.apply(&r.start)?;
                    return Ok(());
                }
                _ => {}
            }
        }
        let doc = a.target.load()?;
        let ops = resource_ops(a.command, &doc, system_clock())?;
        a.target.apply(&doc, &ops)
    }

    /// Every primitive's id (a cleanup of everything).
    fn primitive_ids(doc: &CibDocument) -> Vec<String> {
        fn walk(e: &Element, out: &mut Vec<String>) {
            for c in e.elements() {
                if c.name == "primitive" {
                    out.extend(c.attr("id").map(str::to_string));
                }
                walk(c, out);
            }
        }
        let mut out = Vec::new();
        if let Some(r) = doc.find("/cib/configuration/resources") {
            walk(r, &mut out);
        }
        out
    }

    /// Waits (bounded) until `rsc` runs nowhere, as the status says.
    fn wait_stopped(live: &mut CrmSocket, rsc: &str) -> Result<()> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        loop {
            let doc = live.query()?;
            let cib = Cib::from_element(doc.root().clone())?;
            let c = scheduler::unpack::unpack(&cib, system_clock());
            // The resource, or the instances of a cloned primitive (`d:0`, `d:1`…).
            let named: Vec<RscIdx> = RscIdx::all(c.rscs.len())
                .filter(|&i| c.rscs[i].id == rsc || clone_strip(&c.rscs[i].id) == rsc)
                .collect();
            let active = named
                .iter()
                .flat_map(|&i| c.primitives_of(i))
                .any(|p| !c.rscs[p].observed.running_on.is_empty());
            if !active {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                bail!("{rsc} did not stop within 120 s; its target-role is Stopped now");
            }
            std::thread::sleep(std::time::Duration::from_millis(250));
        }
    }

    fn section_text(doc: &CibDocument, name: &str) -> String {
        doc.root()
            .child("configuration")
            .and_then(|c| c.child(name))
            .map(Element::to_xml_string)
            .unwrap_or_default()
    }

    pub(super) fn constraint_ops(cmd: ConstraintCommand, doc: &CibDocument) -> Result<Option<Vec<CibOp>>> {
        Ok(Some(match cmd {
            ConstraintCommand::Location {
                rsc,
                how,
                nodes,
                id,
                role,
            } => {
                let mut ops = Vec::new();
                let mut cur = doc.clone();
                for n in nodes {
                    let (node, score) = match n.split_once('=') {
                        Some((n, s)) => (n.to_string(), s.to_string()),
                        None => (n, "INFINITY".to_string()),
                    };
                    let score = if how == "avoids" {
                        match score.strip_prefix('-') {
                            Some(_) => bail!("'avoids' takes a positive score, got {score}"),
                            None => format!("-{}", score.trim_start_matches('+')),
                        }
                    } else {
                        score
                    };
                    let more = admin::location_add(&cur, id.as_deref(), &rsc, &node, &score, role.as_deref())?;
                    cur = admin::apply(&cur, &more)?;
                    ops.extend(more);
                }
                ops
            }
            ConstraintCommand::Colocation {
                rsc,
                with_rsc,
                score,
                id,
                rsc_role,
                with_rsc_role,
                ..
            } => admin::colocation_add(
                doc,
                id.as_deref(),
                &rsc,
                &with_rsc,
                score.as_deref().unwrap_or("INFINITY"),
                rsc_role.as_deref(),
                with_rsc_role.as_deref(),
            )?,
            ConstraintCommand::Order { words, id } => {
                let (first_action, first, then_action, then, opts) = parse_order(&words)?;
                let mut kind = None;
                let mut symmetrical = None;
                for (k, v) in pairs(&opts)? {
                    match k.as_str() {
                        "kind" => kind = Some(v),
                        "symmetrical" => symmetrical = Some(cib::is_true(&v)),
                        _ => bail!("unknown order option '{k}' (kind, symmetrical)"),
                    }
                }
                admin::order_add(
                    doc,
                    id.as_deref(),
                    &first,
                    first_action.as_deref(),
                    &then,
                    then_action.as_deref(),
                    kind.as_deref(),
                    symmetrical,
                )?
            }
            ConstraintCommand::Remove { ids } => {
                let mut ops = Vec::new();
                for id in ids {
                    ops.extend(admin::constraint_remove(doc, &id)?);
                }
                ops
            }
            ConstraintCommand::Show => {
                print!("{}", section_text(doc, "constraints"));
                return Ok(None);
            }
        }))
    }

    type OrderWords = (Option<String>, String, Option<String>, String, Vec<String>);

    /// `[ACTION] FIRST then [ACTION] THEN [k=v…]`.
    pub(super) fn parse_order(words: &[String]) -> Result<OrderWords> {
        let then_at = words
            .iter()
            .position(|w| w == "then")
            .context("expected '[ACTION] FIRST then [ACTION] THEN'")?;
        let (left, right) = (&words[..then_at], &words[then_at + 1..]);
        let (fa, first) = match left {
            [f] => (None, f.clone()),
            [a, f] => (Some(a.clone()), f.clone()),
            _ => bail!("expected '[ACTION] FIRST' before 'then'"),
        };
        let plain: Vec<&String> = right.iter().take_while(|w| !w.contains('=')).collect();
        let opts: Vec<String> = right[plain.len()..].to_vec();
        let (ta, then) = match plain.as_slice() {
            [t] => (None, (*t).clone()),
            [a, t] => (Some((*a).clone()), (*t).clone()),
            _ => bail!("expected '[ACTION] THEN' after 'then'"),
        };
        Ok((fa, first, ta, then, opts))
    }

    pub fn run_constraint(a: ConstraintArgs) -> Result<()> {
        let doc = a.target.load()?;
        if let Some(ops) = constraint_ops(a.command, &doc)? {
            a.target.apply(&doc, &ops)?;
        }
        Ok(())
    }

    pub fn run_property(a: PropertyArgs) -> Result<()> {
        let doc = a.target.load()?;
        let mut ops = Vec::new();
        let mut cur = doc.clone();
        match a.command {
            PropertyCommand::Set { pairs: words } => {
                for (k, v) in pairs(&words)? {
                    let more = admin::property_set(&cur, &k, &v)?;
                    cur = admin::apply(&cur, &more)?;
                    ops.extend(more);
                }
            }
            PropertyCommand::Unset { names } => {
                for n in names {
                    let more = admin::property_unset(&cur, &n)?;
                    cur = admin::apply(&cur, &more)?;
                    ops.extend(more);
                }
            }
            PropertyCommand::Show => {
                let cfg = doc.root().child("configuration").and_then(|c| c.child("crm_config"));
                for set in cfg.into_iter().flat_map(|c| c.children_named("cluster_property_set")) {
                    for nv in set.children_named("nvpair") {
                        println!("{}={}", nv.attr("name").unwrap_or(""), nv.attr("value").unwrap_or(""));
                    }
                }
                return Ok(());
            }
        }
        a.target.apply(&doc, &ops)
    }

    pub fn run_config(a: ConfigArgs) -> Result<()> {
        let doc = a.target.load()?;
        let config = doc
            .root()
            .child("configuration")
            .context("the CIB has no <configuration>")?
            .clone();
        match a.command {
            ConfigCommand::Show => {
                print!("{}", config.to_xml_string());
                Ok(())
            }
            ConfigCommand::Push { file } => {
                let text = std::fs::read_to_string(&file).with_context(|| format!("cannot read {}", file.display()))?;
                let new = Element::parse(&text).with_context(|| format!("cannot parse {}", file.display()))?;
                let ops = admin::config_replace(&doc, &new)?;
                a.target.apply(&doc, &ops)
            }
            ConfigCommand::Edit => {
                let editor = std::env::var("VISUAL")
                    .or_else(|_| std::env::var("EDITOR"))
                    .unwrap_or_else(|_| "vi".into());
                let tmp = std::env::temp_dir().join(format!("ferrosync-config-{}.xml", std::process::id()));
                std::fs::write(&tmp, config.to_xml_string())?;
                let status = std::process::Command::new("sh")
                    .arg("-c")
                    .arg(format!("{editor} \"$1\""))
                    .arg("sh")
                    .arg(&tmp)
                    .status()
                    .with_context(|| format!("cannot run {editor}"))?;
                let text = std::fs::read_to_string(&tmp)?;
                std::fs::remove_file(&tmp).ok();
                if !status.success() {
                    bail!("{editor} failed; nothing changed");
                }
                let new = Element::parse(&text).context("the edited configuration is not XML")?;
                let ops = admin::config_replace(&doc, &new)?;
                if ops.is_empty() {
                    eprintln!("no change");
                }
                a.target.apply(&doc, &ops)
            }
        }
    }

    pub fn run_node(a: NodeArgs) -> Result<()> {
        let doc = a.target.load()?;
        let ops = match a.command {
            NodeCommand::Standby { node } => admin::node_standby(&doc, &node, true)?,
            NodeCommand::Online { node } => admin::node_standby(&doc, &node, false)?,
        };
        a.target.apply(&doc, &ops)
    }
}

#[cfg(test)]
mod admin_tests {
    use super::admin_cli::*;
    use super::*;
    use clap::Parser;

    #[derive(Parser, Debug)]
    struct Cli {
        #[command(subcommand)]
        command: CrmCommand,
    }

    const CIB: &str = include_str!("../../../../../shared/reference/pacemaker-min-2node-running.xml");

    fn tmp_cib(name: &str) -> PathBuf {
        let p = std::env::temp_dir().join(format!("ferrosync-crm-cli-{}-{name}.xml", std::process::id()));
        std::fs::write(&p, CIB).unwrap();
        p
    }

    fn run_words(words: &[&str]) -> Result<()> {
        let cli = Cli::try_parse_from(std::iter::once("crm").chain(words.iter().copied()))?;
        run(CrmArgs { command: cli.command })
    }

    fn config(path: &PathBuf) -> cib::document::CibDocument {
        cib::document::CibDocument::parse(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn create_spec_reads_pcs_words() {
        let words: Vec<String> = [
            "ip=10.0.0.1",
            "cidr_netmask=24",
            "op",
            "monitor",
            "interval=30s",
            "timeout=20s",
            "meta",
            "priority=5",
            "--group",
            "g1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let spec = create_spec("vip2".into(), "ocf:heartbeat:IPaddr2".into(), &words, None, false).unwrap();
        assert_eq!(spec.params.len(), 2);
        assert_eq!(spec.ops[0].interval, "30s");
        assert_eq!(spec.ops[0].attrs, vec![("timeout".to_string(), "20s".to_string())]);
        assert_eq!(spec.meta, vec![("priority".to_string(), "5".to_string())]);
        assert_eq!(spec.group.as_deref(), Some("g1"));
    }

    #[test]
    fn order_words() {
        let w: Vec<String> = ["promote", "A", "then", "start", "B", "kind=Optional"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let (fa, f, ta, t, o) = parse_order(&w).unwrap();
        assert_eq!(
            (fa.as_deref(), f.as_str(), ta.as_deref(), t.as_str()),
            (Some("promote"), "A", Some("start"), "B")
        );
        assert_eq!(o, vec!["kind=Optional".to_string()]);
    }

    #[test]
    fn verbs_edit_a_cib_file_in_place() {
        let p = tmp_cib("verbs");
        let f = p.to_str().unwrap();
        let epoch = config(&p).version().epoch;
        run_words(&["resource", "--cib", f, "create", "d1", "ocf:pacemaker:Dummy", "fake=1"]).unwrap();
        run_words(&["resource", "--cib", f, "ban", "d1", "node1"]).unwrap();
        run_words(&["constraint", "--cib", f, "location", "d1", "prefers", "node2=50"]).unwrap();
        run_words(&["constraint", "--cib", f, "order", "vip", "then", "d1"]).unwrap();
        run_words(&["property", "--cib", f, "set", "stonith-timeout=90s"]).unwrap();
        run_words(&["node", "--cib", f, "standby", "node2"]).unwrap();
        run_words(&["resource", "--cib", f, "disable", "d1"]).unwrap();
        let doc = config(&p);
        assert!(doc.version().epoch > epoch, "configuration changes bump the epoch");
        for path in [
            "/cib/configuration/resources/primitive[@id='d1']",
            "/cib/configuration/constraints/rsc_location[@id='cli-ban-d1-on-node1']",
            "/cib/configuration/constraints/rsc_location[@id='location-d1-node2-50']",
            "/cib/configuration/constraints/rsc_order[@id='order-vip-d1-mandatory']",
            "/cib/configuration/resources/primitive[@id='d1']/meta_attributes[@id='d1-meta_attributes']/nvpair[@id='d1-meta_attributes-target-role']",
        ] {
            assert!(doc.find(path).is_some(), "{path} missing");
        }
        assert!(run_words(&["resource", "--cib", f, "delete", "nope"])
            .unwrap_err()
            .to_string()
            .contains("'nope'"));
        run_words(&["resource", "--cib", f, "delete", "d1"]).unwrap();
        let doc = config(&p);
        assert!(doc.find("/cib/configuration/resources/primitive[@id='d1']").is_none());
        assert!(doc
            .find("/cib/configuration/constraints/rsc_order[@id='order-vip-d1-mandatory']")
            .is_none());
        run_words(&["status", "--cib", f]).unwrap();
        run_words(&["status", "--cib", f, "--json"]).unwrap();
        run_words(&["status", "--cib", f, "--xml"]).unwrap();
        std::fs::remove_file(&p).ok();
    }
}

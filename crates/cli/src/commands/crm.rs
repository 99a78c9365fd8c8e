//! `ferrosync crm …`: scheduler simulation and the conformance harness.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use cib::rules::parse_datetime;
use cib::score;
use cib::Cib;
use clap::{Args, Subcommand};
use crm::simulate::{inject, simulate, system_clock, Injections};
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
}

#[derive(Args, Debug)]
struct BenchArgs {
    /// Directory with index.tsv, cases/ and expected/.
    #[arg(long, default_value = "../shared/scheduler-cases")]
    cases: PathBuf,
    /// The reference binary.
    #[arg(long, default_value = "crm_simulate")]
    crm_simulate: PathBuf,
    /// Parallel jobs for both runs.
    #[arg(long, default_value_t = 2)]
    jobs: usize,
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
    }
}

fn run_simulate(a: SimulateArgs) -> Result<()> {
    let text = std::fs::read_to_string(&a.xml).with_context(|| format!("cannot read {}", a.xml.display()))?;
    let cib = Cib::parse(&text).with_context(|| format!("cannot load {}", a.xml.display()))?;
    for problem in cib.dangling_references() {
        eprintln!("warning: {problem} (constraint ignored)");
    }
    let inj = Injections {
        node_up: a.node_up,
        node_down: a.node_down,
        node_fail: a.node_fail,
        op_inject: a.op_inject,
        quorum: a.quorum,
    };
    let cib = inject(&cib, &inj)?;
    let mut date = None;
    if let Some(t) = &a.datetime {
        date = Some(parse_datetime(t).with_context(|| format!("invalid date '{t}'"))?);
        if !a.json {
            println!("Setting effective cluster time: {t}");
        }
    }
    let opts = Options::for_cib(&cib, date, system_clock);
    let _ = a.simulate;
    let sim = simulate(&cib, &opts);
    for w in &sim.schedule.cluster.warnings {
        eprintln!("warning: {w}");
    }
    if let Some(path) = &a.save_graph {
        let body = if path.extension().is_some_and(|e| e == "json") {
            serde_json_string(&sim.graph.to_json())
        } else {
            sim.graph.to_xml()
        };
        std::fs::write(path, body).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if a.json {
        let v = crm_json(&sim, a.show_scores);
        println!("{v}");
        return Ok(());
    }
    print!("{}", sim.report());
    if a.show_scores {
        println!();
        print!("{}", scores_text(&sim.schedule.cluster));
    }
    Ok(())
}

fn serde_json_string(v: &impl std::fmt::Display) -> String {
    format!("{v}\n")
}

fn lines(s: &str) -> Vec<String> {
    s.lines()
        .map(|l| l.trim().trim_start_matches("* ").to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn crm_json(sim: &crm::simulate::Simulation, show_scores: bool) -> String {
    let mut parts = vec![
        format!("\"current\":{}", json_str_list(&lines(&sim.current_text))),
        format!("\"transition_summary\":{}", json_str_list(&lines(&sim.summary_text))),
        format!("\"executed\":{}", json_str_list(&lines(&sim.executed_text))),
        format!("\"revised\":{}", json_str_list(&lines(&sim.revised_text))),
        format!("\"graph\":{}", sim.graph.to_json()),
    ];
    if show_scores {
        parts.push(format!(
            "\"scores\":{}",
            json_str_list(&lines(&scores_text(&sim.schedule.cluster)))
        ));
    }
    format!("{{{}}}", parts.join(","))
}

fn json_str_list(items: &[String]) -> String {
    let quoted: Vec<String> = items
        .iter()
        .map(|s| {
            let mut o = String::from("\"");
            for ch in s.chars() {
                match ch {
                    '"' => o.push_str("\\\""),
                    '\\' => o.push_str("\\\\"),
                    '\n' => o.push_str("\\n"),
                    '\t' => o.push_str("\\t"),
                    c if (c as u32) < 0x20 => o.push_str(&format!("\\u{:04x}", c as u32)),
                    c => o.push(c),
                }
            }
            o.push('"');
            o
        })
        .collect();
    format!("[{}]", quoted.join(","))
}

fn scores_text(c: &scheduler::model::Cluster) -> String {
    let mut out = String::from("Allocation scores:\n");
    for r in &c.rscs {
        let func = if r.is_primitive() {
            "pcmk__primitive_assign"
        } else {
            continue;
        };
        for (n, w) in r.allowed.iter().enumerate() {
            if let Some(w) = w {
                out.push_str(&format!(
                    "{func}: {} allocation score on {}: {}\n",
                    r.id,
                    c.nodes[n].uname,
                    score::to_text(*w)
                ));
            }
        }
    }
    out
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

fn run_bench(a: BenchArgs) -> Result<()> {
    let cases = crm::conformance::read_index(&a.cases)?;
    let jobs = a.jobs.max(1);
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::atomic::AtomicUsize::new(0);
    let start = std::time::Instant::now();
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let Some(case) = cases.get(i) else { break };
                let xml = a.cases.join("cases").join(format!("{}.xml", case.name));
                if reference_output(&a.crm_simulate, &xml, &case.args).is_err() {
                    failures.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            });
        }
    });
    let reference = start.elapsed();
    if failures.into_inner() == cases.len() {
        bail!("{} could not run any case", a.crm_simulate.display());
    }
    let report = crm::conformance::run_all(&a.cases, None, jobs)?;
    let ours = report.elapsed;
    println!("cases: {}", cases.len());
    println!("crm_simulate: {:.2} s", reference.as_secs_f64());
    println!("ferrosync:    {:.2} s", ours.as_secs_f64());
    println!(
        "ratio: {:.1}x faster ({:.3} of crm_simulate's time)",
        reference.as_secs_f64() / ours.as_secs_f64().max(1e-9),
        ours.as_secs_f64() / reference.as_secs_f64().max(1e-9)
    );
    Ok(())
}

fn run_fuzz(a: FuzzArgs) -> Result<()> {
    std::fs::create_dir_all(&a.out).with_context(|| format!("cannot create {}", a.out.display()))?;
    let mut disagreements = 0u64;
    for seed in a.seed..a.seed + a.count {
        let text = crm::fuzzgen::generate(seed);
        let path = a.out.join(format!("fuzz-{seed}.xml"));
        std::fs::write(&path, &text).with_context(|| format!("cannot write {}", path.display()))?;
        let expected = reference_output(&a.crm_simulate, &path, &[])?;
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
    println!(
        "{} agreed, {} disagreed (saved under {})",
        a.count - disagreements,
        disagreements,
        a.out.display()
    );
    Ok(())
}

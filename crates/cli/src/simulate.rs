//! The simulation behind `ferrosync crm simulate` and `ferrosync-simulate`
//! (`crm_simulate -S -x FILE`): shared by both binaries, so it depends on
//! neither clap nor the rest of the command-line tool.

use std::path::PathBuf;

use anyhow::{Context, Result};
use cib::score;
use cib::time::parse_datetime_in;
use cib::Cib;
use crm::simulate::{inject, simulate, system_clock, Injections};
use scheduler::Options;

/// What to simulate and how to print it (crm_simulate's options).
#[derive(Debug, Default)]
pub struct SimulateOpts {
    /// CIB XML file to simulate.
    pub xml: PathBuf,
    /// Show allocation scores.
    pub show_scores: bool,
    /// Save the transition graph here (XML, or JSON if it ends in .json).
    pub save_graph: Option<PathBuf>,
    /// Save the CIB with the transition's results here.
    pub save_output: Option<PathBuf>,
    /// Print the result as JSON.
    pub json: bool,
    /// Nodes to bring online.
    pub node_up: Vec<String>,
    /// Nodes to take offline cleanly.
    pub node_down: Vec<String>,
    /// Nodes to mark as failed.
    pub node_fail: Vec<String>,
    /// Operation results to inject: rsc_task_intervalms@node=rc.
    pub op_inject: Vec<String>,
    /// Whether the cluster has quorum.
    pub quorum: Option<bool>,
    /// Effective date and time ("now"), ISO 8601.
    pub datetime: Option<String>,
}

pub fn run(a: SimulateOpts) -> Result<()> {
    let text = std::fs::read_to_string(&a.xml).with_context(|| format!("cannot read {}", a.xml.display()))?;
    let cib = Cib::parse(&text).with_context(|| format!("cannot load {}", a.xml.display()))?;
    for problem in cib.dangling_references() {
        eprintln!("warning: {problem} (constraint ignored)");
    }
    // Dates without an offset, and date specs, are local time, as crm_simulate
    // reads them.
    let tz = cib::time::local_zone();
    let mut date = None;
    let mut now_zone = None;
    let mut date_note = cib
        .execution_date
        .map(|t| format!("Using the original execution date of: {}", cib::time::iso_utc(t)));
    if let Some(t) = &a.datetime {
        date = Some(parse_datetime_in(t, &tz).with_context(|| format!("invalid date '{t}'"))?);
        now_zone = cib::time::explicit_zone(t);
        date_note = Some(format!("Setting effective cluster time: {t}"));
    }
    let opts = Options::for_cib(&cib, date, system_clock)
        .in_zone(tz)
        .with_now_zone(now_zone);
    let inj = Injections {
        node_up: a.node_up,
        node_down: a.node_down,
        node_fail: a.node_fail,
        op_inject: a.op_inject,
        quorum: a.quorum,
    };
    // Without injections the CIB is used as loaded (no copy, no rebuild).
    let cib = if inj.is_empty() {
        cib
    } else {
        inject(&cib, &inj, opts.now)?
    };
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
    if let Some(path) = &a.save_output {
        let doc = sim.revised_document(&cib, opts.now);
        std::fs::write(path, doc.to_xml_string()).with_context(|| format!("cannot write {}", path.display()))?;
    }
    if a.json {
        let v = crm_json(&sim, a.show_scores);
        println!("{v}");
        return Ok(());
    }
    print!("{}", sim.report_noting(date_note.as_deref()));
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
        for (n, w) in r.plan.allowed.iter().enumerate() {
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

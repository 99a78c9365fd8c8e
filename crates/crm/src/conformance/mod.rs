//! Conformance harness: runs every scheduler regression case in-process and
//! compares the `Transition Summary:` and `Revised Cluster Status:` sections
//! with the expected `crm_simulate` output, normalised exactly like the
//! shared `score.sh` scorer, and the transition graph with Pacemaker's
//! (`graph_canon`, like `score-graphs.py`). `gate` holds the CI gate: the
//! lists of passing case names.

pub mod gate;
pub mod graph_canon;
pub mod report;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crate::simulate::{simulate, Simulation};
use cib::time::parse_datetime;
use cib::Cib;
pub use gate::{GateOutcome, PassList};
use graph_canon::{canon, Detail};
pub use report::{Case, CaseResult, Check, HarnessError, Outcome, Report};
use scheduler::Options;

/// Splits a shell-quoted argument string (single/double quotes, escapes).
pub fn shell_split(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut have = false;
    let mut chars = s.chars();
    while let Some(ch) = chars.next() {
        match ch {
            '\'' => {
                have = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    cur.push(c);
                }
            }
            '"' => {
                have = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                cur.push(n);
                            }
                        }
                        c => cur.push(c),
                    }
                }
            }
            '\\' => {
                have = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            c if c.is_whitespace() => {
                if have {
                    out.push(std::mem::take(&mut cur));
                    have = false;
                }
            }
            c => {
                have = true;
                cur.push(c);
            }
        }
    }
    if have {
        out.push(cur);
    }
    out
}

/// Reads `index.tsv`.
pub fn read_index(dir: &Path) -> Result<Vec<Case>, HarnessError> {
    let path = dir.join("index.tsv");
    let text = std::fs::read_to_string(&path).map_err(|source| HarnessError::Io {
        path: path.clone(),
        source,
    })?;
    let mut cases = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 2 {
            return Err(HarnessError::Index {
                line: i + 1,
                text: line.to_string(),
            });
        }
        cases.push(Case {
            name: cols[0].to_string(),
            tier: cols[1].trim().parse().map_err(|_| HarnessError::Index {
                line: i + 1,
                text: line.to_string(),
            })?,
            group: cols.get(2).unwrap_or(&"").to_string(),
            args: shell_split(cols.get(3).unwrap_or(&"")),
        });
    }
    Ok(cases)
}

fn replace_word(line: &str, word: &str, with: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let bytes = line.as_bytes();
    let mut i = 0;
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    while i < line.len() {
        if line[i..].starts_with(word)
            && (i == 0 || !is_word(bytes[i - 1]))
            && (i + word.len() == line.len() || !is_word(bytes[i + word.len()]))
        {
            out.push_str(with);
            i += word.len();
        } else {
            let ch = line[i..].chars().next().unwrap_or(' ');
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// One line normalised like `score.sh`.
pub fn normalise_line(line: &str) -> String {
    let collapsed = line.split_whitespace().collect::<Vec<_>>().join(" ");
    let s = collapsed
        .replace("ocf::", "ocf:")
        .replace("Masters:", "Promoted:")
        .replace("Slaves:", "Unpromoted:");
    let s = replace_word(&s, "Master", "Promoted");
    replace_word(&s, "Slave", "Unpromoted")
}

/// A section (from `heading` to the next non-indented line), normalised
/// and sorted.
pub fn section(text: &str, heading: &str) -> Vec<String> {
    let mut on = false;
    let mut out = Vec::new();
    for line in text.lines() {
        if line.starts_with(|c: char| c != ' ' && c != '\t') {
            on = line.trim_end() == heading;
            continue;
        }
        if !on {
            continue;
        }
        let n = normalise_line(line);
        if !n.is_empty() {
            out.push(n);
        }
    }
    out.sort();
    out
}

/// Replaces `name:N` instance numbers by `name:*`.
fn strip_instances(lines: &[String]) -> Vec<String> {
    let mut out: Vec<String> = lines
        .iter()
        .map(|l| {
            let mut s = String::with_capacity(l.len());
            let b = l.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b':' && i + 1 < b.len() && b[i + 1].is_ascii_digit() && i > 0 && b[i - 1] != b' ' {
                    s.push_str(":*");
                    i += 1;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                } else {
                    s.push(b[i] as char);
                    i += 1;
                }
            }
            s
        })
        .collect();
    out.sort();
    out
}

/// Runs one case: parses its CIB and simulates it with the case's
/// arguments (only `-t DATE` affects the result).
pub fn run_case(dir: &Path, case: &Case) -> Result<Simulation, String> {
    let path = dir.join("cases").join(format!("{}.xml", case.name));
    let text = std::fs::read_to_string(&path).map_err(|e| format!("read error: {e}"))?;
    let cib = Cib::parse(&text).map_err(|e| format!("parse error: {e}"))?;
    let mut date = None;
    let mut it = case.args.iter();
    while let Some(a) = it.next() {
        if a == "-t" || a == "--set-datetime" {
            date = it.next().and_then(|v| parse_datetime(v));
        }
    }
    let opts = Options::for_cib(&cib, date, crate::simulate::system_clock);
    std::panic::catch_unwind(|| simulate(&cib, &opts)).map_err(|_| "panic".to_string())
}

/// Runs one case and returns its report text (or an error message).
pub fn run_case_text(dir: &Path, case: &Case) -> Result<String, String> {
    run_case(dir, case).map(|s| s.report())
}

/// Whether our graph equals the expected one at `detail` (false when the
/// expected graph is missing or unreadable).
fn graph_matches(expected: Option<&str>, ours: &str, detail: Detail) -> bool {
    let Some(expected) = expected else { return false };
    match (canon(expected, detail), canon(ours, detail)) {
        (Ok(e), Ok(o)) => e == o,
        _ => false,
    }
}

fn check(dir: &Path, case: &Case) -> CaseResult {
    let expected_path = dir.join("expected").join(format!("{}.summary", case.name));
    let expected = match std::fs::read_to_string(&expected_path) {
        Ok(t) => t,
        Err(e) => return CaseResult::failed(case, format!("no expected output: {e}")),
    };
    let sim = match run_case(dir, case) {
        Ok(s) => s,
        Err(e) => return CaseResult::failed(case, e),
    };
    let got = sim.report();
    let mut outcome = Outcome::Pass;
    let mut modulo = true;
    for (reason, heading) in [
        ("transition", "Transition Summary:"),
        ("revised", "Revised Cluster Status:"),
    ] {
        let e = section(&expected, heading);
        let g = section(&got, heading);
        if e != g {
            if outcome == Outcome::Pass {
                outcome = Outcome::Fail(reason.to_string());
            }
            if strip_instances(&e) != strip_instances(&g) {
                modulo = false;
            }
        }
    }
    let expected_graph = std::fs::read_to_string(dir.join("expected").join(format!("{}.exp.xml", case.name))).ok();
    let ours = sim.graph.to_xml();
    CaseResult {
        case: case.clone(),
        outcome,
        pass_modulo_instances: modulo,
        graph_edges: graph_matches(expected_graph.as_deref(), &ours, Detail::Edges),
        graph: graph_matches(expected_graph.as_deref(), &ours, Detail::Full),
    }
}

/// Runs all cases (optionally filtered by a name substring) on `jobs`
/// threads.
pub fn run_all(dir: &Path, filter: Option<&str>, jobs: usize) -> Result<Report, HarnessError> {
    let cases: Vec<Case> = read_index(dir)?
        .into_iter()
        .filter(|c| filter.is_none_or(|f| c.name.contains(f)))
        .collect();
    let start = Instant::now();
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(cases.len()));
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(case) = cases.get(i) else { break };
                let r = check(dir, case);
                if let Ok(mut v) = results.lock() {
                    v.push(r);
                }
            });
        }
    });
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by(|a, b| a.case.name.cmp(&b.case.name));
    Ok(Report {
        results,
        elapsed: start.elapsed(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_args() {
        assert_eq!(shell_split("-t 2005-020"), vec!["-t", "2005-020"]);
        assert_eq!(
            shell_split("-t \"2014-05-07 00:28:00\""),
            vec!["-t", "2014-05-07 00:28:00"]
        );
        assert_eq!(
            shell_split("-t '2014-05-07 00:28:00'"),
            vec!["-t", "2014-05-07 00:28:00"]
        );
        assert!(shell_split("").is_empty());
    }

    #[test]
    fn normalise() {
        assert_eq!(
            normalise_line("    * rsc1\t(ocf::heartbeat:apache):\t Master node1"),
            "* rsc1 (ocf:heartbeat:apache): Promoted node1"
        );
        assert_eq!(normalise_line("  * Slaves: [ a ]"), "* Unpromoted: [ a ]");
        assert_eq!(normalise_line("MasterX"), "MasterX");
    }

    #[test]
    fn sections() {
        let t = "Transition Summary:\n  * Start a ( n1 )\n\nExecuting Cluster Transition:\n  * x\nRevised Cluster Status:\n  * Node List:\n";
        assert_eq!(section(t, "Transition Summary:"), vec!["* Start a ( n1 )"]);
        assert_eq!(section(t, "Revised Cluster Status:"), vec!["* Node List:"]);
    }

    #[test]
    fn instance_stripping() {
        let a = vec!["* Start d:0 ( n1 )".to_string(), "* Start d:1 ( n2 )".to_string()];
        let b = vec!["* Start d:1 ( n1 )".to_string(), "* Start d:0 ( n2 )".to_string()];
        assert_eq!(strip_instances(&a), strip_instances(&b));
    }
}

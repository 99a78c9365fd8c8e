//! What a conformance run produces: per-case results, the checks a case can
//! pass, and the report rendered like `score.sh`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

/// The three things a case can pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Check {
    /// `Transition Summary:` and `Revised Cluster Status:` as `score.sh`.
    Summary,
    /// Graph actions and orderings, as `score-graphs.py --edges`.
    GraphEdges,
    /// Graph with agents and attributes, as `score-graphs.py`.
    Graph,
}

impl Check {
    pub const ALL: [Check; 3] = [Check::Summary, Check::GraphEdges, Check::Graph];

    /// File name of this check's list inside the gate directory.
    pub fn file_name(self) -> &'static str {
        match self {
            Check::Summary => "summaries.txt",
            Check::GraphEdges => "graph-edges.txt",
            Check::Graph => "graphs.txt",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Check::Summary => "summaries",
            Check::GraphEdges => "graph edges",
            Check::Graph => "graphs",
        }
    }
}

/// One row of `index.tsv`.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub tier: u8,
    pub group: String,
    pub args: Vec<String>,
}

/// Outcome of one case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    /// Which section differed first, or why it could not run.
    Fail(String),
}

#[derive(Debug, Clone)]
pub struct CaseResult {
    pub case: Case,
    pub outcome: Outcome,
    /// Passes when clone instance numbers are ignored.
    pub pass_modulo_instances: bool,
    /// The graph's actions and orderings equal Pacemaker's.
    pub graph_edges: bool,
    /// The graph equals Pacemaker's, attributes included.
    pub graph: bool,
}

impl CaseResult {
    pub(super) fn failed(case: &Case, why: String) -> CaseResult {
        CaseResult {
            case: case.clone(),
            outcome: Outcome::Fail(why),
            pass_modulo_instances: false,
            graph_edges: false,
            graph: false,
        }
    }

    /// Whether the case passes `check`.
    pub fn passes(&self, check: Check) -> bool {
        match check {
            Check::Summary => self.outcome == Outcome::Pass,
            Check::GraphEdges => self.graph_edges,
            Check::Graph => self.graph,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Report {
    pub results: Vec<CaseResult>,
    pub elapsed: Duration,
}

/// Why the case directory could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HarnessError {
    #[error("cannot read {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("malformed index line {line}: {text}")]
    Index { line: usize, text: String },
}

impl Report {
    pub fn passed(&self) -> usize {
        self.count(Check::Summary)
    }

    /// How many cases pass `check`.
    pub fn count(&self, check: Check) -> usize {
        self.results.iter().filter(|r| r.passes(check)).count()
    }

    /// Names of the cases that pass `check`.
    pub fn passing(&self, check: Check) -> impl Iterator<Item = &str> {
        self.results
            .iter()
            .filter(move |r| r.passes(check))
            .map(|r| r.case.name.as_str())
    }

    pub fn failed(&self) -> usize {
        self.results.len() - self.passed()
    }

    /// Per-tier pass counts: (tier, passed, total).
    pub fn tiers(&self) -> Vec<(u8, usize, usize)> {
        (1..=3)
            .map(|t| {
                let of: Vec<&CaseResult> = self.results.iter().filter(|r| r.case.tier == t).collect();
                (t, of.iter().filter(|r| r.outcome == Outcome::Pass).count(), of.len())
            })
            .collect()
    }

    /// Text like `score.sh`: failures, per-tier counts, elapsed, totals.
    pub fn render(&self, verbose: bool) -> String {
        let mut out = String::new();
        for r in &self.results {
            match &r.outcome {
                Outcome::Pass if verbose => {
                    let _ = writeln!(out, "PASS tier{} {}", r.case.tier, r.case.name);
                }
                Outcome::Pass => {}
                Outcome::Fail(why) => {
                    let _ = writeln!(out, "FAIL tier{} {} (reason: {})", r.case.tier, r.case.name, why);
                }
            }
        }
        for (t, p, n) in self.tiers() {
            let _ = writeln!(out, "tier {t}: {p}/{n}");
        }
        let modulo = self.results.iter().filter(|r| r.pass_modulo_instances).count();
        let _ = writeln!(out, "ignoring clone instance numbers: {modulo} would pass");
        for check in [Check::GraphEdges, Check::Graph] {
            let _ = writeln!(out, "{}: {}/{}", check.label(), self.count(check), self.results.len());
        }
        let _ = writeln!(out, "elapsed: {:.1} s", self.elapsed.as_secs_f64());
        let _ = writeln!(out, "{} passed, {} failed", self.passed(), self.failed());
        out
    }
}

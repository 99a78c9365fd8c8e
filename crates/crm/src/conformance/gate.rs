//! The CI gate: lists of case names that pass, one list per check. A case on
//! a list must keep passing; a case that newly passes is reported so it can
//! be added.

use std::collections::BTreeSet;
use std::path::Path;

use super::report::{Check, HarnessError, Report};

/// Case names that passed when the list was recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PassList {
    pub names: BTreeSet<String>,
}

/// How the current results compare with a list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateOutcome {
    /// On the list, no longer passing (or no longer run).
    pub regressed: Vec<String>,
    /// Passing, not yet on the list.
    pub new: Vec<String>,
}

impl PassList {
    /// One name per line; blank lines and `#` comments are ignored.
    pub fn parse(text: &str) -> PassList {
        let names = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect();
        PassList { names }
    }

    pub fn read(path: &Path) -> Result<PassList, HarnessError> {
        let text = std::fs::read_to_string(path).map_err(|source| HarnessError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(PassList::parse(&text))
    }

    /// The list as file text, with a heading comment.
    pub fn render(&self, check: Check) -> String {
        let mut out = format!(
            "# Scheduler cases whose {} pass; a case listed here must keep passing.\n",
            check.label()
        );
        for n in &self.names {
            out.push_str(n);
            out.push('\n');
        }
        out
    }

    /// Compares passing case names with the list.
    pub fn compare<'a>(&self, passing: impl IntoIterator<Item = &'a str>) -> GateOutcome {
        let passing: BTreeSet<&str> = passing.into_iter().collect();
        GateOutcome {
            regressed: self
                .names
                .iter()
                .filter(|n| !passing.contains(n.as_str()))
                .cloned()
                .collect(),
            new: passing
                .iter()
                .filter(|n| !self.names.contains(**n))
                .map(|n| n.to_string())
                .collect(),
        }
    }
}

/// A report compared with every list of a gate directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GateReport {
    pub outcomes: Vec<(Check, GateOutcome)>,
}

impl GateReport {
    /// One line per check naming the cases it lists that no longer pass;
    /// empty when nothing regressed.
    pub fn regressions(&self) -> String {
        self.lines(|o| &o.regressed)
    }

    /// One line per check naming the cases that pass but are not listed.
    pub fn new_passes(&self) -> String {
        self.lines(|o| &o.new)
    }

    fn lines(&self, pick: impl Fn(&GateOutcome) -> &Vec<String>) -> String {
        let mut out = String::new();
        for (check, outcome) in &self.outcomes {
            let names = pick(outcome);
            if !names.is_empty() {
                out.push_str(&format!("{}: {}\n", check.label(), names.join(" ")));
            }
        }
        out
    }
}

/// Compares a report with every list in `gate_dir`.
pub fn compare_all(gate_dir: &Path, report: &Report) -> Result<GateReport, HarnessError> {
    let outcomes = Check::ALL
        .iter()
        .map(|&check| {
            let list = PassList::read(&gate_dir.join(check.file_name()))?;
            Ok((check, list.compare(report.passing(check))))
        })
        .collect::<Result<_, HarnessError>>()?;
    Ok(GateReport { outcomes })
}

/// Adds the newly passing cases to every list in `gate_dir` (never removes
/// a name: dropping a case from a list is an edit made by hand).
pub fn record_new_passes(gate_dir: &Path, report: &Report) -> Result<(), HarnessError> {
    for check in Check::ALL {
        let path = gate_dir.join(check.file_name());
        let mut list = match PassList::read(&path) {
            Ok(l) => l,
            Err(HarnessError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                PassList::default()
            }
            Err(e) => return Err(e),
        };
        list.names.extend(report.passing(check).map(str::to_string));
        std::fs::write(&path, list.render(check)).map_err(|source| HarnessError::Io { path, source })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_ignores_comments_and_blanks() {
        let l = PassList::parse("# heading\nb\n\n a # why\n");
        assert_eq!(l.names.iter().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(PassList::parse(&l.render(Check::Graph)), l);
    }

    #[test]
    fn compare_names_regressions_and_new_passes() {
        let l = PassList::parse("a\nb\nc\n");
        let o = l.compare(["a", "c", "d"]);
        assert_eq!(o.regressed, ["b"]);
        assert_eq!(o.new, ["d"]);
        assert_eq!(l.compare(["a", "b", "c"]), GateOutcome::default());
        let r = GateReport {
            outcomes: vec![(Check::Summary, o), (Check::Graph, GateOutcome::default())],
        };
        assert_eq!(r.regressions(), "summaries: b\n");
        assert_eq!(r.new_passes(), "summaries: d\n");
    }
}

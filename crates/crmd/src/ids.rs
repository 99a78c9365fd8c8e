//! Identifiers and bounded values: nodes, CRM processes, attribute names and values.

use std::fmt;

use thiserror::Error;

/// A cluster node, by its corosync node id (`nodelist.node.N.nodeid`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

impl From<totem::NodeId> for NodeId {
    fn from(id: totem::NodeId) -> NodeId {
        NodeId(id)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "node{}", self.0)
    }
}

/// One CRM process in the CPG group: the node it runs on and its pid. CPG
/// membership is per process, so a restarted daemon is a new member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ProcessId {
    pub node: NodeId,
    pub pid: u32,
}

impl ProcessId {
    pub fn new(node: u32, pid: u32) -> ProcessId {
        ProcessId {
            node: NodeId(node),
            pid,
        }
    }
}

impl fmt::Display for ProcessId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.node, self.pid)
    }
}

/// Why a name or value was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValueError {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} is {len} bytes long, more than {max}")]
    TooLong { what: &'static str, len: usize, max: usize },
    #[error("{what} contains the control character {ch:?}")]
    Control { what: &'static str, ch: char },
}

fn check(what: &'static str, s: &str, max: usize, allow_empty: bool) -> Result<(), ValueError> {
    if s.is_empty() && !allow_empty {
        return Err(ValueError::Empty { what });
    }
    if s.len() > max {
        return Err(ValueError::TooLong {
            what,
            len: s.len(),
            max,
        });
    }
    if let Some(ch) = s.chars().find(|c| c.is_control()) {
        return Err(ValueError::Control { what, ch });
    }
    Ok(())
}

/// A node attribute's name (`pingd`, `fail-count-web#monitor_10000`, `master-db`, …):
/// non-empty, at most [`AttrName::MAX`] bytes, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AttrName(String);

impl AttrName {
    pub const MAX: usize = 255;

    pub fn new(name: impl Into<String>) -> Result<AttrName, ValueError> {
        let name = name.into();
        check("attribute name", &name, AttrName::MAX, false)?;
        Ok(AttrName(name))
    }

    /// `fail-count-RSC#OP_INTERVALMS` (`include/crm/common/internal.h`).
    pub fn fail_count(rsc: &str, op: &str, interval_ms: u64) -> Result<AttrName, ValueError> {
        AttrName::new(format!("fail-count-{rsc}#{op}_{interval_ms}"))
    }

    /// `last-failure-RSC#OP_INTERVALMS`.
    pub fn last_failure(rsc: &str, op: &str, interval_ms: u64) -> Result<AttrName, ValueError> {
        AttrName::new(format!("last-failure-{rsc}#{op}_{interval_ms}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AttrName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A node attribute's value: at most [`AttrValue::MAX`] bytes, no control characters
/// (it ends up in an XML attribute of the CIB status).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AttrValue(String);

impl AttrValue {
    pub const MAX: usize = 512;

    pub fn new(value: impl Into<String>) -> Result<AttrValue, ValueError> {
        let value = value.into();
        check("attribute value", &value, AttrValue::MAX, true)?;
        Ok(AttrValue(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The value read as a Pacemaker score (`INFINITY`, `+INFINITY`, `-INFINITY`, an
    /// integer clamped to ±1,000,000); anything else counts as 0, as `char2score` does.
    pub fn as_score(&self) -> i64 {
        parse_score(&self.0)
    }

    /// A score written as Pacemaker writes it (`INFINITY` at the bound).
    pub fn from_score(score: i64) -> AttrValue {
        let s = if score >= SCORE_INFINITY {
            "INFINITY".to_string()
        } else if score <= -SCORE_INFINITY {
            "-INFINITY".to_string()
        } else {
            score.to_string()
        };
        AttrValue(s)
    }
}

impl fmt::Display for AttrValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Pacemaker's `CRM_SCORE_INFINITY`.
pub const SCORE_INFINITY: i64 = 1_000_000;

fn parse_score(s: &str) -> i64 {
    match s {
        "INFINITY" | "+INFINITY" => SCORE_INFINITY,
        "-INFINITY" => -SCORE_INFINITY,
        _ => s
            .parse::<i64>()
            .map(|v| v.clamp(-SCORE_INFINITY, SCORE_INFINITY))
            .unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(matches!(AttrName::new(""), Err(ValueError::Empty { .. })));
        assert!(matches!(
            AttrName::new("a\nb"),
            Err(ValueError::Control { ch: '\n', .. })
        ));
        assert!(matches!(
            AttrName::new("x".repeat(256)),
            Err(ValueError::TooLong { len: 256, .. })
        ));
        assert_eq!(AttrName::new("x".repeat(255)).unwrap().as_str().len(), 255);
        assert_eq!(
            AttrName::fail_count("web", "monitor", 10000).unwrap().as_str(),
            "fail-count-web#monitor_10000"
        );
        assert_eq!(
            AttrName::last_failure("web", "start", 0).unwrap().as_str(),
            "last-failure-web#start_0"
        );
        assert!(AttrValue::new("").is_ok());
        assert!(AttrValue::new("y".repeat(513)).is_err());
    }

    #[test]
    fn scores() {
        for (s, v) in [
            ("INFINITY", SCORE_INFINITY),
            ("+INFINITY", SCORE_INFINITY),
            ("-INFINITY", -SCORE_INFINITY),
            ("42", 42),
            ("-3", -3),
            ("5000000", SCORE_INFINITY),
            ("abc", 0),
        ] {
            assert_eq!(AttrValue::new(s).unwrap().as_score(), v, "{s}");
        }
        assert_eq!(AttrValue::from_score(SCORE_INFINITY + 5).as_str(), "INFINITY");
        assert_eq!(AttrValue::from_score(-SCORE_INFINITY).as_str(), "-INFINITY");
        assert_eq!(AttrValue::from_score(7).as_str(), "7");
    }
}

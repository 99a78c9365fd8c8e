//! Problems in the input that are worked around rather than refused.

/// A problem in the input that is worked around the way Pacemaker does
/// (the offending part is ignored), reported to the caller instead of
/// dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Warning {
    /// A `node_state` without `id` or `uname` is ignored
    /// (`unpack_node_state`).
    NodeStateWithout {
        missing: &'static str,
        /// The attribute that is there, to find the entry by.
        other: Option<String>,
    },
    /// An `rsc_location` whose `rsc-pattern` is not a valid regular
    /// expression: the constraint applies to nothing.
    InvalidRscPattern {
        constraint: String,
        pattern: String,
        reason: String,
    },
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Warning::NodeStateWithout { missing, other } => write!(
                f,
                "ignoring node_state{} without {missing}",
                other.as_deref().map(|o| format!(" '{o}'")).unwrap_or_default()
            ),
            Warning::InvalidRscPattern {
                constraint,
                pattern,
                reason,
            } => write!(
                f,
                "rsc_location '{constraint}': rsc-pattern '{pattern}' is not a valid regular expression \
                 (constraint ignored): {reason}"
            ),
        }
    }
}

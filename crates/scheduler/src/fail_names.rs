//! Which node attributes are fail counts, and for which resource: their
//! names changed form with the CIB's feature set.

/// The resource a `fail-count-` or `last-failure-` attribute (its name
/// without the prefix) counts for, if it has the form Pacemaker reads:
/// per operation (`RSC#TASK_INTERVAL`) when the CIB's `crm_feature_set` is
/// at least 3.0.13, else (also when the CIB has none) per resource (`RSC`).
/// An attribute of the other form is ignored (`generate_fail_regex`,
/// lib/pengine/failcounts.c:198-246, with `compare_version(NULL, …)` < 0).
pub fn fail_attr_rsc<'a>(rest: &'a str, feature_set: Option<&str>) -> Option<&'a str> {
    let legacy = feature_set.is_none_or(|v| crate::version::version_lt(v, "3.0.13"));
    match rest.split_once('#') {
        None if legacy => Some(rest),
        Some((rsc, op)) if !legacy && per_op_suffix(op) => Some(rsc),
        _ => None,
    }
}

/// `.+_[0-9]+`: a task, an underscore and an interval.
fn per_op_suffix(op: &str) -> bool {
    op.rsplit_once('_')
        .is_some_and(|(task, ms)| !task.is_empty() && !ms.is_empty() && ms.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::fail_attr_rsc;

    #[test]
    fn fail_count_names_follow_the_feature_set() {
        // Without a feature set (or before 3.0.13) only per-resource names count.
        assert_eq!(fail_attr_rsc("r", None), Some("r"));
        assert_eq!(fail_attr_rsc("r#monitor_10000", None), None);
        assert_eq!(fail_attr_rsc("r#monitor_10000", Some("3.0.12")), None);
        // From 3.0.13 only per-operation names count.
        assert_eq!(fail_attr_rsc("r#monitor_10000", Some("3.0.13")), Some("r"));
        assert_eq!(fail_attr_rsc("r:1#start_0", Some("3.16.1")), Some("r:1"));
        assert_eq!(fail_attr_rsc("r", Some("3.16.1")), None);
        assert_eq!(fail_attr_rsc("r#monitor", Some("3.16.1")), None);
    }
}

//! `crm_feature_set` versions, which decide how some status entries read.

/// Whether dotted version `a` is older than `b` (`compare_version`).
pub(crate) fn version_lt(a: &str, b: &str) -> bool {
    let pa: Vec<u64> = a.split('.').map(|x| x.parse().unwrap_or(0)).collect();
    let pb: Vec<u64> = b.split('.').map(|x| x.parse().unwrap_or(0)).collect();
    pa < pb
}

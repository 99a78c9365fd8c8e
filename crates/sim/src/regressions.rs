//! Seeds that once failed, replayed by `cargo test` so fixed bugs stay fixed.
//! Add a seed (with the node override it failed with, and a one-line diagnosis)
//! whenever a sweep finds a failure. Each is run exactly as `sim --seed S` runs it.

/// (seed, node count override, what went wrong when it was found).
pub const SEEDS: &[(u64, Option<usize>, &str)] = &[
    (0, None, "virtual synchrony: a 5.7 kB message cut by a configuration change was delivered only by nodes that held its first frames"),
    (47, None, "virtual synchrony: small message whose tail shared a frame with the next, split across rings"),
    (13, None, "join storm: joins naming different failed sets across old rings re-entered GATHER and re-sent a join on every receipt"),
    (55, None, "no duplicates: sender delivered its own re-packed message twice after a configuration change"),
    (187, None, "self-delivery: re-packed frames dropped silently when the send queue was full (sendq 256)"),
    (111, None, "self-delivery: re-packed frames dropped under back-pressure, with pauses"),
    (408, None, "liveness: two pairs phase-locked in GATHER after a leave, marking each other failed forever"),
    (541, None, "liveness: nodes stuck in GATHER after many leaves and restarts"),
    (907, None, "liveness: split rings never merged after partitions and pauses healed"),
    (1672, None, "liveness: two groups livelocked in GATHER after a leave and a partition"),
    (319, None, "heavy but healthy run once misreported as a storm by a fixed event budget (simulator bug)"),
    (29, None, "token lost just before the heal was misreported as instability (simulator bug: no settle time)"),
];

#[cfg(test)]
mod tests {
    #[test]
    fn regression_seeds_pass() {
        let mut failed = Vec::new();
        for &(seed, nodes, why) in super::SEEDS {
            let r = crate::run(&crate::SimOptions {
                seed,
                nodes,
                ..Default::default()
            });
            if !r.passed() {
                failed.push(format!("seed {seed} (was: {why}): {}", r.summary()));
            }
        }
        assert!(failed.is_empty(), "{}", failed.join("\n"));
    }
}

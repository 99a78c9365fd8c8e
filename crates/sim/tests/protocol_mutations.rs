//! The protocol checkers must be able to fail: each bug planted in every node's Totem
//! (`sim --plant ...`) is caught by the checker named on some seed of a small, fixed
//! range. Without the plant those seeds pass (CI's sweep covers 0..2000).

use sim::{run, SimOptions};
use totem::config::PlantedBug;

/// The first seed in `seeds` whose run with `bug` planted fails with `want`, or what the
/// runs that failed otherwise reported.
fn caught(bug: PlantedBug, seeds: std::ops::Range<u64>, want: &str) -> Result<u64, Vec<String>> {
    let mut other = Vec::new();
    for seed in seeds {
        let r = run(&SimOptions {
            seed,
            planted_bug: Some(bug),
            ..Default::default()
        });
        match r.failure {
            Some(f) if f.what == want => return Ok(seed),
            Some(f) => other.push(format!("seed {seed}: {f}")),
            None => {}
        }
    }
    Err(other)
}

fn assert_caught(bug: PlantedBug, seeds: std::ops::Range<u64>, want: &str) {
    match caught(bug, seeds.clone(), want) {
        Ok(seed) => eprintln!("{bug:?} caught by {want} with seed {seed}"),
        Err(other) => panic!("{bug:?} not caught by {want} on seeds {seeds:?}; other failures: {other:#?}"),
    }
}

#[test]
fn a_skipped_gap_breaks_the_agreed_prefix() {
    assert_caught(PlantedBug::SkipGap, 0..10, "agreed_prefix");
}

#[test]
fn a_skipped_gap_in_the_final_ring_is_caught() {
    // Seed 34 (8 nodes): the skip happens in the final ring, after the safety phase.
    assert_caught(PlantedBug::SkipGap, 34..35, "final_ring_delivery");
}

#[test]
fn old_ring_messages_after_the_regular_configuration_are_caught() {
    assert_caught(PlantedBug::SwapTransitional, 0..10, "same_configuration");
}

#[test]
fn dropped_recovery_resends_break_virtual_synchrony() {
    assert_caught(PlantedBug::DropRecoveryResends, 0..20, "virtual_synchrony");
}

//! The protocol checkers must be able to fail: each bug planted in every node's Totem
//! (`sim --plant ...`) is caught by the checker named on some seed of a small, fixed
//! range. Without the plant those seeds pass (CI's sweep covers 0..2000). (A planted gap
//! skip happens once per node, nearly always during the faults, where `agreed_prefix`
//! sees it first; the final ring's check gets a host-level mutation of its own.)

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

/// The final ring's check runs before the whole-history checkers at the end of the
/// liveness phase: a member that loses one message of another member there (node 1's
/// host drops one sent before the heal and delivered after it) is caught by it; the
/// probes and self-delivery do not cover such a message.
#[test]
fn a_message_lost_in_the_final_ring_is_caught() {
    let mut other = Vec::new();
    for seed in 0..40 {
        let r = run(&SimOptions {
            seed,
            mutation: Some(sim::Mutation::DropFinalRingDelivery),
            ..Default::default()
        });
        match r.failure {
            Some(f) if f.what == "final_ring_delivery" => {
                eprintln!("caught with seed {seed}: {f}");
                return;
            }
            Some(f) => other.push(format!("seed {seed}: {f}")),
            None => {}
        }
    }
    panic!("not caught on seeds 0..40; other failures: {other:#?}");
}

#[test]
fn old_ring_messages_after_the_regular_configuration_are_caught() {
    assert_caught(PlantedBug::SwapTransitional, 0..20, "same_configuration");
}

#[test]
fn dropped_recovery_resends_break_virtual_synchrony() {
    assert_caught(PlantedBug::DropRecoveryResends, 0..20, "virtual_synchrony");
}

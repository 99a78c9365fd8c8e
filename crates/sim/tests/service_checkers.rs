//! The service checkers must be able to fail: each planted service-level bug (in node
//! 1's host) is caught by its checker on some seed of a small, fixed range.

use sim::{run, Mutation, SimOptions};

/// The first seed in `seeds` whose run fails with `want`, and what the others that
/// failed reported.
fn caught(m: Mutation, nodes: usize, seeds: std::ops::Range<u64>, want: &str) -> Result<u64, Vec<String>> {
    let mut other = Vec::new();
    for seed in seeds {
        let r = run(&SimOptions {
            seed,
            nodes: Some(nodes),
            mutation: Some(m),
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

fn assert_caught(m: Mutation, want: &str) {
    assert_caught_on(m, 4, 0..40, want);
}

fn assert_caught_on(m: Mutation, nodes: usize, seeds: std::ops::Range<u64>, want: &str) {
    match caught(m, nodes, seeds.clone(), want) {
        Ok(seed) => eprintln!("{m:?} caught by {want} with seed {seed} ({nodes} nodes)"),
        Err(other) => panic!("{m:?} not caught by {want} on seeds {seeds:?}; other failures: {other:#?}"),
    }
}

#[test]
fn swapped_cpg_deliveries_break_agreed_order() {
    assert_caught(Mutation::CpgSwapDeliveries, "cpg_agreed_order");
}

#[test]
fn a_dropped_cpg_delivery_breaks_virtual_synchrony() {
    assert_caught(Mutation::CpgDropDelivery, "cpg_virtual_synchrony");
}

#[test]
fn a_delivery_before_the_senders_join_is_caught() {
    assert_caught(Mutation::CpgDeliverBeforeJoin, "cpg_sender_in_view");
}

/// A transitional change that keeps a process of a departed node is caught per group
/// (cpg_virtual_synchrony compares only sessions whose next views are equal).
#[test]
fn a_stale_downlist_breaks_the_transitional_change() {
    assert_caught_on(Mutation::CpgStaleDownlist, 4, 0..60, "cpg_transitional");
}

#[test]
fn client_traffic_during_synchronisation_breaks_the_barrier() {
    assert_caught(Mutation::UnholdDuringSync, "sync_barrier");
}

#[test]
fn a_quorate_minority_is_caught() {
    assert_caught_on(Mutation::FalseQuorate, 5, 0..300, "quorum_safety");
}

#[test]
fn a_node_that_does_not_wait_for_all_is_caught() {
    assert_caught_on(Mutation::IgnoreWaitForAll, 5, 0..40, "quorum_wait_for_all");
}

/// Without a mutation the same seeds pass (the tests above fail for the planted bug).
#[test]
fn the_same_seeds_pass_unmutated() {
    for seed in 0..10 {
        let r = run(&SimOptions {
            seed,
            nodes: Some(4),
            ..Default::default()
        });
        assert!(r.passed(), "{}", r.summary());
    }
}

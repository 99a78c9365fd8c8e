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
    (10347, None, "window 3 ring draining a large backlog was misreported as stuck (simulator bug: fixed deadline)"),
    (322, None, "liveness: a restarted node advertised its old ring seq in joins; the others discounted its verdict while it ignored them and the consensus timeout only gave up on silent nodes: GATHER forever"),
    (82, Some(32), "liveness at 32 nodes: an outsider's join (every 30 ms, naming the group failed) threw the first members to reach OPERATIONAL back to GATHER, whose joins aborted everyone else's RECOVERY; forever (fixed: outsiders wait until a new ring settled)"),
    (63, Some(32), "same as 82, after a partition"),
    (92, Some(32), "same as 82, after a crash and restart"),
    (1425, None, "liveness: every member re-sent every old-ring message in RECOVERY; the copies overflowed the recovery window and the token circulated forever with nothing allowed (fixed: each message re-sent once when a member surely holds it)"),
    (23906, None, "liveness (1 of 100,000 seeds): after 5 partitions, singletons and a group keep forming rings that miss each other; each side sees the other silent while it is busy in COMMIT/RECOVERY and gives up on it after fail_silent_after (fixed: only members of our last ring are failed for silence)"),
    (55739, None, "liveness (1 of 100,000 seeds): same alternation as 23906 with 6 nodes, after a leave, a restart and pauses"),
    (113, None, "cpg liveness: a client disconnected during synchronisation; its PROCLEAVE went out with the sync traffic ahead of its own PROCJOIN still waiting for the ring, so every node kept the process as a member forever (fixed in services::Node: client traffic stays behind earlier client traffic)"),
    (188, None, "sync barrier: a sync completed on messages of the old ring delivered during the transition; its trans_ack released the held messages into the new ring before that ring's synchronisation (fixed in totem: an ack for an older ring is ignored)"),
    (386, None, "same as 113"),
    (210, None, "same as 188"),
    (245, None, "cpg liveness: joinlists of an older ring (delivered after cpg's part of an interrupted sync) stayed and were applied at the next activation, bringing back a process that had left (fixed in cpg: sync_init drops them)"),
    (16637, None, "cpg client: a LEAVE overtook the same client's multicasts held back under back-pressure; they went out later under the pid of its next join (fixed in services::Node: a client's requests wait behind its held multicasts)"),
    (3351, None, "cpg virtual synchrony misreported (checker bug): two nodes left a ring into different transitional configurations, their syncs were cut short, and they met in the next view; CPG promises equal sets only to nodes that moved together"),
    (2202, None, "wait_for_all misreported (checker bug): votes seen during a ring's cut-short synchronisation, and a clean leave, count; the first quorum needs a ring of all nodes before it, not to be on it"),
    (475, Some(32), "packet/timer storm at 32 nodes under 50 % loss of the workload's 50,000 messages: >100,000 events in 10 ms; passes since silence only fails members of our last ring"),
    (318, None, "justified exclusion (with the failure detector before issue 13, `sim --plant eager-silence`): n1, never paused, waited in a COMMIT the others had abandoned and was failed after fail_silent_after of silence"),
    (2, Some(32), "issue 13: n19 paused 527 ms while a GATHER ran was failed for 200 ms of silence and left out of ring 1.19 (fixed: silence counts from the last datagram or token and must reach token + two join intervals)"),
    (52, Some(32), "liveness at 32 nodes (15 % loss, partitions): refusing outsiders' verdicts on every node heard within the silence floor kept groups from different rings apart for 62 s after healing (fixed: refused only for nodes that sent a join in this round)"),
    (79, Some(32), "justified exclusion at 32 nodes after 7 crash/restarts, with the same over-wide refusal as 52"),
    (363, Some(32), "event budget at 32 nodes, 15 % loss: fast token resends on nearly every token (issue 13); passed once 32-node tokens were scaled (+690 ms) and the event budget grew with N; the resend wait is per hop since 70000158"),
    (60000065, Some(32), "packet or timer storm at 32 nodes (issue 13); passed once tokens and budgets scaled with N; later misreported (simulator bug) when a ring of one, passing the token to itself over loopback, sent its backlog (3,218 multicasts to 31 peers) in 10 ms: windows of mostly multicasts are not storms"),
    (60000128, Some(32), "32 nodes OPERATIONAL for 300 s with hundreds of messages undelivered (issue 13); passes since tokens scale with N (root cause not isolated)"),
    (1507, None, "justified exclusion: a member that lost the token in RECOVERY took an outsider's verdict (from a join naming an older ring) on a node it had just committed with; its ring-mates adopted it and the live node formed a ring of its own (fixed: a verdict is refused for a node that has since sent a join naming a later ring)"),
    (1686, None, "justified exclusion misreported (checker bug): with fail_recv_const 3 under miss_count_const 5, one lost message made a node fail to receive and form a singleton ring, which corosync does too; a receive failure now excuses the exclusions on both sides"),
    (13, Some(32), "justified exclusion at 32 nodes (send_join 135 ms): a ring stalled by a paused member, so every member's last token was 1.6 s old when GATHER began; a node whose first join was lost was failed 200 ms into the round (fixed: silence in the round must last two join intervals with their send_join delays)"),
    (6, Some(4), "justified exclusion misreported (checker bug): a node stopped for 237 ms just before the token loss of a ring stalled by another node stopped for 1.8 s had been silent for 0.9 s; its silence now counts from the stall"),
    (2790, None, "justified exclusion: a group agreed on a ring whose commit token stuck at a member stopped for 1.7 s; the others waited one token for it after their consensus timer, failed n1..n3 (silent in COMMIT) 2 ms before those gave the token up and spoke, and formed a ring without them (fixed: after agreeing we wait token + join + send_join)"),
    (3541, None, "justified exclusion (7 nodes, pauses, 2 % loss): two nodes resumed from stops, fired their consensus timeouts before reading the joins queued meanwhile and failed n1, silent in COMMIT; n4 adopted the verdict (fixed: a consensus timeout answered late judges nobody for two join intervals) (found at 9633cea; main's larger max_messages draws changed the seed's run since, and it passed here before the fix — the failure reproduces at 9633cea and passes there with the fix; the unit test in totem's transitions.rs holds the bug)"),
    (6056, None, "justified exclusion (7 nodes, pauses): n37412, stopped 256 ms, fired its consensus timeout on resuming before reading the joins queued meanwhile and failed n4230, which sent joins every 30 ms; three others adopted the verdict (fixed as 3541) (found at 9633cea; main's larger max_messages draws changed the seed's run since, and it passed here before the fix — the failure reproduces at 9633cea and passes there with the fix; the unit test in totem's transitions.rs holds the bug)"),
    (11934, None, "justified exclusion (5 nodes, 11 pauses): n55697, resuming from a 1 s stop, read a queued join in which n12389 had failed it for that stop and failed n12389 back (then n1206); the group adopted it and n12389 was left out (fixed: a verdict on us read just after a stop is not returned) (found at 9633cea; main's larger max_messages draws changed the seed's run since, and it passed here before the fix — the failure reproduces at 9633cea and passes there with the fix; the unit test in totem's transitions.rs holds the bug)"),
    (0, Some(64), "simulator bug at 64 nodes: the scaled token's join interval made fail_silent_after (200 ms) invalid and the scenario panicked"),
    (70000158, Some(32), "justified exclusion at 32 nodes, 2 % loss, no fault before it: the token resend wait was twice the median rotation, and rotations that lost a hop elsewhere carry that wait, so the estimate fed on itself up to the configured timer (0.2-0.4 s per lost hop); a rotation outlasted the token timeout, and in the GATHER that followed a node whose three joins were lost or delayed was failed for silence and ring-mates adopted it (fixed: the resend wait is twice the median hop, a rotation divided by the ring's size)"),
    (111, Some(64), "liveness at 64 nodes (pauses, 2 % loss, fail_silent_after 0): 62 nodes sat in RECOVERY for 138 s after healing; open until it passed at main 86466d8 (root cause not isolated: the run changed with earlier protocol changes)"),
    (1447, None, "justified exclusion (7 nodes, pauses): n5, resuming from a 1.2 s stop, read a fresh join in which n7 had failed it for that stop (50 ms after resuming, past the join interval of the queued-join rule) and failed n7 back; its ring-mates adopted that and n7 was left alone (fixed: no verdict on us is returned within a consensus timeout of our stop; found after the resend change above altered the run)"),
    (92000111, Some(64), "liveness at 64 nodes (2 pauses, 5 % loss): 58 nodes sat in RECOVERY for 128 s after healing with retrans_flg set: every member re-sent the old-ring messages above the highest aru it held, the duplicates filled the recovery window (seq 16095 past the sort queue's 16384 less window and max_messages) and nobody could send again; failed the same at main 86466d8 (fixed: a member does not re-send an old-ring message that another member already re-sent in this RECOVERY)"),
    (91000020, Some(32), "liveness at 32 nodes (lossy single links, partitions, a crash): 30 nodes stuck in GATHER 100 s after healing on a clean network (fixed: an outsider's verdict is not taken on a node that sent us a join not naming us failed within the silence floor, nor from a join naming an older ring than that node has named since; stale verdicts went round among groups that came out of COMMIT and RECOVERY at different times)"),
    (91000280, Some(32), "liveness at 32 nodes (11 crashes and restarts, Gilbert-Elliott bursts, IP fragments, torn ring-id writes): four groups from different rings stuck in GATHER 91 s after healing (fixed as 91000020)"),
    (91000482, Some(32), "liveness at 32 nodes (lossy single links, 2 crashes): three groups formed rings without each other for 72 s after healing, each taking the others' verdicts on nodes that were talking to it (fixed as 91000020)"),
    (91000560, Some(32), "liveness at 32 nodes (faults on entering COMMIT/RECOVERY): two restarted singletons took each other's verdict on a live member of the 30-node ring and the ring's verdicts on each other, and failed the ring back, for 67 s (fixed as 91000020)"),
    (91000068, Some(32), "justified exclusion at 32 nodes (4 pauses) with a first version of the 91000020 fix that refused outsiders' verdicts on any node that had once sent a join since the failed list was cleared: two paused nodes were failed by one group and never by the other, which was then failed whole (fixed: the refusal lasts the silence floor from that node's last such join)"),
    (401, None, "liveness (8 nodes) with the same first version of the fix: three groups cycled for 62 s, {2, 7} holding an older ring's verdict on five nodes that had formed a ring since (fixed: a verdict from a join naming an older ring than the node has named since is not taken)"),
    (91000543, Some(32), "liveness at 32 nodes, found re-sweeping 91000000..91000600 after the 91000020 fix (it passed before it): a singleton's consensus timeout failed a 6-node group that talked but disagreed 0.4 ms before that group installed its ring and cleared its verdicts, every cycle; the 31 others' commit token named the singleton and stopped there, for 100 s (fixed: nodes that talk but disagree get one more consensus timeout, once per failed list)"),
    (93012668, None, "justified exclusion (4 nodes, leaves, restarts), found by the 93000000..93100000 sweep at ea475b1: n1 left, restarted and formed a ring with n3 without n3 reading a join of it; n1 stayed in n3's departed list, was failed at n3's next round and left out (fixed: members of an installed ring leave the departed list)"),
    (93061081, None, "justified exclusion (8 nodes, leaves, restarts, partitions), found by the same sweep at ea475b1: n3 left at 10.9 s, restarted, and was left out of ring 1.59 by n1; passes once members of an installed ring leave the departed list (as 93012668; fails at ea475b1, passes at 6c4bc5f whose only change is that)"),
    (96100065, Some(32), "liveness at 32 nodes (one-way links, pauses, a leave, partitions): 3 groups stuck in GATHER 94 s in, found by the 96100000..96100100 sweep at d1072c4 (the same run without that commit's idle change); passes with the outsider-verdict and departed-list fixes of de9bb87..6c4bc5f"),
    (92000147, Some(64), "event budget at 64 nodes misreported (simulator bug): 150,978 messages delivered to 64 nodes each are 19.7 M multicast arrivals, against a budget of 20 M events that grew only with N; 0.68 M other events in 52 s, no storm (fixed: multicast arrivals have their own allowance, 4 per node per message submitted)"),
    (93045861, None, "justified exclusion (5 nodes, 10 pauses, no loss), found by the 93000000..93100000 sweep at ea475b1: n5's consensus timeout at 10.87 s failed n3, silent in COMMIT of ring 1.25 since 10.32 s (its commit token held up at paused n4), and n5 installed a ring of one: its one more consensus timeout for talking nodes had been spent at 9.73 s on n1, n2 and n4 (all three paused by then; n1 and n2 not heard since its previous timeout had found everyone agreeing and restarted the collection of joins), counted as talking because they had spoken earlier in the round (fixed: talking means heard since that restart; fails at 6c4bc5f, passes there with the fix; passes at aef7f85 without it, its course changed by d1072c4)"),
    (93005507, None, "justified exclusion misreported (checker bug), found by the 93000000..93020000 sweep at 67df64c: n12808, slowed to one datagram per 4.6 ms with a 512-datagram receive buffer, lagged far behind without dropping anything and was left out; a slowed node that falls behind (its buffer overflows or holds datagrams for PAUSE_EXCUSE of a token) may be"),
    (93017517, None, "same as 93005507 (n2 slowed to one datagram per 4.4 ms for 2 s, buffer 512)"),
    (93009459, None, "cpg_transitional misreported (checker bug), found by the same sweep: n4 failed to receive in ring 1.11 and showed its client's own leave, the group's first change in 1.11, in the transition to a ring of its own without n1's messages before it; it had moved together with n2 from 1.9 to 1.11 but not beyond (views produced in a transitional configuration are not compared)"),
    (96000096, None, "justified exclusion misreported (checker bug), found by the 96000000..96020000 sweep: n5, slowed to one datagram per 248 µs and reading its socket a second late, sent a join failing six live nodes; n1 and n4 took its word on some of them (corosync's rule for a ring-mate's failed list) and installed a ring without n2; a node that falls behind hears everyone late, as over cut links, so its backlog excuses exclusions like a cut does"),
    (1, Some(128), "packet or timer storm at 128 nodes (first run beyond 64): 128 singletons formed at once with send_join 0, every change answered by every node at once, 1.6 M events in 5 ms (fixed in the scenario: over 64 nodes send_join follows corosync.conf(5), 80 ms for 128 nodes)"),
    (94000116, Some(32), "justified exclusion at 32 nodes (1 pause, 0.1 % loss, 5 % of copies held back up to half a token), found by the 94000000..94000300 sweep at 67df64c, fails the same at main aef7f85: n8 stopped 2.03 s with the token at 2.09 s, so nobody had proof of anyone after ~2.09 s; at the token loss (3.52 s) every member's silence had passed the silence floor (token + 2 joins + send_join, 1.6 s) and only the round's two join intervals (200 ms) were left; n14's first two joins to n10 were held back by the network's reordering delay, so n10 failed n14 at 3.7204 s, 0.3 ms before its third join arrived; ring-mates adopted the verdict, n14 failed them back, and n2 installed ring 1.d without n14. The checker counts only loss of 5 % or more as a network excuse. Passes since af79f7e (session 9), whose changes to the commit token and idle resends changed its course; the race itself (joins held back by the network's reordering for longer than the round's two join intervals, in a ring stalled at a stopped member) is not fixed: fail_silent_after trades it for fast failover, and 0 removes it"),
    (98042225, None, "justified exclusion (8 nodes, 10 crashes and restarts), found by the 98040000..98060000 sweep at af79f7e: after healing, n1's consensus timer came a moment after the others'; they had failed n6, n1 read n6's new join and sent a commit token naming n6, which the others ignored; n1 sat in COMMIT for a token ignoring their joins (they named an older ring), came back announcing its old view, and its join with theirs waited up to send_join (44 ms): their consensus timeout failed it as disagreeing (fixed: joins ignored in a COMMIT or RECOVERY that fails are taken up on gathering again)"),
    (98700038, Some(64), "liveness at 64 nodes (8 partitions, 3 pauses, 47 lossy links up to 30 % that stay after healing), found by the 98700000..98700050 sweep at a69b6e6 (it passed at 1bf15d9 on another course: the fault schedule follows protocol phases): four groups of 26, 17, 12 and 9 nodes re-form their own rings every 6-9 s for 166 s after healing. Every group fails all the others: right after a group installs its ring and clears its failed list, the first joins it reads are the other groups' (naming older rings), each failing the rest; their verdicts on third groups are taken (those nodes have not vouched since our failed list was cleared: their own joins name some of our members failed), a ring-mate adopts them whole, and the round ends in a consensus timeout that fails everyone else again. corosync ignores outsiders' failed lists and cannot be poisoned this way, but two groups from different rings then never agree once one gave up on a node; fixed: no verdict is taken from a join that names a live member of our ring failed — we can never agree with its author this round)"),
];

/// Seeds that once failed with larger token visits than the default
/// (`sim --seed S --window M/W`), which the README's throughput figures use:
/// (seed, (max_messages, window_size), what went wrong).
pub const WINDOW_SEEDS: &[(u64, (u32, u32), &str)] = &[
    (921, (512, 1536), "justified exclusion misreported (checker bug, as 96000096): a slowed member's verdict on two live nodes spread to a ring-mate"),
    (99006225, (512, 1536), "liveness (6 nodes, 15 % loss, slowed nodes with small receive buffers), found by the 99000000..99100000 sweep at d0cc7dd: a slowed member fell ~14,000 messages behind on ring 1.9; RECOVERY on ring 1.d had to re-send them all, some twice, and the new ring reached its own limit (the sort queue less a window) at seq 14,847 with 5,482 still to go: nobody could send, and recovery never ended (fixed: a running ring stays within half the sort queue of its release point)"),
    (816, (256, 768), "justified exclusion (6 nodes, 4 pauses): n2 stopped 115 ms while gathering, entered COMMIT on resuming and the commit token stuck at a paused member; n6 failed n2 for silence 21 ms before its next join (730 ms after its last, over the floor of token + 2 joins + send_join) and n4 adopted the verdict (fixed: a member last heard forming a ring gets token + consensus)"),
];

/// Seeds that fail today, with the diagnosis sent to the protocol's authors. Run them
/// with `cargo test -p sim -- --ignored`; move each to [`SEEDS`] once it passes.
///
/// The 64-node sweep 92000000..92000200 at dcfc23e also failed 92000034, 92000072 and
/// 92000141 (liveness: not one ring 130 s after healing; 92000034 fails the same at
/// main 86466d8); with the fault choices added since (torn ring-id writes among them)
/// their runs changed and pass, so the bug they hit is still to be found again.
pub const OPEN: &[(u64, Option<usize>, &str)] = &[
    (99037441, None, "justified exclusion (8 nodes, 3 pauses, slowdowns, partitions), found by the 99000000..99050000 sweep with --window 512/1536 at 458dbe4; fails the same with the default 64/200 and at d0cc7dd: n7 and n8, left out of the COMMITs of rings 2.11 and 2.15 (n2-n6) after a partition, failed n1, n4 and n6 at their consensus timeout in ring 2.d's round at 8.763 s (n4 was silent in COMMIT 2.11 with the others, n6 paused). n2 kept their joins while it sat in COMMIT 2.15 (the rule of 98042225) and, when that commit token was lost at 9.684 s, took them up at once and adopted n7's verdict on n4 and n6, ring-mates of its last installed ring 1.9; 8.5 ms later n2, n3, n5, n7 and n8 installed 2.19 without n4, which had been silent only inside a COMMIT. Tried on 2026-12-06 (not kept): (a) held joins' verdicts on the nodes of the failed COMMIT not adopted: n2 then took the same verdict from n7's next join (ring_seq 0xd, a ring-mate of 1.9, adopted whole by corosync's rule) and 2.19 formed without n4 49 ms later; (b) no join naming a ring older than our latest COMMIT has its verdict on that COMMIT's members taken, ring-mates' included: n2-n6 then agree on failed [1] and n7, n8 keep [1, 4, 6] (a failed node stays failed until a ring forms), so at n7's consensus timeout (11.11 s) n7 and n8 fail the disagreeing n2, n3, n5 and install 7.19 without them: the exclusion moves to the other side. What is missing is a way for n7 and n8 to learn that their verdict on n4 and n6 came from a COMMIT's silence (for example a commit-silence excuse the committed nodes' joins could carry), or a checker decision that a consensus timeout among disagreeing live nodes is excused"),
];

#[cfg(test)]
mod tests {
    /// Runs each case (its options, how to replay it, and its diagnosis) and names those
    /// that fail.
    fn failures<'a>(cases: impl IntoIterator<Item = (crate::SimOptions, String, &'a str)>) -> Vec<String> {
        let mut failed = Vec::new();
        for (opts, replay, why) in cases {
            let r = crate::run(&opts);
            if !r.passed() {
                failed.push(format!("{replay} (was: {why}): {}", r.summary()));
            }
        }
        failed
    }

    fn seeds(list: &[(u64, Option<usize>, &'static str)]) -> Vec<(crate::SimOptions, String, &'static str)> {
        list.iter()
            .map(|&(seed, nodes, why)| {
                let opts = crate::SimOptions {
                    seed,
                    nodes,
                    ..Default::default()
                };
                (opts, format!("seed {seed}"), why)
            })
            .collect()
    }

    #[test]
    fn window_regression_seeds_pass() {
        let cases = super::WINDOW_SEEDS.iter().map(|&(seed, window, why)| {
            let opts = crate::SimOptions {
                seed,
                window: Some(window),
                ..Default::default()
            };
            (opts, format!("seed {seed} --window {}/{}", window.0, window.1), why)
        });
        let failed = failures(cases);
        assert!(failed.is_empty(), "{}", failed.join("\n"));
    }

    #[test]
    fn regression_seeds_pass() {
        let failed = failures(seeds(super::SEEDS));
        assert!(failed.is_empty(), "{}", failed.join("\n"));
    }

    #[test]
    #[ignore = "open protocol bugs; passes once they are fixed"]
    fn open_bugs_are_fixed() {
        let failed = failures(seeds(super::OPEN));
        assert!(failed.is_empty(), "{}", failed.join("\n"));
    }
}

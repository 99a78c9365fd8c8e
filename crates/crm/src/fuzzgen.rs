//! Generator of small random CIBs for differential testing against
//! Pacemaker's `crm_simulate`: a few nodes (some offline or failed),
//! primitives with location, colocation and ordering constraints, and
//! resource histories (running, stopped, failed) with correct op-digests.

use std::fmt::Write as _;

use cib::digest::operation_digest;

/// A small deterministic PRNG (xorshift64*), so cases are reproducible
/// from their seed without extra dependencies.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True with probability `pct`%.
    pub fn chance(&mut self, pct: usize) -> bool {
        self.below(100) < pct
    }
}

fn score(rng: &mut Rng) -> &'static str {
    const SCORES: &[&str] = &["INFINITY", "-INFINITY", "100", "50", "10", "-10", "200", "0"];
    SCORES[rng.below(SCORES.len())]
}

/// Generates one CIB; the same seed always gives the same text.
pub fn generate(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let n_nodes = 2 + rng.below(3);
    let n_rscs = 1 + rng.below(5);
    let stonith = rng.chance(50);
    let have_quorum = rng.chance(85);
    let stickiness = [0, 0, 100, 1][rng.below(4)];
    let mut x = String::new();
    let _ = writeln!(
        x,
        "<cib epoch=\"1\" num_updates=\"1\" admin_epoch=\"0\" validate-with=\"pacemaker-3.9\" have-quorum=\"{}\" dc-uuid=\"1\">",
        if have_quorum { 1 } else { 0 }
    );
    x.push_str("  <configuration>\n    <crm_config>\n      <cluster_property_set id=\"opts\">\n");
    let _ = writeln!(
        x,
        "        <nvpair id=\"opt-stonith\" name=\"stonith-enabled\" value=\"{stonith}\"/>"
    );
    let nqp = ["stop", "ignore", "freeze"][rng.below(3)];
    let _ = writeln!(
        x,
        "        <nvpair id=\"opt-nqp\" name=\"no-quorum-policy\" value=\"{nqp}\"/>"
    );
    x.push_str("      </cluster_property_set>\n    </crm_config>\n    <nodes>\n");
    for n in 1..=n_nodes {
        if rng.chance(15) {
            let _ = writeln!(
                x,
                "      <node id=\"{n}\" uname=\"node{n}\"><instance_attributes id=\"node{n}-ia\"><nvpair id=\"node{n}-standby\" name=\"standby\" value=\"on\"/></instance_attributes></node>"
            );
        } else {
            let _ = writeln!(x, "      <node id=\"{n}\" uname=\"node{n}\"/>");
        }
    }
    x.push_str("    </nodes>\n    <resources>\n");
    if stonith {
        x.push_str("      <primitive id=\"fence\" class=\"stonith\" type=\"fence_dummy\"/>\n");
    }
    for r in 1..=n_rscs {
        let _ = writeln!(
            x,
            "      <primitive id=\"rsc{r}\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\"/>"
        );
    }
    x.push_str("    </resources>\n    <constraints>\n");
    let mut cid = 0;
    for r in 1..=n_rscs {
        if rng.chance(50) {
            cid += 1;
            let _ = writeln!(
                x,
                "      <rsc_location id=\"loc{cid}\" rsc=\"rsc{r}\" node=\"node{}\" score=\"{}\"/>",
                1 + rng.below(n_nodes),
                score(&mut rng)
            );
        }
    }
    for _ in 0..rng.below(n_rscs + 1) {
        let a = 1 + rng.below(n_rscs);
        let b = 1 + rng.below(n_rscs);
        if a == b {
            continue;
        }
        cid += 1;
        if rng.chance(50) {
            let _ = writeln!(
                x,
                "      <rsc_colocation id=\"col{cid}\" rsc=\"rsc{a}\" with-rsc=\"rsc{b}\" score=\"{}\"/>",
                score(&mut rng)
            );
        } else {
            let kind = ["Mandatory", "Optional"][rng.below(2)];
            let _ = writeln!(
                x,
                "      <rsc_order id=\"ord{cid}\" first=\"rsc{a}\" then=\"rsc{b}\" kind=\"{kind}\"/>"
            );
        }
    }
    x.push_str("    </constraints>\n");
    if stickiness > 0 {
        let _ = writeln!(
            x,
            "    <rsc_defaults><meta_attributes id=\"rsc-defaults\"><nvpair id=\"stick\" name=\"resource-stickiness\" value=\"{stickiness}\"/></meta_attributes></rsc_defaults>"
        );
    }
    x.push_str("  </configuration>\n  <status>\n");
    let digest = operation_digest(&Default::default(), 0, 20_000);
    // Where each resource currently runs (at most one node).
    let running: Vec<Option<usize>> = (0..n_rscs)
        .map(|_| {
            if rng.chance(60) {
                Some(1 + rng.below(n_nodes))
            } else {
                None
            }
        })
        .collect();
    let mut call = 10;
    for n in 1..=n_nodes {
        let state = rng.below(10);
        let (in_ccm, crmd, join, expected) = match state {
            0 => ("false", "offline", "down", "down"),
            1 => ("false", "offline", "down", "member"),
            _ => ("true", "online", "member", "member"),
        };
        let _ = writeln!(
            x,
            "    <node_state id=\"{n}\" uname=\"node{n}\" in_ccm=\"{in_ccm}\" crmd=\"{crmd}\" join=\"{join}\" expected=\"{expected}\">"
        );
        let _ = writeln!(x, "      <lrm id=\"{n}\">\n        <lrm_resources>");
        for (i, on) in running.iter().enumerate() {
            let r = i + 1;
            let here = *on == Some(n);
            let failed = here && rng.chance(15);
            let _ = writeln!(
                x,
                "          <lrm_resource id=\"rsc{r}\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">"
            );
            call += 1;
            if here {
                let _ = writeln!(
                    x,
                    "            <lrm_rsc_op id=\"rsc{r}_last_0\" operation_key=\"rsc{r}_start_0\" operation=\"start\" transition-key=\"1:1:0:00000000-0000-0000-0000-000000000000\" call-id=\"{call}\" rc-code=\"0\" op-status=\"0\" interval=\"0\" op-digest=\"{digest}\"/>"
                );
                if failed {
                    call += 1;
                    let _ = writeln!(
                        x,
                        "            <lrm_rsc_op id=\"rsc{r}_last_failure_0\" operation_key=\"rsc{r}_monitor_10000\" operation=\"monitor\" transition-key=\"2:1:0:00000000-0000-0000-0000-000000000000\" call-id=\"{call}\" rc-code=\"1\" op-status=\"0\" interval=\"10000\"/>"
                    );
                }
            } else {
                let _ = writeln!(
                    x,
                    "            <lrm_rsc_op id=\"rsc{r}_last_0\" operation_key=\"rsc{r}_monitor_0\" operation=\"monitor\" transition-key=\"1:1:7:00000000-0000-0000-0000-000000000000\" call-id=\"{call}\" rc-code=\"7\" op-status=\"0\" interval=\"0\" op-digest=\"{digest}\"/>"
                );
            }
            x.push_str("          </lrm_resource>\n");
        }
        x.push_str("        </lrm_resources>\n      </lrm>\n    </node_state>\n");
    }
    x.push_str("  </status>\n</cib>\n");
    x
}

#[cfg(test)]
mod tests {
    use super::*;
    use cib::Cib;

    #[test]
    fn generated_cibs_parse_and_are_reproducible() {
        for seed in 0..200 {
            let text = generate(seed);
            assert_eq!(text, generate(seed));
            let cib = Cib::parse(&text).unwrap_or_else(|e| panic!("seed {seed}: {e}\n{text}"));
            let _ = crate::simulate::simulate(&cib, &scheduler::Options::for_cib(&cib, None, || 0));
        }
    }

    #[test]
    fn rng_is_spread() {
        let mut r = Rng::new(7);
        let mut seen = [false; 10];
        for _ in 0..200 {
            seen[r.below(10)] = true;
        }
        assert!(seen.iter().all(|&b| b));
    }
}

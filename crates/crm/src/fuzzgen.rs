//! Generator of small random CIBs for differential testing against
//! Pacemaker's `crm_simulate`: a few nodes (some offline, lost, in standby
//! or maintenance, some with capacities), primitives, groups, clones
//! (of primitives or groups, some with clone-max 0) and promotable clones
//! with promotion scores; location, colocation and ordering constraints
//! (with roles, and over resource sets); allow-migrate, on-fail,
//! migration-threshold, unmanaged and stopped resources; and histories
//! (stopped, started, promoted, failed monitors and starts with their fail
//! counts) with correct op-digests.

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

    /// `text` (an optional XML attribute) with probability `pct`% when `allowed`,
    /// else nothing; draws only when allowed.
    pub fn attr(&mut self, allowed: bool, pct: usize, text: &'static str) -> &'static str {
        if allowed && self.chance(pct) {
            text
        } else {
            ""
        }
    }
}

mod model;
mod render;

/// Generates one CIB; the same seed always gives the same text.
pub fn generate(seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let m = model::Model::draw(&mut rng);
    render::render(&m, &mut rng)
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

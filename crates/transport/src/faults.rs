//! A test-only fault hook: drops or delays a fraction of sent datagrams, deterministically
//! from a seed, so process-level tests can exercise loss without root or nftables.

use std::time::Duration;

/// Fractions are in parts per thousand.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Faults {
    pub drop_per_mille: u32,
    pub delay_per_mille: u32,
    pub delay: Duration,
    state: u64,
}

pub(crate) enum Fate {
    Send,
    Drop,
    Delay(Duration),
}

impl Faults {
    pub fn new(drop_per_mille: u32, delay_per_mille: u32, delay: Duration, seed: u64) -> Self {
        Faults {
            drop_per_mille,
            delay_per_mille,
            delay,
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        }
    }

    /// Parses `drop=N,delay=N,delay_ms=N,seed=N` (per-mille fractions), as the daemon reads
    /// it from its test environment variable.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let (mut drop, mut delay, mut delay_ms, mut seed) = (0u32, 0u32, 0u64, 1u64);
        for part in spec.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("expected key=value, found {part:?}"))?;
            let n: u64 = v.parse().map_err(|_| format!("{k}: {v:?} is not a number"))?;
            match k {
                "drop" => drop = n.min(1000) as u32,
                "delay" => delay = n.min(1000) as u32,
                "delay_ms" => delay_ms = n,
                "seed" => seed = n,
                _ => return Err(format!("unknown fault {k:?}")),
            }
        }
        Ok(Self::new(drop, delay, Duration::from_millis(delay_ms), seed))
    }

    fn next(&mut self) -> u64 {
        // xorshift64*: cheap and reproducible.
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub(crate) fn decide(&mut self) -> Fate {
        let roll = (self.next() % 1000) as u32;
        if roll < self.drop_per_mille {
            Fate::Drop
        } else if roll < self.drop_per_mille.saturating_add(self.delay_per_mille) {
            Fate::Delay(self.delay)
        } else {
            Fate::Send
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_fractions() {
        let mut f = Faults::parse("drop=250,seed=7").unwrap();
        let dropped = (0..10_000).filter(|_| matches!(f.decide(), Fate::Drop)).count();
        assert!((2000..3000).contains(&dropped), "{dropped}");
        assert!(Faults::parse("drop=x").is_err());
        assert!(Faults::parse("lose=1").is_err());
        let mut all = Faults::parse("delay=1000,delay_ms=5").unwrap();
        assert!(matches!(all.decide(), Fate::Delay(d) if d == Duration::from_millis(5)));
    }
}

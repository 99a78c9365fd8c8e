//! No duplicates: a node incarnation delivers each message at most once.

use super::Invariant;
use crate::history::{Entry, History, IncIdx};

#[derive(Default)]
pub struct NoDuplicates {
    /// `seen[who]` is a bitmap over gids.
    seen: Vec<Vec<u64>>,
}

impl Invariant for NoDuplicates {
    fn name(&self) -> &'static str {
        "no_duplicates"
    }

    fn observe(&mut self, h: &History, who: IncIdx, entry: &Entry) -> Result<(), String> {
        let Entry::Deliver(d) = entry else { return Ok(()) };
        let Some(gid) = d.gid else { return Ok(()) };
        if self.seen.len() <= who {
            self.seen.resize_with(who + 1, Vec::new);
        }
        let bits = &mut self.seen[who];
        let (word, bit) = (gid as usize / 64, 1u64 << (gid % 64));
        if bits.len() <= word {
            bits.resize(word + 1, 0);
        }
        if bits[word] & bit != 0 {
            return Err(format!(
                "{} delivered {} a second time at {}",
                super::name(h, who),
                h.messages[gid as usize].id,
                d.at
            ));
        }
        bits[word] |= bit;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{check_history, test_util::*};
    use crate::history::craft::*;

    #[test]
    fn catches_second_delivery() {
        let mut h = history(2);
        let a = submit(&mut h, 0);
        let b = submit(&mut h, 0);
        h.record(1, deliver(&h, a));
        h.record(1, deliver(&h, b));
        assert!(check_history(&h).is_ok());
        h.record(1, deliver(&h, b));
        let err = check_history(&h).unwrap_err();
        // FIFO also objects (b is not after b); whichever runs first, it must fail.
        assert!(["no_duplicates", "fifo"].contains(&err.invariant), "{err}");
        let mut c = super::NoDuplicates::default();
        use super::super::Invariant;
        let entries: Vec<_> = h.incs[1].log.clone();
        let results: Vec<_> = entries.iter().map(|e| c.observe(&h, 1, e)).collect();
        assert!(results[2].is_err());
    }
}

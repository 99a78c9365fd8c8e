//! FIFO per sender: a node delivers the messages of one sender incarnation in the order
//! that sender submitted them (gaps are allowed, e.g. when the sender failed; going
//! back is not).

use std::collections::HashMap;

use super::Invariant;
use crate::history::{Entry, History, IncIdx};

#[derive(Default)]
pub struct Fifo {
    /// (receiver, sender incarnation) → last delivered counter. Lookup only.
    last: HashMap<(IncIdx, IncIdx), u32>,
}

impl Invariant for Fifo {
    fn name(&self) -> &'static str {
        "fifo"
    }

    fn observe(&mut self, h: &History, who: IncIdx, entry: &Entry) -> Result<(), String> {
        let Entry::Deliver(d) = entry else { return Ok(()) };
        let Some(gid) = d.gid else { return Ok(()) };
        let m = h.messages[gid as usize];
        if let Some(prev) = self.last.insert((who, m.by), m.id.counter) {
            if prev >= m.id.counter {
                return Err(format!(
                    "{} delivered {} at {} after #{} of the same sender",
                    super::name(h, who),
                    m.id,
                    d.at,
                    prev
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{check_history, test_util::*};
    use crate::history::craft::*;

    #[test]
    fn catches_reordered_sender() {
        let mut h = history(2);
        let a = submit(&mut h, 0);
        let b = submit(&mut h, 0);
        let c = submit(&mut h, 0);
        h.record(1, deliver(&h, a));
        h.record(1, deliver(&h, c));
        assert!(check_history(&h).is_ok(), "gaps are allowed");
        h.record(1, deliver(&h, b));
        assert_eq!(check_history(&h).unwrap_err().invariant, "fifo");
    }
}

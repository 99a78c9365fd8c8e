//! No creation: every delivered message was submitted by some node, arrives whole and
//! unaltered (same length, same bytes), and is attributed to the node that submitted it.

use super::Invariant;
use crate::history::{Entry, History, IncIdx};

pub struct NoCreation;

impl Invariant for NoCreation {
    fn name(&self) -> &'static str {
        "no_creation"
    }

    fn observe(&mut self, h: &History, who: IncIdx, entry: &Entry) -> Result<(), String> {
        let Entry::Deliver(d) = entry else { return Ok(()) };
        let me = super::name(h, who);
        let (Some(id), Some(gid)) = (d.id, d.gid) else {
            return Err(format!(
                "{me} delivered {} bytes from n{} at {} that match no submitted message (id {:?})",
                d.len, d.sender, d.at, d.id
            ));
        };
        let m = h.messages[gid as usize];
        if m.id != id {
            return Err(format!("{me}: delivery of {id} resolved to {} (history bug)", m.id));
        }
        if d.sender != id.node {
            return Err(format!("{me} delivered {id} at {} as sent by n{}", d.at, d.sender));
        }
        if d.len != m.len || !d.intact {
            return Err(format!(
                "{me} delivered {id} at {} altered: {} bytes (submitted {}), content intact: {}",
                d.at, d.len, m.len, d.intact
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{check_history, test_util::*};
    use crate::history::{craft::*, Delivery, Entry};
    use totem::Instant;

    #[test]
    fn catches_unknown_altered_and_misattributed() {
        let mut h = history(2);
        let g = submit(&mut h, 0);
        h.record(1, deliver(&h, g));
        assert!(check_history(&h).is_ok());

        let mut bad = h.clone();
        let Entry::Deliver(mut d) = deliver(&h, g) else {
            unreachable!()
        };
        d.len -= 1;
        bad.record(1, Entry::Deliver(d));
        assert_eq!(check_history(&bad).unwrap_err().invariant, "no_creation");

        let mut bad = h.clone();
        let Entry::Deliver(mut d) = deliver(&h, g) else {
            unreachable!()
        };
        d.sender = 2;
        bad.record(0, Entry::Deliver(d));
        assert_eq!(check_history(&bad).unwrap_err().invariant, "no_creation");

        let mut bad = h.clone();
        let ghost = Delivery {
            at: Instant::ZERO,
            sender: 1,
            id: None,
            gid: None,
            len: 3,
            intact: true,
        };
        bad.record(0, Entry::Deliver(ghost));
        assert_eq!(check_history(&bad).unwrap_err().invariant, "no_creation");
    }
}

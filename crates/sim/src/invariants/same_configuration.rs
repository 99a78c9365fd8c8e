//! Sending-configuration delivery (EVS): all nodes that deliver a message deliver it in
//! the regular configuration it was sent in, or in a transitional configuration that
//! directly follows that regular configuration (where EVS puts the old ring's messages
//! a node could not deliver in agreed order). So the regular configuration current at
//! each delivery is the same everywhere.

use std::collections::HashMap;

use totem::{ConfigurationKind, RingId};

use super::Invariant;
use crate::history::{Entry, Gid, History, IncIdx};

/// The configuration a delivery is attributed to: (regular ring, transitional ring after it).
type View = (Option<RingId>, Option<RingId>);

#[derive(Default)]
pub struct SameConfiguration {
    current: Vec<View>,
    /// Message → the view of its first delivery and who made it. Lookup only.
    first: HashMap<Gid, (View, IncIdx)>,
}

fn show(v: View) -> String {
    match v {
        (r, None) => format!("regular {}", r.map_or("(none)".into(), |r| r.to_string())),
        (r, Some(t)) => format!(
            "transitional {t} after regular {}",
            r.map_or("(none)".into(), |r| r.to_string())
        ),
    }
}

impl Invariant for SameConfiguration {
    fn name(&self) -> &'static str {
        "same_configuration"
    }

    fn observe(&mut self, h: &History, who: IncIdx, entry: &Entry) -> Result<(), String> {
        if self.current.len() <= who {
            self.current.resize(who + 1, (None, None));
        }
        match entry {
            Entry::Config { change, .. } => {
                let view = &mut self.current[who];
                match change.kind {
                    ConfigurationKind::Regular => *view = (Some(change.ring_id), None),
                    ConfigurationKind::Transitional => view.1 = Some(change.ring_id),
                }
            }
            Entry::Deliver(d) => {
                let Some(gid) = d.gid else { return Ok(()) };
                let view = self.current[who];
                let (first, by) = *self.first.entry(gid).or_insert((view, who));
                if first.0 != view.0 {
                    return Err(format!(
                        "{} delivered {} at {} in {}, but {} delivered it in {}",
                        super::name(h, who),
                        h.messages[gid as usize].id,
                        d.at,
                        show(view),
                        super::name(h, by),
                        show(first)
                    ));
                }
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
    fn catches_delivery_in_different_configurations() {
        let mut h = history(2);
        let a = submit(&mut h, 1); // sent by n2
        for who in 0..2 {
            h.record(who, regular(ring(1, 4), &[1, 2], &[]));
        }
        h.record(0, deliver(&h, a));
        let mut ok = h.clone();
        ok.record(1, deliver(&ok, a));
        assert!(check_history(&ok).is_ok());
        // n2 could deliver it only after its transitional configuration: allowed.
        let mut late = h.clone();
        late.record(1, transitional(ring(2, 8), &[2], &[1]));
        late.record(1, deliver(&late, a));
        assert!(check_history(&late).is_ok());
        // n2 delivers it in a later regular configuration: not allowed.
        h.record(1, transitional(ring(2, 8), &[2], &[1]));
        h.record(1, regular(ring(2, 8), &[2], &[]));
        h.record(1, deliver(&h, a));
        assert_eq!(check_history(&h).unwrap_err().invariant, "same_configuration");
    }
}

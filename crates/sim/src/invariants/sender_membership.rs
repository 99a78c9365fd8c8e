//! Senders belong to the delivery configuration: a message is delivered only in a
//! configuration its sender is a member of — the regular configuration current at
//! delivery (the ring it was sent on) and, for deliveries after a transitional
//! configuration, that transitional configuration too.

use totem::{ConfigurationKind, NodeId};

use super::Invariant;
use crate::history::{Entry, History, IncIdx};

#[derive(Default, Clone)]
struct Current {
    regular: Option<Vec<NodeId>>,
    transitional: Option<Vec<NodeId>>,
}

#[derive(Default)]
pub struct SenderMembership {
    current: Vec<Current>,
}

impl Invariant for SenderMembership {
    fn name(&self) -> &'static str {
        "sender_membership"
    }

    fn observe(&mut self, h: &History, who: IncIdx, entry: &Entry) -> Result<(), String> {
        if self.current.len() <= who {
            self.current.resize(who + 1, Current::default());
        }
        let cur = &mut self.current[who];
        match entry {
            Entry::Config { change, .. } => match change.kind {
                ConfigurationKind::Regular => {
                    cur.regular = Some(change.members.clone());
                    cur.transitional = None;
                }
                ConfigurationKind::Transitional => cur.transitional = Some(change.members.clone()),
            },
            Entry::Deliver(d) => {
                let in_config = |members: &Option<Vec<NodeId>>| members.as_ref().is_none_or(|m| m.contains(&d.sender));
                if !in_config(&cur.regular) || !in_config(&cur.transitional) {
                    return Err(format!(
                        "{} delivered {} from n{} at {} in a configuration without n{} (regular {:?}, transitional {:?})",
                        super::name(h, who),
                        d.id.map_or("?".into(), |i| i.to_string()),
                        d.sender,
                        d.at,
                        d.sender,
                        cur.regular,
                        cur.transitional
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
    fn catches_delivery_from_outside_the_configuration() {
        let mut h = history(3);
        let a = submit(&mut h, 2);
        h.record(0, regular(ring(1, 4), &[1, 2, 3], &[]));
        h.record(0, transitional(ring(1, 8), &[1, 2], &[3]));
        let mut bad = h.clone();
        bad.record(0, deliver(&bad, a));
        assert_eq!(check_history(&bad).unwrap_err().invariant, "sender_membership");
        let mut ok = history(3);
        let a = submit(&mut ok, 2);
        ok.record(0, regular(ring(1, 4), &[1, 2, 3], &[]));
        ok.record(0, deliver(&ok, a));
        assert!(check_history(&ok).is_ok());
    }
}

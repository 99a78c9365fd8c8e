//! Self-delivery (checked after the liveness phase, not during faults): a node
//! incarnation that is still alive has delivered every message it submitted.

use crate::history::History;

/// Fails with the first alive incarnation that has not delivered one of its own messages.
pub fn check(h: &History) -> Result<(), String> {
    let mut seen = vec![false; h.messages.len()];
    for (who, inc) in h.incs.iter().enumerate() {
        if !inc.alive() || inc.submitted.is_empty() {
            continue;
        }
        for g in inc.delivered() {
            seen[g as usize] = true;
        }
        let missing: Vec<_> = inc.submitted.iter().filter(|g| !seen[**g as usize]).collect();
        if let Some(first) = missing.first() {
            return Err(format!(
                "{} is alive but has not delivered {} of its {} messages, first {} (submitted at {})",
                super::name(h, who),
                missing.len(),
                inc.submitted.len(),
                h.messages[**first as usize].id,
                h.messages[**first as usize].at
            ));
        }
        for g in inc.delivered() {
            seen[g as usize] = false;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::test_util::*;
    use super::check;
    use crate::history::{craft::*, End};
    use totem::Instant;

    #[test]
    fn catches_undelivered_own_message_of_live_node() {
        let mut h = history(2);
        let a = submit(&mut h, 0);
        let b = submit(&mut h, 1);
        h.record(0, deliver(&h, a));
        assert!(check(&h).is_err(), "n2 has not delivered b");
        h.end(1, Instant::ZERO, End::Crashed);
        assert!(check(&h).is_ok(), "crashed incarnations owe nothing");
        h.record(1, deliver(&h, b));
        assert!(check(&h).is_ok());
    }
}

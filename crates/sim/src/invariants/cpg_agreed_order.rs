//! CPG agreed order per group: any two client sessions of a group deliver the messages
//! they both delivered in the same relative order (checked pairwise over whole logs).

use std::collections::HashMap;

use super::Invariant;
use crate::cpg_history::{CpgHistory, CpgMsg};
use crate::history::History;

pub struct CpgAgreedOrder;

/// The first pair of sessions of one group that disagree, if any.
pub fn check(h: &CpgHistory) -> Result<(), String> {
    for g in 0..h.groups.len() {
        let sessions: Vec<usize> = h.in_group(g).collect();
        let orders: Vec<Vec<CpgMsg>> = sessions.iter().map(|s| h.sessions[*s].delivered().collect()).collect();
        let positions: Vec<HashMap<CpgMsg, usize>> = orders
            .iter()
            .map(|o| o.iter().enumerate().map(|(p, m)| (*m, p)).collect())
            .collect();
        for (a, order_a) in orders.iter().enumerate() {
            for (b, pos_b) in positions.iter().enumerate().skip(a + 1) {
                // Walk a's order; the common messages must appear at rising positions in b.
                let mut last: Option<(CpgMsg, usize)> = None;
                for m in order_a {
                    let Some(&p) = pos_b.get(m) else { continue };
                    if let Some((prev, q)) = last {
                        if q > p {
                            return Err(format!(
                                "{} delivered {prev} before {m}, but {} delivered them the other way round",
                                h.name(sessions[a]),
                                h.name(sessions[b])
                            ));
                        }
                    }
                    last = Some((*m, p));
                }
            }
        }
    }
    Ok(())
}

impl Invariant for CpgAgreedOrder {
    fn name(&self) -> &'static str {
        "cpg_agreed_order"
    }

    fn finish(&mut self, h: &History) -> Result<(), String> {
        check(&h.cpg)
    }
}

#[cfg(test)]
mod tests {
    use services::RingPhase::Synced;

    use crate::cpg_history::craft::*;

    #[test]
    fn catches_swapped_pair() {
        let mut h = history(1);
        let (a, b) = (session(&mut h, (1, 10), 0), session(&mut h, (2, 20), 0));
        for s in [a, b] {
            deliver(&mut h, s, (1, 10), 0, Synced);
        }
        deliver(&mut h, a, (2, 20), 0, Synced);
        deliver(&mut h, a, (1, 10), 1, Synced);
        deliver(&mut h, b, (1, 10), 1, Synced); // a gap is fine
        assert!(super::check(&h).is_ok());
        deliver(&mut h, b, (2, 20), 0, Synced); // after (1,10)#1 at b, before it at a
        let err = super::check(&h).unwrap_err();
        assert!(err.contains("other way round"), "{err}");
    }
}

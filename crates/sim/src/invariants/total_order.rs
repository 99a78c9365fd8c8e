//! Total order: any two node incarnations deliver the messages they both delivered in
//! the same relative order (checked pairwise over whole logs).

use super::Invariant;
use crate::history::{Gid, History};

pub struct TotalOrder;

const NONE: u32 = u32::MAX;

impl Invariant for TotalOrder {
    fn name(&self) -> &'static str {
        "total_order"
    }

    fn finish(&mut self, h: &History) -> Result<(), String> {
        let n = h.messages.len();
        let orders: Vec<Vec<Gid>> = h.incs.iter().map(|i| i.delivered().collect()).collect();
        let positions: Vec<Vec<u32>> = orders
            .iter()
            .map(|order| {
                let mut pos = vec![NONE; n];
                for (p, g) in order.iter().enumerate() {
                    pos[*g as usize] = p as u32;
                }
                pos
            })
            .collect();
        for (a, order_a) in orders.iter().enumerate() {
            for (b, pos_b) in positions.iter().enumerate().skip(a + 1) {
                // Walk a's order; the common messages must appear at rising positions in b.
                let mut last: Option<Gid> = None;
                for &g in order_a {
                    let p = pos_b[g as usize];
                    if p == NONE {
                        continue;
                    }
                    if let Some(prev) = last {
                        if pos_b[prev as usize] > p {
                            return Err(format!(
                                "{} delivered {} before {}, but {} delivered them the other way round",
                                super::name(h, a),
                                h.messages[prev as usize].id,
                                h.messages[g as usize].id,
                                super::name(h, b)
                            ));
                        }
                    }
                    last = Some(g);
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
    fn catches_swapped_pair() {
        let mut h = history(3);
        let a = submit(&mut h, 0);
        let b = submit(&mut h, 1);
        let c = submit(&mut h, 2);
        for g in [a, b, c] {
            h.record(0, deliver(&h, g));
        }
        h.record(1, deliver(&h, a));
        h.record(1, deliver(&h, c)); // gap is fine
        h.record(2, deliver(&h, c));
        assert!(check_history(&h).is_ok());
        h.record(2, deliver(&h, b)); // c before b at n3, b before c at n1
        let err = check_history(&h).unwrap_err();
        assert_eq!(err.invariant, "total_order", "{err}");
    }
}

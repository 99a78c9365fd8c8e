//! CPG: a client delivers a message only while its sender is in the client's current
//! view. So no message of a process is delivered before that process's join reached the
//! receiver (nor after its leave), and nothing is delivered before the receiver's own
//! first view.

use super::Invariant;
use crate::cpg_history::{CpgEntry, CpgHistory};
use crate::history::History;

pub struct CpgSenderInView;

pub fn check(h: &CpgHistory) -> Result<(), String> {
    for (s, sess) in h.sessions.iter().enumerate() {
        let mut members: Option<&[(u32, u32)]> = None;
        for e in &sess.log {
            match e {
                CpgEntry::View(v) => members = Some(&v.members),
                CpgEntry::Deliver { msg, .. } => match members {
                    None => return Err(format!("{} delivered {msg} before its first view", h.name(s))),
                    Some(m) if !m.contains(&msg.from) => {
                        return Err(format!(
                            "{} delivered {msg} while its sender was not in its view {m:?}",
                            h.name(s)
                        ))
                    }
                    Some(_) => {}
                },
            }
        }
    }
    Ok(())
}

impl Invariant for CpgSenderInView {
    fn name(&self) -> &'static str {
        "cpg_sender_in_view"
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
    fn catches_delivery_before_join() {
        let mut h = history(1);
        let (p, q) = ((1, 10), (2, 20));
        let a = session(&mut h, p, 0);
        view(&mut h, a, 4, 1, &[p]);
        deliver(&mut h, a, p, 0, Synced);
        assert!(super::check(&h).is_ok());
        deliver(&mut h, a, q, 0, Synced); // q's join not in a's view yet
        view(&mut h, a, 4, 2, &[p, q]);
        let err = super::check(&h).unwrap_err();
        assert!(err.contains("not in its view"), "{err}");
    }
}

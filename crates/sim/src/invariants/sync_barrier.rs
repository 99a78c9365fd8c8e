//! Synchronisation barrier: no service traffic of a ring reaches a client before
//! synchronisation completed on that ring. A CPG delivery, or a configuration change
//! caused by an agreed PROCJOIN (reason JOIN) or PROCLEAVE (reason LEAVE), must never
//! be produced while the node's services are synchronising a new regular configuration
//! ([`services::RingPhase::Syncing`], stamped by `services::Node` at the point the
//! event was produced). Messages of the old ring delivered in its transitional
//! configuration, and the membership changes synchronisation itself makes (NODEDOWN,
//! NODEUP, PROCDOWN at activation), are allowed.

use services::RingPhase;

use super::Invariant;
use crate::cpg_history::{CpgEntry, CpgHistory};
use crate::history::History;

pub struct SyncBarrier;

pub fn check(h: &CpgHistory) -> Result<(), String> {
    for (s, sess) in h.sessions.iter().enumerate() {
        for e in &sess.log {
            match e {
                CpgEntry::Deliver {
                    msg, stamp: Some(st), ..
                } if st.phase == RingPhase::Syncing => {
                    return Err(format!(
                        "{} delivered {msg} while ring {} was still synchronising (agreed position {})",
                        h.name(s),
                        st.ring_id,
                        st.agreed
                    ));
                }
                CpgEntry::View(v) if v.from_exec_message() => {
                    if let Some(st) = v.stamp.filter(|st| st.phase == RingPhase::Syncing) {
                        return Err(format!(
                            "{} got a join/leave of {:?}{:?} while ring {} was still synchronising (agreed position {})",
                            h.name(s),
                            v.joined,
                            v.left,
                            st.ring_id,
                            st.agreed
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(())
}

impl Invariant for SyncBarrier {
    fn name(&self) -> &'static str {
        "sync_barrier"
    }

    fn finish(&mut self, h: &History) -> Result<(), String> {
        check(&h.cpg)
    }
}

#[cfg(test)]
mod tests {
    use services::RingPhase::{Synced, Syncing, Transitional};

    use crate::cpg_history::craft::*;

    #[test]
    fn catches_delivery_during_sync() {
        let mut h = history(1);
        let p = (1, 10);
        let a = session(&mut h, p, 0);
        view(&mut h, a, 4, 1, &[p]);
        deliver(&mut h, a, p, 0, Synced);
        deliver(&mut h, a, p, 1, Transitional);
        assert!(super::check(&h).is_ok());
        deliver(&mut h, a, p, 2, Syncing);
        let err = super::check(&h).unwrap_err();
        assert!(err.contains("still synchronising"), "{err}");
    }
}

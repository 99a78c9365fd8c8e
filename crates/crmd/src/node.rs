//! [`CrmNode`]: one CRM process — membership, DC choice and attributes behind one
//! sans-IO interface.
//!
//! The host joins the CPG group [`crate::messages::GROUP`] and then, in any order the
//! events come, calls [`CrmNode::on_confchg`] for each configuration change of the
//! group, [`CrmNode::on_deliver`] for each message delivered to it (its own included),
//! [`CrmNode::on_quorum`] when votequorum's verdict changes and [`CrmNode::on_timer`]
//! once [`CrmNode::next_deadline`] has passed. After each call it drains
//! [`CrmNode::poll_output`]: messages to multicast to the group (agreed), and writes
//! for the CIB manager. `now` is an input everywhere; nothing here reads a clock.

use std::collections::VecDeque;

use thiserror::Error;
use tracing::{info, warn};

use crate::attrd::{Attrd, CibRequest, RequestError};
use crate::ids::ProcessId;
use crate::membership::{dc_candidate, Confchg, ConfchgError, Membership, NoQuorumPolicy};
use crate::messages::{AttrChange, Body, DcAnnounce, DecodeError, EncodeError, Envelope};
use totem::Instant;

/// Most multicasts waiting for the host; client requests are refused beyond it. One
/// input adds at most two internal messages, so the queue stays within
/// `OUTBOX_MAX + 2` as long as the host drains it after every input.
pub const OUTBOX_MAX: usize = 256;

/// What the host must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    /// Multicast this message to the group (agreed order).
    Multicast(Vec<u8>),
    /// Ask the CIB manager for this status write.
    Cib(CibRequest),
}

/// Why a delivery was not applied.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DeliverError {
    #[error("undecodable message from {from}: {error}")]
    Decode { from: ProcessId, error: DecodeError },
    #[error("message delivered from {cpg} claims to come from {envelope}")]
    SenderMismatch { cpg: ProcessId, envelope: ProcessId },
    #[error("message from {0}, which is not a member")]
    NotMember(ProcessId),
}

/// Why a client request was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UpdateError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error("too many messages waiting to be sent ({OUTBOX_MAX})")]
    Busy,
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// Counters, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeStats {
    pub refused_deliveries: u64,
    pub refused_confchgs: u64,
    /// DC announcements that did not match this process's own choice (a bug if ever
    /// non-zero within one protocol version).
    pub dc_disagreements: u64,
}

/// One CRM process.
#[derive(Debug, Clone)]
pub struct CrmNode {
    me: ProcessId,
    membership: Membership,
    attrd: Attrd,
    dc: Option<ProcessId>,
    outbox: VecDeque<Output>,
    stats: NodeStats,
}

impl CrmNode {
    pub fn new(me: ProcessId, policy: NoQuorumPolicy) -> CrmNode {
        CrmNode {
            me,
            membership: Membership::new(me, policy),
            attrd: Attrd::new(me),
            dc: None,
            outbox: VecDeque::new(),
            stats: NodeStats::default(),
        }
    }

    pub fn me(&self) -> ProcessId {
        self.me
    }

    pub fn membership(&self) -> &Membership {
        &self.membership
    }

    pub fn attrd(&self) -> &Attrd {
        &self.attrd
    }

    pub fn dc(&self) -> Option<ProcessId> {
        self.dc
    }

    pub fn stats(&self) -> NodeStats {
        self.stats
    }

    /// A configuration change of the CRM group.
    pub fn on_confchg(&mut self, _now: Instant, c: &Confchg) -> Result<(), ConfchgError> {
        let change = self.membership.on_confchg(c).inspect_err(|e| {
            warn!(me = %self.me, error = %e, "configuration change refused");
            self.stats.refused_confchgs += 1;
        })?;
        // The writer first, so that erasing departed nodes falls to the new DC.
        self.dc_update();
        let view = self.membership.members().to_vec();
        if let Some(sync) = self
            .attrd
            .on_confchg(&view, &change.departed_nodes, !change.joined.is_empty())
        {
            self.send(Body::AttrSync(sync));
        }
        Ok(())
    }

    /// votequorum's verdict for this node's partition.
    pub fn on_quorum(&mut self, _now: Instant, quorate: bool) {
        if quorate != self.membership.quorate() {
            info!(me = %self.me, quorate, "quorum");
        }
        self.membership.set_quorate(quorate);
        self.dc_update();
    }

    /// `no-quorum-policy` from the CIB.
    pub fn set_no_quorum_policy(&mut self, policy: NoQuorumPolicy) {
        self.membership.set_policy(policy);
        self.dc_update();
    }

    /// A message of the group, as CPG delivered it (`from` is CPG's sender).
    pub fn on_deliver(&mut self, now: Instant, from: ProcessId, data: &[u8]) -> Result<(), DeliverError> {
        let result = self.deliver(now, from, data);
        if let Err(e) = &result {
            warn!(me = %self.me, error = %e, "delivery refused");
            self.stats.refused_deliveries += 1;
        }
        result
    }

    fn deliver(&mut self, now: Instant, from: ProcessId, data: &[u8]) -> Result<(), DeliverError> {
        if !self.membership.is_member() {
            return Ok(());
        }
        let env = Envelope::decode(data).map_err(|error| DeliverError::Decode { from, error })?;
        if env.sender != from {
            return Err(DeliverError::SenderMismatch {
                cpg: from,
                envelope: env.sender,
            });
        }
        if self.membership.members().binary_search(&from).is_err() {
            return Err(DeliverError::NotMember(from));
        }
        match &env.body {
            Body::AttrUpdate(u) => self.attrd.on_update(now, u),
            Body::AttrSync(s) => self.attrd.on_sync(now, from, s),
            Body::DcAnnounce(a) => {
                if a.view == self.membership.members() && dc_candidate(&a.view) != Some(from) {
                    warn!(me = %self.me, announced = %from, ours = ?dc_candidate(&a.view), "DC announcement disagrees");
                    self.stats.dc_disagreements += 1;
                }
            }
            // The CIB manager's messages; the host hands them to its `CibManager`.
            Body::CibDiff(_) | Body::CibVersion(_) | Body::CibSync(_) => {}
        }
        Ok(())
    }

    /// A client's attribute changes (`attrd_updater`, `crm_attribute -l reboot`, fail
    /// counts from the controller): multicast now, applied when delivered.
    pub fn update_attributes(&mut self, changes: Vec<AttrChange>) -> Result<(), UpdateError> {
        if self.outbox.len() >= OUTBOX_MAX {
            return Err(UpdateError::Busy);
        }
        let update = self.attrd.request(changes)?;
        let bytes = Envelope::new(self.me, Body::AttrUpdate(update)).encode()?;
        self.outbox.push_back(Output::Multicast(bytes));
        Ok(())
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.attrd.next_deadline()
    }

    pub fn on_timer(&mut self, now: Instant) {
        self.attrd.on_timer(now);
    }

    /// The next thing to do; CIB writes are batched over everything since the last
    /// poll that returned `None`.
    pub fn poll_output(&mut self) -> Option<Output> {
        if self.outbox.is_empty() {
            self.outbox
                .extend(self.attrd.take_writes().into_iter().map(Output::Cib));
        }
        self.outbox.pop_front()
    }

    fn dc_update(&mut self) {
        let dc = self.membership.dc();
        if dc == self.dc {
            return;
        }
        info!(me = %self.me, ?dc, quorate = self.membership.quorate(), "DC");
        self.dc = dc;
        self.attrd.set_writer(dc == Some(self.me));
        if dc == Some(self.me) {
            let view = self.membership.members().to_vec();
            self.send(Body::DcAnnounce(DcAnnounce {
                view,
                quorate: self.membership.quorate(),
            }));
        }
    }

    fn send(&mut self, body: Body) {
        match Envelope::new(self.me, body).encode() {
            Ok(bytes) => self.outbox.push_back(Output::Multicast(bytes)),
            // Internal messages are within the bounds by construction (the table and
            // the membership are bounded like the messages); a failure is a bug.
            Err(e) => warn!(me = %self.me, error = %e, "internal message not encodable"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{AttrName, AttrValue, NodeId};
    use crate::messages::{Change, DecodeError};

    fn p(n: u32) -> ProcessId {
        ProcessId::new(n, 10 * n)
    }

    fn drain(node: &mut CrmNode) -> Vec<Output> {
        std::iter::from_fn(|| node.poll_output()).collect()
    }

    fn decoded(out: &[Output]) -> Vec<Body> {
        out.iter()
            .filter_map(|o| match o {
                Output::Multicast(b) => Some(Envelope::decode(b).unwrap().body),
                Output::Cib(_) => None,
            })
            .collect()
    }

    fn change(v: &str) -> AttrChange {
        AttrChange {
            node: NodeId(1),
            name: AttrName::new("a").unwrap(),
            change: Change::Set(AttrValue::new(v).unwrap()),
            dampen: None,
        }
    }

    #[test]
    fn dc_announces_itself_once_quorate() {
        let now = Instant::ZERO;
        let mut n = CrmNode::new(p(1), NoQuorumPolicy::Freeze);
        n.on_confchg(
            now,
            &Confchg {
                members: vec![p(1), p(2)],
                left: vec![],
                joined: vec![p(1)],
            },
        )
        .unwrap();
        let out = drain(&mut n);
        assert!(matches!(decoded(&out).as_slice(), [Body::AttrSync(_)]), "{out:?}");
        assert_eq!(n.dc(), None);
        n.on_quorum(now, true);
        assert_eq!(n.dc(), Some(p(1)));
        let out = drain(&mut n);
        assert_eq!(
            decoded(&out),
            vec![Body::DcAnnounce(DcAnnounce {
                view: vec![p(1), p(2)],
                quorate: true
            })]
        );
        n.on_quorum(now, true);
        assert!(drain(&mut n).is_empty(), "no second announcement");
        n.on_quorum(now, false);
        assert_eq!(n.dc(), None);
        assert!(!n.attrd().is_writer());
    }

    #[test]
    fn refused_deliveries() {
        let now = Instant::ZERO;
        let mut n = CrmNode::new(p(2), NoQuorumPolicy::Ignore);
        let msg = |from| {
            Envelope::new(
                from,
                Body::DcAnnounce(DcAnnounce {
                    view: vec![p(1), p(2)],
                    quorate: true,
                }),
            )
            .encode()
            .unwrap()
        };
        // Not a member yet: deliveries are ignored.
        assert_eq!(n.on_deliver(now, p(1), b"garbage"), Ok(()));
        n.on_confchg(
            now,
            &Confchg {
                members: vec![p(1), p(2)],
                left: vec![],
                joined: vec![p(2)],
            },
        )
        .unwrap();
        assert!(matches!(
            n.on_deliver(now, p(1), b"garbage"),
            Err(DeliverError::Decode {
                error: DecodeError::Truncated { .. } | DecodeError::BadMagic(_),
                ..
            })
        ));
        assert_eq!(
            n.on_deliver(now, p(1), &msg(p(3))),
            Err(DeliverError::SenderMismatch {
                cpg: p(1),
                envelope: p(3)
            })
        );
        assert_eq!(n.on_deliver(now, p(3), &msg(p(3))), Err(DeliverError::NotMember(p(3))));
        assert_eq!(n.stats().refused_deliveries, 3);
        assert_eq!(n.on_deliver(now, p(1), &msg(p(1))), Ok(()));
        assert_eq!(n.stats().dc_disagreements, 0);
        // p(2) claiming the DC role of a view whose lowest member is p(1): a disagreement.
        assert_eq!(n.on_deliver(now, p(2), &msg(p(2))), Ok(()));
        assert_eq!(n.stats().dc_disagreements, 1);
    }

    #[test]
    fn outbox_is_bounded() {
        let now = Instant::ZERO;
        let mut n = CrmNode::new(p(2), NoQuorumPolicy::Ignore);
        assert!(matches!(
            n.update_attributes(vec![change("x")]),
            Err(UpdateError::Request(RequestError::NotMember))
        ));
        n.on_confchg(
            now,
            &Confchg {
                members: vec![p(1), p(2)],
                left: vec![],
                joined: vec![p(2)],
            },
        )
        .unwrap();
        let mut accepted = 0;
        while n.update_attributes(vec![change("x")]).is_ok() {
            accepted += 1;
            assert!(accepted <= OUTBOX_MAX);
        }
        assert_eq!(n.update_attributes(vec![change("y")]), Err(UpdateError::Busy));
        let out = drain(&mut n);
        assert_eq!(out.len(), OUTBOX_MAX);
        assert!(n.update_attributes(vec![change("y")]).is_ok());
    }

    #[test]
    fn refused_confchg_is_counted() {
        let mut n = CrmNode::new(p(1), NoQuorumPolicy::Ignore);
        let bad = Confchg {
            members: vec![p(1)],
            left: vec![p(1)],
            joined: vec![],
        };
        assert!(n.on_confchg(Instant::ZERO, &bad).is_err());
        assert_eq!(n.stats().refused_confchgs, 1);
        assert!(!n.membership().is_member());
    }
}

//! corosync 3.1.7's service synchronisation (`exec/sync.c`), byte-compatible.
//!
//! On every regular configuration each node multicasts SERVICE_BUILD with the ids of
//! the services it runs; once every member's is in, the services are synchronised one
//! by one in id order: `sync_process` until done, then a BARRIER; when every member's
//! barrier is in, `sync_activate` runs and the next service starts. Messages carrying
//! another ring id are dropped. Services a peer runs and we do not get dummy entries
//! (an immediate barrier). When the last service is activated, synchronisation is
//! complete: the host acknowledges the transitional configuration to totem and lets
//! clients send again.

use totem::{NodeId, RingId};

use crate::error::WireError;
use crate::service::SyncProgress;
use crate::wire::{Header, Reader, Writer};

/// Group name of the sync protocol in the totempg envelope.
pub const GROUP: &[u8] = b"sync";
pub const MSG_BARRIER: i32 = 0;
pub const MSG_SERVICE_BUILD: i32 = 1;
/// `struct req_exec_barrier_message`.
pub const BARRIER_SIZE: usize = 32;
/// `struct req_exec_service_build_message`.
pub const SERVICE_BUILD_SIZE: usize = 552;
/// `SERVICES_COUNT_MAX` / the service list array.
const SERVICE_LIST_MAX: usize = 128;

/// Writes a `memb_ring_id` (`{u32 rep; u64 seq}`, packed, 12 bytes) at `at`.
pub fn put_ring_id(w: &mut Writer, at: usize, ring: RingId) {
    w.u32(at, ring.rep).u64(at + 4, ring.seq);
}

/// Reads a packed `memb_ring_id` at `at`.
pub fn get_ring_id(r: &Reader<'_>, at: usize) -> Result<RingId, WireError> {
    Ok(RingId {
        rep: r.u32(at)?,
        seq: r.u64(at + 4)?,
    })
}

/// A decoded sync message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncMessage {
    Barrier { ring: RingId },
    ServiceBuild { ring: RingId, services: Vec<i32> },
}

impl SyncMessage {
    pub fn encode(&self) -> Vec<u8> {
        match self {
            SyncMessage::Barrier { ring } => {
                let mut w = Writer::request(MSG_BARRIER, BARRIER_SIZE);
                put_ring_id(&mut w, 16, *ring);
                w.finish()
            }
            SyncMessage::ServiceBuild { ring, services } => {
                debug_assert!(services.len() <= SERVICE_LIST_MAX);
                let mut w = Writer::request(MSG_SERVICE_BUILD, SERVICE_BUILD_SIZE);
                put_ring_id(&mut w, 16, *ring);
                w.i32(32, services.len() as i32);
                for (i, s) in services.iter().enumerate() {
                    w.i32(40 + 4 * i, *s);
                }
                w.finish()
            }
        }
    }

    /// Decodes a message of the `sync` group. sync.c never byte-swaps, and neither
    /// do we: a peer of the other byte order is not supported by corosync either.
    pub fn decode(msg: &[u8]) -> Result<SyncMessage, WireError> {
        let h = Header::parse(msg, false)?;
        let r = Reader::new(msg);
        match h.id {
            MSG_BARRIER => {
                r.need(BARRIER_SIZE)?;
                Ok(SyncMessage::Barrier {
                    ring: get_ring_id(&r, 16)?,
                })
            }
            MSG_SERVICE_BUILD => {
                r.need(SERVICE_BUILD_SIZE)?;
                let n = r.i32(32)?;
                if !(0..=SERVICE_LIST_MAX as i32).contains(&n) {
                    return Err(WireError::Length(n as u64));
                }
                let services = (0..n as usize).map(|i| r.i32(40 + 4 * i)).collect::<Result<_, _>>()?;
                Ok(SyncMessage::ServiceBuild {
                    ring: get_ring_id(&r, 16)?,
                    services,
                })
            }
            other => Err(WireError::UnknownId(other)),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for every member's SERVICE_BUILD.
    ServiceListBuild,
    /// Running `sync_process` of the current service until it is done.
    Process,
    /// Our barrier is sent; waiting for everyone's.
    Barrier,
    /// Complete (or never started).
    Idle,
}

/// One service in the agreed list: ours (`local`) or a peer's we only wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncEntry {
    pub service: i32,
    pub local: bool,
}

/// What the node must do after feeding the sync engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncCommand {
    /// Multicast this sync message (group `sync`).
    Send(SyncMessage),
    /// Call `sync_init` of these local services (in id order).
    Init {
        services: Vec<i32>,
        trans: Vec<NodeId>,
        members: Vec<NodeId>,
        ring: RingId,
    },
    /// Call `sync_activate` of this local service.
    Activate(i32),
    /// Synchronisation is complete.
    Completed,
}

/// The sync protocol state.
#[derive(Debug, Clone)]
pub struct Sync {
    phase: Phase,
    ring: RingId,
    /// Members of the ring and whether their current message is in.
    processors: Vec<(NodeId, bool)>,
    members: Vec<NodeId>,
    trans: Vec<NodeId>,
    services: Vec<SyncEntry>,
    current: usize,
    /// corosync's `sync_in_process`: from a configuration change until completion.
    in_process: bool,
}

impl Default for Sync {
    fn default() -> Self {
        Sync {
            phase: Phase::Idle,
            ring: RingId::default(),
            processors: Vec::new(),
            members: Vec::new(),
            trans: Vec::new(),
            services: Vec::new(),
            current: 0,
            in_process: true,
        }
    }
}

impl Sync {
    /// True from a configuration change until synchronisation completes (and before
    /// the first ring): clients must wait.
    pub fn in_process(&self) -> bool {
        self.in_process
    }

    pub fn ring(&self) -> RingId {
        self.ring
    }

    /// The local service currently being processed (to call `sync_process` /
    /// `sync_abort` on), if any.
    pub fn current_local(&self) -> Option<i32> {
        match self.phase {
            Phase::Process | Phase::Barrier => self.services.get(self.current).filter(|e| e.local).map(|e| e.service),
            _ => None,
        }
    }

    /// True while the current service's `sync_process` must be called.
    pub fn wants_process(&self) -> bool {
        self.phase == Phase::Process
    }

    /// A configuration change began: returns the local service to abort, if one was
    /// being synchronised (corosync calls `sync_abort` on every confchg during sync).
    pub fn confchg_started(&mut self) -> Option<i32> {
        let was = self.in_process;
        self.in_process = true;
        if !was {
            return None;
        }
        let abort = if self.phase == Phase::Process {
            self.current_local()
        } else {
            None
        };
        // Old barriers and builds carry the old ring id and are dropped from now on.
        self.ring = RingId::default();
        self.phase = Phase::Idle;
        abort
    }

    /// The transitional configuration (`sync_save_transitional`).
    pub fn save_transitional(&mut self, members: &[NodeId]) {
        self.trans = members.to_vec();
    }

    /// The regular configuration (`sync_start`): `local` are the ids of the services
    /// this node runs that synchronise, sorted.
    pub fn start(&mut self, members: &[NodeId], ring: RingId, local: &[i32]) -> Vec<SyncCommand> {
        debug_assert!(local.windows(2).all(|w| w[0] < w[1]));
        self.ring = ring;
        self.phase = Phase::ServiceListBuild;
        self.processors = members.iter().map(|m| (*m, false)).collect();
        self.members = members.to_vec();
        self.current = 0;
        self.services = local
            .iter()
            .map(|s| SyncEntry {
                service: *s,
                local: true,
            })
            .collect();
        // The transitional list as sync.c passes it: old transitional ∩ new members.
        let trans: Vec<NodeId> = self.trans.iter().copied().filter(|t| members.contains(t)).collect();
        self.trans = trans.clone();
        vec![
            SyncCommand::Send(SyncMessage::ServiceBuild {
                ring,
                services: local.to_vec(),
            }),
            SyncCommand::Init {
                services: local.to_vec(),
                trans,
                members: members.to_vec(),
                ring,
            },
        ]
    }

    /// A message of the `sync` group in agreed order.
    pub fn deliver(&mut self, sender: NodeId, msg: &SyncMessage) -> Vec<SyncCommand> {
        match msg {
            SyncMessage::ServiceBuild { ring, services } => {
                if *ring != self.ring || self.phase == Phase::Idle {
                    tracing::debug!(sender, %ring, "service build for old ring - discarding");
                    return Vec::new();
                }
                for s in services {
                    if !self.services.iter().any(|e| e.service == *s) {
                        self.services.push(SyncEntry {
                            service: *s,
                            local: false,
                        });
                    }
                }
                self.services.sort_by_key(|e| e.service);
                if self.mark(sender) && self.phase == Phase::ServiceListBuild {
                    tracing::debug!("enter sync process");
                    return self.process_enter();
                }
                Vec::new()
            }
            SyncMessage::Barrier { ring } => {
                if *ring != self.ring || !matches!(self.phase, Phase::Process | Phase::Barrier) {
                    tracing::debug!(sender, %ring, "barrier for old ring - discarding");
                    return Vec::new();
                }
                if !self.mark(sender) {
                    return Vec::new();
                }
                let entry = self.services[self.current];
                let mut cmds = Vec::new();
                tracing::debug!(service = entry.service, "committing synchronization");
                if entry.local {
                    cmds.push(SyncCommand::Activate(entry.service));
                }
                self.current += 1;
                if self.current == self.services.len() {
                    cmds.push(self.complete());
                } else {
                    cmds.extend(self.process_enter());
                }
                cmds
            }
        }
    }

    /// The current service's `sync_process` returned `progress`.
    pub fn processed(&mut self, progress: SyncProgress) -> Vec<SyncCommand> {
        debug_assert_eq!(self.phase, Phase::Process);
        match progress {
            SyncProgress::Again => Vec::new(),
            SyncProgress::Done => {
                self.phase = Phase::Barrier;
                vec![SyncCommand::Send(SyncMessage::Barrier { ring: self.ring })]
            }
        }
    }

    /// Marks `sender`'s message in; true when every member's is.
    fn mark(&mut self, sender: NodeId) -> bool {
        for p in &mut self.processors {
            if p.0 == sender {
                p.1 = true;
            }
        }
        self.processors.iter().all(|p| p.1)
    }

    fn process_enter(&mut self) -> Vec<SyncCommand> {
        if self.services.is_empty() {
            return vec![self.complete()];
        }
        for p in &mut self.processors {
            p.1 = false;
        }
        self.phase = Phase::Process;
        if !self.services[self.current].local {
            // A service only a peer runs: nothing to process, barrier at once.
            return self.processed(SyncProgress::Done);
        }
        Vec::new()
    }

    fn complete(&mut self) -> SyncCommand {
        self.phase = Phase::Idle;
        self.in_process = false;
        tracing::info!(ring = %self.ring, "Completed service synchronization, ready to provide service.");
        SyncCommand::Completed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(seq: u64) -> RingId {
        RingId { rep: 1, seq }
    }

    #[test]
    fn messages_match_corosync_sizes_and_round_trip() {
        let b = SyncMessage::Barrier { ring: ring(8) };
        let e = b.encode();
        assert_eq!(e.len(), BARRIER_SIZE);
        assert_eq!(SyncMessage::decode(&e).unwrap(), b);
        let s = SyncMessage::ServiceBuild {
            ring: ring(8),
            services: vec![0, 2, 3, 5],
        };
        let e = s.encode();
        assert_eq!(e.len(), SERVICE_BUILD_SIZE);
        // ring id packed at 16: rep then seq (unaligned), entries at 32, list at 40.
        assert_eq!(&e[16..20], &1u32.to_ne_bytes());
        assert_eq!(&e[20..28], &8u64.to_ne_bytes());
        assert_eq!(&e[32..36], &4i32.to_ne_bytes());
        assert_eq!(&e[52..56], &5i32.to_ne_bytes());
        assert_eq!(SyncMessage::decode(&e).unwrap(), s);
    }

    #[test]
    fn hostile_messages_are_errors() {
        let mut e = SyncMessage::ServiceBuild {
            ring: ring(8),
            services: vec![],
        }
        .encode();
        e[32..36].copy_from_slice(&129i32.to_ne_bytes());
        assert!(SyncMessage::decode(&e).is_err());
        e[32..36].copy_from_slice(&(-1i32).to_ne_bytes());
        assert!(SyncMessage::decode(&e).is_err());
        assert!(SyncMessage::decode(&e[..100]).is_err());
        let mut b = SyncMessage::Barrier { ring: ring(8) }.encode();
        b[0] = 7;
        assert!(matches!(SyncMessage::decode(&b), Err(WireError::UnknownId(7))));
    }

    /// Two nodes, node 1 runs services 0 and 2, node 2 also runs 5: node 1 waits for
    /// 5's barrier without processing it, and completes after the last barrier.
    #[test]
    fn two_nodes_complete_with_a_foreign_service() {
        let r = ring(12);
        let mut s = Sync::default();
        assert!(s.in_process());
        s.save_transitional(&[1]);
        let cmds = s.start(&[1, 2], r, &[0, 2]);
        assert!(matches!(&cmds[1], SyncCommand::Init { services, trans, .. } if services == &[0, 2] && trans == &[1]));
        assert!(s
            .deliver(
                1,
                &SyncMessage::ServiceBuild {
                    ring: r,
                    services: vec![0, 2]
                }
            )
            .is_empty());
        assert!(s
            .deliver(
                2,
                &SyncMessage::ServiceBuild {
                    ring: r,
                    services: vec![0, 2, 5]
                }
            )
            .is_empty());
        assert_eq!(s.current_local(), Some(0));
        assert!(s.wants_process());
        let b = s.processed(SyncProgress::Done);
        assert_eq!(b, vec![SyncCommand::Send(SyncMessage::Barrier { ring: r })]);
        let barrier = SyncMessage::Barrier { ring: r };
        // A stale barrier changes nothing.
        assert!(s.deliver(2, &SyncMessage::Barrier { ring: ring(4) }).is_empty());
        assert!(s.deliver(1, &barrier).is_empty());
        assert_eq!(s.deliver(2, &barrier), vec![SyncCommand::Activate(0)]);
        s.processed(SyncProgress::Done);
        s.deliver(1, &barrier);
        // Service 2 activated, then service 5 (foreign) sends its barrier at once.
        assert_eq!(
            s.deliver(2, &barrier),
            vec![SyncCommand::Activate(2), SyncCommand::Send(barrier.clone())]
        );
        assert!(s.deliver(1, &barrier).is_empty());
        assert_eq!(s.deliver(2, &barrier), vec![SyncCommand::Completed]);
        assert!(!s.in_process());
    }

    #[test]
    fn a_new_configuration_aborts_the_current_service() {
        let r = ring(12);
        let mut s = Sync::default();
        s.start(&[1], r, &[0, 2]);
        s.deliver(
            1,
            &SyncMessage::ServiceBuild {
                ring: r,
                services: vec![0, 2],
            },
        );
        assert_eq!(s.confchg_started(), Some(0));
        // Messages of the aborted ring are dropped.
        assert!(s.deliver(1, &SyncMessage::Barrier { ring: r }).is_empty());
        assert!(s.in_process());
    }
}

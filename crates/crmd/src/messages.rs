//! The messages CRM processes exchange over their CPG group ([`GROUP`]).
//!
//! Every message is an [`Envelope`]: protocol version, the sending process, a kind and
//! the kind's body, in a small hand-written big-endian binary encoding:
//!
//! ```text
//! magic "FCRM" | version u8 | kind u8 | sender node u32 | sender pid u32 | body length u32 | body
//! ```
//!
//! Strings are a `u16` length and UTF-8 bytes, lists a `u32` count, options a `0`/`1`
//! tag. The decoder never panics and never allocates more than the input could hold:
//! it refuses input longer than [`MESSAGE_MAX`], unknown versions and kinds, lists
//! longer than their bound, invalid names and values and trailing bytes, each with
//! its own [`DecodeError`]. Kinds 4, 7 and 8 are the CIB manager's (a v2 patchset, a
//! member's CIB version at a sync round, a whole CIB); 5, 6, 9 and 10 the
//! controller's (an operation request, its result, a member's resource history at a
//! join, a cleanup). XML travels as text with a `u32` length, bounded by the message
//! size.

use std::time::Duration;

use thiserror::Error;

use crate::ids::{AttrName, AttrValue, NodeId, ProcessId, ValueError};
use crate::ops::AgentSpec;

/// The CPG group of the CRM processes.
pub const GROUP: &str = "ferrosync.crm";
/// The protocol version this crate speaks.
pub const VERSION: u8 = 1;
/// Largest encoded message, envelope included.
pub const MESSAGE_MAX: usize = 1 << 20;
/// Most changes one [`AttrUpdate`] carries.
pub const UPDATES_MAX: usize = 256;
/// Most entries one [`AttrSync`] carries (the attribute table's bound).
pub const SYNC_ENTRIES_MAX: usize = 1024;
/// Most processes a membership list carries (corosync's `PROCESSOR_COUNT_MAX` is 384).
pub const MEMBERS_MAX: usize = 1024;
/// Most parameters and meta attributes one operation request carries.
pub const OP_ATTRS_MAX: usize = 1024;
/// Longest dampening delay accepted (Pacemaker takes any interval; a day is plenty).
pub const DAMPEN_MAX: Duration = Duration::from_secs(24 * 3600);

const MAGIC: &[u8; 4] = b"FCRM";
const HEADER_LEN: usize = 4 + 1 + 1 + 4 + 4 + 4;

/// What a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Kind {
    AttrUpdate = 1,
    AttrSync = 2,
    DcAnnounce = 3,
    /// A CIB change as a v2 patchset (CIB manager).
    CibDiff = 4,
    /// An operation request from the DC to a node's controller.
    OpRequest = 5,
    /// An operation's result, from the node that ran it.
    OpResult = 6,
    /// A member's CIB version for a sync round.
    CibVersion = 7,
    /// A whole CIB, from the round's winner.
    CibSync = 8,
    /// A member's resource history, in answer to a DC announcement (the join).
    LrmState = 9,
    /// Forget a resource's history (`crm_resource --cleanup`).
    Cleanup = 10,
}

impl Kind {
    fn from_raw(v: u8) -> Result<Kind, DecodeError> {
        match v {
            1 => Ok(Kind::AttrUpdate),
            2 => Ok(Kind::AttrSync),
            3 => Ok(Kind::DcAnnounce),
            4 => Ok(Kind::CibDiff),
            5 => Ok(Kind::OpRequest),
            6 => Ok(Kind::OpResult),
            7 => Ok(Kind::CibVersion),
            8 => Ok(Kind::CibSync),
            9 => Ok(Kind::LrmState),
            10 => Ok(Kind::Cleanup),
            _ => Err(DecodeError::UnknownKind(v)),
        }
    }
}

/// A logical clock stamp ordering attribute values across partitions: the sender's
/// Lamport clock, then the sender, so that two stamps are never equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Stamp {
    pub clock: u64,
    pub origin: ProcessId,
}

/// What an update does to an attribute's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `attrd_updater -U VALUE`.
    Set(AttrValue),
    /// `attrd_updater -D`.
    Delete,
    /// Pacemaker's `value++` / `value+=N`: the current value read as a score plus `N`,
    /// clamped to ±INFINITY. Applied in agreed order by every member, so concurrent
    /// increments (fail counts from several nodes) are never lost.
    Add(i64),
}

/// One attribute change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrChange {
    pub node: NodeId,
    pub name: AttrName,
    pub change: Change,
    /// `attrd_updater -d`: a new dampening delay for this attribute, `None` to keep its
    /// current one.
    pub dampen: Option<Duration>,
}

/// Attribute changes from one process, applied by every member in agreed order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrUpdate {
    pub stamp: Stamp,
    pub changes: Vec<AttrChange>,
}

/// One row of the attribute table as a sync carries it (a deleted value is a
/// tombstone, so that a merge does not bring it back).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncEntry {
    pub node: NodeId,
    pub name: AttrName,
    pub value: Option<AttrValue>,
    pub dampen: Duration,
    pub stamp: Stamp,
}

/// A member's whole attribute table, sent after a configuration change that brought
/// members in, for the membership `view` it was sent in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrSync {
    pub view: Vec<ProcessId>,
    pub entries: Vec<SyncEntry>,
}

/// "I am the DC of this membership": sent by a process when it becomes DC, checked by
/// every member against its own choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DcAnnounce {
    pub view: Vec<ProcessId>,
    pub quorate: bool,
}

/// A CIB change: the sender's request `request` as a v2 patchset (`<diff format="2">`
/// text) against the version it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CibDiff {
    pub request: u64,
    pub patch: String,
}

/// A CIB version as the messages carry it (admin_epoch, epoch, num_updates).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct WireVersion(pub u64, pub u64, pub u64);

/// "My CIB is at this version, with this digest", for sync round `round` of `view`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CibVersionMsg {
    pub view: Vec<ProcessId>,
    pub round: u32,
    pub version: WireVersion,
    pub digest: String,
    /// The sender's copy has been part of the group's history (it took part in a
    /// finished round); `false` for a process that has just started from disk.
    pub established: bool,
    /// The length of the sender's CIB as XML text: a copy too large for a sync
    /// message cannot win.
    pub size: u32,
}

/// The round's winner's whole CIB (XML text), installed by every member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CibSync {
    pub view: Vec<ProcessId>,
    pub round: u32,
    pub cib: String,
}

/// A graph action and the transition it belongs to: what a result is matched
/// against (Pacemaker's transition key without the DC's uuid, which the sender is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ActionKey {
    pub transition: u32,
    pub action: u32,
    /// The OCF code the DC expects (7 for a probe of a resource thought stopped).
    pub target_rc: i32,
}

/// The DC asks `target`'s controller to run one graph action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpRequest {
    pub target: NodeId,
    pub key: ActionKey,
    /// The resource's name for its agent and history (`db`, or `db:1` in a unique clone).
    pub rsc: String,
    pub agent: AgentSpec,
    pub task: String,
    pub interval_ms: u64,
    pub timeout_ms: u64,
    /// Instance parameters and `CRM_meta_*` attributes, as the graph gives them.
    pub attributes: Vec<(String, String)>,
}

/// The result of an operation, from the node that ran it (a recurring monitor
/// reports its first result and then every change, with its request's key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpResult {
    pub node: NodeId,
    /// The DC that asked (results outlive DCs: whoever is DC records them).
    pub dc: NodeId,
    pub key: ActionKey,
    pub rsc: String,
    pub task: String,
    pub interval_ms: u64,
    pub rc: i32,
    /// Pacemaker's `op-status` code.
    pub status: i32,
    /// The node's whole `<lrm_resource>` history of `rsc` after this result, or
    /// empty when the resource has no history left there.
    pub history: String,
}

/// A member's resource history (`<lrm>` XML) and node name, sent when a DC
/// announces itself: the DC writes it into the status (the join).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LrmState {
    pub uname: String,
    pub lrm: String,
}

/// Forget `rsc`'s history and fail counts on `node` (every node when `None`), so the
/// scheduler probes it again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleanup {
    pub rsc: String,
    pub node: Option<NodeId>,
}

/// A message body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    AttrUpdate(AttrUpdate),
    AttrSync(AttrSync),
    DcAnnounce(DcAnnounce),
    CibDiff(CibDiff),
    CibVersion(CibVersionMsg),
    CibSync(CibSync),
    OpRequest(OpRequest),
    OpResult(OpResult),
    LrmState(LrmState),
    Cleanup(Cleanup),
}

impl Body {
    pub fn kind(&self) -> Kind {
        match self {
            Body::AttrUpdate(_) => Kind::AttrUpdate,
            Body::AttrSync(_) => Kind::AttrSync,
            Body::DcAnnounce(_) => Kind::DcAnnounce,
            Body::CibDiff(_) => Kind::CibDiff,
            Body::CibVersion(_) => Kind::CibVersion,
            Body::CibSync(_) => Kind::CibSync,
            Body::OpRequest(_) => Kind::OpRequest,
            Body::OpResult(_) => Kind::OpResult,
            Body::LrmState(_) => Kind::LrmState,
            Body::Cleanup(_) => Kind::Cleanup,
        }
    }
}

/// A message with its header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub version: u8,
    pub sender: ProcessId,
    pub body: Body,
}

/// Why bytes are not a message.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    #[error("message of {0} bytes is larger than the {MESSAGE_MAX}-byte limit")]
    TooLarge(usize),
    #[error("truncated: needed {needed} more bytes at offset {at}")]
    Truncated { at: usize, needed: usize },
    #[error("bad magic {0:02x?}")]
    BadMagic([u8; 4]),
    #[error("unsupported protocol version {0} (this node speaks {VERSION})")]
    UnsupportedVersion(u8),
    #[error("unknown message kind {0}")]
    UnknownKind(u8),
    #[error("body length {declared} does not match the {actual} bytes that follow the header")]
    BodyLength { declared: usize, actual: usize },
    #[error("{what}: {count} entries, more than {max}")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error("invalid tag {tag} for {what}")]
    BadTag { what: &'static str, tag: u8 },
    #[error("invalid UTF-8 in {0}")]
    Utf8(&'static str),
    #[error(transparent)]
    Value(#[from] ValueError),
    #[error("dampening delay of {0} ms is longer than a day")]
    Dampen(u64),
    #[error("{0} trailing bytes after the body")]
    Trailing(usize),
}

/// Why a message cannot be encoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    #[error("{what}: {count} entries, more than {max}")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error("encoded message would be {0} bytes, more than {MESSAGE_MAX}")]
    TooLarge(usize),
    #[error("{what} is {len} bytes long, more than {max}")]
    TooLong { what: &'static str, len: usize, max: usize },
}

struct Writer(Vec<u8>);

impl Writer {
    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u16(&mut self, v: u16) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_be_bytes());
    }
    /// Strings are bounded by their types ([`AttrName::MAX`], [`AttrValue::MAX`]).
    fn str(&mut self, s: &str) {
        self.u16(s.len() as u16);
        self.0.extend_from_slice(s.as_bytes());
    }
    /// Long text (XML): a `u32` length; the message bound limits it.
    fn text(&mut self, s: &str) {
        self.u32(u32::try_from(s.len()).unwrap_or(u32::MAX));
        self.0.extend_from_slice(s.as_bytes());
    }
    /// A string whose length the type does not bound.
    fn checked_str(&mut self, what: &'static str, s: &str) -> Result<(), EncodeError> {
        if s.len() > usize::from(u16::MAX) {
            return Err(EncodeError::TooLong {
                what,
                len: s.len(),
                max: usize::from(u16::MAX),
            });
        }
        self.str(s);
        Ok(())
    }
    fn key(&mut self, k: ActionKey) {
        self.u32(k.transition);
        self.u32(k.action);
        self.u32(k.target_rc as u32);
    }
    fn agent(&mut self, a: &AgentSpec) -> Result<(), EncodeError> {
        self.checked_str("agent class", &a.class)?;
        match &a.provider {
            None => self.u8(0),
            Some(p) => {
                self.u8(1);
                self.checked_str("agent provider", p)?;
            }
        }
        self.checked_str("agent type", &a.kind)
    }
    fn version(&mut self, v: WireVersion) {
        self.u64(v.0);
        self.u64(v.1);
        self.u64(v.2);
    }
    fn count(&mut self, what: &'static str, count: usize, max: usize) -> Result<(), EncodeError> {
        if count > max {
            return Err(EncodeError::TooMany { what, count, max });
        }
        self.u32(count as u32);
        Ok(())
    }
    fn process(&mut self, p: ProcessId) {
        self.u32(p.node.0);
        self.u32(p.pid);
    }
    fn stamp(&mut self, s: Stamp) {
        self.u64(s.clock);
        self.process(s.origin);
    }
    fn millis(&mut self, d: Duration) {
        self.u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    }
    fn view(&mut self, view: &[ProcessId]) -> Result<(), EncodeError> {
        self.count("view", view.len(), MEMBERS_MAX)?;
        for p in view {
            self.process(*p);
        }
        Ok(())
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let rest = self.buf.len() - self.at;
        if rest < n {
            return Err(DecodeError::Truncated {
                at: self.at,
                needed: n - rest,
            });
        }
        let s = &self.buf[self.at..self.at + n];
        self.at += n;
        Ok(s)
    }
    fn remaining(&self) -> usize {
        self.buf.len() - self.at
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
    fn str(&mut self, what: &'static str) -> Result<&'a str, DecodeError> {
        let len = usize::from(self.u16()?);
        std::str::from_utf8(self.take(len)?).map_err(|_| DecodeError::Utf8(what))
    }
    fn text(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let len = self.u32()? as usize;
        let b = self.take(len)?;
        Ok(std::str::from_utf8(b).map_err(|_| DecodeError::Utf8(what))?.to_string())
    }
    fn version(&mut self) -> Result<WireVersion, DecodeError> {
        Ok(WireVersion(self.u64()?, self.u64()?, self.u64()?))
    }
    fn string(&mut self, what: &'static str) -> Result<String, DecodeError> {
        Ok(self.str(what)?.to_string())
    }
    fn key(&mut self) -> Result<ActionKey, DecodeError> {
        Ok(ActionKey {
            transition: self.u32()?,
            action: self.u32()?,
            target_rc: self.u32()? as i32,
        })
    }
    fn agent(&mut self) -> Result<AgentSpec, DecodeError> {
        let class = self.string("agent class")?;
        let provider = if self.bool("agent provider")? {
            Some(self.string("agent provider")?)
        } else {
            None
        };
        let kind = self.string("agent type")?;
        Ok(AgentSpec { class, provider, kind })
    }
    /// A list count, checked against its bound and against the bytes left (each entry
    /// takes at least `min_size` bytes), so no allocation exceeds the input.
    fn count(&mut self, what: &'static str, max: usize, min_size: usize) -> Result<usize, DecodeError> {
        let count = self.u32()? as usize;
        if count > max {
            return Err(DecodeError::TooMany { what, count, max });
        }
        let needed = count.saturating_mul(min_size);
        if needed > self.remaining() {
            return Err(DecodeError::Truncated {
                at: self.at,
                needed: needed - self.remaining(),
            });
        }
        Ok(count)
    }
    fn bool(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            tag => Err(DecodeError::BadTag { what, tag }),
        }
    }
    fn process(&mut self) -> Result<ProcessId, DecodeError> {
        Ok(ProcessId {
            node: NodeId(self.u32()?),
            pid: self.u32()?,
        })
    }
    fn stamp(&mut self) -> Result<Stamp, DecodeError> {
        Ok(Stamp {
            clock: self.u64()?,
            origin: self.process()?,
        })
    }
    fn millis(&mut self) -> Result<Duration, DecodeError> {
        let ms = self.u64()?;
        let d = Duration::from_millis(ms);
        if d > DAMPEN_MAX {
            return Err(DecodeError::Dampen(ms));
        }
        Ok(d)
    }
    fn name(&mut self) -> Result<AttrName, DecodeError> {
        Ok(AttrName::new(self.str("attribute name")?)?)
    }
    fn value(&mut self) -> Result<AttrValue, DecodeError> {
        Ok(AttrValue::new(self.str("attribute value")?)?)
    }
    fn view(&mut self) -> Result<Vec<ProcessId>, DecodeError> {
        let n = self.count("view", MEMBERS_MAX, 8)?;
        (0..n).map(|_| self.process()).collect()
    }
}

impl Envelope {
    pub fn new(sender: ProcessId, body: Body) -> Envelope {
        Envelope {
            version: VERSION,
            sender,
            body,
        }
    }

    pub fn encode(&self) -> Result<Vec<u8>, EncodeError> {
        let mut w = Writer(Vec::with_capacity(64));
        w.0.extend_from_slice(MAGIC);
        w.u8(self.version);
        w.u8(self.body.kind() as u8);
        w.process(self.sender);
        w.u32(0); // body length, patched below
        match &self.body {
            Body::AttrUpdate(u) => {
                w.stamp(u.stamp);
                w.count("changes", u.changes.len(), UPDATES_MAX)?;
                for c in &u.changes {
                    w.u32(c.node.0);
                    w.str(c.name.as_str());
                    match &c.change {
                        Change::Set(v) => {
                            w.u8(0);
                            w.str(v.as_str());
                        }
                        Change::Delete => w.u8(1),
                        Change::Add(n) => {
                            w.u8(2);
                            w.u64(*n as u64);
                        }
                    }
                    match c.dampen {
                        None => w.u8(0),
                        Some(d) => {
                            w.u8(1);
                            w.millis(d);
                        }
                    }
                }
            }
            Body::AttrSync(s) => {
                w.view(&s.view)?;
                w.count("entries", s.entries.len(), SYNC_ENTRIES_MAX)?;
                for e in &s.entries {
                    w.u32(e.node.0);
                    w.str(e.name.as_str());
                    match &e.value {
                        None => w.u8(0),
                        Some(v) => {
                            w.u8(1);
                            w.str(v.as_str());
                        }
                    }
                    w.millis(e.dampen);
                    w.stamp(e.stamp);
                }
            }
            Body::DcAnnounce(a) => {
                w.view(&a.view)?;
                w.u8(u8::from(a.quorate));
            }
            Body::CibDiff(d) => {
                w.u64(d.request);
                w.text(&d.patch);
            }
            Body::CibVersion(v) => {
                w.view(&v.view)?;
                w.u32(v.round);
                w.version(v.version);
                w.str(&v.digest[..v.digest.len().min(usize::from(u16::MAX))]);
                w.u8(u8::from(v.established));
                w.u32(v.size);
            }
            Body::CibSync(c) => {
                w.view(&c.view)?;
                w.u32(c.round);
                w.text(&c.cib);
            }
            Body::OpRequest(o) => {
                w.u32(o.target.0);
                w.key(o.key);
                w.checked_str("resource", &o.rsc)?;
                w.agent(&o.agent)?;
                w.checked_str("task", &o.task)?;
                w.u64(o.interval_ms);
                w.u64(o.timeout_ms);
                w.count("attributes", o.attributes.len(), OP_ATTRS_MAX)?;
                for (k, v) in &o.attributes {
                    w.checked_str("attribute name", k)?;
                    w.checked_str("attribute value", v)?;
                }
            }
            Body::OpResult(o) => {
                w.u32(o.node.0);
                w.u32(o.dc.0);
                w.key(o.key);
                w.checked_str("resource", &o.rsc)?;
                w.checked_str("task", &o.task)?;
                w.u64(o.interval_ms);
                w.u32(o.rc as u32);
                w.u32(o.status as u32);
                w.text(&o.history);
            }
            Body::LrmState(l) => {
                w.checked_str("node name", &l.uname)?;
                w.text(&l.lrm);
            }
            Body::Cleanup(c) => {
                w.checked_str("resource", &c.rsc)?;
                match c.node {
                    None => w.u8(0),
                    Some(n) => {
                        w.u8(1);
                        w.u32(n.0);
                    }
                }
            }
        }
        let len = w.0.len();
        if len > MESSAGE_MAX {
            return Err(EncodeError::TooLarge(len));
        }
        let body_len = (len - HEADER_LEN) as u32;
        w.0[HEADER_LEN - 4..HEADER_LEN].copy_from_slice(&body_len.to_be_bytes());
        Ok(w.0)
    }

    pub fn decode(buf: &[u8]) -> Result<Envelope, DecodeError> {
        if buf.len() > MESSAGE_MAX {
            return Err(DecodeError::TooLarge(buf.len()));
        }
        let mut r = Reader { buf, at: 0 };
        let magic = r.take(4)?;
        if magic != MAGIC {
            return Err(DecodeError::BadMagic([magic[0], magic[1], magic[2], magic[3]]));
        }
        let version = r.u8()?;
        if version != VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let kind = Kind::from_raw(r.u8()?)?;
        let sender = r.process()?;
        let declared = r.u32()? as usize;
        if declared != r.remaining() {
            return Err(DecodeError::BodyLength {
                declared,
                actual: r.remaining(),
            });
        }
        let body = match kind {
            Kind::AttrUpdate => {
                let stamp = r.stamp()?;
                // node + name length + change tag + dampen tag
                let n = r.count("changes", UPDATES_MAX, 4 + 2 + 1 + 1)?;
                let mut changes = Vec::with_capacity(n);
                for _ in 0..n {
                    let node = NodeId(r.u32()?);
                    let name = r.name()?;
                    let change = match r.u8()? {
                        0 => Change::Set(r.value()?),
                        1 => Change::Delete,
                        2 => Change::Add(r.u64()? as i64),
                        tag => return Err(DecodeError::BadTag { what: "change", tag }),
                    };
                    let dampen = if r.bool("dampen")? { Some(r.millis()?) } else { None };
                    changes.push(AttrChange {
                        node,
                        name,
                        change,
                        dampen,
                    });
                }
                Body::AttrUpdate(AttrUpdate { stamp, changes })
            }
            Kind::AttrSync => {
                let view = r.view()?;
                // node + name length + value tag + dampen + stamp
                let n = r.count("entries", SYNC_ENTRIES_MAX, 4 + 2 + 1 + 8 + 16)?;
                let mut entries = Vec::with_capacity(n);
                for _ in 0..n {
                    let node = NodeId(r.u32()?);
                    let name = r.name()?;
                    let value = if r.bool("value")? { Some(r.value()?) } else { None };
                    let dampen = r.millis()?;
                    let stamp = r.stamp()?;
                    entries.push(SyncEntry {
                        node,
                        name,
                        value,
                        dampen,
                        stamp,
                    });
                }
                Body::AttrSync(AttrSync { view, entries })
            }
            Kind::DcAnnounce => {
                let view = r.view()?;
                let quorate = r.bool("quorate")?;
                Body::DcAnnounce(DcAnnounce { view, quorate })
            }
            Kind::CibDiff => {
                let request = r.u64()?;
                let patch = r.text("patch")?;
                Body::CibDiff(CibDiff { request, patch })
            }
            Kind::CibVersion => {
                let view = r.view()?;
                let round = r.u32()?;
                let version = r.version()?;
                let digest = r.str("digest")?.to_string();
                let established = r.bool("established")?;
                let size = r.u32()?;
                Body::CibVersion(CibVersionMsg {
                    view,
                    round,
                    version,
                    digest,
                    established,
                    size,
                })
            }
            Kind::CibSync => {
                let view = r.view()?;
                let round = r.u32()?;
                let cib = r.text("cib")?;
                Body::CibSync(CibSync { view, round, cib })
            }
            Kind::OpRequest => {
                let target = NodeId(r.u32()?);
                let key = r.key()?;
                let rsc = r.string("resource")?;
                let agent = r.agent()?;
                let task = r.string("task")?;
                let interval_ms = r.u64()?;
                let timeout_ms = r.u64()?;
                let n = r.count("attributes", OP_ATTRS_MAX, 4)?;
                let mut attributes = Vec::with_capacity(n);
                for _ in 0..n {
                    attributes.push((r.string("attribute name")?, r.string("attribute value")?));
                }
                Body::OpRequest(OpRequest {
                    target,
                    key,
                    rsc,
                    agent,
                    task,
                    interval_ms,
                    timeout_ms,
                    attributes,
                })
            }
            Kind::OpResult => Body::OpResult(OpResult {
                node: NodeId(r.u32()?),
                dc: NodeId(r.u32()?),
                key: r.key()?,
                rsc: r.string("resource")?,
                task: r.string("task")?,
                interval_ms: r.u64()?,
                rc: r.u32()? as i32,
                status: r.u32()? as i32,
                history: r.text("history")?,
            }),
            Kind::LrmState => Body::LrmState(LrmState {
                uname: r.string("node name")?,
                lrm: r.text("lrm")?,
            }),
            Kind::Cleanup => {
                let rsc = r.string("resource")?;
                let node = if r.bool("node")? { Some(NodeId(r.u32()?)) } else { None };
                Body::Cleanup(Cleanup { rsc, node })
            }
        };
        if r.remaining() != 0 {
            return Err(DecodeError::Trailing(r.remaining()));
        }
        Ok(Envelope { version, sender, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn p(node: u32, pid: u32) -> ProcessId {
        ProcessId::new(node, pid)
    }

    fn name(s: &str) -> AttrName {
        AttrName::new(s).unwrap()
    }

    fn sample() -> Envelope {
        Envelope::new(
            p(1, 100),
            Body::AttrUpdate(AttrUpdate {
                stamp: Stamp {
                    clock: 7,
                    origin: p(1, 100),
                },
                changes: vec![
                    AttrChange {
                        node: NodeId(2),
                        name: name("pingd"),
                        change: Change::Set(AttrValue::new("100").unwrap()),
                        dampen: Some(Duration::from_secs(5)),
                    },
                    AttrChange {
                        node: NodeId(3),
                        name: name("x"),
                        change: Change::Delete,
                        dampen: None,
                    },
                    AttrChange {
                        node: NodeId(3),
                        name: AttrName::fail_count("web", "monitor", 10000).unwrap(),
                        change: Change::Add(-4),
                        dampen: None,
                    },
                ],
            }),
        )
    }

    #[test]
    fn header_layout() {
        let bytes = sample().encode().unwrap();
        assert_eq!(&bytes[..4], b"FCRM");
        assert_eq!(bytes[4], VERSION);
        assert_eq!(bytes[5], Kind::AttrUpdate as u8);
        assert_eq!(&bytes[6..14], &[0, 0, 0, 1, 0, 0, 0, 100]);
        let body_len = u32::from_be_bytes([bytes[14], bytes[15], bytes[16], bytes[17]]) as usize;
        assert_eq!(body_len, bytes.len() - HEADER_LEN);
        assert_eq!(Envelope::decode(&bytes).unwrap(), sample());
    }

    #[test]
    fn refusals() {
        let good = sample().encode().unwrap();
        let mut b = good.clone();
        b[0] = b'X';
        assert!(matches!(Envelope::decode(&b), Err(DecodeError::BadMagic(_))));
        let mut b = good.clone();
        b[4] = 2;
        assert_eq!(Envelope::decode(&b), Err(DecodeError::UnsupportedVersion(2)));
        let mut b = good.clone();
        b[5] = 0;
        assert_eq!(Envelope::decode(&b), Err(DecodeError::UnknownKind(0)));
        b[5] = 99;
        assert_eq!(Envelope::decode(&b), Err(DecodeError::UnknownKind(99)));
        let mut b = good.clone();
        b.push(0);
        assert!(matches!(Envelope::decode(&b), Err(DecodeError::BodyLength { .. })));
        assert!(matches!(
            Envelope::decode(&good[..good.len() - 1]),
            Err(DecodeError::BodyLength { .. })
        ));
        assert!(matches!(
            Envelope::decode(&good[..10]),
            Err(DecodeError::Truncated { .. })
        ));
        assert_eq!(
            Envelope::decode(&vec![0; MESSAGE_MAX + 1]),
            Err(DecodeError::TooLarge(MESSAGE_MAX + 1))
        );

        // A body length that agrees with the input but a count far beyond it.
        let mut b = good[..HEADER_LEN + 16].to_vec();
        b.extend_from_slice(&200u32.to_be_bytes());
        let len = (b.len() - HEADER_LEN) as u32;
        b[14..18].copy_from_slice(&len.to_be_bytes());
        assert!(matches!(Envelope::decode(&b), Err(DecodeError::Truncated { .. })));
        let mut b = good[..HEADER_LEN + 16].to_vec();
        b.extend_from_slice(&100_000u32.to_be_bytes());
        let len = (b.len() - HEADER_LEN) as u32;
        b[14..18].copy_from_slice(&len.to_be_bytes());
        assert!(matches!(
            Envelope::decode(&b),
            Err(DecodeError::TooMany { count: 100_000, .. })
        ));
    }

    #[test]
    fn bad_values_are_refused() {
        let mut b = sample().encode().unwrap();
        // The first name "pingd" starts after the stamp (16), count (4) and node (4) and its length (2).
        let at = HEADER_LEN + 16 + 4 + 4 + 2;
        assert_eq!(&b[at..at + 5], b"pingd");
        b[at] = b'\n';
        assert!(matches!(
            Envelope::decode(&b),
            Err(DecodeError::Value(ValueError::Control { .. }))
        ));
        b[at] = 0xff;
        assert_eq!(Envelope::decode(&b), Err(DecodeError::Utf8("attribute name")));
    }

    #[test]
    fn encode_refuses_oversize() {
        let changes = vec![
            AttrChange {
                node: NodeId(1),
                name: name("a"),
                change: Change::Delete,
                dampen: None
            };
            UPDATES_MAX + 1
        ];
        let e = Envelope::new(
            p(1, 1),
            Body::AttrUpdate(AttrUpdate {
                stamp: Stamp {
                    clock: 0,
                    origin: p(1, 1),
                },
                changes,
            }),
        );
        assert!(matches!(e.encode(), Err(EncodeError::TooMany { what: "changes", .. })));
    }

    #[test]
    fn largest_sync_fits() {
        // The table is bounded so that its whole sync always fits in one message.
        let per_entry = 4 + 2 + AttrName::MAX + 1 + 2 + AttrValue::MAX + 8 + 16;
        assert!(HEADER_LEN + 4 + MEMBERS_MAX * 8 + 4 + SYNC_ENTRIES_MAX * per_entry <= MESSAGE_MAX);
        let entry = |i: usize| SyncEntry {
            node: NodeId(i as u32),
            name: AttrName::new(format!("{i:0>255}")).unwrap(),
            value: Some(AttrValue::new("v".repeat(AttrValue::MAX)).unwrap()),
            dampen: DAMPEN_MAX,
            stamp: Stamp {
                clock: u64::MAX,
                origin: p(u32::MAX, u32::MAX),
            },
        };
        let view = (0..MEMBERS_MAX as u32).map(|i| p(i, i)).collect();
        let e = Envelope::new(
            p(1, 1),
            Body::AttrSync(AttrSync {
                view,
                entries: (0..SYNC_ENTRIES_MAX).map(entry).collect(),
            }),
        );
        let bytes = e.encode().unwrap();
        assert!(bytes.len() <= MESSAGE_MAX);
        assert_eq!(Envelope::decode(&bytes).unwrap(), e);
    }

    fn arb_process() -> impl Strategy<Value = ProcessId> {
        (0u32..5, 0u32..3).prop_map(|(n, pid)| p(n, pid))
    }
    fn arb_name() -> impl Strategy<Value = AttrName> {
        "[a-z#_-]{1,20}".prop_map(|s| AttrName::new(s).unwrap())
    }
    fn arb_value() -> impl Strategy<Value = AttrValue> {
        "[ -~]{0,20}".prop_map(|s| AttrValue::new(s).unwrap())
    }
    fn arb_stamp() -> impl Strategy<Value = Stamp> {
        (any::<u64>(), arb_process()).prop_map(|(clock, origin)| Stamp { clock, origin })
    }
    fn arb_body() -> impl Strategy<Value = Body> {
        let change = prop_oneof![
            arb_value().prop_map(Change::Set),
            Just(Change::Delete),
            any::<i64>().prop_map(Change::Add)
        ];
        let dampen = proptest::option::of((0u64..=86_400_000).prop_map(Duration::from_millis));
        let update = (
            arb_stamp(),
            proptest::collection::vec((any::<u32>(), arb_name(), change, dampen), 0..5),
        )
            .prop_map(|(stamp, cs)| {
                Body::AttrUpdate(AttrUpdate {
                    stamp,
                    changes: cs
                        .into_iter()
                        .map(|(n, name, change, dampen)| AttrChange {
                            node: NodeId(n),
                            name,
                            change,
                            dampen,
                        })
                        .collect(),
                })
            });
        let entry = (
            any::<u32>(),
            arb_name(),
            proptest::option::of(arb_value()),
            0u64..100_000,
            arb_stamp(),
        )
            .prop_map(|(n, name, value, d, stamp)| SyncEntry {
                node: NodeId(n),
                name,
                value,
                dampen: Duration::from_millis(d),
                stamp,
            });
        let sync = (
            proptest::collection::vec(arb_process(), 0..6),
            proptest::collection::vec(entry, 0..5),
        )
            .prop_map(|(view, entries)| Body::AttrSync(AttrSync { view, entries }));
        let announce = (proptest::collection::vec(arb_process(), 0..6), any::<bool>())
            .prop_map(|(view, quorate)| Body::DcAnnounce(DcAnnounce { view, quorate }));
        let diff = (any::<u64>(), ".{0,40}").prop_map(|(request, patch)| Body::CibDiff(CibDiff { request, patch }));
        let version = (
            proptest::collection::vec(arb_process(), 0..6),
            any::<u32>(),
            any::<(u64, u64, u64)>(),
            "[0-9a-f]{0,32}",
            any::<bool>(),
            any::<u32>(),
        )
            .prop_map(|(view, round, (a, e, n), digest, established, size)| {
                Body::CibVersion(CibVersionMsg {
                    view,
                    round,
                    version: WireVersion(a, e, n),
                    digest,
                    established,
                    size,
                })
            });
        let cib = (proptest::collection::vec(arb_process(), 0..6), any::<u32>(), ".{0,40}")
            .prop_map(|(view, round, cib)| Body::CibSync(CibSync { view, round, cib }));
        let key = (any::<u32>(), any::<u32>(), any::<i32>()).prop_map(|(transition, action, target_rc)| ActionKey {
            transition,
            action,
            target_rc,
        });
        let agent = ("[a-z]{1,8}", proptest::option::of("[a-z]{1,8}"), "[A-Za-z]{1,8}")
            .prop_map(|(class, provider, kind)| AgentSpec { class, provider, kind });
        let request = (
            (any::<u32>(), key.clone(), "[a-z:0-9]{1,10}", agent, "[a-z_]{1,10}"),
            (any::<u64>(), any::<u64>()),
            proptest::collection::vec(("[A-Za-z_]{1,12}", ".{0,12}"), 0..5),
        )
            .prop_map(
                |((target, key, rsc, agent, task), (interval_ms, timeout_ms), attributes)| {
                    Body::OpRequest(OpRequest {
                        target: NodeId(target),
                        key,
                        rsc,
                        agent,
                        task,
                        interval_ms,
                        timeout_ms,
                        attributes,
                    })
                },
            );
        let result = (
            (any::<u32>(), any::<u32>(), key, "[a-z:0-9]{1,10}", "[a-z_]{1,10}"),
            (any::<u64>(), any::<i32>(), any::<i32>(), ".{0,40}"),
        )
            .prop_map(|((node, dc, key, rsc, task), (interval_ms, rc, status, history))| {
                Body::OpResult(OpResult {
                    node: NodeId(node),
                    dc: NodeId(dc),
                    key,
                    rsc,
                    task,
                    interval_ms,
                    rc,
                    status,
                    history,
                })
            });
        let lrm = ("[a-z0-9]{1,10}", ".{0,40}").prop_map(|(uname, lrm)| Body::LrmState(LrmState { uname, lrm }));
        let cleanup = ("[a-z:0-9]{1,10}", proptest::option::of(any::<u32>())).prop_map(|(rsc, node)| {
            Body::Cleanup(Cleanup {
                rsc,
                node: node.map(NodeId),
            })
        });
        prop_oneof![update, sync, announce, diff, version, cib, request, result, lrm, cleanup]
    }

    proptest! {
        #[test]
        fn roundtrip(sender in arb_process(), body in arb_body()) {
            let e = Envelope::new(sender, body);
            let bytes = e.encode().unwrap();
            prop_assert_eq!(Envelope::decode(&bytes).unwrap(), e);
        }

        #[test]
        fn decoder_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = Envelope::decode(&bytes);
        }

        /// Corrupting one byte of a valid message gives an error or another valid
        /// message, never a panic; truncating it always gives an error.
        #[test]
        fn mutations(sender in arb_process(), body in arb_body(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let mut bytes = Envelope::new(sender, body).encode().unwrap();
            let i = at.index(bytes.len());
            let cut = bytes[..i].to_vec();
            prop_assert!(Envelope::decode(&cut).is_err());
            bytes[i] = byte;
            if let Ok(e) = Envelope::decode(&bytes) {
                prop_assert_eq!(Envelope::decode(&e.encode().unwrap()).unwrap(), e);
            }
        }
    }
}

//! The CIB manager (`pacemaker-based`) as a sans-IO state machine.
//!
//! Every member of the CRM group holds the same CIB. A client's request
//! ([`CibOp`]) is turned into a v2 patchset against the current version
//! ([`CibDocument::commit`]: a configuration change bumps `epoch`, anything else
//! `num_updates`) and multicast as a [`CibDiff`]; every member, the sender
//! included, applies the delivered patches in agreed order, so all stay equal.
//! The request is answered ([`CibOutput::Reply`]) only when its patch was
//! delivered and applied locally, so an acknowledged change is held by every
//! member that delivered it.
//!
//! A patch made against a version that another patch has since replaced (two
//! members changing the CIB at once) is *stale*: every member refuses it the same
//! way, and its requester makes it again against the new version and resends it
//! (at most [`REBASE_MAX`] times), so concurrent changes are all applied, in one
//! order. A patch that does not apply for any other reason (the member is behind
//! the patch's version, or the patch does not fit its CIB) means this member's
//! copy diverged: the requester is told, and the member starts a sync round.
//!
//! **Sync rounds.** After a configuration change that brought members in (a join
//! or a partition merge), and when a member asks for one, every member multicasts
//! its version and digest ([`CibVersionMsg`]). When the versions of all members of
//! the view are delivered, every member decides the same winner at the same point
//! of the stream: the newest (admin_epoch, epoch, num_updates); among equal
//! versions a copy already established in the group (its holder finished a round)
//! before one a process just read from disk, then the lowest process id. Unless all copies are already equal, the winner multicasts its
//! whole CIB ([`CibSync`], at most [`CibManager::sync_max`] bytes; a request that
//! would make the CIB larger is refused) and everyone installs it. Patches
//! delivered during a round are refused by all members alike; the requester's are
//! made again and resent once the round ends.
//!
//! The host persists the CIB when asked ([`CibOutput::Persist`], after a
//! configuration change or an install), with [`crate::cib_store`].

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

use cib::document::CibDocument;
use cib::patchset::{PatchError, Patchset};
use cib::version::CibVersion;
use cib::xml::{Element, XmlNode};
use thiserror::Error;
use tracing::{debug, error, warn};

use crate::ids::ProcessId;
use crate::messages::{Body, CibDiff, CibSync, CibVersionMsg, Envelope, WireVersion, MESSAGE_MAX};

/// Most client requests waiting for their patch (beyond: [`CibRequestError::Busy`]).
pub const PENDING_MAX: usize = 256;
/// Most times a stale patch is made again before the request fails.
pub const REBASE_MAX: u32 = 64;
/// Room kept in a message for the envelope and the view.
const SYNC_OVERHEAD: usize = 16 * 1024;
/// The largest CIB (XML bytes) a sync message carries.
pub const SYNC_LIMIT: usize = MESSAGE_MAX - SYNC_OVERHEAD;

/// A path to one element, as patchsets write it: `/cib/configuration/nodes/node[@id='1']`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CibPath(String);

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("invalid CIB path '{path}': {reason}")]
pub struct PathError {
    pub path: String,
    pub reason: &'static str,
}

impl CibPath {
    pub fn new(path: impl Into<String>) -> Result<CibPath, PathError> {
        let path = path.into();
        let err = |reason| PathError {
            path: path.clone(),
            reason,
        };
        let rest = path.strip_prefix("/cib").ok_or_else(|| err("must start with /cib"))?;
        if !rest.is_empty() && !rest.starts_with('/') {
            return Err(err("must start with /cib"));
        }
        for comp in rest.split('/').skip(1) {
            let (name, id) = match comp.find('[') {
                None => (comp, None),
                Some(i) => {
                    let id = comp[i..]
                        .strip_prefix("[@id='")
                        .and_then(|s| s.strip_suffix("']"))
                        .ok_or_else(|| err("a component's selector must be [@id='ID']"))?;
                    (&comp[..i], Some(id))
                }
            };
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                return Err(err("empty or invalid element name"));
            }
            if id.is_some_and(|id| id.is_empty() || id.contains('\'')) {
                return Err(err("empty id or a quote in it"));
            }
        }
        Ok(CibPath(path))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn components(&self) -> impl Iterator<Item = (&str, Option<&str>)> {
        self.0.split('/').skip(2).map(|comp| match comp.find('[') {
            None => (comp, None),
            Some(i) => (&comp[..i], Some(&comp[i + 6..comp.len() - 2])),
        })
    }

    /// Whether the path is under `/cib/configuration`.
    pub fn is_configuration(&self) -> bool {
        self.0 == "/cib/configuration" || self.0.starts_with("/cib/configuration/")
    }
}

impl fmt::Display for CibPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A section a client may replace whole (`cibadmin --replace -o SECTION`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    CrmConfig,
    Nodes,
    Resources,
    Constraints,
    RscDefaults,
    OpDefaults,
    FencingTopology,
    Status,
}

impl Section {
    pub fn name(self) -> &'static str {
        match self {
            Section::CrmConfig => "crm_config",
            Section::Nodes => "nodes",
            Section::Resources => "resources",
            Section::Constraints => "constraints",
            Section::RscDefaults => "rsc_defaults",
            Section::OpDefaults => "op_defaults",
            Section::FencingTopology => "fencing-topology",
            Section::Status => "status",
        }
    }
}

/// An XML attribute name (letters, digits, `_`, `-`, `:`, `.`; not a version attribute).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct XmlAttr(String);

impl XmlAttr {
    pub fn new(name: impl Into<String>) -> Result<XmlAttr, CibRequestError> {
        let name = name.into();
        let ok = !name.is_empty()
            && name.len() <= 255
            && name.chars().all(|c| c.is_ascii_alphanumeric() || "_-:.".contains(c))
            && !cib::version::VERSION_FIELDS.contains(&name.as_str());
        if ok {
            Ok(XmlAttr(name))
        } else {
            Err(CibRequestError::BadAttribute(name))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A client's change (`cibadmin` operations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CibOp {
    /// Replace a section's content: `content` must be named as the section.
    Replace {
        section: Section,
        content: Element,
    },
    /// Add `element` as the last child of `parent` (its `id` must be new there).
    Create {
        parent: CibPath,
        element: Element,
    },
    /// Replace the element at `path` with `element` (same name).
    Modify {
        path: CibPath,
        element: Element,
    },
    /// Remove the element at `path` (not `/cib`).
    Delete {
        path: CibPath,
    },
    SetAttribute {
        path: CibPath,
        name: XmlAttr,
        value: String,
    },
    DeleteAttribute {
        path: CibPath,
        name: XmlAttr,
    },
    /// Replace `parent`'s child with `element`'s name and id, or add it: the
    /// controller's status writes. Missing ancestors named by `parent` are created
    /// (an element with that name and id), so the op says what it means whatever
    /// version it is applied to.
    Put {
        parent: CibPath,
        element: Element,
    },
    /// Set these attributes on the element at `path`, creating it and its ancestors
    /// when missing.
    Merge {
        path: CibPath,
        attrs: Vec<(XmlAttr, String)>,
    },
    /// Remove the element at `path` if there is one.
    Purge {
        path: CibPath,
    },
    /// These ops in order, as one change: all or none.
    Batch(Vec<CibOp>),
}

impl CibOp {
    /// Whether the op may change `/cib/configuration` (or the root).
    pub fn touches_configuration(&self) -> bool {
        match self {
            CibOp::Replace { section, .. } => *section != Section::Status,
            CibOp::Create { parent: path, .. }
            | CibOp::Modify { path, .. }
            | CibOp::Delete { path }
            | CibOp::SetAttribute { path, .. }
            | CibOp::DeleteAttribute { path, .. }
            | CibOp::Put { parent: path, .. }
            | CibOp::Merge { path, .. }
            | CibOp::Purge { path } => !path.as_str().starts_with("/cib/status"),
            CibOp::Batch(ops) => ops.iter().any(CibOp::touches_configuration),
        }
    }
}

/// A client request's handle, answered by [`CibOutput::Reply`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CibRequestError {
    #[error("not a member of the CRM group")]
    NotMember,
    #[error("{PENDING_MAX} requests are already waiting")]
    Busy,
    #[error("no element at {0}")]
    NoSuchElement(CibPath),
    #[error("an element <{name} id='{id}'> already exists under {parent}")]
    Exists { parent: CibPath, name: String, id: String },
    #[error("<{given}> cannot replace <{expected}>")]
    WrongElement { expected: String, given: String },
    #[error("invalid attribute name '{0}'")]
    BadAttribute(String),
    #[error("the root <cib> cannot be deleted")]
    DeleteRoot,
    #[error("the CIB would be {size} bytes, more than the {max}-byte limit of a sync message")]
    TooLarge { size: usize, max: usize },
    #[error("cannot make a patchset: {0}")]
    Diff(String),
    #[error("the patch was refused {0} times because other changes came first")]
    Conflict(u32),
    #[error("the patch did not apply to this member's CIB ({0}); it is being resynchronised")]
    Diverged(String),
    #[error("this member left the group before the change was delivered")]
    Left,
    #[error("the configuration cannot change in a partition without quorum")]
    NoQuorum,
}

/// What the host must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CibOutput {
    /// Multicast to the CRM group (agreed order).
    Multicast(Envelope),
    /// Answer a client: the version its change produced.
    Reply {
        request: RequestId,
        result: Result<CibVersion, CibRequestError>,
    },
    /// Write this CIB to disk ([`crate::cib_store::CibStore::save`]).
    Persist(CibDocument),
}

/// Counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CibStats {
    pub applied: u64,
    pub rebased: u64,
    pub refused: u64,
    pub rounds: u64,
    pub installs: u64,
}

#[derive(Debug)]
struct Pending {
    op: CibOp,
    attempts: u32,
    /// Multicast and not yet delivered.
    in_flight: bool,
}

/// A member's copy in a round.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Offer {
    version: CibVersion,
    digest: String,
    established: bool,
    size: usize,
}

#[derive(Debug)]
struct Round {
    number: u32,
    versions: BTreeMap<ProcessId, Offer>,
    winner: Option<ProcessId>,
}

/// The CIB manager of one CRM process.
#[derive(Debug)]
pub struct CibManager {
    me: ProcessId,
    doc: CibDocument,
    view: Vec<ProcessId>,
    member: bool,
    round: Option<Round>,
    /// The number of the next round in this view.
    next_round: u32,
    pending: BTreeMap<u64, Pending>,
    next_request: u64,
    out: VecDeque<CibOutput>,
    sync_max: usize,
    stats: CibStats,
    /// Took part in a finished round (its copy is the group's, not just the disk's).
    established: bool,
}

fn to_wire(v: CibVersion) -> WireVersion {
    WireVersion(v.admin_epoch, v.epoch, v.num_updates)
}

fn from_wire(v: WireVersion) -> CibVersion {
    CibVersion::new(v.0, v.1, v.2)
}

fn find_mut<'a>(root: &'a mut Element, path: &CibPath) -> Option<&'a mut Element> {
    let mut cur = root;
    for (name, id) in path.components() {
        cur = cur
            .elements_mut()
            .find(|e| e.name == name && id.is_none_or(|id| e.attr("id") == Some(id)))?;
    }
    Some(cur)
}

/// The element at `path`, created with its missing ancestors (each with the name and
/// id its path component gives).
fn find_or_create<'a>(root: &'a mut Element, path: &CibPath) -> &'a mut Element {
    let mut cur = root;
    for (name, id) in path.components() {
        let at = cur.children.iter().position(
            |c| matches!(c, XmlNode::Element(e) if e.name == name && id.is_none_or(|id| e.attr("id") == Some(id))),
        );
        let at = match at {
            Some(i) => i,
            None => {
                let mut e = Element::new(name);
                if let Some(id) = id {
                    e.set_attr("id", id);
                }
                cur.push(e);
                cur.children.len() - 1
            }
        };
        let XmlNode::Element(next) = &mut cur.children[at] else {
            unreachable!("position() matched an element")
        };
        cur = next;
    }
    cur
}

/// `op` applied to a copy of `doc` (versions untouched).
fn edited(doc: &CibDocument, op: &CibOp) -> Result<CibDocument, CibRequestError> {
    let mut new = doc.clone();
    apply_op(&mut new, op)?;
    Ok(new)
}

/// Applies `op` to `doc` in place (versions untouched); on error `doc` may be
/// partly changed, so callers work on a copy.
fn apply_op(doc: &mut CibDocument, op: &CibOp) -> Result<(), CibRequestError> {
    let root = doc.root_mut();
    match op {
        CibOp::Put { parent, element } => {
            let p = find_or_create(root, parent);
            let id = element.attr("id");
            let at = p
                .children
                .iter()
                .position(|c| matches!(c, XmlNode::Element(e) if e.name == element.name && e.attr("id") == id));
            match at {
                Some(i) => p.children[i] = XmlNode::Element(element.clone()),
                None => p.push(element.clone()),
            }
        }
        CibOp::Merge { path, attrs } => {
            let e = find_or_create(root, path);
            for (k, v) in attrs {
                e.set_attr(k.as_str(), v.clone());
            }
        }
        CibOp::Purge { path } => {
            if find_mut(root, path).is_some() {
                return apply_op(doc, &CibOp::Delete { path: path.clone() });
            }
        }
        CibOp::Batch(ops) => {
            for op in ops {
                apply_op(doc, op)?;
            }
        }
        CibOp::Replace { section, content } => {
            if content.name != section.name() {
                return Err(CibRequestError::WrongElement {
                    expected: section.name().into(),
                    given: content.name.to_string(),
                });
            }
            let parent = match section {
                Section::Status => root,
                _ => root
                    .child_mut("configuration")
                    .ok_or_else(|| CibRequestError::NoSuchElement(CibPath("/cib/configuration".into())))?,
            };
            let at = parent
                .children
                .iter()
                .position(|c| matches!(c, XmlNode::Element(e) if e.name == section.name()));
            match at {
                Some(i) => parent.children[i] = XmlNode::Element(content.clone()),
                None => parent.push(content.clone()),
            }
        }
        CibOp::Create { parent, element } => {
            let p = find_mut(root, parent).ok_or_else(|| CibRequestError::NoSuchElement(parent.clone()))?;
            if let Some(id) = element.attr("id") {
                if p.elements().any(|e| e.name == element.name && e.attr("id") == Some(id)) {
                    return Err(CibRequestError::Exists {
                        parent: parent.clone(),
                        name: element.name.to_string(),
                        id: id.into(),
                    });
                }
            }
            p.push(element.clone());
        }
        CibOp::Modify { path, element } => {
            let e = find_mut(root, path).ok_or_else(|| CibRequestError::NoSuchElement(path.clone()))?;
            if e.name != element.name {
                return Err(CibRequestError::WrongElement {
                    expected: e.name.to_string(),
                    given: element.name.to_string(),
                });
            }
            let versions: Vec<(String, String)> = if path.as_str() == "/cib" {
                e.attrs
                    .iter()
                    .filter(|(k, _)| cib::version::VERSION_FIELDS.contains(&k.as_str()))
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect()
            } else {
                Vec::new()
            };
            *e = element.clone();
            for (k, v) in versions {
                e.set_attr(&k, v);
            }
        }
        CibOp::Delete { path } => {
            let (parent_path, last) = path.as_str().rsplit_once('/').unwrap_or(("", ""));
            if parent_path.is_empty() {
                return Err(CibRequestError::DeleteRoot);
            }
            let parent = CibPath(parent_path.to_string());
            let (name, id) = CibPath(format!("/cib/{last}"))
                .components()
                .next()
                .map(|(n, i)| (n.to_string(), i.map(str::to_string)))
                .unwrap_or_default();
            let p = find_mut(root, &parent).ok_or_else(|| CibRequestError::NoSuchElement(path.clone()))?;
            let at = p
                .children
                .iter()
                .position(|c| matches!(c, XmlNode::Element(e) if e.name == name && (id.is_none() || e.attr("id") == id.as_deref())))
                .ok_or_else(|| CibRequestError::NoSuchElement(path.clone()))?;
            p.children.remove(at);
        }
        CibOp::SetAttribute { path, name, value } => {
            find_mut(root, path)
                .ok_or_else(|| CibRequestError::NoSuchElement(path.clone()))?
                .set_attr(name.as_str(), value.clone());
        }
        CibOp::DeleteAttribute { path, name } => {
            find_mut(root, path)
                .ok_or_else(|| CibRequestError::NoSuchElement(path.clone()))?
                .remove_attr(name.as_str());
        }
    }
    Ok(())
}

/// `ops` applied in order to a copy of `doc` (versions untouched), all or
/// none: the first op that fails is the error and `doc` stays as it was. For
/// admin tools that turn a verb into several edits (`crm::admin`) and for
/// applying them offline to a CIB file.
pub fn apply_ops(doc: &CibDocument, ops: &[CibOp]) -> Result<CibDocument, CibRequestError> {
    let mut cur = doc.clone();
    for op in ops {
        cur = edited(&cur, op)?;
    }
    Ok(cur)
}

impl CibManager {
    /// A manager starting from `doc` (what [`crate::cib_store::CibStore::load`] read).
    pub fn new(me: ProcessId, doc: CibDocument) -> CibManager {
        CibManager {
            me,
            doc,
            view: Vec::new(),
            member: false,
            round: None,
            next_round: 0,
            pending: BTreeMap::new(),
            next_request: 1,
            out: VecDeque::new(),
            sync_max: SYNC_LIMIT,
            stats: CibStats::default(),
            established: false,
        }
    }

    /// Sets the largest CIB (XML bytes) a sync may carry; at most the message limit.
    pub fn set_sync_max(&mut self, max: usize) {
        self.sync_max = max.min(SYNC_LIMIT);
    }

    pub fn sync_max(&self) -> usize {
        self.sync_max
    }

    pub fn cib(&self) -> &CibDocument {
        &self.doc
    }

    pub fn stats(&self) -> CibStats {
        self.stats
    }

    /// Whether a sync round is in progress.
    pub fn syncing(&self) -> bool {
        self.round.is_some()
    }

    /// No round in progress and none of this member's requests waiting: the CIB
    /// holds everything this member asked for.
    pub fn idle(&self) -> bool {
        self.round.is_none() && self.pending.is_empty()
    }

    pub fn poll_output(&mut self) -> Option<CibOutput> {
        self.out.pop_front()
    }

    fn multicast(&mut self, body: Body) {
        self.out.push_back(CibOutput::Multicast(Envelope::new(self.me, body)));
    }

    fn reply(&mut self, id: u64, result: Result<CibVersion, CibRequestError>) {
        self.pending.remove(&id);
        self.out.push_back(CibOutput::Reply {
            request: RequestId(id),
            result,
        });
        self.send_next();
    }

    /// Sends the oldest waiting request when none is in flight (one at a time, so a
    /// member's own patches never make each other stale).
    fn send_next(&mut self) {
        if !self.member || self.round.is_some() || self.pending.values().any(|p| p.in_flight) {
            return;
        }
        if let Some(id) = self.pending.keys().next().copied() {
            self.send_pending(id);
        }
    }

    /// A client's change: checked against the current CIB now, multicast, and
    /// answered once its patch is delivered and applied here.
    pub fn request(&mut self, op: CibOp) -> Result<RequestId, CibRequestError> {
        if !self.member {
            return Err(CibRequestError::NotMember);
        }
        if self.pending.len() >= PENDING_MAX {
            return Err(CibRequestError::Busy);
        }
        edited(&self.doc, &op)?;
        let id = self.next_request;
        self.next_request += 1;
        self.pending.insert(
            id,
            Pending {
                op,
                attempts: 0,
                in_flight: false,
            },
        );
        if self.round.is_none() && !self.pending.values().any(|p| p.in_flight) {
            self.send_pending(id);
        }
        Ok(RequestId(id))
    }

    /// Makes the patch for a pending request against the current CIB and multicasts
    /// it, or answers the request when it fails or changes nothing.
    fn send_pending(&mut self, id: u64) {
        let Some(p) = self.pending.get(&id) else { return };
        let result = edited(&self.doc, &p.op).and_then(|new| {
            let size = new.to_xml().len();
            if size > self.sync_max {
                return Err(CibRequestError::TooLarge {
                    size,
                    max: self.sync_max,
                });
            }
            self.doc.commit(new).map_err(|e| CibRequestError::Diff(e.to_string()))
        });
        match result {
            Err(e) => self.reply(id, Err(e)),
            Ok(None) => {
                let v = self.doc.version();
                self.reply(id, Ok(v));
            }
            Ok(Some((_, patch))) => {
                if let Some(p) = self.pending.get_mut(&id) {
                    p.in_flight = true;
                    p.attempts += 1;
                }
                self.multicast(Body::CibDiff(CibDiff {
                    request: id,
                    patch: patch.to_xml_string(),
                }));
            }
        }
    }

    /// A configuration change of the CRM group (`members` sorted or not).
    pub fn on_confchg(&mut self, members: &[ProcessId], joined: &[ProcessId]) {
        let mut view = members.to_vec();
        view.sort_unstable();
        view.dedup();
        self.view = view;
        self.member = self.view.binary_search(&self.me).is_ok();
        self.next_round = 0;
        if !self.member {
            self.round = None;
            let ids: Vec<u64> = self.pending.keys().copied().collect();
            for id in ids {
                self.reply(id, Err(CibRequestError::Left));
            }
            return;
        }
        if !joined.is_empty() || self.round.is_some() {
            self.start_round(0);
        }
    }

    fn start_round(&mut self, number: u32) {
        self.stats.rounds += 1;
        self.next_round = number + 1;
        self.round = Some(Round {
            number,
            versions: BTreeMap::new(),
            winner: None,
        });
        debug!(me = %self.me, round = number, version = %self.doc.version(), "CIB sync round");
        self.multicast(Body::CibVersion(CibVersionMsg {
            view: self.view.clone(),
            round: number,
            version: to_wire(self.doc.version()),
            digest: self.doc.digest(),
            established: self.established,
            size: u32::try_from(self.doc.to_xml().len()).unwrap_or(u32::MAX),
        }));
    }

    /// A message of the CRM group's CIB kinds, in agreed order (others are ignored).
    pub fn on_deliver(&mut self, from: ProcessId, body: &Body) {
        if !self.member || self.view.binary_search(&from).is_err() {
            return;
        }
        match body {
            Body::CibDiff(d) => self.on_diff(from, d),
            Body::CibVersion(v) => self.on_version(from, v),
            Body::CibSync(s) => self.on_sync(from, s),
            Body::AttrUpdate(_)
            | Body::AttrSync(_)
            | Body::DcAnnounce(_)
            | Body::OpRequest(_)
            | Body::OpResult(_)
            | Body::LrmState(_)
            | Body::Cleanup(_) => {}
        }
    }

    fn on_diff(&mut self, from: ProcessId, d: &CibDiff) {
        let mine = from == self.me && self.pending.get(&d.request).is_some_and(|p| p.in_flight);
        if mine {
            if let Some(p) = self.pending.get_mut(&d.request) {
                p.in_flight = false;
            }
        }
        if self.round.is_some() {
            // Refused by every member alike; ours is made again after the round.
            self.stats.refused += 1;
            return;
        }
        let patch = match Patchset::parse(&d.patch) {
            Ok(p) => p,
            Err(e) => {
                warn!(me = %self.me, %from, error = %e, "malformed CIB patch ignored");
                self.stats.refused += 1;
                if mine {
                    self.reply(d.request, Err(CibRequestError::Diff(e.to_string())));
                }
                return;
            }
        };
        let before = self.doc.version();
        match self.doc.apply(&patch) {
            Ok(()) => {
                self.stats.applied += 1;
                let after = self.doc.version();
                if (after.admin_epoch, after.epoch) != (before.admin_epoch, before.epoch) {
                    self.out.push_back(CibOutput::Persist(self.doc.clone()));
                }
                if mine {
                    self.reply(d.request, Ok(after));
                }
            }
            Err(PatchError::VersionTooHigh { .. }) => {
                // Stale: another change came first; every member refuses it.
                self.stats.refused += 1;
                if mine {
                    let attempts = self.pending.get(&d.request).map_or(0, |p| p.attempts);
                    if attempts >= REBASE_MAX {
                        self.reply(d.request, Err(CibRequestError::Conflict(attempts)));
                    } else {
                        self.stats.rebased += 1;
                        self.send_pending(d.request);
                    }
                }
            }
            Err(e) => {
                error!(me = %self.me, %from, error = %e, "CIB patch does not apply: resynchronising");
                self.stats.refused += 1;
                if mine {
                    self.reply(d.request, Err(CibRequestError::Diverged(e.to_string())));
                }
                let n = self.next_round;
                self.start_round(n);
            }
        }
    }

    fn on_version(&mut self, from: ProcessId, m: &CibVersionMsg) {
        if m.view != self.view {
            return;
        }
        if self.round.is_none() && m.round == self.next_round {
            // A member asked for a resync: everyone takes part.
            self.start_round(m.round);
        }
        let Some(round) = self.round.as_mut() else { return };
        if round.number != m.round || round.winner.is_some() {
            return;
        }
        round.versions.insert(
            from,
            Offer {
                version: from_wire(m.version),
                digest: m.digest.clone(),
                established: m.established,
                size: m.size as usize,
            },
        );
        if round.versions.len() < self.view.len() {
            return;
        }
        let first = round.versions.values().next().map(|o| (o.version, o.digest.clone()));
        if round
            .versions
            .values()
            .all(|o| first.as_ref() == Some(&(o.version, o.digest.clone())))
        {
            self.end_round();
            return;
        }
        // Newest wins; among equals an established copy, then the lowest process id.
        // A copy too large for a sync message cannot be sent, so it cannot win.
        let best = round
            .versions
            .iter()
            .filter(|(_, o)| o.size <= SYNC_LIMIT)
            .max_by_key(|(p, o)| (o.version, o.established, std::cmp::Reverse(**p)))
            .map(|(p, o)| (*p, o.version));
        let Some((winner, newest)) = best else {
            error!(me = %self.me, limit = SYNC_LIMIT, "every copy of the CIB is too large to sync: members keep their own");
            self.end_round();
            return;
        };
        round.winner = Some(winner);
        let number = round.number;
        debug!(me = %self.me, %winner, %newest, "CIB sync winner");
        if winner == self.me {
            let cib = self.doc.to_xml();
            self.multicast(Body::CibSync(CibSync {
                view: self.view.clone(),
                round: number,
                cib,
            }));
        }
    }

    fn on_sync(&mut self, from: ProcessId, s: &CibSync) {
        let Some(round) = &self.round else { return };
        if s.view != self.view || s.round != round.number || round.winner != Some(from) {
            return;
        }
        match CibDocument::parse(&s.cib) {
            Ok(doc) => {
                // Every member chose this winner, so every member installs it; it is
                // older only when the local copy was too large to compete.
                if doc.version() < self.doc.version() {
                    warn!(me = %self.me, local = %self.doc.version(), sync = %doc.version(), "installing an older CIB: the local copy is too large to sync");
                }
                self.stats.installs += 1;
                self.doc = doc;
                self.out.push_back(CibOutput::Persist(self.doc.clone()));
            }
            Err(e) => error!(me = %self.me, %from, error = %e, "unreadable CIB sync"),
        }
        self.end_round();
    }

    fn end_round(&mut self) {
        self.round = None;
        self.established = true;
        self.send_next();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn pid(i: usize) -> ProcessId {
        ProcessId::new(i as u32 + 1, 100)
    }

    fn path(p: &str) -> CibPath {
        CibPath::new(p).unwrap()
    }

    fn primitive(id: &str) -> CibOp {
        let mut e = Element::new("primitive");
        e.set_attr("id", id);
        e.set_attr("class", "ocf");
        e.set_attr("provider", "heartbeat");
        e.set_attr("type", "Dummy");
        CibOp::Create {
            parent: path("/cib/configuration/resources"),
            element: e,
        }
    }

    fn has(doc: &CibDocument, id: &str) -> bool {
        doc.find(&format!("/cib/configuration/resources/primitive[@id='{id}']"))
            .is_some()
    }

    type Reply = (RequestId, Result<CibVersion, CibRequestError>);
    /// Members and the agreed stream (sender index, encoded message).
    type Partition = (BTreeSet<usize>, VecDeque<(usize, Vec<u8>)>);

    /// N managers in CPG partitions, each partition one agreed stream; configuration
    /// changes come after the old view's messages (virtual synchrony).
    struct Cluster {
        mgrs: Vec<Option<CibManager>>,
        parts: Vec<Partition>,
        replies: Vec<Vec<Reply>>,
        persisted: Vec<Vec<CibDocument>>,
    }

    impl Cluster {
        fn new(n: usize) -> Cluster {
            let mut c = Cluster {
                mgrs: (0..n)
                    .map(|i| Some(CibManager::new(pid(i), CibDocument::empty(0))))
                    .collect(),
                parts: Vec::new(),
                replies: vec![Vec::new(); n],
                persisted: vec![Vec::new(); n],
            };
            c.regroup(vec![(0..n).collect()]);
            c
        }

        fn mgr(&mut self, i: usize) -> &mut CibManager {
            self.mgrs[i].as_mut().unwrap()
        }

        fn part_of(&self, i: usize) -> Option<usize> {
            self.parts.iter().position(|(m, _)| m.contains(&i))
        }

        fn pump(&mut self, i: usize) {
            let Some(p) = self.part_of(i) else { return };
            while let Some(o) = self.mgrs[i].as_mut().and_then(|m| m.poll_output()) {
                match o {
                    CibOutput::Multicast(env) => self.parts[p].1.push_back((i, env.encode().unwrap())),
                    CibOutput::Reply { request, result } => self.replies[i].push((request, result)),
                    CibOutput::Persist(doc) => self.persisted[i].push(doc),
                }
            }
        }

        fn pump_all(&mut self) {
            for i in 0..self.mgrs.len() {
                self.pump(i);
            }
        }

        /// Delivers the next message of partition `p`; false when none.
        fn step(&mut self, p: usize) -> bool {
            self.pump_all();
            let Some((from, bytes)) = self.parts[p].1.pop_front() else {
                return false;
            };
            let env = Envelope::decode(&bytes).unwrap();
            let members: Vec<usize> = self.parts[p].0.iter().copied().collect();
            for i in members {
                self.mgr(i).on_deliver(pid(from), &env.body);
                self.pump(i);
            }
            true
        }

        fn settle(&mut self) {
            loop {
                self.pump_all();
                let mut any = false;
                for p in 0..self.parts.len() {
                    while self.step(p) {
                        any = true;
                    }
                }
                if !any {
                    break;
                }
            }
        }

        /// New partitions (of live processes) after delivering what each old one holds.
        fn regroup(&mut self, groups: Vec<BTreeSet<usize>>) {
            self.settle();
            let old: Vec<BTreeSet<usize>> = (0..self.mgrs.len())
                .map(|i| self.part_of(i).map(|p| self.parts[p].0.clone()).unwrap_or_default())
                .collect();
            self.parts = groups.iter().map(|g| (g.clone(), VecDeque::new())).collect();
            for g in &groups {
                let members: Vec<ProcessId> = g.iter().map(|&i| pid(i)).collect();
                for &i in g {
                    let joined: Vec<ProcessId> = g.difference(&old[i]).map(|&j| pid(j)).collect();
                    self.mgr(i).on_confchg(&members, &joined);
                }
            }
            self.pump_all();
        }

        /// Kills `i`: its messages not yet delivered are lost, the others see it leave.
        fn crash(&mut self, i: usize) {
            if let Some(p) = self.part_of(i) {
                self.parts[p].1.retain(|(from, _)| *from != i);
                self.parts[p].0.remove(&i);
                self.mgrs[i] = None;
                let g = self.parts[p].0.clone();
                let members: Vec<ProcessId> = g.iter().map(|&j| pid(j)).collect();
                for j in g {
                    self.mgr(j).on_confchg(&members, &[]);
                }
            }
        }

        fn check_equal(&self, who: &[usize]) {
            let first = self.mgrs[who[0]].as_ref().unwrap().cib();
            for &i in &who[1..] {
                let d = self.mgrs[i].as_ref().unwrap().cib();
                assert_eq!(d.to_xml(), first.to_xml(), "member {i} differs from {}", who[0]);
                assert_eq!(d.digest(), first.digest());
            }
        }
    }

    #[test]
    fn a_change_is_acknowledged_only_once_delivered_and_bumps_the_version() {
        let mut c = Cluster::new(3);
        c.settle();
        let r = c.mgr(1).request(primitive("a")).unwrap();
        c.pump_all();
        assert!(c.replies[1].is_empty(), "no answer before delivery");
        assert!(!has(c.mgr(1).cib(), "a"), "not applied before delivery");
        c.settle();
        assert_eq!(c.replies[1], vec![(r, Ok(CibVersion::new(0, 1, 0)))]);
        c.check_equal(&[0, 1, 2]);
        for i in 0..3 {
            assert!(has(c.mgr(i).cib(), "a"));
            assert_eq!(c.persisted[i].last().unwrap().version(), CibVersion::new(0, 1, 0));
        }
        // A status change bumps num_updates and asks for no write.
        let before = c.persisted[0].len();
        let mut ns = Element::new("node_state");
        ns.set_attr("id", "1");
        c.mgr(0)
            .request(CibOp::Create {
                parent: path("/cib/status"),
                element: ns,
            })
            .unwrap();
        c.settle();
        assert_eq!(c.mgr(2).cib().version(), CibVersion::new(0, 1, 1));
        assert_eq!(c.persisted[0].len(), before);
        // Attribute set and delete, then element delete.
        let prim = path("/cib/configuration/resources/primitive[@id='a']");
        let attr = XmlAttr::new("description").unwrap();
        c.mgr(2)
            .request(CibOp::SetAttribute {
                path: prim.clone(),
                name: attr.clone(),
                value: "x".into(),
            })
            .unwrap();
        c.settle();
        assert_eq!(
            c.mgr(0).cib().find(prim.as_str()).unwrap().attr("description"),
            Some("x")
        );
        c.mgr(2)
            .request(CibOp::DeleteAttribute {
                path: prim.clone(),
                name: attr,
            })
            .unwrap();
        c.mgr(0).request(CibOp::Delete { path: prim.clone() }).unwrap();
        c.settle();
        assert!(!has(c.mgr(1).cib(), "a"));
        // Member 0's delete came first (pumped first): 2's attribute delete was made
        // again against the new version, where the element is gone.
        assert_eq!(c.mgr(1).cib().version(), CibVersion::new(0, 3, 0));
        assert!(matches!(
            c.replies[2].last(),
            Some((_, Err(CibRequestError::NoSuchElement(_))))
        ));
        c.check_equal(&[0, 1, 2]);
        // Refusals at request time.
        assert_eq!(
            c.mgr(0).request(CibOp::Delete { path: prim.clone() }),
            Err(CibRequestError::NoSuchElement(prim))
        );
        assert!(XmlAttr::new("epoch").is_err());
        assert!(CibPath::new("/cib/x[@id=1]").is_err());
        assert!(CibPath::new("/cibx").is_err());
    }

    #[test]
    fn concurrent_changes_from_all_members_are_all_applied_in_one_order() {
        let mut c = Cluster::new(4);
        c.settle();
        let mut ids = Vec::new();
        for i in 0..4 {
            for k in 0..3 {
                ids.push((i, c.mgr(i).request(primitive(&format!("r{i}-{k}"))).unwrap()));
            }
        }
        c.settle();
        c.check_equal(&[0, 1, 2, 3]);
        let doc = c.mgr(0).cib().clone();
        for i in 0..4 {
            for k in 0..3 {
                assert!(has(&doc, &format!("r{i}-{k}")), "r{i}-{k} lost");
            }
        }
        assert_eq!(doc.version(), CibVersion::new(0, 12, 0));
        let mut versions = BTreeSet::new();
        for (i, id) in ids {
            let (_, res) = c.replies[i].iter().find(|(r, _)| *r == id).unwrap().clone();
            assert!(
                versions.insert(res.unwrap()),
                "two requests acknowledged with one version"
            );
        }
        assert!(c.mgr(3).stats().rebased > 0, "concurrent patches were made again");
    }

    #[test]
    fn an_acknowledged_change_survives_the_crash_of_its_requester() {
        let mut c = Cluster::new(3);
        c.settle();
        let r = c.mgr(2).request(primitive("keep")).unwrap();
        // Deliver until the requester has its answer, then crash it.
        while c.replies[2].is_empty() {
            assert!(c.step(0));
        }
        assert_eq!(c.replies[2][0].0, r);
        assert!(c.replies[2][0].1.is_ok());
        // A later change of its is lost with it: never acknowledged.
        c.mgr(2).request(primitive("lost")).unwrap();
        c.pump_all();
        c.crash(2);
        c.settle();
        assert!(has(c.mgr(0).cib(), "keep") && has(c.mgr(1).cib(), "keep"));
        assert!(!has(c.mgr(0).cib(), "lost"));
        // It restarts from an empty CIB and gets the cluster's at the join.
        c.mgrs[2] = Some(CibManager::new(ProcessId::new(3, 100), CibDocument::empty(0)));
        c.regroup(vec![[0, 1, 2].into()]);
        c.settle();
        assert!(has(c.mgr(2).cib(), "keep"));
        c.check_equal(&[0, 1, 2]);
    }

    #[test]
    fn after_a_partition_the_newest_side_wins_everywhere() {
        let mut c = Cluster::new(5);
        c.settle();
        c.mgr(0).request(primitive("base")).unwrap();
        c.settle();
        c.regroup(vec![[0, 1].into(), [2, 3, 4].into()]);
        // The minority with the lowest ids changes once, the other side twice.
        c.mgr(1).request(primitive("small")).unwrap();
        c.mgr(4).request(primitive("big1")).unwrap();
        c.settle();
        c.mgr(2).request(primitive("big2")).unwrap();
        c.settle();
        assert_eq!(c.mgr(0).cib().version(), CibVersion::new(0, 2, 0));
        assert_eq!(c.mgr(3).cib().version(), CibVersion::new(0, 3, 0));
        c.regroup(vec![[0, 1, 2, 3, 4].into()]);
        c.settle();
        c.check_equal(&[0, 1, 2, 3, 4]);
        let doc = c.mgr(0).cib();
        assert_eq!(doc.version(), CibVersion::new(0, 3, 0));
        assert!(has(doc, "base") && has(doc, "big1") && has(doc, "big2") && !has(doc, "small"));
        assert!(
            c.persisted[1].last().is_some_and(|d| has(d, "big2")),
            "installs are persisted"
        );
    }

    #[test]
    fn equal_versions_after_a_partition_go_to_the_lowest_process() {
        let mut c = Cluster::new(4);
        c.settle();
        c.regroup(vec![[2, 3].into(), [0, 1].into()]);
        c.mgr(3).request(primitive("high")).unwrap();
        c.mgr(1).request(primitive("low")).unwrap();
        c.settle();
        assert_eq!(c.mgr(0).cib().version(), c.mgr(3).cib().version());
        c.regroup(vec![[0, 1, 2, 3].into()]);
        c.settle();
        c.check_equal(&[0, 1, 2, 3]);
        assert!(has(c.mgr(3).cib(), "low") && !has(c.mgr(3).cib(), "high"));
        assert_eq!(c.mgr(2).stats().installs, 1);
    }

    #[test]
    fn requests_during_a_round_wait_for_its_end() {
        let mut c = Cluster::new(3);
        c.settle();
        c.regroup(vec![[0].into(), [1, 2].into()]);
        c.mgr(0).request(primitive("old")).unwrap();
        c.settle();
        c.regroup(vec![[0, 1, 2].into()]);
        // The round has started (versions queued); requests now wait.
        assert!(c.mgr(1).syncing());
        let r = c.mgr(1).request(primitive("during")).unwrap();
        c.settle();
        assert!(c.replies[1].iter().any(|(id, res)| *id == r && res.is_ok()));
        c.check_equal(&[0, 1, 2]);
        assert!(has(c.mgr(2).cib(), "during") && has(c.mgr(2).cib(), "old"));
    }

    #[test]
    fn a_cib_larger_than_a_sync_can_carry_is_refused() {
        let mut c = Cluster::new(2);
        c.settle();
        let size = c.mgr(0).cib().to_xml().len();
        c.mgr(0).set_sync_max(size + 50);
        let r = c.mgr(0).request(primitive("x".repeat(100).as_str())).unwrap();
        c.pump_all();
        let (id, res) = c.replies[0].pop().unwrap();
        assert_eq!(id, r);
        assert!(matches!(res, Err(CibRequestError::TooLarge { .. })), "{res:?}");
        assert!(!has(c.mgr(1).cib(), &"x".repeat(100)));
    }

    #[test]
    fn a_copy_too_large_to_sync_cannot_win() {
        let mut c = Cluster::new(3);
        c.settle();
        c.regroup(vec![[0, 1].into(), [2].into()]);
        // Member 2's copy is newer but larger than a sync message can carry (as
        // could be read from disk).
        let m = c.mgr(2);
        let res = m
            .doc
            .root_mut()
            .child_mut("configuration")
            .unwrap()
            .child_mut("resources")
            .unwrap();
        let mut k = 0;
        while res.to_xml_string().len() <= SYNC_LIMIT {
            for _ in 0..500 {
                let mut e = Element::new("primitive");
                e.set_attr("id", format!("big-{k}-{}", "x".repeat(200)));
                res.push(e);
                k += 1;
            }
        }
        m.doc.set_version(CibVersion::new(0, 9, 0));
        c.regroup(vec![[0, 1, 2].into()]);
        c.settle();
        assert_eq!(c.mgr(2).cib().version(), CibVersion::new(0, 0, 0));
        assert_eq!(c.mgr(2).cib().digest(), c.mgr(0).cib().digest());
        assert!(!c.mgr(2).syncing());
    }

    #[test]
    fn a_member_whose_copy_diverged_is_resynchronised() {
        // Member 1's copy differs at the same version (as after a lost write).
        let mut c = Cluster::new(2);
        c.settle();
        c.mgr(1)
            .doc
            .root_mut()
            .child_mut("configuration")
            .unwrap()
            .child_mut("resources")
            .unwrap()
            .push(Element::new("group"));
        let r = c.mgr(0).request(primitive("a")).unwrap();
        c.settle();
        assert!(c.replies[0].iter().any(|(id, res)| *id == r && res.is_ok()));
        let st = c.mgr(1).stats();
        assert!(st.rounds >= 1 && st.installs == 1, "{st:?} {}", c.mgr(1).cib().to_xml());
        c.check_equal(&[0, 1]);
        assert!(has(c.mgr(1).cib(), "a"));
    }

    #[derive(Debug, Clone)]
    enum Action {
        Request(usize),
        Step(usize),
        Split(u8),
        Merge,
        Crash(usize),
        Restart(usize),
    }

    fn action(partitions: bool) -> impl proptest::strategy::Strategy<Value = Action> {
        use proptest::prelude::*;
        let split = if partitions { 1u32 } else { 0 };
        prop_oneof![
            4 => (0..4usize).prop_map(Action::Request),
            6 => (0..4usize).prop_map(Action::Step),
            split => any::<u8>().prop_map(Action::Split),
            split => Just(Action::Merge),
            1 => (0..4usize).prop_map(Action::Crash),
            1 => (0..4usize).prop_map(Action::Restart),
        ]
    }

    /// Runs a schedule; returns the cluster (fully merged and settled) and the
    /// resources whose creation was acknowledged.
    fn run(actions: &[Action]) -> (Cluster, Vec<String>) {
        let mut c = Cluster::new(4);
        let mut requested: BTreeMap<(usize, RequestId), String> = BTreeMap::new();
        let mut counter = 0;
        let mut excused: BTreeSet<String> = BTreeSet::new();
        let mut acked: BTreeSet<String> = BTreeSet::new();
        let mut forked = false;
        let live = |c: &Cluster| -> BTreeSet<usize> { (0..4).filter(|&i| c.mgrs[i].is_some()).collect() };
        for a in actions {
            match a {
                Action::Request(i) => {
                    if c.mgrs[*i].is_some() {
                        counter += 1;
                        let name = format!("p{counter}");
                        if let Ok(id) = c.mgr(*i).request(primitive(&name)) {
                            requested.insert((*i, id), name);
                        }
                    }
                }
                Action::Step(p) => {
                    if !c.parts.is_empty() {
                        let p = *p % c.parts.len();
                        c.step(p);
                    }
                }
                Action::Split(mask) => {
                    let l = live(&c);
                    let a: BTreeSet<usize> = l.iter().copied().filter(|i| mask & (1 << i) != 0).collect();
                    let b: BTreeSet<usize> = l.difference(&a).copied().collect();
                    let groups = [a, b].into_iter().filter(|g| !g.is_empty()).collect();
                    c.regroup(groups);
                }
                Action::Merge => {
                    let l = live(&c);
                    if !l.is_empty() {
                        c.regroup(vec![l]);
                    }
                }
                Action::Crash(i) => {
                    if c.mgrs[*i].is_some() && live(&c).len() > 1 {
                        c.pump(*i);
                        c.crash(*i);
                    }
                }
                Action::Restart(i) => {
                    if c.mgrs[*i].is_none() {
                        // From what it last persisted, as a real restart reads cib.xml.
                        let doc = c.persisted[*i].last().cloned().unwrap_or_else(|| CibDocument::empty(0));
                        c.mgrs[*i] = Some(CibManager::new(pid(*i), doc));
                        c.replies[*i].clear();
                        requested.retain(|(j, _), _| j != i);
                        let mut groups: Vec<BTreeSet<usize>> = c.parts.iter().map(|(m, _)| m.clone()).collect();
                        match groups.first_mut() {
                            Some(g) => {
                                g.insert(*i);
                            }
                            None => groups.push([*i].into()),
                        }
                        c.regroup(groups);
                    }
                }
            }
            // Acknowledged changes; one may be lost only once every process holding
            // it was gone at the same time.
            let answered: Vec<(usize, RequestId)> = requested
                .keys()
                .filter(|(i, id)| c.replies[*i].iter().any(|(r, res)| r == id && res.is_ok()))
                .copied()
                .collect();
            for k in answered {
                if let Some(name) = requested.remove(&k) {
                    acked.insert(name);
                }
            }
            for name in &acked {
                if !(0..4).any(|j| c.mgrs[j].as_ref().is_some_and(|m| has(m.cib(), name))) {
                    excused.insert(name.clone());
                }
            }
            // Once a change was lost that way, the history has forked: a process
            // restarting from disk may hold a newer copy, which then wins.
            if !excused.is_empty() {
                forked = true;
            }
        }
        let l = live(&c);
        c.regroup(vec![l]);
        c.settle();
        let acked: Vec<String> = if forked {
            Vec::new()
        } else {
            acked.into_iter().collect()
        };
        (c, acked)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        #[test]
        fn without_partitions_every_acknowledged_change_survives(
            actions in proptest::collection::vec(action(false), 0..80)
        ) {
            let (c, acked) = run(&actions);
            let l: Vec<usize> = (0..4).filter(|&i| c.mgrs[i].is_some()).collect();
            c.check_equal(&l);
            let doc = c.mgrs[l[0]].as_ref().unwrap().cib();
            for name in acked {
                proptest::prop_assert!(has(doc, &name), "acknowledged {} lost", name);
            }
        }

        #[test]
        fn after_any_partitions_all_members_end_equal(
            actions in proptest::collection::vec(action(true), 0..80)
        ) {
            let (c, _) = run(&actions);
            let l: Vec<usize> = (0..4).filter(|&i| c.mgrs[i].is_some()).collect();
            c.check_equal(&l);
            for &i in &l {
                proptest::prop_assert!(!c.mgrs[i].as_ref().unwrap().syncing());
            }
        }
    }
}

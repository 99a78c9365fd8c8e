//! Pacemaker's v2 patchsets (`lib/common/patchset.c`): the difference
//! between two XML documents as `<diff format="2">` with the versions before
//! and after and a list of `create`, `delete`, `modify` and `move` changes
//! addressed by simple XPaths (`/cib/configuration/resources/primitive[@id='x']`).
//!
//! [`Patchset::create`] computes one from two trees and [`Patchset::apply`]
//! applies one exactly as `apply_v2_patchset` does: deletes and attribute
//! changes in order, then creates and moves by ascending position. The patch
//! is applied to a copy, so a refused patch leaves the document untouched.
//!
//! Addressing is by element name and `id`, so siblings that share a name
//! without distinct ids cannot be told apart by a path; where such siblings
//! differ, the patch replaces their parent as a whole (delete + create), so
//! that it still applies to the exact target.

use std::collections::HashMap;

use crate::digest;
use crate::version::{CibVersion, VersionError};
use crate::xml::{CompactString, Element, XmlNode};

/// A change to one attribute, listed in a `modify` change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrChange {
    Set { name: CompactString, value: CompactString },
    Unset { name: CompactString },
}

/// One `<change>` of a v2 patchset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Insert `node` under the element at `path`, at child index `position`.
    Create {
        path: String,
        position: usize,
        node: XmlNode,
    },
    /// Remove the element (or, with `position`, the comment) at `path`.
    Delete { path: String, position: Option<usize> },
    /// Replace the attributes of the element at `path` with `result`'s;
    /// `list` names what changed (informational, as in Pacemaker).
    Modify {
        path: String,
        list: Vec<AttrChange>,
        result: Vec<(CompactString, CompactString)>,
    },
    /// Move the element at `path` to child index `position`.
    Move { path: String, position: usize },
}

impl Change {
    pub fn operation(&self) -> &'static str {
        match self {
            Change::Create { .. } => "create",
            Change::Delete { .. } => "delete",
            Change::Modify { .. } => "modify",
            Change::Move { .. } => "move",
        }
    }

    pub fn path(&self) -> &str {
        match self {
            Change::Create { path, .. }
            | Change::Delete { path, .. }
            | Change::Modify { path, .. }
            | Change::Move { path, .. } => path,
        }
    }
}

/// A v2 patchset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patchset {
    /// The version the patch applies to and the version it produces
    /// (`<version><source/><target/></version>`); `None` when the patch
    /// was made without versions (`crm_diff --no-version`).
    pub versions: Option<(CibVersion, CibVersion)>,
    /// The CIB digest of the result (`digest` attribute), checked after
    /// applying when present.
    pub digest: Option<String>,
    pub changes: Vec<Change>,
}

/// Why a patchset could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiffError {
    #[error("cannot diff <{source_name}> against <{target_name}>: the roots must have the same name and id")]
    DifferentRoots { source_name: String, target_name: String },
    #[error("cannot diff: children of the root <{root}> cannot be addressed by name and id")]
    AmbiguousRoot { root: String },
    #[error(transparent)]
    Version(#[from] VersionError),
}

/// Why a patchset was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatchError {
    #[error("malformed patchset: <{element}> attribute '{attribute}': {message}")]
    Attribute {
        element: String,
        attribute: String,
        message: String,
    },
    #[error("malformed patchset: <{element}>: {message}")]
    Element { element: String, message: String },
    #[error("malformed patchset: {0}")]
    Version(#[from] VersionError),
    #[error("patch is for CIB version {from} but the current version is {current}, which is older: the CIB must be resynchronised first")]
    VersionTooLow {
        current: CibVersion,
        from: CibVersion,
        to: CibVersion,
    },
    #[error("patch is for CIB version {from} but the current version is {current}, which is newer: the patch is old")]
    VersionTooHigh {
        current: CibVersion,
        from: CibVersion,
        to: CibVersion,
    },
    #[error("patch does not advance the CIB version ({from} -> {to})")]
    VersionUnchanged { from: CibVersion, to: CibVersion },
    #[error("patch change {index} ({operation} {path}): no such element")]
    NoMatch {
        index: usize,
        operation: &'static str,
        path: String,
    },
    #[error("patch change {index} (move {path}): moved to position {actual} instead of {position}")]
    MoveFailed {
        index: usize,
        path: String,
        position: usize,
        actual: usize,
    },
    #[error("patch applied, but the result's digest {calculated} is not the patch's {expected}")]
    DigestMismatch { expected: String, calculated: String },
}

fn attr_err(element: &str, attribute: &str, message: impl Into<String>) -> PatchError {
    PatchError::Attribute {
        element: element.to_string(),
        attribute: attribute.to_string(),
        message: message.into(),
    }
}

impl Patchset {
    /// The patchset turning `source` into `target` (`xml_calculate_changes`
    /// then `xml_create_patchset`, format 2), with their versions; `None`
    /// when they are equal. Versions are taken as they are (a missing
    /// attribute counts as 1, as Pacemaker writes it); see
    /// [`crate::document::CibDocument::commit`] for the bump.
    pub fn create(source: &Element, target: &Element) -> Result<Option<Patchset>, DiffError> {
        if source.name != target.name || source.attr("id") != target.attr("id") {
            return Err(DiffError::DifferentRoots {
                source_name: source.name.to_string(),
                target_name: target.name.to_string(),
            });
        }
        let source = normalized(source);
        let target = normalized(target);
        if source == target {
            return Ok(None);
        }
        if needs_replace(&source, &target) {
            return Err(DiffError::AmbiguousRoot {
                root: source.name.into(),
            });
        }
        let path = element_path("", &target);
        let mut changes = Vec::new();
        collect_deletes(&source, &target, &path, &mut changes);
        collect_additions(&source, &target, &path, &mut changes);
        Ok(Some(Patchset {
            versions: Some((version_or_one(&source)?, version_or_one(&target)?)),
            digest: None,
            changes,
        }))
    }

    /// Adds the digest of `target` (the document the patch produces), as
    /// `patchset_process_digest` does with the source's feature set.
    pub fn with_digest(mut self, source: &Element, target: &Element) -> Self {
        self.digest = Some(digest::cib_digest(&normalized(target), source.attr("crm_feature_set")));
        self
    }

    /// Applies the patch to `doc` (`xml_apply_patchset`). With
    /// `check_version`, the document's version must equal the patch's
    /// source and the patch must advance it. On any error `doc` is left
    /// unchanged.
    pub fn apply(&self, doc: &mut Element, check_version: bool) -> Result<(), PatchError> {
        if check_version {
            self.check_version(CibVersion::of(doc)?)?;
        }
        let mut arena = Arena::from_element(doc);
        arena.apply(&self.changes)?;
        let result = arena.to_element();
        if let Some(expected) = &self.digest {
            let calculated = digest::cib_digest(&result, result.attr("crm_feature_set"));
            if !calculated.eq_ignore_ascii_case(expected) {
                return Err(PatchError::DigestMismatch {
                    expected: expected.clone(),
                    calculated,
                });
            }
        }
        *doc = result;
        Ok(())
    }

    /// `xml_patch_version_check`: the current version must be the patch's
    /// source, and the target must be newer in some field.
    pub fn check_version(&self, current: CibVersion) -> Result<(), PatchError> {
        let (source, target) = self.versions.unwrap_or((
            current,
            CibVersion::new(current.admin_epoch, current.epoch, current.num_updates + 1),
        ));
        let fields = |v: CibVersion| [v.admin_epoch, v.epoch, v.num_updates];
        for (c, s) in fields(current).into_iter().zip(fields(source)) {
            if c < s {
                return Err(PatchError::VersionTooLow {
                    current,
                    from: source,
                    to: target,
                });
            } else if c > s {
                return Err(PatchError::VersionTooHigh {
                    current,
                    from: source,
                    to: target,
                });
            }
        }
        if !fields(target).into_iter().zip(fields(source)).any(|(t, s)| t > s) {
            return Err(PatchError::VersionUnchanged {
                from: source,
                to: target,
            });
        }
        Ok(())
    }

    /// The `<diff format="2">` element.
    pub fn to_element(&self) -> Element {
        let mut diff = Element::new("diff");
        diff.set_attr("format", "2");
        if let Some(d) = &self.digest {
            diff.set_attr("digest", d.clone());
        }
        if let Some((source, target)) = self.versions {
            let mut version = Element::new("version");
            for (name, v) in [("source", source), ("target", target)] {
                let mut e = Element::new(name);
                v.write_to(&mut e);
                version.push(e);
            }
            diff.push(version);
        }
        for change in &self.changes {
            let mut c = Element::new("change");
            c.set_attr("operation", change.operation());
            c.set_attr("path", change.path());
            match change {
                Change::Create { position, node, .. } => {
                    c.set_attr("position", position.to_string());
                    c.children.push(node.clone());
                }
                Change::Delete { position, .. } => {
                    if let Some(p) = position {
                        c.set_attr("position", p.to_string());
                    }
                }
                Change::Modify { list, result, path } => {
                    let mut l = Element::new("change-list");
                    for a in list {
                        let mut e = Element::new("change-attr");
                        match a {
                            AttrChange::Set { name, value } => {
                                e.set_attr("name", name.clone());
                                e.set_attr("operation", "set");
                                e.set_attr("value", value.clone());
                            }
                            AttrChange::Unset { name } => {
                                e.set_attr("name", name.clone());
                                e.set_attr("operation", "unset");
                            }
                        }
                        l.push(e);
                    }
                    c.push(l);
                    let mut r = Element::new("change-result");
                    let mut res = Element::new(last_component_name(path));
                    res.attrs = result.clone();
                    r.push(res);
                    c.push(r);
                }
                Change::Move { position, .. } => c.set_attr("position", position.to_string()),
            }
            diff.push(c);
        }
        diff
    }

    /// The patchset as XML text (`crm_diff` output can be read back with
    /// [`Patchset::parse`], and ours by `crm_diff --patch`).
    pub fn to_xml_string(&self) -> String {
        self.to_element().to_xml_string()
    }

    pub fn parse(text: &str) -> Result<Patchset, PatchError> {
        let e = Element::parse(text).map_err(|err| PatchError::Element {
            element: "diff".into(),
            message: err.to_string(),
        })?;
        Patchset::from_element(&e)
    }

    /// Reads a `<diff format="2">`, refusing what cannot be applied with
    /// the element and attribute named.
    pub fn from_element(diff: &Element) -> Result<Patchset, PatchError> {
        if diff.name != "diff" {
            return Err(PatchError::Element {
                element: diff.name.to_string(),
                message: "a patchset's root must be <diff>".into(),
            });
        }
        match diff.attr("format") {
            Some("2") | Some("2.0") => {}
            Some(other) => {
                return Err(attr_err(
                    "diff",
                    "format",
                    format!("unsupported format '{other}' (only 2)"),
                ))
            }
            None => {
                return Err(attr_err(
                    "diff",
                    "format",
                    "missing (format 1 patchsets are not supported)",
                ))
            }
        }
        let versions = match diff.child("version") {
            None => None,
            Some(v) => {
                let get = |name: &str| -> Result<CibVersion, PatchError> {
                    let e = v.child(name).ok_or_else(|| PatchError::Element {
                        element: "version".into(),
                        message: format!("missing <{name}>"),
                    })?;
                    Ok(CibVersion::of_required(e)?)
                };
                Some((get("source")?, get("target")?))
            }
        };
        let mut changes = Vec::new();
        for c in diff.elements().filter(|e| e.name != "version") {
            if c.name != "change" {
                return Err(PatchError::Element {
                    element: c.name.to_string(),
                    message: "unexpected element in <diff>".into(),
                });
            }
            changes.push(parse_change(c)?);
        }
        Ok(Patchset {
            versions,
            digest: diff.attr("digest").map(str::to_string),
            changes,
        })
    }
}

fn parse_position(c: &Element, required: bool) -> Result<Option<usize>, PatchError> {
    let op = c.attr("operation").unwrap_or("");
    match c.attr("position") {
        None if required => Err(attr_err("change", "position", format!("missing for operation '{op}'"))),
        None => Ok(None),
        Some(p) => match p.trim().parse::<i64>() {
            Ok(n) if n >= 0 => Ok(Some(n as usize)),
            Ok(_) if !required => Ok(None),
            _ => Err(attr_err("change", "position", format!("'{p}' is not a position"))),
        },
    }
}

fn parse_change(c: &Element) -> Result<Change, PatchError> {
    let op = c
        .attr("operation")
        .ok_or_else(|| attr_err("change", "operation", "missing"))?;
    let path = c.attr("path").ok_or_else(|| attr_err("change", "path", "missing"))?;
    parse_path(path).ok_or_else(|| attr_err("change", "path", format!("'{path}' is not a patchset path")))?;
    let path = path.to_string();
    Ok(match op {
        "create" => {
            let nodes: Vec<&XmlNode> = c
                .children
                .iter()
                .filter(|n| !matches!(n, XmlNode::Text(t) if t.trim().is_empty()))
                .collect();
            let node = match nodes.as_slice() {
                [n @ (XmlNode::Element(_) | XmlNode::Comment(_))] => match n {
                    XmlNode::Element(e) => XmlNode::Element(normalized(e)),
                    other => (*other).clone(),
                },
                _ => {
                    return Err(PatchError::Element {
                        element: "change".into(),
                        message: format!("create {path}: must hold exactly one element or comment to create"),
                    })
                }
            };
            Change::Create {
                position: parse_position(c, true)?.unwrap_or(0),
                path,
                node,
            }
        }
        "delete" => Change::Delete {
            position: parse_position(c, false)?,
            path,
        },
        "move" => Change::Move {
            position: parse_position(c, true)?.unwrap_or(0),
            path,
        },
        "modify" => {
            let result = c
                .child("change-result")
                .and_then(|r| r.elements().next())
                .ok_or_else(|| PatchError::Element {
                    element: "change".into(),
                    message: format!("modify {path}: missing <change-result> with the element's attributes"),
                })?;
            let mut list = Vec::new();
            if let Some(l) = c.child("change-list") {
                for a in l.elements() {
                    if a.name != "change-attr" {
                        return Err(PatchError::Element {
                            element: a.name.to_string(),
                            message: "unexpected element in <change-list>".into(),
                        });
                    }
                    let name: CompactString = a
                        .attr("name")
                        .ok_or_else(|| attr_err("change-attr", "name", "missing"))?
                        .into();
                    list.push(match a.attr("operation") {
                        Some("set") => AttrChange::Set {
                            value: a
                                .attr("value")
                                .ok_or_else(|| {
                                    attr_err("change-attr", "value", format!("missing for set of '{name}'"))
                                })?
                                .into(),
                            name,
                        },
                        Some("unset") => AttrChange::Unset { name },
                        Some(other) => {
                            return Err(attr_err(
                                "change-attr",
                                "operation",
                                format!("unknown operation '{other}' (set or unset)"),
                            ))
                        }
                        None => return Err(attr_err("change-attr", "operation", "missing")),
                    });
                }
            }
            Change::Modify {
                path,
                list,
                result: result.attrs.clone(),
            }
        }
        other => {
            return Err(attr_err(
                "change",
                "operation",
                format!("unknown operation '{other}' (create, delete, modify or move)"),
            ))
        }
    })
}

/// A path's components: element name and optional id
/// (`/NAME[@id='ID']/...`, as `search_v2_xpath` reads them).
fn parse_path(path: &str) -> Option<Vec<(&str, Option<&str>)>> {
    let rest = path.strip_prefix('/')?;
    rest.split('/')
        .map(|section| {
            let (tag, id) = match section.find('[') {
                None => (section, None),
                Some(i) => {
                    let id = section[i..].strip_prefix("[@id='")?.strip_suffix("']")?;
                    if id.contains('\'') {
                        return None;
                    }
                    (&section[..i], Some(id))
                }
            };
            (!tag.is_empty()).then_some((tag, id))
        })
        .collect()
}

fn last_component_name(path: &str) -> &str {
    let last = path.rsplit('/').next().unwrap_or(path);
    last.split('[').next().unwrap_or(last)
}

/// Version attributes as `xml_create_patchset_v2` writes them: a missing
/// one is "1".
fn version_or_one(e: &Element) -> Result<CibVersion, VersionError> {
    let mut copy = Element::new(e.name.clone());
    for name in crate::version::VERSION_FIELDS {
        copy.set_attr(name, e.attr(name).unwrap_or("1"));
    }
    CibVersion::of(&copy)
}

/// A copy without blank text nodes (Pacemaker parses without them, and
/// positions count every child).
pub fn normalized(e: &Element) -> Element {
    Element {
        name: e.name.clone(),
        attrs: e.attrs.clone(),
        children: e
            .children
            .iter()
            .filter_map(|c| match c {
                XmlNode::Element(child) => Some(XmlNode::Element(normalized(child))),
                XmlNode::Text(t) if t.trim().is_empty() => None,
                other => Some(other.clone()),
            })
            .collect(),
    }
}

// ---- creating ----

/// How a child is found again by path: its element name and id, or
/// "comment".
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key<'a> {
    Element(&'a str, Option<&'a str>),
    Comment,
}

fn key(node: &XmlNode) -> Option<Key<'_>> {
    match node {
        XmlNode::Element(e) => Some(Key::Element(&e.name, e.attr("id"))),
        XmlNode::Comment(_) => Some(Key::Comment),
        XmlNode::Text(_) => None,
    }
}

/// True when every child can be found by its path alone: names usable in a
/// path, ids distinct per name, an element without id the only one of its
/// name, at most one comment, no text.
fn addressable(children: &[XmlNode]) -> bool {
    let mut by_name: HashMap<&str, Vec<Option<&str>>> = HashMap::new();
    let mut comments = 0;
    for c in children {
        match c {
            XmlNode::Text(_) => return false,
            XmlNode::Comment(_) => comments += 1,
            XmlNode::Element(e) => {
                let id = e.attr("id");
                if e.name.is_empty()
                    || e.name.contains(['/', '[', '\''])
                    || id.is_some_and(|i| i.contains(['/', '\'', ']']))
                {
                    return false;
                }
                by_name.entry(&e.name).or_default().push(id);
            }
        }
    }
    if comments > 1 {
        return false;
    }
    by_name.values().all(|ids| {
        if ids.len() == 1 {
            return true;
        }
        if ids.iter().any(Option::is_none) {
            return false;
        }
        let mut sorted: Vec<_> = ids.clone();
        sorted.sort_unstable();
        sorted.windows(2).all(|w| w[0] != w[1])
    })
}

/// An element whose children differ but cannot be addressed one by one is
/// replaced as a whole.
fn needs_replace(old: &Element, new: &Element) -> bool {
    old.children != new.children && !(addressable(&old.children) && addressable(&new.children))
}

fn element_path(parent: &str, e: &Element) -> String {
    match e.attr("id") {
        Some(id) => format!("{parent}/{}[@id='{id}']", e.name),
        None => format!("{parent}/{}", e.name),
    }
}

fn node_path(parent: &str, n: &XmlNode) -> String {
    match n {
        XmlNode::Element(e) => element_path(parent, e),
        _ => format!("{parent}/comment"),
    }
}

/// For each old child, the index of its match among the new children.
fn match_children(old: &Element, new: &Element) -> Vec<Option<usize>> {
    let mut index: HashMap<Key<'_>, usize> = HashMap::new();
    for (i, c) in new.children.iter().enumerate() {
        if let Some(k) = key(c) {
            index.entry(k).or_insert(i);
        }
    }
    old.children
        .iter()
        .map(|c| {
            let j = *index.get(&key(c)?)?;
            match (c, &new.children[j]) {
                (XmlNode::Comment(a), XmlNode::Comment(b)) if a != b => None,
                _ => Some(j),
            }
        })
        .collect()
}

/// Whether a matched pair is replaced rather than patched inside.
fn pair_replaced(old: &XmlNode, new: &XmlNode) -> bool {
    match (old, new) {
        (XmlNode::Element(a), XmlNode::Element(b)) => needs_replace(a, b),
        _ => false,
    }
}

fn collect_deletes(old: &Element, new: &Element, path: &str, out: &mut Vec<Change>) {
    if old == new {
        return;
    }
    let matches = match_children(old, new);
    let mut deleted_before = 0;
    for (i, (child, m)) in old.children.iter().zip(&matches).enumerate() {
        let replaced = m.is_some_and(|j| pair_replaced(child, &new.children[j]));
        match (m, child) {
            (Some(j), XmlNode::Element(o)) if !replaced => {
                if let XmlNode::Element(n) = &new.children[*j] {
                    collect_deletes(o, n, &element_path(path, o), out);
                }
            }
            (Some(_), _) if !replaced => {}
            _ => {
                let position = matches!(child, XmlNode::Comment(_)).then_some(i - deleted_before);
                out.push(Change::Delete {
                    path: node_path(path, child),
                    position,
                });
                deleted_before += 1;
            }
        }
    }
}

fn attr_changes(old: &Element, new: &Element) -> Option<Change> {
    if old.attrs == new.attrs {
        return None;
    }
    // Relative order of the attributes both have, to report moved ones.
    let common_old: Vec<&str> = old
        .attrs
        .iter()
        .filter(|(k, _)| new.attr(k).is_some())
        .map(|(k, _)| k.as_str())
        .collect();
    let common_new: Vec<&str> = new
        .attrs
        .iter()
        .filter(|(k, _)| old.attr(k).is_some())
        .map(|(k, _)| k.as_str())
        .collect();
    let mut list = Vec::new();
    let mut ci = 0;
    for (k, v) in &new.attrs {
        let moved = match old.attr(k) {
            Some(_) => {
                let m = common_old.get(ci) != Some(&k.as_str());
                ci += 1;
                m
            }
            None => false,
        };
        if old.attr(k) != Some(v.as_str()) || moved {
            list.push(AttrChange::Set {
                name: k.clone(),
                value: v.clone(),
            });
        }
    }
    debug_assert_eq!(ci, common_new.len());
    for (k, _) in &old.attrs {
        if new.attr(k).is_none() {
            list.push(AttrChange::Unset { name: k.clone() });
        }
    }
    Some(Change::Modify {
        path: String::new(),
        list,
        result: new.attrs.clone(),
    })
}

/// Indices (into `seq`) of one longest strictly increasing subsequence.
fn longest_increasing(seq: &[usize]) -> Vec<usize> {
    let mut tails: Vec<usize> = Vec::new(); // indices into seq
    let mut prev = vec![usize::MAX; seq.len()];
    for i in 0..seq.len() {
        let pos = tails.partition_point(|&t| seq[t] < seq[i]);
        if pos > 0 {
            prev[i] = tails[pos - 1];
        }
        if pos == tails.len() {
            tails.push(i);
        } else {
            tails[pos] = i;
        }
    }
    let mut out = Vec::new();
    let mut cur = tails.last().copied();
    while let Some(i) = cur {
        out.push(i);
        cur = (prev[i] != usize::MAX).then_some(prev[i]);
    }
    out.reverse();
    out
}

fn collect_additions(old: &Element, new: &Element, path: &str, out: &mut Vec<Change>) {
    if old == new {
        return;
    }
    if let Some(Change::Modify { list, result, .. }) = attr_changes(old, new) {
        out.push(Change::Modify {
            path: path.to_string(),
            list,
            result,
        });
    }
    let matches = match_children(old, new);
    // new index -> old index, for pairs patched in place
    let mut old_of_new: Vec<Option<usize>> = vec![None; new.children.len()];
    for (i, m) in matches.iter().enumerate() {
        if let Some(j) = *m {
            if !pair_replaced(&old.children[i], &new.children[j]) {
                old_of_new[j] = Some(i);
            }
        }
    }
    let kept: Vec<(usize, usize)> = old_of_new
        .iter()
        .enumerate()
        .filter_map(|(j, o)| o.map(|i| (j, i)))
        .collect();
    let olds: Vec<usize> = kept.iter().map(|&(_, i)| i).collect();
    let mut stationary = vec![false; new.children.len()];
    for k in longest_increasing(&olds) {
        stationary[kept[k].0] = true;
    }
    for (j, child) in new.children.iter().enumerate() {
        match old_of_new[j] {
            None => {
                if !matches!(child, XmlNode::Text(_)) {
                    out.push(Change::Create {
                        path: path.to_string(),
                        position: j,
                        node: child.clone(),
                    });
                }
            }
            Some(i) => {
                if let (XmlNode::Element(o), XmlNode::Element(n)) = (&old.children[i], child) {
                    collect_additions(o, n, &element_path(path, n), out);
                }
                if !stationary[j] {
                    out.push(Change::Move {
                        path: node_path(path, child),
                        position: j,
                    });
                }
            }
        }
    }
}

// ---- applying ----

#[derive(Debug, Clone)]
enum Content {
    Element {
        name: CompactString,
        attrs: Vec<(CompactString, CompactString)>,
    },
    Text(String),
    Comment(String),
}

/// The document as nodes with stable ids, so that changes found in the
/// first pass can be carried out in the second, as Pacemaker keeps node
/// pointers.
struct Arena {
    content: Vec<Content>,
    children: Vec<Vec<usize>>,
    parent: Vec<Option<usize>>,
}

impl Arena {
    fn from_element(e: &Element) -> Arena {
        let mut a = Arena {
            content: Vec::new(),
            children: Vec::new(),
            parent: Vec::new(),
        };
        a.add_element(e, None);
        a
    }

    fn add_node(&mut self, n: &XmlNode, parent: Option<usize>) -> Option<usize> {
        match n {
            XmlNode::Element(e) => Some(self.add_element(e, parent)),
            XmlNode::Text(t) if t.trim().is_empty() => None,
            XmlNode::Text(t) => Some(self.push(Content::Text(t.clone()), parent)),
            XmlNode::Comment(t) => Some(self.push(Content::Comment(t.clone()), parent)),
        }
    }

    fn push(&mut self, c: Content, parent: Option<usize>) -> usize {
        self.content.push(c);
        self.children.push(Vec::new());
        self.parent.push(parent);
        self.content.len() - 1
    }

    fn add_element(&mut self, e: &Element, parent: Option<usize>) -> usize {
        let id = self.push(
            Content::Element {
                name: e.name.clone(),
                attrs: e.attrs.clone(),
            },
            parent,
        );
        for c in &e.children {
            if let Some(cid) = self.add_node(c, Some(id)) {
                self.children[id].push(cid);
            }
        }
        id
    }

    fn to_element(&self) -> Element {
        match self.to_node(0) {
            XmlNode::Element(e) => e,
            _ => unreachable!("the root is an element"),
        }
    }

    fn to_node(&self, id: usize) -> XmlNode {
        match &self.content[id] {
            Content::Element { name, attrs } => XmlNode::Element(Element {
                name: name.clone(),
                attrs: attrs.clone(),
                children: self.children[id].iter().map(|&c| self.to_node(c)).collect(),
            }),
            Content::Text(t) => XmlNode::Text(t.clone()),
            Content::Comment(t) => XmlNode::Comment(t.clone()),
        }
    }

    fn matches(&self, id: usize, tag: &str, want_id: Option<&str>) -> bool {
        match &self.content[id] {
            Content::Element { name, attrs } => {
                name == tag && want_id.is_none_or(|w| attrs.iter().any(|(k, v)| k == "id" && v == w))
            }
            Content::Comment(_) => tag == "comment" && want_id.is_none(),
            Content::Text(_) => tag == "text" && want_id.is_none(),
        }
    }

    fn position(&self, id: usize) -> usize {
        let p = self.parent[id].expect("not the root");
        self.children[p]
            .iter()
            .position(|&c| c == id)
            .expect("child of its parent")
    }

    /// `search_v2_xpath`: the first matching child at each step; the
    /// position applies to a comment at the last step.
    fn search(&self, path: &str, position: Option<usize>) -> Option<usize> {
        let comps = parse_path(path)?;
        let (&(tag, id), rest) = comps.split_first()?;
        if !self.matches(0, tag, id) {
            return None;
        }
        let mut cur = 0;
        for (k, &(tag, id)) in rest.iter().enumerate() {
            let last = k + 1 == rest.len();
            cur = self.children[cur].iter().enumerate().find_map(|(i, &c)| {
                let pos_ok =
                    !(last && matches!(self.content[c], Content::Comment(_))) || position.is_none_or(|p| p == i);
                (self.matches(c, tag, id) && pos_ok).then_some(c)
            })?;
        }
        Some(cur)
    }

    fn detach(&mut self, id: usize) {
        if let Some(p) = self.parent[id] {
            self.children[p].retain(|&c| c != id);
        }
    }

    fn apply(&mut self, changes: &[Change]) -> Result<(), PatchError> {
        let mut deferred: Vec<(usize, &Change, usize)> = Vec::new();
        for (index, change) in changes.iter().enumerate() {
            let position = match change {
                Change::Delete { position, .. } => *position,
                _ => None,
            };
            let found = self.search(change.path(), position);
            let Some(m) = found else {
                if matches!(change, Change::Delete { .. }) {
                    continue;
                }
                return Err(PatchError::NoMatch {
                    index,
                    operation: change.operation(),
                    path: change.path().to_string(),
                });
            };
            match change {
                Change::Create { .. } => deferred.push((index, change, m)),
                Change::Move { .. } => {
                    if let Some(p) = self.parent[m] {
                        self.detach(m);
                        self.children[p].push(m);
                    }
                    deferred.push((index, change, m));
                }
                Change::Delete { .. } => {
                    if m == 0 {
                        return Err(PatchError::Element {
                            element: "change".into(),
                            message: format!("delete {}: cannot delete the root", change.path()),
                        });
                    }
                    self.detach(m);
                    self.parent[m] = None;
                }
                Change::Modify { result, .. } => match &mut self.content[m] {
                    Content::Element { attrs, .. } => *attrs = result.clone(),
                    _ => {
                        return Err(PatchError::NoMatch {
                            index,
                            operation: "modify",
                            path: change.path().to_string(),
                        })
                    }
                },
            }
        }
        let pos_of = |c: &Change| match c {
            Change::Create { position, .. } | Change::Move { position, .. } => *position,
            _ => 0,
        };
        deferred.sort_by_key(|&(_, c, _)| pos_of(c)); // stable, as g_list_sort
        for (index, change, m) in deferred {
            match change {
                Change::Create { position, node, .. } => {
                    let Some(new) = self.add_node(node, Some(m)) else {
                        continue;
                    };
                    let kids = &mut self.children[m];
                    let at = (*position).min(kids.len());
                    kids.insert(at, new);
                }
                Change::Move { position, path } => {
                    let Some(p) = self.parent[m] else {
                        return Err(PatchError::NoMatch {
                            index,
                            operation: "move",
                            path: path.clone(),
                        });
                    };
                    let cur = self.position(m);
                    if *position != cur {
                        let mut target = *position;
                        if target > cur {
                            target += 1;
                        }
                        let before = self.children[p].get(target).copied();
                        self.detach(m);
                        match before {
                            Some(b) => {
                                let at = self.children[p].iter().position(|&c| c == b).expect("sibling");
                                self.children[p].insert(at, m);
                            }
                            None => self.children[p].push(m),
                        }
                    }
                    let actual = self.position(m);
                    if actual != *position {
                        return Err(PatchError::MoveFailed {
                            index,
                            path: path.clone(),
                            position: *position,
                            actual,
                        });
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;

//! A mutable CIB document: the `<cib>` tree a CIB manager edits, versions,
//! diffs and patches, and writes back as XML Pacemaker reads.
//!
//! [`CibDocument::commit`] is what a CIB manager does with an update: it
//! bumps the version as Pacemaker does (a change under `/cib/configuration`
//! → `epoch + 1, num_updates = 0`; anything else → `num_updates + 1`) and
//! returns the v2 patchset to broadcast; peers [`CibDocument::apply`] it,
//! which refuses a patch made for another version.

use crate::digest;
use crate::patchset::{normalized, DiffError, PatchError, Patchset};
use crate::version::{CibVersion, VersionError};
use crate::xml::{Element, XmlError};

/// Why a document could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error(transparent)]
    Xml(#[from] XmlError),
    #[error("not a CIB: the root element is <{0}>, not <cib>")]
    NotCib(String),
    #[error("invalid CIB version: {0}")]
    Version(#[from] VersionError),
}

/// A CIB as an editable tree (blank text removed, as Pacemaker parses it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CibDocument {
    root: Element,
}

impl CibDocument {
    pub fn parse(text: &str) -> Result<CibDocument, DocumentError> {
        CibDocument::from_element(Element::parse(text)?)
    }

    pub fn from_element(root: Element) -> Result<CibDocument, DocumentError> {
        if root.name != "cib" {
            return Err(DocumentError::NotCib(root.name.into()));
        }
        CibVersion::of(&root)?;
        Ok(CibDocument {
            root: normalized(&root),
        })
    }

    /// An empty CIB as `createEmptyCib` makes it: the given epoch,
    /// `admin_epoch` and `num_updates` 0, empty sections.
    pub fn empty(epoch: u64) -> CibDocument {
        let mut root = Element::new("cib");
        root.set_attr("crm_feature_set", "3.16.1");
        root.set_attr("validate-with", "pacemaker-3.9");
        CibVersion::new(0, epoch, 0).write_to(&mut root);
        let mut config = Element::new("configuration");
        for section in ["crm_config", "nodes", "resources", "constraints"] {
            config.push(Element::new(section));
        }
        root.push(config);
        root.push(Element::new("status"));
        CibDocument { root }
    }

    pub fn root(&self) -> &Element {
        &self.root
    }

    /// The tree, to edit; call [`CibDocument::commit`] with the edited copy
    /// to get the version bump and the patchset.
    pub fn root_mut(&mut self) -> &mut Element {
        &mut self.root
    }

    pub fn into_element(self) -> Element {
        self.root
    }

    pub fn version(&self) -> CibVersion {
        CibVersion::of(&self.root).unwrap_or_default()
    }

    pub fn set_version(&mut self, v: CibVersion) {
        v.write_to(&mut self.root);
    }

    /// The digest Pacemaker puts in patchsets for this document.
    pub fn digest(&self) -> String {
        digest::cib_digest(&self.root, self.root.attr("crm_feature_set"))
    }

    /// The XML text (indented; libxml2 and so Pacemaker read it back).
    pub fn to_xml(&self) -> String {
        self.root.to_xml_string()
    }

    /// The element at a patchset path (`/cib/configuration/nodes/node[@id='1']`).
    pub fn find(&self, path: &str) -> Option<&Element> {
        let mut comps = path.strip_prefix('/')?.split('/');
        let first = comps.next()?;
        if !component_matches(&self.root, first)? {
            return None;
        }
        let mut cur = &self.root;
        for c in comps {
            let mut found = None;
            for e in cur.elements() {
                if component_matches(e, c)? {
                    found = Some(e);
                    break;
                }
            }
            cur = found?;
        }
        Some(cur)
    }

    /// Whether `new` differs from `self` under `/cib/configuration`
    /// (`is_config_change`).
    pub fn is_config_change(&self, new: &CibDocument) -> bool {
        self.root.child("configuration") != new.root.child("configuration")
    }

    /// The patchset from `self` to `new`, versions as they are.
    pub fn diff(&self, new: &CibDocument) -> Result<Option<Patchset>, DiffError> {
        Patchset::create(&self.root, &new.root)
    }

    /// Accepts `new` as the next version of `self`: sets its version from
    /// `self`'s, bumped for a configuration change or a status change, and
    /// returns it with the patchset (with digest) that turns `self` into it;
    /// `None` when nothing changed.
    pub fn commit(&self, mut new: CibDocument) -> Result<Option<(CibDocument, Patchset)>, DiffError> {
        new.root = normalized(&new.root);
        let mut unchanged = new.clone();
        unchanged.set_version(self.version());
        if unchanged.root == self.root {
            return Ok(None);
        }
        let config = self.is_config_change(&new);
        new.set_version(self.version().bumped(config));
        let patch = match Patchset::create(&self.root, &new.root)? {
            Some(p) => p.with_digest(&self.root, &new.root),
            None => return Ok(None),
        };
        Ok(Some((new, patch)))
    }

    /// Applies a patchset made for this version (checked), leaving the
    /// document unchanged when it is refused.
    pub fn apply(&mut self, patch: &Patchset) -> Result<(), PatchError> {
        patch.apply(&mut self.root, true)
    }
}

/// Whether `e` matches one path component `NAME` or `NAME[@id='ID']`;
/// `None` when the component is malformed.
fn component_matches(e: &Element, comp: &str) -> Option<bool> {
    Some(match comp.find('[') {
        None => e.name == comp,
        Some(i) => {
            let id = comp[i..].strip_prefix("[@id='")?.strip_suffix("']")?;
            e.name == comp[..i] && e.attr("id") == Some(id)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CIB: &str = r#"<cib admin_epoch="0" epoch="5" num_updates="2" crm_feature_set="3.16.1">
  <configuration>
    <crm_config/>
    <nodes><node id="1" uname="node1"/></nodes>
    <resources/>
    <constraints/>
  </configuration>
  <status><node_state id="1" uname="node1" crmd="online"/></status>
</cib>"#;

    #[test]
    fn config_change_bumps_epoch_and_status_change_num_updates() {
        let doc = CibDocument::parse(CIB).unwrap();
        assert_eq!(doc.version(), CibVersion::new(0, 5, 2));
        assert_eq!(
            doc.find("/cib/configuration/nodes/node[@id='1']")
                .unwrap()
                .attr("uname"),
            Some("node1")
        );
        assert!(doc.find("/cib/configuration/nodes/node[@id='2']").is_none());
        assert!(doc.find("/cib/status/node_state[@id=1]").is_none());

        let mut edited = doc.clone();
        let nodes = edited
            .root_mut()
            .child_mut("configuration")
            .unwrap()
            .child_mut("nodes")
            .unwrap();
        let mut n2 = Element::new("node");
        n2.set_attr("id", "2");
        n2.set_attr("uname", "node2");
        nodes.push(n2);
        let (next, patch) = doc.commit(edited).unwrap().unwrap();
        assert_eq!(next.version(), CibVersion::new(0, 6, 0));
        assert_eq!(
            patch.versions,
            Some((CibVersion::new(0, 5, 2), CibVersion::new(0, 6, 0)))
        );
        assert_eq!(patch.digest.as_deref(), Some(next.digest().as_str()));
        let mut peer = doc.clone();
        peer.apply(&patch).unwrap();
        assert_eq!(peer, next);
        // The same patch again: the peer is now newer than its source.
        assert!(matches!(peer.apply(&patch), Err(PatchError::VersionTooHigh { .. })));

        let mut status = next.clone();
        status
            .root_mut()
            .child_mut("status")
            .unwrap()
            .child_mut("node_state")
            .unwrap()
            .set_attr("crmd", "offline");
        let (after, patch2) = next.commit(status).unwrap().unwrap();
        assert_eq!(after.version(), CibVersion::new(0, 6, 1));
        // A peer still at 0.5.2 is too old for it.
        let mut old = doc.clone();
        let err = old.apply(&patch2).unwrap_err();
        assert!(matches!(err, PatchError::VersionTooLow { .. }), "{err}");
        assert!(
            err.to_string().contains("0.6.0") && err.to_string().contains("0.5.2"),
            "{err}"
        );
        assert_eq!(old, doc, "a refused patch leaves the document unchanged");

        assert!(after.commit(after.clone()).unwrap().is_none());
    }

    #[test]
    fn empty_cib_and_refusals() {
        let e = CibDocument::empty(0);
        assert_eq!(e.version(), CibVersion::new(0, 0, 0));
        assert!(e.find("/cib/configuration/resources").is_some());
        assert!(CibDocument::parse(&e.to_xml()).unwrap() == e);
        assert!(matches!(CibDocument::parse("<diff/>"), Err(DocumentError::NotCib(_))));
        let err = CibDocument::parse(r#"<cib epoch="x"/>"#).unwrap_err();
        assert!(err.to_string().contains("'epoch'"), "{err}");
    }
}

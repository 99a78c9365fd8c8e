//! The CIB version: `admin_epoch`, `epoch`, `num_updates` on `<cib>`,
//! compared in that order (the newest wins), as Pacemaker compares them.

use std::fmt;

use crate::xml::Element;

/// The three version attributes, in comparison order.
pub const VERSION_FIELDS: [&str; 3] = ["admin_epoch", "epoch", "num_updates"];

/// A CIB version. The derived order is lexicographic over
/// (admin_epoch, epoch, num_updates): greater is newer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct CibVersion {
    pub admin_epoch: u64,
    pub epoch: u64,
    pub num_updates: u64,
}

/// A version attribute that is not an integer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("<{element}> attribute '{attribute}': '{value}' is not an integer")]
pub struct VersionError {
    pub element: String,
    pub attribute: String,
    pub value: String,
}

impl CibVersion {
    pub fn new(admin_epoch: u64, epoch: u64, num_updates: u64) -> Self {
        CibVersion {
            admin_epoch,
            epoch,
            num_updates,
        }
    }

    /// The version on an element (`<cib>`, or a patchset's `<source>` /
    /// `<target>`). A missing attribute counts as 0 and a negative one as
    /// 0, as `xml_patch_version_check` does; anything else that is not an
    /// integer is an error naming the attribute.
    pub fn of(e: &Element) -> Result<Self, VersionError> {
        let mut v = [0u64; 3];
        for (slot, name) in v.iter_mut().zip(VERSION_FIELDS) {
            if let Some(text) = e.attr(name) {
                let n: i64 = text.trim().parse().map_err(|_| VersionError {
                    element: e.name.to_string(),
                    attribute: name.to_string(),
                    value: text.to_string(),
                })?;
                *slot = n.max(0) as u64;
            }
        }
        Ok(CibVersion::new(v[0], v[1], v[2]))
    }

    /// Like [`CibVersion::of`], but every attribute must be present.
    pub fn of_required(e: &Element) -> Result<Self, VersionError> {
        for name in VERSION_FIELDS {
            if e.attr(name).is_none() {
                return Err(VersionError {
                    element: e.name.to_string(),
                    attribute: name.to_string(),
                    value: String::new(),
                });
            }
        }
        Self::of(e)
    }

    /// Writes the three attributes (replacing existing ones in place).
    pub fn write_to(&self, e: &mut Element) {
        e.set_attr("admin_epoch", self.admin_epoch.to_string());
        e.set_attr("epoch", self.epoch.to_string());
        e.set_attr("num_updates", self.num_updates.to_string());
    }

    /// The version after a change: a configuration change bumps `epoch` and
    /// resets `num_updates`, any other change bumps `num_updates`
    /// (`xml_create_patchset` with version management).
    pub fn bumped(&self, config_changed: bool) -> Self {
        if config_changed {
            CibVersion::new(self.admin_epoch, self.epoch + 1, 0)
        } else {
            CibVersion::new(self.admin_epoch, self.epoch, self.num_updates + 1)
        }
    }
}

impl fmt::Display for CibVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.admin_epoch, self.epoch, self.num_updates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_wins_field_by_field() {
        let v = CibVersion::new;
        assert!(v(1, 0, 0) > v(0, 99, 99));
        assert!(v(0, 2, 0) > v(0, 1, 50));
        assert!(v(0, 1, 2) > v(0, 1, 1));
        assert_eq!(v(0, 1, 1).max(v(0, 1, 2)), v(0, 1, 2));
        assert_eq!(v(3, 4, 5).to_string(), "3.4.5");
    }

    #[test]
    fn read_and_bump() {
        let e = Element::parse(r#"<cib epoch="7" num_updates="3"/>"#).unwrap();
        let v = CibVersion::of(&e).unwrap();
        assert_eq!(v, CibVersion::new(0, 7, 3));
        assert_eq!(v.bumped(true), CibVersion::new(0, 8, 0));
        assert_eq!(v.bumped(false), CibVersion::new(0, 7, 4));
        assert_eq!(CibVersion::of_required(&e).unwrap_err().attribute, "admin_epoch");
        let bad = Element::parse(r#"<source admin_epoch="0" epoch="x" num_updates="1"/>"#).unwrap();
        let err = CibVersion::of(&bad).unwrap_err();
        assert_eq!(err.to_string(), "<source> attribute 'epoch': 'x' is not an integer");
        let mut w = Element::new("cib");
        v.bumped(true).write_to(&mut w);
        assert_eq!(CibVersion::of(&w).unwrap(), CibVersion::new(0, 8, 0));
    }
}

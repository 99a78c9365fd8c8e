//! The CIB on disk, as Pacemaker's `pacemaker-based` keeps it
//! (`cib_file_write_with_digest`, `based_io.c`): `<dir>/cib.xml` and its
//! digest `<dir>/cib.xml.sig`, the written copy without the status section and
//! with `num_updates="0"`. Each write is atomic (temporary file, fsync, rename,
//! directory fsync; mode 0600) and first keeps the previous copy as
//! `cib-<n>.raw` (+ `.sig`), the last [`CibStore::keep`] of them.
//!
//! Reading falls back to the newest backup whose digest matches when `cib.xml`
//! is missing, unreadable or does not match its `.sig`, and to an empty CIB
//! when none is valid. This module does I/O; the state machines only ask for a
//! write (`cib_manager::Output::Persist`).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use cib::digest::on_disk_digest;
use cib::document::CibDocument;
use cib::version::CibVersion;
use cib::xml::Element;
use thiserror::Error;
use tracing::warn;

/// The file Pacemaker reads.
pub const CIB_FILE: &str = "cib.xml";
/// Its digest.
pub const SIG_FILE: &str = "cib.xml.sig";
/// Backups kept by default.
pub const KEEP_DEFAULT: u32 = 10;
const LAST_FILE: &str = "cib.last";

/// Why the CIB could not be written.
#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path} was written but reads back differently")]
    Verify { path: PathBuf },
}

/// Where the loaded CIB came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Current,
    /// `cib-<n>.raw`, because `cib.xml` was missing or bad.
    Backup(u32),
    /// Nothing valid on disk.
    Empty,
}

/// A CIB directory.
#[derive(Debug, Clone)]
pub struct CibStore {
    dir: PathBuf,
    keep: u32,
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StoreError {
    let path = path.to_path_buf();
    move |source| StoreError::Io { op, path, source }
}

/// The copy written to disk: no status, `num_updates` 0.
pub fn disk_form(doc: &CibDocument) -> Element {
    let mut root = doc.root().clone();
    root.children
        .retain(|c| !matches!(c, cib::xml::XmlNode::Element(e) if e.name == "status"));
    let v = doc.version();
    CibVersion::new(v.admin_epoch, v.epoch, 0).write_to(&mut root);
    root
}

impl CibStore {
    /// A store in `dir` keeping `keep` backups (at least 1).
    pub fn new(dir: impl Into<PathBuf>, keep: u32) -> CibStore {
        CibStore {
            dir: dir.into(),
            keep: keep.max(1),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn backup_name(n: u32) -> String {
        format!("cib-{n}.raw")
    }

    /// The numbers of the backups present, oldest first.
    fn backups(&self) -> Vec<u32> {
        let mut ns: Vec<u32> = match fs::read_dir(&self.dir) {
            Ok(rd) => rd
                .filter_map(|e| e.ok())
                .filter_map(|e| {
                    let name = e.file_name().into_string().ok()?;
                    name.strip_prefix("cib-")?.strip_suffix(".raw")?.parse().ok()
                })
                .collect(),
            Err(_) => Vec::new(),
        };
        ns.sort_unstable();
        ns
    }

    /// Writes `doc` (its disk form) atomically, keeping the previous copy as a backup.
    pub fn save(&self, doc: &CibDocument) -> Result<(), StoreError> {
        fs::create_dir_all(&self.dir).map_err(io_err("create", &self.dir))?;
        let cur = self.path(CIB_FILE);
        let sig = self.path(SIG_FILE);
        if cur.exists() {
            let n = self.backups().last().map_or(1, |n| n + 1);
            let raw = self.path(&Self::backup_name(n));
            fs::copy(&cur, &raw).map_err(io_err("back up", &raw))?;
            if sig.exists() {
                let raw_sig = self.path(&format!("{}.sig", Self::backup_name(n)));
                fs::copy(&sig, &raw_sig).map_err(io_err("back up", &raw_sig))?;
            }
            let last = self.path(LAST_FILE);
            self.write_atomic(&last, n.to_string().as_bytes())?;
            let ns = self.backups();
            let excess = ns.len().saturating_sub(self.keep as usize);
            for n in &ns[..excess] {
                for name in [Self::backup_name(*n), format!("{}.sig", Self::backup_name(*n))] {
                    let p = self.path(&name);
                    if let Err(e) = fs::remove_file(&p) {
                        if e.kind() != io::ErrorKind::NotFound {
                            return Err(io_err("remove", &p)(e));
                        }
                    }
                }
            }
        }
        let root = disk_form(doc);
        let text = root.to_xml_string();
        let digest = on_disk_digest(&root);
        // The digest first: a crash between the two renames leaves a .sig that
        // does not match, so the reader falls back to the backup just made.
        self.write_atomic(&sig, digest.as_bytes())?;
        self.write_atomic(&cur, text.as_bytes())?;
        let back = fs::read_to_string(&cur).map_err(io_err("read back", &cur))?;
        if back != text {
            return Err(StoreError::Verify { path: cur });
        }
        Ok(())
    }

    fn write_atomic(&self, path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("cib");
        let tmp = self.path(&format!(".{name}.tmp"));
        {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(io_err("create", &tmp))?;
            f.write_all(bytes).map_err(io_err("write", &tmp))?;
            f.sync_all().map_err(io_err("fsync", &tmp))?;
        }
        fs::rename(&tmp, path).map_err(io_err("rename", path))?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err("fsync", &self.dir))
    }

    /// A file's CIB when its `.sig` matches, with an empty status.
    fn read_valid(&self, xml: &str, sig: &str) -> Option<CibDocument> {
        let text = fs::read_to_string(self.path(xml)).ok()?;
        let want = fs::read_to_string(self.path(sig)).ok()?;
        let root = Element::parse(&text).ok()?;
        if on_disk_digest(&root) != want.trim() {
            warn!(file = xml, "CIB digest does not match its .sig");
            return None;
        }
        let mut doc = CibDocument::from_element(root).ok()?;
        let r = doc.root_mut();
        r.remove_attr("dc-uuid");
        r.children
            .retain(|c| !matches!(c, cib::xml::XmlNode::Element(e) if e.name == "status"));
        r.push(Element::new("status"));
        Some(doc)
    }

    /// The stored CIB: `cib.xml` if valid, else the newest valid backup, else empty.
    pub fn load(&self) -> (CibDocument, Source) {
        if let Some(doc) = self.read_valid(CIB_FILE, SIG_FILE) {
            return (doc, Source::Current);
        }
        for n in self.backups().into_iter().rev() {
            let raw = Self::backup_name(n);
            if let Some(doc) = self.read_valid(&raw, &format!("{raw}.sig")) {
                warn!(backup = %raw, "cib.xml missing or invalid: using a backup");
                return (doc, Source::Backup(n));
            }
        }
        (CibDocument::empty(0), Source::Empty)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn tmpdir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("crmd-cib-store-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        d
    }

    fn with_epoch(epoch: u64, resource: &str) -> CibDocument {
        let mut doc = CibDocument::empty(epoch);
        let mut p = Element::new("primitive");
        p.set_attr("id", resource);
        doc.root_mut()
            .child_mut("configuration")
            .unwrap()
            .child_mut("resources")
            .unwrap()
            .push(p);
        let mut ns = Element::new("node_state");
        ns.set_attr("id", "1");
        doc.root_mut().child_mut("status").unwrap().push(ns);
        doc.set_version(CibVersion::new(0, epoch, 7));
        doc
    }

    #[test]
    fn round_trip_without_status_and_mode_0600() {
        let dir = tmpdir("rt");
        let store = CibStore::new(&dir, KEEP_DEFAULT);
        assert_eq!(store.load().1, Source::Empty);
        let doc = with_epoch(3, "a");
        store.save(&doc).unwrap();
        let (back, src) = store.load();
        assert_eq!(src, Source::Current);
        assert_eq!(back.version(), CibVersion::new(0, 3, 0));
        assert!(back.find("/cib/configuration/resources/primitive[@id='a']").is_some());
        assert_eq!(back.root().child("status").unwrap().elements().count(), 0);
        let sig = fs::read_to_string(dir.join(SIG_FILE)).unwrap();
        assert_eq!(sig.trim(), on_disk_digest(&disk_form(&doc)));
        for f in [CIB_FILE, SIG_FILE] {
            let mode = fs::metadata(dir.join(f)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{f}");
        }
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn altered_or_missing_file_falls_back_to_newest_good_backup() {
        let dir = tmpdir("fb");
        let store = CibStore::new(&dir, 3);
        for e in 1..=6 {
            store.save(&with_epoch(e, &format!("r{e}"))).unwrap();
        }
        assert_eq!(store.backups().len(), 3, "only the last 3 backups are kept");
        // Torn write: cib.xml truncated.
        let cur = dir.join(CIB_FILE);
        let text = fs::read_to_string(&cur).unwrap();
        fs::write(&cur, &text[..text.len() / 2]).unwrap();
        let (doc, src) = store.load();
        assert_eq!(src, Source::Backup(5));
        assert_eq!(doc.version().epoch, 5);
        // The newest backup altered too: the one before it.
        let raw5 = dir.join("cib-5.raw");
        let t5 = fs::read_to_string(&raw5).unwrap();
        fs::write(&raw5, t5.replace("r5", "rX")).unwrap();
        let (doc, src) = store.load();
        assert_eq!(src, Source::Backup(4));
        assert!(doc.find("/cib/configuration/resources/primitive[@id='r4']").is_some());
        // cib.xml missing altogether.
        fs::remove_file(&cur).unwrap();
        assert_eq!(store.load().1, Source::Backup(4));
        // Nothing valid: empty.
        for n in store.backups() {
            fs::remove_file(dir.join(format!("cib-{n}.raw.sig"))).unwrap();
        }
        let (doc, src) = store.load();
        assert_eq!(src, Source::Empty);
        assert_eq!(doc, CibDocument::empty(0));
        fs::remove_dir_all(&dir).unwrap();
    }
}

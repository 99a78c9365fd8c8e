//! Ring seq persistence, as corosync's `<statedir>/ringid_<nodeid>`: 8 bytes, native-endian
//! u64, mode 0600. A restarted node must start above every ring it was part of, or peers
//! would take its new ring for an old one.

use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

pub fn path(state_dir: &Path, nodeid: u32) -> PathBuf {
    state_dir.join(format!("ringid_{nodeid}"))
}

/// The stored seq; 0 when the file is missing or short (corosync then starts from 0 too).
pub fn load(state_dir: &Path, nodeid: u32) -> io::Result<u64> {
    load_u64(&path(state_dir, nodeid))
}

/// A u64 stored by [`store_u64`]; 0 when the file is missing or short.
pub fn load_u64(path: &Path) -> io::Result<u64> {
    match std::fs::read(path) {
        Ok(bytes) if bytes.len() >= 8 => {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[..8]);
            Ok(u64::from_ne_bytes(b))
        }
        Ok(_) => Ok(0),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e),
    }
}

/// Writes and syncs `seq`; the caller must not go on if this fails. Atomic: the new
/// value goes to a temporary file that is synced and renamed over the old one (then the
/// directory is synced), so a crash or a full disk mid-write leaves the old value, never
/// a torn file that would load as 0.
pub fn store(state_dir: &Path, nodeid: u32, seq: u64) -> io::Result<()> {
    store_u64(state_dir, &format!("ringid_{nodeid}"), seq)
}

/// Writes `<state_dir>/<name>` durably and atomically (temporary file, sync, rename,
/// directory sync), mode 0600.
pub fn store_u64(state_dir: &Path, name: &str, value: u64) -> io::Result<()> {
    let target = state_dir.join(name);
    let tmp = state_dir.join(format!("{name}.tmp"));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(&value.to_ne_bytes())?;
    f.sync_data()?;
    drop(f);
    std::fs::rename(&tmp, &target)?;
    std::fs::File::open(state_dir)?.sync_all()
}

/// File of the crypto nonce counter's high-water mark (see `transport::crypto`).
pub fn crypto_counter_name(nodeid: u32) -> String {
    format!("crypto_counter_{nodeid}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn round_trip_with_mode_0600() {
        let dir = std::env::temp_dir().join(format!("ferrosync-ringid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(load(&dir, 3).unwrap(), 0);
        store(&dir, 3, 0x1234).unwrap();
        assert_eq!(load(&dir, 3).unwrap(), 0x1234);
        let meta = std::fs::metadata(path(&dir, 3)).unwrap();
        assert_eq!(meta.len(), 8);
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert!(!dir.join("ringid_3.tmp").exists(), "the temporary file is renamed away");
        std::fs::write(path(&dir, 3), [1, 2]).unwrap();
        assert_eq!(load(&dir, 3).unwrap(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_failed_store_leaves_the_old_value() {
        let dir = std::env::temp_dir().join(format!("ferrosync-ringid-torn-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        store(&dir, 4, 0x20).unwrap();
        // The write cannot happen (its temporary file's name is taken by a directory).
        std::fs::create_dir_all(dir.join("ringid_4.tmp")).unwrap();
        assert!(store(&dir, 4, 0x24).is_err());
        assert_eq!(load(&dir, 4).unwrap(), 0x20, "never torn, never 0");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

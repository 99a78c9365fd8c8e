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
    match std::fs::read(path(state_dir, nodeid)) {
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

/// Writes and syncs `seq`; the caller must not go on if this fails.
pub fn store(state_dir: &Path, nodeid: u32, seq: u64) -> io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path(state_dir, nodeid))?;
    f.write_all(&seq.to_ne_bytes())?;
    f.sync_data()
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
        std::fs::write(path(&dir, 3), [1, 2]).unwrap();
        assert_eq!(load(&dir, 3).unwrap(), 0);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! The status file `<statedir>/status.json`: the daemon's own view (membership, ring id,
//! state, links, counters), replaced atomically on every membership or state change and
//! once a second. The process tests and the namespace scripts read it; operators use
//! `ferrosync status`, which asks the daemon over IPC. It holds no configuration keys.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// File name inside the state directory.
pub const FILE_NAME: &str = "status.json";

pub fn path(state_dir: &Path) -> PathBuf {
    state_dir.join(FILE_NAME)
}

/// What one status snapshot reports.
pub struct Snapshot<'a> {
    pub node_id: u32,
    pub cluster_name: &'a str,
    pub pid: u32,
    pub state: &'a str,
    pub ring_id: totem::RingId,
    pub members: &'a [u32],
    pub uptime_ms: u64,
    /// Monotonic ms (since daemon start) of the last regular configuration, and how many.
    pub last_membership_ms: Option<u64>,
    pub membership_changes: u64,
    pub links: Vec<Value>,
    /// Whether datagrams are sealed, and how many were refused.
    pub crypto: Value,
    /// Test load figures (`FERROSYNC_TEST_LOAD`), `null` when off.
    pub load: Value,
}

impl Snapshot<'_> {
    pub fn to_json(&self) -> Value {
        let updated_unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        json!({
            "node_id": self.node_id,
            "cluster_name": self.cluster_name,
            "pid": self.pid,
            "state": self.state,
            "ring_id": { "rep": self.ring_id.rep, "seq": self.ring_id.seq, "text": self.ring_id.to_string() },
            "members": self.members,
            "uptime_ms": self.uptime_ms,
            "last_membership_ms": self.last_membership_ms,
            "membership_changes": self.membership_changes,
            "links": self.links,
            "crypto": self.crypto,
            "load": self.load,
            "updated_unix_ms": updated_unix_ms,
        })
    }
}

/// Replaces the status file atomically (write a temporary file, then rename), so a reader
/// never sees a half-written file.
pub fn write(state_dir: &Path, status: &Value) -> std::io::Result<()> {
    let tmp = state_dir.join(".status.json.tmp");
    {
        // One write: serde_json on a bare file would issue a system call per token.
        let mut text = serde_json::to_vec_pretty(status)?;
        text.push(b'\n');
        owner_only(&tmp)?.write_all(&text)?;
    }
    std::fs::rename(tmp, path(state_dir))
}

/// Creates (truncating) `path` readable and writable by its owner only (0600).
pub fn owner_only(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    // A file left by an older version keeps its mode on open: set it.
    f.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    Ok(f)
}

/// Reads a status file (for the CLI and tests).
pub fn read(state_dir: &Path) -> std::io::Result<Value> {
    let text = std::fs::read_to_string(path(state_dir))?;
    serde_json::from_str(&text).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

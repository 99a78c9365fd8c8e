//! The status file `<statedir>/status.json`: the daemon's own view (membership, ring id,
//! state, links, counters), replaced atomically when anything it reports changes —
//! checked once a second; traffic counters and uptime alone refresh it only every
//! [`MAX_AGE`], so that an idle node does not write (and journal) a file every second.
//! The process tests and the namespace scripts read it; operators use `ferrosync
//! status`, which asks the daemon over IPC. It holds no configuration keys.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

/// File name inside the state directory.
pub const FILE_NAME: &str = "status.json";

/// Longest time the file goes unwritten while only traffic counters and uptime move.
pub const MAX_AGE: std::time::Duration = std::time::Duration::from_secs(10);

/// What of a status decides whether it is worth a rewrite: everything but the fields
/// that move all the time (uptime, the write time, packet and byte counts of links).
pub fn significant(status: &Value) -> Value {
    let mut v = status.clone();
    if let Some(o) = v.as_object_mut() {
        o.remove("uptime_ms");
        o.remove("updated_unix_ms");
    }
    if let Some(links) = v.get_mut("links").and_then(Value::as_array_mut) {
        for l in links.iter_mut().filter_map(Value::as_object_mut) {
            for k in ["tx_packets", "tx_bytes", "rx_packets", "rx_bytes"] {
                l.remove(k);
            }
        }
    }
    v
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traffic_counters_and_uptime_are_not_significant() {
        let a = json!({"state": "OPERATIONAL", "uptime_ms": 5, "updated_unix_ms": 9, "members": [1, 2],
            "links": [{"up": true, "tx_packets": 10, "rx_bytes": 99, "fault_dropped": 0}]});
        let mut b = a.clone();
        b["uptime_ms"] = json!(6000);
        b["updated_unix_ms"] = json!(10_000);
        b["links"][0]["tx_packets"] = json!(11);
        b["links"][0]["rx_bytes"] = json!(150);
        assert_eq!(significant(&a), significant(&b));
        for (k, v) in [("state", json!("GATHER")), ("members", json!([1]))] {
            let mut c = a.clone();
            c[k] = v;
            assert_ne!(significant(&a), significant(&c), "{k}");
        }
        let mut c = a.clone();
        c["links"][0]["up"] = json!(false);
        assert_ne!(significant(&a), significant(&c));
        c = a.clone();
        c["links"][0]["fault_dropped"] = json!(1);
        assert_ne!(significant(&a), significant(&c));
    }
}

//! Server side of one SHM connection's files: the `qb-<srvpid>-<clipid>-<fd>-XXXXXX`
//! directory and its three rings, removed again when the session is dropped.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::listener::Credentials;
use crate::ring::Ring;
use crate::wire::RING_NAME_MAX;

/// The per-connection directory and rings (request, response, event).
#[derive(Debug)]
pub struct ShmSession {
    dir: PathBuf,
    names: [String; 3],
    pub request: Ring,
    pub response: Ring,
    pub event: Ring,
}

impl ShmSession {
    /// Creates the directory (mode 0770, owned by the client) and the rings (mode 0600,
    /// owned by the client; `chown` is skipped when `chown` is false, for unprivileged
    /// servers serving their own uid).
    pub fn create(
        shm_dir: &Path,
        creds: Credentials,
        fd: i32,
        service: &str,
        max_msg_size: usize,
        chown: bool,
    ) -> io::Result<Self> {
        let template = shm_dir.join(format!("qb-{}-{}-{}-XXXXXX", std::process::id(), creds.pid, fd));
        let dir = nix::unistd::mkdtemp(&template)?;
        let result = (|| {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o770))?;
            let owner = chown.then_some((creds.uid, creds.gid));
            if let Some((uid, gid)) = owner {
                std::os::unix::fs::chown(&dir, Some(uid), Some(gid))?;
            }
            let desc = dir.join("qb");
            let desc = desc
                .to_str()
                .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
            let names = ["request", "response", "event"].map(|kind| format!("{desc}-{kind}-{service}"));
            // libqb copies the names with snprintf(…, NAME_MAX, …) and appends "-header".
            if names.iter().any(|n| n.len() + "-header".len() >= RING_NAME_MAX) {
                return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
            }
            let request = Ring::create(&names[0], max_msg_size, owner)?;
            let response = Ring::create(&names[1], max_msg_size, owner)?;
            let event = Ring::create(&names[2], max_msg_size, owner)?;
            Ok((names, request, response, event))
        })();
        match result {
            Ok((names, request, response, event)) => Ok(Self {
                dir,
                names,
                request,
                response,
                event,
            }),
            Err(e) => {
                remove_dir_contents(&dir);
                Err(e)
            }
        }
    }

    /// Base names of the request, response and event rings, for the handshake response.
    pub fn names(&self) -> &[String; 3] {
        &self.names
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn remove_dir_contents(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let _ = std::fs::remove_file(e.path());
        }
    }
    if let Err(e) = std::fs::remove_dir(dir) {
        tracing::warn!(dir = %dir.display(), error = %e, "could not remove IPC connection directory");
    }
}

impl Drop for ShmSession {
    fn drop(&mut self) {
        for ring in [&self.request, &self.response, &self.event] {
            for p in ring.paths() {
                let _ = std::fs::remove_file(p);
            }
        }
        // The client can add files to its own directory (it owns it): remove everything.
        remove_dir_contents(&self.dir);
    }
}

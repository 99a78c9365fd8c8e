//! The pid file, held by an fcntl write lock for the daemon's whole life (as corosync
//! does): a second ferrosyncd finds the lock taken and refuses to start, while a file
//! left by a killed daemon — whose pid may since belong to a zombie or to any other
//! process — is simply taken over, because the kernel dropped the lock with its owner.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg};
use nix::libc;

/// Why the pid file could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum PidFileError {
    #[error("{path}: another ferrosyncd (pid {pid}) holds its lock")]
    Held { path: PathBuf, pid: String },
    #[error("pid file {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
}

/// A locked pid file naming this process; removed (then unlocked) on drop.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    file: File,
}

impl PidFile {
    pub fn acquire(path: &Path) -> Result<Self, PidFileError> {
        let io_err = |source| PidFileError::Io {
            path: path.to_owned(),
            source,
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(path)
            .map_err(io_err)?;
        let lock = libc::flock {
            l_type: libc::F_WRLCK as libc::c_short,
            l_whence: libc::SEEK_SET as libc::c_short,
            l_start: 0,
            l_len: 0,
            l_pid: 0,
        };
        match fcntl(file.as_raw_fd(), FcntlArg::F_SETLK(&lock)) {
            Ok(_) => {}
            Err(Errno::EACCES | Errno::EAGAIN) => {
                let mut pid = String::new();
                let _ = file.read_to_string(&mut pid);
                return Err(PidFileError::Held {
                    path: path.to_owned(),
                    pid: pid.trim().to_owned(),
                });
            }
            Err(e) => return Err(io_err(e.into())),
        }
        file.set_len(0).map_err(io_err)?;
        file.write_all(format!("{}\n", std::process::id()).as_bytes())
            .map_err(io_err)?;
        file.sync_all().map_err(io_err)?;
        Ok(PidFile {
            path: path.to_owned(),
            file,
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        // Removed while still locked, so no other daemon can have taken it meanwhile.
        let _ = std::fs::remove_file(&self.path);
        let _ = &self.file;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_naming_a_live_unrelated_process_is_taken_over() {
        let dir = std::env::temp_dir().join(format!("ferrosync-pidfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ferrosyncd.pid");
        // pid 1 is always alive: the check before issue 13 refused to start here.
        std::fs::write(&path, "1\n").unwrap();
        let held = PidFile::acquire(&path).unwrap();
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            format!("{}\n", std::process::id())
        );
        drop(held);
        assert!(!path.exists(), "removed on exit");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

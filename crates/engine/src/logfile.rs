//! The daemon's log file (`logging.logfile`), reopenable: log rotation moves the file
//! away and then asks the daemon to write to a new one — SIGHUP or `corosync-cfgtool -L`
//! (cfg REOPEN_LOG_FILES), as with corosync.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

static LOG_FILE: Mutex<Option<(PathBuf, File)>> = Mutex::new(None);

fn open_append(path: &Path) -> std::io::Result<File> {
    std::fs::OpenOptions::new().create(true).append(true).open(path)
}

/// Opens `path` for appending; log lines go there from now on.
pub fn open(path: &Path) -> std::io::Result<()> {
    let f = open_append(path)?;
    if let Ok(mut g) = LOG_FILE.lock() {
        *g = Some((path.to_owned(), f));
    }
    Ok(())
}

/// Opens the log file again by its name (after rotation). Without a log file, nothing.
pub fn reopen() -> std::io::Result<()> {
    let Ok(mut g) = LOG_FILE.lock() else {
        return Ok(());
    };
    if let Some((path, file)) = g.as_mut() {
        *file = open_append(path)?;
    }
    Ok(())
}

/// Appends one formatted line (ignored without a log file; a failing write is dropped:
/// logging never stops the daemon).
pub fn write(buf: &[u8]) {
    if let Ok(mut g) = LOG_FILE.lock() {
        if let Some((_, f)) = g.as_mut() {
            let _ = f.write_all(buf);
        }
    }
}

/// Whether a log file is open.
pub fn is_open() -> bool {
    LOG_FILE.lock().map(|g| g.is_some()).unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reopen_follows_a_rotated_file() {
        let dir = std::env::temp_dir().join(format!("ferrosync-logfile-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("d.log");
        open(&path).unwrap();
        write(b"one\n");
        std::fs::rename(&path, dir.join("d.log.1")).unwrap();
        write(b"two\n");
        reopen().unwrap();
        write(b"three\n");
        assert_eq!(std::fs::read_to_string(dir.join("d.log.1")).unwrap(), "one\ntwo\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "three\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

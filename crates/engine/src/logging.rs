//! ferrosyncd's log sinks — stderr, `logging.logfile`, syslog (`/dev/log`) — and
//! [`reopen`], which SIGHUP (and cfg's "reopen logs") calls after a log rotation.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

use crate::blackbox::BlackboxLayer;
use crate::conf::ClusterConfig;

/// An append-only log file that can be reopened at its path (after logrotate renamed it).
#[derive(Debug)]
pub struct LogFile {
    path: PathBuf,
    file: Mutex<File>,
}

impl LogFile {
    pub fn open(path: &Path) -> io::Result<Self> {
        Ok(LogFile {
            path: path.to_owned(),
            file: Mutex::new(open_append(path)?),
        })
    }

    /// Opens the path again; lines written from now on go to the new file.
    pub fn reopen(&self) -> io::Result<()> {
        let fresh = open_append(&self.path)?;
        *self.file.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
        Ok(())
    }

    fn write_line(&self, buf: &[u8]) {
        if let Ok(mut f) = self.file.lock() {
            let _ = f.write_all(buf);
        }
    }
}

fn open_append(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new().create(true).append(true).open(path)
}

/// The daemon's log file, once [`init`] opened one.
static LOG_FILE: OnceLock<Arc<LogFile>> = OnceLock::new();

/// Reopens the log file (SIGHUP, cfg "reopen logs"). `Ok(false)`: there is none.
pub fn reopen() -> io::Result<bool> {
    match LOG_FILE.get() {
        Some(f) => f.reopen().map(|()| true),
        None => Ok(false),
    }
}

/// Where log lines go: stderr and/or the configured log file and/or syslog.
#[derive(Clone)]
struct Sink {
    stderr: bool,
    file: Option<Arc<LogFile>>,
    /// `/dev/log`, non-blocking: a slow syslog daemon loses lines instead of stalling the loop.
    syslog: Option<Arc<std::os::unix::net::UnixDatagram>>,
}

/// syslog priority (facility daemon) from the level word of a formatted line.
fn syslog_priority(line: &str) -> u8 {
    let head = &line[..line.len().min(48)];
    let severity = if head.contains(" ERROR ") {
        3
    } else if head.contains(" WARN ") {
        4
    } else if head.contains(" DEBUG ") || head.contains(" TRACE ") {
        7
    } else {
        6
    };
    (3 << 3) | severity
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.stderr {
            let _ = io::stderr().write_all(buf);
        }
        if let Some(f) = &self.file {
            f.write_line(buf);
        }
        if let Some(sock) = &self.syslog {
            let line = String::from_utf8_lossy(buf);
            let line = line.trim_end();
            let msg = format!("<{}>ferrosyncd[{}]: {line}", syslog_priority(line), std::process::id());
            let _ = sock.send(msg.as_bytes());
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Installs the global subscriber: the configured sinks at `debug` or info level, and the
/// flight recorder at debug level whatever the configured one.
pub fn init(conf: &ClusterConfig, debug: bool, foreground: bool) {
    let mut file = None;
    if conf.logging.to_logfile {
        if let Some(path) = &conf.logging.logfile {
            match LogFile::open(path) {
                Ok(f) => {
                    let f = Arc::new(f);
                    let _ = LOG_FILE.set(f.clone());
                    file = Some(f);
                }
                Err(e) => eprintln!("ferrosyncd: warning: cannot open log file {}: {e}", path.display()),
            }
        }
    }
    let syslog = if conf.logging.to_syslog {
        let sock = std::os::unix::net::UnixDatagram::unbound()
            .and_then(|s| s.connect("/dev/log").map(|()| s))
            .and_then(|s| s.set_nonblocking(true).map(|()| s));
        match sock {
            Ok(s) => Some(Arc::new(s)),
            Err(e) => {
                eprintln!("ferrosyncd: warning: logging.to_syslog: cannot reach /dev/log: {e}");
                None
            }
        }
    } else {
        None
    };
    let sink = Sink {
        stderr: conf.logging.to_stderr || foreground,
        file,
        syslog,
    };
    let level = if debug { LevelFilter::DEBUG } else { LevelFilter::INFO };
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .with_filter(level);
    tracing_subscriber::registry()
        .with(fmt)
        .with(BlackboxLayer.with_filter(LevelFilter::DEBUG))
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_priority_follows_the_level() {
        assert_eq!(
            syslog_priority("2026-11-23T16:54:49.928597Z  INFO engine::daemon: x"),
            30
        );
        assert_eq!(
            syslog_priority("2026-11-23T16:54:49.928597Z ERROR engine::daemon: x"),
            27
        );
        assert_eq!(
            syslog_priority("2026-11-23T16:54:49.928597Z  WARN engine::daemon: x"),
            28
        );
        assert_eq!(
            syslog_priority("2026-11-23T16:54:49.928597Z DEBUG engine::daemon: x"),
            31
        );
        assert_eq!(syslog_priority(""), 30);
    }

    #[test]
    fn reopen_follows_a_rotation() {
        let dir = std::env::temp_dir().join(format!("ferrosync-logging-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ferrosyncd.log");
        let log = LogFile::open(&path).unwrap();
        log.write_line(b"before\n");
        std::fs::rename(&path, dir.join("ferrosyncd.log.1")).unwrap();
        log.write_line(b"still the old file\n");
        log.reopen().unwrap();
        log.write_line(b"after\n");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "after\n");
        let rotated = std::fs::read_to_string(dir.join("ferrosyncd.log.1")).unwrap();
        assert_eq!(rotated, "before\nstill the old file\n");
        assert!(!reopen().unwrap(), "no daemon log file in this process");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

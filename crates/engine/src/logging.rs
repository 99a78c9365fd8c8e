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

use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::Registry;

use crate::blackbox::BlackboxLayer;
use crate::conf::{ClusterConfig, Logging, Priority, SyslogFacility, Timestamp};

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

/// Where one layer's lines go.
#[derive(Clone)]
enum Sink {
    Stderr,
    File(Arc<LogFile>),
    /// `/dev/log`, non-blocking: a slow syslog daemon loses lines instead of stalling the
    /// loop. The facility is fixed; the severity comes from each line's level.
    Syslog(Arc<std::os::unix::net::UnixDatagram>, SyslogFacility),
}

/// syslog severity from the level word of a formatted line.
fn syslog_severity(line: &str) -> u8 {
    let head = &line[..line.len().min(48)];
    if head.contains("ERROR ") {
        3
    } else if head.contains("WARN ") {
        4
    } else if head.contains("DEBUG ") || head.contains("TRACE ") {
        7
    } else {
        6
    }
}

/// `<PRI>`: facility × 8 + severity.
fn syslog_priority(facility: SyslogFacility, line: &str) -> u8 {
    (facility.0 << 3) | syslog_severity(line)
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Stderr => {
                let _ = io::stderr().write_all(buf);
            }
            Sink::File(f) => f.write_line(buf),
            Sink::Syslog(sock, facility) => {
                let line = String::from_utf8_lossy(buf);
                let line = line.trim_end();
                let msg = format!(
                    "<{}>ferrosyncd[{}]: {line}",
                    syslog_priority(*facility, line),
                    std::process::id()
                );
                let _ = sock.send(msg.as_bytes());
            }
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The tracing level of a corosync.conf priority.
fn level_of(p: Priority) -> LevelFilter {
    match p {
        Priority::Emerg | Priority::Alert | Priority::Crit | Priority::Err => LevelFilter::ERROR,
        Priority::Warning => LevelFilter::WARN,
        Priority::Notice | Priority::Info => LevelFilter::INFO,
        Priority::Debug => LevelFilter::DEBUG,
    }
}

/// The code (tracing targets) behind one of corosync's subsystem names, for
/// `logger_subsys { subsys: CPG; debug: on }`.
pub fn subsys_targets(subsys: &str) -> &'static [&'static str] {
    match subsys.to_ascii_uppercase().as_str() {
        "TOTEM" | "TOTEMSRP" | "TOTEMPG" | "TOTEMUDPU" | "TOTEMKNET" | "KNET" => &["totem", "transport"],
        "MAIN" => &["engine", "ferrosyncd"],
        "CPG" => &["services::cpg"],
        "CMAP" => &["services::cmap"],
        "QUORUM" => &["services::quorum"],
        "VOTEQ" | "VOTEQUORUM" => &["services::votequorum"],
        "CFG" => &["services::cfg"],
        "SYNC" => &["services::sync"],
        "SERV" => &["services"],
        "QB" | "IPC" => &["ipc", "engine::ipc_host"],
        _ => &[],
    }
}

/// What passes a sink: `level` everywhere, debug for the subsystems asked.
fn filter(level: LevelFilter, debug_subsys: &[String]) -> Targets {
    let mut t = Targets::new().with_default(level);
    for s in debug_subsys {
        for target in subsys_targets(s) {
            t = t.with_target(*target, LevelFilter::DEBUG.max(level));
        }
    }
    t
}

/// `timestamp: on`: whole seconds, UTC.
struct Seconds;

impl FormatTime for Seconds {
    fn format_time(&self, w: &mut Writer<'_>) -> std::fmt::Result {
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let text = crate::blackbox::format_time(secs * 1_000_000_000);
        write!(w, "{}", text.split('.').next().unwrap_or(&text))
    }
}

/// One formatting layer for `sink` as `logging {}` says (timestamps, file and line).
fn layer(logging: &Logging, sink: Sink, filter: Targets) -> Box<dyn Layer<Registry> + Send + Sync> {
    let fmt = tracing_subscriber::fmt::layer()
        .with_ansi(false)
        .with_file(logging.fileline)
        .with_line_number(logging.fileline)
        .with_writer(move || sink.clone());
    match logging.timestamp {
        Timestamp::Off => fmt.without_time().with_filter(filter).boxed(),
        Timestamp::Seconds => fmt.with_timer(Seconds).with_filter(filter).boxed(),
        Timestamp::Hires => fmt.with_filter(filter).boxed(),
    }
}

/// Installs the global subscriber: stderr, the log file and syslog each with the levels
/// `logging {}` gives them, and the flight recorder at debug level whatever they are.
pub fn init(conf: &ClusterConfig, debug: bool, foreground: bool) {
    let logging = &conf.logging;
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = Vec::new();
    let normal = if debug { LevelFilter::DEBUG } else { LevelFilter::INFO };
    if logging.to_stderr || foreground {
        layers.push(layer(logging, Sink::Stderr, filter(normal, &logging.debug_subsys)));
    }
    if logging.to_logfile {
        if let Some(path) = &logging.logfile {
            match LogFile::open(path) {
                Ok(f) => {
                    let f = Arc::new(f);
                    let _ = LOG_FILE.set(f.clone());
                    let level = if debug {
                        LevelFilter::DEBUG
                    } else {
                        level_of(logging.logfile_priority)
                    };
                    layers.push(layer(logging, Sink::File(f), filter(level, &logging.debug_subsys)));
                }
                Err(e) => eprintln!("ferrosyncd: warning: cannot open log file {}: {e}", path.display()),
            }
        }
    }
    if logging.to_syslog {
        let sock = std::os::unix::net::UnixDatagram::unbound()
            .and_then(|s| s.connect("/dev/log").map(|()| s))
            .and_then(|s| s.set_nonblocking(true).map(|()| s));
        match sock {
            Ok(s) => layers.push(layer(
                logging,
                Sink::Syslog(Arc::new(s), logging.syslog_facility),
                filter(level_of(logging.syslog_priority), &[]),
            )),
            Err(e) => eprintln!("ferrosyncd: warning: logging.to_syslog: cannot reach /dev/log: {e}"),
        }
    }
    tracing_subscriber::registry()
        .with(layers)
        .with(BlackboxLayer.with_filter(LevelFilter::DEBUG))
        .init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syslog_priority_follows_the_level_and_the_facility() {
        let daemon = SyslogFacility(3);
        assert_eq!(
            syslog_priority(daemon, "2026-11-23T16:54:49.928597Z  INFO engine::daemon: x"),
            30
        );
        assert_eq!(
            syslog_priority(daemon, "2026-11-23T16:54:49.928597Z ERROR engine::daemon: x"),
            27
        );
        assert_eq!(
            syslog_priority(daemon, "2026-11-23T16:54:49.928597Z  WARN engine::daemon: x"),
            28
        );
        assert_eq!(
            syslog_priority(daemon, "2026-11-23T16:54:49.928597Z DEBUG engine::daemon: x"),
            31
        );
        // Without a timestamp the level starts the line.
        assert_eq!(syslog_priority(daemon, "ERROR engine::daemon: x"), 27);
        assert_eq!(
            syslog_priority(SyslogFacility::parse("local5").unwrap(), "WARN x"),
            21 * 8 + 4
        );
        assert_eq!(syslog_priority(daemon, ""), 30);
    }

    #[test]
    fn subsystems_debug_only_their_code() {
        let t = filter(LevelFilter::INFO, &["cpg".to_owned(), "TOTEM".to_owned()]);
        assert!(t.would_enable("services::cpg", &tracing::Level::DEBUG));
        assert!(t.would_enable("totem::srp", &tracing::Level::DEBUG));
        assert!(!t.would_enable("services::cmap", &tracing::Level::DEBUG));
        assert!(t.would_enable("services::cmap", &tracing::Level::INFO));
        assert!(subsys_targets("nonsense").is_empty());
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

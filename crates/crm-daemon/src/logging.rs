//! Logs to stderr, or to a file that SIGHUP reopens (after a log rotation).

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use tracing_subscriber::fmt::MakeWriter;

#[derive(Debug)]
struct LogFile {
    path: PathBuf,
    file: Mutex<File>,
}

static LOG_FILE: OnceLock<Arc<LogFile>> = OnceLock::new();

fn open_append(path: &Path) -> io::Result<File> {
    std::fs::OpenOptions::new().create(true).append(true).open(path)
}

/// Reopens the log file; `Ok(false)` when logging goes to stderr.
pub fn reopen() -> io::Result<bool> {
    match LOG_FILE.get() {
        Some(f) => {
            let fresh = open_append(&f.path)?;
            *f.file.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
            Ok(true)
        }
        None => Ok(false),
    }
}

/// A writer for one line.
pub struct Line(Option<Arc<LogFile>>);

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &self.0 {
            Some(f) => f.file.lock().unwrap_or_else(|e| e.into_inner()).write(buf),
            None => io::stderr().write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[derive(Clone, Copy)]
struct Sink;

impl<'a> MakeWriter<'a> for Sink {
    type Writer = Line;
    fn make_writer(&'a self) -> Line {
        Line(LOG_FILE.get().cloned())
    }
}

/// Sets up logging at `level` (`error`…`trace`), to `file` if given.
pub fn init(level: tracing::Level, file: Option<&Path>) -> io::Result<()> {
    if let Some(path) = file {
        let f = open_append(path)?;
        let _ = LOG_FILE.set(Arc::new(LogFile {
            path: path.to_path_buf(),
            file: Mutex::new(f),
        }));
    }
    let _ = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(Sink)
        .with_ansi(false)
        .with_target(false)
        .try_init();
    Ok(())
}

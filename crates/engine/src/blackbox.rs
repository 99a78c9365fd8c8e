//! The flight recorder: a fixed-size in-memory ring of the most recent log events (debug
//! included, whatever the log level), always on, dumped to `<statedir>/fdata` on SIGUSR2, on
//! panic, and on request; `ferrosync blackbox FILE` reads a dump.
//!
//! Cheap by construction: the ring is allocated once; recording an event formats it into a
//! fixed 256-byte slot (longer messages are cut) under an uncontended mutex — no allocation.
//!
//! Dump format (all integers little-endian): magic `FSBBOX1\n`, u32 record count, then per
//! record: u64 wall-clock ns since the Unix epoch, u8 level (1 error … 5 trace), u16 length,
//! that many UTF-8 bytes.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::Layer;

/// Records kept; with 256-byte slots this is 2 MiB.
pub const CAPACITY: usize = 8192;
const TEXT_MAX: usize = 256 - 8 - 1 - 2;
pub const MAGIC: &[u8; 8] = b"FSBBOX1\n";
/// Name of the dump inside the state directory (as corosync's `fdata`).
pub const DUMP_NAME: &str = "fdata";

#[derive(Clone, Copy)]
struct Slot {
    unix_ns: u64,
    level: u8,
    len: u16,
    text: [u8; TEXT_MAX],
}

const EMPTY: Slot = Slot {
    unix_ns: 0,
    level: 0,
    len: 0,
    text: [0; TEXT_MAX],
};

struct Ring {
    slots: Vec<Slot>,
    next: usize,
    filled: usize,
}

/// The process-wide recorder.
pub struct FlightRecorder {
    ring: Mutex<Ring>,
    dump_path: OnceLock<PathBuf>,
}

static RECORDER: OnceLock<FlightRecorder> = OnceLock::new();

/// The recorder, created on first use.
pub fn recorder() -> &'static FlightRecorder {
    RECORDER.get_or_init(|| FlightRecorder {
        ring: Mutex::new(Ring {
            slots: vec![EMPTY; CAPACITY],
            next: 0,
            filled: 0,
        }),
        dump_path: OnceLock::new(),
    })
}

/// A fixed-capacity `fmt::Write` target that silently cuts at the end (on a char boundary).
struct SlotWriter<'a> {
    buf: &'a mut [u8; TEXT_MAX],
    len: usize,
}

impl std::fmt::Write for SlotWriter<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let room = TEXT_MAX - self.len;
        let mut take = s.len().min(room);
        while !s.is_char_boundary(take) {
            take -= 1;
        }
        self.buf[self.len..self.len + take].copy_from_slice(&s.as_bytes()[..take]);
        self.len += take;
        Ok(())
    }
}

struct FieldWriter<'a, 'b>(&'a mut SlotWriter<'b>);

impl Visit for FieldWriter<'_, '_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            let _ = self.0.write_str(value);
        } else {
            let _ = write!(self.0, " {}={value}", field.name());
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.0, "{value:?}");
        } else {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }
}

fn level_byte(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 1,
        Level::WARN => 2,
        Level::INFO => 3,
        Level::DEBUG => 4,
        Level::TRACE => 5,
    }
}

impl FlightRecorder {
    /// Records one line of text at `level`.
    pub fn record_text(&self, level: u8, text: &str) {
        self.record_with(level, |w| {
            let _ = w.write_str(text);
        });
    }

    fn record_with(&self, level: u8, fill: impl FnOnce(&mut SlotWriter<'_>)) {
        let unix_ns = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let Ok(mut ring) = self.ring.lock() else { return };
        let i = ring.next;
        let slot = &mut ring.slots[i];
        let mut w = SlotWriter {
            buf: &mut slot.text,
            len: 0,
        };
        fill(&mut w);
        let len = w.len as u16;
        slot.len = len;
        slot.unix_ns = unix_ns;
        slot.level = level;
        ring.next = (i + 1) % CAPACITY;
        ring.filled = (ring.filled + 1).min(CAPACITY);
    }

    /// Where [`FlightRecorder::dump`] writes by default (the state directory's `fdata`).
    pub fn set_dump_dir(&self, dir: &Path) {
        let _ = self.dump_path.set(dir.join(DUMP_NAME));
    }

    /// Writes the ring, oldest first, to the configured dump path; returns it.
    pub fn dump(&self) -> std::io::Result<PathBuf> {
        let path = self
            .dump_path
            .get()
            .cloned()
            .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no dump directory set"))?;
        self.dump_to(&path)?;
        Ok(path)
    }

    /// Writes the ring to `path` atomically (temporary file, then rename).
    pub fn dump_to(&self, path: &Path) -> std::io::Result<()> {
        let mut out = Vec::with_capacity(CAPACITY * 64);
        {
            let ring = self
                .ring
                .lock()
                .map_err(|_| std::io::Error::other("recorder poisoned"))?;
            out.extend_from_slice(MAGIC);
            out.extend_from_slice(&(ring.filled as u32).to_le_bytes());
            let start = (ring.next + CAPACITY - ring.filled) % CAPACITY;
            for k in 0..ring.filled {
                let s = &ring.slots[(start + k) % CAPACITY];
                out.extend_from_slice(&s.unix_ns.to_le_bytes());
                out.push(s.level);
                out.extend_from_slice(&s.len.to_le_bytes());
                out.extend_from_slice(&s.text[..usize::from(s.len)]);
            }
        }
        let tmp = path.with_extension("tmp");
        let mut f = crate::status::owner_only(&tmp)?;
        f.write_all(&out)?;
        f.sync_all()?;
        std::fs::rename(tmp, path)
    }
}

/// The `tracing` layer feeding the recorder.
pub struct BlackboxLayer;

impl<S: Subscriber> Layer<S> for BlackboxLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        let meta = event.metadata();
        recorder().record_with(level_byte(meta.level()), |w| {
            let _ = write!(w, "{}: ", meta.target());
            event.record(&mut FieldWriter(w));
        });
    }
}

/// Dumps the recorder when the process panics (after recording the panic itself).
pub fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        recorder().record_text(1, &format!("PANIC: {info}"));
        match recorder().dump() {
            Ok(path) => eprintln!("flight recorder dumped to {}", path.display()),
            Err(e) => eprintln!("flight recorder dump failed: {e}"),
        }
        previous(info);
    }));
}

/// One record of a dump.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record {
    pub unix_ns: u64,
    pub level: u8,
    pub text: String,
}

/// Why a dump could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    #[error("not a ferrosync flight recorder dump (bad magic)")]
    Magic,
    #[error("dump truncated in record {0}")]
    Truncated(usize),
}

/// Parses a dump produced by [`FlightRecorder::dump_to`].
pub fn parse_dump(bytes: &[u8]) -> Result<Vec<Record>, DumpError> {
    let rest = bytes.strip_prefix(MAGIC.as_slice()).ok_or(DumpError::Magic)?;
    let (count, mut rest) = rest.split_first_chunk::<4>().ok_or(DumpError::Truncated(0))?;
    let count = u32::from_le_bytes(*count) as usize;
    let mut records = Vec::with_capacity(count.min(CAPACITY));
    for i in 0..count {
        let (head, tail) = rest.split_first_chunk::<11>().ok_or(DumpError::Truncated(i))?;
        let unix_ns = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
        let level = head[8];
        let len = usize::from(u16::from_le_bytes([head[9], head[10]]));
        let text = tail.get(..len).ok_or(DumpError::Truncated(i))?;
        records.push(Record {
            unix_ns,
            level,
            text: String::from_utf8_lossy(text).into_owned(),
        });
        rest = &tail[len..];
    }
    Ok(records)
}

/// `level` as a word.
pub fn level_name(level: u8) -> &'static str {
    match level {
        1 => "ERROR",
        2 => "WARN",
        3 => "INFO",
        4 => "DEBUG",
        5 => "TRACE",
        _ => "?",
    }
}

/// `unix_ns` as an RFC 3339 UTC timestamp with microseconds.
pub fn format_time(unix_ns: u64) -> String {
    let secs = unix_ns / 1_000_000_000;
    let micros = (unix_ns % 1_000_000_000) / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_keeps_the_newest_and_dump_round_trips() {
        let r = FlightRecorder {
            ring: Mutex::new(Ring {
                slots: vec![EMPTY; CAPACITY],
                next: 0,
                filled: 0,
            }),
            dump_path: OnceLock::new(),
        };
        for i in 0..CAPACITY + 10 {
            r.record_text(4, &format!("event {i}"));
        }
        r.record_text(1, &"é".repeat(400));
        let path = std::env::temp_dir().join(format!("ferrosync-bb-{}", std::process::id()));
        r.dump_to(&path).unwrap();
        let records = parse_dump(&std::fs::read(&path).unwrap()).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(records.len(), CAPACITY);
        assert_eq!(records[0].text, "event 11");
        let last = records.last().unwrap();
        assert_eq!(last.level, 1);
        assert!(
            last.text.len() <= TEXT_MAX && last.text.chars().all(|c| c == 'é'),
            "cut on a char boundary"
        );
        assert!(records[0].unix_ns > 0);
    }

    #[test]
    fn bad_dumps_are_refused() {
        assert!(matches!(parse_dump(b"nonsense"), Err(DumpError::Magic)));
        let mut d = MAGIC.to_vec();
        d.extend_from_slice(&2u32.to_le_bytes());
        d.extend_from_slice(&[0; 11]);
        assert!(matches!(parse_dump(&d), Err(DumpError::Truncated(1))));
    }

    #[test]
    fn time_format() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(format_time(1_795_450_579_934_035_286), "2026-11-23T16:16:19.934035Z");
    }
}

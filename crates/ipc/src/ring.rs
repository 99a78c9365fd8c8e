//! One libqb ring buffer (`lib/ringbuffer.c`): a header file and a data file, shared with
//! the peer process. Chunk format, pointers, magic words and the semaphore as libqb 2.0.
//!
//! The data file is mapped once; a chunk that wraps at the end is copied in two pieces
//! (libqb maps it twice back to back; the bytes in the file are the same).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use thiserror::Error;

use crate::sys::{page_size, SharedMap};

const OFF_WRITE_PT: usize = 0;
const OFF_READ_PT: usize = 4;
const OFF_WORD_SIZE: usize = 8;
const OFF_HDR_PATH: usize = 12;
const OFF_DATA_PATH: usize = 4108;
const PATH_FIELD: usize = 4096;
const OFF_REF_COUNT: usize = 8204;
const OFF_SEM: usize = 8208;
const OFF_USER_DATA: usize = 8240;
/// `sizeof(struct qb_ringbuffer_shared_s)`.
pub const SHARED_HDR_SIZE: usize = 8248;
/// The header file as a server creates it: shared header + a 4-byte flow-control int.
pub const SERVER_HDR_FILE_SIZE: usize = SHARED_HDR_SIZE + 4;

const MAGIC_READY: u32 = 0xA1A1_A1A1;
const MAGIC_DEAD: u32 = 0xD0D0_D0D0;
const MAGIC_ALLOC: u32 = 0xA110_CED0;
/// `QB_RB_CHUNK_MARGIN`: chunk header words plus one word of slack, in bytes.
pub const CHUNK_MARGIN: usize = 12;

/// Size of a ring's data file for `max_msg_size`: libqb's formula, which the client
/// recomputes on its own, so it must be identical: `roundup(max + 12 + 1, page)`.
pub fn data_size(max_msg_size: usize) -> usize {
    let page = page_size();
    (max_msg_size + CHUNK_MARGIN + 1).div_ceil(page) * page
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum RingError {
    #[error("ring full")]
    Full,
    #[error("message of {len} bytes exceeds the ring's maximum {max}")]
    TooLarge { len: usize, max: usize },
    #[error("ring corrupt: {0}")]
    Corrupt(&'static str),
    #[error("ring file truncated by the peer (SIGBUS caught)")]
    Faulted,
}

/// A mapped ring (either side).
#[derive(Debug)]
pub struct Ring {
    hdr: SharedMap,
    data: SharedMap,
    words: u32,
    /// Largest payload accepted on write or read.
    max_msg_size: usize,
    hdr_path: PathBuf,
    data_path: PathBuf,
    user_data: bool,
    creator: bool,
}

fn create_file(path: &Path, len: usize, owner: Option<(u32, u32)>) -> io::Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::fchown(&f, Some(uid), Some(gid))?;
    }
    f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    f.set_len(len as u64)?;
    Ok(f)
}

fn path_bytes(p: &Path) -> io::Result<&[u8]> {
    let b = p.as_os_str().as_encoded_bytes();
    if b.len() >= PATH_FIELD {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    Ok(b)
}

impl Ring {
    /// Creates `<base>-header` and `<base>-data` (`O_EXCL`, mode 0600, owned by `owner`
    /// when given), initialises the header (ref_count 1, semaphore, flow control 0).
    pub fn create(base: &str, max_msg_size: usize, owner: Option<(u32, u32)>) -> io::Result<Self> {
        let hdr_path = PathBuf::from(format!("{base}-header"));
        let data_path = PathBuf::from(format!("{base}-data"));
        let size = data_size(max_msg_size);
        let words = u32::try_from(size / 4).map_err(|_| io::Error::from_raw_os_error(libc::EFBIG))?;
        let result = (|| {
            let hf = create_file(&hdr_path, SERVER_HDR_FILE_SIZE, owner)?;
            let df = create_file(&data_path, size, owner)?;
            let hdr = SharedMap::map(&hf, SERVER_HDR_FILE_SIZE)?;
            let data = SharedMap::map(&df, size)?;
            hdr.store_u32(OFF_WRITE_PT, 0, Ordering::Relaxed);
            hdr.store_u32(OFF_READ_PT, 0, Ordering::Relaxed);
            hdr.store_u32(OFF_WORD_SIZE, words, Ordering::Relaxed);
            hdr.copy_in(OFF_HDR_PATH, path_bytes(&hdr_path)?);
            hdr.copy_in(OFF_DATA_PATH, path_bytes(&data_path)?);
            hdr.store_i32(OFF_USER_DATA, 0);
            hdr.sem_init(OFF_SEM)?;
            hdr.store_i32(OFF_REF_COUNT, 1);
            Ok(Self {
                hdr,
                data,
                words,
                max_msg_size,
                hdr_path: hdr_path.clone(),
                data_path: data_path.clone(),
                user_data: true,
                creator: true,
            })
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&hdr_path);
            let _ = std::fs::remove_file(&data_path);
        }
        result
    }

    /// Opens a ring a server created (client side): maps `<base>-header` (plus the 4-byte
    /// flow-control int when `user_data`), then the data file the header names, checks its
    /// size against `max_msg_size` and takes a reference (`ref_count += 1`).
    pub fn open(base: &str, max_msg_size: usize, user_data: bool) -> io::Result<Self> {
        let hdr_path = PathBuf::from(format!("{base}-header"));
        let hdr_len = if user_data {
            SERVER_HDR_FILE_SIZE
        } else {
            SHARED_HDR_SIZE
        };
        let hf = OpenOptions::new().read(true).write(true).open(&hdr_path)?;
        if (hf.metadata()?.len() as usize) < hdr_len {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "ring header file too short"));
        }
        let hdr = SharedMap::map(&hf, hdr_len)?;
        let mut raw = vec![0u8; PATH_FIELD];
        hdr.copy_out(OFF_DATA_PATH, &mut raw);
        let end = raw.iter().position(|&c| c == 0).unwrap_or(0);
        let data_path = if end == 0 {
            PathBuf::from(format!("{base}-data"))
        } else {
            PathBuf::from(String::from_utf8_lossy(&raw[..end]).into_owned())
        };
        let size = data_size(max_msg_size);
        let df = OpenOptions::new().read(true).write(true).open(&data_path)?;
        if (df.metadata()?.len() as usize) < size {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "ring data file too short"));
        }
        let words = hdr.load_u32(OFF_WORD_SIZE, Ordering::Acquire);
        if words as usize * 4 != size {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "ring word_size disagrees with max_msg_size",
            ));
        }
        let data = SharedMap::map(&df, size)?;
        hdr.fetch_add_i32(OFF_REF_COUNT, 1);
        if hdr.faulted() || data.faulted() {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "ring file truncated"));
        }
        Ok(Self {
            hdr,
            data,
            words,
            max_msg_size,
            hdr_path,
            data_path,
            user_data,
            creator: false,
        })
    }

    fn check(&self) -> Result<(), RingError> {
        if self.hdr.faulted() || self.data.faulted() {
            Err(RingError::Faulted)
        } else {
            Ok(())
        }
    }

    fn word_off(&self, w: u32) -> usize {
        (w % self.words) as usize * 4
    }

    fn step(&self, p: u32, len: usize) -> u32 {
        let words = 2 + len.div_ceil(4) as u64;
        ((p as u64 + words) % self.words as u64) as u32
    }

    fn pointers(&self) -> Result<(u32, u32), RingError> {
        let w = self.hdr.load_u32(OFF_WRITE_PT, Ordering::Acquire);
        let r = self.hdr.load_u32(OFF_READ_PT, Ordering::Acquire);
        if w >= self.words || r >= self.words {
            return Err(RingError::Corrupt("read or write pointer outside the ring"));
        }
        Ok((w, r))
    }

    /// Writes one chunk (`qb_rb_chunk_alloc` + commit) and posts the semaphore.
    pub fn write_chunk(&self, payload: &[u8]) -> Result<(), RingError> {
        if payload.len() > self.max_msg_size {
            return Err(RingError::TooLarge {
                len: payload.len(),
                max: self.max_msg_size,
            });
        }
        let (w, r) = self.pointers()?;
        let free_words = if w == r {
            self.words
        } else {
            (r + self.words - w - 1) % self.words
        };
        if (free_words as usize) * 4 < payload.len() + CHUNK_MARGIN {
            self.check()?;
            return Err(RingError::Full);
        }
        self.data.store_u32(self.word_off(w), 0, Ordering::Relaxed);
        self.data
            .store_u32(self.word_off(w + 1), MAGIC_ALLOC, Ordering::Release);
        let start = self.word_off(w + 2);
        let first = payload.len().min(self.data.len() - start);
        self.data.copy_in(start, &payload[..first]);
        self.data.copy_in(0, &payload[first..]);
        self.data
            .store_u32(self.word_off(w), payload.len() as u32, Ordering::Relaxed);
        self.hdr
            .store_u32(OFF_WRITE_PT, self.step(w, payload.len()), Ordering::Release);
        self.data
            .store_u32(self.word_off(w + 1), MAGIC_READY, Ordering::Release);
        self.check()?;
        self.hdr
            .sem_post(OFF_SEM)
            .map_err(|_| RingError::Corrupt("sem_post failed"))?;
        self.check()
    }

    /// Reads the next committed chunk (`qb_rb_chunk_read` without the wait): `None` when
    /// the ring is empty or the writer has not committed yet. Does not touch the semaphore.
    pub fn read_chunk(&self) -> Result<Option<Vec<u8>>, RingError> {
        let mut out = Vec::new();
        Ok(self.read_chunk_into(&mut out)?.then_some(out))
    }

    /// [`Ring::read_chunk`] into `out` (replacing what it held, reusing its allocation);
    /// false when there was nothing to read.
    pub fn read_chunk_into(&self, out: &mut Vec<u8>) -> Result<bool, RingError> {
        let (w, r) = self.pointers()?;
        if w == r {
            self.check()?;
            return Ok(false);
        }
        let magic = self.data.load_u32(self.word_off(r + 1), Ordering::Acquire);
        if magic == MAGIC_ALLOC {
            self.check()?;
            return Ok(false);
        }
        if magic != MAGIC_READY {
            self.check()?;
            return Err(RingError::Corrupt("bad chunk magic"));
        }
        let len = self.data.load_u32(self.word_off(r), Ordering::Relaxed) as usize;
        let used_words = ((w + self.words - r) % self.words) as usize;
        if len > self.max_msg_size || 2 + len.div_ceil(4) > used_words {
            self.check()?;
            return Err(RingError::Corrupt(
                "chunk length larger than the ring content or the maximum",
            ));
        }
        out.clear();
        out.resize(len, 0);
        let start = self.word_off(r + 2);
        let first = len.min(self.data.len() - start);
        self.data.copy_out(start, &mut out[..first]);
        self.data.copy_out(0, &mut out[first..]);
        self.data.store_u32(self.word_off(r), 0, Ordering::Relaxed);
        self.data.store_u32(self.word_off(r + 1), MAGIC_DEAD, Ordering::Relaxed);
        self.hdr.store_u32(OFF_READ_PT, self.step(r, len), Ordering::Release);
        self.check()?;
        Ok(true)
    }

    /// Consumes one semaphore post if there is one (`sem_trywait`).
    pub fn sem_trywait(&self) -> bool {
        self.hdr.sem_trywait(OFF_SEM)
    }

    /// Waits up to `timeout` for a semaphore post.
    pub fn sem_timedwait(&self, timeout: std::time::Duration) -> Result<bool, RingError> {
        let r = self
            .hdr
            .sem_timedwait(OFF_SEM, timeout)
            .map_err(|_| RingError::Corrupt("sem_timedwait failed"));
        self.check()?;
        r
    }

    /// The request ring's flow-control int (0 = off; 1 or 2 make libqb clients back off).
    pub fn flow_control(&self) -> Option<i32> {
        self.user_data.then(|| self.hdr.load_i32(OFF_USER_DATA))
    }

    pub fn set_flow_control(&self, level: i32) -> Result<(), RingError> {
        if self.user_data {
            self.hdr.store_i32(OFF_USER_DATA, level);
        }
        self.check()
    }

    pub fn ref_count(&self) -> i32 {
        self.hdr.load_i32(OFF_REF_COUNT)
    }

    pub fn max_msg_size(&self) -> usize {
        self.max_msg_size
    }

    /// True when the peer truncated one of the files (SIGBUS caught).
    pub fn faulted(&self) -> bool {
        self.check().is_err()
    }

    pub fn paths(&self) -> [&Path; 2] {
        [&self.hdr_path, &self.data_path]
    }
}

impl Drop for Ring {
    fn drop(&mut self) {
        if self.creator {
            // libqb's creator keeps the semaphore until the last reference goes; the files
            // are unlinked by the owner of the connection directory.
            self.hdr.sem_destroy(OFF_SEM);
        } else {
            self.hdr.fetch_add_i32(OFF_REF_COUNT, -1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(max: usize) -> (tempfile::TempDir, Ring, Ring) {
        crate::sys::install_sigbus_handler().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let base = format!("{}/qb-request-test", dir.path().display());
        let server = Ring::create(&base, max, None).unwrap();
        let client = Ring::open(&base, max, true).unwrap();
        (dir, server, client)
    }

    #[test]
    fn sizes_follow_libqb() {
        if page_size() == 4096 {
            assert_eq!(data_size(1 << 20), 1_052_672);
        }
        let (dir, server, client) = pair(1000);
        assert_eq!(server.ref_count(), 2);
        assert_eq!(client.flow_control(), Some(0));
        let h = std::fs::metadata(dir.path().join("qb-request-test-header")).unwrap();
        assert_eq!(h.len(), SERVER_HDR_FILE_SIZE as u64);
        assert_eq!(h.permissions().mode() & 0o777, 0o600);
        drop(client);
        assert_eq!(server.ref_count(), 1);
    }

    #[test]
    fn chunks_wrap_around_the_end_of_the_ring() {
        let (_dir, server, client) = pair(1000);
        let ring_bytes = data_size(1000);
        let mut sent = 0usize;
        let mut n = 0u32;
        // Enough odd-sized messages to go round the ring several times.
        while sent < 4 * ring_bytes {
            let len = 1 + (n as usize * 37) % 997;
            let msg: Vec<u8> = (0..len).map(|i| (i as u32 ^ n) as u8).collect();
            client.write_chunk(&msg).unwrap();
            assert!(server.sem_trywait());
            assert_eq!(server.read_chunk().unwrap().as_deref(), Some(&msg[..]));
            assert_eq!(server.read_chunk().unwrap(), None);
            sent += len + 8;
            n += 1;
        }
    }

    #[test]
    fn full_ring_refuses_then_accepts_after_read() {
        let (_dir, server, client) = pair(1000);
        let msg = vec![9u8; 1000];
        let mut written = 0;
        while server.write_chunk(&msg).is_ok() {
            written += 1;
        }
        assert_eq!(server.write_chunk(&msg), Err(RingError::Full));
        assert!(written >= 1);
        assert_eq!(client.read_chunk().unwrap().unwrap(), msg);
        server.write_chunk(&msg).unwrap();
        assert_eq!(
            server.write_chunk(&vec![0u8; 1001]),
            Err(RingError::TooLarge { len: 1001, max: 1000 })
        );
    }

    #[test]
    fn garbage_pointers_and_lengths_are_errors() {
        let (_dir, server, client) = pair(1000);
        client.write_chunk(b"hello").unwrap();
        // Length word larger than what the write pointer covers.
        server.data.store_u32(0, 100_000, Ordering::Relaxed);
        assert!(matches!(server.read_chunk(), Err(RingError::Corrupt(_))));
        server.data.store_u32(0, 5, Ordering::Relaxed);
        server.data.store_u32(4, 0x1234_5678, Ordering::Relaxed);
        assert!(matches!(server.read_chunk(), Err(RingError::Corrupt(_))));
        server.hdr.store_u32(OFF_WRITE_PT, u32::MAX, Ordering::Relaxed);
        assert!(matches!(server.read_chunk(), Err(RingError::Corrupt(_))));
    }

    #[test]
    fn truncated_data_file_is_reported_not_fatal() {
        let (dir, server, client) = pair(1000);
        client.write_chunk(b"hello").unwrap();
        let f = OpenOptions::new()
            .write(true)
            .open(dir.path().join("qb-request-test-data"))
            .unwrap();
        f.set_len(0).unwrap();
        assert_eq!(server.read_chunk(), Err(RingError::Faulted));
        assert!(server.faulted());
    }
}

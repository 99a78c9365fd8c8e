//! The crate's only unsafe code: shared file mappings, glibc process-shared semaphores
//! living inside them, and the SIGBUS guard.
//!
//! [`SharedMap`] owns one `MAP_SHARED` mapping of a file the peer can also map (and can
//! `ftruncate` under us). Every access goes through a bounds-checked method; offsets are
//! always computed by the caller modulo the mapping size, never taken raw from the peer.
//! The peer writes the same memory concurrently, so words are accessed atomically and
//! payload bytes are copied with plain `memcpy` semantics (as libqb does); the ring
//! protocol (magic words, read/write pointers) decides which bytes are stable.
//!
//! **SIGBUS.** Touching a page of a mapping whose file the peer truncated raises SIGBUS.
//! [`install_sigbus_handler`] installs a handler that, when the faulting address lies
//! inside a live [`SharedMap`], maps an anonymous zero page over the faulting page, flags
//! that mapping as faulted and returns, so the access completes (reading zeros). Callers
//! check [`SharedMap::faulted`] after touching shared memory and drop the connection.
//! Faults anywhere else restore the default action, so a genuine bug still dumps core.
#![allow(unsafe_code)]

use std::ffi::c_void;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU8, AtomicUsize, Ordering};
use std::sync::Once;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Maximum number of live shared mappings in the process (six per connection).
pub const MAX_MAPPINGS: usize = 8192;

const FREE: u8 = 0;
const CLAIMED: u8 = 1;
const ACTIVE: u8 = 2;

struct Slot {
    state: AtomicU8,
    start: AtomicUsize,
    len: AtomicUsize,
    faulted: AtomicBool,
}

impl Slot {
    const fn new() -> Self {
        Self {
            state: AtomicU8::new(FREE),
            start: AtomicUsize::new(0),
            len: AtomicUsize::new(0),
            faulted: AtomicBool::new(false),
        }
    }
}

/// Live mappings, readable from the signal handler without locks or allocation.
static SLOTS: [Slot; MAX_MAPPINGS] = [const { Slot::new() }; MAX_MAPPINGS];
static PAGE_SIZE: AtomicUsize = AtomicUsize::new(4096);
static INSTALL: Once = Once::new();

/// The system page size.
pub fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions; it only reads a system constant.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(p).ok().filter(|&p| p > 0).unwrap_or(4096)
}

extern "C" fn on_sigbus(_sig: libc::c_int, info: *mut libc::siginfo_t, _ctx: *mut c_void) {
    // SAFETY: the kernel passes a valid siginfo_t to an SA_SIGINFO handler; for SIGBUS
    // si_addr is the faulting address.
    let addr = unsafe { (*info).si_addr() } as usize;
    let page = PAGE_SIZE.load(Ordering::Relaxed);
    for slot in &SLOTS {
        if slot.state.load(Ordering::Acquire) != ACTIVE {
            continue;
        }
        let start = slot.start.load(Ordering::Relaxed);
        let len = slot.len.load(Ordering::Relaxed);
        if addr < start || addr - start >= len {
            continue;
        }
        let page_addr = addr & !(page - 1);
        // SAFETY: page_addr is page-aligned and lies inside a mapping this process owns
        // (the slot is ACTIVE until just before munmap); MAP_FIXED replaces only that page
        // of it with private zeroed memory. mmap is a plain system call, safe to make here.
        let r = unsafe {
            libc::mmap(
                page_addr as *mut c_void,
                page,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                -1,
                0,
            )
        };
        if r != libc::MAP_FAILED {
            slot.faulted.store(true, Ordering::Release);
            return;
        }
        break;
    }
    // Not one of ours (or the repair failed): fall back to the default action, so the
    // faulting instruction, executed again on return, terminates the process as usual.
    // SAFETY: resetting a disposition to SIG_DFL is async-signal-safe.
    unsafe { libc::signal(libc::SIGBUS, libc::SIG_DFL) };
}

/// Installs the process-wide SIGBUS guard (once; later calls do nothing). Called by
/// `Server::bind` and `Client::connect`. It replaces any SIGBUS handler installed earlier.
pub fn install_sigbus_handler() -> io::Result<()> {
    let mut result = Ok(());
    INSTALL.call_once(|| {
        PAGE_SIZE.store(page_size(), Ordering::Relaxed);
        // SAFETY: a zeroed sigaction is a valid starting value; we fill handler, flags and
        // an empty mask before handing it to the kernel. on_sigbus only does lock-free
        // atomic reads/writes and mmap/signal system calls.
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = on_sigbus as *const () as usize;
            sa.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            libc::sigemptyset(&mut sa.sa_mask);
            if libc::sigaction(libc::SIGBUS, &sa, std::ptr::null_mut()) != 0 {
                result = Err(io::Error::last_os_error());
            }
        }
    });
    result
}

/// One `MAP_SHARED`, read-write mapping of a whole file.
#[derive(Debug)]
pub struct SharedMap {
    ptr: NonNull<u8>,
    len: usize,
    slot: usize,
}

// SAFETY: the mapping is plain memory owned by this value; nothing in it is tied to the
// thread that created it.
unsafe impl Send for SharedMap {}

impl SharedMap {
    /// Maps the first `len` bytes of `file` (the caller checked the file is that long).
    pub fn map(file: &File, len: usize) -> io::Result<Self> {
        if len == 0 {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        let slot = claim_slot().ok_or_else(|| io::Error::from_raw_os_error(libc::EMFILE))?;
        // SAFETY: mapping a file descriptor we hold, at an address the kernel chooses;
        // nothing in this process aliases the new range.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            let e = io::Error::last_os_error();
            SLOTS[slot].state.store(FREE, Ordering::Release);
            return Err(e);
        }
        let s = &SLOTS[slot];
        s.start.store(p as usize, Ordering::Relaxed);
        s.len.store(len, Ordering::Relaxed);
        s.faulted.store(false, Ordering::Relaxed);
        s.state.store(ACTIVE, Ordering::Release);
        let ptr = NonNull::new(p.cast::<u8>()).ok_or_else(|| io::Error::from_raw_os_error(libc::EFAULT))?;
        Ok(Self { ptr, len, slot })
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// True once the SIGBUS guard repaired a page of this mapping: the peer truncated the
    /// file, and the contents can no longer be trusted.
    pub fn faulted(&self) -> bool {
        SLOTS[self.slot].faulted.load(Ordering::Acquire)
    }

    fn word<T>(&self, off: usize) -> *mut T {
        let size = size_of::<T>();
        assert!(
            off & (size - 1) == 0 && off + size <= self.len,
            "shared word {off} out of bounds"
        );
        // SAFETY: in bounds (checked above) and aligned (the base is page-aligned).
        unsafe { self.ptr.as_ptr().add(off).cast::<T>() }
    }

    pub fn load_u32(&self, off: usize, order: Ordering) -> u32 {
        // SAFETY: word() returns an aligned, in-bounds pointer into our live mapping; all
        // accesses to shared words are atomic on both sides.
        unsafe { AtomicU32::from_ptr(self.word(off)) }.load(order)
    }

    pub fn store_u32(&self, off: usize, v: u32, order: Ordering) {
        // SAFETY: as in load_u32.
        unsafe { AtomicU32::from_ptr(self.word(off)) }.store(v, order)
    }

    pub fn load_i32(&self, off: usize) -> i32 {
        // SAFETY: as in load_u32.
        unsafe { AtomicI32::from_ptr(self.word(off)) }.load(Ordering::Acquire)
    }

    pub fn store_i32(&self, off: usize, v: i32) {
        // SAFETY: as in load_u32.
        unsafe { AtomicI32::from_ptr(self.word(off)) }.store(v, Ordering::Release)
    }

    pub fn fetch_add_i32(&self, off: usize, delta: i32) -> i32 {
        // SAFETY: as in load_u32.
        unsafe { AtomicI32::from_ptr(self.word(off)) }.fetch_add(delta, Ordering::AcqRel)
    }

    /// Copies `out.len()` bytes starting at `off`.
    pub fn copy_out(&self, off: usize, out: &mut [u8]) {
        assert!(
            off <= self.len && out.len() <= self.len - off,
            "shared read out of bounds"
        );
        // SAFETY: the source range is inside our mapping (checked) and cannot overlap a
        // Rust-owned buffer.
        unsafe { std::ptr::copy_nonoverlapping(self.ptr.as_ptr().add(off), out.as_mut_ptr(), out.len()) }
    }

    /// Copies `data` into the mapping at `off`.
    pub fn copy_in(&self, off: usize, data: &[u8]) {
        assert!(
            off <= self.len && data.len() <= self.len - off,
            "shared write out of bounds"
        );
        // SAFETY: the destination range is inside our mapping (checked) and cannot overlap
        // a Rust-owned buffer.
        unsafe { std::ptr::copy_nonoverlapping(data.as_ptr(), self.ptr.as_ptr().add(off), data.len()) }
    }

    fn sem(&self, off: usize) -> *mut libc::sem_t {
        let size = size_of::<libc::sem_t>();
        assert!(off & 7 == 0 && off + size <= self.len, "semaphore {off} out of bounds");
        // SAFETY: in bounds and 8-aligned (checked above).
        unsafe { self.ptr.as_ptr().add(off).cast() }
    }

    /// `sem_init(pshared = 1, value = 0)` on the `sem_t` at `off`.
    pub fn sem_init(&self, off: usize) -> io::Result<()> {
        // SAFETY: sem() points at sizeof(sem_t) bytes of shared memory we own.
        let r = unsafe { libc::sem_init(self.sem(off), 1, 0) };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// `sem_post`. A garbled semaphore (peer wrote over it) yields an error, not UB beyond
    /// what glibc's futex protocol tolerates.
    pub fn sem_post(&self, off: usize) -> io::Result<()> {
        // SAFETY: as in sem_init; the semaphore was initialised by the ring's creator.
        let r = unsafe { libc::sem_post(self.sem(off)) };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// `sem_trywait`: true when a post was consumed.
    pub fn sem_trywait(&self, off: usize) -> bool {
        // SAFETY: as in sem_post.
        unsafe { libc::sem_trywait(self.sem(off)) == 0 }
    }

    /// `sem_timedwait` for at most `timeout`: true when a post was consumed, false on
    /// timeout.
    pub fn sem_timedwait(&self, off: usize, timeout: Duration) -> io::Result<bool> {
        let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + timeout;
        let ts = libc::timespec {
            tv_sec: deadline.as_secs() as libc::time_t,
            tv_nsec: deadline.subsec_nanos() as libc::c_long,
        };
        loop {
            // SAFETY: as in sem_post; ts is a valid timespec on our stack.
            let r = unsafe { libc::sem_timedwait(self.sem(off), &ts) };
            if r == 0 {
                return Ok(true);
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::ETIMEDOUT) => return Ok(false),
                _ => return Err(e),
            }
        }
    }

    /// `sem_destroy` (glibc: a no-op check; done by the creator before unmapping).
    pub fn sem_destroy(&self, off: usize) {
        // SAFETY: as in sem_post. No thread of ours waits on it any more.
        unsafe { libc::sem_destroy(self.sem(off)) };
    }
}

impl Drop for SharedMap {
    fn drop(&mut self) {
        // Leave the SIGBUS registry first: from here on nothing touches the range.
        SLOTS[self.slot].state.store(FREE, Ordering::Release);
        // SAFETY: ptr/len describe exactly the mapping created in map(), unmapped once.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

fn claim_slot() -> Option<usize> {
    SLOTS.iter().position(|s| {
        s.state
            .compare_exchange(FREE, CLAIMED, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn truncated_file_faults_are_repaired_and_flagged() {
        install_sigbus_handler().unwrap();
        let mut f = tempfile::tempfile().unwrap();
        let page = page_size();
        f.write_all(&vec![7u8; 2 * page]).unwrap();
        let m = SharedMap::map(&f, 2 * page).unwrap();
        let mut b = [0u8; 4];
        m.copy_out(page, &mut b);
        assert_eq!(b, [7; 4]);
        assert!(!m.faulted());
        f.set_len(0).unwrap();
        m.copy_out(page, &mut b); // would be SIGBUS without the guard
        assert_eq!(b, [0; 4]);
        assert!(m.faulted());
        m.store_u32(0, 5, Ordering::Release);
        assert_eq!(m.load_u32(0, Ordering::Acquire), 5);
    }

    #[test]
    fn semaphore_counts_posts() {
        let f = tempfile::tempfile().unwrap();
        f.set_len(64).unwrap();
        let m = SharedMap::map(&f, 64).unwrap();
        m.sem_init(16).unwrap();
        assert!(!m.sem_trywait(16));
        m.sem_post(16).unwrap();
        m.sem_post(16).unwrap();
        assert!(m.sem_trywait(16));
        assert!(m.sem_timedwait(16, Duration::from_millis(1)).unwrap());
        assert!(!m.sem_timedwait(16, Duration::from_millis(1)).unwrap());
        m.sem_destroy(16);
    }
}

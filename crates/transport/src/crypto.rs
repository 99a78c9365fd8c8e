//! Authenticated encryption of every datagram with a shared cluster key (AES-256-GCM).
//!
//! On the wire: `nonce (12) ‖ ciphertext ‖ tag (16)`, where the nonce is the sender's nodeid
//! (4 bytes, big-endian) and a 64-bit counter. A nonce must never repeat under the key, so
//! the counter never goes back, across restarts too: the daemon persists a high-water mark
//! ([`COUNTER_BLOCK`] ahead of the counter, renewed at half way) before sealing with
//! counters below it, and a restart continues above the mark whatever the clock says. The
//! receiver keeps, per sender, the highest counter seen and a 64-entry window below it:
//! forged, truncated and replayed datagrams are dropped and counted, never passed on.
//!
//! The AEAD key comes from the key file through HKDF-SHA256 (RFC 5869) with a
//! version-specific salt, so a future format can use the same file without sharing a key.

use std::collections::HashMap;

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use hkdf::Hkdf;
use sha2::Sha256;
use totem::NodeId;

pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;
/// Bytes added to every datagram.
pub const OVERHEAD: usize = NONCE_LEN + TAG_LEN;
/// Shortest key file accepted (corosync-keygen writes 256 bytes, knet needs at least 128).
pub const KEY_MIN: usize = 32;
const REPLAY_WINDOW: u64 = 64;
/// Counters reserved by one persisted high-water mark (the daemon renews the reservation
/// when half of it is used, so a crash wastes at most this many).
pub const COUNTER_BLOCK: u64 = 1 << 24;
/// HKDF salt: names the key's use and version.
const HKDF_SALT: &[u8] = b"ferrosync-aes256gcm-v2";
const HKDF_INFO: &[u8] = b"datagram sealing key";

/// Why a datagram was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    #[error("datagram too short for the crypto header")]
    Truncated,
    #[error("authentication failed (wrong key or altered datagram)")]
    Forged,
    #[error("replayed datagram")]
    Replayed,
}

/// Why a datagram could not be sealed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("nonce counter reached its persisted reservation; it must be renewed first")]
    CounterExhausted,
}

/// A key that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("cluster key: {0}")]
pub struct KeyError(String);

/// Per-sender replay state: highest counter and a bitmap of the 64 below it.
#[derive(Clone, Copy, Debug, Default)]
struct Window {
    highest: u64,
    seen: u64,
}

impl Window {
    /// Accepts `counter` once.
    fn check_and_mark(&mut self, counter: u64) -> bool {
        if counter > self.highest {
            let shift = counter - self.highest;
            self.seen = if shift >= REPLAY_WINDOW { 0 } else { self.seen << shift };
            self.seen |= 1;
            self.highest = counter;
            return true;
        }
        let age = self.highest - counter;
        if age >= REPLAY_WINDOW || self.seen & (1 << age) != 0 {
            return false;
        }
        self.seen |= 1 << age;
        true
    }
}

/// Seals outgoing and opens incoming datagrams of one node.
pub struct Crypto {
    cipher: Aes256Gcm,
    node_id: NodeId,
    /// The last counter used.
    counter: u64,
    /// Counters below this are covered by a persisted high-water mark.
    reserved_until: u64,
    windows: HashMap<NodeId, Window>,
}

impl std::fmt::Debug for Crypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crypto")
            .field("node_id", &self.node_id)
            .field("counter", &self.counter)
            .finish_non_exhaustive()
    }
}

impl Crypto {
    /// Derives the AEAD key from the key file's bytes. `first_counter` and every counter
    /// up to `first_counter + COUNTER_BLOCK` must be covered by a high-water mark the
    /// caller persisted before (see [`Crypto::start_counter`]).
    pub fn new(key_material: &[u8], node_id: NodeId, first_counter: u64) -> Result<Self, KeyError> {
        if key_material.len() < KEY_MIN {
            return Err(KeyError(format!(
                "{} bytes, need at least {KEY_MIN}",
                key_material.len()
            )));
        }
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(Some(HKDF_SALT), key_material)
            .expand(HKDF_INFO, &mut key)
            .map_err(|e| KeyError(e.to_string()))?;
        let cipher = Aes256Gcm::new_from_slice(&key).map_err(|e| KeyError(e.to_string()))?;
        Ok(Crypto {
            cipher,
            node_id,
            counter: first_counter,
            reserved_until: first_counter.saturating_add(COUNTER_BLOCK),
            windows: HashMap::new(),
        })
    }

    /// Where a (re)started node's counter begins: above its persisted high-water mark, and
    /// above the clock-based start of earlier versions (so peers that still remember its
    /// old counters accept the new ones) — never below the mark, whatever the clock says.
    pub fn start_counter(persisted_mark: u64, unix_ms: u64) -> u64 {
        persisted_mark.max(unix_ms << 16)
    }

    /// A new high-water mark to persist (then pass to [`Crypto::extend_reservation`]) once
    /// half of the reservation is used; `None` while enough is left.
    pub fn reservation_due(&self) -> Option<u64> {
        (self.reserved_until - self.counter <= COUNTER_BLOCK / 2)
            .then(|| self.reserved_until.saturating_add(COUNTER_BLOCK))
    }

    /// The caller persisted `mark`: counters below it may be used.
    pub fn extend_reservation(&mut self, mark: u64) {
        assert!(mark >= self.reserved_until, "a reservation never shrinks");
        self.reserved_until = mark;
    }

    /// Writes the sealed form of `payload` into `out` (cleared first; reused across calls).
    pub fn seal(&mut self, payload: &[u8], out: &mut Vec<u8>) -> Result<(), SealError> {
        if self.counter + 1 >= self.reserved_until {
            return Err(SealError::CounterExhausted);
        }
        self.counter += 1;
        out.clear();
        out.extend_from_slice(&self.node_id.to_be_bytes());
        out.extend_from_slice(&self.counter.to_be_bytes());
        out.extend_from_slice(payload);
        let (nonce, body) = out.split_at_mut(NONCE_LEN);
        let tag = self
            .cipher
            .encrypt_in_place_detached(Nonce::from_slice(nonce), b"", body)
            .expect("AES-GCM encrypts any datagram-sized buffer");
        out.extend_from_slice(&tag);
        Ok(())
    }

    /// Authenticates and decrypts `packet` in place; returns the plaintext's range in `packet`.
    pub fn open(&mut self, packet: &mut [u8]) -> Result<std::ops::Range<usize>, OpenError> {
        if packet.len() < OVERHEAD {
            return Err(OpenError::Truncated);
        }
        let (head, rest) = packet.split_at_mut(NONCE_LEN);
        let body_len = rest.len() - TAG_LEN;
        let (body, tag) = rest.split_at_mut(body_len);
        self.cipher
            .decrypt_in_place_detached(Nonce::from_slice(head), b"", body, Tag::from_slice(tag))
            .map_err(|_| OpenError::Forged)?;
        let sender = NodeId::from_be_bytes(head[..4].try_into().expect("4 bytes"));
        let counter = u64::from_be_bytes(head[4..NONCE_LEN].try_into().expect("8 bytes"));
        if !self.windows.entry(sender).or_default().check_and_mark(counter) {
            return Err(OpenError::Replayed);
        }
        Ok(NONCE_LEN..NONCE_LEN + body_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 256] = [7; 256];

    #[test]
    fn round_trip_and_every_attack_is_refused() {
        let mut a = Crypto::new(&KEY, 1, 1000).unwrap();
        let mut b = Crypto::new(&KEY, 2, 1000).unwrap();
        let mut sealed = Vec::new();
        a.seal(b"totem token", &mut sealed).unwrap();
        assert_eq!(sealed.len(), 11 + OVERHEAD);
        let mut copy = sealed.clone();
        let r = b.open(&mut copy).unwrap();
        assert_eq!(&copy[r], b"totem token");
        // Replay of the same datagram.
        let mut again = sealed.clone();
        assert_eq!(b.open(&mut again), Err(OpenError::Replayed));
        // Every flipped bit is caught.
        for bit in 0..sealed.len() * 8 {
            let mut bad = sealed.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(b.open(&mut bad).is_err(), "bit {bit} not detected");
        }
        // Truncation.
        let mut short = sealed[..OVERHEAD - 1].to_vec();
        assert_eq!(b.open(&mut short), Err(OpenError::Truncated));
        let mut cut = sealed[..sealed.len() - 1].to_vec();
        assert_eq!(b.open(&mut cut), Err(OpenError::Forged));
        // Another key.
        let mut other = Crypto::new(&[8; 256], 3, 0).unwrap();
        let mut foreign = Vec::new();
        other.seal(b"hello", &mut foreign).unwrap();
        assert_eq!(b.open(&mut foreign), Err(OpenError::Forged));
        assert!(Crypto::new(&[1; 8], 1, 0).is_err());
    }

    #[test]
    fn counters_stay_inside_the_persisted_reservation() {
        let mut a = Crypto::new(&KEY, 1, 0).unwrap();
        let mut out = Vec::new();
        let half = COUNTER_BLOCK / 2;
        a.counter = half; // as if half the block were used
        assert_eq!(a.reservation_due(), Some(2 * COUNTER_BLOCK));
        a.counter = COUNTER_BLOCK - 2;
        a.seal(b"x", &mut out).unwrap();
        assert_eq!(a.seal(b"x", &mut out), Err(SealError::CounterExhausted));
        a.extend_reservation(2 * COUNTER_BLOCK);
        a.seal(b"x", &mut out).unwrap();
        assert_eq!(u64::from_be_bytes(out[4..12].try_into().unwrap()), COUNTER_BLOCK);
        assert_eq!(a.reservation_due(), None);
    }

    #[test]
    fn a_restart_continues_above_the_mark_even_if_the_clock_went_back() {
        let mark = (200_000_000u64 << 16) + 5;
        // The clock is a day behind the last run: the mark wins.
        assert_eq!(Crypto::start_counter(mark, 200_000_000 - 86_400_000), mark);
        // No mark yet (first start, or an upgrade): the clock-based floor of old versions.
        assert_eq!(Crypto::start_counter(0, 3_000_000), 3_000_000 << 16);
        // Peers remember the previous run's counters: the restarted node is accepted.
        let mut before = Crypto::new(&KEY, 1, mark - 100).unwrap();
        let mut peer = Crypto::new(&KEY, 2, 0).unwrap();
        let mut out = Vec::new();
        before.seal(b"old run", &mut out).unwrap();
        peer.open(&mut out).unwrap();
        let mut after = Crypto::new(&KEY, 1, Crypto::start_counter(mark, 0)).unwrap();
        after.seal(b"new run", &mut out).unwrap();
        assert!(peer.open(&mut out).is_ok());
    }

    #[test]
    fn replay_window_accepts_reordering_once() {
        let mut w = Window::default();
        assert!(w.check_and_mark(100));
        assert!(w.check_and_mark(98));
        assert!(!w.check_and_mark(98));
        assert!(w.check_and_mark(99));
        assert!(w.check_and_mark(300));
        assert!(!w.check_and_mark(100), "far below the window");
        assert!(w.check_and_mark(299));
        assert!(!w.check_and_mark(300));
    }
}

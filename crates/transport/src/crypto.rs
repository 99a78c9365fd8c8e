//! Authenticated encryption of every datagram with a shared cluster key (AES-256-GCM).
//!
//! On the wire: `nonce (12) ‖ ciphertext ‖ tag (16)`, where the nonce is the sender's nodeid
//! (4 bytes, big-endian) and a 64-bit counter. The counter starts at the wall clock in ms
//! shifted left by 16 and rises by one per datagram, so a restarted node never reuses a nonce
//! (unless the clock goes back) and its new datagrams rank above its old ones. The receiver
//! keeps, per sender, the highest counter seen and a 64-entry window below it: forged,
//! truncated and replayed datagrams are dropped and counted, never passed on.

use std::collections::HashMap;

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use sha2::{Digest, Sha256};
use totem::NodeId;

pub const NONCE_LEN: usize = 12;
pub const TAG_LEN: usize = 16;
/// Bytes added to every datagram.
pub const OVERHEAD: usize = NONCE_LEN + TAG_LEN;
/// Shortest key file accepted (corosync-keygen writes 256 bytes, knet needs at least 128).
pub const KEY_MIN: usize = 32;
const REPLAY_WINDOW: u64 = 64;

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
    counter: u64,
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
    /// Derives the AEAD key from the key file's bytes (SHA-256 with a version label, so a
    /// future format can use the same file without sharing a key).
    pub fn new(key_material: &[u8], node_id: NodeId) -> Result<Self, KeyError> {
        if key_material.len() < KEY_MIN {
            return Err(KeyError(format!(
                "{} bytes, need at least {KEY_MIN}",
                key_material.len()
            )));
        }
        let key = Sha256::new()
            .chain_update(b"ferrosync-aes256gcm-v1\0")
            .chain_update(key_material)
            .finalize();
        let cipher = Aes256Gcm::new_from_slice(&key).map_err(|e| KeyError(e.to_string()))?;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Ok(Crypto {
            cipher,
            node_id,
            counter: now_ms << 16,
            windows: HashMap::new(),
        })
    }

    /// Writes the sealed form of `payload` into `out` (cleared first; reused across calls).
    pub fn seal(&mut self, payload: &[u8], out: &mut Vec<u8>) {
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
        let mut a = Crypto::new(&KEY, 1).unwrap();
        let mut b = Crypto::new(&KEY, 2).unwrap();
        let mut sealed = Vec::new();
        a.seal(b"totem token", &mut sealed);
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
        let mut other = Crypto::new(&[8; 256], 3).unwrap();
        let mut foreign = Vec::new();
        other.seal(b"hello", &mut foreign);
        assert_eq!(b.open(&mut foreign), Err(OpenError::Forged));
        assert!(Crypto::new(&[1; 8], 1).is_err());
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

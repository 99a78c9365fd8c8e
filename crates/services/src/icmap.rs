//! The in-memory configuration and runtime map (corosync's icmap, `man cmap_keys`):
//! typed values under dotted key names, in name order. Every change is recorded so
//! that cmap clients tracking a key or prefix can be told (with old and new value).

use std::collections::{BTreeMap, VecDeque};
use std::fmt;

/// Longest key name (`ICMAP_KEYNAME_MAXLEN` is 256 including the NUL).
pub const KEY_MAX: usize = 255;
/// Changes kept for trackers between two drains (the node drains after every step).
const CHANGES_MAX: usize = 65_536;

/// A typed value, with cmap's type codes (`cmap_value_types_t`, 1–12).
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    I8(i8),
    U8(u8),
    I16(i16),
    U16(u16),
    I32(i32),
    U32(u32),
    I64(i64),
    U64(u64),
    Float(f32),
    Double(f64),
    /// Stored without the terminating NUL the wire form carries.
    String(String),
    Binary(Vec<u8>),
}

impl Value {
    /// cmap's type code.
    pub fn type_code(&self) -> u8 {
        match self {
            Value::I8(_) => 1,
            Value::U8(_) => 2,
            Value::I16(_) => 3,
            Value::U16(_) => 4,
            Value::I32(_) => 5,
            Value::U32(_) => 6,
            Value::I64(_) => 7,
            Value::U64(_) => 8,
            Value::Float(_) => 9,
            Value::Double(_) => 10,
            Value::String(_) => 11,
            Value::Binary(_) => 12,
        }
    }

    /// The type name `corosync-cmapctl` prints.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::I8(_) => "i8",
            Value::U8(_) => "u8",
            Value::I16(_) => "i16",
            Value::U16(_) => "u16",
            Value::I32(_) => "i32",
            Value::U32(_) => "u32",
            Value::I64(_) => "i64",
            Value::U64(_) => "u64",
            Value::Float(_) => "flt",
            Value::Double(_) => "dbl",
            Value::String(_) => "str",
            Value::Binary(_) => "bin",
        }
    }

    /// The value's bytes as cmap sends them (native endian; strings with their NUL).
    pub fn to_wire(&self) -> Vec<u8> {
        match self {
            Value::I8(v) => v.to_ne_bytes().to_vec(),
            Value::U8(v) => vec![*v],
            Value::I16(v) => v.to_ne_bytes().to_vec(),
            Value::U16(v) => v.to_ne_bytes().to_vec(),
            Value::I32(v) => v.to_ne_bytes().to_vec(),
            Value::U32(v) => v.to_ne_bytes().to_vec(),
            Value::I64(v) => v.to_ne_bytes().to_vec(),
            Value::U64(v) => v.to_ne_bytes().to_vec(),
            Value::Float(v) => v.to_ne_bytes().to_vec(),
            Value::Double(v) => v.to_ne_bytes().to_vec(),
            Value::String(s) => {
                let mut b = s.as_bytes().to_vec();
                b.push(0);
                b
            }
            Value::Binary(b) => b.clone(),
        }
    }

    /// Length of [`Value::to_wire`].
    pub fn wire_len(&self) -> usize {
        match self {
            Value::I8(_) | Value::U8(_) => 1,
            Value::I16(_) | Value::U16(_) => 2,
            Value::I32(_) | Value::U32(_) | Value::Float(_) => 4,
            Value::I64(_) | Value::U64(_) | Value::Double(_) => 8,
            Value::String(s) => s.len() + 1,
            Value::Binary(b) => b.len(),
        }
    }

    /// Decodes a value of type `code` from its wire bytes; `None` if the length does not
    /// fit the type or the type is unknown.
    pub fn from_wire(code: u8, b: &[u8]) -> Option<Value> {
        fn arr<const N: usize>(b: &[u8]) -> Option<[u8; N]> {
            b.try_into().ok()
        }
        Some(match code {
            1 => Value::I8(i8::from_ne_bytes(arr(b)?)),
            2 => Value::U8(u8::from_ne_bytes(arr(b)?)),
            3 => Value::I16(i16::from_ne_bytes(arr(b)?)),
            4 => Value::U16(u16::from_ne_bytes(arr(b)?)),
            5 => Value::I32(i32::from_ne_bytes(arr(b)?)),
            6 => Value::U32(u32::from_ne_bytes(arr(b)?)),
            7 => Value::I64(i64::from_ne_bytes(arr(b)?)),
            8 => Value::U64(u64::from_ne_bytes(arr(b)?)),
            9 => Value::Float(f32::from_ne_bytes(arr(b)?)),
            10 => Value::Double(f64::from_ne_bytes(arr(b)?)),
            11 => {
                // The NUL ends the string; a client may send it without one.
                let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
                Value::String(String::from_utf8_lossy(&b[..end]).into_owned())
            }
            12 => Value::Binary(b.to_vec()),
            _ => return None,
        })
    }

    pub fn as_u32(&self) -> Option<u32> {
        match *self {
            Value::U8(v) => Some(v.into()),
            Value::U16(v) => Some(v.into()),
            Value::U32(v) => Some(v),
            Value::I8(v) => u32::try_from(v).ok(),
            Value::I16(v) => u32::try_from(v).ok(),
            Value::I32(v) => u32::try_from(v).ok(),
            Value::U64(v) => u32::try_from(v).ok(),
            Value::I64(v) => u32::try_from(v).ok(),
            _ => None,
        }
    }

    pub fn as_u64(&self) -> Option<u64> {
        match *self {
            Value::U64(v) => Some(v),
            Value::I64(v) => u64::try_from(v).ok(),
            _ => self.as_u32().map(u64::from),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    /// Adds `step` to an integer value (cmap ADJUST_INT wraps like C arithmetic).
    pub fn adjust(&self, step: i32) -> Option<Value> {
        let s = i64::from(step);
        Some(match *self {
            Value::I8(v) => Value::I8(v.wrapping_add(s as i8)),
            Value::U8(v) => Value::U8(v.wrapping_add(s as u8)),
            Value::I16(v) => Value::I16(v.wrapping_add(s as i16)),
            Value::U16(v) => Value::U16(v.wrapping_add(s as u16)),
            Value::I32(v) => Value::I32(v.wrapping_add(s as i32)),
            Value::U32(v) => Value::U32(v.wrapping_add(s as u32)),
            Value::I64(v) => Value::I64(v.wrapping_add(s)),
            Value::U64(v) => Value::U64(v.wrapping_add(s as u64)),
            _ => return None,
        })
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::I8(v) => write!(f, "{v}"),
            Value::U8(v) => write!(f, "{v}"),
            Value::I16(v) => write!(f, "{v}"),
            Value::U16(v) => write!(f, "{v}"),
            Value::I32(v) => write!(f, "{v}"),
            Value::U32(v) => write!(f, "{v}"),
            Value::I64(v) => write!(f, "{v}"),
            Value::U64(v) => write!(f, "{v}"),
            Value::Float(v) => write!(f, "{v:.6}"),
            Value::Double(v) => write!(f, "{v:.6}"),
            Value::String(v) => f.write_str(v),
            Value::Binary(b) => {
                for x in b {
                    write!(f, "{x:02x}")?;
                }
                Ok(())
            }
        }
    }
}

/// What happened to a key (cmap's track event bits, `CMAP_TRACK_*` / `ICMAP_TRACK_*`:
/// DELETE 1, MODIFY 2, ADD 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum ChangeKind {
    Delete = 1,
    Modify = 2,
    Add = 4,
}

/// One change, for trackers.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub key: String,
    pub kind: ChangeKind,
    pub old: Option<Value>,
    pub new: Option<Value>,
}

/// Why a key cannot be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MapError {
    #[error("invalid key name {0:?}")]
    InvalidKey(String),
    #[error("key {0} is read-only")]
    ReadOnly(String),
    #[error("key {0} does not exist")]
    NotExist(String),
    #[error("key {0} holds no integer")]
    NotInteger(String),
}

/// Keys in name order, like `corosync-cmapctl` lists them.
#[derive(Clone, Debug, Default)]
pub struct Icmap {
    keys: BTreeMap<String, Value>,
    /// Key prefixes clients may not change (corosync's `icmap_set_ro_access(.., prefix 1, ..)`).
    read_only: Vec<String>,
    /// Single keys clients may not change (`icmap_set_ro_access(.., prefix 0, ..)`).
    read_only_keys: std::collections::BTreeSet<String>,
    changes: VecDeque<Change>,
    /// Changes made so far: readers that derive something from the map recompute only
    /// when it moved.
    generation: u64,
}

/// corosync's key name rule: printable, no spaces, 3 to 255 characters... in practice
/// `icmap_is_valid_name_char`: letters, digits and `._-/:`.
pub fn valid_key(key: &str) -> bool {
    (3..=KEY_MAX).contains(&key.len()) && key.bytes().all(|c| c.is_ascii_alphanumeric() || b"._-/:".contains(&c))
}

impl Icmap {
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.keys.get(key)
    }

    /// Sets a key from inside the daemon (configuration, runtime keys). Changes are
    /// recorded for trackers only when the value differs.
    pub fn set(&mut self, key: impl Into<String>, value: Value) {
        let key = key.into();
        debug_assert!(valid_key(&key), "internal key {key:?}");
        let old = self.keys.insert(key.clone(), value.clone());
        if old.as_ref() == Some(&value) {
            return;
        }
        let kind = if old.is_some() {
            ChangeKind::Modify
        } else {
            ChangeKind::Add
        };
        self.record(Change {
            key,
            kind,
            old,
            new: Some(value),
        });
    }

    /// Sets a key on a client's behalf: the name is checked and read-only keys refused.
    pub fn set_checked(&mut self, key: &str, value: Value) -> Result<(), MapError> {
        if !valid_key(key) {
            return Err(MapError::InvalidKey(key.to_owned()));
        }
        if self.is_read_only(key) {
            return Err(MapError::ReadOnly(key.to_owned()));
        }
        self.set(key, value);
        Ok(())
    }

    pub fn delete(&mut self, key: &str) -> Option<Value> {
        let old = self.keys.remove(key)?;
        self.record(Change {
            key: key.to_owned(),
            kind: ChangeKind::Delete,
            old: Some(old.clone()),
            new: None,
        });
        Some(old)
    }

    /// Deletes on a client's behalf.
    pub fn delete_checked(&mut self, key: &str) -> Result<(), MapError> {
        if self.is_read_only(key) {
            return Err(MapError::ReadOnly(key.to_owned()));
        }
        self.delete(key)
            .map(|_| ())
            .ok_or_else(|| MapError::NotExist(key.to_owned()))
    }

    /// Adds `step` to an integer key (cmap inc/dec).
    pub fn adjust_checked(&mut self, key: &str, step: i32) -> Result<(), MapError> {
        if self.is_read_only(key) {
            return Err(MapError::ReadOnly(key.to_owned()));
        }
        let v = self.keys.get(key).ok_or_else(|| MapError::NotExist(key.to_owned()))?;
        let new = v.adjust(step).ok_or_else(|| MapError::NotInteger(key.to_owned()))?;
        self.set(key, new);
        Ok(())
    }

    /// Deletes every key under `prefix`.
    pub fn delete_prefix(&mut self, prefix: &str) {
        let doomed: Vec<String> = self.iter_prefix(prefix).map(|(k, _)| k.clone()).collect();
        for k in doomed {
            self.delete(&k);
        }
    }

    pub fn set_read_only(&mut self, prefix: impl Into<String>) {
        self.read_only.push(prefix.into());
    }

    /// Makes exactly `key` read-only for clients (not keys it is a prefix of).
    pub fn set_read_only_key(&mut self, key: impl Into<String>) {
        self.read_only_keys.insert(key.into());
    }

    /// corosync's `icmap_is_key_ro`.
    pub fn is_read_only(&self, key: &str) -> bool {
        self.read_only_keys.contains(key) || self.read_only.iter().any(|p| key.starts_with(p.as_str()))
    }

    /// Keys starting with `prefix`, in name order.
    pub fn iter_prefix<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a String, &'a Value)> + 'a {
        self.keys
            .range::<str, _>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded))
            .take_while(move |(k, _)| k.starts_with(prefix))
    }

    /// The first key strictly after `after` that starts with `prefix` (iteration that
    /// survives changes to the map between two steps).
    pub fn next_after(&self, prefix: &str, after: Option<&str>) -> Option<(&String, &Value)> {
        let mut range = match after {
            Some(a) => self
                .keys
                .range::<str, _>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)),
            None => self
                .keys
                .range::<str, _>((std::ops::Bound::Included(prefix), std::ops::Bound::Unbounded)),
        };
        range.next().filter(|(k, _)| k.starts_with(prefix))
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Value)> {
        self.keys.iter()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn record(&mut self, c: Change) {
        self.generation += 1;
        if self.changes.len() >= CHANGES_MAX {
            // Nobody drained them (no node around this map): keep the newest.
            self.changes.pop_front();
        }
        self.changes.push_back(c);
    }

    /// How many changes the map has seen (whether or not anyone took them).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Changes since the last call, oldest first.
    pub fn take_changes(&mut self) -> VecDeque<Change> {
        std::mem::take(&mut self.changes)
    }

    pub fn u32(&self, key: &str) -> Option<u32> {
        self.get(key).and_then(Value::as_u32)
    }

    pub fn string(&self, key: &str) -> Option<&str> {
        self.get(key).and_then(Value::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_are_recorded_with_old_values() {
        let mut m = Icmap::default();
        m.set("a.b", Value::U32(1));
        m.set("a.b", Value::U32(1));
        m.set("a.b", Value::U32(2));
        m.delete("a.b");
        let c: Vec<_> = m.take_changes().into_iter().map(|c| (c.kind, c.old, c.new)).collect();
        assert_eq!(
            c,
            vec![
                (ChangeKind::Add, None, Some(Value::U32(1))),
                (ChangeKind::Modify, Some(Value::U32(1)), Some(Value::U32(2))),
                (ChangeKind::Delete, Some(Value::U32(2)), None),
            ]
        );
        assert!(m.take_changes().is_empty());
        // Three changes (the repeated set changed nothing); taking them keeps the count.
        assert_eq!(m.generation(), 3);
    }

    #[test]
    fn prefix_iteration_and_next_after() {
        let mut m = Icmap::default();
        for k in [
            "nodelist.node.0.nodeid",
            "nodelist.node.1.nodeid",
            "nodelistx",
            "totem.token",
        ] {
            m.set(k, Value::U32(1));
        }
        let keys: Vec<_> = m.iter_prefix("nodelist.").map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["nodelist.node.0.nodeid", "nodelist.node.1.nodeid"]);
        let first = m.next_after("nodelist.", None).unwrap().0.clone();
        let second = m.next_after("nodelist.", Some(&first)).unwrap().0.clone();
        assert_eq!(second, "nodelist.node.1.nodeid");
        assert!(m.next_after("nodelist.", Some(&second)).is_none());
    }

    #[test]
    fn wire_values_round_trip() {
        let vals = [
            Value::I8(-3),
            Value::U8(3),
            Value::I16(-300),
            Value::U16(300),
            Value::I32(-70000),
            Value::U32(70000),
            Value::I64(-1),
            Value::U64(u64::MAX),
            Value::Float(1.5),
            Value::Double(-2.25),
            Value::String("hello".into()),
            Value::Binary(vec![0, 1, 2]),
        ];
        for v in vals {
            assert_eq!(v.to_wire().len(), v.wire_len());
            assert_eq!(Value::from_wire(v.type_code(), &v.to_wire()), Some(v));
        }
        assert_eq!(Value::from_wire(6, &[1, 2]), None);
        assert_eq!(Value::from_wire(13, &[]), None);
    }

    #[test]
    fn checked_writes() {
        let mut m = Icmap::default();
        m.set_read_only("nodelist.");
        assert!(matches!(
            m.set_checked("nodelist.node.0.x", Value::U8(1)),
            Err(MapError::ReadOnly(_))
        ));
        assert!(matches!(
            m.set_checked("a b", Value::U8(1)),
            Err(MapError::InvalidKey(_))
        ));
        m.set_checked("my.key", Value::U8(255)).unwrap();
        m.adjust_checked("my.key", 1).unwrap();
        assert_eq!(m.get("my.key"), Some(&Value::U8(0)));
        m.set("s.key", Value::String("x".into()));
        assert!(matches!(m.adjust_checked("s.key", 1), Err(MapError::NotInteger(_))));
        assert!(matches!(m.delete_checked("nope.key"), Err(MapError::NotExist(_))));
    }
}

//! cmap's change tracking (`cmap_track_add`): which client trackers a map change
//! reaches, and with what event.

use crate::icmap::{Change, ChangeKind};

use super::codec::{self, TrackType};

/// One tracker of a connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    /// The key, or the prefix with [`TrackType::PREFIX`]; empty: every key.
    pub key: String,
    pub track_type: TrackType,
    /// The client's handle for its callback, echoed in every event.
    pub inst: u64,
}

impl Track {
    /// Whether `change` reaches this tracker of the main map. libqb's trie calls an
    /// exact-key tracker for its key only and a prefix tracker for every key starting
    /// with the prefix (including the prefix itself); an empty key without PREFIX
    /// never matches.
    pub fn matches(&self, change: &Change) -> bool {
        let kind_bit = change.kind as i32;
        if !self.track_type.has(kind_bit) {
            return false;
        }
        if self.track_type.has(TrackType::PREFIX) {
            change.key.starts_with(&self.key)
        } else {
            !self.key.is_empty() && change.key == self.key
        }
    }

    /// The NOTIFY_CALLBACK event for `change`: the new value (none on delete) and the
    /// old one (none on add).
    pub fn event(&self, change: &Change) -> Vec<u8> {
        codec::notify(
            self.inst,
            &change.key,
            change.kind as i32,
            change.new.as_ref(),
            change.old.as_ref(),
        )
    }

    /// The event for a change of the stats map (`exec/stats.c`): prefix trackers hear
    /// of added and removed keys, exact-key trackers of every change of their key (as
    /// MODIFY, whatever they asked for, like `stats_trigger_trackers`); both values
    /// carry the current value.
    pub fn stats_event(&self, change: &Change) -> Option<Vec<u8>> {
        let value = change.new.as_ref().or(change.old.as_ref());
        let kind = if self.track_type.has(TrackType::PREFIX) {
            if change.kind == ChangeKind::Modify
                || !self.track_type.has(change.kind as i32)
                || !change.key.starts_with(&self.key)
            {
                return None;
            }
            change.kind as i32
        } else {
            if self.key.is_empty() || change.key != self.key {
                return None;
            }
            match change.kind {
                ChangeKind::Modify => TrackType::MODIFY,
                k if self.track_type.has(k as i32) => k as i32,
                _ => return None,
            }
        };
        Some(codec::notify(self.inst, &change.key, kind, value, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::icmap::Value;

    fn change(key: &str, kind: ChangeKind) -> Change {
        Change {
            key: key.into(),
            kind,
            old: Some(Value::U8(1)),
            new: Some(Value::U8(2)),
        }
    }

    #[test]
    fn prefix_and_exact_matching() {
        let p = Track {
            key: "totem.".into(),
            track_type: TrackType(TrackType::PREFIX | TrackType::MODIFY),
            inst: 1,
        };
        assert!(p.matches(&change("totem.token", ChangeKind::Modify)));
        assert!(!p.matches(&change("totem.token", ChangeKind::Add)));
        assert!(!p.matches(&change("totemx", ChangeKind::Modify)));
        let e = Track {
            key: "totem.token".into(),
            track_type: TrackType(TrackType::ADD | TrackType::DELETE | TrackType::MODIFY),
            inst: 1,
        };
        assert!(e.matches(&change("totem.token", ChangeKind::Delete)));
        assert!(!e.matches(&change("totem.token_retransmit", ChangeKind::Modify)));
        let all = Track {
            key: String::new(),
            track_type: TrackType(TrackType::PREFIX | TrackType::ADD),
            inst: 1,
        };
        assert!(all.matches(&change("x.y.z", ChangeKind::Add)));
    }

    #[test]
    fn stats_trackers() {
        let p = Track {
            key: "stats.ipcs.".into(),
            track_type: TrackType(TrackType::PREFIX | TrackType::ADD | TrackType::DELETE),
            inst: 1,
        };
        assert!(p.stats_event(&change("stats.ipcs.x.y", ChangeKind::Add)).is_some());
        assert!(p.stats_event(&change("stats.ipcs.x.y", ChangeKind::Modify)).is_none());
        let k = Track {
            key: "stats.srp.mcast_tx".into(),
            track_type: TrackType(TrackType::ADD),
            inst: 1,
        };
        let ev = k
            .stats_event(&change("stats.srp.mcast_tx", ChangeKind::Modify))
            .unwrap();
        assert_eq!(crate::wire::Reader::new(&ev).i32(296).unwrap(), TrackType::MODIFY);
    }
}

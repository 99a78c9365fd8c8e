//! The sort queue: messages of one ring indexed by sequence number, holding each until
//! every member has it (then it is released). Bounded: a sequence number more than
//! [`SORT_QUEUE_SIZE`] beyond the release point is refused, never stored.

use std::collections::VecDeque;

use super::seq;
use crate::wire::Mcast;

/// corosync's `QUEUE_RTR_ITEMS_SIZE_MAX`.
pub(crate) const SORT_QUEUE_SIZE: u32 = 16384;

/// A stored message and whether its sender used the other byte order.
#[derive(Clone, Debug)]
pub(crate) struct Stored {
    pub mcast: Mcast,
    pub foreign_endian: bool,
}

#[derive(Debug, Default)]
struct Slot {
    item: Option<Stored>,
    /// Token visits this sequence number was seen missing.
    misses: u32,
}

/// Messages with sequence numbers in `(head, head + SORT_QUEUE_SIZE]`.
#[derive(Debug)]
pub(crate) struct SortQueue {
    /// Everything up to and including `head` has been released.
    head: u32,
    /// Slot `i` holds sequence number `head + 1 + i`.
    slots: VecDeque<Slot>,
}

impl SortQueue {
    pub(crate) fn new(head: u32) -> Self {
        SortQueue {
            head,
            slots: VecDeque::new(),
        }
    }

    /// Forgets everything and restarts after `head`.
    pub(crate) fn reinit(&mut self, head: u32) {
        self.head = head;
        self.slots.clear();
    }

    fn index(&self, seq: u32) -> Option<usize> {
        let offset = seq.wrapping_sub(self.head);
        (1..=SORT_QUEUE_SIZE).contains(&offset).then(|| offset as usize - 1)
    }

    /// True when `seq` can be stored (not released, not too far ahead).
    pub(crate) fn in_range(&self, seq: u32) -> bool {
        self.index(seq).is_some()
    }

    /// True when `seq` is held, or was released, or lies out of range ("nothing to add").
    pub(crate) fn in_use(&self, seq: u32) -> bool {
        match self.index(seq) {
            None => true,
            Some(i) => self.slots.get(i).is_some_and(|s| s.item.is_some()),
        }
    }

    pub(crate) fn get(&self, seq: u32) -> Option<&Stored> {
        let i = self.index(seq)?;
        self.slots.get(i)?.item.as_ref()
    }

    /// Stores `item` under `seq` unless out of range or already present. Returns whether stored.
    pub(crate) fn insert(&mut self, seq: u32, item: Stored) -> bool {
        let Some(i) = self.index(seq) else { return false };
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, Slot::default);
        }
        let slot = &mut self.slots[i];
        if slot.item.is_some() {
            return false;
        }
        slot.item = Some(item);
        true
    }

    /// Counts one more miss of `seq` and returns the new count.
    pub(crate) fn miss(&mut self, seq: u32) -> u32 {
        let Some(i) = self.index(seq) else { return 0 };
        if self.slots.len() <= i {
            self.slots.resize_with(i + 1, Slot::default);
        }
        let slot = &mut self.slots[i];
        slot.misses = slot.misses.saturating_add(1);
        slot.misses
    }

    /// Releases everything up to and including `seq`.
    pub(crate) fn release_to(&mut self, seq: u32) {
        while seq::lt(self.head, seq) {
            self.slots.pop_front();
            self.head = self.head.wrapping_add(1);
        }
    }

    pub(crate) fn head(&self) -> u32 {
        self.head
    }

    /// Stored messages in sequence order (for moving recovery messages).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (u32, &Stored)> {
        let head = self.head;
        self.slots
            .iter()
            .enumerate()
            .filter_map(move |(i, s)| s.item.as_ref().map(|m| (head.wrapping_add(1 + i as u32), m)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(seq: u32) -> Stored {
        Stored {
            mcast: Mcast {
                seq,
                ..Default::default()
            },
            foreign_endian: false,
        }
    }

    #[test]
    fn insert_get_release() {
        let mut q = SortQueue::new(0);
        assert!(!q.in_use(1));
        assert!(q.insert(2, item(2)));
        assert!(!q.insert(2, item(2)), "duplicate refused");
        assert!(q.in_use(2));
        assert!(!q.in_use(1));
        assert!(q.insert(1, item(1)));
        assert_eq!(q.get(1).unwrap().mcast.seq, 1);
        q.release_to(1);
        assert!(q.in_use(1), "released counts as in use");
        assert!(q.get(1).is_none());
        assert_eq!(q.get(2).unwrap().mcast.seq, 2);
        assert_eq!(q.iter().map(|(s, _)| s).collect::<Vec<_>>(), vec![2]);
    }

    #[test]
    fn bounded_range() {
        let mut q = SortQueue::new(10);
        assert!(!q.in_range(10));
        assert!(q.in_range(11));
        assert!(q.in_range(10 + SORT_QUEUE_SIZE));
        assert!(!q.in_range(11 + SORT_QUEUE_SIZE));
        assert!(!q.insert(11 + SORT_QUEUE_SIZE, item(0)));
        assert!(q.in_use(11 + SORT_QUEUE_SIZE));
    }

    #[test]
    fn wraps_around() {
        let mut q = SortQueue::new(u32::MAX - 1);
        assert!(q.insert(u32::MAX, item(1)));
        assert!(q.insert(0, item(2)));
        assert!(q.insert(1, item(3)));
        q.release_to(0);
        assert_eq!(q.head(), 0);
        assert!(q.get(1).is_some());
    }

    #[test]
    fn miss_counts() {
        let mut q = SortQueue::new(0);
        assert_eq!(q.miss(3), 1);
        assert_eq!(q.miss(3), 2);
        assert!(!q.in_use(3));
    }
}

//! Multicasts waiting for CPG: sent in order, held while ferrosyncd applies flow control
//! (`CS_ERR_TRY_AGAIN`), bounded — when full, the host stops taking the CRM node's
//! output, which then stays in the node's own bounded outbox (and client requests are
//! refused as busy). Nothing is dropped.

use std::collections::VecDeque;

/// The outcome of one send attempt.
#[derive(Debug)]
pub enum Attempt<E> {
    Sent,
    /// Flow control: try again later.
    Held,
    Failed(E),
}

/// The queue.
#[derive(Debug)]
pub struct SendQueue {
    queue: VecDeque<Vec<u8>>,
    max: usize,
}

impl SendQueue {
    pub fn new(max: usize) -> SendQueue {
        SendQueue {
            queue: VecDeque::new(),
            max: max.max(1),
        }
    }

    pub fn len(&self) -> usize {
        self.queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Whether another message may be queued.
    pub fn has_room(&self) -> bool {
        self.queue.len() < self.max
    }

    /// Queues a message (the caller checked [`SendQueue::has_room`]; beyond the bound
    /// the message is still kept, never dropped).
    pub fn push(&mut self, msg: Vec<u8>) {
        self.queue.push_back(msg);
    }

    /// Sends from the front until one is held back or fails; a failed message stays
    /// queued. Returns the error of a failure.
    pub fn flush<E>(&mut self, mut send: impl FnMut(&[u8]) -> Attempt<E>) -> Result<(), E> {
        while let Some(msg) = self.queue.front() {
            match send(msg) {
                Attempt::Sent => {
                    self.queue.pop_front();
                }
                Attempt::Held => return Ok(()),
                Attempt::Failed(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_messages_stay_in_order_and_none_is_lost() {
        let mut q = SendQueue::new(3);
        let mut wire: Vec<Vec<u8>> = Vec::new();
        let mut budget = 0;
        for i in 0..3u8 {
            assert!(q.has_room());
            q.push(vec![i]);
        }
        assert!(!q.has_room(), "bounded");
        // Flow control on: nothing goes, nothing is lost.
        let send = |m: &[u8], budget: &mut i32, wire: &mut Vec<Vec<u8>>| -> Attempt<&'static str> {
            if *budget == 0 {
                return Attempt::Held;
            }
            *budget -= 1;
            wire.push(m.to_vec());
            Attempt::Sent
        };
        q.flush(|m| send(m, &mut budget, &mut wire)).unwrap();
        assert_eq!(q.len(), 3);
        // Released for two messages, then on again.
        budget = 2;
        q.flush(|m| send(m, &mut budget, &mut wire)).unwrap();
        assert_eq!(wire, [vec![0], vec![1]]);
        assert!(q.has_room());
        q.push(vec![3]);
        budget = 10;
        q.flush(|m| send(m, &mut budget, &mut wire)).unwrap();
        assert_eq!(wire, [vec![0], vec![1], vec![2], vec![3]]);
        assert!(q.is_empty());
        // A failure keeps the message and says why.
        q.push(vec![4]);
        assert_eq!(q.flush(|_| Attempt::Failed("gone")), Err("gone"));
        assert_eq!(q.len(), 1);
    }
}

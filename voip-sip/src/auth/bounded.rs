//! A hash map with a fixed capacity that evicts its oldest entry.

use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// Insertion-ordered, capacity-bounded map: inserting a new key into a full
/// map evicts the key inserted longest ago. Memory stays bounded whatever
/// the network sends.
#[derive(Debug)]
pub(crate) struct BoundedMap<K, V> {
    cap: usize,
    seq: u64,
    map: HashMap<K, (u64, V)>,
    /// `(seq, key)` in insertion order; stale rows (key removed or
    /// re-inserted) are skipped and compacted away.
    order: VecDeque<(u64, K)>,
}

impl<K: Hash + Eq + Clone, V> BoundedMap<K, V> {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            cap: cap.max(1),
            seq: 0,
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    pub(crate) fn get(&self, key: &K) -> Option<&V> {
        self.map.get(key).map(|(_, v)| v)
    }

    pub(crate) fn get_mut(&mut self, key: &K) -> Option<&mut V> {
        self.map.get_mut(key).map(|(_, v)| v)
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.map.values().map(|(_, v)| v)
    }

    /// Inserts or replaces; a new key may evict the oldest one.
    pub(crate) fn insert(&mut self, key: K, value: V) {
        if let Some(slot) = self.map.get_mut(&key) {
            slot.1 = value;
            return;
        }
        while self.map.len() >= self.cap {
            let Some((seq, old)) = self.order.pop_front() else {
                break;
            };
            if self.map.get(&old).is_some_and(|(s, _)| *s == seq) {
                self.map.remove(&old);
            }
        }
        self.seq = self.seq.wrapping_add(1);
        self.map.insert(key.clone(), (self.seq, value));
        self.order.push_back((self.seq, key));
        self.compact();
    }

    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.map.retain(|k, (_, v)| keep(k, v));
        self.compact();
    }

    fn compact(&mut self) {
        if self.order.len() > 2 * self.map.len() + 16 {
            let map = &self.map;
            self.order
                .retain(|(seq, k)| map.get(k).is_some_and(|(s, _)| s == seq));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_oldest_and_stays_bounded() {
        let mut m = BoundedMap::new(3);
        for i in 0..10u32 {
            m.insert(i, i);
        }
        assert_eq!(m.len(), 3);
        assert!(m.get_mut(&9).is_some());
        assert!(m.get_mut(&6).is_none());
        for i in 0..1000u32 {
            m.insert(i % 5, i);
            m.retain(|k, _| *k != i % 5);
        }
        assert!(m.order.len() <= 2 * m.len() + 17);
        m.insert(1, 1);
        m.insert(2, 2);
        m.retain(|k, _| *k == 2);
        assert_eq!(m.len(), 1);
    }
}

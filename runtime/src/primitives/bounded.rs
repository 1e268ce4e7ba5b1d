//! A map that holds at most a given number of entries and forgets the oldest inserted first.

use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;

/// At most `capacity` entries (at least one); inserting a new key beyond it evicts the oldest
/// inserted. Replacing a key's value keeps its place.
#[derive(Debug)]
pub(crate) struct BoundedMap<K, V> {
    capacity: usize,
    map: HashMap<K, V>,
    order: VecDeque<K>,
}

impl<K: Hash + Eq + Clone, V> BoundedMap<K, V> {
    /// An empty map of at most `capacity` entries (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), map: HashMap::new(), order: VecDeque::new() }
    }

    /// Inserts or replaces `key`; the entries evicted to make room, oldest first.
    pub(crate) fn insert(&mut self, key: K, value: V) -> Vec<(K, V)> {
        if let Some(held) = self.map.get_mut(&key) {
            *held = value;
            return Vec::new();
        }
        let mut evicted = Vec::new();
        while self.map.len() >= self.capacity {
            let Some(oldest) = self.order.pop_front() else { break };
            if let Some(value) = self.map.remove(&oldest) {
                evicted.push((oldest, value));
            }
        }
        self.order.push_back(key.clone());
        self.map.insert(key, value);
        evicted
    }

    /// The value of `key`.
    pub(crate) fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.map.get(key)
    }

    /// Whether `key` is held.
    pub(crate) fn contains_key<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.map.contains_key(key)
    }

    /// Removes `key`, returning its value.
    pub(crate) fn remove<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let value = self.map.remove(key)?;
        self.order.retain(|k| k.borrow() != key);
        Some(value)
    }

    /// Removes every entry for which `keep` is false.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        self.map.retain(|k, v| keep(k, v));
        let map = &self.map;
        self.order.retain(|k| map.contains_key(k));
    }

    /// The values, in no particular order.
    pub(crate) fn values(&self) -> impl Iterator<Item = &V> {
        self.map.values()
    }

    /// How many entries it holds at most.
    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many entries are held.
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_oldest_inserted_goes_first_and_a_replaced_key_keeps_its_place() {
        let mut m = BoundedMap::new(2);
        assert!(m.insert("a", 1).is_empty());
        assert!(m.insert("b", 2).is_empty());
        assert!(m.insert("a", 3).is_empty(), "replaced, nothing evicted");
        assert_eq!(m.insert("c", 4), [("a", 3)], "a was inserted first");
        assert_eq!((m.get(&"a"), m.get(&"b"), m.get(&"c")), (None, Some(&2), Some(&4)));
        assert_eq!(m.remove(&"b"), Some(2));
        assert!(m.insert("d", 5).is_empty(), "room after the removal");
        m.retain(|k, _| *k != "c");
        assert_eq!((m.len(), m.contains_key(&"d")), (1, true));
        assert_eq!(BoundedMap::<u8, u8>::new(0).insert(1, 1).len(), 0, "a capacity of at least one");
    }
}

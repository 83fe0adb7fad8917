//! The resolver's record cache: positive answers live for their smallest
//! TTL, negative answers (NXDOMAIN, no data) for the SOA's negative TTL
//! (RFC 2308), both capped by the configuration. Failures (SERVFAIL, a
//! timeout) are never cached.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::records::{RecordData, RecordType};

/// What is known about one `(name, type)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Known {
    /// The records (never empty).
    Records(Vec<RecordData>),
    /// The name or the type does not exist.
    Empty,
}

#[derive(Debug, Clone)]
struct Entry {
    known: Known,
    expires: Instant,
}

/// A TTL cache keyed by normalised name and record type.
#[derive(Debug)]
pub(crate) struct Cache {
    entries: HashMap<(String, RecordType), Entry>,
    capacity: usize,
}

impl Cache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            entries: HashMap::new(),
            capacity,
        }
    }

    /// The live entry for `(name, kind)`; an expired one is removed.
    pub(crate) fn get(&mut self, now: Instant, name: &str, kind: RecordType) -> Option<Known> {
        let key = (name.to_owned(), kind);
        match self.entries.get(&key) {
            Some(e) if e.expires > now => Some(e.known.clone()),
            Some(_) => {
                self.entries.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Stores `known` for `lifetime` (nothing for a zero lifetime or a zero
    /// capacity). When full, expired entries go first, then the entry that
    /// would expire soonest.
    pub(crate) fn insert(
        &mut self,
        now: Instant,
        name: &str,
        kind: RecordType,
        known: Known,
        lifetime: Duration,
    ) {
        if lifetime.is_zero() || self.capacity == 0 {
            return;
        }
        let key = (name.to_owned(), kind);
        if self.entries.len() >= self.capacity && !self.entries.contains_key(&key) {
            self.entries.retain(|_, e| e.expires > now);
            if self.entries.len() >= self.capacity {
                let soonest = self
                    .entries
                    .iter()
                    .min_by_key(|(_, e)| e.expires)
                    .map(|(k, _)| k.clone());
                if let Some(k) = soonest {
                    self.entries.remove(&k);
                }
            }
        }
        self.entries.insert(
            key,
            Entry {
                known,
                expires: now + lifetime,
            },
        );
    }

    /// Number of entries, expired ones included until they are touched.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Forgets everything.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[test]
    fn entries_expire_and_capacity_evicts_the_soonest() {
        let now = Instant::now();
        let mut c = Cache::new(2);
        let a = Known::Records(vec![RecordData::A(Ipv4Addr::LOCALHOST)]);
        c.insert(now, "a", RecordType::A, a.clone(), Duration::from_secs(10));
        c.insert(
            now,
            "b",
            RecordType::A,
            Known::Empty,
            Duration::from_secs(5),
        );
        assert_eq!(c.get(now, "a", RecordType::A), Some(a.clone()));
        assert_eq!(c.get(now, "a", RecordType::Aaaa), None);
        c.insert(now, "c", RecordType::A, a.clone(), Duration::from_secs(20));
        assert_eq!(c.len(), 2);
        assert_eq!(c.get(now, "b", RecordType::A), None); // evicted: soonest
        let later = now + Duration::from_secs(10);
        assert_eq!(c.get(later, "a", RecordType::A), None); // expired
        assert_eq!(c.get(later, "c", RecordType::A), Some(a));
        c.insert(now, "z", RecordType::A, Known::Empty, Duration::ZERO);
        assert_eq!(c.get(now, "z", RecordType::A), None);
    }
}

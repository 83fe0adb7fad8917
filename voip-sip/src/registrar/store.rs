//! The location service (RFC 3261 §10.3): where bindings are kept.

use std::collections::HashMap;
use std::time::Instant;

use bytes::Bytes;

use super::binding::{Binding, BindingKey};

/// Why a store refused a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The address-of-record would hold more bindings than the store keeps.
    #[error("too many bindings for the address-of-record (limit {limit})")]
    Full {
        /// The limit.
        limit: usize,
    },
    /// The store cannot be written (a backend failure).
    #[error("location store unavailable")]
    Unavailable,
}

/// Keeps the bindings of every address-of-record.
///
/// Synchronous and small on purpose (STYLE §3): the [`Registrar`] owns one
/// as a `Box<dyn LocationStore>`. A store backed by a database keeps a
/// cache here and writes through out of band. Addresses-of-record are
/// canonical ([`canonical_aor`](super::canonical_aor)).
///
/// [`Registrar`]: super::Registrar
pub trait LocationStore: Send {
    /// The bindings of `aor` that have not expired at `now`, in store order.
    fn bindings(&self, aor: &[u8], now: Instant) -> Vec<Binding>;

    /// Replaces every binding of `aor` with `bindings` in one step (a
    /// REGISTER is atomic, RFC 3261 §10.3 step 8); an empty list removes
    /// the address-of-record. On error nothing changes.
    fn replace(&mut self, aor: &Bytes, bindings: Vec<Binding>) -> Result<(), StoreError>;

    /// Adds `binding`, or replaces the binding of its address-of-record with
    /// the same [`Binding::key`]; returns the replaced one.
    fn upsert(&mut self, binding: Binding) -> Result<Option<Binding>, StoreError>;

    /// Removes the binding of `aor` with `key`.
    fn remove(&mut self, aor: &[u8], key: &BindingKey) -> Option<Binding>;

    /// Removes every binding of `aor`.
    fn remove_all(&mut self, aor: &[u8]) -> Vec<Binding>;

    /// Removes and returns every binding expired at `now`.
    fn expire(&mut self, now: Instant) -> Vec<Binding>;

    /// The earliest expiry of any binding.
    fn next_expiry(&self) -> Option<Instant>;

    /// Every address-of-record with at least one binding.
    fn aors(&self) -> Vec<Bytes>;

    /// The number of bindings, all addresses-of-record together.
    fn len(&self) -> usize;

    /// Whether there are no bindings.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The in-memory [`LocationStore`]: a map from address-of-record to its
/// bindings, at most [`MemoryLocationStore::max_bindings_per_aor`] each
/// (10 unless set). Finding the next expiry scans every binding.
#[derive(Debug, Clone)]
pub struct MemoryLocationStore {
    map: HashMap<Bytes, Vec<Binding>>,
    max_per_aor: usize,
    len: usize,
}

impl Default for MemoryLocationStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryLocationStore {
    /// An empty store keeping at most 10 bindings per address-of-record.
    pub fn new() -> Self {
        Self::with_max_bindings_per_aor(10)
    }

    /// An empty store keeping at most `max` bindings per address-of-record
    /// (at least 1).
    pub fn with_max_bindings_per_aor(max: usize) -> Self {
        Self {
            map: HashMap::new(),
            max_per_aor: max.max(1),
            len: 0,
        }
    }

    /// The bound on bindings per address-of-record.
    pub fn max_bindings_per_aor(&self) -> usize {
        self.max_per_aor
    }

    fn recount(&mut self) {
        self.len = self.map.values().map(Vec::len).sum();
    }
}

impl LocationStore for MemoryLocationStore {
    fn bindings(&self, aor: &[u8], now: Instant) -> Vec<Binding> {
        self.map
            .get(aor)
            .map(|v| v.iter().filter(|b| !b.is_expired(now)).cloned().collect())
            .unwrap_or_default()
    }

    fn replace(&mut self, aor: &Bytes, bindings: Vec<Binding>) -> Result<(), StoreError> {
        if bindings.len() > self.max_per_aor {
            return Err(StoreError::Full {
                limit: self.max_per_aor,
            });
        }
        if bindings.is_empty() {
            self.map.remove(aor);
        } else {
            self.map.insert(aor.clone(), bindings);
        }
        self.recount();
        Ok(())
    }

    fn upsert(&mut self, binding: Binding) -> Result<Option<Binding>, StoreError> {
        let key = binding.key();
        let limit = self.max_per_aor;
        let list = self.map.entry(binding.aor.clone()).or_default();
        let old = match list.iter().position(|b| b.key() == key) {
            Some(i) => Some(std::mem::replace(&mut list[i], binding)),
            None if list.len() >= limit => {
                if list.is_empty() {
                    self.map.remove(&binding.aor);
                }
                return Err(StoreError::Full { limit });
            }
            None => {
                list.push(binding);
                None
            }
        };
        self.recount();
        Ok(old)
    }

    fn remove(&mut self, aor: &[u8], key: &BindingKey) -> Option<Binding> {
        let list = self.map.get_mut(aor)?;
        let pos = list.iter().position(|b| &b.key() == key)?;
        let removed = list.remove(pos);
        if list.is_empty() {
            self.map.remove(aor);
        }
        self.recount();
        Some(removed)
    }

    fn remove_all(&mut self, aor: &[u8]) -> Vec<Binding> {
        let removed = self.map.remove(aor).unwrap_or_default();
        self.recount();
        removed
    }

    fn expire(&mut self, now: Instant) -> Vec<Binding> {
        let mut removed = Vec::new();
        self.map.retain(|_, list| {
            let (gone, kept): (Vec<_>, Vec<_>) = std::mem::take(list)
                .into_iter()
                .partition(|b| b.is_expired(now));
            removed.extend(gone);
            *list = kept;
            !list.is_empty()
        });
        self.recount();
        removed
    }

    fn next_expiry(&self) -> Option<Instant> {
        self.map.values().flatten().map(|b| b.expires_at).min()
    }

    fn aors(&self) -> Vec<Bytes> {
        self.map.keys().cloned().collect()
    }

    fn len(&self) -> usize {
        self.len
    }
}

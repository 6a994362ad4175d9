//! Parsed client records kept between requests, so the token endpoint needs
//! no database read or JSON parse per request. The store's client generation
//! (bumped by every client change, by any process) is polled; a change
//! empties the cache, so edits made with `certbound clients` reach every
//! instance within one poll interval.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use super::RegisteredClient;

/// Beyond this many entries new lookups are not cached (bounds memory under
/// a flood of distinct client ids; unknown ids are never cached anyway).
const MAX_ENTRIES: usize = 10_000;

/// Client records by id, valid until the next observed client change.
#[derive(Debug, Default)]
pub struct ClientCache {
    entries: RwLock<HashMap<String, Arc<RegisteredClient>>>,
    /// Increased on every clear; a lookup that started before a clear must
    /// not put what it read (possibly stale) into the cache after it.
    epoch: AtomicU64,
    /// The store generation the entries belong to; `None` before the first poll.
    generation: RwLock<Option<i64>>,
    enabled: bool,
}

impl ClientCache {
    /// A cache; when `enabled` is false every lookup goes to the store.
    pub fn new(enabled: bool) -> Self {
        Self {
            enabled,
            ..Self::default()
        }
    }

    /// The cached record for `client_id`.
    pub fn get(&self, client_id: &str) -> Option<Arc<RegisteredClient>> {
        if !self.enabled {
            return None;
        }
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        entries.get(client_id).cloned()
    }

    /// Call before reading from the store; pass the result to [`Self::insert`].
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Caches `client` unless the cache was cleared since `epoch` was taken.
    pub fn insert(&self, epoch: u64, client: Arc<RegisteredClient>) {
        if !self.enabled {
            return;
        }
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        // Checked under the write lock: `clear` bumps the epoch under it too.
        if self.epoch.load(Ordering::Acquire) != epoch || entries.len() >= MAX_ENTRIES {
            return;
        }
        entries.insert(client.client_id.clone(), client);
    }

    /// Records the store's current generation (`None`: it could not be
    /// read); empties the cache unless it equals the one the entries belong to.
    pub fn observe_generation(&self, current: Option<i64>) {
        let mut seen = self
            .generation
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        if current.is_some() && *seen == current {
            return;
        }
        *seen = current;
        self.clear();
    }

    /// Forgets every entry.
    pub fn clear(&self) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        self.epoch.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }

    /// How many records are cached.
    pub fn len(&self) -> usize {
        self.entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    /// Whether nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

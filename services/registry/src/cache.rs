//! Compiled validators, keyed by (workspace, event type, version).
//!
//! Schema versions are immutable, so an entry never goes stale and needs no
//! invalidation. The map is bounded by clearing it when it grows past
//! [`DEFAULT_CAPACITY`]: crude, but a refill costs one query and one compile
//! per hot version, and it keeps memory flat whatever the tenants register.
//! Two requests racing on a cold entry may both compile; the first insert
//! wins and both use it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use jsonschema::Validator;
use uuid::Uuid;

pub const DEFAULT_CAPACITY: usize = 10_000;

type Key = (Uuid, String, u32);

pub struct ValidatorCache {
    capacity: usize,
    entries: Mutex<HashMap<Key, Arc<Validator>>>,
}

impl ValidatorCache {
    pub fn new(capacity: usize) -> Self {
        debug_assert!(capacity > 0, "a cache of zero entries would never hit");
        Self {
            capacity,
            entries: Mutex::default(),
        }
    }

    pub fn get(&self, workspace: Uuid, event_type: &str, version: u32) -> Option<Arc<Validator>> {
        let key = (workspace, event_type.to_string(), version);
        self.lock().get(&key).cloned()
    }

    /// Stores `validator` unless another one got there first, and returns the
    /// one kept.
    pub fn insert(
        &self,
        workspace: Uuid,
        event_type: &str,
        version: u32,
        validator: Validator,
    ) -> Arc<Validator> {
        let mut entries = self.lock();
        if entries.len() >= self.capacity {
            entries.clear();
        }
        let key = (workspace, event_type.to_string(), version);
        Arc::clone(entries.entry(key).or_insert_with(|| Arc::new(validator)))
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Key, Arc<Validator>>> {
        // Every critical section is a single map operation, so a panic in
        // another holder cannot have left the map half-updated.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Default for ValidatorCache {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn validator(kind: &str) -> Validator {
        jsonschema::validator_for(&json!({"type": kind})).expect("compiles")
    }

    #[test]
    fn entries_are_scoped_by_workspace_type_and_version() {
        let cache = ValidatorCache::new(10);
        let workspace = Uuid::now_v7();
        cache.insert(workspace, "lead.created", 1, validator("string"));
        assert!(cache.get(workspace, "lead.created", 1).is_some());
        assert!(cache.get(workspace, "lead.created", 2).is_none());
        assert!(cache.get(workspace, "lead.updated", 1).is_none());
        assert!(cache.get(Uuid::now_v7(), "lead.created", 1).is_none());
    }

    #[test]
    fn the_first_insert_wins_a_race() {
        let cache = ValidatorCache::new(10);
        let workspace = Uuid::now_v7();
        let first = cache.insert(workspace, "a.b", 1, validator("string"));
        let second = cache.insert(workspace, "a.b", 1, validator("integer"));
        assert!(Arc::ptr_eq(&first, &second));
        assert!(second.is_valid(&json!("text")));
    }

    #[test]
    fn stays_within_its_capacity() {
        let cache = ValidatorCache::new(3);
        let workspace = Uuid::now_v7();
        for version in 1..=7 {
            cache.insert(workspace, "a.b", version, validator("string"));
            assert!(cache.len() <= 3);
        }
        assert!(cache.get(workspace, "a.b", 7).is_some());
    }
}

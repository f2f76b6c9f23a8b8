//! The head of each event type (latest version, mode, deprecation), cached
//! per replica so that validating against the latest version costs no
//! query.
//!
//! Unlike compiled validators, heads change, so this cache is only trusted
//! while the change listener (`crate::notify`) is connected: until the first
//! `LISTEN` succeeds and whenever the connection drops, [`HeadCache::get`]
//! misses and nothing is stored, and every (re)connection starts from
//! empty, since notifications sent while disconnected are lost.
//!
//! A read that raced an invalidation must not store what it read before
//! it: callers take a [`Ticket`] before querying, and [`HeadCache::insert`]
//! drops the value when any invalidation happened since (a global
//! generation counter: invalidations are rare, so a coarse counter costs
//! few misses).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use uuid::Uuid;

use crate::store::Head;

/// Bound on cached heads; past it the map is cleared (as the validator
/// cache does), costing one query per hot type.
const CAPACITY: usize = 50_000;

/// The generation a read started in.
#[derive(Clone, Copy, Debug)]
pub struct Ticket(u64);

#[derive(Default)]
pub struct HeadCache {
    heads: Mutex<HashMap<(Uuid, String), Head>>,
    generation: AtomicU64,
    listening: AtomicBool,
}

impl HeadCache {
    pub fn get(&self, workspace: Uuid, name: &str) -> Option<Head> {
        if !self.listening.load(Ordering::Acquire) {
            return None;
        }
        self.lock().get(&(workspace, name.to_string())).copied()
    }

    /// Taken before reading a head from Postgres.
    pub fn ticket(&self) -> Ticket {
        Ticket(self.generation.load(Ordering::Acquire))
    }

    /// Stores `head` unless the cache is not trusted or something was
    /// invalidated since `ticket` was taken.
    pub fn insert(&self, ticket: Ticket, workspace: Uuid, name: &str, head: Head) {
        let mut heads = self.lock();
        // Checked under the lock that invalidations also take, so an
        // invalidation cannot slip between the check and the insert.
        if !self.listening.load(Ordering::Acquire)
            || self.generation.load(Ordering::Acquire) != ticket.0
        {
            return;
        }
        if heads.len() >= CAPACITY {
            heads.clear();
        }
        heads.insert((workspace, name.to_string()), head);
    }

    /// Forgets one type (a notification, or a change made here).
    pub fn invalidate(&self, workspace: Uuid, name: &str) {
        let mut heads = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        heads.remove(&(workspace, name.to_string()));
    }

    /// The listener is connected: start trusting notifications, from empty.
    pub fn connected(&self) {
        let mut heads = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        heads.clear();
        self.listening.store(true, Ordering::Release);
    }

    /// The listener lost its connection: stop caching until it is back.
    pub fn disconnected(&self) {
        let mut heads = self.lock();
        self.listening.store(false, Ordering::Release);
        self.generation.fetch_add(1, Ordering::AcqRel);
        heads.clear();
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(Uuid, String), Head>> {
        // Every critical section is a few map operations that cannot leave
        // the map half-updated.
        self.heads.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compat::Mode;

    fn head(latest_version: u32) -> Head {
        Head {
            latest_version,
            compatibility: Mode::Backward,
            deprecated: false,
        }
    }

    #[test]
    fn nothing_is_cached_until_the_listener_connects() {
        let cache = HeadCache::default();
        let workspace = Uuid::now_v7();
        cache.insert(cache.ticket(), workspace, "a.b", head(1));
        assert_eq!(cache.get(workspace, "a.b"), None);
        cache.connected();
        cache.insert(cache.ticket(), workspace, "a.b", head(1));
        assert_eq!(cache.get(workspace, "a.b"), Some(head(1)));
        cache.disconnected();
        assert_eq!(cache.get(workspace, "a.b"), None);
        cache.connected();
        assert_eq!(
            cache.get(workspace, "a.b"),
            None,
            "a reconnection starts empty"
        );
    }

    #[test]
    fn a_read_that_raced_an_invalidation_is_not_stored() {
        let cache = HeadCache::default();
        cache.connected();
        let workspace = Uuid::now_v7();
        let stale = cache.ticket();
        cache.invalidate(workspace, "a.b");
        cache.insert(stale, workspace, "a.b", head(1));
        assert_eq!(cache.get(workspace, "a.b"), None);
        cache.insert(cache.ticket(), workspace, "a.b", head(2));
        assert_eq!(cache.get(workspace, "a.b"), Some(head(2)));
        cache.invalidate(workspace, "a.b");
        assert_eq!(cache.get(workspace, "a.b"), None);
    }
}

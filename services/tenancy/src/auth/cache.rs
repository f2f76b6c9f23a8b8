//! Verified workspace credentials, kept so a call costs no database round
//! trip, and dropped the moment a credential of their workspace changes.
//!
//! Revoking or rotating an API key and removing a verification key call
//! [`publish_change`] in their transaction; every service's
//! [`CredentialCache`] listens on [`CHANNEL`] (the shared listener,
//! [`switchyard_core::notify`]) and forgets the workspace's entries at commit. While
//! the listener is connected an entry lives up to [`LISTENING_TTL`]; while
//! it is not (or was never started) up to [`KEY_CACHE_TTL`], so a
//! revocation is still seen within that time. Never past the credential's
//! own expiry. A lookup that raced with an invalidation does not store its
//! possibly stale result (a generation counter tells).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio_postgres::Transaction;

use super::Principal;
use switchyard_core::ids::WorkspaceId;
use switchyard_core::notify::{self, Channel, Subscriber};

/// How long a verified credential is trusted when no listener tells of
/// changes.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(5);
/// How long it is trusted while the listener is connected.
pub const LISTENING_TTL: Duration = Duration::from_secs(60);
/// The notification channel; the payload is the workspace id (`ws_…`).
pub const CHANNEL: &str = "switchyard_auth";
/// Entries kept before expired ones are swept.
const SWEEP_AT: usize = 10_000;

/// The channel every service listens on.
pub fn channel() -> Channel {
    Channel {
        name: CHANNEL,
        application_name: "switchyard-auth-listener",
    }
}

/// Tells every service, when the caller's transaction commits, that a
/// credential of `workspace` changed.
pub async fn publish_change(
    transaction: &Transaction<'_>,
    workspace: WorkspaceId,
) -> anyhow::Result<()> {
    notify::publish(transaction, &channel(), &workspace.to_string()).await
}

/// Taken before a lookup; the result is stored only if nothing was
/// invalidated since.
#[derive(Clone, Copy, Debug)]
pub struct Ticket(u64);

#[derive(Debug, Default)]
pub struct CredentialCache {
    entries: Mutex<HashMap<Vec<u8>, (Principal, Instant)>>,
    generation: AtomicU64,
    listening: AtomicBool,
}

impl CredentialCache {
    fn entries(&self) -> MutexGuard<'_, HashMap<Vec<u8>, (Principal, Instant)>> {
        // Every critical section is a few map operations that cannot leave
        // the map half-updated.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The principal cached for `key`, if still trusted.
    pub fn get(&self, key: &[u8]) -> Option<Principal> {
        let entries = self.entries();
        let (principal, until) = entries.get(key)?;
        (Instant::now() < *until).then(|| principal.clone())
    }

    pub fn ticket(&self) -> Ticket {
        Ticket(self.generation.load(Ordering::Acquire))
    }

    /// Remembers a credential verified after `ticket` was taken.
    pub fn insert(
        &self,
        ticket: Ticket,
        key: Vec<u8>,
        principal: Principal,
        expires_at: DateTime<Utc>,
    ) {
        let ttl = if self.listening.load(Ordering::Acquire) {
            LISTENING_TTL
        } else {
            KEY_CACHE_TTL
        };
        let left = (expires_at - Utc::now()).to_std().unwrap_or(Duration::ZERO);
        let until = Instant::now() + left.min(ttl);
        let mut entries = self.entries();
        if self.generation.load(Ordering::Acquire) != ticket.0 {
            return;
        }
        if entries.len() > SWEEP_AT {
            let now = Instant::now();
            entries.retain(|_, (_, until)| *until > now);
        }
        entries.insert(key, (principal, until));
    }

    /// Forgets every credential of `workspace`.
    pub fn invalidate_workspace(&self, workspace: WorkspaceId) {
        let mut entries = self.entries();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.retain(|_, (principal, _)| principal.workspace != workspace);
    }

    fn invalidate_all(&self) {
        let mut entries = self.entries();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }

    /// Whether the listener is connected (entries live longer).
    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }
}

impl Subscriber for CredentialCache {
    fn connected(&self) {
        self.invalidate_all();
        self.listening.store(true, Ordering::Release);
    }

    fn disconnected(&self) {
        self.listening.store(false, Ordering::Release);
        self.invalidate_all();
    }

    fn notified(&self, payload: &str) {
        match WorkspaceId::parse(payload) {
            Ok(workspace) => self.invalidate_workspace(workspace),
            Err(_) => {
                tracing::warn!(
                    payload,
                    "unreadable credential notification; forgetting all"
                );
                self.invalidate_all();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::{Scope, Scopes};

    fn principal(workspace: WorkspaceId) -> Principal {
        Principal {
            workspace,
            scopes: Scopes::parse(["emit"]).expect("scopes"),
            actor: "sy_test_abcd".to_string(),
        }
    }

    #[test]
    fn a_workspace_notification_forgets_only_that_workspace() {
        let cache = CredentialCache::default();
        let (a, b) = (WorkspaceId::generate(), WorkspaceId::generate());
        let forever = DateTime::<Utc>::MAX_UTC;
        cache.insert(cache.ticket(), b"a".to_vec(), principal(a), forever);
        cache.insert(cache.ticket(), b"b".to_vec(), principal(b), forever);
        cache.notified(&a.to_string());
        assert!(cache.get(b"a").is_none());
        assert_eq!(cache.get(b"b").map(|p| p.workspace), Some(b));
        assert!(
            cache
                .get(b"b")
                .is_some_and(|p| p.scopes.allows(Scope::Emit))
        );
    }

    #[test]
    fn a_lookup_that_raced_with_an_invalidation_is_not_stored() {
        let cache = CredentialCache::default();
        let workspace = WorkspaceId::generate();
        let ticket = cache.ticket();
        cache.invalidate_workspace(workspace);
        cache.insert(
            ticket,
            b"k".to_vec(),
            principal(workspace),
            DateTime::<Utc>::MAX_UTC,
        );
        assert!(cache.get(b"k").is_none());
    }

    #[test]
    fn entries_never_outlive_the_credential() {
        let cache = CredentialCache::default();
        let workspace = WorkspaceId::generate();
        cache.insert(
            cache.ticket(),
            b"k".to_vec(),
            principal(workspace),
            Utc::now() - chrono::Duration::seconds(1),
        );
        assert!(cache.get(b"k").is_none());
    }

    #[test]
    fn listening_lengthens_the_trust_and_losing_the_listener_empties_it() {
        let cache = CredentialCache::default();
        let workspace = WorkspaceId::generate();
        cache.connected();
        assert!(cache.is_listening());
        cache.insert(
            cache.ticket(),
            b"k".to_vec(),
            principal(workspace),
            DateTime::<Utc>::MAX_UTC,
        );
        let until = cache
            .entries()
            .get(b"k".as_slice())
            .map(|(_, until)| *until);
        assert!(until.is_some_and(|until| until > Instant::now() + KEY_CACHE_TTL));
        cache.disconnected();
        assert!(!cache.is_listening());
        assert!(cache.get(b"k").is_none());
    }
}

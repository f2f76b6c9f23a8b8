//! One deployment per database and Redis prefix.
//!
//! Two stacks started with default settings share the database and the
//! Redis prefix: the second one's delivery takes the first one's jobs and
//! holds every attempt, since its master keys do not open the first one's
//! credentials. So every process that seals or opens credentials (router
//! and delivery) claims the prefix for its keyring:
//!
//! 1. It reads `<prefix>:{dlv}:keyrings`, a hash of one entry per live
//!    process: the id and [`Keyring::fingerprints`] of each of its keys,
//!    its host, pid and service, and when it last said it was alive.
//! 2. An entry not refreshed for [`STALE_AFTER`] is a process that died: it
//!    is removed. A live entry whose keyring this one cannot share — a key
//!    id both hold with different keys, or no key id in common — belongs to
//!    another deployment: starting is refused, saying how to run two.
//!    Keyrings that share a key (a rotation in progress) go together.
//! 3. It adds its own entry and refreshes it every [`REFRESH_EVERY`] until
//!    shutdown, when it removes it. Each refresh checks again, so two
//!    stacks started at the same moment are still reported (at ERROR).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use redis::AsyncCommands;
use serde::{Deserialize, Serialize};
use switchyard_core::redis_conn::RedisConn;

use crate::secrets::Keyring;
use switchyard_core::shutdown::{self, Signal};

/// How often a live process refreshes its entry.
pub const REFRESH_EVERY: Duration = Duration::from_secs(5);
/// An entry older than this belongs to a process that is gone.
pub const STALE_AFTER: Duration = Duration::from_secs(30);

/// The hash of live keyrings under `prefix` (beside the delivery stream).
pub fn keyrings_key(prefix: &str) -> String {
    format!("{prefix}:{{dlv}}:keyrings")
}

/// One process's entry.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
struct Entry {
    /// Key id → fingerprint.
    keys: BTreeMap<String, String>,
    host: String,
    pid: u32,
    service: String,
    /// Unix milliseconds of the last refresh.
    seen_ms: u64,
}

/// This process's claim on the prefix; [`KeyringClaim::hold`] keeps it.
pub struct KeyringClaim {
    redis: RedisConn,
    key: String,
    prefix: String,
    field: String,
    entry: Entry,
}

impl KeyringClaim {
    /// Claims `prefix` for `keyring`, or explains which other deployment
    /// uses it with keys that do not go with these.
    pub async fn acquire(
        mut redis: RedisConn,
        prefix: &str,
        keyring: &Keyring,
        service: &str,
    ) -> anyhow::Result<Self> {
        let key = keyrings_key(prefix);
        let field = format!("{service}-{}", uuid::Uuid::now_v7().simple());
        let entry = Entry {
            keys: keyring.fingerprints().clone(),
            host: hostname(),
            pid: std::process::id(),
            service: service.to_string(),
            seen_ms: now_ms(),
        };
        if let Some(conflict) = find_conflict(&mut redis, &key, &field, &entry.keys).await? {
            anyhow::bail!("{}", refusal(prefix, &conflict));
        }
        let claim = Self {
            redis,
            key,
            prefix: prefix.to_string(),
            field,
            entry,
        };
        claim.refresh().await?;
        Ok(claim)
    }

    async fn refresh(&self) -> anyhow::Result<()> {
        let entry = Entry {
            seen_ms: now_ms(),
            ..self.entry.clone()
        };
        let entry = serde_json::to_string(&entry).context("encoding the keyring entry")?;
        let () = self
            .redis
            .clone()
            .hset(&self.key, &self.field, entry)
            .await
            .context("announcing this process's keyring in Redis")?;
        Ok(())
    }

    /// Refreshes the entry until `shutdown`, then removes it. Redis errors
    /// are logged and retried at the next refresh.
    pub async fn hold(mut self, shutdown: Signal) {
        let claim = &self;
        shutdown::every_after(REFRESH_EVERY, shutdown, move || claim.check_and_refresh()).await;
        let removed: redis::RedisResult<()> = self.redis.hdel(&self.key, &self.field).await;
        if let Err(error) = removed {
            tracing::warn!(%error, "removing the keyring claim (it expires by itself)");
        }
    }

    /// One refresh of [`Self::hold`], checking again for another deployment.
    async fn check_and_refresh(&self) {
        let mut redis = self.redis.clone();
        match find_conflict(&mut redis, &self.key, &self.field, &self.entry.keys).await {
            Ok(Some(conflict)) => tracing::error!("{}", refusal(&self.prefix, &conflict)),
            Ok(None) => {}
            Err(error) => tracing::warn!(error = format!("{error:#}"), "checking keyrings"),
        }
        if let Err(error) = self.refresh().await {
            tracing::warn!(error = format!("{error:#}"), "refreshing the keyring claim");
        }
    }
}

/// Another live process whose keyring does not go with ours, and why.
#[derive(Debug, PartialEq, Eq)]
struct Conflict {
    host: String,
    pid: u32,
    service: String,
    seen_secs_ago: u64,
    reason: String,
}

/// Reads every entry, removes stale ones, and returns the first live one
/// (not ours) whose keyring conflicts with `ours`.
async fn find_conflict(
    redis: &mut RedisConn,
    key: &str,
    own_field: &str,
    ours: &BTreeMap<String, String>,
) -> anyhow::Result<Option<Conflict>> {
    let entries: BTreeMap<String, String> = redis
        .hgetall(key)
        .await
        .context("reading the keyrings of live processes from Redis")?;
    let now = now_ms();
    let mut stale = Vec::new();
    let mut found = None;
    for (field, text) in entries {
        if field == own_field {
            continue;
        }
        // An entry we cannot read (a later release's) is left alone.
        let Ok(entry) = serde_json::from_str::<Entry>(&text) else {
            continue;
        };
        let age_ms = now.saturating_sub(entry.seen_ms);
        if u128::from(age_ms) > STALE_AFTER.as_millis() {
            stale.push(field);
            continue;
        }
        if found.is_some() {
            continue;
        }
        if let Some(reason) = keyring_conflict(ours, &entry.keys) {
            found = Some(Conflict {
                host: entry.host,
                pid: entry.pid,
                service: entry.service,
                seen_secs_ago: age_ms / 1000,
                reason,
            });
        }
    }
    if !stale.is_empty() {
        let () = redis
            .hdel(key, stale)
            .await
            .context("removing the keyrings of stopped processes")?;
    }
    Ok(found)
}

/// Why a process holding `theirs` and one holding `ours` cannot share a
/// database and stream, if they cannot: each must open what the other
/// seals.
fn keyring_conflict(
    ours: &BTreeMap<String, String>,
    theirs: &BTreeMap<String, String>,
) -> Option<String> {
    let shared: Vec<&String> = ours.keys().filter(|id| theirs.contains_key(*id)).collect();
    if shared.is_empty() {
        let ids =
            |keys: &BTreeMap<String, String>| keys.keys().cloned().collect::<Vec<_>>().join(", ");
        return Some(format!(
            "it holds master keys {} and this process {}, none in common",
            ids(theirs),
            ids(ours)
        ));
    }
    let differing: Vec<&str> = shared
        .into_iter()
        .filter(|id| ours.get(*id) != theirs.get(*id))
        .map(String::as_str)
        .collect();
    if differing.is_empty() {
        return None;
    }
    Some(format!(
        "its master key {} differs from this process's",
        differing.join(", ")
    ))
}

fn refusal(prefix: &str, conflict: &Conflict) -> String {
    format!(
        "another deployment uses Redis prefix `{prefix}` (and, likely, this database) with other \
         master keys: {} on {} (pid {}, seen {} s ago); {}. This process would take its jobs and \
         could not open its credentials. To run a second stack, give it its own \
         SWITCHYARD_REDIS_PREFIX and SWITCHYARD_DATABASE_URL; to join that deployment, give it the \
         same SWITCHYARD_SECRETS__KEYS__*",
        conflict.service, conflict.host, conflict.pid, conflict.seen_secs_ago, conflict.reason
    )
}

fn hostname() -> String {
    hostname::get()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown host".to_string())
}

fn now_ms() -> u64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(id, fingerprint)| (id.to_string(), fingerprint.to_string()))
            .collect()
    }

    #[test]
    fn keyrings_sharing_a_key_go_together() {
        let one = keys(&[("k1", "aa")]);
        let rotating = keys(&[("k1", "aa"), ("k2", "bb")]);
        let rotated = keys(&[("k2", "bb")]);
        assert_eq!(keyring_conflict(&one, &one), None);
        assert_eq!(keyring_conflict(&one, &rotating), None);
        assert_eq!(keyring_conflict(&rotated, &rotating), None);
    }

    #[test]
    fn keyrings_that_cannot_open_each_other_conflict() {
        let ours = keys(&[("k1", "aa")]);
        assert_eq!(
            keyring_conflict(&ours, &keys(&[("k1", "cc")])).as_deref(),
            Some("its master key k1 differs from this process's")
        );
        assert_eq!(
            keyring_conflict(&ours, &keys(&[("demo", "dd")])).as_deref(),
            Some("it holds master keys demo and this process k1, none in common")
        );
        // Sharing one key does not excuse another that differs.
        let both = keys(&[("k1", "aa"), ("k2", "bb")]);
        assert!(keyring_conflict(&both, &keys(&[("k1", "aa"), ("k2", "ee")])).is_some());
    }
}

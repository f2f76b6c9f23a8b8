//! API keys: `sy_<env>_<40 random alphanumerics>`, shown once, stored as
//! HMAC-SHA256 under the configured pepper ([`KeyHasher`]) and told apart by
//! a visible prefix (`sy_live_a1b2c3d4`). Keys carry scopes, a name, and
//! may expire; revoking sets `revoked_at`, rotating issues a twin and lets
//! the old key expire after a grace period. Keys created before keyed
//! hashing (`hash_kind = 'sha256'`) keep working until rotated.

use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Pool};
use hmac::{Hmac, Mac};
use rand::Rng;
use rand::distr::Alphanumeric;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tokio_postgres::Row;

use super::{Operator, Scopes};
use crate::audit;
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{ApiKeyId, WorkspaceId};

const KEY_RANDOM_CHARS: usize = 40;
/// Random characters of a key shown in its visible prefix.
const VISIBLE_RANDOM_CHARS: usize = 8;
/// The environment of keys made without one.
pub const DEFAULT_ENVIRONMENT: &str = "live";
/// Longest grace period of a rotated key.
pub const MAX_ROTATION_GRACE: Duration = Duration::from_secs(30 * 24 * 3600);

/// Hashes keys under the configured pepper.
#[derive(Clone)]
pub struct KeyHasher {
    pepper: Option<SecretString>,
}

impl KeyHasher {
    pub fn new(pepper: Option<&SecretString>) -> Self {
        Self {
            pepper: pepper.cloned(),
        }
    }

    pub fn is_keyed(&self) -> bool {
        self.pepper.is_some()
    }

    /// HMAC-SHA256 of the key (an empty HMAC key without a pepper).
    pub fn hash(&self, key: &str) -> Vec<u8> {
        let pepper = self
            .pepper
            .as_ref()
            .map_or(&[][..], |pepper| pepper.expose_secret().as_bytes());
        let mut mac = Hmac::<Sha256>::new_from_slice(pepper).expect("HMAC takes any key length");
        mac.update(key.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }
}

/// The unkeyed hash of keys created before keyed hashing, and of tokens
/// kept in memory (cache keys, the internal token).
pub fn legacy_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A fresh key of `environment`, in clear.
pub fn generate_api_key(environment: &str) -> String {
    let random: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(KEY_RANDOM_CHARS)
        .map(char::from)
        .collect();
    format!("sy_{environment}_{random}")
}

/// The visible start of a key: `sy_<env>_` and a few random characters.
pub fn visible_prefix(key: &str) -> String {
    let head = key.match_indices('_').nth(1).map_or(0, |(at, _)| at + 1);
    key.chars().take(head + VISIBLE_RANDOM_CHARS).collect()
}

pub fn validate_environment(environment: &str) -> ApiResult<String> {
    let environment = if environment.is_empty() {
        DEFAULT_ENVIRONMENT
    } else {
        environment
    };
    let valid = (1..=16).contains(&environment.len())
        && environment
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !valid {
        return Err(ApiError::invalid(
            "environment",
            "must be 1-16 lower-case letters or digits",
        ));
    }
    Ok(environment.to_string())
}

fn validate_slug(slug: &str) -> ApiResult<()> {
    let ok = !slug.is_empty()
        && slug.len() <= 63
        && slug
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "slug",
            "must be 1-63 lower-case letters, digits or `-`, starting with a letter or digit",
        ))
    }
}

/// A key as listed: never the key nor its hash.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ApiKeyRecord {
    #[serde(serialize_with = "display")]
    pub id: ApiKeyId,
    pub name: String,
    pub prefix: String,
    pub environment: String,
    #[serde(serialize_with = "scope_names")]
    pub scopes: Scopes,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_by: String,
}

fn display<S: serde::Serializer>(
    value: &impl std::fmt::Display,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

fn scope_names<S: serde::Serializer>(scopes: &Scopes, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(scopes.names())
}

const KEY_COLUMNS: &str =
    "id, name, prefix, environment, scopes, created_at, expires_at, revoked_at, created_by";

fn record_from_row(row: &Row) -> ApiResult<ApiKeyRecord> {
    let names: Vec<String> = row.get("scopes");
    let scopes = Scopes::parse(names.iter().map(String::as_str))
        .map_err(|reason| ApiError::Internal(anyhow::anyhow!("stored key scopes: {reason}")))?;
    Ok(ApiKeyRecord {
        id: ApiKeyId(row.get("id")),
        name: row.get("name"),
        prefix: row.get("prefix"),
        environment: row.get("environment"),
        scopes,
        created_at: row.get("created_at"),
        expires_at: row.get("expires_at"),
        revoked_at: row.get("revoked_at"),
        created_by: row.get("created_by"),
    })
}

/// What a new key is.
pub struct NewKey<'a> {
    pub name: &'a str,
    pub environment: &'a str,
    pub scopes: Scopes,
    pub expires_at: Option<DateTime<Utc>>,
    /// Who asks, for `created_by` and the audit log.
    pub actor: &'a str,
}

async fn insert_key(
    client: &impl GenericClient,
    hasher: &KeyHasher,
    workspace: WorkspaceId,
    new: &NewKey<'_>,
) -> ApiResult<(ApiKeyRecord, String)> {
    if new.scopes.is_empty() {
        return Err(ApiError::invalid("scopes", "needs at least one scope"));
    }
    if new.name.chars().count() > 100 {
        return Err(ApiError::invalid("name", "is longer than 100 characters"));
    }
    if new.expires_at.is_some_and(|at| at <= Utc::now()) {
        return Err(ApiError::invalid("expires_at", "must be in the future"));
    }
    let environment = validate_environment(new.environment)?;
    let key = generate_api_key(&environment);
    let scopes: Vec<&str> = new.scopes.names();
    let row = client
        .query_one(
            &format!(
                "INSERT INTO api_keys (id, workspace_id, prefix, key_hash, hash_kind, name, \
                     environment, scopes, expires_at, created_by) \
                 VALUES ($1, $2, $3, $4, 'hmac-sha256', $5, $6, $7, $8, $9) \
                 RETURNING {KEY_COLUMNS}"
            ),
            &[
                &ApiKeyId::generate().as_uuid(),
                &workspace.as_uuid(),
                &visible_prefix(&key),
                &hasher.hash(&key),
                &new.name.trim(),
                &environment,
                &scopes,
                &new.expires_at,
                &new.actor,
            ],
        )
        .await?;
    Ok((record_from_row(&row)?, key))
}

/// Creates a workspace and its first admin key; returns the key in clear,
/// the only time it exists outside the caller's hands.
pub async fn create_workspace(
    pool: &Pool,
    hasher: &KeyHasher,
    slug: &str,
) -> Result<(WorkspaceId, String), ApiError> {
    create_workspace_full(pool, hasher, slug)
        .await
        .map(|(workspace, _, key)| (workspace, key))
}

/// [`create_workspace`], also returning the key's record.
pub async fn create_workspace_full(
    pool: &Pool,
    hasher: &KeyHasher,
    slug: &str,
) -> Result<(WorkspaceId, ApiKeyRecord, String), ApiError> {
    validate_slug(slug)?;
    let workspace_id = WorkspaceId::generate();
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    let inserted = transaction
        .execute(
            "INSERT INTO workspaces (id, slug) VALUES ($1, $2) ON CONFLICT (slug) DO NOTHING",
            &[&workspace_id.as_uuid(), &slug],
        )
        .await?;
    if inserted == 0 {
        return Err(ApiError::AlreadyExists(format!(
            "workspace `{slug}` already exists"
        )));
    }
    let new = NewKey {
        name: "bootstrap",
        environment: DEFAULT_ENVIRONMENT,
        scopes: Scopes::of(&[super::Scope::Admin]),
        expires_at: None,
        actor: Operator::ACTOR,
    };
    let (record, key) = insert_key(&transaction, hasher, workspace_id, &new).await?;
    audit::record(
        &transaction,
        workspace_id,
        Operator::ACTOR,
        "WorkspaceService/CreateWorkspace",
        &workspace_id.to_string(),
        None,
        Some(&serde_json::json!({"slug": slug, "key": record})),
    )
    .await?;
    transaction.commit().await?;
    Ok((workspace_id, record, key))
}

/// Issues a key of `workspace`.
pub async fn create_key(
    pool: &Pool,
    hasher: &KeyHasher,
    workspace: WorkspaceId,
    new: &NewKey<'_>,
) -> ApiResult<(ApiKeyRecord, String)> {
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    let (record, key) = insert_key(&transaction, hasher, workspace, new).await?;
    audit::record(
        &transaction,
        workspace,
        new.actor,
        "WorkspaceService/CreateApiKey",
        &record.id.to_string(),
        None,
        Some(&serde_json::to_value(&record).map_err(anyhow::Error::from)?),
    )
    .await?;
    transaction.commit().await?;
    Ok((record, key))
}

/// The workspace's keys, oldest first; only active ones unless asked.
pub async fn list_keys(
    pool: &Pool,
    workspace: WorkspaceId,
    include_inactive: bool,
) -> ApiResult<Vec<ApiKeyRecord>> {
    let client = pool.get().await?;
    let rows = client
        .query(
            &format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE workspace_id = $1 \
                   AND ($2 OR (revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now()))) \
                 ORDER BY created_at, id"
            ),
            &[&workspace.as_uuid(), &include_inactive],
        )
        .await?;
    rows.iter().map(record_from_row).collect()
}

/// Revokes a key of the workspace (NotFound for any other workspace's).
pub async fn revoke_key(
    pool: &Pool,
    workspace: WorkspaceId,
    id: ApiKeyId,
    actor: &str,
) -> ApiResult<ApiKeyRecord> {
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    let before = locked_key(&transaction, workspace, id).await?;
    let row = transaction
        .query_one(
            &format!(
                "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, now()) \
                 WHERE id = $1 RETURNING {KEY_COLUMNS}"
            ),
            &[&id.as_uuid()],
        )
        .await?;
    let after = record_from_row(&row)?;
    audit_change(
        &transaction,
        workspace,
        actor,
        "WorkspaceService/RevokeApiKey",
        &before,
        &after,
    )
    .await?;
    super::cache::publish_change(&transaction, workspace).await?;
    transaction.commit().await?;
    Ok(after)
}

/// Issues a twin of the key and lets the old one expire after `grace`.
/// Returns the new record, the new key in clear, and the old record.
pub async fn rotate_key(
    pool: &Pool,
    hasher: &KeyHasher,
    workspace: WorkspaceId,
    id: ApiKeyId,
    grace: Duration,
    actor: &str,
) -> ApiResult<(ApiKeyRecord, String, ApiKeyRecord)> {
    if grace > MAX_ROTATION_GRACE {
        return Err(ApiError::invalid("grace_period", "must be at most 30 days"));
    }
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    let before = locked_key(&transaction, workspace, id).await?;
    if before.revoked_at.is_some() {
        return Err(ApiError::FailedPrecondition(format!(
            "key {id} is revoked; create a new key instead"
        )));
    }
    let new = NewKey {
        name: &before.name,
        environment: &before.environment,
        scopes: before.scopes,
        expires_at: before.expires_at.filter(|at| *at > Utc::now()),
        actor,
    };
    let (record, key) = insert_key(&transaction, hasher, workspace, &new).await?;
    let grace_secs = grace.as_secs_f64();
    let row = transaction
        .query_one(
            &format!(
                "UPDATE api_keys SET rotated_to = $2, \
                     revoked_at = CASE WHEN $3::float8 = 0 THEN now() ELSE revoked_at END, \
                     expires_at = CASE WHEN $3::float8 = 0 THEN expires_at \
                         ELSE LEAST(COALESCE(expires_at, 'infinity'), now() + make_interval(secs => $3)) END \
                 WHERE id = $1 RETURNING {KEY_COLUMNS}"
            ),
            &[&id.as_uuid(), &record.id.as_uuid(), &grace_secs],
        )
        .await?;
    let previous = record_from_row(&row)?;
    audit_change(
        &transaction,
        workspace,
        actor,
        "WorkspaceService/RotateApiKey",
        &before,
        &previous,
    )
    .await?;
    // The old key's cached trust must not outlast its new expiry.
    super::cache::publish_change(&transaction, workspace).await?;
    transaction.commit().await?;
    Ok((record, key, previous))
}

async fn locked_key(
    client: &impl GenericClient,
    workspace: WorkspaceId,
    id: ApiKeyId,
) -> ApiResult<ApiKeyRecord> {
    let row = client
        .query_opt(
            &format!(
                "SELECT {KEY_COLUMNS} FROM api_keys WHERE id = $1 AND workspace_id = $2 FOR UPDATE"
            ),
            &[&id.as_uuid(), &workspace.as_uuid()],
        )
        .await?;
    match row {
        Some(row) => record_from_row(&row),
        None => Err(ApiError::not_found(format!("API key {id} not found"))),
    }
}

async fn audit_change(
    client: &impl GenericClient,
    workspace: WorkspaceId,
    actor: &str,
    action: &str,
    before: &ApiKeyRecord,
    after: &ApiKeyRecord,
) -> ApiResult<()> {
    let json = |record: &ApiKeyRecord| serde_json::to_value(record).map_err(anyhow::Error::from);
    audit::record(
        client,
        workspace,
        actor,
        action,
        &before.id.to_string(),
        Some(&json(before)?),
        Some(&json(after)?),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_have_env_prefix_entropy_and_a_visible_prefix() {
        let key = generate_api_key("test");
        assert!(key.starts_with("sy_test_"));
        assert_eq!(key.len(), "sy_test_".len() + KEY_RANDOM_CHARS);
        assert_ne!(key, generate_api_key("test"));
        let prefix = visible_prefix(&key);
        assert_eq!(prefix.len(), "sy_test_".len() + VISIBLE_RANDOM_CHARS);
        assert!(key.starts_with(&prefix));
    }

    #[test]
    fn hashes_are_keyed_by_the_pepper() {
        let a = KeyHasher::new(Some(&SecretString::from("pepper-a")));
        let b = KeyHasher::new(Some(&SecretString::from("pepper-b")));
        let key = generate_api_key("live");
        assert_eq!(a.hash(&key).len(), 32);
        assert_eq!(a.hash(&key), a.hash(&key));
        assert_ne!(a.hash(&key), b.hash(&key));
        assert_ne!(a.hash(&key), legacy_hash(&key));
    }

    #[test]
    fn environments_are_checked() {
        assert_eq!(validate_environment("").ok().as_deref(), Some("live"));
        assert_eq!(validate_environment("test").ok().as_deref(), Some("test"));
        assert!(validate_environment("Prod").is_err());
        assert!(validate_environment("a_b").is_err());
    }
}

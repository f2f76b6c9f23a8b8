//! Authentication. A request carries `authorization: Bearer <token>`:
//! - a workspace API key (`sy_live_…`), looked up by its SHA-256 hash — the
//!   key itself is never stored — and mapped to its workspace;
//! - or, for the internal RPCs services call on each other, the cluster's
//!   internal token.
//!
//! Successful key lookups are cached for [`KEY_CACHE_TTL`], so a revoked key
//! stops working within that time without a database round trip per call.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use deadpool_postgres::Pool;
use rand::Rng;
use rand::distr::Alphanumeric;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use tonic::metadata::MetadataMap;

use crate::error::ApiError;
use crate::ids::{ApiKeyId, WorkspaceId};

/// How long a verified key is trusted without asking Postgres again.
pub const KEY_CACHE_TTL: Duration = Duration::from_secs(30);
const KEY_PREFIX: &str = "sy_live_";
const KEY_RANDOM_CHARS: usize = 40;
/// Characters of a key shown in listings to tell keys apart.
const VISIBLE_PREFIX_CHARS: usize = 12;

/// A freshly generated API key: shown once, then only its hash is kept.
pub fn generate_api_key() -> String {
    let random: String = rand::rng()
        .sample_iter(&Alphanumeric)
        .take(KEY_RANDOM_CHARS)
        .map(char::from)
        .collect();
    format!("{KEY_PREFIX}{random}")
}

pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Creates a workspace and its first API key; returns the key in clear, the
/// only time it exists outside the caller's hands.
pub async fn create_workspace(pool: &Pool, slug: &str) -> Result<(WorkspaceId, String), ApiError> {
    let slug_ok = !slug.is_empty()
        && slug.len() <= 63
        && slug
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !slug_ok {
        return Err(ApiError::invalid(
            "slug",
            "must be 1-63 lower-case letters, digits or `-`, starting with a letter or digit",
        ));
    }
    let workspace_id = WorkspaceId::generate();
    let key = generate_api_key();
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
    transaction
        .execute(
            "INSERT INTO api_keys (id, workspace_id, prefix, key_hash) VALUES ($1, $2, $3, $4)",
            &[
                &ApiKeyId::generate().as_uuid(),
                &workspace_id.as_uuid(),
                &&key[..VISIBLE_PREFIX_CHARS],
                &hash_token(&key),
            ],
        )
        .await?;
    transaction.commit().await?;
    Ok((workspace_id, key))
}

/// Verified key hashes and when they were verified.
type KeyCache = Arc<Mutex<HashMap<Vec<u8>, (WorkspaceId, Instant)>>>;

/// Turns request metadata into a workspace (or checks the internal token).
#[derive(Clone)]
pub struct Authenticator {
    pool: Pool,
    internal_token_hash: Option<Vec<u8>>,
    cache: KeyCache,
}

impl Authenticator {
    pub fn new(pool: Pool, internal_token: Option<&SecretString>) -> Self {
        Self {
            pool,
            internal_token_hash: internal_token.map(|token| hash_token(token.expose_secret())),
            cache: Arc::default(),
        }
    }

    /// The workspace whose API key the request carries.
    pub async fn workspace(&self, metadata: &MetadataMap) -> Result<WorkspaceId, ApiError> {
        let token = bearer_token(metadata)?;
        let hash = hash_token(token);
        if let Some(workspace) = self.cached(&hash) {
            return Ok(workspace);
        }
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT k.workspace_id FROM api_keys k \
                 WHERE k.key_hash = $1 AND k.revoked_at IS NULL",
                &[&hash],
            )
            .await
            .context("looking up the API key")?;
        let Some(row) = row else {
            return Err(ApiError::Unauthenticated(
                "the API key is not valid".to_string(),
            ));
        };
        let workspace = WorkspaceId(row.get(0));
        self.remember(hash, workspace);
        Ok(workspace)
    }

    /// Succeeds only for the cluster's internal token.
    pub fn internal(&self, metadata: &MetadataMap) -> Result<(), ApiError> {
        let token = bearer_token(metadata)?;
        match &self.internal_token_hash {
            Some(expected) if *expected == hash_token(token) => Ok(()),
            _ => Err(ApiError::PermissionDenied(
                "this RPC is internal to Switchyard and needs the internal token".to_string(),
            )),
        }
    }

    fn cached(&self, hash: &[u8]) -> Option<WorkspaceId> {
        let cache = self.cache.lock().ok()?;
        let (workspace, at) = cache.get(hash)?;
        (at.elapsed() < KEY_CACHE_TTL).then_some(*workspace)
    }

    fn remember(&self, hash: Vec<u8>, workspace: WorkspaceId) {
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() > 10_000 {
                cache.retain(|_, (_, at)| at.elapsed() < KEY_CACHE_TTL);
            }
            cache.insert(hash, (workspace, Instant::now()));
        }
    }
}

/// The token of an `authorization: Bearer <token>` header.
pub fn bearer_token(metadata: &MetadataMap) -> Result<&str, ApiError> {
    let Some(value) = metadata.get("authorization") else {
        return Err(ApiError::Unauthenticated(
            "missing `authorization: Bearer <api key>` metadata".to_string(),
        ));
    };
    let value = value.to_str().map_err(|_| {
        ApiError::Unauthenticated("the authorization metadata is not ASCII".to_string())
    })?;
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(ApiError::Unauthenticated(
            "the authorization metadata must be `Bearer <api key>`".to_string(),
        ));
    }
    Ok(token.trim())
}

/// Metadata with `authorization: Bearer <token>`, for outgoing calls.
pub fn bearer_metadata(
    token: &str,
) -> Result<tonic::metadata::MetadataValue<tonic::metadata::Ascii>, ApiError> {
    format!("Bearer {token}")
        .parse()
        .map_err(|_| ApiError::invalid("token", "contains characters not allowed in metadata"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(value: &str) -> MetadataMap {
        let mut map = MetadataMap::new();
        map.insert("authorization", value.parse().expect("ascii"));
        map
    }

    #[test]
    fn parses_bearer_tokens() {
        assert_eq!(
            bearer_token(&metadata("Bearer sy_live_abc")).ok(),
            Some("sy_live_abc")
        );
        assert_eq!(
            bearer_token(&metadata("bearer  sy_live_abc ")).ok(),
            Some("sy_live_abc")
        );
        assert!(bearer_token(&metadata("Basic abc")).is_err());
        assert!(bearer_token(&metadata("Bearer ")).is_err());
        assert!(bearer_token(&metadata("sy_live_abc")).is_err());
        assert!(bearer_token(&MetadataMap::new()).is_err());
    }

    #[test]
    fn generated_keys_have_prefix_and_entropy() {
        let key = generate_api_key();
        assert!(key.starts_with("sy_live_"));
        assert_eq!(key.len(), KEY_PREFIX.len() + KEY_RANDOM_CHARS);
        assert_ne!(key, generate_api_key());
        assert_eq!(hash_token(&key).len(), 32);
    }
}

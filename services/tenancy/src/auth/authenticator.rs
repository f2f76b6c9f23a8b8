//! Turns a bearer token into a caller: an API key (looked up by its keyed
//! hash), a machine token (verified against its workspace's keys, HS256
//! secrets opened with the master keyring when the service has one), the
//! operator token or the internal token. Verified workspace credentials are
//! cached ([`super::cache`]): dropped at the commit of a change to their
//! workspace's credentials while [`Authenticator::listen`] runs, and after
//! at most [`super::cache::KEY_CACHE_TTL`] otherwise.

use std::sync::Arc;

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use secrecy::ExposeSecret;

use super::access::Access;
use super::cache::{self, CredentialCache};
use super::keys::{KeyHasher, legacy_hash};
use super::{Operator, Principal, Scopes, jwt};
use crate::secrets::Keyring;
use switchyard_core::config::Config;
use switchyard_core::error::ApiError;
use switchyard_core::ids::WorkspaceId;
use switchyard_core::notify;
use switchyard_core::shutdown::Signal;

/// Who is calling, once authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Caller {
    Workspace(Principal),
    Operator(Operator),
    Internal,
}

#[derive(Clone)]
pub struct Authenticator {
    pool: Pool,
    hasher: KeyHasher,
    internal_token_hash: Option<Vec<u8>>,
    operator_token_hash: Option<Vec<u8>>,
    /// Opens HS256 verification secrets; without one, HS256 tokens are
    /// refused (API keys and public-key tokens still work).
    keyring: Option<Keyring>,
    cache: Arc<CredentialCache>,
    /// Where [`Authenticator::listen`] connects.
    database_url: String,
}

impl Authenticator {
    /// An error only for a malformed master key in `config.secrets`.
    pub fn new(pool: Pool, config: &Config) -> anyhow::Result<Self> {
        let hash = |token: &secrecy::SecretString| legacy_hash(token.expose_secret());
        Ok(Self {
            pool,
            hasher: KeyHasher::new(config.api_key_pepper.as_ref()),
            internal_token_hash: config.internal_token.as_ref().map(hash),
            operator_token_hash: config.operator_token.as_ref().map(hash),
            keyring: Keyring::optional_from_config(&config.secrets)?,
            cache: Arc::default(),
            database_url: config.database_url.clone(),
        })
    }

    /// Keeps the credential cache in step with revocations made by any
    /// replica, until `shutdown` trips; run it beside the service.
    pub async fn listen(self, shutdown: Signal) {
        let database_url = self.database_url.clone();
        notify::listen(cache::channel(), database_url, &*self.cache, shutdown).await;
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    pub fn hasher(&self) -> &KeyHasher {
        &self.hasher
    }

    /// The master keyring, when the configuration has one.
    pub fn keyring(&self) -> Option<&Keyring> {
        self.keyring.as_ref()
    }

    /// Authenticates `token` for an RPC needing `access`.
    pub async fn authorize(&self, access: Access, token: &str) -> Result<Caller, ApiError> {
        match access {
            Access::Internal => {
                self.internal_token(token)?;
                Ok(Caller::Internal)
            }
            Access::Operator => match &self.operator_token_hash {
                Some(expected) if constant_eq(expected, &legacy_hash(token)) => {
                    Ok(Caller::Operator(Operator))
                }
                Some(_) => Err(ApiError::PermissionDenied(
                    "this RPC needs the operator token".to_string(),
                )),
                None => Err(ApiError::PermissionDenied(
                    "this RPC needs the operator token, and none is configured (operator_token)"
                        .to_string(),
                )),
            },
            Access::Workspace(scope) => {
                let principal = self.principal(token).await?;
                if !principal.scopes.allows(scope) {
                    return Err(ApiError::PermissionDenied(format!(
                        "this RPC needs the `{scope}` scope; the credential has `{}`",
                        principal.scopes
                    )));
                }
                Ok(Caller::Workspace(principal))
            }
        }
    }

    /// Succeeds only for the cluster's internal token.
    pub fn internal_token(&self, token: &str) -> Result<(), ApiError> {
        match &self.internal_token_hash {
            Some(expected) if constant_eq(expected, &legacy_hash(token)) => Ok(()),
            _ => Err(ApiError::PermissionDenied(
                "this RPC is internal to Switchyard and needs the internal token".to_string(),
            )),
        }
    }

    /// The workspace principal of an API key or machine token.
    pub async fn principal(&self, token: &str) -> Result<Principal, ApiError> {
        let cache_key = legacy_hash(token);
        if let Some(principal) = self.cache.get(&cache_key) {
            return Ok(principal);
        }
        let ticket = self.cache.ticket();
        let (principal, expires_at) = if jwt::looks_like_jwt(token) {
            let workspace = jwt::claimed_workspace(token)?;
            let keys = jwt::active_keys(&self.pool, workspace).await?;
            jwt::verify(token, workspace, &keys, self.keyring.as_ref())?
        } else {
            self.api_key(token).await?
        };
        self.cache
            .insert(ticket, cache_key, principal.clone(), expires_at);
        Ok(principal)
    }

    async fn api_key(&self, key: &str) -> Result<(Principal, DateTime<Utc>), ApiError> {
        let refused = || ApiError::Unauthenticated("the API key is not valid".to_string());
        if !key.starts_with("sy_") {
            return Err(refused());
        }
        let client = self.pool.get().await?;
        let row = client
            .query_opt(
                "SELECT workspace_id, scopes, prefix, expires_at, \
                        revoked_at IS NOT NULL OR COALESCE(expires_at <= now(), false) AS inactive \
                 FROM api_keys \
                 WHERE (key_hash = $1 AND hash_kind = 'hmac-sha256') \
                    OR (key_hash = $2 AND hash_kind = 'sha256')",
                &[&self.hasher.hash(key), &legacy_hash(key)],
            )
            .await
            .context("looking up the API key")?;
        let Some(row) = row else {
            return Err(refused());
        };
        if row.get::<_, bool>("inactive") {
            return Err(ApiError::Unauthenticated(
                "the API key is revoked or expired".to_string(),
            ));
        }
        let names: Vec<String> = row.get("scopes");
        let scopes = Scopes::parse(names.iter().map(String::as_str))
            .map_err(|reason| ApiError::Internal(anyhow::anyhow!("stored scopes: {reason}")))?;
        let principal = Principal {
            workspace: WorkspaceId(row.get("workspace_id")),
            scopes,
            actor: row.get("prefix"),
        };
        let expires_at: Option<DateTime<Utc>> = row.get("expires_at");
        Ok((principal, expires_at.unwrap_or(DateTime::<Utc>::MAX_UTC)))
    }
}

/// Compares two hashes without an early exit.
fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

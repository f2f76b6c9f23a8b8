//! The `verification_keys` table: a workspace's registered keys, added and
//! removed by its admins (each change audited without the key itself). A
//! public key is stored as given; an HS256 secret only sealed
//! ([`super::sealing`]), so registering one needs the master keyring.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use jsonwebtoken::DecodingKey;
use secrecy::{ExposeSecret, SecretSlice};

use super::{KeyAlgorithm, sealing};
use crate::audit;
use crate::secrets::{Keyring, Sealed};
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{VerificationKeyId, WorkspaceId};

/// A registered key, as the verifier needs it.
#[derive(Clone)]
pub struct VerificationKey {
    pub id: VerificationKeyId,
    pub workspace: WorkspaceId,
    pub kid: String,
    pub algorithm: KeyAlgorithm,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub(super) material: Material,
}

/// What a key checks signatures with.
#[derive(Clone)]
pub(super) enum Material {
    /// An Ed25519 or RSA public key (PEM).
    Public(Vec<u8>),
    /// An HS256 secret, sealed under a master key.
    Sealed(Sealed),
    /// An HS256 secret an earlier version stored in plain text, until it is
    /// sealed.
    Plaintext(SecretSlice<u8>),
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey")
            .field("id", &self.id)
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl VerificationKey {
    /// The key that checks signatures: an HS256 secret is opened with
    /// `keyring`, and refused without one. The error is the reason, for the
    /// refused token; a secret that cannot be opened is logged.
    pub(super) fn decoding_key(&self, keyring: Option<&Keyring>) -> Result<DecodingKey, String> {
        let secret = match (&self.material, keyring) {
            (Material::Public(pem), _) => return self.algorithm.decoding_key(pem),
            (_, None) => {
                tracing::warn!(
                    key = %self.id,
                    kid = %self.kid,
                    "HS256 token refused: this service has no master key configured \
                     (secrets.keys), so it cannot open HS256 verification secrets"
                );
                return Err("this service cannot verify HS256 tokens \
                            (no master key is configured)"
                    .to_string());
            }
            (Material::Plaintext(secret), Some(_)) => secret.clone(),
            (Material::Sealed(sealed), Some(keyring)) => {
                sealing::open(keyring, self.workspace, self.id, sealed).map_err(|error| {
                    tracing::error!(
                        key = %self.id,
                        kid = %self.kid,
                        %error,
                        "cannot open the HS256 secret of a verification key"
                    );
                    "the key's secret cannot be opened".to_string()
                })?
            }
        };
        self.algorithm.decoding_key(secret.expose_secret())
    }
}

/// The workspace's active keys.
pub async fn active_keys(pool: &Pool, workspace: WorkspaceId) -> ApiResult<Vec<VerificationKey>> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT id, kid, algorithm, material, key_id, ciphertext, created_at, created_by \
             FROM verification_keys \
             WHERE workspace_id = $1 AND removed_at IS NULL ORDER BY created_at",
            &[&workspace.as_uuid()],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let stored: String = row.get("algorithm");
            let algorithm = KeyAlgorithm::parse(&stored)
                .ok_or_else(|| ApiError::Internal(anyhow::anyhow!("stored algorithm {stored}")))?;
            let key_id: Option<String> = row.get("key_id");
            let ciphertext: Option<Vec<u8>> = row.get("ciphertext");
            let material = match (key_id, ciphertext) {
                (Some(key_id), Some(ciphertext)) => Material::Sealed(Sealed { key_id, ciphertext }),
                _ if algorithm == KeyAlgorithm::Hs256 => {
                    Material::Plaintext(SecretSlice::from(row.get::<_, Vec<u8>>("material")))
                }
                _ => Material::Public(row.get("material")),
            };
            Ok(VerificationKey {
                id: VerificationKeyId(row.get("id")),
                workspace,
                kid: row.get("kid"),
                algorithm,
                created_at: row.get("created_at"),
                created_by: row.get("created_by"),
                material,
            })
        })
        .collect()
}

/// Registers a key after checking it parses for its algorithm; an HS256
/// secret is stored sealed under `keyring`, and refused without one.
pub async fn add_key(
    pool: &Pool,
    keyring: Option<&Keyring>,
    workspace: WorkspaceId,
    kid: &str,
    algorithm: KeyAlgorithm,
    material: &[u8],
    actor: &str,
) -> ApiResult<VerificationKey> {
    let kid_ok = (1..=64).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !kid_ok {
        return Err(ApiError::invalid(
            "kid",
            "must be 1-64 letters, digits, `.`, `_` or `-`",
        ));
    }
    algorithm
        .decoding_key(material)
        .map_err(|reason| ApiError::invalid("material", reason))?;
    let id = VerificationKeyId::generate();
    let sealed = match (algorithm, keyring) {
        (KeyAlgorithm::Hs256, None) => {
            return Err(ApiError::FailedPrecondition(
                "HS256 secrets are stored encrypted under a master key, and none is configured: \
                 set secrets.keys.<id> (SWITCHYARD_SECRETS__KEYS__<ID>) on the registry, or \
                 register an EDDSA or RS256 public key"
                    .to_string(),
            ));
        }
        (KeyAlgorithm::Hs256, Some(keyring)) => Some(
            sealing::seal(keyring, workspace, id, material)
                .map_err(|error| anyhow::anyhow!("sealing an HS256 secret: {error}"))?,
        ),
        (KeyAlgorithm::EdDsa | KeyAlgorithm::Rs256, None | Some(_)) => None,
    };
    // A sealed secret leaves `material` empty.
    let public: &[u8] = if sealed.is_some() { &[] } else { material };
    let key_id = sealed.as_ref().map(|sealed| sealed.key_id.as_str());
    let ciphertext = sealed.as_ref().map(|sealed| sealed.ciphertext.as_slice());
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    let row = transaction
        .query_opt(
            "INSERT INTO verification_keys \
                 (id, workspace_id, kid, algorithm, material, key_id, ciphertext, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING created_at",
            &[
                &id.as_uuid(),
                &workspace.as_uuid(),
                &kid,
                &algorithm.as_str(),
                &public,
                &key_id,
                &ciphertext,
                &actor,
            ],
        )
        .await?;
    let Some(row) = row else {
        return Err(ApiError::AlreadyExists(format!(
            "a verification key with kid `{kid}` already exists"
        )));
    };
    let key = VerificationKey {
        id,
        workspace,
        kid: kid.to_string(),
        algorithm,
        created_at: row.get(0),
        created_by: actor.to_string(),
        material: match sealed {
            Some(sealed) => Material::Sealed(sealed),
            None => Material::Public(material.to_vec()),
        },
    };
    let after =
        serde_json::json!({"id": id.to_string(), "kid": kid, "algorithm": algorithm.as_str()});
    audit::record(
        &transaction,
        workspace,
        actor,
        "WorkspaceService/AddVerificationKey",
        &id.to_string(),
        None,
        Some(&after),
    )
    .await?;
    transaction.commit().await?;
    Ok(key)
}

/// Stops accepting tokens signed with the key.
pub async fn remove_key(
    pool: &Pool,
    workspace: WorkspaceId,
    id: VerificationKeyId,
    actor: &str,
) -> ApiResult<()> {
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    let row = transaction
        .query_opt(
            "UPDATE verification_keys SET removed_at = now() \
             WHERE id = $1 AND workspace_id = $2 AND removed_at IS NULL RETURNING kid, algorithm",
            &[&id.as_uuid(), &workspace.as_uuid()],
        )
        .await?;
    let Some(row) = row else {
        return Err(ApiError::not_found(format!(
            "verification key {id} not found"
        )));
    };
    let kid: String = row.get(0);
    let algorithm: String = row.get(1);
    let before = serde_json::json!({"id": id.to_string(), "kid": kid, "algorithm": algorithm});
    audit::record(
        &transaction,
        workspace,
        actor,
        "WorkspaceService/RemoveVerificationKey",
        &id.to_string(),
        Some(&before),
        None,
    )
    .await?;
    crate::auth::cache::publish_change(&transaction, workspace).await?;
    transaction.commit().await?;
    Ok(())
}

//! The `verification_keys` table: a workspace's registered keys, added and
//! removed by its admins (each change audited without the key itself).

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;

use super::KeyAlgorithm;
use crate::audit;
use crate::error::{ApiError, ApiResult};
use crate::ids::{VerificationKeyId, WorkspaceId};

/// A registered key, as the verifier needs it.
#[derive(Clone)]
pub struct VerificationKey {
    pub id: VerificationKeyId,
    pub kid: String,
    pub algorithm: KeyAlgorithm,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    pub(super) material: Vec<u8>,
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

/// The workspace's active keys.
pub async fn active_keys(pool: &Pool, workspace: WorkspaceId) -> ApiResult<Vec<VerificationKey>> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT id, kid, algorithm, material, created_at, created_by FROM verification_keys \
             WHERE workspace_id = $1 AND removed_at IS NULL ORDER BY created_at",
            &[&workspace.as_uuid()],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let algorithm: String = row.get(2);
            Ok(VerificationKey {
                id: VerificationKeyId(row.get(0)),
                kid: row.get(1),
                algorithm: KeyAlgorithm::parse(&algorithm).ok_or_else(|| {
                    ApiError::Internal(anyhow::anyhow!("stored algorithm {algorithm}"))
                })?,
                material: row.get(3),
                created_at: row.get(4),
                created_by: row.get(5),
            })
        })
        .collect()
}

/// Registers a key after checking it parses for its algorithm.
pub async fn add_key(
    pool: &Pool,
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
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    let row = transaction
        .query_opt(
            "INSERT INTO verification_keys (id, workspace_id, kid, algorithm, material, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING created_at",
            &[
                &id.as_uuid(),
                &workspace.as_uuid(),
                &kid,
                &algorithm.as_str(),
                &material,
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
        kid: kid.to_string(),
        algorithm,
        created_at: row.get(0),
        created_by: actor.to_string(),
        material: material.to_vec(),
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
    transaction.commit().await?;
    Ok(())
}


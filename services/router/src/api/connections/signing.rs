//! `RotateSigningSecret`: a new `whsec_…` secret replaces the current one,
//! which is kept (sealed again, as `signing_secret.previous`) until its
//! grace period ends. Until then the delivery engine signs every webhook
//! with both, so a receiver still holding the old secret keeps verifying
//! while it switches. Everything happens in one transaction holding the
//! connection's row, so two rotations at once serialise; rotating again
//! during a grace period replaces the older previous secret.

use std::time::Duration;

use chrono::{DateTime, Utc};
use secrecy::ExposeSecret;
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::ConnectionId;
use switchyard_delivery_model::signature;
use switchyard_tenancy::auth::Principal;
use switchyard_tenancy::secrets::{Keyring, SecretField, store};

use crate::api::connections::{self, CONNECTION_COLUMNS, ConnectionRecord};

/// How long the previous secret keeps signing when the request says nothing.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(24 * 60 * 60);
/// The longest grace period a request may ask for.
pub const MAX_GRACE: Duration = Duration::from_secs(7 * 24 * 60 * 60);

/// A rotation's outcome; `secret` is shown to the caller once.
#[derive(Debug)]
pub struct Rotated {
    pub record: ConnectionRecord,
    pub secret: String,
    /// When the previous secret stops signing; `None` when revoked at once.
    pub previous_expires_at: Option<DateTime<Utc>>,
}

/// The request's grace period: unset is [`DEFAULT_GRACE`], zero revokes the
/// previous secret at once.
pub fn grace_period(value: Option<&prost_types::Duration>) -> ApiResult<Duration> {
    const FIELD: &str = "grace_period";
    let Some(value) = value else {
        return Ok(DEFAULT_GRACE);
    };
    if value.seconds < 0 || value.nanos < 0 {
        return Err(ApiError::invalid(FIELD, "must not be negative"));
    }
    let seconds = u64::try_from(value.seconds).unwrap_or(u64::MAX);
    let nanos = u32::try_from(value.nanos).unwrap_or(0);
    if nanos >= 1_000_000_000 {
        return Err(ApiError::invalid(FIELD, "nanos must be below one second"));
    }
    let grace = Duration::new(seconds, nanos);
    if grace > MAX_GRACE {
        return Err(ApiError::invalid(FIELD, "must be at most 7 days"));
    }
    Ok(grace)
}

/// Rotates the signing secret of `id` in `by`'s workspace; the audit entry
/// names the connection and when the previous secret stops signing, never
/// a secret.
#[tracing::instrument(skip_all, fields(workspace_id = %by.workspace, connection_id = %id))]
pub async fn rotate(
    pool: &deadpool_postgres::Pool,
    keyring: &Keyring,
    by: &Principal,
    id: ConnectionId,
    grace: Duration,
) -> ApiResult<Rotated> {
    let workspace = by.workspace;
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    let locked = transaction
        .query_opt(
            &format!(
                "SELECT signing_secret, {CONNECTION_COLUMNS} FROM connections \
                 WHERE workspace_id = $1 AND id = $2 AND deleted_at IS NULL \
                 FOR UPDATE"
            ),
            &[&workspace.as_uuid(), &id.as_uuid()],
        )
        .await?;
    let locked = locked.ok_or_else(|| ApiError::not_found(format!("connection {id} not found")))?;
    let before = connections::record_from_row(&locked)?;
    if before.kind != "webhook" {
        return Err(ApiError::invalid(
            "id",
            format!(
                "is a {} connection: only webhooks are signed; update its credentials instead",
                before.kind
            ),
        ));
    }
    // A connection not sealed yet (written by an earlier version) still has
    // its secret in plain text; the rotation seals it and blanks the column.
    let legacy: Option<String> = locked.get("signing_secret");
    let current = store::read(&transaction, keyring, id, &SecretField::SigningSecret).await?;
    let current = current.or_else(|| legacy.map(secrecy::SecretString::from));

    let previous_expires_at = match current {
        Some(current) if !grace.is_zero() => {
            let grace = chrono::TimeDelta::from_std(grace).map_err(anyhow::Error::from)?;
            let expires_at = Utc::now() + grace;
            let previous = SecretField::PreviousSigningSecret;
            let value = current.expose_secret();
            store::put(
                &transaction,
                keyring,
                workspace,
                id,
                &previous,
                value,
                Some(expires_at),
            )
            .await?;
            Some(expires_at)
        }
        _ => {
            store::remove(&transaction, id, &SecretField::PreviousSigningSecret).await?;
            None
        }
    };
    let secret = signature::generate_secret();
    let signing = SecretField::SigningSecret;
    store::put(
        &transaction,
        keyring,
        workspace,
        id,
        &signing,
        &secret,
        None,
    )
    .await?;
    let row = transaction
        .query_one(
            &format!(
                "UPDATE connections SET signing_secret = NULL, updated_at = now() \
                 WHERE id = $1 RETURNING {CONNECTION_COLUMNS}"
            ),
            &[&id.as_uuid()],
        )
        .await?;
    let record = connections::record_from_row(&row)?;
    let mut after = record.audit_json();
    after["previous_expires_at"] = serde_json::json!(previous_expires_at);
    let action = "RouterService/RotateSigningSecret";
    let before = Some(before.audit_json());
    crate::api::audit::record(&transaction, by, action, id, before, Some(after)).await?;
    transaction.commit().await?;
    tracing::info!(
        previous_expires_at = previous_expires_at.map(|at| at.to_rfc3339()),
        "signing secret rotated"
    );
    Ok(Rotated {
        record,
        secret,
        previous_expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seconds(seconds: i64) -> prost_types::Duration {
        prost_types::Duration { seconds, nanos: 0 }
    }

    #[test]
    fn grace_defaults_to_a_day_and_is_bounded() {
        assert_eq!(grace_period(None).ok(), Some(DEFAULT_GRACE));
        assert_eq!(grace_period(Some(&seconds(0))).ok(), Some(Duration::ZERO));
        assert_eq!(
            grace_period(Some(&seconds(7 * 24 * 3600))).ok(),
            Some(MAX_GRACE)
        );
        for bad in [seconds(-1), seconds(7 * 24 * 3600 + 1)] {
            assert!(matches!(
                grace_period(Some(&bad)),
                Err(ApiError::InvalidArgument { ref field, .. }) if field == "grace_period"
            ));
        }
    }
}

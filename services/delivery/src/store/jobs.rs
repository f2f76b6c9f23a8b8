//! The engine's statements. A delivery moves
//! `pending → delivering → succeeded | retrying → delivering → … | dead`;
//! `attempt_count` counts claims, and the attempt number of a claim guards
//! its record, so a consumer whose lease was taken over cannot overwrite the
//! newer attempt's outcome.

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use switchyard_core::ids::{DeliveryId, WorkspaceId};

/// A delivery claimed for one attempt, with what the attempt needs.
#[derive(Debug)]
pub struct Claimed {
    /// 1 for the first attempt.
    pub attempt: u32,
    pub payload: serde_json::Value,
    /// The connection's `config` (`{"url": …, "headers": {…}}`).
    pub connection_config: serde_json::Value,
    pub signing_secret: String,
    pub connection_deleted: bool,
}

/// Takes the delivery for one attempt if it is due (or its previous lease
/// expired), leasing it for `lease`. `None`: not due, already done, or
/// another consumer holds it — the job that led here was a duplicate.
pub async fn claim(
    pool: &Pool,
    workspace: WorkspaceId,
    delivery: DeliveryId,
    lease: Duration,
) -> anyhow::Result<Option<Claimed>> {
    let client = pool.get().await.context("connecting to Postgres")?;
    // The second of tolerance lets a retry parked in Redis with a due time a
    // little ahead of the database clock still be taken.
    let row = client
        .query_opt(
            "WITH claimed AS ( \
                UPDATE deliveries \
                SET status = 'delivering', attempt_count = attempt_count + 1, \
                    lease_expires_at = now() + make_interval(secs => $3), updated_at = now() \
                WHERE id = $1 AND workspace_id = $2 \
                  AND ((status IN ('pending', 'retrying') \
                        AND next_attempt_at <= now() + interval '1 second') \
                    OR (status = 'delivering' AND lease_expires_at < now())) \
                RETURNING event_id, connection_id, attempt_count \
             ) \
             SELECT c.attempt_count, e.payload, n.config, n.signing_secret, \
                    n.deleted_at IS NOT NULL \
             FROM claimed c \
             JOIN events e ON e.id = c.event_id \
             JOIN connections n ON n.id = c.connection_id",
            &[
                &delivery.as_uuid(),
                &workspace.as_uuid(),
                &lease.as_secs_f64(),
            ],
        )
        .await
        .context("claiming the delivery")?;
    let Some(row) = row else {
        return Ok(None);
    };
    let attempt: i32 = row.get(0);
    Ok(Some(Claimed {
        attempt: u32::try_from(attempt).context("attempt_count is negative")?,
        payload: row.get(1),
        connection_config: row.get(2),
        signing_secret: row.get(3),
        connection_deleted: row.get(4),
    }))
}

/// One finished attempt, as `delivery_attempts` stores it.
#[derive(Debug)]
pub struct AttemptRecord {
    pub workspace: WorkspaceId,
    pub delivery: DeliveryId,
    pub attempt: u32,
    pub started_at: DateTime<Utc>,
    pub duration: Duration,
    pub url: String,
    /// `None` when no response arrived.
    pub status_code: Option<u16>,
    /// Empty on success.
    pub error: String,
    pub response_snippet: String,
}

/// Where the delivery goes after an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewStatus {
    Succeeded,
    Retrying { next_attempt_at: DateTime<Utc> },
    Dead,
}

impl NewStatus {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Succeeded => "succeeded",
            Self::Retrying { .. } => "retrying",
            Self::Dead => "dead",
        }
    }
}

/// Stores the attempt and the delivery's new state in one transaction.
/// Returns false when the delivery had meanwhile been claimed again (this
/// consumer's lease expired): the attempt is kept as history, but the newer
/// claim owns the delivery's state.
pub async fn record(
    pool: &Pool,
    attempt: &AttemptRecord,
    status: NewStatus,
) -> anyhow::Result<bool> {
    let attempt_number = i32::try_from(attempt.attempt).context("attempt number overflows")?;
    let duration_ms = i32::try_from(attempt.duration.as_millis()).unwrap_or(i32::MAX);
    let status_code = attempt.status_code.map(i32::from);
    let next_attempt_at = match status {
        NewStatus::Retrying { next_attempt_at } => Some(next_attempt_at),
        NewStatus::Succeeded | NewStatus::Dead => None,
    };

    let mut client = pool.get().await.context("connecting to Postgres")?;
    let transaction = client
        .transaction()
        .await
        .context("starting the transaction")?;
    transaction
        .execute(
            "INSERT INTO delivery_attempts \
                (delivery_id, attempt, workspace_id, started_at, duration_ms, url, \
                 status_code, error, response_snippet) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            &[
                &attempt.delivery.as_uuid(),
                &attempt_number,
                &attempt.workspace.as_uuid(),
                &attempt.started_at,
                &duration_ms,
                &attempt.url,
                &status_code,
                &attempt.error,
                &attempt.response_snippet,
            ],
        )
        .await
        .context("inserting the attempt")?;
    let updated = transaction
        .execute(
            "UPDATE deliveries \
             SET status = $4, next_attempt_at = COALESCE($5, next_attempt_at), \
                 last_error = $6, lease_expires_at = NULL, updated_at = now() \
             WHERE id = $1 AND workspace_id = $2 AND attempt_count = $3",
            &[
                &attempt.delivery.as_uuid(),
                &attempt.workspace.as_uuid(),
                &attempt_number,
                &status.as_str(),
                &next_attempt_at,
                &attempt.error,
            ],
        )
        .await
        .context("updating the delivery")?;
    transaction
        .commit()
        .await
        .context("committing the attempt")?;
    Ok(updated == 1)
}

/// Stamps up to `limit` overdue deliveries as re-queued and returns them:
/// due (or leased) for longer than `grace` without progress, and not
/// re-queued within `grace` either, so each is re-queued at most once per
/// grace period however many replicas sweep.
pub async fn sweep(
    pool: &Pool,
    grace: Duration,
    limit: i64,
) -> anyhow::Result<Vec<(WorkspaceId, DeliveryId)>> {
    let client = pool.get().await.context("connecting to Postgres")?;
    let rows = client
        .query(
            "UPDATE deliveries SET requeued_at = now() \
             WHERE id IN ( \
                SELECT id FROM deliveries \
                WHERE ((status IN ('pending', 'retrying') \
                        AND next_attempt_at < now() - make_interval(secs => $1)) \
                    OR (status = 'delivering' \
                        AND lease_expires_at < now() - make_interval(secs => $1))) \
                  AND (requeued_at IS NULL OR requeued_at < now() - make_interval(secs => $1)) \
                ORDER BY next_attempt_at \
                LIMIT $2 \
                FOR UPDATE SKIP LOCKED \
             ) \
             RETURNING id, workspace_id",
            &[&grace.as_secs_f64(), &limit],
        )
        .await
        .context("sweeping overdue deliveries")?;
    Ok(rows
        .iter()
        .map(|row| (WorkspaceId(row.get(1)), DeliveryId(row.get(0))))
        .collect())
}

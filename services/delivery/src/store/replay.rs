//! Dead letters brought back: one delivery retried now (`RetryDelivery`),
//! or every dead delivery of a connection in a time range
//! (`ReplayDeadLetters`). Each statement makes the deliveries due at once
//! and sets `next_trigger`, which the next claim copies to its attempt row;
//! the caller then enqueues their jobs. `requeued_at` is stamped so the
//! sweeper leaves them to those jobs.

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use switchyard_core::ids::{ConnectionId, DeliveryId, WorkspaceId};
use switchyard_core::states::{AttemptTrigger, ConnectionState, DeliveryStatus};

/// The statuses a manual retry takes a delivery from.
const RETRYABLE: &[DeliveryStatus] = &[
    DeliveryStatus::Dead,
    DeliveryStatus::Retrying,
    DeliveryStatus::Pending,
];

/// Why a delivery cannot be retried now, or `Queued`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetryOutcome {
    Queued,
    NotFound,
    /// The delivery or its connection refuses; the text says why.
    Refused(String),
}

/// Makes a dead, retrying or pending delivery due now, for a manual attempt.
pub async fn retry_one(
    pool: &Pool,
    workspace: WorkspaceId,
    delivery: DeliveryId,
) -> anyhow::Result<RetryOutcome> {
    let client = pool.get().await.context("connecting to Postgres")?;
    let row = client
        .query_opt(
            "WITH target AS ( \
                SELECT d.id, d.status, c.state, c.deleted_at IS NOT NULL AS deleted \
                FROM deliveries d JOIN connections c ON c.id = d.connection_id \
                WHERE d.workspace_id = $1 AND d.id = $2 \
                FOR UPDATE OF d \
             ), updated AS ( \
                UPDATE deliveries d \
                SET status = CASE WHEN d.status = $3 THEN d.status ELSE $4 END, \
                    next_attempt_at = now(), next_trigger = $5, requeued_at = now(), \
                    updated_at = now() \
                FROM target t \
                WHERE d.id = t.id AND t.status = ANY($6) \
                  AND t.state = $7 AND NOT t.deleted \
                RETURNING d.id \
             ) \
             SELECT t.status, t.state, t.deleted, EXISTS (SELECT 1 FROM updated) FROM target t",
            &[
                &workspace.as_uuid(),
                &delivery.as_uuid(),
                // A pending delivery stays pending; any other becomes retrying.
                &DeliveryStatus::Pending,
                &DeliveryStatus::Retrying,
                &AttemptTrigger::Manual,
                &RETRYABLE,
                &ConnectionState::Active,
            ],
        )
        .await
        .context("queueing the delivery for a manual retry")?;
    let Some(row) = row else {
        return Ok(RetryOutcome::NotFound);
    };
    let status: DeliveryStatus = row.get(0);
    let state: ConnectionState = row.get(1);
    let deleted: bool = row.get(2);
    if row.get::<_, bool>(3) {
        return Ok(RetryOutcome::Queued);
    }
    let reason = if deleted {
        "its connection was deleted".to_string()
    } else if state != ConnectionState::Active {
        format!("its connection is {state}; resume the connection first")
    } else {
        match status {
            DeliveryStatus::Succeeded => "it was delivered already".to_string(),
            DeliveryStatus::Delivering => "an attempt is in flight".to_string(),
            DeliveryStatus::Failed => {
                "its rule could not build a body (see last_error); fix the rule instead".to_string()
            }
            other => format!("it is {other}"),
        }
    };
    Ok(RetryOutcome::Refused(reason))
}

/// The state of a connection, for replays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectionCheck {
    Active,
    NotFound,
    /// Paused, disabled, or waiting for credentials.
    Inactive(ConnectionState),
}

pub async fn connection_state(
    pool: &Pool,
    workspace: WorkspaceId,
    connection: ConnectionId,
) -> anyhow::Result<ConnectionCheck> {
    let client = pool.get().await.context("connecting to Postgres")?;
    let row = client
        .query_opt(
            "SELECT state FROM connections \
             WHERE workspace_id = $1 AND id = $2 AND deleted_at IS NULL",
            &[&workspace.as_uuid(), &connection.as_uuid()],
        )
        .await
        .context("reading the connection")?;
    Ok(match row.map(|row| row.get::<_, ConnectionState>(0)) {
        None => ConnectionCheck::NotFound,
        Some(ConnectionState::Active) => ConnectionCheck::Active,
        Some(state) => ConnectionCheck::Inactive(state),
    })
}

/// Makes every dead delivery of the connection created in
/// `[since, until)` due now, for a replay attempt; returns them in
/// creation order.
pub async fn replay_dead(
    pool: &Pool,
    workspace: WorkspaceId,
    connection: ConnectionId,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> anyhow::Result<Vec<DeliveryId>> {
    let client = pool.get().await.context("connecting to Postgres")?;
    let rows = client
        .query(
            "UPDATE deliveries \
             SET status = $5, next_attempt_at = now(), next_trigger = $6, \
                 requeued_at = now(), updated_at = now() \
             WHERE workspace_id = $1 AND connection_id = $2 AND status = 'dead' \
               AND ($3::timestamptz IS NULL OR created_at >= $3) \
               AND ($4::timestamptz IS NULL OR created_at < $4) \
             RETURNING id",
            // 'dead' stays literal: the predicate of the partial index
            // `deliveries_dead` this walks.
            &[
                &workspace.as_uuid(),
                &connection.as_uuid(),
                &since,
                &until,
                &DeliveryStatus::Retrying,
                &AttemptTrigger::Replay,
            ],
        )
        .await
        .context("replaying dead deliveries")?;
    let mut ids: Vec<DeliveryId> = rows.iter().map(|row| DeliveryId(row.get(0))).collect();
    ids.sort_by_key(|id| id.as_uuid());
    Ok(ids)
}

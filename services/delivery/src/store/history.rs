//! The read side: deliveries and their attempts, newest delivery first.
//! Delivery ids are UUIDv7, so ordering by id is ordering by creation and a
//! page ends where the next one starts (`id < last id`). Lists filter by
//! event, status, connection and creation time, in any combination.

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use switchyard_core::ids::{ConnectionId, DeliveryId, EventId, RuleId, WorkspaceId};
use switchyard_core::states::{AttemptTrigger, DeliveryStatus};
use tokio_postgres::Row;

const DELIVERY_COLUMNS: &str = "d.id, d.event_id, d.connection_id, d.rule_id, d.status, \
     d.attempt_count, d.created_at, d.next_attempt_at, d.last_error, e.event_type, \
     d.traceparent";

#[derive(Clone, Debug)]
pub struct DeliveryRow {
    pub id: DeliveryId,
    pub event_id: EventId,
    pub connection_id: ConnectionId,
    pub rule_id: RuleId,
    pub status: DeliveryStatus,
    pub attempt_count: i32,
    pub created_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: String,
    pub event_type: String,
    /// The router's `Route` span, in W3C `traceparent` form.
    pub traceparent: Option<String>,
}

impl DeliveryRow {
    fn from_row(row: &Row) -> Self {
        Self {
            id: DeliveryId(row.get(0)),
            event_id: EventId(row.get(1)),
            connection_id: ConnectionId(row.get(2)),
            rule_id: RuleId(row.get(3)),
            status: row.get(4),
            attempt_count: row.get(5),
            created_at: row.get(6),
            next_attempt_at: row.get(7),
            last_error: row.get(8),
            event_type: row.get(9),
            traceparent: row.get(10),
        }
    }
}

/// What `list` returns; every filter is optional.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub event: Option<EventId>,
    pub status: Option<DeliveryStatus>,
    pub connection: Option<ConnectionId>,
    /// Created at or after.
    pub since: Option<DateTime<Utc>>,
    /// Created before.
    pub until: Option<DateTime<Utc>>,
    /// Older than this delivery (the previous page's last).
    pub before: Option<DeliveryId>,
    pub limit: i64,
}

#[derive(Clone, Debug)]
pub struct AttemptRow {
    pub attempt: i32,
    pub status_code: Option<i32>,
    pub error: String,
    pub duration_ms: i32,
    pub started_at: DateTime<Utc>,
    pub response_snippet: String,
    pub url: String,
    pub trigger: AttemptTrigger,
}

/// Up to `filter.limit` deliveries of the workspace, newest first.
pub async fn list(
    pool: &Pool,
    workspace: WorkspaceId,
    filter: &ListFilter,
) -> anyhow::Result<Vec<DeliveryRow>> {
    let client = pool.get().await.context("connecting to Postgres")?;
    let rows = client
        .query(
            &format!(
                "SELECT {DELIVERY_COLUMNS} FROM deliveries d \
                 JOIN events e ON e.id = d.event_id \
                 WHERE d.workspace_id = $1 \
                   AND ($2::uuid IS NULL OR d.event_id = $2) \
                   AND ($3::uuid IS NULL OR d.id < $3) \
                   AND ($4::text IS NULL OR d.status = $4) \
                   AND ($5::uuid IS NULL OR d.connection_id = $5) \
                   AND ($6::timestamptz IS NULL OR d.created_at >= $6) \
                   AND ($7::timestamptz IS NULL OR d.created_at < $7) \
                 ORDER BY d.id DESC \
                 LIMIT $8"
            ),
            &[
                &workspace.as_uuid(),
                &filter.event.map(|id| id.as_uuid()),
                &filter.before.map(|id| id.as_uuid()),
                &filter.status,
                &filter.connection.map(|id| id.as_uuid()),
                &filter.since,
                &filter.until,
                &filter.limit,
            ],
        )
        .await
        .context("listing deliveries")?;
    Ok(rows.iter().map(DeliveryRow::from_row).collect())
}

/// One delivery of the workspace.
pub async fn get(
    pool: &Pool,
    workspace: WorkspaceId,
    id: DeliveryId,
) -> anyhow::Result<Option<DeliveryRow>> {
    let client = pool.get().await.context("connecting to Postgres")?;
    let row = client
        .query_opt(
            &format!(
                "SELECT {DELIVERY_COLUMNS} FROM deliveries d \
                 JOIN events e ON e.id = d.event_id \
                 WHERE d.workspace_id = $1 AND d.id = $2"
            ),
            &[&workspace.as_uuid(), &id.as_uuid()],
        )
        .await
        .context("reading the delivery")?;
    Ok(row.as_ref().map(DeliveryRow::from_row))
}

/// Every attempt of one delivery, first attempt first.
pub async fn attempts(
    pool: &Pool,
    workspace: WorkspaceId,
    id: DeliveryId,
) -> anyhow::Result<Vec<AttemptRow>> {
    let client = pool.get().await.context("connecting to Postgres")?;
    let rows = client
        .query(
            "SELECT attempt, status_code, error, duration_ms, started_at, response_snippet, target, \
                    trigger \
             FROM delivery_attempts \
             WHERE workspace_id = $1 AND delivery_id = $2 \
             ORDER BY attempt",
            &[&workspace.as_uuid(), &id.as_uuid()],
        )
        .await
        .context("reading the attempts")?;
    Ok(rows
        .iter()
        .map(|row| AttemptRow {
            attempt: row.get(0),
            status_code: row.get(1),
            error: row.get(2),
            duration_ms: row.get(3),
            started_at: row.get(4),
            response_snippet: row.get(5),
            url: row.get(6),
            trigger: row.get(7),
        })
        .collect())
}

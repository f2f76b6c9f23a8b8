//! Attempts summarised over a time window, for `GetDeliveryStats`. An
//! attempt succeeded when it recorded no error. A failed one made its
//! delivery dead when the delivery is dead and no attempt followed, or when
//! the next attempt was a replay (only dead letters are replayed); any
//! other failure was retried.

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use switchyard_core::ids::{ConnectionId, WorkspaceId};
use switchyard_core::states::{AttemptTrigger, DeliveryStatus};

/// The outcome of attempt `a` (of delivery `d`) as the API's
/// `AttemptOutcome` text; `$3` is the replay trigger, `$4` the dead status.
const OUTCOME: &str = "CASE WHEN a.error = '' THEN 'succeeded' \
     WHEN a.next_trigger = $3 OR (a.next_trigger IS NULL AND d.status = $4) \
     THEN 'dead' ELSE 'failed' END";

/// Attempts of one outcome started in one minute.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MinuteCount {
    pub minute: DateTime<Utc>,
    /// `succeeded`, `failed` or `dead`.
    pub outcome: String,
    pub count: i64,
}

/// One connection's attempts in the window.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectionCount {
    pub connection: ConnectionId,
    pub attempts: i64,
    pub succeeded: i64,
    pub mean_duration_ms: f64,
    pub p95_duration_ms: f64,
}

pub async fn per_minute(
    pool: &Pool,
    workspace: WorkspaceId,
    since: DateTime<Utc>,
) -> anyhow::Result<Vec<MinuteCount>> {
    let client = pool.get().await.context("connecting to Postgres")?;
    let rows = client
        .query(
            &format!(
                "WITH a AS ( \
                    SELECT delivery_id, started_at, error, lead(trigger) OVER ( \
                        PARTITION BY delivery_id ORDER BY attempt) AS next_trigger \
                    FROM delivery_attempts WHERE workspace_id = $1 AND started_at >= $2) \
                 SELECT date_trunc('minute', a.started_at) AS minute, {OUTCOME} AS outcome, \
                        count(*) \
                 FROM a JOIN deliveries d ON d.id = a.delivery_id \
                 GROUP BY 1, 2 ORDER BY 1, 2"
            ),
            &[
                &workspace.as_uuid(),
                &since,
                &AttemptTrigger::Replay,
                &DeliveryStatus::Dead,
            ],
        )
        .await
        .context("counting attempts per minute")?;
    Ok(rows
        .iter()
        .map(|row| MinuteCount {
            minute: row.get(0),
            outcome: row.get(1),
            count: row.get(2),
        })
        .collect())
}

pub async fn per_connection(
    pool: &Pool,
    workspace: WorkspaceId,
    since: DateTime<Utc>,
) -> anyhow::Result<Vec<ConnectionCount>> {
    let client = pool.get().await.context("connecting to Postgres")?;
    let rows = client
        .query(
            "SELECT d.connection_id, count(*), count(*) FILTER (WHERE a.error = ''), \
                    avg(a.duration_ms)::float8, \
                    percentile_cont(0.95) WITHIN GROUP (ORDER BY a.duration_ms) \
             FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id \
             WHERE a.workspace_id = $1 AND a.started_at >= $2 \
             GROUP BY d.connection_id ORDER BY d.connection_id",
            &[&workspace.as_uuid(), &since],
        )
        .await
        .context("summarising attempts per connection")?;
    Ok(rows
        .iter()
        .map(|row| ConnectionCount {
            connection: ConnectionId(row.get(0)),
            attempts: row.get(1),
            succeeded: row.get(2),
            mean_duration_ms: row.get(3),
            p95_duration_ms: row.get(4),
        })
        .collect())
}

//! Reading a backfill's range, and advancing its cursor.
//!
//! The range is of received time, but pages go in event id order after the
//! cursor (ids are UUIDv7, time ordered, and the primary key): the ids are
//! bounded to the range widened by [`ID_SLACK`] so the primary key index
//! finds the start and the end, and `received_at` decides membership.
//! [`Advance`] is what the routing transaction also commits: the cursor,
//! the counters and a longer lease, only while this process still owns a
//! running backfill — otherwise the page's deliveries roll back with it.

use std::time::Duration;

use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use switchyard_core::error::ApiResult;
use switchyard_core::ids::{BackfillId, WorkspaceId};
use uuid::Uuid;

use super::model::BackfillRecord;
use crate::api::rules::EventPattern;
use crate::routing::deliver::{AlsoCommit, EVENT_COLUMNS, StoredEvent, Tally};

/// How far an event's id time may be from its `received_at` (the id is
/// made by ingest just before the commit that stamps `received_at`).
pub const ID_SLACK: chrono::Duration = chrono::Duration::minutes(5);

/// The smallest UUIDv7 of the millisecond `time` falls in.
fn first_id_at(time: DateTime<Utc>) -> Uuid {
    let millis = u64::try_from(time.timestamp_millis()).unwrap_or(0);
    uuid::Builder::from_unix_timestamp_millis(millis, &[0; 10]).into_uuid()
}

/// The pattern as SQL parameters: an exact type, or a prefix.
fn type_filter(pattern: &EventPattern) -> (Option<String>, Option<String>) {
    match pattern {
        EventPattern::Exact(name) => (Some(name.to_string()), None),
        EventPattern::Prefix(prefix) => (None, Some(prefix.clone())),
        EventPattern::All => (None, None),
    }
}

/// Events of the pattern received in `[from, to)`: the backfill's total.
pub async fn count(
    client: &impl GenericClient,
    workspace: WorkspaceId,
    pattern: &EventPattern,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ApiResult<i64> {
    let (exact, prefix) = type_filter(pattern);
    let row = client
        .query_one(
            "SELECT count(*) FROM events WHERE workspace_id = $1 \
               AND received_at >= $2 AND received_at < $3 \
               AND ($4::text IS NULL OR event_type = $4) \
               AND ($5::text IS NULL OR starts_with(event_type, $5))",
            &[&workspace.as_uuid(), &from, &to, &exact, &prefix],
        )
        .await?;
    Ok(row.get(0))
}

/// The next `limit` events of the backfill after its cursor, in id order.
pub(crate) async fn page(
    client: &impl GenericClient,
    backfill: &BackfillRecord,
    pattern: &EventPattern,
    limit: i64,
) -> ApiResult<Vec<StoredEvent>> {
    let (exact, prefix) = type_filter(pattern);
    let lower = match backfill.cursor {
        Some(cursor) => cursor.as_uuid(),
        None => first_id_at(backfill.from - ID_SLACK),
    };
    let upper = first_id_at(backfill.to + ID_SLACK);
    let rows = client
        .query(
            &format!(
                "SELECT {EVENT_COLUMNS} FROM events \
                 WHERE id > $1 AND id < $2 AND workspace_id = $3 AND payload IS NOT NULL \
                   AND received_at >= $4 AND received_at < $5 \
                   AND ($6::text IS NULL OR event_type = $6) \
                   AND ($7::text IS NULL OR starts_with(event_type, $7)) \
                 ORDER BY id LIMIT $8"
            ),
            &[
                &lower,
                &upper,
                &backfill.workspace.as_uuid(),
                &backfill.from,
                &backfill.to,
                &exact,
                &prefix,
                &limit,
            ],
        )
        .await?;
    Ok(rows.iter().filter_map(StoredEvent::from_row).collect())
}

/// The backfill's side of a page's routing transaction.
pub struct Advance<'a> {
    pub backfill: BackfillId,
    pub owner: &'a str,
    pub lease: Duration,
    /// The page's last event.
    pub cursor: Uuid,
    pub scanned: usize,
}

impl AlsoCommit for Advance<'_> {
    async fn also_commit(
        &self,
        transaction: &tokio_postgres::Transaction<'_>,
        tally: Tally,
    ) -> Result<bool, tokio_postgres::Error> {
        let as_i64 = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        let changed = transaction
            .execute(
                "UPDATE backfills SET cursor_event_id = $3, \
                     events_scanned = events_scanned + $4, \
                     events_matched = events_matched + $5, \
                     deliveries_created = deliveries_created + $6, \
                     deliveries_skipped = deliveries_skipped + $7, \
                     lease_expires_at = now() + make_interval(secs => $8), updated_at = now() \
                 WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
                &[
                    &self.backfill.as_uuid(),
                    &self.owner,
                    &self.cursor,
                    &as_i64(self.scanned),
                    &as_i64(tally.attempted),
                    &as_i64(tally.created),
                    &as_i64(tally.attempted.saturating_sub(tally.created)),
                    &self.lease.as_secs_f64(),
                ],
            )
            .await?;
        Ok(changed == 1)
    }
}

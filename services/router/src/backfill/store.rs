//! The SQL of backfills: create (one running backfill per rule, the rule
//! checked and the range counted in the same transaction), read, list,
//! cancel, and the worker's lease: [`claim`] takes a running backfill whose
//! lease is free or expired (`FOR UPDATE SKIP LOCKED`, so two routers never
//! take the same one), [`finish`] and [`release`] give it up. Every write
//! of the worker names its owner, so a process that lost its lease changes
//! nothing.

use std::time::Duration;

use deadpool_postgres::{GenericClient, Pool};
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{BackfillId, EventId, RuleId, WorkspaceId};
use tokio_postgres::error::SqlState;
use uuid::Uuid;

use super::model::{BackfillRecord, BackfillState, NewBackfill};
use super::scan;
use crate::api::rules::EventPattern;

const COLUMNS: &str = "id, workspace_id, rule_id, range_from, range_to, rate_per_second, state, \
                       cursor_event_id, events_total, events_scanned, events_matched, \
                       deliveries_created, deliveries_skipped, error, created_at, updated_at, \
                       finished_at";

fn count(row: &tokio_postgres::Row, column: &str) -> u64 {
    u64::try_from(row.get::<_, i64>(column)).unwrap_or(0)
}

fn record_from_row(row: &tokio_postgres::Row) -> ApiResult<BackfillRecord> {
    Ok(BackfillRecord {
        id: BackfillId(row.get("id")),
        workspace: WorkspaceId(row.get("workspace_id")),
        rule_id: RuleId(row.get("rule_id")),
        from: row.get("range_from"),
        to: row.get("range_to"),
        rate_per_second: u32::try_from(row.get::<_, i32>("rate_per_second")).unwrap_or(1),
        state: BackfillState::from_sql(row.get("state"))?,
        cursor: row.get::<_, Option<Uuid>>("cursor_event_id").map(EventId),
        events_total: count(row, "events_total"),
        events_scanned: count(row, "events_scanned"),
        events_matched: count(row, "events_matched"),
        deliveries_created: count(row, "deliveries_created"),
        deliveries_skipped: count(row, "deliveries_skipped"),
        error: row.get("error"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
        finished_at: row.get("finished_at"),
    })
}

/// The pattern of a rule as stored.
pub fn pattern_of(event_type: &str) -> ApiResult<EventPattern> {
    EventPattern::parse(event_type).map_err(|reason| {
        ApiError::Internal(anyhow::anyhow!("stored rule pattern unreadable: {reason}"))
    })
}

/// `rule` in `workspace`, live, enabled and with a live connection: its
/// event pattern. The rule row stays share-locked until the transaction
/// ends, so it cannot be deleted or disabled before the backfill exists.
async fn check_rule(
    client: &impl GenericClient,
    workspace: WorkspaceId,
    rule: RuleId,
) -> ApiResult<EventPattern> {
    let row = client
        .query_opt(
            "SELECT r.event_type, r.enabled, c.deleted_at IS NULL AS connection_live \
             FROM rules r JOIN connections c ON c.id = r.connection_id \
             WHERE r.workspace_id = $1 AND r.id = $2 AND r.deleted_at IS NULL \
             FOR SHARE OF r",
            &[&workspace.as_uuid(), &rule.as_uuid()],
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("rule {rule} not found")))?;
    if !row.get::<_, bool>("enabled") {
        return Err(ApiError::FailedPrecondition(format!(
            "rule {rule} is disabled: enable it before backfilling it"
        )));
    }
    if !row.get::<_, bool>("connection_live") {
        return Err(ApiError::FailedPrecondition(format!(
            "the connection of rule {rule} is deleted"
        )));
    }
    pattern_of(row.get("event_type"))
}

/// The running backfill of `rule`, if any.
async fn running_for(client: &impl GenericClient, rule: RuleId) -> ApiResult<Option<BackfillId>> {
    Ok(client
        .query_opt(
            "SELECT id FROM backfills WHERE rule_id = $1 AND state = 'running'",
            &[&rule.as_uuid()],
        )
        .await?
        .map(|row| BackfillId(row.get(0))))
}

fn already_running(rule: RuleId, running: BackfillId) -> ApiError {
    ApiError::AlreadyExists(format!(
        "backfill {running} of rule {rule} is still running: cancel it or wait for it to finish"
    ))
}

/// Checks the rule, counts the range and stores the backfill, running.
pub async fn create(
    pool: &Pool,
    workspace: WorkspaceId,
    request: &NewBackfill,
) -> ApiResult<BackfillRecord> {
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    let pattern = check_rule(&transaction, workspace, request.rule_id).await?;
    if let Some(running) = running_for(&transaction, request.rule_id).await? {
        return Err(already_running(request.rule_id, running));
    }
    let total = scan::count(&transaction, workspace, &pattern, request.from, request.to).await?;
    let id = BackfillId::generate();
    let rate = i32::try_from(request.rate_per_second)
        .map_err(|_| ApiError::invalid("rate_per_second", "is too large"))?;
    let row = transaction
        .query_one(
            &format!(
                "INSERT INTO backfills (id, workspace_id, rule_id, range_from, range_to, \
                                        rate_per_second, events_total) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {COLUMNS}"
            ),
            &[
                &id.as_uuid(),
                &workspace.as_uuid(),
                &request.rule_id.as_uuid(),
                &request.from,
                &request.to,
                &rate,
                &total,
            ],
        )
        .await;
    let row = match row {
        Ok(row) => row,
        // Another request for the same rule committed in between.
        Err(error) if error.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
            return Err(ApiError::AlreadyExists(format!(
                "another backfill of rule {} was started at the same time",
                request.rule_id
            )));
        }
        Err(error) => return Err(error.into()),
    };
    let record = record_from_row(&row)?;
    transaction.commit().await?;
    Ok(record)
}

pub async fn get(pool: &Pool, workspace: WorkspaceId, id: BackfillId) -> ApiResult<BackfillRecord> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM backfills WHERE workspace_id = $1 AND id = $2"),
            &[&workspace.as_uuid(), &id.as_uuid()],
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("backfill {id} not found")))?;
    record_from_row(&row)
}

/// Newest first; `after` is the last id of the previous page.
pub async fn list(
    pool: &Pool,
    workspace: WorkspaceId,
    rule: Option<RuleId>,
    after: Option<BackfillId>,
    limit: i64,
) -> ApiResult<Vec<BackfillRecord>> {
    let client = pool.get().await?;
    let rule = rule.map(|id| id.as_uuid());
    let after = after.map(|id| id.as_uuid());
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM backfills WHERE workspace_id = $1 \
                   AND ($2::uuid IS NULL OR rule_id = $2) AND ($3::uuid IS NULL OR id < $3) \
                 ORDER BY id DESC LIMIT $4"
            ),
            &[&workspace.as_uuid(), &rule, &after, &limit],
        )
        .await?;
    rows.iter().map(record_from_row).collect()
}

/// Cancels a running backfill; the page its worker is routing (if any)
/// then finds it cancelled and rolls back.
pub async fn cancel(
    pool: &Pool,
    workspace: WorkspaceId,
    id: BackfillId,
) -> ApiResult<BackfillRecord> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            &format!(
                "UPDATE backfills SET state = 'cancelled', finished_at = now(), updated_at = now(), \
                     lease_owner = NULL, lease_expires_at = NULL \
                 WHERE workspace_id = $1 AND id = $2 AND state = 'running' RETURNING {COLUMNS}"
            ),
            &[&workspace.as_uuid(), &id.as_uuid()],
        )
        .await?;
    drop(client);
    match row {
        Some(row) => record_from_row(&row),
        None => {
            let current = get(pool, workspace, id).await?;
            Err(ApiError::FailedPrecondition(format!(
                "backfill {id} is already {}: only a running backfill can be cancelled",
                current.state.as_sql()
            )))
        }
    }
}

/// Takes one running backfill whose lease is free or expired, for `lease`.
pub async fn claim(pool: &Pool, owner: &str, lease: Duration) -> ApiResult<Option<BackfillRecord>> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            &format!(
                "UPDATE backfills SET lease_owner = $1, \
                     lease_expires_at = now() + make_interval(secs => $2), updated_at = now() \
                 WHERE id = ( \
                     SELECT id FROM backfills WHERE state = 'running' \
                       AND (lease_expires_at IS NULL OR lease_expires_at < now()) \
                     ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) \
                 RETURNING {COLUMNS}"
            ),
            &[&owner, &lease.as_secs_f64()],
        )
        .await?;
    row.as_ref().map(record_from_row).transpose()
}

/// Ends a backfill this process owns; `false` when it no longer does (lost
/// lease, or cancelled meanwhile).
pub async fn finish(
    pool: &Pool,
    id: BackfillId,
    owner: &str,
    state: BackfillState,
    error: &str,
) -> ApiResult<bool> {
    debug_assert!(state != BackfillState::Running);
    let client = pool.get().await?;
    let changed = client
        .execute(
            "UPDATE backfills SET state = $3, error = $4, finished_at = now(), updated_at = now(), \
                 lease_owner = NULL, lease_expires_at = NULL \
             WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
            &[&id.as_uuid(), &owner, &state.as_sql(), &error],
        )
        .await?;
    Ok(changed == 1)
}

/// Gives the lease up (at shutdown), so another router resumes at once.
pub async fn release(pool: &Pool, id: BackfillId, owner: &str) -> ApiResult<()> {
    let client = pool.get().await?;
    client
        .execute(
            "UPDATE backfills SET lease_owner = NULL, lease_expires_at = NULL, updated_at = now() \
             WHERE id = $1 AND lease_owner = $2 AND state = 'running'",
            &[&id.as_uuid(), &owner],
        )
        .await?;
    Ok(())
}

/// The rule as the worker routes it: `None` when it is deleted; with
/// whether it is enabled and its connection live.
pub async fn rule_now(
    pool: &Pool,
    workspace: WorkspaceId,
    rule: RuleId,
) -> ApiResult<Option<crate::api::rules::RuleRecord>> {
    match crate::api::rules::store::get(pool, workspace, rule).await {
        Ok(record) => Ok(Some(record)),
        Err(ApiError::NotFound(_)) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Whether `connection` is live (not deleted).
pub async fn connection_live(
    pool: &Pool,
    workspace: WorkspaceId,
    connection: switchyard_core::ids::ConnectionId,
) -> ApiResult<bool> {
    let client = pool.get().await?;
    Ok(client
        .query_opt(
            "SELECT 1 FROM connections WHERE workspace_id = $1 AND id = $2 AND deleted_at IS NULL",
            &[&workspace.as_uuid(), &connection.as_uuid()],
        )
        .await?
        .is_some())
}

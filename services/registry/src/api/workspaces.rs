//! Workspaces as rows: the operator's listing, the caller's own workspace
//! and its retention periods (changed with their audit entry, under the
//! row's lock). Creating a workspace, its keys, tokens and the audit log
//! are `switchyard_tenancy`'s; `crate::grpc::workspaces` adapts both to
//! `WorkspaceService`.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::WorkspaceId;
use switchyard_tenancy::audit;
use switchyard_tenancy::auth::Principal;
use tokio_postgres::Row;

/// The default period of a workspace (the column default).
pub const DEFAULT_RETENTION_DAYS: u32 = 30;
/// The longest period a workspace may set (about ten years).
pub const MAX_RETENTION_DAYS: u32 = 3650;

/// The columns [`record`] reads, in order.
const COLUMNS: &str =
    "id, slug, created_at, retention_days, COALESCE(payload_retention_days, retention_days)";

/// One workspace as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkspaceRecord {
    pub id: WorkspaceId,
    pub slug: String,
    pub created_at: DateTime<Utc>,
    pub retention_days: u32,
    /// The payload period; the retention period when none is set.
    pub payload_retention_days: u32,
}

fn record(row: &Row) -> WorkspaceRecord {
    let days = |index: usize| u32::try_from(row.get::<_, i32>(index)).unwrap_or(0);
    WorkspaceRecord {
        id: WorkspaceId(row.get(0)),
        slug: row.get(1),
        created_at: row.get(2),
        retention_days: days(3),
        payload_retention_days: days(4),
    }
}

/// Up to `fetch` workspaces after `after`, in id order (the operator's
/// listing; the caller pages with `switchyard_core::paging`).
pub async fn list(
    pool: &Pool,
    after: Option<WorkspaceId>,
    fetch: i64,
) -> ApiResult<Vec<WorkspaceRecord>> {
    let client = pool.get().await?;
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM workspaces \
                 WHERE ($1::uuid IS NULL OR id > $1) ORDER BY id LIMIT $2"
            ),
            &[&after.map(|id| id.as_uuid()), &fetch],
        )
        .await?;
    Ok(rows.iter().map(record).collect())
}

/// The workspace `id`.
pub async fn get(pool: &Pool, id: WorkspaceId) -> ApiResult<WorkspaceRecord> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            &format!("SELECT {COLUMNS} FROM workspaces WHERE id = $1"),
            &[&id.as_uuid()],
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("workspace {id} not found")))?;
    Ok(record(&row))
}

/// Checked retention periods: `days` for events, deliveries and attempts,
/// `payload_days` for payloads (0: the same as `days`).
fn periods(days: u32, payload_days: u32) -> ApiResult<(i32, Option<i32>)> {
    if !(1..=MAX_RETENTION_DAYS).contains(&days) {
        return Err(ApiError::invalid(
            "retention_days",
            format!("must be between 1 and {MAX_RETENTION_DAYS} (got {days})"),
        ));
    }
    let payload_days = match payload_days {
        0 => None,
        payload_days if payload_days > days => {
            return Err(ApiError::invalid(
                "payload_retention_days",
                format!(
                    "must be at most retention_days ({days}); payloads cannot outlive their events (got {payload_days})"
                ),
            ));
        }
        payload_days => Some(payload_days),
    };
    let to_i32 = |value: u32| i32::try_from(value).unwrap_or(i32::MAX);
    Ok((to_i32(days), payload_days.map(to_i32)))
}

/// Sets the caller's workspace's retention periods (see [`periods`]) and
/// records the change in the audit log, in one transaction.
pub async fn set_retention(
    pool: &Pool,
    caller: &Principal,
    days: u32,
    payload_days: u32,
) -> ApiResult<WorkspaceRecord> {
    let (retention_days, payload_retention_days) = periods(days, payload_days)?;
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    let before = transaction
        .query_opt(
            "SELECT retention_days, payload_retention_days FROM workspaces \
             WHERE id = $1 FOR UPDATE",
            &[&caller.workspace.as_uuid()],
        )
        .await?
        .ok_or_else(|| ApiError::not_found(format!("workspace {} not found", caller.workspace)))?;
    let row = transaction
        .query_one(
            &format!(
                "UPDATE workspaces SET retention_days = $2, payload_retention_days = $3 \
                 WHERE id = $1 RETURNING {COLUMNS}"
            ),
            &[
                &caller.workspace.as_uuid(),
                &retention_days,
                &payload_retention_days,
            ],
        )
        .await?;
    let periods = |days: i32, payload_days: Option<i32>| serde_json::json!({"retention_days": days, "payload_retention_days": payload_days});
    audit::record(
        &transaction,
        caller.workspace,
        &caller.actor,
        "workspace.set_retention",
        &caller.workspace.to_string(),
        Some(&periods(before.get(0), before.get(1))),
        Some(&periods(retention_days, payload_retention_days)),
    )
    .await?;
    transaction.commit().await?;
    tracing::info!(workspace = %caller.workspace, retention_days, ?payload_retention_days, "retention set");
    Ok(record(&row))
}

//! The SQL of rules. Every change notifies [`RULES_CHANNEL`] with the
//! workspace id inside the changing statement or transaction, so every
//! router's rule cache drops that workspace's entries once it commits.
//! Every change also writes its audit entry (`crate::api::audit`) in its
//! transaction.

use deadpool_postgres::{GenericClient, Pool};
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{ConnectionId, RuleId, WorkspaceId};
use switchyard_core::quotas::WorkspaceLimits;
use switchyard_tenancy::auth::Principal;
use switchyard_tenancy::quota::{self, Counted};
use tokio_postgres::error::SqlState;

use super::model::{RulePatch, RuleRecord, RuleSpec};
use super::pattern::{EventPattern, patterns_matching};

/// The channel rule changes are announced on (payload: the workspace uuid).
pub const RULES_CHANNEL: &str = "switchyard_rules";

const COLUMNS: &str = "r.id, r.name, r.event_type, r.connection_id, r.enabled, r.description, \
                       r.condition, r.mapping, r.ordering_key, r.created_at, r.updated_at";

fn record_from_row(row: &tokio_postgres::Row) -> RuleRecord {
    RuleRecord {
        id: RuleId(row.get("id")),
        name: row.get("name"),
        event_type: row.get("event_type"),
        connection_id: ConnectionId(row.get("connection_id")),
        enabled: row.get("enabled"),
        description: row.get("description"),
        condition: row.get("condition"),
        mapping: row.get("mapping"),
        ordering_key: row.get("ordering_key"),
        created_at: row.get("created_at"),
        updated_at: row.get("updated_at"),
    }
}

/// A taken name is the caller's mistake, not ours.
fn name_taken(error: tokio_postgres::Error, name: Option<&str>) -> ApiError {
    if error.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        return ApiError::AlreadyExists(format!(
            "a rule named `{}` already exists",
            name.unwrap_or_default()
        ));
    }
    error.into()
}

/// Inserts the rule if the workspace has room for one more under `limits`,
/// its connection is live and, for an exact event type, the type is
/// registered; checks and insert are one statement, so a concurrent delete
/// cannot slip between them. The room check holds the workspace row's lock
/// until the insert commits.
pub async fn create(
    pool: &Pool,
    by: &Principal,
    limits: &WorkspaceLimits,
    spec: &RuleSpec,
) -> ApiResult<RuleRecord> {
    let workspace = by.workspace;
    let id = RuleId::generate();
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    quota::count::ensure_room(&transaction, workspace, Counted::Rules, limits).await?;
    let row = transaction
        .query_one(
            &format!(
                "WITH connection AS ( \
                     SELECT id FROM connections WHERE workspace_id = $1 AND id = $2 AND deleted_at IS NULL \
                 ), event_type AS ( \
                     SELECT name FROM event_types WHERE workspace_id = $1 AND name = $3 \
                 ), inserted AS ( \
                     INSERT INTO rules AS r (id, workspace_id, event_type, connection_id, description, \
                                             condition, mapping, enabled, name, ordering_key) \
                     SELECT $4, $1, $3, $2, $5, $6, $7, $8, $9, $12 \
                     WHERE EXISTS (SELECT 1 FROM connection) \
                       AND ($10 OR EXISTS (SELECT 1 FROM event_type)) \
                     RETURNING {COLUMNS} \
                 ) \
                 SELECT flags.connection_exists, flags.event_type_exists, \
                        pg_notify('{RULES_CHANNEL}', $11) IS NULL AS notified, inserted.* \
                 FROM (SELECT EXISTS (SELECT 1 FROM connection) AS connection_exists, \
                              ($10 OR EXISTS (SELECT 1 FROM event_type)) AS event_type_exists) AS flags \
                 LEFT JOIN inserted ON true"
            ),
            &[
                &workspace.as_uuid(),
                &spec.connection_id.as_uuid(),
                &spec.pattern.to_string(),
                &id.as_uuid(),
                &spec.description,
                &spec.condition,
                &spec.mapping,
                &spec.enabled,
                &spec.name,
                &spec.pattern.is_wildcard(),
                &workspace.as_uuid().to_string(),
                &spec.ordering_key,
            ],
        )
        .await
        .map_err(|error| name_taken(error, spec.name.as_deref()))?;
    if !row.get::<_, bool>("connection_exists") {
        return Err(ApiError::not_found(format!(
            "connection {} not found",
            spec.connection_id
        )));
    }
    if !row.get::<_, bool>("event_type_exists") {
        return Err(ApiError::not_found(format!(
            "event type `{}` is not registered",
            spec.pattern
        )));
    }
    let record = record_from_row(&row);
    let after = Some(record.audit_json());
    let action = "RouterService/CreateRule";
    crate::api::audit::record(&transaction, by, action, id, None, after).await?;
    transaction.commit().await?;
    Ok(record)
}

async fn get_with(
    client: &impl GenericClient,
    workspace: WorkspaceId,
    id: RuleId,
    lock: bool,
) -> ApiResult<RuleRecord> {
    let lock = if lock { "FOR UPDATE" } else { "" };
    let row = client
        .query_opt(
            &format!(
                "SELECT {COLUMNS} FROM rules r \
                 WHERE r.workspace_id = $1 AND r.id = $2 AND r.deleted_at IS NULL {lock}"
            ),
            &[&workspace.as_uuid(), &id.as_uuid()],
        )
        .await?;
    row.map(|row| record_from_row(&row))
        .ok_or_else(|| ApiError::not_found(format!("rule {id} not found")))
}

pub async fn get(pool: &Pool, workspace: WorkspaceId, id: RuleId) -> ApiResult<RuleRecord> {
    let client = pool.get().await?;
    get_with(&client, workspace, id, false).await
}

/// Applies `patch` in one transaction: lock, merge and validate, check the
/// connection and (for a changed exact type) the event type, write, notify.
pub async fn update(
    pool: &Pool,
    by: &Principal,
    id: RuleId,
    patch: &RulePatch,
) -> ApiResult<RuleRecord> {
    let workspace = by.workspace;
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    let current = get_with(&transaction, workspace, id, true).await?;
    let spec = patch.apply(&current)?;
    let connection_live = transaction
        .query_opt(
            "SELECT 1 FROM connections WHERE workspace_id = $1 AND id = $2 AND deleted_at IS NULL",
            &[&workspace.as_uuid(), &spec.connection_id.as_uuid()],
        )
        .await?
        .is_some();
    if !connection_live {
        return Err(ApiError::not_found(format!(
            "connection {} not found",
            spec.connection_id
        )));
    }
    if let (Some(EventPattern::Exact(name)), true) = (
        &patch.pattern,
        spec.pattern.to_string() != current.event_type,
    ) {
        let registered = transaction
            .query_opt(
                "SELECT 1 FROM event_types WHERE workspace_id = $1 AND name = $2",
                &[&workspace.as_uuid(), &name.as_str()],
            )
            .await?
            .is_some();
        if !registered {
            return Err(ApiError::not_found(format!(
                "event type `{name}` is not registered"
            )));
        }
    }
    let row = transaction
        .query_one(
            &format!(
                "UPDATE rules AS r SET event_type = $3, connection_id = $4, condition = $5, \
                     mapping = $6, enabled = $7, description = $8, name = $9, ordering_key = $10, \
                     updated_at = now() \
                 WHERE r.workspace_id = $1 AND r.id = $2 RETURNING {COLUMNS}"
            ),
            &[
                &workspace.as_uuid(),
                &id.as_uuid(),
                &spec.pattern.to_string(),
                &spec.connection_id.as_uuid(),
                &spec.condition,
                &spec.mapping,
                &spec.enabled,
                &spec.description,
                &spec.name,
                &spec.ordering_key,
            ],
        )
        .await
        .map_err(|error| name_taken(error, spec.name.as_deref()))?;
    notify(&transaction, workspace).await?;
    let record = record_from_row(&row);
    let (before, after) = (Some(current.audit_json()), Some(record.audit_json()));
    let action = "RouterService/UpdateRule";
    crate::api::audit::record(&transaction, by, action, id, before, after).await?;
    transaction.commit().await?;
    Ok(record)
}

/// Announces a change of `workspace`'s rules (delivered at commit).
pub async fn notify(client: &impl GenericClient, workspace: WorkspaceId) -> ApiResult<()> {
    client
        .execute(
            "SELECT pg_notify($1, $2)",
            &[&RULES_CHANNEL, &workspace.as_uuid().to_string()],
        )
        .await?;
    Ok(())
}

/// Filters for `ListRules`.
pub struct RuleFilter {
    pub event_type: Option<String>,
    pub connection_id: Option<ConnectionId>,
    pub after: Option<RuleId>,
    pub limit: i64,
}

pub async fn list(
    pool: &Pool,
    workspace: WorkspaceId,
    filter: RuleFilter,
) -> ApiResult<Vec<RuleRecord>> {
    let client = pool.get().await?;
    let connection = filter.connection_id.map(|id| id.as_uuid());
    let after = filter.after.map(|id| id.as_uuid());
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM rules r \
                 WHERE r.workspace_id = $1 AND r.deleted_at IS NULL \
                   AND ($2::text IS NULL OR r.event_type = $2) \
                   AND ($3::uuid IS NULL OR r.connection_id = $3) \
                   AND ($4::uuid IS NULL OR r.id > $4) \
                 ORDER BY r.id LIMIT $5"
            ),
            &[
                &workspace.as_uuid(),
                &filter.event_type,
                &connection,
                &after,
                &filter.limit,
            ],
        )
        .await?;
    Ok(rows.iter().map(record_from_row).collect())
}

/// Soft-deletes the rule, notifies and audits in one transaction.
pub async fn delete(pool: &Pool, by: &Principal, id: RuleId) -> ApiResult<()> {
    let workspace = by.workspace;
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    let deleted = transaction
        .query_opt(
            &format!(
                "UPDATE rules AS r SET deleted_at = now(), updated_at = now() \
                 WHERE r.workspace_id = $1 AND r.id = $2 AND r.deleted_at IS NULL \
                 RETURNING {COLUMNS}"
            ),
            &[&workspace.as_uuid(), &id.as_uuid()],
        )
        .await?;
    let Some(deleted) = deleted else {
        return Err(ApiError::not_found(format!("rule {id} not found")));
    };
    notify(&transaction, workspace).await?;
    let before = Some(record_from_row(&deleted).audit_json());
    let action = "RouterService/DeleteRule";
    crate::api::audit::record(&transaction, by, action, id, before, None).await?;
    transaction.commit().await?;
    Ok(())
}

/// The enabled rules with a live connection whose pattern matches
/// `event_type`: what the router evaluates for an event of that type.
pub async fn active_for_type(
    pool: &Pool,
    workspace: WorkspaceId,
    event_type: &str,
) -> ApiResult<Vec<RuleRecord>> {
    let client = pool.get().await?;
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS} FROM rules r \
                 JOIN connections c ON c.id = r.connection_id AND c.deleted_at IS NULL \
                 WHERE r.workspace_id = $1 AND r.event_type = ANY($2) AND r.enabled \
                   AND r.deleted_at IS NULL \
                 ORDER BY r.id"
            ),
            &[&workspace.as_uuid(), &patterns_matching(event_type)],
        )
        .await?;
    Ok(rows.iter().map(record_from_row).collect())
}

/// Every rule of the workspace (at most `limit`), with whether its
/// connection is live: what `TestEvent` explains.
pub async fn all_with_connection_state(
    pool: &Pool,
    workspace: WorkspaceId,
    limit: i64,
) -> ApiResult<Vec<(RuleRecord, bool)>> {
    let client = pool.get().await?;
    let rows = client
        .query(
            &format!(
                "SELECT {COLUMNS}, c.deleted_at IS NULL AS connection_live FROM rules r \
                 JOIN connections c ON c.id = r.connection_id \
                 WHERE r.workspace_id = $1 AND r.deleted_at IS NULL \
                 ORDER BY r.id LIMIT $2"
            ),
            &[&workspace.as_uuid(), &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| (record_from_row(row), row.get("connection_live")))
        .collect())
}

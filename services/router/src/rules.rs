//! Rules bind an event type to a connection. A rule may only name an event
//! type registered in its workspace and a live connection of it, so a typo
//! is refused at creation instead of silently never firing. Conditions and
//! mappings will extend the row; today a rule routes every event of its type.

use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{ConnectionId, RuleId, WorkspaceId};
use switchyard_core::names::EventTypeName;

const MAX_DESCRIPTION_LEN: usize = 1000;

#[derive(Clone, Debug)]
pub struct RuleRecord {
    pub id: RuleId,
    pub event_type: String,
    pub connection_id: ConnectionId,
    pub enabled: bool,
    pub description: String,
    pub created_at: DateTime<Utc>,
}

/// A validated `CreateRule` request.
pub struct NewRule {
    pub event_type: EventTypeName,
    pub connection_id: ConnectionId,
    pub description: String,
}

impl NewRule {
    pub fn parse(event_type: &str, connection_id: &str, description: &str) -> ApiResult<Self> {
        let event_type = EventTypeName::parse(event_type)
            .map_err(|reason| ApiError::invalid("event_type", reason))?;
        let connection_id = ConnectionId::parse(connection_id)
            .map_err(|reason| ApiError::invalid("connection_id", reason))?;
        if description.chars().count() > MAX_DESCRIPTION_LEN {
            return Err(ApiError::invalid(
                "description",
                format!("is longer than {MAX_DESCRIPTION_LEN} characters"),
            ));
        }
        Ok(Self {
            event_type,
            connection_id,
            description: description.to_string(),
        })
    }
}

fn record_from_row(row: &tokio_postgres::Row) -> RuleRecord {
    RuleRecord {
        id: RuleId(row.get("id")),
        event_type: row.get("event_type"),
        connection_id: ConnectionId(row.get("connection_id")),
        enabled: row.get("enabled"),
        description: row.get("description"),
        created_at: row.get("created_at"),
    }
}

/// Inserts the rule if its event type and connection exist in the workspace;
/// the checks and the insert are one statement, so a concurrent delete
/// cannot slip between them.
pub async fn create(pool: &Pool, workspace: WorkspaceId, rule: NewRule) -> ApiResult<RuleRecord> {
    let id = RuleId::generate();
    let client = pool.get().await?;
    let row = client
        .query_one(
            "WITH connection AS ( \
                 SELECT id FROM connections WHERE workspace_id = $1 AND id = $2 AND deleted_at IS NULL \
             ), event_type AS ( \
                 SELECT name FROM event_types WHERE workspace_id = $1 AND name = $3 \
             ), inserted AS ( \
                 INSERT INTO rules (id, workspace_id, event_type, connection_id, description) \
                 SELECT $4, $1, $3, $2, $5 \
                 WHERE EXISTS (SELECT 1 FROM connection) AND EXISTS (SELECT 1 FROM event_type) \
                 RETURNING id, event_type, connection_id, enabled, description, created_at \
             ) \
             SELECT flags.connection_exists, flags.event_type_exists, inserted.* \
             FROM (SELECT EXISTS (SELECT 1 FROM connection) AS connection_exists, \
                          EXISTS (SELECT 1 FROM event_type) AS event_type_exists) AS flags \
             LEFT JOIN inserted ON true",
            &[
                &workspace.as_uuid(),
                &rule.connection_id.as_uuid(),
                &rule.event_type.as_str(),
                &id.as_uuid(),
                &rule.description,
            ],
        )
        .await?;
    if !row.get::<_, bool>("connection_exists") {
        return Err(ApiError::not_found(format!(
            "connection {} not found",
            rule.connection_id
        )));
    }
    if !row.get::<_, bool>("event_type_exists") {
        return Err(ApiError::not_found(format!(
            "event type `{}` is not registered",
            rule.event_type
        )));
    }
    Ok(record_from_row(&row))
}

pub async fn get(pool: &Pool, workspace: WorkspaceId, id: RuleId) -> ApiResult<RuleRecord> {
    let client = pool.get().await?;
    let row = client
        .query_opt(
            "SELECT id, event_type, connection_id, enabled, description, created_at FROM rules \
             WHERE workspace_id = $1 AND id = $2 AND deleted_at IS NULL",
            &[&workspace.as_uuid(), &id.as_uuid()],
        )
        .await?;
    row.map(|row| record_from_row(&row))
        .ok_or_else(|| ApiError::not_found(format!("rule {id} not found")))
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
            "SELECT id, event_type, connection_id, enabled, description, created_at FROM rules \
             WHERE workspace_id = $1 AND deleted_at IS NULL \
               AND ($2::text IS NULL OR event_type = $2) \
               AND ($3::uuid IS NULL OR connection_id = $3) \
               AND ($4::uuid IS NULL OR id > $4) \
             ORDER BY id LIMIT $5",
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

pub async fn delete(pool: &Pool, workspace: WorkspaceId, id: RuleId) -> ApiResult<()> {
    let client = pool.get().await?;
    let deleted = client
        .execute(
            "UPDATE rules SET deleted_at = now() WHERE workspace_id = $1 AND id = $2 AND deleted_at IS NULL",
            &[&workspace.as_uuid(), &id.as_uuid()],
        )
        .await?;
    if deleted == 0 {
        return Err(ApiError::not_found(format!("rule {id} not found")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_names_the_bad_field() {
        let connection = ConnectionId::generate().to_string();
        let bad_type = NewRule::parse("Lead", &connection, "");
        assert!(
            matches!(bad_type, Err(ApiError::InvalidArgument { ref field, .. }) if field == "event_type")
        );
        let bad_connection = NewRule::parse("lead.created", "rul_x", "");
        assert!(
            matches!(bad_connection, Err(ApiError::InvalidArgument { ref field, .. }) if field == "connection_id")
        );
        let long = NewRule::parse("lead.created", &connection, &"d".repeat(1001));
        assert!(
            matches!(long, Err(ApiError::InvalidArgument { ref field, .. }) if field == "description")
        );
        assert!(NewRule::parse("lead.created", &connection, "to the CRM").is_ok());
    }
}

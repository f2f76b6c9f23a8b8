//! The audit log: one row per admin change — who (a key's visible prefix,
//! `jwt:<subject>` or `operator`), which RPC, which resource, when, and the
//! resource before and after as JSON. Callers pass records that never hold
//! secrets (connection records mask credentials; key records have no key),
//! and [`redact`] strips any field whose name says it is one, as a second
//! guard. Written in the same transaction as the change where the change
//! has one, so a change is never without its entry.

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Pool};
use serde_json::Value;

use switchyard_core::error::ApiResult;
use switchyard_core::ids::{AuditEventId, WorkspaceId};

/// Field names whose values never reach the log.
const SECRET_HINTS: &[&str] = &[
    "secret",
    "password",
    "token",
    "api_key",
    "material",
    "authorization",
];
const REDACTED: &str = "[redacted]";

/// Appends one entry.
pub async fn record(
    client: &impl GenericClient,
    workspace: WorkspaceId,
    actor: &str,
    action: &str,
    resource: &str,
    before: Option<&Value>,
    after: Option<&Value>,
) -> ApiResult<()> {
    let before = before.map(redact);
    let after = after.map(redact);
    client
        .execute(
            "INSERT INTO audit_events (id, workspace_id, actor, action, resource, before, after) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &AuditEventId::generate().as_uuid(),
                &workspace.as_uuid(),
                &actor,
                &action,
                &resource,
                &before,
                &after,
            ],
        )
        .await?;
    Ok(())
}

/// [`record`] on a pooled connection, for changes made by a store function
/// that commits on its own.
pub async fn record_now(
    pool: &Pool,
    workspace: WorkspaceId,
    actor: &str,
    action: &str,
    resource: &str,
    before: Option<&Value>,
    after: Option<&Value>,
) -> ApiResult<()> {
    let client = pool.get().await?;
    record(&client, workspace, actor, action, resource, before, after).await
}

/// `value` with every field named like a secret replaced.
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let lower = key.to_ascii_lowercase();
                    if SECRET_HINTS.iter().any(|hint| lower.contains(hint)) {
                        (key.clone(), Value::String(REDACTED.to_string()))
                    } else {
                        (key.clone(), redact(value))
                    }
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

#[derive(Clone, Debug)]
pub struct AuditEvent {
    pub id: AuditEventId,
    pub actor: String,
    pub action: String,
    pub resource: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
    pub at: DateTime<Utc>,
}

/// The workspace's entries, newest first, older than `before` if given.
pub async fn list(
    pool: &Pool,
    workspace: WorkspaceId,
    resource: Option<&str>,
    before: Option<AuditEventId>,
    limit: i64,
) -> ApiResult<Vec<AuditEvent>> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT id, actor, action, resource, before, after, at FROM audit_events \
             WHERE workspace_id = $1 AND ($2::text IS NULL OR resource = $2) \
               AND ($3::uuid IS NULL OR id < $3) \
             ORDER BY id DESC LIMIT $4",
            &[
                &workspace.as_uuid(),
                &resource,
                &before.map(|id| id.as_uuid()),
                &limit,
            ],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| AuditEvent {
            id: AuditEventId(row.get(0)),
            actor: row.get(1),
            action: row.get(2),
            resource: row.get(3),
            before: row.get(4),
            after: row.get(5),
            at: row.get(6),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_secret_fields_at_any_depth() {
        let value = serde_json::json!({
            "name": "crm",
            "signing_secret": "whsec_abc",
            "webhook": {"headers": {"Authorization": "Bearer x"}, "password": "p"},
            "keys": [{"api_key": "sy_live_x", "prefix": "sy_live_ab"}]
        });
        let redacted = redact(&value);
        assert_eq!(redacted["name"], "crm");
        assert_eq!(redacted["signing_secret"], REDACTED);
        assert_eq!(redacted["webhook"]["password"], REDACTED);
        assert_eq!(redacted["keys"][0]["api_key"], REDACTED);
        assert_eq!(redacted["keys"][0]["prefix"], "sy_live_ab");
        assert!(!redacted.to_string().contains("whsec_abc"));
    }
}

//! Writes: registration steps run inside the caller's transaction (which
//! holds the event type's row lock from [`Store::lock_or_create`] until it
//! commits, so concurrent registrations of one type are checked and
//! numbered one after the other), and the single-statement changes of mode
//! and deprecation. Each change notifies the other registries in the same
//! transaction, so they hear of it exactly when it becomes visible.

use anyhow::Context;
use serde_json::Value;
use tokio_postgres::Transaction;
use uuid::Uuid;

use super::{Store, to_mode, to_version};
use crate::canonical;
use crate::compat::Mode;
use crate::notify;
use switchyard_tenancy::audit;
use switchyard_tenancy::auth::Principal;

/// The locked event type row.
#[derive(Debug, PartialEq, Eq)]
pub struct TypeLock {
    /// True when this transaction created the type.
    pub created: bool,
    pub compatibility: Mode,
}

impl Store {
    /// Whether the type exists (as this transaction sees it).
    pub async fn type_exists(
        &self,
        transaction: &Transaction<'_>,
        workspace: Uuid,
        name: &str,
    ) -> anyhow::Result<bool> {
        let row = transaction
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM event_types WHERE workspace_id = $1 AND name = $2)",
                &[&workspace, &name],
            )
            .await
            .context("looking up the event type")?;
        Ok(row.get(0))
    }

    /// Creates the type if needed (with `mode`, BACKWARD when `None`) and
    /// locks its row until `transaction` ends.
    pub async fn lock_or_create(
        &self,
        transaction: &Transaction<'_>,
        workspace: Uuid,
        name: &str,
        description: &str,
        mode: Option<Mode>,
    ) -> anyhow::Result<TypeLock> {
        let inserted = transaction
            .execute(
                "INSERT INTO event_types (workspace_id, name, description, compatibility) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (workspace_id, name) DO NOTHING",
                &[
                    &workspace,
                    &name,
                    &description,
                    &mode.unwrap_or_default().as_str(),
                ],
            )
            .await
            .context("creating the event type")?;
        let row = transaction
            .query_one(
                "SELECT compatibility FROM event_types WHERE workspace_id = $1 AND name = $2 FOR UPDATE",
                &[&workspace, &name],
            )
            .await
            .context("locking the event type")?;
        Ok(TypeLock {
            created: inserted == 1,
            compatibility: to_mode(row.get(0))?,
        })
    }

    /// The latest version's schema, or every version's when `all`; oldest
    /// first, normalised.
    pub async fn earlier_schemas(
        &self,
        transaction: &Transaction<'_>,
        workspace: Uuid,
        name: &str,
        all: bool,
    ) -> anyhow::Result<Vec<(u32, Value)>> {
        let limit: Option<i64> = if all { None } else { Some(1) };
        let rows = transaction
            .query(
                "SELECT version, json_schema FROM event_type_versions \
                 WHERE workspace_id = $1 AND event_type = $2 ORDER BY version DESC LIMIT $3",
                &[&workspace, &name, &limit],
            )
            .await
            .context("reading earlier versions")?;
        let mut schemas = rows
            .iter()
            .map(|row| Ok((to_version(row.get(0))?, canonical::normalize(row.get(1)))))
            .collect::<anyhow::Result<Vec<_>>>()?;
        schemas.reverse();
        Ok(schemas)
    }

    pub async fn insert_version(
        &self,
        transaction: &Transaction<'_>,
        workspace: Uuid,
        name: &str,
        version: u32,
        document: &Value,
    ) -> anyhow::Result<()> {
        let version =
            i32::try_from(version).context("the event type has run out of version numbers")?;
        transaction
            .execute(
                "INSERT INTO event_type_versions (workspace_id, event_type, version, json_schema) \
                 VALUES ($1, $2, $3, $4)",
                &[&workspace, &name, &version, document],
            )
            .await
            .context("inserting the schema version")?;
        notify::publish(transaction, workspace, name).await
    }

    /// Replaces the description unless `description` is empty.
    pub async fn describe(
        &self,
        transaction: &Transaction<'_>,
        workspace: Uuid,
        name: &str,
        description: &str,
    ) -> anyhow::Result<()> {
        if description.is_empty() {
            return Ok(());
        }
        transaction
            .execute(
                "UPDATE event_types SET description = $3 \
                 WHERE workspace_id = $1 AND name = $2 AND description <> $3",
                &[&workspace, &name, &description],
            )
            .await
            .context("updating the description")?;
        Ok(())
    }

    /// Sets the mode; returns the previous one, or `None` when the type is
    /// unknown.
    /// A change is audited under `by` in the same transaction.
    pub async fn set_compatibility(
        &self,
        by: &Principal,
        name: &str,
        mode: Mode,
    ) -> anyhow::Result<Option<Mode>> {
        let workspace = by.workspace.as_uuid();
        let mut client = self.client().await?;
        let transaction = client
            .transaction()
            .await
            .context("starting a transaction")?;
        let Some(row) = transaction
            .query_opt(
                "SELECT compatibility FROM event_types WHERE workspace_id = $1 AND name = $2 FOR UPDATE",
                &[&workspace, &name],
            )
            .await
            .context("locking the event type")?
        else {
            return Ok(None);
        };
        let previous = to_mode(row.get(0))?;
        if previous != mode {
            transaction
                .execute(
                    "UPDATE event_types SET compatibility = $3 WHERE workspace_id = $1 AND name = $2",
                    &[&workspace, &name, &mode.as_str()],
                )
                .await
                .context("setting the compatibility")?;
            notify::publish(&transaction, workspace, name).await?;
            let before = serde_json::json!({"compatibility": previous.as_str()});
            let after = serde_json::json!({"compatibility": mode.as_str()});
            audit_in(
                &transaction,
                by,
                "RegistryService/SetCompatibility",
                name,
                before,
                after,
            )
            .await?;
        }
        transaction.commit().await.context("committing the mode")?;
        Ok(Some(previous))
    }

    /// Marks the type deprecated (keeping the first deprecation's time) or
    /// lifts it; false when the type is unknown. A change is audited under
    /// `by` in the same transaction.
    pub async fn deprecate(
        &self,
        by: &Principal,
        name: &str,
        deprecated: bool,
        reason: &str,
    ) -> anyhow::Result<bool> {
        let workspace = by.workspace.as_uuid();
        let mut client = self.client().await?;
        let transaction = client
            .transaction()
            .await
            .context("starting a transaction")?;
        let reason = if deprecated { reason } else { "" };
        let Some(old) = transaction
            .query_opt(
                "SELECT deprecated, deprecation_reason FROM event_types \
                 WHERE workspace_id = $1 AND name = $2 FOR UPDATE",
                &[&workspace, &name],
            )
            .await
            .context("locking the event type")?
        else {
            return Ok(false);
        };
        let (was, was_reason): (bool, String) = (old.get(0), old.get(1));
        if was == deprecated && was_reason == reason {
            return Ok(true);
        }
        let row = transaction
            .query_one(
                "UPDATE event_types SET deprecated = $3, deprecation_reason = $4, \
                        deprecated_at = CASE WHEN $3 THEN coalesce(deprecated_at, now()) END \
                 WHERE workspace_id = $1 AND name = $2 RETURNING deprecated_at",
                &[&workspace, &name, &deprecated, &reason],
            )
            .await
            .context("updating the deprecation")?;
        notify::publish(&transaction, workspace, name).await?;
        let at: Option<chrono::DateTime<chrono::Utc>> = row.get(0);
        let before = serde_json::json!({"deprecated": was, "deprecation_reason": was_reason});
        let after = serde_json::json!({
            "deprecated": deprecated, "deprecation_reason": reason, "deprecated_at": at,
        });
        audit_in(
            &transaction,
            by,
            "RegistryService/DeprecateEventType",
            name,
            before,
            after,
        )
        .await?;
        transaction
            .commit()
            .await
            .context("committing the deprecation")?;
        Ok(true)
    }
}

/// Appends `by`'s change of the event type `name` to the audit log.
async fn audit_in(
    transaction: &impl deadpool_postgres::GenericClient,
    by: &Principal,
    action: &str,
    name: &str,
    before: Value,
    after: Value,
) -> anyhow::Result<()> {
    audit::record(
        transaction,
        by.workspace,
        &by.actor,
        action,
        name,
        Some(&before),
        Some(&after),
    )
    .await
    .map_err(|error| anyhow::anyhow!("writing the audit entry: {error}"))
}

//! Postgres access for event types (`event_types`) and their immutable
//! schema versions (`event_type_versions`). Every query filters on the
//! workspace id, so no read or write crosses a tenant.
//!
//! Registration serialises per event type by locking the type's row, so two
//! concurrent registrations of one type get consecutive version numbers
//! instead of a primary-key clash.

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;

/// The outcome of storing a schema.
#[derive(Debug, PartialEq, Eq)]
pub struct Registration {
    pub version: u32,
    /// True when the schema equalled the latest version, which was kept.
    pub unchanged: bool,
}

#[derive(Debug)]
pub struct EventTypeRecord {
    pub name: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub latest_version: u32,
    /// Oldest first; empty in listings.
    pub versions: Vec<VersionRecord>,
}

#[derive(Debug)]
pub struct VersionRecord {
    pub version: u32,
    pub json_schema: Value,
    pub created_at: DateTime<Utc>,
}

#[derive(Clone)]
pub struct Store {
    pool: Pool,
}

impl Store {
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// Adds `document` as the next version of `name`, creating the type if
    /// needed, unless it equals the latest version. A non-empty
    /// `description` replaces the type's description.
    pub async fn register(
        &self,
        workspace: Uuid,
        name: &str,
        document: &Value,
        description: &str,
    ) -> anyhow::Result<Registration> {
        let mut client = self.pool.get().await.context("getting a connection")?;
        let transaction = client
            .transaction()
            .await
            .context("starting a transaction")?;
        transaction
            .execute(
                "INSERT INTO event_types (workspace_id, name, description) VALUES ($1, $2, $3) \
                 ON CONFLICT (workspace_id, name) DO NOTHING",
                &[&workspace, &name, &description],
            )
            .await
            .context("creating the event type")?;
        transaction
            .query_one(
                "SELECT 1 FROM event_types WHERE workspace_id = $1 AND name = $2 FOR UPDATE",
                &[&workspace, &name],
            )
            .await
            .context("locking the event type")?;
        let latest = transaction
            .query_opt(
                "SELECT version, json_schema FROM event_type_versions \
                 WHERE workspace_id = $1 AND event_type = $2 ORDER BY version DESC LIMIT 1",
                &[&workspace, &name],
            )
            .await
            .context("reading the latest version")?;
        let (latest_version, latest_schema) = match &latest {
            Some(row) => (row.get::<_, i32>(0), Some(row.get::<_, Value>(1))),
            None => (0, None),
        };

        let registration = if latest_schema.as_ref() == Some(document) {
            Registration {
                version: to_version(latest_version)?,
                unchanged: true,
            }
        } else {
            let next = latest_version
                .checked_add(1)
                .context("the event type has run out of version numbers")?;
            transaction
                .execute(
                    "INSERT INTO event_type_versions (workspace_id, event_type, version, json_schema) \
                     VALUES ($1, $2, $3, $4)",
                    &[&workspace, &name, &next, document],
                )
                .await
                .context("inserting the schema version")?;
            Registration {
                version: to_version(next)?,
                unchanged: false,
            }
        };

        if !description.is_empty() {
            transaction
                .execute(
                    "UPDATE event_types SET description = $3 \
                     WHERE workspace_id = $1 AND name = $2 AND description <> $3",
                    &[&workspace, &name, &description],
                )
                .await
                .context("updating the description")?;
        }
        transaction
            .commit()
            .await
            .context("committing the registration")?;
        Ok(registration)
    }

    /// The newest version of `name`, or `None` when the type is unknown
    /// (a type always has at least one version: both are written together).
    pub async fn latest_version(&self, workspace: Uuid, name: &str) -> anyhow::Result<Option<u32>> {
        let client = self.pool.get().await.context("getting a connection")?;
        let row = client
            .query_opt(
                "SELECT version FROM event_type_versions \
                 WHERE workspace_id = $1 AND event_type = $2 ORDER BY version DESC LIMIT 1",
                &[&workspace, &name],
            )
            .await
            .context("reading the latest version")?;
        row.map(|row| to_version(row.get(0))).transpose()
    }

    /// The schema document of one version.
    pub async fn schema(
        &self,
        workspace: Uuid,
        name: &str,
        version: u32,
    ) -> anyhow::Result<Option<Value>> {
        // Versions are stored as `integer`; a larger number cannot exist.
        let Ok(version) = i32::try_from(version) else {
            return Ok(None);
        };
        let client = self.pool.get().await.context("getting a connection")?;
        let row = client
            .query_opt(
                "SELECT json_schema FROM event_type_versions \
                 WHERE workspace_id = $1 AND event_type = $2 AND version = $3",
                &[&workspace, &name, &version],
            )
            .await
            .context("reading a schema version")?;
        Ok(row.map(|row| row.get(0)))
    }

    pub async fn exists(&self, workspace: Uuid, name: &str) -> anyhow::Result<bool> {
        let client = self.pool.get().await.context("getting a connection")?;
        let row = client
            .query_opt(
                "SELECT 1 FROM event_types WHERE workspace_id = $1 AND name = $2",
                &[&workspace, &name],
            )
            .await
            .context("looking up the event type")?;
        Ok(row.is_some())
    }

    /// One event type with every version, oldest first.
    pub async fn event_type(
        &self,
        workspace: Uuid,
        name: &str,
    ) -> anyhow::Result<Option<EventTypeRecord>> {
        let client = self.pool.get().await.context("getting a connection")?;
        let Some(row) = client
            .query_opt(
                "SELECT name, description, created_at FROM event_types \
                 WHERE workspace_id = $1 AND name = $2",
                &[&workspace, &name],
            )
            .await
            .context("reading the event type")?
        else {
            return Ok(None);
        };
        let mut record = to_record(&row, 0);
        let rows = client
            .query(
                "SELECT version, json_schema, created_at FROM event_type_versions \
                 WHERE workspace_id = $1 AND event_type = $2 ORDER BY version",
                &[&workspace, &name],
            )
            .await
            .context("reading the schema versions")?;
        record.versions = rows
            .iter()
            .map(|row| {
                Ok(VersionRecord {
                    version: to_version(row.get(0))?,
                    json_schema: row.get(1),
                    created_at: row.get(2),
                })
            })
            .collect::<anyhow::Result<_>>()?;
        record.latest_version = record.versions.last().map_or(0, |latest| latest.version);
        Ok(Some(record))
    }

    /// Up to `limit` event types named after `after` (all when `None`), in
    /// name order, without their versions.
    pub async fn list(
        &self,
        workspace: Uuid,
        after: Option<&str>,
        limit: i64,
    ) -> anyhow::Result<Vec<EventTypeRecord>> {
        let client = self.pool.get().await.context("getting a connection")?;
        let rows = client
            .query(
                "SELECT t.name, t.description, t.created_at, \
                        (SELECT max(v.version) FROM event_type_versions v \
                         WHERE v.workspace_id = t.workspace_id AND v.event_type = t.name) \
                 FROM event_types t \
                 WHERE t.workspace_id = $1 AND ($2::text IS NULL OR t.name > $2) \
                 ORDER BY t.name LIMIT $3",
                &[&workspace, &after, &limit],
            )
            .await
            .context("listing event types")?;
        rows.iter()
            .map(|row| {
                let latest: Option<i32> = row.get(3);
                Ok(to_record(
                    row,
                    latest.map(to_version).transpose()?.unwrap_or(0),
                ))
            })
            .collect()
    }
}

/// Reads `name, description, created_at`; versions are left empty.
fn to_record(row: &Row, latest_version: u32) -> EventTypeRecord {
    EventTypeRecord {
        name: row.get(0),
        description: row.get(1),
        created_at: row.get(2),
        latest_version,
        versions: Vec::new(),
    }
}

fn to_version(stored: i32) -> anyhow::Result<u32> {
    u32::try_from(stored).with_context(|| format!("stored version {stored} is negative"))
}

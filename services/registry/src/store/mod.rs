//! Postgres access for event types (`event_types`: name, description,
//! compatibility mode, deprecation) and their immutable schema versions
//! (`event_type_versions`). Every query filters on the workspace id, so no
//! read or write crosses a tenant.
//!
//! Reads live here; the writes that must happen under the event type's row
//! lock (registration) take a [`Transaction`](tokio_postgres::Transaction)
//! from the service, which runs the compatibility check between the reads
//! and the insert (`write.rs`). Every write that changes what registries
//! cache sends a notification in its transaction (`crate::notify`).

mod write;

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::{Object, Pool};
use serde_json::Value;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::canonical;
use crate::compat::Mode;

/// Columns read into an [`EventTypeRecord`], in [`to_record`]'s order.
const TYPE_COLUMNS: &str = "t.name, t.description, t.created_at, t.compatibility, t.deprecated, t.deprecation_reason, t.deprecated_at";

#[derive(Debug)]
pub struct EventTypeRecord {
    pub name: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub compatibility: Mode,
    pub deprecated: bool,
    pub deprecation_reason: String,
    pub deprecated_at: Option<DateTime<Utc>>,
    pub latest_version: u32,
    /// Oldest first; empty in listings.
    pub versions: Vec<VersionRecord>,
}

#[derive(Debug)]
pub struct VersionRecord {
    pub version: u32,
    /// Normalised (`crate::canonical`).
    pub json_schema: Value,
    pub created_at: DateTime<Utc>,
}

/// What validation needs to know of a type, cached per replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head {
    pub latest_version: u32,
    pub compatibility: Mode,
    pub deprecated: bool,
}

#[derive(Clone)]
pub struct Store {
    pool: Pool,
}

impl Store {
    pub fn new(pool: Pool) -> Self {
        Self { pool }
    }

    /// A pooled connection, for a transaction spanning several calls.
    pub async fn client(&self) -> anyhow::Result<Object> {
        self.pool.get().await.context("getting a connection")
    }

    /// The type's latest version, mode and deprecation; `None` when unknown
    /// (a type always has a version: both are written together).
    pub async fn head(&self, workspace: Uuid, name: &str) -> anyhow::Result<Option<Head>> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT t.compatibility, t.deprecated, \
                        (SELECT max(v.version) FROM event_type_versions v \
                         WHERE v.workspace_id = t.workspace_id AND v.event_type = t.name) \
                 FROM event_types t WHERE t.workspace_id = $1 AND t.name = $2",
                &[&workspace, &name],
            )
            .await
            .context("reading the event type's head")?;
        let Some(row) = row else {
            return Ok(None);
        };
        let latest: Option<i32> = row.get(2);
        Ok(Some(Head {
            compatibility: to_mode(row.get(0))?,
            deprecated: row.get(1),
            latest_version: latest.map(to_version).transpose()?.unwrap_or(0),
        }))
    }

    /// One version; `version` 0 is the latest.
    pub async fn version(
        &self,
        workspace: Uuid,
        name: &str,
        version: u32,
    ) -> anyhow::Result<Option<VersionRecord>> {
        // Versions are stored as `integer`; a larger number cannot exist.
        let Ok(version) = i32::try_from(version) else {
            return Ok(None);
        };
        let client = self.client().await?;
        let row = client
            .query_opt(
                "SELECT version, json_schema, created_at FROM event_type_versions \
                 WHERE workspace_id = $1 AND event_type = $2 AND ($3 = 0 OR version = $3) \
                 ORDER BY version DESC LIMIT 1",
                &[&workspace, &name, &version],
            )
            .await
            .context("reading a schema version")?;
        row.as_ref().map(to_version_record).transpose()
    }

    /// Every version's schema, oldest first, read without locking (for dry
    /// runs).
    pub async fn schemas(&self, workspace: Uuid, name: &str) -> anyhow::Result<Vec<(u32, Value)>> {
        let client = self.client().await?;
        let rows = client
            .query(
                "SELECT version, json_schema FROM event_type_versions \
                 WHERE workspace_id = $1 AND event_type = $2 ORDER BY version",
                &[&workspace, &name],
            )
            .await
            .context("reading the schema versions")?;
        rows.iter()
            .map(|row| Ok((to_version(row.get(0))?, canonical::normalize(row.get(1)))))
            .collect()
    }

    /// One event type; with every version (oldest first) when
    /// `with_versions`, else with `latest_version` only.
    pub async fn event_type(
        &self,
        workspace: Uuid,
        name: &str,
        with_versions: bool,
    ) -> anyhow::Result<Option<EventTypeRecord>> {
        let mut listed = self.list(workspace, Some(name), None, 1).await?;
        let Some(mut record) = listed.pop() else {
            return Ok(None);
        };
        if with_versions {
            let client = self.client().await?;
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
                .map(to_version_record)
                .collect::<anyhow::Result<_>>()?;
            record.latest_version = record.versions.last().map_or(0, |latest| latest.version);
        }
        Ok(Some(record))
    }

    /// Up to `limit` event types in name order, without their versions:
    /// the one named `exactly`, or those named after `after` (all when
    /// `None`).
    pub async fn list(
        &self,
        workspace: Uuid,
        exactly: Option<&str>,
        after: Option<&str>,
        limit: i64,
    ) -> anyhow::Result<Vec<EventTypeRecord>> {
        let client = self.client().await?;
        let rows = client
            .query(
                &format!(
                    "SELECT {TYPE_COLUMNS}, \
                            (SELECT max(v.version) FROM event_type_versions v \
                             WHERE v.workspace_id = t.workspace_id AND v.event_type = t.name) \
                     FROM event_types t \
                     WHERE t.workspace_id = $1 AND ($2::text IS NULL OR t.name = $2) \
                       AND ($3::text IS NULL OR t.name > $3) \
                     ORDER BY t.name LIMIT $4"
                ),
                &[&workspace, &exactly, &after, &limit],
            )
            .await
            .context("listing event types")?;
        rows.iter()
            .map(|row| {
                let latest: Option<i32> = row.get(7);
                to_record(row, latest.map(to_version).transpose()?.unwrap_or(0))
            })
            .collect()
    }
}

/// Reads [`TYPE_COLUMNS`]; versions are left empty.
fn to_record(row: &Row, latest_version: u32) -> anyhow::Result<EventTypeRecord> {
    Ok(EventTypeRecord {
        name: row.get(0),
        description: row.get(1),
        created_at: row.get(2),
        compatibility: to_mode(row.get(3))?,
        deprecated: row.get(4),
        deprecation_reason: row.get(5),
        deprecated_at: row.get(6),
        latest_version,
        versions: Vec::new(),
    })
}

fn to_version_record(row: &Row) -> anyhow::Result<VersionRecord> {
    Ok(VersionRecord {
        version: to_version(row.get(0))?,
        json_schema: canonical::normalize(row.get(1)),
        created_at: row.get(2),
    })
}

fn to_version(stored: i32) -> anyhow::Result<u32> {
    u32::try_from(stored).with_context(|| format!("stored version {stored} is negative"))
}

fn to_mode(stored: &str) -> anyhow::Result<Mode> {
    Mode::parse(stored).with_context(|| format!("stored compatibility `{stored}` is unknown"))
}

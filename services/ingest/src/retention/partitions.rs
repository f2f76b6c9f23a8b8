//! Day partitions of `events`, `deliveries` and `delivery_attempts`, named
//! `<table>_pYYYYMMDD` and bounded by the lowest UUIDv7 of the day and of
//! the next one.
//!
//! - Creating is `switchyard_create_day_partitions` (the migration's SQL
//!   function, which the migration also used): each partition is created
//!   apart and then attached, a lock that does not stop inserts.
//! - Dropping a day takes each table's partition out with `DETACH PARTITION
//!   … CONCURRENTLY` (it waits for transactions using the table instead of
//!   locking them out) and then drops the detached table, which no insert
//!   uses. A detach interrupted halfway leaves the partition "detach
//!   pending"; the next run finishes it (`FINALIZE`). The events' outbox
//!   rows of the day go first (`events_unrouted` has no foreign key).

use anyhow::Context;
use chrono::{Duration, NaiveDate};

/// The three tables, children first (attempts belong to deliveries, which
/// belong to events).
pub const TABLES: [&str; 3] = ["delivery_attempts", "deliveries", "events"];

/// Creates the missing partitions from `today` to `days_ahead` days after;
/// returns how many it created (of the three tables together).
pub async fn create_ahead(
    client: &deadpool_postgres::Object,
    today: NaiveDate,
    days_ahead: u32,
) -> anyhow::Result<u32> {
    create_days(client, today, today + Duration::days(i64::from(days_ahead))).await
}

/// Creates the missing partitions of the days `first..=last`.
pub async fn create_days(
    client: &deadpool_postgres::Object,
    first: NaiveDate,
    last: NaiveDate,
) -> anyhow::Result<u32> {
    let created: i32 = client
        .query_one(
            "SELECT switchyard_create_day_partitions($1, $2)",
            &[&first, &last],
        )
        .await
        .context("creating day partitions")?
        .get(0);
    Ok(u32::try_from(created).unwrap_or(0))
}

/// A partition of one of the three tables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Partition {
    pub table: &'static str,
    pub name: String,
    pub day: NaiveDate,
    pub detach_pending: bool,
}

/// Every day partition of the three tables, oldest day first.
pub async fn list(client: &deadpool_postgres::Object) -> anyhow::Result<Vec<Partition>> {
    let mut partitions = Vec::new();
    for table in TABLES {
        let rows = client
            .query(
                "SELECT c.relname::text, i.inhdetachpending \
                 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid \
                 WHERE i.inhparent = $1::text::regclass",
                &[&table],
            )
            .await
            .with_context(|| format!("listing the partitions of {table}"))?;
        for row in rows {
            let name: String = row.get(0);
            // Only ours: `<table>_pYYYYMMDD`.
            let Some(day) = name
                .strip_prefix(table)
                .and_then(|rest| rest.strip_prefix("_p"))
                .and_then(|digits| NaiveDate::parse_from_str(digits, "%Y%m%d").ok())
            else {
                continue;
            };
            partitions.push(Partition {
                table,
                name,
                day,
                detach_pending: row.get(1),
            });
        }
    }
    partitions.sort_by_key(|p| (p.day, position(p.table)));
    Ok(partitions)
}

fn position(table: &str) -> usize {
    TABLES
        .iter()
        .position(|t| *t == table)
        .unwrap_or(TABLES.len())
}

/// Drops the partitions of every day before `before` from the three
/// tables; returns their names.
pub async fn drop_before(
    client: &deadpool_postgres::Object,
    before: NaiveDate,
) -> anyhow::Result<Vec<String>> {
    let mut dropped = Vec::new();
    for partition in list(client).await? {
        if partition.day >= before {
            continue;
        }
        if partition.table == "events" {
            // The day's unrouted events go with it (no foreign key cascades).
            let next_day = partition.day + Duration::days(1);
            client
                .execute(
                    "DELETE FROM events_unrouted WHERE event_id < switchyard_day_bound($1)",
                    &[&next_day],
                )
                .await
                .context("removing the outbox rows of a dropped day")?;
        }
        let detach = if partition.detach_pending {
            "FINALIZE"
        } else {
            "CONCURRENTLY"
        };
        // Both names are ours (a constant, and one parsed above).
        client
            .batch_execute(&format!(
                "ALTER TABLE {} DETACH PARTITION {} {detach}",
                partition.table, partition.name
            ))
            .await
            .with_context(|| format!("detaching {}", partition.name))?;
        client
            .batch_execute(&format!("DROP TABLE {}", partition.name))
            .await
            .with_context(|| format!("dropping {}", partition.name))?;
        tracing::info!(partition = %partition.name, "retention dropped a day partition");
        dropped.push(partition.name);
    }
    Ok(dropped)
}

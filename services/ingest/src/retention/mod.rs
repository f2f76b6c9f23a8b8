//! Retention: events, deliveries and delivery attempts are kept per
//! workspace for its `retention_days` (default 30), payloads for its
//! `payload_retention_days` (default the same), and removed without long
//! locks. Ingest runs it because it owns the events table, and its emits
//! are what fail if no partition is ready.
//!
//! The three tables are partitioned by UTC day on their UUIDv7 ids
//! (`migrations/V13__retention_partitions.sql` says why, and how a
//! delivery's id lands in its event's day). Each run, under a Postgres
//! advisory lock so only one replica works at a time:
//!
//! 1. [`partitions`] creates the day partitions of today and
//!    `days_ahead` days after (attached, so inserts never wait), and drops
//!    the days older than the longest period of any workspace from all
//!    three tables (`DETACH PARTITION … CONCURRENTLY`, then `DROP TABLE` of
//!    the detached table: emits are not blocked).
//! 2. [`prune`] removes, in statements of `batch_size` events each, the
//!    rows of workspaces with a shorter period (an event with its
//!    deliveries, attempts and outbox row in one statement, as the foreign
//!    keys used to cascade), then prunes payloads older than a workspace's
//!    payload period (event payload and mapped bodies set to NULL together;
//!    an event with a delivery not finished keeps its payload until it
//!    is), then removes idempotency keys whose event is gone.
//!
//! What a run removed is logged and counted in the `switchyard_retention_*`
//! metrics.

pub mod partitions;
pub mod periods;
pub mod prune;

use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use switchyard_core::config::RetentionConfig;
use switchyard_core::shutdown::{self, Signal};
use switchyard_core::telemetry::metrics::names;

/// The advisory lock key of the retention run (an arbitrary constant
/// shared by every replica: "retentn" in ASCII).
const LOCK_KEY: i64 = 0x0072_6574_656e_746e;

/// What one run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub partitions_created: u32,
    /// Names of the partitions dropped.
    pub partitions_dropped: Vec<String>,
    pub events_removed: u64,
    pub deliveries_removed: u64,
    pub attempts_removed: u64,
    pub payloads_pruned: u64,
    pub bodies_pruned: u64,
    pub keys_removed: u64,
}

/// Runs retention every `config.interval` until `shutdown`.
pub async fn run(pool: Pool, config: RetentionConfig, shutdown: Signal) {
    shutdown::every(config.interval, shutdown, || async {
        match run_once(&pool, &config, Utc::now()).await {
            Ok(Some(report)) => log(&report),
            Ok(None) => tracing::debug!("another replica holds the retention lock"),
            Err(error) => tracing::warn!(error = format!("{error:#}"), "retention run failed"),
        }
    })
    .await;
}

/// One run as of `now`; `None` when another replica is running it.
pub async fn run_once(
    pool: &Pool,
    config: &RetentionConfig,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Report>> {
    let started = Instant::now();
    let client = pool.get().await.context("connecting to Postgres")?;
    let locked: bool = client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&LOCK_KEY])
        .await
        .context("taking the retention lock")?
        .get(0);
    if !locked {
        return Ok(None);
    }
    let result = run_locked(&client, config, now).await;
    // Released whatever happened: the connection goes back to the pool.
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await;
    let report = result?;
    unlocked.context("releasing the retention lock")?;
    metrics::histogram!(names::RETENTION_RUN_SECONDS).record(started.elapsed().as_secs_f64());
    count(&report);
    Ok(Some(report))
}

async fn run_locked(
    client: &deadpool_postgres::Object,
    config: &RetentionConfig,
    now: DateTime<Utc>,
) -> anyhow::Result<Report> {
    let mut report = Report {
        partitions_created: partitions::create_ahead(client, now.date_naive(), config.days_ahead)
            .await?,
        ..Report::default()
    };
    let periods = periods::Periods::load(client, now).await?;
    report.partitions_dropped = partitions::drop_before(client, periods.droppable_before()).await?;
    prune::shorter_periods(client, &periods, config.batch_size, &mut report).await?;
    prune::payloads(client, &periods, config.batch_size, &mut report).await?;
    prune::idempotency_keys(client, &periods, config.batch_size, &mut report).await?;
    Ok(report)
}

fn log(report: &Report) {
    if report == &Report::default() {
        tracing::debug!("retention run removed nothing");
        return;
    }
    tracing::info!(
        partitions_created = report.partitions_created,
        partitions_dropped = ?report.partitions_dropped,
        events = report.events_removed,
        deliveries = report.deliveries_removed,
        attempts = report.attempts_removed,
        payloads_pruned = report.payloads_pruned,
        bodies_pruned = report.bodies_pruned,
        idempotency_keys = report.keys_removed,
        "retention run"
    );
}

fn count(report: &Report) {
    metrics::counter!(names::RETENTION_PARTITIONS_CREATED)
        .increment(u64::from(report.partitions_created));
    metrics::counter!(names::RETENTION_PARTITIONS_DROPPED)
        .increment(report.partitions_dropped.len() as u64);
    for (table, rows) in [
        ("events", report.events_removed),
        ("deliveries", report.deliveries_removed),
        ("delivery_attempts", report.attempts_removed),
        ("idempotency_keys", report.keys_removed),
    ] {
        metrics::counter!(names::RETENTION_ROWS_REMOVED, "table" => table).increment(rows);
    }
    for (table, rows) in [
        ("events", report.payloads_pruned),
        ("deliveries", report.bodies_pruned),
    ] {
        metrics::counter!(names::RETENTION_PAYLOADS_PRUNED, "table" => table).increment(rows);
    }
}

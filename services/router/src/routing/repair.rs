//! The repair loop: enqueues pending deliveries whose job never reached the
//! stream (the router died, or Redis failed, between the commit of the
//! deliveries and the XADD). Such a delivery is `pending` without
//! `enqueued_at` some seconds after its creation; every router replica runs
//! the loop, and `FOR UPDATE SKIP LOCKED` gives each orphan to one of them.
//! The stamp is written in the transaction that locked the rows, after the
//! XADD succeeded: a crash in between leaves the rows to be repaired again
//! (a duplicate job is harmless, the delivery engine claims in Postgres).

use std::time::Duration;

use deadpool_postgres::Pool;
use switchyard_core::error::ApiResult;
use switchyard_core::ids::{ConnectionId, DeliveryId, WorkspaceId};
use switchyard_core::shutdown::{self, Signal};
use switchyard_delivery_model::queue::Producer;
use uuid::Uuid;

use super::enqueue;

/// When and how much the loop repairs.
#[derive(Clone, Copy, Debug)]
pub struct RepairSettings {
    /// Age a pending delivery without a job must reach before it is
    /// repaired; longer than any routing call takes from commit to enqueue.
    pub grace: Duration,
    /// Pause between two passes.
    pub interval: Duration,
    /// Deliveries repaired per pass at most.
    pub batch: i64,
}

impl Default for RepairSettings {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(5),
            interval: Duration::from_secs(1),
            batch: 500,
        }
    }
}

/// One pass; returns how many deliveries were enqueued.
pub async fn repair_once(
    pool: &Pool,
    producer: &Producer,
    settings: &RepairSettings,
) -> ApiResult<usize> {
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    // 'pending' stays literal: with `enqueued_at IS NULL` it is the
    // predicate of the partial index `deliveries_unenqueued`.
    let rows = transaction
        .query(
            "SELECT id, workspace_id, connection_id, traceparent FROM deliveries \
             WHERE status = 'pending' AND enqueued_at IS NULL \
               AND created_at < now() - make_interval(secs => $1) \
             ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED",
            &[&settings.grace.as_secs_f64(), &settings.batch],
        )
        .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    let jobs: Vec<enqueue::Job> = rows
        .iter()
        .map(|row| enqueue::Job {
            workspace: WorkspaceId(row.get("workspace_id")),
            delivery: DeliveryId(row.get("id")),
            connection: ConnectionId(row.get("connection_id")),
            traceparent: row.get("traceparent"),
        })
        .collect();
    enqueue::push(producer, &jobs).await?;
    let ids: Vec<Uuid> = jobs.iter().map(|job| job.delivery.as_uuid()).collect();
    transaction
        .execute(
            "UPDATE deliveries SET enqueued_at = now() WHERE id = ANY($1)",
            &[&ids],
        )
        .await?;
    transaction.commit().await?;
    tracing::info!(count = jobs.len(), "enqueued deliveries whose job was lost");
    Ok(jobs.len())
}

/// Repairs every `settings.interval` until `shutdown`.
pub async fn run(pool: Pool, producer: Producer, settings: RepairSettings, shutdown: Signal) {
    shutdown::every(settings.interval, shutdown, || async {
        if let Err(error) = repair_once(&pool, &producer, &settings).await {
            tracing::warn!(error = %error, "repairing lost jobs failed; retrying next pass");
        }
    })
    .await;
}

//! Re-enqueueing unfinished deliveries from Postgres, the source of truth,
//! into Redis: used by the delivery engine when Redis lost its data (the
//! stream or the consumer group vanished) and, through
//! `DeliveryControlService.RequeueConnection`, by the router when a paused
//! connection resumes.
//!
//! Deliveries are walked in creation order (ids are UUIDv7) along the
//! primary key — one pass over the table in all, no index of its own to
//! maintain on the hot path — a page at a time, each page one pipelined
//! round trip: a delivery due now gets a job
//! on the stream, one due later goes to the delayed set at its due time,
//! and one leased by an attempt in flight goes to the delayed set at its
//! lease's expiry (if that attempt finishes first, the job finds nothing
//! to claim). Duplicate jobs are harmless: the claim lets one through.

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use uuid::Uuid;

use switchyard_core::ids::{ConnectionId, DeliveryId, WorkspaceId};
use switchyard_core::states::{ConnectionState, DeliveryStatus};
use switchyard_delivery_model::queue::{DeliveryJob, JobBatch, Producer};

/// Deliveries read (and enqueued) per round trip.
const PAGE: i64 = 1000;
/// Slack added to a lease's expiry before its job comes back.
const LEASE_SLACK_MS: i64 = 1000;
/// The states of an unfinished delivery.
const UNFINISHED: &[DeliveryStatus] = &[
    DeliveryStatus::Pending,
    DeliveryStatus::Retrying,
    DeliveryStatus::Delivering,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every unfinished delivery of every connection that is not paused.
    Everything,
    /// The pending and retrying deliveries of one connection.
    Connection {
        workspace: WorkspaceId,
        connection: ConnectionId,
    },
}

/// Enqueues the deliveries of `scope`; returns how many.
pub async fn requeue(pool: &Pool, producer: &Producer, scope: Scope) -> anyhow::Result<u64> {
    let client = pool.get().await.context("connecting to Postgres")?;
    let mut after = Uuid::nil();
    let mut total = 0u64;
    loop {
        let rows = match scope {
            Scope::Everything => client
                .query(
                    "SELECT d.id, d.workspace_id, d.status, d.next_attempt_at <= now(), \
                            d.next_attempt_at, d.lease_expires_at \
                     FROM deliveries d JOIN connections c ON c.id = d.connection_id \
                     WHERE d.status = ANY($3) AND d.id > $1 \
                       AND NOT (c.state = ANY($4) AND c.deleted_at IS NULL) \
                     ORDER BY d.id LIMIT $2",
                    &[&after, &PAGE, &UNFINISHED, &ConnectionState::HOLDING],
                )
                .await
                .context("reading unfinished deliveries")?,
            Scope::Connection {
                workspace,
                connection,
            } => client
                // The statuses stay literal: they are the predicate of the
                // partial index `deliveries_due`.
                .query(
                    "SELECT d.id, d.workspace_id, d.status, d.next_attempt_at <= now(), \
                            d.next_attempt_at, d.lease_expires_at \
                     FROM deliveries d \
                     WHERE d.workspace_id = $1 AND d.connection_id = $2 \
                       AND d.status IN ('pending', 'retrying') AND d.id > $3 \
                     ORDER BY d.id LIMIT $4",
                    &[&workspace.as_uuid(), &connection.as_uuid(), &after, &PAGE],
                )
                .await
                .context("reading the connection's deliveries")?,
        };
        let Some(last) = rows.last() else {
            return Ok(total);
        };
        after = last.get(0);
        let mut batch = JobBatch::default();
        for row in &rows {
            let job = DeliveryJob::new(
                WorkspaceId(row.get(1)).to_string(),
                DeliveryId(row.get(0)).to_string(),
            );
            let status: DeliveryStatus = row.get(2);
            let due_now: bool = row.get(3);
            let next_attempt_at: DateTime<Utc> = row.get(4);
            let lease_expires_at: Option<DateTime<Utc>> = row.get(5);
            if status == DeliveryStatus::Delivering {
                let expiry = lease_expires_at.unwrap_or(next_attempt_at);
                batch
                    .delayed
                    .push((job, expiry.timestamp_millis() + LEASE_SLACK_MS));
            } else if due_now {
                batch.ready.push(job);
            } else {
                batch
                    .delayed
                    .push((job, next_attempt_at.timestamp_millis()));
            }
        }
        producer
            .send(&batch)
            .await
            .context("enqueueing deliveries")?;
        total += rows.len() as u64;
        if (rows.len() as i64) < PAGE {
            return Ok(total);
        }
    }
}

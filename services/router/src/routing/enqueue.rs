//! Putting delivery jobs on the Redis stream through the one
//! [`Producer`]: one pipelined round trip for any number of jobs, then
//! `enqueued_at` stamped on their deliveries so the repair loop leaves them
//! alone. Each job gets an `enqueue` span (a child of its event's `Route`
//! span, or of the trace stored with the delivery) and carries that span's
//! `traceparent`, so every attempt joins the trace.

use deadpool_postgres::Pool;
use switchyard_core::error::ApiResult;
use switchyard_core::ids::{ConnectionId, DeliveryId, WorkspaceId};
use switchyard_core::telemetry::propagation;
use switchyard_delivery_model::queue::{DeliveryJob, Producer};
use uuid::Uuid;

use super::deliver::RELAXED_COMMIT;

/// A delivery to enqueue, and the trace it belongs to when not the current
/// one.
pub struct Job {
    pub workspace: WorkspaceId,
    pub delivery: DeliveryId,
    pub connection: ConnectionId,
    pub traceparent: Option<String>,
}

/// One pipelined round trip (per thousand jobs): an XADD per delivery.
pub async fn push(producer: &Producer, jobs: &[Job]) -> ApiResult<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let jobs: Vec<DeliveryJob> = jobs
        .iter()
        .map(|job| {
            let span = tracing::info_span!("enqueue", switchyard.delivery_id = %job.delivery);
            propagation::set_parent_from_traceparent(&span, job.traceparent.as_deref());
            let traceparent = span.in_scope(propagation::current_traceparent);
            DeliveryJob::new(job.workspace.to_string(), job.delivery.to_string())
                .with_traceparent(traceparent)
                .with_connection(Some(job.connection.to_string()))
        })
        .collect();
    producer.ready(&jobs).await?;
    Ok(())
}

/// Stamps `enqueued_at` on deliveries whose jobs are on the stream.
pub async fn mark_enqueued(pool: &Pool, deliveries: &[DeliveryId]) -> ApiResult<()> {
    let ids: Vec<Uuid> = deliveries.iter().map(DeliveryId::as_uuid).collect();
    let mut client = pool.get().await?;
    // A stamp lost in a crash only makes the repair loop enqueue a second
    // job, which the engine's claim turns into a no-op. For the same reason
    // rows the delivery engine holds (it may be claiming or recording them
    // already) are skipped, not waited for: waiting could deadlock with the
    // engine's batches, which lock in another order.
    let transaction = client.transaction().await?;
    transaction.batch_execute(RELAXED_COMMIT).await?;
    transaction
        .execute(
            "UPDATE deliveries SET enqueued_at = now() WHERE id IN ( \
                SELECT id FROM deliveries WHERE id = ANY($1) AND enqueued_at IS NULL \
                ORDER BY id FOR UPDATE SKIP LOCKED)",
            &[&ids],
        )
        .await?;
    transaction.commit().await?;
    Ok(())
}

//! Putting delivery jobs on the Redis stream: one pipelined round trip for
//! any number of jobs, then `enqueued_at` stamped on their deliveries so the
//! repair loop leaves them alone.

use deadpool_postgres::Pool;
use redis::aio::ConnectionManager;
use switchyard_core::error::ApiResult;
use switchyard_core::ids::{DeliveryId, WorkspaceId};
use switchyard_core::queue::{DeliveryJob, JOB_FIELD, QueueKeys};
use uuid::Uuid;

/// One pipelined round trip: an XADD per delivery.
pub async fn push(
    redis: &ConnectionManager,
    keys: &QueueKeys,
    jobs: &[(WorkspaceId, DeliveryId)],
) -> ApiResult<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let mut pipeline = redis::pipe();
    for (workspace, delivery) in jobs {
        let job = DeliveryJob::new(workspace.to_string(), delivery.to_string());
        pipeline
            .cmd("XADD")
            .arg(&keys.stream)
            .arg("*")
            .arg(JOB_FIELD)
            .arg(job.to_json())
            .ignore();
    }
    let mut connection = redis.clone();
    pipeline.query_async::<()>(&mut connection).await?;
    Ok(())
}

/// Stamps `enqueued_at` on deliveries whose jobs are on the stream.
pub async fn mark_enqueued(pool: &Pool, deliveries: &[DeliveryId]) -> ApiResult<()> {
    let ids: Vec<Uuid> = deliveries.iter().map(DeliveryId::as_uuid).collect();
    let client = pool.get().await?;
    client
        .execute(
            "UPDATE deliveries SET enqueued_at = now() WHERE id = ANY($1) AND enqueued_at IS NULL",
            &[&ids],
        )
        .await?;
    Ok(())
}

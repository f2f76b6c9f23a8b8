//! Fan-out of one stored event into deliveries.
//!
//! Per event: one query reads the matching rules, one statement inserts a
//! delivery per rule (`ON CONFLICT (event_id, rule_id) DO NOTHING`, so a
//! repeat call creates nothing) and marks the event routed, and one
//! pipelined Redis round trip enqueues a job per delivery created. A
//! failure after the commit loses no delivery: the delivery engine's
//! sweeper re-enqueues pending deliveries whose job never arrived.

use deadpool_postgres::Pool;
use redis::aio::ConnectionManager;
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{DeliveryId, EventId, WorkspaceId};
use switchyard_core::queue::{DeliveryJob, JOB_FIELD, QueueKeys};
use uuid::Uuid;

#[derive(Debug, PartialEq, Eq)]
pub struct RouteOutcome {
    /// Deliveries the event has after this call.
    pub delivery_count: u32,
    /// Deliveries this call created (and enqueued).
    pub created: Vec<DeliveryId>,
}

#[tracing::instrument(skip_all, fields(workspace = %workspace, event_id = %event))]
pub async fn route_event(
    pool: &Pool,
    redis: &ConnectionManager,
    keys: &QueueKeys,
    workspace: WorkspaceId,
    event: EventId,
) -> ApiResult<RouteOutcome> {
    let created = insert_deliveries(pool, workspace, event).await?;
    if !created.is_empty() {
        // The deliveries are committed, so the caller has nothing to retry:
        // a lost enqueue is repaired by the delivery engine's sweeper.
        if let Err(error) = enqueue(redis, keys, workspace, &created).await {
            tracing::warn!(error = %error, count = created.len(), "enqueue failed; the sweeper will re-enqueue");
        }
    }
    let client = pool.get().await?;
    let count: i64 = client
        .query_one(
            "SELECT count(*) FROM deliveries WHERE workspace_id = $1 AND event_id = $2",
            &[&workspace.as_uuid(), &event.as_uuid()],
        )
        .await?
        .get(0);
    tracing::debug!(created = created.len(), total = count, "event routed");
    Ok(RouteOutcome {
        delivery_count: u32::try_from(count).unwrap_or(u32::MAX),
        created,
    })
}

/// Inserts a delivery per enabled rule of the event's type and marks the
/// event routed, atomically. Returns the deliveries created now.
async fn insert_deliveries(
    pool: &Pool,
    workspace: WorkspaceId,
    event: EventId,
) -> ApiResult<Vec<DeliveryId>> {
    let client = pool.get().await?;
    let event_row = client
        .query_opt(
            "SELECT event_type FROM events WHERE workspace_id = $1 AND id = $2",
            &[&workspace.as_uuid(), &event.as_uuid()],
        )
        .await?;
    let Some(event_row) = event_row else {
        return Err(ApiError::not_found(format!("event {event} not found")));
    };
    let event_type: String = event_row.get(0);
    let rules = client
        .query(
            "SELECT r.id, r.connection_id FROM rules r \
             JOIN connections c ON c.id = r.connection_id AND c.deleted_at IS NULL \
             WHERE r.workspace_id = $1 AND r.event_type = $2 AND r.enabled AND r.deleted_at IS NULL",
            &[&workspace.as_uuid(), &event_type],
        )
        .await?;
    let rule_ids: Vec<Uuid> = rules.iter().map(|row| row.get(0)).collect();
    let connection_ids: Vec<Uuid> = rules.iter().map(|row| row.get(1)).collect();
    let delivery_ids: Vec<Uuid> = rules
        .iter()
        .map(|_| DeliveryId::generate().as_uuid())
        .collect();
    let rows = client
        .query(
            "WITH inserted AS ( \
                 INSERT INTO deliveries (id, workspace_id, event_id, rule_id, connection_id) \
                 SELECT d.id, $1, $2, d.rule_id, d.connection_id \
                 FROM unnest($3::uuid[], $4::uuid[], $5::uuid[]) AS d (id, rule_id, connection_id) \
                 ON CONFLICT (event_id, rule_id) DO NOTHING \
                 RETURNING id \
             ), routed AS ( \
                 UPDATE events SET routed_at = now() \
                 WHERE workspace_id = $1 AND id = $2 AND routed_at IS NULL \
             ) \
             SELECT id FROM inserted ORDER BY id",
            &[
                &workspace.as_uuid(),
                &event.as_uuid(),
                &delivery_ids,
                &rule_ids,
                &connection_ids,
            ],
        )
        .await?;
    Ok(rows.iter().map(|row| DeliveryId(row.get(0))).collect())
}

/// One pipelined round trip: an XADD per delivery.
async fn enqueue(
    redis: &ConnectionManager,
    keys: &QueueKeys,
    workspace: WorkspaceId,
    deliveries: &[DeliveryId],
) -> ApiResult<()> {
    let mut pipeline = redis::pipe();
    for delivery in deliveries {
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

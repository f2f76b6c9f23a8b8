//! `RetryDelivery` and `ReplayDeadLetters`: the deliveries are made due in
//! Postgres (the truth), then their jobs go on the stream in creation
//! order. If Redis fails after the commit, nothing is lost: the deliveries
//! are due, and the sweeper re-queues them after its grace period. Each
//! statement commits on its own; the audit entry (what was re-queued) is
//! written once it has.

use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{ConnectionId, DeliveryId, WorkspaceId};
use switchyard_delivery_model::queue::DeliveryJob;
use switchyard_proto::v1::{
    ReplayDeadLettersRequest, ReplayDeadLettersResponse, RetryDeliveryRequest,
    RetryDeliveryResponse,
};
use switchyard_tenancy::audit;
use switchyard_tenancy::auth::Principal;

use super::DeliveryApi;
use super::list::timestamp;
use super::messages::delivery_message;
use crate::store::history;
use crate::store::replay::{self, ConnectionCheck, RetryOutcome};

impl DeliveryApi {
    pub async fn retry(
        &self,
        by: &Principal,
        request: RetryDeliveryRequest,
    ) -> ApiResult<RetryDeliveryResponse> {
        let workspace = by.workspace;
        let id =
            DeliveryId::parse(&request.id).map_err(|reason| ApiError::invalid("id", reason))?;
        match replay::retry_one(&self.pool, workspace, id).await? {
            RetryOutcome::Queued => {}
            RetryOutcome::NotFound => {
                return Err(ApiError::not_found(format!("delivery {id} not found")));
            }
            RetryOutcome::Refused(reason) => {
                return Err(ApiError::FailedPrecondition(format!(
                    "delivery {id} cannot be retried: {reason}"
                )));
            }
        }
        // Read before the job goes out: an engine may claim it at once.
        let row = history::get(&self.pool, workspace, id)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("delivery {id} not found")))?;
        self.enqueue(workspace, &[id]).await;
        tracing::info!(workspace_id = %workspace, delivery_id = %id, "manual retry queued");
        self.audit_requeue(by, "DeliveryService/RetryDelivery", &id.to_string(), 1)
            .await?;
        Ok(RetryDeliveryResponse {
            delivery: Some(delivery_message(row, &self.telemetry)),
        })
    }

    pub async fn replay(
        &self,
        by: &Principal,
        request: ReplayDeadLettersRequest,
    ) -> ApiResult<ReplayDeadLettersResponse> {
        let workspace = by.workspace;
        if request.connection_id.is_empty() {
            return Err(ApiError::invalid("connection_id", "is required"));
        }
        let connection = ConnectionId::parse(&request.connection_id)
            .map_err(|reason| ApiError::invalid("connection_id", reason))?;
        let since = timestamp(request.since.as_ref(), "since")?;
        let until = timestamp(request.until.as_ref(), "until")?;
        if let (Some(since), Some(until)) = (since, until)
            && since >= until
        {
            return Err(ApiError::invalid("until", "must be later than since"));
        }
        match replay::connection_state(&self.pool, workspace, connection).await? {
            ConnectionCheck::Active => {}
            ConnectionCheck::NotFound => {
                return Err(ApiError::not_found(format!(
                    "connection {connection} not found"
                )));
            }
            ConnectionCheck::Inactive(state) => {
                return Err(ApiError::FailedPrecondition(format!(
                    "connection {connection} is {state}; resume it before replaying"
                )));
            }
        }
        let replayed = replay::replay_dead(&self.pool, workspace, connection, since, until).await?;
        self.enqueue(workspace, &replayed).await;
        tracing::info!(
            workspace_id = %workspace,
            connection_id = %connection,
            count = replayed.len(),
            "dead letters replayed"
        );
        if !replayed.is_empty() {
            let action = "DeliveryService/ReplayDeadLetters";
            self.audit_requeue(by, action, &connection.to_string(), replayed.len())
                .await?;
        }
        Ok(ReplayDeadLettersResponse {
            replayed_count: u32::try_from(replayed.len()).unwrap_or(u32::MAX),
        })
    }

    /// Appends the audit entry of `by`'s re-queue of `count` deliveries.
    async fn audit_requeue(
        &self,
        by: &Principal,
        action: &str,
        resource: &str,
        count: usize,
    ) -> ApiResult<()> {
        let after = serde_json::json!({ "requeued_count": count });
        audit::record_now(
            &self.pool,
            by.workspace,
            &by.actor,
            action,
            resource,
            None,
            Some(&after),
        )
        .await
    }

    /// Puts a job per delivery on the stream, in order.
    async fn enqueue(&self, workspace: WorkspaceId, deliveries: &[DeliveryId]) {
        let jobs: Vec<DeliveryJob> = deliveries
            .iter()
            .map(|delivery| DeliveryJob::new(workspace.to_string(), delivery.to_string()))
            .collect();
        if let Err(error) = self.producer.ready(&jobs).await {
            tracing::warn!(%error, "enqueueing failed; the sweeper will re-queue the deliveries");
        }
    }
}

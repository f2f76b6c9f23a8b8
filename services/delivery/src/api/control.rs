//! `DeliveryControlService`, the internal RPCs through which the router
//! asks for the engine's state instead of touching its Redis keys:
//!
//! 1. `GetBreaker` reads a connection's circuit breaker
//!    ([`crate::limits::read_breaker`]) for `GetConnection`.
//! 2. `RequeueConnection` re-enqueues a connection's pending and retrying
//!    deliveries from Postgres ([`crate::requeue`]) when it becomes active
//!    again. The walk runs in a task of its own, so a caller that gives up
//!    (a timeout, a dropped connection) does not leave it half done.
//!
//! The caller is the router, authenticated with the internal token by the
//! adapter; it has already checked that the connection is the workspace's.

use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{ConnectionId, WorkspaceId};
use switchyard_core::time::to_proto_opt;
use switchyard_proto::internal::v1 as internal;
use switchyard_proto::v1 as pb;

use super::DeliveryApi;
use crate::limits::{self, BreakerSnapshot, BreakerState, ConnectionKeys};
use crate::requeue::{self, Scope};

impl DeliveryApi {
    #[tracing::instrument(skip_all, fields(workspace_id = %request.workspace_id, connection_id = %request.connection_id))]
    pub async fn breaker(
        &self,
        request: internal::GetBreakerRequest,
    ) -> ApiResult<internal::GetBreakerResponse> {
        let (_, connection) = parse_ids(&request.workspace_id, &request.connection_id)?;
        let keys = ConnectionKeys::new(&self.redis_prefix, connection);
        let snapshot = limits::read_breaker(&self.redis, &keys).await?;
        Ok(internal::GetBreakerResponse {
            adaptive_limit: snapshot.adaptive_limit,
            breaker: Some(breaker_message(snapshot)),
        })
    }

    #[tracing::instrument(skip_all, fields(workspace_id = %request.workspace_id, connection_id = %request.connection_id))]
    pub async fn requeue_connection(
        &self,
        request: internal::RequeueConnectionRequest,
    ) -> ApiResult<internal::RequeueConnectionResponse> {
        let (workspace, connection) = parse_ids(&request.workspace_id, &request.connection_id)?;
        let scope = Scope::Connection {
            workspace,
            connection,
        };
        let (pool, producer) = (self.pool.clone(), self.producer.clone());
        let walk = tokio::spawn(async move { requeue::requeue(&pool, &producer, scope).await });
        let requeued = walk
            .await
            .map_err(|error| ApiError::Internal(anyhow::anyhow!("requeue panicked: {error}")))?
            .map_err(ApiError::Internal)?;
        Ok(internal::RequeueConnectionResponse {
            requeued_count: requeued,
        })
    }
}

fn parse_ids(workspace: &str, connection: &str) -> ApiResult<(WorkspaceId, ConnectionId)> {
    let workspace = WorkspaceId::parse(workspace)
        .map_err(|reason| ApiError::invalid("workspace_id", reason))?;
    let connection = ConnectionId::parse(connection)
        .map_err(|reason| ApiError::invalid("connection_id", reason))?;
    Ok((workspace, connection))
}

/// The breaker as the public API shows it (`GetConnection`).
fn breaker_message(snapshot: BreakerSnapshot) -> pb::CircuitBreaker {
    let state = match snapshot.state {
        BreakerState::Closed => pb::CircuitState::Closed,
        BreakerState::Open => pb::CircuitState::Open,
        BreakerState::HalfOpen => pb::CircuitState::HalfOpen,
    };
    pb::CircuitBreaker {
        state: state.into(),
        failure_streak: snapshot.failure_streak,
        last_error: snapshot.last_error,
        last_failure_at: to_proto_opt(snapshot.last_failure_at),
        opened_at: to_proto_opt(snapshot.opened_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_of_a_snapshot_reaches_the_message() {
        let at = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(1_700_000_000_123)
            .expect("time");
        let message = breaker_message(BreakerSnapshot {
            state: BreakerState::HalfOpen,
            failure_streak: 7,
            last_error: "HTTP 503".into(),
            last_failure_at: Some(at),
            opened_at: Some(at),
            adaptive_limit: Some(2.5),
        });
        assert_eq!(message.state(), pb::CircuitState::HalfOpen);
        assert_eq!(message.failure_streak, 7);
        assert_eq!(message.last_error, "HTTP 503");
        assert_eq!(message.last_failure_at, to_proto_opt(Some(at)));
        assert_eq!(message.opened_at, to_proto_opt(Some(at)));
    }

    #[test]
    fn ids_are_parsed() {
        let workspace = WorkspaceId::generate();
        let connection = ConnectionId::generate();
        let parsed = parse_ids(&workspace.to_string(), &connection.to_string()).expect("ids");
        assert_eq!(parsed, (workspace, connection));
        assert!(parse_ids(&workspace.to_string(), "con_nope").is_err());
        assert!(parse_ids("", &connection.to_string()).is_err());
    }
}

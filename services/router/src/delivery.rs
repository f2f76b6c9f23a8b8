//! The client side of the delivery service's internal
//! `DeliveryControlService`: the delivery engine owns its state (circuit
//! breakers and limits in Redis, re-enqueueing from Postgres), so the router
//! asks it rather than reading or writing the engine's keys. The channel
//! connects on first use (`config.delivery_endpoint`), so the router starts
//! whether or not delivery is up; each call carries the internal token.
//! Errors come back as [`ApiError`]s: an unreachable delivery service is
//! `Unavailable`, any other status is passed on.

use std::time::Duration;

use secrecy::ExposeSecret;
use switchyard_core::config::Config;
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::grpc::lazy_channel;
use switchyard_core::ids::{ConnectionId, WorkspaceId};
use switchyard_core::telemetry::propagation::TracedChannel;
use switchyard_proto::internal::v1::delivery_control_service_client::DeliveryControlServiceClient;
use switchyard_proto::internal::v1::{
    GetBreakerRequest, GetBreakerResponse, RequeueConnectionRequest,
};
use tonic::Request;
use tonic::metadata::{Ascii, MetadataValue};

/// `GetConnection` answers without the breaker rather than wait longer.
const BREAKER_TIMEOUT: Duration = Duration::from_secs(5);

/// The delivery service, reached over gRPC; cheap to clone.
#[derive(Clone)]
pub struct DeliveryControl {
    client: DeliveryControlServiceClient<TracedChannel>,
    /// `Bearer <internal token>`.
    internal_auth: MetadataValue<Ascii>,
}

impl DeliveryControl {
    /// A lazily connected client of `config.delivery_endpoint`.
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        let token = config.require_internal_token()?;
        let internal_auth = switchyard_tenancy::auth::bearer_metadata(token.expose_secret())
            .map_err(|_| {
                anyhow::anyhow!("internal_token contains characters not allowed in metadata")
            })?;
        let channel = lazy_channel(&config.delivery_endpoint, &config.tls)?;
        Ok(Self {
            client: DeliveryControlServiceClient::new(channel),
            internal_auth,
        })
    }

    /// The connection's circuit breaker as the delivery replicas left it,
    /// and its adaptive concurrency limit.
    pub async fn breaker(
        &self,
        workspace: WorkspaceId,
        connection: ConnectionId,
    ) -> ApiResult<GetBreakerResponse> {
        let mut request = self.request(GetBreakerRequest {
            workspace_id: workspace.to_string(),
            connection_id: connection.to_string(),
        });
        request.set_timeout(BREAKER_TIMEOUT);
        let response = self
            .client
            .clone()
            .get_breaker(request)
            .await
            .map_err(|status| ApiError::upstream("the delivery service", status))?;
        Ok(response.into_inner())
    }

    /// Re-enqueues the connection's pending and retrying deliveries; returns
    /// how many.
    pub async fn requeue(
        &self,
        workspace: WorkspaceId,
        connection: ConnectionId,
    ) -> ApiResult<u64> {
        let request = self.request(RequeueConnectionRequest {
            workspace_id: workspace.to_string(),
            connection_id: connection.to_string(),
        });
        let response = self
            .client
            .clone()
            .requeue_connection(request)
            .await
            .map_err(|status| ApiError::upstream("the delivery service", status))?;
        Ok(response.into_inner().requeued_count)
    }

    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request
            .metadata_mut()
            .insert("authorization", self.internal_auth.clone());
        request
    }
}

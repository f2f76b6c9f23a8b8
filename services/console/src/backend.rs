//! The console's way to the services: one lazy channel per service, shared
//! by every session, and requests that carry the signed-in credential as
//! `authorization: Bearer …`, the metadata the SDK sends. The services
//! authenticate and authorize each call; the console checks nothing itself.

use secrecy::{ExposeSecret, SecretString};
use switchyard_core::console::ConsoleConfig;
use switchyard_core::grpc::lazy_channel;
use switchyard_core::telemetry::propagation::TracedChannel;
use switchyard_core::tls::TlsConfig;
use switchyard_proto::v1 as pb;
use switchyard_proto::v1::delivery_service_client::DeliveryServiceClient;
use switchyard_proto::v1::ingest_service_client::IngestServiceClient;
use switchyard_proto::v1::registry_service_client::RegistryServiceClient;
use switchyard_proto::v1::router_service_client::RouterServiceClient;
use switchyard_proto::v1::workspace_service_client::WorkspaceServiceClient;
use tonic::Request;
use tonic::metadata::MetadataValue;

use crate::error::ConsoleError;

#[derive(Clone)]
pub struct Backend {
    pub registry: RegistryServiceClient<TracedChannel>,
    pub workspace: WorkspaceServiceClient<TracedChannel>,
    pub ingest: IngestServiceClient<TracedChannel>,
    pub router: RouterServiceClient<TracedChannel>,
    pub delivery: DeliveryServiceClient<TracedChannel>,
}

impl Backend {
    pub fn connect(config: &ConsoleConfig, tls: &TlsConfig) -> anyhow::Result<Self> {
        let registry = lazy_channel(&config.registry_endpoint, tls)?;
        Ok(Self {
            registry: RegistryServiceClient::new(registry.clone()),
            workspace: WorkspaceServiceClient::new(registry),
            ingest: IngestServiceClient::new(lazy_channel(&config.ingest_endpoint, tls)?),
            router: RouterServiceClient::new(lazy_channel(&config.router_endpoint, tls)?),
            delivery: DeliveryServiceClient::new(lazy_channel(&config.delivery_endpoint, tls)?),
        })
    }

    /// The workspace's connections, as `ListConnections` returns them
    /// (without the live circuit breaker, which only `GetConnection` has).
    pub async fn connections(
        &self,
        credential: &SecretString,
    ) -> Result<Vec<pb::Connection>, ConsoleError> {
        let request = authed(credential, pb::ListConnectionsRequest::default())?;
        let listed = self.router.clone().list_connections(request).await?;
        Ok(listed.into_inner().connections)
    }

    /// `GetDeliveryStats` since `since` (the service's default window when
    /// `None`).
    pub async fn delivery_stats(
        &self,
        credential: &SecretString,
        since: Option<prost_types::Timestamp>,
    ) -> Result<pb::GetDeliveryStatsResponse, ConsoleError> {
        let request = authed(credential, pb::GetDeliveryStatsRequest { since })?;
        Ok(self
            .delivery
            .clone()
            .get_delivery_stats(request)
            .await?
            .into_inner())
    }

    /// One page of `ListEvents`.
    pub async fn events(
        &self,
        credential: &SecretString,
        request: pb::ListEventsRequest,
    ) -> Result<Vec<pb::Event>, ConsoleError> {
        let request = authed(credential, request)?;
        Ok(self
            .ingest
            .clone()
            .list_events(request)
            .await?
            .into_inner()
            .events)
    }
}

/// `message` as a request made with `credential`.
pub fn authed<T>(credential: &SecretString, message: T) -> Result<Request<T>, ConsoleError> {
    let value = MetadataValue::try_from(format!("Bearer {}", credential.expose_secret()))
        .map_err(|_| ConsoleError::bad_request("the credential holds characters not allowed"))?;
    let mut request = Request::new(message);
    request.metadata_mut().insert("authorization", value);
    Ok(request)
}

//! The console's way to the services: one lazy channel per service, shared
//! by every session, and requests that carry the signed-in credential as
//! `authorization: Bearer …`, the metadata the SDK sends. The services
//! authenticate and authorize each call; the console checks nothing itself.

use secrecy::{ExposeSecret, SecretString};
use switchyard_core::console::ConsoleConfig;
use switchyard_core::grpc::lazy_channel;
use switchyard_core::telemetry::propagation::TracedChannel;
use switchyard_core::tls::TlsConfig;
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
}

/// `message` as a request made with `credential`.
pub fn authed<T>(credential: &SecretString, message: T) -> Result<Request<T>, ConsoleError> {
    let value = MetadataValue::try_from(format!("Bearer {}", credential.expose_secret()))
        .map_err(|_| ConsoleError::bad_request("the credential holds characters not allowed"))?;
    let mut request = Request::new(message);
    request.metadata_mut().insert("authorization", value);
    Ok(request)
}

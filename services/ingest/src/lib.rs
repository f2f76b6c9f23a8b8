//! Ingest: the one front door for applications.
//!
//! - [`grpc`] adapts `IngestService`.
//! - [`emit`] is the path of one event: authenticate, check size and JSON,
//!   answer a repeated idempotency key with the first event, ask the
//!   registry to validate, commit the event, answer, then hand the event to
//!   the router in the background.
//! - [`outbox`] is the forwarder: the events table is the outbox, and any
//!   event the router has not marked routed (router down, process crashed
//!   after answering) is sent again, with backoff, until it is.

pub mod emit;
pub mod grpc;
pub mod outbox;

use std::sync::Arc;

use deadpool_postgres::Pool;
use switchyard_core::auth::Authenticator;
use switchyard_core::config::{Config, IngestConfig};
use switchyard_core::shutdown::Signal;
use switchyard_core::telemetry::propagation::TracedChannel;
use switchyard_core::{db, grpc as core_grpc};
use switchyard_proto::internal::v1::routing_service_client::RoutingServiceClient;
use switchyard_proto::v1::registry_service_client::RegistryServiceClient;
use tokio::net::TcpListener;
use tonic::metadata::{Ascii, MetadataValue};

pub const SERVICE_NAMES: &[&str] = &["switchyard.v1.IngestService"];

/// Everything an ingest handler needs; cheap to clone.
#[derive(Clone)]
pub struct IngestState {
    pub pool: Pool,
    pub auth: Authenticator,
    pub registry: RegistryServiceClient<TracedChannel>,
    pub routing: RoutingServiceClient<TracedChannel>,
    /// `Bearer <internal token>` for calls to the router.
    pub internal_auth: MetadataValue<Ascii>,
    pub limits: Arc<IngestConfig>,
}

pub struct IngestApp {
    state: IngestState,
}

impl IngestApp {
    /// Builds the pool and the lazy channels to registry and router. Does
    /// not migrate.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        use secrecy::ExposeSecret;

        let token = config.require_internal_token()?;
        let internal_auth =
            switchyard_core::auth::bearer_metadata(token.expose_secret()).map_err(|_| {
                anyhow::anyhow!("internal_token contains characters not allowed in metadata")
            })?;
        let pool = db::pool(&config.database_url, config.database_pool_size)?;
        let state = IngestState {
            auth: Authenticator::new(pool.clone(), config),
            pool,
            registry: RegistryServiceClient::new(core_grpc::lazy_channel(
                &config.registry_endpoint,
            )?),
            routing: RoutingServiceClient::new(core_grpc::lazy_channel(&config.router_endpoint)?),
            internal_auth,
            limits: Arc::new(config.ingest.clone()),
        };
        Ok(Self { state })
    }

    /// Serves `IngestService` and runs the outbox forwarder until `shutdown`.
    pub async fn run(self, listener: TcpListener, shutdown: Signal) -> anyhow::Result<()> {
        let forwarder = tokio::spawn(outbox::run(self.state.clone(), shutdown.clone()));
        let served =
            core_grpc::serve(grpc::routes(self.state), SERVICE_NAMES, listener, shutdown).await;
        if let Err(error) = forwarder.await {
            tracing::warn!(%error, "outbox forwarder ended abnormally");
        }
        served
    }
}

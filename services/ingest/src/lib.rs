//! Ingest: the one front door for applications.
//!
//! - [`grpc`] adapts `IngestService`.
//! - [`emit`] is the path of one event: authenticate, check size (the
//!   workspace's `max_payload_bytes`), the workspace's ingest rate (shared
//!   by every replica through Redis) and JSON, answer a repeated
//!   idempotency key with the first event, ask the
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
use switchyard_core::quota::{IngestRateLimiter, Quotas};
use switchyard_core::shutdown::Signal;
use switchyard_core::telemetry::propagation::TracedChannel;
use switchyard_core::{db, grpc as core_grpc, queue};
use switchyard_proto::internal::v1::routing_service_client::RoutingServiceClient;
use switchyard_proto::v1::registry_service_client::RegistryServiceClient;
use tokio::net::TcpListener;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::ServerTlsConfig;

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
    /// Per-workspace payload size and ingest rate.
    pub quotas: Quotas,
    /// `None` when no workspace has an ingest rate (ingest then needs no
    /// Redis).
    pub rate: Option<IngestRateLimiter>,
}

pub struct IngestApp {
    state: IngestState,
    tls: Option<ServerTlsConfig>,
}

impl IngestApp {
    /// Builds the pool, the lazy channels to registry and router and, when
    /// some workspace has an ingest rate, the Redis connection. Does not
    /// migrate.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        use secrecy::ExposeSecret;

        let token = config.require_internal_token()?;
        let internal_auth =
            switchyard_core::auth::bearer_metadata(token.expose_secret()).map_err(|_| {
                anyhow::anyhow!("internal_token contains characters not allowed in metadata")
            })?;
        let pool = db::pool(&config.database_url, config.database_pool_size)?;
        let quotas = Quotas::from_config(config)?;
        let rate = if quotas.any_ingest_rate() {
            let redis = queue::connect(&config.redis_url).await?;
            Some(IngestRateLimiter::new(redis, &config.redis_prefix))
        } else {
            None
        };
        let state = IngestState {
            auth: Authenticator::new(pool.clone(), config)?,
            pool,
            registry: RegistryServiceClient::new(core_grpc::lazy_channel(
                &config.registry_endpoint,
                &config.tls,
            )?),
            routing: RoutingServiceClient::new(core_grpc::lazy_channel(
                &config.router_endpoint,
                &config.tls,
            )?),
            internal_auth,
            limits: Arc::new(config.ingest.clone()),
            quotas,
            rate,
        };
        Ok(Self {
            state,
            tls: config.tls.server()?,
        })
    }

    /// Serves `IngestService` and runs the outbox forwarder until `shutdown`.
    pub async fn run(self, listener: TcpListener, shutdown: Signal) -> anyhow::Result<()> {
        let forwarder = tokio::spawn(outbox::run(self.state.clone(), shutdown.clone()));
        let credentials = tokio::spawn(self.state.auth.clone().listen(shutdown.clone()));
        let pool = self.state.pool.clone();
        let served = core_grpc::serve(
            grpc::routes(self.state),
            SERVICE_NAMES,
            &pool,
            listener,
            self.tls,
            shutdown,
        )
        .await;
        credentials.abort();
        if let Err(error) = forwarder.await {
            tracing::warn!(%error, "outbox forwarder ended abnormally");
        }
        served
    }
}

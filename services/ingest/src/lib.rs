//! Ingest: the one front door for applications.
//!
//! - [`grpc`] is the thin adapter of `IngestService` (`EmitEvent`,
//!   `EmitEvents`, `ListEvents`, `GetEvent`) onto [`api`], the logic:
//! - `api::emit` is the path of a call: authenticate, check each event
//!   (`api::candidate`: name, size against the workspace's
//!   `max_payload_bytes`, JSON object, idempotency key), refuse while the
//!   pipeline is behind (backpressure), take the workspace's ingest rate
//!   (shared by every replica through Redis), then hand the events to
//!   [`commit`] and answer once they are durable.
//! - [`commit`] is the group commit: concurrent calls' events are
//!   validated by the registry ([`validation`]) a batch per caller
//!   credential and stored in one statement and one commit, idempotency
//!   keys answered exactly within and across batches.
//! - [`forward`] hands committed events to the router, many per call.
//! - `api::events` answers `ListEvents` and `GetEvent` from the same table.
//! - [`retention`] keeps the history (events, deliveries, attempts) for
//!   each workspace's period: day partitions created ahead and dropped,
//!   shorter periods and payload periods applied in small batches.
//! - [`outbox`] is the forwarder of last resort: the events table is the
//!   outbox, and any event the router has not marked routed (router down,
//!   process crashed after answering) is sent again, with backoff, until
//!   it is.

pub mod api;
pub mod commit;
pub mod forward;
pub mod grpc;
pub mod outbox;
pub mod retention;
pub mod validation;

use std::sync::Arc;

use deadpool_postgres::Pool;
use switchyard_core::config::{Config, IngestConfig, TelemetryConfig};
use switchyard_core::quotas::Quotas;
use switchyard_core::shutdown::Signal;
use switchyard_core::{db, grpc as core_grpc};
use switchyard_proto::internal::v1::routing_service_client::RoutingServiceClient;
use switchyard_proto::v1::registry_service_client::RegistryServiceClient;
use switchyard_tenancy::auth::Authenticator;
use switchyard_tenancy::quota::IngestRateLimiter;
use tokio::net::TcpListener;
use tonic::transport::ServerTlsConfig;

use crate::commit::{CommitStats, Committer};
use crate::forward::{EventRouter, Forwarder, GrpcRouter};
use crate::validation::{GrpcValidator, PayloadValidator};

pub const SERVICE_NAMES: &[&str] = &["switchyard.v1.IngestService"];

/// Everything an ingest handler needs; cheap to clone.
#[derive(Clone)]
pub struct IngestState {
    pub pool: Pool,
    pub auth: Authenticator,
    pub committer: Committer,
    pub forwarder: Forwarder,
    /// The router, for the outbox.
    pub router: Arc<dyn EventRouter>,
    pub limits: Arc<IngestConfig>,
    /// Per-workspace payload size and ingest rate.
    pub quotas: Quotas,
    /// `None` when no workspace has an ingest rate (ingest then needs no
    /// Redis).
    pub rate: Option<IngestRateLimiter>,
    /// Commits and the events they carried, since start.
    pub stats: Arc<CommitStats>,
    /// Builds events' trace links.
    pub telemetry: TelemetryConfig,
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
        let (validator, router) = Self::remote_seams(config)?;
        Self::build_with(config, validator, router).await
    }

    /// The registry and the router over gRPC, at the configured endpoints.
    #[allow(clippy::type_complexity)]
    pub fn remote_seams(
        config: &Config,
    ) -> anyhow::Result<(Arc<dyn PayloadValidator>, Arc<dyn EventRouter>)> {
        use secrecy::ExposeSecret;

        let token = config.require_internal_token()?;
        let internal_auth = switchyard_tenancy::auth::bearer_metadata(token.expose_secret())
            .map_err(|_| {
                anyhow::anyhow!("internal_token contains characters not allowed in metadata")
            })?;
        let validator = GrpcValidator::new(RegistryServiceClient::new(core_grpc::lazy_channel(
            &config.registry_endpoint,
            &config.tls,
        )?));
        let router = GrpcRouter::new(
            RoutingServiceClient::new(core_grpc::lazy_channel(
                &config.router_endpoint,
                &config.tls,
            )?),
            internal_auth,
        );
        Ok((Arc::new(validator), Arc::new(router)))
    }

    /// As [`Self::build`], with the registry and the router reached through
    /// the given seams (a process hosting them can call them directly).
    pub async fn build_with(
        config: &Config,
        validator: Arc<dyn PayloadValidator>,
        router: Arc<dyn EventRouter>,
    ) -> anyhow::Result<Self> {
        let pool = db::pool(&config.database_url, config.database_pool_size)?;
        let quotas = Quotas::from_config(config)?;
        let rate = if quotas.any_ingest_rate() {
            let redis = switchyard_core::redis_conn::connect(config).await?;
            Some(IngestRateLimiter::new(redis, &config.redis_prefix))
        } else {
            None
        };
        let stats = Arc::new(CommitStats::default());
        let state = IngestState {
            auth: Authenticator::new(pool.clone(), config)?,
            committer: Committer::spawn(
                pool.clone(),
                validator,
                config.ingest.outbox_grace,
                config.ingest.commit_parallelism,
                Arc::clone(&stats),
            ),
            forwarder: Forwarder::spawn(Arc::clone(&router)),
            router,
            pool,
            limits: Arc::new(config.ingest.clone()),
            quotas,
            rate,
            stats,
            telemetry: config.telemetry.clone(),
        };
        Ok(Self {
            state,
            tls: config.tls.server()?,
        })
    }

    /// Commit counters (tests assert that concurrent emits share commits).
    pub fn stats(&self) -> Arc<CommitStats> {
        Arc::clone(&self.state.stats)
    }

    /// Serves `IngestService` and runs the outbox forwarder until `shutdown`.
    pub async fn run(self, listener: TcpListener, shutdown: Signal) -> anyhow::Result<()> {
        let forwarder = tokio::spawn(outbox::run(self.state.clone(), shutdown.clone()));
        let credentials = tokio::spawn(self.state.auth.clone().listen(shutdown.clone()));
        let retention = self.state.limits.retention.enabled.then(|| {
            tokio::spawn(retention::run(
                self.state.pool.clone(),
                self.state.limits.retention.clone(),
                shutdown.clone(),
            ))
        });
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
        if let Some(retention) = retention
            && let Err(error) = retention.await
        {
            tracing::warn!(%error, "retention loop ended abnormally");
        }
        if let Err(error) = forwarder.await {
            tracing::warn!(%error, "outbox forwarder ended abnormally");
        }
        served
    }
}

//! The delivery service: it turns delivery jobs into signed webhook requests,
//! retries them on a schedule, records every attempt, and answers questions
//! about that history over gRPC.
//!
//! - `engine`: the background machinery — a Redis stream consumer, the
//!   retry scheduler, the reclaimer of abandoned jobs, the Postgres sweeper
//!   and the recovery from a Redis that lost its data — and the attempt
//!   path (claim → gate: breaker, concurrency, rate → send → classify →
//!   schedule → record → acknowledge), with per-connection policies.
//! - `store`: every Postgres statement the service runs.
//! - `api`: `ListDeliveries`, `GetDelivery`, `RetryDelivery` and
//!   `ReplayDeadLetters`, transport agnostic, and the internal
//!   `DeliveryControlService` (`GetBreaker`, `RequeueConnection`) through
//!   which the router asks for the engine's state; `grpc` is the tonic
//!   adapter in front of it.
//! - [`limits`]: the Redis layout of per-connection limits and circuit
//!   breakers; [`requeue`]: re-enqueueing unfinished deliveries from
//!   Postgres. Both are the engine's own state, public for tests.
//!
//! Postgres is the truth about each delivery; Redis jobs only say "look at
//! this delivery now". A delivery is claimed in Postgres before anything is
//! sent, and a job is acknowledged only after the attempt's outcome is
//! committed, so a lost or duplicated job is harmless.

mod api;
mod destinations;
mod engine;
mod grpc;
pub mod limits;
pub mod requeue;
mod store;

use std::sync::Arc;

use anyhow::Context;
use deadpool_postgres::Pool;
use switchyard_core::config::Config;
use switchyard_core::db;
use switchyard_core::shutdown::Signal;
use switchyard_delivery_model::queue::{Producer, QueueLayout};
use switchyard_proto::internal::v1::delivery_control_service_server::DeliveryControlServiceServer;
use switchyard_proto::v1::delivery_service_server::DeliveryServiceServer;
use switchyard_tenancy::auth::Authenticator;
use switchyard_tenancy::auth::layer::Authorized;
use switchyard_tenancy::secrets::{Keyring, KeyringClaim};
use tokio::net::TcpListener;
use tonic::service::Routes;

use crate::api::DeliveryApi;
use crate::engine::runner::Engine;
use crate::grpc::DeliveryGrpc;

/// The gRPC services this process serves (health reports them as serving).
pub const SERVICE_NAMES: &[&str] = &[
    "switchyard.v1.DeliveryService",
    "switchyard.internal.v1.DeliveryControlService",
];

/// The delivery service, connected and ready to run.
pub struct DeliveryApp {
    grpc: Arc<DeliveryGrpc>,
    engine: Engine,
    tls: Option<tonic::transport::ServerTlsConfig>,
    /// This process's keyring, announced on the Redis prefix while it runs.
    claim: KeyringClaim,
}

impl DeliveryApp {
    /// Connects Postgres and Redis and makes sure the consumer group exists.
    /// Does not migrate the database.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let pool = db::pool(&config.database_url, config.database_pool_size)?;
        check_postgres(&pool).await?;
        let redis = switchyard_core::redis_conn::connect(config).await?;
        // Before the engine joins the consumer group: a process of another
        // deployment must not take a single job.
        let keyring = Keyring::from_config(&config.secrets)?;
        let claim =
            KeyringClaim::acquire(redis.clone(), &config.redis_prefix, &keyring, "delivery")
                .await?;
        let engine = Engine::build(config, redis.clone()).await?;
        let auth = Authenticator::new(pool.clone(), config)?;
        let api = DeliveryApi::new(
            pool,
            Producer::new(redis.clone(), QueueLayout::from_config(config)),
            config.telemetry.clone(),
            redis,
            &config.redis_prefix,
        );
        let grpc = Arc::new(DeliveryGrpc::new(auth, api));
        let tls = config.tls.server()?;
        Ok(Self {
            grpc,
            engine,
            tls,
            claim,
        })
    }

    /// Serves `DeliveryService` and the internal `DeliveryControlService`
    /// (plus health and reflection) on `listener`
    /// and runs the delivery engine until `shutdown` trips. The engine then
    /// stops reading jobs and waits for in-flight attempts before returning.
    pub async fn run(self, listener: TcpListener, shutdown: Signal) -> anyhow::Result<()> {
        let auth = self.grpc.auth().clone();
        let credentials = tokio::spawn(auth.clone().listen(shutdown.clone()));
        let claim = tokio::spawn(self.claim.hold(shutdown.clone()));
        let pool = auth.pool().clone();
        let routes = Routes::new(Authorized::new(
            DeliveryServiceServer::from_arc(Arc::clone(&self.grpc)),
            auth.clone(),
        ))
        .add_service(Authorized::new(
            DeliveryControlServiceServer::from_arc(self.grpc),
            auth,
        ));
        let server = switchyard_core::grpc::serve(
            routes,
            SERVICE_NAMES,
            &pool,
            listener,
            self.tls,
            shutdown.clone(),
        );
        let engine = self.engine.run(shutdown);
        let outcome = tokio::try_join!(server, engine);
        credentials.abort();
        if outcome.is_err() {
            claim.abort();
        }
        outcome?;
        claim
            .await
            .map_err(|error| anyhow::anyhow!("keyring claim panicked: {error}"))
    }
}

/// The pool connects lazily; fail at start-up rather than at the first job.
async fn check_postgres(pool: &Pool) -> anyhow::Result<()> {
    let client = pool.get().await.context("connecting to Postgres")?;
    client
        .simple_query("SELECT 1")
        .await
        .context("querying Postgres")?;
    Ok(())
}

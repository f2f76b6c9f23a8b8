//! The router: connections (destinations) and rules, and the fan-out of each
//! stored event into deliveries.
//!
//! - [`api`] is the logic of every RPC, callable in-process: connections
//!   (validation, SQL, controls, policy, signing secrets, request preview),
//!   rules, dry runs (`TestRule`, `TestEvent`) and the audit entries of
//!   every change.
//! - [`grpc`] is the thin tonic adapter of the public `RouterService` and
//!   the internal `RoutingService` (`RouteEvent(s)`, called by ingest):
//!   requests to validated values, records to messages.
//! - [`expr`] compiles and evaluates rule conditions and mappings (CEL).
//! - [`cache`] keeps compiled rules per (workspace, event type), refreshed
//!   across replicas by Postgres LISTEN/NOTIFY.
//! - [`routing`] turns batches of events into deliveries: one statement
//!   inserts every delivery of the batch (unique per event and rule, so
//!   routing twice creates nothing new) and marks the events routed; one
//!   pipelined Redis round trip then enqueues a job per new pending
//!   delivery. If the process dies in
//!   between, the repair loop enqueues the orphaned deliveries.
//! - [`backfill`] routes the stored events of a past range through one
//!   rule, paced, resumable and exactly once, through [`routing`]'s code;
//!   its worker runs beside the repair loop in every router.
//! - [`delivery`] is the client of the delivery service's internal
//!   `DeliveryControlService`: the engine owns circuit breakers and
//!   re-enqueueing, so `GetConnection` and a resume ask it.

pub mod api;
pub mod backfill;
pub mod cache;
pub mod delivery;
pub mod expr;
pub mod grpc;
pub mod routing;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::Context;
use deadpool_postgres::Pool;
use switchyard_core::config::Config;
use switchyard_core::quotas::Quotas;
use switchyard_core::shutdown::Signal;
use switchyard_core::{db, grpc as core_grpc};
use switchyard_delivery_model::destination::DestinationPolicy;
use switchyard_delivery_model::queue::{Producer, QueueLayout};
use switchyard_tenancy::auth::Authenticator;
use switchyard_tenancy::secrets::{self, Keyring};
use tokio::net::TcpListener;
use tonic::transport::ServerTlsConfig;

use crate::backfill::BackfillSettings;
use crate::cache::RuleCache;
use crate::delivery::DeliveryControl;
use crate::routing::RepairSettings;

pub const SERVICE_NAMES: &[&str] = &[
    "switchyard.v1.RouterService",
    "switchyard.internal.v1.RoutingService",
];

/// Failures a test can inject to show the system recovers from them. Unset,
/// they cost one atomic load per routed event.
#[derive(Debug, Default)]
pub struct Faults {
    enqueue_failures: AtomicU32,
}

impl Faults {
    /// The next `count` enqueues after a routing commit fail, as if the
    /// process died between the commit and the XADD.
    pub fn fail_next_enqueues(&self, count: u32) {
        self.enqueue_failures.store(count, Ordering::SeqCst);
    }

    /// Consumes one injected enqueue failure, if any is left.
    pub fn take_enqueue_failure(&self) -> bool {
        self.enqueue_failures
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
                left.checked_sub(1)
            })
            .is_ok()
    }
}

/// Everything a router handler needs; cheap to clone.
#[derive(Clone)]
pub struct RouterState {
    pub pool: Pool,
    /// Writes delivery jobs (the queue's one producer).
    pub producer: Producer,
    /// Asks the delivery service for breakers and re-enqueues.
    pub delivery: DeliveryControl,
    pub auth: Authenticator,
    pub destinations: DestinationPolicy,
    pub cache: Arc<RuleCache>,
    pub faults: Arc<Faults>,
    /// Seals connection credentials (see `switchyard_tenancy::secrets`).
    pub keyring: Keyring,
    /// Per-workspace limits on connections and rules.
    pub quotas: Quotas,
}

pub struct RouterApp {
    state: RouterState,
    tls: Option<ServerTlsConfig>,
    database_url: String,
    repair: RepairSettings,
    backfill: BackfillSettings,
    /// This process's keyring, announced on the Redis prefix while it runs.
    claim: secrets::KeyringClaim,
}

impl RouterApp {
    /// Connects Postgres and Redis. Does not migrate.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        config.require_internal_token()?;
        let keyring = Keyring::from_config(&config.secrets)?;
        let pool = db::pool(&config.database_url, config.database_pool_size)?;
        let redis = switchyard_core::redis_conn::connect(config).await?;
        let claim =
            secrets::KeyringClaim::acquire(redis.clone(), &config.redis_prefix, &keyring, "router")
                .await?;
        let state = RouterState {
            producer: Producer::new(redis, QueueLayout::from_config(config)),
            delivery: DeliveryControl::from_config(config)?,
            auth: Authenticator::new(pool.clone(), config)?,
            pool,
            destinations: DestinationPolicy::from_config(config),
            cache: Arc::new(RuleCache::default()),
            faults: Arc::new(Faults::default()),
            keyring,
            quotas: Quotas::from_config(config)?,
        };
        Ok(Self {
            state,
            tls: config.tls.server()?,
            database_url: config.database_url.clone(),
            repair: RepairSettings::default(),
            backfill: BackfillSettings::default(),
            claim,
        })
    }

    /// The state handlers share (tests reach the cache and fault hooks here).
    pub fn state(&self) -> &RouterState {
        &self.state
    }

    /// Replaces the repair loop's timing (tests shorten it).
    pub fn with_repair(mut self, repair: RepairSettings) -> Self {
        self.repair = repair;
        self
    }

    /// Replaces the backfill worker's timing (tests shorten the lease, or
    /// run no worker).
    pub fn with_backfill(mut self, backfill: BackfillSettings) -> Self {
        self.backfill = backfill;
        self
    }

    /// Seals credentials earlier versions left in plain text, then serves
    /// gRPC, the rule cache listener, the repair loop and the backfill
    /// worker until `shutdown`.
    pub async fn run(self, listener: TcpListener, shutdown: Signal) -> anyhow::Result<()> {
        let sealed = secrets::store::encrypt_plaintext(
            &self.state.pool,
            &self.state.keyring,
            secrets::store::DEFAULT_BATCH,
        )
        .await
        .context("encrypting plain-text connection credentials")?;
        if sealed > 0 {
            tracing::info!(
                connections = sealed,
                "plain-text connection credentials encrypted"
            );
        }
        let listen = tokio::spawn(cache::listen::run(
            Arc::clone(&self.state.cache),
            self.database_url.clone(),
            shutdown.clone(),
        ));
        let credentials = tokio::spawn(self.state.auth.clone().listen(shutdown.clone()));
        let claim = tokio::spawn(self.claim.hold(shutdown.clone()));
        let repair = tokio::spawn(routing::repair::run(
            self.state.pool.clone(),
            self.state.producer.clone(),
            self.repair,
            shutdown.clone(),
        ));
        let backfills = tokio::spawn(backfill::worker::run(
            self.state.clone(),
            self.backfill,
            shutdown.clone(),
        ));
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
        if served.is_err() {
            // Not stopped by the signal: the helpers would wait for it.
            listen.abort();
            repair.abort();
            backfills.abort();
            claim.abort();
            return served;
        }
        let (listened, repaired, claimed, backfilled) =
            tokio::join!(listen, repair, claim, backfills);
        backfilled.map_err(|error| anyhow::anyhow!("backfill worker panicked: {error}"))?;
        claimed.map_err(|error| anyhow::anyhow!("keyring claim panicked: {error}"))?;
        listened.map_err(|error| anyhow::anyhow!("rule cache listener panicked: {error}"))?;
        repaired.map_err(|error| anyhow::anyhow!("repair loop panicked: {error}"))?;
        Ok(())
    }
}

//! The router: connections (destinations) and rules, and the fan-out of each
//! stored event into deliveries.
//!
//! - [`grpc`] adapts the public `RouterService` (connections and rules CRUD)
//!   and the internal `RoutingService` (`RouteEvent`, called by ingest).
//! - [`connections`] and [`rules`] validate requests and hold their SQL.
//! - [`routing`] turns one event into deliveries: one statement inserts every
//!   delivery (unique per event and rule, so routing twice creates nothing
//!   new) and marks the event routed; one pipelined Redis round trip then
//!   enqueues a job per new delivery. If the process dies in between, the
//!   delivery engine's sweeper re-enqueues the orphaned deliveries.

pub mod connections;
pub mod grpc;
pub mod routing;
pub mod rules;

use deadpool_postgres::Pool;
use redis::aio::ConnectionManager;
use switchyard_core::auth::Authenticator;
use switchyard_core::config::Config;
use switchyard_core::destination::DestinationPolicy;
use switchyard_core::queue::QueueKeys;
use switchyard_core::shutdown::Signal;
use switchyard_core::{db, grpc as core_grpc, queue};
use tokio::net::TcpListener;

pub const SERVICE_NAMES: &[&str] = &[
    "switchyard.v1.RouterService",
    "switchyard.internal.v1.RoutingService",
];

/// Everything a router handler needs; cheap to clone.
#[derive(Clone)]
pub struct RouterState {
    pub pool: Pool,
    pub redis: ConnectionManager,
    pub keys: QueueKeys,
    pub auth: Authenticator,
    pub destinations: DestinationPolicy,
}

pub struct RouterApp {
    state: RouterState,
}

impl RouterApp {
    /// Connects Postgres and Redis. Does not migrate.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        config.require_internal_token()?;
        let pool = db::pool(&config.database_url, config.database_pool_size)?;
        let redis = queue::connect(&config.redis_url).await?;
        let state = RouterState {
            auth: Authenticator::new(pool.clone(), config.internal_token.as_ref()),
            pool,
            redis,
            keys: QueueKeys::new(&config.redis_prefix),
            destinations: DestinationPolicy::new(config.allowed_destination_networks.clone()),
        };
        Ok(Self { state })
    }

    pub async fn run(self, listener: TcpListener, shutdown: Signal) -> anyhow::Result<()> {
        core_grpc::serve(grpc::routes(self.state), SERVICE_NAMES, listener, shutdown).await
    }
}

//! The registry service: event types, their versioned JSON Schemas, their
//! compatibility modes, and payload validation against them.
//!
//! How the parts fit, from the wire inwards:
//! - `grpc` implements `switchyard.v1.RegistryService`: it authenticates
//!   the call to a workspace and converts between protobuf and domain values.
//! - `api` holds the operations, scoped by workspace, callable in-process.
//! - [`schema`] checks a schema document at registration (size, JSON,
//!   nesting, draft, meta-schema, no remote `$ref`) and compiles it, never
//!   fetching anything; [`canonical`] normalises it so equal schemas compare
//!   equal ("identical to the latest version" means canonically equal).
//! - [`compat`] decides whether a new version may follow the earlier ones
//!   under the type's mode; its docs hold the rule table.
//! - [`validate`] runs a payload against a compiled validator and collects
//!   its violations.
//! - [`cache`] keeps compiled validators per (workspace, type, version);
//!   versions are immutable, so entries never go stale. `heads` caches each
//!   type's latest version, mode and deprecation, which do change: `notify`
//!   keeps a `LISTEN` connection so every replica forgets a head within
//!   milliseconds of a change committed anywhere, and stops caching heads
//!   while that connection is down.
//! - [`local`] offers validation to ingest running in the same process,
//!   with the gRPC answers and without the loopback call.
//! - `store` is the Postgres access (`event_types`, `event_type_versions`).
//! - `grpc::workspaces` adapts `switchyard.v1.WorkspaceService` (tenants,
//!   API keys, JWT verification keys, the audit log; the workspace rows are
//!   `api::workspaces`). `legacy_secrets`
//!   seals, once the registry is up, the HS256 verification secrets earlier
//!   versions stored in plain text.
//!
//! Listings page as every `List*` RPC does (`switchyard_core::paging`): the
//! token is the previous page's last event type name, parsed as a name on
//! the way back in.

mod api;
pub mod cache;
pub mod canonical;
pub mod compat;
mod grpc;
mod heads;
mod legacy_secrets;
pub mod local;
mod notify;
pub mod schema;
mod store;
pub mod validate;

use std::sync::Arc;

use anyhow::Context;
use switchyard_core::config::Config;
use switchyard_core::quotas::Quotas;
use switchyard_core::shutdown::Signal;
use switchyard_proto::v1::registry_service_server::RegistryServiceServer;
use switchyard_proto::v1::workspace_service_server::WorkspaceServiceServer;
use switchyard_tenancy::auth::Authenticator;
use switchyard_tenancy::auth::layer::Authorized;
use tokio::net::TcpListener;
use tonic::service::Routes;
use tonic::transport::ServerTlsConfig;

use crate::api::Registry;
use crate::cache::ValidatorCache;
use crate::grpc::RegistryGrpc;
use crate::grpc::workspaces::WorkspaceGrpc;
use crate::heads::HeadCache;
use crate::store::Store;

pub use crate::api::{MAX_BATCH_BYTES, MAX_BATCH_PAYLOADS, PayloadToValidate};
pub use crate::local::LocalValidation;

/// The gRPC services this crate serves, as reported by health checks.
pub const SERVICE_NAMES: &[&str] = &[
    "switchyard.v1.RegistryService",
    "switchyard.v1.WorkspaceService",
];

/// The registry, ready to serve.
pub struct RegistryApp {
    registry: Registry,
    auth: Authenticator,
    heads: Arc<HeadCache>,
    database_url: String,
    tls: Option<ServerTlsConfig>,
}

impl RegistryApp {
    /// Connects the Postgres pool and builds the service. Does not migrate.
    /// Connections open on first use, so the service may start before
    /// Postgres is reachable.
    pub async fn build(config: &Config) -> anyhow::Result<Self> {
        let pool = switchyard_core::db::pool(&config.database_url, config.database_pool_size)
            .context("creating the registry's Postgres pool")?;
        let auth = Authenticator::new(pool.clone(), config)?;
        let heads = Arc::new(HeadCache::default());
        let registry = Registry::new(
            Store::new(pool),
            Arc::new(ValidatorCache::default()),
            Arc::clone(&heads),
            Quotas::from_config(config)?,
        );
        Ok(Self {
            registry,
            auth,
            heads,
            database_url: config.database_url.clone(),
            tls: config.tls.server()?,
        })
    }

    /// Validation for ingest hosted in the same process.
    pub fn local_validation(&self) -> LocalValidation {
        LocalValidation::new(self.registry.clone())
    }

    /// Serves RegistryService, WorkspaceService, health and reflection on
    /// `listener` until `shutdown` trips, with the change listener and the
    /// sealing of plain-text HS256 secrets running beside it.
    pub async fn run(self, listener: TcpListener, shutdown: Signal) -> anyhow::Result<()> {
        let changes = tokio::spawn(notify::listen(
            self.database_url,
            self.heads,
            shutdown.clone(),
        ));
        let sealing = tokio::spawn(legacy_secrets::seal(self.auth.clone(), shutdown.clone()));
        let credentials = tokio::spawn(self.auth.clone().listen(shutdown.clone()));
        let registry = RegistryServiceServer::new(RegistryGrpc::new(self.registry));
        let workspaces = WorkspaceServiceServer::new(WorkspaceGrpc::new(self.auth.clone()));
        let pool = self.auth.pool().clone();
        let routes = Routes::new(Authorized::new(registry, self.auth.clone()))
            .add_service(Authorized::new(workspaces, self.auth));
        let served = switchyard_core::grpc::serve(
            routes,
            SERVICE_NAMES,
            &pool,
            listener,
            self.tls,
            shutdown,
        )
        .await;
        changes.abort();
        sealing.abort();
        credentials.abort();
        served
    }
}

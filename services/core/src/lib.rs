//! What every Switchyard service shares, and nothing that belongs to one
//! domain: workspaces and access live in `switchyard-tenancy`, the model
//! of connections, policies and the job queue in
//! `switchyard-delivery-model`, test support in `switchyard-testkit`.
//!
//! - [`config`]: one typed configuration, defaults in code, overridden by a
//!   TOML file and `SWITCHYARD_*` environment variables; [`quotas`] is its
//!   `[quotas]` section and the limits it resolves per workspace,
//!   [`console`] its `[console]` section.
//! - [`db`]: the Postgres pool and the embedded SQL migrations.
//! - [`redis_conn`]: the one Redis handle (single Redis or Redis Cluster).
//! - [`ids`]: prefixed, time-ordered identifiers (`ws_…`, `evt_…`, …).
//! - [`names`]: parsing of event type names.
//! - [`error`]: the one error type services return and its single mapping to
//!   gRPC status codes; [`outage`] tells a dependency outage (answered
//!   `UNAVAILABLE` with retry information) from a bug.
//! - [`grpc`]: serving a tonic router with health and reflection, and lazily
//!   connected channels to the other services; [`readiness`] has health
//!   follow Postgres; [`tls`] is optional TLS and mutual TLS for listeners
//!   and channels; [`paging`] the page sizes and tokens of every `List*`
//!   RPC.
//! - [`batch`]: group commit: concurrent callers' items gathered into one
//!   round trip (ingest's event inserts, the engine's claims and records).
//! - [`http_server`]: the small HTTP server (axum) of the metrics
//!   endpoint, the console, and the CLI's and tests' receivers.
//! - [`gcra`]: the generic cell rate algorithm in Redis (its Lua function
//!   and caller), shared by the ingest quota and the delivery gate.
//! - [`backoff`]: the reconnect backoff (doubling waits, capped, ended by
//!   shutdown); [`jitter`]: the random spread of retry and hold waits.
//! - [`notify`]: cache invalidation across replicas through `LISTEN`/`NOTIFY`.
//! - [`shutdown`]: the stop signal every loop watches, and the periodic
//!   task loop; [`time`]: timestamps.
//! - [`states`]: delivery status, connection state and attempt trigger as
//!   enums, mapped once to their Postgres text columns and the proto enums.
//! - [`standalone`]: the `main` of a service run as its own process.
//! - [`telemetry`]: logs, traces (OpenTelemetry) and Prometheus metrics.

pub mod backoff;
pub mod batch;
pub mod config;
pub mod console;
pub mod db;
pub mod error;
pub mod gcra;
pub mod grpc;
pub mod http_server;
pub mod ids;
pub mod jitter;
pub mod names;
pub mod notify;
pub mod outage;
pub mod paging;
pub mod quotas;
pub mod readiness;
pub mod redis_conn;
pub mod shutdown;
pub mod standalone;
pub mod states;
pub mod telemetry;
pub mod time;
pub mod tls;

pub use error::ApiError;

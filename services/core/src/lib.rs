//! What every Switchyard service shares.
//!
//! - [`config`]: one typed configuration, defaults in code, overridden by a
//!   TOML file and `SWITCHYARD_*` environment variables.
//! - [`db`]: the Postgres pool and the embedded SQL migrations.
//! - [`ids`]: prefixed, time-ordered identifiers (`ws_…`, `evt_…`, …).
//! - [`auth`]: API keys, machine tokens (JWT), scopes, the access table
//!   and the service wrapper that authenticates every RPC.
//! - [`audit`]: the audit log of admin changes.
//! - [`batch`]: group commit: concurrent callers' items gathered into one
//!   round trip (ingest's event inserts, the engine's claims and records).
//! - [`error`]: the one error type services return and its single mapping to
//!   gRPC status codes; [`outage`] tells a dependency outage (answered
//!   `UNAVAILABLE` with retry information) from a bug.
//! - [`grpc`]: serving a tonic router with health and reflection, and lazily
//!   connected channels to the other services; [`readiness`] has health
//!   follow Postgres.
//! - [`queue`]: the Redis key layout shared by the router (producer) and the
//!   delivery engine (consumer), its partitions, and the job format.
//! - [`redis_conn`]: the one Redis handle (single Redis or Redis Cluster).
//! - [`signature`]: Standard Webhooks signing secrets and signatures.
//! - [`secrets`]: connection credentials encrypted at rest (AES-256-GCM
//!   under master keys from the configuration) and their rotation; HS256
//!   verification secrets are sealed with the same keyring (`auth::jwt`).
//! - [`destination`]: which network addresses outbound requests may reach.
//! - [`policy`]: a connection's delivery policy (retries, timeouts, rate
//!   limit, concurrency cap, circuit breaker) as stored.
//! - [`limits`]: the Redis layout of per-connection limits and breakers.
//! - [`quota`]: per-workspace quotas: the ingest rate (GCRA in Redis) and
//!   the counts of connections, rules and event types (checked under the
//!   workspace row's lock).
//! - [`requeue`]: re-enqueueing unfinished deliveries from Postgres.
//! - [`names`]: parsing of event type names.
//! - [`notify`]: cache invalidation across replicas through `LISTEN`/`NOTIFY`.
//! - [`paging`]: page sizes and tokens of `List*` RPCs.
//! - [`states`]: delivery status, connection state and attempt trigger as
//!   enums, mapped once to their Postgres text columns and the proto enums.
//! - [`standalone`]: the `main` of a service run as its own process.
//! - [`telemetry`]: logs, traces (OpenTelemetry) and Prometheus metrics.
//! - [`testkit`]: a fresh database and Redis prefix per test.
//! - [`tls`]: optional TLS and mutual TLS for listeners and channels.

pub mod audit;
pub mod auth;
pub mod batch;
pub mod config;
pub mod connection;
pub mod console;
pub mod db;
pub mod destination;
pub mod error;
pub mod grpc;
pub mod ids;
pub mod limits;
pub mod names;
pub mod notify;
pub mod outage;
pub mod paging;
pub mod policy;
pub mod queue;
pub mod quota;
pub mod readiness;
pub mod redis_conn;
pub mod requeue;
pub mod secrets;
pub mod shutdown;
pub mod signature;
pub mod standalone;
pub mod states;
pub mod telemetry;
pub mod testkit;
pub mod time;
pub mod tls;

pub use error::ApiError;

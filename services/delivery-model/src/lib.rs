//! The contract between the router, which writes deliveries, and the
//! delivery engine, which sends them: what a connection is, how its copies
//! must be sent, and how a job reaches the engine. The router validates and
//! stores these types; the engine reads them back and acts on them.
//!
//! - [`connection`]: the connection kinds (webhook, SaaS, broker) and their
//!   stored settings, the broker envelope and the request shaping both the
//!   engine and the router's request preview use.
//! - [`policy`]: a connection's delivery policy (retries, timeouts, rate
//!   limit, concurrency cap, circuit breaker, ordering) as stored.
//! - [`destination`]: which network addresses outbound requests may reach.
//! - [`signature`]: Standard Webhooks signing secrets and signatures.
//! - [`queue`]: the Redis key layout shared by the router (producer) and
//!   the delivery engine (consumer), its partitions, and the job format.
//!
//! The engine's own state (per-connection limits and breakers, re-enqueueing
//! from Postgres) lives in `switchyard-delivery`; the router asks for it
//! over `switchyard.internal.v1.DeliveryControlService`.

pub mod connection;
pub mod destination;
pub mod policy;
pub mod queue;
pub mod signature;

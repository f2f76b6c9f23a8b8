//! The delivery API for an authenticated workspace, independent of gRPC:
//! requests are validated here (a precise `InvalidArgument` per field),
//! rows become protobuf messages ([`messages`]), and errors are
//! [`ApiError`](switchyard_core::ApiError)s that the adapter in
//! [`crate::grpc`] turns into statuses.
//!
//! - [`list`]: `ListDeliveries` (filters by event, status, connection and
//!   creation time, paged) and `GetDelivery`.
//! - [`replay`]: `RetryDelivery` and `ReplayDeadLetters`, which make dead
//!   letters due again and put their jobs on the stream.
//! - [`stats`]: `GetDeliveryStats`, attempts per minute by outcome and per
//!   connection.
//! - [`control`]: the internal `DeliveryControlService` the router calls:
//!   a connection's circuit breaker, and re-enqueueing a resumed
//!   connection's deliveries.

mod control;
mod list;
mod messages;
mod replay;
mod stats;

use deadpool_postgres::Pool;
use switchyard_core::config::TelemetryConfig;
use switchyard_core::redis_conn::RedisConn;
use switchyard_delivery_model::queue::Producer;

#[derive(Clone)]
pub struct DeliveryApi {
    pool: Pool,
    /// Puts retried and replayed deliveries' jobs on the stream.
    producer: Producer,
    /// Builds deliveries' trace links.
    telemetry: TelemetryConfig,
    /// Reads the engine's per-connection keys (circuit breakers).
    redis: RedisConn,
    /// The deployment's Redis key prefix.
    redis_prefix: String,
}

impl DeliveryApi {
    pub fn new(
        pool: Pool,
        producer: Producer,
        telemetry: TelemetryConfig,
        redis: RedisConn,
        redis_prefix: &str,
    ) -> Self {
        Self {
            pool,
            producer,
            telemetry,
            redis,
            redis_prefix: redis_prefix.to_string(),
        }
    }
}

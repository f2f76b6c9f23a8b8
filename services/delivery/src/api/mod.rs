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

mod list;
mod messages;
mod replay;
mod stats;

use deadpool_postgres::Pool;
use switchyard_core::config::TelemetryConfig;
use switchyard_delivery_model::queue::Producer;

#[derive(Clone)]
pub struct DeliveryApi {
    pool: Pool,
    /// Puts retried and replayed deliveries' jobs on the stream.
    producer: Producer,
    /// Builds deliveries' trace links.
    telemetry: TelemetryConfig,
}

impl DeliveryApi {
    pub fn new(pool: Pool, producer: Producer, telemetry: TelemetryConfig) -> Self {
        Self {
            pool,
            producer,
            telemetry,
        }
    }
}

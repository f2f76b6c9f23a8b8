//! Samples the queue's depths — stream length, pending entries, delayed
//! jobs — into Prometheus gauges every [`INTERVAL`]. Every replica samples
//! the same shared keys, so any one replica's `/metrics` shows the whole
//! queue.

use std::time::Duration;

use switchyard_core::shutdown::{self, Signal};
use switchyard_core::telemetry::metrics::names;

use super::queue::JobQueue;

/// Time between two samples.
pub const INTERVAL: Duration = Duration::from_secs(5);

pub async fn run(queue: JobQueue, shutdown: Signal) {
    shutdown::every(INTERVAL, shutdown, || sample(&queue)).await;
}

async fn sample(queue: &JobQueue) {
    match queue.depths().await {
        Ok(depths) => {
            metrics::gauge!(names::STREAM_LENGTH).set(depths.stream as f64);
            metrics::gauge!(names::STREAM_PENDING).set(depths.pending as f64);
            metrics::gauge!(names::DELAYED_JOBS).set(depths.delayed as f64);
        }
        Err(error) => tracing::debug!(%error, "sampling the queue depths failed"),
    }
}

//! The retry scheduler: every `delivery.scheduler_interval`, moves the
//! retries that are due from the delayed set to the stream, where the
//! consumer picks them up. The move is one Lua script, so a job is never
//! duplicated or dropped by a crash half way, and several replicas running
//! it at once never move the same job twice.

use std::time::Duration;

use switchyard_core::shutdown::{self, Signal};

use super::queue::JobQueue;

/// Jobs moved per script call; a full batch is followed at once by another.
const BATCH: usize = 256;
/// Pause after a failed move before the next tick.
const ERROR_PAUSE: Duration = Duration::from_secs(1);

pub async fn run(queue: JobQueue, interval: Duration, shutdown: Signal) {
    shutdown::every(interval, shutdown, || promote_due(&queue)).await;
    tracing::debug!("scheduler stopped");
}

async fn promote_due(queue: &JobQueue) {
    loop {
        let now_ms = chrono::Utc::now().timestamp_millis();
        match queue.promote_due(now_ms, BATCH).await {
            Ok(moved) => {
                if moved > 0 {
                    tracing::debug!(moved, "moved due retries to the stream");
                }
                if moved < BATCH {
                    return;
                }
            }
            Err(error) => {
                tracing::warn!(%error, "moving due retries failed");
                // Redis is likely down: do not log at every tick.
                tokio::time::sleep(ERROR_PAUSE).await;
                return;
            }
        }
    }
}

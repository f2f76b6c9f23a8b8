//! Recovery from Redis losing its data (restarted without persistence,
//! `FLUSHALL`, keys deleted): the consumer or the reclaimer finds the
//! consumer group gone (`NOGROUP`, or `UNBLOCKED` for a read blocked on the
//! deleted stream) and calls [`Recovery::group_lost`], which recreates the
//! stream and group at once and re-enqueues every unfinished delivery from
//! Postgres in the background (`crate::requeue`) — no restart,
//! and no waiting for the sweeper's grace period. Jobs parked in the lost
//! delayed set come back the same way, at their due time.
//!
//! One re-enqueue runs at a time per process; replicas that notice the loss
//! together each run one, and the duplicate jobs are harmless.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::requeue::{self, Scope};
use deadpool_postgres::Pool;

use super::queue::JobQueue;

/// Pause after failing to recreate the group, so an outage does not spin.
const ERROR_PAUSE: Duration = Duration::from_secs(1);

/// Cheap to clone.
#[derive(Clone)]
pub struct Recovery {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    queue: JobQueue,
    requeueing: AtomicBool,
}

impl Recovery {
    pub fn new(pool: Pool, queue: JobQueue) -> Self {
        Self {
            inner: Arc::new(Inner {
                pool,
                queue,
                requeueing: AtomicBool::new(false),
            }),
        }
    }

    /// Recreates the stream and its consumer group, then re-enqueues every
    /// unfinished delivery from Postgres.
    pub async fn group_lost(&self) {
        tracing::warn!(
            "the job stream or its consumer group is gone (Redis lost its data?); recreating it and re-enqueueing from Postgres"
        );
        if let Err(error) = self.inner.queue.ensure_group().await {
            tracing::warn!(%error, "recreating the consumer group failed");
            tokio::time::sleep(ERROR_PAUSE).await;
            return;
        }
        if self.inner.requeueing.swap(true, Ordering::SeqCst) {
            return;
        }
        let inner = Arc::clone(&self.inner);
        tokio::spawn(async move {
            let queue = &inner.queue;
            match requeue::requeue(&inner.pool, &queue.producer(), Scope::Everything).await {
                Ok(count) => {
                    tracing::info!(count, "re-enqueued unfinished deliveries from Postgres")
                }
                Err(error) => tracing::error!(
                    error = format!("{error:#}"),
                    "re-enqueueing from Postgres failed; the sweeper will repair the rest"
                ),
            }
            inner.requeueing.store(false, Ordering::SeqCst);
        });
    }
}

//! The sweeper: Postgres is the truth, Redis jobs are hints. Deliveries
//! that should have been attempted long ago (due, or leased, for more than
//! `grace` = twice the visibility timeout) get a fresh job. This repairs the
//! jobs lost to a crash between a commit and its Redis write; a Redis that
//! lost everything is repaired at once by [`super::recovery`], and the
//! sweeper catches whatever that missed. Paused connections' deliveries are
//! left alone. Duplicates it might create are harmless: the claim lets only
//! one attempt through.

use std::time::Duration;

use deadpool_postgres::Pool;
use switchyard_core::shutdown::{self, Signal};

use super::job::Job;
use super::queue::JobQueue;
use crate::store::jobs;

/// Deliveries re-queued per sweep at most.
const BATCH: i64 = 500;

pub async fn run(
    pool: Pool,
    queue: JobQueue,
    grace: Duration,
    interval: Duration,
    shutdown: Signal,
) {
    shutdown::every(interval, shutdown, || sweep(&pool, &queue, grace)).await;
    tracing::debug!("sweeper stopped");
}

async fn sweep(pool: &Pool, queue: &JobQueue, grace: Duration) {
    let overdue = match jobs::sweep(pool, grace, BATCH).await {
        Ok(overdue) => overdue,
        Err(error) => {
            tracing::warn!(
                error = format!("{error:#}"),
                "sweeping for overdue deliveries failed"
            );
            return;
        }
    };
    if overdue.is_empty() {
        return;
    }
    let jobs: Vec<String> = overdue
        .iter()
        .map(|&(workspace, delivery, connection)| {
            Job::new(workspace, delivery)
                .with_connection(connection)
                .to_json()
        })
        .collect();
    match queue.enqueue(&jobs).await {
        Ok(()) => tracing::info!(count = jobs.len(), "re-queued overdue deliveries"),
        // They are stamped as re-queued; the next sweep after `grace`
        // tries again.
        Err(error) => {
            tracing::warn!(%error, count = jobs.len(), "re-queueing overdue deliveries failed")
        }
    }
}

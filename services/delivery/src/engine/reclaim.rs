//! The reclaimer: takes over entries another consumer (or an earlier life
//! of this one) read but never acknowledged, once they have been idle for
//! `delivery.visibility_timeout`, and processes them like new ones.
//!
//! `Config::validate` keeps the visibility timeout longer than the request
//! timeout, so an attempt still in flight is never handed to a second
//! consumer; and the claim in Postgres turns any job whose delivery has
//! meanwhile been handled into a no-op.

use std::time::Duration;

use switchyard_core::shutdown::{self, Signal};

use super::dispatch::Dispatcher;
use super::queue::{JobQueue, READ_COUNT, is_missing_group};
use super::recovery::Recovery;

/// The start of the pending list, and the cursor XAUTOCLAIM returns at its end.
const SCAN_START: &str = "0-0";

pub async fn run(
    queue: JobQueue,
    dispatcher: Dispatcher,
    recovery: Recovery,
    min_idle: Duration,
    interval: Duration,
    shutdown: Signal,
) {
    let signal = shutdown.clone();
    shutdown::every(interval, shutdown, || {
        reclaim_idle(&queue, &dispatcher, &recovery, min_idle, &signal)
    })
    .await;
    tracing::debug!("reclaimer stopped");
}

/// One scan of the whole pending list.
async fn reclaim_idle(
    queue: &JobQueue,
    dispatcher: &Dispatcher,
    recovery: &Recovery,
    min_idle: Duration,
    shutdown: &Signal,
) {
    let mut cursor = SCAN_START.to_string();
    while !shutdown.is_tripped() {
        let Some(first) = dispatcher.acquire().await else {
            return;
        };
        let mut permits = vec![first];
        while permits.len() < READ_COUNT {
            let Some(permit) = dispatcher.try_acquire() else {
                break;
            };
            permits.push(permit);
        }
        match queue.claim_idle(min_idle, &cursor, permits.len()).await {
            Ok((next, entries)) => {
                if !entries.is_empty() {
                    tracing::info!(count = entries.len(), "reclaimed abandoned jobs");
                }
                for (entry, permit) in entries.into_iter().zip(permits) {
                    dispatcher.spawn(permit, entry);
                }
                if next == SCAN_START {
                    return;
                }
                cursor = next;
            }
            Err(error) if is_missing_group(&error) => {
                recovery.group_lost().await;
                return;
            }
            Err(error) => {
                tracing::warn!(%error, "reclaiming idle jobs failed");
                return;
            }
        }
    }
}

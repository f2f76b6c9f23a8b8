//! The stream consumer: reads new entries for this process's consumer name
//! and dispatches each as its own attempt.
//!
//! A missing group (`NOGROUP`: Redis restarted empty, the stream deleted) is
//! handed to [`Recovery`], which recreates it and re-enqueues from
//! Postgres, and reading continues; other Redis errors are logged and
//! retried after a pause. Neither ever stops the loop — only shutdown does.

use std::time::Duration;

use switchyard_core::shutdown::Signal;

use super::dispatch::Dispatcher;
use super::queue::{JobQueue, READ_COUNT, is_missing_group};
use super::recovery::Recovery;

/// Pause after a Redis error before reading again.
const ERROR_PAUSE: Duration = Duration::from_secs(1);

pub async fn run(queue: JobQueue, dispatcher: Dispatcher, recovery: Recovery, shutdown: Signal) {
    let stopped = shutdown.clone().wait();
    tokio::pin!(stopped);
    loop {
        let first = tokio::select! {
            biased;
            () = &mut stopped => break,
            permit = dispatcher.acquire() => permit,
        };
        let Some(first) = first else { break };
        let mut permits = vec![first];
        while permits.len() < READ_COUNT {
            let Some(permit) = dispatcher.try_acquire() else {
                break;
            };
            permits.push(permit);
        }

        // The read is not cancelled at shutdown (it returns within a second)
        // so that entries Redis already handed over are still processed.
        match queue.read_new(permits.len()).await {
            Ok(entries) => {
                for (entry, permit) in entries.into_iter().zip(permits) {
                    dispatcher.spawn(permit, entry);
                }
            }
            Err(error) if is_missing_group(&error) => {
                drop(permits);
                recovery.group_lost().await;
            }
            Err(error) => {
                drop(permits);
                tracing::warn!(%error, "reading the job stream failed");
                tokio::select! {
                    () = &mut stopped => break,
                    () = tokio::time::sleep(ERROR_PAUSE) => {}
                }
            }
        }
    }
    tracing::debug!("consumer stopped");
}

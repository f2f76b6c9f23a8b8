//! Runs attempts concurrently, at most `delivery.max_in_flight` at once.
//!
//! Readers take a permit *before* fetching an entry, so an entry never waits
//! in this process for a free slot while its idle time runs towards the
//! visibility timeout. Each attempt holds its permit until it ends, which
//! also makes draining simple: holding every permit means nothing is in
//! flight. At a stop, attempts still running when the shutdown grace ends
//! are cut ([`Dispatcher::cut`]): each task drops its attempt and gives its
//! slot back, and `super::handback` returns their jobs to the stream.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use super::attempt::Attempter;
use super::queue::StreamEntry;

#[derive(Clone)]
pub struct Dispatcher {
    slots: Arc<Semaphore>,
    capacity: u32,
    attempter: Attempter,
    /// Cancelled when the shutdown grace is over.
    cut: CancellationToken,
}

impl Dispatcher {
    pub fn new(max_in_flight: usize, attempter: Attempter) -> Self {
        let capacity = max_in_flight.clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
        Self {
            slots: Arc::new(Semaphore::new(capacity)),
            capacity: u32::try_from(capacity).unwrap_or(u32::MAX),
            attempter,
            cut: CancellationToken::new(),
        }
    }

    /// Waits for a free slot.
    pub async fn acquire(&self) -> Option<OwnedSemaphorePermit> {
        // The semaphore is never closed, so this only fails in theory.
        Arc::clone(&self.slots).acquire_owned().await.ok()
    }

    /// A free slot, if there is one right now.
    pub fn try_acquire(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.slots).try_acquire_owned().ok()
    }

    /// Runs the entry's attempt in the background, in the slot `permit`.
    pub fn spawn(&self, permit: OwnedSemaphorePermit, entry: StreamEntry) {
        let attempter = self.attempter.clone();
        let cut = self.cut.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = attempter.process(entry) => {}
                () = cut.cancelled() => {}
            }
            drop(permit);
        });
    }

    /// Waits until no attempt is in flight, for at most `limit`; false if
    /// some were still running. Those were not acknowledged, so another
    /// consumer reclaims them later.
    pub async fn drain(&self, limit: Duration) -> bool {
        tokio::time::timeout(limit, self.slots.acquire_many(self.capacity))
            .await
            .is_ok_and(|acquired| acquired.is_ok())
    }

    /// Cuts every attempt still running (their requests are dropped where
    /// they are) and waits, for at most `limit`, until all have let go of
    /// their slots; false if some still hold one.
    pub async fn cut(&self, limit: Duration) -> bool {
        self.cut.cancel();
        self.drain(limit).await
    }
}

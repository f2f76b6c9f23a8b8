//! Group commit: concurrent callers hand their items (ingest's events, the
//! delivery engine's claims, records, releases and acknowledgements) to a
//! [`Batcher`], whose loop sends whatever has gathered as one statement
//! (or one Redis `MULTI`, or one RPC). Under light load a
//! batch is a single item and goes at once — nothing waits for a timer;
//! under heavy load items pile up while the previous batches are in flight
//! and the next one carries them all, so round trips per delivery fall as
//! load rises.
//!
//! At most `parallel` batches are in flight at once. A failed batch fails
//! each of its items with the same message. [`Batcher::backlog`] counts the
//! items handed in and not yet answered, so a caller can refuse new work
//! (backpressure) instead of queueing without bound.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Semaphore, mpsc, oneshot};

type Reply<O> = oneshot::Sender<Result<O, String>>;

/// Sends items to the batching loop; cheap to clone.
pub struct Batcher<I, O> {
    sender: mpsc::UnboundedSender<(I, Reply<O>)>,
    name: &'static str,
    backlog: Arc<AtomicUsize>,
}

impl<I, O> Clone for Batcher<I, O> {
    fn clone(&self) -> Self {
        Self {
            sender: self.sender.clone(),
            name: self.name,
            backlog: Arc::clone(&self.backlog),
        }
    }
}

impl<I, O> Batcher<I, O>
where
    I: Send + 'static,
    O: Send + 'static,
{
    /// Spawns the loop; `flush` gets a batch and returns one output per
    /// item, in order. The loop ends when every `Batcher` is dropped.
    pub fn spawn<F, Fut>(name: &'static str, max_batch: usize, parallel: usize, flush: F) -> Self
    where
        F: Fn(Vec<I>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<Vec<O>>> + Send + 'static,
    {
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(run(
            name,
            receiver,
            max_batch.max(1),
            parallel.max(1),
            Arc::new(flush),
        ));
        Self {
            sender,
            name,
            backlog: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Items handed to [`Self::call`] and not answered yet (queued or in a
    /// batch in flight).
    pub fn backlog(&self) -> usize {
        self.backlog.load(Ordering::Relaxed)
    }

    /// Adds `item` to the next batch and waits for its output.
    pub async fn call(&self, item: I) -> anyhow::Result<O> {
        let (reply, answer) = oneshot::channel();
        self.backlog.fetch_add(1, Ordering::Relaxed);
        // Counted down however the call ends, cancellation included.
        let _answered = Countdown(&self.backlog);
        self.sender
            .send((item, reply))
            .map_err(|_| anyhow::anyhow!("the {} batcher stopped", self.name))?;
        match answer.await {
            Ok(Ok(output)) => Ok(output),
            Ok(Err(message)) => Err(anyhow::anyhow!(message)),
            Err(_) => Err(anyhow::anyhow!("the {} batch was dropped", self.name)),
        }
    }
}

struct Countdown<'a>(&'a AtomicUsize);

impl Drop for Countdown<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[tracing::instrument(skip_all, fields(batcher = name))]
async fn run<I, O, F, Fut>(
    name: &'static str,
    mut receiver: mpsc::UnboundedReceiver<(I, Reply<O>)>,
    max_batch: usize,
    parallel: usize,
    flush: Arc<F>,
) where
    I: Send + 'static,
    O: Send + 'static,
    F: Fn(Vec<I>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = anyhow::Result<Vec<O>>> + Send + 'static,
{
    let in_flight = Arc::new(Semaphore::new(parallel));
    while let Some(first) = receiver.recv().await {
        // Waiting for a free flush before draining lets the batch grow
        // while every flush is busy.
        let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else {
            break;
        };
        let mut batch = vec![first];
        while batch.len() < max_batch {
            match receiver.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        let flush = Arc::clone(&flush);
        tokio::spawn(async move {
            let (items, replies): (Vec<I>, Vec<Reply<O>>) = batch.into_iter().unzip();
            let count = items.len();
            let clock = std::time::Instant::now();
            let flushed = flush(items).await;
            tracing::debug!(
                batcher = name,
                size = count,
                took_us = clock.elapsed().as_micros() as u64,
                "batch flushed"
            );
            match flushed {
                Ok(outputs) if outputs.len() == count => {
                    for (reply, output) in replies.into_iter().zip(outputs) {
                        let _ = reply.send(Ok(output));
                    }
                }
                Ok(outputs) => {
                    let message = format!(
                        "the {name} batch returned {} outputs for {count} items",
                        outputs.len()
                    );
                    for reply in replies {
                        let _ = reply.send(Err(message.clone()));
                    }
                }
                Err(error) => {
                    let message = format!("{error:#}");
                    for reply in replies {
                        let _ = reply.send(Err(message.clone()));
                    }
                }
            }
            drop(permit);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[tokio::test]
    async fn concurrent_items_share_batches_and_get_their_own_output() {
        let flushes = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&flushes);
        let doubler = Batcher::spawn("test", 100, 1, move |items: Vec<u32>| {
            counted.fetch_add(1, Ordering::SeqCst);
            async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Ok(items.into_iter().map(|n| n * 2).collect())
            }
        });
        let calls: Vec<_> = (0..50u32)
            .map(|n| {
                let doubler = doubler.clone();
                tokio::spawn(async move { doubler.call(n).await })
            })
            .collect();
        for (n, call) in calls.into_iter().enumerate() {
            let output = call.await.expect("joined").expect("doubled");
            assert_eq!(output as usize, n * 2);
        }
        assert!(
            flushes.load(Ordering::SeqCst) < 50,
            "items were batched ({} flushes)",
            flushes.load(Ordering::SeqCst)
        );
    }

    #[tokio::test]
    async fn a_failed_batch_fails_each_item() {
        let failing = Batcher::spawn("test", 10, 2, |_items: Vec<u32>| async {
            Err::<Vec<u32>, _>(anyhow::anyhow!("database down"))
        });
        let error = failing.call(1).await.expect_err("fails");
        assert!(error.to_string().contains("database down"));
    }
}

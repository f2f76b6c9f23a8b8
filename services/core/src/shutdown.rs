//! A shutdown signal shared by every task of a process: a [`Trigger`] trips
//! it once (on Ctrl-C, SIGTERM, or when a test drops it) and every holder of
//! a [`Signal`] stops taking new work. [`every`] (and [`every_after`]) is
//! the periodic loop of the background tasks (sweepers, schedulers,
//! pollers, the keyring claim), which stops with the signal.

use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

/// Trips the signal when called or dropped.
pub struct Trigger(watch::Sender<bool>);

impl Trigger {
    pub fn trip(&self) {
        let _ = self.0.send(true);
    }
}

impl Drop for Trigger {
    fn drop(&mut self) {
        self.trip();
    }
}

/// Cheap to clone; [`Signal::wait`] resolves once the trigger trips.
#[derive(Clone)]
pub struct Signal(watch::Receiver<bool>);

impl Signal {
    pub async fn wait(mut self) {
        let _ = self.0.wait_for(|stopped| *stopped).await;
    }

    pub fn is_tripped(&self) -> bool {
        *self.0.borrow()
    }
}

/// A new trigger and the signal it trips.
pub fn channel() -> (Trigger, Signal) {
    let (sender, receiver) = watch::channel(false);
    (Trigger(sender), Signal(receiver))
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn os_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// Runs `tick` at once and then every `interval` until `shutdown` trips. A
/// tick that overruns delays the next one instead of bunching them up;
/// shutdown ends the wait between ticks, never a tick under way.
pub async fn every<F, Fut>(interval: Duration, shutdown: Signal, tick: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    ticks(tokio::time::interval(interval), shutdown, tick).await;
}

/// [`every`], but the first tick comes after one `interval` rather than at
/// once (a claim refreshed after it was just made).
pub async fn every_after<F, Fut>(interval: Duration, shutdown: Signal, tick: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let first = tokio::time::Instant::now() + interval;
    ticks(tokio::time::interval_at(first, interval), shutdown, tick).await;
}

async fn ticks<F, Fut>(mut ticker: tokio::time::Interval, shutdown: Signal, mut tick: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let stopped = shutdown.wait();
    tokio::pin!(stopped);
    loop {
        tokio::select! {
            biased;
            () = &mut stopped => return,
            _ = ticker.tick() => {}
        }
        tick().await;
    }
}

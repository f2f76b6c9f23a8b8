//! The one reconnect backoff of Switchyard: doubling waits between tries of
//! something that keeps failing (the `LISTEN` connection of [`crate::notify`],
//! the registry's sealing pass while Postgres is away), capped, started
//! again once it works; a wait ends early when shutdown trips.

use std::time::Duration;

use crate::shutdown::Signal;

#[derive(Clone, Debug)]
pub struct Backoff {
    first: Duration,
    last: Duration,
    next: Duration,
}

impl Backoff {
    /// Waits `first`, then twice as long each time, at most `last`.
    pub const fn new(first: Duration, last: Duration) -> Self {
        Self {
            first,
            last,
            next: first,
        }
    }

    /// What the next [`Self::wait`] sleeps.
    pub fn next(&self) -> Duration {
        self.next
    }

    /// Starts again from the first wait (the thing worked for a while).
    pub fn reset(&mut self) {
        self.next = self.first;
    }

    /// Sleeps [`Self::next`] and doubles it (up to the cap); false when
    /// `shutdown` tripped first.
    pub async fn wait(&mut self, shutdown: &Signal) -> bool {
        tokio::select! {
            () = tokio::time::sleep(self.next) => {}
            () = shutdown.clone().wait() => return false,
        }
        self.next = (self.next * 2).min(self.last);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn doubles_up_to_the_cap_and_starts_again_on_reset() {
        let (_trigger, signal) = crate::shutdown::channel();
        let mut backoff = Backoff::new(Duration::from_millis(1), Duration::from_millis(3));
        let mut seen = Vec::new();
        for _ in 0..4 {
            seen.push(backoff.next());
            assert!(backoff.wait(&signal).await);
        }
        assert_eq!(seen, [1, 2, 3, 3].map(Duration::from_millis).to_vec());
        backoff.reset();
        assert_eq!(backoff.next(), Duration::from_millis(1));
    }

    #[tokio::test]
    async fn shutdown_ends_the_wait() {
        let (trigger, signal) = crate::shutdown::channel();
        let mut backoff = Backoff::new(Duration::from_secs(3600), Duration::from_secs(3600));
        trigger.trip();
        assert!(!backoff.wait(&signal).await);
    }
}

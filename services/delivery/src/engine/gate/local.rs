//! Per-connection slots inside this process: at most
//! `delivery.max_in_flight_per_connection` attempts to one connection at
//! once, so a destination that hangs until every request times out can
//! hold only its share of `delivery.max_in_flight` and never starve the
//! others (convoy #1926). A slot is freed when its [`LocalSlot`] drops.
//!
//! A job that finds its connection full is parked; [`LocalSlots::park`]
//! says for how long. The wait grows with the number of jobs parked for
//! that connection in the last second, relative to its cap: a destination
//! ten times over its cap sends its waiting jobs back ten times less often,
//! so its backlog cycles through the stream at about the rate slots free
//! up, not at the rate of the backlog (which would crowd the stream for
//! every other connection).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use switchyard_core::ids::ConnectionId;

/// Longest wait of a job parked because its connection is full.
const MAX_PARK: Duration = Duration::from_secs(30);
/// The window over which parked jobs are counted.
const PARK_WINDOW: Duration = Duration::from_secs(1);

#[derive(Debug)]
pub struct LocalSlots {
    cap: usize,
    taken: Mutex<HashMap<ConnectionId, usize>>,
    /// Jobs parked per connection in the current window, and its start.
    parked: Mutex<HashMap<ConnectionId, (usize, Instant)>>,
}

impl LocalSlots {
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            cap: cap.max(1),
            taken: Mutex::default(),
            parked: Mutex::default(),
        })
    }

    /// Counts one more job of `connection` parked for a full connection
    /// and says how long to park it: `base` while fewer than `cap` were
    /// parked in the last second, proportionally longer beyond (at most
    /// [`MAX_PARK`]).
    pub fn park(&self, connection: ConnectionId, base: Duration) -> Duration {
        let Ok(mut parked) = self.parked.lock() else {
            return base;
        };
        let now = Instant::now();
        let (count, since) = parked.entry(connection).or_insert((0, now));
        if now.duration_since(*since) > PARK_WINDOW {
            (*count, *since) = (0, now);
        }
        *count += 1;
        let factor = (*count as f64 / self.cap as f64).max(1.0);
        base.mul_f64(factor).min(MAX_PARK)
    }

    /// A slot for `connection`, or `None` when all of its slots are taken.
    pub fn try_acquire(self: &Arc<Self>, connection: ConnectionId) -> Option<LocalSlot> {
        let mut taken = self.taken.lock().ok()?;
        let count = taken.entry(connection).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(LocalSlot {
            slots: Arc::clone(self),
            connection,
        })
    }

    /// Attempts to one connection this process runs at most.
    pub fn cap(&self) -> usize {
        self.cap
    }

    /// Attempts in flight to `connection` now.
    pub fn in_flight(&self, connection: ConnectionId) -> usize {
        self.taken
            .lock()
            .map(|taken| taken.get(&connection).copied().unwrap_or(0))
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod park_tests {
    use super::*;

    #[test]
    fn the_wait_grows_with_the_jobs_parked_beyond_the_cap() {
        let slots = LocalSlots::new(10);
        let connection = ConnectionId::generate();
        let base = Duration::from_millis(500);
        let first: Vec<Duration> = (0..10).map(|_| slots.park(connection, base)).collect();
        assert!(first.iter().all(|wait| *wait == base), "{first:?}");
        let later: Vec<Duration> = (0..90).map(|_| slots.park(connection, base)).collect();
        assert_eq!(later.last().copied(), Some(base * 10));
        let flood: Vec<Duration> = (0..10_000).map(|_| slots.park(connection, base)).collect();
        assert_eq!(flood.last().copied(), Some(MAX_PARK));
        // Another connection is not affected.
        assert_eq!(slots.park(ConnectionId::generate(), base), base);
    }
}

/// One taken slot.
#[derive(Debug)]
pub struct LocalSlot {
    slots: Arc<LocalSlots>,
    connection: ConnectionId,
}

impl Drop for LocalSlot {
    fn drop(&mut self) {
        if let Ok(mut taken) = self.slots.taken.lock()
            && let Some(count) = taken.get_mut(&self.connection)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                taken.remove(&self.connection);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_capped_per_connection_and_freed_on_drop() {
        let slots = LocalSlots::new(2);
        let slow = ConnectionId::generate();
        let other = ConnectionId::generate();
        let first = slots.try_acquire(slow).expect("first");
        let second = slots.try_acquire(slow).expect("second");
        assert!(slots.try_acquire(slow).is_none(), "the cap is 2");
        assert!(
            slots.try_acquire(other).is_some(),
            "other connections are not affected"
        );
        assert_eq!(slots.in_flight(slow), 2);
        drop(first);
        assert_eq!(slots.in_flight(slow), 1);
        let third = slots.try_acquire(slow);
        assert!(third.is_some());
        drop((second, third));
        assert_eq!(slots.in_flight(slow), 0);
    }
}

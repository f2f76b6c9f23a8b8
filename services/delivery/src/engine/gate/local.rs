//! Per-connection slots inside this process: at most
//! `delivery.max_in_flight_per_connection` attempts to one connection at
//! once, so a destination that hangs until every request times out can
//! hold only its share of `delivery.max_in_flight` and never starve the
//! others (convoy #1926). A slot is freed when its [`LocalSlot`] drops.
//!
//! A job that finds its connection full before it is claimed waits in the
//! connection's list (`engine::waiting`); one that lost the race for the
//! last slot after its claim is parked for [`super::LOCAL_WAIT`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use switchyard_core::ids::ConnectionId;

#[derive(Debug)]
pub struct LocalSlots {
    cap: usize,
    taken: Mutex<HashMap<ConnectionId, usize>>,
}

impl LocalSlots {
    pub fn new(cap: usize) -> Arc<Self> {
        Arc::new(Self {
            cap: cap.max(1),
            taken: Mutex::default(),
        })
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

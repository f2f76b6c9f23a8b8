//! Pacing a backfill to its rate: a token bucket in GCRA form. Each page
//! of `n` events pushes a theoretical arrival time (`tat`) forward by
//! `n / rate`; a page may start once `tat` is no more than `burst` ahead
//! of now. After an idle spell `tat` restarts from now, so no credit piles
//! up beyond one burst. (`governor` does this too, but it is not among our
//! dependencies and the worker needs one bucket per backfill, not a keyed
//! limiter: a dozen lines do.)

use std::time::{Duration, Instant};

pub struct Pacer {
    per_event: Duration,
    burst: Duration,
    tat: Option<Instant>,
}

impl Pacer {
    /// `rate` events a second, `burst` events at once at most.
    pub fn new(rate: u32, burst: u32) -> Self {
        let per_event = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
        Self {
            per_event,
            burst: per_event * burst.max(1),
            tat: None,
        }
    }

    /// How long to wait, from `now`, before handling `events` more events.
    pub fn delay(&mut self, events: u32, now: Instant) -> Duration {
        let tat = self.tat.map_or(now, |tat| tat.max(now));
        let next = tat + self.per_event * events;
        self.tat = Some(next);
        // The page may start once it fits in the burst.
        next.saturating_duration_since(now)
            .saturating_sub(self.burst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_pages_to_the_rate_after_one_burst() {
        let start = Instant::now();
        let mut pacer = Pacer::new(50, 10);
        // The first page of a burst goes at once.
        assert_eq!(pacer.delay(10, start), Duration::ZERO);
        // 200 events at 50/s, asked for all at once: the last page waits
        // 3.8 s (4 s of events less the 0.2 s burst).
        let mut last = Duration::ZERO;
        for _ in 1..20 {
            last = pacer.delay(10, start);
        }
        assert_eq!(last, Duration::from_millis(3800));
    }

    #[test]
    fn idle_time_does_not_pile_up_credit() {
        let start = Instant::now();
        let mut pacer = Pacer::new(10, 1);
        assert_eq!(pacer.delay(1, start), Duration::ZERO);
        let later = start + Duration::from_secs(60);
        assert_eq!(pacer.delay(1, later), Duration::ZERO);
        assert_eq!(pacer.delay(1, later), Duration::from_millis(100));
    }
}

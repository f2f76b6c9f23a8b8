//! *When* the next attempt happens, once [`super::retry`] has decided there
//! should be one.
//!
//! `delivery.retry_schedule[n]` is the delay before attempt `n + 1`: entry 0
//! is the first attempt (the router enqueues it at once), so after attempt
//! `k` fails the next delay is `schedule[k]`, and after attempt
//! `schedule.len()` fails the delivery is dead. Every non-zero delay gets
//! ±20 % uniform jitter so that deliveries failing together (an outage of
//! one receiver) do not all come back at the same instant. A `Retry-After`
//! from the receiver may lengthen a delay, up to the longest entry of the
//! schedule.

use std::time::Duration;

use rand::Rng;

/// Relative jitter applied to every non-zero delay.
const JITTER: f64 = 0.2;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// Try again after this delay.
    RetryAfter(Duration),
    /// No attempts are left: the delivery is dead.
    GiveUp,
}

#[derive(Clone, Debug)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
}

impl RetrySchedule {
    pub fn new(delays: Vec<Duration>) -> Self {
        debug_assert!(
            !delays.is_empty(),
            "Config::validate refuses an empty schedule"
        );
        Self { delays }
    }

    /// What follows the failure of attempt `attempt` (1 for the first),
    /// honouring the receiver's `retry_after` when it asks for more time.
    pub fn after_failure(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        rng: &mut impl Rng,
    ) -> Next {
        let index = usize::try_from(attempt).unwrap_or(usize::MAX);
        let Some(&delay) = self.delays.get(index) else {
            return Next::GiveUp;
        };
        let jittered = jitter(delay, rng);
        let longest = self.delays.iter().copied().max().unwrap_or(delay);
        let requested = retry_after.map_or(Duration::ZERO, |wanted| wanted.min(longest));
        Next::RetryAfter(jittered.max(requested))
    }
}

/// `delay` scaled by a uniform factor in [0.8, 1.2]; zero stays zero.
pub fn jitter(delay: Duration, rng: &mut impl Rng) -> Duration {
    if delay.is_zero() {
        return delay;
    }
    delay.mul_f64(rng.random_range(1.0 - JITTER..=1.0 + JITTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> RetrySchedule {
        RetrySchedule::new(vec![
            Duration::ZERO,
            Duration::from_secs(5),
            Duration::from_secs(300),
        ])
    }

    #[test]
    fn next_delay_is_the_entry_after_the_failed_attempt() {
        let mut rng = rand::rng();
        let Next::RetryAfter(after_first) = schedule().after_failure(1, None, &mut rng) else {
            panic!("attempt 1 of 3 must be retried");
        };
        assert!(after_first >= Duration::from_secs(4) && after_first <= Duration::from_secs(6));
        let Next::RetryAfter(after_second) = schedule().after_failure(2, None, &mut rng) else {
            panic!("attempt 2 of 3 must be retried");
        };
        assert!(after_second >= Duration::from_secs(240));
        assert!(after_second <= Duration::from_secs(360));
    }

    #[test]
    fn dead_after_the_last_attempt() {
        let mut rng = rand::rng();
        assert_eq!(schedule().after_failure(3, None, &mut rng), Next::GiveUp);
        assert_eq!(schedule().after_failure(7, None, &mut rng), Next::GiveUp);
        let single = RetrySchedule::new(vec![Duration::ZERO]);
        assert_eq!(single.after_failure(1, None, &mut rng), Next::GiveUp);
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let mut rng = rand::rng();
        let base = Duration::from_secs(100);
        let mut seen_low = false;
        let mut seen_high = false;
        for _ in 0..10_000 {
            let delay = jitter(base, &mut rng);
            assert!(delay >= Duration::from_secs(80), "{delay:?} below -20%");
            assert!(delay <= Duration::from_secs(120), "{delay:?} above +20%");
            seen_low |= delay < Duration::from_secs(90);
            seen_high |= delay > Duration::from_secs(110);
        }
        assert!(
            seen_low && seen_high,
            "jitter should spread over the whole band"
        );
    }

    #[test]
    fn zero_delays_are_not_jittered() {
        let mut rng = rand::rng();
        assert_eq!(jitter(Duration::ZERO, &mut rng), Duration::ZERO);
        let immediate = RetrySchedule::new(vec![Duration::ZERO, Duration::ZERO]);
        assert_eq!(
            immediate.after_failure(1, None, &mut rng),
            Next::RetryAfter(Duration::ZERO)
        );
    }

    #[test]
    fn retry_after_lengthens_but_is_capped_by_the_longest_delay() {
        let mut rng = rand::rng();
        let asked = schedule().after_failure(1, Some(Duration::from_secs(60)), &mut rng);
        assert_eq!(asked, Next::RetryAfter(Duration::from_secs(60)));
        let greedy = schedule().after_failure(1, Some(Duration::from_secs(86_400)), &mut rng);
        assert_eq!(greedy, Next::RetryAfter(Duration::from_secs(300)));
        let Next::RetryAfter(short) = schedule().after_failure(1, Some(Duration::ZERO), &mut rng)
        else {
            panic!("must be retried");
        };
        assert!(short >= Duration::from_secs(4));
    }
}

//! *When* the next attempt happens, once [`super::retry`] has decided there
//! should be one.
//!
//! - [`RetrySchedule::Fixed`] is `delivery.retry_schedule`: entry `n` is
//!   the delay before attempt `n + 1`; entry 0 is the first attempt (the
//!   router enqueues it at once), so after attempt `k` fails the next delay
//!   is `schedule[k]`, and after attempt `schedule.len()` the delivery is
//!   dead.
//! - [`RetrySchedule::Exponential`]: after attempt `k` fails the delay is
//!   `initial × factor^(k-1)`, at most `cap`; after `max_attempts` attempts
//!   the delivery is dead.
//!
//! Every non-zero delay gets ±20 % uniform jitter
//! (`switchyard_core::jitter`) so that deliveries failing
//! together (an outage of one receiver) do not all come back at the same
//! instant. A `Retry-After` from the receiver may lengthen a delay, up to
//! the longest delay of the schedule (the cap): a receiver cannot park a
//! delivery for a week, nor make us retry sooner than planned.
//!
//! A manual retry or a replay of a dead delivery is one more attempt: if it
//! fails too, the schedule has nothing left and the delivery is dead again.

use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use switchyard_core::jitter::jitter;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Next {
    /// Try again after this delay.
    RetryAfter(Duration),
    /// No attempts are left: the delivery is dead.
    GiveUp,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RetrySchedule {
    Fixed(Arc<[Duration]>),
    Exponential {
        initial: Duration,
        factor: f64,
        cap: Duration,
        max_attempts: u32,
    },
}

impl RetrySchedule {
    pub fn fixed(delays: Vec<Duration>) -> Self {
        debug_assert!(
            !delays.is_empty(),
            "Config::validate refuses an empty schedule"
        );
        Self::Fixed(delays.into())
    }

    /// What follows the failure of attempt `attempt` (1 for the first),
    /// honouring the receiver's `retry_after` when it asks for more time.
    pub fn after_failure(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        rng: &mut impl Rng,
    ) -> Next {
        let (delay, longest) = match self {
            Self::Fixed(delays) => {
                let index = usize::try_from(attempt).unwrap_or(usize::MAX);
                let Some(&delay) = delays.get(index) else {
                    return Next::GiveUp;
                };
                (delay, delays.iter().copied().max().unwrap_or(delay))
            }
            Self::Exponential {
                initial,
                factor,
                cap,
                max_attempts,
            } => {
                if attempt >= *max_attempts {
                    return Next::GiveUp;
                }
                let exponent = i32::try_from(attempt.saturating_sub(1)).unwrap_or(i32::MAX);
                let scaled = initial.as_secs_f64() * factor.powi(exponent);
                let delay = if scaled.is_finite() && scaled < cap.as_secs_f64() {
                    Duration::from_secs_f64(scaled)
                } else {
                    *cap
                };
                (delay, *cap)
            }
        };
        let jittered = jitter(delay, rng);
        let requested = retry_after.map_or(Duration::ZERO, |wanted| wanted.min(longest));
        Next::RetryAfter(jittered.max(requested))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schedule() -> RetrySchedule {
        RetrySchedule::fixed(vec![
            Duration::ZERO,
            Duration::from_secs(5),
            Duration::from_secs(300),
        ])
    }

    fn exponential() -> RetrySchedule {
        RetrySchedule::Exponential {
            initial: Duration::from_secs(1),
            factor: 2.0,
            cap: Duration::from_secs(10),
            max_attempts: 6,
        }
    }

    fn between(next: Next, low: f64, high: f64) -> bool {
        matches!(next, Next::RetryAfter(d) if d.as_secs_f64() >= low && d.as_secs_f64() <= high)
    }

    #[test]
    fn next_delay_is_the_entry_after_the_failed_attempt() {
        let mut rng = rand::rng();
        assert!(between(
            schedule().after_failure(1, None, &mut rng),
            4.0,
            6.0
        ));
        assert!(between(
            schedule().after_failure(2, None, &mut rng),
            240.0,
            360.0
        ));
    }

    #[test]
    fn dead_after_the_last_attempt() {
        let mut rng = rand::rng();
        assert_eq!(schedule().after_failure(3, None, &mut rng), Next::GiveUp);
        assert_eq!(schedule().after_failure(7, None, &mut rng), Next::GiveUp);
        let single = RetrySchedule::fixed(vec![Duration::ZERO]);
        assert_eq!(single.after_failure(1, None, &mut rng), Next::GiveUp);
        assert_eq!(exponential().after_failure(6, None, &mut rng), Next::GiveUp);
    }

    #[test]
    fn exponential_delays_grow_by_the_factor_up_to_the_cap() {
        let mut rng = rand::rng();
        let expected = [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0)];
        for (attempt, seconds) in expected {
            let next = exponential().after_failure(attempt, None, &mut rng);
            assert!(
                between(next.clone(), seconds * 0.8, seconds * 1.2),
                "attempt {attempt}: {next:?}"
            );
        }
        let huge = RetrySchedule::Exponential {
            initial: Duration::from_secs(1),
            factor: 10.0,
            cap: Duration::from_secs(60),
            max_attempts: 100,
        };
        assert!(between(huge.after_failure(99, None, &mut rng), 48.0, 72.0));
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
        let immediate = RetrySchedule::fixed(vec![Duration::ZERO, Duration::ZERO]);
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
        assert!(between(
            schedule().after_failure(1, Some(Duration::ZERO), &mut rng),
            4.0,
            6.0
        ));
        let capped = exponential().after_failure(1, Some(Duration::from_secs(3600)), &mut rng);
        assert_eq!(capped, Next::RetryAfter(Duration::from_secs(10)));
    }
}

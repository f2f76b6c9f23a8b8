//! The one jitter of Switchyard: waits spread at random so that work failing
//! or held back together (an outage of one receiver, a full connection)
//! does not all come back at the same instant. The retry schedule and the
//! delivery gate's holds use it.

use std::time::Duration;

use rand::Rng;

/// Relative spread of a jittered wait: ±20 %.
pub const JITTER: f64 = 0.2;

/// `delay` scaled by a uniform factor in [0.8, 1.2]; zero stays zero.
pub fn jitter(delay: Duration, rng: &mut impl Rng) -> Duration {
    if delay.is_zero() {
        return delay;
    }
    delay.mul_f64(rng.random_range(1.0 - JITTER..=1.0 + JITTER))
}

/// `delay` lengthened by up to 20 % (never shortened), for a wait that must
/// not end early: attempts held by an open breaker do not all come back at
/// the instant it half-opens.
pub fn lengthen(delay: Duration, rng: &mut impl Rng) -> Duration {
    delay.mul_f64(rng.random_range(1.0..=1.0 + JITTER))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengthen_stays_within_twenty_percent_above() {
        let mut rng = rand::rng();
        let base = Duration::from_secs(100);
        for _ in 0..1_000 {
            let delay = lengthen(base, &mut rng);
            assert!(delay >= base, "{delay:?} shortened");
            assert!(delay <= Duration::from_secs(120), "{delay:?} above +20%");
        }
        assert_eq!(lengthen(Duration::ZERO, &mut rng), Duration::ZERO);
    }
}

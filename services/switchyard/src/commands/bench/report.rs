//! The bench's JSON report: throughput, latency percentiles and the
//! correctness counters (duplicates, signature failures, attempts
//! recorded).

use std::time::Duration;

use serde_json::{Value, json};

/// `p` (0–100) of sorted `values`, nearest rank; 0 when empty.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// p50/p95/p99/max of microsecond samples, in milliseconds.
pub fn latency_summary(mut samples_us: Vec<u64>) -> Value {
    samples_us.sort_unstable();
    let ms = |us: u64| (us as f64 / 1000.0 * 100.0).round() / 100.0;
    json!({
        "p50": ms(percentile(&samples_us, 50.0)),
        "p95": ms(percentile(&samples_us, 95.0)),
        "p99": ms(percentile(&samples_us, 99.0)),
        "max": ms(samples_us.last().copied().unwrap_or(0)),
        "samples": samples_us.len(),
    })
}

/// First deliveries per whole second since the bench started.
pub fn per_second(arrivals: &[Duration]) -> Vec<u64> {
    let seconds = arrivals
        .iter()
        .map(Duration::as_secs)
        .max()
        .map_or(0, |s| s + 1);
    let mut counts = vec![0u64; usize::try_from(seconds).unwrap_or(0)];
    for arrival in arrivals {
        if let Some(slot) = usize::try_from(arrival.as_secs())
            .ok()
            .and_then(|s| counts.get_mut(s))
        {
            *slot += 1;
        }
    }
    counts
}

/// Rounds to two decimals for the report.
pub fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&values, 50.0), 50);
        assert_eq!(percentile(&values, 99.0), 99);
        assert_eq!(percentile(&values, 100.0), 100);
        assert_eq!(percentile(&[], 50.0), 0);
        assert_eq!(percentile(&[7], 99.0), 7);
    }

    #[test]
    fn counts_arrivals_per_second() {
        let arrivals = [
            Duration::from_millis(100),
            Duration::from_millis(900),
            Duration::from_millis(2500),
        ];
        assert_eq!(per_second(&arrivals), vec![2, 0, 1]);
        assert!(per_second(&[]).is_empty());
    }

    #[test]
    fn summarises_latencies_in_milliseconds() {
        let summary = latency_summary(vec![3000, 1000, 2000]);
        assert_eq!(summary["p50"], 2.0);
        assert_eq!(summary["max"], 3.0);
        assert_eq!(summary["samples"], 3);
    }
}

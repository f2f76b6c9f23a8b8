//! Adaptive concurrency: against a destination that slows down as it gets
//! busier and answers 429 above its capacity, the connection's limit —
//! shared by two delivery processes — settles near that capacity, never
//! lets more requests out than the policy's max, and every delivery
//! arrives.

use crate::common;

use std::time::Duration;

use common::TestEnv;
use common::receiver::{Capacity, Receiver};

const CAPACITY: usize = 6;
const MAX: usize = 16;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_limit_settles_near_what_the_destination_copes_with() {
    let env = TestEnv::new().await;
    let receiver = Receiver::with_capacity(Capacity {
        limit: CAPACITY,
        base: Duration::from_millis(20),
        step: Duration::from_millis(4),
    })
    .await;
    let policy = serde_json::json!({
        "adaptive_concurrency": { "min": 1, "max": MAX },
        "retry": { "kind": "exponential", "initial_ms": 20, "factor": 1.5, "cap_ms": 200, "max_attempts": 60 },
        "circuit_breaker": { "failure_threshold": 0 }
    });
    let (connection, _) = env.connection_with_policy(&receiver.url, policy).await;
    let deliveries = env.deliveries_to(connection, 400).await;
    for delivery in &deliveries {
        env.enqueue_for(connection, *delivery).await;
    }
    let mut config = env.config();
    config.delivery.max_in_flight = 64;
    config.delivery.max_in_flight_per_connection = 64;
    let first = env.start(&config).await;
    let second = env.start(&config).await;

    // The limit as the replicas share it, sampled once the first 100
    // deliveries are through (the climb from min is over).
    let mut samples = Vec::new();
    let deadline = tokio::time::Instant::now() + common::PATIENCE;
    loop {
        let delivered = env.count_with_status(&deliveries, "succeeded").await;
        if delivered == deliveries.len() {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {delivered} delivered"
        );
        if delivered >= 100
            && let Some(limit) = env.breaker(connection).await.adaptive_limit
        {
            samples.push(limit);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.stop().await;
    second.stop().await;

    assert!(samples.len() >= 5, "too few samples: {samples:?}");
    let mean = samples.iter().sum::<f64>() / samples.len() as f64;
    println!(
        "adaptive limit: mean {mean:.2} over {} samples, min {:.2}, max {:.2}; receiver saw at most {} at once",
        samples.len(),
        samples.iter().copied().fold(f64::MAX, f64::min),
        samples.iter().copied().fold(0.0, f64::max),
        receiver.max_in_flight()
    );
    // AIMD saws between about half the capacity and just above it.
    assert!(
        (CAPACITY as f64 / 2.0 - 1.0..=CAPACITY as f64 + 2.0).contains(&mean),
        "the limit did not settle near {CAPACITY}: mean {mean:.2} of {samples:?}"
    );
    assert!(
        receiver.max_in_flight() <= MAX,
        "{} requests at once, above the max {MAX}",
        receiver.max_in_flight()
    );
    assert!(
        samples
            .iter()
            .all(|limit| (1.0..=MAX as f64).contains(limit)),
        "the limit left [min, max]: {samples:?}"
    );
}

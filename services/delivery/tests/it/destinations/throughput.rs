//! Deliveries per second to one HubSpot connection (a local fake that
//! answers at once), with batch upserts and with one request per delivery.
//! A measurement, not a check: `cargo test -p switchyard-delivery --test
//! it throughput -- --ignored --nocapture --test-threads 1`.

use std::time::{Duration, Instant};

use serde_json::json;
use switchyard_tenancy::secrets::SecretField;

use crate::common::TestEnv;
use crate::common::fake_api::{Answer, FakeApi};

const DELIVERIES: usize = 2000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run explicitly"]
async fn deliveries_per_second_to_one_hubspot_connection_batched() {
    measure(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; run explicitly"]
async fn deliveries_per_second_to_one_hubspot_connection_unbatched() {
    measure(false).await;
}

async fn measure(batch: bool) {
    let env = TestEnv::new().await;
    let api = FakeApi::start(vec![Answer::json(
        200,
        json!({"status": "COMPLETE", "results": []}),
    )])
    .await;
    let connection = env
        .insert_saas_connection(
            "hubspot",
            json!({"base_url": api.base_url, "batch": batch}),
            (SecretField::Token, "pat-bench"),
        )
        .await;
    for n in 0..DELIVERIES {
        env.deliver_to(
            connection,
            &json!({"email": format!("lead{n}@example.com")}),
        )
        .await;
    }
    let started = Instant::now();
    let app = env.start(&env.config()).await;
    let client = env.pool.get().await.expect("client");
    loop {
        let done: i64 = client
            .query_one(
                "SELECT count(*) FROM deliveries WHERE status = 'succeeded'",
                &[],
            )
            .await
            .expect("count")
            .get(0);
        if done as usize >= DELIVERIES {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "only {done} delivered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let calls = api.calls();
    println!(
        "batching {}: {DELIVERIES} HubSpot deliveries in {:.2} s: {:.0} deliveries/s, {} requests",
        if batch { "on" } else { "off" },
        elapsed.as_secs_f64(),
        DELIVERIES as f64 / elapsed.as_secs_f64(),
        calls.len()
    );
    let inputs: usize = calls
        .iter()
        .map(|call| call.body["inputs"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(inputs, DELIVERIES, "every delivery sent exactly once");
    app.stop().await;
}

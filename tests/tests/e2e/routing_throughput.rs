//! Routing throughput end to end: EmitEvent → ingest → router → Redis, with
//! three rules per event (two with a condition and a mapping, one plain).
//! The delivery service is not started, so the figure is routing alone.
//!
//! `cargo test --release -p switchyard-tests --test routing_throughput -- --ignored --nocapture`
//! (`ROUTING_EVENTS` and `ROUTING_CONCURRENCY` change the load).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures::StreamExt;
use switchyard_client::proto;
use switchyard_tests::{LEAD_CREATED, Service, TestStack};

fn setting(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a measurement: run it on purpose, in release"]
async fn routing_throughput_with_three_rules_per_event() -> anyhow::Result<()> {
    // Warnings and errors of the services, to tell why a run failed.
    switchyard_core::telemetry::init_logging_with_default(
        switchyard_core::config::LogFormat::Text,
        "warn",
    );
    let events = setting("ROUTING_EVENTS", 5_000);
    let concurrency = setting("ROUTING_CONCURRENCY", 64);
    // The test configuration's pools (8 connections per service): Postgres
    // is shared with whatever else runs on the machine.
    let stack = TestStack::start_with(
        &[Service::Registry, Service::Ingest, Service::Router],
        |_| {},
    )
    .await?;
    stack.register_lead_schema().await?;
    let rules = [
        (
            "event.payload.amount > 10",
            r#"{"email": event.payload.email, "amount": event.payload.amount}"#,
        ),
        (
            r#"event.payload.source == "ads""#,
            r#"{"id": event.payload.id, "source": event.payload.source}"#,
        ),
        ("", ""),
    ];
    for (index, (condition, mapping)) in rules.iter().enumerate() {
        let connection = stack
            .client
            .create_webhook(
                &format!("sink-{index}"),
                "http://127.0.0.1:9/sink",
                HashMap::new(),
            )
            .await?;
        stack
            .client
            .router
            .clone()
            .create_rule(proto::CreateRuleRequest {
                event_type: LEAD_CREATED.into(),
                connection_id: connection.id,
                condition: (*condition).into(),
                mapping: (*mapping).into(),
                ..Default::default()
            })
            .await?;
    }

    let started = Instant::now();
    let results: Vec<anyhow::Result<()>> = futures::stream::iter(0..events)
        .map(|n| {
            let client = stack.client.clone();
            async move {
                let payload = serde_json::json!({
                    "id": format!("lead_{n}"),
                    "email": format!("lead{n}@example.com"),
                    "amount": 100 + n,
                    "source": "ads"
                });
                client.emit(LEAD_CREATED, &payload).await?;
                Ok(())
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    for result in results {
        result?;
    }
    let expected = i64::try_from(events * 3)?;
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let enqueued = stack
            .count("SELECT count(*) FROM deliveries WHERE enqueued_at IS NOT NULL")
            .await?;
        if enqueued >= expected {
            break;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "only {enqueued} of {expected} jobs enqueued"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = started.elapsed();
    let bodies = stack
        .count("SELECT count(*) FROM deliveries WHERE body IS NOT NULL")
        .await?;
    assert_eq!(bodies, i64::try_from(events * 2)?, "two of three rules map");
    println!(
        "routed {events} events ({} deliveries, {} jobs) in {:.2} s: {:.0} events/s, concurrency {concurrency}",
        events * 3,
        events * 3,
        elapsed.as_secs_f64(),
        events as f64 / elapsed.as_secs_f64()
    );
    stack.stop().await
}

//! Per-key ordering and adaptive concurrency through the four real
//! services: a rule keys its deliveries, the connection's policy orders
//! them, and the receiver gets each account's events in the order they were
//! emitted; the adaptive limit grows on successes and is shown by
//! `GetConnection` and `/metrics`.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use switchyard::receiver::{Behaviour, Receiver};
use switchyard_client::proto;
use switchyard_tests::{LEAD_CREATED, TestStack};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keyed_events_arrive_in_emit_order_and_the_limit_adapts() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    let receiver =
        Receiver::start(SocketAddr::from(([127, 0, 0, 1], 0)), Behaviour::default()).await?;
    let policy = proto::DeliveryPolicy {
        ordering: Some(proto::OrderingPolicy {
            dead_letter: proto::DeadLetterOrdering::Skip.into(),
        }),
        adaptive_concurrency: Some(proto::AdaptiveConcurrency { min: 2, max: 12 }),
        ..Default::default()
    };
    let connection = stack
        .client
        .create_webhook_with_policy(
            "ordered",
            &receiver.url("/hook"),
            HashMap::new(),
            Some(policy),
        )
        .await?;
    receiver.set_secret(&connection.signing_secret);
    stack
        .client
        .router
        .clone()
        .create_rule(proto::CreateRuleRequest {
            event_type: LEAD_CREATED.to_string(),
            connection_id: connection.id.clone(),
            ordering_key: "event.payload.id".to_string(),
            ..Default::default()
        })
        .await?;

    // Four accounts, ten events each, emitted interleaved without waiting:
    // each account's own events one after another.
    let accounts = ["acct_a", "acct_b", "acct_c", "acct_d"];
    let mut emitters = Vec::new();
    for account in accounts {
        let client = stack.client.clone();
        emitters.push(tokio::spawn(async move {
            for n in 0..10 {
                let payload =
                    serde_json::json!({ "id": account, "email": format!("{n}@example.com") });
                client.emit(LEAD_CREATED, &payload).await?;
            }
            anyhow::Ok(())
        }));
    }
    for emitter in emitters {
        emitter.await??;
    }
    let received = receiver.wait_for(40, Duration::from_secs(30)).await?;
    let mut per_account: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for webhook in &received {
        let body = webhook.json()?;
        per_account
            .entry(body["id"].as_str().unwrap_or_default().to_string())
            .or_default()
            .push(body["email"].as_str().unwrap_or_default().to_string());
    }
    for account in accounts {
        let expected: Vec<String> = (0..10).map(|n| format!("{n}@example.com")).collect();
        assert_eq!(per_account.get(account), Some(&expected), "{account}");
    }

    // Forty successes moved the limit up from its min, within its max.
    let read = stack
        .client
        .router
        .clone()
        .get_connection(proto::GetConnectionRequest {
            id: connection.id.clone(),
        })
        .await?
        .into_inner()
        .connection
        .expect("connection");
    assert!(
        (3..=12).contains(&read.concurrency_limit),
        "limit {}",
        read.concurrency_limit
    );
    let metrics_addr = stack.stack.metrics_addr().expect("metrics served");
    let metrics = reqwest::get(format!("http://{metrics_addr}/metrics"))
        .await?
        .text()
        .await?;
    let line = metrics
        .lines()
        .find(|line| {
            line.starts_with("switchyard_connection_concurrency_limit")
                && line.contains(&connection.id)
        })
        .unwrap_or_else(|| panic!("no concurrency limit in /metrics:\n{metrics}"));
    let value: f64 = line.rsplit(' ').next().unwrap_or_default().parse()?;
    assert!((2.0..=12.0).contains(&value), "{line}");
    stack.stop().await?;
    Ok(())
}

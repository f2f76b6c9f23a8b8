//! Dead letters over real gRPC: `ListDeliveries` filters (status,
//! connection, time range) with paging, `RetryDelivery` (a manual attempt)
//! and `ReplayDeadLetters` (replay attempts, counted).

use crate::common;

use common::receiver::{Receiver, Reply};
use common::{TestEnv, authorized};
use switchyard_core::time::to_proto;
use switchyard_proto::v1::{
    AttemptTrigger, DeliveryStatus, GetDeliveryRequest, ListDeliveriesRequest,
    ReplayDeadLettersRequest, RetryDeliveryRequest,
};
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dead_letters_are_listed_retried_and_replayed() {
    let env = TestEnv::new().await;
    // Three failures make three dead letters; every later request succeeds.
    let failing = Receiver::start(vec![
        Reply::status(500),
        Reply::status(500),
        Reply::status(500),
        Reply::status(204),
    ])
    .await;
    let healthy = Receiver::start(vec![Reply::status(204)]).await;
    let one_attempt = serde_json::json!({
        "retry": { "kind": "exponential", "initial_ms": 100, "factor": 1.0, "cap_ms": 100, "max_attempts": 1 }
    });
    let (broken, _) = env.connection_with_policy(&failing.url, one_attempt).await;
    let (fine, _) = env
        .connection_with_policy(&healthy.url, serde_json::json!({}))
        .await;
    let before = chrono::Utc::now();
    let dead = env.deliveries_to(broken, 3).await;
    let delivered = env.deliveries_to(fine, 1).await;
    let app = env.start(&env.config()).await;
    env.enqueue_all(&dead).await;
    env.enqueue_all(&delivered).await;
    env.wait_for_all(&dead, "dead").await;
    env.wait_for_all(&delivered, "succeeded").await;
    let mut client = app.client().await;

    // Dead letters of the broken connection, two per page, newest first.
    let mut pages = Vec::new();
    let mut token = String::new();
    loop {
        let request = ListDeliveriesRequest {
            status: DeliveryStatus::Dead.into(),
            connection_id: broken.to_string(),
            page_size: 2,
            page_token: token.clone(),
            ..Default::default()
        };
        let page = client
            .list_deliveries(authorized(&env.api_key, request))
            .await
            .expect("list")
            .into_inner();
        assert!(
            page.deliveries
                .iter()
                .all(|d| d.status() == DeliveryStatus::Dead)
        );
        pages.push(
            page.deliveries
                .iter()
                .map(|d| d.id.clone())
                .collect::<Vec<_>>(),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let mut newest_first: Vec<String> = dead.iter().map(ToString::to_string).collect();
    newest_first.reverse();
    assert_eq!(
        pages,
        vec![newest_first[..2].to_vec(), newest_first[2..].to_vec()]
    );

    let count = |request: ListDeliveriesRequest| {
        let mut client = client.clone();
        let key = env.api_key.clone();
        async move {
            client
                .list_deliveries(authorized(&key, request))
                .await
                .expect("list")
                .into_inner()
                .deliveries
                .len()
        }
    };
    let dead_anywhere = ListDeliveriesRequest {
        status: DeliveryStatus::Dead.into(),
        ..Default::default()
    };
    assert_eq!(count(dead_anywhere.clone()).await, 3);
    let created_before = ListDeliveriesRequest {
        until: Some(to_proto(before)),
        ..dead_anywhere.clone()
    };
    assert_eq!(count(created_before).await, 0);
    let created_since = ListDeliveriesRequest {
        since: Some(to_proto(before)),
        ..Default::default()
    };
    assert_eq!(count(created_since).await, 4);
    let bad = ListDeliveriesRequest {
        connection_id: "con_nope".to_string(),
        ..Default::default()
    };
    let status = client
        .list_deliveries(authorized(&env.api_key, bad))
        .await
        .expect_err("bad id");
    assert_eq!(status.code(), Code::InvalidArgument);

    // One dead letter retried by hand.
    let retried = client
        .retry_delivery(authorized(
            &env.api_key,
            RetryDeliveryRequest {
                id: dead[0].to_string(),
            },
        ))
        .await
        .expect("retry")
        .into_inner()
        .delivery
        .expect("delivery");
    assert_eq!(retried.status(), DeliveryStatus::Retrying);
    env.wait_for_status(dead[0], "succeeded").await;
    let history = client
        .get_delivery(authorized(
            &env.api_key,
            GetDeliveryRequest {
                id: dead[0].to_string(),
            },
        ))
        .await
        .expect("get")
        .into_inner();
    let triggers: Vec<(u32, u32, AttemptTrigger)> = history
        .attempts
        .iter()
        .map(|a| (a.attempt, a.status_code, a.trigger()))
        .collect();
    assert_eq!(
        triggers,
        vec![
            (1, 500, AttemptTrigger::Scheduled),
            (2, 204, AttemptTrigger::Manual)
        ]
    );
    let again = client
        .retry_delivery(authorized(
            &env.api_key,
            RetryDeliveryRequest {
                id: dead[0].to_string(),
            },
        ))
        .await
        .expect_err("delivered already");
    assert_eq!(again.code(), Code::FailedPrecondition);

    // The other two replayed in bulk.
    let replay = |connection_id: String| ReplayDeadLettersRequest {
        connection_id,
        since: Some(to_proto(before)),
        ..Default::default()
    };
    let replayed = client
        .replay_dead_letters(authorized(&env.api_key, replay(broken.to_string())))
        .await
        .expect("replay")
        .into_inner();
    assert_eq!(replayed.replayed_count, 2);
    env.wait_for_all(&dead[1..], "succeeded").await;
    let replay_rows = env.attempts(dead[2]).await;
    assert_eq!(replay_rows.len(), 2);
    let client_rows = env.pool.get().await.expect("client");
    let trigger: String = client_rows
        .query_one(
            "SELECT trigger FROM delivery_attempts WHERE delivery_id = $1 AND attempt = 2",
            &[&dead[2].as_uuid()],
        )
        .await
        .expect("row")
        .get(0);
    assert_eq!(trigger, "replay");
    assert_eq!(failing.count(), 6);

    let missing = client
        .replay_dead_letters(authorized(&env.api_key, replay(String::new())))
        .await
        .expect_err("connection required");
    assert_eq!(missing.code(), Code::InvalidArgument);
    env.set_connection_state(broken, "paused").await;
    let paused = client
        .replay_dead_letters(authorized(&env.api_key, replay(broken.to_string())))
        .await
        .expect_err("paused");
    assert_eq!(paused.code(), Code::FailedPrecondition);
    app.stop().await;
}

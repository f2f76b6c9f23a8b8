//! `ListDeliveries` and `GetDelivery` over real gRPC, on outcomes produced
//! by the real engine.

use crate::common;

use common::receiver::{Receiver, Reply};
use common::{TestEnv, authorized};
use switchyard_core::ids::DeliveryId;
use switchyard_proto::v1::{DeliveryStatus, GetDeliveryRequest, ListDeliveriesRequest};
use switchyard_tenancy::auth::create_workspace;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn get_delivery_shows_the_delivery_and_its_attempts() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::status(503), Reply::status(202)]).await;
    let seeded = env.seed(&receiver.url).await;
    let app = env.start(&env.config()).await;
    env.enqueue(seeded.delivery).await;
    env.wait_for_status(seeded.delivery, "succeeded").await;

    let mut client = app.client().await;
    let request = GetDeliveryRequest {
        id: seeded.delivery.to_string(),
    };
    let response = client
        .get_delivery(authorized(&env.api_key, request))
        .await
        .expect("get delivery")
        .into_inner();
    let delivery = response.delivery.expect("delivery");
    assert_eq!(delivery.id, seeded.delivery.to_string());
    assert_eq!(delivery.event_id, seeded.event.to_string());
    assert_eq!(delivery.connection_id, seeded.connection.to_string());
    assert!(delivery.rule_id.starts_with("rul_"));
    assert_eq!(delivery.status(), DeliveryStatus::Succeeded);
    assert_eq!(delivery.attempt_count, 2);
    assert_eq!(delivery.event_type, "lead.created");
    assert_eq!(delivery.last_error, "");
    assert!(delivery.created_at.is_some());

    let attempts: Vec<(u32, u32, &str, &str)> = response
        .attempts
        .iter()
        .map(|a| {
            (
                a.attempt,
                a.status_code,
                a.error.as_str(),
                a.response_snippet.as_str(),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        vec![(1, 503, "HTTP 503", "answer 1"), (2, 202, "", "answer 2")]
    );
    for attempt in &response.attempts {
        assert_eq!(attempt.url, receiver.url);
        assert!(attempt.started_at.is_some());
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn list_deliveries_filters_by_event_and_pages_newest_first() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::status(200)]).await;
    let (connection, _) = env
        .insert_connection(&receiver.url, serde_json::json!({}))
        .await;
    let event = env.insert_event(&serde_json::json!({ "n": 1 })).await;
    let other_event = env.insert_event(&serde_json::json!({ "n": 2 })).await;
    let mut of_event = Vec::new();
    for _ in 0..3 {
        of_event.push(env.insert_delivery(event, connection).await);
    }
    let other = env.insert_delivery(other_event, connection).await;
    // No jobs, and a grace period long enough that the sweeper leaves
    // these pending deliveries alone during the test.
    let mut config = env.config();
    config.delivery.visibility_timeout = std::time::Duration::from_secs(60);
    let app = env.start(&config).await;
    let mut client = app.client().await;

    let everything = client
        .list_deliveries(authorized(&env.api_key, ListDeliveriesRequest::default()))
        .await
        .expect("list")
        .into_inner();
    let ids: Vec<String> = everything.deliveries.iter().map(|d| d.id.clone()).collect();
    let mut expected: Vec<String> = of_event
        .iter()
        .chain([&other])
        .map(DeliveryId::to_string)
        .collect();
    expected.reverse();
    assert_eq!(ids, expected, "newest first");
    assert_eq!(everything.next_page_token, "");
    assert_eq!(everything.deliveries[0].status(), DeliveryStatus::Pending);
    assert!(everything.deliveries[0].next_attempt_at.is_some());

    let mut pages = Vec::new();
    let mut token = String::new();
    loop {
        let request = ListDeliveriesRequest {
            event_id: event.to_string(),
            page_size: 2,
            page_token: token.clone(),
            ..Default::default()
        };
        let page = client
            .list_deliveries(authorized(&env.api_key, request))
            .await
            .expect("page")
            .into_inner();
        assert!(
            page.deliveries
                .iter()
                .all(|d| d.event_id == event.to_string())
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
    let mut expected: Vec<String> = of_event.iter().map(DeliveryId::to_string).collect();
    expected.reverse();
    assert_eq!(pages, vec![expected[..2].to_vec(), expected[2..].to_vec()]);

    let bad_event = ListDeliveriesRequest {
        event_id: other.to_string(),
        ..Default::default()
    };
    let status = client
        .list_deliveries(authorized(&env.api_key, bad_event))
        .await
        .expect_err("a delivery id is not an event id");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("event_id:"),
        "{}",
        status.message()
    );

    let bad_token = ListDeliveriesRequest {
        page_token: "garbage".to_string(),
        ..Default::default()
    };
    let status = client
        .list_deliveries(authorized(&env.api_key, bad_token))
        .await
        .expect_err("garbage token");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("page_token:"),
        "{}",
        status.message()
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deliveries_of_another_workspace_are_not_found() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::status(200)]).await;
    let seeded = env.seed(&receiver.url).await;
    let (_, other_key) = create_workspace(
        &env.pool,
        &switchyard_tenancy::auth::KeyHasher::new(None),
        "globex",
    )
    .await
    .expect("workspace");
    let app = env.start(&env.config()).await;
    let mut client = app.client().await;

    let request = GetDeliveryRequest {
        id: seeded.delivery.to_string(),
    };
    let status = client
        .get_delivery(authorized(&other_key, request))
        .await
        .expect_err("another workspace's delivery");
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(
        status.message(),
        format!("delivery {} not found", seeded.delivery)
    );

    let listed = client
        .list_deliveries(authorized(&other_key, ListDeliveriesRequest::default()))
        .await
        .expect("list")
        .into_inner();
    assert!(listed.deliveries.is_empty());

    let missing = GetDeliveryRequest {
        id: DeliveryId::generate().to_string(),
    };
    let status = client
        .get_delivery(authorized(&env.api_key, missing))
        .await
        .expect_err("no such delivery");
    assert_eq!(status.code(), Code::NotFound);

    let malformed = GetDeliveryRequest {
        id: seeded.event.to_string(),
    };
    let status = client
        .get_delivery(authorized(&env.api_key, malformed))
        .await
        .expect_err("an event id is not a delivery id");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("id:"), "{}", status.message());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn calls_without_a_valid_key_are_unauthenticated() {
    let env = TestEnv::new().await;
    let app = env.start(&env.config()).await;
    let mut client = app.client().await;

    let status = client
        .list_deliveries(ListDeliveriesRequest::default())
        .await
        .expect_err("no key");
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = client
        .get_delivery(GetDeliveryRequest {
            id: DeliveryId::generate().to_string(),
        })
        .await
        .expect_err("no key");
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = client
        .list_deliveries(authorized(
            "sy_live_wrong",
            ListDeliveriesRequest::default(),
        ))
        .await
        .expect_err("wrong key");
    assert_eq!(status.code(), Code::Unauthenticated);
    app.stop().await;
}

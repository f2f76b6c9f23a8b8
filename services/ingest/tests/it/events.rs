//! `ListEvents` and `GetEvent`: newest first, paged by the one rule every
//! `List*` RPC follows (`switchyard_core::paging`), filtered by type, and
//! scoped to the caller's workspace.

use serde_json::json;
use switchyard_client::{Client, proto};
use switchyard_tenancy::auth;
use tonic::Code;

use crate::common::{Harness, LEAD, lead};
use crate::group_commit::accepted;

const ORDER: &str = "order.placed";

async fn emit_ids(harness: &Harness, events: Vec<proto::EmitEventRequest>) -> Vec<String> {
    let mut ids = Vec::new();
    // One call each, so the ids (UUIDv7) follow the emit order.
    for event in events {
        let results = harness.client.emit_events(vec![event]).await.expect("emit");
        ids.push(accepted(&results[0]).event_id.clone());
    }
    ids
}

fn order(n: u32) -> proto::EmitEventRequest {
    proto::EmitEventRequest {
        event_type: ORDER.into(),
        payload_json: json!({"n": n}).to_string(),
        ..Default::default()
    }
}

async fn list(harness: &Harness, request: proto::ListEventsRequest) -> proto::ListEventsResponse {
    harness
        .client
        .ingest
        .clone()
        .list_events(request)
        .await
        .expect("list")
        .into_inner()
}

#[tokio::test]
async fn events_list_newest_first_in_pages_and_by_type() {
    let harness = Harness::start().await;
    harness
        .client
        .register_schema(ORDER, &json!({"type": "object"}), "an order")
        .await
        .expect("schema");
    let ids = emit_ids(
        &harness,
        vec![
            lead(json!({"email": "a@example.com"}), "k-a"),
            order(1),
            lead(json!({"email": "b@example.com"}), ""),
            order(2),
            lead(json!({"email": "c@example.com"}), ""),
        ],
    )
    .await;

    // Pages of two: newest first, a token while more follow, none after
    // the last row.
    let mut seen = Vec::new();
    let mut tokens = Vec::new();
    let mut token = String::new();
    loop {
        let page = list(
            &harness,
            proto::ListEventsRequest {
                page_size: 2,
                page_token: token.clone(),
                ..Default::default()
            },
        )
        .await;
        assert!(page.events.len() <= 2);
        assert!(
            page.events
                .iter()
                .all(|event| event.payload_json.is_empty()),
            "listing leaves payloads out"
        );
        seen.extend(page.events.iter().map(|event| event.id.clone()));
        tokens.push(page.next_page_token.clone());
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(seen, newest_first);
    assert_eq!(tokens.len(), 3, "{tokens:?}");
    assert_eq!(tokens[0], ids[3], "the token is the page's last id");

    // A full last page hands out no token that only leads to nothing.
    let all = list(
        &harness,
        proto::ListEventsRequest {
            page_size: 5,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(all.events.len(), 5);
    assert_eq!(all.next_page_token, "");

    let orders = list(
        &harness,
        proto::ListEventsRequest {
            event_type: ORDER.into(),
            ..Default::default()
        },
    )
    .await;
    let order_ids: Vec<&str> = orders.events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(order_ids, [ids[3].as_str(), ids[1].as_str()]);
    assert!(orders.events.iter().all(|e| e.event_type == ORDER));
    let first_lead = all.events.last().expect("oldest");
    assert_eq!(first_lead.event_type, LEAD);
    assert_eq!(first_lead.idempotency_key, "k-a");
    assert_eq!(first_lead.schema_version, 1);
}

#[tokio::test]
async fn bad_list_requests_name_the_field() {
    let harness = Harness::start().await;
    let refused = |request: proto::ListEventsRequest| {
        let mut ingest = harness.client.ingest.clone();
        async move { ingest.list_events(request).await.expect_err("refused") }
    };
    let too_big = refused(proto::ListEventsRequest {
        page_size: 501,
        ..Default::default()
    })
    .await;
    assert_eq!(too_big.code(), Code::InvalidArgument);
    assert!(
        too_big.message().contains("page_size"),
        "{}",
        too_big.message()
    );

    let bad_token = refused(proto::ListEventsRequest {
        page_token: "not-an-id".into(),
        ..Default::default()
    })
    .await;
    assert_eq!(bad_token.code(), Code::InvalidArgument);
    assert!(
        bad_token.message().contains("page_token"),
        "{}",
        bad_token.message()
    );
}

#[tokio::test]
async fn get_event_returns_the_payload_only_to_its_workspace() {
    let harness = Harness::start().await;
    let ids = emit_ids(
        &harness,
        vec![lead(json!({"email": "a@example.com", "n": 7}), "")],
    )
    .await;

    let event = harness
        .client
        .ingest
        .clone()
        .get_event(proto::GetEventRequest { id: ids[0].clone() })
        .await
        .expect("get")
        .into_inner()
        .event
        .expect("event");
    assert_eq!(event.id, ids[0]);
    assert_eq!(event.event_type, LEAD);
    let payload: serde_json::Value = serde_json::from_str(&event.payload_json).expect("json");
    assert_eq!(payload, json!({"email": "a@example.com", "n": 7}));
    assert!(!event.payload_pruned);
    assert!(event.received_at.is_some());

    let malformed = harness
        .client
        .ingest
        .clone()
        .get_event(proto::GetEventRequest {
            id: "evt_nope".into(),
        })
        .await
        .expect_err("malformed");
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert!(
        malformed.message().contains("id"),
        "{}",
        malformed.message()
    );

    // Another workspace's key sees neither the event nor the listing.
    let (_, other_key) =
        auth::create_workspace(&harness.pool, &auth::KeyHasher::new(None), "other")
            .await
            .expect("workspace");
    let other = Client::connect_lazy_with(&harness.endpoints, &other_key, None).expect("client");
    let hidden = other
        .ingest
        .clone()
        .get_event(proto::GetEventRequest { id: ids[0].clone() })
        .await
        .expect_err("another workspace's event");
    assert_eq!(hidden.code(), Code::NotFound);
    let listed = other
        .ingest
        .clone()
        .list_events(proto::ListEventsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(listed.events.is_empty());
}

//! RouteEvent against real Postgres and Redis: fan-out with per-rule bodies,
//! a failing rule isolated on its own failed delivery, wildcards, routing
//! twice creating nothing, and the repair of a crash between commit and
//! enqueue.

use crate::common;

use common::{Harness, connection, create_rule, new_rule};
use serde_json::json;
use switchyard_client::proto;
use switchyard_router::routing::{self, RepairSettings};

fn rule(
    event_type: &str,
    connection_id: &str,
    condition: &str,
    mapping: &str,
) -> proto::CreateRuleRequest {
    proto::CreateRuleRequest {
        condition: condition.to_string(),
        mapping: mapping.to_string(),
        ..new_rule(event_type, connection_id)
    }
}

#[tokio::test]
async fn an_event_fans_out_to_every_matching_rule_with_its_own_body() {
    let harness = Harness::new().await;
    let router = harness.start_router().await;
    let client = &router.client;
    let crm = connection(client, "crm").await;
    let mail = connection(client, "mail").await;
    let sheet = connection(client, "sheet").await;
    let skipped = connection(client, "skipped").await;
    create_rule(client, rule("lead.created", &crm, "event.payload.amount > 100", r#"{"email": event.payload.email, "properties": {"firstname": event.payload.firstName}}"#)).await;
    create_rule(
        client,
        rule(
            "lead.*",
            &mail,
            "",
            r#"{"to": event.payload.email, "vip": "vip" in event.payload.tags}"#,
        ),
    )
    .await;
    create_rule(client, rule("*", &sheet, "", "")).await;
    create_rule(
        client,
        rule(
            "lead.created",
            &skipped,
            r#"event.payload.source == "seo""#,
            "",
        ),
    )
    .await;
    create_rule(client, rule("invoice.*", &skipped, "", "")).await;

    let payload = json!({"email": "ada@example.com", "firstName": "Ada", "amount": 150, "source": "ads", "tags": ["vip"]});
    let event = harness.event("lead.created", payload.clone()).await;
    let outcome = routing::route_event(&router.state, harness.workspace, event)
        .await
        .expect("routed");
    assert_eq!(outcome.created.len(), 3);
    assert_eq!(outcome.delivery_count, 3);
    assert_eq!(outcome.pending.len(), 3);

    let deliveries = harness.deliveries(event).await;
    assert_eq!(deliveries.len(), 3, "{deliveries:?}");
    assert_eq!(
        deliveries["crm"].body,
        Some(json!({"email": "ada@example.com", "properties": {"firstname": "Ada"}}))
    );
    assert_eq!(
        deliveries["mail"].body,
        Some(json!({"to": "ada@example.com", "vip": true}))
    );
    assert_eq!(
        deliveries["sheet"].body, None,
        "no mapping: the payload as emitted"
    );
    assert!(
        deliveries
            .values()
            .all(|d| d.status == "pending" && d.enqueued)
    );
    assert_eq!(harness.stream_length().await, 3);

    // Routing again (an outbox retry) creates and enqueues nothing.
    let again = routing::route_event(&router.state, harness.workspace, event)
        .await
        .expect("routed");
    assert!(again.created.is_empty());
    assert_eq!(again.delivery_count, 3);
    assert_eq!(harness.deliveries(event).await.len(), 3);
    assert_eq!(harness.stream_length().await, 3);

    // An event no rule matches is routed to nothing.
    let quiet = harness.event("invoice.paid", json!({"total": 1})).await;
    let outcome = routing::route_event(&router.state, harness.workspace, quiet)
        .await
        .expect("routed");
    assert_eq!(outcome.delivery_count, 2, "invoice.* and * match");
    let partial = harness.event("lead.updated", json!({})).await;
    let outcome = routing::route_event(&router.state, harness.workspace, partial)
        .await
        .expect("routed");
    assert_eq!(outcome.delivery_count, 2, "lead.* and * match lead.updated");
    let deliveries = harness.deliveries(partial).await;
    assert_eq!(deliveries["sheet"].status, "pending");
    assert_eq!(
        deliveries["mail"].status, "failed",
        "its mapping needs the missing email"
    );
}

#[tokio::test]
async fn a_failing_rule_fails_its_own_delivery_only() {
    let harness = Harness::new().await;
    let router = harness.start_router().await;
    let client = &router.client;
    let good = connection(client, "good").await;
    let bad_mapping = connection(client, "bad-mapping").await;
    let bad_condition = connection(client, "bad-condition").await;
    create_rule(
        client,
        rule("lead.created", &good, "", r#"{"id": event.payload.id}"#),
    )
    .await;
    create_rule(
        client,
        rule(
            "lead.created",
            &bad_mapping,
            "",
            r#"{"company": event.payload.company.name}"#,
        ),
    )
    .await;
    create_rule(
        client,
        rule(
            "lead.created",
            &bad_condition,
            "event.payload.amount / 0 > 1",
            "",
        ),
    )
    .await;

    let event = harness
        .event("lead.created", json!({"id": "lead_1", "amount": 3}))
        .await;
    let outcome = routing::route_event(&router.state, harness.workspace, event)
        .await
        .expect("routed");
    assert_eq!(outcome.created.len(), 3);
    assert_eq!(outcome.pending.len(), 1);

    let deliveries = harness.deliveries(event).await;
    assert_eq!(deliveries["good"].status, "pending");
    assert_eq!(deliveries["good"].body, Some(json!({"id": "lead_1"})));
    assert_eq!(deliveries["bad-mapping"].status, "failed");
    assert_eq!(
        deliveries["bad-mapping"].last_error,
        "mapping: no such key: company"
    );
    assert!(!deliveries["bad-mapping"].enqueued);
    assert_eq!(deliveries["bad-condition"].status, "failed");
    assert!(
        deliveries["bad-condition"]
            .last_error
            .starts_with("condition: "),
        "{}",
        deliveries["bad-condition"].last_error
    );
    assert!(
        deliveries["bad-condition"]
            .last_error
            .to_lowercase()
            .contains("division by zero")
    );
    assert_eq!(
        harness.stream_length().await,
        1,
        "failed deliveries get no job"
    );

    // The repair loop leaves failed deliveries alone.
    let settings = RepairSettings {
        grace: std::time::Duration::ZERO,
        ..RepairSettings::default()
    };
    let repaired = routing::repair::repair_once(&harness.pool, &router.state.producer, &settings)
        .await
        .expect("repair");
    assert_eq!(repaired, 0);
}

#[tokio::test]
async fn a_crash_between_commit_and_enqueue_is_repaired_once() {
    let harness = Harness::new().await;
    let router = harness.start_router().await;
    let client = &router.client;
    for name in ["a", "b", "c"] {
        let id = connection(client, name).await;
        create_rule(client, new_rule("lead.created", &id)).await;
    }
    let event = harness.event("lead.created", json!({"id": "lead_1"})).await;
    router.state.faults.fail_next_enqueues(1);
    let outcome = routing::route_event(&router.state, harness.workspace, event)
        .await
        .expect("routed");
    assert_eq!(outcome.created.len(), 3, "the commit happened");
    assert_eq!(harness.stream_length().await, 0, "the enqueue did not");
    assert!(
        harness
            .deliveries(event)
            .await
            .values()
            .all(|d| d.status == "pending" && !d.enqueued)
    );

    // A retried RouteEvent creates nothing and enqueues nothing: the
    // deliveries exist, only their jobs are missing.
    let again = routing::route_event(&router.state, harness.workspace, event)
        .await
        .expect("routed");
    assert!(again.created.is_empty());
    assert_eq!(harness.stream_length().await, 0);

    // Within the grace period nothing is repaired (a routing call may still
    // be between its commit and its enqueue).
    let patient = RepairSettings::default();
    assert_eq!(
        routing::repair::repair_once(&harness.pool, &router.state.producer, &patient)
            .await
            .expect("repair"),
        0
    );

    let settings = RepairSettings {
        grace: std::time::Duration::ZERO,
        ..RepairSettings::default()
    };
    let repaired = routing::repair::repair_once(&harness.pool, &router.state.producer, &settings)
        .await
        .expect("repair");
    assert_eq!(repaired, 3);
    assert_eq!(harness.stream_length().await, 3);
    assert!(harness.deliveries(event).await.values().all(|d| d.enqueued));
    let twice = routing::repair::repair_once(&harness.pool, &router.state.producer, &settings)
        .await
        .expect("repair");
    assert_eq!(twice, 0, "each job is enqueued once");
    assert_eq!(harness.stream_length().await, 3);
}

#[tokio::test]
async fn a_rules_ordering_key_is_stored_on_each_delivery() {
    let harness = Harness::new().await;
    let router = harness.start_router().await;
    let client = &router.client;
    let crm = connection(client, "crm").await;
    let sheet = connection(client, "sheet").await;
    let keyed = create_rule(
        client,
        proto::CreateRuleRequest {
            ordering_key: "event.payload.account".to_string(),
            ..new_rule("lead.created", &crm)
        },
    )
    .await;
    assert_eq!(keyed.ordering_key, "event.payload.account");
    create_rule(client, new_rule("lead.created", &sheet)).await;

    let keys = |event| {
        let pool = harness.pool.clone();
        async move {
            let client = pool.get().await.expect("client");
            client
                .query(
                    "SELECT c.name, d.ordering_key, d.status FROM deliveries d \
                     JOIN connections c ON c.id = d.connection_id WHERE d.event_id = $1 ORDER BY c.name",
                    &[&switchyard_core::ids::EventId::as_uuid(&event)],
                )
                .await
                .expect("deliveries")
                .iter()
                .map(|row| {
                    (
                        row.get::<_, String>(0),
                        row.get::<_, Option<String>>(1),
                        row.get::<_, String>(2),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let text = harness
        .event("lead.created", json!({"account": "acme"}))
        .await;
    let number = harness.event("lead.created", json!({"account": 42})).await;
    let null = harness
        .event("lead.created", json!({"account": null}))
        .await;
    let list = harness.event("lead.created", json!({"account": [1]})).await;
    for event in [text, number, null, list] {
        routing::route_event(&router.state, harness.workspace, event)
            .await
            .expect("routed");
    }
    let pending = |key: Option<&str>| {
        vec![
            (
                "crm".to_string(),
                key.map(str::to_string),
                "pending".to_string(),
            ),
            ("sheet".to_string(), None, "pending".to_string()),
        ]
    };
    assert_eq!(keys(text).await, pending(Some("acme")));
    assert_eq!(keys(number).await, pending(Some("42")));
    // null: no key, the delivery is not ordered.
    assert_eq!(keys(null).await, pending(None));
    // A key of the wrong kind fails the rule on this event, visibly.
    let failed = keys(list).await;
    assert_eq!(failed[0].2, "failed");
    let error: String = harness
        .pool
        .get()
        .await
        .expect("client")
        .query_one(
            "SELECT last_error FROM deliveries WHERE event_id = $1 AND status = 'failed'",
            &[&list.as_uuid()],
        )
        .await
        .expect("failed delivery")
        .get(0);
    assert!(error.starts_with("ordering_key: "), "{error}");

    // A key expression that cannot be a key is refused with its field.
    let status = client
        .router
        .clone()
        .create_rule(proto::CreateRuleRequest {
            ordering_key: "{'a': 1}".to_string(),
            ..new_rule("lead.created", &crm)
        })
        .await
        .expect_err("a map is no key");
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(
        status.message().starts_with("ordering_key: "),
        "{}",
        status.message()
    );
    // And it can be changed, or removed with an empty string.
    let cleared = client
        .router
        .clone()
        .update_rule(proto::UpdateRuleRequest {
            id: keyed.id.clone(),
            ordering_key: Some(String::new()),
            ..Default::default()
        })
        .await
        .expect("updated")
        .into_inner()
        .rule
        .expect("rule");
    assert_eq!(cleared.ordering_key, "");
}

//! HubSpot contacts upsert: the documented request, validation errors,
//! rate limits and a rejected token.

use std::time::Duration;

use serde_json::json;
use switchyard_tenancy::secrets::SecretField;

use crate::common::TestEnv;
use crate::common::fake_api::{Answer, FakeApi};

const PATH: &str = "/crm/v3/objects/contacts/batch/upsert";

fn upserted() -> Answer {
    Answer::json(
        200,
        json!({"status": "COMPLETE", "results": [{"id": "101", "new": true, "properties": {}}],
               "startedAt": "2026-12-04T10:00:00Z", "completedAt": "2026-12-04T10:00:01Z"}),
    )
}

async fn hubspot(env: &TestEnv, api: &FakeApi, token: &str) -> switchyard_core::ids::ConnectionId {
    env.insert_saas_connection(
        "hubspot",
        json!({"base_url": api.base_url}),
        (SecretField::Token, token),
    )
    .await
}

#[tokio::test]
async fn upserts_the_contact_by_email_as_documented() {
    let env = TestEnv::new().await;
    let api = FakeApi::start(vec![upserted()]).await;
    let connection = hubspot(&env, &api, "pat-na1-11111111").await;
    let app = env.start(&env.config()).await;

    let payload = json!({"email": "ada@example.com", "firstname": "Ada", "score": 42});
    let delivery = env.deliver_to(connection, &payload).await;
    let state = env.wait_for_status(delivery, "succeeded").await;
    assert_eq!(state.attempt_count, 1);

    let calls = api.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.method, "POST");
    assert_eq!(call.path_and_query, PATH);
    assert_eq!(
        call.header("authorization").as_deref(),
        Some("Bearer pat-na1-11111111")
    );
    assert_eq!(
        call.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        call.body,
        json!({"inputs": [{"idProperty": "email", "id": "ada@example.com",
            "properties": {"email": "ada@example.com", "firstname": "Ada", "score": "42"}}]})
    );
    let attempts = env.attempts(delivery).await;
    assert_eq!(attempts[0].url, format!("{}{PATH}", api.base_url));
    assert_eq!(attempts[0].status_code, Some(200));
    assert_eq!(
        env.attempt_details(delivery).await,
        [json!({"kind": "hubspot", "method": "POST"})]
    );
    app.stop().await;
}

#[tokio::test]
async fn validation_errors_fail_at_once_with_hubspots_message() {
    let env = TestEnv::new().await;
    let api = FakeApi::start(vec![Answer::json(
        400,
        json!({"status": "error", "category": "VALIDATION_ERROR",
               "message": "Property values were not valid: email is invalid",
               "correlationId": "3f9a-corr"}),
    )])
    .await;
    let connection = hubspot(&env, &api, "pat-na1-2").await;
    let app = env.start(&env.config()).await;

    let delivery = env
        .deliver_to(connection, &json!({"email": "not-an-email"}))
        .await;
    let state = env.wait_for_status(delivery, "dead").await;
    assert_eq!(state.attempt_count, 1);
    assert_eq!(
        state.last_error,
        "HubSpot VALIDATION_ERROR (HTTP 400): Property values were not valid: email is invalid"
    );
    assert_eq!(
        env.attempt_details(delivery).await,
        [
            json!({"kind": "hubspot", "method": "POST", "category": "VALIDATION_ERROR",
                "correlationId": "3f9a-corr"})
        ]
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(api.calls().len(), 1, "a validation error is not retried");

    // A mapping without the contact's email never reaches HubSpot.
    let unsendable = env
        .deliver_to(connection, &json!({"firstname": "Ada"}))
        .await;
    let state = env.wait_for_status(unsendable, "dead").await;
    assert!(
        state.last_error.contains("no `email` to upsert by"),
        "{state:?}"
    );
    assert_eq!(api.calls().len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn rate_limits_are_retried_when_hubspot_says() {
    let env = TestEnv::new().await;
    let api = FakeApi::start(vec![
        Answer::json(
            429,
            json!({"status": "error", "message": "You have reached your secondly limit.",
                   "errorType": "RATE_LIMIT", "correlationId": "c-429", "policyName": "SECONDLY"}),
        )
        .with_header("X-HubSpot-RateLimit-Interval-Milliseconds", "1500")
        .with_header("X-HubSpot-RateLimit-Max", "100")
        .with_header("X-HubSpot-RateLimit-Remaining", "0"),
        upserted(),
    ])
    .await;
    let connection = hubspot(&env, &api, "pat-na1-3").await;
    let mut config = env.config();
    config.delivery.retry_schedule = vec![
        Duration::ZERO,
        Duration::from_millis(100),
        Duration::from_secs(10),
    ];
    let app = env.start(&config).await;

    let delivery = env
        .deliver_to(connection, &json!({"email": "ada@example.com"}))
        .await;
    let state = env.wait_for_status(delivery, "succeeded").await;
    assert_eq!(state.attempt_count, 2);
    let calls = api.calls();
    let waited = calls[1].at.duration_since(calls[0].at);
    assert!(
        waited >= Duration::from_millis(1400) && waited < Duration::from_secs(8),
        "retried after {waited:?}, HubSpot asked for 1.5 s"
    );
    let attempts = env.attempts(delivery).await;
    assert_eq!(attempts[0].status_code, Some(429));
    assert_eq!(
        attempts[0].error,
        "HubSpot rate limit (HTTP 429, policy SECONDLY): You have reached your secondly limit."
    );
    app.stop().await;
}

#[tokio::test]
async fn a_rejected_token_holds_deliveries_until_it_is_replaced() {
    let env = TestEnv::new().await;
    let api = FakeApi::start(vec![
        Answer::json(
            401,
            json!({"status": "error", "category": "INVALID_AUTHENTICATION",
                   "message": "Authentication credentials not found."}),
        ),
        upserted(),
    ])
    .await;
    let connection = hubspot(&env, &api, "pat-expired").await;
    let app = env.start(&env.config()).await;

    let first = env
        .deliver_to(connection, &json!({"email": "ada@example.com"}))
        .await;
    api.wait_for(1).await;
    let deadline = tokio::time::Instant::now() + crate::common::PATIENCE;
    while env.connection_state(connection).await.0 != "needs_credentials" {
        assert!(
            tokio::time::Instant::now() < deadline,
            "connection never marked"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, reason) = env.connection_state(connection).await;
    assert_eq!(
        reason,
        "HubSpot rejected the token (HTTP 401): Authentication credentials not found."
    );
    let second = env
        .deliver_to(connection, &json!({"email": "bob@example.com"}))
        .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        api.calls().len(),
        1,
        "nothing is sent while the token is rejected"
    );
    let waiting = env.delivery_state(first).await;
    assert_eq!(
        (waiting.status.as_str(), waiting.attempt_count),
        ("retrying", 1)
    );
    assert_eq!(env.delivery_state(second).await.attempt_count, 0);

    // What the router's UpdateConnection does with new credentials: seal
    // them, make the connection active, re-enqueue its waiting deliveries.
    env.seal(connection, (SecretField::Token, "pat-fresh"))
        .await;
    env.execute(
        "UPDATE connections SET state = 'active', state_reason = '' WHERE id = $1",
        &[&connection.as_uuid()],
    )
    .await;
    env.enqueue(first).await;
    env.enqueue(second).await;
    assert_eq!(
        env.wait_for_status(first, "succeeded").await.attempt_count,
        2
    );
    assert_eq!(
        env.wait_for_status(second, "succeeded").await.attempt_count,
        1
    );
    let calls = api.calls();
    assert_eq!(calls.len(), 3);
    assert_eq!(
        calls[0].header("authorization").as_deref(),
        Some("Bearer pat-expired")
    );
    for call in &calls[1..] {
        assert_eq!(
            call.header("authorization").as_deref(),
            Some("Bearer pat-fresh")
        );
    }
    app.stop().await;
}

#[tokio::test]
async fn deliveries_due_together_share_one_batch_upsert() {
    let env = TestEnv::new().await;
    let api = FakeApi::start(vec![upserted()]).await;
    let connection = hubspot(&env, &api, "pat-batch").await;
    let mut deliveries = Vec::new();
    for n in 0..30 {
        // Two deliveries for one contact: never in the same request.
        let email = if n == 29 {
            "lead0@example.com".to_string()
        } else {
            format!("lead{n}@example.com")
        };
        deliveries.push(
            env.deliver_to(connection, &json!({"email": email, "n": n}))
                .await,
        );
    }
    let app = env.start(&env.config()).await;
    for delivery in &deliveries {
        assert_eq!(
            env.wait_for_status(*delivery, "succeeded")
                .await
                .attempt_count,
            1
        );
    }
    let calls = api.calls();
    assert!(
        calls.len() < 30,
        "{} requests for 30 deliveries",
        calls.len()
    );
    let mut inputs = 0;
    for call in &calls {
        assert_eq!(
            (call.method.as_str(), call.path_and_query.as_str()),
            ("POST", PATH)
        );
        assert_eq!(
            call.header("authorization").as_deref(),
            Some("Bearer pat-batch")
        );
        let ids: Vec<&str> = call.body["inputs"]
            .as_array()
            .expect("inputs")
            .iter()
            .map(|input| input["id"].as_str().expect("id"))
            .collect();
        let unique: std::collections::HashSet<&str> = ids.iter().copied().collect();
        assert_eq!(
            unique.len(),
            ids.len(),
            "a repeated id in one batch: {ids:?}"
        );
        inputs += ids.len();
    }
    assert_eq!(inputs, 30, "every delivery sent exactly once");
    app.stop().await;
}

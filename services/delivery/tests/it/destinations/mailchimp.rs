//! Mailchimp list members: the documented upsert, permanent problems and
//! rate limits.

use std::time::Duration;

use base64::Engine;
use serde_json::json;
use switchyard_tenancy::secrets::SecretField;

use crate::common::TestEnv;
use crate::common::fake_api::{Answer, FakeApi};

const API_KEY: &str = "0123456789abcdef0123456789abcdef-us6";
/// md5("ada@example.com")
const ADA_HASH: &str = "3e3417d7ef77d5932a6734b916515ed5";

async fn mailchimp(env: &TestEnv, api: &FakeApi) -> switchyard_core::ids::ConnectionId {
    env.insert_saas_connection(
        "mailchimp",
        json!({"list_id": "57afe96172", "base_url": api.base_url}),
        (SecretField::ApiKey, API_KEY),
    )
    .await
}

#[tokio::test]
async fn puts_the_member_by_its_email_hash_as_documented() {
    let env = TestEnv::new().await;
    let api = FakeApi::start(vec![Answer::json(
        200,
        json!({"id": ADA_HASH, "email_address": "ada@example.com", "status": "subscribed"}),
    )])
    .await;
    let connection = mailchimp(&env, &api).await;
    let app = env.start(&env.config()).await;

    let payload = json!({"email": "Ada@Example.com", "merge_fields": {"FNAME": "Ada"}});
    let delivery = env.deliver_to(connection, &payload).await;
    env.wait_for_status(delivery, "succeeded").await;

    let call = &api.calls()[0];
    assert_eq!(call.method, "PUT");
    assert_eq!(
        call.path_and_query,
        format!("/3.0/lists/57afe96172/members/{ADA_HASH}")
    );
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("switchyard:{API_KEY}"));
    assert_eq!(call.header("authorization"), Some(format!("Basic {basic}")));
    assert_eq!(
        call.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(
        call.body,
        json!({"email_address": "Ada@Example.com", "status_if_new": "subscribed",
               "merge_fields": {"FNAME": "Ada"}})
    );
    assert_eq!(
        env.attempt_details(delivery).await,
        [json!({"kind": "mailchimp", "method": "PUT"})]
    );
    app.stop().await;
}

#[tokio::test]
async fn member_exists_fails_at_once_and_rate_limits_are_retried() {
    let env = TestEnv::new().await;
    let api = FakeApi::start(vec![
        Answer::json(
            400,
            json!({"type": "https://mailchimp.com/developer/marketing/docs/errors/",
                   "title": "Member Exists", "status": 400,
                   "detail": "ada@example.com is already a list member.",
                   "instance": "b1e2-instance"}),
        ),
        Answer::json(
            429,
            json!({"title": "Too Many Requests", "status": 429,
                   "detail": "You have exceeded the limit of 10 simultaneous connections."}),
        ),
        Answer::json(200, json!({"status": "subscribed"})),
    ])
    .await;
    let connection = mailchimp(&env, &api).await;
    let app = env.start(&env.config()).await;

    let exists = env
        .deliver_to(connection, &json!({"email": "ada@example.com"}))
        .await;
    let state = env.wait_for_status(exists, "dead").await;
    assert_eq!(state.attempt_count, 1);
    assert_eq!(
        state.last_error,
        "Mailchimp Member Exists (HTTP 400): ada@example.com is already a list member."
    );
    assert_eq!(
        env.attempt_details(exists).await,
        [
            json!({"kind": "mailchimp", "method": "PUT", "title": "Member Exists",
                "instance": "b1e2-instance"})
        ]
    );

    let throttled = env
        .deliver_to(connection, &json!({"email": "bob@example.com"}))
        .await;
    let state = env.wait_for_status(throttled, "succeeded").await;
    assert_eq!(state.attempt_count, 2);
    let attempts = env.attempts(throttled).await;
    assert_eq!(attempts[0].status_code, Some(429));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(api.calls().len(), 3);
    app.stop().await;
}

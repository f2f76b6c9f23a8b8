//! Salesforce records: the client-credentials token, cached and refreshed
//! once on `INVALID_SESSION_ID`; creates and external-id upserts; errors
//! that fail, wait or need new credentials.

use serde_json::json;
use switchyard_core::ids::ConnectionId;
use switchyard_tenancy::secrets::SecretField;

use crate::common::TestEnv;
use crate::common::fake_api::{Answer, FakeApi};

const TOKEN_PATH: &str = "/services/oauth2/token";
const LEAD_PATH: &str = "/services/data/v60.0/sobjects/Lead/";

fn token(api_base: &str, access: &str) -> Answer {
    Answer::json(
        200,
        json!({"access_token": access, "instance_url": api_base, "token_type": "Bearer",
               "id": "https://login.salesforce.com/id/00D/005", "issued_at": "1733300000000",
               "signature": "c2ln"}),
    )
}

fn created(id: &str) -> Answer {
    Answer::json(201, json!({"id": id, "success": true, "errors": []}))
}

async fn salesforce(env: &TestEnv, api: &FakeApi, external: Option<&str>) -> ConnectionId {
    let mut config = json!({"client_id": "3MVG9.client", "login_url": api.base_url});
    if let Some(field) = external {
        config["external_id_field"] = field.into();
    }
    env.insert_saas_connection(
        "salesforce",
        config,
        (SecretField::ClientSecret, "s3cr3t&x"),
    )
    .await
}

/// A stand-in for the org: its token answers name its own base URL as
/// `instance_url`, known once it runs.
async fn start(token_answers: Vec<&str>, data: Vec<Answer>) -> FakeApi {
    let api = FakeApi::start_routes(vec![("/services/data/", data)]).await;
    let tokens = token_answers
        .into_iter()
        .map(|access| token(&api.base_url, access))
        .collect();
    api.add_route(TOKEN_PATH, tokens);
    api
}

#[tokio::test]
async fn creates_a_lead_and_refreshes_an_expired_session_once() {
    let env = TestEnv::new().await;
    let expired = Answer::json(
        401,
        json!([{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]),
    );
    let api = start(
        vec!["tok-1", "tok-2"],
        vec![created("00Q1"), expired, created("00Q2")],
    )
    .await;
    let connection = salesforce(&env, &api, None).await;
    let app = env.start(&env.config()).await;

    let lead = json!({"LastName": "Lovelace", "Company": "Analytical Engines", "Email": "ada@example.com"});
    let first = env.deliver_to(connection, &lead).await;
    env.wait_for_status(first, "succeeded").await;
    let second = env
        .deliver_to(connection, &json!({"LastName": "Babbage", "Company": "AE"}))
        .await;
    let state = env.wait_for_status(second, "succeeded").await;
    assert_eq!(
        state.attempt_count, 1,
        "the refresh happens within the attempt"
    );

    let calls = api.calls();
    let paths: Vec<&str> = calls.iter().map(|c| c.path_and_query.as_str()).collect();
    assert_eq!(
        paths,
        [TOKEN_PATH, LEAD_PATH, LEAD_PATH, TOKEN_PATH, LEAD_PATH]
    );
    let token_call = &calls[0];
    assert_eq!(token_call.method, "POST");
    assert_eq!(
        token_call.header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(
        token_call.body,
        json!("grant_type=client_credentials&client_id=3MVG9.client&client_secret=s3cr3t%26x")
    );
    assert_eq!(calls[1].method, "POST");
    assert_eq!(
        calls[1].header("authorization").as_deref(),
        Some("Bearer tok-1")
    );
    assert_eq!(
        calls[1].header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(calls[1].body, lead);
    assert_eq!(
        calls[2].header("authorization").as_deref(),
        Some("Bearer tok-1")
    );
    assert_eq!(
        calls[4].header("authorization").as_deref(),
        Some("Bearer tok-2")
    );
    let attempts = env.attempts(second).await;
    assert_eq!(attempts[0].url, format!("{}{LEAD_PATH}", api.base_url));
    assert_eq!(attempts[0].status_code, Some(201));
    app.stop().await;
}

#[tokio::test]
async fn upserts_by_external_id_and_reads_salesforce_errors() {
    let env = TestEnv::new().await;
    let api = start(
        vec!["tok-1"],
        vec![
            Answer::json(
                400,
                json!([{"message": "Required fields are missing: [LastName]",
                        "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["LastName"]}]),
            ),
            Answer::json(
                403,
                json!([{"message": "TotalRequests Limit exceeded.",
                        "errorCode": "REQUEST_LIMIT_EXCEEDED"}]),
            ),
            Answer::json(
                200,
                json!({"id": "00Q9", "success": true, "errors": [], "created": false}),
            ),
        ],
    )
    .await;
    let connection = salesforce(&env, &api, Some("Ext_Id__c")).await;
    let app = env.start(&env.config()).await;

    let missing = env
        .deliver_to(connection, &json!({"Ext_Id__c": 42, "Company": "AE"}))
        .await;
    let state = env.wait_for_status(missing, "dead").await;
    assert_eq!(state.attempt_count, 1);
    assert_eq!(
        state.last_error,
        "Salesforce REQUIRED_FIELD_MISSING (HTTP 400): Required fields are missing: [LastName]"
    );
    assert_eq!(
        env.attempt_details(missing).await,
        [json!({"kind": "salesforce", "method": "PATCH",
                "errorCode": "REQUIRED_FIELD_MISSING", "fields": ["LastName"]})]
    );
    let calls = api.calls();
    assert_eq!(calls[1].method, "PATCH");
    assert_eq!(
        calls[1].path_and_query,
        "/services/data/v60.0/sobjects/Lead/Ext_Id__c/42"
    );
    assert_eq!(calls[1].body, json!({"Company": "AE"}));

    let limited = env
        .deliver_to(
            connection,
            &json!({"Ext_Id__c": "43", "LastName": "B", "Company": "AE"}),
        )
        .await;
    let state = env.wait_for_status(limited, "succeeded").await;
    assert_eq!(
        state.attempt_count, 2,
        "REQUEST_LIMIT_EXCEEDED is retried later"
    );
    let attempts = env.attempts(limited).await;
    assert!(
        attempts[0]
            .error
            .starts_with("Salesforce REQUEST_LIMIT_EXCEEDED (HTTP 403)")
    );
    app.stop().await;
}

#[tokio::test]
async fn refused_client_credentials_hold_the_connection() {
    let env = TestEnv::new().await;
    let api = FakeApi::start_routes(vec![(
        TOKEN_PATH,
        vec![Answer::json(
            400,
            json!({"error": "invalid_client", "error_description": "invalid client credentials"}),
        )],
    )])
    .await;
    let connection = salesforce(&env, &api, None).await;
    let app = env.start(&env.config()).await;
    let delivery = env
        .deliver_to(connection, &json!({"LastName": "L", "Company": "C"}))
        .await;
    api.wait_for(1).await;
    let deadline = tokio::time::Instant::now() + crate::common::PATIENCE;
    loop {
        let (state, reason) = env.connection_state(connection).await;
        if state == "needs_credentials" {
            assert_eq!(
                reason,
                "Salesforce refused the client credentials (invalid_client): invalid client credentials"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "connection never marked"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(env.delivery_state(delivery).await.status, "retrying");
    assert_eq!(
        env.attempts(delivery).await[0].url,
        format!("{}{TOKEN_PATH}", api.base_url)
    );
    app.stop().await;
}

//! Bad input gets a precise gRPC status, and nothing is stored.

use std::collections::HashMap;

use switchyard_client::proto;
use switchyard_tests::{LEAD_CREATED, TestStack};
use tonic::Code;
use tonic_types::StatusExt;

#[tokio::test]
async fn a_payload_violating_the_schema_lists_every_violation_and_stores_nothing()
-> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    // Missing `id`, a malformed email and a negative amount: three violations.
    let payload = serde_json::json!({"email": "not-an-email", "amount": -3});
    let status = stack
        .client
        .emit(LEAD_CREATED, &payload)
        .await
        .expect_err("must be refused");
    assert_eq!(status.code(), Code::InvalidArgument);
    let details = status.get_error_details();
    let bad_request = details.bad_request().expect("BadRequest details");
    let mut fields: Vec<&str> = bad_request
        .field_violations
        .iter()
        .map(|v| v.field.as_str())
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        vec!["payload_json", "payload_json/amount", "payload_json/email"]
    );
    assert!(status.message().contains("/email"), "{}", status.message());
    assert!(
        bad_request
            .field_violations
            .iter()
            .any(|v| v.description.contains("required")),
        "{:?}",
        bad_request.field_violations
    );
    assert_eq!(stack.count("SELECT count(*) FROM events").await?, 0);
    stack.stop().await
}

#[tokio::test]
async fn malformed_json_unknown_types_and_bad_names_are_refused_precisely() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    let emit = |event_type: &str, payload: &str| proto::EmitEventRequest {
        event_type: event_type.to_string(),
        payload_json: payload.to_string(),
        ..Default::default()
    };

    let malformed = stack
        .client
        .emit_event(emit(LEAD_CREATED, "{\"id\": "))
        .await
        .expect_err("malformed");
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert!(
        malformed
            .message()
            .starts_with("payload_json: is not valid JSON"),
        "{}",
        malformed.message()
    );

    let not_object = stack
        .client
        .emit_event(emit(LEAD_CREATED, "[1,2]"))
        .await
        .expect_err("array");
    assert_eq!(not_object.code(), Code::InvalidArgument);
    assert_eq!(not_object.message(), "payload_json: must be a JSON object");

    let unknown = stack
        .client
        .emit_event(emit("lead.deleted", "{}"))
        .await
        .expect_err("unknown type");
    assert_eq!(unknown.code(), Code::NotFound);
    assert!(
        unknown.message().contains("lead.deleted"),
        "{}",
        unknown.message()
    );

    let bad_name = stack
        .client
        .emit_event(emit("Lead Created", "{}"))
        .await
        .expect_err("bad name");
    assert_eq!(bad_name.code(), Code::InvalidArgument);
    assert!(
        bad_name.message().starts_with("event_type:"),
        "{}",
        bad_name.message()
    );

    let too_big = format!(
        "{{\"id\":\"x\",\"email\":\"a@b.co\",\"pad\":\"{}\"}}",
        "x".repeat(300 * 1024)
    );
    let big = stack
        .client
        .emit_event(emit(LEAD_CREATED, &too_big))
        .await
        .expect_err("too big");
    assert_eq!(big.code(), Code::InvalidArgument);
    assert!(big.message().contains("limit"), "{}", big.message());

    assert_eq!(stack.count("SELECT count(*) FROM events").await?, 0);
    stack.stop().await
}

#[tokio::test]
async fn every_service_refuses_a_missing_or_wrong_api_key() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let wrong = stack.client_with_key("sy_live_notarealkey")?;
    let emitted = wrong
        .emit(LEAD_CREATED, &serde_json::json!({}))
        .await
        .expect_err("emit");
    assert_eq!(emitted.code(), Code::Unauthenticated);
    let registered = wrong
        .register_schema(LEAD_CREATED, &serde_json::json!({"type": "object"}), "")
        .await
        .expect_err("register");
    assert_eq!(registered.code(), Code::Unauthenticated);
    let connection = wrong
        .create_webhook("x", "http://127.0.0.1:9/", HashMap::new())
        .await
        .expect_err("connection");
    assert_eq!(connection.code(), Code::Unauthenticated);
    let deliveries = wrong.list_deliveries("").await.expect_err("deliveries");
    assert_eq!(deliveries.code(), Code::Unauthenticated);

    // No metadata at all.
    let channel = tonic::transport::Endpoint::from_shared(stack.stack.endpoints().ingest)?
        .connect()
        .await?;
    let mut bare = proto::ingest_service_client::IngestServiceClient::new(channel);
    let missing = bare
        .emit_event(proto::EmitEventRequest::default())
        .await
        .expect_err("no key");
    assert_eq!(missing.code(), Code::Unauthenticated);
    assert!(
        missing.message().contains("authorization"),
        "{}",
        missing.message()
    );

    assert_eq!(stack.count("SELECT count(*) FROM event_types").await?, 0);
    assert_eq!(stack.count("SELECT count(*) FROM connections").await?, 0);
    stack.stop().await
}

#[tokio::test]
async fn rules_need_a_known_connection_and_event_type() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    let missing_connection = stack
        .client
        .create_rule(LEAD_CREATED, "con_0190a0b1c2d37e4f8a9b0c1d2e3f4a5b")
        .await
        .expect_err("unknown connection");
    assert_eq!(missing_connection.code(), Code::NotFound);
    assert!(
        missing_connection
            .message()
            .contains("con_0190a0b1c2d37e4f8a9b0c1d2e3f4a5b")
    );

    let malformed = stack
        .client
        .create_rule(LEAD_CREATED, "rul_123")
        .await
        .expect_err("malformed id");
    assert_eq!(malformed.code(), Code::InvalidArgument);
    assert!(
        malformed.message().starts_with("connection_id:"),
        "{}",
        malformed.message()
    );

    let connection = stack
        .client
        .create_webhook("crm", "http://127.0.0.1:9/hook", HashMap::new())
        .await?;
    let unknown_type = stack
        .client
        .create_rule("invoice.paid", &connection.id)
        .await
        .expect_err("unregistered type");
    assert_eq!(unknown_type.code(), Code::NotFound);
    assert!(unknown_type.message().contains("invoice.paid"));

    // A connection of another workspace is as good as absent.
    let other = stack.other_workspace("other").await?;
    let foreign = other
        .create_rule(LEAD_CREATED, &connection.id)
        .await
        .expect_err("foreign");
    assert_eq!(foreign.code(), Code::NotFound);

    assert_eq!(stack.count("SELECT count(*) FROM rules").await?, 0);
    stack.stop().await
}

#[tokio::test]
async fn connections_refuse_private_destinations_and_never_show_their_secret_again()
-> anyhow::Result<()> {
    let stack = TestStack::start_with(&switchyard_tests::Service::ALL, |config| {
        config.allowed_destination_networks.clear();
    })
    .await?;
    let refused = stack
        .client
        .create_webhook("local", "http://127.0.0.1:9/hook", HashMap::new())
        .await
        .expect_err("loopback is not public");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().starts_with("webhook.url:"),
        "{}",
        refused.message()
    );
    let metadata_ip = stack
        .client
        .create_webhook("metadata", "http://169.254.169.254/latest", HashMap::new())
        .await
        .expect_err("cloud metadata");
    assert_eq!(metadata_ip.code(), Code::InvalidArgument);
    assert_eq!(stack.count("SELECT count(*) FROM connections").await?, 0);

    let public = stack
        .client
        .create_webhook(
            "partner",
            "https://93.184.216.34/hooks",
            HashMap::from([(
                "Authorization".to_string(),
                "Bearer partner-token".to_string(),
            )]),
        )
        .await?;
    assert!(public.signing_secret.starts_with("whsec_"));
    let listed = stack
        .client
        .router
        .clone()
        .list_connections(proto::ListConnectionsRequest::default())
        .await?
        .into_inner();
    assert_eq!(listed.connections.len(), 1);
    assert_eq!(listed.connections[0].id, public.id);
    assert_eq!(listed.connections[0].signing_secret, "");
    let headers = &listed.connections[0]
        .webhook
        .as_ref()
        .expect("webhook")
        .headers;
    assert_eq!(
        headers.get("Authorization").map(String::as_str),
        Some("********")
    );
    stack.stop().await
}

/// Above tonic's default decode limit (4 MiB), a payload still reaches the
/// size check and gets the documented error, not `OutOfRange`.
#[tokio::test]
async fn a_five_megabyte_payload_is_refused_naming_payload_json_and_the_limit() -> anyhow::Result<()>
{
    let stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    let payload = serde_json::json!({"id": "huge", "email": "ada@example.com", "source": "x".repeat(5_000_000)});
    let size = payload.to_string().len();
    let status = stack
        .client
        .emit(LEAD_CREATED, &payload)
        .await
        .expect_err("over the payload limit");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let details = status.get_error_details();
    let violation = &details.bad_request().expect("BadRequest").field_violations[0];
    assert_eq!(violation.field, "payload_json");
    assert_eq!(
        violation.description,
        format!(
            "is {size} bytes, more than this workspace's limit of 262144 bytes (max_payload_bytes)"
        )
    );
    assert_eq!(stack.count("SELECT count(*) FROM events").await?, 0);
    stack.stop().await
}

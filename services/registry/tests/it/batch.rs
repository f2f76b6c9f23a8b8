//! ValidatePayloads: one result per payload, in order, per-payload errors
//! as results, and the batch limits.

use crate::support;

use support::{TestApp, expect_error};
use switchyard_proto::v1::validate_payloads_result::Outcome;
use switchyard_proto::v1::{ValidatePayloadRequest, ValidatePayloadsRequest};
use tonic::Code;

const CONTACT: &str = r#"{
    "type": "object",
    "required": ["email"],
    "properties": {"email": {"type": "string", "format": "email"}, "age": {"type": "integer"}}
}"#;

fn item(event_type: &str, payload_json: &str) -> ValidatePayloadRequest {
    ValidatePayloadRequest {
        event_type: event_type.to_string(),
        schema_version: 0,
        payload_json: payload_json.to_string(),
    }
}

#[tokio::test]
async fn every_payload_gets_its_own_result_in_order() {
    let app = TestApp::spawn().await;
    app.register("contact.created", CONTACT).await;
    app.register("lead.created", r#"{"type": "object"}"#).await;
    let payloads = vec![
        item("contact.created", r#"{"email": "ada@example.com"}"#),
        item("contact.created", r#"{"email": "nope", "age": "old"}"#),
        item("order.placed", "{}"),
        item("contact.created", "{oops"),
        item("lead.created", "[]"),
        ValidatePayloadRequest {
            schema_version: 9,
            ..item("lead.created", "{}")
        },
    ];
    let results = app
        .client
        .clone()
        .validate_payloads(app.request(ValidatePayloadsRequest { payloads }))
        .await
        .expect("validated")
        .into_inner()
        .results;
    assert_eq!(results.len(), 6);
    let outcomes: Vec<&Outcome> = results
        .iter()
        .map(|result| result.outcome.as_ref().expect("an outcome"))
        .collect();

    let Outcome::Validation(valid) = outcomes[0] else {
        panic!("{:?}", outcomes[0]);
    };
    assert!(valid.valid && valid.schema_version == 1);
    let Outcome::Validation(invalid) = outcomes[1] else {
        panic!("{:?}", outcomes[1]);
    };
    let paths: Vec<(&str, &str)> = invalid
        .violations
        .iter()
        .map(|v| (v.instance_path.as_str(), v.keyword.as_str()))
        .collect();
    assert_eq!(paths, [("/age", "type"), ("/email", "format")]);
    let errors: Vec<(i32, &str)> = [outcomes[2], outcomes[3], outcomes[5]]
        .into_iter()
        .map(|outcome| match outcome {
            Outcome::Error(error) => (error.code, error.message.as_str()),
            other => panic!("expected an error, got {other:?}"),
        })
        .collect();
    assert_eq!(
        errors[0],
        (
            Code::NotFound as i32,
            "event type `order.placed` is not registered"
        )
    );
    assert_eq!(errors[1].0, Code::InvalidArgument as i32);
    assert!(
        errors[1].1.starts_with("payload_json: is not valid JSON"),
        "{}",
        errors[1].1
    );
    assert_eq!(
        errors[2],
        (
            Code::NotFound as i32,
            "event type `lead.created` has no version 9"
        )
    );
    let Outcome::Validation(array) = outcomes[4] else {
        panic!("{:?}", outcomes[4]);
    };
    assert_eq!(array.violations[0].keyword, "type");

    let empty = app
        .client
        .clone()
        .validate_payloads(app.request(ValidatePayloadsRequest::default()))
        .await
        .expect("validated")
        .into_inner();
    assert!(empty.results.is_empty());
}

#[tokio::test]
async fn batches_over_the_limits_are_refused() {
    let app = TestApp::spawn().await;
    app.register("lead.created", r#"{"type": "object"}"#).await;
    let mut client = app.client.clone();

    let too_many = vec![item("lead.created", "{}"); switchyard_registry::MAX_BATCH_PAYLOADS + 1];
    let status = expect_error(
        client
            .validate_payloads(app.request(ValidatePayloadsRequest { payloads: too_many }))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(
        status.message(),
        "payloads: holds 1001 payloads, more than the limit of 1000"
    );

    let big = format!(r#"{{"pad": "{}"}}"#, "x".repeat(700 * 1024));
    let too_big = vec![item("lead.created", &big); 3];
    let status = expect_error(
        client
            .validate_payloads(app.request(ValidatePayloadsRequest { payloads: too_big }))
            .await,
        Code::InvalidArgument,
    );
    assert!(
        status
            .message()
            .ends_with("bytes of payload_json, more than the limit of 2097152"),
        "{}",
        status.message()
    );

    let at_limit = vec![item("lead.created", "{}"); switchyard_registry::MAX_BATCH_PAYLOADS];
    let results = client
        .validate_payloads(app.request(ValidatePayloadsRequest { payloads: at_limit }))
        .await
        .expect("validated")
        .into_inner()
        .results;
    assert_eq!(results.len(), 1000);
}

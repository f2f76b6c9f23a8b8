//! Per-workspace quotas through the real services: each exceeded quota
//! answers `ResourceExhausted` (or, for the payload size, `InvalidArgument`
//! naming the field) with the details SDKs read, stores nothing, an
//! override beats the default, and the ingest rate recovers after the
//! retry delay it announces.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchyard_client::{Client, RetryPolicy, proto};
use switchyard_core::ids::WorkspaceId;
use switchyard_core::quotas::QuotaOverride;
use switchyard_tests::{LEAD_CREATED, Service, TestStack, lead_schema};
use tonic::{Code, Status};
use tonic_types::{QuotaViolation, StatusExt};

/// The one QuotaFailure violation of a `ResourceExhausted` status.
fn quota_violation(status: &Status) -> QuotaViolation {
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let details = status.get_error_details();
    let failure = details.quota_failure().expect("a QuotaFailure detail");
    assert_eq!(failure.violations.len(), 1, "{failure:?}");
    failure.violations[0].clone()
}

fn assert_violation(violation: &QuotaViolation, workspace: WorkspaceId, quota: &str, limit: i64) {
    assert_eq!(violation.subject, format!("workspace:{workspace}"));
    assert_eq!(violation.quota_id, quota);
    assert_eq!(violation.quota_value, limit);
    assert_eq!(
        violation.quota_dimensions.get("workspace"),
        Some(&workspace.to_string())
    );
}

fn lead(id: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "email": "ada@example.com"})
}

async fn webhook(client: &Client, name: &str) -> Result<proto::Connection, Status> {
    client
        .create_webhook(name, "http://127.0.0.1:9/hook", HashMap::new())
        .await
}

#[tokio::test]
async fn new_event_types_stop_at_max_event_types_but_new_versions_do_not() -> anyhow::Result<()> {
    let stack = TestStack::start_with(&Service::ALL, |config| {
        config.quotas.default.max_event_types = 2;
    })
    .await?;
    let schema = lead_schema();
    stack.client.register_schema("a.one", &schema, "").await?;
    stack.client.register_schema("a.two", &schema, "").await?;

    let refused = stack
        .client
        .register_schema("a.three", &schema, "")
        .await
        .expect_err("a third type is over the limit");
    let violation = quota_violation(&refused);
    assert_violation(&violation, stack.workspace, "max_event_types", 2);
    assert!(
        refused.message().contains("max_event_types = 2"),
        "{refused:?}"
    );
    assert!(refused.get_error_details().retry_info().is_none());
    assert_eq!(stack.count("SELECT count(*) FROM event_types").await?, 2);
    assert_eq!(
        stack
            .count("SELECT count(*) FROM event_type_versions")
            .await?,
        2
    );

    // A new version of an existing type is no new type.
    // (Requiring less keeps it BACKWARD compatible.)
    let mut wider = schema.clone();
    wider["required"] = serde_json::json!(["id"]);
    let registered = stack.client.register_schema("a.two", &wider, "").await?;
    assert_eq!(registered.version, 2);
    assert_eq!(stack.count("SELECT count(*) FROM event_types").await?, 2);
    stack.stop().await
}

#[tokio::test]
async fn connections_and_rules_stop_at_their_limits_and_deleted_ones_free_room()
-> anyhow::Result<()> {
    let stack = TestStack::start_with(&Service::ALL, |config| {
        config.quotas.default.max_connections = 1;
        config.quotas.default.max_rules = 1;
    })
    .await?;
    stack.register_lead_schema().await?;
    let first = webhook(&stack.client, "first").await?;

    let refused = webhook(&stack.client, "second")
        .await
        .expect_err("a second connection is over the limit");
    assert_violation(
        &quota_violation(&refused),
        stack.workspace,
        "max_connections",
        1,
    );
    assert_eq!(stack.count("SELECT count(*) FROM connections").await?, 1);

    stack.client.create_rule(LEAD_CREATED, &first.id).await?;
    let refused = stack
        .client
        .create_rule(LEAD_CREATED, &first.id)
        .await
        .expect_err("a second rule is over the limit");
    assert_violation(&quota_violation(&refused), stack.workspace, "max_rules", 1);
    assert_eq!(stack.count("SELECT count(*) FROM rules").await?, 1);

    // Deleting the connection (and with it its rule) makes room again.
    stack
        .client
        .router
        .clone()
        .delete_connection(proto::DeleteConnectionRequest {
            id: first.id.clone(),
        })
        .await?;
    let second = webhook(&stack.client, "second").await?;
    stack.client.create_rule(LEAD_CREATED, &second.id).await?;
    assert_eq!(
        stack
            .count("SELECT count(*) FROM connections WHERE deleted_at IS NULL")
            .await?,
        1
    );
    assert_eq!(
        stack
            .count("SELECT count(*) FROM rules WHERE deleted_at IS NULL")
            .await?,
        1
    );
    stack.stop().await
}

#[tokio::test]
async fn concurrent_creations_cannot_both_take_the_last_slot() -> anyhow::Result<()> {
    let stack = TestStack::start_with(&Service::ALL, |config| {
        config.quotas.default.max_connections = 3;
    })
    .await?;
    let attempts = (0..8).map(|i| {
        let client = stack.client.clone();
        async move { webhook(&client, &format!("racer-{i}")).await }
    });
    let results = futures::future::join_all(attempts).await;
    let codes: Vec<Code> = results
        .iter()
        .map(|result| result.as_ref().map_or_else(Status::code, |_| Code::Ok))
        .collect();
    let created = codes.iter().filter(|code| **code == Code::Ok).count();
    assert_eq!(created, 3, "{codes:?}");
    for result in results.iter().filter_map(|result| result.as_ref().err()) {
        assert_eq!(result.code(), Code::ResourceExhausted, "{result:?}");
    }
    assert_eq!(stack.count("SELECT count(*) FROM connections").await?, 3);
    stack.stop().await
}

#[tokio::test]
async fn a_workspace_override_beats_the_default() -> anyhow::Result<()> {
    let stack = TestStack::start_for_workspace(&Service::ALL, |config, workspace| {
        config.quotas.default.max_connections = 1;
        config.ingest.max_payload_bytes = 4096;
        config.quotas.workspaces.insert(
            workspace.to_string(),
            QuotaOverride {
                max_connections: Some(3),
                max_payload_bytes: Some(100),
                ..QuotaOverride::default()
            },
        );
    })
    .await?;
    let other = stack.other_workspace("other").await?;

    for name in ["one", "two", "three"] {
        webhook(&stack.client, name).await?;
    }
    let refused = webhook(&stack.client, "four")
        .await
        .expect_err("over the override");
    assert_violation(
        &quota_violation(&refused),
        stack.workspace,
        "max_connections",
        3,
    );
    webhook(&other, "one").await?;
    let refused = webhook(&other, "two").await.expect_err("over the default");
    assert_eq!(quota_violation(&refused).quota_value, 1);

    // The payload limit: 100 bytes here, the 4096 default elsewhere.
    stack.register_lead_schema().await?;
    other
        .register_schema(LEAD_CREATED, &lead_schema(), "")
        .await?;
    let padded =
        serde_json::json!({"id": "big", "email": "ada@example.com", "source": "x".repeat(200)});
    let size = padded.to_string().len();
    let refused = stack
        .client
        .emit(LEAD_CREATED, &padded)
        .await
        .expect_err("over this workspace's payload limit");
    assert_eq!(refused.code(), Code::InvalidArgument);
    let details = refused.get_error_details();
    let violation = &details.bad_request().expect("BadRequest").field_violations[0];
    assert_eq!(violation.field, "payload_json");
    assert_eq!(
        violation.description,
        format!(
            "is {size} bytes, more than this workspace's limit of 100 bytes (max_payload_bytes)"
        )
    );
    assert_eq!(stack.count("SELECT count(*) FROM events").await?, 0);
    other.emit(LEAD_CREATED, &padded).await?;
    assert_eq!(stack.count("SELECT count(*) FROM events").await?, 1);
    stack.stop().await
}

#[tokio::test]
async fn the_ingest_rate_refuses_with_a_retry_delay_and_recovers_after_it() -> anyhow::Result<()> {
    let stack = TestStack::start_for_workspace(&Service::ALL, |config, workspace| {
        config.quotas.workspaces.insert(
            workspace.to_string(),
            QuotaOverride {
                ingest_rate: Some(1.0),
                ingest_burst: Some(2),
                ..QuotaOverride::default()
            },
        );
    })
    .await?;
    let other = stack.other_workspace("other").await?;
    stack.register_lead_schema().await?;
    other
        .register_schema(LEAD_CREATED, &lead_schema(), "")
        .await?;

    // The SDK waits out a refusal with RetryInfo by itself (below): this
    // client shows the server's answer.
    let once = stack.client.clone().with_retry(RetryPolicy::never());
    once.emit(LEAD_CREATED, &lead("r1")).await?;
    once.emit(LEAD_CREATED, &lead("r2")).await?;
    let refused = once
        .emit(LEAD_CREATED, &lead("r3"))
        .await
        .expect_err("the third event of a burst of two at 1/s");
    assert_violation(
        &quota_violation(&refused),
        stack.workspace,
        "ingest_rate",
        1,
    );
    let details = refused.get_error_details();
    let delay = details
        .retry_info()
        .and_then(|retry| retry.retry_delay)
        .expect("a RetryInfo delay");
    assert!(
        delay > Duration::ZERO && delay <= Duration::from_secs(1),
        "{delay:?}"
    );
    assert_eq!(stack.count("SELECT count(*) FROM events").await?, 2);

    // Other workspaces have the default: unlimited.
    for i in 0..5 {
        other.emit(LEAD_CREATED, &lead(&format!("o{i}"))).await?;
    }

    tokio::time::sleep(delay).await;
    once.emit(LEAD_CREATED, &lead("r3")).await?;

    // The default client is refused too, waits the delay and is let in.
    let refusals = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&refusals);
    let retrying = stack.client.clone().with_retry(RetryPolicy {
        on_retry: Some(Arc::new(move |status: &Status, wait: Duration| {
            seen.lock().expect("lock").push((status.code(), wait));
        })),
        ..RetryPolicy::default()
    });
    retrying.emit(LEAD_CREATED, &lead("r4")).await?;
    let refusals = refusals.lock().expect("lock").clone();
    assert!(
        !refusals.is_empty(),
        "r4 came right after r3: refused first"
    );
    for (code, wait) in refusals {
        assert_eq!(code, Code::ResourceExhausted);
        assert!(wait > Duration::ZERO, "{wait:?}");
    }
    assert_eq!(
        stack
            .count(&format!(
                "SELECT count(*) FROM events WHERE workspace_id = '{}'",
                stack.workspace.as_uuid()
            ))
            .await?,
        4
    );
    stack.stop().await
}

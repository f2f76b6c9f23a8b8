//! Two registries on one database: a change made through one is seen by the
//! other within a second (Postgres NOTIFY), also after the other's listener
//! lost its connection and came back.

use crate::support;

use std::time::{Duration, Instant};

use support::TestApp;
use switchyard_proto::v1::{
    Compatibility, DeprecateEventTypeRequest, GetEventTypeRequest, SetCompatibilityRequest,
    ValidatePayloadRequest, ValidatePayloadResponse,
};

const V1: &str = r#"{"type": "object", "properties": {"id": {"type": "string"}}}"#;

fn version(n: u32) -> String {
    format!(
        r#"{{"type": "object", "title": "v{n}", "properties": {{"id": {{"type": "string"}}}}}}"#
    )
}

async fn validate_latest(app: &TestApp) -> ValidatePayloadResponse {
    app.client
        .clone()
        .validate_payload(app.request(ValidatePayloadRequest {
            event_type: "lead.created".to_string(),
            schema_version: 0,
            payload_json: r#"{"id": "lead_1"}"#.to_string(),
        }))
        .await
        .expect("validated")
        .into_inner()
}

/// Polls `b` until `seen` holds, and returns how long that took.
async fn seen_within_a_second(
    b: &TestApp,
    seen: impl Fn(&ValidatePayloadResponse) -> bool,
) -> Duration {
    let started = Instant::now();
    loop {
        if seen(&validate_latest(b).await) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "not seen within 1 s"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn changes_on_one_replica_reach_the_other_within_a_second() {
    let a = TestApp::spawn().await;
    let b = a.restarted().await;
    a.wait_for_listeners(2).await;
    a.register("lead.created", V1).await;
    // B caches the head: version 1, not deprecated.
    b.eventually(|| async { (validate_latest(&b).await.schema_version == 1).then_some(()) })
        .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(validate_latest(&b).await.schema_version, 1);

    a.register("lead.created", &version(2)).await;
    let took = seen_within_a_second(&b, |response| response.schema_version == 2).await;
    println!("new version seen by the other replica after {took:?}");

    a.client
        .clone()
        .deprecate_event_type(a.request(DeprecateEventTypeRequest {
            event_type: "lead.created".to_string(),
            deprecated: true,
            reason: "use lead.captured".to_string(),
        }))
        .await
        .expect("deprecated");
    seen_within_a_second(&b, |response| response.deprecated).await;

    a.client
        .clone()
        .set_compatibility(a.request(SetCompatibilityRequest {
            event_type: "lead.created".to_string(),
            compatibility: Compatibility::Full.into(),
        }))
        .await
        .expect("set");
    let on_b = b
        .client
        .clone()
        .get_event_type(b.request(GetEventTypeRequest {
            event_type: "lead.created".to_string(),
        }))
        .await
        .expect("get")
        .into_inner()
        .event_type
        .expect("type");
    assert_eq!(on_b.compatibility, Compatibility::Full as i32);
    // B's next registration is checked against FULL: narrowing is refused.
    let narrowing =
        r#"{"type": "object", "properties": {"id": {"type": "string", "maxLength": 5}}}"#;
    let refused = b
        .client
        .clone()
        .register_schema(b.request(switchyard_proto::v1::RegisterSchemaRequest {
            event_type: "lead.created".to_string(),
            json_schema: narrowing.to_string(),
            ..Default::default()
        }))
        .await
        .expect_err("refused under FULL");
    assert!(
        refused.message().contains("FULL compatibility"),
        "{}",
        refused.message()
    );
}

#[tokio::test]
async fn a_listener_that_lost_its_connection_misses_nothing() {
    let a = TestApp::spawn().await;
    let b = a.restarted().await;
    a.wait_for_listeners(2).await;
    a.register("lead.created", V1).await;
    b.eventually(|| async { (validate_latest(&b).await.schema_version == 1).then_some(()) })
        .await;

    // Cut both listeners off, and change the type while they reconnect.
    let admin = a.pool.get().await.expect("connection");
    let cut: i64 = admin
        .query_one(
            "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND application_name = 'switchyard-registry-listener') t",
            &[],
        )
        .await
        .expect("terminated")
        .get(0);
    assert_eq!(cut, 2);
    a.register("lead.created", &version(2)).await;
    seen_within_a_second(&b, |response| response.schema_version == 2).await;

    // Once back, notifications flow again.
    a.wait_for_listeners(2).await;
    b.eventually(|| async { (validate_latest(&b).await.schema_version == 2).then_some(()) })
        .await;
    a.register("lead.created", &version(3)).await;
    seen_within_a_second(&b, |response| response.schema_version == 3).await;
}

//! `EmitEvents`: one result per event, a bad event never sinks the others,
//! and the call's own limits.

use serde_json::json;
use switchyard_client::proto;
use tonic::Code;

use crate::common::{Harness, LEAD, lead};
use crate::group_commit::{accepted, rejected};

#[tokio::test]
async fn mixed_events_get_one_result_each_and_only_good_ones_are_stored() {
    let harness = Harness::start_with(|config| config.ingest.max_payload_bytes = 512).await;
    let oversized = json!({"email": "x@example.com", "pad": "x".repeat(600)});
    let results = harness
        .client
        .emit_events(vec![
            lead(json!({"email": "ok@example.com"}), "k-ok"),
            lead(json!({"email": 42}), ""),
            lead(json!({"email": "again@example.com"}), "k-ok"),
            lead(oversized, ""),
            proto::EmitEventRequest {
                event_type: LEAD.into(),
                payload_json: "{not json".into(),
                ..Default::default()
            },
            proto::EmitEventRequest {
                event_type: "unknown.type".into(),
                payload_json: "{}".into(),
                ..Default::default()
            },
            lead(json!({"email": "second@example.com", "n": 2}), ""),
        ])
        .await
        .expect("call");
    assert_eq!(results.len(), 7);

    let first = accepted(&results[0]);
    assert!(!first.duplicate);
    assert_eq!(first.schema_version, 1);

    let invalid = rejected(&results[1]);
    assert_eq!(invalid.code, Code::InvalidArgument as i32);
    assert_eq!(invalid.violations.len(), 1);
    assert_eq!(invalid.violations[0].field, "payload_json/email");
    assert!(
        invalid.violations[0].description.contains("keyword `type`"),
        "{invalid:?}"
    );

    let duplicate = accepted(&results[2]);
    assert!(duplicate.duplicate);
    assert_eq!(duplicate.event_id, first.event_id);

    let too_big = rejected(&results[3]);
    assert_eq!(too_big.code, Code::InvalidArgument as i32);
    assert_eq!(too_big.violations[0].field, "payload_json");
    assert!(
        too_big.message.contains("limit of 512 bytes"),
        "{too_big:?}"
    );

    let not_json = rejected(&results[4]);
    assert_eq!(not_json.code, Code::InvalidArgument as i32);
    assert!(not_json.message.contains("not valid JSON"), "{not_json:?}");

    let unknown = rejected(&results[5]);
    assert_ne!(unknown.code, Code::Ok as i32);
    assert!(unknown.message.contains("unknown.type"), "{unknown:?}");

    let last = accepted(&results[6]);
    assert!(!last.duplicate);
    assert_ne!(last.event_id, first.event_id);

    assert_eq!(harness.count("SELECT count(*) FROM events").await, 2);
}

#[tokio::test]
async fn an_empty_call_answers_nothing_and_an_oversized_call_is_refused() {
    let harness = Harness::start().await;
    let results = harness.client.emit_events(Vec::new()).await.expect("empty");
    assert!(results.is_empty());

    let many: Vec<_> = (0..1001)
        .map(|n| lead(json!({"email": format!("{n}@example.com")}), ""))
        .collect();
    let status = harness.client.emit_events(many).await.expect_err("refused");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(status.message().starts_with("events:"), "{status:?}");
    assert!(status.message().contains("limit of 1000"), "{status:?}");
    assert_eq!(harness.count("SELECT count(*) FROM events").await, 0);

    let thousand: Vec<_> = (0..1000)
        .map(|n| lead(json!({"email": format!("{n}@example.com"), "n": n}), ""))
        .collect();
    let results = harness
        .client
        .emit_events(thousand)
        .await
        .expect("accepted");
    assert_eq!(results.len(), 1000);
    for (n, result) in results.iter().enumerate() {
        let id = &accepted(result).event_id;
        let payload: serde_json::Value = harness
            .pool
            .get()
            .await
            .expect("pool")
            .query_one(
                "SELECT payload FROM events WHERE id = $1",
                &[&switchyard_core::ids::EventId::parse(id)
                    .expect("id")
                    .as_uuid()],
            )
            .await
            .expect("row")
            .get(0);
        assert_eq!(payload["n"], n, "result {n} names its own event");
    }
}

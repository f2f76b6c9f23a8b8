//! Group commit: concurrent emits share durable commits, each caller gets
//! its own event, idempotency keys stay exact within and across batches,
//! and a batch whose commit fails stores nothing and fails every caller.

use std::collections::HashSet;
use std::sync::atomic::Ordering;

use futures::future::join_all;
use serde_json::json;
use tonic::Code;

use crate::common::{Harness, lead};

#[tokio::test]
async fn concurrent_emits_share_commits_and_each_caller_gets_its_own_event() {
    let harness = Harness::start().await;
    let calls = (0..300).map(|n| {
        let client = harness.client.clone();
        async move {
            client
                .emit_event(lead(
                    json!({"email": format!("{n}@example.com"), "n": n}),
                    "",
                ))
                .await
        }
    });
    let answers = join_all(calls).await;
    let ids: HashSet<String> = answers
        .into_iter()
        .map(|answer| {
            let answer = answer.expect("accepted");
            assert!(!answer.duplicate);
            assert_eq!(answer.schema_version, 1);
            answer.event_id
        })
        .collect();
    assert_eq!(ids.len(), 300, "every caller has its own event");
    assert_eq!(harness.count("SELECT count(*) FROM events").await, 300);
    // Each stored payload is the one its caller sent.
    assert_eq!(
        harness
            .count("SELECT count(DISTINCT payload->>'n') FROM events")
            .await,
        300
    );
    let commits = harness.stats.commits.load(Ordering::Relaxed);
    let events = harness.stats.events.load(Ordering::Relaxed);
    assert_eq!(events, 300);
    assert!(
        commits < 300,
        "300 concurrent emits should share commits, took {commits}"
    );
}

#[tokio::test]
async fn a_key_repeated_inside_one_batch_and_across_batches_stores_one_event() {
    let harness = Harness::start().await;
    // Many concurrent emits of one key: they land in the same and in
    // different batches.
    let calls = (0..40).map(|_| {
        let client = harness.client.clone();
        async move {
            client
                .emit_event(lead(json!({"email": "same@example.com"}), "key-1"))
                .await
        }
    });
    let answers: Vec<_> = join_all(calls)
        .await
        .into_iter()
        .map(|answer| answer.expect("accepted"))
        .collect();
    let ids: HashSet<&str> = answers.iter().map(|a| a.event_id.as_str()).collect();
    assert_eq!(ids.len(), 1, "one event for one key: {ids:?}");
    assert_eq!(answers.iter().filter(|a| !a.duplicate).count(), 1);
    assert_eq!(
        harness
            .count("SELECT count(*) FROM events WHERE idempotency_key = 'key-1'")
            .await,
        1
    );

    // The same key twice in one EmitEvents call, and once more later.
    let results = harness
        .client
        .emit_events(vec![
            lead(json!({"email": "a@example.com"}), "key-2"),
            lead(json!({"email": "b@example.com"}), "key-2"),
        ])
        .await
        .expect("call");
    let first = accepted(&results[0]);
    let second = accepted(&results[1]);
    assert!(!first.duplicate);
    assert!(second.duplicate);
    assert_eq!(first.event_id, second.event_id);
    let later = harness
        .client
        .emit_event(lead(json!({"email": "c@example.com"}), "key-2"))
        .await
        .expect("accepted");
    assert!(later.duplicate);
    assert_eq!(later.event_id, first.event_id);
    // A repeat is answered with the first event even when its own payload
    // would not validate.
    let invalid_repeat = harness
        .client
        .emit_event(lead(json!({"email": 5}), "key-2"))
        .await
        .expect("answered as a repeat");
    assert!(invalid_repeat.duplicate);
    assert_eq!(invalid_repeat.event_id, first.event_id);
    let fresh_invalid = harness
        .client
        .emit_event(lead(json!({"email": 5}), "key-3"))
        .await
        .expect_err("a new key is validated");
    assert_eq!(fresh_invalid.code(), Code::InvalidArgument);
    let stored: String = harness
        .pool
        .get()
        .await
        .expect("pool")
        .query_one(
            "SELECT payload->>'email' FROM events WHERE idempotency_key = 'key-2'",
            &[],
        )
        .await
        .expect("row")
        .get(0);
    assert_eq!(
        stored, "a@example.com",
        "the first event of the key is kept"
    );
}

#[tokio::test]
async fn a_batch_whose_commit_fails_fails_every_caller_and_stores_nothing() {
    let harness = Harness::start().await;
    harness
        .pool
        .get()
        .await
        .expect("pool")
        .batch_execute(
            "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS \
               $$ BEGIN RAISE EXCEPTION 'disk on fire'; END $$; \
             CREATE TRIGGER refuse BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse();",
        )
        .await
        .expect("trigger");
    let calls = (0..50).map(|n| {
        let client = harness.client.clone();
        async move {
            client
                .emit_event(lead(json!({"email": format!("{n}@example.com")}), ""))
                .await
        }
    });
    for answer in join_all(calls).await {
        let status = answer.expect_err("refused");
        assert_eq!(status.code(), Code::Internal, "{status:?}");
    }
    let results = harness
        .client
        .emit_events(vec![
            lead(json!({"email": "a@example.com"}), ""),
            lead(json!({"email": "b@example.com"}), ""),
        ])
        .await
        .expect("call answers per event");
    for result in &results {
        let error = rejected(result);
        assert_eq!(error.code, Code::Internal as i32);
    }
    assert_eq!(harness.count("SELECT count(*) FROM events").await, 0);
    assert_eq!(harness.stats.commits.load(Ordering::Relaxed), 0);
}

pub fn accepted(
    result: &switchyard_client::proto::EmitEventsResult,
) -> &switchyard_client::proto::EmitEventResponse {
    use switchyard_client::proto::emit_events_result::Outcome;
    match &result.outcome {
        Some(Outcome::Accepted(response)) => response,
        other => panic!("not accepted: {other:?}"),
    }
}

pub fn rejected(
    result: &switchyard_client::proto::EmitEventsResult,
) -> &switchyard_client::proto::EmitEventsError {
    use switchyard_client::proto::emit_events_result::Outcome;
    match &result.outcome {
        Some(Outcome::Error(error)) => error,
        other => panic!("not refused: {other:?}"),
    }
}

//! Backfills against real Postgres and Redis: exactly one delivery per
//! matching event (live-routed ones and a second backfill add nothing), the
//! condition and mapping honoured, the rate honoured, a crashed worker's
//! backfill resumed from its cursor by another, cancel, and the precise
//! errors of the backfill RPCs.

use std::time::{Duration, Instant};

use serde_json::json;
use switchyard_client::{Client, proto};
use switchyard_core::ids::EventId;
use switchyard_core::shutdown;
use switchyard_core::time;
use switchyard_router::backfill::{self, BackfillSettings};
use switchyard_router::routing;
use tonic::Code;

use crate::common::{Harness, connection, create_rule, new_rule};

/// A worker that looks for work often, with a short lease.
fn quick(max_running: usize) -> BackfillSettings {
    BackfillSettings {
        lease: Duration::from_secs(2),
        poll: Duration::from_millis(100),
        max_running,
        ..BackfillSettings::default()
    }
}

fn request(rule_id: &str, rate: u32) -> proto::BackfillRuleRequest {
    let now = chrono::Utc::now();
    proto::BackfillRuleRequest {
        rule_id: rule_id.to_string(),
        from_time: Some(time::to_proto(now - chrono::Duration::hours(1))),
        to_time: Some(time::to_proto(now)),
        rate_per_second: rate,
    }
}

async fn start(client: &Client, request: proto::BackfillRuleRequest) -> proto::Backfill {
    client
        .router
        .clone()
        .backfill_rule(request)
        .await
        .expect("backfill started")
        .into_inner()
        .backfill
        .expect("backfill in response")
}

async fn get(client: &Client, id: &str) -> proto::Backfill {
    client
        .router
        .clone()
        .get_backfill(proto::GetBackfillRequest { id: id.to_string() })
        .await
        .expect("backfill")
        .into_inner()
        .backfill
        .expect("backfill in response")
}

/// Polls until the backfill is no longer running.
async fn finished(client: &Client, id: &str, within: Duration) -> proto::Backfill {
    let deadline = Instant::now() + within;
    loop {
        let backfill = get(client, id).await;
        if backfill.state() != proto::BackfillState::Running {
            return backfill;
        }
        assert!(Instant::now() < deadline, "still running: {backfill:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `(event, count)` of the rule's deliveries.
async fn deliveries_per_event(harness: &Harness, rule_id: &str) -> Vec<(EventId, i64)> {
    let rule = switchyard_core::ids::RuleId::parse(rule_id).expect("rule id");
    harness
        .pool
        .get()
        .await
        .expect("client")
        .query(
            "SELECT event_id, count(*) FROM deliveries WHERE rule_id = $1 \
             GROUP BY event_id ORDER BY event_id",
            &[&rule.as_uuid()],
        )
        .await
        .expect("deliveries")
        .iter()
        .map(|row| (EventId(row.get(0)), row.get(1)))
        .collect()
}

#[tokio::test]
async fn backfill_creates_exactly_one_delivery_per_matching_event() {
    let harness = Harness::new().await;
    let router = harness.start_router_with(quick(4)).await;
    let client = &router.client;
    let crm = connection(client, "crm").await;

    // Emitted before the rule existed: 20 leads (every other one above
    // 100, one of those without an email the mapping needs) and 5 invoices.
    let mut matching = Vec::new();
    let mut others = Vec::new();
    for n in 0..20 {
        let amount = if n % 2 == 0 { 150 } else { 50 };
        let payload = if n == 4 {
            json!({"amount": amount})
        } else {
            json!({"amount": amount, "email": format!("lead{n}@example.com")})
        };
        let event = harness.event("lead.created", payload).await;
        if amount > 100 {
            matching.push(event)
        } else {
            others.push(event)
        }
    }
    for _ in 0..5 {
        others.push(harness.event("invoice.paid", json!({"amount": 500})).await);
    }
    let rule = create_rule(
        client,
        proto::CreateRuleRequest {
            condition: "event.payload.amount > 100".to_string(),
            mapping: r#"{"email": event.payload.email}"#.to_string(),
            ..new_rule("lead.created", &crm)
        },
    )
    .await;
    // Three of the matching events are routed live once the rule exists.
    for event in &matching[..3] {
        routing::route_event(&router.state, harness.workspace, *event)
            .await
            .expect("routed live");
    }

    let started = start(client, request(&rule.id, 1000)).await;
    assert!(started.id.starts_with("bf_"), "{}", started.id);
    assert_eq!(started.state(), proto::BackfillState::Running);
    assert_eq!(started.events_total, 20, "leads only, not invoices");
    let done = finished(client, &started.id, Duration::from_secs(20)).await;
    assert_eq!(done.state(), proto::BackfillState::Completed, "{done:?}");
    assert_eq!(
        (
            done.events_scanned,
            done.events_matched,
            done.deliveries_created,
            done.deliveries_skipped
        ),
        (20, 10, 7, 3),
        "{done:?}"
    );
    assert_eq!(done.percent, 100.0);
    assert!(done.finished_at.is_some() && done.eta.is_none());

    let mut expected: Vec<(EventId, i64)> = matching.iter().map(|event| (*event, 1)).collect();
    expected.sort();
    assert_eq!(deliveries_per_event(&harness, &rule.id).await, expected);
    for event in &others {
        assert!(
            harness.deliveries(*event).await.is_empty(),
            "no delivery for {event}"
        );
    }
    // The mapping ran as in live routing, failing visibly where it could not.
    let mapped = harness.deliveries(matching[1]).await;
    assert_eq!(
        mapped["crm"].body,
        Some(json!({"email": "lead2@example.com"}))
    );
    assert_eq!(mapped["crm"].status, "pending");
    let failed = harness.deliveries(matching[2]).await;
    assert_eq!(failed["crm"].status, "failed", "{failed:?}");
    assert!(failed["crm"].last_error.contains("email"), "{failed:?}");
    // One job per pending delivery: 3 live, 6 from the backfill.
    assert_eq!(harness.stream_length().await, 9);

    // The same range again: nothing new, everything skipped.
    let again = start(client, request(&rule.id, 1000)).await;
    let again = finished(client, &again.id, Duration::from_secs(20)).await;
    assert_eq!(again.state(), proto::BackfillState::Completed);
    assert_eq!(
        (
            again.events_scanned,
            again.events_matched,
            again.deliveries_created,
            again.deliveries_skipped
        ),
        (20, 10, 0, 10),
        "{again:?}"
    );
    assert_eq!(deliveries_per_event(&harness, &rule.id).await, expected);
    assert_eq!(harness.stream_length().await, 9);
}

#[tokio::test]
async fn backfill_is_held_to_its_rate() {
    let harness = Harness::new().await;
    let router = harness.start_router_with(quick(4)).await;
    let client = &router.client;
    let crm = connection(client, "crm").await;
    for n in 0..200 {
        harness.event("lead.created", json!({"n": n})).await;
    }
    let rule = create_rule(client, new_rule("lead.created", &crm)).await;

    let began = Instant::now();
    let backfill = start(client, request(&rule.id, 50)).await;
    let done = finished(client, &backfill.id, Duration::from_secs(60)).await;
    let took = began.elapsed();
    assert_eq!(done.state(), proto::BackfillState::Completed);
    assert_eq!(done.deliveries_created, 200);
    // 200 events at 50/s: 4 s less one burst of a fifth of a second, plus
    // the worker's poll; far more would mean the pacing is broken.
    let rate = 200.0 / took.as_secs_f64();
    println!("200 events at 50/s took {took:?} ({rate:.1} events/s)");
    assert!(took >= Duration::from_millis(3500), "too fast: {took:?}");
    assert!(took <= Duration::from_secs(12), "too slow: {took:?}");
}

#[tokio::test]
async fn a_crashed_workers_backfill_resumes_from_its_cursor() {
    let harness = Harness::new().await;
    // The served router runs no worker: the test runs them by hand.
    let router = harness.start_router_with(quick(0)).await;
    let client = &router.client;
    let crm = connection(client, "crm").await;
    for n in 0..300 {
        harness.event("lead.created", json!({"n": n})).await;
    }
    let rule = create_rule(client, new_rule("lead.created", &crm)).await;
    let backfill = start(client, request(&rule.id, 100)).await;

    let (_first_trigger, first_signal) = shutdown::channel();
    let first = tokio::spawn(backfill::worker::run(
        router.state.clone(),
        quick(1),
        first_signal,
    ));
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(client, &backfill.id).await.events_scanned < 60 {
        assert!(
            Instant::now() < deadline,
            "the first worker made no progress"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The crash: the worker and its page in flight vanish, lease held.
    first.abort();
    let _ = first.await;
    let at_crash = get(client, &backfill.id).await;
    assert_eq!(at_crash.state(), proto::BackfillState::Running);
    assert!(at_crash.events_scanned < 300, "{at_crash:?}");

    let resumed_at = Instant::now();
    let (_second_trigger, second_signal) = shutdown::channel();
    let _second = tokio::spawn(backfill::worker::run(
        router.state.clone(),
        quick(1),
        second_signal,
    ));
    let done = finished(client, &backfill.id, Duration::from_secs(30)).await;
    assert_eq!(done.state(), proto::BackfillState::Completed, "{done:?}");
    // It waited for the crashed owner's lease to expire (2 s from its
    // last page) before taking over.
    assert!(
        resumed_at.elapsed() >= Duration::from_secs(1),
        "{:?}",
        resumed_at.elapsed()
    );
    // Counters add up: every event scanned once, one delivery each.
    assert_eq!(
        (
            done.events_total,
            done.events_scanned,
            done.events_matched,
            done.deliveries_created,
            done.deliveries_skipped
        ),
        (300, 300, 300, 300, 0),
        "{done:?}"
    );
    let per_event = deliveries_per_event(&harness, &rule.id).await;
    assert_eq!(per_event.len(), 300);
    assert!(per_event.iter().all(|(_, count)| *count == 1));
}

#[tokio::test]
async fn cancel_stops_a_running_backfill() {
    let harness = Harness::new().await;
    let router = harness.start_router_with(quick(4)).await;
    let client = &router.client;
    let crm = connection(client, "crm").await;
    for n in 0..100 {
        harness.event("lead.created", json!({"n": n})).await;
    }
    let rule = create_rule(client, new_rule("lead.created", &crm)).await;
    let backfill = start(client, request(&rule.id, 10)).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(client, &backfill.id).await.events_scanned == 0 {
        assert!(Instant::now() < deadline, "no progress");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let cancelled = client
        .router
        .clone()
        .cancel_backfill(proto::CancelBackfillRequest {
            id: backfill.id.clone(),
        })
        .await
        .expect("cancelled")
        .into_inner()
        .backfill
        .expect("backfill");
    assert_eq!(cancelled.state(), proto::BackfillState::Cancelled);
    assert!(cancelled.finished_at.is_some());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let later = get(client, &backfill.id).await;
    assert_eq!(later.state(), proto::BackfillState::Cancelled);
    assert_eq!(
        later.events_scanned, cancelled.events_scanned,
        "it went on after cancel"
    );
    assert!(later.events_scanned < 100);
    let created = deliveries_per_event(&harness, &rule.id).await.len();
    assert_eq!(created as u64, later.deliveries_created);

    let status = client
        .router
        .clone()
        .cancel_backfill(proto::CancelBackfillRequest {
            id: backfill.id.clone(),
        })
        .await
        .expect_err("cancelled twice");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("already cancelled"),
        "{}",
        status.message()
    );

    // Cancelled, the rule may be backfilled again.
    let next = start(client, request(&rule.id, 1000)).await;
    let next = finished(client, &next.id, Duration::from_secs(20)).await;
    assert_eq!(next.deliveries_created + next.deliveries_skipped, 100);
    assert_eq!(deliveries_per_event(&harness, &rule.id).await.len(), 100);
}

#[tokio::test]
async fn backfill_requests_are_refused_precisely() {
    let harness = Harness::new().await;
    // No worker: a started backfill stays running.
    let router = harness.start_router_with(quick(0)).await;
    let client = &router.client;
    let crm = connection(client, "crm").await;
    let rule = create_rule(client, new_rule("lead.created", &crm)).await;
    let refused = |request: proto::BackfillRuleRequest| {
        let mut router = client.router.clone();
        async move { router.backfill_rule(request).await.expect_err("refused") }
    };
    let now = chrono::Utc::now();
    let cases = [
        (
            proto::BackfillRuleRequest {
                rule_id: "con_1".into(),
                ..request(&rule.id, 10)
            },
            "rule_id: ",
        ),
        (
            proto::BackfillRuleRequest {
                from_time: None,
                ..request(&rule.id, 10)
            },
            "from_time: is required",
        ),
        (
            proto::BackfillRuleRequest {
                from_time: Some(time::to_proto(now)),
                to_time: Some(time::to_proto(now - chrono::Duration::hours(1))),
                ..request(&rule.id, 10)
            },
            "from_time: must be before to_time",
        ),
        (
            proto::BackfillRuleRequest {
                to_time: Some(time::to_proto(now + chrono::Duration::hours(1))),
                ..request(&rule.id, 10)
            },
            "to_time: is in the future",
        ),
        (
            request(&rule.id, 0),
            "rate_per_second: must be between 1 and 10000",
        ),
        (
            request(&rule.id, 10_001),
            "rate_per_second: must be between 1 and 10000",
        ),
    ];
    for (request, message) in cases {
        let status = refused(request).await;
        assert_eq!(status.code(), Code::InvalidArgument, "{}", status.message());
        assert!(
            status.message().starts_with(message),
            "{} (wanted {message})",
            status.message()
        );
    }

    // A rule of another workspace does not exist for this one.
    let (_, other_key) = harness.other_workspace().await;
    let other = harness.client(router.addr, &other_key);
    let other_crm = connection(&other, "crm").await;
    let other_rule = create_rule(&other, new_rule("lead.created", &other_crm)).await;
    let status = refused(request(&other_rule.id, 10)).await;
    assert_eq!(status.code(), Code::NotFound, "{}", status.message());

    let disabled = create_rule(
        client,
        proto::CreateRuleRequest {
            enabled: Some(false),
            ..new_rule("lead.updated", &crm)
        },
    )
    .await;
    let status = refused(request(&disabled.id, 10)).await;
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("disabled"),
        "{}",
        status.message()
    );

    // One running backfill per rule, the refusal naming it.
    let running = start(client, request(&rule.id, 10)).await;
    let status = refused(request(&rule.id, 10)).await;
    assert_eq!(status.code(), Code::AlreadyExists);
    assert!(
        status.message().contains(&running.id),
        "{}",
        status.message()
    );

    // Reads: unknown and malformed ids, listing with a filter and pages.
    let status = client
        .router
        .clone()
        .get_backfill(proto::GetBackfillRequest {
            id: switchyard_core::ids::BackfillId::generate().to_string(),
        })
        .await
        .expect_err("unknown");
    assert_eq!(status.code(), Code::NotFound);
    let status = client
        .router
        .clone()
        .get_backfill(proto::GetBackfillRequest {
            id: rule.id.clone(),
        })
        .await
        .expect_err("a rule id");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().starts_with("id: must start with `bf_`"),
        "{}",
        status.message()
    );
    let status = other
        .router
        .clone()
        .get_backfill(proto::GetBackfillRequest {
            id: running.id.clone(),
        })
        .await
        .expect_err("another workspace's");
    assert_eq!(status.code(), Code::NotFound);

    client
        .router
        .clone()
        .cancel_backfill(proto::CancelBackfillRequest {
            id: running.id.clone(),
        })
        .await
        .expect("cancelled");
    let second = start(client, request(&rule.id, 10)).await;
    let list = |rule_id: String, page_token: String| {
        let mut router = client.router.clone();
        async move {
            router
                .list_backfills(proto::ListBackfillsRequest {
                    rule_id,
                    page_size: 1,
                    page_token,
                })
                .await
                .expect("list")
                .into_inner()
        }
    };
    let first_page = list(rule.id.clone(), String::new()).await;
    assert_eq!(first_page.backfills.len(), 1);
    assert_eq!(first_page.backfills[0].id, second.id, "newest first");
    let second_page = list(rule.id.clone(), first_page.next_page_token.clone()).await;
    assert_eq!(second_page.backfills[0].id, running.id);
    assert_eq!(
        second_page.backfills[0].state(),
        proto::BackfillState::Cancelled
    );
    assert!(
        list(disabled.id.clone(), String::new())
            .await
            .backfills
            .is_empty()
    );
}

//! Retention: rows older than a workspace's period are gone and newer ones
//! intact, payloads go before metadata, idempotency keys outlive their
//! events only, partitions are ready ahead, and dropping old days under
//! emit load does not hold emits up. Old rows are written with ids of old
//! timestamps (`Uuid::new_v7(Timestamp::from_unix(..))`); the loop is off
//! and each test runs `retention::run_once` itself.

use std::time::{Duration, Instant};

use chrono::{Duration as Days, NaiveDate, Utc};
use serde_json::json;
use switchyard_client::proto;
use switchyard_core::config::RetentionConfig;
use switchyard_core::ids::{DeliveryId, EventId, RuleId, WorkspaceId};
use switchyard_ingest::retention::{self, Report, partitions};
use switchyard_tenancy::auth;
use tonic::Code;
use uuid::{NoContext, Timestamp, Uuid};

use crate::common::{Harness, LEAD, lead};

async fn harness() -> Harness {
    Harness::start_with(|config| config.ingest.retention.enabled = false).await
}

fn config() -> RetentionConfig {
    RetentionConfig {
        batch_size: 2,
        ..RetentionConfig::default()
    }
}

/// A UUIDv7 of `days` days ago (and `seconds` more).
fn id_days_ago(days: i64, seconds: i64) -> Uuid {
    let at = Utc::now() - Days::days(days) + Days::seconds(seconds);
    let seconds = u64::try_from(at.timestamp()).expect("after 1970");
    Uuid::new_v7(Timestamp::from_unix(NoContext, seconds, 0))
}

fn day(days_ago: i64) -> NaiveDate {
    (Utc::now() - Days::days(days_ago)).date_naive()
}

async fn run(harness: &Harness) -> Report {
    retention::run_once(&harness.pool, &config(), Utc::now())
        .await
        .expect("retention run")
        .expect("the lock was free")
}

async fn workspace(harness: &Harness, slug: &str) -> WorkspaceId {
    let client = harness.pool.get().await.expect("pool");
    WorkspaceId(
        client
            .query_one("SELECT id FROM workspaces WHERE slug = $1", &[&slug])
            .await
            .expect("workspace")
            .get(0),
    )
}

/// Rows of one event: the event, a delivery through a rule of its own and
/// one attempt.
struct Seeded {
    event: Uuid,
    delivery: Uuid,
}

async fn seed(
    harness: &Harness,
    workspace: WorkspaceId,
    event: Uuid,
    status: &str,
    body: Option<serde_json::Value>,
) -> Seeded {
    let client = harness.pool.get().await.expect("pool");
    let connection = Uuid::now_v7();
    let rule = RuleId::generate();
    client
        .execute(
            "INSERT INTO connections (id, workspace_id, name, kind, config, signing_secret) \
             VALUES ($1, $2, 'c', 'webhook', '{}', 's')",
            &[&connection, &workspace.as_uuid()],
        )
        .await
        .expect("connection");
    client
        .execute(
            "INSERT INTO rules (id, workspace_id, event_type, connection_id) VALUES ($1, $2, $3, $4)",
            &[&rule.as_uuid(), &workspace.as_uuid(), &LEAD, &connection],
        )
        .await
        .expect("rule");
    client
        .execute(
            "INSERT INTO events (id, workspace_id, event_type, schema_version, payload) \
             VALUES ($1, $2, $3, 1, $4)",
            &[
                &event,
                &workspace.as_uuid(),
                &LEAD,
                &json!({"email": "old@example.com"}),
            ],
        )
        .await
        .expect("event");
    let delivery = DeliveryId::for_event_rule(EventId(event), rule).as_uuid();
    client
        .execute(
            "INSERT INTO deliveries (id, workspace_id, event_id, rule_id, connection_id, status, body) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
            &[
                &delivery,
                &workspace.as_uuid(),
                &event,
                &rule.as_uuid(),
                &connection,
                &status,
                &body,
            ],
        )
        .await
        .expect("delivery");
    client
        .execute(
            "INSERT INTO delivery_attempts (delivery_id, attempt, workspace_id, started_at, \
                                            duration_ms, target, status_code) \
             VALUES ($1, 1, $2, now(), 12, 'https://example.com/hook', 200)",
            &[&delivery, &workspace.as_uuid()],
        )
        .await
        .expect("attempt");
    Seeded { event, delivery }
}

/// (event rows, delivery rows, attempt rows) of a seeded event.
async fn rows(harness: &Harness, seeded: &Seeded) -> (i64, i64, i64) {
    let client = harness.pool.get().await.expect("pool");
    let row = client
        .query_one(
            "SELECT (SELECT count(*) FROM events WHERE id = $1), \
                    (SELECT count(*) FROM deliveries WHERE event_id = $1), \
                    (SELECT count(*) FROM delivery_attempts WHERE delivery_id = $2)",
            &[&seeded.event, &seeded.delivery],
        )
        .await
        .expect("counts");
    (row.get(0), row.get(1), row.get(2))
}

async fn partition_exists(harness: &Harness, name: &str) -> bool {
    let client = harness.pool.get().await.expect("pool");
    client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
        .await
        .expect("lookup")
        .get(0)
}

fn suffix(day: NaiveDate) -> String {
    day.format("%Y%m%d").to_string()
}

#[tokio::test]
async fn partitions_are_ready_a_week_ahead_and_a_run_adds_the_missing_days() {
    let harness = harness().await;
    // The migration made today and a week ahead.
    for table in partitions::TABLES {
        for ahead in 0..=7 {
            let name = format!("{table}_p{}", suffix(day(-ahead)));
            assert!(partition_exists(&harness, &name).await, "{name} missing");
        }
    }
    // A run three days later adds three days to each table.
    let later = Utc::now() + Days::days(3);
    let report = retention::run_once(&harness.pool, &config(), later)
        .await
        .expect("run")
        .expect("lock");
    assert_eq!(report.partitions_created, 9);
    for table in partitions::TABLES {
        let name = format!("{table}_p{}", suffix(day(-10)));
        assert!(partition_exists(&harness, &name).await, "{name} missing");
    }
    // Nothing to add again; and an event of the last day is stored.
    assert_eq!(run(&harness).await.partitions_created, 0);
    let acme = workspace(&harness, "acme").await;
    seed(&harness, acme, id_days_ago(-10, 0), "pending", None).await;
}

#[tokio::test]
async fn rows_older_than_each_workspaces_period_are_removed_and_newer_kept() {
    let harness = harness().await;
    let client = harness.pool.get().await.expect("pool");
    partitions::create_days(&client, day(45), day(0))
        .await
        .expect("old partitions");
    // acme keeps 7 days (set through the API), `long` the default 30.
    let acme = workspace(&harness, "acme").await;
    let set = harness.client.set_retention(7, 0).await.expect("set");
    assert_eq!((set.retention_days, set.payload_retention_days), (7, 7));
    let (long, _) = auth::create_workspace(&harness.pool, &auth::KeyHasher::new(None), "long")
        .await
        .expect("workspace");

    let acme_40 = seed(&harness, acme, id_days_ago(40, 0), "succeeded", None).await;
    let acme_10 = seed(&harness, acme, id_days_ago(10, 0), "succeeded", None).await;
    let acme_1 = seed(&harness, acme, id_days_ago(1, 0), "succeeded", None).await;
    let long_40 = seed(&harness, long, id_days_ago(40, 0), "succeeded", None).await;
    let long_10 = seed(&harness, long, id_days_ago(10, 0), "dead", None).await;
    let long_1 = seed(&harness, long, id_days_ago(1, 0), "succeeded", None).await;
    client
        .execute(
            "INSERT INTO events_unrouted (event_id, workspace_id) VALUES ($1, $2)",
            &[&acme_10.event, &acme.as_uuid()],
        )
        .await
        .expect("outbox row");

    let report = run(&harness).await;

    // Day 40 went whole, from the three tables.
    let old_day = suffix(switchyard_uuid_day(acme_40.event));
    for table in partitions::TABLES {
        let name = format!("{table}_p{old_day}");
        assert!(report.partitions_dropped.contains(&name), "{report:?}");
        assert!(!partition_exists(&harness, &name).await);
    }
    assert_eq!(rows(&harness, &acme_40).await, (0, 0, 0));
    assert_eq!(rows(&harness, &long_40).await, (0, 0, 0));
    // acme's 10-day-old event went row by row with its delivery, attempt
    // and outbox row; `long` keeps its own.
    assert_eq!(rows(&harness, &acme_10).await, (0, 0, 0));
    assert_eq!(
        harness.count("SELECT count(*) FROM events_unrouted").await,
        0
    );
    assert_eq!(
        (
            report.events_removed,
            report.deliveries_removed,
            report.attempts_removed
        ),
        (1, 1, 1)
    );
    assert_eq!(rows(&harness, &long_10).await, (1, 1, 1));
    assert_eq!(rows(&harness, &acme_1).await, (1, 1, 1));
    assert_eq!(rows(&harness, &long_1).await, (1, 1, 1));

    // A second run finds nothing more.
    let again = run(&harness).await;
    assert_eq!(
        (again.events_removed, again.partitions_dropped.len()),
        (0, 0)
    );
}

fn switchyard_uuid_day(id: Uuid) -> NaiveDate {
    let (seconds, _) = id.get_timestamp().expect("v7").to_unix();
    chrono::DateTime::from_timestamp(i64::try_from(seconds).expect("seconds"), 0)
        .expect("time")
        .date_naive()
}

#[tokio::test]
async fn payloads_are_pruned_before_metadata_and_shown_as_pruned() {
    let harness = harness().await;
    let client = harness.pool.get().await.expect("pool");
    partitions::create_days(&client, day(12), day(0))
        .await
        .expect("old partitions");
    let acme = workspace(&harness, "acme").await;

    // Validation first: payloads cannot outlive events, periods are bounded.
    let refused = harness
        .client
        .set_retention(10, 20)
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("payload_retention_days"),
        "{refused:?}"
    );
    let refused = harness
        .client
        .set_retention(0, 0)
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(refused.message().contains("retention_days"), "{refused:?}");
    let set = harness.client.set_retention(30, 5).await.expect("set");
    assert_eq!((set.retention_days, set.payload_retention_days), (30, 5));

    let done = seed(
        &harness,
        acme,
        id_days_ago(10, 0),
        "succeeded",
        Some(json!({"mapped": 1})),
    )
    .await;
    let retrying = seed(
        &harness,
        acme,
        id_days_ago(10, 5),
        "retrying",
        Some(json!({"mapped": 2})),
    )
    .await;
    let recent = seed(
        &harness,
        acme,
        id_days_ago(1, 0),
        "succeeded",
        Some(json!({"mapped": 3})),
    )
    .await;

    let report = run(&harness).await;
    assert_eq!((report.payloads_pruned, report.bodies_pruned), (1, 1));
    assert_eq!(report.events_removed, 0);
    let state = |seeded: &Seeded| {
        let (event, delivery) = (seeded.event, seeded.delivery);
        let pool = harness.pool.clone();
        async move {
            let client = pool.get().await.expect("pool");
            let row = client
                .query_one(
                    "SELECT (SELECT payload IS NULL FROM events WHERE id = $1), \
                            (SELECT body IS NULL FROM deliveries WHERE id = $2)",
                    &[&event, &delivery],
                )
                .await
                .expect("state");
            (row.get::<_, bool>(0), row.get::<_, bool>(1))
        }
    };
    // Metadata stays; the payload and mapped body of the finished event go.
    assert_eq!(rows(&harness, &done).await, (1, 1, 1));
    assert_eq!(state(&done).await, (true, true));
    // A delivery still retrying keeps what it will send.
    assert_eq!(state(&retrying).await, (false, false));
    assert_eq!(state(&recent).await, (false, false));

    let get = |id: Uuid| {
        let mut ingest = harness.client.ingest.clone();
        async move {
            ingest
                .get_event(proto::GetEventRequest {
                    id: EventId(id).to_string(),
                })
                .await
                .expect("get")
                .into_inner()
                .event
                .expect("event")
        }
    };
    let pruned = get(done.event).await;
    assert!(pruned.payload_pruned);
    assert_eq!(pruned.payload_json, "");
    assert_eq!(pruned.event_type, LEAD);
    let kept = get(recent.event).await;
    assert!(!kept.payload_pruned);
    assert_eq!(
        kept.payload_json,
        json!({"email": "old@example.com"}).to_string()
    );

    // Once the retrying delivery succeeds, the next run prunes it too (the
    // walk resumes at the first event it had to keep).
    client
        .execute(
            "UPDATE deliveries SET status = 'succeeded' WHERE id = $1",
            &[&retrying.delivery],
        )
        .await
        .expect("finish");
    let report = run(&harness).await;
    assert_eq!((report.payloads_pruned, report.bodies_pruned), (1, 1));
    assert_eq!(state(&retrying).await, (true, true));
    assert_eq!(state(&recent).await, (false, false));
}

#[tokio::test]
async fn idempotency_keys_are_kept_as_long_as_their_events() {
    let harness = harness().await;
    let client = harness.pool.get().await.expect("pool");
    partitions::create_days(&client, day(40), day(40))
        .await
        .expect("old partition");
    let acme = workspace(&harness, "acme").await;

    let first = harness
        .client
        .emit_event(lead(json!({"email": "a@example.com"}), "fresh"))
        .await
        .expect("emit");
    let old = seed(&harness, acme, id_days_ago(40, 0), "succeeded", None).await;
    client
        .execute(
            "INSERT INTO idempotency_keys (workspace_id, key, event_id) VALUES ($1, 'old', $2)",
            &[&acme.as_uuid(), &old.event],
        )
        .await
        .expect("old key");

    let report = run(&harness).await;
    assert_eq!(report.partitions_dropped.len(), 3);
    assert_eq!(report.keys_removed, 1);
    assert_eq!(
        harness
            .count("SELECT count(*) FROM idempotency_keys WHERE key = 'fresh'")
            .await,
        1
    );

    // The kept event's key still answers with it.
    let repeat = harness
        .client
        .emit_event(lead(json!({"email": "a@example.com"}), "fresh"))
        .await
        .expect("emit");
    assert!(repeat.duplicate);
    assert_eq!(repeat.event_id, first.event_id);
    // The removed event's key is free again.
    let reused = harness
        .client
        .emit_event(lead(json!({"email": "b@example.com"}), "old"))
        .await
        .expect("emit");
    assert!(!reused.duplicate);
    assert_ne!(reused.event_id, EventId(old.event).to_string());

    // A key whose event is gone before the key is pruned is released: the
    // emit is answered Unavailable, and its retry (the SDK retries it)
    // stores a new event under the key.
    client
        .execute(
            "INSERT INTO idempotency_keys (workspace_id, key, event_id) VALUES ($1, 'orphan', $2)",
            &[&acme.as_uuid(), &id_days_ago(20, 0)],
        )
        .await
        .expect("orphan key");
    let taken = harness
        .client
        .emit_event(lead(json!({"email": "c@example.com"}), "orphan"))
        .await
        .expect("emit");
    assert!(!taken.duplicate);
    let stored: Uuid = client
        .query_one(
            "SELECT event_id FROM idempotency_keys WHERE workspace_id = $1 AND key = 'orphan'",
            &[&acme.as_uuid()],
        )
        .await
        .expect("key")
        .get(0);
    assert_eq!(EventId(stored).to_string(), taken.event_id);
    assert_eq!(
        harness
            .count("SELECT count(*) FROM events WHERE idempotency_key = 'orphan'")
            .await,
        1
    );
}

/// Fills a day (days ago) with `count` events, each with a delivery and an
/// attempt, in three statements.
async fn fill_day(harness: &Harness, workspace: WorkspaceId, days_ago: i64, count: i32) {
    let client = harness.pool.get().await.expect("pool");
    let start = (Utc::now() - Days::days(days_ago))
        .date_naive()
        .and_hms_opt(0, 0, 1)
        .expect("time")
        .and_utc();
    // An id of that day: its time's prefix, a version 7 and random bits.
    client
        .execute(
            "CREATE TEMP TABLE IF NOT EXISTS fill (id uuid, delivery uuid)",
            &[],
        )
        .await
        .expect("temp");
    client
        .execute(
            "INSERT INTO fill \
             SELECT (substr(b::text, 1, 14) || '7' || substr(h, 1, 3) || '-8' || substr(h, 4, 3) \
                     || '-' || substr(h, 7, 12))::uuid, \
                    (substr(b::text, 1, 14) || '7' || substr(h, 13, 3) || '-9' || substr(h, 16, 3) \
                     || '-' || substr(h, 19, 12))::uuid \
             FROM generate_series(1, $2) AS n, \
                  LATERAL (SELECT switchyard_time_bound($1::timestamptz + n * interval '1 second') AS b, \
                                  md5(random()::text) || md5(random()::text) AS h) AS g",
            &[&start, &count],
        )
        .await
        .expect("ids");
    let connection = Uuid::now_v7();
    let rule = Uuid::now_v7();
    client
        .batch_execute(&format!(
            "INSERT INTO connections (id, workspace_id, name, kind, config, signing_secret) \
             VALUES ('{connection}', '{w}', 'bulk', 'webhook', '{{}}', 's'); \
             INSERT INTO rules (id, workspace_id, event_type, connection_id) \
             VALUES ('{rule}', '{w}', '{LEAD}', '{connection}'); \
             INSERT INTO events (id, workspace_id, event_type, schema_version, payload) \
             SELECT id, '{w}', '{LEAD}', 1, '{{\"email\": \"bulk@example.com\", \"pad\": \"{pad}\"}}' FROM fill; \
             INSERT INTO deliveries (id, workspace_id, event_id, rule_id, connection_id, status) \
             SELECT delivery, '{w}', id, '{rule}', '{connection}', 'succeeded' FROM fill; \
             INSERT INTO delivery_attempts (delivery_id, attempt, workspace_id, started_at, \
                                            duration_ms, target, status_code) \
             SELECT delivery, 1, '{w}', now(), 10, 'https://example.com/hook', 200 FROM fill; \
             TRUNCATE fill",
            w = workspace.as_uuid(),
            pad = "x".repeat(200),
        ))
        .await
        .expect("fill");
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

#[tokio::test]
async fn a_retention_run_under_emit_load_does_not_block_emits() {
    let harness = harness().await;
    let client = harness.pool.get().await.expect("pool");
    partitions::create_days(&client, day(43), day(41))
        .await
        .expect("old partitions");
    let acme = workspace(&harness, "acme").await;
    for days_ago in 41..=43 {
        fill_day(&harness, acme, days_ago, 20_000).await;
    }
    assert_eq!(harness.count("SELECT count(*) FROM events").await, 60_000);

    // Emitters, each recording when its calls started and how long they took.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut emitters = Vec::new();
    for emitter in 0..16 {
        let client = harness.client.clone();
        let stop = std::sync::Arc::clone(&stop);
        emitters.push(tokio::spawn(async move {
            let mut calls = Vec::new();
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let started = Instant::now();
                client
                    .emit(
                        LEAD,
                        &json!({"email": format!("{emitter}-{n}@example.com")}),
                    )
                    .await
                    .expect("emit under load");
                calls.push((started, started.elapsed()));
            }
            calls
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let run_started = Instant::now();
    let report = run(&harness).await;
    let run_took = run_started.elapsed();
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut during = Vec::new();
    let mut before = Vec::new();
    for emitter in emitters {
        for (started, took) in emitter.await.expect("emitter") {
            // Calls that overlapped the run, and the ones of the second
            // before it (the baseline; the first second warms up).
            if started + took >= run_started && started <= run_started + run_took {
                during.push(took);
            } else if started + took < run_started && started + Duration::from_secs(1) > run_started
            {
                before.push(took);
            }
        }
    }
    during.sort();
    before.sort();
    assert_eq!(report.partitions_dropped.len(), 9, "{report:?}");
    assert_eq!(
        harness
            .count("SELECT count(*) FROM events WHERE id < switchyard_day_bound(current_date - 40)")
            .await,
        0
    );
    assert!(!during.is_empty(), "no emit overlapped the run");
    let (p50, p99, max) = (
        percentile(&during, 0.5),
        percentile(&during, 0.99),
        during[during.len() - 1],
    );
    eprintln!(
        "retention run took {run_took:?} dropping {} partitions (60000 events, deliveries and attempts); \
         {} emits overlapped it: p50 {p50:?}, p99 {p99:?}, max {max:?}; {} emits in the second before: \
         p50 {:?}, p99 {:?}, max {:?}",
        report.partitions_dropped.len(),
        during.len(),
        before.len(),
        percentile(&before, 0.5),
        percentile(&before, 0.99),
        before[before.len() - 1],
    );
    assert!(p99 < Duration::from_millis(1000), "p99 {p99:?}");
    assert!(max < Duration::from_secs(2), "max {max:?}");
}

//! V13 turns events, deliveries and attempts into day-partitioned tables:
//! rows written under V12 survive in the partition of their id's day, keys
//! move to `idempotency_keys`, and a week of partitions is ready ahead.

use chrono::{Duration, Utc};
use switchyard_testkit::TestDatabase;
use tokio_postgres::NoTls;
use uuid::{NoContext, Timestamp, Uuid};

fn id_days_ago(days: i64) -> Uuid {
    let seconds = u64::try_from((Utc::now() - Duration::days(days)).timestamp()).expect("time");
    Uuid::new_v7(Timestamp::from_unix(NoContext, seconds, 0))
}

#[tokio::test]
async fn existing_history_survives_the_move_to_day_partitions() {
    let database = TestDatabase::create_at(12).await.expect("database at V12");
    let (client, connection) = tokio_postgres::connect(&database.url, NoTls)
        .await
        .expect("connect");
    let driver = tokio::spawn(connection);
    let (workspace, connection_id, rule) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let (event, delivery) = (id_days_ago(3), id_days_ago(3));
    let fresh = Uuid::now_v7();
    client
        .batch_execute(&format!(
            "INSERT INTO workspaces (id, slug) VALUES ('{workspace}', 'acme'); \
             INSERT INTO connections (id, workspace_id, name, kind, config, signing_secret) \
             VALUES ('{connection_id}', '{workspace}', 'c', 'webhook', '{{}}', 's'); \
             INSERT INTO rules (id, workspace_id, event_type, connection_id) \
             VALUES ('{rule}', '{workspace}', 'lead.created', '{connection_id}'); \
             INSERT INTO events (id, workspace_id, event_type, schema_version, payload, idempotency_key) \
             VALUES ('{event}', '{workspace}', 'lead.created', 1, '{{\"n\": 1}}', 'k-1'), \
                    ('{fresh}', '{workspace}', 'lead.created', 1, '{{\"n\": 2}}', NULL); \
             INSERT INTO events_unrouted (event_id, workspace_id) VALUES ('{fresh}', '{workspace}'); \
             INSERT INTO deliveries (id, workspace_id, event_id, rule_id, connection_id, status, body) \
             VALUES ('{delivery}', '{workspace}', '{event}', '{rule}', '{connection_id}', 'succeeded', '{{\"m\": 1}}'); \
             INSERT INTO delivery_attempts (delivery_id, attempt, workspace_id, started_at, duration_ms, target, status_code) \
             VALUES ('{delivery}', 1, '{workspace}', now(), 7, 'https://example.com', 200);"
        ))
        .await
        .expect("V12 rows");

    let applied = switchyard_core::db::migrate(&database.url)
        .await
        .expect("the rest");
    assert!(applied >= 1);

    let day = |days: i64| {
        (Utc::now() - Duration::days(days))
            .format("%Y%m%d")
            .to_string()
    };
    let row = client
        .query_one(
            "SELECT e.tableoid::regclass::text, e.payload->>'n', e.idempotency_key, \
                    d.tableoid::regclass::text, d.status, d.body->>'m', \
                    a.tableoid::regclass::text, a.status_code \
             FROM events e JOIN deliveries d ON d.event_id = e.id \
             JOIN delivery_attempts a ON a.delivery_id = d.id WHERE e.id = $1",
            &[&event],
        )
        .await
        .expect("the old rows");
    assert_eq!(row.get::<_, String>(0), format!("events_p{}", day(3)));
    assert_eq!(row.get::<_, String>(1), "1");
    assert_eq!(row.get::<_, String>(2), "k-1");
    assert_eq!(row.get::<_, String>(3), format!("deliveries_p{}", day(3)));
    assert_eq!(row.get::<_, String>(4), "succeeded");
    assert_eq!(row.get::<_, String>(5), "1");
    assert_eq!(
        row.get::<_, String>(6),
        format!("delivery_attempts_p{}", day(3))
    );
    assert_eq!(row.get::<_, i32>(7), 200);
    let key: Uuid = client
        .query_one(
            "SELECT event_id FROM idempotency_keys WHERE workspace_id = $1 AND key = 'k-1'",
            &[&workspace],
        )
        .await
        .expect("key")
        .get(0);
    assert_eq!(key, event);
    let unrouted: i64 = client
        .query_one(
            "SELECT count(*) FROM events_unrouted WHERE event_id = $1",
            &[&fresh],
        )
        .await
        .expect("outbox")
        .get(0);
    assert_eq!(unrouted, 1);
    // The days between the oldest row and a week ahead all have partitions.
    for days in -7..=3 {
        let name = format!("events_p{}", day(days));
        let exists: bool = client
            .query_one("SELECT to_regclass($1) IS NOT NULL", &[&name])
            .await
            .expect("lookup")
            .get(0);
        assert!(exists, "{name} missing");
    }
    // Events before the migration may have deliveries with drawn ids.
    let from: Uuid = client
        .query_one("SELECT deterministic_from FROM delivery_id_scheme", &[])
        .await
        .expect("scheme")
        .get(0);
    assert!(event < from && fresh < from);
    drop(client);
    driver.abort();
}

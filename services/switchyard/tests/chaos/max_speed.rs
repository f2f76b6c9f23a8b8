//! `kill -9` at full speed: eight emitters send `EmitEvents` batches of 100
//! as fast as `switchyard serve` answers, to three rules (three webhooks);
//! the process is killed mid-run and started again while they go on. Then
//! every event the SDK saw accepted (the emitters keep the ids) must be
//! stored once and have exactly one delivery per rule, each delivered with
//! a valid signature; a webhook may come again after a 2xx only for a 2xx
//! that fell around the kill (its outcome was not recorded yet).

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, ensure};
use chrono::Utc;
use switchyard::receiver::{Behaviour, ReceivedWebhook, Receiver};
use switchyard_client::Client;
use switchyard_core::ids::EventId;
use switchyard_proto::v1 as proto;
use switchyard_proto::v1::emit_events_result::Outcome;
use switchyard_testkit::{TestDatabase, TestRedis};
use tokio::time::Instant;

use crate::procs::{SwitchyardProcess, TempDir};
use crate::{
    lead_schema, receipts_by_id, redelivered, settings, signature_ok, wait_until_serving,
    workspace_client,
};

const EMITTERS: usize = 8;
const BATCH: usize = 100;
const LOAD: Duration = Duration::from_secs(6);
const KILL_AT: Duration = Duration::from_secs(2);
const RULES: usize = 3;

/// What one emitter saw accepted: lead → event id.
type Accepted = Arc<Mutex<HashMap<String, String>>>;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_kill_at_full_speed_loses_no_event_and_doubles_no_delivery() -> anyhow::Result<()> {
    let dir = TempDir::new("sy-max-speed")?;
    let database = TestDatabase::create().await?;
    let redis = TestRedis::new();
    let pepper = "max-speed pepper, not secret";
    let env = settings(&database.url, &redis.url, &redis.prefix, pepper)?;
    let mut switchyard = SwitchyardProcess::start(env, dir.0.join("switchyard.log"))?;
    let ingest = switchyard.endpoint(1);
    wait_until_serving(&ingest, Duration::from_secs(90))
        .await
        .with_context(|| switchyard.log_tail())?;

    let pool = switchyard_core::db::pool(&database.url, 2)?;
    let client = workspace_client(&switchyard, &pool, pepper, "max-speed").await?;
    client
        .register_schema("lead.created", &lead_schema(), "a lead")
        .await?;
    let mut receivers = Vec::new();
    for n in 0..RULES {
        let receiver =
            Receiver::start(SocketAddr::from(([127, 0, 0, 1], 0)), Behaviour::default()).await?;
        let connection = client
            .create_webhook(
                &format!("receiver-{n}"),
                &receiver.url("/hook"),
                HashMap::new(),
            )
            .await?;
        receiver.set_secret(&connection.signing_secret);
        client.create_rule("lead.created", &connection.id).await?;
        receivers.push(receiver);
    }

    let accepted: Accepted = Arc::default();
    let started = Instant::now();
    let emitters: Vec<_> = (0..EMITTERS)
        .map(|emitter| {
            tokio::spawn(emit_until(
                client.clone(),
                emitter,
                started + LOAD,
                Arc::clone(&accepted),
            ))
        })
        .collect();
    tokio::time::sleep_until(started + KILL_AT).await;
    let killed_at = Utc::now();
    switchyard.kill()?;
    switchyard.start_again()?;
    wait_until_serving(&ingest, Duration::from_secs(60))
        .await
        .with_context(|| switchyard.log_tail())?;
    let back_at = Utc::now();
    for emitter in emitters {
        emitter.await??;
    }
    let accepted = accepted
        .lock()
        .map(|accepted| accepted.clone())
        .map_err(|_| anyhow::anyhow!("poisoned"))?;
    let accepted_events: HashSet<String> = accepted.values().cloned().collect();
    ensure!(accepted.len() > BATCH, "the emitters got events through");

    // One delivery per rule for every accepted event, all succeeded.
    let deadline = Instant::now() + Duration::from_secs(120);
    let per_event = loop {
        let per_event = succeeded_per_event(&pool).await?;
        let missing = accepted_events
            .iter()
            .filter(|event| per_event.get(*event).map(|(_, ok)| *ok) != Some(RULES))
            .count();
        if missing == 0 {
            break per_event;
        }
        ensure!(
            Instant::now() < deadline,
            "{missing} accepted events without {RULES} succeeded deliveries\n{}",
            switchyard.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    let client_db = pool.get().await?;
    let stored: Vec<(String, String)> = client_db
        .query("SELECT id, payload->>'id' FROM events", &[])
        .await?
        .iter()
        .map(|row| (EventId(row.get(0)).to_string(), row.get(1)))
        .collect();
    let mut leads_stored: HashMap<&str, usize> = HashMap::new();
    for (_, lead) in &stored {
        *leads_stored.entry(lead.as_str()).or_default() += 1;
    }
    let doubled = leads_stored.values().filter(|count| **count > 1).count();
    let rule_doubles: i64 = client_db
        .query_one(
            "SELECT count(*) FROM (SELECT event_id, rule_id FROM deliveries \
             GROUP BY 1, 2 HAVING count(*) > 1) d",
            &[],
        )
        .await?
        .get(0);
    let stored_ids: HashSet<&str> = stored.iter().map(|(id, _)| id.as_str()).collect();
    let lost = accepted_events
        .iter()
        .filter(|id| !stored_ids.contains(id.as_str()))
        .count();

    let received: Vec<ReceivedWebhook> = receivers
        .iter()
        .flat_map(|receiver| receiver.received())
        .collect();
    let bad_signatures = received.iter().filter(|w| !signature_ok(w)).count();
    let window = (
        killed_at - chrono::Duration::seconds(2),
        back_at + chrono::Duration::seconds(2),
    );
    let (again, outside) = redelivered(&receipts_by_id(&received), |at| {
        at >= window.0 && at <= window.1
    });
    let deliveries: usize = per_event.values().map(|(all, _)| all).sum();
    let seconds = LOAD.as_secs_f64();
    eprintln!();
    eprintln!(
        "== kill -9 at full speed: {EMITTERS} emitters × EmitEvents({BATCH}), {RULES} rules, {LOAD:?}, killed at {KILL_AT:?} =="
    );
    eprintln!("{:<52} {:>8}", "accepted events", accepted.len());
    eprintln!(
        "{:<52} {:>8.0}",
        "accepted per second (restart included)",
        accepted.len() as f64 / seconds
    );
    eprintln!("{:<52} {:>8}", "lost (accepted, not stored)", lost);
    eprintln!("{:<52} {:>8}", "stored twice", doubled);
    eprintln!("{:<52} {:>8}", "deliveries", deliveries);
    eprintln!(
        "{:<52} {:>8}",
        "event+rule pairs with two deliveries", rule_doubles
    );
    eprintln!("{:<52} {:>8}", "webhooks received", received.len());
    eprintln!("{:<52} {:>8}", "redelivered after a 2xx", again);
    eprintln!(
        "{:<52} {:>8}",
        "  of which outside the kill's window", outside
    );
    eprintln!("{:<52} {:>8}", "bad signatures", bad_signatures);
    eprintln!();

    ensure!(lost == 0, "{lost} accepted events not stored");
    ensure!(doubled == 0, "{doubled} leads stored twice");
    ensure!(rule_doubles == 0, "{rule_doubles} event+rule pairs doubled");
    ensure!(
        deliveries == RULES * per_event.len(),
        "one delivery per rule and event"
    );
    ensure!(bad_signatures == 0, "{bad_signatures} bad signatures");
    ensure!(
        outside == 0,
        "{outside} webhooks came again after a 2xx outside the kill's window"
    );
    Ok(())
}

/// Sends batches until `until`; an item refused for now (or a whole call
/// the SDK gave up on, while the process was down) is sent again with its
/// idempotency key, so every event is answered in the end.
async fn emit_until(
    client: Client,
    emitter: usize,
    until: Instant,
    accepted: Accepted,
) -> anyhow::Result<()> {
    let mut next = 0usize;
    let mut pending: Vec<String> = Vec::new();
    let answer_by = until + Duration::from_secs(60);
    while Instant::now() < until || !pending.is_empty() {
        ensure!(Instant::now() < answer_by, "emits unanswered for a minute");
        while pending.len() < BATCH && Instant::now() < until {
            pending.push(format!("lead-{emitter}-{next}"));
            next += 1;
        }
        let events: Vec<proto::EmitEventRequest> = pending
            .iter()
            .map(|lead| proto::EmitEventRequest {
                event_type: "lead.created".to_string(),
                payload_json: serde_json::json!({
                    "id": lead,
                    "email": format!("{lead}@example.com"),
                })
                .to_string(),
                idempotency_key: lead.clone(),
                schema_version: 0,
            })
            .collect();
        let results = match client.emit_events(events).await {
            Ok(results) => results,
            Err(_) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let mut refused = Vec::new();
        for (lead, result) in pending.drain(..).zip(results) {
            match result.outcome {
                Some(Outcome::Accepted(response)) => {
                    if let Ok(mut accepted) = accepted.lock() {
                        accepted.insert(lead, response.event_id);
                    }
                }
                Some(Outcome::Error(error)) => {
                    ensure!(
                        error.code == 14 || error.code == 8,
                        "{lead} refused with code {}: {}",
                        error.code,
                        error.message
                    );
                    refused.push(lead);
                }
                None => refused.push(lead),
            }
        }
        pending = refused;
    }
    Ok(())
}

/// Per event id: deliveries, and of those the succeeded ones.
async fn succeeded_per_event(
    pool: &deadpool_postgres::Pool,
) -> anyhow::Result<HashMap<String, (usize, usize)>> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT event_id, count(*), count(*) FILTER (WHERE status = 'succeeded') \
             FROM deliveries GROUP BY event_id",
            &[],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| {
            let all: i64 = row.get(1);
            let ok: i64 = row.get(2);
            (EventId(row.get(0)).to_string(), (all as usize, ok as usize))
        })
        .collect())
}

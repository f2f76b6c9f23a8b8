//! Faults under load. The `switchyard` binary serves all four services
//! against a Postgres and a Redis the test owns; the Rust SDK emits
//! `lead.created` at a steady rate to one rule, a webhook to a local
//! receiver that checks every signature. Meanwhile:
//! 1. Postgres is stopped (`fast`, as a restart does), held down, started;
//! 2. Redis is killed and started empty (its streams and groups are gone);
//! 3. the `switchyard` process is killed (`kill -9`) and started again.
//!
//! Then every emit the SDK saw accepted must be stored once and delivered;
//! every refused attempt must have said `UNAVAILABLE` (or been refused by
//! the transport while the process was down) and been retried by the SDK;
//! a webhook may arrive again after a 2xx only inside a fault's
//! at-least-once window; the process must have ridden out the Postgres and
//! Redis restarts without restarting. The figures are printed as a table
//! (`cargo test -p switchyard --test chaos -- --nocapture`).
//!
//! [`max_speed`] kills the process while `EmitEvents` batches arrive as
//! fast as it takes them, to three rules. [`replicas`] runs every service
//! as several processes of its own ([`fleet`]) and kills, stops and
//! restarts some of them under load, on one Redis and on a 3-node Redis
//! Cluster. [`ordering`] checks per-key ordering across two delivery
//! processes, one of them killed.

mod fleet;
mod load;
mod max_speed;
mod ordering;
mod procs;
mod replicas;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail, ensure};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use switchyard::receiver::{Behaviour, ReceivedWebhook, Receiver};
use switchyard_client::{Client, Endpoints};
use switchyard_core::ids::{DeliveryId, EventId};
use tokio::time::Instant;
use tonic_health::ServingStatus;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use procs::{OwnedPostgres, OwnedRedis, SwitchyardProcess, TempDir};

/// Emits per second, and for how long.
const RATE: u32 = 150;
const LOAD: Duration = Duration::from_secs(24);
/// When each fault starts, from the start of the load.
const POSTGRES_AT: Duration = Duration::from_secs(4);
const REDIS_AT: Duration = Duration::from_secs(10);
const KILL_AT: Duration = Duration::from_secs(16);
/// How long Postgres and Redis stay down.
const POSTGRES_DOWN: Duration = Duration::from_secs(2);
const REDIS_DOWN: Duration = Duration::from_secs(1);
/// A delivery's lease; a job cut by the kill comes back after it.
const VISIBILITY_TIMEOUT: Duration = Duration::from_secs(5);
const INGEST_SERVICE: &str = "switchyard.v1.IngestService";

/// Ingest's health at one moment (`None`: no answer).
type HealthSample = (DateTime<Utc>, Option<ServingStatus>);

/// One fault: when it began and when the dependency answered again.
#[derive(Clone, Debug)]
struct Fault {
    name: &'static str,
    began: DateTime<Utc>,
    back: DateTime<Utc>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outages_under_load_lose_nothing_and_answer_unavailable() -> anyhow::Result<()> {
    let dir = TempDir::new("sy-chaos")?;
    let mut postgres = OwnedPostgres::start(&dir.0).await?;
    let mut redis = OwnedRedis::start().await?;
    let pepper = "chaos pepper, not secret";
    let env = stack_env(&postgres, &redis, pepper)?;
    let mut switchyard = SwitchyardProcess::start(env, dir.0.join("switchyard.log"))?;
    let ingest = switchyard.endpoint(1);
    wait_until_serving(&ingest, Duration::from_secs(90))
        .await
        .with_context(|| switchyard.log_tail())?;

    let pool = switchyard_core::db::pool(&postgres.url("switchyard"), 2)?;
    let client = workspace_client(&switchyard, &pool, pepper, "chaos").await?;
    let receiver =
        Receiver::start(SocketAddr::from(([127, 0, 0, 1], 0)), Behaviour::default()).await?;
    client
        .register_schema("lead.created", &lead_schema(), "a lead")
        .await?;
    let connection = client
        .create_webhook("receiver", &receiver.url("/hook"), HashMap::new())
        .await?;
    receiver.set_secret(&connection.signing_secret);
    client.create_rule("lead.created", &connection.id).await?;

    // Health, sampled all along.
    let health = Arc::new(Mutex::new(Vec::new()));
    let watcher = tokio::spawn(watch_health(ingest.clone(), Arc::clone(&health)));

    let started = Instant::now();
    let (tally, faults) = tokio::join!(
        load::run(&client, RATE, LOAD, started),
        inject_faults(started, &mut postgres, &mut redis, &mut switchyard, &ingest),
    );
    let tally = tally?;
    let (faults, survived) = faults.with_context(|| switchyard.log_tail())?;

    // Every accepted event delivered (the kill's cut attempts come back
    // after their lease).
    let accepted_events: HashSet<String> =
        tally.accepted.iter().map(|a| a.event_id.clone()).collect();
    let deliveries = wait_for_deliveries(&pool, &accepted_events, Duration::from_secs(60))
        .await
        .with_context(|| switchyard.log_tail())?;
    let still_running = switchyard.is_running();
    let serving_at_end = check_health(&mut health_client(&ingest)?).await;
    watcher.abort();

    let report = Report::build(&tally, &faults, &deliveries, &receiver.received(), &pool).await?;
    let health = health
        .lock()
        .map(|samples| samples.clone())
        .unwrap_or_default();
    report.print(&tally, &faults, &health);

    // What the SDK saw.
    ensure!(
        tally.failed.is_empty(),
        "calls failed after retrying: {:?}",
        tally.failed
    );
    ensure!(
        tally.accepted.len() as u64 == u64::from(RATE) * LOAD.as_secs(),
        "every emit is accepted in the end"
    );
    for label in tally.refused.keys() {
        ensure!(!load::is_bug(label), "a refusal said {label}");
        ensure!(
            label.starts_with("Unavailable") || label.ends_with("(transport)"),
            "a refusal that is not an outage: {label}"
        );
    }
    ensure!(
        tally
            .refused
            .iter()
            .any(|(label, count)| label == "Unavailable (server, with RetryInfo)" && *count > 0),
        "the Postgres restart refused emits with UNAVAILABLE and RetryInfo: {:?}",
        tally.refused
    );
    // What was stored and delivered.
    ensure!(
        report.stored == tally.accepted.len(),
        "accepted events stored"
    );
    ensure!(report.doubled == 0, "{} leads stored twice", report.doubled);
    ensure!(
        report.unacknowledged == 0,
        "events stored that the SDK never saw accepted"
    );
    ensure!(
        report.delivered == tally.accepted.len(),
        "accepted events delivered"
    );
    ensure!(
        report.bad_signatures == 0,
        "{} bad signatures",
        report.bad_signatures
    );
    ensure!(
        report.redelivered_outside_windows == 0,
        "{} webhooks came again after a 2xx outside every fault's window",
        report.redelivered_outside_windows
    );
    // The process rode out the Postgres and Redis restarts, and health
    // followed Postgres.
    ensure!(
        survived,
        "switchyard exited during the Postgres or Redis restart"
    );
    ensure!(still_running, "switchyard exited after its restart");
    ensure!(
        serving_at_end == Some(ServingStatus::Serving),
        "serving at the end"
    );
    ensure!(
        not_serving_during(&health, &faults[0]),
        "health reported NOT_SERVING while Postgres was down"
    );
    Ok(())
}

/// A new workspace in the process's database, and an SDK client with its key.
async fn workspace_client(
    switchyard: &SwitchyardProcess,
    pool: &deadpool_postgres::Pool,
    pepper: &str,
    name: &str,
) -> anyhow::Result<Client> {
    let hasher = switchyard_tenancy::auth::KeyHasher::new(Some(&SecretString::from(pepper)));
    let (_, api_key) = switchyard_tenancy::auth::create_workspace(pool, &hasher, name)
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let endpoints = Endpoints {
        registry: switchyard.endpoint(0),
        ingest: switchyard.endpoint(1),
        router: switchyard.endpoint(2),
        delivery: switchyard.endpoint(3),
    };
    Ok(Client::connect_lazy(&endpoints, &api_key)?)
}

fn lead_schema() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "required": ["id", "email"],
        "properties": {
            "id": {"type": "string"},
            "email": {"type": "string"}
        }
    })
}

fn stack_env(
    postgres: &OwnedPostgres,
    redis: &OwnedRedis,
    pepper: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    settings(&postgres.url("switchyard"), &redis.url(), "chaos", pepper)
}

/// The `SWITCHYARD_*` settings of a test's `switchyard serve`: short
/// retries, leases and polls, loopback destinations allowed.
fn settings(
    database_url: &str,
    redis_url: &str,
    prefix: &str,
    pepper: &str,
) -> anyhow::Result<Vec<(String, String)>> {
    let metrics = format!("127.0.0.1:{}", procs::free_port()?);
    let settings = [
        ("SWITCHYARD_DATABASE_URL", database_url.to_string()),
        ("SWITCHYARD_DATABASE_POOL_SIZE", "8".to_string()),
        ("SWITCHYARD_REDIS_URL", redis_url.to_string()),
        ("SWITCHYARD_REDIS_PREFIX", prefix.to_string()),
        (
            "SWITCHYARD_ALLOWED_DESTINATION_NETWORKS",
            "127.0.0.1/32".to_string(),
        ),
        (
            "SWITCHYARD_SECRETS__KEYS__CHAOS",
            switchyard_core::config::generate_master_key(),
        ),
        ("SWITCHYARD_API_KEY_PEPPER", pepper.to_string()),
        ("SWITCHYARD_INTERNAL_TOKEN", "sy_internal_chaos".to_string()),
        ("SWITCHYARD_TELEMETRY__METRICS_ADDR", metrics),
        ("SWITCHYARD_TELEMETRY__TRACING", "off".to_string()),
        (
            "SWITCHYARD_DELIVERY__RETRY_SCHEDULE",
            "0s,1s,1s,2s,2s,2s,2s,2s".to_string(),
        ),
        ("SWITCHYARD_DELIVERY__REQUEST_TIMEOUT", "2s".to_string()),
        (
            "SWITCHYARD_DELIVERY__VISIBILITY_TIMEOUT",
            format!("{}s", VISIBILITY_TIMEOUT.as_secs()),
        ),
        (
            "SWITCHYARD_DELIVERY__SCHEDULER_INTERVAL",
            "100ms".to_string(),
        ),
        (
            "SWITCHYARD_INGEST__OUTBOX_POLL_INTERVAL",
            "200ms".to_string(),
        ),
        ("SWITCHYARD_INGEST__OUTBOX_GRACE", "500ms".to_string()),
        ("SWITCHYARD_LOG_FORMAT", "text".to_string()),
        ("RUST_LOG", "warn".to_string()),
        ("OTEL_SDK_DISABLED", "true".to_string()),
    ];
    Ok(settings
        .into_iter()
        .map(|(name, value)| (name.to_string(), value))
        .collect())
}

/// Runs the three faults on schedule; returns them and whether the first
/// `switchyard` process was still running when it was killed.
async fn inject_faults(
    started: Instant,
    postgres: &mut OwnedPostgres,
    redis: &mut OwnedRedis,
    switchyard: &mut SwitchyardProcess,
    ingest: &str,
) -> anyhow::Result<(Vec<Fault>, bool)> {
    let mut faults = Vec::new();

    tokio::time::sleep_until(started + POSTGRES_AT).await;
    let began = Utc::now();
    postgres.stop()?;
    tokio::time::sleep(POSTGRES_DOWN).await;
    postgres.start_again().await?;
    faults.push(Fault {
        name: "Postgres restart",
        began,
        back: Utc::now(),
    });

    tokio::time::sleep_until(started + REDIS_AT).await;
    let began = Utc::now();
    redis.kill()?;
    tokio::time::sleep(REDIS_DOWN).await;
    redis.start_again().await?;
    faults.push(Fault {
        name: "Redis restart, data lost",
        began,
        back: Utc::now(),
    });

    tokio::time::sleep_until(started + KILL_AT).await;
    let survived = switchyard.is_running();
    let began = Utc::now();
    switchyard.kill()?;
    switchyard.start_again()?;
    wait_until_serving(ingest, Duration::from_secs(60)).await?;
    faults.push(Fault {
        name: "switchyard kill -9",
        began,
        back: Utc::now(),
    });
    Ok((faults, survived))
}

fn health_client(endpoint: &str) -> anyhow::Result<HealthClient<tonic::transport::Channel>> {
    let channel = tonic::transport::Endpoint::from_shared(endpoint.to_string())?
        .connect_timeout(Duration::from_millis(500))
        .timeout(Duration::from_secs(1))
        .connect_lazy();
    Ok(HealthClient::new(channel))
}

async fn check_health(
    client: &mut HealthClient<tonic::transport::Channel>,
) -> Option<ServingStatus> {
    let request = HealthCheckRequest {
        service: INGEST_SERVICE.to_string(),
    };
    let response = client.check(request).await.ok()?.into_inner();
    match response.status {
        1 => Some(ServingStatus::Serving),
        2 => Some(ServingStatus::NotServing),
        _ => Some(ServingStatus::Unknown),
    }
}

async fn wait_until_serving(endpoint: &str, timeout: Duration) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    let mut client = health_client(endpoint)?;
    while check_health(&mut client).await != Some(ServingStatus::Serving) {
        if Instant::now() > deadline {
            bail!("{endpoint} not serving within {timeout:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// Samples ingest's health every 200 ms (`None`: no answer).
async fn watch_health(endpoint: String, samples: Arc<Mutex<Vec<HealthSample>>>) {
    let Ok(mut client) = health_client(&endpoint) else {
        return;
    };
    loop {
        let status = check_health(&mut client).await;
        if let Ok(mut samples) = samples.lock() {
            samples.push((Utc::now(), status));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn not_serving_during(samples: &[HealthSample], fault: &Fault) -> bool {
    samples.iter().any(|(at, status)| {
        *at >= fault.began && *at <= fault.back && *status == Some(ServingStatus::NotServing)
    })
}

/// A delivery as stored: its event and status.
struct StoredDelivery {
    id: String,
    event_id: String,
    status: String,
}

/// Polls until every accepted event has a delivery and every delivery has
/// succeeded (or the deadline passes, with what is missing).
async fn wait_for_deliveries(
    pool: &deadpool_postgres::Pool,
    accepted: &HashSet<String>,
    timeout: Duration,
) -> anyhow::Result<Vec<StoredDelivery>> {
    let deadline = Instant::now() + timeout;
    loop {
        let deliveries = stored_deliveries(pool).await?;
        let succeeded: HashSet<&str> = deliveries
            .iter()
            .filter(|d| d.status == "succeeded")
            .map(|d| d.event_id.as_str())
            .collect();
        let missing = accepted
            .iter()
            .filter(|event| !succeeded.contains(event.as_str()))
            .count();
        if missing == 0 {
            return Ok(deliveries);
        }
        if Instant::now() > deadline {
            let mut by_status: BTreeMap<&str, usize> = BTreeMap::new();
            for delivery in &deliveries {
                *by_status.entry(delivery.status.as_str()).or_default() += 1;
            }
            bail!(
                "{missing} accepted events not delivered within {timeout:?}; deliveries by status: {by_status:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn stored_deliveries(pool: &deadpool_postgres::Pool) -> anyhow::Result<Vec<StoredDelivery>> {
    let client = pool.get().await.context("pool")?;
    let rows = client
        .query("SELECT id, event_id, status FROM deliveries", &[])
        .await?;
    Ok(rows
        .iter()
        .map(|row| StoredDelivery {
            id: DeliveryId(row.get(0)).to_string(),
            event_id: EventId(row.get(1)).to_string(),
            status: row.get(2),
        })
        .collect())
}

/// The figures of the closing table.
struct Report {
    stored: usize,
    doubled: usize,
    unacknowledged: usize,
    delivered: usize,
    received: usize,
    bad_signatures: usize,
    redelivered_after_2xx: usize,
    redelivered_outside_windows: usize,
    duplicates_answered: usize,
    /// Per fault: first emit accepted and first new event delivered after
    /// the dependency was back.
    recovery: Vec<(Option<Duration>, Option<Duration>)>,
}

impl Report {
    async fn build(
        tally: &load::Tally,
        faults: &[Fault],
        deliveries: &[StoredDelivery],
        received: &[ReceivedWebhook],
        pool: &deadpool_postgres::Pool,
    ) -> anyhow::Result<Self> {
        let client = pool.get().await.context("pool")?;
        let rows = client
            .query("SELECT id, payload->>'id' FROM events", &[])
            .await?;
        let mut events_by_lead: HashMap<String, Vec<String>> = HashMap::new();
        for row in &rows {
            let lead: String = row.get(1);
            events_by_lead
                .entry(lead)
                .or_default()
                .push(EventId(row.get(0)).to_string());
        }
        let accepted_leads: HashMap<&str, &load::Accepted> = tally
            .accepted
            .iter()
            .map(|a| (a.lead.as_str(), a))
            .collect();
        let stored = tally
            .accepted
            .iter()
            .filter(|a| events_by_lead.get(&a.lead) == Some(&vec![a.event_id.clone()]))
            .count();
        let doubled = events_by_lead.values().filter(|ids| ids.len() > 1).count();
        let unacknowledged = events_by_lead
            .keys()
            .filter(|lead| !accepted_leads.contains_key(lead.as_str()))
            .count();

        let event_of_delivery: HashMap<&str, &str> = deliveries
            .iter()
            .map(|d| (d.id.as_str(), d.event_id.as_str()))
            .collect();
        let receipts = receipts_by_id(received);
        let delivered_events: HashSet<&str> = receipts
            .iter()
            .filter(|(_, list)| list.iter().any(|w| is_2xx(w) && signature_ok(w)))
            .filter_map(|(id, _)| event_of_delivery.get(id).copied())
            .collect();
        let delivered = tally
            .accepted
            .iter()
            .filter(|a| delivered_events.contains(a.event_id.as_str()))
            .count();
        let bad_signatures = received.iter().filter(|w| !signature_ok(w)).count();

        // A receipt after a 2xx for the same webhook-id is a redelivery; it
        // is expected only when that 2xx fell in a fault's window (the
        // attempt's outcome could not be recorded, or its job came back).
        let (redelivered_after_2xx, redelivered_outside_windows) = redelivered(&receipts, |at| {
            faults.iter().any(|fault| {
                at >= fault.began - chrono::Duration::seconds(2)
                    && at <= fault.back + chrono::Duration::seconds(2)
            })
        });

        let accepted_at: HashMap<&str, DateTime<Utc>> = tally
            .accepted
            .iter()
            .map(|a| (a.event_id.as_str(), a.at))
            .collect();
        let recovery = faults
            .iter()
            .map(|fault| {
                let first_emit = tally
                    .accepted
                    .iter()
                    .filter(|a| a.at > fault.back)
                    .map(|a| a.at)
                    .min();
                let first_delivery = received
                    .iter()
                    .filter(|w| w.received_at > fault.back && is_2xx(w))
                    .filter(|w| {
                        w.header("webhook-id")
                            .and_then(|id| event_of_delivery.get(id))
                            .and_then(|event| accepted_at.get(event))
                            .is_some_and(|at| *at > fault.back)
                    })
                    .map(|w| w.received_at)
                    .min();
                let since_back =
                    |at: Option<DateTime<Utc>>| at.and_then(|at| (at - fault.back).to_std().ok());
                (since_back(first_emit), since_back(first_delivery))
            })
            .collect();
        Ok(Self {
            stored,
            doubled,
            unacknowledged,
            delivered,
            received: received.len(),
            bad_signatures,
            redelivered_after_2xx,
            redelivered_outside_windows,
            duplicates_answered: tally.accepted.iter().filter(|a| a.duplicate).count(),
            recovery,
        })
    }

    fn print(&self, tally: &load::Tally, faults: &[Fault], health: &[HealthSample]) {
        let total = u64::from(RATE) * LOAD.as_secs();
        eprintln!();
        eprintln!("== chaos: {RATE} emits/s for {LOAD:?} ({total} emits), one webhook rule ==");
        eprintln!(
            "{:<58} {:>8}",
            "accepted (SDK saw OK)",
            tally.accepted.len()
        );
        eprintln!(
            "{:<58} {:>8}",
            "  of which answered `duplicate` (a retry of a stored emit)", self.duplicates_answered
        );
        eprintln!(
            "{:<58} {:>8}",
            "failed after retries",
            tally.failed.values().sum::<u64>()
        );
        eprintln!("refused attempts, all retried by the SDK:");
        for (label, count) in &tally.refused {
            eprintln!("  {label:<56} {count:>8}");
        }
        eprintln!(
            "{:<58} {:>8}",
            "stored once (accepted events in Postgres)", self.stored
        );
        eprintln!("{:<58} {:>8}", "stored twice", self.doubled);
        eprintln!(
            "{:<58} {:>8}",
            "delivered (2xx, signature verified)", self.delivered
        );
        eprintln!("{:<58} {:>8}", "webhook requests received", self.received);
        eprintln!(
            "{:<58} {:>8}",
            "redelivered after a 2xx", self.redelivered_after_2xx
        );
        eprintln!(
            "{:<58} {:>8}",
            "  of which outside a fault's at-least-once window", self.redelivered_outside_windows
        );
        eprintln!("{:<58} {:>8}", "bad signatures", self.bad_signatures);
        eprintln!("recovery (from the dependency answering again):");
        for (fault, (emit, delivery)) in faults.iter().zip(&self.recovery) {
            let held = (fault.back - fault.began).to_std().unwrap_or_default();
            eprintln!(
                "  {:<26} down {:>6.2?}  first emit accepted +{}  first new event delivered +{}",
                fault.name,
                held,
                show(*emit),
                show(*delivery)
            );
        }
        if let Some(fault) = faults.first() {
            let not_serving: Vec<_> = health
                .iter()
                .filter(|(at, status)| {
                    *status == Some(ServingStatus::NotServing)
                        && *at >= fault.began
                        && *at <= fault.back + chrono::Duration::seconds(5)
                })
                .collect();
            let serving_again = health
                .iter()
                .find(|(at, status)| *at > fault.back && *status == Some(ServingStatus::Serving))
                .and_then(|(at, _)| (*at - fault.back).to_std().ok());
            eprintln!(
                "  health during the Postgres restart: {} NOT_SERVING samples, SERVING again +{}",
                not_serving.len(),
                show(serving_again)
            );
        }
        eprintln!();
    }
}

/// Receipts per `webhook-id`, in arrival order.
fn receipts_by_id(received: &[ReceivedWebhook]) -> HashMap<&str, Vec<&ReceivedWebhook>> {
    let mut receipts: HashMap<&str, Vec<&ReceivedWebhook>> = HashMap::new();
    for webhook in received {
        if let Some(id) = webhook.header("webhook-id") {
            receipts.entry(id).or_default().push(webhook);
        }
    }
    receipts
}

/// Receipts that came after a 2xx for the same `webhook-id`, and of those
/// the ones whose 2xx was not `expected` (an at-least-once window).
fn redelivered(
    receipts: &HashMap<&str, Vec<&ReceivedWebhook>>,
    expected: impl Fn(DateTime<Utc>) -> bool,
) -> (usize, usize) {
    let (mut again, mut unexpected) = (0, 0);
    for list in receipts.values() {
        let Some(first_ok) = list.iter().position(|w| is_2xx(w)) else {
            continue;
        };
        let more = list.len() - first_ok - 1;
        again += more;
        if more > 0 && !expected(list[first_ok].received_at) {
            unexpected += more;
        }
    }
    (again, unexpected)
}

fn show(duration: Option<Duration>) -> String {
    duration.map_or("never".to_string(), |d| format!("{:.2?}", d))
}

fn is_2xx(webhook: &ReceivedWebhook) -> bool {
    (200..300).contains(&webhook.answered)
}

fn signature_ok(webhook: &ReceivedWebhook) -> bool {
    matches!(webhook.signature, Some(Ok(())))
}

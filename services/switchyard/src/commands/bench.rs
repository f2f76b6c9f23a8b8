//! `switchyard bench`: the load generator. It starts N local webhook
//! receivers (healthy, failing or slow), points one connection and one rule
//! at each, emits events over gRPC at a given rate or as fast as ingest
//! answers, waits for the deliveries, and prints one JSON report: accepted
//! and delivered per second, emit → delivered latency percentiles,
//! duplicates, signature failures and the attempts recorded in Postgres.
//!
//! By default the four services run in this process on a workspace made
//! for the run (the configuration comes from `SWITCHYARD_*` as for
//! `serve`); `--external` targets services already running
//! (`SWITCHYARD_*_ENDPOINT`, `SWITCHYARD_API_KEY`), which must allow
//! 127.0.0.1 as a destination.
//!
//! `--preload` measures the delivery engine alone: events, deliveries and
//! jobs are written straight to Postgres and Redis ([`preload`]) instead of
//! going through ingest and the router.
//!
//! In-process runs use a database and Redis prefix of their own
//! ([`fresh`]), dropped afterwards unless `--keep`, and report whether the
//! run started clean. `--compare-bad-apple` runs the scenario without its
//! failing and slow receivers, then with them, and reports the ratio of the
//! healthy deliveries' latency percentiles.
//!
//! `--broker rabbitmq|nats` makes the `--fanout` healthy destinations
//! broker connections, each read back by a sink on the broker
//! ([`brokers`]).
//!
//! - [`receivers`]: the receivers and what they count.
//! - [`emitter`]: the emitting tasks and their pacing.
//! - [`report`]: percentiles and the per-second series.

mod brokers;
mod emitter;
mod fresh;
mod preload;
mod receivers;
mod report;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};
use switchyard_client::{Client, proto};
use switchyard_core::config::Config;
use switchyard_core::ids::{ConnectionId, RuleId, WorkspaceId};
use switchyard_delivery_model::queue::QueueLayout;

use crate::stack::{ServiceKind, Stack};
pub use brokers::BrokerKind;
use brokers::{BrokerSink, BrokerTarget};
use emitter::{EmitPlan, emit};
use preload::Preloader;
use receivers::{Behaviour, BenchReceiver, Tally};
use report::{latency_summary, per_second, round2};

/// The event type every bench event has.
const EVENT_TYPE: &str = "bench.event";
/// How long recorded attempts may lag the last delivery.
const RECORD_PATIENCE: Duration = Duration::from_secs(15);

#[derive(Clone, Debug, clap::Args)]
pub struct BenchArgs {
    /// Events per second to emit; 0 emits as fast as ingest answers.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Seconds to emit for.
    #[arg(long, default_value_t = 10)]
    pub duration_secs: u64,
    /// `EmitEvent` calls in flight at once.
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Events per call: more than 1 emits through `EmitEvents`.
    #[arg(long, default_value_t = 1)]
    pub batch: usize,
    /// Size of each event's JSON payload.
    #[arg(long, default_value_t = 1024)]
    pub payload_bytes: usize,
    /// Healthy receivers answering 204 at once; every event goes to each.
    #[arg(long, default_value_t = 3)]
    pub fanout: usize,
    /// Receivers answering 500 to everything (their deliveries retry).
    #[arg(long, default_value_t = 0)]
    pub failing: usize,
    /// Receivers answering 204 after `--slow-delay-ms`.
    #[arg(long, default_value_t = 0)]
    pub slow: usize,
    #[arg(long, default_value_t = 2000)]
    pub slow_delay_ms: u64,
    /// Seconds to wait for the healthy deliveries once emitting stops.
    #[arg(long, default_value_t = 60)]
    pub drain_secs: u64,
    /// Target running services instead of starting them in this process.
    #[arg(long, conflicts_with = "preload")]
    pub external: bool,
    /// Write events, deliveries and jobs straight to Postgres and Redis
    /// (the delivery engine alone), instead of emitting through ingest.
    #[arg(long)]
    pub preload: bool,
    /// Keep the run's own database and Redis prefix (named in the report)
    /// instead of dropping them.
    #[arg(long)]
    pub keep: bool,
    /// Run the scenario twice, first without its `--failing`/`--slow`
    /// receivers, then with them, and report the healthy deliveries'
    /// latency ratio.
    #[arg(long, conflicts_with_all = ["external", "preload"])]
    pub compare_bad_apple: bool,
    /// The `--fanout` healthy destinations are connections of this broker
    /// kind instead of webhooks.
    #[arg(long, value_enum)]
    pub broker: Option<BrokerKind>,
    /// The broker (default amqp://127.0.0.1:5672 or nats://127.0.0.1:4222).
    #[arg(long)]
    pub broker_url: Option<String>,
    /// RabbitMQ's user (the bench's consumer and the connections).
    #[arg(long, default_value = "guest")]
    pub broker_user: String,
    #[arg(
        long,
        env = "SWITCHYARD_BROKER_PASSWORD",
        default_value = "guest",
        hide_env_values = true
    )]
    pub broker_password: String,
    /// Turn per-key ordering on for every webhook connection, with rules
    /// keying each event by its sequence number modulo N (N distinct keys).
    #[arg(long, default_value_t = 0, conflicts_with = "preload")]
    pub ordering_keys: u32,
}

impl BenchArgs {
    fn broker_target(&self) -> Option<BrokerTarget> {
        let kind = self.broker?;
        let default_url = match kind {
            BrokerKind::Rabbitmq => "amqp://127.0.0.1:5672",
            BrokerKind::Nats => "nats://127.0.0.1:4222",
        };
        Some(BrokerTarget {
            kind,
            url: self
                .broker_url
                .clone()
                .unwrap_or_else(|| default_url.into()),
            username: self.broker_user.clone(),
            password: self.broker_password.clone(),
        })
    }
}

/// Runs the bench and prints its report on stdout.
pub async fn main(args: BenchArgs) -> anyhow::Result<()> {
    let config = Config::load()?;
    // Spans are exported as when serving (tracing `auto`: on when an OTLP
    // endpoint is configured), so the bench measures what tracing costs.
    let services = crate::stack::ServiceKind::ALL.map(crate::stack::ServiceKind::telemetry);
    let telemetry =
        switchyard_core::telemetry::init(config.log_format, "warn", &config.telemetry, &services)?;
    let mut report = if args.compare_bad_apple {
        compare_bad_apple(&args, config).await?
    } else {
        run(&args, config).await?
    };
    report["tracing"] = json!(telemetry.tracing_enabled());
    println!("{}", serde_json::to_string_pretty(&report)?);
    telemetry.shutdown();
    Ok(())
}

/// The same scenario without and with its bad receivers, back to back,
/// each on a fresh database: the healthy deliveries' p50/p99 and their
/// ratios.
async fn compare_bad_apple(args: &BenchArgs, config: Config) -> anyhow::Result<Value> {
    let healthy_only = BenchArgs {
        failing: 0,
        slow: 0,
        compare_bad_apple: false,
        ..args.clone()
    };
    let with_bad = BenchArgs {
        compare_bad_apple: false,
        ..args.clone()
    };
    let healthy = run(&healthy_only, config.clone()).await?;
    let bad = run(&with_bad, config).await?;
    let ratio = |p: &str| {
        let base = healthy["latency_ms"][p].as_f64().unwrap_or(0.0);
        let worse = bad["latency_ms"][p].as_f64().unwrap_or(0.0);
        if base > 0.0 {
            round2(worse / base)
        } else {
            0.0
        }
    };
    Ok(json!({
        "p50_ratio": ratio("p50"),
        "p99_ratio": ratio("p99"),
        "healthy": healthy,
        "bad_apple": bad,
    }))
}

/// The services under test: started here, or reached from the environment.
struct Target {
    client: Client,
    stack: Option<Stack>,
    /// The workspace and pool, to count recorded attempts (in-process only).
    records: Option<(WorkspaceId, deadpool_postgres::Pool)>,
    config: Config,
    /// The run's own database and prefix (in-process only).
    fresh: Option<fresh::Fresh>,
}

async fn target(args: &BenchArgs, mut config: Config) -> anyhow::Result<Target> {
    if args.external {
        let client = crate::commands::client::client_from_env()?;
        return Ok(Target {
            client,
            stack: None,
            records: None,
            config,
            fresh: None,
        });
    }
    let fresh = fresh::Fresh::create(&mut config).await?;
    let loopback = "127.0.0.1/32".parse().context("loopback network")?;
    if !config.allowed_destination_networks.contains(&loopback) {
        config.allowed_destination_networks.push(loopback);
    }
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    config.registry_addr = any_port;
    config.ingest_addr = any_port;
    config.router_addr = any_port;
    config.delivery_addr = any_port;
    config.telemetry.metrics_addr = None;
    crate::dev_keys::ensure(&mut config)?;
    let stack = Stack::start(config.clone(), &ServiceKind::ALL).await?;
    let pool = switchyard_core::db::pool(&config.database_url, 4)?;
    let slug = format!("bench-{:08x}", rand_suffix());
    let hasher = switchyard_tenancy::auth::KeyHasher::new(config.api_key_pepper.as_ref());
    let (workspace, api_key) = switchyard_tenancy::auth::create_workspace(&pool, &hasher, &slug)
        .await
        .map_err(|error| anyhow::anyhow!("creating the bench workspace: {error}"))?;
    let client = stack.client(&api_key)?;
    Ok(Target {
        client,
        stack: Some(stack),
        records: Some((workspace, pool)),
        config,
        fresh: Some(fresh),
    })
}

pub async fn run(args: &BenchArgs, config: Config) -> anyhow::Result<Value> {
    let started = Instant::now();
    let mut receivers = Vec::new();
    let mut sinks = Vec::new();
    let broker = args.broker_target();
    if let Some(broker) = &broker {
        for _ in 0..args.fanout {
            sinks.push(BrokerSink::start(broker, started).await?);
        }
    }
    let webhook_fanout = if broker.is_some() { 0 } else { args.fanout };
    let slow = Behaviour::Slow(Duration::from_millis(args.slow_delay_ms));
    for (count, behaviour) in [
        (webhook_fanout, Behaviour::Healthy),
        (args.failing, Behaviour::Failing),
        (args.slow, slow),
    ] {
        for _ in 0..count {
            receivers.push(BenchReceiver::start(behaviour, started).await?);
        }
    }
    let target = target(args, config).await?;
    let client = &target.client;
    client
        .register_schema(
            EVENT_TYPE,
            &json!({"type": "object"}),
            "load generator events",
        )
        .await
        .context("registering the bench schema")?;
    let mut rules: Vec<(RuleId, ConnectionId)> = Vec::new();
    for (index, sink) in sinks.iter().enumerate() {
        let name = format!("bench-broker-{index}");
        let connection = client
            .create_connection(&name, sink.destination(), None)
            .await
            .with_context(|| format!("creating connection {name}"))?;
        rules.push(rule_for(client, &name, &connection.id).await?);
    }
    for (index, receiver) in receivers.iter().enumerate() {
        let name = format!("bench-{}-{index}", receiver.behaviour.name());
        let policy = (args.ordering_keys > 0).then(|| proto::DeliveryPolicy {
            ordering: Some(proto::OrderingPolicy {
                dead_letter: proto::DeadLetterOrdering::Block.into(),
            }),
            ..Default::default()
        });
        let connection = client
            .create_webhook_with_policy(&name, &receiver.url(), Default::default(), policy)
            .await
            .with_context(|| format!("creating connection {name}"))?;
        receiver.set_secret(&connection.signing_secret);
        rules.push(keyed_rule_for(client, &name, &connection.id, args.ordering_keys).await?);
    }

    let plan = EmitPlan {
        event_type: EVENT_TYPE.to_string(),
        rate: args.rate,
        duration: Duration::from_secs(args.duration_secs),
        concurrency: args.concurrency,
        payload_bytes: args.payload_bytes,
        batch: args.batch,
    };
    let clean_start = match &target.records {
        Some((_, pool)) => Some(fresh::clean_start(pool, &target.config).await?),
        None => None,
    };
    let emit_offset = started.elapsed();
    let emitted = match (&target.records, args.preload) {
        (Some((workspace, pool)), true) => {
            let preloader = Preloader {
                pool: pool.clone(),
                redis: switchyard_core::redis_conn::connect(&target.config).await?,
                layout: QueueLayout::from_config(&target.config),
                workspace: *workspace,
                rules,
            };
            preloader.run(&plan).await?
        }
        _ => emit(client, &plan).await,
    };
    let emit_end = started.elapsed();

    let healthy: Vec<&BenchReceiver> = receivers
        .iter()
        .filter(|r| r.behaviour == Behaviour::Healthy)
        .collect();
    let expected = emitted.accepted * (healthy.len() + sinks.len()) as u64;
    let drain_deadline = Instant::now() + Duration::from_secs(args.drain_secs);
    let delivered = || {
        healthy.iter().map(|r| r.delivered()).sum::<u64>()
            + sinks.iter().map(BrokerSink::delivered).sum::<u64>()
    };
    while delivered() < expected && Instant::now() < drain_deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut tallies: Vec<(Behaviour, Tally)> = receivers
        .iter()
        .map(|r| (r.behaviour, r.take_tally()))
        .chain(sinks.iter().map(|s| (Behaviour::Healthy, s.take_tally())))
        .collect();
    for sink in sinks {
        sink.finish().await;
    }
    let requests: u64 = tallies.iter().map(|(_, t)| t.requests).sum();
    let attempts_recorded = match &target.records {
        Some((workspace, pool)) => Some(recorded_attempts(pool, *workspace, requests).await?),
        None => None,
    };
    let mut report = build_report(
        args,
        &emitted,
        &mut tallies,
        expected,
        emit_offset,
        emit_end,
        attempts_recorded,
    );
    report["clean_start"] = json!(clean_start);
    if !args.external {
        let cluster = switchyard_core::redis_conn::Target::from_config(&target.config)
            .is_ok_and(|redis| redis.is_cluster());
        report["redis"] = json!({
            "cluster": cluster,
            "partitions": target.config.redis.partitions,
        });
    }
    if let Some(stack) = target.stack {
        stack.stop().await?;
    }
    if let Some((_, pool)) = target.records {
        pool.close();
    }
    if let Some(fresh) = target.fresh {
        if args.keep {
            report["kept"] = json!({"database": fresh.database, "redis_prefix": fresh.prefix});
        } else {
            fresh.remove().await?;
        }
    }
    Ok(report)
}

/// A rule sending every bench event to connection `id` (named `name`).
async fn rule_for(client: &Client, name: &str, id: &str) -> anyhow::Result<(RuleId, ConnectionId)> {
    keyed_rule_for(client, name, id, 0).await
}

/// [`rule_for`], keying each event by `seq % keys` when `keys` is not 0.
async fn keyed_rule_for(
    client: &Client,
    name: &str,
    id: &str,
    keys: u32,
) -> anyhow::Result<(RuleId, ConnectionId)> {
    let request = proto::CreateRuleRequest {
        event_type: EVENT_TYPE.to_string(),
        connection_id: id.to_string(),
        ordering_key: if keys > 0 {
            format!("event.payload.seq % {keys}")
        } else {
            String::new()
        },
        ..Default::default()
    };
    let rule = client
        .router
        .clone()
        .create_rule(request)
        .await
        .with_context(|| format!("creating the rule of {name}"))?
        .into_inner()
        .rule
        .context("the server returned no rule")?;
    Ok((
        RuleId::parse(&rule.id).map_err(anyhow::Error::msg)?,
        ConnectionId::parse(id).map_err(anyhow::Error::msg)?,
    ))
}

fn build_report(
    args: &BenchArgs,
    emitted: &emitter::Emitted,
    tallies: &mut [(Behaviour, Tally)],
    expected: u64,
    emit_offset: Duration,
    emit_end: Duration,
    attempts_recorded: Option<i64>,
) -> Value {
    let mut arrivals = Vec::new();
    let mut latencies = Vec::new();
    let (mut duplicates, mut signature_failures, mut other_requests, mut requests) = (0, 0, 0, 0);
    for (behaviour, tally) in tallies.iter_mut() {
        requests += tally.requests;
        signature_failures += tally.signature_failures;
        if *behaviour == Behaviour::Healthy {
            duplicates += tally.duplicates;
            arrivals.append(&mut tally.arrivals);
            latencies.append(&mut tally.latencies_us);
        } else {
            other_requests += tally.requests;
        }
    }
    arrivals.sort_unstable();
    let delivered = arrivals.len() as u64;
    let window = (emit_end - emit_offset).as_secs_f64().max(f64::EPSILON);
    let in_window = arrivals.iter().filter(|at| **at <= emit_end).count() as f64;
    let last = arrivals.last().copied().unwrap_or(emit_end);
    let overall = (last.max(emit_end) - emit_offset)
        .as_secs_f64()
        .max(f64::EPSILON);
    let series: Vec<u64> = per_second(&arrivals)
        .into_iter()
        .skip(usize::try_from(emit_offset.as_secs()).unwrap_or(0))
        .collect();
    json!({
        "scenario": {
            "rate": args.rate,
            "duration_secs": args.duration_secs,
            "concurrency": args.concurrency,
            "batch": args.batch,
            "payload_bytes": args.payload_bytes,
            "fanout": args.fanout,
            "failing": args.failing,
            "slow": args.slow,
            "external": args.external,
            "preload": args.preload,
            "broker": args.broker.map(|kind| format!("{kind:?}").to_lowercase()),
        },
        "accepted": emitted.accepted,
        "emit_errors": emitted.errors,
        "first_emit_error": emitted.first_error,
        "emit_refused_by_code": emitted.refused_by_code,
        "accepted_per_sec": round2(emitted.accepted as f64 / window),
        "emit_latency_ms": latency_summary(emitted.latencies_us.clone()),
        "expected_deliveries": expected,
        "delivered": delivered,
        "delivered_per_sec": round2(in_window / window),
        "delivered_per_sec_overall": round2(delivered as f64 / overall),
        "drain_secs": round2(last.saturating_sub(emit_end).as_secs_f64()),
        "latency_ms": latency_summary(latencies),
        "duplicates": duplicates,
        "signature_failures": signature_failures,
        "requests": requests,
        "failing_or_slow_requests": other_requests,
        "attempts_recorded": attempts_recorded,
        "delivered_per_second_series": series,
    })
}

/// Attempt rows of the bench workspace, once they caught up with the
/// requests the receivers got (records lag the requests a little).
async fn recorded_attempts(
    pool: &deadpool_postgres::Pool,
    workspace: WorkspaceId,
    requests: u64,
) -> anyhow::Result<i64> {
    let deadline = Instant::now() + RECORD_PATIENCE;
    loop {
        let client = pool.get().await.context("connecting to Postgres")?;
        let count: i64 = client
            .query_one(
                "SELECT count(*) FROM delivery_attempts WHERE workspace_id = $1",
                &[&workspace.as_uuid()],
            )
            .await
            .context("counting attempts")?
            .get(0);
        if count >= i64::try_from(requests).unwrap_or(i64::MAX) || Instant::now() > deadline {
            return Ok(count);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn rand_suffix() -> u32 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    nanos ^ std::process::id()
}

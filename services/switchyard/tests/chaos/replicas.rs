//! Replicas as separate OS processes, as Kubernetes runs them: every
//! service is its own `switchyard serve <service>` process ([`fleet`]),
//! several of each against one Postgres database and one Redis prefix,
//! coordinating through nothing else.
//!
//! 1. `replicas_ride_out_kill_and_sigterm_under_load`: 2 ingests, 2
//!    routers and 3 delivery processes; load through both ingests; one
//!    router and one delivery process are killed (`kill -9`; the router is
//!    started again, as its Deployment would), another delivery process is
//!    stopped with `SIGTERM` and must exit 0 after handing its work back.
//! 2. `a_rolling_restart_of_every_delivery_replica_loses_nothing`: each
//!    delivery replica in turn is stopped (`SIGTERM`) and replaced.
//!
//! Both then check what a receiver that verifies every signature got:
//! every accepted event delivered, no `webhook-id` sent again after a 2xx
//! except inside a `kill -9`'s at-least-once window (an attempt cut between
//! its request and its record), and no delivery attempted by two processes
//! at once — neither at the receiver (two requests of one `webhook-id`
//! overlapping) nor in the attempt history (two attempts of one delivery
//! overlapping in time).
//!
//! The Redis is a parameter: `SWITCHYARD_TEST_REDIS_URL` (the machine's
//! Redis by default, under a fresh prefix), so the same tests run against a
//! Redis Cluster. Postgres is the test's own cluster, so eight processes'
//! pools do not crowd the shared server.
//!
//! [`fleet`]: super::fleet

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, ensure};
use chrono::Utc;
use secrecy::SecretString;
use switchyard::receiver::{Behaviour, ReceivedWebhook, Receiver};
use switchyard_client::{Client, Endpoints};
use switchyard_delivery_model::queue::QueueLayout;
use switchyard_testkit::TestRedis;
use switchyard_testkit::cluster::TestCluster;
use tokio::time::Instant;

use super::fleet::{Replica, consumer_names, group_consumers, logged};
use super::procs::{OwnedPostgres, TempDir};
use super::{
    Fault, is_2xx, lead_schema, load, receipts_by_id, redelivered, settings, signature_ok,
    wait_for_deliveries,
};

/// How long the receiver holds each request: two requests of one
/// `webhook-id` arriving closer than this overlapped.
const RECEIVER_DELAY: Duration = Duration::from_millis(50);
/// The delivery replicas' `delivery.shutdown_grace`.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);
/// How long a stopped replica may take to exit: the grace plus the hand-back.
const EXIT_WITHIN: Duration = Duration::from_secs(15);
/// How long a replica may take to report SERVING.
const START_WITHIN: Duration = Duration::from_secs(60);
/// How long deliveries may take to catch up after the load.
pub(super) const CATCH_UP: Duration = Duration::from_secs(90);

/// One deployment: a Postgres database, a Redis prefix, and replicas.
pub(super) struct Deployment {
    _dir: TempDir,
    _postgres: OwnedPostgres,
    redis: TestRedis,
    database_url: String,
    env: Vec<(String, String)>,
    dir: std::path::PathBuf,
    pub(super) registry: Replica,
    pub(super) routers: Vec<Replica>,
    pub(super) ingests: Vec<Replica>,
    pub(super) deliveries: Vec<Replica>,
    pub(super) pepper: &'static str,
    /// Partitions of the job stream.
    partitions: usize,
}

impl Deployment {
    /// Migrates a fresh database (the migration Job), then starts one
    /// registry and `routers`, `ingests` (ingest `i` calls router
    /// `i % routers`) and `deliveries` replicas, and waits until all serve.
    pub(super) async fn start(
        name: &str,
        redis_url: &str,
        routers: usize,
        ingests: usize,
        deliveries: usize,
    ) -> anyhow::Result<Self> {
        Self::start_partitioned(name, redis_url, 1, (routers, ingests, deliveries)).await
    }

    /// [`Self::start`] with the job stream sharded into `partitions`.
    async fn start_partitioned(
        name: &str,
        redis_url: &str,
        partitions: usize,
        (routers, ingests, deliveries): (usize, usize, usize),
    ) -> anyhow::Result<Self> {
        let dir = TempDir::new(name)?;
        let postgres = OwnedPostgres::start(&dir.0).await?;
        let database_url = postgres.url("switchyard");
        switchyard_core::db::migrate(&database_url)
            .await
            .context("migrating (the migration Job)")?;
        let mut redis = TestRedis::new();
        redis.url = redis_url.to_string();
        let pepper = "replicas pepper, not secret";
        let mut env = settings(&database_url, redis_url, &redis.prefix, pepper)?;
        let overrides = [
            (
                "SWITCHYARD_TELEMETRY__METRICS_ADDR",
                "127.0.0.1:0".to_string(),
            ),
            ("SWITCHYARD_DATABASE_POOL_SIZE", "4".to_string()),
            ("SWITCHYARD_LOG_FORMAT", "json".to_string()),
            (
                "RUST_LOG",
                "warn,switchyard_delivery::engine::runner=info".to_string(),
            ),
            (
                "SWITCHYARD_DELIVERY__SHUTDOWN_GRACE",
                format!("{}s", SHUTDOWN_GRACE.as_secs()),
            ),
            ("SWITCHYARD_REDIS__PARTITIONS", partitions.to_string()),
        ];
        env.retain(|(name, _)| !overrides.iter().any(|(o, _)| o == name));
        env.extend(overrides.map(|(name, value)| (name.to_string(), value)));

        let registry = Replica::start("registry", "registry", &env, &dir.0)?;
        let mut env_with_registry = env.clone();
        env_with_registry.push(("SWITCHYARD_REGISTRY_ENDPOINT".into(), registry.endpoint()));
        let routers = (0..routers)
            .map(|i| Replica::start("router", &format!("router-{i}"), &env, &dir.0))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let ingests = (0..ingests)
            .map(|i| {
                let mut env = env_with_registry.clone();
                env.push((
                    "SWITCHYARD_ROUTER_ENDPOINT".into(),
                    routers[i % routers.len()].endpoint(),
                ));
                Replica::start("ingest", &format!("ingest-{i}"), &env, &dir.0)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let deployment_dir = dir.0.clone();
        let mut deployment = Self {
            _dir: dir,
            _postgres: postgres,
            redis,
            database_url,
            env,
            dir: deployment_dir,
            registry,
            routers,
            ingests,
            deliveries: Vec::new(),
            pepper,
            partitions,
        };
        for _ in 0..deliveries {
            deployment.add_delivery()?;
        }
        for replica in deployment.all() {
            replica.wait_until_serving(START_WITHIN).await?;
        }
        Ok(deployment)
    }

    fn all(&self) -> impl Iterator<Item = &Replica> {
        std::iter::once(&self.registry)
            .chain(&self.routers)
            .chain(&self.ingests)
            .chain(&self.deliveries)
    }

    /// Starts one more delivery replica (not waiting for it).
    fn add_delivery(&mut self) -> anyhow::Result<usize> {
        let index = self.deliveries.len();
        let replica = Replica::start(
            "delivery",
            &format!("delivery-{index}"),
            &self.env,
            &self.dir,
        )?;
        self.deliveries.push(replica);
        Ok(index)
    }

    pub(super) fn pool(&self) -> anyhow::Result<deadpool_postgres::Pool> {
        switchyard_core::db::pool(&self.database_url, 2)
    }

    /// A workspace with `lead.created` routed to `receiver`, and an SDK
    /// client per ingest replica.
    async fn workspace(&self, receiver: &Receiver) -> anyhow::Result<Vec<Client>> {
        let pool = self.pool()?;
        let hasher =
            switchyard_tenancy::auth::KeyHasher::new(Some(&SecretString::from(self.pepper)));
        let (_, api_key) = switchyard_tenancy::auth::create_workspace(&pool, &hasher, "replicas")
            .await
            .map_err(|error| anyhow::anyhow!("{error}"))?;
        let clients = self
            .ingests
            .iter()
            .enumerate()
            .map(|(i, ingest)| {
                let endpoints = Endpoints {
                    registry: self.registry.endpoint(),
                    ingest: ingest.endpoint(),
                    router: self.routers[i % self.routers.len()].endpoint(),
                    delivery: self.deliveries[0].endpoint(),
                };
                Client::connect_lazy(&endpoints, &api_key).context("SDK client")
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let client = &clients[0];
        client
            .register_schema("lead.created", &lead_schema(), "a lead")
            .await?;
        let connection = client
            .create_webhook("receiver", &receiver.url("/hook"), HashMap::new())
            .await?;
        receiver.set_secret(&connection.signing_secret);
        client.create_rule("lead.created", &connection.id).await?;
        Ok(clients)
    }

    /// Every delivery replica's log, for failure messages.
    pub(super) fn delivery_logs(&self) -> String {
        self.deliveries
            .iter()
            .enumerate()
            .map(|(i, replica)| format!("--- delivery-{i}\n{}", replica.log_tail()))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// The Redis the fleet shares (`SWITCHYARD_TEST_REDIS_URL`).
pub(super) fn redis_url() -> String {
    switchyard_testkit::redis_url()
}

async fn start_receiver() -> anyhow::Result<Receiver> {
    let behaviour = Behaviour {
        delay: RECEIVER_DELAY,
        ..Behaviour::default()
    };
    Receiver::start(SocketAddr::from(([127, 0, 0, 1], 0)), behaviour).await
}

/// Runs `rate` emits a second for `duration` through each client at once.
async fn load_all(
    clients: &[Client],
    rate: u32,
    duration: Duration,
    started: Instant,
) -> anyhow::Result<Vec<load::Accepted>> {
    let loads = clients.iter().enumerate().map(|(i, client)| {
        let name = format!("ingest{i}-lead");
        async move { load::run_named(client, &name, rate, duration, started).await }
    });
    let mut accepted = Vec::new();
    for tally in futures::future::join_all(loads).await {
        let tally = tally?;
        ensure!(
            tally.failed.is_empty(),
            "calls failed after retrying: {:?}",
            tally.failed
        );
        ensure!(
            tally.accepted.len() as u64 == u64::from(rate) * duration.as_secs(),
            "every emit is accepted in the end"
        );
        for label in tally.refused.keys() {
            ensure!(!load::is_bug(label), "a refusal said {label}");
        }
        accepted.extend(tally.accepted);
    }
    Ok(accepted)
}

/// What the receiver and the attempt history say about the run.
struct Outcome {
    accepted: usize,
    delivered: usize,
    received: usize,
    bad_signatures: usize,
    redelivered_after_2xx: usize,
    redelivered_outside_windows: usize,
    overlapping_receipts: usize,
    overlapping_attempts: usize,
}

impl Outcome {
    async fn check(
        deployment: &Deployment,
        accepted: &[load::Accepted],
        receiver: &Receiver,
        kills: &[Fault],
    ) -> anyhow::Result<Self> {
        let pool = deployment.pool()?;
        let accepted_events: HashSet<String> =
            accepted.iter().map(|a| a.event_id.clone()).collect();
        let deliveries = wait_for_deliveries(&pool, &accepted_events, CATCH_UP)
            .await
            .with_context(|| deployment.delivery_logs())?;
        // Every 2xx was received before its row said succeeded.
        let received: &[ReceivedWebhook] = &receiver.received();
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
        let delivered = accepted
            .iter()
            .filter(|a| delivered_events.contains(a.event_id.as_str()))
            .count();
        let (redelivered_after_2xx, redelivered_outside_windows) = redelivered(&receipts, |at| {
            kills.iter().any(|kill| {
                at >= kill.began - chrono::Duration::seconds(2)
                    && at <= kill.back + chrono::Duration::seconds(2)
            })
        });
        let overlap = chrono::Duration::from_std(RECEIVER_DELAY)?;
        let overlapping_receipts = receipts
            .values()
            .map(|list| {
                list.windows(2)
                    .filter(|pair| pair[1].received_at - pair[0].received_at < overlap)
                    .count()
            })
            .sum();
        Ok(Self {
            accepted: accepted.len(),
            delivered,
            received: received.len(),
            bad_signatures: received.iter().filter(|w| !signature_ok(w)).count(),
            redelivered_after_2xx,
            redelivered_outside_windows,
            overlapping_receipts,
            overlapping_attempts: overlapping_attempts(&pool).await?,
        })
    }

    fn print(&self, title: &str) {
        eprintln!();
        eprintln!("== {title} ==");
        for (label, value) in [
            ("accepted (SDK saw OK)", self.accepted),
            ("delivered (2xx, signature verified)", self.delivered),
            ("webhook requests received", self.received),
            ("bad signatures", self.bad_signatures),
            ("redelivered after a 2xx", self.redelivered_after_2xx),
            (
                "  of which outside a kill -9's window",
                self.redelivered_outside_windows,
            ),
            (
                "requests of one webhook-id overlapping",
                self.overlapping_receipts,
            ),
            (
                "attempts of one delivery overlapping",
                self.overlapping_attempts,
            ),
        ] {
            eprintln!("{label:<48} {value:>8}");
        }
        eprintln!();
    }

    fn ensure_correct(&self) -> anyhow::Result<()> {
        ensure!(self.delivered == self.accepted, "accepted events delivered");
        ensure!(self.bad_signatures == 0, "bad signatures");
        ensure!(
            self.redelivered_outside_windows == 0,
            "{} webhooks came again after a 2xx outside a kill's window",
            self.redelivered_outside_windows
        );
        ensure!(
            self.overlapping_receipts == 0,
            "{} requests of one webhook-id overlapped (attempted concurrently)",
            self.overlapping_receipts
        );
        ensure!(
            self.overlapping_attempts == 0,
            "{} attempts of one delivery overlapped in the history",
            self.overlapping_attempts
        );
        Ok(())
    }
}

/// Attempts of one delivery that began before the previous one ended.
async fn overlapping_attempts(pool: &deadpool_postgres::Pool) -> anyhow::Result<usize> {
    let client = pool.get().await.context("pool")?;
    let row = client
        .query_one(
            "SELECT count(*) FROM ( \
                SELECT started_at, lag(started_at + make_interval(secs => duration_ms / 1000.0)) \
                       OVER (PARTITION BY delivery_id ORDER BY started_at) AS previous_end \
                FROM delivery_attempts) a \
             WHERE a.started_at < a.previous_end",
            &[],
        )
        .await
        .context("reading overlapping attempts")?;
    Ok(usize::try_from(row.get::<_, i64>(0))?)
}

/// The consumers the stopped replica announced are gone from the group,
/// and its log says what it handed back.
async fn left_the_group(deployment: &Deployment, replica: &Replica) -> anyhow::Result<()> {
    let log = replica.log();
    let names = consumer_names(&log);
    ensure!(!names.is_empty(), "the replica named its consumer");
    for keys in QueueLayout::new(&deployment.redis.prefix, deployment.partitions).partitions() {
        let members = group_consumers(&deployment.redis.url, &keys.stream).await?;
        for name in &names {
            ensure!(
                !members.contains(name),
                "{name} still in the group of {} after its stop: {members:?}",
                keys.stream
            );
        }
    }
    ensure!(
        !logged(&log, "delivery engine stopped; handed its work back").is_empty(),
        "the replica logged its hand-back:\n{}",
        replica.log_tail()
    );
    Ok(())
}

/// Emits per second through each ingest, and for how long.
const RATE_PER_INGEST: u32 = 40;
const LOAD: Duration = Duration::from_secs(20);
const KILL_ROUTER_AT: Duration = Duration::from_secs(4);
const ROUTER_DOWN: Duration = Duration::from_secs(3);
const KILL_DELIVERY_AT: Duration = Duration::from_secs(8);
const STOP_DELIVERY_AT: Duration = Duration::from_secs(12);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_ride_out_kill_and_sigterm_under_load() -> anyhow::Result<()> {
    let deployment = Deployment::start("sy-replicas", &redis_url(), 2, 2, 3).await?;
    ride_out_kill_and_sigterm(deployment, "one Redis").await
}

/// The same faults with the job stream sharded in three partitions over a
/// 3-node Redis Cluster the test starts (`redis-server --cluster-enabled`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn replicas_ride_out_kill_and_sigterm_on_a_redis_cluster() -> anyhow::Result<()> {
    let cluster = TestCluster::start().await?;
    let deployment =
        Deployment::start_partitioned("sy-replicas-cluster", &cluster.url(), 3, (2, 2, 3)).await?;
    ride_out_kill_and_sigterm(deployment, "a 3-node Redis Cluster, 3 partitions").await
}

async fn ride_out_kill_and_sigterm(mut deployment: Deployment, redis: &str) -> anyhow::Result<()> {
    let receiver = start_receiver().await?;
    let clients = deployment.workspace(&receiver).await?;

    let started = Instant::now();
    let faults = async {
        let mut kills = Vec::new();
        tokio::time::sleep_until(started + KILL_ROUTER_AT).await;
        let began = Utc::now();
        deployment.routers[0].kill()?;
        tokio::time::sleep(ROUTER_DOWN).await;
        deployment.routers[0].start_again()?;
        deployment.routers[0]
            .wait_until_serving(START_WITHIN)
            .await?;
        kills.push(Fault {
            name: "router kill -9",
            began,
            back: Utc::now(),
        });

        tokio::time::sleep_until(started + KILL_DELIVERY_AT).await;
        let began = Utc::now();
        deployment.deliveries[0].kill()?;
        kills.push(Fault {
            name: "delivery kill -9",
            began,
            back: Utc::now(),
        });

        tokio::time::sleep_until(started + STOP_DELIVERY_AT).await;
        let status = deployment.deliveries[1].terminate(EXIT_WITHIN).await?;
        anyhow::Ok((kills, status))
    };
    let (accepted, faults) =
        tokio::join!(load_all(&clients, RATE_PER_INGEST, LOAD, started), faults);
    let accepted = accepted?;
    let (kills, stopped) = faults?;
    ensure!(
        stopped.success(),
        "the SIGTERM'd delivery replica exited with {stopped}:\n{}",
        deployment.deliveries[1].log_tail()
    );
    left_the_group(&deployment, &deployment.deliveries[1]).await?;

    let outcome = Outcome::check(&deployment, &accepted, &receiver, &kills).await?;
    outcome.print(&format!(
        "replicas on {redis}: 2 ingests x {RATE_PER_INGEST}/s for {LOAD:?}, 2 routers, \
         3 deliveries; router and delivery kill -9, delivery SIGTERM"
    ));
    outcome.ensure_correct()?;
    // The one delivery replica left did the rest.
    ensure!(
        deployment.deliveries[2]
            .wait_until_serving(Duration::from_secs(1))
            .await
            .is_ok()
    );
    Ok(())
}

/// How long each replaced replica runs before the next is stopped.
const BETWEEN_RESTARTS: Duration = Duration::from_secs(2);
const ROLLING_RATE: u32 = 60;
const ROLLING_LOAD: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rolling_restart_of_every_delivery_replica_loses_nothing() -> anyhow::Result<()> {
    let mut deployment = Deployment::start("sy-rolling", &redis_url(), 1, 1, 3).await?;
    let receiver = start_receiver().await?;
    let clients = deployment.workspace(&receiver).await?;

    let started = Instant::now();
    let restarts = async {
        let mut handed_back = Vec::new();
        tokio::time::sleep(Duration::from_secs(3)).await;
        for old in 0..3 {
            let status = deployment.deliveries[old].terminate(EXIT_WITHIN).await?;
            ensure!(
                status.success(),
                "delivery-{old} exited with {status}:\n{}",
                deployment.deliveries[old].log_tail()
            );
            handed_back.extend(logged(
                &deployment.deliveries[old].log(),
                "delivery engine stopped; handed its work back",
            ));
            let new = deployment.add_delivery()?;
            deployment.deliveries[new]
                .wait_until_serving(START_WITHIN)
                .await?;
            tokio::time::sleep(BETWEEN_RESTARTS).await;
        }
        anyhow::Ok(handed_back)
    };
    let (accepted, handed_back) = tokio::join!(
        load_all(&clients, ROLLING_RATE, ROLLING_LOAD, started),
        restarts
    );
    let accepted = accepted?;
    let handed_back = handed_back?;
    ensure!(handed_back.len() == 3, "each stopped replica handed back");
    for old in 0..3 {
        left_the_group(&deployment, &deployment.deliveries[old]).await?;
    }

    // No kill: nothing that succeeded may come again.
    let outcome = Outcome::check(&deployment, &accepted, &receiver, &[]).await?;
    outcome.print(&format!(
        "rolling restart of 3 delivery replicas under {ROLLING_RATE}/s for {ROLLING_LOAD:?}"
    ));
    for stop in &handed_back {
        eprintln!(
            "stopped {}: claims released {}, entries re-queued {}, waiting jobs re-queued {}, left the group {}",
            stop["consumer"],
            stop["claims_released"],
            stop["entries_requeued"],
            stop["waiting_jobs_requeued"],
            stop["left_group"]
        );
    }
    outcome.ensure_correct()?;
    ensure!(
        outcome.redelivered_after_2xx == 0,
        "a rolling restart redelivered {} webhooks that had succeeded",
        outcome.redelivered_after_2xx
    );
    Ok(())
}

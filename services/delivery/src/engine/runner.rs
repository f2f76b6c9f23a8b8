//! Wires the engine together: builds the shared parts once, runs the
//! loops until shutdown, then stops the way a rolling restart needs:
//!
//! 1. the loops stop (no new reads, no reclaims; entries already read are
//!    still dispatched);
//! 2. in-flight attempts get `delivery.shutdown_grace` to finish;
//! 3. those still running are cut, and [`handback`] returns what the
//!    process holds — their claims, jobs taken off waiting lists, the
//!    consumer's pending entries in every partition — and leaves the
//!    consumer groups.
//!
//! The consumer, reclaimer, scheduler and departed-consumer cleanup run
//! once per stream partition; gauges, waiting lists and the sweeper once
//! for all.
//!
//! Loop periods follow the visibility timeout `V`: the reclaimer looks every
//! `V/2` (between 0.5 and 5 s), the sweeper every `V` (between 1 and 10 s)
//! for deliveries overdue by `2V`.

use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::Pool;
use switchyard_core::config::Config;
use switchyard_core::redis_conn::RedisConn;
use switchyard_core::shutdown::Signal;
use switchyard_tenancy::secrets::Keyring;

use super::attempt::Attempter;
use super::dispatch::Dispatcher;
use super::gate::Gate;
use super::handback::{self, Holdings};
use super::http::Sender;
use super::policy::Defaults;
use super::queue::JobQueue;
use super::recovery::Recovery;
use super::waiting::Waiting;
use super::writers::Writers;
use super::{consumer, departed, gauges, reclaim, scheduler, sweeper, waiting};

/// How long cut attempts get to let go of their slots.
const CUT_WAIT: Duration = Duration::from_secs(2);
/// Session settings of the engine's own connections. Its statements find
/// deliveries by id, and are written so that the primary key is the only
/// index they can use (see `store::jobs`). A plan made while `deliveries`
/// was small — a fresh database, before a burst — could otherwise scan the
/// table, or every due row, and Postgres keeps such a cached plan until the
/// next autoanalyze: minutes of each claim costing a scan of the whole
/// backlog. These settings remove the remaining alternatives (they are
/// cost penalties, so a statement still runs if no index fits).
const ENGINE_SESSION: &[(&str, &str)] = &[
    ("enable_seqscan", "off"),
    ("enable_bitmapscan", "off"),
    ("enable_hashjoin", "off"),
    ("enable_mergejoin", "off"),
];

/// Size of the pool of releases (one batch in flight).
const RELAXED_POOL_SIZE: usize = 1;

pub struct Engine {
    pool: Pool,
    queue: JobQueue,
    dispatcher: Dispatcher,
    waiting: Waiting,
    gate: Gate,
    recovery: Recovery,
    holdings: Holdings,
    visibility_timeout: Duration,
    shutdown_grace: Duration,
    scheduler_interval: Duration,
}

impl Engine {
    /// Opens the engine's own Postgres pool and Redis reader and creates
    /// the consumer group if needed.
    pub async fn build(config: &Config, redis: RedisConn) -> anyhow::Result<Self> {
        config.validate()?;
        // Without its keys the engine could sign nothing: refuse to start.
        let keyring = Keyring::from_config(&config.secrets)?;
        let delivery = &config.delivery;
        let pool = switchyard_core::db::pool_with_settings(
            &config.database_url,
            config.database_pool_size,
            ENGINE_SESSION,
        )?;
        // Releases only give a lease back: they commit without waiting for
        // the WAL flush (see `writers`).
        let relaxed_settings: Vec<(&str, &str)> = ENGINE_SESSION
            .iter()
            .copied()
            .chain([("synchronous_commit", "off")])
            .collect();
        let relaxed_pool = switchyard_core::db::pool_with_settings(
            &config.database_url,
            RELAXED_POOL_SIZE,
            &relaxed_settings,
        )?;
        let queue = JobQueue::new(config, redis.clone()).await?;
        queue
            .ensure_group()
            .await
            .context("creating the delivery consumer group")?;
        let writers = Writers::spawn(&pool, &relaxed_pool, &queue, delivery.visibility_timeout);
        let gate = Gate::new(
            redis,
            &config.redis_prefix,
            delivery.max_in_flight_per_connection,
        );
        let waiting = Waiting::new(queue.commands(), queue.layout().clone());
        let attempter = Attempter::new(
            pool.clone(),
            writers,
            Sender::new(config)?,
            gate.clone(),
            Defaults::new(delivery),
            keyring,
            waiting.clone(),
            queue.producer(),
        );
        let holdings = attempter.holdings();
        Ok(Self {
            recovery: Recovery::new(pool.clone(), queue.clone()),
            pool,
            dispatcher: Dispatcher::new(delivery.max_in_flight, attempter),
            queue,
            waiting,
            gate,
            holdings,
            visibility_timeout: delivery.visibility_timeout,
            shutdown_grace: delivery.shutdown_grace,
            scheduler_interval: delivery.scheduler_interval,
        })
    }

    /// Runs until `shutdown` trips, then lets in-flight attempts finish for
    /// at most the shutdown grace and hands back what is left (see the
    /// module doc).
    pub async fn run(self, shutdown: Signal) -> anyhow::Result<()> {
        let visibility = self.visibility_timeout;
        let reclaim_every =
            (visibility / 2).clamp(Duration::from_millis(500), Duration::from_secs(5));
        let sweep_every = visibility.clamp(Duration::from_secs(1), Duration::from_secs(10));
        tracing::info!(consumer = self.queue.consumer(), "delivery engine started");

        // The stream's partitions each get their reader, reclaimer and
        // scheduler; the rest looks at every partition at once.
        let per_partition = self.queue.partitions().into_iter().map(|partition| {
            let (dispatcher, recovery, shutdown) = (
                self.dispatcher.clone(),
                self.recovery.clone(),
                shutdown.clone(),
            );
            let scheduler_interval = self.scheduler_interval;
            async move {
                tokio::join!(
                    consumer::run(
                        partition.clone(),
                        dispatcher.clone(),
                        recovery.clone(),
                        shutdown.clone()
                    ),
                    scheduler::run(partition.clone(), scheduler_interval, shutdown.clone()),
                    reclaim::run(
                        partition,
                        dispatcher,
                        recovery,
                        visibility,
                        reclaim_every,
                        shutdown,
                    ),
                );
            }
        });
        tokio::join!(
            futures::future::join_all(per_partition),
            gauges::run(self.queue.clone(), shutdown.clone()),
            futures::future::join_all(self.queue.partitions().into_iter().map(|partition| {
                departed::run(partition, visibility * 2, sweep_every, shutdown.clone())
            })),
            waiting::run(self.waiting.clone(), self.gate.clone(), shutdown.clone()),
            sweeper::run(
                self.pool.clone(),
                self.queue.clone(),
                visibility * 2,
                sweep_every,
                shutdown
            ),
        );

        let finished = self.dispatcher.drain(self.shutdown_grace).await;
        let held = self.holdings.snapshot();
        if !finished {
            tracing::warn!(
                grace = ?self.shutdown_grace,
                claims = held.claims.len(),
                "attempts still in flight at the end of the shutdown grace; cutting them"
            );
            if !self.dispatcher.cut(CUT_WAIT).await {
                tracing::warn!("cut attempts did not let go in time");
            }
        }
        match handback::hand_back(&self.pool, &self.queue, held).await {
            Ok(report) => tracing::info!(
                consumer = self.queue.consumer(),
                claims_released = report.claims_released,
                waiting_jobs_requeued = report.waiting_jobs_requeued,
                entries_requeued = report.entries_requeued,
                left_group = report.left_group,
                "delivery engine stopped; handed its work back"
            ),
            // Nothing is lost: unacknowledged entries are reclaimed after the
            // visibility timeout, and the sweeper re-queues leased deliveries.
            Err(error) => tracing::warn!(
                error = format!("{error:#}"),
                "handing work back failed; other replicas reclaim it after the visibility timeout"
            ),
        }
        Ok(())
    }
}

//! The per-workspace ingest rate: a generic cell rate algorithm (GCRA)
//! kept in one Redis key per workspace, `<prefix>:{ws_…}:ingest_rate`,
//! holding the theoretical arrival time (TAT) in microseconds of Redis's
//! own clock, so replicas with skewed clocks agree.
//!
//! With `rate` events per second each event moves the TAT one interval
//! (`1 / rate`) ahead; an event is admitted while the TAT is no more than
//! `burst - 1` intervals ahead of now, so `burst` events may arrive at
//! once and then one per interval. A refused event changes nothing and
//! learns how long until it would be admitted. The algorithm and its Lua
//! are [`switchyard_core::gcra`]'s, shared with the delivery gate.
//!
//! When Redis cannot be reached the emit goes ahead unlimited (and a
//! warning is logged): the limiter protects the platform, and losing it
//! for a moment must not stop every tenant's events.

use std::time::Duration;

use switchyard_core::gcra::{self, Allowance};
use switchyard_core::redis_conn::RedisConn;

use switchyard_core::error::ApiResult;
use switchyard_core::ids::WorkspaceId;
use switchyard_core::quotas::WorkspaceLimits;

/// What one check decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateDecision {
    Admitted,
    /// Refused; admitted again after this long.
    RetryAfter(Duration),
}

/// Checks emits against each workspace's `ingest_rate`. Cheap to clone.
#[derive(Clone)]
pub struct IngestRateLimiter {
    redis: RedisConn,
    prefix: String,
}

impl IngestRateLimiter {
    pub fn new(redis: RedisConn, prefix: &str) -> Self {
        Self {
            redis,
            prefix: prefix.to_string(),
        }
    }

    /// The Redis key of `workspace`'s allowance.
    pub fn key(&self, workspace: WorkspaceId) -> String {
        format!("{}:{{{workspace}}}:ingest_rate", self.prefix)
    }

    /// Takes one event from `workspace`'s allowance, or says how long to
    /// wait. Unlimited workspaces never touch Redis.
    pub async fn decide(
        &self,
        workspace: WorkspaceId,
        limits: &WorkspaceLimits,
    ) -> redis::RedisResult<RateDecision> {
        self.decide_many(workspace, limits, 1).await
    }

    /// Takes `count` events at once (all or none), or says how long to
    /// wait until they would all be admitted.
    pub async fn decide_many(
        &self,
        workspace: WorkspaceId,
        limits: &WorkspaceLimits,
        count: usize,
    ) -> redis::RedisResult<RateDecision> {
        if limits.ingest_rate <= 0.0 {
            return Ok(RateDecision::Admitted);
        }
        debug_assert!(limits.ingest_burst >= 1, "burst validated at start");
        let allowance = Allowance::per_second_us(limits.ingest_rate, limits.ingest_burst);
        let taken = gcra::take(&self.redis, &self.key(workspace), allowance, count).await?;
        Ok(taken.map_or(RateDecision::Admitted, RateDecision::RetryAfter))
    }

    /// [`Self::decide`] as the emit path needs it: a refusal is a
    /// `ResourceExhausted` carrying `RetryInfo` and a `QuotaFailure`; an
    /// unreachable Redis admits (see the module docs).
    pub async fn check(&self, workspace: WorkspaceId, limits: &WorkspaceLimits) -> ApiResult<()> {
        self.check_many(workspace, limits, 1).await
    }

    /// [`Self::check`] for `count` events of one call (`EmitEvents`): all
    /// are admitted or none. More events than the burst can never pass
    /// at once, and are refused without a retry delay.
    pub async fn check_many(
        &self,
        workspace: WorkspaceId,
        limits: &WorkspaceLimits,
        count: usize,
    ) -> ApiResult<()> {
        if limits.ingest_rate > 0.0 && count > limits.ingest_burst as usize {
            return Err(super::exceeded(
                workspace,
                "ingest_burst",
                i64::from(limits.ingest_burst),
                format!(
                    "a call of {count} events is more than workspace {workspace}'s ingest burst of {}; send smaller batches",
                    limits.ingest_burst
                ),
                None,
            ));
        }
        match self.decide_many(workspace, limits, count).await {
            Ok(RateDecision::Admitted) => Ok(()),
            Ok(RateDecision::RetryAfter(wait)) => Err(super::exceeded(
                workspace,
                "ingest_rate",
                // QuotaFailure holds an integer; round a fractional rate up.
                limits.ingest_rate.ceil() as i64,
                format!(
                    "workspace {workspace} may emit {} events per second (burst {}); retry in {} ms",
                    limits.ingest_rate,
                    limits.ingest_burst,
                    wait.as_millis().max(1)
                ),
                Some(wait),
            )),
            Err(error) => {
                tracing::warn!(%workspace, error = %error, "ingest rate limiter unavailable; admitting");
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_testkit::TestRedis;

    fn limits(rate: f64, burst: u32) -> WorkspaceLimits {
        WorkspaceLimits {
            ingest_rate: rate,
            ingest_burst: burst,
            max_payload_bytes: 1024,
            max_connections: 1,
            max_rules: 1,
            max_event_types: 1,
        }
    }

    async fn limiter(redis: &TestRedis) -> IngestRateLimiter {
        let connection = switchyard_core::redis_conn::Target::Single(redis.url.clone())
            .connect()
            .await
            .expect("redis");
        IngestRateLimiter::new(connection, &redis.prefix)
    }

    #[tokio::test]
    async fn admits_the_burst_then_one_per_interval() {
        let redis = TestRedis::new();
        let limiter = limiter(&redis).await;
        let workspace = WorkspaceId::generate();
        // 5/s: one event every 200 ms, three at once.
        let limits = limits(5.0, 3);
        for _ in 0..3 {
            assert_eq!(
                limiter.decide(workspace, &limits).await.expect("redis"),
                RateDecision::Admitted
            );
        }
        let RateDecision::RetryAfter(wait) =
            limiter.decide(workspace, &limits).await.expect("redis")
        else {
            panic!("the fourth event of a burst of three was admitted");
        };
        assert!(
            wait > Duration::from_millis(100) && wait <= Duration::from_millis(200),
            "{wait:?}"
        );
        // Another workspace has its own allowance.
        assert_eq!(
            limiter
                .decide(WorkspaceId::generate(), &limits)
                .await
                .expect("redis"),
            RateDecision::Admitted
        );
        tokio::time::sleep(wait).await;
        assert_eq!(
            limiter.decide(workspace, &limits).await.expect("redis"),
            RateDecision::Admitted
        );
    }

    #[tokio::test]
    async fn unlimited_never_refuses_nor_writes() {
        let redis = TestRedis::new();
        let limiter = limiter(&redis).await;
        let workspace = WorkspaceId::generate();
        for _ in 0..50 {
            assert_eq!(
                limiter
                    .decide(workspace, &limits(0.0, 1))
                    .await
                    .expect("redis"),
                RateDecision::Admitted
            );
        }
        let exists: bool = redis::cmd("EXISTS")
            .arg(limiter.key(workspace))
            .query_async(&mut limiter.redis.clone())
            .await
            .expect("redis");
        assert!(!exists);
    }
}

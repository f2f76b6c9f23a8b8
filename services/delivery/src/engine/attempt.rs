//! The path of one job: parse → claim → gate → send → decide → record →
//! acknowledge.
//!
//! The order is what makes delivery at-least-once without double work:
//! the claim in Postgres decides whether this job may act at all (a
//! duplicate or stale job finds nothing to claim and is just acknowledged;
//! a paused connection's delivery is not claimed and waits for its
//! resume); the [`gate`](super::gate) may hold the attempt back (rate limit,
//! concurrency cap, open breaker, this process's per-connection cap), and
//! then the claim is released — no attempt counted — and the job parked
//! until the wait is over; the outcome is committed before the job is
//! acknowledged, so a crash in between leaves an unacknowledged job for the
//! reclaimer, never a lost outcome; and a retry is parked in the delayed
//! set in the same `MULTI` as the acknowledgement.
//!
//! The path knows no connection kind: the connection's
//! [`Destination`](crate::destinations::Destination) builds the request and
//! reads the answer. When it says the credentials were rejected, the
//! connection is marked as needing new ones and its deliveries are not
//! claimed until they are replaced.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use deadpool_postgres::Pool;
use switchyard_core::ids::ConnectionId;
use switchyard_core::states::ConnectionState;
use switchyard_delivery_model::policy::{DeadLetterOrdering, DeliveryPolicy};
use switchyard_delivery_model::queue::{DeliveryJob, Producer};
use switchyard_tenancy::secrets::Keyring;
use tracing::{Instrument, Span};

use super::credentials::{self, Credentials};

use super::gate::{Gate, HoldReason, Load, Verdict};
use super::handback::Holdings;
use super::http::{SendResult, Sender, Timeouts};
use super::job::Job;
use super::observe;
use super::outcome::{self, Decision, due_after};
use super::policy::{Defaults, EffectivePolicy};
use super::queue::{Ack, Parking, StreamEntry};
use super::retry::Health;
use super::waiting::Waiting;
use super::writers::Writers;
use crate::destinations::{self, Context, Destination, Shared};
use crate::store::jobs::{self, AttemptRecord, ClaimOutcome, Claimed, NewStatus, Release};
use crate::store::ordering;

/// The error recorded when the delivery's connection was deleted.
pub const CONNECTION_DELETED: &str = "connection deleted";
/// The error recorded when the delivery's connection is disabled.
pub const CONNECTION_DISABLED: &str = "connection disabled";
/// How long a job whose limits could not be checked waits.
const GATE_ERROR_WAIT: Duration = Duration::from_secs(1);
/// How long a job whose credentials could not be opened waits (for an
/// operator to configure the missing key, or another replica with it).
const CREDENTIALS_ERROR_WAIT: Duration = Duration::from_secs(30);
/// Slack after another attempt's lease before its job comes back.
const LEASE_SLACK: TimeDelta = TimeDelta::seconds(1);

/// What to do with the job once its attempt is over.
enum After {
    Ack,
    /// Acknowledge, and park the job in the delayed set until then.
    ParkUntil(chrono::DateTime<Utc>),
    /// Acknowledge, and set the job aside in the connection's waiting list.
    Wait(ConnectionId),
    /// Leave the entry unacknowledged: the reclaimer retries it.
    Leave,
}

/// Runs attempts; cheap to clone.
#[derive(Clone)]
pub struct Attempter {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    writers: Writers,
    sender: Sender,
    gate: Gate,
    defaults: Defaults,
    keyring: Keyring,
    waiting: Waiting,
    /// Enqueues the next delivery of an ordering key (the hand-over).
    producer: Producer,
    shared: Shared,
    /// What a stop hands back (see `super::handback`).
    holdings: Holdings,
}

impl Attempter {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        pool: Pool,
        writers: Writers,
        sender: Sender,
        gate: Gate,
        defaults: Defaults,
        keyring: Keyring,
        waiting: Waiting,
        producer: Producer,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                pool,
                writers,
                sender,
                gate,
                defaults,
                keyring,
                waiting,
                producer,
                shared: Shared::default(),
                holdings: Holdings::default(),
            }),
        }
    }

    /// What this process's attempts hold, for a stop to hand back.
    pub fn holdings(&self) -> Holdings {
        self.inner.holdings.clone()
    }

    /// Handles one stream entry to the end, then lets the slot it used
    /// take over its connection's waiting jobs. Failures to reach Postgres
    /// leave the entry unacknowledged, for the reclaimer to retry.
    pub async fn process(&self, entry: StreamEntry) {
        let (job, after) = match Job::parse(&entry) {
            Ok(job) => {
                let after = self.handle_logged(&job).await;
                (Some(job), after)
            }
            Err(reason) => {
                tracing::warn!(entry_id = %entry.id, %reason, "dropping a malformed job");
                (None, After::Ack)
            }
        };
        let set_aside = matches!(after, After::Wait(_));
        let park = match (after, &job) {
            (After::Leave, _) => return,
            (After::Ack, _) | (_, None) => None,
            (After::ParkUntil(due), Some(job)) => Some(Parking::Until {
                job: job.to_json(),
                due_ms: due.timestamp_millis(),
            }),
            (After::Wait(connection), Some(job)) => {
                self.inner.waiting.note(connection);
                Some(Parking::Waiting {
                    connection: connection.to_string(),
                    job: job.to_json(),
                })
            }
        };
        let ack = Ack {
            entry_id: entry.id,
            partition: entry.partition,
            park,
        };
        if let Err(error) = self.inner.writers.acks.call(ack).await {
            // The outcome is committed: at worst the job runs again and
            // finds nothing to claim, or the sweeper re-queues a retry.
            tracing::warn!(error = format!("{error:#}"), "acknowledging the job failed");
        }
        if let Some(connection) = job.and_then(|job| job.connection)
            && !set_aside
        {
            self.run_waiting(connection).await;
        }
    }

    /// Runs `connection`'s waiting jobs, oldest first, while this process
    /// has a free slot for it. A job taken off the list has no stream
    /// entry: what would have gone into its acknowledgement is written
    /// directly (see [`super::waiting`] for what a crash here costs).
    async fn run_waiting(&self, connection: ConnectionId) {
        let waiting = &self.inner.waiting;
        while waiting.may_have(connection) && !self.inner.gate.is_full(connection) {
            let text = match waiting.pop(connection).await {
                Ok(Some(text)) => text,
                Ok(None) => return,
                Err(error) => {
                    tracing::warn!(%error, "taking a waiting job failed");
                    return;
                }
            };
            // Only in this process until recorded: a stop hands it back.
            let _held = self.inner.holdings.waiting_job(&text);
            let job = match Job::from_json(&text) {
                Ok(job) => job,
                Err(reason) => {
                    tracing::warn!(%reason, "dropping a malformed waiting job");
                    continue;
                }
            };
            let written = match self.handle_logged(&job).await {
                After::Ack => Ok(()),
                After::ParkUntil(due) => waiting.park_until(&text, due.timestamp_millis()).await,
                // Full again: back to the head of its list, and this slot
                // is someone else's now.
                After::Wait(full) => {
                    let pushed = waiting.push_front(full, &text).await;
                    if let Err(error) = pushed {
                        tracing::warn!(%error, "putting a waiting job back failed; the sweeper will re-queue it");
                    }
                    return;
                }
                After::Leave => {
                    waiting
                        .park_until(&text, due_after(GATE_ERROR_WAIT).timestamp_millis())
                        .await
                }
            };
            if let Err(error) = written {
                tracing::warn!(%error, "parking a waiting job failed; the sweeper will re-queue it");
            }
        }
    }

    async fn handle_logged(&self, job: &Job) -> After {
        self.handle(job).await.unwrap_or_else(|error| {
            tracing::warn!(
                delivery_id = %job.delivery,
                error = format!("{error:#}"),
                "attempt not recorded; the job will be reclaimed"
            );
            After::Leave
        })
    }

    async fn handle(&self, job: &Job) -> anyhow::Result<After> {
        // A connection already at this process's cap, or whose breaker is
        // open: set the job aside at once, without claiming (and releasing)
        // it in Postgres, so a hanging or failing destination's backlog
        // costs the healthy ones no statements.
        if let Some(connection) = job.connection {
            if self.inner.gate.is_full(connection) {
                observe::held(
                    &Span::current(),
                    &connection.to_string(),
                    HoldReason::LocalCap,
                    Duration::ZERO,
                );
                return Ok(After::Wait(connection));
            }
            if let Some(wait) = self.inner.gate.open_for(connection) {
                observe::held(
                    &Span::current(),
                    &connection.to_string(),
                    HoldReason::Breaker,
                    wait,
                );
                return Ok(After::ParkUntil(due_after(wait)));
            }
        }
        let request = (job.workspace, job.delivery);
        match self.inner.writers.claims.call(request).await? {
            ClaimOutcome::Claimed(claimed) => {
                // Leased to this process until recorded: a stop releases it.
                let _held = self.inner.holdings.claim(job.delivery, claimed.attempt);
                let span = observe::attempt_span(job, &claimed);
                self.attempt(job, *claimed, &span)
                    .instrument(span.clone())
                    .await
            }
            ClaimOutcome::Leased { until } => Ok(After::ParkUntil(until + LEASE_SLACK)),
            ClaimOutcome::Blocked { until } => Ok(After::ParkUntil(until)),
            ClaimOutcome::Skipped => {
                tracing::debug!(delivery_id = %job.delivery, "delivery not due, done or paused; skipping the job");
                Ok(After::Ack)
            }
        }
    }

    async fn attempt(&self, job: &Job, claimed: Claimed, span: &Span) -> anyhow::Result<After> {
        let inner = &self.inner;
        let stored = DeliveryPolicy::from_json(&claimed.policy).unwrap_or_else(|reason| {
            tracing::warn!(%reason, "unreadable connection policy; using the defaults");
            DeliveryPolicy::default()
        });
        let policy = inner.defaults.resolve(&stored);
        if claimed.connection_deleted || claimed.connection_state == ConnectionState::Disabled {
            let error = if claimed.connection_deleted {
                CONNECTION_DELETED
            } else {
                CONNECTION_DISABLED
            };
            let decision = Decision {
                status: NewStatus::Dead,
                error: error.to_string(),
                health: Health::Neutral,
                disable_connection: false,
                needs_credentials: false,
            };
            let target = destinations::for_connection(&claimed.kind, &claimed.connection_config)
                .map(|destination| destination.target())
                .unwrap_or_default();
            let detail = destinations::attempt_detail(&claimed.kind, None, None, None);
            return self
                .record(
                    span,
                    job,
                    &claimed,
                    decision,
                    (target, detail),
                    None,
                    Utc::now(),
                    Duration::ZERO,
                )
                .await;
        }

        let destination = destinations::for_connection(&claimed.kind, &claimed.connection_config);
        let signed = destination.as_ref().is_ok_and(|d| d.signed());
        let credentials = match credentials::open(&inner.keyring, &claimed, signed) {
            Ok(credentials) => credentials,
            Err(error) => {
                tracing::error!(%error, "connection credentials do not open; holding the attempt");
                return self
                    .hold(
                        span,
                        &claimed,
                        job,
                        CREDENTIALS_ERROR_WAIT,
                        HoldReason::Unavailable,
                    )
                    .await;
            }
        };
        let ticket = match inner
            .gate
            .admit(claimed.connection, job.delivery, &policy)
            .await
        {
            Ok(Verdict::Admitted(ticket)) => ticket,
            Ok(Verdict::Held { wait, reason }) => {
                return self.hold(span, &claimed, job, wait, reason).await;
            }
            Err(error) => {
                tracing::warn!(%error, "checking the connection's limits failed; holding the attempt");
                return self
                    .hold(
                        span,
                        &claimed,
                        job,
                        GATE_ERROR_WAIT,
                        HoldReason::Unavailable,
                    )
                    .await;
            }
        };
        if ticket.is_probe() {
            tracing::info!("circuit breaker half-open; this attempt is the probe");
        }

        let started_at = Utc::now();
        let clock = Instant::now();
        let (target, method, result) = match &destination {
            Ok(destination) => {
                let sent = self
                    .send(job, &claimed, destination.as_ref(), &credentials, &policy)
                    .await;
                (sent.target, sent.method, sent.result)
            }
            Err(error) => (String::new(), None, Err(error.clone())),
        };
        let duration = clock.elapsed();
        let action = match &destination {
            Ok(destination) => destination.classify(&result, &policy.retry_logic),
            Err(_) => policy.retry_logic.classify(&result),
        };
        let detail = destinations::attempt_detail(
            &claimed.kind,
            method.as_ref(),
            destination.as_deref().ok(),
            Some(&result),
        );
        let decision = outcome::decide_action(claimed.attempt, action, &policy);
        // The slot is freed and the breaker told while the record is written.
        let error = decision.error.clone();
        let load = Load::of(&result);
        let finish = inner
            .gate
            .finish(ticket, (decision.health, load, duration), &error, &policy);
        let record = self.record(
            span,
            job,
            &claimed,
            decision,
            (target, detail),
            Some(result),
            started_at,
            duration,
        );
        let ((), after) = tokio::join!(finish, record);
        after
    }

    /// Gives the claim back (no attempt counted) and parks the job.
    async fn hold(
        &self,
        span: &Span,
        claimed: &Claimed,
        job: &Job,
        wait: Duration,
        reason: HoldReason,
    ) -> anyhow::Result<After> {
        let due = due_after(wait);
        let release = Release {
            delivery: job.delivery,
            attempt: claimed.attempt,
            due,
        };
        self.inner.writers.releases.call(release).await?;
        observe::held(span, &claimed.connection.to_string(), reason, wait);
        tracing::debug!(
            reason = reason.as_str(),
            wait_ms = wait.as_millis() as u64,
            "attempt held back; not counted"
        );
        Ok(After::ParkUntil(due))
    }

    #[allow(clippy::too_many_arguments)]
    async fn record(
        &self,
        span: &Span,
        job: &Job,
        claimed: &Claimed,
        decision: Decision,
        (target, detail): (String, serde_json::Value),
        result: Option<SendResult>,
        started_at: chrono::DateTime<Utc>,
        duration: Duration,
    ) -> anyhow::Result<After> {
        observe::finished(
            span,
            &claimed.connection.to_string(),
            detail.get("method").and_then(|method| method.as_str()),
            &target,
            result.as_ref(),
            &decision.status,
            duration,
        );
        let (status_code, response_snippet) = match result {
            Some(Ok(response)) => (Some(response.status), response.snippet),
            Some(Err(_)) | None => (None, String::new()),
        };
        let record = AttemptRecord {
            workspace: job.workspace,
            delivery: job.delivery,
            attempt: claimed.attempt,
            started_at,
            duration,
            target,
            detail,
            status_code,
            error: decision.error.clone(),
            response_snippet,
            trigger: claimed.trigger,
            outcome: decision.status,
        };
        let owned = self.inner.writers.records.call(record).await?;
        if !owned {
            tracing::warn!(
                "the lease expired before the outcome was recorded; a newer attempt owns the delivery"
            );
            return Ok(After::Ack);
        }
        if decision.disable_connection {
            let disabled = jobs::disable_connection(
                &self.inner.pool,
                job.workspace,
                claimed.connection,
                &decision.error,
            )
            .await?;
            if disabled {
                tracing::warn!("the destination answered 410 Gone; connection disabled");
            }
        }
        if decision.needs_credentials {
            let marked = jobs::mark_needs_credentials(
                &self.inner.pool,
                job.workspace,
                claimed.connection,
                &decision.error,
            )
            .await?;
            if marked {
                tracing::warn!(error = %decision.error, "the destination rejected the credentials; the connection waits for new ones");
            }
        }
        if let Some(key) = &claimed.ordering_key {
            self.hand_over(claimed, key, &decision.status).await;
        }
        Ok(match decision.status {
            NewStatus::Succeeded => {
                tracing::debug!(?status_code, "delivered");
                After::Ack
            }
            NewStatus::Retrying { next_attempt_at } => {
                tracing::info!(error = %decision.error, %next_attempt_at, "attempt failed; retry scheduled");
                After::ParkUntil(next_attempt_at)
            }
            NewStatus::Dead => {
                tracing::warn!(error = %decision.error, "delivery is dead");
                After::Ack
            }
        })
    }

    /// When a keyed delivery of an ordered connection is done for good
    /// (delivered, or dead and its key goes on), enqueues the delivery now
    /// at the head of its key (see `crate::store::ordering`). A failure is
    /// logged: the sweeper re-enqueues a head left without a job.
    async fn hand_over(&self, claimed: &Claimed, key: &str, status: &NewStatus) {
        let Some(ordering) = DeliveryPolicy::from_json(&claimed.policy)
            .ok()
            .and_then(|policy| policy.ordering)
        else {
            return;
        };
        let gone =
            claimed.connection_deleted || claimed.connection_state == ConnectionState::Disabled;
        let done = match status {
            NewStatus::Succeeded => true,
            NewStatus::Dead => gone || ordering.dead_letter == DeadLetterOrdering::Skip,
            NewStatus::Retrying { .. } => false,
        };
        if !done {
            return;
        }
        let connection = claimed.connection;
        let next = ordering::next(&self.inner.pool, connection, key, ordering.dead_letter).await;
        let enqueued = match next {
            Ok(Some((workspace, delivery))) => {
                let job = DeliveryJob::new(workspace.to_string(), delivery.to_string())
                    .with_connection(Some(connection.to_string()));
                self.inner
                    .producer
                    .ready(&[job])
                    .await
                    .map_err(anyhow::Error::from)
            }
            Ok(None) => Ok(()),
            Err(error) => Err(error),
        };
        if let Err(error) = enqueued {
            tracing::warn!(
                error = format!("{error:#}"),
                "handing the ordering key over failed; the sweeper will re-enqueue its head"
            );
        }
    }

    /// Lets the destination build and send the delivery's request.
    async fn send(
        &self,
        job: &Job,
        claimed: &Claimed,
        destination: &dyn Destination,
        credentials: &Credentials,
        policy: &EffectivePolicy,
    ) -> destinations::Sent {
        let delivery_id = job.delivery.to_string();
        let context = Context {
            connection: claimed.connection,
            delivery_id: &delivery_id,
            payload: &claimed.payload,
            credentials,
            traceparent: policy.send_traceparent,
            shared: &self.inner.shared,
        };
        let timeouts = Timeouts {
            connect: policy.connect_timeout,
            total: policy.request_timeout,
        };
        destination
            .deliver(&context, &self.inner.sender, timeouts)
            .await
    }
}

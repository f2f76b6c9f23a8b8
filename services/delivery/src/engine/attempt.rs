//! The path of one job: parse → claim → send → classify → schedule →
//! record → acknowledge.
//!
//! The order is what makes delivery at-least-once without double work:
//! the claim in Postgres decides whether this job may act at all (a
//! duplicate or stale job finds nothing to claim and is just acknowledged);
//! the outcome is committed before the job is acknowledged, so a crash in
//! between leaves an unacknowledged job for the reclaimer, never a lost
//! outcome; and a retry is parked in the delayed set in the same `MULTI` as
//! the acknowledgement.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use deadpool_postgres::Pool;
use serde::Deserialize;
use switchyard_core::ids::{DeliveryId, WorkspaceId};
use switchyard_core::queue::DeliveryJob;
use tracing::field::Empty;

use super::http::{SendError, SendResult, Sender, WebhookRequest};
use super::queue::{JobQueue, StreamEntry};
use super::retry::{self, RetryAction};
use super::schedule::{Next, RetrySchedule};
use crate::store::jobs::{self, AttemptRecord, Claimed, NewStatus};

/// The error recorded when the delivery's connection was deleted.
pub const CONNECTION_DELETED: &str = "connection deleted";

/// A job that parsed: which delivery to attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Job {
    pub workspace: WorkspaceId,
    pub delivery: DeliveryId,
}

impl Job {
    /// The canonical JSON of this job, the form parked in the delayed set
    /// (so two parkings of one delivery collapse into one member).
    pub fn to_json(self) -> String {
        DeliveryJob::new(self.workspace.to_string(), self.delivery.to_string()).to_json()
    }
}

/// Reads a stream entry's job; the error says why it is unusable.
pub fn parse_job(entry: &StreamEntry) -> Result<Job, String> {
    let Some(text) = entry.job.as_deref() else {
        return Err("the entry has no `job` field".to_string());
    };
    let job: DeliveryJob = serde_json::from_str(text)
        .map_err(|error| format!("the job is not valid JSON: {error}"))?;
    if job.v != DeliveryJob::VERSION {
        return Err(format!("job version {} is not supported", job.v));
    }
    Ok(Job {
        workspace: WorkspaceId::parse(&job.workspace_id)
            .map_err(|reason| format!("workspace_id {reason}"))?,
        delivery: DeliveryId::parse(&job.delivery_id)
            .map_err(|reason| format!("delivery_id {reason}"))?,
    })
}

/// The `config` of a webhook connection.
#[derive(Debug, Deserialize)]
struct WebhookSettings {
    url: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
}

impl WebhookSettings {
    fn parse(config: &serde_json::Value) -> Result<Self, SendError> {
        Self::deserialize(config)
            .map_err(|error| SendError::Invalid(format!("connection config: {error}")))
    }
}

/// The URL of a connection's config, for the attempt row; empty if none.
fn connection_url(config: &serde_json::Value) -> String {
    WebhookSettings::parse(config)
        .map(|settings| settings.url)
        .unwrap_or_default()
}

/// What to do with the job once the outcome is recorded.
enum AfterRecord {
    Ack,
    AckAndRetryAt(DateTime<Utc>),
}

/// Runs attempts; cheap to clone.
#[derive(Clone)]
pub struct Attempter {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    queue: JobQueue,
    sender: Sender,
    schedule: RetrySchedule,
    lease: Duration,
}

impl Attempter {
    /// `lease` is how long a claim holds a delivery: the visibility timeout,
    /// after which the reclaimer may hand the job to another consumer.
    pub fn new(
        pool: Pool,
        queue: JobQueue,
        sender: Sender,
        schedule: RetrySchedule,
        lease: Duration,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                pool,
                queue,
                sender,
                schedule,
                lease,
            }),
        }
    }

    /// Handles one stream entry to the end. Failures to reach Postgres
    /// leave the entry unacknowledged, for the reclaimer to retry.
    pub async fn process(&self, entry: StreamEntry) {
        let queue = &self.inner.queue;
        let job = match parse_job(&entry) {
            Ok(job) => job,
            Err(reason) => {
                tracing::warn!(entry_id = %entry.id, %reason, "dropping a malformed job");
                if let Err(error) = queue.ack(&entry.id).await {
                    tracing::warn!(entry_id = %entry.id, %error, "acknowledging a malformed job failed");
                }
                return;
            }
        };
        let after = match self.attempt(job).await {
            Ok(after) => after,
            Err(error) => {
                tracing::warn!(
                    delivery_id = %job.delivery,
                    error = format!("{error:#}"),
                    "attempt not recorded; the job will be reclaimed"
                );
                return;
            }
        };
        let acked = match after {
            AfterRecord::Ack => queue.ack(&entry.id).await,
            AfterRecord::AckAndRetryAt(due) => {
                queue
                    .ack_and_delay(&entry.id, &job.to_json(), due.timestamp_millis())
                    .await
            }
        };
        if let Err(error) = acked {
            // The outcome is committed: at worst the job runs again and
            // finds nothing to claim, or the sweeper re-queues a retry.
            tracing::warn!(delivery_id = %job.delivery, %error, "acknowledging the job failed");
        }
    }

    #[tracing::instrument(
        skip_all,
        fields(delivery_id = %job.delivery, workspace_id = %job.workspace, attempt = Empty, status = Empty)
    )]
    async fn attempt(&self, job: Job) -> anyhow::Result<AfterRecord> {
        let inner = &self.inner;
        let claimed = jobs::claim(&inner.pool, job.workspace, job.delivery, inner.lease).await?;
        let Some(claimed) = claimed else {
            tracing::debug!("delivery not due or already handled; skipping the job");
            return Ok(AfterRecord::Ack);
        };
        let span = tracing::Span::current();
        span.record("attempt", claimed.attempt);

        let started_at = Utc::now();
        let clock = Instant::now();
        // A deleted connection gets no request: the delivery is dead.
        let (url, result) = if claimed.connection_deleted {
            (connection_url(&claimed.connection_config), None)
        } else {
            let (url, result) = self.send(job, &claimed).await;
            (url, Some(result))
        };
        let duration = clock.elapsed();

        let (status, error) = match &result {
            Some(result) => self.decide(claimed.attempt, result),
            None => (NewStatus::Dead, CONNECTION_DELETED.to_string()),
        };
        span.record("status", status.as_str());
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
            url,
            status_code,
            error,
            response_snippet,
        };
        let owned = jobs::record(&inner.pool, &record, status).await?;
        if !owned {
            tracing::warn!(
                "the lease expired before the outcome was recorded; a newer attempt owns the delivery"
            );
            return Ok(AfterRecord::Ack);
        }
        match status {
            NewStatus::Succeeded => {
                tracing::info!(status_code = ?record.status_code, "webhook delivered");
                Ok(AfterRecord::Ack)
            }
            NewStatus::Retrying { next_attempt_at } => {
                tracing::info!(error = %record.error, %next_attempt_at, "attempt failed; retry scheduled");
                Ok(AfterRecord::AckAndRetryAt(next_attempt_at))
            }
            NewStatus::Dead => {
                tracing::warn!(error = %record.error, "delivery is dead; no attempts left");
                Ok(AfterRecord::Ack)
            }
        }
    }

    /// Sends the webhook; returns the URL (empty if the settings have
    /// none) and the outcome.
    async fn send(&self, job: Job, claimed: &Claimed) -> (String, SendResult) {
        let settings = match WebhookSettings::parse(&claimed.connection_config) {
            Ok(settings) => settings,
            Err(error) => return (String::new(), Err(error)),
        };
        let body = match serde_json::to_vec(&claimed.payload) {
            Ok(body) => body,
            Err(error) => {
                let error = SendError::Invalid(format!("payload: {error}"));
                return (settings.url, Err(error));
            }
        };
        let webhook_id = job.delivery.to_string();
        let request = WebhookRequest {
            url: &settings.url,
            headers: &settings.headers,
            signing_secret: &claimed.signing_secret,
            webhook_id: &webhook_id,
            body,
        };
        let result = self.inner.sender.send(request).await;
        (settings.url, result)
    }

    /// The delivery's next state and the attempt's error text.
    fn decide(&self, attempt: u32, result: &SendResult) -> (NewStatus, String) {
        match retry::classify(result) {
            RetryAction::Successful => (NewStatus::Succeeded, String::new()),
            RetryAction::Retry {
                reason,
                retry_after,
            } => {
                let next =
                    self.inner
                        .schedule
                        .after_failure(attempt, retry_after, &mut rand::rng());
                let status = match next {
                    Next::RetryAfter(delay) => NewStatus::Retrying {
                        next_attempt_at: due_after(delay),
                    },
                    Next::GiveUp => NewStatus::Dead,
                };
                (status, reason)
            }
        }
    }
}

/// Now plus `delay`, saturating instead of overflowing on absurd delays.
fn due_after(delay: Duration) -> DateTime<Utc> {
    TimeDelta::from_std(delay)
        .ok()
        .and_then(|delta| Utc::now().checked_add_signed(delta))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(job: Option<&str>) -> StreamEntry {
        StreamEntry {
            id: "1-0".to_string(),
            job: job.map(str::to_string),
        }
    }

    #[test]
    fn parses_valid_jobs() {
        let job = Job {
            workspace: WorkspaceId::generate(),
            delivery: DeliveryId::generate(),
        };
        assert_eq!(parse_job(&entry(Some(&job.to_json()))), Ok(job));
    }

    #[test]
    fn refuses_malformed_jobs() {
        let delivery = DeliveryId::generate();
        let workspace = WorkspaceId::generate();
        let cases = [
            None,
            Some("not json".to_string()),
            Some(format!(
                r#"{{"v":2,"workspace_id":"{workspace}","delivery_id":"{delivery}"}}"#
            )),
            Some(format!(
                r#"{{"v":1,"workspace_id":"{delivery}","delivery_id":"{delivery}"}}"#
            )),
            Some(format!(
                r#"{{"v":1,"workspace_id":"{workspace}","delivery_id":"x"}}"#
            )),
        ];
        for case in cases {
            assert!(parse_job(&entry(case.as_deref())).is_err(), "{case:?}");
        }
    }
}

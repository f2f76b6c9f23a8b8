//! The load: emits at a fixed rate through the Rust SDK (retrying as it
//! does by default), one lead per emit with its own id in the payload, and
//! the tally of what the SDK saw: each refused attempt by code (every one
//! of them retried), each call's final outcome, and when each was accepted.

use std::collections::BTreeMap;
use std::error::Error as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use switchyard_client::{Client, RetryPolicy};
use tokio::time::Instant;
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// One emit the SDK saw accepted.
#[derive(Clone, Debug)]
pub struct Accepted {
    pub lead: String,
    pub event_id: String,
    /// The server had stored an earlier attempt: answered from it.
    pub duplicate: bool,
    pub at: DateTime<Utc>,
}

#[derive(Default)]
pub struct Tally {
    pub accepted: Vec<Accepted>,
    /// Calls that failed even after retrying, by code.
    pub failed: BTreeMap<String, u64>,
    /// Attempts refused and retried, by how they were refused.
    pub refused: BTreeMap<String, u64>,
}

/// How a refused attempt is named in the table: the code, whether the
/// server sent it with a `RetryInfo`, or whether the transport made it
/// (the server unreachable, or the connection cut).
pub fn label(status: &Status) -> String {
    let code = format!("{:?}", status.code());
    if status.get_details_retry_info().is_some() {
        format!("{code} (server, with RetryInfo)")
    } else if status.source().is_some() {
        format!("{code} (transport)")
    } else {
        format!("{code} (server, no RetryInfo)")
    }
}

/// Emits `lead.created` `rate` times a second for `duration`; returns when
/// every call has finished (retries included).
pub async fn run(
    client: &Client,
    rate: u32,
    duration: Duration,
    started: Instant,
) -> anyhow::Result<Tally> {
    run_named(client, "lead", rate, duration, started).await
}

/// [`run`], naming the leads `<name>-<index>` (loads running side by side
/// through several ingests keep their leads apart).
pub async fn run_named(
    client: &Client,
    name: &str,
    rate: u32,
    duration: Duration,
    started: Instant,
) -> anyhow::Result<Tally> {
    let tally = Arc::new(Mutex::new(Tally::default()));
    let refused = Arc::clone(&tally);
    let policy = RetryPolicy {
        on_retry: Some(Arc::new(move |status: &Status, _wait: Duration| {
            if let Ok(mut tally) = refused.lock() {
                *tally.refused.entry(label(status)).or_default() += 1;
            }
        })),
        ..RetryPolicy::default()
    };
    let client = client.clone().with_retry(policy);
    let total = u64::from(rate) * duration.as_secs();
    let mut ticker = tokio::time::interval_at(started, Duration::from_secs(1) / rate);
    // A stalled test process catches up at once rather than stretching the run.
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut calls = Vec::new();
    for index in 0..total {
        ticker.tick().await;
        let client = client.clone();
        let tally = Arc::clone(&tally);
        let lead = format!("{name}-{index}");
        calls.push(tokio::spawn(async move {
            let payload = serde_json::json!({
                "id": lead,
                "email": format!("{lead}@example.com"),
            });
            let outcome = client.emit("lead.created", &payload).await;
            let Ok(mut tally) = tally.lock() else {
                return;
            };
            match outcome {
                Ok(response) => tally.accepted.push(Accepted {
                    lead,
                    event_id: response.event_id,
                    duplicate: response.duplicate,
                    at: Utc::now(),
                }),
                Err(status) => *tally.failed.entry(label(&status)).or_default() += 1,
            }
        }));
    }
    for call in calls {
        call.await?;
    }
    let mut tally = tally
        .lock()
        .map_err(|_| anyhow::anyhow!("tally poisoned"))?;
    Ok(std::mem::take(&mut *tally))
}

/// Codes no outage may produce: a refusal with one of these is a bug.
pub fn is_bug(label: &str) -> bool {
    [Code::Internal, Code::Unknown, Code::DataLoss]
        .iter()
        .any(|code| label.starts_with(&format!("{code:?} (server")))
}

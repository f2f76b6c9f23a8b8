//! The bench's emitters: `concurrency` tasks calling `EmitEvent` (or
//! `EmitEvents` with `batch` events per call), at a given total rate (each
//! event has its slot, `start + n / rate`) or as fast as answers come
//! (rate 0), for a given time. Each payload is a JSON object padded to the
//! requested size, carrying its sequence number and its emit time
//! (`sent_at_us`) for the receivers' latency. Refusals are counted by
//! gRPC code, so backpressure (`ResourceExhausted`) shows apart from
//! failures.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use switchyard_client::{Client, proto};
use tokio::sync::Mutex;

use super::receivers::unix_micros;

#[derive(Clone, Debug)]
pub struct EmitPlan {
    pub event_type: String,
    /// Events per second; 0 emits as fast as the service answers.
    pub rate: f64,
    pub duration: Duration,
    pub concurrency: usize,
    pub payload_bytes: usize,
    /// Events per `EmitEvents` call; 1 calls `EmitEvent`.
    pub batch: usize,
}

#[derive(Debug, Default)]
pub struct Emitted {
    pub accepted: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    /// Refused events by gRPC code (`ResourceExhausted`: backpressure).
    pub refused_by_code: BTreeMap<String, u64>,
    pub elapsed: Duration,
    /// `EmitEvent` (or `EmitEvents`) round trips, in microseconds.
    pub latencies_us: Vec<u64>,
}

impl Emitted {
    fn refuse(&mut self, code: tonic::Code, message: String, count: u64) {
        self.errors += count;
        *self.refused_by_code.entry(format!("{code:?}")).or_default() += count;
        self.first_error
            .get_or_insert_with(|| format!("{code:?}: {message}"));
    }
}

/// Emits until the plan's time is up; returns what was accepted.
pub async fn emit(client: &Client, plan: &EmitPlan) -> Emitted {
    let started = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let outcome = Arc::new(Mutex::new(Emitted::default()));
    let padding = Arc::new("x".repeat(plan.payload_bytes.saturating_sub(64)));
    let mut tasks = Vec::with_capacity(plan.concurrency);
    for _ in 0..plan.concurrency.max(1) {
        let client = client.clone();
        let plan = plan.clone();
        let next = Arc::clone(&next);
        let outcome = Arc::clone(&outcome);
        let padding = Arc::clone(&padding);
        tasks.push(tokio::spawn(async move {
            let mut mine = Emitted::default();
            let batch = plan.batch.max(1) as u64;
            loop {
                let first = next.fetch_add(batch, Ordering::Relaxed);
                if plan.rate > 0.0 {
                    let slot = started + Duration::from_secs_f64(first as f64 / plan.rate);
                    tokio::time::sleep_until(slot.into()).await;
                }
                if started.elapsed() >= plan.duration {
                    break;
                }
                let events: Vec<proto::EmitEventRequest> = (first..first + batch)
                    .map(|seq| proto::EmitEventRequest {
                        event_type: plan.event_type.clone(),
                        payload_json: format!(
                            r#"{{"seq":{seq},"sent_at_us":{},"pad":"{padding}"}}"#,
                            unix_micros()
                        ),
                        ..Default::default()
                    })
                    .collect();
                let call = Instant::now();
                if batch == 1 {
                    let request = events.into_iter().next().unwrap_or_default();
                    match client.emit_event(request).await {
                        Ok(_) => {
                            mine.accepted += 1;
                            mine.latencies_us
                                .push(u64::try_from(call.elapsed().as_micros()).unwrap_or(0));
                        }
                        Err(status) => {
                            mine.refuse(status.code(), status.message().to_string(), 1);
                        }
                    }
                    continue;
                }
                match client.emit_events(events).await {
                    Ok(results) => {
                        mine.latencies_us
                            .push(u64::try_from(call.elapsed().as_micros()).unwrap_or(0));
                        for result in results {
                            match result.outcome {
                                Some(proto::emit_events_result::Outcome::Accepted(_)) => {
                                    mine.accepted += 1;
                                }
                                Some(proto::emit_events_result::Outcome::Error(error)) => {
                                    mine.refuse(tonic::Code::from(error.code), error.message, 1);
                                }
                                None => mine.refuse(tonic::Code::Unknown, String::new(), 1),
                            }
                        }
                    }
                    Err(status) => {
                        mine.refuse(status.code(), status.message().to_string(), batch);
                    }
                }
            }
            let mut outcome = outcome.lock().await;
            outcome.accepted += mine.accepted;
            outcome.errors += mine.errors;
            if outcome.first_error.is_none() {
                outcome.first_error = mine.first_error;
            }
            for (code, count) in mine.refused_by_code {
                *outcome.refused_by_code.entry(code).or_default() += count;
            }
            outcome.latencies_us.extend(mine.latencies_us);
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let mut outcome = std::mem::take(&mut *outcome.lock().await);
    outcome.elapsed = started.elapsed();
    outcome
}

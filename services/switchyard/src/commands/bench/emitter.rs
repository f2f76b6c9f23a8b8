//! The bench's emitters: `concurrency` tasks calling `EmitEvent`, at a
//! given total rate (each event has its slot, `start + n / rate`) or as
//! fast as answers come (rate 0), for a given time. Each payload is a JSON
//! object padded to the requested size, carrying its sequence number and
//! its emit time (`sent_at_us`) for the receivers' latency.

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
}

#[derive(Debug, Default)]
pub struct Emitted {
    pub accepted: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed: Duration,
    /// `EmitEvent` round trips, in microseconds.
    pub latencies_us: Vec<u64>,
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
            let mut latencies = Vec::new();
            let (mut accepted, mut errors, mut first_error) = (0u64, 0u64, None);
            loop {
                let seq = next.fetch_add(1, Ordering::Relaxed);
                if plan.rate > 0.0 {
                    let slot = started + Duration::from_secs_f64(seq as f64 / plan.rate);
                    tokio::time::sleep_until(slot.into()).await;
                }
                if started.elapsed() >= plan.duration {
                    break;
                }
                let payload = format!(
                    r#"{{"seq":{seq},"sent_at_us":{},"pad":"{padding}"}}"#,
                    unix_micros()
                );
                let request = proto::EmitEventRequest {
                    event_type: plan.event_type.clone(),
                    payload_json: payload,
                    ..Default::default()
                };
                let call = Instant::now();
                match client.emit_event(request).await {
                    Ok(_) => {
                        accepted += 1;
                        latencies.push(u64::try_from(call.elapsed().as_micros()).unwrap_or(0));
                    }
                    Err(status) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| status.to_string());
                    }
                }
            }
            let mut outcome = outcome.lock().await;
            outcome.accepted += accepted;
            outcome.errors += errors;
            if outcome.first_error.is_none() {
                outcome.first_error = first_error;
            }
            outcome.latencies_us.extend(latencies);
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let mut outcome = std::mem::take(&mut *outcome.lock().await);
    outcome.elapsed = started.elapsed();
    outcome
}

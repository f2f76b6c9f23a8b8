//! The bench's webhook receivers: one HTTP server per connection on
//! 127.0.0.1:0, answering at once (healthy), with 500 (failing) or after a
//! delay (slow). Each verifies every signature, notices repeated
//! `webhook-id`s (duplicates), and for first deliveries keeps the latency
//! from the emit (the payload carries its emit time) and the arrival time.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::Value;
use switchyard_core::http_server::Background;
use tokio::net::TcpListener;

/// How a receiver answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    Healthy,
    Failing,
    Slow(Duration),
}

impl Behaviour {
    pub fn name(self) -> &'static str {
        match self {
            Self::Healthy => "healthy",
            Self::Failing => "failing",
            Self::Slow(_) => "slow",
        }
    }
}

/// What one receiver saw.
#[derive(Debug, Default)]
pub struct Tally {
    pub requests: u64,
    pub duplicates: u64,
    pub signature_failures: u64,
    /// Emit → arrival of each first delivery, in microseconds.
    pub latencies_us: Vec<u64>,
    /// Arrival of each first delivery, since the bench started.
    pub arrivals: Vec<Duration>,
    seen: HashSet<String>,
}

impl Tally {
    pub fn delivered(&self) -> u64 {
        self.arrivals.len() as u64
    }

    /// Counts one arrival of delivery `id` whose body is `body`: a first
    /// one keeps its arrival time and its latency from the emit (the
    /// payload's `sent_at_us`), a repeat is a duplicate.
    pub fn record(&mut self, id: String, body: &[u8], arrived: Duration) {
        let now_us = unix_micros();
        self.requests += 1;
        let sent_at_us = serde_json::from_slice::<Value>(body)
            .ok()
            .and_then(|payload| payload.get("sent_at_us").and_then(Value::as_u64));
        if self.seen.insert(id) {
            self.arrivals.push(arrived);
            if let Some(sent) = sent_at_us {
                self.latencies_us.push(now_us.saturating_sub(sent));
            }
        } else {
            self.duplicates += 1;
        }
    }
}

struct Shared {
    behaviour: Behaviour,
    secret: Mutex<Option<String>>,
    started: Instant,
    tally: Mutex<Tally>,
}

pub struct BenchReceiver {
    pub behaviour: Behaviour,
    shared: Arc<Shared>,
    server: Background,
}

impl BenchReceiver {
    pub async fn start(behaviour: Behaviour, started: Instant) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0))
            .await
            .context("binding a receiver")?;
        let shared = Arc::new(Shared {
            behaviour,
            secret: Mutex::default(),
            started,
            tally: Mutex::default(),
        });
        let handler_shared = Arc::clone(&shared);
        let app =
            Router::new().fallback(move |request| handle(request, Arc::clone(&handler_shared)));
        let server = Background::spawn(listener, app)?;
        Ok(Self {
            behaviour,
            shared,
            server,
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}/hook", self.server.addr())
    }

    pub fn set_secret(&self, secret: &str) {
        if let Ok(mut guard) = self.shared.secret.lock() {
            *guard = Some(secret.to_string());
        }
    }

    pub fn delivered(&self) -> u64 {
        self.shared.tally.lock().map(|t| t.delivered()).unwrap_or(0)
    }

    /// Everything seen so far (the receiver keeps counting).
    pub fn take_tally(&self) -> Tally {
        self.shared
            .tally
            .lock()
            .map(|mut tally| std::mem::take(&mut *tally))
            .unwrap_or_default()
    }
}

async fn handle(request: Request, shared: Arc<Shared>) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let arrived = shared.started.elapsed();
    let secret = shared.secret.lock().ok().and_then(|s| s.clone());
    let signature_ok = secret.is_none_or(|secret| {
        switchyard_delivery_model::signature::verify(&secret, &parts.headers, &body).is_ok()
    });
    let webhook_id = parts
        .headers
        .get("webhook-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if let Ok(mut tally) = shared.tally.lock() {
        if !signature_ok {
            tally.signature_failures += 1;
        }
        tally.record(webhook_id, &body, arrived);
    }
    let status = match shared.behaviour {
        Behaviour::Healthy => StatusCode::NO_CONTENT,
        Behaviour::Failing => StatusCode::INTERNAL_SERVER_ERROR,
        Behaviour::Slow(delay) => {
            tokio::time::sleep(delay).await;
            StatusCode::NO_CONTENT
        }
    };
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// Microseconds since the Unix epoch.
pub fn unix_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

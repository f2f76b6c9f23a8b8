//! A webhook receiver for the demo, `switchyard receive` and the tests. It
//! records every request, verifies its Standard Webhooks signature when it
//! knows the secret, and answers from a script of status codes (then a
//! default), optionally after a delay — enough to play a healthy, a failing
//! or a hanging destination.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use switchyard_core::http_server::Background;
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// One request as received.
#[derive(Clone, Debug)]
pub struct ReceivedWebhook {
    pub method: String,
    pub path: String,
    pub headers: http::HeaderMap,
    pub body: Bytes,
    /// `None` when the receiver knows no secret.
    pub signature: Option<Result<(), String>>,
    pub received_at: DateTime<Utc>,
    /// The status this receiver answered.
    pub answered: u16,
}

impl ReceivedWebhook {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> anyhow::Result<serde_json::Value> {
        serde_json::from_slice(&self.body).context("webhook body is not JSON")
    }
}

/// How the receiver answers.
#[derive(Clone, Debug)]
pub struct Behaviour {
    /// Statuses for the first requests, in order.
    pub script: Vec<u16>,
    /// The status once the script is used up.
    pub default_status: u16,
    /// Wait this long before answering.
    pub delay: Duration,
}

impl Default for Behaviour {
    fn default() -> Self {
        Self {
            script: Vec::new(),
            default_status: 204,
            delay: Duration::ZERO,
        }
    }
}

type Callback = Arc<dyn Fn(&ReceivedWebhook) + Send + Sync>;

struct Shared {
    received: Mutex<Vec<ReceivedWebhook>>,
    script: Mutex<VecDeque<u16>>,
    behaviour: Behaviour,
    secret: Mutex<Option<String>>,
    arrived: Notify,
    on_request: Option<Callback>,
}

pub struct Receiver {
    shared: Arc<Shared>,
    server: Background,
}

impl Receiver {
    pub async fn start(addr: SocketAddr, behaviour: Behaviour) -> anyhow::Result<Self> {
        Self::start_with_callback(addr, behaviour, None).await
    }

    /// Like [`Receiver::start`], calling `on_request` for each request.
    pub async fn start_with_callback(
        addr: SocketAddr,
        behaviour: Behaviour,
        on_request: Option<Callback>,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr}"))?;
        let shared = Arc::new(Shared {
            received: Mutex::default(),
            script: Mutex::new(behaviour.script.iter().copied().collect()),
            behaviour,
            secret: Mutex::default(),
            arrived: Notify::new(),
            on_request,
        });
        let handler_shared = shared.clone();
        let app = Router::new().fallback(move |request| handle(request, handler_shared.clone()));
        let server = Background::spawn(listener, app)?;
        Ok(Self { shared, server })
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://<addr><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr())
    }

    /// Verify signatures of requests from now on with this secret.
    pub fn set_secret(&self, secret: &str) {
        if let Ok(mut guard) = self.shared.secret.lock() {
            *guard = Some(secret.to_string());
        }
    }

    pub fn received(&self) -> Vec<ReceivedWebhook> {
        self.shared
            .received
            .lock()
            .map(|r| r.clone())
            .unwrap_or_default()
    }

    /// Waits until at least `count` requests arrived, or fails after `timeout`.
    pub async fn wait_for(
        &self,
        count: usize,
        timeout: Duration,
    ) -> anyhow::Result<Vec<ReceivedWebhook>> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.shared.arrived.notified();
            let received = self.received();
            if received.len() >= count {
                return Ok(received);
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                anyhow::bail!(
                    "expected {count} webhook(s) within {timeout:?}, got {}",
                    self.received().len()
                );
            }
        }
    }
}

async fn handle(request: Request, shared: Arc<Shared>) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let answered = shared
        .script
        .lock()
        .ok()
        .and_then(|mut script| script.pop_front())
        .unwrap_or(shared.behaviour.default_status);
    let secret = shared.secret.lock().ok().and_then(|s| s.clone());
    let signature = secret
        .map(|secret| switchyard_delivery_model::signature::verify(&secret, &parts.headers, &body));
    let webhook = ReceivedWebhook {
        method: parts.method.to_string(),
        path: parts.uri.path().to_string(),
        headers: parts.headers,
        body,
        signature,
        received_at: Utc::now(),
        answered,
    };
    if let Some(callback) = &shared.on_request {
        callback(&webhook);
    }
    if let Ok(mut received) = shared.received.lock() {
        received.push(webhook);
    }
    shared.arrived.notify_waiters();
    if !shared.behaviour.delay.is_zero() {
        tokio::time::sleep(shared.behaviour.delay).await;
    }
    let status = StatusCode::from_u16(answered).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

/// One line per webhook, for people watching a terminal.
pub fn describe(webhook: &ReceivedWebhook) -> String {
    let verdict = match &webhook.signature {
        Some(Ok(())) => "signature verified".to_string(),
        Some(Err(reason)) => format!("signature INVALID ({reason})"),
        None => "signature not checked (no secret given)".to_string(),
    };
    let body = serde_json::from_slice::<serde_json::Value>(&webhook.body)
        .map(|json| json.to_string())
        .unwrap_or_else(|_| String::from_utf8_lossy(&webhook.body).into_owned());
    format!(
        "{} {} webhook-id={} -> {} | {verdict}\n  {body}",
        webhook.method,
        webhook.path,
        webhook.header("webhook-id").unwrap_or("-"),
        webhook.answered,
    )
}

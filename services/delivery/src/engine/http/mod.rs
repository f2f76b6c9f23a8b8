//! Sending one request a destination built: pooled HTTP clients, the SSRF
//! guard, and the start of the answer.
//!
//! - [`Sender`] keeps one `reqwest` client per connect timeout in use (the
//!   only setting reqwest cannot take per request); each client's pool keeps
//!   receivers' connections alive per host. The total timeout is set per
//!   request. Every client resolves names through [`GuardedResolver`], so a
//!   host resolving to a non-public address is refused at connect time, and
//!   IP-literal URLs are checked against the same [`DestinationPolicy`]
//!   (which also refuses `http://` under `https_only`) before sending.
//!   Redirects are not followed: a 3xx is the receiver's answer, not an
//!   invitation to post elsewhere. Proxies from the environment are
//!   ignored, since a proxy would resolve names itself and bypass the guard.
//! - [`Outbound`] is what a destination (`crate::destinations`) built:
//!   method, URL, headers, body, and how its API says "wait" (`Retry-After`
//!   unless the kind reads other headers); [`response`] reads the start of
//!   the answer.

mod response;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use switchyard_core::config::Config;
use switchyard_delivery_model::destination::{DestinationPolicy, GuardedResolver};

pub use response::snippet;

/// `user-agent` of every request.
pub const USER_AGENT_VALUE: &str = concat!("Switchyard/", env!("CARGO_PKG_VERSION"));
/// Response bytes read at most; the rest is left unread.
const MAX_RESPONSE_READ: usize = 64 * 1024;
/// Response bytes kept as the attempt's snippet.
const SNIPPET_BYTES: usize = 1024;
/// Connect timeouts are rounded to this step, so clients stay few.
const CONNECT_TIMEOUT_STEP_MS: u128 = 100;
/// Distinct connect timeouts with a client of their own; beyond, the
/// configured default's client serves.
const MAX_CLIENTS: usize = 64;

/// What the receiver answered. A broker kind answers on the same scale:
/// 200 when the broker confirmed the message, else the broker's reply
/// code (AMQP's `312 NO_ROUTE`, `404 NOT_FOUND`; NATS's `503` when no
/// stream captures the subject) with its reason as the snippet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    /// The first KiB of the body, cut at a character boundary.
    pub snippet: String,
    /// The receiver's `Retry-After`, when it sent a valid one.
    pub retry_after: Option<Duration>,
}

/// Why no response arrived.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The connection's settings cannot make a request.
    #[error("invalid connection settings: {0}")]
    Invalid(String),
    /// The mapped body cannot become this destination's request (no retry
    /// can fix the event; the rule's mapping must change).
    #[error("the body cannot be sent: {0}")]
    Unsendable(String),
    /// The destination address is not allowed.
    #[error("destination refused: {0}")]
    Refused(String),
    #[error("timed out after {0:?}")]
    TimedOut(Duration),
    #[error("connect timed out after {0:?}")]
    ConnectTimedOut(Duration),
    #[error("connection refused: {0}")]
    ConnectionRefused(String),
    #[error("connection failed: {0}")]
    Connect(String),
    #[error("request failed: {0}")]
    Other(String),
}

pub type SendResult = Result<HttpResponse, SendError>;

impl From<switchyard_delivery_model::connection::shape::ShapeError> for SendError {
    fn from(error: switchyard_delivery_model::connection::shape::ShapeError) -> Self {
        use switchyard_delivery_model::connection::shape::ShapeError;
        match error {
            ShapeError::Unsendable(reason) => Self::Unsendable(reason),
            ShapeError::Invalid(reason) => Self::Invalid(reason),
        }
    }
}

/// Reads how long the destination asked us to wait from its headers.
pub type RetryAfterReader = fn(&reqwest::header::HeaderMap) -> Option<Duration>;

/// One request, as a destination built it.
pub struct Outbound {
    pub method: reqwest::Method,
    pub url: String,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
    pub retry_after: RetryAfterReader,
}

/// The standard `Retry-After` header, as seconds or an HTTP date.
pub fn standard_retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok())
        .and_then(response::parse_retry_after)
}

/// The time limits of one attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub total: Duration,
}

/// The process-wide webhook sender; cheap to clone.
#[derive(Clone)]
pub struct Sender {
    policy: DestinationPolicy,
    default_connect: Duration,
    clients: Arc<Mutex<HashMap<Duration, reqwest::Client>>>,
}

impl Sender {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let policy = DestinationPolicy::from_config(config);
        let default_connect = round_connect(config.delivery.connect_timeout);
        let default_client = build_client(&policy, default_connect)?;
        Ok(Self {
            policy,
            default_connect,
            clients: Arc::new(Mutex::new(HashMap::from([(
                default_connect,
                default_client,
            )]))),
        })
    }

    /// Which addresses may be reached (broker kinds resolve through it).
    pub fn policy(&self) -> &DestinationPolicy {
        &self.policy
    }

    /// The pooled client for `connect` timeouts.
    fn client(&self, connect: Duration) -> Result<reqwest::Client, SendError> {
        let connect = round_connect(connect);
        let mut clients = self
            .clients
            .lock()
            .map_err(|_| SendError::Other("the HTTP client pool is poisoned".to_string()))?;
        if let Some(client) = clients.get(&connect) {
            return Ok(client.clone());
        }
        if clients.len() >= MAX_CLIENTS {
            return clients
                .get(&self.default_connect)
                .cloned()
                .ok_or_else(|| SendError::Other("no default HTTP client".to_string()));
        }
        let client = build_client(&self.policy, connect)
            .map_err(|error| SendError::Other(format!("{error:#}")))?;
        clients.insert(connect, client.clone());
        Ok(client)
    }

    /// Sends the request and reads the start of the answer.
    pub async fn send(&self, request: Outbound, timeouts: Timeouts) -> SendResult {
        let url = url::Url::parse(&request.url)
            .map_err(|error| SendError::Invalid(format!("url `{}`: {error}", request.url)))?;
        self.policy
            .check_literal(&url)
            .map_err(|reason| SendError::Refused(format!("{url} {reason}")))?;
        let client = self.client(timeouts.connect)?;
        let response = client
            .request(request.method, url)
            .headers(request.headers)
            .timeout(timeouts.total)
            .body(request.body)
            .send()
            .await
            .map_err(|error| response::describe(&error, timeouts))?;
        let status = response.status().as_u16();
        let retry_after = (request.retry_after)(response.headers());
        let body = response::read_capped(response, MAX_RESPONSE_READ).await;
        Ok(HttpResponse {
            status,
            snippet: snippet(&body, SNIPPET_BYTES),
            retry_after,
        })
    }
}

fn round_connect(connect: Duration) -> Duration {
    let steps = connect.as_millis().div_ceil(CONNECT_TIMEOUT_STEP_MS).max(1);
    Duration::from_millis(u64::try_from(steps * CONNECT_TIMEOUT_STEP_MS).unwrap_or(u64::MAX))
}

fn build_client(policy: &DestinationPolicy, connect: Duration) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .connect_timeout(connect)
        .pool_idle_timeout(Duration::from_secs(90))
        .tcp_keepalive(Duration::from_secs(60))
        .tcp_nodelay(true)
        .dns_resolver(Arc::new(GuardedResolver::new(policy.clone())))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .context("building the HTTP client")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_timeouts_round_up_to_a_step() {
        assert_eq!(
            round_connect(Duration::from_millis(1)),
            Duration::from_millis(100)
        );
        assert_eq!(
            round_connect(Duration::from_millis(1001)),
            Duration::from_millis(1100)
        );
        assert_eq!(
            round_connect(Duration::from_secs(5)),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn one_client_per_connect_timeout() {
        let sender = Sender::new(&Config::default()).expect("sender");
        sender.client(Duration::from_secs(5)).expect("default");
        sender.client(Duration::from_millis(950)).expect("another");
        sender
            .client(Duration::from_secs(1))
            .expect("same as 950 ms");
        let count = sender.clients.lock().map(|c| c.len()).unwrap_or(0);
        assert_eq!(count, 2);
    }
}

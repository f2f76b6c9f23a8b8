//! Sending one webhook: the shared HTTP client and the signed request.
//!
//! One `reqwest` client serves the whole process (its connection pool keeps
//! receivers' connections alive). It resolves names through
//! [`GuardedResolver`], so a host resolving to a non-public address is
//! refused at connect time, and IP-literal URLs are checked against the same
//! [`DestinationPolicy`] before sending. Redirects are not followed: a 3xx is
//! the receiver's answer, not an invitation to post elsewhere. Proxies from
//! the environment are ignored, since a proxy would resolve names itself and
//! bypass the guard.
//!
//! Every request carries the Standard Webhooks headers: `webhook-id` (the
//! delivery id, stable across retries so receivers can de-duplicate),
//! `webhook-timestamp` and `webhook-signature`. A connection's static headers
//! are added but never replace those, nor the framing headers.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, RETRY_AFTER, USER_AGENT};
use switchyard_core::config::Config;
use switchyard_core::destination::{DestinationPolicy, GuardedResolver};
use switchyard_core::signature::{
    self, HEADER_WEBHOOK_ID, HEADER_WEBHOOK_SIGNATURE, HEADER_WEBHOOK_TIMESTAMP,
};

/// `user-agent` of every request.
pub const USER_AGENT_VALUE: &str = concat!("Switchyard/", env!("CARGO_PKG_VERSION"));
/// Response bytes read at most; the rest is left unread.
const MAX_RESPONSE_READ: usize = 64 * 1024;
/// Response bytes kept as the attempt's snippet.
const SNIPPET_BYTES: usize = 1024;
/// Headers a connection may not set: ours, and those that frame the request.
const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "user-agent",
    HEADER_WEBHOOK_ID,
    HEADER_WEBHOOK_TIMESTAMP,
    HEADER_WEBHOOK_SIGNATURE,
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
];

/// One webhook to send.
pub struct WebhookRequest<'a> {
    pub url: &'a str,
    pub headers: &'a BTreeMap<String, String>,
    pub signing_secret: &'a str,
    /// The delivery id, sent as `webhook-id`.
    pub webhook_id: &'a str,
    pub body: Vec<u8>,
}

/// What the receiver answered.
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

/// The process-wide webhook sender.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    policy: DestinationPolicy,
    connect_timeout: Duration,
    request_timeout: Duration,
}

impl Sender {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let policy = DestinationPolicy::new(config.allowed_destination_networks.clone());
        let delivery = &config.delivery;
        let client = reqwest::Client::builder()
            .connect_timeout(delivery.connect_timeout)
            .timeout(delivery.request_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_keepalive(Duration::from_secs(60))
            .dns_resolver(Arc::new(GuardedResolver::new(policy.clone())))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            client,
            policy,
            connect_timeout: delivery.connect_timeout,
            request_timeout: delivery.request_timeout,
        })
    }

    /// Posts the webhook and reads the start of the answer.
    pub async fn send(&self, request: WebhookRequest<'_>) -> SendResult {
        let url = url::Url::parse(request.url)
            .map_err(|error| SendError::Invalid(format!("url `{}`: {error}", request.url)))?;
        self.policy
            .check_literal(&url)
            .map_err(|reason| SendError::Refused(format!("{url} {reason}")))?;
        let headers = signed_headers(&request)?;
        let response = self
            .client
            .post(url)
            .headers(headers)
            .body(request.body)
            .send()
            .await
            .map_err(|error| self.describe(&error))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(parse_retry_after);
        let body = read_capped(response, MAX_RESPONSE_READ).await;
        Ok(HttpResponse {
            status,
            snippet: snippet(&body, SNIPPET_BYTES),
            retry_after,
        })
    }

    fn describe(&self, error: &reqwest::Error) -> SendError {
        let detail = error_chain(error);
        if error.is_timeout() {
            return if error.is_connect() {
                SendError::ConnectTimedOut(self.connect_timeout)
            } else {
                SendError::TimedOut(self.request_timeout)
            };
        }
        if error.is_connect() {
            if has_io_kind(error, std::io::ErrorKind::ConnectionRefused) {
                return SendError::ConnectionRefused(detail);
            }
            return SendError::Connect(detail);
        }
        SendError::Other(detail)
    }
}

fn signed_headers(request: &WebhookRequest<'_>) -> Result<HeaderMap, SendError> {
    let mut headers = HeaderMap::new();
    for (name, value) in request.headers {
        let lower = name.to_ascii_lowercase();
        if RESERVED_HEADERS.contains(&lower.as_str()) {
            continue;
        }
        let name = HeaderName::from_bytes(lower.as_bytes())
            .map_err(|_| SendError::Invalid(format!("header name `{name}` is not valid")))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| SendError::Invalid(format!("header `{name}` has an invalid value")))?;
        headers.append(name, value);
    }
    let timestamp = chrono::Utc::now().timestamp();
    let signature = signature::sign(
        request.signing_secret,
        request.webhook_id,
        timestamp,
        &request.body,
    )
    .map_err(|error| SendError::Invalid(format!("{error:#}")))?;
    let ours = [
        (CONTENT_TYPE.as_str(), "application/json".to_string()),
        (USER_AGENT.as_str(), USER_AGENT_VALUE.to_string()),
        (HEADER_WEBHOOK_ID, request.webhook_id.to_string()),
        (HEADER_WEBHOOK_TIMESTAMP, timestamp.to_string()),
        (HEADER_WEBHOOK_SIGNATURE, signature),
    ];
    for (name, value) in ours {
        let value = HeaderValue::from_str(&value)
            .map_err(|_| SendError::Invalid(format!("header `{name}` has an invalid value")))?;
        headers.insert(HeaderName::from_static(name), value);
    }
    Ok(headers)
}

/// Reads at most `limit` bytes of the body. A failure part way keeps what
/// arrived: the status already says how the receiver answered.
async fn read_capped(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while body.len() < limit {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                let room = limit - body.len();
                body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            }
            Ok(None) | Err(_) => break,
        }
    }
    body
}

/// The first `limit` bytes as text: cut before a partial character, lossy
/// if the body is not UTF-8, and without NUL, which Postgres text refuses.
pub fn snippet(body: &[u8], limit: usize) -> String {
    let head = &body[..body.len().min(limit)];
    let text = match std::str::from_utf8(head) {
        Ok(text) => text.to_string(),
        Err(error) if error.error_len().is_none() => {
            String::from_utf8_lossy(&head[..error.valid_up_to()]).into_owned()
        }
        Err(_) => String::from_utf8_lossy(head).into_owned(),
    };
    text.replace('\0', "\u{fffd}")
}

/// `Retry-After` as seconds or as an HTTP date.
fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The causes below reqwest's own "error sending request" line, which
/// would only repeat the URL.
fn error_chain(error: &reqwest::Error) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if parts.last() != Some(&text) {
            parts.push(text);
        }
        source = cause.source();
    }
    if parts.is_empty() {
        return error.to_string();
    }
    parts.join(": ")
}

fn has_io_kind(error: &reqwest::Error, kind: std::io::ErrorKind) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == kind)
        {
            return true;
        }
        source = cause.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_cut_at_character_boundaries() {
        assert_eq!(snippet(b"hello", 1024), "hello");
        assert_eq!(snippet("héllo".as_bytes(), 2), "h");
        assert_eq!(snippet("héllo".as_bytes(), 3), "hé");
        assert_eq!(snippet(&[b'a'; 2000], 1024).len(), 1024);
        assert_eq!(snippet(b"a\0b", 1024), "a\u{fffd}b");
        assert_eq!(snippet(&[0xff, b'a'], 1024), "\u{fffd}a");
    }

    #[test]
    fn parses_retry_after() {
        assert_eq!(parse_retry_after(" 30 "), Some(Duration::from_secs(30)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn static_headers_never_replace_ours() {
        let mut extra = BTreeMap::new();
        extra.insert("Webhook-Id".to_string(), "forged".to_string());
        extra.insert("Content-Type".to_string(), "text/plain".to_string());
        extra.insert("X-Api-Key".to_string(), "k1".to_string());
        let request = WebhookRequest {
            url: "http://127.0.0.1/",
            headers: &extra,
            signing_secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            webhook_id: "dlv_1",
            body: b"{}".to_vec(),
        };
        let headers = signed_headers(&request).expect("headers");
        assert_eq!(
            headers.get("webhook-id").map(|v| v.as_bytes()),
            Some(&b"dlv_1"[..])
        );
        assert_eq!(headers.get_all("webhook-id").iter().count(), 1);
        assert_eq!(
            headers.get("content-type").map(|v| v.as_bytes()),
            Some(&b"application/json"[..])
        );
        assert_eq!(
            headers.get("x-api-key").map(|v| v.as_bytes()),
            Some(&b"k1"[..])
        );
        assert!(headers.contains_key("webhook-signature"));
    }

    #[test]
    fn invalid_secrets_and_headers_are_invalid_settings() {
        let none = BTreeMap::new();
        let bad_secret = WebhookRequest {
            url: "http://127.0.0.1/",
            headers: &none,
            signing_secret: "not a secret",
            webhook_id: "dlv_1",
            body: Vec::new(),
        };
        assert!(matches!(
            signed_headers(&bad_secret),
            Err(SendError::Invalid(_))
        ));
        let mut bad = BTreeMap::new();
        bad.insert("bad header".to_string(), "x".to_string());
        let bad_header = WebhookRequest {
            headers: &bad,
            signing_secret: "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            ..bad_secret
        };
        assert!(matches!(
            signed_headers(&bad_header),
            Err(SendError::Invalid(_))
        ));
    }
}

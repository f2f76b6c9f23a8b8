//! The signed request: the Standard Webhooks headers on every attempt —
//! `webhook-id` (the delivery id, stable across retries so receivers can
//! de-duplicate), `webhook-timestamp` and `webhook-signature`. A
//! connection's static headers are added but never replace those, nor the
//! framing headers. Unless the connection opts out, the request also
//! carries the current (attempt) span's W3C `traceparent`/`tracestate`, so
//! the receiver can continue the event's trace.

use std::collections::BTreeMap;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use switchyard_core::signature::{
    self, HEADER_WEBHOOK_ID, HEADER_WEBHOOK_SIGNATURE, HEADER_WEBHOOK_TIMESTAMP,
};
use switchyard_core::telemetry::propagation;

use super::SendError;

/// `user-agent` of every request.
pub const USER_AGENT_VALUE: &str = concat!("Switchyard/", env!("CARGO_PKG_VERSION"));
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
    "traceparent",
    "tracestate",
];

/// One webhook to send.
pub struct WebhookRequest<'a> {
    pub url: &'a str,
    pub headers: &'a BTreeMap<String, String>,
    pub signing_secret: &'a str,
    /// The delivery id, sent as `webhook-id`.
    pub webhook_id: &'a str,
    pub body: Vec<u8>,
    /// Add the current span's `traceparent` (when tracing is on).
    pub traceparent: bool,
}

pub fn signed_headers(request: &WebhookRequest<'_>) -> Result<HeaderMap, SendError> {
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
    if request.traceparent {
        propagation::inject_current(&mut headers);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

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
            traceparent: true,
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
            traceparent: false,
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

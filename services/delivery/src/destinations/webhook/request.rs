//! The signed request: the Standard Webhooks headers on every attempt —
//! `webhook-id` (the delivery id, stable across retries so receivers can
//! de-duplicate), `webhook-timestamp` and `webhook-signature` (one
//! signature per signing secret, space separated, while a rotated secret's
//! grace period lasts). A connection's static headers are added but never
//! replace those, nor the framing headers; credential headers are marked
//! sensitive, so the HTTP stack never prints them. Unless the connection
//! opts out, the request also carries the current (attempt) span's W3C
//! `traceparent`/`tracestate`, so the receiver can continue the event's
//! trace.

use std::collections::BTreeMap;

use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use secrecy::{ExposeSecret, SecretString};
use switchyard_core::telemetry::propagation;
use switchyard_delivery_model::connection::RESERVED_HEADERS;
use switchyard_delivery_model::signature::{
    self, HEADER_WEBHOOK_ID, HEADER_WEBHOOK_SIGNATURE, HEADER_WEBHOOK_TIMESTAMP,
};

use crate::engine::http::{SendError, USER_AGENT_VALUE};

/// One webhook to send.
pub struct WebhookRequest<'a> {
    pub url: &'a str,
    pub headers: &'a BTreeMap<String, String>,
    /// Static headers whose values are credentials.
    pub credential_headers: &'a BTreeMap<String, SecretString>,
    /// The current secret first, then the one it replaced during its grace
    /// period.
    pub signing_secrets: &'a [SecretString],
    /// The delivery id, sent as `webhook-id`.
    pub webhook_id: &'a str,
    pub body: Vec<u8>,
    /// Add the current span's `traceparent` (when tracing is on).
    pub traceparent: bool,
}

pub fn signed_headers(request: &WebhookRequest<'_>) -> Result<HeaderMap, SendError> {
    let mut headers = HeaderMap::new();
    let plain = request
        .headers
        .iter()
        .map(|(name, value)| (name, value.as_str(), false));
    let credentials = request
        .credential_headers
        .iter()
        .map(|(name, value)| (name, value.expose_secret(), true));
    for (name, value, sensitive) in plain.chain(credentials) {
        let lower = name.to_ascii_lowercase();
        if RESERVED_HEADERS.contains(&lower.as_str()) {
            continue;
        }
        let name = HeaderName::from_bytes(lower.as_bytes())
            .map_err(|_| SendError::Invalid(format!("header name `{name}` is not valid")))?;
        let mut value = HeaderValue::from_str(value)
            .map_err(|_| SendError::Invalid(format!("header `{name}` has an invalid value")))?;
        value.set_sensitive(sensitive);
        headers.append(name, value);
    }
    let timestamp = chrono::Utc::now().timestamp();
    let secrets: Vec<&str> = request
        .signing_secrets
        .iter()
        .map(|secret| secret.expose_secret())
        .collect();
    let signature = signature::sign_all(&secrets, request.webhook_id, timestamp, &request.body)
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

    const TEST_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

    fn secret(value: &str) -> SecretString {
        SecretString::from(value.to_string())
    }

    #[test]
    fn static_headers_never_replace_ours() {
        let mut extra = BTreeMap::new();
        extra.insert("Webhook-Id".to_string(), "forged".to_string());
        extra.insert("Content-Type".to_string(), "text/plain".to_string());
        let mut credentials = BTreeMap::new();
        credentials.insert("X-Api-Key".to_string(), secret("planted-api-key"));
        let secrets = [secret(TEST_SECRET)];
        let request = WebhookRequest {
            url: "http://127.0.0.1/",
            headers: &extra,
            credential_headers: &credentials,
            signing_secrets: &secrets,
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
            Some(&b"planted-api-key"[..])
        );
        assert!(headers.get("x-api-key").is_some_and(|v| v.is_sensitive()));
        // (A value short enough to occur in the signature's base64 would
        // make this flaky.)
        assert!(!format!("{headers:?}").contains("planted-api-key"));
        assert!(headers.contains_key("webhook-signature"));
    }

    #[test]
    fn every_signing_secret_signs_current_first() {
        let none = BTreeMap::new();
        let (new, old) = (
            switchyard_delivery_model::signature::generate_secret(),
            switchyard_delivery_model::signature::generate_secret(),
        );
        let secrets = [secret(&new), secret(&old)];
        let request = WebhookRequest {
            url: "http://127.0.0.1/",
            headers: &none,
            credential_headers: &BTreeMap::new(),
            signing_secrets: &secrets,
            webhook_id: "dlv_1",
            body: b"{}".to_vec(),
            traceparent: false,
        };
        let headers = signed_headers(&request).expect("headers");
        let timestamp: i64 = headers
            .get(HEADER_WEBHOOK_TIMESTAMP)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("timestamp");
        let expected = format!(
            "{} {}",
            signature::sign(&new, "dlv_1", timestamp, b"{}").expect("sign"),
            signature::sign(&old, "dlv_1", timestamp, b"{}").expect("sign")
        );
        assert_eq!(
            headers.get(HEADER_WEBHOOK_SIGNATURE).map(|v| v.as_bytes()),
            Some(expected.as_bytes())
        );
    }

    #[test]
    fn invalid_secrets_and_headers_are_invalid_settings() {
        let none = BTreeMap::new();
        let no_credentials = BTreeMap::new();
        let not_secrets = [secret("not a secret")];
        let good_secrets = [secret(TEST_SECRET)];
        let bad_secret = WebhookRequest {
            url: "http://127.0.0.1/",
            headers: &none,
            credential_headers: &no_credentials,
            signing_secrets: &not_secrets,
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
            signing_secrets: &good_secrets,
            ..bad_secret
        };
        assert!(matches!(
            signed_headers(&bad_header),
            Err(SendError::Invalid(_))
        ));
    }
}

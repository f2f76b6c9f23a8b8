//! Standard Webhooks signatures (https://www.standardwebhooks.com): the
//! `whsec_` signing secrets we issue and the `v1,<base64 HMAC-SHA256>` of
//! `"{webhook-id}.{webhook-timestamp}.{body}"`. The HMAC itself comes from the
//! `standardwebhooks` crate, the reference implementation of the spec.

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

pub use standardwebhooks::{HEADER_WEBHOOK_ID, HEADER_WEBHOOK_SIGNATURE, HEADER_WEBHOOK_TIMESTAMP};

const SECRET_PREFIX: &str = "whsec_";
/// 192 bits of key, as Svix issues.
const SECRET_BYTES: usize = 24;

/// A new random `whsec_…` secret.
pub fn generate_secret() -> String {
    let mut key = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut key);
    format!("{SECRET_PREFIX}{}", STANDARD.encode(key))
}

/// The `webhook-signature` header value for one request.
pub fn sign(secret: &str, webhook_id: &str, timestamp: i64, body: &[u8]) -> anyhow::Result<String> {
    let webhook = standardwebhooks::Webhook::new(secret).context("invalid signing secret")?;
    webhook
        .sign(webhook_id, timestamp, body)
        .context("signing the webhook")
}

/// The `webhook-signature` header value signed with every secret, space
/// separated in the order given (`v1,<new> v1,<old>` during a rotation's
/// grace period): Standard Webhooks receivers accept the request when any
/// one of them verifies.
pub fn sign_all<S: AsRef<str>>(
    secrets: &[S],
    webhook_id: &str,
    timestamp: i64,
    body: &[u8],
) -> anyhow::Result<String> {
    anyhow::ensure!(!secrets.is_empty(), "no signing secret");
    let signatures = secrets
        .iter()
        .map(|secret| sign(secret.as_ref(), webhook_id, timestamp, body))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(signatures.join(" "))
}

/// Checks a received request's headers and body against `secret`, including
/// the five-minute timestamp tolerance.
pub fn verify(secret: &str, headers: &http::HeaderMap, body: &[u8]) -> Result<(), String> {
    let webhook = standardwebhooks::Webhook::new(secret).map_err(|e| e.to_string())?;
    // `standardwebhooks` computes `now - timestamp` unchecked: a timestamp
    // near i64::MIN overflows, a panic with overflow checks and a "fresh"
    // timestamp without. Such a timestamp is too old; say so before it looks.
    let timestamp = headers
        .get(HEADER_WEBHOOK_TIMESTAMP)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<i64>().ok());
    if let Some(timestamp) = timestamp
        && chrono::Utc::now()
            .timestamp()
            .checked_sub(timestamp)
            .is_none()
    {
        return Err("signature timestamp too old".to_string());
    }
    webhook.verify(body, headers).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test vector published with the Standard Webhooks specification.
    #[test]
    fn matches_the_standard_webhooks_test_vector() {
        let signature = sign(
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1_649_367_553,
            br#"{"email":"test@example.com","username":"test_user"}"#,
        )
        .expect("signs");
        assert_eq!(signature, "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=");
    }

    #[test]
    fn several_secrets_sign_space_separated_and_each_verifies() {
        let (new, old) = (generate_secret(), generate_secret());
        let body = br#"{"a":1}"#;
        let now = chrono::Utc::now().timestamp();
        let both = sign_all(&[&new, &old], "dlv_1", now, body).expect("signs");
        let parts: Vec<&str> = both.split(' ').collect();
        assert_eq!(parts.len(), 2);
        assert_eq!(
            Some(parts[0].to_string()),
            sign(&new, "dlv_1", now, body).ok()
        );
        assert_eq!(
            Some(parts[1].to_string()),
            sign(&old, "dlv_1", now, body).ok()
        );
        let mut headers = http::HeaderMap::new();
        headers.insert(HEADER_WEBHOOK_ID, "dlv_1".parse().expect("header"));
        headers.insert(
            HEADER_WEBHOOK_TIMESTAMP,
            now.to_string().parse().expect("header"),
        );
        headers.insert(HEADER_WEBHOOK_SIGNATURE, both.parse().expect("header"));
        assert_eq!(verify(&new, &headers, body), Ok(()));
        assert_eq!(verify(&old, &headers, body), Ok(()));
        assert!(verify(&generate_secret(), &headers, body).is_err());
        assert!(sign_all::<&str>(&[], "dlv_1", now, body).is_err());
    }

    /// Found by the `signature_verify` fuzz target: this timestamp made
    /// `standardwebhooks` overflow computing its age.
    #[test]
    fn refuses_timestamps_too_old_to_subtract() {
        let secret = generate_secret();
        let mut headers = http::HeaderMap::new();
        headers.insert(HEADER_WEBHOOK_ID, "dlv_1".parse().expect("header"));
        headers.insert(
            HEADER_WEBHOOK_TIMESTAMP,
            i64::MIN.to_string().parse().expect("header"),
        );
        let signature = sign(&secret, "dlv_1", i64::MIN, b"{}").expect("signs");
        headers.insert(HEADER_WEBHOOK_SIGNATURE, signature.parse().expect("header"));
        assert_eq!(
            verify(&secret, &headers, b"{}"),
            Err("signature timestamp too old".to_string())
        );
    }

    #[test]
    fn generated_secrets_sign_and_verify() {
        let secret = generate_secret();
        assert!(secret.starts_with("whsec_"));
        assert_eq!(
            STANDARD.decode(&secret[6..]).map(|k| k.len()),
            Ok(SECRET_BYTES)
        );

        let body = br#"{"a":1}"#;
        let now = chrono::Utc::now().timestamp();
        let mut headers = http::HeaderMap::new();
        headers.insert(HEADER_WEBHOOK_ID, "dlv_1".parse().expect("header"));
        headers.insert(
            HEADER_WEBHOOK_TIMESTAMP,
            now.to_string().parse().expect("header"),
        );
        let signature = sign(&secret, "dlv_1", now, body).expect("signs");
        headers.insert(HEADER_WEBHOOK_SIGNATURE, signature.parse().expect("header"));
        assert_eq!(verify(&secret, &headers, body), Ok(()));
        assert!(verify(&generate_secret(), &headers, body).is_err());
        assert!(verify(&secret, &headers, br#"{"a":2}"#).is_err());
    }
}

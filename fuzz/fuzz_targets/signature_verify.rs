//! Standard Webhooks signatures: arbitrary secrets, ids, timestamps,
//! signature headers, extra headers and bodies through
//! `switchyard_delivery_model::signature::verify`, the check the `switchyard` receiver
//! runs on every request it gets (`receiver.rs`), with headers signed by
//! `signature::sign` as delivery signs them.
//!
//! The verdict must be exactly what the spec says: accepted if and only if
//! the secret decodes, the body is UTF-8, the id and timestamp headers are
//! readable, the timestamp is within five minutes of now, and one `v1,`
//! entry of the signature header is the signature `sign` computes. So an
//! untouched round trip (`sign` or, as during a secret rotation, `sign_all`,
//! then verify) always succeeds, and a body changed after signing never does.

#![no_main]

use arbitrary::Arbitrary;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use switchyard_core::ids::DeliveryId;
use switchyard_delivery_model::signature::{
    self, HEADER_WEBHOOK_ID, HEADER_WEBHOOK_SIGNATURE, HEADER_WEBHOOK_TIMESTAMP,
};
use uuid::Uuid;

/// The spec's tolerance, in seconds.
const TOLERANCE: i128 = 5 * 60;

#[derive(Arbitrary, Debug)]
enum Secret<'a> {
    /// `whsec_` and the base64 of a key, as `generate_secret` issues them.
    Issued(&'a [u8]),
    /// Whatever a receiver was configured with.
    Raw(&'a str),
}

#[derive(Arbitrary, Debug)]
enum Id<'a> {
    /// A delivery id, the `webhook-id` delivery sends.
    Delivery([u8; 16]),
    Text(&'a str),
}

#[derive(Arbitrary, Debug)]
enum Timestamp<'a> {
    /// Seconds from now.
    Skew(i16),
    Raw(&'a str),
}

#[derive(Arbitrary, Debug)]
enum Signature<'a> {
    /// Our signature, among other space-separated entries.
    Ours {
        before: Vec<&'a str>,
        after: Vec<&'a str>,
    },
    /// `sign_all` with our secret and other issued ones, as delivery signs
    /// during a secret rotation's grace period.
    Rotation(Vec<&'a [u8]>),
    Raw(&'a [u8]),
}

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    secret: Secret<'a>,
    id: Id<'a>,
    timestamp: Timestamp<'a>,
    signature: Signature<'a>,
    /// Headers a connection configured; delivery's own replace them.
    extra_headers: Vec<(&'a [u8], &'a [u8])>,
    body: &'a [u8],
}

fn secret_text(secret: &Secret<'_>) -> String {
    match secret {
        Secret::Issued(key) => format!("whsec_{}", STANDARD.encode(key)),
        Secret::Raw(text) => (*text).to_string(),
    }
}

fn id_text(id: &Id<'_>) -> String {
    match id {
        Id::Delivery(bytes) => DeliveryId(Uuid::from_bytes(*bytes)).to_string(),
        Id::Text(text) => (*text).to_string(),
    }
}

fuzz_target!(|input: Input<'_>| {
    let secret = secret_text(&input.secret);
    let id = id_text(&input.id);
    let now = chrono::Utc::now().timestamp();
    let signed_at = match input.timestamp {
        Timestamp::Skew(skew) => now + i64::from(skew),
        // Sign with a valid time; the header gets the raw text.
        Timestamp::Raw(_) => now,
    };

    let signed = signature::sign(&secret, &id, signed_at, input.body);
    let key_decodes = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap_or(&secret))
        .is_ok();
    let body_is_text = std::str::from_utf8(input.body).is_ok();
    assert_eq!(
        signed.is_ok(),
        key_decodes && body_is_text,
        "sign: {signed:?}"
    );
    if matches!(input.secret, Secret::Issued(_)) {
        assert!(key_decodes, "an issued secret does not decode");
    }

    let mut headers = HeaderMap::new();
    for (name, value) in &input.extra_headers {
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }
    // Delivery refuses to send what cannot be a header value.
    let Ok(id_value) = HeaderValue::from_str(&id) else {
        return;
    };
    headers.insert(HEADER_WEBHOOK_ID, id_value);
    let timestamp_text = match input.timestamp {
        Timestamp::Skew(_) => signed_at.to_string(),
        Timestamp::Raw(text) => text.to_string(),
    };
    let Ok(timestamp_value) = HeaderValue::from_str(&timestamp_text) else {
        return;
    };
    headers.insert(HEADER_WEBHOOK_TIMESTAMP, timestamp_value);
    let signature_value = match &input.signature {
        Signature::Ours { before, after } => {
            let ours = signed.as_deref().unwrap_or("v1,");
            let entries: Vec<&str> = before
                .iter()
                .copied()
                .chain([ours])
                .chain(after.iter().copied())
                .collect();
            HeaderValue::from_str(&entries.join(" "))
        }
        Signature::Rotation(keys) => {
            let mut secrets = vec![secret.clone()];
            secrets.extend(
                keys.iter()
                    .map(|key| format!("whsec_{}", STANDARD.encode(key))),
            );
            match signature::sign_all(&secrets, &id, signed_at, input.body) {
                Ok(all) => {
                    assert!(signed.is_ok(), "sign_all signed what sign refused");
                    HeaderValue::from_str(&all)
                }
                Err(_) => {
                    assert!(signed.is_err(), "sign_all refused what sign signed");
                    return;
                }
            }
        }
        Signature::Raw(bytes) => HeaderValue::from_bytes(bytes),
    };
    let Ok(signature_value) = signature_value else {
        return;
    };
    headers.insert(HEADER_WEBHOOK_SIGNATURE, signature_value);

    let verdict = signature::verify(&secret, &headers, input.body);

    // What the spec says the verdict is, worked out independently.
    let Some(timestamp) = timestamp_text.parse::<i64>().ok() else {
        assert!(verdict.is_err(), "accepted an unreadable timestamp");
        return;
    };
    let age = i128::from(now) - i128::from(timestamp);
    if (TOLERANCE - 2..=TOLERANCE + 2).contains(&age.abs()) {
        // The clock may tick between our `now` and verify's.
        return;
    }
    let fresh = age.abs() <= TOLERANCE;
    let expected = match &signed {
        Ok(ours) if timestamp == signed_at => Some(ours.clone()),
        _ => signature::sign(&secret, &id, timestamp, input.body).ok(),
    };
    let id_readable = headers
        .get(HEADER_WEBHOOK_ID)
        .is_some_and(|value| value.to_str().is_ok());
    let signature_matches = match (&expected, headers.get(HEADER_WEBHOOK_SIGNATURE)) {
        (Some(expected), Some(value)) => value
            .to_str()
            .is_ok_and(|text| text.split(' ').any(|entry| entry == expected)),
        _ => false,
    };
    let accept = key_decodes && body_is_text && id_readable && fresh && signature_matches;
    assert_eq!(
        verdict.is_ok(),
        accept,
        "verify said {verdict:?}; key {key_decodes}, utf-8 {body_is_text}, id {id_readable}, \
         fresh {fresh} (age {age}), signature {signature_matches}"
    );

    let round_trip = matches!(input.secret, Secret::Issued(_))
        && matches!(input.id, Id::Delivery(_))
        && matches!(
            input.signature,
            Signature::Ours { .. } | Signature::Rotation(_)
        )
        // Other entries beside ours (rotated keys) are visible ASCII.
        && headers
            .get(HEADER_WEBHOOK_SIGNATURE)
            .is_some_and(|value| value.to_str().is_ok())
        && body_is_text
        && fresh;
    if round_trip {
        assert!(
            verdict.is_ok(),
            "an untouched round trip failed: {verdict:?}"
        );
    }

    if verdict.is_ok() {
        let mut tampered = input.body.to_vec();
        tampered.push(b' ');
        assert!(
            signature::verify(&secret, &headers, &tampered).is_err(),
            "a changed body still verifies"
        );
    }
});

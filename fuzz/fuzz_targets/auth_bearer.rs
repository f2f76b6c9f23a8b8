//! The `authorization: Bearer <token>` parser every authenticated RPC runs
//! first: `switchyard_tenancy::auth::bearer_token` on arbitrary metadata, and
//! its siblings for raw HTTP headers (`header::bearer_from_headers`) and
//! plain text (`parse_bearer`).
//!
//! The input's lines are `authorization` header values, as a client (or
//! anything between it and us) may send them, several times over; tonic hands
//! the service the first. Asserted:
//! - an accepted token is non-empty, has no whitespace (at the ends or
//!   inside), and is what follows `Bearer ` (any case) in the value, trimmed;
//! - the gRPC, HTTP and text parsers agree, and a map built from several raw
//!   headers parses as its first value alone;
//! - `bearer_metadata` (how services call each other) encodes exactly the
//!   tokens that parse back as sent, accepted ones included.

#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use switchyard_tenancy::auth::header::bearer_from_headers;
use switchyard_tenancy::auth::{bearer_metadata, bearer_token, parse_bearer};
use tonic::metadata::{AsciiMetadataValue, MetadataMap};

fn single(value: AsciiMetadataValue) -> MetadataMap {
    let mut map = MetadataMap::new();
    map.insert("authorization", value);
    map
}

fn check_accepted(raw: &[u8], token: &str) {
    assert!(!token.is_empty(), "an empty token was accepted");
    assert_eq!(token, token.trim(), "an untrimmed token was accepted");
    assert!(
        !token.starts_with(char::is_whitespace) && !token.ends_with(char::is_whitespace),
        "token {token:?} has whitespace at an end"
    );
    assert!(
        !token.chars().any(char::is_whitespace),
        "token {token:?} has whitespace inside"
    );
    let value = std::str::from_utf8(raw).expect("accepted values are ASCII");
    let trimmed = value.trim();
    let scheme = trimmed.get(..6).unwrap_or_default();
    assert!(
        scheme.eq_ignore_ascii_case("bearer") && trimmed.as_bytes().get(6) == Some(&b' '),
        "{value:?} was accepted without a `Bearer ` scheme"
    );
    assert_eq!(trimmed[7..].trim(), token);
    assert_eq!(parse_bearer(value).ok(), Some(token));

    let metadata = bearer_metadata(token).expect("an accepted token can be sent on");
    assert_eq!(bearer_token(&single(metadata)).ok(), Some(token));
}

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|&byte| byte == b'\n');
    let first = lines.next().unwrap_or_default();

    let alone = AsciiMetadataValue::try_from(first).ok().map(single);
    let alone_token = alone.as_ref().and_then(|map| bearer_token(map).ok());
    if let Some(token) = alone_token {
        check_accepted(first, token);
    }

    // The same value first among others, through tonic's conversion from
    // received HTTP headers.
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(first) {
        headers.append("authorization", value);
        for line in lines {
            if let Ok(value) = HeaderValue::from_bytes(line) {
                headers.append("authorization", value);
            }
        }
        let from_http = bearer_from_headers(&headers).ok().map(str::to_string);
        let received = MetadataMap::from_headers(headers);
        assert_eq!(
            bearer_token(&received).ok(),
            alone_token,
            "the first of several values parses differently from itself alone"
        );
        assert_eq!(
            from_http.as_deref(),
            alone_token,
            "raw HTTP headers and gRPC metadata disagree"
        );
    }
    assert!(bearer_token(&MetadataMap::new()).is_err());

    // `bearer_metadata` (how services call each other) encodes exactly the
    // tokens the other side reads back as sent: non-empty visible ASCII
    // without whitespace.
    if let Ok(text) = std::str::from_utf8(data) {
        let sendable = !text.is_empty() && text.bytes().all(|byte| byte.is_ascii_graphic());
        match bearer_metadata(text) {
            Ok(metadata) => assert_eq!(
                bearer_token(&single(metadata)).ok(),
                Some(text),
                "bearer_metadata({text:?}) does not parse back"
            ),
            Err(_) => assert!(!sendable, "bearer_metadata refused {text:?}"),
        }
    }
});

//! The `authorization: Bearer <token>` header, both ways.

use tonic::metadata::{Ascii, MetadataMap, MetadataValue};

use switchyard_core::error::ApiError;

/// The token of an `authorization` header value (`Bearer <token>`, the
/// scheme in any case); trimmed, never empty, without inner whitespace.
pub fn parse_bearer(value: &str) -> Result<&str, ApiError> {
    let value = value.trim();
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(ApiError::Unauthenticated(
            "the authorization metadata must be `Bearer <api key or token>`".to_string(),
        ));
    }
    if token.chars().any(char::is_whitespace) {
        return Err(ApiError::Unauthenticated(
            "the bearer token must not contain whitespace".to_string(),
        ));
    }
    Ok(token)
}

/// The bearer token of raw HTTP headers.
pub fn bearer_from_headers(headers: &http::HeaderMap) -> Result<&str, ApiError> {
    let Some(value) = headers.get(http::header::AUTHORIZATION) else {
        return Err(ApiError::Unauthenticated(
            "missing `authorization: Bearer <api key or token>` metadata".to_string(),
        ));
    };
    let value = value.to_str().map_err(|_| {
        ApiError::Unauthenticated("the authorization metadata is not ASCII".to_string())
    })?;
    parse_bearer(value)
}

/// The bearer token of gRPC request metadata.
pub fn bearer_token(metadata: &MetadataMap) -> Result<&str, ApiError> {
    let Some(value) = metadata.get("authorization") else {
        return Err(ApiError::Unauthenticated(
            "missing `authorization: Bearer <api key or token>` metadata".to_string(),
        ));
    };
    let value = value.to_str().map_err(|_| {
        ApiError::Unauthenticated("the authorization metadata is not ASCII".to_string())
    })?;
    parse_bearer(value)
}

/// Metadata with `authorization: Bearer <token>`, for outgoing calls.
/// Refuses a token the receiving side would not read back as sent.
pub fn bearer_metadata(token: &str) -> Result<MetadataValue<Ascii>, ApiError> {
    let value = format!("Bearer {token}");
    // `parse` lets bytes above 0x7f through, which `bearer_token` refuses as
    // non-ASCII; whitespace would come back trimmed or be refused.
    if !value.is_ascii() || parse_bearer(&value).ok() != Some(token) {
        return Err(ApiError::invalid(
            "token",
            "contains characters not allowed in metadata",
        ));
    }
    value
        .parse()
        .map_err(|_| ApiError::invalid("token", "contains characters not allowed in metadata"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metadata(value: &str) -> MetadataMap {
        let mut map = MetadataMap::new();
        map.insert("authorization", value.parse().expect("ascii"));
        map
    }

    #[test]
    fn parses_bearer_tokens() {
        assert_eq!(
            bearer_token(&metadata("Bearer sy_live_abc")).ok(),
            Some("sy_live_abc")
        );
        assert_eq!(
            bearer_token(&metadata("bearer  sy_live_abc ")).ok(),
            Some("sy_live_abc")
        );
        assert!(bearer_token(&metadata("Basic abc")).is_err());
        assert!(bearer_token(&metadata("Bearer ")).is_err());
        assert!(bearer_token(&metadata("sy_live_abc")).is_err());
        assert!(bearer_token(&metadata("Bearer a b")).is_err());
        assert!(bearer_token(&MetadataMap::new()).is_err());
    }

    /// Found by the `auth_bearer` fuzz target: `bearer_metadata("é")`
    /// encoded a token `bearer_token` then refused as non-ASCII.
    #[test]
    fn encodes_only_tokens_that_parse_back() {
        let sent = bearer_metadata("sy_live_abc").expect("a plain key encodes");
        let mut map = MetadataMap::new();
        map.insert("authorization", sent);
        assert_eq!(bearer_token(&map).ok(), Some("sy_live_abc"));
        for token in [
            "tok\u{e9}n",
            "",
            " ",
            "a b",
            " padded",
            "tab\tinside",
            "line\nbreak",
        ] {
            assert!(bearer_metadata(token).is_err(), "{token:?} was encoded");
        }
    }

    #[test]
    fn reads_raw_headers_too() {
        let mut headers = http::HeaderMap::new();
        assert!(bearer_from_headers(&headers).is_err());
        headers.insert(
            http::header::AUTHORIZATION,
            http::HeaderValue::from_static("Bearer eyJ.a.b"),
        );
        assert_eq!(bearer_from_headers(&headers).ok(), Some("eyJ.a.b"));
    }
}

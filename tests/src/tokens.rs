//! Machine tokens for tests: the claims Switchyard requires, HS256 signing
//! with a registered secret, and requests carrying a bearer credential.

use jsonwebtoken::{Algorithm, EncodingKey, Header};

/// `message` with `authorization: Bearer <token>`.
pub fn authorized<T>(message: T, token: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {token}").parse().expect("ascii"),
    );
    request
}

/// Valid claims for five minutes: `sub`, `ws`, `scope`, `aud`, `iat`, `exp`.
pub fn claims(workspace: &str, scope: &str, sub: &str) -> serde_json::Value {
    let now = chrono::Utc::now().timestamp();
    serde_json::json!({
        "sub": sub, "ws": workspace, "scope": scope, "aud": "switchyard",
        "iat": now, "exp": now + 300,
    })
}

/// A token signed with the HS256 `secret` registered as `kid`.
pub fn hs256(kid: &str, secret: &[u8], claims: &serde_json::Value) -> anyhow::Result<String> {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_string());
    Ok(jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret)?,
    )?)
}

//! Verifying a machine token against the keys of the workspace it names
//! (see the module docs of [`super`] for the rules).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use jsonwebtoken::Validation;
use serde::Deserialize;

use super::VerificationKey;
use crate::auth::{Principal, Scopes};
use crate::secrets::Keyring;
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::WorkspaceId;

/// The only audience Switchyard accepts.
pub const AUDIENCE: &str = "switchyard";
/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECS: u64 = 30;

/// True when the bearer token looks like a JWT rather than an API key.
pub fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    ws: String,
    scope: String,
    iat: i64,
    exp: i64,
}

#[derive(Deserialize)]
struct WorkspaceClaim {
    ws: String,
}

/// The workspace a token claims, read before its signature is checked —
/// only to pick the keys to check it with.
pub fn claimed_workspace(token: &str) -> ApiResult<WorkspaceId> {
    let refused = || ApiError::Unauthenticated("the token is not a valid JWT".to_string());
    let payload = token.split('.').nth(1).ok_or_else(refused)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| refused())?;
    let claim: WorkspaceClaim = serde_json::from_slice(&bytes).map_err(|_| {
        ApiError::Unauthenticated("the token has no `ws` (workspace) claim".to_string())
    })?;
    WorkspaceId::parse(&claim.ws).map_err(|_| {
        ApiError::Unauthenticated("the token's `ws` claim is not a workspace id".to_string())
    })
}

/// Verifies `token` against `keys` (the claimed workspace's), opening HS256
/// secrets with `keyring`; the result and when it stops being valid.
pub fn verify(
    token: &str,
    workspace: WorkspaceId,
    keys: &[VerificationKey],
    keyring: Option<&Keyring>,
) -> ApiResult<(Principal, DateTime<Utc>)> {
    let refused = |reason: &str| ApiError::Unauthenticated(format!("token refused: {reason}"));
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| refused("the header is not valid or its `alg` is not supported"))?;
    let candidates: Vec<&VerificationKey> = keys
        .iter()
        .filter(|key| key.algorithm.jwt() == header.alg)
        .filter(|key| header.kid.as_deref().is_none_or(|kid| kid == key.kid))
        .collect();
    if candidates.is_empty() {
        return Err(refused(
            "no verification key of the workspace matches its `alg` and `kid`",
        ));
    }
    let mut validation = Validation::new(header.alg);
    validation.set_audience(&[AUDIENCE]);
    validation.set_required_spec_claims(&["exp", "iat", "sub", "aud"]);
    validation.validate_nbf = true;
    validation.leeway = LEEWAY_SECS;
    let mut last_error = String::from("bad signature");
    for key in candidates {
        let decoding = match key.decoding_key(keyring) {
            Ok(decoding) => decoding,
            Err(reason) => {
                last_error = reason;
                continue;
            }
        };
        match jsonwebtoken::decode::<Claims>(token, &decoding, &validation) {
            Ok(data) => return principal_of(data.claims, workspace),
            Err(error) => {
                use jsonwebtoken::errors::ErrorKind;
                last_error = match error.kind() {
                    ErrorKind::InvalidSignature => "bad signature".to_string(),
                    ErrorKind::ExpiredSignature => return Err(refused("it has expired")),
                    ErrorKind::ImmatureSignature => return Err(refused("it is not valid yet")),
                    ErrorKind::InvalidAudience => {
                        return Err(refused("its audience is not `switchyard`"));
                    }
                    ErrorKind::MissingRequiredClaim(claim) => {
                        return Err(refused(&format!("the `{claim}` claim is missing")));
                    }
                    other => format!("{other:?}"),
                };
            }
        }
    }
    Err(refused(&last_error))
}

fn principal_of(claims: Claims, workspace: WorkspaceId) -> ApiResult<(Principal, DateTime<Utc>)> {
    let refused = |reason: &str| ApiError::Unauthenticated(format!("token refused: {reason}"));
    if claims.ws != workspace.to_string() {
        return Err(refused("its `ws` claim changed"));
    }
    let now = Utc::now().timestamp();
    if claims.iat > now + i64::try_from(LEEWAY_SECS).unwrap_or(0) {
        return Err(refused("it was issued in the future"));
    }
    if claims.sub.trim().is_empty() {
        return Err(refused("its `sub` is empty"));
    }
    let scopes =
        Scopes::parse(claims.scope.split_whitespace()).map_err(|reason| refused(&reason))?;
    if scopes.is_empty() {
        return Err(refused("its `scope` is empty"));
    }
    let expires = DateTime::from_timestamp(claims.exp, 0)
        .ok_or_else(|| refused("the `exp` claim is out of range"))?;
    Ok((
        Principal {
            workspace,
            scopes,
            actor: format!("jwt:{}", claims.sub),
        },
        expires,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::jwt::KeyAlgorithm;
    use crate::auth::jwt::sealing;
    use crate::auth::jwt::store::Material;
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    use secrecy::SecretSlice;
    use switchyard_core::ids::VerificationKeyId;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn keyring() -> Keyring {
        Keyring::single("k1", &switchyard_core::config::generate_master_key()).expect("keyring")
    }

    /// An HS256 key of `workspace`, its secret sealed under `keyring`.
    fn key(keyring: &Keyring, workspace: WorkspaceId, kid: &str, secret: &[u8]) -> VerificationKey {
        let id = VerificationKeyId::generate();
        let sealed = sealing::seal(keyring, workspace, id, secret).expect("sealed");
        VerificationKey {
            id,
            workspace,
            kid: kid.to_string(),
            algorithm: KeyAlgorithm::Hs256,
            created_at: Utc::now(),
            created_by: String::new(),
            material: Material::Sealed(sealed),
        }
    }

    fn token(workspace: WorkspaceId, claims: serde_json::Value) -> String {
        let mut body = serde_json::json!({
            "sub": "billing-service",
            "ws": workspace.to_string(),
            "scope": "emit read",
            "aud": "switchyard",
            "iat": Utc::now().timestamp(),
            "exp": Utc::now().timestamp() + 300,
        });
        for (name, value) in claims.as_object().expect("object") {
            if value.is_null() {
                body.as_object_mut().expect("object").remove(name);
            } else {
                body[name] = value.clone();
            }
        }
        encode(
            &Header::new(Algorithm::HS256),
            &body,
            &EncodingKey::from_secret(SECRET).expect("key"),
        )
        .expect("encodes")
    }

    fn reason(result: ApiResult<(Principal, DateTime<Utc>)>) -> String {
        match result {
            Ok((principal, _)) => format!("accepted as {}", principal.actor),
            Err(error) => {
                assert_eq!(error.code(), tonic::Code::Unauthenticated, "{error}");
                error.to_string()
            }
        }
    }

    #[test]
    fn accepts_a_valid_token() {
        let (keyring, workspace) = (keyring(), WorkspaceId::generate());
        let jwt = token(workspace, serde_json::json!({}));
        assert!(looks_like_jwt(&jwt));
        assert_eq!(claimed_workspace(&jwt).ok(), Some(workspace));
        let keys = [key(&keyring, workspace, "k1", SECRET)];
        let (principal, expires) = verify(&jwt, workspace, &keys, Some(&keyring)).expect("valid");
        assert_eq!(principal.actor, "jwt:billing-service");
        assert_eq!(principal.scopes.to_string(), "emit read");
        assert!(expires > Utc::now());
    }

    #[test]
    fn refuses_bad_claims() {
        let (keyring, workspace) = (keyring(), WorkspaceId::generate());
        let keys = [key(&keyring, workspace, "k1", SECRET)];
        let now = Utc::now().timestamp();
        let cases = [
            (serde_json::json!({"exp": now - 120}), "expired"),
            (serde_json::json!({"nbf": now + 600}), "not valid yet"),
            (serde_json::json!({"aud": "other"}), "audience"),
            (serde_json::json!({"iat": now + 600}), "future"),
            (serde_json::json!({"scope": "root"}), "unknown scope"),
            (serde_json::json!({"exp": null}), "`exp`"),
        ];
        for (claims, expected) in cases {
            let jwt = token(workspace, claims.clone());
            let error = reason(verify(&jwt, workspace, &keys, Some(&keyring)));
            assert!(
                error.contains(expected),
                "{claims}: {error} should mention {expected}"
            );
        }
        let other = key(
            &keyring,
            workspace,
            "k1",
            b"another-secret-another-secret-0000",
        );
        let jwt = token(workspace, serde_json::json!({}));
        assert_eq!(
            reason(verify(&jwt, workspace, &[other], Some(&keyring))),
            "token refused: bad signature"
        );
    }

    #[test]
    fn refuses_alg_none() {
        let (keyring, workspace) = (keyring(), WorkspaceId::generate());
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(
            serde_json::json!({"sub":"x","ws":workspace.to_string(),"scope":"admin",
                "aud":"switchyard","iat":0,"exp":9_999_999_999_i64})
            .to_string(),
        );
        let jwt = format!("{header}.{payload}.");
        let keys = [key(&keyring, workspace, "k1", SECRET)];
        assert!(reason(verify(&jwt, workspace, &keys, Some(&keyring))).contains("not supported"));
    }

    #[test]
    fn hs256_secrets_open_only_with_the_keyring_and_for_their_own_key() {
        let (keyring, workspace) = (keyring(), WorkspaceId::generate());
        let jwt = token(workspace, serde_json::json!({}));
        let sealed = key(&keyring, workspace, "k1", SECRET);

        // Without a keyring, an HS256 token is refused with the reason.
        let refused = reason(verify(&jwt, workspace, std::slice::from_ref(&sealed), None));
        assert!(refused.contains("no master key is configured"), "{refused}");

        // A keyring without the master key it was sealed under.
        let stranger = Keyring::single("k9", &switchyard_core::config::generate_master_key())
            .expect("keyring");
        let refused = reason(verify(
            &jwt,
            workspace,
            std::slice::from_ref(&sealed),
            Some(&stranger),
        ));
        assert_eq!(refused, "token refused: the key's secret cannot be opened");

        // The ciphertext of one key copied onto another does not open.
        let mut moved = key(
            &keyring,
            workspace,
            "k1",
            b"another-secret-another-secret-0000",
        );
        moved.material = sealed.material.clone();
        let refused = reason(verify(&jwt, workspace, &[moved], Some(&keyring)));
        assert_eq!(refused, "token refused: the key's secret cannot be opened");

        // A secret left in plain text by an earlier version still verifies.
        let legacy = VerificationKey {
            material: Material::Plaintext(SecretSlice::from(SECRET.to_vec())),
            ..sealed
        };
        let accepted = reason(verify(&jwt, workspace, &[legacy], Some(&keyring)));
        assert_eq!(accepted, "accepted as jwt:billing-service");
    }
}

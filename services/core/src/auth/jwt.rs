//! Machine tokens: JWTs a workspace signs itself (as the brief's
//! `createMachineToken` does) with a key it registered — an Ed25519 or
//! RS256 public key, or an HS256 shared secret. Verified by the
//! `jsonwebtoken` crate.
//!
//! A token names its workspace in `ws`; only that workspace's keys are
//! tried (the header's `kid` picks one, and the key's algorithm must be the
//! header's `alg`, so an RSA public key can never be used as an HMAC
//! secret). Required claims: `sub`, `ws`, `scope` (space separated),
//! `exp`, `iat`, and `aud` = `switchyard`; `nbf` is honoured. Refused:
//! expired, not yet valid, issued in the future, wrong audience, signed by
//! another workspace's key, and `alg: none` (not an algorithm the crate
//! parses).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use deadpool_postgres::Pool;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::{Principal, Scopes};
use crate::audit;
use crate::error::{ApiError, ApiResult};
use crate::ids::{VerificationKeyId, WorkspaceId};

/// The only audience Switchyard accepts.
pub const AUDIENCE: &str = "switchyard";
/// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECS: u64 = 30;
/// Shortest HS256 secret accepted.
const MIN_HMAC_SECRET: usize = 32;

/// True when the bearer token looks like a JWT rather than an API key.
pub fn looks_like_jwt(token: &str) -> bool {
    token.bytes().filter(|b| *b == b'.').count() == 2
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAlgorithm {
    EdDsa,
    Rs256,
    Hs256,
}

impl KeyAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EdDsa => "EdDSA",
            Self::Rs256 => "RS256",
            Self::Hs256 => "HS256",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::EdDsa, Self::Rs256, Self::Hs256]
            .into_iter()
            .find(|alg| alg.as_str() == text)
    }

    fn jwt(self) -> Algorithm {
        match self {
            Self::EdDsa => Algorithm::EdDSA,
            Self::Rs256 => Algorithm::RS256,
            Self::Hs256 => Algorithm::HS256,
        }
    }

    fn decoding_key(self, material: &[u8]) -> Result<DecodingKey, String> {
        let key = match self {
            Self::EdDsa => DecodingKey::from_ed_pem(material),
            Self::Rs256 => DecodingKey::from_rsa_pem(material),
            Self::Hs256 if material.len() < MIN_HMAC_SECRET => {
                return Err(format!(
                    "an HS256 secret needs at least {MIN_HMAC_SECRET} bytes"
                ));
            }
            Self::Hs256 => DecodingKey::from_secret(material),
        };
        key.map_err(|error| format!("is not a valid {} key: {error}", self.as_str()))
    }
}

/// A registered key, as the verifier needs it.
#[derive(Clone)]
pub struct VerificationKey {
    pub id: VerificationKeyId,
    pub kid: String,
    pub algorithm: KeyAlgorithm,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    material: Vec<u8>,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey")
            .field("id", &self.id)
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
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

/// Verifies `token` against `keys` (the claimed workspace's); the result
/// and when it stops being valid.
pub fn verify(
    token: &str,
    workspace: WorkspaceId,
    keys: &[VerificationKey],
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
        let decoding = match key.algorithm.decoding_key(&key.material) {
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

/// The workspace's active keys.
pub async fn active_keys(pool: &Pool, workspace: WorkspaceId) -> ApiResult<Vec<VerificationKey>> {
    let client = pool.get().await?;
    let rows = client
        .query(
            "SELECT id, kid, algorithm, material, created_at, created_by FROM verification_keys \
             WHERE workspace_id = $1 AND removed_at IS NULL ORDER BY created_at",
            &[&workspace.as_uuid()],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let algorithm: String = row.get(2);
            Ok(VerificationKey {
                id: VerificationKeyId(row.get(0)),
                kid: row.get(1),
                algorithm: KeyAlgorithm::parse(&algorithm).ok_or_else(|| {
                    ApiError::Internal(anyhow::anyhow!("stored algorithm {algorithm}"))
                })?,
                material: row.get(3),
                created_at: row.get(4),
                created_by: row.get(5),
            })
        })
        .collect()
}

/// Registers a key after checking it parses for its algorithm.
pub async fn add_key(
    pool: &Pool,
    workspace: WorkspaceId,
    kid: &str,
    algorithm: KeyAlgorithm,
    material: &[u8],
    actor: &str,
) -> ApiResult<VerificationKey> {
    let kid_ok = (1..=64).contains(&kid.len())
        && kid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if !kid_ok {
        return Err(ApiError::invalid(
            "kid",
            "must be 1-64 letters, digits, `.`, `_` or `-`",
        ));
    }
    algorithm
        .decoding_key(material)
        .map_err(|reason| ApiError::invalid("material", reason))?;
    let id = VerificationKeyId::generate();
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    let row = transaction
        .query_opt(
            "INSERT INTO verification_keys (id, workspace_id, kid, algorithm, material, created_by) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING RETURNING created_at",
            &[
                &id.as_uuid(),
                &workspace.as_uuid(),
                &kid,
                &algorithm.as_str(),
                &material,
                &actor,
            ],
        )
        .await?;
    let Some(row) = row else {
        return Err(ApiError::AlreadyExists(format!(
            "a verification key with kid `{kid}` already exists"
        )));
    };
    let key = VerificationKey {
        id,
        kid: kid.to_string(),
        algorithm,
        created_at: row.get(0),
        created_by: actor.to_string(),
        material: material.to_vec(),
    };
    let after =
        serde_json::json!({"id": id.to_string(), "kid": kid, "algorithm": algorithm.as_str()});
    audit::record(
        &transaction,
        workspace,
        actor,
        "WorkspaceService/AddVerificationKey",
        &id.to_string(),
        None,
        Some(&after),
    )
    .await?;
    transaction.commit().await?;
    Ok(key)
}

/// Stops accepting tokens signed with the key.
pub async fn remove_key(
    pool: &Pool,
    workspace: WorkspaceId,
    id: VerificationKeyId,
    actor: &str,
) -> ApiResult<()> {
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    let row = transaction
        .query_opt(
            "UPDATE verification_keys SET removed_at = now() \
             WHERE id = $1 AND workspace_id = $2 AND removed_at IS NULL RETURNING kid, algorithm",
            &[&id.as_uuid(), &workspace.as_uuid()],
        )
        .await?;
    let Some(row) = row else {
        return Err(ApiError::not_found(format!(
            "verification key {id} not found"
        )));
    };
    let kid: String = row.get(0);
    let algorithm: String = row.get(1);
    let before = serde_json::json!({"id": id.to_string(), "kid": kid, "algorithm": algorithm});
    audit::record(
        &transaction,
        workspace,
        actor,
        "WorkspaceService/RemoveVerificationKey",
        &id.to_string(),
        Some(&before),
        None,
    )
    .await?;
    transaction.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn key(kid: &str, material: &[u8]) -> VerificationKey {
        VerificationKey {
            id: VerificationKeyId::generate(),
            kid: kid.to_string(),
            algorithm: KeyAlgorithm::Hs256,
            created_at: Utc::now(),
            created_by: String::new(),
            material: material.to_vec(),
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

    #[test]
    fn accepts_a_valid_token() {
        let workspace = WorkspaceId::generate();
        let jwt = token(workspace, serde_json::json!({}));
        assert!(looks_like_jwt(&jwt));
        assert_eq!(claimed_workspace(&jwt).ok(), Some(workspace));
        let (principal, expires) = verify(&jwt, workspace, &[key("k1", SECRET)]).expect("valid");
        assert_eq!(principal.actor, "jwt:billing-service");
        assert_eq!(principal.scopes.to_string(), "emit read");
        assert!(expires > Utc::now());
    }

    #[test]
    fn refuses_bad_claims() {
        let workspace = WorkspaceId::generate();
        let keys = [key("k1", SECRET)];
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
            let error = verify(&jwt, workspace, &keys).expect_err("refused");
            assert!(
                error.to_string().contains(expected),
                "{claims}: {error} should mention {expected}"
            );
        }
        let other = key("k1", b"another-secret-another-secret-0000");
        let jwt = token(workspace, serde_json::json!({}));
        assert!(verify(&jwt, workspace, &[other]).is_err());
    }

    #[test]
    fn refuses_alg_none() {
        let workspace = WorkspaceId::generate();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(
            serde_json::json!({"sub":"x","ws":workspace.to_string(),"scope":"admin",
                "aud":"switchyard","iat":0,"exp":9_999_999_999_i64})
            .to_string(),
        );
        let jwt = format!("{header}.{payload}.");
        assert!(verify(&jwt, workspace, &[key("k1", SECRET)]).is_err());
    }
}

//! HS256 verification secrets at rest against a real database: stored only
//! sealed and bound to their row, refused without a master keyring (while
//! API keys still work), plain-text rows of earlier versions verifying until
//! sealed, and re-sealed under a new master key so the old one can go.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use secrecy::SecretString;
use switchyard_core::config::{Config, SecretsConfig};
use switchyard_core::ids::WorkspaceId;
use switchyard_tenancy::auth::jwt::{self, KeyAlgorithm, sealing};
use switchyard_tenancy::auth::{Authenticator, KeyHasher, create_workspace};
use switchyard_tenancy::secrets::Keyring;
use switchyard_testkit as testkit;
use switchyard_testkit::TestDatabase;
use tonic::Code;

const SECRET: &[u8] = b"hs256-secret-0123456789abcdef-0123";
const OTHER_SECRET: &[u8] = b"hs256-other-secret-0123456789abcdef";

fn config(database: &TestDatabase, secrets: SecretsConfig) -> Config {
    Config {
        database_url: database.url.clone(),
        api_key_pepper: Some(SecretString::from("a test pepper")),
        secrets,
        ..Config::default()
    }
}

/// An admin token of `workspace` signed with `secret`, named by `kid`.
fn token(workspace: WorkspaceId, kid: &str, secret: &[u8], sub: &str) -> String {
    let now = chrono::Utc::now().timestamp();
    let claims = serde_json::json!({
        "sub": sub, "ws": workspace.to_string(), "scope": "admin", "aud": "switchyard",
        "iat": now, "exp": now + 300,
    });
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_string());
    let key = EncodingKey::from_secret(secret).expect("key");
    jsonwebtoken::encode(&header, &claims, &key).expect("signs")
}

/// The actor a fresh authenticator (no cache) finds for `token`, or the
/// refusal.
async fn actor(
    config: &Config,
    pool: &deadpool_postgres::Pool,
    token: &str,
) -> Result<String, (Code, String)> {
    let auth = Authenticator::new(pool.clone(), config).expect("authenticator");
    auth.principal(token)
        .await
        .map(|principal| principal.actor)
        .map_err(|error| (error.code(), error.to_string()))
}

/// The row of `kid`: `material`, `key_id`, `ciphertext` and the whole row
/// as text.
async fn row(
    pool: &deadpool_postgres::Pool,
    kid: &str,
) -> (Vec<u8>, Option<String>, Option<Vec<u8>>, String) {
    let client = pool.get().await.expect("client");
    let row = client
        .query_one(
            "SELECT material, key_id, ciphertext, v::text FROM verification_keys v WHERE kid = $1",
            &[&kid],
        )
        .await
        .expect("row");
    (row.get(0), row.get(1), row.get(2), row.get(3))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[tokio::test]
async fn hs256_secrets_are_stored_sealed_and_bound_to_their_row() {
    let database = TestDatabase::create().await.expect("database");
    let pool = switchyard_core::db::pool(&database.url, 2).expect("pool");
    let config = config(&database, testkit::secrets_config());
    let hasher = KeyHasher::new(config.api_key_pepper.as_ref());
    let (workspace, api_key) = create_workspace(&pool, &hasher, "acme")
        .await
        .expect("workspace");
    let auth = Authenticator::new(pool.clone(), &config).expect("authenticator");
    for (kid, secret) in [("k1", SECRET), ("k2", OTHER_SECRET)] {
        jwt::add_key(
            &pool,
            auth.keyring(),
            workspace,
            kid,
            KeyAlgorithm::Hs256,
            secret,
            "test",
        )
        .await
        .expect("added");
    }

    // Only the ciphertext is stored, under the configured key.
    let (material, key_id, ciphertext, text) = row(&pool, "k1").await;
    assert!(material.is_empty());
    assert_eq!(key_id.as_deref(), Some("test"));
    let ciphertext = ciphertext.expect("sealed");
    assert!(!contains(&ciphertext, SECRET));
    let secret_text = std::str::from_utf8(SECRET).expect("text");
    assert!(!text.contains(secret_text), "{text}");
    assert!(!text.contains(&hex::encode(SECRET)), "{text}");
    let k1 = token(workspace, "k1", SECRET, "billing");
    assert_eq!(
        actor(&config, &pool, &k1).await,
        Ok("jwt:billing".to_string())
    );

    // A ciphertext moved to another row does not open there.
    let client = pool.get().await.expect("client");
    client
        .execute(
            "UPDATE verification_keys SET ciphertext = CASE kid \
                 WHEN 'k1' THEN (SELECT ciphertext FROM verification_keys WHERE kid = 'k2') \
                 ELSE (SELECT ciphertext FROM verification_keys WHERE kid = 'k1') END",
            &[],
        )
        .await
        .expect("swapped");
    let k2 = token(workspace, "k2", OTHER_SECRET, "billing");
    for swapped in [&k1, &k2] {
        assert_eq!(
            actor(&config, &pool, swapped).await,
            Err((
                Code::Unauthenticated,
                "token refused: the key's secret cannot be opened".to_string()
            ))
        );
    }

    // Without a keyring: HS256 is refused, API keys still work.
    let keyless = Config {
        secrets: SecretsConfig::default(),
        ..config.clone()
    };
    let refused = jwt::add_key(
        &pool,
        None,
        workspace,
        "k3",
        KeyAlgorithm::Hs256,
        SECRET,
        "test",
    )
    .await
    .expect_err("no keyring");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(refused.to_string().contains("secrets.keys"), "{refused}");
    let (code, reason) = actor(&keyless, &pool, &k1).await.expect_err("refused");
    assert_eq!(code, Code::Unauthenticated);
    assert!(reason.contains("no master key is configured"), "{reason}");
    assert!(actor(&keyless, &pool, &api_key).await.is_ok());
}

#[tokio::test]
async fn plaintext_secrets_verify_until_sealed_and_rotation_reseals_them() {
    let database = TestDatabase::create().await.expect("database");
    let pool = switchyard_core::db::pool(&database.url, 2).expect("pool");
    let config = config(&database, testkit::secrets_config());
    let hasher = KeyHasher::new(config.api_key_pepper.as_ref());
    let (workspace, _) = create_workspace(&pool, &hasher, "acme")
        .await
        .expect("workspace");
    let client = pool.get().await.expect("client");
    client
        .execute(
            "INSERT INTO verification_keys (id, workspace_id, kid, algorithm, material) \
             VALUES ($1, $2, 'old', 'HS256', $3)",
            &[&uuid::Uuid::now_v7(), &workspace.as_uuid(), &SECRET],
        )
        .await
        .expect("plain-text row");
    let old = token(workspace, "old", SECRET, "legacy");
    assert_eq!(
        actor(&config, &pool, &old).await,
        Ok("jwt:legacy".to_string())
    );

    // Sealed in place; a second pass has nothing left to do.
    let keyring = Keyring::from_config(&config.secrets).expect("keyring");
    let sealed = sealing::encrypt_plaintext(&pool, &keyring, 10)
        .await
        .expect("sealed");
    assert_eq!(sealed, 1);
    assert_eq!(sealing::count_plaintext(&pool).await.expect("count"), 0);
    let (material, key_id, ciphertext, _) = row(&pool, "old").await;
    assert!(material.is_empty());
    assert_eq!(key_id.as_deref(), Some("test"));
    assert!(!contains(&ciphertext.expect("sealed"), SECRET));
    assert_eq!(
        actor(&config, &pool, &old).await,
        Ok("jwt:legacy".to_string())
    );
    assert_eq!(
        sealing::encrypt_plaintext(&pool, &keyring, 10)
            .await
            .expect("nothing"),
        0
    );

    // A second key, then a new active master key: rotation re-seals both,
    // one per transaction.
    jwt::add_key(
        &pool,
        Some(&keyring),
        workspace,
        "new",
        KeyAlgorithm::Hs256,
        OTHER_SECRET,
        "test",
    )
    .await
    .expect("added");
    let mut rotated = config.clone();
    rotated.secrets.keys.insert(
        "k2".to_string(),
        SecretString::from(switchyard_core::config::generate_master_key()),
    );
    rotated.secrets.active_key = Some("k2".to_string());
    let new_keyring = Keyring::from_config(&rotated.secrets).expect("keyring");
    let report = sealing::rotate(&pool, &new_keyring, 1)
        .await
        .expect("rotated");
    assert_eq!(
        report,
        sealing::Rotation {
            plaintext_encrypted: 0,
            reencrypted: 2,
            under_active_key: 2,
            under_other_keys: 0,
        }
    );
    let again = sealing::rotate(&pool, &new_keyring, 1)
        .await
        .expect("rotated");
    assert_eq!(again.reencrypted, 0);

    // The old master key goes; both secrets still open.
    rotated.secrets.keys.remove("test");
    let new = token(workspace, "new", OTHER_SECRET, "current");
    let old = token(workspace, "old", SECRET, "legacy-again");
    assert_eq!(
        actor(&rotated, &pool, &new).await,
        Ok("jwt:current".to_string())
    );
    assert_eq!(
        actor(&rotated, &pool, &old).await,
        Ok("jwt:legacy-again".to_string())
    );
    let (_, key_id, _, _) = row(&pool, "old").await;
    assert_eq!(key_id.as_deref(), Some("k2"));

    // A keyring missing the key a secret is sealed under cannot rotate it.
    let stranger =
        Keyring::single("k3", &switchyard_core::config::generate_master_key()).expect("keyring");
    assert!(sealing::rotate(&pool, &stranger, 10).await.is_err());
}

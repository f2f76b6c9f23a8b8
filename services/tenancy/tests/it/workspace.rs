//! Workspaces and the API key lifecycle against a real database: keyed
//! hashes, scopes, expiry, revocation, rotation with a grace period, keys
//! from before keyed hashing, and the audit entries each change leaves.

use std::time::Duration;

use chrono::Utc;
use secrecy::SecretString;
use switchyard_core::config::Config;
use switchyard_tenancy::auth::keys::{self, NewKey, legacy_hash};
use switchyard_tenancy::auth::{Access, Authenticator, KeyHasher, Scope, Scopes, create_workspace};
use switchyard_testkit::TestDatabase;
use tonic::Code;

fn config(database: &TestDatabase) -> Config {
    Config {
        database_url: database.url.clone(),
        api_key_pepper: Some(SecretString::from("a test pepper")),
        ..Config::default()
    }
}

async fn code_of(auth: &Authenticator, access: Access, token: &str) -> Code {
    match auth.authorize(access, token).await {
        Ok(_) => Code::Ok,
        Err(error) => error.code(),
    }
}

#[tokio::test]
async fn keys_are_keyed_hashes_with_scopes_expiry_revocation_and_rotation() {
    let database = TestDatabase::create().await.expect("database");
    let pool = switchyard_core::db::pool(&database.url, 2).expect("pool");
    let config = config(&database);
    let hasher = KeyHasher::new(config.api_key_pepper.as_ref());
    let (workspace, admin_key) = create_workspace(&pool, &hasher, "acme")
        .await
        .expect("created");
    assert!(admin_key.starts_with("sy_live_"));
    let auth = Authenticator::new(pool.clone(), &config).expect("authenticator");
    let principal = auth.principal(&admin_key).await.expect("valid");
    assert_eq!(principal.workspace, workspace);
    assert!(principal.scopes.allows(Scope::Admin));
    assert!(admin_key.starts_with(&principal.actor));

    // Only the keyed hash is stored; a different pepper cannot use the key.
    let client = pool.get().await.expect("client");
    let stored: Vec<u8> = client
        .query_one("SELECT key_hash FROM api_keys", &[])
        .await
        .expect("row")
        .get(0);
    assert_eq!(stored, hasher.hash(&admin_key));
    assert_ne!(stored, legacy_hash(&admin_key));
    let other_pepper = Config {
        api_key_pepper: Some(SecretString::from("another pepper")),
        ..config.clone()
    };
    let stranger = Authenticator::new(pool.clone(), &other_pepper).expect("authenticator");
    assert_eq!(
        code_of(&stranger, Access::Workspace(Scope::Read), &admin_key).await,
        Code::Unauthenticated
    );

    // An emit key may emit and nothing else.
    let emit = NewKey {
        name: "web",
        environment: "test",
        scopes: Scopes::of(&[Scope::Emit]),
        expires_at: None,
        actor: &principal.actor,
    };
    let (record, emit_key) = keys::create_key(&pool, &hasher, workspace, &emit)
        .await
        .expect("emit key");
    assert!(emit_key.starts_with("sy_test_"));
    assert_eq!(record.prefix.len(), "sy_test_".len() + 8);
    assert_eq!(
        code_of(&auth, Access::Workspace(Scope::Emit), &emit_key).await,
        Code::Ok
    );
    assert_eq!(
        code_of(&auth, Access::Workspace(Scope::Read), &emit_key).await,
        Code::PermissionDenied
    );
    assert_eq!(
        code_of(&auth, Access::Workspace(Scope::Admin), &emit_key).await,
        Code::PermissionDenied
    );

    // Expired keys are refused; keys must expire in the future.
    let past = NewKey {
        expires_at: Some(Utc::now() - chrono::TimeDelta::seconds(5)),
        ..emit
    };
    let refused = keys::create_key(&pool, &hasher, workspace, &past).await;
    assert_eq!(refused.err().map(|e| e.code()), Some(Code::InvalidArgument));
    client
        .execute(
            "UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1",
            &[&record.id.as_uuid()],
        )
        .await
        .expect("expire");
    let fresh = Authenticator::new(pool.clone(), &config).expect("authenticator");
    assert_eq!(
        code_of(&fresh, Access::Workspace(Scope::Emit), &emit_key).await,
        Code::Unauthenticated
    );

    // Rotation: the twin works at once, the old key until its grace ends.
    let (_, read_key) = keys::create_key(
        &pool,
        &hasher,
        workspace,
        &NewKey {
            name: "dashboard",
            environment: "live",
            scopes: Scopes::of(&[Scope::Read]),
            expires_at: None,
            actor: "test",
        },
    )
    .await
    .expect("read key");
    let read_id = fresh.principal(&read_key).await.expect("valid");
    let record = keys::list_keys(&pool, workspace, false)
        .await
        .expect("list")
        .into_iter()
        .find(|key| read_key.starts_with(&key.prefix))
        .expect("listed");
    assert_eq!(read_id.scopes, Scopes::of(&[Scope::Read]));
    let (twin, twin_key, previous) = keys::rotate_key(
        &pool,
        &hasher,
        workspace,
        record.id,
        Duration::from_secs(3600),
        "test",
    )
    .await
    .expect("rotated");
    assert_eq!(twin.scopes, record.scopes);
    assert_eq!(twin.name, "dashboard");
    assert!(previous.expires_at.is_some_and(|at| at > Utc::now()));
    let after = Authenticator::new(pool.clone(), &config).expect("authenticator");
    assert_eq!(
        code_of(&after, Access::Workspace(Scope::Read), &twin_key).await,
        Code::Ok
    );
    assert_eq!(
        code_of(&after, Access::Workspace(Scope::Read), &read_key).await,
        Code::Ok
    );

    // Revocation is immediate for a fresh authenticator; foreign ids are
    // not found.
    keys::revoke_key(&pool, workspace, twin.id, "test")
        .await
        .expect("revoked");
    let after = Authenticator::new(pool.clone(), &config).expect("authenticator");
    assert_eq!(
        code_of(&after, Access::Workspace(Scope::Read), &twin_key).await,
        Code::Unauthenticated
    );
    let (other, _) = create_workspace(&pool, &hasher, "globex")
        .await
        .expect("other");
    let foreign = keys::revoke_key(&pool, other, record.id, "test").await;
    assert_eq!(foreign.err().map(|e| e.code()), Some(Code::NotFound));

    // Every change is in the audit log, without key material.
    let entries = switchyard_tenancy::audit::list(&pool, workspace, None, None, 100)
        .await
        .expect("audit");
    let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
    for action in [
        "WorkspaceService/CreateWorkspace",
        "WorkspaceService/CreateApiKey",
        "WorkspaceService/RotateApiKey",
        "WorkspaceService/RevokeApiKey",
    ] {
        assert!(actions.contains(&action), "{action} missing: {actions:?}");
    }
    let text = format!(
        "{:?}",
        entries
            .iter()
            .map(|e| (&e.before, &e.after))
            .collect::<Vec<_>>()
    );
    for key in [&admin_key, &emit_key, &read_key, &twin_key] {
        assert!(!text.contains(key.as_str()));
    }

    // Bad slugs and duplicates.
    let again = create_workspace(&pool, &hasher, "acme").await;
    assert_eq!(again.err().map(|e| e.code()), Some(Code::AlreadyExists));
    let bad = create_workspace(&pool, &hasher, "Not A Slug").await;
    assert_eq!(bad.err().map(|e| e.code()), Some(Code::InvalidArgument));
}

#[tokio::test]
async fn keys_from_before_keyed_hashing_keep_working() {
    let database = TestDatabase::create().await.expect("database");
    let pool = switchyard_core::db::pool(&database.url, 2).expect("pool");
    let config = config(&database);
    let hasher = KeyHasher::new(config.api_key_pepper.as_ref());
    let (workspace, _) = create_workspace(&pool, &hasher, "acme")
        .await
        .expect("created");
    let old_key = switchyard_tenancy::auth::generate_api_key("live");
    let client = pool.get().await.expect("client");
    client
        .execute(
            "INSERT INTO api_keys (id, workspace_id, prefix, key_hash, hash_kind) \
             VALUES ($1, $2, $3, $4, 'sha256')",
            &[
                &uuid::Uuid::now_v7(),
                &workspace.as_uuid(),
                &&old_key[..12],
                &legacy_hash(&old_key),
            ],
        )
        .await
        .expect("legacy key");
    let auth = Authenticator::new(pool.clone(), &config).expect("authenticator");
    let principal = auth.principal(&old_key).await.expect("still valid");
    assert_eq!(principal.workspace, workspace);
    assert!(principal.scopes.allows(Scope::Admin));
}

//! Workspace creation and API key authentication against a real database.

use switchyard_core::auth::{Authenticator, create_workspace, hash_token};
use switchyard_core::testkit::TestDatabase;
use tonic::metadata::MetadataMap;

fn bearer(key: &str) -> MetadataMap {
    let mut metadata = MetadataMap::new();
    metadata.insert(
        "authorization",
        format!("Bearer {key}").parse().expect("ascii"),
    );
    metadata
}

#[tokio::test]
async fn a_new_workspace_key_authenticates_and_only_its_hash_is_stored() {
    let database = TestDatabase::create().await.expect("database");
    let pool = switchyard_core::db::pool(&database.url, 2).expect("pool");
    let (workspace, key) = create_workspace(&pool, "acme").await.expect("created");

    let authenticator = Authenticator::new(pool.clone(), None);
    assert_eq!(
        authenticator.workspace(&bearer(&key)).await.ok(),
        Some(workspace)
    );
    let wrong = authenticator.workspace(&bearer("sy_live_nope")).await;
    assert_eq!(
        wrong.err().map(|e| e.code()),
        Some(tonic::Code::Unauthenticated)
    );

    let client = pool.get().await.expect("client");
    let row = client
        .query_one("SELECT prefix, key_hash FROM api_keys", &[])
        .await
        .expect("row");
    let prefix: String = row.get(0);
    let stored: Vec<u8> = row.get(1);
    assert_eq!(stored, hash_token(&key));
    assert!(key.starts_with(&prefix));
    assert!(prefix.len() < key.len());

    let again = create_workspace(&pool, "acme").await;
    assert_eq!(
        again.err().map(|e| e.code()),
        Some(tonic::Code::AlreadyExists)
    );
    let bad = create_workspace(&pool, "Not A Slug").await;
    assert_eq!(
        bad.err().map(|e| e.code()),
        Some(tonic::Code::InvalidArgument)
    );
}

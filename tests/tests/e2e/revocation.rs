//! A revoked key stops working on every service at once: each service
//! caches a verified credential, and the revocation's notification empties
//! that cache at commit, well before the cache's own lifetime would.

use std::time::{Duration, Instant};

use switchyard_client::proto;
use switchyard_tenancy::auth::keys::{self, NewKey};
use switchyard_tenancy::auth::{KEY_CACHE_TTL, Scope, Scopes};
use switchyard_tests::{LEAD_CREATED, TestStack};
use tonic::Code;

/// Services whose credential caches listen: registry, ingest, router and
/// delivery.
const LISTENERS: i64 = 4;

async fn listening(stack: &TestStack) -> anyhow::Result<i64> {
    stack
        .count(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() \
               AND application_name = 'switchyard-auth-listener' AND query = 'SELECT 1'",
        )
        .await
}

/// One call to each service; the codes they answer.
async fn call_every_service(client: &switchyard_client::Client) -> Vec<(&'static str, Code)> {
    let code = |result: Result<(), tonic::Status>| result.map_or_else(|s| s.code(), |()| Code::Ok);
    let registry = client
        .registry
        .clone()
        .list_event_types(proto::ListEventTypesRequest::default())
        .await
        .map(drop);
    let ingest = client
        .emit(
            LEAD_CREATED,
            &serde_json::json!({"id": "lead-1", "email": "ada@example.com"}),
        )
        .await
        .map(drop);
    let router = client
        .router
        .clone()
        .list_connections(proto::ListConnectionsRequest::default())
        .await
        .map(drop);
    let delivery = client
        .delivery
        .clone()
        .list_deliveries(proto::ListDeliveriesRequest::default())
        .await
        .map(drop);
    vec![
        ("registry", code(registry)),
        ("ingest", code(ingest)),
        ("router", code(router)),
        ("delivery", code(delivery)),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_key_is_refused_by_every_service_at_once() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while listening(&stack).await? < LISTENERS {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the credential listeners never connected"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let (record, key) = keys::create_key(
        &stack.pool,
        &stack.hasher(),
        stack.workspace,
        &NewKey {
            name: "soon revoked",
            environment: "test",
            scopes: Scopes::of(&[Scope::Admin]),
            expires_at: None,
            actor: "test",
        },
    )
    .await
    .map_err(|error| anyhow::anyhow!("{error}"))?;
    let client = stack.client_with_key(&key)?;
    // Every service verifies the key once and caches it.
    for (service, code) in call_every_service(&client).await {
        assert_eq!(code, Code::Ok, "{service} before the revocation");
    }

    keys::revoke_key(&stack.pool, stack.workspace, record.id, "test")
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    let revoked = Instant::now();
    loop {
        let answers = call_every_service(&client).await;
        if answers
            .iter()
            .all(|(_, code)| *code == Code::Unauthenticated)
        {
            break;
        }
        assert!(
            revoked.elapsed() < KEY_CACHE_TTL / 2,
            "still accepted {:?} after the revocation: {answers:?}",
            revoked.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // The stack's own key of the same workspace is unaffected.
    for (service, code) in call_every_service(&stack.client).await {
        assert_eq!(code, Code::Ok, "{service} with another key");
    }
    stack.stop().await
}

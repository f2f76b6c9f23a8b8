//! HS256 machine-token secrets at rest, through the real services: a
//! registered secret is stored only sealed and its tokens verify in every
//! service; a plain-text row of an earlier version verifies until the
//! registry seals it at start, and after; `switchyard keys rotate`
//! re-encrypts the secrets so the old master key can be removed; a registry
//! without master keys refuses HS256 (registering and verifying) while API
//! keys and public-key tokens still work.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use prost::Message;
use secrecy::SecretString;
use switchyard::commands::admin;
use switchyard_client::proto;
use switchyard_client::proto::delivery_service_client::DeliveryServiceClient;
use switchyard_client::proto::ingest_service_client::IngestServiceClient;
use switchyard_client::proto::workspace_service_client::WorkspaceServiceClient;
use switchyard_core::config::SecretsConfig;
use switchyard_tests::tokens::{authorized, claims, hs256};
use switchyard_tests::{LEAD_CREATED, Service, TestStack};
use tonic::Code;

const SECRET: &[u8] = b"planted-hs256-secret-7c41-0123456789abcdef";

type Workspaces = WorkspaceServiceClient<tonic::transport::Channel>;

async fn workspaces(stack: &TestStack) -> anyhow::Result<Workspaces> {
    Ok(WorkspaceServiceClient::connect(stack.stack.endpoints().registry.clone()).await?)
}

/// Registers [`SECRET`] as HS256 key `kid` with the stack's admin API key.
async fn add_hs256(stack: &TestStack, kid: &str) -> Result<proto::VerificationKey, tonic::Status> {
    let mut workspaces = workspaces(stack)
        .await
        .map_err(|error| tonic::Status::unavailable(error.to_string()))?;
    let response = workspaces
        .add_verification_key(authorized(
            proto::AddVerificationKeyRequest {
                kid: kid.to_string(),
                algorithm: proto::VerificationAlgorithm::Hs256 as i32,
                material: SECRET.to_vec(),
            },
            &stack.api_key,
        ))
        .await?;
    Ok(response.into_inner().key.expect("key"))
}

/// An admin token signed with [`SECRET`] as `kid`; `sub` differs per call
/// site so no cached verification answers for it.
fn admin_token(stack: &TestStack, kid: &str, sub: &str) -> anyhow::Result<String> {
    hs256(
        kid,
        SECRET,
        &claims(&stack.workspace.to_string(), "admin", sub),
    )
}

/// Lists the workspace's verification keys with `token` (registry).
async fn list_keys(
    stack: &TestStack,
    token: &str,
) -> Result<Vec<proto::VerificationKey>, tonic::Status> {
    let mut workspaces = workspaces(stack)
        .await
        .map_err(|error| tonic::Status::unavailable(error.to_string()))?;
    let response = workspaces
        .list_verification_keys(authorized(proto::ListVerificationKeysRequest {}, token))
        .await?;
    Ok(response.into_inner().keys)
}

/// Emits a lead with `token` (ingest); the event id.
async fn emit(stack: &TestStack, token: &str, n: u32) -> Result<String, tonic::Status> {
    let mut ingest = IngestServiceClient::connect(stack.stack.endpoints().ingest.clone())
        .await
        .map_err(|error| tonic::Status::unavailable(error.to_string()))?;
    let response = ingest
        .emit_event(authorized(
            proto::EmitEventRequest {
                event_type: LEAD_CREATED.to_string(),
                payload_json: format!(r#"{{"id":"l{n}","email":"a@example.com"}}"#),
                ..Default::default()
            },
            token,
        ))
        .await?;
    Ok(response.into_inner().event_id)
}

/// The stored row of `kid`: `material`, `key_id`, `ciphertext`, and the
/// whole row as text.
async fn stored(
    stack: &TestStack,
    kid: &str,
) -> anyhow::Result<(Vec<u8>, Option<String>, Option<Vec<u8>>, String)> {
    let client = stack.pool.get().await?;
    let row = client
        .query_one(
            "SELECT material, key_id, ciphertext, v::text FROM verification_keys v WHERE kid = $1",
            &[&kid],
        )
        .await?;
    Ok((row.get(0), row.get(1), row.get(2), row.get(3)))
}

/// Asserts the row of `kid` holds [`SECRET`] only sealed, under `key_id`.
async fn assert_sealed(stack: &TestStack, kid: &str, key_id: &str) -> anyhow::Result<()> {
    let (material, stored_key_id, ciphertext, text) = stored(stack, kid).await?;
    assert!(material.is_empty(), "material: {material:?}");
    assert_eq!(stored_key_id.as_deref(), Some(key_id));
    let ciphertext = ciphertext.expect("a ciphertext");
    assert!(!ciphertext.windows(SECRET.len()).any(|w| w == SECRET));
    let secret = std::str::from_utf8(SECRET)?;
    assert!(!text.contains(secret), "{text}");
    assert!(!text.contains(&hex(SECRET)), "{text}");
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn restart(stack: &mut TestStack, services: &[Service]) -> anyhow::Result<()> {
    for service in services {
        stack.stack.stop_service(*service).await?;
        stack.stack.start_service(*service).await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hs256_tokens_verify_end_to_end_and_the_secret_is_stored_sealed() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    let added = add_hs256(&stack, "hs1").await?;
    assert_eq!(added.kid, "hs1");
    assert_sealed(&stack, "hs1", "test").await?;

    // The token works in the registry, ingest and the delivery service.
    let token = admin_token(&stack, "hs1", "provisioner")?;
    let listed = list_keys(&stack, &token).await?;
    assert_eq!(listed.len(), 1);
    let event = emit(&stack, &token, 1).await?;
    assert!(event.starts_with("evt_"));
    let mut deliveries =
        DeliveryServiceClient::connect(stack.stack.endpoints().delivery.clone()).await?;
    deliveries
        .list_deliveries(authorized(proto::ListDeliveriesRequest::default(), &token))
        .await?;
    // Signed with another secret under the same kid: refused.
    let forged = hs256(
        "hs1",
        b"not-the-registered-secret-0123456789",
        &claims(&stack.workspace.to_string(), "admin", "forger"),
    )?;
    let refused = list_keys(&stack, &forged).await.expect_err("forged");
    assert_eq!(refused.code(), Code::Unauthenticated);

    // The secret comes back from no RPC and is in no audit entry.
    let secret = std::str::from_utf8(SECRET)?;
    let response = proto::ListVerificationKeysResponse { keys: listed };
    assert!(
        !response
            .encode_to_vec()
            .windows(SECRET.len())
            .any(|w| w == SECRET)
    );
    let mut workspaces = workspaces(&stack).await?;
    let audit = workspaces
        .list_audit_events(authorized(
            proto::ListAuditEventsRequest::default(),
            &stack.api_key,
        ))
        .await?
        .into_inner();
    let entry = audit
        .events
        .iter()
        .find(|e| e.action == "WorkspaceService/AddVerificationKey")
        .expect("audited");
    assert!(entry.after_json.contains("hs1"), "{}", entry.after_json);
    for event in &audit.events {
        assert!(!event.before_json.contains(secret) && !event.after_json.contains(secret));
    }
    stack.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn plaintext_hs256_rows_keep_verifying_and_are_sealed_at_registry_start() -> anyhow::Result<()>
{
    let mut stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    // A row as versions before encryption at rest wrote it.
    stack
        .pool
        .get()
        .await?
        .execute(
            "INSERT INTO verification_keys (id, workspace_id, kid, algorithm, material) \
             VALUES ($1, $2, 'legacy', 'HS256', $3)",
            &[&uuid::Uuid::now_v7(), &stack.workspace.as_uuid(), &SECRET],
        )
        .await?;
    let before = admin_token(&stack, "legacy", "before-sealing")?;
    assert_eq!(list_keys(&stack, &before).await?.len(), 1);
    emit(&stack, &before, 1).await?;

    restart(&mut stack, &[Service::Registry]).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while stack
        .count("SELECT count(*) FROM verification_keys WHERE ciphertext IS NULL")
        .await?
        > 0
    {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "not sealed within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_sealed(&stack, "legacy", "test").await?;

    let after = admin_token(&stack, "legacy", "after-sealing")?;
    assert_eq!(list_keys(&stack, &after).await?.len(), 1);
    emit(&stack, &after, 2).await?;
    stack.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keys_rotate_reencrypts_hs256_secrets_so_the_old_master_key_can_go() -> anyhow::Result<()> {
    let mut stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    add_hs256(&stack, "hs1").await?;
    add_hs256(&stack, "hs2").await?;
    let everything = [
        Service::Registry,
        Service::Ingest,
        Service::Router,
        Service::Delivery,
    ];

    // Every service learns k2 and makes it active; `keys rotate` re-seals.
    let secrets = &mut stack.stack.config_mut().secrets;
    secrets.keys.insert(
        "k2".to_string(),
        SecretString::from(switchyard_core::config::generate_master_key()),
    );
    secrets.active_key = Some("k2".to_string());
    restart(&mut stack, &everything).await?;
    let mut out = Vec::new();
    let report = admin::rotate_keys(stack.stack.config(), 1, &mut out).await?;
    let printed = String::from_utf8(out)?;
    assert_eq!(report.verification_secrets.reencrypted, 2, "{printed}");
    assert_eq!(report.verification_secrets.under_active_key, 2);
    assert_eq!(report.under_other_keys(), 0);
    assert!(
        printed.contains("HS256 verification secrets re-encrypted under key k2: 2\n"),
        "{printed}"
    );
    assert!(
        printed.contains("values under key k2: 2; under other keys: 0\n"),
        "{printed}"
    );
    assert_sealed(&stack, "hs1", "k2").await?;
    assert_sealed(&stack, "hs2", "k2").await?;

    // The old key is removed everywhere; tokens still verify.
    stack.stack.config_mut().secrets.keys.remove("test");
    restart(&mut stack, &everything).await?;
    for kid in ["hs1", "hs2"] {
        let token = admin_token(&stack, kid, &format!("after-rotation-{kid}"))?;
        assert_eq!(list_keys(&stack, &token).await?.len(), 2);
    }
    let token = admin_token(&stack, "hs1", "emitter")?;
    emit(&stack, &token, 1).await?;
    stack.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_master_keys_hs256_is_refused_and_other_credentials_work() -> anyhow::Result<()> {
    let stack = TestStack::start_with(&[Service::Registry], |config| {
        config.secrets = SecretsConfig::default();
    })
    .await?;

    let refused = add_hs256(&stack, "hs1").await.expect_err("no master key");
    assert_eq!(refused.code(), Code::FailedPrecondition);
    assert!(
        refused.message().contains("SWITCHYARD_SECRETS__KEYS__"),
        "{}",
        refused.message()
    );
    assert_eq!(
        stack
            .count("SELECT count(*) FROM verification_keys")
            .await?,
        0
    );

    // A public key registers and its tokens work; so does the API key.
    let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)?;
    let mut workspaces = workspaces(&stack).await?;
    workspaces
        .add_verification_key(authorized(
            proto::AddVerificationKeyRequest {
                kid: "ed1".to_string(),
                algorithm: proto::VerificationAlgorithm::Eddsa as i32,
                material: ed.public_key_pem().into_bytes(),
            },
            &stack.api_key,
        ))
        .await?;
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some("ed1".to_string());
    let ed_token = jsonwebtoken::encode(
        &header,
        &claims(&stack.workspace.to_string(), "admin", "ed-signer"),
        &EncodingKey::from_ed_pem(ed.serialize_pem().as_bytes())?,
    )?;
    assert_eq!(list_keys(&stack, &ed_token).await?.len(), 1);
    assert_eq!(list_keys(&stack, &stack.api_key).await?.len(), 1);

    // An HS256 secret stored by an earlier version cannot be used here.
    stack
        .pool
        .get()
        .await?
        .execute(
            "INSERT INTO verification_keys (id, workspace_id, kid, algorithm, material) \
             VALUES ($1, $2, 'legacy', 'HS256', $3)",
            &[&uuid::Uuid::now_v7(), &stack.workspace.as_uuid(), &SECRET],
        )
        .await?;
    let token = admin_token(&stack, "legacy", "keyless")?;
    let refused = list_keys(&stack, &token).await.expect_err("no master key");
    assert_eq!(refused.code(), Code::Unauthenticated);
    assert!(
        refused.message().contains("no master key is configured"),
        "{}",
        refused.message()
    );
    stack.stop().await
}

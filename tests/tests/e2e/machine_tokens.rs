//! Machine tokens end to end: a workspace registers an Ed25519 and an RSA
//! public key, signs its own JWTs, and calls Switchyard with them. Scopes
//! are enforced; expired, not-yet-valid, wrong-audience, wrong-workspace,
//! unregistered-key, `alg: none` and algorithm-confusion tokens are refused;
//! removing a key stops its tokens; admin changes by a token are audited
//! under `jwt:<sub>`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use switchyard_client::proto;
use switchyard_client::proto::delivery_service_client::DeliveryServiceClient;
use switchyard_client::proto::ingest_service_client::IngestServiceClient;
use switchyard_client::proto::workspace_service_client::WorkspaceServiceClient;
use switchyard_tests::tokens::{authorized, claims};
use switchyard_tests::{LEAD_CREATED, TestStack};
use tonic::Code;

struct Signer {
    header: Header,
    key: EncodingKey,
}

impl Signer {
    fn sign(&self, claims: &serde_json::Value) -> String {
        encode(&self.header, claims, &self.key).expect("signs")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn workspace_signed_tokens_are_verified_scoped_and_refused_when_invalid() -> anyhow::Result<()>
{
    let stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    let endpoints = stack.stack.endpoints();
    let mut workspaces = WorkspaceServiceClient::connect(endpoints.registry.clone()).await?;
    let mut ingest = IngestServiceClient::connect(endpoints.ingest.clone()).await?;
    let mut deliveries = DeliveryServiceClient::connect(endpoints.delivery.clone()).await?;

    // Register an Ed25519 and an RSA public key.
    let ed = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)?;
    let rsa = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)?;
    for (kid, algorithm, key) in [
        ("ed1", proto::VerificationAlgorithm::Eddsa, &ed),
        ("rsa1", proto::VerificationAlgorithm::Rs256, &rsa),
    ] {
        let added = workspaces
            .add_verification_key(authorized(
                proto::AddVerificationKeyRequest {
                    kid: kid.to_string(),
                    algorithm: algorithm as i32,
                    material: key.public_key_pem().into_bytes(),
                },
                &stack.api_key,
            ))
            .await?
            .into_inner()
            .key
            .expect("key");
        assert_eq!(added.kid, kid);
    }
    // A private key is not a public key; garbage is refused with the field.
    let refused = workspaces
        .add_verification_key(authorized(
            proto::AddVerificationKeyRequest {
                kid: "bad".to_string(),
                algorithm: proto::VerificationAlgorithm::Eddsa as i32,
                material: b"not a pem".to_vec(),
            },
            &stack.api_key,
        ))
        .await
        .expect_err("refused");
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().starts_with("material:"),
        "{}",
        refused.message()
    );

    let mut ed_header = Header::new(Algorithm::EdDSA);
    ed_header.kid = Some("ed1".to_string());
    let ed_signer = Signer {
        header: ed_header,
        key: EncodingKey::from_ed_pem(ed.serialize_pem().as_bytes())?,
    };
    let rsa_signer = Signer {
        header: Header::new(Algorithm::RS256),
        key: EncodingKey::from_rsa_pem(rsa.serialize_pem().as_bytes())?,
    };
    let ws = stack.workspace.to_string();

    // An emit token emits, and may not read history.
    let emit_token = ed_signer.sign(&claims(&ws, "emit", "web-backend"));
    let emitted = ingest
        .emit_event(authorized(
            proto::EmitEventRequest {
                event_type: LEAD_CREATED.to_string(),
                payload_json: r#"{"id":"l1","email":"a@example.com"}"#.to_string(),
                ..Default::default()
            },
            &emit_token,
        ))
        .await?
        .into_inner();
    assert!(emitted.event_id.starts_with("evt_"));
    let denied = deliveries
        .list_deliveries(authorized(
            proto::ListDeliveriesRequest::default(),
            &emit_token,
        ))
        .await
        .expect_err("emit scope cannot read");
    assert_eq!(denied.code(), Code::PermissionDenied);
    assert!(denied.message().contains("`read`"), "{}", denied.message());

    // An RS256 read token reads.
    let read_token = rsa_signer.sign(&claims(&ws, "read", "dashboard"));
    deliveries
        .list_deliveries(authorized(
            proto::ListDeliveriesRequest::default(),
            &read_token,
        ))
        .await?;

    // Refused tokens.
    let now = chrono::Utc::now().timestamp();
    let with = |changes: serde_json::Value| {
        let mut body = claims(&ws, "admin", "attacker");
        for (name, value) in changes.as_object().expect("object") {
            body[name] = value.clone();
        }
        body
    };
    let (other, _) =
        switchyard_tenancy::auth::create_workspace(&stack.pool, &stack.hasher(), "globex")
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    let stranger = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)?;
    let stranger_signer = Signer {
        header: Header::new(Algorithm::EdDSA),
        key: EncodingKey::from_ed_pem(stranger.serialize_pem().as_bytes())?,
    };
    let none_token = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims(&ws, "admin", "attacker").to_string())
    );
    // Algorithm confusion: HS256 keyed with the RSA *public* key.
    let confused = encode(
        &Header::new(Algorithm::HS256),
        &claims(&ws, "admin", "attacker"),
        &EncodingKey::from_secret(rsa.public_key_pem().as_bytes())?,
    )?;
    let cases = [
        (
            "expired",
            ed_signer.sign(&with(serde_json::json!({"exp": now - 120}))),
        ),
        (
            "not yet valid",
            ed_signer.sign(&with(serde_json::json!({"nbf": now + 600}))),
        ),
        (
            "wrong audience",
            ed_signer.sign(&with(serde_json::json!({"aud": "stripe"}))),
        ),
        (
            "wrong workspace",
            ed_signer.sign(&with(serde_json::json!({"ws": other.to_string()}))),
        ),
        (
            "unregistered key",
            stranger_signer.sign(&with(serde_json::json!({}))),
        ),
        ("alg none", none_token),
        ("alg confusion", confused),
        (
            "unknown scope",
            ed_signer.sign(&with(serde_json::json!({"scope": "root"}))),
        ),
    ];
    for (case, token) in cases {
        let status = workspaces
            .list_api_keys(authorized(proto::ListApiKeysRequest::default(), &token))
            .await
            .expect_err(case);
        assert_eq!(status.code(), Code::Unauthenticated, "{case}: {status:?}");
    }

    // An admin token's changes are audited under its subject.
    let admin_token = ed_signer.sign(&claims(&ws, "admin", "provisioner"));
    let created = workspaces
        .create_api_key(authorized(
            proto::CreateApiKeyRequest {
                name: "from-token".to_string(),
                scopes: vec![proto::ApiKeyScope::Emit as i32],
                ..Default::default()
            },
            &admin_token,
        ))
        .await?
        .into_inner();
    assert_eq!(
        created.key.as_ref().map(|k| k.created_by.as_str()),
        Some("jwt:provisioner")
    );
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
        .find(|e| e.action == "WorkspaceService/CreateApiKey")
        .expect("audited");
    assert_eq!(entry.actor, "jwt:provisioner");
    assert!(!entry.after_json.contains(&created.api_key));

    // Removing the key stops new tokens signed with it.
    let listed = workspaces
        .list_verification_keys(authorized(
            proto::ListVerificationKeysRequest {},
            &stack.api_key,
        ))
        .await?
        .into_inner();
    let ed_id = listed
        .keys
        .iter()
        .find(|k| k.kid == "ed1")
        .expect("listed")
        .id
        .clone();
    workspaces
        .remove_verification_key(authorized(
            proto::RemoveVerificationKeyRequest { id: ed_id },
            &stack.api_key,
        ))
        .await?;
    let fresh = ed_signer.sign(&claims(&ws, "emit", "web-backend-2"));
    let status = ingest
        .emit_event(authorized(
            proto::EmitEventRequest {
                event_type: LEAD_CREATED.to_string(),
                payload_json: r#"{"id":"l2","email":"b@example.com"}"#.to_string(),
                ..Default::default()
            },
            &fresh,
        ))
        .await
        .expect_err("key removed");
    assert_eq!(status.code(), Code::Unauthenticated);
    stack.stop().await
}

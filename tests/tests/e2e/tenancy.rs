//! Tenancy: every RPC of every service, called
//! - with another workspace's admin key on workspace A's resources: a
//!   resource of A is NotFound (its existence is not revealed), lists show
//!   nothing of A, creations land in the caller's own workspace;
//! - with under-scoped keys of A: PermissionDenied before the handler runs;
//! - with workspace keys on operator and internal RPCs: PermissionDenied.
//!
//! Requests go through a raw-bytes codec, so the walk is driven by the
//! proto descriptors: an RPC added without an entry here fails the test.

use std::collections::BTreeMap;

use prost::Message;
use switchyard::receiver::Behaviour;
use switchyard_client::proto;
use switchyard_proto::internal::v1 as internal;
use switchyard_tenancy::auth::keys::{self, NewKey};
use switchyard_tenancy::auth::{Access, Scope, Scopes};
use switchyard_tests::{LEAD_CREATED, TestStack};
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};

/// Passes encoded messages through untouched.
#[derive(Default)]
struct Raw;

struct RawEncoder;
struct RawDecoder;

impl Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Self::Error> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl Decoder for RawDecoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Self::Error> {
        let len = bytes::Buf::remaining(src);
        Ok(Some(bytes::Buf::copy_to_bytes(src, len).to_vec()))
    }
}

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = RawEncoder;
    type Decoder = RawDecoder;
    fn encoder(&mut self) -> RawEncoder {
        RawEncoder
    }
    fn decoder(&mut self) -> RawDecoder {
        RawDecoder
    }
}

/// Calls `path` on the service's endpoint with `key`.
async fn call(
    stack: &TestStack,
    path: &str,
    key: &str,
    body: Vec<u8>,
) -> Result<Vec<u8>, tonic::Status> {
    let endpoints = stack.stack.endpoints();
    let service = path.trim_start_matches('/').split('/').next().unwrap_or("");
    let url = match service {
        "switchyard.v1.IngestService" => endpoints.ingest,
        "switchyard.v1.RouterService" | "switchyard.internal.v1.RoutingService" => endpoints.router,
        "switchyard.v1.DeliveryService" | "switchyard.internal.v1.DeliveryControlService" => {
            endpoints.delivery
        }
        _ => endpoints.registry,
    };
    let channel = tonic::transport::Endpoint::from_shared(url)
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.expect("ready");
    let mut request = tonic::Request::new(body);
    request.metadata_mut().insert(
        "authorization",
        format!("Bearer {key}").parse().expect("ascii"),
    );
    let path = http::uri::PathAndQuery::try_from(path).expect("path");
    grpc.unary(request, path, Raw).await.map(|r| r.into_inner())
}

/// What a foreign admin key must see.
enum Foreign {
    /// A's resource: NotFound.
    NotFound,
    /// Succeeds (or NotFound) and the answer holds nothing of A.
    Nothing(fn(&[u8]) -> bool),
    /// Acts in the caller's own workspace.
    Own,
    /// Not a workspace RPC: PermissionDenied.
    Denied,
}

fn every_rpc() -> Vec<String> {
    let set = prost_types::FileDescriptorSet::decode(switchyard_proto::FILE_DESCRIPTOR_SET)
        .expect("descriptors");
    let mut paths = Vec::new();
    for file in &set.file {
        for service in &file.service {
            for method in &service.method {
                paths.push(format!(
                    "/{}.{}/{}",
                    file.package(),
                    service.name(),
                    method.name()
                ));
            }
        }
    }
    paths
}

fn empty<M: Message + Default>(bytes: &[u8]) -> M {
    M::decode(bytes).expect("response decodes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_rpc_isolates_workspaces_and_enforces_scopes() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    stack.register_lead_schema().await?;
    let (_receiver, connection) = stack.receiver(Behaviour::default()).await?;
    let emitted = stack
        .client
        .emit(
            LEAD_CREATED,
            &serde_json::json!({"id": "l1", "email": "a@example.com"}),
        )
        .await?;
    let deliveries = stack.final_deliveries(&emitted.event_id, 1).await?;
    let delivery = deliveries[0].delivery.clone().expect("delivery");
    let rule: uuid::Uuid = stack
        .pool
        .get()
        .await?
        .query_one(
            "SELECT id FROM rules WHERE workspace_id = $1",
            &[&stack.workspace.as_uuid()],
        )
        .await?
        .get(0);
    let rule_id = switchyard_core::ids::RuleId(rule).to_string();

    // A's own keys: emit-only and read-only; A's verification key.
    let hasher = stack.hasher();
    let mut scoped = BTreeMap::new();
    for scope in [Scope::Emit, Scope::Read] {
        let (_, key) = keys::create_key(
            &stack.pool,
            &hasher,
            stack.workspace,
            &NewKey {
                name: scope.as_str(),
                environment: "test",
                scopes: Scopes::of(&[scope]),
                expires_at: None,
                actor: "test",
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
        scoped.insert(scope, key);
    }
    let added = call(
        &stack,
        "/switchyard.v1.WorkspaceService/AddVerificationKey",
        &stack.api_key,
        proto::AddVerificationKeyRequest {
            kid: "k1".to_string(),
            algorithm: proto::VerificationAlgorithm::Hs256 as i32,
            material: b"0123456789abcdef0123456789abcdef".to_vec(),
        }
        .encode_to_vec(),
    )
    .await?;
    let verification_key = proto::AddVerificationKeyResponse::decode(&added[..])?
        .key
        .expect("key")
        .id;
    let a_key_id: uuid::Uuid = stack
        .pool
        .get()
        .await?
        .query_one(
            "SELECT id FROM api_keys WHERE workspace_id = $1 AND name = 'bootstrap'",
            &[&stack.workspace.as_uuid()],
        )
        .await?
        .get(0);
    let a_key_id = switchyard_core::ids::ApiKeyId(a_key_id).to_string();
    // A backfill of A's rule (the last hour, up to now).
    let now = std::time::SystemTime::now();
    let backfill_request = |rule_id: &str| proto::BackfillRuleRequest {
        rule_id: rule_id.to_string(),
        from_time: Some((now - std::time::Duration::from_secs(3600)).into()),
        to_time: Some(now.into()),
        rate_per_second: 100,
    };
    let started = call(
        &stack,
        "/switchyard.v1.RouterService/BackfillRule",
        &stack.api_key,
        backfill_request(&rule_id).encode_to_vec(),
    )
    .await?;
    let backfill_id = proto::BackfillRuleResponse::decode(&started[..])?
        .backfill
        .expect("backfill")
        .id;

    let (_, foreign_key) =
        switchyard_tenancy::auth::create_workspace(&stack.pool, &hasher, "globex")
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;

    let con = connection.id.clone();
    let lead = LEAD_CREATED.to_string();
    let payload = r#"{"id":"x","email":"b@example.com"}"#.to_string();
    let schema = serde_json::json!({"type": "object"}).to_string();
    let matrix: Vec<(&str, Vec<u8>, Foreign)> = vec![
        (
            "/switchyard.v1.IngestService/EmitEvent",
            proto::EmitEventRequest {
                event_type: lead.clone(),
                payload_json: payload.clone(),
                ..Default::default()
            }
            .encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.IngestService/EmitEvents",
            proto::EmitEventsRequest {
                events: vec![proto::EmitEventRequest {
                    event_type: lead.clone(),
                    payload_json: payload.clone(),
                    ..Default::default()
                }],
            }
            .encode_to_vec(),
            // A's event type is unknown in B: the event is refused alone.
            Foreign::Nothing(|bytes| {
                let response: proto::EmitEventsResponse = empty(bytes);
                response.results.len() == 1
                    && response.results.iter().all(|result| {
                        matches!(
                            &result.outcome,
                            Some(proto::emit_events_result::Outcome::Error(error))
                                if error.code == Code::NotFound as i32
                        )
                    })
            }),
        ),
        (
            "/switchyard.v1.RegistryService/RegisterSchema",
            proto::RegisterSchemaRequest {
                event_type: "globex.thing".to_string(),
                json_schema: schema.clone(),
                ..Default::default()
            }
            .encode_to_vec(),
            Foreign::Own,
        ),
        (
            "/switchyard.v1.RegistryService/CheckCompatibility",
            proto::CheckCompatibilityRequest {
                event_type: lead.clone(),
                json_schema: schema.clone(),
                ..Default::default()
            }
            .encode_to_vec(),
            Foreign::Nothing(|bytes| {
                let response: proto::CheckCompatibilityResponse = empty(bytes);
                response.latest_version == 0
            }),
        ),
        (
            "/switchyard.v1.RegistryService/ValidatePayload",
            proto::ValidatePayloadRequest {
                event_type: lead.clone(),
                payload_json: payload.clone(),
                ..Default::default()
            }
            .encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.RegistryService/ValidatePayloads",
            proto::ValidatePayloadsRequest {
                payloads: vec![proto::ValidatePayloadRequest {
                    event_type: lead.clone(),
                    payload_json: payload.clone(),
                    ..Default::default()
                }],
            }
            .encode_to_vec(),
            Foreign::Nothing(|bytes| {
                let response: proto::ValidatePayloadsResponse = empty(bytes);
                response.results.iter().all(|result| {
                    matches!(
                        result.outcome,
                        Some(proto::validate_payloads_result::Outcome::Error(_))
                    )
                })
            }),
        ),
        (
            "/switchyard.v1.RegistryService/GetEventType",
            proto::GetEventTypeRequest {
                event_type: lead.clone(),
            }
            .encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.RegistryService/GetSchemaVersion",
            proto::GetSchemaVersionRequest {
                event_type: lead.clone(),
                version: 1,
            }
            .encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.RegistryService/ListEventTypes",
            proto::ListEventTypesRequest::default().encode_to_vec(),
            Foreign::Nothing(|bytes| {
                let response: proto::ListEventTypesResponse = empty(bytes);
                response.event_types.iter().all(|t| t.name != LEAD_CREATED)
            }),
        ),
        (
            "/switchyard.v1.RegistryService/SetCompatibility",
            proto::SetCompatibilityRequest {
                event_type: lead.clone(),
                compatibility: proto::Compatibility::None as i32,
            }
            .encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.RegistryService/DeprecateEventType",
            proto::DeprecateEventTypeRequest {
                event_type: lead.clone(),
                deprecated: true,
                reason: "x".to_string(),
            }
            .encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.RouterService/CreateConnection",
            proto::CreateConnectionRequest {
                name: "globex-hook".to_string(),
                destination: Some(proto::create_connection_request::Destination::Webhook(
                    proto::WebhookConfig {
                        url: "http://127.0.0.1:9/hook".to_string(),
                        headers: Default::default(),
                    },
                )),
                ..Default::default()
            }
            .encode_to_vec(),
            Foreign::Own,
        ),
        (
            "/switchyard.v1.RouterService/GetConnection",
            proto::GetConnectionRequest { id: con.clone() }.encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.RouterService/ListConnections",
            proto::ListConnectionsRequest::default().encode_to_vec(),
            Foreign::Nothing(|bytes| {
                let response: proto::ListConnectionsResponse = empty(bytes);
                response.connections.iter().all(|c| c.name != "receiver")
            }),
        ),
        (
            "/switchyard.v1.RouterService/DeleteConnection",
            proto::DeleteConnectionRequest { id: con.clone() }.encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.RouterService/UpdateConnection",
            proto::UpdateConnectionRequest {
                id: con.clone(),
                name: Some("stolen".to_string()),
                ..Default::default()
            }
            .encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.RouterService/PauseConnection",
            proto::PauseConnectionRequest { id: con.clone() }.encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.RouterService/ResumeConnection",
            proto::ResumeConnectionRequest { id: con.clone() }.encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.RouterService/RotateSigningSecret",
            proto::RotateSigningSecretRequest {
                id: con.clone(),
                grace_period: None,
            }
            .encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.RouterService/CreateRule",
            proto::CreateRuleRequest {
                event_type: lead.clone(),
                connection_id: con.clone(),
                ..Default::default()
            }
            .encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.RouterService/GetRule",
            proto::GetRuleRequest {
                id: rule_id.clone(),
            }
            .encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.RouterService/UpdateRule",
            proto::UpdateRuleRequest {
                id: rule_id.clone(),
                enabled: Some(false),
                ..Default::default()
            }
            .encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.RouterService/ListRules",
            proto::ListRulesRequest::default().encode_to_vec(),
            Foreign::Nothing(|bytes| {
                let response: proto::ListRulesResponse = empty(bytes);
                response.rules.is_empty()
            }),
        ),
        (
            "/switchyard.v1.RouterService/DeleteRule",
            proto::DeleteRuleRequest {
                id: rule_id.clone(),
            }
            .encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.RouterService/TestRule",
            proto::TestRuleRequest {
                rule: Some(proto::test_rule_request::Rule::RuleId(rule_id.clone())),
                event_type: lead.clone(),
                payload_json: payload.clone(),
            }
            .encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.RouterService/TestEvent",
            proto::TestEventRequest {
                event_type: lead.clone(),
                payload_json: payload.clone(),
            }
            .encode_to_vec(),
            Foreign::Nothing(|bytes| {
                let response: proto::TestEventResponse = empty(bytes);
                response.outcomes.is_empty()
            }),
        ),
        (
            "/switchyard.v1.RouterService/BackfillRule",
            backfill_request(&rule_id).encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.RouterService/GetBackfill",
            proto::GetBackfillRequest {
                id: backfill_id.clone(),
            }
            .encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.RouterService/ListBackfills",
            proto::ListBackfillsRequest::default().encode_to_vec(),
            Foreign::Nothing(|bytes| {
                let response: proto::ListBackfillsResponse = empty(bytes);
                response.backfills.is_empty()
            }),
        ),
        (
            "/switchyard.v1.RouterService/CancelBackfill",
            proto::CancelBackfillRequest {
                id: backfill_id.clone(),
            }
            .encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.DeliveryService/ListDeliveries",
            proto::ListDeliveriesRequest {
                event_id: emitted.event_id.clone(),
                ..Default::default()
            }
            .encode_to_vec(),
            Foreign::Nothing(|bytes| {
                let response: proto::ListDeliveriesResponse = empty(bytes);
                response.deliveries.is_empty()
            }),
        ),
        (
            "/switchyard.v1.IngestService/ListEvents",
            proto::ListEventsRequest::default().encode_to_vec(),
            Foreign::Nothing(|bytes| {
                let response: proto::ListEventsResponse = empty(bytes);
                response.events.is_empty()
            }),
        ),
        (
            "/switchyard.v1.IngestService/GetEvent",
            proto::GetEventRequest {
                id: emitted.event_id.clone(),
            }
            .encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.DeliveryService/GetDeliveryStats",
            proto::GetDeliveryStatsRequest::default().encode_to_vec(),
            Foreign::Nothing(|bytes| {
                let response: proto::GetDeliveryStatsResponse = empty(bytes);
                response.buckets.is_empty() && response.connections.is_empty()
            }),
        ),
        (
            "/switchyard.v1.WorkspaceService/GetCaller",
            proto::GetCallerRequest {}.encode_to_vec(),
            // Describes the caller's own credential.
            Foreign::Own,
        ),
        (
            "/switchyard.v1.WorkspaceService/SetRetention",
            proto::SetRetentionRequest {
                retention_days: 30,
                payload_retention_days: 0,
            }
            .encode_to_vec(),
            // Sets the caller's own workspace's periods.
            Foreign::Own,
        ),
        (
            "/switchyard.v1.DeliveryService/GetDelivery",
            proto::GetDeliveryRequest {
                id: delivery.id.clone(),
            }
            .encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.DeliveryService/RetryDelivery",
            proto::RetryDeliveryRequest {
                id: delivery.id.clone(),
            }
            .encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.DeliveryService/ReplayDeadLetters",
            proto::ReplayDeadLettersRequest {
                connection_id: con.clone(),
                ..Default::default()
            }
            .encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.WorkspaceService/CreateWorkspace",
            proto::CreateWorkspaceRequest {
                slug: "sneaky".to_string(),
            }
            .encode_to_vec(),
            Foreign::Denied,
        ),
        (
            "/switchyard.v1.WorkspaceService/ListWorkspaces",
            proto::ListWorkspacesRequest::default().encode_to_vec(),
            Foreign::Denied,
        ),
        (
            "/switchyard.v1.WorkspaceService/CreateApiKey",
            proto::CreateApiKeyRequest {
                name: "ci".to_string(),
                scopes: vec![proto::ApiKeyScope::Read as i32],
                ..Default::default()
            }
            .encode_to_vec(),
            Foreign::Own,
        ),
        (
            "/switchyard.v1.WorkspaceService/ListApiKeys",
            proto::ListApiKeysRequest {
                include_inactive: true,
            }
            .encode_to_vec(),
            Foreign::Nothing(|bytes| {
                let response: proto::ListApiKeysResponse = empty(bytes);
                response
                    .keys
                    .iter()
                    .all(|k| k.name != "emit" && k.name != "read")
            }),
        ),
        (
            "/switchyard.v1.WorkspaceService/RevokeApiKey",
            proto::RevokeApiKeyRequest {
                id: a_key_id.clone(),
            }
            .encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.WorkspaceService/RotateApiKey",
            proto::RotateApiKeyRequest {
                id: a_key_id.clone(),
                grace_period: None,
            }
            .encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.WorkspaceService/AddVerificationKey",
            proto::AddVerificationKeyRequest {
                kid: "k1".to_string(),
                algorithm: proto::VerificationAlgorithm::Hs256 as i32,
                material: b"another-secret-another-secret-0000".to_vec(),
            }
            .encode_to_vec(),
            Foreign::Own,
        ),
        (
            "/switchyard.v1.WorkspaceService/ListVerificationKeys",
            proto::ListVerificationKeysRequest {}.encode_to_vec(),
            Foreign::Nothing(|bytes| {
                let response: proto::ListVerificationKeysResponse = empty(bytes);
                response.keys.len() <= 1
            }),
        ),
        (
            "/switchyard.v1.WorkspaceService/RemoveVerificationKey",
            proto::RemoveVerificationKeyRequest {
                id: verification_key.clone(),
            }
            .encode_to_vec(),
            Foreign::NotFound,
        ),
        (
            "/switchyard.v1.WorkspaceService/ListAuditEvents",
            proto::ListAuditEventsRequest::default().encode_to_vec(),
            Foreign::Nothing(|bytes| {
                let response: proto::ListAuditEventsResponse = empty(bytes);
                response
                    .events
                    .iter()
                    .all(|e| e.action != "WorkspaceService/AddVerificationKey" || e.actor != "test")
            }),
        ),
        (
            "/switchyard.internal.v1.RoutingService/RouteEvent",
            internal::RouteEventRequest {
                workspace_id: stack.workspace.to_string(),
                event_id: emitted.event_id.clone(),
            }
            .encode_to_vec(),
            Foreign::Denied,
        ),
        (
            "/switchyard.internal.v1.RoutingService/RouteEvents",
            internal::RouteEventsRequest {
                events: vec![internal::RouteEventRequest {
                    workspace_id: stack.workspace.to_string(),
                    event_id: emitted.event_id.clone(),
                }],
            }
            .encode_to_vec(),
            Foreign::Denied,
        ),
        (
            "/switchyard.internal.v1.DeliveryControlService/GetBreaker",
            internal::GetBreakerRequest {
                workspace_id: stack.workspace.to_string(),
                connection_id: con.clone(),
            }
            .encode_to_vec(),
            Foreign::Denied,
        ),
        (
            "/switchyard.internal.v1.DeliveryControlService/RequeueConnection",
            internal::RequeueConnectionRequest {
                workspace_id: stack.workspace.to_string(),
                connection_id: con.clone(),
            }
            .encode_to_vec(),
            Foreign::Denied,
        ),
    ];

    // The matrix covers every RPC of every service.
    let covered: Vec<&str> = matrix.iter().map(|(path, _, _)| *path).collect();
    for path in every_rpc() {
        assert!(
            covered.contains(&path.as_str()),
            "{path} is not in the matrix"
        );
    }

    let mut failures = Vec::new();
    for (path, body, foreign) in &matrix {
        // With another workspace's admin key.
        let result = call(&stack, path, &foreign_key, body.clone()).await;
        let ok = match (foreign, &result) {
            (Foreign::NotFound, Err(status)) => status.code() == Code::NotFound,
            (Foreign::Nothing(_), Err(status)) => status.code() == Code::NotFound,
            (Foreign::Nothing(check), Ok(bytes)) => check(bytes),
            (Foreign::Own, Ok(_)) => true,
            (Foreign::Denied, Err(status)) => status.code() == Code::PermissionDenied,
            _ => false,
        };
        if !ok {
            failures.push(format!("foreign {path}: {:?}", result.err()));
        }

        // With under-scoped keys of A: refused before the handler runs.
        let access = switchyard_tenancy::auth::access::access(path).expect("has a rule");
        let needed = match access {
            Access::Workspace(scope) => Some(scope),
            Access::Operator | Access::Internal => None,
        };
        for (scope, key) in &scoped {
            let allowed = needed.is_some_and(|needed| Scopes::of(&[*scope]).allows(needed));
            if allowed {
                continue;
            }
            match call(&stack, path, key, body.clone()).await {
                Err(status) if status.code() == Code::PermissionDenied => {}
                other => failures.push(format!("{scope} key on {path}: {:?}", other.err())),
            }
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");

    // Nothing of A changed: its connection, rule, key and event type live on.
    let live = |table: &str| {
        format!(
            "SELECT count(*) FROM {table} WHERE workspace_id = '{}' AND deleted_at IS NULL",
            stack.workspace.as_uuid()
        )
    };
    assert_eq!(stack.count(&live("connections")).await?, 1);
    assert_eq!(stack.count(&live("rules")).await?, 1);
    let renamed = stack
        .count(&format!(
            "SELECT count(*) FROM connections WHERE workspace_id = '{}' AND name = 'receiver' \
               AND state = 'active'",
            stack.workspace.as_uuid()
        ))
        .await?;
    assert_eq!(renamed, 1);
    let a_keys = stack
        .count(&format!(
            "SELECT count(*) FROM api_keys WHERE workspace_id = '{}' AND revoked_at IS NULL",
            stack.workspace.as_uuid()
        ))
        .await?;
    assert_eq!(a_keys, 3);
    // The operator creates and lists workspaces; the new admin key works.
    let created = call(
        &stack,
        "/switchyard.v1.WorkspaceService/CreateWorkspace",
        switchyard_tests::OPERATOR_TOKEN,
        proto::CreateWorkspaceRequest {
            slug: "initech".to_string(),
        }
        .encode_to_vec(),
    )
    .await?;
    let created = proto::CreateWorkspaceResponse::decode(&created[..])?;
    let workspace = created.workspace.expect("workspace");
    assert_eq!(workspace.slug, "initech");
    assert!(workspace.created_at.is_some());
    assert!(created.api_key.starts_with("sy_live_"));
    let listed = call(
        &stack,
        "/switchyard.v1.WorkspaceService/ListApiKeys",
        &created.api_key,
        proto::ListApiKeysRequest::default().encode_to_vec(),
    )
    .await?;
    assert_eq!(
        proto::ListApiKeysResponse::decode(&listed[..])?.keys.len(),
        1
    );
    let all = call(
        &stack,
        "/switchyard.v1.WorkspaceService/ListWorkspaces",
        switchyard_tests::OPERATOR_TOKEN,
        proto::ListWorkspacesRequest::default().encode_to_vec(),
    )
    .await?;
    let slugs: Vec<String> = proto::ListWorkspacesResponse::decode(&all[..])?
        .workspaces
        .into_iter()
        .map(|w| w.slug)
        .collect();
    assert_eq!(slugs, ["test", "globex", "initech"]);

    // Missing and malformed credentials are Unauthenticated.
    let missing = call(
        &stack,
        "/switchyard.v1.RouterService/ListRules",
        "sy_live_nope",
        vec![],
    )
    .await;
    assert_eq!(missing.err().map(|s| s.code()), Some(Code::Unauthenticated));
    stack.stop().await
}

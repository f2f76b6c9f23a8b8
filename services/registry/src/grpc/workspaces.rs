//! `WorkspaceService`: tenants (operator token) and each workspace's
//! credentials — API keys and JWT verification keys — its audit log and
//! its retention periods (admin scope; the ingest retention loop applies
//! them). The work is in `switchyard_tenancy::auth`,
//! `switchyard_tenancy::audit` and `crate::api::workspaces`; this file
//! converts messages and picks the caller's workspace from the principal
//! the access layer attached. HS256
//! secrets are sealed with the authenticator's master keyring (refused
//! without one) and, like every key, never returned.

use std::time::Duration;

use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{ApiKeyId, AuditEventId, VerificationKeyId, WorkspaceId};
use switchyard_core::paging;
use switchyard_core::time::to_proto;
use switchyard_proto::v1 as pb;
use switchyard_proto::v1::workspace_service_server::WorkspaceService;
use switchyard_tenancy::audit;
use switchyard_tenancy::auth::jwt::{self, KeyAlgorithm, VerificationKey};
use switchyard_tenancy::auth::keys::{self, ApiKeyRecord, NewKey};
use switchyard_tenancy::auth::{Authenticator, Operator, Scope, Scopes, principal};
use tonic::{Request, Response, Status};

use crate::api::workspaces::{self, DEFAULT_RETENTION_DAYS, WorkspaceRecord};

pub struct WorkspaceGrpc {
    auth: Authenticator,
}

impl WorkspaceGrpc {
    pub fn new(auth: Authenticator) -> Self {
        Self { auth }
    }
}

fn operator<T>(request: &Request<T>) -> ApiResult<()> {
    request
        .extensions()
        .get::<Operator>()
        .map(|_| ())
        .ok_or_else(|| ApiError::PermissionDenied("this RPC needs the operator token".to_string()))
}

fn scope_to_proto(scope: Scope) -> pb::ApiKeyScope {
    match scope {
        Scope::Emit => pb::ApiKeyScope::Emit,
        Scope::Read => pb::ApiKeyScope::Read,
        Scope::Admin => pb::ApiKeyScope::Admin,
    }
}

fn scopes_from_proto(values: &[i32]) -> ApiResult<Scopes> {
    let mut scopes = Vec::new();
    for (index, value) in values.iter().enumerate() {
        let scope = match pb::ApiKeyScope::try_from(*value) {
            Ok(pb::ApiKeyScope::Emit) => Scope::Emit,
            Ok(pb::ApiKeyScope::Read) => Scope::Read,
            Ok(pb::ApiKeyScope::Admin) => Scope::Admin,
            _ => {
                return Err(ApiError::invalid(
                    format!("scopes[{index}]"),
                    "must be EMIT, READ or ADMIN",
                ));
            }
        };
        scopes.push(scope);
    }
    if scopes.is_empty() {
        return Err(ApiError::invalid("scopes", "needs at least one scope"));
    }
    Ok(Scopes::of(&scopes))
}

fn key_message(record: &ApiKeyRecord) -> pb::ApiKey {
    pb::ApiKey {
        id: record.id.to_string(),
        name: record.name.clone(),
        prefix: record.prefix.clone(),
        environment: record.environment.clone(),
        scopes: record
            .scopes
            .iter()
            .map(|scope| scope_to_proto(scope) as i32)
            .collect(),
        created_at: Some(to_proto(record.created_at)),
        expires_at: record.expires_at.map(to_proto),
        revoked_at: record.revoked_at.map(to_proto),
        created_by: record.created_by.clone(),
    }
}

fn verification_key_message(key: &VerificationKey) -> pb::VerificationKey {
    let algorithm = match key.algorithm {
        KeyAlgorithm::EdDsa => pb::VerificationAlgorithm::Eddsa,
        KeyAlgorithm::Rs256 => pb::VerificationAlgorithm::Rs256,
        KeyAlgorithm::Hs256 => pb::VerificationAlgorithm::Hs256,
    };
    pb::VerificationKey {
        id: key.id.to_string(),
        kid: key.kid.clone(),
        algorithm: algorithm as i32,
        created_at: Some(to_proto(key.created_at)),
        created_by: key.created_by.clone(),
    }
}

fn parse_id<T>(text: &str, parse: impl Fn(&str) -> Result<T, String>) -> ApiResult<T> {
    parse(text).map_err(|reason| ApiError::invalid("id", reason))
}

fn grace(value: Option<&prost_types::Duration>) -> ApiResult<Duration> {
    let Some(value) = value else {
        return Ok(Duration::ZERO);
    };
    let seconds = u64::try_from(value.seconds)
        .map_err(|_| ApiError::invalid("grace_period", "must not be negative"))?;
    let nanos = u32::try_from(value.nanos)
        .map_err(|_| ApiError::invalid("grace_period", "must not be negative"))?;
    Ok(Duration::new(seconds, nanos))
}

fn workspace_message(record: &WorkspaceRecord) -> pb::Workspace {
    pb::Workspace {
        id: record.id.to_string(),
        slug: record.slug.clone(),
        created_at: Some(to_proto(record.created_at)),
        retention_days: record.retention_days,
        payload_retention_days: record.payload_retention_days,
    }
}

impl WorkspaceGrpc {
    async fn create_workspace_inner(
        &self,
        request: Request<pb::CreateWorkspaceRequest>,
    ) -> ApiResult<pb::CreateWorkspaceResponse> {
        operator(&request)?;
        let slug = request.into_inner().slug;
        let (workspace, record, key) =
            keys::create_workspace_full(self.auth.pool(), self.auth.hasher(), &slug).await?;
        tracing::info!(workspace = %workspace, "workspace created");
        // The workspace and its first key share the transaction's `now()`.
        let created_at = record.created_at;
        Ok(pb::CreateWorkspaceResponse {
            workspace: Some(pb::Workspace {
                id: workspace.to_string(),
                slug,
                created_at: Some(to_proto(created_at)),
                retention_days: DEFAULT_RETENTION_DAYS,
                payload_retention_days: DEFAULT_RETENTION_DAYS,
            }),
            api_key: key,
            key: Some(key_message(&record)),
        })
    }

    async fn list_workspaces_inner(
        &self,
        request: Request<pb::ListWorkspacesRequest>,
    ) -> ApiResult<pb::ListWorkspacesResponse> {
        operator(&request)?;
        let request = request.into_inner();
        let limit = paging::page_size(request.page_size)?;
        let after = paging::after(&request.page_token, WorkspaceId::parse)?;
        let mut records =
            workspaces::list(self.auth.pool(), after, paging::fetch_limit(limit)).await?;
        let next_page_token = paging::finish(&mut records, limit, |record| record.id);
        Ok(pb::ListWorkspacesResponse {
            next_page_token,
            workspaces: records.iter().map(workspace_message).collect(),
        })
    }

    async fn create_api_key_inner(
        &self,
        request: Request<pb::CreateApiKeyRequest>,
    ) -> ApiResult<pb::CreateApiKeyResponse> {
        let caller = principal(&request)?.clone();
        let request = request.into_inner();
        let expires_at = match request.expires_at {
            Some(at) => Some(
                switchyard_core::time::from_proto(&at)
                    .map_err(|reason| ApiError::invalid("expires_at", reason))?,
            ),
            None => None,
        };
        let new = NewKey {
            name: &request.name,
            environment: &request.environment,
            scopes: scopes_from_proto(&request.scopes)?,
            expires_at,
            actor: &caller.actor,
        };
        let (record, key) =
            keys::create_key(self.auth.pool(), self.auth.hasher(), caller.workspace, &new).await?;
        Ok(pb::CreateApiKeyResponse {
            key: Some(key_message(&record)),
            api_key: key,
        })
    }

    async fn list_api_keys_inner(
        &self,
        request: Request<pb::ListApiKeysRequest>,
    ) -> ApiResult<pb::ListApiKeysResponse> {
        let workspace = principal(&request)?.workspace;
        let records = keys::list_keys(
            self.auth.pool(),
            workspace,
            request.get_ref().include_inactive,
        )
        .await?;
        Ok(pb::ListApiKeysResponse {
            keys: records.iter().map(key_message).collect(),
        })
    }

    async fn revoke_api_key_inner(
        &self,
        request: Request<pb::RevokeApiKeyRequest>,
    ) -> ApiResult<pb::RevokeApiKeyResponse> {
        let caller = principal(&request)?.clone();
        let id = parse_id(&request.get_ref().id, ApiKeyId::parse)?;
        let record =
            keys::revoke_key(self.auth.pool(), caller.workspace, id, &caller.actor).await?;
        Ok(pb::RevokeApiKeyResponse {
            key: Some(key_message(&record)),
        })
    }

    async fn rotate_api_key_inner(
        &self,
        request: Request<pb::RotateApiKeyRequest>,
    ) -> ApiResult<pb::RotateApiKeyResponse> {
        let caller = principal(&request)?.clone();
        let request = request.into_inner();
        let id = parse_id(&request.id, ApiKeyId::parse)?;
        let grace = grace(request.grace_period.as_ref())?;
        let (record, key, previous) = keys::rotate_key(
            self.auth.pool(),
            self.auth.hasher(),
            caller.workspace,
            id,
            grace,
            &caller.actor,
        )
        .await?;
        Ok(pb::RotateApiKeyResponse {
            key: Some(key_message(&record)),
            api_key: key,
            previous: Some(key_message(&previous)),
        })
    }

    async fn add_verification_key_inner(
        &self,
        request: Request<pb::AddVerificationKeyRequest>,
    ) -> ApiResult<pb::AddVerificationKeyResponse> {
        let caller = principal(&request)?.clone();
        let request = request.into_inner();
        let algorithm = match pb::VerificationAlgorithm::try_from(request.algorithm) {
            Ok(pb::VerificationAlgorithm::Eddsa) => KeyAlgorithm::EdDsa,
            Ok(pb::VerificationAlgorithm::Rs256) => KeyAlgorithm::Rs256,
            Ok(pb::VerificationAlgorithm::Hs256) => KeyAlgorithm::Hs256,
            _ => {
                return Err(ApiError::invalid(
                    "algorithm",
                    "must be EDDSA, RS256 or HS256",
                ));
            }
        };
        let key = jwt::add_key(
            self.auth.pool(),
            self.auth.keyring(),
            caller.workspace,
            &request.kid,
            algorithm,
            &request.material,
            &caller.actor,
        )
        .await?;
        Ok(pb::AddVerificationKeyResponse {
            key: Some(verification_key_message(&key)),
        })
    }

    async fn list_verification_keys_inner(
        &self,
        request: Request<pb::ListVerificationKeysRequest>,
    ) -> ApiResult<pb::ListVerificationKeysResponse> {
        let workspace = principal(&request)?.workspace;
        let keys = jwt::active_keys(self.auth.pool(), workspace).await?;
        Ok(pb::ListVerificationKeysResponse {
            keys: keys.iter().map(verification_key_message).collect(),
        })
    }

    async fn remove_verification_key_inner(
        &self,
        request: Request<pb::RemoveVerificationKeyRequest>,
    ) -> ApiResult<pb::RemoveVerificationKeyResponse> {
        let caller = principal(&request)?.clone();
        let id = parse_id(&request.get_ref().id, VerificationKeyId::parse)?;
        jwt::remove_key(self.auth.pool(), caller.workspace, id, &caller.actor).await?;
        Ok(pb::RemoveVerificationKeyResponse {})
    }

    async fn get_caller_inner(
        &self,
        request: Request<pb::GetCallerRequest>,
    ) -> ApiResult<pb::GetCallerResponse> {
        let caller = principal(&request)?.clone();
        let record = workspaces::get(self.auth.pool(), caller.workspace).await?;
        Ok(pb::GetCallerResponse {
            workspace: Some(workspace_message(&record)),
            scopes: caller
                .scopes
                .iter()
                .map(|scope| scope_to_proto(scope) as i32)
                .collect(),
            actor: caller.actor,
        })
    }

    async fn set_retention_inner(
        &self,
        request: Request<pb::SetRetentionRequest>,
    ) -> ApiResult<pb::SetRetentionResponse> {
        let caller = principal(&request)?.clone();
        let request = request.into_inner();
        let record = workspaces::set_retention(
            self.auth.pool(),
            &caller,
            request.retention_days,
            request.payload_retention_days,
        )
        .await?;
        Ok(pb::SetRetentionResponse {
            workspace: Some(workspace_message(&record)),
        })
    }

    async fn list_audit_events_inner(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> ApiResult<pb::ListAuditEventsResponse> {
        let workspace = principal(&request)?.workspace;
        let request = request.into_inner();
        let limit = paging::page_size(request.page_size)?;
        let before = paging::after(&request.page_token, AuditEventId::parse)?;
        let resource = Some(request.resource.as_str()).filter(|r| !r.is_empty());
        let mut events = audit::list(
            self.auth.pool(),
            workspace,
            resource,
            before,
            paging::fetch_limit(limit),
        )
        .await?;
        let next_page_token = paging::finish(&mut events, limit, |event| event.id);
        let json = |value: &Option<serde_json::Value>| {
            value.as_ref().map(ToString::to_string).unwrap_or_default()
        };
        Ok(pb::ListAuditEventsResponse {
            next_page_token,
            events: events
                .iter()
                .map(|event| pb::AuditEvent {
                    id: event.id.to_string(),
                    actor: event.actor.clone(),
                    action: event.action.clone(),
                    resource: event.resource.clone(),
                    before_json: json(&event.before),
                    after_json: json(&event.after),
                    at: Some(to_proto(event.at)),
                })
                .collect(),
        })
    }
}

#[tonic::async_trait]
impl WorkspaceService for WorkspaceGrpc {
    async fn create_workspace(
        &self,
        request: Request<pb::CreateWorkspaceRequest>,
    ) -> Result<Response<pb::CreateWorkspaceResponse>, Status> {
        Ok(Response::new(self.create_workspace_inner(request).await?))
    }

    async fn list_workspaces(
        &self,
        request: Request<pb::ListWorkspacesRequest>,
    ) -> Result<Response<pb::ListWorkspacesResponse>, Status> {
        Ok(Response::new(self.list_workspaces_inner(request).await?))
    }

    async fn create_api_key(
        &self,
        request: Request<pb::CreateApiKeyRequest>,
    ) -> Result<Response<pb::CreateApiKeyResponse>, Status> {
        Ok(Response::new(self.create_api_key_inner(request).await?))
    }

    async fn list_api_keys(
        &self,
        request: Request<pb::ListApiKeysRequest>,
    ) -> Result<Response<pb::ListApiKeysResponse>, Status> {
        Ok(Response::new(self.list_api_keys_inner(request).await?))
    }

    async fn revoke_api_key(
        &self,
        request: Request<pb::RevokeApiKeyRequest>,
    ) -> Result<Response<pb::RevokeApiKeyResponse>, Status> {
        Ok(Response::new(self.revoke_api_key_inner(request).await?))
    }

    async fn rotate_api_key(
        &self,
        request: Request<pb::RotateApiKeyRequest>,
    ) -> Result<Response<pb::RotateApiKeyResponse>, Status> {
        Ok(Response::new(self.rotate_api_key_inner(request).await?))
    }

    async fn add_verification_key(
        &self,
        request: Request<pb::AddVerificationKeyRequest>,
    ) -> Result<Response<pb::AddVerificationKeyResponse>, Status> {
        Ok(Response::new(
            self.add_verification_key_inner(request).await?,
        ))
    }

    async fn list_verification_keys(
        &self,
        request: Request<pb::ListVerificationKeysRequest>,
    ) -> Result<Response<pb::ListVerificationKeysResponse>, Status> {
        Ok(Response::new(
            self.list_verification_keys_inner(request).await?,
        ))
    }

    async fn remove_verification_key(
        &self,
        request: Request<pb::RemoveVerificationKeyRequest>,
    ) -> Result<Response<pb::RemoveVerificationKeyResponse>, Status> {
        Ok(Response::new(
            self.remove_verification_key_inner(request).await?,
        ))
    }

    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Result<Response<pb::ListAuditEventsResponse>, Status> {
        Ok(Response::new(self.list_audit_events_inner(request).await?))
    }

    async fn get_caller(
        &self,
        request: Request<pb::GetCallerRequest>,
    ) -> Result<Response<pb::GetCallerResponse>, Status> {
        Ok(Response::new(self.get_caller_inner(request).await?))
    }

    async fn set_retention(
        &self,
        request: Request<pb::SetRetentionRequest>,
    ) -> Result<Response<pb::SetRetentionResponse>, Status> {
        Ok(Response::new(self.set_retention_inner(request).await?))
    }
}

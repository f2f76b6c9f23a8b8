//! The tonic adapter: authenticates each call to a workspace, hands plain
//! values to [`Registry`], and converts the result to protobuf. Errors are
//! [`ApiError`](switchyard_core::ApiError)s turned into `Status` by core's
//! single mapping, never built here.

use switchyard_core::auth::Authenticator;
use switchyard_core::time::to_proto;
use switchyard_proto::v1::registry_service_server::RegistryService;
use switchyard_proto::v1::{
    EventType, GetEventTypeRequest, GetEventTypeResponse, ListEventTypesRequest,
    ListEventTypesResponse, RegisterSchemaRequest, RegisterSchemaResponse, SchemaVersion,
    ValidatePayloadRequest, ValidatePayloadResponse, Violation,
};
use tonic::{Request, Response, Status};

use crate::service::Registry;
use crate::store::EventTypeRecord;

pub struct RegistryGrpc {
    registry: Registry,
    auth: Authenticator,
}

impl RegistryGrpc {
    pub fn new(registry: Registry, auth: Authenticator) -> Self {
        Self { registry, auth }
    }
}

#[tonic::async_trait]
impl RegistryService for RegistryGrpc {
    async fn register_schema(
        &self,
        request: Request<RegisterSchemaRequest>,
    ) -> Result<Response<RegisterSchemaResponse>, Status> {
        let workspace = self.auth.workspace(request.metadata()).await?;
        let request = request.into_inner();
        let registered = self
            .registry
            .register_schema(
                workspace,
                &request.event_type,
                request.json_schema,
                &request.description,
            )
            .await?;
        Ok(Response::new(RegisterSchemaResponse {
            event_type: registered.event_type,
            version: registered.version,
            unchanged: registered.unchanged,
        }))
    }

    async fn validate_payload(
        &self,
        request: Request<ValidatePayloadRequest>,
    ) -> Result<Response<ValidatePayloadResponse>, Status> {
        let workspace = self.auth.workspace(request.metadata()).await?;
        let request = request.into_inner();
        let validation = self
            .registry
            .validate_payload(
                workspace,
                &request.event_type,
                request.schema_version,
                &request.payload_json,
            )
            .await?;
        let outcome = validation.outcome;
        Ok(Response::new(ValidatePayloadResponse {
            valid: outcome.is_valid(),
            violations: outcome
                .violations
                .into_iter()
                .map(|violation| Violation {
                    instance_path: violation.instance_path,
                    schema_path: violation.schema_path,
                    message: violation.message,
                    keyword: violation.keyword,
                })
                .collect(),
            schema_version: validation.schema_version,
            truncated: outcome.truncated,
        }))
    }

    async fn get_event_type(
        &self,
        request: Request<GetEventTypeRequest>,
    ) -> Result<Response<GetEventTypeResponse>, Status> {
        let workspace = self.auth.workspace(request.metadata()).await?;
        let request = request.into_inner();
        let record = self
            .registry
            .get_event_type(workspace, &request.event_type)
            .await?;
        Ok(Response::new(GetEventTypeResponse {
            event_type: Some(to_event_type(record)),
        }))
    }

    async fn list_event_types(
        &self,
        request: Request<ListEventTypesRequest>,
    ) -> Result<Response<ListEventTypesResponse>, Status> {
        let workspace = self.auth.workspace(request.metadata()).await?;
        let request = request.into_inner();
        let page = self
            .registry
            .list_event_types(workspace, request.page_size, &request.page_token)
            .await?;
        Ok(Response::new(ListEventTypesResponse {
            event_types: page.event_types.into_iter().map(to_event_type).collect(),
            next_page_token: page.next_page_token,
        }))
    }
}

fn to_event_type(record: EventTypeRecord) -> EventType {
    EventType {
        name: record.name,
        description: record.description,
        latest_version: record.latest_version,
        versions: record
            .versions
            .into_iter()
            .map(|version| SchemaVersion {
                version: version.version,
                // Compact, as stored; `Value`'s Display cannot fail.
                json_schema: version.json_schema.to_string(),
                created_at: Some(to_proto(version.created_at)),
            })
            .collect(),
        created_at: Some(to_proto(record.created_at)),
    }
}

//! The tonic adapters: `RegistryService` here authenticates each call to a
//! workspace, hands plain values to [`Registry`], and converts the result
//! to protobuf (`convert.rs`); [`workspaces`] adapts `WorkspaceService`. Errors are [`ApiError`](switchyard_core::ApiError)s turned
//! into `Status` by core's single mapping, never built here.

pub(crate) mod convert;
pub(crate) mod workspaces;

use switchyard_proto::v1::registry_service_server::RegistryService;
use switchyard_proto::v1::{
    CheckCompatibilityRequest, CheckCompatibilityResponse, DeprecateEventTypeRequest,
    DeprecateEventTypeResponse, GetEventTypeRequest, GetEventTypeResponse, GetSchemaVersionRequest,
    GetSchemaVersionResponse, ListEventTypesRequest, ListEventTypesResponse, RegisterSchemaRequest,
    RegisterSchemaResponse, SetCompatibilityRequest, SetCompatibilityResponse,
    ValidatePayloadRequest, ValidatePayloadResponse, ValidatePayloadsRequest,
    ValidatePayloadsResponse,
};
use tonic::{Request, Response, Status};

use crate::api::{PayloadToValidate, Registry};
use convert::{
    to_batch_result, to_compatibility_response, to_event_type, to_schema_version, to_validation,
};

pub struct RegistryGrpc {
    registry: Registry,
}

impl RegistryGrpc {
    pub fn new(registry: Registry) -> Self {
        Self { registry }
    }
}

#[tonic::async_trait]
impl RegistryService for RegistryGrpc {
    async fn register_schema(
        &self,
        request: Request<RegisterSchemaRequest>,
    ) -> Result<Response<RegisterSchemaResponse>, Status> {
        let by = switchyard_tenancy::auth::principal(&request)?.clone();
        let request = request.into_inner();
        let registered = self
            .registry
            .register_schema(
                &by,
                &request.event_type,
                request.json_schema,
                &request.description,
                request.compatibility,
            )
            .await?;
        Ok(Response::new(RegisterSchemaResponse {
            event_type: registered.event_type,
            version: registered.version,
            unchanged: registered.unchanged,
            compatibility: registered.compatibility.to_proto().into(),
        }))
    }

    async fn check_compatibility(
        &self,
        request: Request<CheckCompatibilityRequest>,
    ) -> Result<Response<CheckCompatibilityResponse>, Status> {
        let workspace = switchyard_tenancy::auth::workspace(&request)?;
        let request = request.into_inner();
        let report = self
            .registry
            .check_compatibility(
                workspace,
                &request.event_type,
                request.json_schema,
                request.compatibility,
            )
            .await?;
        Ok(Response::new(to_compatibility_response(report)))
    }

    async fn validate_payload(
        &self,
        request: Request<ValidatePayloadRequest>,
    ) -> Result<Response<ValidatePayloadResponse>, Status> {
        let workspace = switchyard_tenancy::auth::workspace(&request)?;
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
        Ok(Response::new(to_validation(validation)))
    }

    async fn validate_payloads(
        &self,
        request: Request<ValidatePayloadsRequest>,
    ) -> Result<Response<ValidatePayloadsResponse>, Status> {
        let workspace = switchyard_tenancy::auth::workspace(&request)?;
        let payloads: Vec<PayloadToValidate> = request
            .into_inner()
            .payloads
            .into_iter()
            .map(|payload| PayloadToValidate {
                event_type: payload.event_type,
                schema_version: payload.schema_version,
                payload_json: payload.payload_json,
            })
            .collect();
        let results = self
            .registry
            .validate_payloads(workspace, &payloads)
            .await?;
        Ok(Response::new(ValidatePayloadsResponse {
            results: results.into_iter().map(to_batch_result).collect(),
        }))
    }

    async fn get_event_type(
        &self,
        request: Request<GetEventTypeRequest>,
    ) -> Result<Response<GetEventTypeResponse>, Status> {
        let workspace = switchyard_tenancy::auth::workspace(&request)?;
        let request = request.into_inner();
        let record = self
            .registry
            .get_event_type(workspace, &request.event_type)
            .await?;
        Ok(Response::new(GetEventTypeResponse {
            event_type: Some(to_event_type(record)),
        }))
    }

    async fn get_schema_version(
        &self,
        request: Request<GetSchemaVersionRequest>,
    ) -> Result<Response<GetSchemaVersionResponse>, Status> {
        let workspace = switchyard_tenancy::auth::workspace(&request)?;
        let request = request.into_inner();
        let (name, record) = self
            .registry
            .get_schema_version(workspace, &request.event_type, request.version)
            .await?;
        Ok(Response::new(GetSchemaVersionResponse {
            event_type: name.to_string(),
            schema_version: Some(to_schema_version(record)),
        }))
    }

    async fn list_event_types(
        &self,
        request: Request<ListEventTypesRequest>,
    ) -> Result<Response<ListEventTypesResponse>, Status> {
        let workspace = switchyard_tenancy::auth::workspace(&request)?;
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

    async fn set_compatibility(
        &self,
        request: Request<SetCompatibilityRequest>,
    ) -> Result<Response<SetCompatibilityResponse>, Status> {
        let by = switchyard_tenancy::auth::principal(&request)?.clone();
        let request = request.into_inner();
        let (record, previous) = self
            .registry
            .set_compatibility(&by, &request.event_type, request.compatibility)
            .await?;
        Ok(Response::new(SetCompatibilityResponse {
            event_type: Some(to_event_type(record)),
            previous: previous.to_proto().into(),
        }))
    }

    async fn deprecate_event_type(
        &self,
        request: Request<DeprecateEventTypeRequest>,
    ) -> Result<Response<DeprecateEventTypeResponse>, Status> {
        let by = switchyard_tenancy::auth::principal(&request)?.clone();
        let request = request.into_inner();
        let record = self
            .registry
            .deprecate_event_type(
                &by,
                &request.event_type,
                request.deprecated,
                &request.reason,
            )
            .await?;
        Ok(Response::new(DeprecateEventTypeResponse {
            event_type: Some(to_event_type(record)),
        }))
    }
}

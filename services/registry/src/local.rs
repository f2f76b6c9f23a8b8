//! The registry's validation called in-process, for a process that hosts
//! ingest beside the registry (the all-in-one `switchyard serve`): the same
//! operations and the same answers as `ValidatePayload(s)` over gRPC,
//! without the loopback round trip. The caller has already authenticated
//! the emitter to its workspace with the `emit` scope, the scope these
//! RPCs need.

use switchyard_core::error::ApiResult;
use switchyard_core::ids::WorkspaceId;
use switchyard_proto::v1::ValidatePayloadResponse;

use crate::api::{PayloadToValidate, Registry};
use crate::grpc::convert::to_validation;

#[derive(Clone)]
pub struct LocalValidation {
    registry: Registry,
}

impl LocalValidation {
    pub(crate) fn new(registry: Registry) -> Self {
        Self { registry }
    }

    /// `ValidatePayloads` for `workspace`: one result per payload, in
    /// order, within the same limits.
    pub async fn validate_payloads(
        &self,
        workspace: WorkspaceId,
        payloads: Vec<PayloadToValidate>,
    ) -> ApiResult<Vec<ApiResult<ValidatePayloadResponse>>> {
        let results = self
            .registry
            .validate_payloads(workspace, &payloads)
            .await?;
        Ok(results
            .into_iter()
            .map(|result| result.map(to_validation))
            .collect())
    }

    /// `ValidatePayload` for `workspace`.
    pub async fn validate_payload(
        &self,
        workspace: WorkspaceId,
        payload: PayloadToValidate,
    ) -> ApiResult<ValidatePayloadResponse> {
        let validation = self
            .registry
            .validate_payload(
                workspace,
                &payload.event_type,
                payload.schema_version,
                &payload.payload_json,
            )
            .await?;
        Ok(to_validation(validation))
    }
}

//! The tonic adapter of `IngestService`: emits and the event reads.

use switchyard_proto::v1 as pb;
use switchyard_proto::v1::ingest_service_server::{IngestService, IngestServiceServer};
use switchyard_tenancy::auth::layer::Authorized;
use tonic::service::Routes;
use tonic::{Request, Response, Status};

use crate::IngestState;
use crate::api::{emit, events};

/// `IngestService`, behind the access table's authentication.
pub fn routes(state: IngestState) -> Routes {
    let auth = state.auth.clone();
    let server = IngestServiceServer::new(state)
        .max_decoding_message_size(switchyard_core::grpc::MAX_REQUEST_BYTES);
    Routes::new(Authorized::new(server, auth))
}

#[tonic::async_trait]
impl IngestService for IngestState {
    async fn emit_event(
        &self,
        request: Request<pb::EmitEventRequest>,
    ) -> Result<Response<pb::EmitEventResponse>, Status> {
        Ok(Response::new(emit::emit_event(self, request).await?))
    }

    async fn emit_events(
        &self,
        request: Request<pb::EmitEventsRequest>,
    ) -> Result<Response<pb::EmitEventsResponse>, Status> {
        Ok(Response::new(emit::emit_events(self, request).await?))
    }

    #[tracing::instrument(skip_all)]
    async fn list_events(
        &self,
        request: Request<pb::ListEventsRequest>,
    ) -> Result<Response<pb::ListEventsResponse>, Status> {
        let workspace = switchyard_tenancy::auth::workspace(&request)?;
        Ok(Response::new(
            events::list(self, workspace, request.into_inner()).await?,
        ))
    }

    #[tracing::instrument(skip_all)]
    async fn get_event(
        &self,
        request: Request<pb::GetEventRequest>,
    ) -> Result<Response<pb::GetEventResponse>, Status> {
        let workspace = switchyard_tenancy::auth::workspace(&request)?;
        Ok(Response::new(
            events::get(self, workspace, request.into_inner()).await?,
        ))
    }
}

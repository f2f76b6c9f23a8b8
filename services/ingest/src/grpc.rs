//! The tonic adapter of `IngestService`.

use switchyard_proto::v1 as pb;
use switchyard_proto::v1::ingest_service_server::{IngestService, IngestServiceServer};
use tonic::service::Routes;
use tonic::{Request, Response, Status};

use crate::{IngestState, emit};

pub fn routes(state: IngestState) -> Routes {
    Routes::new(IngestServiceServer::new(state))
}

#[tonic::async_trait]
impl IngestService for IngestState {
    async fn emit_event(
        &self,
        request: Request<pb::EmitEventRequest>,
    ) -> Result<Response<pb::EmitEventResponse>, Status> {
        Ok(Response::new(emit::emit_event(self, request).await?))
    }
}

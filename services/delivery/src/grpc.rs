//! The tonic adapter: authenticate the caller's workspace, hand the request
//! to [`DeliveryApi`], turn its [`ApiError`](switchyard_core::ApiError) into
//! a status. No business logic lives here.

use switchyard_proto::v1::delivery_service_server::DeliveryService;
use switchyard_proto::v1::{
    GetDeliveryRequest, GetDeliveryResponse, GetDeliveryStatsRequest, GetDeliveryStatsResponse,
    ListDeliveriesRequest, ListDeliveriesResponse, ReplayDeadLettersRequest,
    ReplayDeadLettersResponse, RetryDeliveryRequest, RetryDeliveryResponse,
};
use switchyard_tenancy::auth::Authenticator;
use tonic::{Request, Response, Status};

use crate::api::DeliveryApi;

pub struct DeliveryGrpc {
    auth: Authenticator,
    api: DeliveryApi,
}

impl DeliveryGrpc {
    pub fn new(auth: Authenticator, api: DeliveryApi) -> Self {
        Self { auth, api }
    }

    pub fn auth(&self) -> &Authenticator {
        &self.auth
    }
}

#[tonic::async_trait]
impl DeliveryService for DeliveryGrpc {
    #[tracing::instrument(skip_all)]
    async fn list_deliveries(
        &self,
        request: Request<ListDeliveriesRequest>,
    ) -> Result<Response<ListDeliveriesResponse>, Status> {
        let workspace = switchyard_tenancy::auth::workspace(&request)?;
        let response = self.api.list(workspace, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn get_delivery(
        &self,
        request: Request<GetDeliveryRequest>,
    ) -> Result<Response<GetDeliveryResponse>, Status> {
        let workspace = switchyard_tenancy::auth::workspace(&request)?;
        let response = self.api.get(workspace, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn retry_delivery(
        &self,
        request: Request<RetryDeliveryRequest>,
    ) -> Result<Response<RetryDeliveryResponse>, Status> {
        let by = switchyard_tenancy::auth::principal(&request)?.clone();
        let response = self.api.retry(&by, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn replay_dead_letters(
        &self,
        request: Request<ReplayDeadLettersRequest>,
    ) -> Result<Response<ReplayDeadLettersResponse>, Status> {
        let by = switchyard_tenancy::auth::principal(&request)?.clone();
        let response = self.api.replay(&by, request.into_inner()).await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn get_delivery_stats(
        &self,
        request: Request<GetDeliveryStatsRequest>,
    ) -> Result<Response<GetDeliveryStatsResponse>, Status> {
        let workspace = switchyard_tenancy::auth::workspace(&request)?;
        let response = self.api.stats(workspace, request.into_inner()).await?;
        Ok(Response::new(response))
    }
}

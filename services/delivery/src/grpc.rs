//! The tonic adapter: authenticate the caller's workspace, hand the request
//! to [`DeliveryApi`], turn its [`ApiError`](switchyard_core::ApiError) into
//! a status. No business logic lives here.
//!
//! `DeliveryService` is the public API (workspace keys); the internal
//! `DeliveryControlService` answers the router only: the [`Authorized`]
//! layer lets nothing but the internal token through (see
//! `switchyard_tenancy::auth::access`), and each handler checks the token
//! again, as the router's `RoutingService` does.
//!
//! [`Authorized`]: switchyard_tenancy::auth::layer::Authorized

use switchyard_core::error::ApiResult;
use switchyard_proto::internal::v1 as internal;
use switchyard_proto::internal::v1::delivery_control_service_server::DeliveryControlService;
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

    /// Refuses any caller but another Switchyard service.
    fn internal_caller<T>(&self, request: &Request<T>) -> ApiResult<()> {
        let token = switchyard_tenancy::auth::bearer_token(request.metadata())?;
        self.auth.internal_token(token)
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

#[tonic::async_trait]
impl DeliveryControlService for DeliveryGrpc {
    #[tracing::instrument(skip_all)]
    async fn get_breaker(
        &self,
        request: Request<internal::GetBreakerRequest>,
    ) -> Result<Response<internal::GetBreakerResponse>, Status> {
        self.internal_caller(&request)?;
        let response = self.api.breaker(request.into_inner()).await?;
        Ok(Response::new(response))
    }

    #[tracing::instrument(skip_all)]
    async fn requeue_connection(
        &self,
        request: Request<internal::RequeueConnectionRequest>,
    ) -> Result<Response<internal::RequeueConnectionResponse>, Status> {
        self.internal_caller(&request)?;
        let response = self.api.requeue_connection(request.into_inner()).await?;
        Ok(Response::new(response))
    }
}

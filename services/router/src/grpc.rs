//! The tonic adapters: `RouterService` (public, workspace keys) and
//! `RoutingService` (internal token). Handlers parse, authenticate, call
//! the domain modules and convert records to messages; errors convert to
//! `Status` through `ApiError` only.

use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{ConnectionId, EventId, RuleId, WorkspaceId};
use switchyard_core::{paging, time};
use switchyard_proto::internal::v1 as internal;
use switchyard_proto::internal::v1::routing_service_server::{
    RoutingService, RoutingServiceServer,
};
use switchyard_proto::v1 as pb;
use switchyard_proto::v1::router_service_server::{RouterService, RouterServiceServer};
use tonic::service::Routes;
use tonic::{Request, Response, Status};

use crate::RouterState;
use crate::connections::{self, ConnectionRecord};
use crate::routing;
use crate::rules::{self, NewRule, RuleFilter, RuleRecord};

pub fn routes(state: RouterState) -> Routes {
    Routes::new(RouterServiceServer::new(state.clone()))
        .add_service(RoutingServiceServer::new(state))
}

fn connection_message(record: &ConnectionRecord, secret: Option<String>) -> pb::Connection {
    let webhook = record.masked_webhook();
    pb::Connection {
        id: record.id.to_string(),
        name: record.name.clone(),
        kind: record.kind.clone(),
        webhook: Some(pb::WebhookConfig {
            url: webhook.url,
            headers: webhook.headers,
        }),
        signing_secret: secret.unwrap_or_default(),
        created_at: Some(time::to_proto(record.created_at)),
    }
}

fn rule_message(record: &RuleRecord) -> pb::Rule {
    pb::Rule {
        id: record.id.to_string(),
        event_type: record.event_type.clone(),
        connection_id: record.connection_id.to_string(),
        enabled: record.enabled,
        description: record.description.clone(),
        created_at: Some(time::to_proto(record.created_at)),
    }
}

fn parse_connection_id(text: &str, field: &str) -> ApiResult<ConnectionId> {
    ConnectionId::parse(text).map_err(|reason| ApiError::invalid(field, reason))
}

fn parse_rule_id(text: &str) -> ApiResult<RuleId> {
    RuleId::parse(text).map_err(|reason| ApiError::invalid("id", reason))
}

impl RouterState {
    async fn workspace<T>(&self, request: &Request<T>) -> ApiResult<WorkspaceId> {
        self.auth.workspace(request.metadata()).await
    }

    async fn create_connection(
        &self,
        request: Request<pb::CreateConnectionRequest>,
    ) -> ApiResult<pb::Connection> {
        let workspace = self.workspace(&request).await?;
        let request = request.into_inner();
        let name = connections::validate_name(&request.name)?;
        let Some(pb::create_connection_request::Destination::Webhook(webhook)) =
            request.destination
        else {
            return Err(ApiError::invalid("destination", "is required (webhook)"));
        };
        let settings =
            connections::validate_webhook(&webhook.url, &webhook.headers, &self.destinations)
                .await?;
        let (record, secret) =
            connections::create_webhook(&self.pool, workspace, &name, settings).await?;
        tracing::info!(workspace = %workspace, connection = %record.id, "connection created");
        Ok(connection_message(&record, Some(secret)))
    }

    async fn list_connections(
        &self,
        request: Request<pb::ListConnectionsRequest>,
    ) -> ApiResult<pb::ListConnectionsResponse> {
        let workspace = self.workspace(&request).await?;
        let request = request.into_inner();
        let limit = paging::page_size(request.page_size)?;
        let after = paging::after(&request.page_token, ConnectionId::parse)?;
        let records = connections::list(&self.pool, workspace, after, limit).await?;
        Ok(pb::ListConnectionsResponse {
            next_page_token: paging::next_token(
                records.len(),
                limit,
                records.last().map(|r| &r.id),
            ),
            connections: records
                .iter()
                .map(|r| connection_message(r, None))
                .collect(),
        })
    }

    async fn list_rules(
        &self,
        request: Request<pb::ListRulesRequest>,
    ) -> ApiResult<pb::ListRulesResponse> {
        let workspace = self.workspace(&request).await?;
        let request = request.into_inner();
        let limit = paging::page_size(request.page_size)?;
        let filter = RuleFilter {
            event_type: (!request.event_type.is_empty()).then_some(request.event_type),
            connection_id: match request.connection_id.as_str() {
                "" => None,
                text => Some(parse_connection_id(text, "connection_id")?),
            },
            after: paging::after(&request.page_token, RuleId::parse)?,
            limit,
        };
        let records = rules::list(&self.pool, workspace, filter).await?;
        Ok(pb::ListRulesResponse {
            next_page_token: paging::next_token(
                records.len(),
                limit,
                records.last().map(|r| &r.id),
            ),
            rules: records.iter().map(rule_message).collect(),
        })
    }

    async fn route_event(
        &self,
        request: Request<internal::RouteEventRequest>,
    ) -> ApiResult<internal::RouteEventResponse> {
        self.auth.internal(request.metadata())?;
        let request = request.into_inner();
        let workspace = WorkspaceId::parse(&request.workspace_id)
            .map_err(|reason| ApiError::invalid("workspace_id", reason))?;
        let event = EventId::parse(&request.event_id)
            .map_err(|reason| ApiError::invalid("event_id", reason))?;
        let outcome =
            routing::route_event(&self.pool, &self.redis, &self.keys, workspace, event).await?;
        Ok(internal::RouteEventResponse {
            delivery_count: outcome.delivery_count,
            created_count: u32::try_from(outcome.created.len()).unwrap_or(u32::MAX),
        })
    }
}

#[tonic::async_trait]
impl RouterService for RouterState {
    async fn create_connection(
        &self,
        request: Request<pb::CreateConnectionRequest>,
    ) -> Result<Response<pb::CreateConnectionResponse>, Status> {
        let connection = RouterState::create_connection(self, request).await?;
        Ok(Response::new(pb::CreateConnectionResponse {
            connection: Some(connection),
        }))
    }

    async fn get_connection(
        &self,
        request: Request<pb::GetConnectionRequest>,
    ) -> Result<Response<pb::GetConnectionResponse>, Status> {
        let workspace = self.workspace(&request).await?;
        let id = parse_connection_id(&request.get_ref().id, "id")?;
        let record = connections::get(&self.pool, workspace, id).await?;
        Ok(Response::new(pb::GetConnectionResponse {
            connection: Some(connection_message(&record, None)),
        }))
    }

    async fn list_connections(
        &self,
        request: Request<pb::ListConnectionsRequest>,
    ) -> Result<Response<pb::ListConnectionsResponse>, Status> {
        Ok(Response::new(
            RouterState::list_connections(self, request).await?,
        ))
    }

    async fn delete_connection(
        &self,
        request: Request<pb::DeleteConnectionRequest>,
    ) -> Result<Response<pb::DeleteConnectionResponse>, Status> {
        let workspace = self.workspace(&request).await?;
        let id = parse_connection_id(&request.get_ref().id, "id")?;
        connections::delete(&self.pool, workspace, id).await?;
        Ok(Response::new(pb::DeleteConnectionResponse {}))
    }

    async fn create_rule(
        &self,
        request: Request<pb::CreateRuleRequest>,
    ) -> Result<Response<pb::CreateRuleResponse>, Status> {
        let workspace = self.workspace(&request).await?;
        let request = request.into_inner();
        let rule = NewRule::parse(
            &request.event_type,
            &request.connection_id,
            &request.description,
        )?;
        let record = rules::create(&self.pool, workspace, rule).await?;
        Ok(Response::new(pb::CreateRuleResponse {
            rule: Some(rule_message(&record)),
        }))
    }

    async fn list_rules(
        &self,
        request: Request<pb::ListRulesRequest>,
    ) -> Result<Response<pb::ListRulesResponse>, Status> {
        Ok(Response::new(RouterState::list_rules(self, request).await?))
    }

    async fn delete_rule(
        &self,
        request: Request<pb::DeleteRuleRequest>,
    ) -> Result<Response<pb::DeleteRuleResponse>, Status> {
        let workspace = self.workspace(&request).await?;
        let id = parse_rule_id(&request.get_ref().id)?;
        rules::delete(&self.pool, workspace, id).await?;
        Ok(Response::new(pb::DeleteRuleResponse {}))
    }
}

#[tonic::async_trait]
impl RoutingService for RouterState {
    async fn route_event(
        &self,
        request: Request<internal::RouteEventRequest>,
    ) -> Result<Response<internal::RouteEventResponse>, Status> {
        Ok(Response::new(
            RouterState::route_event(self, request).await?,
        ))
    }
}

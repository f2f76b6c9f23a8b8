//! The tonic adapters: `RouterService` (public, workspace keys) and
//! `RoutingService` (internal token). Handlers parse, authenticate, call
//! the domain modules and convert records to messages; errors convert to
//! `Status` through `ApiError` only.
//!
//! - [`messages`]: records to messages, request fields to validated values.
//! - [`rules`]: the rule handlers, dry runs included.
//! - [`backfills`]: `BackfillRule`, `GetBackfill`, `ListBackfills`,
//!   `CancelBackfill`.
//! - [`connection_rpcs`]: `GetConnection` (with the circuit breakers), the
//!   connection controls (`UpdateConnection`, `PauseConnection`,
//!   `ResumeConnection`) and `RotateSigningSecret`.
//! - this file: the connection handlers, `RouteEvent(s)`, and the trait impls
//!   that delegate to them.

mod backfills;
mod connection_rpcs;
mod messages;
mod rules;

use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{ConnectionId, EventId, WorkspaceId};
use switchyard_core::paging;
use switchyard_core::states::ConnectionState;
use switchyard_proto::internal::v1 as internal;
use switchyard_proto::internal::v1::routing_service_server::{
    RoutingService, RoutingServiceServer,
};
use switchyard_proto::v1 as pb;
use switchyard_proto::v1::router_service_server::{RouterService, RouterServiceServer};
use switchyard_tenancy::auth::Principal;
use switchyard_tenancy::auth::layer::Authorized;
use tonic::service::Routes;
use tonic::{Request, Response, Status};

use self::messages::{connection_message, parse_connection_id};
use crate::RouterState;
use crate::api::connections;
use crate::routing;

pub fn routes(state: RouterState) -> Routes {
    let auth = state.auth.clone();
    Routes::new(Authorized::new(
        RouterServiceServer::new(state.clone()),
        auth.clone(),
    ))
    .add_service(Authorized::new(RoutingServiceServer::new(state), auth))
}

impl RouterState {
    async fn workspace<T>(&self, request: &Request<T>) -> ApiResult<WorkspaceId> {
        switchyard_tenancy::auth::workspace(request)
    }

    /// The caller of a change: its workspace, and its actor for the audit log.
    fn principal<T>(&self, request: &Request<T>) -> ApiResult<Principal> {
        switchyard_tenancy::auth::principal(request).cloned()
    }

    async fn create_connection(
        &self,
        request: Request<pb::CreateConnectionRequest>,
    ) -> ApiResult<pb::Connection> {
        let by = self.principal(&request)?;
        let workspace = by.workspace;
        let request = request.into_inner();
        let name = connections::validate_name(&request.name)?;
        let policy = connections::policy::from_proto(request.policy.as_ref())?;
        let limits = self.quotas.limits(workspace);
        use pb::create_connection_request::Destination;
        let saas = match request.destination {
            None => {
                return Err(ApiError::invalid(
                    "destination",
                    "is required (webhook, hubspot, mailchimp, salesforce, rabbitmq or nats)",
                ));
            }
            Some(Destination::Webhook(webhook)) => {
                let settings = connections::validate_webhook(
                    &webhook.url,
                    &webhook.headers,
                    &self.destinations,
                )
                .await?;
                let (record, secret) = connections::create_webhook(
                    &self.pool,
                    &self.keyring,
                    &by,
                    &limits,
                    &name,
                    settings,
                    &policy,
                )
                .await?;
                tracing::info!(workspace = %workspace, connection = %record.id, "connection created");
                return Ok(connection_message(&record, Some(secret)));
            }
            Some(Destination::Hubspot(hubspot)) => {
                connections::saas::validate_hubspot(&hubspot, &self.destinations, true).await?
            }
            Some(Destination::Mailchimp(mailchimp)) => {
                connections::saas::validate_mailchimp(&mailchimp, &self.destinations, true).await?
            }
            Some(Destination::Salesforce(salesforce)) => {
                connections::saas::validate_salesforce(&salesforce, &self.destinations, true)
                    .await?
            }
            Some(Destination::Rabbitmq(rabbitmq)) => {
                connections::broker::validate_rabbitmq(&rabbitmq, &self.destinations, true).await?
            }
            Some(Destination::Nats(nats)) => {
                connections::broker::validate_nats(&nats, &self.destinations, true).await?
            }
        };
        let record = connections::saas::create(
            &self.pool,
            &self.keyring,
            &by,
            &limits,
            &name,
            saas,
            &policy,
        )
        .await?;
        tracing::info!(workspace = %workspace, connection = %record.id, kind = %record.kind, "connection created");
        Ok(connection_message(&record, None))
    }

    async fn list_connections(
        &self,
        request: Request<pb::ListConnectionsRequest>,
    ) -> ApiResult<pb::ListConnectionsResponse> {
        let workspace = self.workspace(&request).await?;
        let request = request.into_inner();
        let limit = paging::page_size(request.page_size)?;
        let after = paging::after(&request.page_token, ConnectionId::parse)?;
        let fetch = paging::fetch_limit(limit);
        let mut records = connections::list(&self.pool, workspace, after, fetch).await?;
        Ok(pb::ListConnectionsResponse {
            next_page_token: paging::finish(&mut records, limit, |r| r.id),
            connections: records
                .iter()
                .map(|r| connection_message(r, None))
                .collect(),
        })
    }

    async fn route_event(
        &self,
        request: Request<internal::RouteEventRequest>,
    ) -> ApiResult<internal::RouteEventResponse> {
        self.auth
            .internal_token(switchyard_tenancy::auth::bearer_token(request.metadata())?)?;
        let request = request.into_inner();
        let workspace = WorkspaceId::parse(&request.workspace_id)
            .map_err(|reason| ApiError::invalid("workspace_id", reason))?;
        let event = EventId::parse(&request.event_id)
            .map_err(|reason| ApiError::invalid("event_id", reason))?;
        let outcome = routing::route_event(self, workspace, event).await?;
        Ok(internal::RouteEventResponse {
            delivery_count: outcome.delivery_count,
            created_count: u32::try_from(outcome.created.len()).unwrap_or(u32::MAX),
        })
    }

    async fn route_events(
        &self,
        request: Request<internal::RouteEventsRequest>,
    ) -> ApiResult<internal::RouteEventsResponse> {
        self.auth
            .internal_token(switchyard_tenancy::auth::bearer_token(request.metadata())?)?;
        let events = request.into_inner().events;
        if events.len() > routing::MAX_BATCH_EVENTS {
            return Err(ApiError::invalid(
                "events",
                format!(
                    "holds {} events, more than the limit of {}",
                    events.len(),
                    routing::MAX_BATCH_EVENTS
                ),
            ));
        }
        let references = events
            .iter()
            .enumerate()
            .map(|(index, event)| {
                Ok(routing::EventRef {
                    workspace: WorkspaceId::parse(&event.workspace_id).map_err(|reason| {
                        ApiError::invalid(format!("events[{index}].workspace_id"), reason)
                    })?,
                    event: EventId::parse(&event.event_id).map_err(|reason| {
                        ApiError::invalid(format!("events[{index}].event_id"), reason)
                    })?,
                })
            })
            .collect::<ApiResult<Vec<_>>>()?;
        let outcomes = routing::route_events(self, &references).await?;
        let mut response = internal::RouteEventsResponse::default();
        for (reference, outcome) in references.iter().zip(outcomes) {
            match outcome {
                Some(outcome) => {
                    response.routed_count += 1;
                    response.created_count = response
                        .created_count
                        .saturating_add(u32::try_from(outcome.created.len()).unwrap_or(u32::MAX));
                }
                None => response.missing_event_ids.push(reference.event.to_string()),
            }
        }
        Ok(response)
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
        let connection = RouterState::get_connection(self, request).await?;
        Ok(Response::new(pb::GetConnectionResponse {
            connection: Some(connection),
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
        let by = self.principal(&request)?;
        let id = parse_connection_id(&request.get_ref().id, "id")?;
        connections::delete(&self.pool, &by, id).await?;
        Ok(Response::new(pb::DeleteConnectionResponse {}))
    }

    async fn update_connection(
        &self,
        request: Request<pb::UpdateConnectionRequest>,
    ) -> Result<Response<pb::UpdateConnectionResponse>, Status> {
        Ok(Response::new(
            RouterState::update_connection(self, request).await?,
        ))
    }

    async fn pause_connection(
        &self,
        request: Request<pb::PauseConnectionRequest>,
    ) -> Result<Response<pb::PauseConnectionResponse>, Status> {
        let action = "RouterService/PauseConnection";
        let (connection, _) = self
            .set_connection_state(
                &request,
                &request.get_ref().id,
                ConnectionState::Paused,
                action,
            )
            .await?;
        Ok(Response::new(pb::PauseConnectionResponse {
            connection: Some(connection),
        }))
    }

    async fn resume_connection(
        &self,
        request: Request<pb::ResumeConnectionRequest>,
    ) -> Result<Response<pb::ResumeConnectionResponse>, Status> {
        let action = "RouterService/ResumeConnection";
        let (connection, requeued) = self
            .set_connection_state(
                &request,
                &request.get_ref().id,
                ConnectionState::Active,
                action,
            )
            .await?;
        Ok(Response::new(pb::ResumeConnectionResponse {
            connection: Some(connection),
            requeued_count: u32::try_from(requeued).unwrap_or(u32::MAX),
        }))
    }

    async fn rotate_signing_secret(
        &self,
        request: Request<pb::RotateSigningSecretRequest>,
    ) -> Result<Response<pb::RotateSigningSecretResponse>, Status> {
        Ok(Response::new(
            RouterState::rotate_signing_secret(self, request).await?,
        ))
    }

    async fn create_rule(
        &self,
        request: Request<pb::CreateRuleRequest>,
    ) -> Result<Response<pb::CreateRuleResponse>, Status> {
        let rule = RouterState::create_rule(self, request).await?;
        Ok(Response::new(pb::CreateRuleResponse { rule: Some(rule) }))
    }

    async fn get_rule(
        &self,
        request: Request<pb::GetRuleRequest>,
    ) -> Result<Response<pb::GetRuleResponse>, Status> {
        let rule = RouterState::get_rule(self, request).await?;
        Ok(Response::new(pb::GetRuleResponse { rule: Some(rule) }))
    }

    async fn update_rule(
        &self,
        request: Request<pb::UpdateRuleRequest>,
    ) -> Result<Response<pb::UpdateRuleResponse>, Status> {
        let rule = RouterState::update_rule(self, request).await?;
        Ok(Response::new(pb::UpdateRuleResponse { rule: Some(rule) }))
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
        RouterState::delete_rule(self, request).await?;
        Ok(Response::new(pb::DeleteRuleResponse {}))
    }

    async fn test_rule(
        &self,
        request: Request<pb::TestRuleRequest>,
    ) -> Result<Response<pb::TestRuleResponse>, Status> {
        Ok(Response::new(RouterState::test_rule(self, request).await?))
    }

    async fn test_event(
        &self,
        request: Request<pb::TestEventRequest>,
    ) -> Result<Response<pb::TestEventResponse>, Status> {
        Ok(Response::new(RouterState::test_event(self, request).await?))
    }

    async fn backfill_rule(
        &self,
        request: Request<pb::BackfillRuleRequest>,
    ) -> Result<Response<pb::BackfillRuleResponse>, Status> {
        let backfill = RouterState::backfill_rule(self, request).await?;
        Ok(Response::new(pb::BackfillRuleResponse {
            backfill: Some(backfill),
        }))
    }

    async fn get_backfill(
        &self,
        request: Request<pb::GetBackfillRequest>,
    ) -> Result<Response<pb::GetBackfillResponse>, Status> {
        let backfill = RouterState::get_backfill(self, request).await?;
        Ok(Response::new(pb::GetBackfillResponse {
            backfill: Some(backfill),
        }))
    }

    async fn list_backfills(
        &self,
        request: Request<pb::ListBackfillsRequest>,
    ) -> Result<Response<pb::ListBackfillsResponse>, Status> {
        Ok(Response::new(
            RouterState::list_backfills(self, request).await?,
        ))
    }

    async fn cancel_backfill(
        &self,
        request: Request<pb::CancelBackfillRequest>,
    ) -> Result<Response<pb::CancelBackfillResponse>, Status> {
        let backfill = RouterState::cancel_backfill(self, request).await?;
        Ok(Response::new(pb::CancelBackfillResponse {
            backfill: Some(backfill),
        }))
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

    async fn route_events(
        &self,
        request: Request<internal::RouteEventsRequest>,
    ) -> Result<Response<internal::RouteEventsResponse>, Status> {
        Ok(Response::new(
            RouterState::route_events(self, request).await?,
        ))
    }
}

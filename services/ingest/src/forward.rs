//! Handing committed events to the router, many per call. [`EventRouter`]
//! is the seam ([`GrpcRouter`] calls the internal `RouteEvents` with the
//! cluster's internal token). [`Forwarder`] batches the events of
//! concurrent emits into one call; nobody waits for it — an emit is
//! answered once committed — and a failed call is only logged, because the
//! outbox (see [`crate::outbox`]) forwards every event the router has not
//! marked routed.

use std::sync::Arc;
use std::time::Duration;

use switchyard_core::batch::Batcher;
use switchyard_core::error::ApiResult;
use switchyard_core::telemetry::propagation::TracedChannel;
use switchyard_proto::internal::v1::routing_service_client::RoutingServiceClient;
use switchyard_proto::internal::v1::{RouteEventRequest, RouteEventsRequest};
use tonic::Request;
use tonic::metadata::{Ascii, MetadataValue};

use crate::commit::Committed;

/// Events per `RouteEvents` call at most (the router's limit).
pub const MAX_CALL_EVENTS: usize = 1000;
/// Calls in flight at once.
const PARALLEL: usize = 2;
/// A routing call that takes longer is abandoned to the outbox.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// What the router did with a batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Routed {
    pub events: u32,
    pub deliveries_created: u32,
}

#[tonic::async_trait]
pub trait EventRouter: Send + Sync + 'static {
    /// Routes the events (at most [`MAX_CALL_EVENTS`]); idempotent.
    async fn route(&self, events: &[Committed]) -> ApiResult<Routed>;
}

/// The router over gRPC.
#[derive(Clone)]
pub struct GrpcRouter {
    routing: RoutingServiceClient<TracedChannel>,
    /// `Bearer <internal token>`.
    internal_auth: MetadataValue<Ascii>,
}

impl GrpcRouter {
    pub fn new(
        routing: RoutingServiceClient<TracedChannel>,
        internal_auth: MetadataValue<Ascii>,
    ) -> Self {
        Self {
            routing,
            internal_auth,
        }
    }
}

#[tonic::async_trait]
impl EventRouter for GrpcRouter {
    async fn route(&self, events: &[Committed]) -> ApiResult<Routed> {
        let mut request = Request::new(RouteEventsRequest {
            events: events
                .iter()
                .map(|committed| RouteEventRequest {
                    workspace_id: committed.workspace.to_string(),
                    event_id: committed.event.to_string(),
                })
                .collect(),
        });
        request
            .metadata_mut()
            .insert("authorization", self.internal_auth.clone());
        request.set_timeout(CALL_TIMEOUT);
        let response = self
            .routing
            .clone()
            .route_events(request)
            .await
            .map_err(|status| switchyard_core::error::ApiError::upstream("the router", status))?
            .into_inner();
        Ok(Routed {
            events: response.routed_count,
            deliveries_created: response.created_count,
        })
    }
}

/// Batches committed events into routing calls; cheap to clone.
#[derive(Clone)]
pub struct Forwarder {
    batcher: Batcher<Vec<Committed>, ()>,
}

impl Forwarder {
    pub fn spawn(router: Arc<dyn EventRouter>) -> Self {
        let batcher = Batcher::spawn(
            "route",
            MAX_CALL_EVENTS / 8,
            PARALLEL,
            move |batches: Vec<Vec<Committed>>| {
                let router = Arc::clone(&router);
                async move {
                    let count = batches.len();
                    let events: Vec<Committed> = batches.into_iter().flatten().collect();
                    for chunk in events.chunks(MAX_CALL_EVENTS) {
                        forward(router.as_ref(), chunk).await;
                    }
                    Ok(vec![(); count])
                }
            },
        );
        Self { batcher }
    }

    /// Queues `events` for the next routing call without waiting for it.
    pub fn forward_later(&self, events: Vec<Committed>) {
        if events.is_empty() {
            return;
        }
        let batcher = self.batcher.clone();
        tokio::spawn(async move {
            // The batch reports its own failures; this answer carries none.
            let _ = batcher.call(events).await;
        });
    }

    /// Event groups handed in and not yet routed (or given up on).
    pub fn backlog(&self) -> usize {
        self.batcher.backlog()
    }
}

/// Routes `events`; failures are only logged (the outbox retries).
pub async fn forward(router: &dyn EventRouter, events: &[Committed]) -> bool {
    match router.route(events).await {
        Ok(routed) => {
            tracing::debug!(
                events = routed.events,
                deliveries = routed.deliveries_created,
                "events routed"
            );
            true
        }
        Err(error) => {
            tracing::warn!(
                events = events.len(),
                code = ?error.code(),
                error = %error,
                "routing failed; the outbox will retry"
            );
            false
        }
    }
}

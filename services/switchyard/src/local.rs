//! In-process seams for services that share a process: ingest validates
//! through the registry and routes through the router by direct calls
//! instead of gRPC over loopback, with the same answers (the registry's
//! [`LocalValidation`] returns the RPC's messages; the router's
//! `route_events` is what `RouteEvents` runs).
//!
//! Each seam holds a [`Slot`]: filled while that service runs in this
//! process and emptied when it stops, so a stopped router or registry is
//! unreachable to ingest exactly as it would be over the network (emits
//! then fail with `Unavailable`, or wait in the outbox for routing).

use std::sync::{Arc, PoisonError, RwLock};

use switchyard_core::error::{ApiError, ApiResult};
use switchyard_ingest::commit::Committed;
use switchyard_ingest::forward::{EventRouter, Routed};
use switchyard_ingest::validation::{Caller, MAX_CALL_BYTES, PayloadCheck, PayloadValidator};
use switchyard_proto::v1::ValidatePayloadResponse;
use switchyard_registry::{LocalValidation, PayloadToValidate};
use switchyard_router::RouterState;
use switchyard_router::routing::{self, EventRef};

/// A running service's handle, or nothing while it is stopped.
pub struct Slot<T>(Arc<RwLock<Option<T>>>);

impl<T> Clone for Slot<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Self(Arc::new(RwLock::new(None)))
    }
}

impl<T: Clone> Slot<T> {
    pub fn fill(&self, value: T) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Some(value);
    }

    pub fn empty(&self) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn get(&self) -> Option<T> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// The registry in this process.
#[derive(Clone, Default)]
pub struct LocalRegistry(pub Slot<LocalValidation>);

#[tonic::async_trait]
impl PayloadValidator for LocalRegistry {
    async fn validate_chunk(
        &self,
        caller: Caller<'_>,
        payloads: &[PayloadCheck<'_>],
    ) -> ApiResult<Vec<ApiResult<ValidatePayloadResponse>>> {
        let registry = self.0.get().ok_or_else(|| {
            ApiError::Unavailable(
                "the schema registry is not running; the event was not stored, retry later"
                    .to_string(),
            )
        })?;
        let owned = |payload: &PayloadCheck<'_>| PayloadToValidate {
            event_type: payload.event_type.to_string(),
            schema_version: payload.schema_version,
            payload_json: payload.payload_json.to_string(),
        };
        if let [giant] = payloads
            && giant.payload_json.len() > MAX_CALL_BYTES
        {
            return Ok(vec![
                registry
                    .validate_payload(caller.workspace, owned(giant))
                    .await,
            ]);
        }
        registry
            .validate_payloads(caller.workspace, payloads.iter().map(owned).collect())
            .await
    }
}

/// The router in this process.
#[derive(Clone, Default)]
pub struct LocalRouter(pub Slot<RouterState>);

#[tonic::async_trait]
impl EventRouter for LocalRouter {
    async fn route(&self, events: &[Committed]) -> ApiResult<Routed> {
        let router = self
            .0
            .get()
            .ok_or_else(|| ApiError::Unavailable("the router is not running".to_string()))?;
        let references: Vec<EventRef> = events
            .iter()
            .map(|committed| EventRef {
                workspace: committed.workspace,
                event: committed.event,
            })
            .collect();
        let outcomes = routing::route_events(&router, &references).await?;
        let mut routed = Routed::default();
        for outcome in outcomes.into_iter().flatten() {
            routed.events += 1;
            routed.deliveries_created = routed
                .deliveries_created
                .saturating_add(u32::try_from(outcome.created.len()).unwrap_or(u32::MAX));
        }
        Ok(routed)
    }
}

/// The seams of one process's services.
#[derive(Clone, Default)]
pub struct LocalServices {
    pub registry: LocalRegistry,
    pub router: LocalRouter,
}

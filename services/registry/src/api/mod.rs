//! The registry's operations, free of gRPC: each takes the caller's
//! workspace (already authenticated; a change takes the whole principal,
//! whose actor its audit entry names) and plain request values, and
//! returns domain values or an [`ApiError`]. The gRPC adapter only
//! authenticates and converts.
//!
//! - `register.rs`: registration and its dry run, the compatibility check
//!   inside the type's row lock.
//! - `validate.rs`: payload validation, one or a batch, through the head
//!   and validator caches.
//! - this file: reads, mode changes and deprecation.
//!
//! Schema checks, compilation and compatibility checks are CPU-bound and run
//! on the blocking pool; validating a payload against a compiled validator
//! is quick and runs inline.

mod register;
mod validate;
pub mod workspaces;

use std::sync::Arc;

use deadpool_postgres::GenericClient;
use serde_json::Value;
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::WorkspaceId;
use switchyard_core::names::EventTypeName;
use switchyard_core::paging;
use switchyard_core::quotas::Quotas;
use switchyard_tenancy::audit;
use switchyard_tenancy::auth::Principal;

use crate::cache::ValidatorCache;
use crate::compat::Mode;
use crate::heads::HeadCache;
use crate::store::{EventTypeRecord, Store, VersionRecord};

pub use register::CompatibilityReport;
pub use validate::{MAX_BATCH_BYTES, MAX_BATCH_PAYLOADS, PayloadToValidate, Validation};

/// Longest accepted event type description or deprecation reason, in
/// characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

#[derive(Debug)]
pub struct Page {
    pub event_types: Vec<EventTypeRecord>,
    /// Empty on the last page.
    pub next_page_token: String,
}

/// Cheap to clone: the store holds a pool and the caches are shared.
#[derive(Clone)]
pub struct Registry {
    store: Store,
    validators: Arc<ValidatorCache>,
    heads: Arc<HeadCache>,
    quotas: Quotas,
}

impl Registry {
    pub fn new(
        store: Store,
        validators: Arc<ValidatorCache>,
        heads: Arc<HeadCache>,
        quotas: Quotas,
    ) -> Self {
        Self {
            store,
            validators,
            heads,
            quotas,
        }
    }

    #[tracing::instrument(skip_all, fields(workspace = %workspace, event_type = %event_type))]
    pub async fn get_event_type(
        &self,
        workspace: WorkspaceId,
        event_type: &str,
    ) -> ApiResult<EventTypeRecord> {
        let name = parse_name(event_type)?;
        self.store
            .event_type(workspace.as_uuid(), name.as_str(), true)
            .await?
            .ok_or_else(|| not_registered(&name))
    }

    /// One version; 0 is the latest.
    #[tracing::instrument(skip_all, fields(workspace = %workspace, event_type = %event_type))]
    pub async fn get_schema_version(
        &self,
        workspace: WorkspaceId,
        event_type: &str,
        version: u32,
    ) -> ApiResult<(EventTypeName, VersionRecord)> {
        let name = parse_name(event_type)?;
        let workspace = workspace.as_uuid();
        if let Some(record) = self
            .store
            .version(workspace, name.as_str(), version)
            .await?
        {
            return Ok((name, record));
        }
        if version != 0 && self.store.head(workspace, name.as_str()).await?.is_some() {
            return Err(no_such_version(&name, version));
        }
        Err(not_registered(&name))
    }

    #[tracing::instrument(skip_all, fields(workspace = %workspace))]
    pub async fn list_event_types(
        &self,
        workspace: WorkspaceId,
        page_size: u32,
        page_token: &str,
    ) -> ApiResult<Page> {
        let limit = paging::page_size(page_size)?;
        let after = paging::after(page_token, EventTypeName::parse)?;
        let mut event_types = self
            .store
            .list(
                workspace.as_uuid(),
                None,
                after.as_ref().map(EventTypeName::as_str),
                paging::fetch_limit(limit),
            )
            .await?;
        let next_page_token = paging::finish(&mut event_types, limit, |last| last.name.clone());
        Ok(Page {
            event_types,
            next_page_token,
        })
    }

    /// Sets the mode later registrations are checked against; returns the
    /// type (without versions) and the previous mode. A change of mode is
    /// audited in its transaction.
    #[tracing::instrument(skip_all, fields(workspace = %by.workspace, event_type = %event_type))]
    pub async fn set_compatibility(
        &self,
        by: &Principal,
        event_type: &str,
        compatibility: i32,
    ) -> ApiResult<(EventTypeRecord, Mode)> {
        let name = parse_name(event_type)?;
        let Some(mode) = parse_mode(compatibility)? else {
            return Err(ApiError::invalid(
                "compatibility",
                "is required (BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE or NONE)",
            ));
        };
        let workspace = by.workspace.as_uuid();
        let previous = self
            .store
            .set_compatibility(by, name.as_str(), mode)
            .await?
            .ok_or_else(|| not_registered(&name))?;
        self.heads.invalidate(workspace, name.as_str());
        tracing::info!(%previous, %mode, "compatibility set");
        Ok((self.summary(workspace, &name).await?, previous))
    }

    /// Deprecates the type or lifts its deprecation; a change is audited in
    /// its transaction.
    #[tracing::instrument(skip_all, fields(workspace = %by.workspace, event_type = %event_type))]
    pub async fn deprecate_event_type(
        &self,
        by: &Principal,
        event_type: &str,
        deprecated: bool,
        reason: &str,
    ) -> ApiResult<EventTypeRecord> {
        let name = parse_name(event_type)?;
        check_length("reason", reason)?;
        let workspace = by.workspace.as_uuid();
        if !self
            .store
            .deprecate(by, name.as_str(), deprecated, reason)
            .await?
        {
            return Err(not_registered(&name));
        }
        self.heads.invalidate(workspace, name.as_str());
        tracing::info!(deprecated, "deprecation set");
        self.summary(workspace, &name).await
    }

    /// The type without its versions, read back after a change.
    async fn summary(
        &self,
        workspace: uuid::Uuid,
        name: &EventTypeName,
    ) -> ApiResult<EventTypeRecord> {
        self.store
            .event_type(workspace, name.as_str(), false)
            .await?
            .ok_or_else(|| not_registered(name))
    }
}

/// Appends the audit entry of `by`'s `action` on the event type `name`.
async fn audit_change(
    client: &impl GenericClient,
    by: &Principal,
    action: &str,
    name: &EventTypeName,
    before: Option<Value>,
    after: Value,
) -> ApiResult<()> {
    audit::record(
        client,
        by.workspace,
        &by.actor,
        action,
        name.as_str(),
        before.as_ref(),
        Some(&after),
    )
    .await
}

fn parse_name(text: &str) -> ApiResult<EventTypeName> {
    EventTypeName::parse(text).map_err(|reason| ApiError::invalid("event_type", reason))
}

/// `None` for UNSPECIFIED.
fn parse_mode(value: i32) -> ApiResult<Option<Mode>> {
    Mode::from_proto(value).map_err(|reason| ApiError::invalid("compatibility", reason))
}

fn check_length(field: &str, text: &str) -> ApiResult<()> {
    if text.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ApiError::invalid(
            field,
            format!("is longer than {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    Ok(())
}

fn not_registered(name: &EventTypeName) -> ApiError {
    ApiError::not_found(format!("event type `{name}` is not registered"))
}

fn no_such_version(name: &EventTypeName, version: u32) -> ApiError {
    ApiError::not_found(format!("event type `{name}` has no version {version}"))
}

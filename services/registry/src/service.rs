//! The registry's operations, free of gRPC: each takes the caller's
//! workspace (already authenticated) and plain request values, and returns
//! domain values or an [`ApiError`]. The gRPC adapter in `grpc.rs` only
//! authenticates and converts.
//!
//! Schema checks and compilation are CPU-bound and run on the blocking pool;
//! validating one payload against a compiled validator is quick (payloads
//! are bounded by the gRPC message limit) and runs inline.

use std::sync::Arc;

use anyhow::{Context, anyhow};
use jsonschema::Validator;
use serde_json::Value;
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::WorkspaceId;
use switchyard_core::names::EventTypeName;
use switchyard_core::paging;

use crate::cache::ValidatorCache;
use crate::schema;
use crate::store::{EventTypeRecord, Store};
use crate::validate::{self, Outcome};

/// Longest accepted event type description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 1000;

#[derive(Debug, PartialEq, Eq)]
pub struct Registered {
    pub event_type: String,
    pub version: u32,
    pub unchanged: bool,
}

#[derive(Debug)]
pub struct Validation {
    /// The version the payload was checked against.
    pub schema_version: u32,
    pub outcome: Outcome,
}

#[derive(Debug)]
pub struct Page {
    pub event_types: Vec<EventTypeRecord>,
    /// Empty on the last page.
    pub next_page_token: String,
}

/// Cheap to clone: the store holds a pool and the cache is shared.
#[derive(Clone)]
pub struct Registry {
    store: Store,
    cache: Arc<ValidatorCache>,
}

impl Registry {
    pub fn new(store: Store, cache: Arc<ValidatorCache>) -> Self {
        Self { store, cache }
    }

    #[tracing::instrument(skip_all, fields(workspace = %workspace, event_type = %event_type))]
    pub async fn register_schema(
        &self,
        workspace: WorkspaceId,
        event_type: &str,
        json_schema: String,
        description: &str,
    ) -> ApiResult<Registered> {
        let name = parse_name(event_type)?;
        if description.chars().count() > MAX_DESCRIPTION_CHARS {
            return Err(ApiError::invalid(
                "description",
                format!("is longer than {MAX_DESCRIPTION_CHARS} characters"),
            ));
        }
        let checked = tokio::task::spawn_blocking(move || schema::check(&json_schema))
            .await
            .context("checking the schema")?
            .map_err(|problem| ApiError::invalid("json_schema", problem.to_string()))?;

        let registration = self
            .store
            .register(
                workspace.as_uuid(),
                name.as_str(),
                &checked.document,
                description,
            )
            .await?;
        // The validator compiled for the check is the one the next
        // ValidatePayload of this version would build: keep it.
        self.cache.insert(
            workspace.as_uuid(),
            name.as_str(),
            registration.version,
            checked.validator,
        );
        tracing::info!(
            version = registration.version,
            unchanged = registration.unchanged,
            "registered schema"
        );
        Ok(Registered {
            event_type: name.to_string(),
            version: registration.version,
            unchanged: registration.unchanged,
        })
    }

    #[tracing::instrument(skip_all, fields(workspace = %workspace, event_type = %event_type))]
    pub async fn validate_payload(
        &self,
        workspace: WorkspaceId,
        event_type: &str,
        schema_version: u32,
        payload_json: &str,
    ) -> ApiResult<Validation> {
        let name = parse_name(event_type)?;
        let payload: Value = serde_json::from_str(payload_json).map_err(|error| {
            ApiError::invalid("payload_json", format!("is not valid JSON: {error}"))
        })?;
        let version = match schema_version {
            0 => self
                .store
                .latest_version(workspace.as_uuid(), name.as_str())
                .await?
                .ok_or_else(|| not_registered(&name))?,
            pinned => pinned,
        };
        let validator = self.validator(workspace, &name, version).await?;
        Ok(Validation {
            schema_version: version,
            outcome: validate::check(&validator, &payload),
        })
    }

    #[tracing::instrument(skip_all, fields(workspace = %workspace, event_type = %event_type))]
    pub async fn get_event_type(
        &self,
        workspace: WorkspaceId,
        event_type: &str,
    ) -> ApiResult<EventTypeRecord> {
        let name = parse_name(event_type)?;
        self.store
            .event_type(workspace.as_uuid(), name.as_str())
            .await?
            .ok_or_else(|| not_registered(&name))
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
        // One extra row tells whether another page follows, so the last page
        // never carries a token leading to an empty one.
        let mut event_types = self
            .store
            .list(
                workspace.as_uuid(),
                after.as_ref().map(EventTypeName::as_str),
                limit + 1,
            )
            .await?;
        let page_len = usize::try_from(limit).unwrap_or(usize::MAX);
        let next_page_token = if event_types.len() > page_len {
            event_types.truncate(page_len);
            event_types
                .last()
                .map(|last| last.name.clone())
                .unwrap_or_default()
        } else {
            String::new()
        };
        Ok(Page {
            event_types,
            next_page_token,
        })
    }

    /// The compiled validator of one version: from the cache when warm, so a
    /// pinned version costs no query; otherwise read and compiled once.
    async fn validator(
        &self,
        workspace: WorkspaceId,
        name: &EventTypeName,
        version: u32,
    ) -> ApiResult<Arc<Validator>> {
        let workspace_uuid = workspace.as_uuid();
        if let Some(validator) = self.cache.get(workspace_uuid, name.as_str(), version) {
            return Ok(validator);
        }
        let Some(document) = self
            .store
            .schema(workspace_uuid, name.as_str(), version)
            .await?
        else {
            if self.store.exists(workspace_uuid, name.as_str()).await? {
                return Err(ApiError::not_found(format!(
                    "event type `{name}` has no version {version}"
                )));
            }
            return Err(not_registered(name));
        };
        let validator = tokio::task::spawn_blocking(move || schema::compile(&document))
            .await
            .context("compiling a stored schema")?
            // Stored documents passed the same checks when registered, so
            // this is our failure (e.g. a jsonschema upgrade), not the caller's.
            .map_err(|problem| anyhow!("stored schema of `{name}` version {version} {problem}"))?;
        Ok(self
            .cache
            .insert(workspace_uuid, name.as_str(), version, validator))
    }
}

fn parse_name(text: &str) -> ApiResult<EventTypeName> {
    EventTypeName::parse(text).map_err(|reason| ApiError::invalid("event_type", reason))
}

fn not_registered(name: &EventTypeName) -> ApiError {
    ApiError::not_found(format!("event type `{name}` is not registered"))
}

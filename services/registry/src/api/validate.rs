//! Validation: resolve the version (the type's cached head gives the latest
//! and the deprecation flag), fetch the compiled validator (cached per
//! immutable version), collect violations. A warm call makes no query.
//!
//! A pinned version newer than the cached head may have just been
//! registered on another replica, its notification still on the way: the
//! head is re-read from Postgres before such a call is refused.

use std::sync::Arc;
use switchyard_core::telemetry::metrics::names;

use anyhow::{Context, anyhow};
use jsonschema::Validator;
use serde_json::Value;
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::WorkspaceId;
use switchyard_core::names::EventTypeName;

use super::{Registry, no_such_version, not_registered, parse_name};
use crate::schema;
use crate::store::Head;
use crate::validate::{self, Outcome};

/// Most payloads in one `ValidatePayloads` call.
pub const MAX_BATCH_PAYLOADS: usize = 1000;
/// Most bytes of `payload_json`, summed, in one `ValidatePayloads` call.
pub const MAX_BATCH_BYTES: usize = 2 * 1024 * 1024;

#[derive(Debug)]
pub struct Validation {
    /// The version the payload was checked against.
    pub schema_version: u32,
    pub outcome: Outcome,
    pub deprecated: bool,
}

/// One item of a batch.
#[derive(Debug)]
pub struct PayloadToValidate {
    pub event_type: String,
    pub schema_version: u32,
    pub payload_json: String,
}

impl Registry {
    #[tracing::instrument(
        name = "ValidatePayload",
        skip_all,
        fields(
            switchyard.workspace = %workspace,
            switchyard.event_type = %event_type,
            switchyard.schema_version = tracing::field::Empty,
            switchyard.violations = tracing::field::Empty,
        )
    )]
    pub async fn validate_payload(
        &self,
        workspace: WorkspaceId,
        event_type: &str,
        schema_version: u32,
        payload_json: &str,
    ) -> ApiResult<Validation> {
        let started = std::time::Instant::now();
        let result = self
            .validate_one(workspace, event_type, schema_version, payload_json)
            .await;
        metrics::histogram!(names::VALIDATION_SECONDS).record(started.elapsed().as_secs_f64());
        if let Ok(validation) = &result {
            let span = tracing::Span::current();
            span.record("switchyard.schema_version", validation.schema_version);
            span.record("switchyard.violations", validation.outcome.violations.len());
        }
        result
    }

    /// One result per payload, in order. Errors that concern one payload
    /// (unknown type, bad JSON) are that payload's result; our own failures
    /// fail the call, since they would fail every payload alike.
    #[tracing::instrument(
        name = "ValidatePayloads",
        skip_all,
        fields(switchyard.workspace = %workspace, switchyard.payloads = payloads.len())
    )]
    pub async fn validate_payloads(
        &self,
        workspace: WorkspaceId,
        payloads: &[PayloadToValidate],
    ) -> ApiResult<Vec<ApiResult<Validation>>> {
        if payloads.len() > MAX_BATCH_PAYLOADS {
            return Err(ApiError::invalid(
                "payloads",
                format!(
                    "holds {} payloads, more than the limit of {MAX_BATCH_PAYLOADS}",
                    payloads.len()
                ),
            ));
        }
        let bytes: usize = payloads
            .iter()
            .map(|payload| payload.payload_json.len())
            .sum();
        if bytes > MAX_BATCH_BYTES {
            return Err(ApiError::invalid(
                "payloads",
                format!(
                    "hold {bytes} bytes of payload_json, more than the limit of {MAX_BATCH_BYTES}"
                ),
            ));
        }
        let started = std::time::Instant::now();
        let mut results = Vec::with_capacity(payloads.len());
        for payload in payloads {
            let result = self
                .validate_one(
                    workspace,
                    &payload.event_type,
                    payload.schema_version,
                    &payload.payload_json,
                )
                .await;
            if let Err(ApiError::Internal(error)) = result {
                return Err(ApiError::Internal(error));
            }
            results.push(result);
        }
        // One sample per call: the time a batch of payloads took.
        metrics::histogram!(names::VALIDATION_SECONDS).record(started.elapsed().as_secs_f64());
        Ok(results)
    }

    async fn validate_one(
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
        let (version, head) = self
            .resolve_version(workspace, &name, schema_version)
            .await?;
        let validator = self.validator(workspace, &name, version).await?;
        Ok(Validation {
            schema_version: version,
            outcome: validate::check(&validator, &payload),
            deprecated: head.deprecated,
        })
    }

    /// The version to validate against (0: the latest) and the type's head.
    async fn resolve_version(
        &self,
        workspace: WorkspaceId,
        name: &EventTypeName,
        requested: u32,
    ) -> ApiResult<(u32, Head)> {
        let head = self
            .head(workspace, name, false)
            .await?
            .ok_or_else(|| not_registered(name))?;
        if requested == 0 {
            return Ok((head.latest_version, head));
        }
        if requested <= head.latest_version {
            return Ok((requested, head));
        }
        let fresh = self
            .head(workspace, name, true)
            .await?
            .ok_or_else(|| not_registered(name))?;
        if requested > fresh.latest_version {
            return Err(no_such_version(name, requested));
        }
        Ok((requested, fresh))
    }

    /// The type's head: cached unless `fresh`, else read and cached (when
    /// no invalidation raced the read).
    async fn head(
        &self,
        workspace: WorkspaceId,
        name: &EventTypeName,
        fresh: bool,
    ) -> ApiResult<Option<Head>> {
        let workspace = workspace.as_uuid();
        if !fresh && let Some(head) = self.heads.get(workspace, name.as_str()) {
            return Ok(Some(head));
        }
        let ticket = self.heads.ticket();
        let head = self.store.head(workspace, name.as_str()).await?;
        if let Some(head) = head {
            self.heads.insert(ticket, workspace, name.as_str(), head);
        }
        Ok(head)
    }

    /// The compiled validator of one version: from the cache when warm;
    /// otherwise read and compiled once.
    async fn validator(
        &self,
        workspace: WorkspaceId,
        name: &EventTypeName,
        version: u32,
    ) -> ApiResult<Arc<Validator>> {
        let workspace = workspace.as_uuid();
        if let Some(validator) = self.validators.get(workspace, name.as_str(), version) {
            return Ok(validator);
        }
        let Some(record) = self
            .store
            .version(workspace, name.as_str(), version)
            .await?
        else {
            return Err(no_such_version(name, version));
        };
        let document = record.json_schema;
        let compiled = tokio::task::spawn_blocking(move || schema::compile(&document))
            .await
            .context("compiling a stored schema")?
            // Stored documents passed the same checks when registered, so
            // this is our failure (e.g. a jsonschema upgrade), not the caller's.
            .map_err(|problem| anyhow!("stored schema of `{name}` version {version} {problem}"))?;
        Ok(self
            .validators
            .insert(workspace, name.as_str(), version, compiled))
    }
}

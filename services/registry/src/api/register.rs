//! Registration: check the document, then, holding the event type's row
//! lock, compare it with the latest version (canonically: equal means
//! unchanged), check it against the versions its mode names, and insert
//! it. The dry run ([`Registry::check_compatibility`]) answers the same
//! question without the lock or the insert.

use std::collections::BTreeSet;

use anyhow::Context;
use serde_json::Value;
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::WorkspaceId;
use switchyard_core::names::EventTypeName;
use switchyard_tenancy::auth::Principal;
use switchyard_tenancy::quota::{Counted, count};
use tonic_types::PreconditionViolation;

use super::{Registry, audit_change, check_length, parse_mode, parse_name};
use crate::canonical;
use crate::compat::{self, Incompatibility, Mode};
use crate::schema::{self, CheckedSchema};

/// Most incompatibilities spelled out in a refusal's message (the error
/// details carry up to [`MAX_DETAILS`]).
const MAX_LISTED: usize = 20;
const MAX_DETAILS: usize = 100;

#[derive(Debug, PartialEq, Eq)]
pub struct Registered {
    pub event_type: String,
    pub version: u32,
    pub unchanged: bool,
    pub compatibility: Mode,
}

#[derive(Debug)]
pub struct CompatibilityReport {
    pub incompatibilities: Vec<Incompatibility>,
    pub compatibility: Mode,
    pub checked_versions: Vec<u32>,
    pub latest_version: u32,
    pub unchanged: bool,
}

impl Registry {
    /// Registers a version (audited in its transaction) or finds the
    /// latest one equal (unchanged: no entry).
    #[tracing::instrument(skip_all, fields(workspace = %by.workspace, event_type = %event_type))]
    pub async fn register_schema(
        &self,
        by: &Principal,
        event_type: &str,
        json_schema: String,
        description: &str,
        compatibility: i32,
    ) -> ApiResult<Registered> {
        let name = parse_name(event_type)?;
        check_length("description", description)?;
        let requested = parse_mode(compatibility)?;
        let checked = check_schema(json_schema).await?;
        let workspace_id = by.workspace;
        let workspace = workspace_id.as_uuid();

        let mut client = self.store.client().await?;
        let transaction = client
            .transaction()
            .await
            .context("starting a transaction")?;
        self.ensure_room_for_type(&transaction, workspace_id, &name)
            .await?;
        let lock = self
            .store
            .lock_or_create(
                &transaction,
                workspace,
                name.as_str(),
                description,
                requested,
            )
            .await?;
        let mode = lock.compatibility;
        if let Some(requested) = requested
            && !lock.created
            && requested != mode
        {
            return Err(ApiError::FailedPrecondition(format!(
                "event type `{name}` has compatibility {mode}, not {requested}; change it with SetCompatibility first"
            )));
        }
        let earlier = self
            .store
            .earlier_schemas(&transaction, workspace, name.as_str(), mode.is_transitive())
            .await?;
        let latest = earlier
            .last()
            .map(|(version, schema)| (*version, schema == &checked.document));
        let (version, unchanged) = match latest {
            Some((version, true)) => (version, true),
            _ => {
                let found = check_compatibility(mode, checked.document.clone(), earlier).await?;
                if !found.is_empty() {
                    return Err(incompatible(&name, mode, &found));
                }
                let next = latest
                    .map_or(0, |(version, _)| version)
                    .checked_add(1)
                    .context("the event type has run out of version numbers")?;
                self.store
                    .insert_version(
                        &transaction,
                        workspace,
                        name.as_str(),
                        next,
                        &checked.document,
                    )
                    .await?;
                (next, false)
            }
        };
        self.store
            .describe(&transaction, workspace, name.as_str(), description)
            .await?;
        if !unchanged {
            let after = serde_json::json!({
                "event_type": name.as_str(),
                "version": version,
                "unchanged": unchanged,
                "compatibility": mode.as_str(),
            });
            let action = "RegistryService/RegisterSchema";
            audit_change(&transaction, by, action, &name, None, after).await?;
        }
        transaction
            .commit()
            .await
            .context("committing the registration")?;

        if !unchanged {
            // Other replicas hear of it through the notification; this one
            // must not wait for its own.
            self.heads.invalidate(workspace, name.as_str());
        }
        // The validator compiled for the check is the one the next
        // ValidatePayload of this version would build: keep it.
        self.validators
            .insert(workspace, name.as_str(), version, checked.validator);
        tracing::info!(version, unchanged, %mode, "registered schema");
        Ok(Registered {
            event_type: name.to_string(),
            version,
            unchanged,
            compatibility: mode,
        })
    }

    /// A new type must fit the workspace's `max_event_types`. Registering a
    /// version of an existing type takes no lock; a new one locks the
    /// workspace row (until the registration commits) and looks again, so
    /// concurrent creations count each other and a type created meanwhile
    /// by someone else is no longer new.
    async fn ensure_room_for_type(
        &self,
        transaction: &tokio_postgres::Transaction<'_>,
        workspace: WorkspaceId,
        name: &EventTypeName,
    ) -> ApiResult<()> {
        let uuid = workspace.as_uuid();
        if self
            .store
            .type_exists(transaction, uuid, name.as_str())
            .await?
        {
            return Ok(());
        }
        count::lock_workspace(transaction, workspace).await?;
        if self
            .store
            .type_exists(transaction, uuid, name.as_str())
            .await?
        {
            return Ok(());
        }
        let limits = self.quotas.limits(workspace);
        count::check_room(transaction, workspace, Counted::EventTypes, &limits).await
    }

    /// What registering `json_schema` would meet, without storing it. A
    /// type that does not exist yet is compatible (its first version has
    /// nothing to break).
    #[tracing::instrument(skip_all, fields(workspace = %workspace, event_type = %event_type))]
    pub async fn check_compatibility(
        &self,
        workspace: WorkspaceId,
        event_type: &str,
        json_schema: String,
        compatibility: i32,
    ) -> ApiResult<CompatibilityReport> {
        let name = parse_name(event_type)?;
        let requested = parse_mode(compatibility)?;
        let checked = check_schema(json_schema).await?;
        let workspace = workspace.as_uuid();
        let head = self.store.head(workspace, name.as_str()).await?;
        let mode = requested
            .or(head.map(|head| head.compatibility))
            .unwrap_or_default();
        let mut earlier = match head {
            Some(_) => self.store.schemas(workspace, name.as_str()).await?,
            None => Vec::new(),
        };
        let latest_version = earlier.last().map_or(0, |(version, _)| *version);
        let unchanged = earlier
            .last()
            .is_some_and(|(_, schema)| schema == &checked.document);
        if unchanged || mode == Mode::None {
            earlier.clear();
        } else if !mode.is_transitive() && earlier.len() > 1 {
            earlier.drain(..earlier.len() - 1);
        }
        let checked_versions = earlier.iter().map(|(version, _)| *version).collect();
        let incompatibilities = check_compatibility(mode, checked.document, earlier).await?;
        Ok(CompatibilityReport {
            incompatibilities,
            compatibility: mode,
            checked_versions,
            latest_version,
            unchanged,
        })
    }
}

/// Every registration check, then canonical normalisation, off the async
/// workers.
async fn check_schema(json_schema: String) -> ApiResult<CheckedSchema> {
    tokio::task::spawn_blocking(move || {
        schema::check(&json_schema).map(|checked| CheckedSchema {
            document: canonical::normalize(checked.document),
            validator: checked.validator,
        })
    })
    .await
    .context("checking the schema")?
    .map_err(|problem| ApiError::invalid("json_schema", problem.to_string()))
}

async fn check_compatibility(
    mode: Mode,
    document: Value,
    earlier: Vec<(u32, Value)>,
) -> ApiResult<Vec<Incompatibility>> {
    if mode == Mode::None || earlier.is_empty() {
        return Ok(Vec::new());
    }
    let found = tokio::task::spawn_blocking(move || {
        let earlier: Vec<(u32, &Value)> = earlier
            .iter()
            .map(|(version, schema)| (*version, schema))
            .collect();
        compat::check(mode, &document, &earlier)
    })
    .await
    .context("checking compatibility")?;
    Ok(found)
}

/// FAILED_PRECONDITION listing each incompatibility as `<pointer>:
/// <reason>`, also as `PreconditionFailure` details.
fn incompatible(name: &EventTypeName, mode: Mode, found: &[Incompatibility]) -> ApiError {
    let versions: BTreeSet<u32> = found.iter().map(|found| found.version).collect();
    let several = versions.len() > 1;
    let against = versions
        .iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    let against = if several {
        format!("versions {against}")
    } else {
        format!("version {against}")
    };
    let mut listed: Vec<String> = found
        .iter()
        .take(MAX_LISTED)
        .map(|found| {
            if several {
                format!("{} (version {})", found.describe(), found.version)
            } else {
                found.describe()
            }
        })
        .collect();
    if found.len() > MAX_LISTED {
        listed.push(format!("and {} more", found.len() - MAX_LISTED));
    }
    ApiError::Preconditions {
        summary: format!(
            "json_schema breaks the {mode} compatibility of `{name}` with {against}: {}",
            listed.join("; ")
        ),
        violations: found
            .iter()
            .take(MAX_DETAILS)
            .map(|found| {
                let subject = if found.path.is_empty() {
                    "/"
                } else {
                    found.path.as_str()
                };
                PreconditionViolation::new(
                    format!("SCHEMA_{mode}"),
                    subject,
                    format!("{} (version {})", found.reason, found.version),
                )
            })
            .collect(),
    }
}

//! The reading and administrative subcommands: `list`, `show`,
//! `compatibility` and `deprecate`.

use std::io::Write;

use anyhow::Context;
use switchyard_client::{Client, proto};

use super::mode::{mode_name, mode_name_of};

/// Every event type, one per line: name, latest version, mode, flags.
pub async fn list(client: &Client, out: &mut dyn Write) -> anyhow::Result<()> {
    for event_type in &event_types(client).await? {
        let mut line = format!(
            "{}  v{}  {}",
            event_type.name,
            event_type.latest_version,
            mode_name_of(event_type.compatibility)
        );
        if event_type.deprecated {
            line.push_str("  deprecated");
        }
        if !event_type.description.is_empty() {
            line.push_str("  ");
            line.push_str(&event_type.description);
        }
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// Every event type of the workspace, all pages.
pub async fn event_types(client: &Client) -> anyhow::Result<Vec<proto::EventType>> {
    let mut event_types = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = client
            .registry
            .clone()
            .list_event_types(proto::ListEventTypesRequest {
                page_size: 500,
                page_token,
            })
            .await
            .map_err(status_error)?
            .into_inner();
        event_types.extend(page.event_types);
        if page.next_page_token.is_empty() {
            return Ok(event_types);
        }
        page_token = page.next_page_token;
    }
}

/// One stored schema version (0: the latest).
pub async fn schema_version(
    client: &Client,
    event_type: &str,
    version: u32,
) -> anyhow::Result<proto::SchemaVersion> {
    client
        .registry
        .clone()
        .get_schema_version(proto::GetSchemaVersionRequest {
            event_type: event_type.to_string(),
            version,
        })
        .await
        .map_err(status_error)?
        .into_inner()
        .schema_version
        .context("the registry answered without the version")
}

/// The type's summary, then one version's schema, pretty printed.
pub async fn show(
    client: &Client,
    event_type: &str,
    version: u32,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let described = client
        .registry
        .clone()
        .get_event_type(proto::GetEventTypeRequest {
            event_type: event_type.to_string(),
        })
        .await
        .map_err(status_error)?
        .into_inner()
        .event_type
        .context("the registry answered without the event type")?;
    let schema_version = schema_version(client, event_type, version).await?;
    writeln!(
        out,
        "{}  v{} of {}  {}",
        described.name,
        schema_version.version,
        described.latest_version,
        mode_name_of(described.compatibility)
    )?;
    if !described.description.is_empty() {
        writeln!(out, "description: {}", described.description)?;
    }
    if described.deprecated {
        writeln!(out, "deprecated: {}", described.deprecation_reason)?;
    }
    let document: serde_json::Value = serde_json::from_str(&schema_version.json_schema)
        .context("the stored schema is not JSON")?;
    writeln!(out, "{}", serde_json::to_string_pretty(&document)?)?;
    Ok(())
}

pub async fn set_compatibility(
    client: &Client,
    event_type: &str,
    mode: proto::Compatibility,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    let response = client
        .registry
        .clone()
        .set_compatibility(proto::SetCompatibilityRequest {
            event_type: event_type.to_string(),
            compatibility: mode.into(),
        })
        .await
        .map_err(status_error)?
        .into_inner();
    writeln!(
        out,
        "{event_type}: compatibility {} (was {})",
        mode_name(mode),
        mode_name_of(response.previous)
    )?;
    Ok(())
}

pub async fn deprecate(
    client: &Client,
    event_type: &str,
    deprecated: bool,
    reason: &str,
    out: &mut dyn Write,
) -> anyhow::Result<()> {
    client
        .registry
        .clone()
        .deprecate_event_type(proto::DeprecateEventTypeRequest {
            event_type: event_type.to_string(),
            deprecated,
            reason: reason.to_string(),
        })
        .await
        .map_err(status_error)?;
    let state = if deprecated {
        "deprecated"
    } else {
        "no longer deprecated"
    };
    writeln!(out, "{event_type}: {state}")?;
    Ok(())
}

fn status_error(status: tonic::Status) -> anyhow::Error {
    anyhow::anyhow!("{:?}: {}", status.code(), status.message())
}

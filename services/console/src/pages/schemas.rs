//! Schemas: the workspace's event types with their latest version and
//! compatibility mode, and each type's page with every version and a
//! line diff between two of them (pretty-printed JSON, so a diff shows
//! changed fields rather than re-wrapped lines).

use axum::extract::{Path, Query};
use axum::response::IntoResponse;
use maud::{Markup, html};
use serde::Deserialize;
use similar::{ChangeTag, TextDiff};
use switchyard_proto::v1::{Compatibility, GetEventTypeRequest, ListEventTypesRequest};

use super::{State, format, layout};
use crate::backend::authed;
use crate::error::ConsoleError;
use crate::session::SignedIn;

fn compatibility_name(value: i32) -> String {
    Compatibility::try_from(value)
        .map(|mode| {
            mode.as_str_name()
                .trim_start_matches("COMPATIBILITY_")
                .to_lowercase()
        })
        .unwrap_or_default()
}

pub async fn list(
    state: State,
    SignedIn(session): SignedIn,
) -> Result<impl IntoResponse, ConsoleError> {
    let types = state
        .backend
        .registry
        .clone()
        .list_event_types(authed(
            &session.credential,
            ListEventTypesRequest::default(),
        )?)
        .await?
        .into_inner()
        .event_types;
    Ok(layout::page(
        &session,
        "Schemas",
        html! {
            h1 { "Event types" }
            table #event-types {
                thead { tr { th { "Type" } th { "Latest version" } th { "Compatibility" } th { "Created" } } }
                tbody {
                    @for event_type in &types {
                        tr {
                            td { a href={"/schemas/" (event_type.name)} { (event_type.name) } @if event_type.deprecated { " " span.badge.dead { "deprecated" } } }
                            td { (event_type.latest_version) }
                            td { (compatibility_name(event_type.compatibility)) }
                            td { (format::time(event_type.created_at.as_ref())) }
                        }
                    }
                }
            }
        },
    ))
}

#[derive(Debug, Default, Deserialize)]
pub struct DiffQuery {
    from: Option<u32>,
    to: Option<u32>,
}

pub async fn show(
    state: State,
    SignedIn(session): SignedIn,
    Path(name): Path<String>,
    Query(query): Query<DiffQuery>,
) -> Result<impl IntoResponse, ConsoleError> {
    let event_type = state
        .backend
        .registry
        .clone()
        .get_event_type(authed(
            &session.credential,
            GetEventTypeRequest { event_type: name },
        )?)
        .await?
        .into_inner()
        .event_type
        .unwrap_or_default();
    let latest = event_type.latest_version;
    let to = query.to.unwrap_or(latest);
    let from = query.from.unwrap_or(to.saturating_sub(1).max(1));
    let document = |version: u32| {
        event_type
            .versions
            .iter()
            .find(|v| v.version == version)
            .map(|v| format::pretty_json(&v.json_schema))
            .ok_or_else(|| ConsoleError::bad_request(format!("version {version} does not exist")))
    };
    let diff = diff_markup(&document(from)?, &document(to)?);
    Ok(layout::page(
        &session,
        &event_type.name,
        html! {
            h1 { (event_type.name) }
            dl.facts {
                dt { "Compatibility" } dd #compatibility { (compatibility_name(event_type.compatibility)) }
                dt { "Latest version" } dd { (latest) }
                @if event_type.deprecated { dt { "Deprecated" } dd { (event_type.deprecation_reason) } }
            }
            h2 { "Versions" }
            ul {
                @for version in &event_type.versions {
                    li { "v" (version.version) " · " (format::time(version.created_at.as_ref())) }
                }
            }
            h2 { "Diff" }
            form.filters method="get" {
                label { "from v" input type="number" name="from" min="1" max=(latest) value=(from); }
                label { "to v" input type="number" name="to" min="1" max=(latest) value=(to); }
                button type="submit" { "Compare" }
            }
            (diff)
        },
    ))
}

/// A unified line diff: removed lines `-`, added `+`.
pub fn diff_markup(old: &str, new: &str) -> Markup {
    let diff = TextDiff::from_lines(old, new);
    html! {
        pre.diff #diff {
            @for change in diff.iter_all_changes() {
                @let (class, sign) = match change.tag() {
                    ChangeTag::Delete => ("del", "-"),
                    ChangeTag::Insert => ("ins", "+"),
                    ChangeTag::Equal => ("same", " "),
                };
                span class=(class) { (sign) " " (change.value()) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diffs_mark_removed_and_added_lines() {
        let html = diff_markup("a\nb\n", "a\nc\n").into_string();
        assert!(html.contains("<span class=\"del\">- b\n</span>"), "{html}");
        assert!(html.contains("<span class=\"ins\">+ c\n</span>"), "{html}");
        assert!(html.contains("<span class=\"same\">  a\n</span>"), "{html}");
    }
}

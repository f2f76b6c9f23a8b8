//! Events: the live list (newest first; filters by type, delivery status,
//! time range and id) and each event's page with its payload, schema
//! version, trace link and every delivery with every attempt. The list
//! shows each event's deliveries by status from one `ListDeliveries` call
//! over the listed events' time span. With a status filter the list is
//! built from the deliveries in that status instead (the events table has
//! no status: it is its deliveries'). Each delivery's section is
//! [`super::deliveries`]'.

use std::collections::BTreeMap;

use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;
use switchyard_proto::v1::{Delivery, GetEventRequest, ListDeliveriesRequest, ListEventsRequest};

use super::{State, deliveries, format, layout};
use crate::backend::authed;
use crate::error::ConsoleError;
use crate::session::{Session, SignedIn};

const PAGE_SIZE: u32 = 50;

#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default, rename = "type")]
    event_type: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
    #[serde(default)]
    id: String,
    /// Only the table rows (the live refresh asks for these).
    #[serde(default)]
    partial: Option<String>,
}

/// One row of the list.
struct Row {
    id: String,
    event_type: String,
    received: String,
    /// Delivery count per status name.
    deliveries: BTreeMap<&'static str, usize>,
}

pub async fn list(
    state: State,
    SignedIn(session): SignedIn,
    Query(filters): Query<Filters>,
) -> Result<Response, ConsoleError> {
    let id = filters.id.trim();
    if !id.is_empty() {
        return Ok(Redirect::to(&format!("/events/{id}")).into_response());
    }
    let since = format::form_time(&filters.since, "since")?;
    let until = format::form_time(&filters.until, "until")?;
    let rows = if filters.status.is_empty() {
        let request = ListEventsRequest {
            event_type: filters.event_type.trim().to_string(),
            since,
            until,
            page_size: PAGE_SIZE,
            page_token: String::new(),
        };
        let events = state.backend.events(&session.credential, request).await?;
        let oldest = events.last().and_then(|event| event.received_at);
        let deliveries = match oldest {
            Some(oldest) => {
                list_deliveries(
                    &state,
                    &session,
                    ListDeliveriesRequest {
                        since: Some(oldest),
                        page_size: 500,
                        ..Default::default()
                    },
                )
                .await?
            }
            None => Vec::new(),
        };
        events
            .into_iter()
            .map(|event| Row {
                deliveries: count_by_status(deliveries.iter().filter(|d| d.event_id == event.id)),
                id: event.id,
                event_type: event.event_type,
                received: format::time(event.received_at.as_ref()),
            })
            .collect()
    } else {
        let status = format::status_from_name(&filters.status)
            .ok_or_else(|| ConsoleError::bad_request("status is not a delivery status"))?;
        let deliveries = list_deliveries(
            &state,
            &session,
            ListDeliveriesRequest {
                status: status as i32,
                since,
                until,
                page_size: 500,
                ..Default::default()
            },
        )
        .await?;
        rows_from_deliveries(&deliveries, filters.event_type.trim())
    };
    let table = rows_markup(&rows);
    if filters.partial.is_some() {
        return Ok(table.into_response());
    }
    Ok(layout::page(
        &session,
        "Events",
        html! {
            h1 { "Events" }
            form.filters method="get" action="/events" {
                input name="id" placeholder="evt_… (open)" value=(filters.id);
                input name="type" placeholder="event type" value=(filters.event_type);
                select name="status" {
                    option value="" { "any status" }
                    @for name in format::status_names() {
                        option value=(name) selected[filters.status == name] { (name) }
                    }
                }
                label { "from " input type="datetime-local" name="since" value=(filters.since); }
                label { "to " input type="datetime-local" name="until" value=(filters.until); }
                span.hint { "(UTC)" }
                button type="submit" { "Filter" }
            }
            table #events data-live="3000" {
                thead { tr { th { "Event" } th { "Type" } th { "Received" } th { "Deliveries" } } }
                tbody { (table) }
            }
        },
    )
    .into_response())
}

fn rows_markup(rows: &[Row]) -> Markup {
    html! {
        @for row in rows {
            tr.event data-id=(row.id) {
                td { a href={"/events/" (row.id)} { code { (row.id) } } }
                td { (row.event_type) }
                td { (row.received) }
                td.deliveries {
                    @for (status, count) in &row.deliveries {
                        span class={"badge " (status)} { (count) " " (status) }
                    }
                }
            }
        }
        @if rows.is_empty() { tr { td colspan="4" { "No events match." } } }
    }
}

fn count_by_status<'a>(
    deliveries: impl Iterator<Item = &'a Delivery>,
) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for delivery in deliveries {
        *counts
            .entry(format::status_name(delivery.status()))
            .or_default() += 1;
    }
    counts
}

/// One row per event, in the deliveries' order (newest first).
fn rows_from_deliveries(deliveries: &[Delivery], event_type: &str) -> Vec<Row> {
    let mut rows: Vec<Row> = Vec::new();
    for delivery in deliveries
        .iter()
        .filter(|d| event_type.is_empty() || d.event_type == event_type)
    {
        if rows.iter().any(|row| row.id == delivery.event_id) {
            continue;
        }
        rows.push(Row {
            id: delivery.event_id.clone(),
            event_type: delivery.event_type.clone(),
            received: format::time(delivery.created_at.as_ref()),
            deliveries: count_by_status(
                deliveries
                    .iter()
                    .filter(|d| d.event_id == delivery.event_id),
            ),
        });
    }
    rows
}

pub(super) async fn list_deliveries(
    state: &State,
    session: &Session,
    request: ListDeliveriesRequest,
) -> Result<Vec<Delivery>, ConsoleError> {
    Ok(state
        .backend
        .delivery
        .clone()
        .list_deliveries(authed(&session.credential, request)?)
        .await?
        .into_inner()
        .deliveries)
}

pub async fn show(
    state: State,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ConsoleError> {
    let event = state
        .backend
        .ingest
        .clone()
        .get_event(authed(
            &session.credential,
            GetEventRequest { id: id.clone() },
        )?)
        .await?
        .into_inner()
        .event
        .unwrap_or_default();
    let deliveries = list_deliveries(
        &state,
        &session,
        ListDeliveriesRequest {
            event_id: id,
            ..Default::default()
        },
    )
    .await?;
    let mut details = Vec::new();
    for delivery in &deliveries {
        details.push(deliveries::delivery_section(&state, &session, &delivery.id).await?);
    }
    Ok(layout::page(
        &session,
        &event.id,
        html! {
            h1 { "Event " code { (event.id) } }
            dl.facts {
                dt { "Type" } dd #event-type { (event.event_type) }
                dt { "Schema version" } dd #schema-version { (event.schema_version) }
                dt { "Received" } dd { (format::time(event.received_at.as_ref())) }
                @if !event.idempotency_key.is_empty() {
                    dt { "Idempotency key" } dd { code { (event.idempotency_key) } }
                }
                dt { "Trace" }
                dd #trace {
                    @if event.trace_url.is_empty() { "not traced" }
                    @else { a href=(event.trace_url) rel="noreferrer" { "Open in Jaeger (" (event.trace_id) ")" } }
                }
            }
            h2 { "Payload" }
            @if event.payload_pruned {
                p #payload-pruned { "Pruned by the workspace's payload retention." }
            } @else {
                pre #payload { (format::pretty_json(&event.payload_json)) }
            }
            h2 { "Deliveries (" span #delivery-count { (deliveries.len()) } ")" }
            @for section in &details { (section) }
        },
    ))
}

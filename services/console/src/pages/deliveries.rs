//! A delivery and its attempts: the delivery page, and the same section
//! repeated on an event's page (request target, status, response snippet,
//! duration, trigger, next retry, and a retry button for admin sessions).

use axum::extract::Path;
use axum::response::IntoResponse;
use maud::{Markup, html};
use switchyard_proto::v1::{DeliveryStatus, GetDeliveryRequest};

use super::{State, format, layout};
use crate::backend::authed;
use crate::error::ConsoleError;
use crate::session::{Session, SignedIn};

/// The delivery page: one delivery and its attempts.
pub async fn page(
    state: State,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
) -> Result<impl IntoResponse, ConsoleError> {
    let section = delivery_section(&state, &session, &id).await?;
    Ok(layout::page(
        &session,
        &id,
        html! { h1 { "Delivery" } (section) },
    ))
}

/// A delivery with its attempts (request target, status, response snippet,
/// duration, trigger) and, when retrying, the next attempt's time.
pub(super) async fn delivery_section(
    state: &State,
    session: &Session,
    id: &str,
) -> Result<Markup, ConsoleError> {
    let response = state
        .backend
        .delivery
        .clone()
        .get_delivery(authed(
            &session.credential,
            GetDeliveryRequest { id: id.to_string() },
        )?)
        .await?
        .into_inner();
    let delivery = response.delivery.unwrap_or_default();
    Ok(html! {
        section.delivery data-id=(delivery.id) data-status=(format::status_name(delivery.status())) {
            h3 {
                a href={"/deliveries/" (delivery.id)} { code { (delivery.id) } } " "
                (format::status_badge(delivery.status))
            }
            dl.facts {
                dt { "Connection" } dd { code { (delivery.connection_id) } }
                dt { "Rule" } dd { a href={"/rules/" (delivery.rule_id)} { code { (delivery.rule_id) } } }
                dt { "Attempts" } dd { (delivery.attempt_count) }
                @if delivery.next_attempt_at.is_some() {
                    dt { "Next attempt" } dd.next { (format::time(delivery.next_attempt_at.as_ref())) }
                }
                @if !delivery.last_error.is_empty() {
                    dt { "Last error" } dd.error { (delivery.last_error) }
                }
                @if !delivery.trace_url.is_empty() {
                    dt { "Trace" } dd { a href=(delivery.trace_url) rel="noreferrer" { "Jaeger" } }
                }
            }
            @if session.admin && matches!(delivery.status(), DeliveryStatus::Dead | DeliveryStatus::Retrying) {
                form method="post" action={"/deliveries/" (delivery.id) "/retry"} {
                    (layout::csrf_field(session))
                    button.retry type="submit" { "Retry now" }
                }
            }
            table.attempts {
                thead { tr { th { "#" } th { "Started" } th { "Request" } th { "Status" } th { "Duration" } th { "Trigger" } th { "Error / response" } } }
                tbody {
                    @for attempt in &response.attempts {
                        tr.attempt {
                            td { (attempt.attempt) }
                            td { (format::time(attempt.started_at.as_ref())) }
                            td { code { (attempt.url) } }
                            td.code { @if attempt.status_code == 0 { "no response" } @else { (attempt.status_code) } }
                            td { (attempt.duration_ms) " ms" }
                            td { (format::trigger_name(attempt.trigger)) }
                            td {
                                @if !attempt.error.is_empty() { div.error { (attempt.error) } }
                                @if !attempt.response_snippet.is_empty() { pre.snippet { (attempt.response_snippet) } }
                            }
                        }
                    }
                }
            }
        }
    })
}

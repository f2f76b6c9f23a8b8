//! Dead letters: the dead deliveries with their failure reason, a retry
//! per delivery, and a replay of one connection's dead letters in a time
//! range. Retry and replay are offered to admin sessions only, and the
//! delivery service refuses them for any other credential anyway (its
//! PermissionDenied becomes this page's 403).

use axum::Form;
use axum::extract::{Path, Query};
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use switchyard_proto::v1::{
    DeliveryStatus, ListDeliveriesRequest, ReplayDeadLettersRequest, RetryDeliveryRequest,
};

use super::{State, format, layout};
use crate::backend::authed;
use crate::error::ConsoleError;
use crate::session::SignedIn;

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    connection: String,
    /// The count of the replay just made, to confirm it.
    #[serde(default)]
    replayed: Option<u32>,
}

pub async fn list(
    state: State,
    SignedIn(session): SignedIn,
    Query(query): Query<ListQuery>,
) -> Result<impl IntoResponse, ConsoleError> {
    let dead = state
        .backend
        .delivery
        .clone()
        .list_deliveries(authed(
            &session.credential,
            ListDeliveriesRequest {
                status: DeliveryStatus::Dead as i32,
                connection_id: query.connection.clone(),
                page_size: 200,
                ..Default::default()
            },
        )?)
        .await?
        .into_inner()
        .deliveries;
    let connections = state.backend.connections(&session.credential).await?;
    Ok(layout::page(
        &session,
        "Dead letters",
        html! {
            h1 { "Dead letters" }
            @if let Some(count) = query.replayed {
                p.notice #replayed { "Replayed " (count) " dead letters: each gets one more attempt." }
            }
            @if session.admin {
                form.filters #replay method="post" action="/dead-letters/replay" {
                    (layout::csrf_field(&session))
                    select name="connection" required {
                        @for connection in &connections {
                            option value=(connection.id) selected[connection.id == query.connection] {
                                (connection.name) " (" (connection.id) ")"
                            }
                        }
                    }
                    label { "created from " input type="datetime-local" name="since"; }
                    label { "to " input type="datetime-local" name="until"; }
                    span.hint { "(UTC)" }
                    button.replay type="submit" { "Replay dead letters" }
                }
            }
            table #dead-letters {
                thead { tr { th { "Delivery" } th { "Event" } th { "Connection" } th { "Attempts" } th { "Reason" } th {} } }
                tbody {
                    @for delivery in &dead {
                        tr.dead-letter data-id=(delivery.id) {
                            td { a href={"/deliveries/" (delivery.id)} { code { (delivery.id) } } }
                            td { a href={"/events/" (delivery.event_id)} { (delivery.event_type) } }
                            td { code { (delivery.connection_id) } }
                            td { (delivery.attempt_count) }
                            td.error { (delivery.last_error) }
                            td {
                                @if session.admin {
                                    form method="post" action={"/deliveries/" (delivery.id) "/retry"} {
                                        (layout::csrf_field(&session))
                                        button.retry type="submit" { "Retry" }
                                    }
                                }
                            }
                        }
                    }
                    @if dead.is_empty() { tr { td colspan="6" { "No dead letters." } } }
                }
            }
        },
    ))
}

#[derive(Deserialize)]
pub struct RetryForm {
    csrf: String,
}

pub async fn retry(
    state: State,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<RetryForm>,
) -> Result<Response, ConsoleError> {
    session.check_csrf(&form.csrf)?;
    let delivery = state
        .backend
        .delivery
        .clone()
        .retry_delivery(authed(&session.credential, RetryDeliveryRequest { id })?)
        .await?
        .into_inner()
        .delivery
        .unwrap_or_default();
    Ok(Redirect::to(&format!("/deliveries/{}", delivery.id)).into_response())
}

#[derive(Deserialize)]
pub struct ReplayForm {
    csrf: String,
    connection: String,
    #[serde(default)]
    since: String,
    #[serde(default)]
    until: String,
}

pub async fn replay(
    state: State,
    SignedIn(session): SignedIn,
    Form(form): Form<ReplayForm>,
) -> Result<Response, ConsoleError> {
    session.check_csrf(&form.csrf)?;
    let request = ReplayDeadLettersRequest {
        connection_id: form.connection.clone(),
        since: format::form_time(&form.since, "since")?,
        until: format::form_time(&form.until, "until")?,
    };
    let replayed = state
        .backend
        .delivery
        .clone()
        .replay_dead_letters(authed(&session.credential, request)?)
        .await?
        .into_inner()
        .replayed_count;
    Ok(Redirect::to(&format!("/dead-letters?replayed={replayed}")).into_response())
}

//! Connections: each with its state (active, paused, disabled, needs
//! credentials, breaker open), its success rate, attempts and latency over
//! the last hour (`GetDeliveryStats`), and pause/resume for admin sessions.

use axum::Form;
use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;
use serde::Deserialize;
use switchyard_proto::v1::{
    CircuitState, ConnectionState, GetConnectionRequest, PauseConnectionRequest,
    ResumeConnectionRequest,
};

use super::{State, format, layout};
use crate::backend::authed;
use crate::error::ConsoleError;
use crate::session::{Session, SignedIn};

pub async fn list(
    state: State,
    SignedIn(session): SignedIn,
) -> Result<impl IntoResponse, ConsoleError> {
    let listed = state.backend.connections(&session.credential).await?;
    // Only GetConnection reports the live circuit breaker.
    let mut connections = Vec::with_capacity(listed.len());
    for connection in listed {
        let request = GetConnectionRequest { id: connection.id };
        let full = state
            .backend
            .router
            .clone()
            .get_connection(authed(&session.credential, request)?)
            .await?
            .into_inner()
            .connection
            .unwrap_or_default();
        connections.push(full);
    }
    let stats = state
        .backend
        .delivery_stats(&session.credential, None)
        .await?
        .connections;
    Ok(layout::page(
        &session,
        "Connections",
        html! {
            h1 { "Connections" }
            table #connections {
                thead { tr { th { "Name" } th { "Kind" } th { "State" } th { "Success, last hour" } th { "Latency (mean / p95)" } th {} } }
                tbody {
                    @for connection in &connections {
                        @let stat = stats.iter().find(|s| s.connection_id == connection.id);
                        @let breaker_open = connection.circuit_breaker.as_ref()
                            .is_some_and(|b| b.state() == CircuitState::Open);
                        @let state_name = format::state_name(connection.state);
                        tr.connection data-id=(connection.id) {
                            td { (connection.name) br; code { (connection.id) } }
                            td { (connection.kind) }
                            td.state {
                                span class={"badge " (state_name.replace(' ', "-"))} { (state_name) }
                                @if breaker_open { " " span.badge.dead { "breaker open" } }
                                @if let Some(adaptive) = connection.policy.as_ref().and_then(|p| p.adaptive_concurrency.as_ref()) {
                                    div.hint.concurrency {
                                        "concurrency limit " (connection.concurrency_limit)
                                        " (adaptive, " (adaptive.min) "–" (adaptive.max) ")"
                                    }
                                }
                                @if connection.policy.as_ref().is_some_and(|p| p.ordering.is_some()) {
                                    div.hint { "ordered per key" }
                                }
                                @if !connection.state_reason.is_empty() { div.hint { (connection.state_reason) } }
                            }
                            td.rate {
                                @match stat {
                                    Some(s) if s.attempts > 0 => {
                                        (s.succeeded * 100 / s.attempts) "% of " (s.attempts) " attempts"
                                    }
                                    _ => "no attempts"
                                }
                            }
                            td { @if let Some(s) = stat { (s.mean_duration_ms) " / " (s.p95_duration_ms) " ms" } }
                            td {
                                @if session.admin {
                                    @let action = if connection.state() == ConnectionState::Paused { "resume" } else { "pause" };
                                    form method="post" action={"/connections/" (connection.id) "/" (action)} {
                                        (layout::csrf_field(&session))
                                        button type="submit" class=(action) { (action) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    ))
}

#[derive(Deserialize)]
pub struct StateForm {
    csrf: String,
}

pub async fn pause(
    state: State,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<StateForm>,
) -> Result<Response, ConsoleError> {
    set_paused(state, &session, id, &form, true).await
}

pub async fn resume(
    state: State,
    SignedIn(session): SignedIn,
    Path(id): Path<String>,
    Form(form): Form<StateForm>,
) -> Result<Response, ConsoleError> {
    set_paused(state, &session, id, &form, false).await
}

/// Pauses or resumes the connection through the router, as the signed-in
/// credential, and goes back to the list.
async fn set_paused(
    state: State,
    session: &Session,
    id: String,
    form: &StateForm,
    paused: bool,
) -> Result<Response, ConsoleError> {
    session.check_csrf(&form.csrf)?;
    let mut router = state.backend.router.clone();
    if paused {
        let request = PauseConnectionRequest { id };
        router
            .pause_connection(authed(&session.credential, request)?)
            .await?;
    } else {
        let request = ResumeConnectionRequest { id };
        router
            .resume_connection(authed(&session.credential, request)?)
            .await?;
    }
    Ok(Redirect::to("/connections").into_response())
}

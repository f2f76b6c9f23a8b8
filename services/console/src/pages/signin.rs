//! Signing in and out. The sign-in form is protected against login CSRF by
//! a double-submit token (a cookie and a hidden field that must match).
//! The credential is checked by asking the registry who it is
//! (`GetCaller`): a key without the `read` scope is refused there.

use axum::Form;
use axum::http::HeaderMap;
use axum::http::header;
use axum::response::{AppendHeaders, IntoResponse, Redirect, Response};
use maud::html;
use secrecy::SecretString;
use serde::Deserialize;
use switchyard_proto::v1::{ApiKeyScope, GetCallerRequest};

use super::State;
use super::layout;
use crate::backend::authed;
use crate::error::ConsoleError;
use crate::session::{self, COOKIE, Session, SignedIn};

const NONCE_COOKIE: &str = "sy_signin";

#[derive(Deserialize)]
pub struct Query {
    #[serde(default)]
    expired: Option<String>,
}

pub async fn form(
    state: State,
    axum::extract::Query(query): axum::extract::Query<Query>,
) -> Response {
    let nonce = session::random_token();
    let note = query
        .expired
        .map(|_| "Your session ended or the credential is no longer accepted: sign in again.");
    let body = layout::bare(
        "Sign in",
        html! {
            h1 { "Sign in to Switchyard" }
            @if let Some(note) = note { p.error { (note) } }
            form method="post" action="/signin" {
                input type="hidden" name="nonce" value=(nonce);
                label for="credential" { "API key or machine token" }
                input #credential type="password" name="credential" autocomplete="off" required;
                p.hint { "A key with the read scope shows the workspace; the admin scope also retries, replays and pauses." }
                button type="submit" { "Sign in" }
            }
        },
    );
    let cookie = session::set_cookie(NONCE_COOKIE, &nonce, state.secure_cookie, Some(600));
    ([(header::SET_COOKIE, cookie)], body).into_response()
}

#[derive(Deserialize)]
pub struct SignInForm {
    credential: String,
    nonce: String,
}

pub async fn submit(
    state: State,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, ConsoleError> {
    let expected = session::cookie(&headers, NONCE_COOKIE).unwrap_or_default();
    if expected.is_empty() || expected != form.nonce {
        return Err(ConsoleError::forbidden(
            "the sign-in form expired or came from another site; load it again",
        ));
    }
    let credential = SecretString::from(form.credential.trim().to_string());
    let caller = state
        .backend
        .workspace
        .clone()
        .get_caller(authed(&credential, GetCallerRequest {})?)
        .await
        .map_err(|status| match status.code() {
            // Not the expired-session redirect: say why this one failed.
            tonic::Code::Unauthenticated => ConsoleError::forbidden(format!(
                "this credential was not accepted: {}",
                status.message()
            )),
            _ => ConsoleError::from(status),
        })?
        .into_inner();
    let workspace = caller.workspace.unwrap_or_default();
    let admin = caller.scopes.contains(&(ApiKeyScope::Admin as i32));
    let session = state.sessions.create(Session {
        id: String::new(),
        credential,
        csrf: String::new(),
        workspace_id: workspace.id,
        workspace_slug: workspace.slug,
        actor: caller.actor,
        admin,
    });
    tracing::info!(workspace = %session.workspace_id, admin, "console sign-in");
    let cookie = session::set_cookie(COOKIE, &session.id, state.secure_cookie, None);
    let clear = session::set_cookie(NONCE_COOKIE, "", state.secure_cookie, Some(0));
    // Two cookies: `append`, as a plain header array would keep only one.
    Ok((
        AppendHeaders([(header::SET_COOKIE, cookie), (header::SET_COOKIE, clear)]),
        Redirect::to("/"),
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct CsrfForm {
    pub csrf: String,
}

pub async fn sign_out(
    state: State,
    SignedIn(session): SignedIn,
    Form(form): Form<CsrfForm>,
) -> Result<Response, ConsoleError> {
    session.check_csrf(&form.csrf)?;
    state.sessions.remove(&session.id);
    let cookie = session::set_cookie(COOKIE, "", state.secure_cookie, Some(0));
    Ok(([(header::SET_COOKIE, cookie)], Redirect::to("/signin")).into_response())
}

//! The web console: one workspace's events, deliveries, dead letters,
//! connections, schemas and rules, in server-rendered pages.
//!
//! - [`session`] signs a credential (API key or machine token) in: the
//!   browser holds an opaque session id in an HttpOnly, SameSite=Strict
//!   cookie; the credential stays in this process. Every form carries the
//!   session's CSRF token.
//! - [`backend`] calls the four gRPC services with the signed-in
//!   credential, exactly as the SDK does: the services' access table is the
//!   one source of truth for what a credential may see and do. The console
//!   only hides what [`session::Session::admin`] says would be refused.
//! - [`pages`] renders each page ([`maud`] templates, an inline SVG chart);
//!   [`security`] adds the CSP and the other headers to every answer;
//!   [`error`] turns refused calls into pages with the matching HTTP code.
//! - `assets/` holds the stylesheet and the one script (live refresh),
//!   compiled into the binary.

pub mod backend;
pub mod error;
pub mod pages;
pub mod security;
pub mod session;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use switchyard_core::config::Config;
use switchyard_core::shutdown::Signal;
use tokio::net::TcpListener;

use crate::backend::Backend;
use crate::session::Sessions;

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct ConsoleState {
    pub backend: Backend,
    pub sessions: Sessions,
    /// Mark cookies `Secure`.
    pub secure_cookie: bool,
}

pub struct ConsoleApp {
    state: ConsoleState,
}

impl ConsoleApp {
    /// Lazy channels to the services at `config.console`'s endpoints.
    pub fn build(config: &Config) -> anyhow::Result<Self> {
        let console = &config.console;
        Ok(Self {
            state: ConsoleState {
                backend: Backend::connect(console, &config.tls)?,
                sessions: Sessions::new(console.session_idle_timeout),
                secure_cookie: console.secure_cookie,
            },
        })
    }

    pub fn state(&self) -> &ConsoleState {
        &self.state
    }

    /// Serves the console on `listener` until `shutdown`.
    pub async fn run(self, listener: TcpListener, shutdown: Signal) -> anyhow::Result<()> {
        let addr: Option<SocketAddr> = listener.local_addr().ok();
        tracing::info!(?addr, "console serving");
        switchyard_core::http_server::serve(listener, router(self.state), shutdown)
            .await
            .map_err(|error| anyhow::anyhow!("console server: {error:#}"))
    }
}

/// Every route of the console.
pub fn router(state: ConsoleState) -> Router {
    use pages::{
        assets, connections, dead_letters, deliveries, events, overview, rules, schemas, signin,
    };
    Router::new()
        .route("/", get(overview::page))
        .route("/signin", get(signin::form).post(signin::submit))
        .route("/signout", post(signin::sign_out))
        .route("/events", get(events::list))
        .route("/events/{id}", get(events::show))
        .route("/deliveries/{id}", get(deliveries::page))
        .route("/deliveries/{id}/retry", post(dead_letters::retry))
        .route("/dead-letters", get(dead_letters::list))
        .route("/dead-letters/replay", post(dead_letters::replay))
        .route("/connections", get(connections::list))
        .route("/connections/{id}/pause", post(connections::pause))
        .route("/connections/{id}/resume", post(connections::resume))
        .route("/schemas", get(schemas::list))
        .route("/schemas/{name}", get(schemas::show))
        .route("/rules", get(rules::list))
        .route("/rules/{id}", get(rules::show))
        .route("/rules/{id}/test", post(rules::test))
        .route("/assets/console.css", get(assets::css))
        .route("/assets/console.js", get(assets::js))
        .layer(axum::middleware::from_fn(security::headers))
        .with_state(Arc::new(state))
}

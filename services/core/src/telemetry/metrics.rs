//! Prometheus metrics. Services record through the `metrics` facade; one
//! recorder per process renders them, and [`serve`] exposes them at
//! `GET /metrics` on the configured address (on [`crate::http_server`]).
//! Metric names are listed in [`names`] so dashboards and tests share them.

use std::net::SocketAddr;
use std::sync::OnceLock;

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::http::{StatusCode, Uri, header};
use axum::response::Response;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;

use crate::shutdown::Signal;

/// Metric names used across services.
pub mod names {
    pub const EVENTS_ACCEPTED: &str = "switchyard_events_accepted_total";
    pub const EVENTS_REJECTED: &str = "switchyard_events_rejected_total";
    /// Ingest's durable commits, and the events each carried.
    pub const INGEST_COMMITS: &str = "switchyard_ingest_commits_total";
    pub const INGEST_COMMIT_EVENTS: &str = "switchyard_ingest_commit_events";
    /// Emits refused because the pipeline fell behind.
    pub const INGEST_BACKPRESSURE: &str = "switchyard_ingest_backpressure_total";
    pub const VALIDATION_SECONDS: &str = "switchyard_validation_duration_seconds";
    pub const ROUTING_SECONDS: &str = "switchyard_routing_duration_seconds";
    pub const DELIVERIES: &str = "switchyard_deliveries_total";
    pub const ATTEMPT_SECONDS: &str = "switchyard_attempt_duration_seconds";
    pub const STREAM_LENGTH: &str = "switchyard_stream_length";
    pub const STREAM_PENDING: &str = "switchyard_stream_pending";
    pub const DELAYED_JOBS: &str = "switchyard_delayed_jobs";
    pub const BREAKER_OPEN: &str = "switchyard_breaker_open";
    /// A connection's adaptive concurrency limit, as last moved by this
    /// process.
    pub const CONCURRENCY_LIMIT: &str = "switchyard_connection_concurrency_limit";
    pub const RATE_LIMITED_WAITS: &str = "switchyard_rate_limited_waits_total";
    /// Retention: rows removed (label `table`), day partitions created and
    /// dropped, payloads pruned (label `table`), duration of a run.
    pub const RETENTION_ROWS_REMOVED: &str = "switchyard_retention_rows_removed_total";
    pub const RETENTION_PARTITIONS_CREATED: &str = "switchyard_retention_partitions_created_total";
    pub const RETENTION_PARTITIONS_DROPPED: &str = "switchyard_retention_partitions_dropped_total";
    pub const RETENTION_PAYLOADS_PRUNED: &str = "switchyard_retention_payloads_pruned_total";
    pub const RETENTION_RUN_SECONDS: &str = "switchyard_retention_run_duration_seconds";
}

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The process's recorder, installed on first use.
pub fn handle() -> anyhow::Result<PrometheusHandle> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let buckets = [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ];
    let recorder = PrometheusBuilder::new()
        .set_buckets(&buckets)
        .context("histogram buckets")?
        .build_recorder();
    let handle = recorder.handle();
    if HANDLE.set(handle.clone()).is_ok() {
        // Only the first caller installs; a recorder set elsewhere wins.
        if ::metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed");
        }
    }
    Ok(HANDLE.get().cloned().unwrap_or(handle))
}

/// Serves `GET /metrics` (and `/healthz`) on `listener` until `shutdown`,
/// on [`crate::http_server`].
pub async fn serve(listener: TcpListener, shutdown: Signal) -> anyhow::Result<()> {
    let handle = handle()?;
    // Any method, and the content type on every answer, as scrapers expect.
    let app = Router::new().fallback(move |uri: Uri| respond(uri, handle.clone()));
    crate::http_server::serve(listener, app, shutdown).await
}

/// Binds `addr` for [`serve`].
pub async fn bind(addr: SocketAddr) -> anyhow::Result<(TcpListener, SocketAddr)> {
    crate::grpc::bind(addr).await
}

async fn respond(uri: Uri, handle: PrometheusHandle) -> Response {
    let mut response = match uri.path() {
        "/metrics" => {
            handle.run_upkeep();
            Response::new(Body::from(handle.render()))
        }
        "/healthz" => Response::new(Body::from("ok\n")),
        _ => {
            let mut response = Response::new(Body::from("not found\n"));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response
        }
    };
    if let Ok(value) = header::HeaderValue::from_str("text/plain; version=0.0.4") {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

//! Logs, traces and metrics.
//!
//! - [`logs`]: the `tracing` subscriber's output — human-readable text by
//!   default, or one JSON object per line carrying the current `trace_id` and
//!   `span_id`; always on stderr so stdout stays free for command output.
//! - [`traces`]: OpenTelemetry. One tracer provider per Switchyard service,
//!   each with its own `service.name` (`switchyard-ingest`, …), so the
//!   all-in-one process still shows four services in Jaeger. A single
//!   `tracing-opentelemetry` layer feeds a [`traces::ServiceTracer`] that
//!   hands each span to the provider of the service it belongs to (by its
//!   `switchyard.service` attribute, else by the crate that created it). The
//!   standard `OTEL_*` variables configure exporter and sampler; with tracing
//!   off no OpenTelemetry layer is installed at all.
//! - [`propagation`]: W3C `traceparent`/`tracestate` in and out of gRPC
//!   metadata (a server span per call, a tower layer on client channels) and
//!   in Redis jobs, so a retry hours later joins the event's trace.
//! - [`metrics`]: the Prometheus recorder and its `/metrics` HTTP endpoint.

pub mod logs;
pub mod metrics;
pub mod propagation;
pub mod traces;

use crate::config::{LogFormat, TelemetryConfig};

/// What [`init`] set up; dropping it (or calling [`Telemetry::shutdown`])
/// flushes spans still buffered.
#[must_use = "dropping the guard stops trace export"]
pub struct Telemetry {
    providers: Option<traces::Providers>,
}

impl Telemetry {
    /// True when spans are exported.
    pub fn tracing_enabled(&self) -> bool {
        self.providers.is_some()
    }

    /// Flushes and stops the exporters.
    pub fn shutdown(mut self) {
        if let Some(providers) = self.providers.take() {
            providers.shutdown();
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(providers) = self.providers.take() {
            providers.shutdown();
        }
    }
}

/// Installs the global subscriber: logs with `default_filter` unless
/// `RUST_LOG` says otherwise, and — when tracing is on — span export for
/// `services`. A second call in one process only logs a warning (tests).
pub fn init(
    format: LogFormat,
    default_filter: &str,
    telemetry: &TelemetryConfig,
    services: &[traces::Service],
) -> anyhow::Result<Telemetry> {
    let providers = if telemetry.tracing_on() {
        Some(traces::Providers::build(telemetry, services)?)
    } else {
        None
    };
    let installed = logs::install(format, default_filter, providers.as_ref());
    if !installed {
        tracing::debug!("a global subscriber was already installed; keeping it");
    }
    propagation::install_propagator();
    Ok(Telemetry { providers })
}

/// Logs only, no span export: for commands that are not services.
pub fn init_logging(format: LogFormat) {
    init_logging_with_default(format, "info");
}

/// Like [`init_logging`], with another default filter when `RUST_LOG` is unset.
pub fn init_logging_with_default(format: LogFormat, default_filter: &str) {
    logs::install(format, default_filter, None);
}

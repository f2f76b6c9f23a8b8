//! W3C trace context across process boundaries.
//!
//! - Servers: [`server_span`] is the `trace_fn` of every gRPC server. It
//!   opens one span per call, named `<service>/<method>`, tagged with the
//!   Switchyard service it belongs to, and continues the caller's trace from
//!   the `traceparent`/`tracestate` metadata.
//! - Clients: [`TracedChannel`] wraps a tonic channel and writes the current
//!   span's context into every outgoing request, so calls between services
//!   need no code in the handlers.
//! - Queues: [`current_traceparent`] and [`context_from_traceparent`] carry
//!   the context inside Redis jobs, so an attempt made hours later (a retry,
//!   a replay) still joins the event's trace.

use std::collections::HashMap;
use std::task::{Context as TaskContext, Poll};

use opentelemetry::Context;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tonic::body::Body;
use tonic::transport::Channel;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::traces::{SERVICE_ATTRIBUTE, Service};

/// Makes W3C trace context the global propagator.
pub fn install_propagator() {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
}

struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|value| value.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

struct HeaderInjector<'a>(&'a mut http::HeaderMap);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(key.as_bytes()),
            http::HeaderValue::from_str(&value),
        ) {
            self.0.insert(name, value);
        }
    }
}

/// The trace context a request's headers carry (empty if none).
pub fn extract(headers: &http::HeaderMap) -> Context {
    TraceContextPropagator::new().extract(&HeaderExtractor(headers))
}

/// Writes the current span's context into `headers`.
pub fn inject_current(headers: &mut http::HeaderMap) {
    let context = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&context, &mut HeaderInjector(headers));
}

/// The span of one gRPC call; `Span::none()` for calls outside Switchyard's
/// own services (health checks, reflection), which are not traced.
pub fn server_span(request: &http::Request<()>) -> tracing::Span {
    let path = request.uri().path().trim_start_matches('/');
    let (grpc_service, method) = path.split_once('/').unwrap_or((path, ""));
    let Some(service) = Service::of_grpc_service(grpc_service) else {
        return tracing::Span::none();
    };
    let short_service = grpc_service.rsplit('.').next().unwrap_or(grpc_service);
    let span = tracing::info_span!(
        "grpc.server",
        otel.name = format!("{short_service}/{method}"),
        otel.kind = "server",
        "rpc.system" = "grpc",
        "rpc.service" = grpc_service,
        "rpc.method" = method,
        { SERVICE_ATTRIBUTE } = service.service_name(),
    );
    let parent = extract(request.headers());
    if parent.span().span_context().is_valid() {
        let _ = span.set_parent(parent);
    }
    span
}

/// A tonic channel that sends the current trace context with every call.
#[derive(Clone, Debug)]
pub struct TracedChannel {
    inner: Channel,
}

impl TracedChannel {
    pub fn new(inner: Channel) -> Self {
        Self { inner }
    }
}

impl tower::Service<http::Request<Body>> for TracedChannel {
    type Response = <Channel as tower::Service<http::Request<Body>>>::Response;
    type Error = <Channel as tower::Service<http::Request<Body>>>::Error;
    type Future = <Channel as tower::Service<http::Request<Body>>>::Future;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        tower::Service::poll_ready(&mut self.inner, cx)
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        inject_current(request.headers_mut());
        tower::Service::call(&mut self.inner, request)
    }
}

/// The current span's `traceparent`, to store with queued work.
pub fn current_traceparent() -> Option<String> {
    let context = tracing::Span::current().context();
    if !context.span().span_context().is_valid() {
        return None;
    }
    let mut carrier: HashMap<String, String> = HashMap::new();
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.remove("traceparent")
}

/// The current span's trace id (32 hex digits), to store with records.
pub fn current_trace_id() -> Option<String> {
    let context = tracing::Span::current().context();
    let span = context.span();
    let span_context = span.span_context();
    span_context
        .is_valid()
        .then(|| span_context.trace_id().to_string())
}

/// Makes `span` a child of the stored `traceparent`, when there is a valid one.
pub fn set_parent_from_traceparent(span: &tracing::Span, traceparent: Option<&str>) {
    let Some(traceparent) = traceparent else {
        return;
    };
    let context = context_from_traceparent(traceparent);
    if context.span().span_context().is_valid() {
        let _ = span.set_parent(context);
    }
}

/// The trace id inside a `traceparent` (`00-<trace id>-<span id>-<flags>`).
pub fn trace_id_of(traceparent: &str) -> Option<&str> {
    let trace_id = traceparent.split('-').nth(1)?;
    (trace_id.len() == 32
        && trace_id.bytes().all(|b| b.is_ascii_hexdigit())
        && trace_id != "0".repeat(32))
    .then_some(trace_id)
}

/// The context a stored `traceparent` describes (empty if malformed).
pub fn context_from_traceparent(traceparent: &str) -> Context {
    let carrier = HashMap::from([("traceparent".to_string(), traceparent.to_string())]);
    TraceContextPropagator::new().extract(&carrier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_traceparent_round_trips() {
        let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let context = context_from_traceparent(traceparent);
        let span = context.span();
        assert!(span.span_context().is_valid());
        assert_eq!(
            span.span_context().trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        let mut carrier: HashMap<String, String> = HashMap::new();
        TraceContextPropagator::new().inject_context(&context, &mut carrier);
        assert_eq!(
            carrier.get("traceparent").map(String::as_str),
            Some(traceparent)
        );
        assert!(
            !context_from_traceparent("garbage")
                .span()
                .span_context()
                .is_valid()
        );
    }

    #[test]
    fn trace_ids_are_read_from_traceparents() {
        assert_eq!(
            trace_id_of("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(
            trace_id_of("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
            None
        );
        assert_eq!(trace_id_of("nonsense"), None);
    }

    #[test]
    fn headers_carry_the_caller_context() {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "traceparent",
            http::HeaderValue::from_static(
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            ),
        );
        let context = extract(&headers);
        assert_eq!(
            context.span().span_context().span_id().to_string(),
            "00f067aa0ba902b7"
        );
    }

    #[test]
    fn untraced_services_get_no_span() {
        let request = http::Request::builder()
            .uri("/grpc.health.v1.Health/Check")
            .body(())
            .expect("request");
        assert!(server_span(&request).is_none());
    }
}

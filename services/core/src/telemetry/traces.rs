//! Span export: one OpenTelemetry tracer provider per Switchyard service, and
//! a [`ServiceTracer`] that routes each span to its service's provider.
//!
//! A span belongs to the service named by its `switchyard.service`
//! attribute (set on the gRPC server span, which core code creates for
//! every service), or else to the crate that created it (`switchyard_ingest`
//! → ingest). Only Switchyard's own spans are exported; library spans
//! (hyper, h2, tokio-postgres) are filtered out before they cost anything.

use std::collections::HashMap;

use anyhow::Context as _;
use opentelemetry::trace::{SpanBuilder, Tracer, TracerProvider as _};
use opentelemetry::{Context, Value};
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::registry::LookupSpan;

use crate::config::TelemetryConfig;

/// The span attribute naming the service a span belongs to.
pub const SERVICE_ATTRIBUTE: &str = "switchyard.service";

/// The four services, as telemetry knows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Service {
    Registry,
    Ingest,
    Router,
    Delivery,
}

impl Service {
    pub const ALL: [Service; 4] = [Self::Registry, Self::Ingest, Self::Router, Self::Delivery];

    /// The `service.name` reported to the tracing backend.
    pub fn service_name(self) -> &'static str {
        match self {
            Self::Registry => "switchyard-registry",
            Self::Ingest => "switchyard-ingest",
            Self::Router => "switchyard-router",
            Self::Delivery => "switchyard-delivery",
        }
    }

    /// Where this service serves metrics when it runs alone: the base port
    /// plus 0 (registry) to 3 (delivery).
    pub fn metrics_addr(self, base: std::net::SocketAddr) -> std::net::SocketAddr {
        let offset = match self {
            Self::Registry => 0,
            Self::Ingest => 1,
            Self::Router => 2,
            Self::Delivery => 3,
        };
        // Port 0 asks for any free port, for each process alike.
        if base.port() == 0 {
            return base;
        }
        std::net::SocketAddr::new(base.ip(), base.port().saturating_add(offset))
    }

    /// The crate whose spans belong to this service.
    fn crate_prefix(self) -> &'static str {
        match self {
            Self::Registry => "switchyard_registry",
            Self::Ingest => "switchyard_ingest",
            Self::Router => "switchyard_router",
            Self::Delivery => "switchyard_delivery",
        }
    }

    /// The service of a span's target (its module path), if any.
    pub fn of_target(target: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|service| {
            target
                .strip_prefix(service.crate_prefix())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with("::"))
        })
    }

    /// The service of a gRPC service name (`switchyard.v1.IngestService`).
    pub fn of_grpc_service(name: &str) -> Option<Self> {
        let short = name.rsplit('.').next().unwrap_or(name);
        match short {
            "RegistryService" => Some(Self::Registry),
            "IngestService" => Some(Self::Ingest),
            "RouterService" | "RoutingService" => Some(Self::Router),
            "DeliveryService" | "DeliveryControlService" => Some(Self::Delivery),
            _ => None,
        }
    }

    fn of_service_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|service| service.service_name() == name)
    }
}

/// The providers of the services running in this process.
pub struct Providers {
    providers: Vec<SdkTracerProvider>,
    tracer: ServiceTracer,
}

impl Providers {
    /// One batch-exporting provider per service. The exporter endpoint is
    /// `telemetry.otlp_endpoint` if set, else the `OTEL_EXPORTER_OTLP_*`
    /// variables; the sampler comes from `OTEL_TRACES_SAMPLER(_ARG)`.
    /// `OTEL_SERVICE_NAME` names a process running one service; the
    /// all-in-one process keeps one name per service.
    pub fn build(telemetry: &TelemetryConfig, services: &[Service]) -> anyhow::Result<Self> {
        let env_name = std::env::var("OTEL_SERVICE_NAME")
            .ok()
            .filter(|name| !name.trim().is_empty() && services.len() == 1);
        let mut providers = Vec::new();
        let mut tracers = HashMap::new();
        for service in services {
            let mut exporter = opentelemetry_otlp::SpanExporter::builder().with_tonic();
            if let Some(endpoint) = &telemetry.otlp_endpoint {
                exporter = exporter.with_endpoint(endpoint.clone());
            }
            let exporter = exporter
                .build()
                .context("building the OTLP span exporter")?;
            let provider = SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(
                    Resource::builder()
                        .with_service_name(
                            env_name
                                .clone()
                                .unwrap_or_else(|| service.service_name().to_string()),
                        )
                        .build(),
                )
                .build();
            tracers.insert(*service, provider.tracer("switchyard"));
            providers.push(provider);
        }
        let fallback = services
            .first()
            .and_then(|service| tracers.get(service).cloned());
        let fallback = match fallback {
            Some(tracer) => tracer,
            None => anyhow::bail!("tracing needs at least one service"),
        };
        Ok(Self {
            providers,
            tracer: ServiceTracer { tracers, fallback },
        })
    }

    /// The `tracing` layer exporting Switchyard's spans.
    pub fn layer<S>(&self) -> impl Layer<S> + use<S>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        tracing_opentelemetry::layer()
            .with_tracer(self.tracer.clone())
            .with_threads(false)
            .with_filter(filter_fn(|metadata| {
                metadata.target().starts_with("switchyard")
                    && *metadata.level() <= tracing::Level::INFO
            }))
    }

    /// Flushes buffered spans and stops the exporters.
    pub fn shutdown(self) {
        for provider in self.providers {
            if let Err(error) = provider.shutdown() {
                eprintln!("flushing spans failed: {error}");
            }
        }
    }
}

/// Hands each span to the tracer of the service it belongs to.
#[derive(Clone, Debug)]
pub struct ServiceTracer {
    tracers: HashMap<Service, SdkTracer>,
    fallback: SdkTracer,
}

impl ServiceTracer {
    fn service_of(builder: &SpanBuilder) -> Option<Service> {
        let attributes = builder.attributes.as_ref()?;
        let text = |value: &Value| value.as_str().into_owned();
        if let Some(named) = attributes
            .iter()
            .find(|kv| kv.key.as_str() == SERVICE_ATTRIBUTE)
        {
            return Service::of_service_name(&text(&named.value));
        }
        let target = attributes.iter().find(|kv| kv.key.as_str() == "target")?;
        Service::of_target(&text(&target.value))
    }
}

impl Tracer for ServiceTracer {
    type Span = opentelemetry_sdk::trace::Span;

    fn build_with_context(&self, builder: SpanBuilder, parent_cx: &Context) -> Self::Span {
        let tracer = Self::service_of(&builder)
            .and_then(|service| self.tracers.get(&service))
            .unwrap_or(&self.fallback);
        tracer.build_with_context(builder, parent_cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_grpc_names_map_to_services() {
        assert_eq!(
            Service::of_target("switchyard_ingest::emit"),
            Some(Service::Ingest)
        );
        assert_eq!(
            Service::of_target("switchyard_ingest"),
            Some(Service::Ingest)
        );
        assert_eq!(Service::of_target("switchyard_ingestion::x"), None);
        assert_eq!(Service::of_target("switchyard_core::grpc"), None);
        assert_eq!(
            Service::of_grpc_service("switchyard.v1.RouterService"),
            Some(Service::Router)
        );
        assert_eq!(
            Service::of_grpc_service("switchyard.internal.v1.RoutingService"),
            Some(Service::Router)
        );
        assert_eq!(
            Service::of_grpc_service("switchyard.internal.v1.DeliveryControlService"),
            Some(Service::Delivery)
        );
        assert_eq!(Service::of_grpc_service("grpc.health.v1.Health"), None);
    }

    #[test]
    fn spans_are_routed_by_attribute_then_target() {
        let named = SpanBuilder::from_name("x").with_attributes(vec![
            opentelemetry::KeyValue::new("target", "switchyard_core::grpc"),
            opentelemetry::KeyValue::new(SERVICE_ATTRIBUTE, "switchyard-delivery"),
        ]);
        assert_eq!(ServiceTracer::service_of(&named), Some(Service::Delivery));
        let by_target =
            SpanBuilder::from_name("x").with_attributes(vec![opentelemetry::KeyValue::new(
                "target",
                "switchyard_router::routing",
            )]);
        assert_eq!(ServiceTracer::service_of(&by_target), Some(Service::Router));
    }
}

//! gRPC plumbing every service shares: serving a service's routes next to
//! `grpc.health.v1` (following Postgres, see [`crate::readiness`]) and
//! server reflection (so `buf curl` and grpcurl work without proto files), one span per call continuing the caller's trace,
//! and lazily connected, trace-propagating channels to other services.
//! Both sides take their TLS settings from [`crate::tls`]: a listener
//! serves TLS (and checks client certificates) when given settings, a
//! channel to an `https://` endpoint uses the configured CA and identity.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use deadpool_postgres::Pool;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::Routes;
use tonic::transport::{Endpoint, Server, ServerTlsConfig};

use crate::telemetry::propagation::TracedChannel;
use crate::tls::TlsConfig;

use crate::shutdown::Signal;

/// The largest request a server that takes payloads decodes (tonic's
/// default is 4 MiB). It stays well above the largest payload a workspace
/// may be allowed ([`crate::quotas::MAX_PAYLOAD_CEILING`]), so an oversized
/// payload reaches the handler and gets the documented `InvalidArgument`
/// naming `payload_json` and the limit; only a request beyond this is
/// refused unread (`OutOfRange`).
pub const MAX_REQUEST_BYTES: usize = 16 * 1024 * 1024;

const _: () = assert!(MAX_REQUEST_BYTES > 2 * crate::quotas::MAX_PAYLOAD_CEILING);

/// The health service name a liveness probe asks about: `SERVING` for as
/// long as the server runs, whatever its dependencies say. Readiness asks
/// about the whole server (`""`), which follows Postgres and turns
/// `NOT_SERVING` at a stop; a liveness probe on it would restart every
/// replica during a database outage they ride out by themselves.
pub const LIVENESS_SERVICE: &str = "liveness";

/// Binds `addr` (port 0 picks a free one) and reports the bound address.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr().context("reading the bound address")?;
    Ok((listener, local))
}

/// Serves `routes` plus health and reflection on `listener` until `shutdown`
/// trips. A stop first reports every service `NOT_SERVING` (so a balancer
/// still probing sends nothing new here), then stops accepting connections
/// and lets in-flight calls finish (tonic's graceful shutdown: open HTTP/2
/// connections get a `GOAWAY`). Logs `listening` here, once the
/// service is built and about to answer, so a service that fails to build
/// never claims it listened. Health reports `service_names` as serving
/// while `database` answers. With `tls`, every connection must
/// complete a TLS handshake (and present a client certificate, when `tls`
/// names a client CA) before any call.
pub async fn serve(
    routes: Routes,
    service_names: &[&str],
    database: &Pool,
    listener: TcpListener,
    tls: Option<ServerTlsConfig>,
    shutdown: Signal,
) -> anyhow::Result<()> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    let stopping = {
        let reporter = health_reporter.clone();
        let names: Vec<String> = service_names.iter().map(|name| name.to_string()).collect();
        let shutdown = shutdown.clone();
        async move {
            shutdown.wait().await;
            for name in names.iter().map(String::as_str).chain([""]) {
                reporter
                    .set_service_status(name, tonic_health::ServingStatus::NotServing)
                    .await;
            }
            tracing::info!("stopping: health is NOT_SERVING, draining in-flight calls");
        }
    };
    health_reporter
        .set_service_status(LIVENESS_SERVICE, tonic_health::ServingStatus::Serving)
        .await;
    for name in service_names {
        health_reporter
            .set_service_status(*name, tonic_health::ServingStatus::Serving)
            .await;
    }
    let health = tokio::spawn(crate::readiness::follow_postgres(
        database.clone(),
        health_reporter,
        service_names.iter().map(|name| name.to_string()).collect(),
        shutdown.clone(),
    ));
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(switchyard_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("building the reflection service")?;

    let addr = listener.local_addr().context("reading the bound address")?;
    let mut server = Server::builder();
    if let Some(tls) = tls {
        server = server
            .tls_config(tls)
            .context("configuring TLS (check tls.cert, tls.key and tls.client_ca)")?;
    }
    tracing::info!(%addr, services = ?service_names, "listening");
    let served = server
        .trace_fn(crate::telemetry::propagation::server_span)
        .tcp_nodelay(true)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .add_routes(routes)
        .add_service(health_service)
        .add_service(reflection)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), stopping)
        .await
        .context("serving gRPC");
    health.abort();
    served
}

/// A channel to another service that connects on first use and reconnects
/// by itself, so services can start in any order, and carries the caller's
/// trace context. An `https://` endpoint is reached with `tls`'s CA and
/// client identity, which it requires; an `http://` endpoint is refused
/// once `tls` is set up for calling (it would drop to plaintext).
pub fn lazy_channel(endpoint: &str, tls: &TlsConfig) -> anyhow::Result<TracedChannel> {
    let url = endpoint;
    let mut endpoint = Endpoint::from_shared(url.to_string())
        .with_context(|| format!("invalid endpoint {url}"))?;
    if endpoint.uri().scheme_str() == Some("https") {
        let client_tls = tls
            .client()?
            .filter(|_| tls.ca.is_some())
            .with_context(|| {
                format!("endpoint {url} is https: set tls.ca to the CA its certificate chains to")
            })?;
        endpoint = endpoint
            .tls_config(client_tls)
            .with_context(|| format!("configuring TLS for {url}"))?;
    } else if tls.ca.is_some() || tls.client_cert.is_some() {
        // TLS for calls is configured: a plaintext endpoint is a mistake
        // (typically a standalone service started with the default
        // endpoints), not a reason to send credentials in clear.
        anyhow::bail!(
            "endpoint {url} is plaintext while tls.ca or tls.client_cert is set for calling \
             the other services: give the endpoint as https://"
        );
    }
    let endpoint = endpoint
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    Ok(TracedChannel::new(endpoint.connect_lazy()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_plaintext_endpoint_is_refused_when_calls_are_configured_for_tls() {
        let tls = TlsConfig {
            ca: Some("ca.pem".into()),
            ..TlsConfig::default()
        };
        let Err(error) = lazy_channel("http://127.0.0.1:50051", &tls) else {
            panic!("a plaintext endpoint was accepted");
        };
        assert!(
            error.to_string().contains("give the endpoint as https://"),
            "{error}"
        );
        assert!(lazy_channel("http://127.0.0.1:50051", &TlsConfig::default()).is_ok());
    }

    #[tokio::test]
    async fn an_https_endpoint_needs_the_ca() {
        let Err(error) = lazy_channel("https://127.0.0.1:50051", &TlsConfig::default()) else {
            panic!("an https endpoint without a CA was accepted");
        };
        assert!(error.to_string().contains("set tls.ca"), "{error}");
    }
}

//! gRPC plumbing every service shares: serving a service's routes next to
//! `grpc.health.v1` and server reflection (so `buf curl` and grpcurl work
//! without proto files), one span per call continuing the caller's trace,
//! and lazily connected, trace-propagating channels to other services.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::service::Routes;
use tonic::transport::{Endpoint, Server};

use crate::telemetry::propagation::TracedChannel;

use crate::shutdown::Signal;

/// Binds `addr` (port 0 picks a free one) and reports the bound address.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("binding {addr}"))?;
    let local = listener.local_addr().context("reading the bound address")?;
    Ok((listener, local))
}

/// Serves `routes` plus health and reflection on `listener` until `shutdown`
/// trips; in-flight calls finish first.
pub async fn serve(
    routes: Routes,
    service_names: &[&str],
    listener: TcpListener,
    shutdown: Signal,
) -> anyhow::Result<()> {
    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    for name in service_names {
        health_reporter
            .set_service_status(*name, tonic_health::ServingStatus::Serving)
            .await;
    }
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(switchyard_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("building the reflection service")?;

    Server::builder()
        .trace_fn(crate::telemetry::propagation::server_span)
        .tcp_nodelay(true)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .add_routes(routes)
        .add_service(health_service)
        .add_service(reflection)
        .serve_with_incoming_shutdown(TcpListenerStream::new(listener), shutdown.wait())
        .await
        .context("serving gRPC")
}

/// A channel to another service that connects on first use and reconnects
/// by itself, so services can start in any order, and carries the caller's
/// trace context.
pub fn lazy_channel(endpoint: &str) -> anyhow::Result<TracedChannel> {
    let endpoint = Endpoint::from_shared(endpoint.to_string())
        .with_context(|| format!("invalid endpoint {endpoint}"))?
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(30))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(Duration::from_secs(30))
        .keep_alive_while_idle(true);
    Ok(TracedChannel::new(endpoint.connect_lazy()))
}

//! The `main` of a service run as its own process: configuration from the
//! environment, logs and traces under that service's name, `/metrics` on
//! the configured port plus the service's offset (registry 0 … delivery 3,
//! so four processes on one host don't collide: 9464-9467 by default), and
//! a graceful stop on Ctrl-C or SIGTERM. Settings a lone service needs are
//! checked before it binds anything, and `listening` is logged by
//! `grpc::serve` once the service is built.

use std::future::Future;
use std::net::SocketAddr;

use tokio::net::TcpListener;

use crate::config::Config;
use crate::shutdown::{self, Signal};
use crate::telemetry::{self, metrics, traces::Service};

/// Runs one service until a stop signal; `run` builds and serves it.
pub async fn run<F, Fut>(service: Service, run: F) -> anyhow::Result<()>
where
    F: FnOnce(Config, TcpListener, Signal) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    run_checked(service, |_| Ok(()), run).await
}

/// [`run`], after `check` has accepted the settings this service needs
/// beyond what every configuration validates (the router and delivery
/// services check their master keys with it), before anything is bound.
pub async fn run_checked<C, F, Fut>(service: Service, check: C, run: F) -> anyhow::Result<()>
where
    C: FnOnce(&Config) -> anyhow::Result<()>,
    F: FnOnce(Config, TcpListener, Signal) -> Fut,
    Fut: Future<Output = anyhow::Result<()>>,
{
    let config = Config::load()?;
    check_standalone(service, &config)?;
    check(&config)?;
    let telemetry = telemetry::init(config.log_format, "info", &config.telemetry, &[service])?;
    let (listener, addr) = crate::grpc::bind(listen_addr(service, &config)).await?;
    let (trigger, signal) = shutdown::channel();
    if let Some(base) = config.telemetry.metrics_addr {
        let (metrics_listener, metrics_addr) = metrics::bind(service.metrics_addr(base)).await?;
        tokio::spawn(metrics::serve(metrics_listener, signal.clone()));
        tracing::info!(addr = %metrics_addr, "metrics at /metrics");
    }
    tokio::spawn(async move {
        shutdown::os_signal().await;
        tracing::info!("shutting down");
        trigger.trip();
    });
    tracing::info!(service = service.service_name(), %addr, "starting");
    let result = run(config, listener, signal).await;
    telemetry.shutdown();
    result
}

/// What a service run on its own needs beyond what every configuration
/// validates, checked before anything starts: ingest calls the router's
/// internal RPCs and the router answers them, both with the shared token.
fn check_standalone(service: Service, config: &Config) -> anyhow::Result<()> {
    if matches!(service, Service::Ingest | Service::Router) {
        config.require_internal_token()?;
    }
    Ok(())
}

/// The configured listen address of `service`.
pub fn listen_addr(service: Service, config: &Config) -> SocketAddr {
    match service {
        Service::Registry => config.registry_addr,
        Service::Ingest => config.ingest_addr,
        Service::Router => config.router_addr,
        Service::Delivery => config.delivery_addr,
    }
}

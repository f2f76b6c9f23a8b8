//! `switchyard-registry`: runs the registry service on its own, configured
//! by `SWITCHYARD_*` variables (see `switchyard_core::config`).

use anyhow::Context;
use switchyard_core::config::Config;
use switchyard_core::{grpc, shutdown, telemetry};
use switchyard_registry::RegistryApp;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load()?;
    telemetry::init_logging(config.log_format);
    let (listener, addr) = grpc::bind(config.registry_addr).await?;
    let app = RegistryApp::build(&config)
        .await
        .context("building the registry")?;

    let (trigger, signal) = shutdown::channel();
    tokio::spawn(async move {
        shutdown::os_signal().await;
        tracing::info!("shutting down");
        trigger.trip();
    });
    tracing::info!(%addr, "registry listening");
    app.run(listener, signal).await
}

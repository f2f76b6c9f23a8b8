//! `switchyard-router`: the router service alone.

use anyhow::Context;
use switchyard_core::config::Config;
use switchyard_core::{grpc, shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load()?;
    telemetry::init_logging(config.log_format);
    let (listener, addr) = grpc::bind(config.router_addr).await?;
    let app = switchyard_router::RouterApp::build(&config).await?;
    let (trigger, signal) = shutdown::channel();
    tokio::spawn(async move {
        shutdown::os_signal().await;
        trigger.trip();
    });
    tracing::info!(%addr, "router listening");
    app.run(listener, signal).await.context("router stopped")
}

//! `switchyard-delivery`: the delivery service as its own process.

use anyhow::Context;
use switchyard_core::config::Config;
use switchyard_core::{grpc, shutdown, telemetry};
use switchyard_delivery::DeliveryApp;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::load()?;
    telemetry::init_logging(config.log_format);

    let (listener, addr) = grpc::bind(config.delivery_addr).await?;
    let app = DeliveryApp::build(&config)
        .await
        .context("starting the delivery service")?;
    tracing::info!(%addr, "delivery service listening");

    let (trigger, signal) = shutdown::channel();
    tokio::spawn(async move {
        shutdown::os_signal().await;
        tracing::info!("shutting down");
        trigger.trip();
    });
    app.run(listener, signal).await
}

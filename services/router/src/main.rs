//! `switchyard-router`: the router service on its own, configured by
//! `SWITCHYARD_*` and `OTEL_*` variables (see `switchyard_core::config`).

use switchyard_core::standalone;
use switchyard_core::telemetry::traces::Service;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    standalone::run_checked(
        Service::Router,
        switchyard_tenancy::secrets::require_keyring,
        |config, listener, shutdown| async move {
            let app = switchyard_router::RouterApp::build(&config).await?;
            app.run(listener, shutdown).await
        },
    )
    .await
}

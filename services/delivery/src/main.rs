//! `switchyard-delivery`: the delivery service on its own, configured by
//! `SWITCHYARD_*` and `OTEL_*` variables (see `switchyard_core::config`).

use switchyard_core::standalone;
use switchyard_core::telemetry::traces::Service;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    standalone::run_checked(
        Service::Delivery,
        switchyard_tenancy::secrets::require_keyring,
        |config, listener, shutdown| async move {
            let app = switchyard_delivery::DeliveryApp::build(&config).await?;
            app.run(listener, shutdown).await
        },
    )
    .await
}

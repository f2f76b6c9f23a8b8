//! `switchyard health <endpoint>`: one `grpc.health.v1.Health/Check` call,
//! for health checks of images without a gRPC probe tool (Compose).
//! Kubernetes probes the same service natively (`grpc:` probes).

use std::time::Duration;

use anyhow::{Context, bail};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// Succeeds when `service` (the whole server when empty) at `endpoint`
/// answers SERVING within `timeout`.
pub async fn check(endpoint: &str, service: &str, timeout: Duration) -> anyhow::Result<()> {
    let channel = tonic::transport::Endpoint::from_shared(endpoint.to_string())
        .with_context(|| format!("invalid endpoint {endpoint}"))?
        .connect_timeout(timeout)
        .timeout(timeout)
        .connect()
        .await
        .with_context(|| format!("connecting to {endpoint}"))?;
    let response = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: service.to_string(),
        })
        .await
        .with_context(|| format!("asking {endpoint} for its health"))?;
    let status =
        ServingStatus::try_from(response.into_inner().status).unwrap_or(ServingStatus::Unknown);
    if status != ServingStatus::Serving {
        bail!("{endpoint} answered {}", status.as_str_name());
    }
    println!("{endpoint}: SERVING");
    Ok(())
}

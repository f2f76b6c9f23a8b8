//! Every service answers gRPC health checks and serves reflection.

use switchyard_tests::{Service, TestStack};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test]
async fn each_service_reports_serving() -> anyhow::Result<()> {
    let stack = TestStack::start().await?;
    let services = [
        (Service::Registry, "switchyard.v1.RegistryService"),
        (Service::Ingest, "switchyard.v1.IngestService"),
        (Service::Router, "switchyard.v1.RouterService"),
        (Service::Delivery, "switchyard.v1.DeliveryService"),
    ];
    for (kind, name) in services {
        let channel =
            tonic::transport::Endpoint::from_shared(format!("http://{}", stack.stack.addr(kind)))?
                .connect()
                .await?;
        let response = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: name.to_string(),
            })
            .await?
            .into_inner();
        assert_eq!(response.status, ServingStatus::Serving as i32, "{name}");
    }
    stack.stop().await
}

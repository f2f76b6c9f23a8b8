//! `ValidatePayload` over gRPC on loopback, 64 calls in flight: prints
//! calls/s and latency percentiles. Starts a registry on a fresh test
//! database (`SWITCHYARD_TEST_DATABASE_URL`, see `switchyard_testkit`),
//! registers the benchmark schema and hammers it with the 1 KiB payload
//! through one HTTP/2 connection, as ingest would.
//!
//! `cargo run --release -p switchyard-registry --example grpc_load [seconds] [in_flight]`

#[path = "../benches/fixture/mod.rs"]
mod fixture;

use std::time::{Duration, Instant};

use switchyard_core::config::Config;
use switchyard_core::{db, grpc, shutdown};
use switchyard_proto::v1::registry_service_client::RegistryServiceClient;
use switchyard_proto::v1::{RegisterSchemaRequest, ValidatePayloadRequest};
use switchyard_registry::RegistryApp;
use switchyard_tenancy::auth;
use switchyard_testkit::TestDatabase;
use tonic::Request;
use tonic::metadata::{Ascii, MetadataValue};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map_or(Ok(10), |text| text.parse())?;
    let in_flight: usize = args.next().map_or(Ok(64), |text| text.parse())?;

    let database = TestDatabase::create().await?;
    let pool = db::pool(&database.url, 2)?;
    let (_, key) = auth::create_workspace(
        &pool,
        &switchyard_tenancy::auth::KeyHasher::new(None),
        "load",
    )
    .await
    .map_err(|error| anyhow::anyhow!("{error}"))?;
    let config = Config {
        database_url: database.url.clone(),
        database_pool_size: 8,
        ..Config::default()
    };
    let (listener, addr) = grpc::bind("127.0.0.1:0".parse()?).await?;
    let app = RegistryApp::build(&config).await?;
    let (trigger, signal) = shutdown::channel();
    let server = tokio::spawn(app.run(listener, signal));

    let client = RegistryServiceClient::connect(format!("http://{addr}")).await?;
    let authorization: MetadataValue<Ascii> = format!("Bearer {key}").parse()?;
    client
        .clone()
        .register_schema(authorized(
            &authorization,
            RegisterSchemaRequest {
                event_type: fixture::EVENT_TYPE.to_string(),
                json_schema: fixture::schema().to_string(),
                ..Default::default()
            },
        ))
        .await?;
    let payload_json = fixture::payload().to_string();
    let call = ValidatePayloadRequest {
        event_type: fixture::EVENT_TYPE.to_string(),
        schema_version: 0,
        payload_json,
    };

    // Warm up: caches, connection, allocator.
    for _ in 0..1000 {
        let response = client
            .clone()
            .validate_payload(authorized(&authorization, call.clone()))
            .await?;
        anyhow::ensure!(
            response.get_ref().valid,
            "the fixture payload must be valid"
        );
    }

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut workers = Vec::with_capacity(in_flight);
    for _ in 0..in_flight {
        let mut client = client.clone();
        let call = call.clone();
        let authorization = authorization.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let started = Instant::now();
                client
                    .validate_payload(authorized(&authorization, call.clone()))
                    .await?;
                latencies.push(started.elapsed());
            }
            Ok::<_, tonic::Status>(latencies)
        }));
    }
    let started = Instant::now();
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await??);
    }
    let elapsed = started.elapsed();
    latencies.sort_unstable();
    let percentile = |p: f64| {
        let index = ((latencies.len() as f64 - 1.0) * p).round() as usize;
        latencies[index]
    };
    println!(
        "ValidatePayload, 1 KiB payload, {in_flight} in flight, {seconds} s: {} calls, {:.0} calls/s, p50 {:?}, p99 {:?}, max {:?}",
        latencies.len(),
        latencies.len() as f64 / elapsed.as_secs_f64(),
        percentile(0.50),
        percentile(0.99),
        percentile(1.0),
    );

    drop(trigger);
    server.await??;
    Ok(())
}

fn authorized<T>(authorization: &MetadataValue<Ascii>, message: T) -> Request<T> {
    let mut request = Request::new(message);
    request
        .metadata_mut()
        .insert("authorization", authorization.clone());
    request
}

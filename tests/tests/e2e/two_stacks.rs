//! Two stacks on one database and Redis prefix with different master keys:
//! the second one's router and delivery refuse to start (it would take the
//! first one's jobs and hold every attempt on credentials it cannot open),
//! and start once the first one has stopped.

use std::time::Duration;

use switchyard::stack::{ServiceKind, Stack};
use switchyard_core::config::Config;
use switchyard_tenancy::secrets::claim::keyrings_key;
use switchyard_testkit::{TestDatabase, TestRedis, secrets_config};
use switchyard_tests::test_config;

/// The same database and prefix as `first`, its own keys and ports.
fn second_stack_config(first: &Config) -> Config {
    let any_port = "127.0.0.1:0".parse().expect("address");
    let mut config = first.clone();
    config.secrets = secrets_config();
    config.registry_addr = any_port;
    config.ingest_addr = any_port;
    config.router_addr = any_port;
    config.delivery_addr = any_port;
    config.telemetry.metrics_addr = None;
    config
}

async fn live_keyrings(config: &Config) -> anyhow::Result<Vec<String>> {
    let mut redis = redis::Client::open(config.redis_url.as_str())?
        .get_multiplexed_async_connection()
        .await?;
    let fields: Vec<String> = redis::cmd("HKEYS")
        .arg(keyrings_key(&config.redis_prefix))
        .query_async(&mut redis)
        .await?;
    Ok(fields)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_stack_with_other_master_keys_refuses_to_start_beside_the_first()
-> anyhow::Result<()> {
    let database = TestDatabase::create().await?;
    let redis = TestRedis::new();
    let first = Stack::start(test_config(&database, &redis), &ServiceKind::ALL).await?;
    let config = first.config().clone();
    // The first stack's router and delivery announce their keyring once built.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while live_keyrings(&config).await?.len() < 2 {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the first stack never announced its keyring"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut announced = live_keyrings(&config).await?;
    announced.sort();
    assert!(announced[0].starts_with("delivery-"), "{announced:?}");
    assert!(announced[1].starts_with("router-"), "{announced:?}");

    for kind in [ServiceKind::Delivery, ServiceKind::Router] {
        let mut second = Stack::start(second_stack_config(&config), &[kind]).await?;
        let refused = tokio::time::timeout(Duration::from_secs(15), second.any_stopped())
            .await?
            .expect_err("a second keyring on the same prefix must not start");
        let message = format!("{refused:#}");
        assert!(
            message.contains(&format!(
                "another deployment uses Redis prefix `{}`",
                config.redis_prefix
            )),
            "{message}"
        );
        assert!(
            message.contains("its master key test differs from this process's"),
            "{message}"
        );
        assert!(
            message.contains("give it its own SWITCHYARD_REDIS_PREFIX and SWITCHYARD_DATABASE_URL"),
            "{message}"
        );
        assert_eq!(
            live_keyrings(&config).await?.len(),
            2,
            "{kind} left an entry"
        );
    }

    // Once the first stack is gone (its entries with it), the second starts.
    first.stop().await?;
    assert_eq!(live_keyrings(&config).await?, Vec::<String>::new());
    let second = Stack::start(second_stack_config(&config), &[ServiceKind::Delivery]).await?;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while live_keyrings(&config).await?.is_empty() {
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "the second stack's delivery did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    second.stop().await?;
    assert_eq!(live_keyrings(&config).await?, Vec::<String>::new());
    Ok(())
}

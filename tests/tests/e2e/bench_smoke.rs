//! `switchyard bench` on a handful of events (the real benchmark is run by
//! hand, see the command's docs): through ingest and the router, and with
//! `--preload` (the delivery engine alone), and through `EmitEvents`
//! (`--batch`), and to RabbitMQ and NATS connections (`--broker`). Every
//! event reaches every healthy receiver once, signed, with an attempt
//! recorded.

use switchyard::commands::bench::{self, BenchArgs, BrokerKind};
use switchyard_testkit::{TestDatabase, TestRedis};
use switchyard_tests::test_config;

fn args(preload: bool, batch: usize, broker: Option<BrokerKind>, ordering_keys: u32) -> BenchArgs {
    BenchArgs {
        rate: 20.0,
        duration_secs: 1,
        concurrency: 4,
        batch,
        payload_bytes: 256,
        fanout: 2,
        failing: 0,
        slow: 0,
        slow_delay_ms: 0,
        drain_secs: 20,
        external: false,
        preload,
        keep: false,
        compare_bad_apple: false,
        broker,
        broker_url: None,
        broker_user: "guest".into(),
        broker_password: "guest".into(),
        ordering_keys,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_bench_reports_every_delivery_once() -> anyhow::Result<()> {
    let (rabbitmq, nats) = (Some(BrokerKind::Rabbitmq), Some(BrokerKind::Nats));
    for (preload, batch, broker, ordering_keys) in [
        (false, 1, None, 0),
        (true, 1, None, 0),
        (false, 10, None, 0),
        (true, 1, rabbitmq, 0),
        (true, 1, nats, 0),
        (false, 1, None, 3),
    ] {
        let database = TestDatabase::create().await?;
        let redis = TestRedis::new();
        let report = bench::run(
            &args(preload, batch, broker, ordering_keys),
            test_config(&database, &redis),
        )
        .await?;
        let accepted = report["accepted"].as_u64().unwrap_or(0);
        assert!(accepted >= 10, "{report}");
        assert_eq!(report["expected_deliveries"].as_u64(), Some(accepted * 2));
        assert_eq!(report["delivered"].as_u64(), Some(accepted * 2), "{report}");
        assert_eq!(report["duplicates"].as_u64(), Some(0));
        assert_eq!(report["signature_failures"].as_u64(), Some(0));
        assert_eq!(
            report["attempts_recorded"].as_i64(),
            Some(accepted as i64 * 2)
        );
        assert!(report["latency_ms"]["p99"].as_f64().is_some());
        assert_eq!(report["emit_errors"].as_u64(), Some(0), "{report}");
        assert_eq!(
            report["clean_start"]["clean"].as_bool(),
            Some(true),
            "{report}"
        );
        assert!(report.get("kept").is_none(), "{report}");
    }
    Ok(())
}

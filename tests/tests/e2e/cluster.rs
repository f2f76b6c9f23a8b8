//! The delivery path on a 3-node Redis Cluster started by the test
//! (`switchyard_testkit::cluster`), with the stream sharded into
//! three partitions: emit → router → delivery → local receivers, every
//! delivery arriving once; retries through the delayed set; rate limit,
//! concurrency cap and circuit breaker; and the key layout checked slot by
//! slot on the cluster itself. Without `redis-server` these tests fail,
//! saying so; they never pass by skipping.

use std::collections::{BTreeSet, HashMap};
use std::net::SocketAddr;
use std::time::Duration;

use switchyard::receiver::{Behaviour, Receiver};
use switchyard_client::proto;
use switchyard_core::ids::ConnectionId;
use switchyard_core::redis_conn::{RedisConn, Target};
use switchyard_delivery::limits::ConnectionKeys;
use switchyard_delivery_model::queue::{CONSUMER_GROUP, QueueLayout};
use switchyard_testkit::cluster::TestCluster;
use switchyard_tests::{LEAD_CREATED, Service, TestStack};

const PARTITIONS: u16 = 3;

/// A stack whose Redis is `cluster`, its stream in three partitions.
async fn cluster_stack(cluster: &TestCluster) -> anyhow::Result<TestStack> {
    let url = cluster.url();
    let stack = TestStack::start_with(&Service::ALL, |config| {
        config.redis_url = url;
        config.redis.partitions = PARTITIONS;
        // Small, so a slow receiver's jobs go through the waiting lists.
        config.delivery.max_in_flight_per_connection = 2;
    })
    .await?;
    stack.register_lead_schema().await?;
    Ok(stack)
}

async fn connect_cluster(cluster: &TestCluster) -> anyhow::Result<RedisConn> {
    Target::parse(&cluster.url(), false)?.connect().await
}

/// A receiver with a webhook connection (with `policy`) and a rule.
async fn hook(
    stack: &TestStack,
    behaviour: Behaviour,
    policy: Option<proto::DeliveryPolicy>,
) -> anyhow::Result<(Receiver, proto::Connection)> {
    let receiver = Receiver::start(SocketAddr::from(([127, 0, 0, 1], 0)), behaviour).await?;
    let connection = stack
        .client
        .create_webhook_with_policy("hook", &receiver.url("/hook"), HashMap::new(), policy)
        .await?;
    receiver.set_secret(&connection.signing_secret);
    stack
        .client
        .create_rule(LEAD_CREATED, &connection.id)
        .await?;
    Ok((receiver, connection))
}

async fn emit(stack: &TestStack, n: usize) -> anyhow::Result<String> {
    let payload = serde_json::json!({ "id": format!("lead_{n}"), "email": "ada@example.com" });
    Ok(stack.client.emit(LEAD_CREATED, &payload).await?.event_id)
}

fn seconds(seconds: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration { seconds, nanos: 0 })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_delivery_arrives_once_through_a_stream_sharded_over_the_cluster()
-> anyhow::Result<()> {
    let cluster = TestCluster::start().await?;
    let stack = cluster_stack(&cluster).await?;
    let redis = connect_cluster(&cluster).await?;
    let layout = fan_out_once_per_delivery(&stack, redis).await?;
    let nodes: BTreeSet<u16> = layout
        .partitions()
        .iter()
        .map(|keys| cluster.node_of(&keys.stream))
        .collect::<anyhow::Result<_>>()?;
    assert_eq!(nodes.len(), 3, "the partitions share a node: {nodes:?}");
    stack.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stream_sharded_on_a_single_redis_delivers_every_event_once() -> anyhow::Result<()> {
    let stack = TestStack::start_with(&Service::ALL, |config| {
        config.redis.partitions = PARTITIONS;
        config.delivery.max_in_flight_per_connection = 2;
    })
    .await?;
    stack.register_lead_schema().await?;
    let redis = Target::from_config(stack.stack.config())?.connect().await?;
    fan_out_once_per_delivery(&stack, redis).await?;
    stack.stop().await
}

/// Connections (slow ones, so some jobs wait in the waiting lists) until
/// every partition has one, 15 events to all of them: every delivery
/// arrives once, signed; every partition's stream carried jobs and has none
/// left unacknowledged. Returns the layout.
async fn fan_out_once_per_delivery(
    stack: &TestStack,
    mut redis: RedisConn,
) -> anyhow::Result<QueueLayout> {
    let layout = QueueLayout::from_config(stack.stack.config());
    assert_eq!(layout.len(), usize::from(PARTITIONS));
    let slow = Behaviour {
        delay: Duration::from_millis(40),
        ..Behaviour::default()
    };
    let mut hooks = Vec::new();
    let mut covered = BTreeSet::new();
    while covered.len() < layout.len() || hooks.len() < 4 {
        assert!(
            hooks.len() < 24,
            "connection ids never covered every partition"
        );
        let (receiver, connection) = hook(stack, slow.clone(), None).await?;
        covered.insert(layout.partition_of_connection(&connection.id));
        hooks.push((receiver, connection));
    }

    const EVENTS: usize = 15;
    for n in 0..EVENTS {
        emit(stack, n).await?;
    }
    for (receiver, connection) in &hooks {
        let received = receiver.wait_for(EVENTS, Duration::from_secs(60)).await?;
        assert!(
            received
                .iter()
                .all(|webhook| webhook.signature == Some(Ok(()))),
            "{}: a signature did not verify",
            connection.id
        );
    }
    // Nothing arrives twice, even after the loops have had time to repeat.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut all_ids = BTreeSet::new();
    for (receiver, connection) in &hooks {
        let received = receiver.received();
        let ids: BTreeSet<String> = received
            .iter()
            .filter_map(|webhook| webhook.header("webhook-id").map(str::to_string))
            .collect();
        assert_eq!(received.len(), EVENTS, "{} got duplicates", connection.id);
        assert_eq!(ids.len(), EVENTS);
        all_ids.extend(ids);
    }
    assert_eq!(all_ids.len(), EVENTS * hooks.len());
    let succeeded = stack
        .count("SELECT count(*) FROM deliveries WHERE status = 'succeeded' AND attempt_count = 1")
        .await?;
    assert_eq!(succeeded, i64::try_from(EVENTS * hooks.len())?);

    for (index, keys) in layout.partitions().iter().enumerate() {
        let info: HashMap<String, redis::Value> = redis::cmd("XINFO")
            .arg("STREAM")
            .arg(&keys.stream)
            .query_async(&mut redis)
            .await?;
        let added: i64 = match info.get("entries-added") {
            Some(value) => redis::from_redis_value(value.clone())?,
            None => anyhow::bail!("XINFO STREAM without entries-added: {info:?}"),
        };
        assert!(added > 0, "partition {index} carried no job");
        let pending: redis::Value = redis::cmd("XPENDING")
            .arg(&keys.stream)
            .arg(CONSUMER_GROUP)
            .query_async(&mut redis)
            .await?;
        let redis::Value::Array(summary) = pending else {
            anyhow::bail!("XPENDING answered {pending:?}");
        };
        assert_eq!(
            summary.first(),
            Some(&redis::Value::Int(0)),
            "partition {index}"
        );
    }
    Ok(layout)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retries_limits_and_breakers_hold_on_the_cluster() -> anyhow::Result<()> {
    let cluster = TestCluster::start().await?;
    let stack = cluster_stack(&cluster).await?;

    // Retries: two 500s, then success, through the delayed set.
    let flaky = Behaviour {
        script: vec![500, 500],
        ..Behaviour::default()
    };
    let (retried, _) = hook(&stack, flaky, None).await?;
    // A concurrency cap of one and a rate limit of 4 a second.
    let limited_policy = proto::DeliveryPolicy {
        rate_limit: Some(proto::RateLimit {
            count: 4,
            period: seconds(1),
        }),
        max_concurrency: 1,
        ..Default::default()
    };
    let slow = Behaviour {
        delay: Duration::from_millis(100),
        ..Behaviour::default()
    };
    let (limited, _) = hook(&stack, slow, Some(limited_policy)).await?;
    // A breaker that opens after two failures.
    let breaker_policy = proto::DeliveryPolicy {
        circuit_breaker: Some(proto::CircuitBreakerPolicy {
            failure_threshold: Some(2),
            cooldown: seconds(60),
            ..Default::default()
        }),
        ..Default::default()
    };
    let failing = Behaviour {
        default_status: 503,
        ..Behaviour::default()
    };
    let (_broken, broken_connection) = hook(&stack, failing, Some(breaker_policy)).await?;

    const EVENTS: usize = 8;
    let mut events = Vec::new();
    for n in 0..EVENTS {
        events.push(emit(&stack, n).await?);
    }

    let received = retried
        .wait_for(EVENTS + 2, Duration::from_secs(60))
        .await?;
    let statuses: Vec<u16> = received.iter().map(|webhook| webhook.answered).collect();
    assert_eq!(statuses.iter().filter(|status| **status == 500).count(), 2);
    let retried_ids: BTreeSet<&str> = received
        .iter()
        .filter_map(|webhook| webhook.header("webhook-id"))
        .collect();
    assert_eq!(retried_ids.len(), EVENTS, "a retry keeps its webhook-id");

    let arrived = limited.wait_for(EVENTS, Duration::from_secs(60)).await?;
    let mut times: Vec<_> = arrived.iter().map(|webhook| webhook.received_at).collect();
    times.sort();
    // 8 requests at 4 a second (the first ones inside the burst) cannot
    // all arrive within one second; one at a time, 100 ms each, they
    // never overlap.
    let span = *times.last().expect("arrived") - times[0];
    assert!(
        span >= chrono::TimeDelta::milliseconds(900),
        "rate limit not applied: {span:?}"
    );
    for pair in times.windows(2) {
        assert!(
            pair[1] - pair[0] >= chrono::TimeDelta::milliseconds(95),
            "two requests overlapped under a concurrency cap of one: {pair:?}"
        );
    }

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let request = proto::GetConnectionRequest {
            id: broken_connection.id.clone(),
        };
        let connection = stack
            .client
            .router
            .clone()
            .get_connection(request)
            .await?
            .into_inner()
            .connection
            .expect("connection");
        let breaker = connection.circuit_breaker.expect("breaker");
        if breaker.state() == proto::CircuitState::Open {
            assert!(breaker.failure_streak >= 2, "{breaker:?}");
            assert_eq!(breaker.last_error, "HTTP 503");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the breaker never opened: {breaker:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The broken connection's deliveries wait for the breaker; the others
    // succeed (an outcome is recorded just after the receiver answers).
    for event in &events {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let deliveries = stack.client.list_deliveries(event).await?;
            let succeeded = deliveries
                .iter()
                .filter(|d| d.connection_id != broken_connection.id)
                .filter(|d| d.status() == proto::DeliveryStatus::Succeeded)
                .count();
            if succeeded == 2 {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{event}: {deliveries:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    stack.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_script_and_multi_touches_one_slot_on_the_cluster() -> anyhow::Result<()> {
    let cluster = TestCluster::start().await?;
    let layout = QueueLayout::new("sytest:slots", usize::from(PARTITIONS));
    let connection_id = ConnectionId::generate();
    let connection = connection_id.to_string();
    for keys in layout.partitions() {
        // Acknowledgement MULTI, promotion, waiting-list pop and rescue.
        let slot = cluster.slot_of(&keys.stream)?;
        for key in [
            &keys.delayed,
            &keys.waiting,
            &keys.waiting_list(&connection),
        ] {
            assert_eq!(cluster.slot_of(key)?, slot, "{key} vs {}", keys.stream);
        }
    }
    // The gate's scripts touch one connection's keys.
    let limits = ConnectionKeys::new("sytest:slots", connection_id);
    let slot = cluster.slot_of(&limits.breaker)?;
    for key in [&limits.slots, &limits.rate, &limits.reserved] {
        assert_eq!(cluster.slot_of(key)?, slot, "{key}");
    }
    // Partitions spread over the three nodes.
    let nodes: BTreeSet<u16> = layout
        .partitions()
        .iter()
        .map(|keys| cluster.node_of(&keys.stream))
        .collect::<anyhow::Result<_>>()?;
    assert_eq!(nodes.len(), 3, "{nodes:?}");

    // The check is not vacuous: a MULTI across two partitions is refused
    // with CROSSSLOT, as the engine would be if it ever wrote one.
    let mut redis = connect_cluster(&cluster).await?;
    let crossed: redis::RedisResult<()> = redis::pipe()
        .atomic()
        .cmd("XADD")
        .arg(&layout.keys(0).stream)
        .arg("*")
        .arg("job")
        .arg("{}")
        .cmd("XADD")
        .arg(&layout.keys(1).stream)
        .arg("*")
        .arg("job")
        .arg("{}")
        .query_async(&mut redis)
        .await;
    let error = crossed.expect_err("a cross-slot MULTI must fail");
    assert_eq!(error.code(), Some("CROSSSLOT"), "{error}");
    Ok(())
}

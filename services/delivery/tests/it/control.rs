//! The internal `DeliveryControlService` the router calls, served by the
//! real delivery service: `GetBreaker` shows a breaker the engine tripped
//! exactly as the engine keeps it; `RequeueConnection` puts a connection's
//! pending jobs on the stream (and a retry due later on the delayed set)
//! and says how many; a workspace key, or no token, is refused.

use crate::common;

use std::time::Duration;

use common::controls::eventually;
use common::receiver::{Receiver, Reply};
use common::{PATIENCE, TestEnv, authorized};
use secrecy::SecretString;
use switchyard_core::config::Config;
use switchyard_core::time::to_proto_opt;
use switchyard_delivery::limits::BreakerState;
use switchyard_proto::internal::v1 as internal;
use switchyard_proto::internal::v1::delivery_control_service_client::DeliveryControlServiceClient;
use switchyard_proto::v1 as pb;
use tonic::Code;
use tonic::transport::Channel;

const INTERNAL_TOKEN: &str = "internal-test-token";

fn config_with_token(env: &TestEnv) -> Config {
    Config {
        internal_token: Some(SecretString::from(INTERNAL_TOKEN)),
        ..env.config()
    }
}

async fn control_client(app: &common::RunningApp) -> DeliveryControlServiceClient<Channel> {
    DeliveryControlServiceClient::connect(format!("http://{}", app.addr))
        .await
        .expect("connect to the delivery service")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn get_breaker_shows_the_breaker_the_engine_tripped() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::status(503)]).await;
    // Two failures open it; the long cooldown keeps it open while we look.
    let policy = serde_json::json!({
        "retry": { "kind": "exponential", "initial_ms": 100, "factor": 1.0, "cap_ms": 100, "max_attempts": 20 },
        "max_concurrency": 1,
        "circuit_breaker": { "failure_threshold": 2, "cooldown_ms": 60000 }
    });
    let (connection, _) = env.connection_with_policy(&receiver.url, policy).await;
    let (untouched, _) = env
        .connection_with_policy(&receiver.url, serde_json::json!({}))
        .await;
    let deliveries = env.deliveries_to(connection, 3).await;
    let app = env.start(&config_with_token(&env)).await;
    env.enqueue_all(&deliveries).await;
    eventually("the breaker opens", || async {
        env.breaker(connection).await.state == BreakerState::Open
    })
    .await;

    let mut client = control_client(&app).await;
    let request = |connection: switchyard_core::ids::ConnectionId| {
        authorized(
            INTERNAL_TOKEN,
            internal::GetBreakerRequest {
                workspace_id: env.workspace.to_string(),
                connection_id: connection.to_string(),
            },
        )
    };
    let answer = client
        .get_breaker(request(connection))
        .await
        .expect("get breaker")
        .into_inner();
    let breaker = answer.breaker.expect("a breaker");
    let stored = env.breaker(connection).await;
    assert_eq!(breaker.state(), pb::CircuitState::Open);
    assert!(breaker.failure_streak >= 2, "{breaker:?}");
    assert_eq!(breaker.last_error, "HTTP 503");
    assert!(breaker.opened_at.is_some() && breaker.last_failure_at.is_some());
    // Field for field what the engine keeps (the breaker stays open).
    assert_eq!(breaker.failure_streak, stored.failure_streak);
    assert_eq!(breaker.last_error, stored.last_error);
    assert_eq!(
        breaker.last_failure_at,
        to_proto_opt(stored.last_failure_at)
    );
    assert_eq!(breaker.opened_at, to_proto_opt(stored.opened_at));
    assert_eq!(answer.adaptive_limit, stored.adaptive_limit);

    let closed = client
        .get_breaker(request(untouched))
        .await
        .expect("get breaker")
        .into_inner()
        .breaker
        .expect("a breaker");
    assert_eq!(closed.state(), pb::CircuitState::Closed);
    assert_eq!((closed.failure_streak, closed.opened_at), (0, None));

    let invalid = client
        .get_breaker(authorized(
            INTERNAL_TOKEN,
            internal::GetBreakerRequest {
                workspace_id: env.workspace.to_string(),
                connection_id: "con_nope".into(),
            },
        ))
        .await
        .expect_err("not a connection id");
    assert_eq!(invalid.code(), Code::InvalidArgument);
    assert!(
        invalid.message().starts_with("connection_id"),
        "{invalid:?}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn requeue_connection_enqueues_the_waiting_deliveries_and_counts_them() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::status(204)]).await;
    let (connection, _) = env
        .connection_with_policy(&receiver.url, serde_json::json!({}))
        .await;
    let (other, _) = env
        .connection_with_policy(&receiver.url, serde_json::json!({}))
        .await;
    // Left waiting while paused: pending now, and one retry due in an hour.
    let due_now = env.deliveries_to(connection, 4).await;
    let later = env.deliveries_to(connection, 1).await[0];
    env.execute(
        "UPDATE deliveries SET status = 'retrying', next_attempt_at = now() + interval '1 hour' \
         WHERE id = $1",
        &[&later.as_uuid()],
    )
    .await;
    let finished = env.deliveries_to(connection, 1).await[0];
    env.execute(
        "UPDATE deliveries SET status = 'succeeded' WHERE id = $1",
        &[&finished.as_uuid()],
    )
    .await;
    let elsewhere = env.deliveries_to(other, 2).await;
    // Paused, so the sweeper leaves them alone however slow the test is.
    env.set_connection_state(other, "paused").await;
    let app = env.start(&config_with_token(&env)).await;

    let mut client = control_client(&app).await;
    let response = client
        .requeue_connection(authorized(
            INTERNAL_TOKEN,
            internal::RequeueConnectionRequest {
                workspace_id: env.workspace.to_string(),
                connection_id: connection.to_string(),
            },
        ))
        .await
        .expect("requeue")
        .into_inner();
    assert_eq!(response.requeued_count, 5, "4 due now and 1 due later");

    // The due ones went on the stream: the engine sends each once.
    env.wait_for_all(&due_now, "succeeded").await;
    let mut sent: Vec<String> = receiver
        .requests()
        .iter()
        .map(|request| request.webhook_id())
        .collect();
    sent.sort();
    let mut expected: Vec<String> = due_now.iter().map(ToString::to_string).collect();
    expected.sort();
    assert_eq!(sent, expected, "each due delivery once, nothing else");
    // The later one waits in the delayed set for its time.
    let mut redis = env.redis_connection().await;
    let delayed: Vec<(String, i64)> = redis::cmd("ZRANGE")
        .arg(&env.keys.delayed)
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(&mut redis)
        .await
        .expect("zrange");
    assert_eq!(delayed.len(), 1, "{delayed:?}");
    assert!(delayed[0].0.contains(&later.to_string()), "{delayed:?}");
    let in_an_hour = chrono::Utc::now().timestamp_millis() + 3_600_000;
    assert!(
        (delayed[0].1 - in_an_hour).abs() < PATIENCE.as_millis() as i64,
        "due at {}",
        delayed[0].1
    );
    for delivery in [later, finished] {
        assert_eq!(env.delivery_state(delivery).await.attempt_count, 0);
    }
    for delivery in &elsewhere {
        let state = env.delivery_state(*delivery).await;
        assert_eq!((state.status.as_str(), state.attempt_count), ("pending", 0));
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_the_internal_token_may_call_delivery_control() {
    let env = TestEnv::new().await;
    let (connection, _) = env
        .connection_with_policy("http://127.0.0.1:9/hook", serde_json::json!({}))
        .await;
    let waiting = env.deliveries_to(connection, 2).await;
    // Due in an hour: the sweeper leaves them alone, and a requeue would
    // have put them on the delayed set.
    for delivery in &waiting {
        env.execute(
            "UPDATE deliveries SET status = 'retrying', \
             next_attempt_at = now() + interval '1 hour' WHERE id = $1",
            &[&delivery.as_uuid()],
        )
        .await;
    }
    let app = env.start(&config_with_token(&env)).await;
    let mut client = control_client(&app).await;
    let breaker = || internal::GetBreakerRequest {
        workspace_id: env.workspace.to_string(),
        connection_id: connection.to_string(),
    };
    let requeue = || internal::RequeueConnectionRequest {
        workspace_id: env.workspace.to_string(),
        connection_id: connection.to_string(),
    };

    for (key, code) in [
        (env.api_key.as_str(), Code::PermissionDenied),
        ("not-the-internal-token", Code::PermissionDenied),
    ] {
        let refused = client
            .get_breaker(authorized(key, breaker()))
            .await
            .expect_err("a workspace key cannot read breakers");
        assert_eq!(refused.code(), code, "{refused:?}");
        assert!(refused.message().contains("internal token"), "{refused:?}");
        let refused = client
            .requeue_connection(authorized(key, requeue()))
            .await
            .expect_err("a workspace key cannot requeue");
        assert_eq!(refused.code(), code, "{refused:?}");
    }
    let anonymous = client
        .get_breaker(tonic::Request::new(breaker()))
        .await
        .expect_err("no token");
    assert_eq!(anonymous.code(), Code::Unauthenticated);
    // Nothing was enqueued by the refused calls.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut redis = env.redis_connection().await;
    let delayed: usize = redis::cmd("ZCARD")
        .arg(&env.keys.delayed)
        .query_async(&mut redis)
        .await
        .expect("zcard");
    assert_eq!(delayed, 0);
    assert_eq!(env.unfinished_jobs().await, (0, 0));
    assert_eq!(env.attempt_count(&waiting).await, 0);
    app.stop().await;
}

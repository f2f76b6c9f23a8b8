//! The attempt path end to end: jobs on the real stream, the real service,
//! a real HTTP receiver, outcomes read back from Postgres.

use crate::common;

use std::time::Duration;

use common::receiver::{Receiver, Reply};
use common::{PATIENCE, TestEnv};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_successful_attempt_delivers_the_signed_body_once() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::status(200)]).await;
    let headers = serde_json::json!({ "X-Api-Key": "k-123", "Webhook-Id": "forged" });
    let (connection, secret) = env.insert_connection(&receiver.url, headers).await;
    let payload = serde_json::json!({ "email": "ada@example.com", "lead": { "id": 42 } });
    let event = env.insert_event(&payload).await;
    let delivery = env.insert_delivery(event, connection).await;
    let app = env.start(&env.config()).await;
    env.enqueue(delivery).await;

    let state = env.wait_for_status(delivery, "succeeded").await;
    assert_eq!(state.attempt_count, 1);
    assert_eq!(state.last_error, "");

    let requests = receiver.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.body, serde_json::to_vec(&payload).expect("json"));
    assert_eq!(request.header("webhook-id"), Some(delivery.to_string()));
    assert_eq!(
        request.header("content-type").as_deref(),
        Some("application/json")
    );
    assert_eq!(request.header("x-api-key").as_deref(), Some("k-123"));
    let user_agent = request.header("user-agent").expect("user-agent");
    assert!(user_agent.starts_with("Switchyard/"), "{user_agent}");
    switchyard_delivery_model::signature::verify(&secret, &request.headers, &request.body)
        .expect("the signature verifies");

    let attempts = env.attempts(delivery).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].attempt, 1);
    assert_eq!(attempts[0].status_code, Some(200));
    assert_eq!(attempts[0].error, "");
    assert_eq!(attempts[0].url, receiver.url);
    assert_eq!(attempts[0].response_snippet, "answer 1");
    env.wait_for_drained_stream().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failed_attempts_are_retried_with_the_same_webhook_id() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![
        Reply::status(500),
        Reply::status(500),
        Reply::status(204),
    ])
    .await;
    let seeded = env.seed(&receiver.url).await;
    let app = env.start(&env.config()).await;
    env.enqueue(seeded.delivery).await;

    let state = env.wait_for_status(seeded.delivery, "succeeded").await;
    assert_eq!(state.attempt_count, 3);
    assert_eq!(state.last_error, "");

    let requests = receiver.requests();
    assert_eq!(requests.len(), 3);
    for request in &requests {
        assert_eq!(
            request.header("webhook-id"),
            Some(seeded.delivery.to_string())
        );
        switchyard_delivery_model::signature::verify(
            &seeded.secret,
            &request.headers,
            &request.body,
        )
        .expect("every attempt is signed");
    }
    let attempts = env.attempts(seeded.delivery).await;
    let summary: Vec<(i32, Option<i32>, &str)> = attempts
        .iter()
        .map(|a| (a.attempt, a.status_code, a.error.as_str()))
        .collect();
    assert_eq!(
        summary,
        vec![
            (1, Some(500), "HTTP 500"),
            (2, Some(500), "HTTP 500"),
            (3, Some(204), "")
        ]
    );
    env.wait_for_drained_stream().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_delivery_is_dead_once_the_schedule_runs_out() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::status(500)]).await;
    let seeded = env.seed(&receiver.url).await;
    let app = env.start(&env.config()).await;
    env.enqueue(seeded.delivery).await;

    let state = env.wait_for_status(seeded.delivery, "dead").await;
    assert_eq!(state.attempt_count, 3);
    assert_eq!(state.last_error, "HTTP 500");
    assert_eq!(env.attempts(seeded.delivery).await.len(), 3);

    // Nothing is left to retry: no fourth request comes.
    env.wait_for_drained_stream().await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(receiver.requests().len(), 3);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_receiver_slower_than_the_request_timeout_fails_the_attempt() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::slow(200, Duration::from_secs(5))]).await;
    let seeded = env.seed(&receiver.url).await;
    let mut config = env.config();
    config.delivery.retry_schedule = vec![Duration::ZERO];
    let app = env.start(&config).await;
    env.enqueue(seeded.delivery).await;

    let state = env.wait_for_status(seeded.delivery, "dead").await;
    assert!(
        state.last_error.contains("timed out"),
        "{}",
        state.last_error
    );
    let attempts = env.attempts(seeded.delivery).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].status_code, None);
    assert_eq!(attempts[0].error, "timed out after 2s");
    assert_eq!(receiver.requests().len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_closed_port_fails_the_attempt_with_connection_refused() {
    let env = TestEnv::new().await;
    // Bind, then free the port so nothing listens on it.
    let port = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        listener.local_addr().expect("address").port()
    };
    let seeded = env.seed(&format!("http://127.0.0.1:{port}/hook")).await;
    let mut config = env.config();
    config.delivery.retry_schedule = vec![Duration::ZERO];
    let app = env.start(&config).await;
    env.enqueue(seeded.delivery).await;

    let state = env.wait_for_status(seeded.delivery, "dead").await;
    assert!(
        state.last_error.starts_with("connection refused: "),
        "{}",
        state.last_error
    );
    let attempts = env.attempts(seeded.delivery).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].status_code, None);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn destinations_outside_the_allowed_networks_are_refused() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::status(200)]).await;
    let literal = env.seed(&receiver.url).await;
    let by_name = env
        .seed(&format!("http://localhost:{}/hook", receiver.port))
        .await;
    let mut config = env.config();
    config.allowed_destination_networks.clear();
    config.delivery.retry_schedule = vec![Duration::ZERO];
    let app = env.start(&config).await;
    env.enqueue(literal.delivery).await;
    env.enqueue(by_name.delivery).await;

    let state = env.wait_for_status(literal.delivery, "dead").await;
    assert!(
        state.last_error.starts_with("destination refused"),
        "{}",
        state.last_error
    );
    assert!(
        state.last_error.contains("127.0.0.1"),
        "{}",
        state.last_error
    );
    let state = env.wait_for_status(by_name.delivery, "dead").await;
    assert!(
        state.last_error.contains("non-public"),
        "{}",
        state.last_error
    );
    for seeded in [&literal, &by_name] {
        let attempts = env.attempts(seeded.delivery).await;
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].status_code, None);
    }
    assert!(
        receiver.requests().is_empty(),
        "the receiver must not be contacted"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_duplicate_job_for_a_finished_delivery_sends_nothing() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::status(200)]).await;
    let seeded = env.seed(&receiver.url).await;
    let app = env.start(&env.config()).await;
    env.enqueue(seeded.delivery).await;
    env.wait_for_status(seeded.delivery, "succeeded").await;
    env.wait_for_drained_stream().await;

    env.enqueue(seeded.delivery).await;
    env.enqueue(seeded.delivery).await;
    env.wait_for_drained_stream().await;

    assert_eq!(receiver.requests().len(), 1);
    assert_eq!(env.attempts(seeded.delivery).await.len(), 1);
    let state = env.delivery_state(seeded.delivery).await;
    assert_eq!(
        (state.status.as_str(), state.attempt_count),
        ("succeeded", 1)
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_deleted_connection_makes_the_delivery_dead_without_a_request() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::status(200)]).await;
    let seeded = env.seed(&receiver.url).await;
    env.execute(
        "UPDATE connections SET deleted_at = now() WHERE id = $1",
        &[&seeded.connection.as_uuid()],
    )
    .await;
    let app = env.start(&env.config()).await;
    env.enqueue(seeded.delivery).await;

    let state = env.wait_for_status(seeded.delivery, "dead").await;
    assert_eq!(state.last_error, "connection deleted");
    assert_eq!(state.attempt_count, 1);
    let attempts = env.attempts(seeded.delivery).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].error, "connection deleted");
    assert!(receiver.requests().is_empty());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malformed_jobs_are_dropped_and_the_consumer_keeps_going() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::status(200)]).await;
    let seeded = env.seed(&receiver.url).await;
    let app = env.start(&env.config()).await;
    env.enqueue_raw("not json").await;
    env.enqueue_raw(r#"{"v":1,"workspace_id":"ws_x","delivery_id":"dlv_y"}"#)
        .await;
    env.enqueue(seeded.delivery).await;

    env.wait_for_status(seeded.delivery, "succeeded").await;
    env.wait_for_drained_stream().await;
    assert_eq!(receiver.requests().len(), 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn shutdown_waits_for_the_attempt_in_flight() {
    let env = TestEnv::new().await;
    let receiver = Receiver::start(vec![Reply::slow(200, Duration::from_millis(800))]).await;
    let seeded = env.seed(&receiver.url).await;
    let app = env.start(&env.config()).await;
    env.enqueue(seeded.delivery).await;

    let deadline = tokio::time::Instant::now() + PATIENCE;
    while receiver.requests().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "no request arrived");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    app.stop().await;

    // `run` returned only after the attempt was recorded and acknowledged.
    let state = env.delivery_state(seeded.delivery).await;
    assert_eq!(state.status, "succeeded");
    assert_eq!(env.unfinished_jobs().await, (0, 0));
}

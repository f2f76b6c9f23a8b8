//! A real HTTP destination for tests: a server on 127.0.0.1:0
//! (`switchyard_core::http_server`) that
//! records every request (with its arrival time) and answers from a script
//! (the last reply repeats), counting how many requests it holds at once.
//! A receiver with a [`Capacity`] answers by its load instead: slower the
//! more requests it holds, and 429 above its capacity.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::HeaderMap;
use axum::response::Response;
use switchyard_core::http_server::Background;
use tokio::net::TcpListener;

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Reply {
    pub status: u16,
    /// Waited before answering.
    pub delay: Duration,
    /// A `Retry-After` header to send.
    pub retry_after: Option<String>,
}

impl Reply {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            delay: Duration::ZERO,
            retry_after: None,
        }
    }

    pub fn slow(status: u16, delay: Duration) -> Self {
        Self {
            status,
            delay,
            retry_after: None,
        }
    }

    pub fn retry_after(status: u16, value: impl Into<String>) -> Self {
        Self {
            retry_after: Some(value.into()),
            ..Self::status(status)
        }
    }
}

/// A request as the receiver saw it.
#[derive(Clone, Debug)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
    pub at: Instant,
}

impl Received {
    /// The `webhook-id`, or an empty string.
    pub fn webhook_id(&self) -> String {
        self.header("webhook-id").unwrap_or_default()
    }

    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    }
}

/// A destination that copes with `limit` requests at once: each takes
/// `base` plus `step` per request held (this one included); one more than
/// `limit` gets a 429 at once.
#[derive(Clone, Copy, Debug)]
pub struct Capacity {
    pub limit: usize,
    pub base: Duration,
    pub step: Duration,
}

struct State {
    script: Vec<Reply>,
    capacity: Option<Capacity>,
    requests: Mutex<Vec<Received>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

pub struct Receiver {
    /// `http://127.0.0.1:<port>/hook`
    pub url: String,
    pub port: u16,
    state: Arc<State>,
    _server: Background,
}

impl Receiver {
    pub async fn start(script: Vec<Reply>) -> Self {
        Self::serve(script, None).await
    }

    /// A receiver answering by its load (see [`Capacity`]).
    pub async fn with_capacity(capacity: Capacity) -> Self {
        Self::serve(Vec::new(), Some(capacity)).await
    }

    async fn serve(script: Vec<Reply>, capacity: Option<Capacity>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let port = listener.local_addr().expect("receiver address").port();
        let state = Arc::new(State {
            script,
            capacity,
            requests: Mutex::new(Vec::new()),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        });
        let answering = Arc::clone(&state);
        let app = Router::new().fallback(move |request| answer(Arc::clone(&answering), request));
        Self {
            url: format!("http://127.0.0.1:{port}/hook"),
            port,
            state,
            _server: Background::spawn(listener, app).expect("serve receiver"),
        }
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Received> {
        self.state.requests.lock().expect("receiver lock").clone()
    }

    pub fn count(&self) -> usize {
        self.state.requests.lock().expect("receiver lock").len()
    }

    /// The most requests this receiver held at once.
    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }

    /// Waits until `count` requests arrived; panics after [`super::PATIENCE`].
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + super::PATIENCE;
        loop {
            let requests = self.requests();
            if requests.len() >= count {
                return requests;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {count} requests, got {}",
                requests.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

struct Holding(Arc<State>);

impl Drop for Holding {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn answer(state: Arc<State>, request: Request) -> Response {
    let at = Instant::now();
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let index = {
        let mut requests = state.requests.lock().expect("receiver lock");
        requests.push(Received {
            headers: parts.headers,
            body,
            at,
        });
        requests.len() - 1
    };
    let mut reply = state
        .script
        .get(index)
        .or(state.script.last())
        .cloned()
        .unwrap_or(Reply::status(204));
    let now = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    state.max_in_flight.fetch_max(now, Ordering::SeqCst);
    if let Some(capacity) = state.capacity {
        reply = if now > capacity.limit {
            Reply::status(429)
        } else {
            let held = u32::try_from(now).unwrap_or(u32::MAX);
            Reply::slow(204, capacity.base + capacity.step * held)
        };
    }
    // Counted out even when the client gives up and the future is dropped.
    let _holding = Holding(Arc::clone(&state));
    tokio::time::sleep(reply.delay).await;
    let mut response = Response::builder().status(reply.status);
    if let Some(retry_after) = &reply.retry_after {
        response = response.header("retry-after", retry_after);
    }
    response
        .body(Body::from(format!("answer {}", index + 1)))
        .expect("valid response")
}

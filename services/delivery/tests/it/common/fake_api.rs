//! A local stand-in for a SaaS API (HubSpot, Mailchimp): a server on
//! 127.0.0.1:0 (`switchyard_core::http_server`) that records each request's method, path and query,
//! headers and body, and answers from a script of status, headers and JSON
//! body (the last answer repeats) — one script per path prefix when the
//! API has several endpoints (Salesforce's token and sObject endpoints).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::http::HeaderMap;
use axum::response::Response;
use switchyard_core::http_server::Background;
use tokio::net::TcpListener;

/// One scripted answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: serde_json::Value,
}

impl Answer {
    pub fn json(status: u16, body: serde_json::Value) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body,
        }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// A request as the API saw it.
#[derive(Clone, Debug)]
pub struct Call {
    pub method: String,
    /// Path and query, as sent.
    pub path_and_query: String,
    pub headers: HeaderMap,
    pub body: serde_json::Value,
    pub at: Instant,
}

impl Call {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_string)
    }
}

pub struct FakeApi {
    /// `http://127.0.0.1:<port>`
    pub base_url: String,
    calls: Arc<Mutex<Vec<Call>>>,
    routes: Routes,
    _server: Background,
}

type Routes = Arc<Mutex<Vec<(&'static str, Vec<Answer>)>>>;

impl FakeApi {
    pub async fn start(script: Vec<Answer>) -> Self {
        Self::start_routes(vec![("/", script)]).await
    }

    /// A script per path prefix; the longest matching prefix answers.
    pub async fn start_routes(routes: Vec<(&'static str, Vec<Answer>)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind fake API");
        let port = listener.local_addr().expect("fake API address").port();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let script: Routes = Arc::new(Mutex::new(routes));
        let routes = Arc::clone(&script);
        let recorded = Arc::clone(&calls);
        let app = Router::new()
            .fallback(move |request| answer(Arc::clone(&recorded), Arc::clone(&script), request));
        Self {
            base_url: format!("http://127.0.0.1:{port}"),
            calls,
            routes,
            _server: Background::spawn(listener, app).expect("serve fake API"),
        }
    }

    /// Adds a script for another path prefix.
    pub fn add_route(&self, prefix: &'static str, answers: Vec<Answer>) {
        self.routes
            .lock()
            .expect("fake API lock")
            .push((prefix, answers));
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().expect("fake API lock").clone()
    }

    /// Waits until `count` calls arrived; panics after [`super::PATIENCE`].
    pub async fn wait_for(&self, count: usize) -> Vec<Call> {
        let deadline = tokio::time::Instant::now() + super::PATIENCE;
        loop {
            let calls = self.calls();
            if calls.len() >= count {
                return calls;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "expected {count} calls, got {}",
                calls.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn answer(calls: Arc<Mutex<Vec<Call>>>, routes: Routes, request: Request) -> Response {
    let at = Instant::now();
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let path = parts.uri.path().to_string();
    let (prefix, script) = {
        let routes = routes.lock().expect("fake API lock");
        routes
            .iter()
            .filter(|(prefix, _)| path.starts_with(prefix))
            .max_by_key(|(prefix, _)| prefix.len())
            .map_or(("/", Vec::new()), |(p, s)| (*p, s.clone()))
    };
    let index = {
        let mut calls = calls.lock().expect("fake API lock");
        let before = calls
            .iter()
            .filter(|call| call.path_and_query.starts_with(prefix))
            .count();
        calls.push(Call {
            method: parts.method.to_string(),
            path_and_query: parts
                .uri
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            headers: parts.headers,
            body: serde_json::from_slice(&body)
                .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned().into()),
            at,
        });
        before
    };
    let answer = script
        .get(index)
        .or(script.last())
        .cloned()
        .unwrap_or(Answer::json(200, serde_json::json!({})));
    let mut response = Response::builder()
        .status(answer.status)
        .header("content-type", "application/json;charset=utf-8");
    for (name, value) in &answer.headers {
        response = response.header(*name, value);
    }
    response
        .body(Body::from(answer.body.to_string()))
        .expect("valid response")
}

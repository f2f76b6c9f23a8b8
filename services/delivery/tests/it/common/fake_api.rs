//! A local stand-in for a SaaS API (HubSpot, Mailchimp): a hyper server on
//! 127.0.0.1:0 that records each request's method, path and query,
//! headers and body, and answers from a script of status, headers and JSON
//! body (the last answer repeats).

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{HeaderMap, Request, Response};
use hyper_util::rt::TokioIo;
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
    server: tokio::task::JoinHandle<()>,
}

impl FakeApi {
    pub async fn start(script: Vec<Answer>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind fake API");
        let port = listener.local_addr().expect("fake API address").port();
        let calls = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(script);
        let recorded = Arc::clone(&calls);
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (calls, script) = (Arc::clone(&recorded), Arc::clone(&script));
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        answer(Arc::clone(&calls), Arc::clone(&script), request)
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            base_url: format!("http://127.0.0.1:{port}"),
            calls,
            server,
        }
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

impl Drop for FakeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn answer(
    calls: Arc<Mutex<Vec<Call>>>,
    script: Arc<Vec<Answer>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let at = Instant::now();
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    let index = {
        let mut calls = calls.lock().expect("fake API lock");
        calls.push(Call {
            method: parts.method.to_string(),
            path_and_query: parts
                .uri
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            headers: parts.headers,
            body: serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null),
            at,
        });
        calls.len() - 1
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
    let response = response
        .body(Full::new(Bytes::from(answer.body.to_string())))
        .expect("valid response");
    Ok(response)
}

//! Local stand-ins for HubSpot, Mailchimp and Salesforce, for the demo
//! only: one HTTP server that answers the requests Switchyard makes
//! (HubSpot's contacts batch upsert, Mailchimp's member PUT, Salesforce's
//! client-credentials token and sObject create) the way the real APIs
//! answer a success, and tells what it received. They are not the real
//! APIs and check nothing beyond the route.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use switchyard_core::http_server::Background;
use tokio::net::TcpListener;

/// One request a stand-in received.
#[derive(Clone, Debug)]
pub struct Received {
    /// `HubSpot`, `Mailchimp` or `Salesforce`.
    pub api: &'static str,
    pub method: String,
    pub path: String,
    pub authorization: String,
    pub body: String,
}

pub type Callback = Arc<dyn Fn(&Received) + Send + Sync>;

pub struct StandIns {
    /// `http://127.0.0.1:<port>`: the base URL of all three.
    pub base_url: String,
    received: Arc<Mutex<Vec<Received>>>,
    _server: Background,
}

impl StandIns {
    pub async fn start(callback: Option<Callback>) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .context("binding the API stand-ins")?;
        let base_url = format!("http://{}", listener.local_addr()?);
        let received = Arc::new(Mutex::new(Vec::new()));
        let (shared, instance_url) = (Arc::clone(&received), base_url.clone());
        let app = Router::new().fallback(move |request: Request| {
            let (shared, callback) = (Arc::clone(&shared), callback.clone());
            let instance_url = instance_url.clone();
            async move { answer(request, &shared, callback, &instance_url).await }
        });
        Ok(Self {
            base_url,
            received,
            _server: Background::spawn(listener, app)?,
        })
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Waits until `count` requests arrived.
    pub async fn wait_for(&self, count: usize, patience: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + patience;
        while self.received().len() < count {
            if tokio::time::Instant::now() > deadline {
                anyhow::bail!(
                    "the API stand-ins got {} of {count} requests",
                    self.received().len()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }
}

async fn answer(
    request: Request,
    received: &Mutex<Vec<Received>>,
    callback: Option<Callback>,
    instance_url: &str,
) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, usize::MAX)
        .await
        .unwrap_or_default();
    let path = parts.uri.path().to_string();
    let (api, status, answer) = if path.starts_with("/crm/v3/objects/contacts/batch/upsert") {
        let answer =
            serde_json::json!({"status": "COMPLETE", "results": [{"id": "101", "new": true}]});
        ("HubSpot", 200, answer)
    } else if path.starts_with("/3.0/lists/") {
        (
            "Mailchimp",
            200,
            serde_json::json!({"id": path.rsplit('/').next(), "status": "subscribed"}),
        )
    } else if path == "/services/oauth2/token" {
        let answer = serde_json::json!({"access_token": "00Dstandin!token", "instance_url": instance_url,
            "token_type": "Bearer"});
        ("Salesforce", 200, answer)
    } else if path.starts_with("/services/data/") {
        (
            "Salesforce",
            201,
            serde_json::json!({"id": "00Q000000000001", "success": true, "errors": []}),
        )
    } else {
        (
            "unknown",
            404,
            serde_json::json!({"message": "no such stand-in route"}),
        )
    };
    let authorization = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.split(' ').next().unwrap_or_default().to_string() + " …")
        .unwrap_or_default();
    let entry = Received {
        api,
        method: parts.method.to_string(),
        path,
        authorization,
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    if let Some(callback) = &callback {
        callback(&entry);
    }
    if let Ok(mut all) = received.lock() {
        all.push(entry);
    }
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(answer.to_string()))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

//! The one small HTTP server of Switchyard, on axum (already in the tree
//! through tonic): HTTP/1 with `TCP_NODELAY`, answering an axum [`Router`].
//!
//! - [`serve`] runs until the process's shutdown [`Signal`] trips, then
//!   stops accepting and lets the requests under way finish (the
//!   Prometheus endpoint, the console).
//! - [`Background`] runs one until it is dropped (the CLI's receivers and
//!   stand-ins, the tests' destinations).

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use axum::serve::ListenerExt;
use tokio::net::TcpListener;

use crate::shutdown::Signal;

/// Serves `app` on `listener` until `shutdown` trips.
pub async fn serve(listener: TcpListener, app: Router, shutdown: Signal) -> anyhow::Result<()> {
    axum::serve(listener.tap_io(no_delay), app)
        .with_graceful_shutdown(shutdown.wait())
        .await
        .context("serving HTTP")
}

/// A server on its own task, stopped (it accepts no more) when dropped.
pub struct Background {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Background {
    /// Serves `app` on `listener` from now on.
    pub fn spawn(listener: TcpListener, app: Router) -> anyhow::Result<Self> {
        let addr = listener.local_addr().context("the listener's address")?;
        let task = tokio::spawn(async move {
            // Accept errors are retried inside; it ends only when aborted.
            let _ = axum::serve(listener.tap_io(no_delay), app).await;
        });
        Ok(Self { addr, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn no_delay(stream: &mut tokio::net::TcpStream) {
    let _ = stream.set_nodelay(true);
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(addr: SocketAddr) -> String {
        reqwest::get(format!("http://{addr}/anything"))
            .await
            .expect("request")
            .text()
            .await
            .expect("body")
    }

    #[tokio::test]
    async fn serves_until_shutdown() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        let (trigger, signal) = crate::shutdown::channel();
        let app = Router::new().fallback(|| async { "hello" });
        let server = tokio::spawn(serve(listener, app, signal));
        assert_eq!(get(addr).await, "hello");
        trigger.trip();
        server.await.expect("task").expect("served");
    }

    #[tokio::test]
    async fn a_background_server_stops_when_dropped() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let server =
            Background::spawn(listener, Router::new().fallback(|| async { "hi" })).expect("spawn");
        let addr = server.addr();
        assert_eq!(get(addr).await, "hi");
        drop(server);
        tokio::task::yield_now().await;
        let client = reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client");
        assert!(client.get(format!("http://{addr}/")).send().await.is_err());
    }
}

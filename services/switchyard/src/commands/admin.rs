//! `migrate`, `serve`, `workspace create` and `receive`.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use switchyard_core::config::Config;
use switchyard_core::{auth, db, shutdown, standalone};

use crate::receiver::{self, Behaviour, Receiver};
use crate::stack::{self, ServiceKind, Stack};

pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let applied = db::migrate(&config.database_url).await?;
    println!(
        "migrations applied: {applied} (database {})",
        db::redact(&config.database_url)
    );
    Ok(())
}

/// Prints the new key alone on the last line, so scripts can `tail -n 1`.
pub async fn create_workspace(config: &Config, slug: &str) -> anyhow::Result<()> {
    db::migrate(&config.database_url).await?;
    let pool = db::pool(&config.database_url, 2)?;
    let hasher = auth::KeyHasher::new(config.api_key_pepper.as_ref());
    let (workspace, key) = auth::create_workspace(&pool, &hasher, slug)
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    println!("workspace {slug} created: {workspace}");
    println!("its API key follows; it is shown only now:");
    println!("{key}");
    Ok(())
}

/// All four services in this process, with `/metrics` on the configured
/// address.
pub async fn serve_all(config: Config) -> anyhow::Result<()> {
    let mut stack = Stack::start(config, &ServiceKind::ALL).await?;
    for kind in ServiceKind::ALL {
        tracing::info!(service = %kind, addr = %stack.addr(kind), "listening");
    }
    tokio::select! {
        () = shutdown::os_signal() => tracing::info!("shutting down"),
        result = stack.any_stopped() => {
            result?;
            anyhow::bail!("a service stopped unexpectedly");
        }
    }
    stack.stop().await
}

/// One service, as its own process would run it.
pub async fn serve_one(kind: ServiceKind) -> anyhow::Result<()> {
    standalone::run(kind.telemetry(), |config, listener, signal| async move {
        stack::run_service(kind, &config, listener, signal).await
    })
    .await
}

pub async fn receive(port: u16, secret: Option<String>) -> anyhow::Result<()> {
    let print: Arc<dyn Fn(&receiver::ReceivedWebhook) + Send + Sync> =
        Arc::new(|webhook| println!("{}", receiver::describe(webhook)));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let receiver = Receiver::start_with_callback(addr, Behaviour::default(), Some(print))
        .await
        .context("starting the receiver")?;
    if let Some(secret) = secret {
        receiver.set_secret(&secret);
    }
    println!("receiving webhooks on {}", receiver.url("/"));
    shutdown::os_signal().await;
    Ok(())
}

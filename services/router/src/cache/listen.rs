//! The dedicated LISTEN connection that keeps the rule cache fresh. It is
//! (re)connected with backoff, pinged every few seconds so a silently dead
//! connection is noticed, and on every (re)connect empties the cache, since
//! notifications sent while it was down are lost.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use futures::StreamExt;
use switchyard_core::ids::WorkspaceId;
use switchyard_core::shutdown::Signal;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls};

use super::RuleCache;
use crate::rules::RULES_CHANNEL;

const PING_INTERVAL: Duration = Duration::from_secs(5);
const PING_TIMEOUT: Duration = Duration::from_secs(3);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Listens until `shutdown`, reconnecting as needed.
pub async fn run(cache: Arc<RuleCache>, database_url: String, shutdown: Signal) {
    let mut backoff = Duration::from_millis(100);
    while !shutdown.is_tripped() {
        match listen(&cache, &database_url, shutdown.clone()).await {
            Ok(()) => break,
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "rule cache listener lost; reading rules from postgres until it is back"
                );
            }
        }
        cache.set_listening(false);
        cache.invalidate_all();
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            () = shutdown.clone().wait() => break,
        }
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
    cache.set_listening(false);
}

/// One connection's life: `Ok` on shutdown, `Err` when it is lost.
async fn listen(cache: &RuleCache, database_url: &str, shutdown: Signal) -> anyhow::Result<()> {
    let config = tokio_postgres::Config::from_str(database_url).context("database URL")?;
    let (client, mut connection) = config
        .connect(NoTls)
        .await
        .context("connecting the rule cache listener")?;
    let (sender, mut notifications) = mpsc::unbounded_channel();
    // The connection must be polled for anything to happen on it; its
    // notifications are forwarded, its end closes the channel.
    let driver = tokio::spawn(async move {
        let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(notification)) => {
                    if sender.send(notification.payload().to_string()).is_err() {
                        break;
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::debug!(%error, "rule cache listener connection error");
                    break;
                }
            }
        }
    });
    let result = async {
        client
            .batch_execute(&format!("LISTEN {RULES_CHANNEL}"))
            .await
            .context("LISTEN")?;
        cache.invalidate_all();
        cache.set_listening(true);
        tracing::debug!("rule cache listening");
        let mut ping = tokio::time::interval(PING_INTERVAL);
        loop {
            tokio::select! {
                notification = notifications.recv() => {
                    let Some(payload) = notification else {
                        bail!("the listener connection closed");
                    };
                    match uuid::Uuid::parse_str(&payload) {
                        Ok(workspace) => cache.invalidate_workspace(WorkspaceId(workspace)),
                        // Not ours to understand: be safe.
                        Err(_) => cache.invalidate_all(),
                    }
                }
                _ = ping.tick() => {
                    tokio::time::timeout(PING_TIMEOUT, client.simple_query("SELECT 1"))
                        .await
                        .context("the listener connection stopped answering")?
                        .context("pinging the listener connection")?;
                }
                () = shutdown.clone().wait() => return Ok(()),
            }
        }
    }
    .await;
    driver.abort();
    result
}

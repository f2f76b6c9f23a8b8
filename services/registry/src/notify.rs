//! Cross-replica invalidation through Postgres `LISTEN`/`NOTIFY`.
//!
//! Every change to what registries cache (a new version, a mode change, a
//! deprecation) calls [`publish`] inside its transaction: Postgres delivers
//! the notification to every listening session at commit, never for a
//! rolled-back change. The payload is `<workspace uuid>/<event type>`.
//!
//! [`listen`] keeps one dedicated connection per replica (outside the pool:
//! a pooled connection would be handed to queries) `LISTEN`ing on
//! [`CHANNEL`], and forgets the named head on each notification. It pings
//! the connection every few seconds, so a dead link is noticed even when no
//! notification arrives; on any failure it tells the cache to stop trusting
//! itself, reconnects with backoff, and starts from an empty cache once
//! `LISTEN` is back (whatever was sent in between is lost).

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use futures::StreamExt;
use switchyard_core::shutdown::Signal;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls, Transaction};
use uuid::Uuid;

use crate::heads::HeadCache;

/// The notification channel (per database, so per deployment).
pub const CHANNEL: &str = "switchyard_registry";
/// How the listener's session shows in `pg_stat_activity`.
const APPLICATION_NAME: &str = "switchyard-registry-listener";
const PING_EVERY: Duration = Duration::from_secs(5);
const PING_TIMEOUT: Duration = Duration::from_secs(3);
const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(5);

/// Tells every registry, at commit, that `name` changed.
pub async fn publish(
    transaction: &Transaction<'_>,
    workspace: Uuid,
    name: &str,
) -> anyhow::Result<()> {
    transaction
        .execute(
            "SELECT pg_notify($1, $2)",
            &[&CHANNEL, &format!("{workspace}/{name}")],
        )
        .await
        .context("notifying other registries")?;
    Ok(())
}

/// Listens until `shutdown` trips, reconnecting as needed.
pub async fn listen(database_url: String, heads: Arc<HeadCache>, shutdown: Signal) {
    let mut retry = FIRST_RETRY;
    loop {
        let mut connected = false;
        let outcome = tokio::select! {
            outcome = session(&database_url, &heads, &mut connected) => outcome,
            () = shutdown.clone().wait() => return,
        };
        heads.disconnected();
        if let Err(error) = outcome {
            tracing::warn!(
                error = format!("{error:#}"),
                "registry change listener lost; caching paused"
            );
        }
        if connected {
            retry = FIRST_RETRY;
        }
        tokio::select! {
            () = tokio::time::sleep(retry) => {}
            () = shutdown.clone().wait() => return,
        }
        retry = (retry * 2).min(LAST_RETRY);
    }
}

/// One connection's life: returns when it fails.
async fn session(
    database_url: &str,
    heads: &HeadCache,
    connected: &mut bool,
) -> anyhow::Result<()> {
    let mut config: tokio_postgres::Config =
        database_url.parse().context("parsing the database URL")?;
    config.application_name(APPLICATION_NAME);
    let (client, mut connection) = config
        .connect(NoTls)
        .await
        .context("connecting the listener")?;
    let (sender, mut notifications) = mpsc::unbounded_channel();
    // The connection must be polled for the client's queries to progress
    // and for notifications to arrive; this task does both and forwards the
    // notifications, ending when the connection does.
    let driver = tokio::spawn(async move {
        let mut messages =
            futures::stream::poll_fn(move |context| connection.poll_message(context));
        while let Some(message) = messages.next().await {
            let forwarded = match message {
                Ok(AsyncMessage::Notification(notification)) => {
                    sender.send(Ok(notification.payload().to_string()))
                }
                Ok(_) => Ok(()),
                Err(error) => sender.send(Err(error)),
            };
            if forwarded.is_err() {
                break;
            }
        }
    });
    let _stop_driver = AbortOnDrop(driver);

    client
        .batch_execute(&format!("LISTEN {CHANNEL}"))
        .await
        .context("subscribing")?;
    heads.connected();
    *connected = true;
    tracing::debug!("registry change listener connected");

    let mut ping = tokio::time::interval(PING_EVERY);
    loop {
        tokio::select! {
            message = notifications.recv() => match message {
                Some(Ok(payload)) => forget(heads, &payload),
                Some(Err(error)) => return Err(error).context("listening"),
                None => bail!("the listener's connection closed"),
            },
            _ = ping.tick() => {
                tokio::time::timeout(PING_TIMEOUT, client.simple_query("SELECT 1"))
                    .await
                    .context("the listener's connection stopped answering")?
                    .context("pinging the listener's connection")?;
            }
        }
    }
}

fn forget(heads: &HeadCache, payload: &str) {
    let parsed = payload
        .split_once('/')
        .and_then(|(workspace, name)| Some((Uuid::parse_str(workspace).ok()?, name)));
    match parsed {
        Some((workspace, name)) => heads.invalidate(workspace, name),
        None => tracing::warn!(payload, "unreadable registry notification ignored"),
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

//! Cross-replica cache invalidation through Postgres `LISTEN`/`NOTIFY`,
//! shared by every cache that must not outlive a change made elsewhere (the
//! registry's schema heads, the router's rules, verified credentials).
//!
//! A change calls [`publish`] inside its own transaction: Postgres delivers
//! the notification to every listening session at commit, never for a
//! rolled-back change.
//!
//! [`listen`] keeps one dedicated connection per cache (outside the pool: a
//! pooled connection would be handed to queries) `LISTEN`ing on a channel.
//! It tells its [`Subscriber`] when it can trust its cache
//! ([`Subscriber::connected`], the cache starts from empty, since whatever
//! was sent while nobody listened is lost), passes each payload on, and
//! pings the connection every few seconds so a silently dead link is
//! noticed even when nothing is sent. On any failure it calls
//! [`Subscriber::disconnected`] and reconnects with backoff.

use std::time::Duration;

use anyhow::{Context, bail};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, NoTls, Transaction};

use crate::backoff::Backoff;
use crate::shutdown::Signal;

const PING_EVERY: Duration = Duration::from_secs(5);
const PING_TIMEOUT: Duration = Duration::from_secs(3);
const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(5);

/// A cache kept fresh by a channel's notifications.
pub trait Subscriber: Send + Sync {
    /// `LISTEN` is in place: empty the cache and trust it from now on.
    fn connected(&self);
    /// The connection is lost: stop trusting the cache until
    /// [`Subscriber::connected`] comes again.
    fn disconnected(&self);
    /// Something changed; `payload` says what (in the channel's own
    /// format).
    fn notified(&self, payload: &str);
}

/// Where to listen.
#[derive(Clone, Debug)]
pub struct Channel {
    /// The `LISTEN` channel (per database, so per deployment).
    pub name: &'static str,
    /// How the listener's session shows in `pg_stat_activity`.
    pub application_name: &'static str,
}

/// Tells every listener of `channel`, when the caller's transaction
/// commits, that `payload` changed.
pub async fn publish(
    transaction: &Transaction<'_>,
    channel: &Channel,
    payload: &str,
) -> anyhow::Result<()> {
    transaction
        .execute("SELECT pg_notify($1, $2)", &[&channel.name, &payload])
        .await
        .with_context(|| format!("notifying {}", channel.name))?;
    Ok(())
}

/// Listens until `shutdown` trips, reconnecting as needed.
pub async fn listen(
    channel: Channel,
    database_url: String,
    subscriber: &dyn Subscriber,
    shutdown: Signal,
) {
    let mut backoff = Backoff::new(FIRST_RETRY, LAST_RETRY);
    loop {
        let mut connected = false;
        let outcome = tokio::select! {
            outcome = session(&channel, &database_url, subscriber, &mut connected) => outcome,
            () = shutdown.clone().wait() => return,
        };
        subscriber.disconnected();
        if let Err(error) = outcome {
            tracing::warn!(
                channel = channel.name,
                error = format!("{error:#}"),
                "change listener lost; its cache is not trusted until it is back"
            );
        }
        if connected {
            backoff.reset();
        }
        if !backoff.wait(&shutdown).await {
            return;
        }
    }
}

/// One connection's life: returns when it fails.
async fn session(
    channel: &Channel,
    database_url: &str,
    subscriber: &dyn Subscriber,
    connected: &mut bool,
) -> anyhow::Result<()> {
    let mut config: tokio_postgres::Config =
        database_url.parse().context("parsing the database URL")?;
    config.application_name(channel.application_name);
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
        .batch_execute(&format!("LISTEN {}", channel.name))
        .await
        .context("subscribing")?;
    subscriber.connected();
    *connected = true;
    tracing::debug!(channel = channel.name, "change listener connected");

    // The first tick is immediate: the session shows `SELECT 1` as soon as
    // it listens.
    let mut ping = tokio::time::interval(PING_EVERY);
    loop {
        tokio::select! {
            message = notifications.recv() => match message {
                Some(Ok(payload)) => subscriber.notified(&payload),
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

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

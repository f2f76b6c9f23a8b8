//! Cross-replica invalidation of the head cache, on the shared
//! `LISTEN`/`NOTIFY` listener ([`switchyard_core::notify`]).
//!
//! Every change to what registries cache (a new version, a mode change, a
//! deprecation) calls [`publish`] inside its transaction; the payload is
//! `<workspace uuid>/<event type>`. [`listen`] forgets the named head on
//! each notification, and the whole cache while the listener is down.

use std::sync::Arc;

use switchyard_core::notify::{self, Channel, Subscriber};
use switchyard_core::shutdown::Signal;
use tokio_postgres::Transaction;
use uuid::Uuid;

use crate::heads::HeadCache;

/// The notification channel (per database, so per deployment).
pub const CHANNEL: &str = "switchyard_registry";

fn channel() -> Channel {
    Channel {
        name: CHANNEL,
        application_name: "switchyard-registry-listener",
    }
}

/// Tells every registry, at commit, that `name` changed.
pub async fn publish(
    transaction: &Transaction<'_>,
    workspace: Uuid,
    name: &str,
) -> anyhow::Result<()> {
    notify::publish(transaction, &channel(), &format!("{workspace}/{name}")).await
}

/// Listens until `shutdown` trips, reconnecting as needed.
pub async fn listen(database_url: String, heads: Arc<HeadCache>, shutdown: Signal) {
    notify::listen(channel(), database_url, &*heads, shutdown).await;
}

impl Subscriber for HeadCache {
    fn connected(&self) {
        HeadCache::connected(self);
    }

    fn disconnected(&self) {
        HeadCache::disconnected(self);
    }

    fn notified(&self, payload: &str) {
        let parsed = payload
            .split_once('/')
            .and_then(|(workspace, name)| Some((Uuid::parse_str(workspace).ok()?, name)));
        match parsed {
            Some((workspace, name)) => self.invalidate(workspace, name),
            None => tracing::warn!(payload, "unreadable registry notification ignored"),
        }
    }
}

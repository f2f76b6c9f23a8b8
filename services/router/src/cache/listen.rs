//! Keeps the rule cache fresh on the shared `LISTEN`/`NOTIFY` listener
//! ([`switchyard_core::notify`]): a notification names the workspace whose
//! rules changed; on every (re)connect the cache is emptied, since
//! notifications sent while it was down are lost, and while the listener
//! is down rules are read from Postgres.

use std::sync::Arc;

use switchyard_core::ids::WorkspaceId;
use switchyard_core::notify::{self, Channel, Subscriber};
use switchyard_core::shutdown::Signal;

use super::RuleCache;
use crate::api::rules::RULES_CHANNEL;

/// Listens until `shutdown`, reconnecting as needed.
pub async fn run(cache: Arc<RuleCache>, database_url: String, shutdown: Signal) {
    let channel = Channel {
        name: RULES_CHANNEL,
        application_name: "switchyard-router-listener",
    };
    notify::listen(channel, database_url, &*cache, shutdown).await;
    cache.set_listening(false);
}

impl Subscriber for RuleCache {
    fn connected(&self) {
        self.invalidate_all();
        self.set_listening(true);
        tracing::debug!("rule cache listening");
    }

    fn disconnected(&self) {
        self.set_listening(false);
        self.invalidate_all();
    }

    fn notified(&self, payload: &str) {
        match uuid::Uuid::parse_str(payload) {
            Ok(workspace) => self.invalidate_workspace(WorkspaceId(workspace)),
            // Not ours to understand: be safe.
            Err(_) => self.invalidate_all(),
        }
    }
}

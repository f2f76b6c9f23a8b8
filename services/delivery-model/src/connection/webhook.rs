//! The webhook kind's settings as `connections.config` stores them, and
//! the headers no connection may set.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::signature::{HEADER_WEBHOOK_ID, HEADER_WEBHOOK_SIGNATURE, HEADER_WEBHOOK_TIMESTAMP};

/// Headers Switchyard sets itself or that frame the request; a connection
/// cannot set them (the router refuses them, the engine skips them).
pub const RESERVED_HEADERS: &[&str] = &[
    "content-type",
    "content-length",
    "host",
    "transfer-encoding",
    "connection",
    "user-agent",
    HEADER_WEBHOOK_ID,
    HEADER_WEBHOOK_TIMESTAMP,
    HEADER_WEBHOOK_SIGNATURE,
    "traceparent",
    "tracestate",
];

/// An HTTP POST signed with Standard Webhooks.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookConfig {
    /// The http(s) URL the body is posted to.
    pub url: String,
    /// Static headers whose values are not credentials.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Names of the static headers whose values are sealed in
    /// `connection_secrets` (as `header.<name>`).
    #[serde(default)]
    pub credential_headers: Vec<String>,
}

/// True when a connection may not set the header `name`.
pub fn is_reserved_header(name: &str) -> bool {
    RESERVED_HEADERS.contains(&name.to_ascii_lowercase().as_str())
}

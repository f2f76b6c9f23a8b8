//! Connections: validation of what a user asks for, and their SQL.
//!
//! A connection's settings are the shared
//! `switchyard_delivery_model::connection::ConnectionConfig` (its `kind` and
//! `config` columns); this module validates webhooks, [`saas`] the SaaS
//! kinds, [`broker`] the broker kinds (RabbitMQ, NATS). [`policy`] converts
//! a delivery policy between the API and its stored form, [`controls`]
//! updates, pauses and resumes connections and reads their circuit
//! breakers, [`signing`] rotates a signing secret and [`preview`] shows the
//! request a delivery would send.
//!
//! A webhook connection's URL must be http(s) and reach a permitted address
//! (checked now by resolving it, and again by the delivery engine at every
//! connect). Static headers may not shadow the headers Switchyard sets
//! itself. The signing secret is generated here and returned once; reads
//! never return it, and header values that look like credentials come back
//! masked.
//!
//! Credentials are stored sealed (`switchyard_tenancy::secrets`): the signing
//! secret and the credential headers go to `connection_secrets` in the
//! transaction that writes the connection, and `connections.config` keeps
//! only the URL, the other headers and the names of the credential ones
//! (so reads list them, masked, without decrypting anything).

pub mod broker;
pub mod controls;
pub mod policy;
pub mod preview;
pub mod saas;
pub mod signing;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Pool};
use serde::{Deserialize, Serialize};
use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::{ConnectionId, WorkspaceId};
use switchyard_core::quotas::WorkspaceLimits;
use switchyard_core::states::ConnectionState;
use switchyard_delivery_model::connection::{ConnectionConfig, WebhookConfig, is_reserved_header};
use switchyard_delivery_model::destination::DestinationPolicy;
use switchyard_delivery_model::policy::DeliveryPolicy;
use switchyard_delivery_model::signature;
use switchyard_tenancy::auth::Principal;
use switchyard_tenancy::quota::{self, Counted};
use switchyard_tenancy::secrets::field::CREDENTIAL_HEADERS_KEY;
use switchyard_tenancy::secrets::{Keyring, SecretField, is_credential_header, store};
use url::Url;

const MAX_NAME_LEN: usize = 200;
const MAX_URL_LEN: usize = 2048;
const MAX_HEADERS: usize = 50;
const MAX_HEADER_VALUE_LEN: usize = 4096;
pub const MASK: &str = "********";

/// A webhook's URL and headers as the API takes and shows them (credential
/// header values included; stored sealed, shown masked).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSettings {
    pub url: String,
    #[serde(default)]
    pub headers: HashMap<String, String>,
}

/// What a webhook's settings store: the config (without credential values)
/// and the credential headers to seal.
pub fn stored_config(
    webhook: &WebhookSettings,
) -> ApiResult<(serde_json::Value, BTreeMap<String, String>)> {
    let split = store::split_headers(&webhook.headers);
    let stored = WebhookConfig {
        url: webhook.url.clone(),
        headers: split.plain,
        credential_headers: split.credentials.keys().cloned().collect(),
    };
    let config = serde_json::to_value(&stored).map_err(anyhow::Error::from)?;
    debug_assert!(config.get(CREDENTIAL_HEADERS_KEY).is_some());
    Ok((config, split.credentials))
}

/// A connection as read back (never with its secret).
#[derive(Clone, Debug)]
pub struct ConnectionRecord {
    pub id: ConnectionId,
    pub name: String,
    pub kind: String,
    /// The webhook's settings (empty for other kinds).
    pub webhook: WebhookSettings,
    /// The stored settings of any kind (no credential in them).
    pub config: ConnectionConfig,
    pub created_at: DateTime<Utc>,
    /// Its delivery policy (see `crate::api::connections::policy`).
    pub policy: DeliveryPolicy,
    pub state: ConnectionState,
    pub state_reason: String,
    pub state_changed_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

/// The columns `record_from_row` reads.
pub const CONNECTION_COLUMNS: &str =
    "id, name, kind, config, created_at, policy, state, state_reason, state_changed_at, updated_at";

impl ConnectionRecord {
    /// The settings with credential-like header values masked.
    pub fn masked_webhook(&self) -> WebhookSettings {
        let headers = self
            .webhook
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.clone(),
                    if is_credential_header(name) {
                        MASK.to_string()
                    } else {
                        value.clone()
                    },
                )
            })
            .collect();
        WebhookSettings {
            url: self.webhook.url.clone(),
            headers,
        }
    }

    /// The connection as the audit log keeps it: what the API shows, so
    /// never a signing secret nor a credential header's value.
    pub fn audit_json(&self) -> serde_json::Value {
        let mut audit = serde_json::json!({
            "id": self.id.to_string(),
            "name": self.name,
            "kind": self.kind,
            "policy": self.policy.to_json(),
            "state": self.state.as_str(),
            "state_reason": self.state_reason,
        });
        let settings = match &self.config {
            ConnectionConfig::Webhook(_) => serde_json::to_value(self.masked_webhook()),
            other => Ok(other.to_stored()),
        };
        audit[self.kind.as_str()] = settings.unwrap_or_default();
        audit
    }
}

pub fn validate_name(name: &str) -> ApiResult<String> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ApiError::invalid("name", "is required"));
    }
    if name.chars().count() > MAX_NAME_LEN {
        return Err(ApiError::invalid(
            "name",
            format!("is longer than {MAX_NAME_LEN} characters"),
        ));
    }
    Ok(name.to_string())
}

/// Checks URL and headers; resolves the host to apply the destination policy.
pub async fn validate_webhook(
    url: &str,
    headers: &HashMap<String, String>,
    policy: &DestinationPolicy,
) -> ApiResult<WebhookSettings> {
    if url.len() > MAX_URL_LEN {
        return Err(ApiError::invalid(
            "webhook.url",
            format!("is longer than {MAX_URL_LEN} bytes"),
        ));
    }
    let parsed = Url::parse(url).map_err(|error| {
        ApiError::invalid("webhook.url", format!("is not a valid URL: {error}"))
    })?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ApiError::invalid(
            "webhook.url",
            "must not carry credentials; use a static `authorization` header",
        ));
    }
    policy
        .check_url(&parsed)
        .await
        .map_err(|reason| ApiError::invalid("webhook.url", reason))?;
    if headers.len() > MAX_HEADERS {
        return Err(ApiError::invalid(
            "webhook.headers",
            format!("has more than {MAX_HEADERS} entries"),
        ));
    }
    for (name, value) in headers {
        let field = format!("webhook.headers[{name}]");
        let header_name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ApiError::invalid(&field, "is not a valid HTTP header name"))?;
        if is_reserved_header(header_name.as_str()) {
            return Err(ApiError::invalid(
                &field,
                "is set by Switchyard and cannot be overridden",
            ));
        }
        if value.len() > MAX_HEADER_VALUE_LEN || http::HeaderValue::from_str(value).is_err() {
            return Err(ApiError::invalid(
                &field,
                "is not a valid HTTP header value",
            ));
        }
    }
    Ok(WebhookSettings {
        url: parsed.to_string(),
        headers: headers.clone(),
    })
}

/// Stores a new webhook connection with its delivery `policy` (validated)
/// and its sealed credentials, in one transaction, if the workspace has room
/// for one more under `limits`; returns it and its signing secret.
pub async fn create_webhook(
    pool: &Pool,
    keyring: &Keyring,
    by: &Principal,
    limits: &WorkspaceLimits,
    name: &str,
    webhook: WebhookSettings,
    policy: &DeliveryPolicy,
) -> ApiResult<(ConnectionRecord, String)> {
    let workspace = by.workspace;
    let id = ConnectionId::generate();
    let secret = signature::generate_secret();
    let (config, credentials) = stored_config(&webhook)?;
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    quota::count::ensure_room(&transaction, workspace, Counted::Connections, limits).await?;
    let row = insert(
        &transaction,
        id,
        workspace,
        name,
        "webhook",
        &config,
        policy,
    )
    .await?;
    let signing = SecretField::SigningSecret;
    store::put(
        &transaction,
        keyring,
        workspace,
        id,
        &signing,
        &secret,
        None,
    )
    .await?;
    store::replace_headers(&transaction, keyring, workspace, id, &credentials).await?;
    let record = record_from_row(&row)?;
    let action = "RouterService/CreateConnection";
    let after = Some(record.audit_json());
    crate::api::audit::record(&transaction, by, action, id, None, after).await?;
    transaction.commit().await?;
    Ok((record, secret))
}

/// Writes the row of a new connection; returns it as [`CONNECTION_COLUMNS`].
pub async fn insert(
    client: &impl GenericClient,
    id: ConnectionId,
    workspace: WorkspaceId,
    name: &str,
    kind: &str,
    config: &serde_json::Value,
    policy: &DeliveryPolicy,
) -> ApiResult<tokio_postgres::Row> {
    let row = client
        .query_one(
            &format!(
                "INSERT INTO connections (id, workspace_id, name, kind, config, policy) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING {CONNECTION_COLUMNS}"
            ),
            &[
                &id.as_uuid(),
                &workspace.as_uuid(),
                &name,
                &kind,
                config,
                &policy.to_json(),
            ],
        )
        .await?;
    Ok(row)
}

/// A record from a row of [`CONNECTION_COLUMNS`]; credential headers carry
/// [`MASK`] as their value.
pub fn record_from_row(row: &tokio_postgres::Row) -> ApiResult<ConnectionRecord> {
    let kind: String = row.get("kind");
    let config: serde_json::Value = row.get("config");
    let config = ConnectionConfig::from_stored(&kind, &config)
        .map_err(|error| anyhow::anyhow!("connection config is unreadable: {error}"))?;
    let webhook = match &config {
        ConnectionConfig::Webhook(stored) => {
            let mut headers: HashMap<String, String> = stored.headers.clone().into_iter().collect();
            for name in &stored.credential_headers {
                headers.insert(name.clone(), MASK.to_string());
            }
            WebhookSettings {
                url: stored.url.clone(),
                headers,
            }
        }
        _ => WebhookSettings::default(),
    };
    let policy: serde_json::Value = row.get("policy");
    let policy = DeliveryPolicy::from_json(&policy).map_err(|error| anyhow::anyhow!(error))?;
    Ok(ConnectionRecord {
        id: ConnectionId(row.get("id")),
        name: row.get("name"),
        kind,
        webhook,
        config,
        created_at: row.get("created_at"),
        policy,
        state: row.get("state"),
        state_reason: row.get("state_reason"),
        state_changed_at: row.get("state_changed_at"),
        updated_at: row.get("updated_at"),
    })
}

pub async fn get(
    pool: &Pool,
    workspace: WorkspaceId,
    id: ConnectionId,
) -> ApiResult<ConnectionRecord> {
    let client = pool.get().await?;
    get_with(&client, workspace, id, false).await
}

/// The live connection, its row locked until `client`'s transaction ends
/// when `lock`.
pub async fn get_with(
    client: &impl GenericClient,
    workspace: WorkspaceId,
    id: ConnectionId,
    lock: bool,
) -> ApiResult<ConnectionRecord> {
    let lock = if lock { "FOR UPDATE" } else { "" };
    let row = client
        .query_opt(
            &format!(
                "SELECT {CONNECTION_COLUMNS} FROM connections \
                 WHERE workspace_id = $1 AND id = $2 AND deleted_at IS NULL {lock}"
            ),
            &[&workspace.as_uuid(), &id.as_uuid()],
        )
        .await?;
    let row = row.ok_or_else(|| ApiError::not_found(format!("connection {id} not found")))?;
    record_from_row(&row)
}

/// One page ordered by id (creation time); `after` is the last id of the
/// previous page.
pub async fn list(
    pool: &Pool,
    workspace: WorkspaceId,
    after: Option<ConnectionId>,
    limit: i64,
) -> ApiResult<Vec<ConnectionRecord>> {
    let client = pool.get().await?;
    let after = after.map(|id| id.as_uuid());
    let rows = client
        .query(
            &format!(
                "SELECT {CONNECTION_COLUMNS} FROM connections \
                 WHERE workspace_id = $1 AND deleted_at IS NULL \
                   AND ($2::uuid IS NULL OR id > $2) \
                 ORDER BY id LIMIT $3"
            ),
            &[&workspace.as_uuid(), &after, &limit],
        )
        .await?;
    rows.iter().map(record_from_row).collect()
}

/// Soft-deletes the connection and its rules in one transaction (and tells
/// the routers' rule caches); history
/// keeps its references, and pending deliveries to it are marked dead by the
/// delivery engine when their turn comes.
pub async fn delete(pool: &Pool, by: &Principal, id: ConnectionId) -> ApiResult<()> {
    let workspace = by.workspace;
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    let deleted = transaction
        .query_opt(
            &format!(
                "UPDATE connections SET deleted_at = now() \
                 WHERE workspace_id = $1 AND id = $2 AND deleted_at IS NULL \
                 RETURNING {CONNECTION_COLUMNS}"
            ),
            &[&workspace.as_uuid(), &id.as_uuid()],
        )
        .await?;
    let Some(deleted) = deleted else {
        return Err(ApiError::not_found(format!("connection {id} not found")));
    };
    transaction
        .execute(
            "UPDATE rules SET deleted_at = now() \
             WHERE workspace_id = $1 AND connection_id = $2 AND deleted_at IS NULL",
            &[&workspace.as_uuid(), &id.as_uuid()],
        )
        .await?;
    // Its rules are gone: routers must drop them from their caches.
    crate::api::rules::store::notify(&transaction, workspace).await?;
    let action = "RouterService/DeleteConnection";
    let before = Some(record_from_row(&deleted)?.audit_json());
    crate::api::audit::record(&transaction, by, action, id, before, None).await?;
    transaction.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open_policy() -> DestinationPolicy {
        DestinationPolicy::new(vec!["127.0.0.0/8".parse().expect("net")])
    }

    #[tokio::test]
    async fn validates_urls_and_headers() {
        let ok = validate_webhook("http://127.0.0.1:9/hook", &HashMap::new(), &open_policy()).await;
        assert_eq!(
            ok.map(|w| w.url).ok(),
            Some("http://127.0.0.1:9/hook".to_string())
        );

        let private = validate_webhook(
            "http://127.0.0.1:9/hook",
            &HashMap::new(),
            &DestinationPolicy::default(),
        )
        .await;
        assert!(
            matches!(private, Err(ApiError::InvalidArgument { ref field, .. }) if field == "webhook.url")
        );

        let creds =
            validate_webhook("http://u:p@127.0.0.1/", &HashMap::new(), &open_policy()).await;
        assert!(creds.is_err());

        let reserved = HashMap::from([("Webhook-Signature".to_string(), "x".to_string())]);
        let result = validate_webhook("http://127.0.0.1/", &reserved, &open_policy()).await;
        assert!(
            matches!(result, Err(ApiError::InvalidArgument { ref reason, .. }) if reason.contains("set by Switchyard"))
        );

        let bad_value = HashMap::from([("x-team".to_string(), "a\nb".to_string())]);
        assert!(
            validate_webhook("http://127.0.0.1/", &bad_value, &open_policy())
                .await
                .is_err()
        );
    }

    #[test]
    fn masks_credential_headers() {
        let record = ConnectionRecord {
            id: ConnectionId::generate(),
            name: "n".into(),
            kind: "webhook".into(),
            webhook: WebhookSettings {
                url: "http://x/".into(),
                headers: HashMap::from([
                    ("Authorization".to_string(), "Bearer abc".to_string()),
                    ("X-Api-Key".to_string(), "k".to_string()),
                    ("X-Team".to_string(), "growth".to_string()),
                ]),
            },
            config: ConnectionConfig::Webhook(WebhookConfig::default()),
            created_at: Utc::now(),
            policy: DeliveryPolicy::default(),
            state: ConnectionState::Active,
            state_reason: String::new(),
            state_changed_at: None,
            updated_at: Utc::now(),
        };
        let masked = record.masked_webhook();
        assert_eq!(masked.headers["Authorization"], MASK);
        assert_eq!(masked.headers["X-Api-Key"], MASK);
        assert_eq!(masked.headers["X-Team"], "growth");
    }

    #[test]
    fn stored_config_keeps_credential_values_out() {
        let webhook = WebhookSettings {
            url: "http://x/".into(),
            headers: HashMap::from([
                ("Authorization".to_string(), "Bearer abc".to_string()),
                ("X-Team".to_string(), "growth".to_string()),
            ]),
        };
        let (config, credentials) = stored_config(&webhook).expect("config");
        assert_eq!(
            config,
            serde_json::json!({
                "url": "http://x/",
                "headers": {"X-Team": "growth"},
                "credential_headers": ["Authorization"],
            })
        );
        assert_eq!(
            credentials,
            BTreeMap::from([("Authorization".to_string(), "Bearer abc".to_string())])
        );
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(validate_name("  crm  ").ok(), Some("crm".to_string()));
        assert!(validate_name(" ").is_err());
        assert!(validate_name(&"x".repeat(201)).is_err());
    }
}

//! HubSpot, Mailchimp and Salesforce connections: what `CreateConnection`
//! and `UpdateConnection` accept for them, and their creation.
//!
//! Each SaaS kind has one credential — HubSpot's private-app token
//! (`token`), Mailchimp's API key (`api_key`), Salesforce's client secret
//! (`client_secret`) — sealed in
//! `connection_secrets` in the transaction that writes the connection, like
//! webhook credentials, and never echoed: reads show [`MASK`]. The settings
//! go to `connections.config` as the shared `ConnectionConfig` stores them.
//! A base-URL override passes the destination policy (the SSRF guard) like
//! a webhook URL. Validation names the exact field that is missing or wrong.

use switchyard_core::error::{ApiError, ApiResult};
use switchyard_core::ids::ConnectionId;
use switchyard_core::quotas::WorkspaceLimits;
use switchyard_delivery_model::connection::{
    ConnectionConfig, HubspotConfig, MailchimpConfig, SALESFORCE_API_VERSION, SalesforceConfig,
    mailchimp_data_centre,
};
use switchyard_delivery_model::destination::DestinationPolicy;
use switchyard_delivery_model::policy::DeliveryPolicy;
use switchyard_proto::v1 as pb;
use switchyard_tenancy::auth::Principal;
use switchyard_tenancy::quota::{self, Counted};
use switchyard_tenancy::secrets::{Keyring, SecretField, store};
use url::Url;

use crate::api::connections::{self, ConnectionRecord, MASK};

const MAX_FIELD_LEN: usize = 2048;
/// Mailchimp's member statuses a new member may get.
const MEMBER_STATUSES: &[&str] = &["subscribed", "pending", "unsubscribed", "transactional"];

/// A SaaS or broker connection's validated settings.
#[derive(Clone, Debug)]
pub struct KindSettings {
    pub config: ConnectionConfig,
    /// The credential to seal; `None` keeps the stored one (updates only).
    pub credential: Option<(SecretField, String)>,
}

/// A credential as sent: empty or the mask means "keep" on update, and
/// "missing" on creation.
pub(crate) fn credential(field: &str, value: &str, creating: bool) -> ApiResult<Option<String>> {
    let value = value.trim();
    if value.is_empty() || value == MASK {
        if creating {
            return Err(ApiError::invalid(field, "is required"));
        }
        return Ok(None);
    }
    if value.len() > MAX_FIELD_LEN || http::HeaderValue::from_str(value).is_err() {
        return Err(ApiError::invalid(field, "is not a valid credential"));
    }
    Ok(Some(value.to_string()))
}

/// An optional base URL, checked like a webhook URL.
async fn base_url(
    field: &str,
    value: &str,
    policy: &DestinationPolicy,
) -> ApiResult<Option<String>> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(None);
    }
    let parsed = Url::parse(value)
        .map_err(|error| ApiError::invalid(field, format!("is not a valid URL: {error}")))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(ApiError::invalid(field, "must not carry credentials"));
    }
    policy
        .check_url(&parsed)
        .await
        .map_err(|reason| ApiError::invalid(field, reason))?;
    Ok(Some(parsed.as_str().trim_end_matches('/').to_string()))
}

pub async fn validate_hubspot(
    message: &pb::HubspotConfig,
    policy: &DestinationPolicy,
    creating: bool,
) -> ApiResult<KindSettings> {
    let token = credential("hubspot.token", &message.token, creating)?;
    let id_property = match message.id_property.trim() {
        "" => "email".to_string(),
        name if name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => name.to_string(),
        _ => {
            return Err(ApiError::invalid(
                "hubspot.id_property",
                "is not a HubSpot property name (letters, digits, `_`)",
            ));
        }
    };
    let config = HubspotConfig {
        base_url: base_url("hubspot.base_url", &message.base_url, policy).await?,
        id_property,
        batch: !message.no_batching,
    };
    Ok(KindSettings {
        config: ConnectionConfig::Hubspot(config),
        credential: token.map(|token| (SecretField::Token, token)),
    })
}

pub async fn validate_mailchimp(
    message: &pb::MailchimpConfig,
    policy: &DestinationPolicy,
    creating: bool,
) -> ApiResult<KindSettings> {
    let api_key = credential("mailchimp.api_key", &message.api_key, creating)?;
    if let Some(key) = &api_key {
        mailchimp_data_centre(key)
            .map_err(|reason| ApiError::invalid("mailchimp.api_key", reason))?;
    }
    let list_id = message.list_id.trim();
    if list_id.is_empty() {
        return Err(ApiError::invalid("mailchimp.list_id", "is required"));
    }
    if !list_id.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(ApiError::invalid(
            "mailchimp.list_id",
            "is not a Mailchimp list id",
        ));
    }
    let status_if_new = match message.status_if_new.trim() {
        "" => "subscribed",
        status if MEMBER_STATUSES.contains(&status) => status,
        _ => {
            return Err(ApiError::invalid(
                "mailchimp.status_if_new",
                format!("is not one of {}", MEMBER_STATUSES.join(", ")),
            ));
        }
    };
    let config = MailchimpConfig {
        list_id: list_id.to_string(),
        status_if_new: status_if_new.to_string(),
        base_url: base_url("mailchimp.base_url", &message.base_url, policy).await?,
    };
    Ok(KindSettings {
        config: ConnectionConfig::Mailchimp(config),
        credential: api_key.map(|key| (SecretField::ApiKey, key)),
    })
}

/// An API name (`Lead`, `Ext_Id__c`, `v60.0`): letters, digits, `_`, `.`.
fn api_name(field: &str, value: &str, default: &str) -> ApiResult<String> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(default.to_string());
    }
    if value.len() > 80
        || !value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        return Err(ApiError::invalid(field, "is not a Salesforce API name"));
    }
    Ok(value.to_string())
}

pub async fn validate_salesforce(
    message: &pb::SalesforceConfig,
    policy: &DestinationPolicy,
    creating: bool,
) -> ApiResult<KindSettings> {
    let secret = credential("salesforce.client_secret", &message.client_secret, creating)?;
    let client_id = message.client_id.trim();
    if client_id.is_empty() {
        return Err(ApiError::invalid("salesforce.client_id", "is required"));
    }
    let external = api_name(
        "salesforce.external_id_field",
        &message.external_id_field,
        "",
    )?;
    let config = SalesforceConfig {
        client_id: client_id.to_string(),
        login_url: base_url("salesforce.login_url", &message.login_url, policy).await?,
        object: api_name("salesforce.object", &message.object, "Lead")?,
        external_id_field: Some(external).filter(|field| !field.is_empty()),
        api_version: api_name(
            "salesforce.api_version",
            &message.api_version,
            SALESFORCE_API_VERSION,
        )?,
    };
    Ok(KindSettings {
        config: ConnectionConfig::Salesforce(config),
        credential: secret.map(|secret| (SecretField::ClientSecret, secret)),
    })
}

/// Stores a new SaaS or broker connection and its sealed credential in one
/// transaction, if the workspace has room for one more under `limits`.
pub async fn create(
    pool: &deadpool_postgres::Pool,
    keyring: &Keyring,
    by: &Principal,
    limits: &WorkspaceLimits,
    name: &str,
    settings: KindSettings,
    policy: &DeliveryPolicy,
) -> ApiResult<ConnectionRecord> {
    let workspace = by.workspace;
    let id = ConnectionId::generate();
    let kind = settings.config.kind();
    let mut client = pool.get().await?;
    let transaction = client.transaction().await?;
    quota::count::ensure_room(&transaction, workspace, Counted::Connections, limits).await?;
    let config = settings.config.to_stored();
    let row = connections::insert(
        &transaction,
        id,
        workspace,
        name,
        kind.as_str(),
        &config,
        policy,
    )
    .await?;
    // Validation required the credential of every kind that needs one (a
    // NATS server may need none).
    if let Some((field, secret)) = &settings.credential {
        store::put(&transaction, keyring, workspace, id, field, secret, None).await?;
    }
    let record = connections::record_from_row(&row)?;
    let after = Some(record.audit_json());
    crate::api::audit::record(
        &transaction,
        by,
        "RouterService/CreateConnection",
        id,
        None,
        after,
    )
    .await?;
    transaction.commit().await?;
    Ok(record)
}

/// The settings as the API shows them: the credential masked.
pub fn hubspot_message(config: &HubspotConfig) -> pb::HubspotConfig {
    pb::HubspotConfig {
        token: MASK.to_string(),
        id_property: config.id_property.clone(),
        base_url: config.base_url.clone().unwrap_or_default(),
        no_batching: !config.batch,
    }
}

pub fn mailchimp_message(config: &MailchimpConfig) -> pb::MailchimpConfig {
    pb::MailchimpConfig {
        api_key: MASK.to_string(),
        list_id: config.list_id.clone(),
        status_if_new: config.status_if_new.clone(),
        base_url: config.base_url.clone().unwrap_or_default(),
    }
}

pub fn salesforce_message(config: &SalesforceConfig) -> pb::SalesforceConfig {
    pb::SalesforceConfig {
        client_id: config.client_id.clone(),
        client_secret: MASK.to_string(),
        login_url: config.login_url.clone().unwrap_or_default(),
        object: config.object.clone(),
        external_id_field: config.external_id_field.clone().unwrap_or_default(),
        api_version: config.api_version.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> DestinationPolicy {
        DestinationPolicy::new(vec!["127.0.0.0/8".parse().expect("net")])
    }

    #[tokio::test]
    async fn hubspot_needs_a_token_and_checks_its_base_url() {
        let missing = validate_hubspot(&pb::HubspotConfig::default(), &open(), true).await;
        assert!(
            matches!(missing, Err(ApiError::InvalidArgument { ref field, .. }) if field == "hubspot.token")
        );
        let private = pb::HubspotConfig {
            token: "pat-1".into(),
            base_url: "http://127.0.0.1:9".into(),
            ..Default::default()
        };
        let refused = validate_hubspot(&private, &DestinationPolicy::default(), true).await;
        assert!(
            matches!(refused, Err(ApiError::InvalidArgument { ref field, .. }) if field == "hubspot.base_url")
        );
        let settings = validate_hubspot(&private, &open(), true)
            .await
            .expect("valid");
        assert_eq!(
            settings.config,
            ConnectionConfig::Hubspot(HubspotConfig {
                base_url: Some("http://127.0.0.1:9".into()),
                id_property: "email".into(),
                batch: true,
            })
        );
        assert_eq!(
            settings.credential,
            Some((SecretField::Token, "pat-1".into()))
        );
        let keep = pb::HubspotConfig {
            token: MASK.into(),
            ..Default::default()
        };
        let kept = validate_hubspot(&keep, &open(), false)
            .await
            .expect("update");
        assert_eq!(kept.credential, None);
    }

    #[tokio::test]
    async fn mailchimp_needs_a_keyed_data_centre_and_a_list() {
        let no_dc = pb::MailchimpConfig {
            api_key: "abcdef".into(),
            list_id: "57afe96172".into(),
            ..Default::default()
        };
        let result = validate_mailchimp(&no_dc, &open(), true).await;
        assert!(
            matches!(result, Err(ApiError::InvalidArgument { ref field, .. }) if field == "mailchimp.api_key")
        );
        let no_list = pb::MailchimpConfig {
            api_key: "abcdef-us6".into(),
            ..Default::default()
        };
        let result = validate_mailchimp(&no_list, &open(), true).await;
        assert!(
            matches!(result, Err(ApiError::InvalidArgument { ref field, .. }) if field == "mailchimp.list_id")
        );
        let valid = pb::MailchimpConfig {
            list_id: "57afe96172".into(),
            ..no_list
        };
        let settings = validate_mailchimp(&valid, &open(), true)
            .await
            .expect("valid");
        assert_eq!(
            settings.credential,
            Some((SecretField::ApiKey, "abcdef-us6".into()))
        );
    }
}

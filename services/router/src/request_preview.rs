//! The exact request a matched rule's delivery would make, for `TestRule`:
//! method, URL, headers and body per connection kind, built by the same
//! `switchyard_core::connection::shape` functions the delivery engine
//! uses, with every credential masked and nothing sent. Values only known
//! at send time (signatures, the delivery id, Salesforce's instance URL)
//! are named in angle brackets.

use std::collections::BTreeMap;

use secrecy::ExposeSecret;
use switchyard_core::connection::{ConnectionConfig, shape};
use switchyard_core::error::ApiResult;
use switchyard_core::ids::{ConnectionId, WorkspaceId};
use switchyard_core::secrets::{SecretField, store};

use crate::RouterState;
use crate::connections::{self, MASK};

/// Salesforce's API root is only known from the token answer.
const INSTANCE_PLACEHOLDER: &str = "https://instance.invalid";

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preview {
    pub method: String,
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub body_json: String,
    /// Why the body cannot become a request.
    pub error: String,
}

fn json_headers(authorization: Option<&str>) -> BTreeMap<String, String> {
    let mut headers =
        BTreeMap::from([("content-type".to_string(), "application/json".to_string())]);
    if let Some(scheme) = authorization {
        headers.insert("authorization".into(), format!("{scheme} {MASK}"));
    }
    headers
}

/// The request `connection` would make for `body`.
pub async fn preview(
    state: &RouterState,
    workspace: WorkspaceId,
    connection: ConnectionId,
    body: &serde_json::Value,
) -> ApiResult<Preview> {
    let record = connections::get(&state.pool, workspace, connection).await?;
    let (shaped, headers) = match &record.config {
        ConnectionConfig::Webhook(_) => {
            let webhook = record.masked_webhook();
            let mut headers: BTreeMap<String, String> = webhook.headers.into_iter().collect();
            headers.extend(json_headers(None));
            for (name, value) in [
                ("webhook-id", "<delivery id>"),
                ("webhook-timestamp", "<send time>"),
                ("webhook-signature", "<v1,… per signing secret>"),
            ] {
                headers.insert(name.into(), value.into());
            }
            let shaped = Ok(shape::Shape {
                method: "POST",
                url: webhook.url,
                body: body.clone(),
            });
            (shaped, headers)
        }
        ConnectionConfig::Hubspot(config) => {
            (shape::hubspot(config, body), json_headers(Some("Bearer")))
        }
        ConnectionConfig::Mailchimp(config) => {
            let base = match &config.base_url {
                Some(base) => base.clone(),
                None => {
                    let client = state.pool.get().await?;
                    let key =
                        store::read(&client, &state.keyring, connection, &SecretField::ApiKey)
                            .await?;
                    let key = key
                        .map(|key| key.expose_secret().to_string())
                        .unwrap_or_default();
                    config
                        .base_url(&key)
                        .unwrap_or_else(|_| "https://<dc>.api.mailchimp.com".to_string())
                }
            };
            (
                shape::mailchimp(config, &base, body),
                json_headers(Some("Basic")),
            )
        }
        ConnectionConfig::Salesforce(config) => {
            let shaped = shape::salesforce(config, INSTANCE_PLACEHOLDER, body).map(|mut shaped| {
                shaped.url = shaped
                    .url
                    .replacen(INSTANCE_PLACEHOLDER, "<instance_url>", 1);
                shaped
            });
            (shaped, json_headers(Some("Bearer")))
        }
    };
    Ok(match shaped {
        Ok(shaped) => Preview {
            method: shaped.method.to_string(),
            url: shaped.url,
            headers,
            body_json: shaped.body.to_string(),
            error: String::new(),
        },
        Err(error) => Preview {
            error: error.to_string(),
            ..Preview::default()
        },
    })
}

//! The OAuth 2.0 client-credentials flow: `POST
//! {login_url}/services/oauth2/token` with `grant_type=client_credentials`,
//! the connected app's `client_id` and `client_secret`, form-encoded; the
//! answer's `access_token` and `instance_url` are cached per connection
//! ([`TokenCache`](crate::destinations::TokenCache)). A refused token
//! request is the attempt's outcome (its answer is classified like any
//! other: `invalid_client` means the credentials need replacing).

use secrecy::{ExposeSecret, SecretString};
use switchyard_delivery_model::connection::SalesforceConfig;

use crate::destinations::tokens::fingerprint;
use crate::destinations::{CachedToken, Context, Sent, answer_json};
use crate::engine::http::{Outbound, SendError, Sender, Timeouts, standard_retry_after};

pub fn client_secret<'a>(context: &Context<'a>) -> Result<&'a str, SendError> {
    context
        .credentials
        .client_secret
        .as_ref()
        .map(|secret| secret.expose_secret())
        .ok_or_else(|| SendError::Invalid("the connection has no Salesforce client secret".into()))
}

pub fn fingerprint_of(config: &SalesforceConfig, secret: &str) -> [u8; 32] {
    fingerprint(&[config.login_url(), &config.client_id, secret])
}

/// The cached token, or a new one (always a new one when `refresh`); the
/// token request's [`Sent`] when none could be obtained.
pub async fn obtain(
    config: &SalesforceConfig,
    context: &Context<'_>,
    sender: &Sender,
    timeouts: Timeouts,
    refresh: bool,
) -> Result<CachedToken, Sent> {
    let token_url = config.token_url();
    let failed = |result| Sent {
        method: Some(reqwest::Method::POST),
        target: token_url.clone(),
        result,
    };
    let secret = client_secret(context).map_err(|error| failed(Err(error)))?;
    let credentials = fingerprint_of(config, secret);
    if !refresh && let Some(token) = context.shared.tokens.get(context.connection, &credentials) {
        return Ok(token);
    }
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("client_id", &config.client_id)
        .append_pair("client_secret", secret)
        .finish();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::CONTENT_TYPE,
        reqwest::header::HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    headers.insert(
        reqwest::header::USER_AGENT,
        reqwest::header::HeaderValue::from_static(crate::engine::http::USER_AGENT_VALUE),
    );
    let request = Outbound {
        method: reqwest::Method::POST,
        url: token_url.clone(),
        headers,
        body: form.into_bytes(),
        retry_after: standard_retry_after,
    };
    let result = sender.send(request, timeouts).await;
    let token = match &result {
        Ok(response) if (200..300).contains(&response.status) => {
            answer_json(response).and_then(|body| {
                let access = body.get("access_token")?.as_str()?.to_string();
                let instance = body.get("instance_url")?.as_str()?.to_string();
                Some(CachedToken {
                    access_token: SecretString::from(access),
                    instance_url: instance,
                })
            })
        }
        _ => None,
    };
    let Some(token) = token else {
        if matches!(&result, Ok(response) if (200..300).contains(&response.status)) {
            let error = SendError::Other(
                "the Salesforce token answer has no access_token or instance_url".into(),
            );
            return Err(failed(Err(error)));
        }
        return Err(failed(result));
    };
    context
        .shared
        .tokens
        .put(context.connection, credentials, token.clone());
    Ok(token)
}

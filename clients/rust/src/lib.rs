//! The Rust SDK for Switchyard.
//!
//! [`Client`] holds one lazily connected channel per service, each wrapped
//! so that every call carries `authorization: Bearer <api key>`; the
//! generated clients stay reachable for everything the helpers don't cover.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let client = switchyard_client::Client::connect_lazy(
//!     &switchyard_client::Endpoints::local(),
//!     "sy_live_…",
//! )?;
//! let emitted = client
//!     .emit("lead.created", &serde_json::json!({"email": "ada@example.com"}))
//!     .await?;
//! println!("{}", emitted.event_id);
//! # Ok(()) }
//! ```
//!
//! Calls refused by an outage (`UNAVAILABLE`, or `RESOURCE_EXHAUSTED` with
//! a `google.rpc.RetryInfo`) are retried with backoff and jitter, waiting at
//! least as long as the server asks; see [`RetryPolicy`] for the defaults and
//! [`Client::with_retry`] to change them. Emits are retried under one
//! idempotency key (made up when the request has none), so a retried emit is
//! stored once; reads are retried too; other calls are made once.
//!
//! Against a deployment serving TLS, give the CA its certificates chain to
//! (and, when it requires mutual TLS, a client certificate) with [`Tls`]
//! and use `https://` endpoints:
//!
//! ```no_run
//! # fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let tls = switchyard_client::Tls::from_files(
//!     "ca.pem".as_ref(),
//!     Some(("client.pem".as_ref(), "client.key".as_ref())),
//! )?;
//! let endpoints = switchyard_client::Endpoints {
//!     registry: "https://switchyard.internal:50051".to_string(),
//!     ingest: "https://switchyard.internal:50052".to_string(),
//!     router: "https://switchyard.internal:50053".to_string(),
//!     delivery: "https://switchyard.internal:50054".to_string(),
//! };
//! let client = switchyard_client::Client::connect_lazy_with_tls(&endpoints, "sy_live_…", &tls)?;
//! # Ok(()) }
//! ```

pub mod retry;
mod tls;

use std::collections::HashMap;
use std::time::Duration;

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Status};

use proto::delivery_service_client::DeliveryServiceClient;
use proto::ingest_service_client::IngestServiceClient;
use proto::registry_service_client::RegistryServiceClient;
use proto::router_service_client::RouterServiceClient;
use proto::workspace_service_client::WorkspaceServiceClient;
use retry::Idempotency;
pub use retry::RetryPolicy;
pub use switchyard_proto::v1 as proto;
pub use tls::Tls;

/// Errors building a client (calls return `tonic::Status`).
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid endpoint `{endpoint}`: {reason}")]
    InvalidEndpoint { endpoint: String, reason: String },
    #[error("the API key contains characters not allowed in gRPC metadata")]
    InvalidApiKey,
    #[error("TLS: {0}")]
    Tls(String),
}

/// Where each service listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoints {
    pub registry: String,
    pub ingest: String,
    pub router: String,
    pub delivery: String,
}

impl Endpoints {
    /// The default local ports (50051-50054).
    pub fn local() -> Self {
        Self {
            registry: "http://127.0.0.1:50051".to_string(),
            ingest: "http://127.0.0.1:50052".to_string(),
            router: "http://127.0.0.1:50053".to_string(),
            delivery: "http://127.0.0.1:50054".to_string(),
        }
    }

    /// [`Endpoints::local`] overridden by `SWITCHYARD_{REGISTRY,INGEST,ROUTER,DELIVERY}_ENDPOINT`.
    pub fn from_env() -> Self {
        let pick = |name: &str, default: String| std::env::var(name).unwrap_or(default);
        let local = Self::local();
        Self {
            registry: pick("SWITCHYARD_REGISTRY_ENDPOINT", local.registry),
            ingest: pick("SWITCHYARD_INGEST_ENDPOINT", local.ingest),
            router: pick("SWITCHYARD_ROUTER_ENDPOINT", local.router),
            delivery: pick("SWITCHYARD_DELIVERY_ENDPOINT", local.delivery),
        }
    }
}

/// Adds the API key to every request.
#[derive(Clone)]
pub struct ApiKeyInterceptor(MetadataValue<Ascii>);

impl Interceptor for ApiKeyInterceptor {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        request
            .metadata_mut()
            .insert("authorization", self.0.clone());
        Ok(request)
    }
}

pub type AuthedChannel = InterceptedService<Channel, ApiKeyInterceptor>;

/// The four service clients, authenticated, and how the helpers retry.
/// Cheap to clone. (The generated clients make every call once.)
#[derive(Clone)]
pub struct Client {
    pub registry: RegistryServiceClient<AuthedChannel>,
    pub ingest: IngestServiceClient<AuthedChannel>,
    pub router: RouterServiceClient<AuthedChannel>,
    pub delivery: DeliveryServiceClient<AuthedChannel>,
    /// Served by the registry process.
    pub workspaces: WorkspaceServiceClient<AuthedChannel>,
    retry: RetryPolicy,
}

impl Client {
    /// Builds the clients; connections open on first use and reconnect by
    /// themselves.
    pub fn connect_lazy(endpoints: &Endpoints, api_key: &str) -> Result<Self, ClientError> {
        Self::build(endpoints, api_key, None)
    }

    /// Like [`Client::connect_lazy`], over TLS: every endpoint must be
    /// `https://`.
    pub fn connect_lazy_with_tls(
        endpoints: &Endpoints,
        api_key: &str,
        tls: &Tls,
    ) -> Result<Self, ClientError> {
        Self::build(endpoints, api_key, Some(tls))
    }

    /// [`Client::connect_lazy_with_tls`] when `tls` is given, else
    /// [`Client::connect_lazy`].
    pub fn connect_lazy_with(
        endpoints: &Endpoints,
        api_key: &str,
        tls: Option<&Tls>,
    ) -> Result<Self, ClientError> {
        Self::build(endpoints, api_key, tls)
    }

    fn build(endpoints: &Endpoints, api_key: &str, tls: Option<&Tls>) -> Result<Self, ClientError> {
        let auth: MetadataValue<Ascii> = format!("Bearer {api_key}")
            .parse()
            .map_err(|_| ClientError::InvalidApiKey)?;
        let interceptor = ApiKeyInterceptor(auth);
        let channel = |endpoint: &str| -> Result<AuthedChannel, ClientError> {
            let invalid = |reason: String| ClientError::InvalidEndpoint {
                endpoint: endpoint.to_string(),
                reason,
            };
            let mut builder = Endpoint::from_shared(endpoint.to_string())
                .map_err(|error| invalid(error.to_string()))?;
            if let Some(tls) = tls {
                if builder.uri().scheme_str() != Some("https") {
                    return Err(invalid(
                        "TLS is configured, so the endpoint must start with https://".to_string(),
                    ));
                }
                builder = builder
                    .tls_config(tls.client_config())
                    .map_err(|error| ClientError::Tls(error.to_string()))?;
            }
            let channel = builder
                .connect_timeout(Duration::from_secs(5))
                .tcp_nodelay(true)
                .connect_lazy();
            Ok(InterceptedService::new(channel, interceptor.clone()))
        };
        Ok(Self {
            registry: RegistryServiceClient::new(channel(&endpoints.registry)?),
            workspaces: WorkspaceServiceClient::new(channel(&endpoints.registry)?),
            ingest: IngestServiceClient::new(channel(&endpoints.ingest)?),
            router: RouterServiceClient::new(channel(&endpoints.router)?),
            delivery: DeliveryServiceClient::new(channel(&endpoints.delivery)?),
            retry: RetryPolicy::default(),
        })
    }

    /// The same client retrying by `policy` ([`RetryPolicy::never`] turns
    /// retrying off).
    pub fn with_retry(mut self, policy: RetryPolicy) -> Self {
        self.retry = policy;
        self
    }

    /// How this client retries.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// Registers `schema` as the next version of `event_type`.
    pub async fn register_schema(
        &self,
        event_type: &str,
        schema: &serde_json::Value,
        description: &str,
    ) -> Result<proto::RegisterSchemaResponse, Status> {
        let request = proto::RegisterSchemaRequest {
            event_type: event_type.to_string(),
            json_schema: schema.to_string(),
            description: description.to_string(),
            ..Default::default()
        };
        Ok(self
            .registry
            .clone()
            .register_schema(request)
            .await?
            .into_inner())
    }

    /// Emits an event against the latest schema version (under an
    /// idempotency key of the SDK's making, so retries store it once).
    pub async fn emit(
        &self,
        event_type: &str,
        payload: &serde_json::Value,
    ) -> Result<proto::EmitEventResponse, Status> {
        self.emit_event(proto::EmitEventRequest {
            event_type: event_type.to_string(),
            payload_json: payload.to_string(),
            ..Default::default()
        })
        .await
    }

    /// Emits an event, retrying outages (see [`RetryPolicy`]) under the
    /// request's idempotency key; without one, a fresh key is made up for
    /// this call, so every attempt is the same event and it is stored once.
    /// (A retried emit that the server had stored answers `duplicate`.)
    pub async fn emit_event(
        &self,
        mut request: proto::EmitEventRequest,
    ) -> Result<proto::EmitEventResponse, Status> {
        if request.idempotency_key.is_empty() {
            request.idempotency_key = generate_idempotency_key();
        }
        retry::run(&self.retry, Idempotency::Idempotent, || {
            let mut ingest = self.ingest.clone();
            let request = request.clone();
            async move { Ok(ingest.emit_event(request).await?.into_inner()) }
        })
        .await
    }

    /// Emits up to 1,000 events in one call; one result per event, in
    /// order: its id, or why that event alone was refused. A call refused
    /// whole by an outage is retried like [`Client::emit_event`]; events
    /// without an idempotency key get one first, so a retried call stores
    /// each event once (events it had stored answer `duplicate`).
    pub async fn emit_events(
        &self,
        mut events: Vec<proto::EmitEventRequest>,
    ) -> Result<Vec<proto::EmitEventsResult>, Status> {
        for event in &mut events {
            if event.idempotency_key.is_empty() {
                event.idempotency_key = generate_idempotency_key();
            }
        }
        let request = proto::EmitEventsRequest { events };
        retry::run(&self.retry, Idempotency::Idempotent, || {
            let mut ingest = self.ingest.clone();
            let request = request.clone();
            async move { Ok(ingest.emit_events(request).await?.into_inner().results) }
        })
        .await
    }

    /// Creates a webhook connection; the response holds its signing secret,
    /// the only time it is shown.
    pub async fn create_webhook(
        &self,
        name: &str,
        url: &str,
        headers: HashMap<String, String>,
    ) -> Result<proto::Connection, Status> {
        self.create_webhook_with_policy(name, url, headers, None)
            .await
    }

    /// Like [`Client::create_webhook`], with a delivery policy (retries,
    /// timeouts, rate limit, concurrency cap, circuit breaker).
    pub async fn create_webhook_with_policy(
        &self,
        name: &str,
        url: &str,
        headers: HashMap<String, String>,
        policy: Option<proto::DeliveryPolicy>,
    ) -> Result<proto::Connection, Status> {
        let webhook =
            proto::create_connection_request::Destination::Webhook(proto::WebhookConfig {
                url: url.to_string(),
                headers,
            });
        self.create_connection(name, webhook, policy).await
    }

    /// Creates a connection of any kind (webhook, HubSpot, Mailchimp,
    /// Salesforce, RabbitMQ, NATS); credentials in `destination` are
    /// stored encrypted and read back masked.
    pub async fn create_connection(
        &self,
        name: &str,
        destination: proto::create_connection_request::Destination,
        policy: Option<proto::DeliveryPolicy>,
    ) -> Result<proto::Connection, Status> {
        let request = proto::CreateConnectionRequest {
            name: name.to_string(),
            destination: Some(destination),
            policy,
        };
        let response = self
            .router
            .clone()
            .create_connection(request)
            .await?
            .into_inner();
        response
            .connection
            .ok_or_else(|| Status::internal("the server returned no connection"))
    }

    /// Issues a new signing secret for a connection (in the response, the
    /// only time it is shown). The previous secret keeps signing beside it
    /// for `grace` (`None`: the server's default of 24 hours; zero: not at
    /// all), so receivers can switch without rejecting a webhook.
    pub async fn rotate_signing_secret(
        &self,
        connection_id: &str,
        grace: Option<Duration>,
    ) -> Result<proto::RotateSigningSecretResponse, Status> {
        let grace_period = grace
            .map(|grace| {
                Ok::<_, Status>(prost_types::Duration {
                    seconds: i64::try_from(grace.as_secs())
                        .map_err(|_| Status::invalid_argument("grace period is too long"))?,
                    nanos: i32::try_from(grace.subsec_nanos()).unwrap_or(0),
                })
            })
            .transpose()?;
        let request = proto::RotateSigningSecretRequest {
            id: connection_id.to_string(),
            grace_period,
        };
        Ok(self
            .router
            .clone()
            .rotate_signing_secret(request)
            .await?
            .into_inner())
    }

    /// Sends every `event_type` event to `connection_id`.
    pub async fn create_rule(
        &self,
        event_type: &str,
        connection_id: &str,
    ) -> Result<proto::Rule, Status> {
        let request = proto::CreateRuleRequest {
            event_type: event_type.to_string(),
            connection_id: connection_id.to_string(),
            ..Default::default()
        };
        let response = self.router.clone().create_rule(request).await?.into_inner();
        response
            .rule
            .ok_or_else(|| Status::internal("the server returned no rule"))
    }

    /// The deliveries of one event (first page, up to 500).
    pub async fn list_deliveries(&self, event_id: &str) -> Result<Vec<proto::Delivery>, Status> {
        let request = proto::ListDeliveriesRequest {
            event_id: event_id.to_string(),
            page_size: 500,
            ..Default::default()
        };
        retry::run(&self.retry, Idempotency::Idempotent, || {
            let mut delivery = self.delivery.clone();
            let request = request.clone();
            async move {
                Ok(delivery
                    .list_deliveries(request)
                    .await?
                    .into_inner()
                    .deliveries)
            }
        })
        .await
    }

    /// Sets how long the caller's workspace keeps its history
    /// (`payload_retention_days` 0: as long as the rest).
    pub async fn set_retention(
        &self,
        retention_days: u32,
        payload_retention_days: u32,
    ) -> Result<proto::Workspace, Status> {
        let request = proto::SetRetentionRequest {
            retention_days,
            payload_retention_days,
        };
        retry::run(&self.retry, Idempotency::Idempotent, || {
            let mut workspaces = self.workspaces.clone();
            async move {
                let response = workspaces.set_retention(request).await?.into_inner();
                response
                    .workspace
                    .ok_or_else(|| Status::internal("SetRetention answered without a workspace"))
            }
        })
        .await
    }

    /// One delivery with its attempts.
    pub async fn get_delivery(&self, id: &str) -> Result<proto::GetDeliveryResponse, Status> {
        let request = proto::GetDeliveryRequest { id: id.to_string() };
        retry::run(&self.retry, Idempotency::Idempotent, || {
            let mut delivery = self.delivery.clone();
            let request = request.clone();
            async move { Ok(delivery.get_delivery(request).await?.into_inner()) }
        })
        .await
    }
}

/// An idempotency key for an emit whose caller gave none: random, so two
/// emits never share one, and marked as the SDK's.
fn generate_idempotency_key() -> String {
    format!("sdk_{}", uuid::Uuid::new_v4().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_keys_that_cannot_be_metadata() {
        let result = Client::connect_lazy(&Endpoints::local(), "bad\nkey");
        assert!(matches!(result, Err(ClientError::InvalidApiKey)));
    }

    #[tokio::test]
    async fn tls_needs_https_endpoints() {
        let tls = Tls::new(b"-----BEGIN CERTIFICATE-----\n".to_vec());
        let result = Client::connect_lazy_with_tls(&Endpoints::local(), "sy_live_x", &tls);
        let Err(ClientError::InvalidEndpoint { reason, .. }) = result else {
            panic!("http:// endpoints were accepted with TLS");
        };
        assert!(reason.contains("https://"), "{reason}");
    }

    #[test]
    fn generated_idempotency_keys_are_unique() {
        let first = generate_idempotency_key();
        assert!(first.starts_with("sdk_"), "{first}");
        assert_ne!(first, generate_idempotency_key());
    }

    #[tokio::test]
    async fn refuses_malformed_endpoints() {
        let mut endpoints = Endpoints::local();
        endpoints.router = "not a url".to_string();
        let result = Client::connect_lazy(&endpoints, "sy_live_x");
        assert!(matches!(result, Err(ClientError::InvalidEndpoint { .. })));
    }
}

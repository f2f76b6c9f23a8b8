//! Running services in one process. Each service gets its own listener
//! (port 0 picks a free one) and reaches the others through the endpoints in
//! its config, which [`Stack::start`] points at the bound addresses, except
//! that ingest calls a registry and router hosted by the same stack
//! directly (see [`crate::local`]). A
//! service left out at start can be started later on the address reserved
//! for it, which is how tests take the router down and bring it back.
//! With `tls.cert` set every listener serves TLS, so the endpoints become
//! `https://` and the services (and [`Stack::client`]) trust `tls.ca` and
//! present `tls.client_cert`. [`Stack::start_console`] adds the web
//! console, pointed at the stack's services.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;

use anyhow::{Context, bail};
use secrecy::SecretString;
use switchyard_core::config::Config;
use switchyard_core::shutdown::{self, Signal, Trigger};
use switchyard_core::telemetry::metrics;
use switchyard_core::telemetry::traces::Service as TelemetryService;
use switchyard_core::{db, grpc};

use crate::local::LocalServices;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceKind {
    Registry,
    Ingest,
    Router,
    Delivery,
}

impl ServiceKind {
    pub const ALL: [ServiceKind; 4] = [Self::Registry, Self::Ingest, Self::Router, Self::Delivery];

    /// The same service as telemetry names it.
    pub fn telemetry(self) -> TelemetryService {
        match self {
            Self::Registry => TelemetryService::Registry,
            Self::Ingest => TelemetryService::Ingest,
            Self::Router => TelemetryService::Router,
            Self::Delivery => TelemetryService::Delivery,
        }
    }

    fn addr(self, config: &Config) -> SocketAddr {
        match self {
            Self::Registry => config.registry_addr,
            Self::Ingest => config.ingest_addr,
            Self::Router => config.router_addr,
            Self::Delivery => config.delivery_addr,
        }
    }

    fn set_addr(self, config: &mut Config, addr: SocketAddr) {
        match self {
            Self::Registry => config.registry_addr = addr,
            Self::Ingest => config.ingest_addr = addr,
            Self::Router => config.router_addr = addr,
            Self::Delivery => config.delivery_addr = addr,
        }
    }
}

impl fmt::Display for ServiceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Registry => "registry",
            Self::Ingest => "ingest",
            Self::Router => "router",
            Self::Delivery => "delivery",
        })
    }
}

impl FromStr for ServiceKind {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.to_string() == text)
            .ok_or_else(|| format!("unknown service `{text}` (registry, ingest, router, delivery)"))
    }
}

/// Builds and runs one service on `listener` until `shutdown`, on its own
/// (every other service reached over gRPC).
pub async fn run_service(
    kind: ServiceKind,
    config: &Config,
    listener: TcpListener,
    shutdown: Signal,
) -> anyhow::Result<()> {
    run_hosted(kind, config, listener, shutdown, None).await
}

/// What a service of a stack shares with the others: the in-process seams,
/// and which services this process hosts.
#[derive(Clone)]
struct Hosted {
    local: LocalServices,
    registry: bool,
    router: bool,
}

/// [`run_service`], inside a stack: a registry or router fills its slot
/// while it runs; ingest calls the ones this stack hosts directly.
async fn run_hosted(
    kind: ServiceKind,
    config: &Config,
    listener: TcpListener,
    shutdown: Signal,
    hosted: Option<Hosted>,
) -> anyhow::Result<()> {
    match kind {
        ServiceKind::Registry => {
            let app = switchyard_registry::RegistryApp::build(config).await?;
            let Some(hosted) = hosted else {
                return app.run(listener, shutdown).await;
            };
            let slot = hosted.local.registry.0;
            slot.fill(app.local_validation());
            let served = app.run(listener, shutdown).await;
            slot.empty();
            served
        }
        ServiceKind::Ingest => {
            let app = match hosted {
                Some(hosted) if hosted.registry || hosted.router => {
                    ingest_with(config, &hosted).await?
                }
                _ => switchyard_ingest::IngestApp::build(config).await?,
            };
            app.run(listener, shutdown).await
        }
        ServiceKind::Router => {
            let app = switchyard_router::RouterApp::build(config).await?;
            let Some(hosted) = hosted else {
                return app.run(listener, shutdown).await;
            };
            let slot = hosted.local.router.0;
            slot.fill(app.state().clone());
            let served = app.run(listener, shutdown).await;
            slot.empty();
            served
        }
        ServiceKind::Delivery => {
            let app = switchyard_delivery::DeliveryApp::build(config).await?;
            app.run(listener, shutdown).await
        }
    }
    .with_context(|| format!("{kind} service"))
}

/// Ingest calling the registry and router of this process directly where
/// the stack hosts them, over gRPC otherwise.
async fn ingest_with(
    config: &Config,
    hosted: &Hosted,
) -> anyhow::Result<switchyard_ingest::IngestApp> {
    use std::sync::Arc;
    use switchyard_ingest::IngestApp;
    use switchyard_ingest::forward::EventRouter;
    use switchyard_ingest::validation::PayloadValidator;

    // The gRPC seams, built as a standalone ingest builds them.
    let remote = IngestApp::remote_seams(config)?;
    let validator: Arc<dyn PayloadValidator> = if hosted.registry {
        Arc::new(hosted.local.registry.clone())
    } else {
        remote.0
    };
    let router: Arc<dyn EventRouter> = if hosted.router {
        Arc::new(hosted.local.router.clone())
    } else {
        remote.1
    };
    IngestApp::build_with(config, validator, router).await
}

/// A running service: its stop switch and its task.
struct Running {
    trigger: Trigger,
    task: JoinHandle<anyhow::Result<()>>,
}

/// Services running in this process.
pub struct Stack {
    config: Config,
    running: HashMap<ServiceKind, Running>,
    /// The services this stack was asked to host, now or later.
    hosts: Vec<ServiceKind>,
    local: LocalServices,
    /// Stops the `/metrics` endpoint, when one runs.
    metrics: Option<(SocketAddr, Trigger)>,
    /// The web console, once started.
    console: Option<Running>,
}

impl Stack {
    /// Migrates the database, then starts `services`. Every service's
    /// address is fixed now (ports 0 are resolved), so services started
    /// later are found where the others expect them.
    pub async fn start(mut config: Config, services: &[ServiceKind]) -> anyhow::Result<Self> {
        if config.internal_token.is_none() {
            // One process: the services only need to agree among themselves.
            config.internal_token = Some(SecretString::from(
                switchyard_tenancy::auth::generate_api_key("internal"),
            ));
        }
        if config.api_key_pepper.is_none() {
            tracing::warn!(
                "api_key_pepper (SWITCHYARD_API_KEY_PEPPER) is not set: API keys are hashed \
                 without a secret key; set one in production"
            );
        }
        let sealing = [ServiceKind::Router, ServiceKind::Delivery];
        if sealing.iter().any(|kind| services.contains(kind)) {
            // They would refuse to start later, one by one: say it now.
            switchyard_tenancy::secrets::Keyring::from_config(&config.secrets)?;
        }
        db::migrate(&config.database_url)
            .await
            .context("migrating the database")?;

        let mut listeners = HashMap::new();
        for kind in ServiceKind::ALL {
            let (listener, addr) = grpc::bind(kind.addr(&config)).await?;
            kind.set_addr(&mut config, addr);
            if services.contains(&kind) {
                listeners.insert(kind, listener);
            }
            // A service not started now releases its port until started.
        }
        if config.tls.serves_tls() && config.tls.ca.is_none() {
            bail!(
                "tls.cert is set, so the services in this process call each other over TLS: set tls.ca to the CA that signed it"
            );
        }
        let scheme = config.tls.scheme();
        config.registry_endpoint = format!("{scheme}://{}", config.registry_addr);
        config.router_endpoint = format!("{scheme}://{}", config.router_addr);
        config.delivery_endpoint = format!("{scheme}://{}", config.delivery_addr);

        let metrics = stack_metrics(&config).await?;
        let mut stack = Self {
            config,
            running: HashMap::new(),
            hosts: services.to_vec(),
            local: LocalServices::default(),
            metrics,
            console: None,
        };
        for (kind, listener) in listeners {
            stack.spawn(kind, listener);
        }
        Ok(stack)
    }

    fn spawn(&mut self, kind: ServiceKind, listener: TcpListener) {
        let config = self.config.clone();
        let (trigger, signal) = shutdown::channel();
        tracing::info!(service = %kind, addr = %kind.addr(&config), "service starting");
        if !self.hosts.contains(&kind) {
            self.hosts.push(kind);
        }
        let hosted = Hosted {
            local: self.local.clone(),
            registry: self.hosts.contains(&ServiceKind::Registry),
            router: self.hosts.contains(&ServiceKind::Router),
        };
        let task =
            tokio::spawn(
                async move { run_hosted(kind, &config, listener, signal, Some(hosted)).await },
            );
        self.running.insert(kind, Running { trigger, task });
    }

    /// Starts a service that was left out or stopped, on its address.
    pub async fn start_service(&mut self, kind: ServiceKind) -> anyhow::Result<()> {
        if self.running.contains_key(&kind) {
            bail!("{kind} is already running");
        }
        let (listener, _) = grpc::bind(kind.addr(&self.config)).await?;
        self.spawn(kind, listener);
        Ok(())
    }

    /// Stops one service gracefully; its address stays reserved for it.
    pub async fn stop_service(&mut self, kind: ServiceKind) -> anyhow::Result<()> {
        let Some(running) = self.running.remove(&kind) else {
            bail!("{kind} is not running");
        };
        running.trigger.trip();
        running.task.await.context("service task panicked")?
    }

    /// The configuration the services run with (bound addresses filled in).
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Changes the configuration services started from now on get (tests
    /// restart a service with new master keys this way).
    pub fn config_mut(&mut self) -> &mut Config {
        &mut self.config
    }

    pub fn addr(&self, kind: ServiceKind) -> SocketAddr {
        kind.addr(&self.config)
    }

    /// Where `GET /metrics` answers, when enabled.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(addr, _)| *addr)
    }

    /// Endpoints for the SDK (`https://` when the services serve TLS).
    pub fn endpoints(&self) -> switchyard_client::Endpoints {
        let scheme = self.config.tls.scheme();
        let url = |kind: ServiceKind| format!("{scheme}://{}", self.addr(kind));
        switchyard_client::Endpoints {
            registry: url(ServiceKind::Registry),
            ingest: url(ServiceKind::Ingest),
            router: url(ServiceKind::Router),
            delivery: url(ServiceKind::Delivery),
        }
    }

    /// An SDK client of these services with `api_key`, over TLS (trusting
    /// `tls.ca`, presenting `tls.client_cert` when set) when they serve it.
    pub fn client(&self, api_key: &str) -> anyhow::Result<switchyard_client::Client> {
        let tls = &self.config.tls;
        let client_tls = match (&tls.ca, tls.serves_tls()) {
            (Some(ca), true) => {
                let identity = tls.client_cert.as_deref().zip(tls.client_key.as_deref());
                Some(switchyard_client::Tls::from_files(ca, identity)?)
            }
            _ => None,
        };
        Ok(switchyard_client::Client::connect_lazy_with(
            &self.endpoints(),
            api_key,
            client_tls.as_ref(),
        )?)
    }

    /// Starts the web console on `console.addr` (port 0 picks a free one),
    /// calling this stack's services; returns its address.
    pub async fn start_console(&mut self) -> anyhow::Result<SocketAddr> {
        if self.console.is_some() {
            bail!("the console is already running");
        }
        let endpoints = self.endpoints();
        let console = &mut self.config.console;
        console.registry_endpoint = endpoints.registry;
        console.ingest_endpoint = endpoints.ingest;
        console.router_endpoint = endpoints.router;
        console.delivery_endpoint = endpoints.delivery;
        let (listener, addr) = grpc::bind(console.addr).await?;
        console.addr = addr;
        let app = switchyard_console::ConsoleApp::build(&self.config)?;
        let (trigger, signal) = shutdown::channel();
        let task = tokio::spawn(app.run(listener, signal));
        self.console = Some(Running { trigger, task });
        tracing::info!(%addr, "console at http://{addr}/");
        Ok(addr)
    }

    /// Where the console answers, once started.
    pub fn console_addr(&self) -> Option<SocketAddr> {
        self.console.as_ref().map(|_| self.config.console.addr)
    }

    /// Resolves when any service stops (an error, or shutdown).
    pub async fn any_stopped(&mut self) -> anyhow::Result<()> {
        if self.running.is_empty() {
            return Ok(());
        }
        let tasks = self.running.values_mut().map(|running| &mut running.task);
        let (result, _, _) = futures::future::select_all(tasks).await;
        result.context("service task panicked")?
    }

    /// Trips every service's shutdown and waits for them to finish.
    pub async fn stop(self) -> anyhow::Result<()> {
        if let Some((_, trigger)) = &self.metrics {
            trigger.trip();
        }
        if let Some(console) = self.console {
            console.trigger.trip();
            match console.task.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::warn!(error = format!("{error:#}"), "console failed"),
                Err(join) => tracing::warn!(%join, "console panicked"),
            }
        }
        for running in self.running.values() {
            running.trigger.trip();
        }
        let mut first_error = None;
        for (kind, running) in self.running {
            match running.task.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::error!(service = %kind, error = format!("{error:#}"), "service failed");
                    first_error.get_or_insert(error);
                }
                Err(join) => {
                    first_error.get_or_insert(anyhow::anyhow!("{kind} panicked: {join}"));
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Starts the process's `/metrics` endpoint when the config asks for one.
async fn stack_metrics(config: &Config) -> anyhow::Result<Option<(SocketAddr, Trigger)>> {
    match config.telemetry.metrics_addr {
        Some(addr) => start_metrics(addr).await.map(Some),
        None => Ok(None),
    }
}

/// Serves `/metrics` on `addr` until the returned trigger trips or drops.
pub async fn start_metrics(addr: SocketAddr) -> anyhow::Result<(SocketAddr, Trigger)> {
    let (listener, addr) = metrics::bind(addr).await?;
    let (trigger, signal) = shutdown::channel();
    tokio::spawn(async move {
        if let Err(error) = metrics::serve(listener, signal).await {
            tracing::warn!(error = format!("{error:#}"), "metrics endpoint stopped");
        }
    });
    tracing::info!(%addr, "metrics at /metrics");
    Ok((addr, trigger))
}

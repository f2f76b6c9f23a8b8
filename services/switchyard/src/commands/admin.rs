//! `migrate`, `serve`, `workspace create`, `keys rotate` and `receive`.

use std::io::Write;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use switchyard_core::config::Config;
use switchyard_core::{db, shutdown, standalone};
use switchyard_tenancy::auth::{self, jwt};
use switchyard_tenancy::secrets::{Keyring, store};

use crate::receiver::{self, Behaviour, Receiver};
use crate::stack::{self, ServiceKind, Stack};

pub async fn migrate(config: &Config) -> anyhow::Result<()> {
    let applied = db::migrate(&config.database_url).await?;
    println!(
        "migrations applied: {applied} (database {})",
        db::redact(&config.database_url)
    );
    Ok(())
}

/// Prints the new key alone on the last line, so scripts can `tail -n 1`.
pub async fn create_workspace(config: &Config, slug: &str) -> anyhow::Result<()> {
    db::migrate(&config.database_url).await?;
    let pool = db::pool(&config.database_url, 2)?;
    let hasher = auth::KeyHasher::new(config.api_key_pepper.as_ref());
    let (workspace, key) = auth::create_workspace(&pool, &hasher, slug)
        .await
        .map_err(|error| anyhow::anyhow!("{error}"))?;
    println!("workspace {slug} created: {workspace}");
    println!("its API key follows; it is shown only now:");
    println!("{key}");
    Ok(())
}

/// What `switchyard keys rotate` did, per table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct KeyRotation {
    pub connections: store::Rotation,
    pub verification_secrets: jwt::sealing::Rotation,
}

impl KeyRotation {
    /// Values under a key other than the active one at the end.
    pub fn under_other_keys(&self) -> u64 {
        self.connections.under_other_keys + self.verification_secrets.under_other_keys
    }
}

/// Re-encrypts every stored credential — connection credentials and HS256
/// verification secrets — under the active key, and writes what it did to
/// `out`.
pub async fn rotate_keys(
    config: &Config,
    batch_size: i64,
    out: &mut impl Write,
) -> anyhow::Result<KeyRotation> {
    let keyring = Keyring::from_config(&config.secrets)?;
    db::migrate(&config.database_url).await?;
    let pool = db::pool(&config.database_url, 2)?;
    let active = keyring.active_key_id();
    let report = KeyRotation {
        connections: store::rotate(&pool, &keyring, batch_size)
            .await
            .context("re-encrypting connection credentials under the active key")?,
        verification_secrets: jwt::sealing::rotate(&pool, &keyring, batch_size)
            .await
            .context("re-encrypting HS256 verification secrets under the active key")?,
    };
    let (connections, verification) = (&report.connections, &report.verification_secrets);
    writeln!(
        out,
        "plain-text connections encrypted: {}",
        connections.plaintext_encrypted
    )?;
    writeln!(
        out,
        "plain-text HS256 verification secrets encrypted: {}",
        verification.plaintext_encrypted
    )?;
    writeln!(
        out,
        "connection values re-encrypted under key {active}: {}",
        connections.reencrypted
    )?;
    writeln!(
        out,
        "HS256 verification secrets re-encrypted under key {active}: {}",
        verification.reencrypted
    )?;
    writeln!(
        out,
        "expired previous signing secrets removed: {}",
        connections.expired_removed
    )?;
    writeln!(
        out,
        "values under key {active}: {}; under other keys: {}",
        connections.under_active_key + verification.under_active_key,
        report.under_other_keys()
    )?;
    if report.under_other_keys() > 0 {
        writeln!(
            out,
            "some values were written under another key meanwhile: give every service \
             secrets.active_key = {active}, then run this again"
        )?;
    }
    Ok(report)
}

/// All four services in this process, with `/metrics` on the configured
/// address.
pub async fn serve_all(config: Config) -> anyhow::Result<()> {
    // Each service logs `listening` once it is built (`grpc::serve`).
    let mut stack = Stack::start(config, &ServiceKind::ALL).await?;
    stack.start_console().await?;
    tokio::select! {
        () = shutdown::os_signal() => tracing::info!("shutting down"),
        result = stack.any_stopped() => {
            result?;
            anyhow::bail!("a service stopped unexpectedly");
        }
    }
    stack.stop().await
}

/// One service, as its own process would run it.
pub async fn serve_one(kind: ServiceKind) -> anyhow::Result<()> {
    // Router and delivery seal and open credentials: no master key, no start.
    let check = move |config: &Config| match kind {
        ServiceKind::Router | ServiceKind::Delivery => {
            switchyard_tenancy::secrets::require_keyring(config)
        }
        ServiceKind::Registry | ServiceKind::Ingest => Ok(()),
    };
    standalone::run_checked(
        kind.telemetry(),
        check,
        |config, listener, signal| async move {
            stack::run_service(kind, &config, listener, signal).await
        },
    )
    .await
}

/// The web console alone, calling the services at the `console.*_endpoint`
/// settings.
pub async fn serve_console(config: Config) -> anyhow::Result<()> {
    let app = switchyard_console::ConsoleApp::build(&config)?;
    let (listener, addr) = switchyard_core::grpc::bind(config.console.addr).await?;
    let (trigger, signal) = shutdown::channel();
    tokio::spawn(async move {
        shutdown::os_signal().await;
        tracing::info!("shutting down");
        trigger.trip();
    });
    tracing::info!(%addr, "console at http://{addr}/");
    app.run(listener, signal).await
}

pub async fn receive(port: u16, secret: Option<String>) -> anyhow::Result<()> {
    let print: Arc<dyn Fn(&receiver::ReceivedWebhook) + Send + Sync> =
        Arc::new(|webhook| println!("{}", receiver::describe(webhook)));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let receiver = Receiver::start_with_callback(addr, Behaviour::default(), Some(print))
        .await
        .context("starting the receiver")?;
    if let Some(secret) = secret {
        receiver.set_secret(&secret);
    }
    println!("receiving webhooks on {}", receiver.url("/"));
    shutdown::os_signal().await;
    Ok(())
}

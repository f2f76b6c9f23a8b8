//! HS256 verification secrets earlier versions stored in plain text, sealed
//! under the master keyring once the registry starts
//! (`switchyard_tenancy::auth::jwt::sealing`). The pass runs beside the server
//! rather than before it, so the registry still starts while Postgres is
//! unreachable: it retries with backoff until it completes or the registry
//! stops. Until then those secrets verify as they are. A registry without
//! a keyring cannot seal them; it says so once.

use std::time::Duration;

use anyhow::Context;
use switchyard_core::backoff::Backoff;
use switchyard_core::shutdown::Signal;
use switchyard_tenancy::auth::{Authenticator, jwt};
use switchyard_tenancy::secrets::store::DEFAULT_BATCH;

const FIRST_RETRY: Duration = Duration::from_millis(500);
const LAST_RETRY: Duration = Duration::from_secs(30);

/// Runs [`seal_once`] until it succeeds or `shutdown` trips.
pub async fn seal(auth: Authenticator, shutdown: Signal) {
    let mut backoff = Backoff::new(FIRST_RETRY, LAST_RETRY);
    loop {
        let outcome = tokio::select! {
            outcome = seal_once(&auth) => outcome,
            () = shutdown.clone().wait() => return,
        };
        let Err(error) = outcome else {
            return;
        };
        tracing::warn!(
            error = format!("{error:#}"),
            retry_in = ?backoff.next(),
            "plain-text HS256 verification secrets not sealed yet"
        );
        if !backoff.wait(&shutdown).await {
            return;
        }
    }
}

/// Seals every plain-text HS256 secret, or warns that it cannot for want of
/// a keyring.
async fn seal_once(auth: &Authenticator) -> anyhow::Result<()> {
    let Some(keyring) = auth.keyring() else {
        let left = jwt::sealing::count_plaintext(auth.pool()).await?;
        if left > 0 {
            tracing::warn!(
                verification_keys = left,
                "HS256 verification secrets are stored in plain text and no master key is \
                 configured (secrets.keys): set one so the registry encrypts them; their \
                 tokens are refused until then"
            );
        }
        return Ok(());
    };
    let sealed = jwt::sealing::encrypt_plaintext(auth.pool(), keyring, DEFAULT_BATCH)
        .await
        .context("encrypting plain-text HS256 verification secrets")?;
    if sealed > 0 {
        tracing::info!(
            verification_keys = sealed,
            "plain-text HS256 verification secrets encrypted"
        );
    }
    Ok(())
}

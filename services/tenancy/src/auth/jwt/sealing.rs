//! HS256 secrets at rest. An Ed25519 or RSA key is public and stays in
//! `verification_keys.material`; an HS256 secret is sealed under the master
//! keyring (`crate::secrets`) into `key_id` and `ciphertext`, bound to its
//! workspace and verification key id (so a ciphertext copied to another row
//! fails to open), and `material` is left empty.
//!
//! - [`seal`] and [`open`]: when a key is registered, and each time a token
//!   is checked against it. A service without a keyring opens nothing: it
//!   refuses HS256 tokens, and the registry refuses new HS256 keys.
//! - [`encrypt_plaintext`] seals the secrets earlier versions stored in
//!   plain text and empties their `material`; the registry runs it at
//!   start, `switchyard keys rotate` before re-encrypting. Until then they
//!   verify as they are.
//! - [`rotate`] re-seals, under the active key, every secret sealed under
//!   another one.
//!
//! Both passes work a batch per transaction, so they run while services
//! serve.

use anyhow::Context;
use deadpool_postgres::Pool;
use secrecy::{ExposeSecret, SecretSlice};
use uuid::Uuid;

use crate::secrets::{Keyring, Sealed, SecretError};
use switchyard_core::ids::{VerificationKeyId, WorkspaceId};

/// The field an HS256 secret is sealed as, in its associated data.
const FIELD: &str = "hs256_secret";

/// The associated data sealing the HS256 secret of key `id` of `workspace`.
pub fn associated_data(workspace: WorkspaceId, id: VerificationKeyId) -> Vec<u8> {
    format!("switchyard/verification_key/{workspace}/{id}/{FIELD}").into_bytes()
}

/// Seals `secret` as the HS256 secret of key `id`.
pub fn seal(
    keyring: &Keyring,
    workspace: WorkspaceId,
    id: VerificationKeyId,
    secret: &[u8],
) -> Result<Sealed, SecretError> {
    keyring.seal_bytes(secret, &associated_data(workspace, id))
}

/// Opens the HS256 secret of key `id`.
pub fn open(
    keyring: &Keyring,
    workspace: WorkspaceId,
    id: VerificationKeyId,
    sealed: &Sealed,
) -> Result<SecretSlice<u8>, SecretError> {
    keyring.open_bytes(sealed, &associated_data(workspace, id))
}

/// Seals the HS256 secrets earlier versions stored in plain text (removed
/// keys' included), a batch per transaction; returns how many it sealed.
pub async fn encrypt_plaintext(pool: &Pool, keyring: &Keyring, batch: i64) -> anyhow::Result<u64> {
    let mut sealed_count = 0;
    loop {
        let mut client = pool.get().await.context("connecting to Postgres")?;
        let transaction = client.transaction().await?;
        let rows = transaction
            .query(
                "SELECT id, workspace_id, material FROM verification_keys \
                 WHERE algorithm = 'HS256' AND ciphertext IS NULL ORDER BY id LIMIT $1 \
                 FOR UPDATE SKIP LOCKED",
                &[&batch],
            )
            .await
            .context("reading plain-text HS256 secrets")?;
        if rows.is_empty() {
            return Ok(sealed_count);
        }
        for row in &rows {
            let id = VerificationKeyId(row.get(0));
            let workspace = WorkspaceId(row.get(1));
            let secret = SecretSlice::from(row.get::<_, Vec<u8>>(2));
            let sealed = seal(keyring, workspace, id, secret.expose_secret())
                .with_context(|| format!("sealing the HS256 secret of {id}"))?;
            transaction
                .execute(
                    "UPDATE verification_keys SET key_id = $2, ciphertext = $3, material = '' \
                     WHERE id = $1",
                    &[&id.as_uuid(), &sealed.key_id, &sealed.ciphertext],
                )
                .await
                .context("storing a sealed HS256 secret")?;
            sealed_count += 1;
        }
        transaction.commit().await.context("committing a batch")?;
    }
}

/// Plain-text HS256 secrets left, e.g. for a registry without a keyring to
/// say that it cannot seal them.
pub async fn count_plaintext(pool: &Pool) -> anyhow::Result<u64> {
    let client = pool.get().await.context("connecting to Postgres")?;
    let row = client
        .query_one(
            "SELECT count(*) FROM verification_keys \
             WHERE algorithm = 'HS256' AND ciphertext IS NULL",
            &[],
        )
        .await
        .context("counting plain-text HS256 secrets")?;
    Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or_default())
}

/// What [`rotate`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    /// HS256 secrets found in plain text, sealed.
    pub plaintext_encrypted: u64,
    /// Secrets re-sealed under the active key.
    pub reencrypted: u64,
    /// Secrets sealed under the active key at the end.
    pub under_active_key: u64,
    /// Secrets still under another key at the end (registered through a
    /// registry whose active key is still the old one).
    pub under_other_keys: u64,
}

/// Re-seals every HS256 secret under the active key, `batch` per
/// transaction, after sealing any plain text left. Secrets stay readable
/// throughout: services open them under either key.
pub async fn rotate(pool: &Pool, keyring: &Keyring, batch: i64) -> anyhow::Result<Rotation> {
    let mut report = Rotation {
        plaintext_encrypted: encrypt_plaintext(pool, keyring, batch).await?,
        ..Rotation::default()
    };
    let active = keyring.active_key_id();
    // Each batch re-seals the rows it selected, so the next batch starts
    // after the last of them; a secret the pass cannot open stops it.
    let mut after: Option<Uuid> = None;
    loop {
        let mut client = pool.get().await.context("connecting to Postgres")?;
        let transaction = client.transaction().await?;
        let rows = transaction
            .query(
                "SELECT id, workspace_id, key_id, ciphertext FROM verification_keys \
                 WHERE key_id <> $1 AND ($2::uuid IS NULL OR id > $2) \
                 ORDER BY id LIMIT $3 \
                 FOR UPDATE",
                &[&active, &after, &batch],
            )
            .await
            .context("reading HS256 secrets to re-seal")?;
        let Some(last) = rows.last() else {
            break;
        };
        after = Some(last.get(0));
        for row in &rows {
            let id = VerificationKeyId(row.get(0));
            let workspace = WorkspaceId(row.get(1));
            let sealed = Sealed {
                key_id: row.get(2),
                ciphertext: row.get(3),
            };
            let secret = open(keyring, workspace, id, &sealed)
                .with_context(|| format!("opening the HS256 secret of {id}"))?;
            let resealed = seal(keyring, workspace, id, secret.expose_secret())
                .with_context(|| format!("sealing the HS256 secret of {id}"))?;
            transaction
                .execute(
                    "UPDATE verification_keys SET key_id = $2, ciphertext = $3 WHERE id = $1",
                    &[&id.as_uuid(), &resealed.key_id, &resealed.ciphertext],
                )
                .await
                .context("storing a re-sealed HS256 secret")?;
            report.reencrypted += 1;
        }
        transaction.commit().await.context("committing a batch")?;
    }
    (report.under_active_key, report.under_other_keys) =
        crate::secrets::store::count_by_key(pool, "verification_keys", active).await?;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_opens_only_as_the_key_it_was_sealed_for() {
        let keyring = Keyring::single("k1", &switchyard_core::config::generate_master_key())
            .expect("keyring");
        let (workspace, id) = (WorkspaceId::generate(), VerificationKeyId::generate());
        let secret = b"0123456789abcdef0123456789abcdef";
        let sealed = seal(&keyring, workspace, id, secret).expect("sealed");
        assert!(!sealed.ciphertext.windows(secret.len()).any(|w| w == secret));
        let opened = open(&keyring, workspace, id, &sealed).expect("opens");
        assert_eq!(opened.expose_secret(), &secret[..]);
        let other_key = VerificationKeyId::generate();
        assert!(open(&keyring, workspace, other_key, &sealed).is_err());
        let other_workspace = WorkspaceId::generate();
        assert!(open(&keyring, other_workspace, id, &sealed).is_err());
    }

    #[test]
    fn associated_data_names_workspace_key_and_field() {
        let (workspace, id) = (WorkspaceId::generate(), VerificationKeyId::generate());
        assert_eq!(
            String::from_utf8(associated_data(workspace, id)).ok(),
            Some(format!(
                "switchyard/verification_key/{workspace}/{id}/hs256_secret"
            ))
        );
    }
}

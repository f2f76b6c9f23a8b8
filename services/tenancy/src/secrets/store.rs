//! The `connection_secrets` table: one row per secret of a connection
//! (`field`, see [`super::field`]), holding the id of the key that sealed
//! it and `nonce ‖ ciphertext ‖ tag`. A previous signing secret carries
//! `expires_at`, the end of its grace period; expired rows are ignored by
//! readers and deleted by the next rotation.
//!
//! Two maintenance passes work in small transactions, so they run while
//! services serve:
//! - [`encrypt_plaintext`] seals what earlier versions stored in plain
//!   text (`connections.signing_secret`, credential headers inside
//!   `connections.config`) and blanks the plain copies; the router runs it
//!   at start, `switchyard keys rotate` before re-encrypting.
//! - [`rotate`] re-seals, under the active key, every value sealed under
//!   another one.

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Pool};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::field::{self, CREDENTIAL_HEADERS_KEY, SecretField, is_credential_header};
use super::keyring::{Keyring, Sealed, SecretError};
use switchyard_core::ids::{ConnectionId, WorkspaceId};

/// Connections (or ciphertexts) handled per transaction by the
/// maintenance passes.
pub const DEFAULT_BATCH: i64 = 100;

/// A connection's static headers split into those stored in the config
/// and the credentials stored sealed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SplitHeaders {
    pub plain: BTreeMap<String, String>,
    pub credentials: BTreeMap<String, String>,
}

/// Splits headers by [`is_credential_header`].
pub fn split_headers<'a>(
    headers: impl IntoIterator<Item = (&'a String, &'a String)>,
) -> SplitHeaders {
    let mut split = SplitHeaders::default();
    for (name, value) in headers {
        let side = if is_credential_header(name) {
            &mut split.credentials
        } else {
            &mut split.plain
        };
        side.insert(name.clone(), value.clone());
    }
    split
}

/// Seals `value` as the `field` of `connection` and stores it, replacing
/// the field's previous value.
pub async fn put(
    client: &impl GenericClient,
    keyring: &Keyring,
    workspace: WorkspaceId,
    connection: ConnectionId,
    secret: &SecretField,
    value: &str,
    expires_at: Option<DateTime<Utc>>,
) -> anyhow::Result<()> {
    let field_name = secret.as_stored();
    let sealed = keyring
        .seal(value, &field::associated_data(connection, &field_name))
        .with_context(|| format!("sealing {field_name}"))?;
    client
        .execute(
            "INSERT INTO connection_secrets \
                 (connection_id, workspace_id, field, key_id, ciphertext, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (connection_id, field) DO UPDATE \
             SET key_id = EXCLUDED.key_id, ciphertext = EXCLUDED.ciphertext, \
                 expires_at = EXCLUDED.expires_at, created_at = now()",
            &[
                &connection.as_uuid(),
                &workspace.as_uuid(),
                &field_name,
                &sealed.key_id,
                &sealed.ciphertext,
                &expires_at,
            ],
        )
        .await
        .with_context(|| format!("storing {field_name}"))?;
    Ok(())
}

/// Removes one secret of `connection`.
pub async fn remove(
    client: &impl GenericClient,
    connection: ConnectionId,
    secret: &SecretField,
) -> anyhow::Result<()> {
    client
        .execute(
            "DELETE FROM connection_secrets WHERE connection_id = $1 AND field = $2",
            &[&connection.as_uuid(), &secret.as_stored()],
        )
        .await
        .context("removing a connection secret")?;
    Ok(())
}

/// Replaces every credential header of `connection` by `credentials`.
pub async fn replace_headers(
    client: &impl GenericClient,
    keyring: &Keyring,
    workspace: WorkspaceId,
    connection: ConnectionId,
    credentials: &BTreeMap<String, String>,
) -> anyhow::Result<()> {
    client
        .execute(
            "DELETE FROM connection_secrets WHERE connection_id = $1 AND field LIKE 'header.%'",
            &[&connection.as_uuid()],
        )
        .await
        .context("removing credential headers")?;
    for (name, value) in credentials {
        let secret = SecretField::Header(name.clone());
        put(client, keyring, workspace, connection, &secret, value, None).await?;
    }
    Ok(())
}

/// The current value of one secret of `connection`, if stored and not
/// expired.
pub async fn read(
    client: &impl GenericClient,
    keyring: &Keyring,
    connection: ConnectionId,
    secret: &SecretField,
) -> anyhow::Result<Option<SecretString>> {
    let field_name = secret.as_stored();
    let row = client
        .query_opt(
            "SELECT key_id, ciphertext FROM connection_secrets \
             WHERE connection_id = $1 AND field = $2 \
               AND (expires_at IS NULL OR expires_at > now())",
            &[&connection.as_uuid(), &field_name],
        )
        .await
        .with_context(|| format!("reading {field_name}"))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let sealed = Sealed {
        key_id: row.get(0),
        ciphertext: row.get(1),
    };
    let value = open(keyring, connection, &field_name, &sealed)
        .with_context(|| format!("opening {field_name} of {connection}"))?;
    Ok(Some(value))
}

/// Opens the value stored as `field_name` of `connection`.
pub fn open(
    keyring: &Keyring,
    connection: ConnectionId,
    field_name: &str,
    sealed: &Sealed,
) -> Result<SecretString, SecretError> {
    keyring.open(sealed, &field::associated_data(connection, field_name))
}

/// Seals the plain-text credentials of connections written before
/// encryption at rest, a batch per transaction; returns how many
/// connections it converted.
pub async fn encrypt_plaintext(pool: &Pool, keyring: &Keyring, batch: i64) -> anyhow::Result<u64> {
    let mut converted = 0;
    loop {
        let mut client = pool.get().await.context("connecting to Postgres")?;
        let transaction = client.transaction().await?;
        let rows = transaction
            .query(
                "SELECT id, workspace_id, config, signing_secret FROM connections \
                 WHERE signing_secret IS NOT NULL ORDER BY id LIMIT $1 \
                 FOR UPDATE SKIP LOCKED",
                &[&batch],
            )
            .await
            .context("reading plain-text connections")?;
        if rows.is_empty() {
            return Ok(converted);
        }
        for row in &rows {
            let connection = ConnectionId(row.get(0));
            let workspace = WorkspaceId(row.get(1));
            let config: serde_json::Value = row.get(2);
            let signing_secret = SecretString::from(row.get::<_, String>(3));
            put(
                &transaction,
                keyring,
                workspace,
                connection,
                &SecretField::SigningSecret,
                signing_secret.expose_secret(),
                None,
            )
            .await?;
            let (config, credentials) = without_credentials(config)
                .with_context(|| format!("reading the config of {connection}"))?;
            for (name, value) in &credentials {
                let secret = SecretField::Header(name.clone());
                put(
                    &transaction,
                    keyring,
                    workspace,
                    connection,
                    &secret,
                    value,
                    None,
                )
                .await?;
            }
            transaction
                .execute(
                    "UPDATE connections SET signing_secret = NULL, config = $2 WHERE id = $1",
                    &[&connection.as_uuid(), &config],
                )
                .await
                .context("blanking plain-text credentials")?;
            converted += 1;
        }
        transaction.commit().await.context("committing a batch")?;
    }
}

/// The config with its credential headers taken out (and their names listed
/// under [`CREDENTIAL_HEADERS_KEY`]), and those headers.
fn without_credentials(
    mut config: serde_json::Value,
) -> anyhow::Result<(serde_json::Value, BTreeMap<String, String>)> {
    let object = config
        .as_object_mut()
        .context("connection config is not an object")?;
    let headers: BTreeMap<String, String> = match object.get("headers") {
        Some(headers) => serde_json::from_value(headers.clone()).context("headers")?,
        None => BTreeMap::new(),
    };
    let split = split_headers(&headers);
    object.insert("headers".to_string(), serde_json::json!(split.plain));
    let names: Vec<&String> = split.credentials.keys().collect();
    object.insert(CREDENTIAL_HEADERS_KEY.to_string(), serde_json::json!(names));
    Ok((config, split.credentials))
}

/// What [`rotate`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rotation {
    /// Connections whose plain-text credentials were sealed.
    pub plaintext_encrypted: u64,
    /// Values re-sealed under the active key.
    pub reencrypted: u64,
    /// Previous signing secrets past their grace period, deleted.
    pub expired_removed: u64,
    /// Values sealed under the active key at the end.
    pub under_active_key: u64,
    /// Values still under another key at the end (written by a service
    /// whose active key is still the old one: run again once every
    /// service has the new active key).
    pub under_other_keys: u64,
}

/// Re-seals every stored value under the active key, `batch` values per
/// transaction, after sealing any plain text left. Values stay readable
/// throughout: services open them under either key.
pub async fn rotate(pool: &Pool, keyring: &Keyring, batch: i64) -> anyhow::Result<Rotation> {
    let mut report = Rotation {
        plaintext_encrypted: encrypt_plaintext(pool, keyring, batch).await?,
        ..Rotation::default()
    };
    let active = keyring.active_key_id();
    let client = pool.get().await.context("connecting to Postgres")?;
    report.expired_removed = client
        .execute(
            "DELETE FROM connection_secrets WHERE expires_at <= now()",
            &[],
        )
        .await
        .context("deleting expired secrets")?;
    drop(client);
    // Each batch re-seals the values it selected, so the next batch finds
    // the following ones; a value the pass cannot open stops it.
    let mut after: Option<(Uuid, String)> = None;
    loop {
        let mut client = pool.get().await.context("connecting to Postgres")?;
        let transaction = client.transaction().await?;
        let (after_connection, after_field) = after.clone().unzip();
        let rows = transaction
            .query(
                "SELECT connection_id, field, key_id, ciphertext FROM connection_secrets \
                 WHERE key_id <> $1 \
                   AND ($2::uuid IS NULL OR (connection_id, field) > ($2, $3::text)) \
                 ORDER BY connection_id, field LIMIT $4 \
                 FOR UPDATE",
                &[&active, &after_connection, &after_field, &batch],
            )
            .await
            .context("reading values to re-seal")?;
        let Some(last) = rows.last() else {
            break;
        };
        after = Some((last.get(0), last.get(1)));
        for row in &rows {
            let connection = ConnectionId(row.get(0));
            let field_name: String = row.get(1);
            let sealed = Sealed {
                key_id: row.get(2),
                ciphertext: row.get(3),
            };
            let associated_data = field::associated_data(connection, &field_name);
            let value = keyring
                .open(&sealed, &associated_data)
                .with_context(|| format!("opening {field_name} of {connection}"))?;
            let resealed = keyring
                .seal(value.expose_secret(), &associated_data)
                .with_context(|| format!("sealing {field_name} of {connection}"))?;
            transaction
                .execute(
                    "UPDATE connection_secrets SET key_id = $3, ciphertext = $4 \
                     WHERE connection_id = $1 AND field = $2",
                    &[
                        &connection.as_uuid(),
                        &field_name,
                        &resealed.key_id,
                        &resealed.ciphertext,
                    ],
                )
                .await
                .context("storing a re-sealed value")?;
            report.reencrypted += 1;
        }
        transaction.commit().await.context("committing a batch")?;
    }
    (report.under_active_key, report.under_other_keys) =
        count_by_key(pool, "connection_secrets", active).await?;
    Ok(report)
}

/// How many sealed values of `table` (a table with a `key_id` column) are
/// under the `active` key, and how many under another one.
pub async fn count_by_key(pool: &Pool, table: &str, active: &str) -> anyhow::Result<(u64, u64)> {
    let client = pool.get().await.context("connecting to Postgres")?;
    let row = client
        .query_one(
            &format!(
                "SELECT count(*) FILTER (WHERE key_id = $1), count(*) FILTER (WHERE key_id <> $1) \
                 FROM {table}"
            ),
            &[&active],
        )
        .await
        .with_context(|| format!("counting {table} by key"))?;
    let count = |index| u64::try_from(row.get::<_, i64>(index)).unwrap_or_default();
    Ok((count(0), count(1)))
}

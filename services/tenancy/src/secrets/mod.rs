//! Credentials at rest: what a connection must keep to sign and
//! authenticate its webhooks, encrypted with AES-256-GCM under a master key
//! from the configuration.
//!
//! - [`keyring`]: the master keys by id (one active for encryption, any
//!   known one for decryption) and the sealing of one value. A sealed value
//!   is `nonce (12 bytes) ‖ ciphertext ‖ tag`, stored beside the id of the
//!   key that sealed it.
//! - [`field`]: which secret of a connection a ciphertext holds
//!   (`signing_secret`, `signing_secret.previous`, `header.<name>`), the
//!   associated data that binds a ciphertext to its connection and field
//!   (so a ciphertext copied to another row or field fails to open), and
//!   which static headers count as credentials.
//! - [`store`]: the `connection_secrets` table: writing sealed values,
//!   encrypting rows left in plain text by earlier versions, and
//!   re-encrypting everything under the active key (`switchyard keys
//!   rotate`) in small transactions while services run.
//!
//! - [`claim`]: one keyring per database and Redis prefix: router and
//!   delivery announce their keys' fingerprints in Redis and refuse to start
//!   beside a live process whose keys cannot open theirs.
//!
//! The keyring also seals workspaces' HS256 verification secrets; their
//! table and passes are in `crate::auth::jwt::sealing`.

pub mod claim;
pub mod field;
pub mod keyring;
pub mod store;

pub use claim::KeyringClaim;
pub use field::{SecretField, is_credential_header};
pub use keyring::{Keyring, Sealed, SecretError};

/// Refuses to start a service that seals or opens credentials (router,
/// delivery) without usable master keys; see [`Keyring::from_config`].
pub fn require_keyring(config: &switchyard_core::config::Config) -> anyhow::Result<()> {
    Keyring::from_config(&config.secrets).map(drop)
}

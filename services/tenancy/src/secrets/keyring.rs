//! The master keys and the sealing of one value with AES-256-GCM.
//!
//! Keys come from `secrets.keys.<id>` (base64 of 32 random bytes, e.g.
//! `SWITCHYARD_SECRETS__KEYS__K1=$(openssl rand -base64 32)`); the one named
//! by `secrets.active_key` seals new values, and any configured key opens
//! what it sealed, which is what lets a new key roll out while values
//! sealed under the old one are still being read. Each seal draws a fresh
//! random 96-bit nonce: a key seals a few values per connection, far below
//! the 2^32 messages the random-nonce bound allows.
//!
//! Key material is held only inside the ciphers: neither it nor the
//! [`Keyring`] can be printed (its `Debug` shows key ids) or serialized.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretSlice, SecretString};

use switchyard_core::config::SecretsConfig;

/// Bytes of a master key (AES-256).
pub const KEY_BYTES: usize = switchyard_core::config::MASTER_KEY_BYTES;
const NONCE_BYTES: usize = 12;
/// GCM's authentication tag.
const TAG_BYTES: usize = 16;

/// A value sealed under one master key: `nonce ‖ ciphertext ‖ tag`.
#[derive(Clone, PartialEq, Eq)]
pub struct Sealed {
    pub key_id: String,
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for Sealed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealed")
            .field("key_id", &self.key_id)
            .field("bytes", &self.ciphertext.len())
            .finish()
    }
}

/// Why a value could not be opened (or sealed).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("sealed under key `{0}`, which is not configured (secrets.keys)")]
    UnknownKey(String),
    /// Wrong key, tampered bytes, or associated data of another row.
    #[error("sealed value under key `{0}` does not authenticate")]
    Corrupt(String),
    #[error("sealed value is not UTF-8 text")]
    NotText,
    #[error("encryption failed")]
    Encrypt,
}

/// The configured master keys; cheap to clone.
#[derive(Clone)]
pub struct Keyring {
    active: String,
    ciphers: Arc<BTreeMap<String, Aes256Gcm>>,
    /// Per key id, [`fingerprint`] of the key.
    fingerprints: Arc<BTreeMap<String, String>>,
}

/// What an HMAC-SHA256 under a key is taken of to fingerprint it.
const FINGERPRINT_INPUT: &[u8] = b"switchyard master key fingerprint v1";

/// Tells whether two processes hold the same key without revealing it: the
/// first 16 bytes, in hex, of an HMAC-SHA256 of a constant under the key
/// (recovering the key from it is as hard as breaking HMAC).
fn fingerprint(key: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac =
        <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).expect("HMAC accepts a key of any length");
    mac.update(FINGERPRINT_INPUT);
    hex::encode(&mac.finalize().into_bytes()[..16])
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring")
            .field("active", &self.active)
            .field("key_ids", &self.ciphers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Keyring {
    /// The keyring of the configuration; an error that says what to set
    /// when no key (or a malformed one) is configured.
    pub fn from_config(config: &SecretsConfig) -> anyhow::Result<Self> {
        if config.keys.is_empty() {
            bail!(
                "no master key configured: set SWITCHYARD_SECRETS__KEYS__<ID> (or secrets.keys.<id> in the \
                 config file) to the base64 of 32 random bytes, e.g. `openssl rand -base64 32`; \
                 connection credentials and HS256 verification secrets are encrypted with it"
            );
        }
        let mut ciphers = BTreeMap::new();
        let mut fingerprints = BTreeMap::new();
        for (id, encoded) in &config.keys {
            check_key_id(id)?;
            let bytes = STANDARD
                .decode(encoded.expose_secret().trim())
                .ok()
                .filter(|bytes| bytes.len() == KEY_BYTES)
                .with_context(|| {
                    format!("secrets.keys.{id} must be the base64 of exactly {KEY_BYTES} bytes")
                })?;
            let cipher = Aes256Gcm::new_from_slice(&bytes)
                .map_err(|_| anyhow::anyhow!("secrets.keys.{id} is not an AES-256 key"))?;
            ciphers.insert(id.clone(), cipher);
            fingerprints.insert(id.clone(), fingerprint(&bytes));
        }
        let active = match &config.active_key {
            Some(active) => active.trim().to_ascii_lowercase(),
            None if ciphers.len() == 1 => ciphers.keys().next().cloned().unwrap_or_default(),
            None => bail!(
                "several master keys are configured ({}): set secrets.active_key \
                 (SWITCHYARD_SECRETS__ACTIVE_KEY) to the one that encrypts",
                ciphers.keys().cloned().collect::<Vec<_>>().join(", ")
            ),
        };
        if !ciphers.contains_key(&active) {
            bail!("secrets.active_key `{active}` is not one of secrets.keys");
        }
        Ok(Self {
            active,
            ciphers: Arc::new(ciphers),
            fingerprints: Arc::new(fingerprints),
        })
    }

    /// The keyring of the configuration, or `None` when it names no key: for
    /// services that work without one (they refuse HS256 machine tokens
    /// then). A malformed key is an error all the same.
    pub fn optional_from_config(config: &SecretsConfig) -> anyhow::Result<Option<Self>> {
        if config.keys.is_empty() {
            return Ok(None);
        }
        Self::from_config(config).map(Some)
    }

    /// A keyring of one key, for tests and tools.
    pub fn single(id: &str, key_base64: &str) -> anyhow::Result<Self> {
        let mut config = SecretsConfig::default();
        config
            .keys
            .insert(id.to_string(), SecretString::from(key_base64.to_string()));
        Self::from_config(&config)
    }

    /// The id of the key new values are sealed under.
    pub fn active_key_id(&self) -> &str {
        &self.active
    }

    /// Each key's id and fingerprint (see [`fingerprint`]): safe to store
    /// and compare where the keys themselves must never go.
    pub fn fingerprints(&self) -> &BTreeMap<String, String> {
        &self.fingerprints
    }

    pub fn knows(&self, key_id: &str) -> bool {
        self.ciphers.contains_key(key_id)
    }

    /// Seals `plaintext` under the active key, bound to `associated_data`.
    pub fn seal(&self, plaintext: &str, associated_data: &[u8]) -> Result<Sealed, SecretError> {
        self.seal_bytes(plaintext.as_bytes(), associated_data)
    }

    /// Seals bytes that need not be text (an HS256 secret), as [`Keyring::seal`].
    pub fn seal_bytes(
        &self,
        plaintext: &[u8],
        associated_data: &[u8],
    ) -> Result<Sealed, SecretError> {
        let cipher = self
            .ciphers
            .get(&self.active)
            .ok_or_else(|| SecretError::UnknownKey(self.active.clone()))?;
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let encrypted = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: associated_data,
                },
            )
            .map_err(|_| SecretError::Encrypt)?;
        let mut ciphertext = Vec::with_capacity(NONCE_BYTES + encrypted.len());
        ciphertext.extend_from_slice(&nonce);
        ciphertext.extend_from_slice(&encrypted);
        Ok(Sealed {
            key_id: self.active.clone(),
            ciphertext,
        })
    }

    /// Opens a value sealed under any configured key with the same
    /// `associated_data`.
    pub fn open(
        &self,
        sealed: &Sealed,
        associated_data: &[u8],
    ) -> Result<SecretString, SecretError> {
        let bytes = self.open_bytes(sealed, associated_data)?;
        std::str::from_utf8(bytes.expose_secret())
            .map(SecretString::from)
            .map_err(|_| SecretError::NotText)
    }

    /// Opens a value of any bytes, as [`Keyring::open`].
    pub fn open_bytes(
        &self,
        sealed: &Sealed,
        associated_data: &[u8],
    ) -> Result<SecretSlice<u8>, SecretError> {
        let cipher = self
            .ciphers
            .get(&sealed.key_id)
            .ok_or_else(|| SecretError::UnknownKey(sealed.key_id.clone()))?;
        if sealed.ciphertext.len() < NONCE_BYTES + TAG_BYTES {
            return Err(SecretError::Corrupt(sealed.key_id.clone()));
        }
        let (nonce, encrypted) = sealed.ciphertext.split_at(NONCE_BYTES);
        cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: encrypted,
                    aad: associated_data,
                },
            )
            .map(SecretSlice::from)
            .map_err(|_| SecretError::Corrupt(sealed.key_id.clone()))
    }
}

/// Key ids are stored beside every ciphertext and come through environment
/// variable names (which the configuration lowercases).
fn check_key_id(id: &str) -> anyhow::Result<()> {
    let valid = !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if !valid {
        bail!("master key id `{id}` must be 1-64 characters of a-z, 0-9, `_` and `-`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_tells_keys_apart_without_showing_them() -> anyhow::Result<()> {
        let key = switchyard_core::config::generate_master_key();
        let first = Keyring::single("k1", &key)?;
        let again = Keyring::single("k1", &key)?;
        let other = Keyring::single("k1", &switchyard_core::config::generate_master_key())?;
        let fingerprint = &first.fingerprints()["k1"];
        assert_eq!(fingerprint.len(), 32);
        assert_eq!(fingerprint, &again.fingerprints()["k1"]);
        assert_ne!(fingerprint, &other.fingerprints()["k1"]);
        let key_hex = hex::encode(STANDARD.decode(&key)?);
        assert!(!key_hex.contains(fingerprint.as_str()) && !key.contains(fingerprint.as_str()));
        Ok(())
    }

    fn config(keys: &[(&str, &str)], active: Option<&str>) -> SecretsConfig {
        SecretsConfig {
            active_key: active.map(str::to_string),
            keys: keys
                .iter()
                .map(|(id, key)| (id.to_string(), SecretString::from(key.to_string())))
                .collect(),
        }
    }

    #[test]
    fn seals_and_opens_with_the_same_associated_data_only() {
        let keyring = Keyring::single("k1", &switchyard_core::config::generate_master_key())
            .expect("keyring");
        let sealed = keyring
            .seal("whsec_abc", b"con_1/signing_secret")
            .expect("seal");
        assert_eq!(sealed.key_id, "k1");
        assert!(!sealed.ciphertext.windows(9).any(|w| w == b"whsec_abc"));
        let opened = keyring
            .open(&sealed, b"con_1/signing_secret")
            .expect("opens");
        assert_eq!(opened.expose_secret(), "whsec_abc");
        assert_eq!(
            keyring.open(&sealed, b"con_2/signing_secret").err(),
            Some(SecretError::Corrupt("k1".to_string()))
        );
        let mut tampered = sealed.clone();
        if let Some(last) = tampered.ciphertext.last_mut() {
            *last ^= 1;
        }
        assert!(keyring.open(&tampered, b"con_1/signing_secret").is_err());
    }

    #[test]
    fn seals_bytes_that_are_not_text() {
        let keyring = Keyring::single("k1", &switchyard_core::config::generate_master_key())
            .expect("keyring");
        let secret = [0xff_u8, 0x00, 0xfe, 0x80, 0x41];
        let sealed = keyring.seal_bytes(&secret, b"vk_1").expect("seal");
        let opened = keyring.open_bytes(&sealed, b"vk_1").expect("opens");
        assert_eq!(opened.expose_secret(), &secret[..]);
        assert_eq!(
            keyring.open(&sealed, b"vk_1").err(),
            Some(SecretError::NotText)
        );
        assert_eq!(
            keyring.open_bytes(&sealed, b"vk_2").err(),
            Some(SecretError::Corrupt("k1".to_string()))
        );
    }

    #[test]
    fn opens_under_any_known_key_and_seals_under_the_active_one() {
        let (old, new) = (
            switchyard_core::config::generate_master_key(),
            switchyard_core::config::generate_master_key(),
        );
        let before = Keyring::from_config(&config(&[("k1", &old)], None)).expect("k1");
        let sealed = before.seal("secret", b"aad").expect("seal");
        let during =
            Keyring::from_config(&config(&[("k1", &old), ("k2", &new)], Some("k2"))).expect("k2");
        assert_eq!(
            during
                .open(&sealed, b"aad")
                .map(|s| s.expose_secret().to_string()),
            Ok("secret".to_string())
        );
        assert_eq!(
            during.seal("x", b"aad").map(|s| s.key_id).ok(),
            Some("k2".into())
        );
        let after = Keyring::from_config(&config(&[("k2", &new)], None)).expect("only k2");
        assert_eq!(
            after.open(&sealed, b"aad").err(),
            Some(SecretError::UnknownKey("k1".to_string()))
        );
    }

    #[test]
    fn refuses_bad_configurations() {
        let key = switchyard_core::config::generate_master_key();
        let none = Keyring::from_config(&SecretsConfig::default()).err();
        assert!(none.is_some_and(|e| e.to_string().contains("SWITCHYARD_SECRETS__KEYS__")));
        assert!(Keyring::from_config(&config(&[("k1", "c2hvcnQ=")], None)).is_err());
        assert!(Keyring::from_config(&config(&[("K 1", &key)], None)).is_err());
        let two = config(&[("k1", &key), ("k2", &key)], None);
        assert!(Keyring::from_config(&two).is_err());
        assert!(Keyring::from_config(&config(&[("k1", &key)], Some("k9"))).is_err());
        assert!(
            Keyring::optional_from_config(&SecretsConfig::default())
                .expect("no key is not an error")
                .is_none()
        );
        assert!(Keyring::optional_from_config(&config(&[("k1", "c2hvcnQ=")], None)).is_err());
        assert!(
            Keyring::optional_from_config(&config(&[("k1", &key)], None))
                .expect("one key")
                .is_some()
        );
    }

    #[test]
    fn debug_shows_ids_but_no_key_material() {
        let key = switchyard_core::config::generate_master_key();
        let keyring = Keyring::single("k1", &key).expect("keyring");
        let printed = format!("{keyring:?}");
        assert!(printed.contains("k1"));
        assert!(!printed.contains(&key));
        let config = config(&[("k1", &key)], None);
        assert!(!format!("{config:?}").contains(&key));
        let serialized = serde_json::to_string(&config).expect("serializes");
        assert!(!serialized.contains(&key));
    }
}

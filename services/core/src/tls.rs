//! Optional TLS (rustls, through tonic) on every gRPC listener and on the
//! channels services open to each other. Plaintext stays the default.
//!
//! The `[tls]` section (env `SWITCHYARD_TLS__<KEY>`) has two halves:
//! - serving: `cert` + `key` (PEM paths) turn TLS on for every listener;
//!   `client_ca` (PEM path) also makes listeners require a client
//!   certificate signed by that CA (mutual TLS).
//! - calling: `ca` (PEM path) is the CA the other services' certificates
//!   chain to, used for every `https://` endpoint (ingest → registry and
//!   router); `client_cert` + `client_key` are the identity presented to
//!   them (needed once they require mTLS); `domain` overrides the name
//!   checked in their certificates (default: the endpoint's host).
//!
//! Files are read when a service is built, so a missing or unreadable file
//! fails the start, not the first call.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use tonic::transport::{Certificate, ClientTlsConfig, Identity, ServerTlsConfig};

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(default)]
pub struct TlsConfig {
    /// Certificate chain (PEM) every listener presents; with `key`, listeners
    /// speak TLS only.
    pub cert: Option<PathBuf>,
    /// Private key (PEM, PKCS#8, PKCS#1 or SEC1) of `cert`.
    pub key: Option<PathBuf>,
    /// CA (PEM) client certificates must chain to; set: listeners refuse
    /// clients without a valid certificate.
    pub client_ca: Option<PathBuf>,
    /// CA (PEM) that signs the other services' certificates, trusted for
    /// `https://` endpoints.
    pub ca: Option<PathBuf>,
    /// Certificate chain (PEM) presented to other services.
    pub client_cert: Option<PathBuf>,
    /// Private key (PEM) of `client_cert`.
    pub client_key: Option<PathBuf>,
    /// Name to verify in the other services' certificates instead of the
    /// endpoint's host.
    pub domain: Option<String>,
}

impl TlsConfig {
    /// Whether listeners speak TLS.
    pub fn serves_tls(&self) -> bool {
        self.cert.is_some()
    }

    /// The scheme other processes use to reach a listener of this config.
    pub fn scheme(&self) -> &'static str {
        if self.serves_tls() { "https" } else { "http" }
    }

    pub fn validate(&self) -> anyhow::Result<()> {
        if self.cert.is_some() != self.key.is_some() {
            bail!("tls.cert and tls.key go together: set both or neither");
        }
        if self.client_ca.is_some() && self.cert.is_none() {
            bail!("tls.client_ca (mutual TLS) needs tls.cert and tls.key");
        }
        if self.client_cert.is_some() != self.client_key.is_some() {
            bail!("tls.client_cert and tls.client_key go together: set both or neither");
        }
        Ok(())
    }

    /// The listeners' TLS settings; `None` when they serve plaintext.
    pub fn server(&self) -> anyhow::Result<Option<ServerTlsConfig>> {
        self.validate()?;
        let (Some(cert), Some(key)) = (&self.cert, &self.key) else {
            return Ok(None);
        };
        let mut server =
            ServerTlsConfig::new().identity(Identity::from_pem(read(cert)?, read(key)?));
        if let Some(client_ca) = &self.client_ca {
            server = server
                .client_ca_root(Certificate::from_pem(read(client_ca)?))
                .client_auth_optional(false);
        }
        Ok(Some(server))
    }

    /// The TLS settings of channels to other services; `None` when nothing
    /// is configured for calling.
    pub fn client(&self) -> anyhow::Result<Option<ClientTlsConfig>> {
        self.validate()?;
        if self.ca.is_none() && self.client_cert.is_none() {
            return Ok(None);
        }
        let mut client = ClientTlsConfig::new();
        if let Some(ca) = &self.ca {
            client = client.ca_certificate(Certificate::from_pem(read(ca)?));
        }
        if let (Some(cert), Some(key)) = (&self.client_cert, &self.client_key) {
            client = client.identity(Identity::from_pem(read(cert)?, read(key)?));
        }
        if let Some(domain) = &self.domain {
            client = client.domain_name(domain.clone());
        }
        Ok(Some(client))
    }
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    if !String::from_utf8_lossy(&bytes).contains("-----BEGIN ") {
        bail!("{} is not PEM (no `-----BEGIN` line)", path.display());
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_by_default() {
        let config = TlsConfig::default();
        assert!(!config.serves_tls());
        assert_eq!(config.scheme(), "http");
        assert!(config.server().expect("valid").is_none());
        assert!(config.client().expect("valid").is_none());
    }

    #[test]
    fn halves_of_a_pair_are_refused() {
        let cert_only = TlsConfig {
            cert: Some("server.pem".into()),
            ..TlsConfig::default()
        };
        assert!(cert_only.validate().is_err());
        let ca_without_cert = TlsConfig {
            client_ca: Some("ca.pem".into()),
            ..TlsConfig::default()
        };
        assert!(ca_without_cert.validate().is_err());
        let key_only = TlsConfig {
            client_key: Some("client.key".into()),
            ..TlsConfig::default()
        };
        assert!(key_only.validate().is_err());
    }

    #[test]
    fn missing_and_non_pem_files_fail_with_their_path() {
        let missing = TlsConfig {
            ca: Some("/nonexistent/ca.pem".into()),
            ..TlsConfig::default()
        };
        let error = missing.client().expect_err("missing file");
        assert!(format!("{error:#}").contains("/nonexistent/ca.pem"));

        let path = std::env::temp_dir().join(format!("sy-not-pem-{}", std::process::id()));
        std::fs::write(&path, b"not a certificate").expect("write");
        let not_pem = TlsConfig {
            ca: Some(path.clone()),
            ..TlsConfig::default()
        };
        let error = not_pem.client().expect_err("not PEM");
        assert!(error.to_string().contains("is not PEM"), "{error}");
        let _ = std::fs::remove_file(path);
    }
}

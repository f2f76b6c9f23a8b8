//! TLS settings of the SDK's channels: the CA the server certificates
//! chain to, and optionally a client certificate for servers that require
//! mutual TLS. [`Tls::from_env`] reads the variables the CLI documents:
//! `SWITCHYARD_CA_CERT` (PEM path; set: TLS on), `SWITCHYARD_CLIENT_CERT`
//! and `SWITCHYARD_CLIENT_KEY` (PEM paths, together), `SWITCHYARD_TLS_DOMAIN`
//! (name to verify instead of the endpoint's host).

use std::path::Path;

use tonic::transport::{Certificate, ClientTlsConfig, Identity};

use crate::ClientError;

#[derive(Clone)]
pub struct Tls {
    ca_pem: Vec<u8>,
    identity: Option<(Vec<u8>, Vec<u8>)>,
    domain: Option<String>,
}

impl Tls {
    /// Trusts the CA (PEM) the servers' certificates chain to.
    pub fn new(ca_pem: impl Into<Vec<u8>>) -> Self {
        Self {
            ca_pem: ca_pem.into(),
            identity: None,
            domain: None,
        }
    }

    /// Presents this certificate chain and key (PEM) to servers requiring
    /// mutual TLS.
    pub fn with_identity(
        mut self,
        cert_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.identity = Some((cert_pem.into(), key_pem.into()));
        self
    }

    /// Verifies this name in server certificates instead of the endpoint's
    /// host.
    pub fn with_domain(mut self, domain: impl Into<String>) -> Self {
        self.domain = Some(domain.into());
        self
    }

    /// Reads the CA and, optionally, the client certificate and key.
    pub fn from_files(ca: &Path, identity: Option<(&Path, &Path)>) -> Result<Self, ClientError> {
        let tls = Self::new(read(ca)?);
        match identity {
            Some((cert, key)) => Ok(tls.with_identity(read(cert)?, read(key)?)),
            None => Ok(tls),
        }
    }

    /// TLS as the environment asks (see the module docs); `None` when
    /// `SWITCHYARD_CA_CERT` is unset.
    pub fn from_env() -> Result<Option<Self>, ClientError> {
        let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        let identity = match (var("SWITCHYARD_CLIENT_CERT"), var("SWITCHYARD_CLIENT_KEY")) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => {
                return Err(ClientError::Tls(
                    "SWITCHYARD_CLIENT_CERT and SWITCHYARD_CLIENT_KEY go together: set both or neither"
                        .to_string(),
                ));
            }
        };
        let Some(ca) = var("SWITCHYARD_CA_CERT") else {
            if identity.is_some() {
                return Err(ClientError::Tls(
                    "a client certificate needs SWITCHYARD_CA_CERT (the CA the servers' certificates chain to)"
                        .to_string(),
                ));
            }
            return Ok(None);
        };
        let identity = identity
            .as_ref()
            .map(|(cert, key)| (Path::new(cert.as_str()), Path::new(key.as_str())));
        let mut tls = Self::from_files(Path::new(&ca), identity)?;
        if let Some(domain) = var("SWITCHYARD_TLS_DOMAIN") {
            tls = tls.with_domain(domain);
        }
        Ok(Some(tls))
    }

    pub(crate) fn client_config(&self) -> ClientTlsConfig {
        let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&self.ca_pem));
        if let Some((cert, key)) = &self.identity {
            config = config.identity(Identity::from_pem(cert, key));
        }
        if let Some(domain) = &self.domain {
            config = config.domain_name(domain.clone());
        }
        config
    }
}

/// Leaves the private key out.
impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("ca_pem_bytes", &self.ca_pem.len())
            .field("client_identity", &self.identity.is_some())
            .field("domain", &self.domain)
            .finish()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path)
        .map_err(|error| ClientError::Tls(format!("reading {}: {error}", path.display())))
}

//! Certificates made at test time with rcgen: a CA, then leaf certificates
//! it signs (for `127.0.0.1` and `localhost`), written as PEM files into a
//! directory of their own that is removed on drop.

use std::path::PathBuf;

use anyhow::Context;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use switchyard_core::tls::TlsConfig;

pub struct Pki {
    dir: PathBuf,
    ca: CertifiedIssuer<'static, KeyPair>,
}

/// A certificate and key on disk.
pub struct Issued {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl Pki {
    pub fn new(name: &str) -> anyhow::Result<Self> {
        let dir =
            std::env::temp_dir().join(format!("sy-pki-{name}-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, format!("switchyard test CA {name}"));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let ca = CertifiedIssuer::self_signed(params, KeyPair::generate()?)?;
        std::fs::write(dir.join("ca.pem"), ca.pem())?;
        Ok(Self { dir, ca })
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A leaf for `127.0.0.1` and `localhost`, usable by servers, clients
    /// or both.
    pub fn issue(&self, name: &str, server: bool, client: bool) -> anyhow::Result<Issued> {
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        if server {
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ServerAuth);
        }
        if client {
            params
                .extended_key_usages
                .push(ExtendedKeyUsagePurpose::ClientAuth);
        }
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.ca)?;
        let issued = Issued {
            cert: self.dir.join(format!("{name}.pem")),
            key: self.dir.join(format!("{name}.key")),
        };
        std::fs::write(&issued.cert, cert.pem())?;
        std::fs::write(&issued.key, key.serialize_pem())?;
        Ok(issued)
    }

    /// The services' TLS settings: a server certificate on every listener,
    /// this CA trusted for calls between them and, with `mutual`, client
    /// certificates required (the services present their own).
    pub fn services(&self, mutual: bool) -> anyhow::Result<TlsConfig> {
        let server = self.issue("services", true, false)?;
        let mut tls = TlsConfig {
            cert: Some(server.cert),
            key: Some(server.key),
            ca: Some(self.ca()),
            ..TlsConfig::default()
        };
        if mutual {
            let caller = self.issue("services-caller", false, true)?;
            tls.client_ca = Some(self.ca());
            tls.client_cert = Some(caller.cert);
            tls.client_key = Some(caller.key);
        }
        Ok(tls)
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

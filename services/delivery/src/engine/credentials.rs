//! Opening a claimed delivery's credentials just before its request: the
//! signing secrets (the current one first, then the previous one while its
//! grace period lasts), the credential headers and an API's token or key,
//! decrypted with the process's [`Keyring`]. Which of them a kind needs is
//! the destination's business; a signed kind (the webhook) has no request
//! without a signing secret. They live in memory as `SecretString`s for the
//! attempt only and are never logged.
//!
//! A connection written before encryption at rest and not sealed yet still
//! signs with its plain-text secret. A value that does not open (its key is
//! not configured here) holds the attempt back instead of failing it: the
//! fix is the operator's, and another replica may hold the key.

use std::collections::BTreeMap;

use secrecy::SecretString;
use switchyard_core::ids::ConnectionId;
use switchyard_tenancy::secrets::{Keyring, SecretError, SecretField, store};

use crate::store::jobs::Claimed;

/// What one attempt needs to sign and authenticate its request.
#[derive(Debug, Default)]
pub struct Credentials {
    /// The current secret first; never empty for a signed kind.
    pub signing_secrets: Vec<SecretString>,
    /// Credential headers by name as given.
    pub headers: BTreeMap<String, SecretString>,
    /// An API's bearer token (`token`).
    pub token: Option<SecretString>,
    /// An API key (`api_key`).
    pub api_key: Option<SecretString>,
    /// An OAuth 2.0 client secret (`client_secret`).
    pub client_secret: Option<SecretString>,
    /// A broker user's password (`password`).
    pub password: Option<SecretString>,
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("{field}: {source}")]
    Unopenable {
        field: String,
        #[source]
        source: SecretError,
    },
    #[error("the connection has no signing secret")]
    NoSigningSecret,
}

/// Opens the credentials of `claimed`'s connection; `signed` kinds need a
/// signing secret.
pub fn open(
    keyring: &Keyring,
    claimed: &Claimed,
    signed: bool,
) -> Result<Credentials, CredentialsError> {
    let connection = claimed.connection;
    let legacy = claimed.legacy_signing_secret.as_ref();
    if signed {
        return open_sealed(keyring, connection, &claimed.sealed_secrets, legacy);
    }
    open_fields(keyring, connection, &claimed.sealed_secrets, legacy)
}

/// Opens every known field; a signing secret is required.
fn open_sealed(
    keyring: &Keyring,
    connection: ConnectionId,
    sealed: &[(String, switchyard_tenancy::secrets::Sealed)],
    legacy_signing_secret: Option<&SecretString>,
) -> Result<Credentials, CredentialsError> {
    let credentials = open_fields(keyring, connection, sealed, legacy_signing_secret)?;
    if credentials.signing_secrets.is_empty() {
        return Err(CredentialsError::NoSigningSecret);
    }
    Ok(credentials)
}

fn open_fields(
    keyring: &Keyring,
    connection: ConnectionId,
    sealed: &[(String, switchyard_tenancy::secrets::Sealed)],
    legacy_signing_secret: Option<&SecretString>,
) -> Result<Credentials, CredentialsError> {
    let mut current = None;
    let mut previous = None;
    let mut credentials = Credentials::default();
    for (field, value) in sealed {
        // A field a newer version added is not this version's business.
        let Some(kind) = SecretField::parse(field) else {
            continue;
        };
        let opened = store::open(keyring, connection, field, value).map_err(|source| {
            CredentialsError::Unopenable {
                field: field.clone(),
                source,
            }
        })?;
        match kind {
            SecretField::SigningSecret => current = Some(opened),
            SecretField::PreviousSigningSecret => previous = Some(opened),
            SecretField::Header(name) => {
                credentials.headers.insert(name, opened);
            }
            SecretField::Token => credentials.token = Some(opened),
            SecretField::ApiKey => credentials.api_key = Some(opened),
            SecretField::ClientSecret => credentials.client_secret = Some(opened),
            SecretField::Password => credentials.password = Some(opened),
        }
    }
    if let Some(current) = current.or_else(|| legacy_signing_secret.cloned()) {
        credentials.signing_secrets = std::iter::once(current).chain(previous).collect();
    }
    Ok(credentials)
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;
    use switchyard_tenancy::secrets::{Sealed, field};

    use super::*;

    fn seal(
        keyring: &Keyring,
        connection: ConnectionId,
        field_name: &str,
        value: &str,
    ) -> (String, Sealed) {
        let sealed = keyring
            .seal(value, &field::associated_data(connection, field_name))
            .expect("seal");
        (field_name.to_string(), sealed)
    }

    fn exposed(secrets: &[SecretString]) -> Vec<&str> {
        secrets.iter().map(|s| s.expose_secret()).collect()
    }

    #[test]
    fn current_secret_first_then_previous_and_headers_by_name() {
        let keyring = Keyring::single("k1", &switchyard_core::config::generate_master_key())
            .expect("keyring");
        let connection = ConnectionId::generate();
        let sealed = vec![
            seal(&keyring, connection, "header.Authorization", "Bearer t"),
            seal(&keyring, connection, "signing_secret", "whsec_new"),
            seal(&keyring, connection, "signing_secret.previous", "whsec_old"),
            seal(&keyring, connection, "from.the.future", "ignored"),
        ];
        let credentials = open_sealed(&keyring, connection, &sealed, None).expect("opens");
        assert_eq!(
            exposed(&credentials.signing_secrets),
            ["whsec_new", "whsec_old"]
        );
        assert_eq!(
            credentials
                .headers
                .get("Authorization")
                .map(|v| v.expose_secret()),
            Some("Bearer t")
        );
        assert!(!format!("{credentials:?}").contains("whsec_new"));
    }

    #[test]
    fn plain_text_rows_still_sign_and_foreign_ciphertexts_do_not_open() {
        let keyring = Keyring::single("k1", &switchyard_core::config::generate_master_key())
            .expect("keyring");
        let connection = ConnectionId::generate();
        let legacy = SecretString::from("whsec_legacy".to_string());
        let credentials = open_sealed(&keyring, connection, &[], Some(&legacy)).expect("opens");
        assert_eq!(exposed(&credentials.signing_secrets), ["whsec_legacy"]);
        assert!(matches!(
            open_sealed(&keyring, connection, &[], None),
            Err(CredentialsError::NoSigningSecret)
        ));

        // Sealed for another connection: the associated data differs.
        let other = seal(
            &keyring,
            ConnectionId::generate(),
            "signing_secret",
            "whsec_x",
        );
        assert!(matches!(
            open_sealed(&keyring, connection, &[other], None),
            Err(CredentialsError::Unopenable { .. })
        ));
        let stranger = Keyring::single("k9", &switchyard_core::config::generate_master_key())
            .expect("keyring");
        let unknown = seal(&stranger, connection, "signing_secret", "whsec_x");
        assert!(matches!(
            open_sealed(&keyring, connection, &[unknown], None),
            Err(CredentialsError::Unopenable {
                source: SecretError::UnknownKey(_),
                ..
            })
        ));
    }
}

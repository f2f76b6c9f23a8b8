//! The secrets a connection keeps, named as `connection_secrets.field`
//! stores them, and the AEAD associated data of each: the connection id
//! and the field, so a ciphertext only opens where it was written.

use switchyard_core::ids::ConnectionId;

/// `connections.config` key listing the names of the static headers whose
/// values live encrypted in `connection_secrets` (as `header.<name>`)
/// rather than in the config itself.
pub const CREDENTIAL_HEADERS_KEY: &str = "credential_headers";

/// Header names whose values are credentials: encrypted at rest and masked
/// on every read. A name containing any of these (case-insensitive)
/// qualifies, e.g. `authorization`, `x-api-key`, `x-auth-token`.
const CREDENTIAL_HEADER_HINTS: &[&str] = &[
    "authorization",
    "cookie",
    "token",
    "secret",
    "key",
    "password",
    "auth",
];

/// True when the header's value is a credential.
pub fn is_credential_header(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    CREDENTIAL_HEADER_HINTS
        .iter()
        .any(|hint| lower.contains(hint))
}

const SIGNING_SECRET: &str = "signing_secret";
const PREVIOUS_SIGNING_SECRET: &str = "signing_secret.previous";
const HEADER_PREFIX: &str = "header.";
const TOKEN: &str = "token";
const API_KEY: &str = "api_key";
const CLIENT_SECRET: &str = "client_secret";
const PASSWORD: &str = "password";

/// One secret of a connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretField {
    /// The Standard Webhooks `whsec_…` secret every webhook is signed with.
    SigningSecret,
    /// The secret replaced by the last rotation, still signing until its
    /// grace period ends.
    PreviousSigningSecret,
    /// The value of a credential header, by the header's name as given.
    Header(String),
    /// An API's bearer token (HubSpot's private-app token).
    Token,
    /// An API key (Mailchimp's, with its data-centre suffix).
    ApiKey,
    /// An OAuth 2.0 client secret (a Salesforce connected app's).
    ClientSecret,
    /// A broker user's password (RabbitMQ's, NATS's).
    Password,
}

impl SecretField {
    /// The `connection_secrets.field` text.
    pub fn as_stored(&self) -> String {
        match self {
            Self::SigningSecret => SIGNING_SECRET.to_string(),
            Self::PreviousSigningSecret => PREVIOUS_SIGNING_SECRET.to_string(),
            Self::Header(name) => format!("{HEADER_PREFIX}{name}"),
            Self::Token => TOKEN.to_string(),
            Self::ApiKey => API_KEY.to_string(),
            Self::ClientSecret => CLIENT_SECRET.to_string(),
            Self::Password => PASSWORD.to_string(),
        }
    }

    /// Reads a `connection_secrets.field`; `None` for a field this version
    /// does not know.
    pub fn parse(stored: &str) -> Option<Self> {
        match stored {
            SIGNING_SECRET => Some(Self::SigningSecret),
            PREVIOUS_SIGNING_SECRET => Some(Self::PreviousSigningSecret),
            TOKEN => Some(Self::Token),
            API_KEY => Some(Self::ApiKey),
            CLIENT_SECRET => Some(Self::ClientSecret),
            PASSWORD => Some(Self::Password),
            _ => stored
                .strip_prefix(HEADER_PREFIX)
                .filter(|name| !name.is_empty())
                .map(|name| Self::Header(name.to_string())),
        }
    }
}

/// The associated data sealing the `field` of `connection`.
pub fn associated_data(connection: ConnectionId, field: &str) -> Vec<u8> {
    format!("switchyard/connection/{connection}/{field}").into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip() {
        for field in [
            SecretField::SigningSecret,
            SecretField::PreviousSigningSecret,
            SecretField::Header("X-Api-Key".to_string()),
            SecretField::Password,
        ] {
            assert_eq!(SecretField::parse(&field.as_stored()), Some(field));
        }
        assert_eq!(SecretField::parse("header."), None);
        assert_eq!(SecretField::parse("something.else"), None);
    }

    #[test]
    fn credential_headers_are_recognised() {
        for name in ["Authorization", "X-Api-Key", "x-auth-token", "Cookie"] {
            assert!(is_credential_header(name), "{name}");
        }
        for name in ["X-Team", "Accept-Language"] {
            assert!(!is_credential_header(name), "{name}");
        }
    }

    #[test]
    fn associated_data_names_connection_and_field() {
        let connection = ConnectionId::generate();
        let data = associated_data(connection, "signing_secret");
        assert_eq!(
            String::from_utf8(data).ok(),
            Some(format!("switchyard/connection/{connection}/signing_secret"))
        );
    }
}

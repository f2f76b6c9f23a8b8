//! The algorithms a verification key may have, and the check, when a key is
//! registered and again when it verifies, that its material suits its
//! algorithm.

use jsonwebtoken::{Algorithm, DecodingKey};

/// Shortest HS256 secret accepted.
const MIN_HMAC_SECRET: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAlgorithm {
    EdDsa,
    Rs256,
    Hs256,
}

impl KeyAlgorithm {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EdDsa => "EdDSA",
            Self::Rs256 => "RS256",
            Self::Hs256 => "HS256",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [Self::EdDsa, Self::Rs256, Self::Hs256]
            .into_iter()
            .find(|alg| alg.as_str() == text)
    }

    pub(super) fn jwt(self) -> Algorithm {
        match self {
            Self::EdDsa => Algorithm::EdDSA,
            Self::Rs256 => Algorithm::RS256,
            Self::Hs256 => Algorithm::HS256,
        }
    }

    pub(super) fn decoding_key(self, material: &[u8]) -> Result<DecodingKey, String> {
        let key = match self {
            Self::EdDsa => DecodingKey::from_ed_pem(material),
            Self::Rs256 => DecodingKey::from_rsa_pem(material),
            Self::Hs256 if material.len() < MIN_HMAC_SECRET => {
                return Err(format!(
                    "an HS256 secret needs at least {MIN_HMAC_SECRET} bytes"
                ));
            }
            Self::Hs256 => DecodingKey::from_secret(material),
        };
        key.map_err(|error| format!("is not a valid {} key: {error}", self.as_str()))
    }
}

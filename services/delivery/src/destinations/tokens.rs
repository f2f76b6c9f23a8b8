//! Access tokens a kind's auth flow obtained (Salesforce's OAuth 2.0
//! client credentials), cached per connection in this process so most
//! attempts cost one request. An entry remembers a fingerprint of the
//! credentials it came from: new credentials never reuse an old token.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use secrecy::SecretString;
use sha2::{Digest, Sha256};
use switchyard_core::ids::ConnectionId;

/// One token and where it is valid.
#[derive(Clone, Debug)]
pub struct CachedToken {
    pub access_token: SecretString,
    /// The API root the token answer named (Salesforce's `instance_url`).
    pub instance_url: String,
}

/// A token with the fingerprint of the credentials it came from.
type Entry = ([u8; 32], CachedToken);

#[derive(Clone, Default)]
pub struct TokenCache {
    entries: Arc<Mutex<HashMap<ConnectionId, Entry>>>,
}

/// A fingerprint of the credentials a token was obtained with.
pub fn fingerprint(parts: &[&str]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hasher.finalize().into()
}

impl TokenCache {
    /// The token cached for `connection` with these credentials.
    pub fn get(&self, connection: ConnectionId, credentials: &[u8; 32]) -> Option<CachedToken> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(&connection)
            .filter(|(stored, _)| stored == credentials)
            .map(|(_, token)| token.clone())
    }

    pub fn put(&self, connection: ConnectionId, credentials: [u8; 32], token: CachedToken) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.insert(connection, (credentials, token));
        }
    }

    /// Forgets the token of `connection` (the API said it expired).
    pub fn forget(&self, connection: ConnectionId) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(&connection);
        }
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    #[test]
    fn tokens_are_kept_per_connection_and_credentials() {
        let cache = TokenCache::default();
        let connection = ConnectionId::generate();
        let old = fingerprint(&["id", "secret-1"]);
        let token = CachedToken {
            access_token: SecretString::from("tok"),
            instance_url: "https://x.my.salesforce.com".into(),
        };
        cache.put(connection, old, token);
        let hit = cache.get(connection, &old).expect("cached");
        assert_eq!(hit.access_token.expose_secret(), "tok");
        assert!(
            cache
                .get(connection, &fingerprint(&["id", "secret-2"]))
                .is_none()
        );
        assert!(cache.get(ConnectionId::generate(), &old).is_none());
        cache.forget(connection);
        assert!(cache.get(connection, &old).is_none());
    }
}

//! Values a kind keeps per connection, made on first use and made again
//! when the connection's settings or credentials change (a fingerprint of
//! them is kept beside each value): HubSpot's batchers, the brokers'
//! connections.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use switchyard_core::ids::ConnectionId;

use crate::engine::http::SendError;

type Entries<T> = HashMap<ConnectionId, ([u8; 32], Arc<T>)>;

/// Values kept per connection and fingerprint; cheap to clone.
pub struct Keyed<T> {
    entries: Arc<Mutex<Entries<T>>>,
}

impl<T> Clone for Keyed<T> {
    fn clone(&self) -> Self {
        Self {
            entries: self.entries.clone(),
        }
    }
}

impl<T> Default for Keyed<T> {
    fn default() -> Self {
        Self {
            entries: Arc::default(),
        }
    }
}

impl<T> Keyed<T> {
    /// The value of `connection` for `fingerprint`, made by `make` when
    /// there is none or it was made for another fingerprint.
    pub fn get_or_insert(
        &self,
        connection: ConnectionId,
        fingerprint: [u8; 32],
        make: impl FnOnce() -> T,
    ) -> Result<Arc<T>, SendError> {
        let mut entries = self
            .entries
            .lock()
            .map_err(|_| SendError::Other("the per-connection values are poisoned".into()))?;
        if let Some((stored, value)) = entries.get(&connection)
            && *stored == fingerprint
        {
            return Ok(value.clone());
        }
        let value = Arc::new(make());
        entries.insert(connection, (fingerprint, value.clone()));
        Ok(value)
    }
}

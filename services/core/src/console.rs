//! The web console's settings (`[console]`, `SWITCHYARD_CONSOLE__*`). The
//! console is a web front end of the four gRPC services: it reaches them
//! at these endpoints with the signed-in credential, so it needs no
//! database or Redis of its own.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct ConsoleConfig {
    /// Where the console's HTTP server listens.
    pub addr: SocketAddr,
    /// How the console reaches each service (the all-in-one process points
    /// them at the services it hosts).
    pub registry_endpoint: String,
    pub ingest_endpoint: String,
    pub router_endpoint: String,
    pub delivery_endpoint: String,
    /// How long a sign-in lasts without use.
    #[serde(with = "humantime_serde")]
    pub session_idle_timeout: Duration,
    /// Mark the session cookie `Secure` (sent over HTTPS only). Turn it on
    /// when the console is served behind a TLS-terminating proxy.
    pub secure_cookie: bool,
}

impl Default for ConsoleConfig {
    fn default() -> Self {
        Self {
            addr: SocketAddr::from(([127, 0, 0, 1], 8088)),
            registry_endpoint: "http://127.0.0.1:50051".to_string(),
            ingest_endpoint: "http://127.0.0.1:50052".to_string(),
            router_endpoint: "http://127.0.0.1:50053".to_string(),
            delivery_endpoint: "http://127.0.0.1:50054".to_string(),
            session_idle_timeout: Duration::from_secs(8 * 3600),
            secure_cookie: false,
        }
    }
}

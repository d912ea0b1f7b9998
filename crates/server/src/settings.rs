//! Server configuration (section `[server]`).

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Socket address to listen on.
    pub bind: String,
    /// A request running longer is answered 503 `request_timeout`.
    pub request_timeout_secs: u64,
    /// On shutdown, in-flight requests get this long to finish.
    pub shutdown_grace_secs: u64,
    /// Largest accepted request body, in bytes.
    pub body_limit_bytes: usize,
}

impl Default for ServerSettings {
    fn default() -> Self {
        ServerSettings {
            bind: "127.0.0.1:8080".into(),
            request_timeout_secs: 60,
            shutdown_grace_secs: 30,
            body_limit_bytes: 2 * 1024 * 1024,
        }
    }
}

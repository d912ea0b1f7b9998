//! Server configuration (section `[server]`).

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

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

/// Authentication configuration (section `[auth]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Lifetime of access tokens issued by local login.
    pub access_token_ttl_secs: u64,
    /// Lifetime of refresh tokens.
    pub refresh_token_ttl_secs: u64,
    /// Key signing local access tokens (base64, at least 32 bytes). Without it, a random key is
    /// used per process and local sessions do not survive a restart or span processes.
    pub signing_key: Option<String>,
    /// Failed logins before the account locks.
    pub lockout_threshold: u32,
    /// First lockout duration; doubles with each further failure.
    pub lockout_base_secs: u64,
    /// An OpenID Connect provider whose bearer tokens are accepted.
    pub oidc: Option<OidcSettings>,
}

impl Default for AuthSettings {
    fn default() -> Self {
        AuthSettings {
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 30 * 24 * 3600,
            signing_key: None,
            lockout_threshold: 5,
            lockout_base_secs: 30,
            oidc: None,
        }
    }
}

/// Section `[auth.oidc]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcSettings {
    /// Expected `iss`, e.g. `https://tenant.eu.auth0.com/`.
    pub issuer: String,
    /// Expected `aud`.
    pub audience: String,
    /// Where the provider publishes its signing keys.
    pub jwks_url: String,
    /// Tolerated clock skew.
    #[serde(default = "default_leeway")]
    pub leeway_secs: u64,
    /// How long fetched keys are trusted before they are fetched again.
    #[serde(default = "default_jwks_cache")]
    pub jwks_cache_secs: u64,
}

fn default_leeway() -> u64 {
    60
}

fn default_jwks_cache() -> u64 {
    3600
}

/// Secrets-at-rest configuration (section `[vault]`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VaultSettings {
    /// Id of the master key new secrets are sealed with.
    pub active_key_id: Option<String>,
    /// Master keys by id: base64-encoded 32-byte keys.
    pub keys: BTreeMap<String, String>,
    /// A TOML file with `active_key_id` and `[keys]`, merged with the above.
    pub key_file: Option<PathBuf>,
}

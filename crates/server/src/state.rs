//! State shared by every handler.

use crate::settings::{AuthSettings, ServerSettings};
use crate::vault::Keyring;
use metrics_exporter_prometheus::PrometheusHandle;
use modernize_db::Database;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Database,
    pub metrics: PrometheusHandle,
    pub settings: Arc<ServerSettings>,
    pub auth: Arc<AuthSettings>,
    /// Master keys for secrets at rest; `None` when none are configured (storing secrets is
    /// then refused with a clear error).
    pub keyring: Option<Arc<Keyring>>,
    /// Per-process authentication state built from `auth`: the access-token signing key and
    /// the OIDC verifier with its JWKS cache.
    pub authn: Arc<crate::auth::session::AuthRuntime>,
    /// Uploads of inventory files (section `[imports]`).
    pub imports: Arc<modernize_engine::discovery::ImportSettings>,
}

impl AppState {
    pub fn new(db: Database, settings: ServerSettings) -> Self {
        AppState {
            db,
            metrics: crate::metrics::handle(),
            settings: Arc::new(settings),
            auth: Arc::new(AuthSettings::default()),
            keyring: None,
            authn: Arc::new(crate::auth::session::AuthRuntime::new(Arc::new(
                AuthSettings::default(),
            ))),
            imports: Arc::new(modernize_engine::discovery::ImportSettings::default()),
        }
    }

    /// With upload settings (section `[imports]`).
    pub fn with_imports(mut self, imports: modernize_engine::discovery::ImportSettings) -> Self {
        self.imports = Arc::new(imports);
        self
    }

    /// With authentication settings.
    pub fn with_auth(mut self, auth: AuthSettings) -> Self {
        self.auth = Arc::new(auth);
        self.authn = Arc::new(crate::auth::session::AuthRuntime::new(self.auth.clone()));
        self.authn.prepare();
        self
    }

    /// With master keys for secrets at rest.
    pub fn with_keyring(mut self, keyring: Keyring) -> Self {
        self.keyring = Some(Arc::new(keyring));
        self
    }
}

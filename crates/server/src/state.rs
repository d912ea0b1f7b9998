//! State shared by every handler.

use crate::settings::ServerSettings;
use metrics_exporter_prometheus::PrometheusHandle;
use modernize_db::Database;
use std::sync::Arc;

#[derive(Debug, Clone)]
pub struct AppState {
    pub db: Database,
    pub metrics: PrometheusHandle,
    pub settings: Arc<ServerSettings>,
}

impl AppState {
    pub fn new(db: Database, settings: ServerSettings) -> Self {
        AppState {
            db,
            metrics: crate::metrics::handle(),
            settings: Arc::new(settings),
        }
    }
}

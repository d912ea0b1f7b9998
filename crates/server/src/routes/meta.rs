//! Prometheus metrics and the OpenAPI document.

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

/// Prometheus metrics in the text exposition format.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn get_metrics(State(state): State<AppState>) -> impl IntoResponse {
    let pool = &state.db.app;
    metrics::gauge!("db_pool_connections", "pool" => "app").set(pool.size() as f64);
    metrics::gauge!("db_pool_idle_connections", "pool" => "app").set(pool.num_idle() as f64);
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API")))]
pub async fn get_openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(crate::openapi::document().clone())
}

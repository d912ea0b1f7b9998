//! Liveness and readiness.

use crate::error::{ApiError, ErrorCode, ErrorEnvelope};
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde::Serialize;
use std::time::Duration;
use utoipa::ToSchema;

/// Health answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// Always `ok` when answered.
    pub status: &'static str,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "The process is alive", body = Health)))]
pub async fn get_health() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// Readiness: the database answers, as the runtime role, and the schema is there.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready to serve", body = Health),
        (status = 503, description = "The database is unavailable", body = ErrorEnvelope)))]
pub async fn get_readiness(State(state): State<AppState>) -> Result<Json<Health>, ApiError> {
    let check =
        sqlx::query_as::<_, (bool,)>("SELECT to_regclass('migration.client_accounts') IS NOT NULL")
            .fetch_one(&state.db.app);
    match tokio::time::timeout(Duration::from_secs(3), check).await {
        Ok(Ok((true,))) => Ok(Json(Health { status: "ok" })),
        Ok(Ok((false,))) => Err(ApiError::new(
            ErrorCode::DatabaseUnavailable,
            "the database schema is not migrated",
        )),
        Ok(Err(error)) => {
            tracing::warn!(%error, "readiness check failed");
            Err(ApiError::new(
                ErrorCode::DatabaseUnavailable,
                "the database is unavailable",
            ))
        }
        Err(_) => Err(ApiError::new(
            ErrorCode::DatabaseUnavailable,
            "the database did not answer within 3 s",
        )),
    }
}

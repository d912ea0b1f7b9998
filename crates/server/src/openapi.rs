//! The OpenAPI document, generated from the handlers' annotations.

use crate::error::{ErrorBody, ErrorEnvelope};
use crate::routes::{health, meta};
use crate::state::AppState;
use std::sync::OnceLock;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Modernize API",
        description = "Enterprise application migration platform. Every error is answered with the \
                       envelope `{\"error\": {\"code\", \"message\", \"request_id\"}}`."
    ),
    components(schemas(ErrorEnvelope, ErrorBody)),
    tags((name = "operations", description = "Health, readiness, metrics, API description"))
)]
struct ApiDoc;

/// Every route, with its OpenAPI description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(health::get_health))
        .routes(routes!(health::get_readiness))
        .routes(routes!(meta::get_metrics))
        .routes(routes!(meta::get_openapi))
}

/// The document, built once.
pub fn document() -> &'static utoipa::openapi::OpenApi {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    DOC.get_or_init(|| router().split_for_parts().1)
}

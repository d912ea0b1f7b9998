//! HTTP layer: the axum router with its middleware, the JSON error envelope shared by every
//! route, health/readiness/metrics endpoints and the OpenAPI document generated from the code.

pub mod auth;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod middleware;
pub mod openapi;
pub mod pagination;
pub mod routes;
pub mod settings;
pub mod state;
pub mod validate;
pub mod vault;

pub use error::{ApiError, ErrorCode};
pub use settings::ServerSettings;
pub use state::AppState;

use axum::Router;
use std::future::Future;
use tokio::net::TcpListener;

/// The complete application: every route with its middleware.
pub fn app(state: AppState) -> Router {
    let (router, _) = openapi::router().split_for_parts();
    middleware::wrap(router.with_state(state.clone()), &state)
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets in-flight requests finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = app(state);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

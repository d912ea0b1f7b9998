//! The middleware every route runs behind: request ids, tracing spans, metrics, timeouts (the
//! upload route has its own), panic capture, body limits and envelope-shaped answers for
//! unknown routes and methods.

use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;
use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request};
use axum::http::{HeaderName, Response};
use axum::middleware::Next;
use axum::response::IntoResponse;
use std::time::{Duration, Instant};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled, if called while handling one.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

/// The time limits of requests: `server.request_timeout_secs` for every route but the upload
/// of inventory files, which has `imports.upload_timeout_secs`.
#[derive(Debug, Clone, Copy)]
struct Timeouts {
    request: Duration,
    upload: Duration,
}

pub fn wrap(router: Router, state: &AppState) -> Router {
    let timeouts = Timeouts {
        request: Duration::from_secs(state.settings.request_timeout_secs),
        upload: Duration::from_secs(state.imports.upload_timeout_secs),
    };
    router
        .fallback(|| async { ApiError::new(ErrorCode::NotFound, "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                ErrorCode::MethodNotAllowed,
                "method not allowed on this route",
            )
        })
        .layer(
            // Outermost first.
            ServiceBuilder::new()
                .layer(SetRequestIdLayer::new(
                    X_REQUEST_ID.clone(),
                    MakeRequestUuid,
                ))
                .layer(PropagateRequestIdLayer::new(X_REQUEST_ID.clone()))
                .layer(axum::middleware::from_fn(scope_request_id))
                .layer(TraceLayer::new_for_http().make_span_with(make_span))
                .layer(axum::middleware::from_fn(record_metrics))
                .layer(CatchPanicLayer::custom(|_| {
                    ApiError::internal("handler panicked").into_response()
                }))
                .layer(axum::middleware::from_fn(move |req, next| {
                    enforce_timeout(timeouts, req, next)
                }))
                .layer(DefaultBodyLimit::max(state.settings.body_limit_bytes)),
        )
}

fn request_id_of(req: &Request) -> String {
    req.headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// Makes the request id available to error responses built anywhere below.
async fn scope_request_id(req: Request, next: Next) -> Response<axum::body::Body> {
    let id = request_id_of(&req);
    REQUEST_ID.scope(id, next.run(req)).await
}

fn make_span(req: &Request) -> tracing::Span {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    tracing::info_span!(
        "request",
        http.method = %req.method(),
        http.route = %route,
        request_id = %request_id_of(req),
    )
}

async fn record_metrics(req: Request, next: Next) -> Response<axum::body::Body> {
    let started = Instant::now();
    let method = req.method().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    response
}

/// Answers `request_timeout` (503) when a request takes too long, `upload_timeout` (408) when
/// an upload does; the handler is dropped (an upload removes its partial file).
async fn enforce_timeout(limits: Timeouts, req: Request, next: Next) -> Response<axum::body::Body> {
    let upload = req
        .extensions()
        .get::<MatchedPath>()
        .is_some_and(|p| p.as_str() == crate::routes::discovery::UPLOAD_ROUTE);
    let limit = if upload {
        limits.upload
    } else {
        limits.request
    };
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) if upload => ApiError::new(
            ErrorCode::UploadTimeout,
            format!(
                "the upload did not finish within {} s (imports.upload_timeout_secs); nothing \
                 was stored",
                limit.as_secs()
            ),
        )
        .into_response(),
        Err(_) => ApiError::new(
            ErrorCode::RequestTimeout,
            format!("the request took longer than {} s", limit.as_secs()),
        )
        .into_response(),
    }
}

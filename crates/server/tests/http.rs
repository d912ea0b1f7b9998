//! The HTTP skeleton over real sockets: health, readiness, metrics, OpenAPI, the error envelope
//! with request ids, timeouts, panics and graceful shutdown.

mod common;

use axum::Router;
use axum::routing::{get, post};
use modernize_server::extract::ApiJson;
use modernize_server::{AppState, middleware};
use serde_json::Value;
use std::time::Duration;

async fn json(resp: reqwest::Response) -> Value {
    resp.json().await.expect("a JSON body")
}

fn request_id(resp: &reqwest::Response) -> String {
    resp.headers()
        .get("x-request-id")
        .expect("every response carries x-request-id")
        .to_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn health_and_readiness_answer_ok_with_a_request_id() {
    let server = common::start().await;
    let resp = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let id = request_id(&resp);
    assert!(
        uuid::Uuid::parse_str(&id).is_ok(),
        "generated ids are UUIDs: {id}"
    );
    assert_eq!(json(resp).await["status"], "ok");

    let resp = server
        .client
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(json(resp).await["status"], "ok");
}

#[tokio::test]
async fn readiness_fails_with_the_envelope_when_the_database_is_unreachable() {
    let db = modernize_testkit::TestDb::new().await;
    let mut database = db.database();
    database.app = sqlx::postgres::PgPoolOptions::new()
        .acquire_timeout(Duration::from_millis(500))
        .connect_lazy("postgresql:///nowhere?host=%2Fnonexistent-socket-dir&user=nobody")
        .unwrap();
    let state = AppState::new(database, common::settings());
    let server = common::start_router(db, modernize_server::app(state)).await;
    let resp = server
        .client
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let body = json(resp).await;
    assert_eq!(body["error"]["code"], "database_unavailable");
    // Liveness does not depend on the database.
    let resp = server
        .client
        .get(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn unknown_routes_and_methods_get_the_error_envelope() {
    let server = common::start().await;
    let resp = server
        .client
        .get(server.url("/api/v1/nothing-here"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);
    let id = request_id(&resp);
    let body = json(resp).await;
    assert_eq!(body["error"]["code"], "not_found");
    assert_eq!(
        body["error"]["request_id"],
        id.as_str(),
        "envelope and header agree"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );

    let resp = server
        .client
        .post(server.url("/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 405);
    assert_eq!(json(resp).await["error"]["code"], "method_not_allowed");
}

#[tokio::test]
async fn a_request_id_sent_by_the_client_is_kept() {
    let server = common::start().await;
    let resp = server
        .client
        .get(server.url("/missing"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(request_id(&resp), "trace-me-42");
    assert_eq!(json(resp).await["error"]["request_id"], "trace-me-42");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let server = common::start().await;
    for _ in 0..3 {
        server
            .client
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap();
    }
    let resp = server
        .client
        .get(server.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = resp.text().await.unwrap();
    let line = text
        .lines()
        .find(|l| {
            l.starts_with("http_requests_total{")
                && l.contains("route=\"/healthz\"")
                && l.contains("status=\"200\"")
        })
        .unwrap_or_else(|| panic!("no request counter for /healthz in:\n{text}"));
    let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
    assert!(count >= 3.0, "{line}");
    assert!(text.contains("http_request_duration_seconds_bucket"));
    assert!(text.contains("db_pool_connections"));
}

#[tokio::test]
async fn openapi_document_describes_the_routes_and_the_error_envelope() {
    let server = common::start().await;
    let resp = server
        .client
        .get(server.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let doc = json(resp).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in ["/healthz", "/readyz", "/metrics", "/api/v1/openapi.json"] {
        assert!(doc["paths"][path]["get"].is_object(), "missing {path}");
    }
    assert_eq!(
        doc["paths"]["/readyz"]["get"]["operationId"],
        "get_readiness"
    );
    assert!(doc["components"]["schemas"]["ErrorEnvelope"].is_object());
}

#[tokio::test]
async fn openapi_document_matches_the_committed_snapshot() {
    // Changing the API changes this file: review the diff, then refresh it with
    // UPDATE_SNAPSHOTS=1 cargo test -p modernize-server --test http.
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/openapi.json");
    let current =
        serde_json::to_string_pretty(modernize_server::openapi::document()).unwrap() + "\n";
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &current).unwrap();
    }
    let committed = std::fs::read_to_string(&path).expect("snapshot file exists");
    assert_eq!(
        current, committed,
        "the OpenAPI document changed; see the comment above"
    );
}

/// A router with test-only routes behind the product's middleware.
async fn start_with_test_routes() -> common::Running {
    let db = modernize_testkit::TestDb::new().await;
    let state = AppState::new(db.database(), common::settings());
    let routes = Router::new()
        .route("/panic", get(|| async { panic!("boom") as &'static str }))
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(800)).await;
                "done"
            }),
        )
        .route(
            "/too-slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                "never"
            }),
        )
        .route(
            "/echo",
            post(|ApiJson(v): ApiJson<Value>| async move { axum::Json(v) }),
        );
    let app = middleware::wrap(routes, &state);
    common::start_router(db, app).await
}

#[tokio::test]
async fn panics_become_internal_errors_without_detail() {
    let server = start_with_test_routes().await;
    let resp = server
        .client
        .get(server.url("/panic"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
    let body = json(resp).await;
    assert_eq!(body["error"]["code"], "internal");
    assert!(
        !body.to_string().contains("boom"),
        "panic text must not leak: {body}"
    );
    // The server survives.
    let resp = server.client.get(server.url("/slow")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn slow_requests_time_out_with_the_envelope() {
    let server = start_with_test_routes().await;
    let resp = server
        .client
        .get(server.url("/too-slow"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    assert_eq!(json(resp).await["error"]["code"], "request_timeout");
}

#[tokio::test]
async fn malformed_json_is_answered_with_stable_codes() {
    let server = start_with_test_routes().await;
    let resp = server
        .client
        .post(server.url("/echo"))
        .header("content-type", "application/json")
        .body("{\"unterminated\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(json(resp).await["error"]["code"], "invalid_json");

    let resp = server
        .client
        .post(server.url("/echo"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    assert_eq!(json(resp).await["error"]["code"], "unsupported_media_type");

    let big = format!("{{\"x\": \"{}\"}}", "a".repeat(3 * 1024 * 1024));
    let resp = server
        .client
        .post(server.url("/echo"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 413);
    assert_eq!(json(resp).await["error"]["code"], "payload_too_large");
}

#[tokio::test]
async fn graceful_shutdown_lets_in_flight_requests_finish() {
    let mut server = start_with_test_routes().await;
    let client = server.client.clone();
    let url = server.url("/slow");
    let in_flight = tokio::spawn(async move { client.get(url).send().await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.stop.take().unwrap().send(()).unwrap();
    let resp = in_flight
        .await
        .unwrap()
        .expect("the in-flight request completes");
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.text().await.unwrap(), "done");
    tokio::time::timeout(Duration::from_secs(5), &mut server.task)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
    // New connections are refused once it has stopped.
    assert!(
        server
            .client
            .get(server.url("/healthz"))
            .send()
            .await
            .is_err()
    );
}

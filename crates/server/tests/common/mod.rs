//! A real server on a loopback port, over a fresh test database.

// Each test crate uses a different subset of these helpers.
#![allow(dead_code)]

use modernize_server::{AppState, ServerSettings};
use modernize_testkit::TestDb;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

#[allow(dead_code)]
pub struct Running {
    pub base: String,
    pub client: reqwest::Client,
    pub stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<std::io::Result<()>>,
    pub db: TestDb,
}

#[allow(dead_code)]
impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

pub fn settings() -> ServerSettings {
    ServerSettings {
        bind: "127.0.0.1:0".into(),
        request_timeout_secs: 2,
        ..ServerSettings::default()
    }
}

/// Starts `modernize_server::serve` with the product's router on port 0.
pub async fn start() -> Running {
    let db = TestDb::new().await;
    let state = AppState::new(db.database(), settings());
    start_router(db, modernize_server::app(state)).await
}

/// Serves any router on port 0 until `stop` is sent.
pub async fn start_router(db: TestDb, router: axum::Router) -> Running {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Running {
        base,
        client: reqwest::Client::new(),
        stop: Some(stop),
        task,
        db,
    }
}

/// A user with the given grants and an API token, created directly in the database.
#[allow(dead_code)]
pub async fn user_with_token(
    db: &TestDb,
    email: &str,
    grants: &[(
        modernize_domain::access::Role,
        modernize_domain::access::Scope,
    )],
) -> (modernize_domain::ids::UserId, String) {
    let mut conn = db.owner.acquire().await.unwrap();
    let user = modernize_db::identity::create_user(&mut conn, email, None, None)
        .await
        .unwrap();
    for (role, scope) in grants {
        modernize_db::identity::grant_role(&mut conn, user, *role, *scope, None, None)
            .await
            .unwrap();
    }
    let minted = modernize_server::auth::api_token::mint();
    modernize_db::identity::insert_api_token(
        &mut conn,
        user,
        "test",
        &minted.display_prefix,
        &minted.digest,
        None,
    )
    .await
    .unwrap();
    (user, minted.token)
}

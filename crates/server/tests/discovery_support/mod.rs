//! Discovery imports over real HTTP, shared by the test binaries: a server with an in-process
//! worker, multipart bodies, flow polling.

#![allow(dead_code)]

use crate::{assets_support, common};
use modernize_engine::discovery::{self, ImportSettings};
use modernize_engine::flows::{FlowRegistry, RunPhase};
use modernize_engine::queue::{Registry, Worker, WorkerConfig};
use modernize_server::{AppState, ServerSettings};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;
use uuid::Uuid;

pub const LIMIT: Duration = Duration::from_secs(180);
pub const BOUNDARY: &str = "----modernize-test-boundary";

pub struct Setup {
    pub server: common::Running,
    pub w: assets_support::World,
    pub upload_dir: PathBuf,
    pub _dir: tempfile::TempDir,
    pub stop: Option<oneshot::Sender<()>>,
}

/// A server with an in-process worker, uploads under a temporary directory.
pub async fn setup(max_upload_bytes: u64) -> Setup {
    setup_with(|s, _| s.max_upload_bytes = max_upload_bytes).await
}

/// [`setup`] with the upload and server settings adjusted (the request time limit is 30 s
/// unless changed).
pub async fn setup_with(adjust: impl FnOnce(&mut ImportSettings, &mut ServerSettings)) -> Setup {
    let db = modernize_testkit::TestDb::new().await;
    let w = assets_support::world(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let mut settings = ImportSettings {
        upload_dir: dir.path().join("uploads"),
        ..ImportSettings::default()
    };
    let mut server_settings = common::settings();
    server_settings.request_timeout_secs = 30;
    adjust(&mut settings, &mut server_settings);
    let mut flows = FlowRegistry::product();
    discovery::register(&mut flows, settings.clone());
    let mut registry = Registry::new();
    registry.register(RunPhase::new(flows));
    let worker = Worker::new(
        db.app.clone(),
        registry,
        WorkerConfig {
            concurrency: 2,
            lease: Duration::from_secs(30),
            poll_interval: Duration::from_millis(100),
            shutdown_grace: Duration::from_secs(10),
        },
    );
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = worker
            .run(async {
                let _ = stopped.await;
            })
            .await;
    });
    let state = AppState::new(db.database(), server_settings).with_imports(settings.clone());
    let server = common::start_router(db, modernize_server::app(state)).await;
    Setup {
        server,
        w,
        upload_dir: settings.upload_dir,
        _dir: dir,
        stop: Some(stop),
    }
}

/// A multipart/form-data body: (field name, file name, content).
pub fn form(parts: &[(&str, Option<&str>, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, file, content) in parts {
        body.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        match file {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

impl Setup {
    pub fn imports(&self, client: Uuid, engagement: Uuid) -> String {
        self.server.url(&format!(
            "/api/v1/clients/{client}/engagements/{engagement}/discovery/imports"
        ))
    }

    pub async fn upload(
        &self,
        token: &str,
        body: Vec<u8>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        self.upload_to(self.w.client_a, self.w.eng_a, token, body)
            .await
    }

    pub async fn upload_to(
        &self,
        client: Uuid,
        engagement: Uuid,
        token: &str,
        body: Vec<u8>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let resp = self
            .server
            .client
            .post(self.imports(client, engagement))
            .bearer_auth(token)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let json = resp.json().await.unwrap_or(Value::Null);
        (status, headers, json)
    }

    pub async fn flow(&self, location: &str) -> Value {
        self.server
            .client
            .get(self.server.url(location))
            .bearer_auth(&self.w.analyst)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn wait(&self, location: &str, status: &str) -> Value {
        let start = Instant::now();
        loop {
            let v = self.flow(location).await;
            if v["status"] == status {
                return v;
            }
            assert!(
                start.elapsed() < LIMIT,
                "flow did not become {status}: {} at {}",
                v["status"],
                v["current_phase"]
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn assets(&self) -> i64 {
        let (n,): (i64,) =
            sqlx::query_as("SELECT count(*) FROM migration.assets WHERE engagement_id = $1")
                .bind(self.w.eng_a)
                .fetch_one(&self.server.db.owner)
                .await
                .unwrap();
        n
    }

    pub async fn flows(&self) -> i64 {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM migration.crewai_flow_state_extensions WHERE engagement_id = $1",
        )
        .bind(self.w.eng_a)
        .fetch_one(&self.server.db.owner)
        .await
        .unwrap();
        n
    }

    pub fn stop(mut self) {
        let _ = self.stop.take().unwrap().send(());
    }
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

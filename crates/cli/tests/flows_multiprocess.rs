//! Two worker processes and two `modernize serve --no-worker` processes on one database:
//! several flows run, every task runs exactly once, and the events of a flow stream from
//! either server (the second one resuming with Last-Event-ID where the first one stopped).
//!
//! The worker processes are this test binary re-executed (`worker_process` runs a queue worker
//! with a test-only flow type when `MODERNIZE_MP_WORKER_DB` is set): test flow types never
//! enter the product binary. The servers are the real binary; they only accept commands and
//! stream events.

use modernize_domain::access::{Role, Scope};
use modernize_domain::flow::FlowType;
use modernize_domain::ids::{ClientAccountId, EngagementId};
use modernize_domain::tenancy::TenantScope;
use modernize_engine::flows::RunPhase;
use modernize_engine::flows::registry::{FlowRegistry, Step, StepContext, StepError};
use modernize_engine::flows::store::{self, Actor, NewFlow};
use modernize_engine::flows::tracking::{TaskOutcome, TaskSpec};
use modernize_engine::queue::{Registry, Worker, WorkerConfig};
use modernize_testkit::TestDb;
use modernize_testkit::process::{ChildGuard, spawn_test};
use serde_json::{Value, json};
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::pin::Pin;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use uuid::Uuid;

const WORKER_ENV: &str = "MODERNIZE_MP_WORKER_DB";
const PHASES: &[&str] = &["one", "gate", "two"];
const TASKS: &[&str] = &["a", "b"];

struct TwoTasks;

impl Step for TwoTasks {
    fn run<'a>(
        &'a self,
        ctx: &'a mut StepContext,
    ) -> Pin<Box<dyn Future<Output = Result<(), StepError>> + Send + 'a>> {
        Box::pin(async move {
            for name in TASKS {
                let t = ctx
                    .tasks
                    .start(TaskSpec {
                        agent_name: "mp_agent".into(),
                        task_type: name.to_string(),
                        ..TaskSpec::default()
                    })
                    .await
                    .map_err(|e| StepError::retryable(e.to_string()))?;
                tokio::time::sleep(Duration::from_millis(100)).await;
                ctx.tasks.succeed(
                    t,
                    TaskOutcome {
                        output: json!({"pid": std::process::id()}),
                        ..TaskOutcome::default()
                    },
                );
            }
            Ok(())
        })
    }
}

#[tokio::test]
async fn worker_process() {
    let Ok(url) = std::env::var(WORKER_ENV) else {
        return;
    };
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(6)
        .connect(&url)
        .await
        .expect("worker connects");
    let mut flows = FlowRegistry::product();
    flows.add_type("test.mp", PHASES);
    for p in PHASES {
        flows.set_step("test.mp", p, TwoTasks, *p == "gate");
    }
    let mut jobs = Registry::new();
    jobs.register(RunPhase::new(flows));
    let config = WorkerConfig {
        concurrency: 1,
        lease: Duration::from_secs(5),
        poll_interval: Duration::from_millis(200),
        shutdown_grace: Duration::from_secs(5),
    };
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
    Worker::new(pool, jobs, config)
        .run(async move {
            term.recv().await;
        })
        .await
        .expect("worker runs");
}

fn spawn_worker(db: &TestDb) -> ChildGuard {
    spawn_test("worker_process", (WORKER_ENV, &db.app_url()))
}

/// `modernize serve --no-worker` on port 0; returns the process and its base URL.
fn spawn_server(db: &TestDb) -> (ChildGuard, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_modernize"))
        .env_remove("MODERNIZE_CONFIG")
        .env("MODERNIZE_LOG__FILTER", "warn")
        .env("DATABASE_URL", db.owner_url())
        .current_dir(std::env::temp_dir())
        .args(["serve", "--bind", "127.0.0.1:0", "--no-worker", "--no-demo"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn serve");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = lines.next().expect("a line").unwrap();
    let base = line.strip_prefix("listening on ").expect(&line).to_string();
    (ChildGuard(child), base)
}

/// Reads server-sent events until `stop` says so or the stream ends.
async fn read_events(
    resp: &mut reqwest::Response,
    mut stop: impl FnMut(&(i64, String)) -> bool,
) -> Vec<(i64, String)> {
    let mut buf = String::new();
    let mut out = Vec::new();
    loop {
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let mut id = None;
            let mut kind = String::new();
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse().ok();
                } else if let Some(v) = line.strip_prefix("event:") {
                    kind = v.trim().to_string();
                }
            }
            if let Some(id) = id {
                let e = (id, kind);
                let done = stop(&e);
                out.push(e);
                if done {
                    return out;
                }
            }
        }
        match tokio::time::timeout(Duration::from_secs(60), resp.chunk()).await {
            Ok(Ok(Some(bytes))) => buf.push_str(&String::from_utf8_lossy(&bytes)),
            Ok(Ok(None)) => return out,
            other => panic!("event stream stalled: {other:?}"),
        }
    }
}

#[tokio::test]
async fn two_workers_and_two_servers_run_every_task_once_and_stream_from_either() {
    let db = TestDb::new().await;
    let (client, engagement) = {
        let (c,): (Uuid,) = sqlx::query_as(
            "INSERT INTO migration.client_accounts (name, slug) VALUES ('mp', 'mp') RETURNING id",
        )
        .fetch_one(&db.owner)
        .await
        .unwrap();
        let (e,): (Uuid,) = sqlx::query_as(
            "INSERT INTO migration.engagements (client_account_id, name) VALUES ($1, 'E') RETURNING id",
        )
        .bind(c)
        .fetch_one(&db.owner)
        .await
        .unwrap();
        (c, e)
    };
    let mut conn = db.owner.acquire().await.unwrap();
    let user = modernize_db::identity::create_user(&mut conn, "mp@example.com", None, None)
        .await
        .unwrap();
    modernize_db::identity::grant_role(
        &mut conn,
        user,
        Role::Analyst,
        Scope::Engagement {
            client_account_id: ClientAccountId(client),
            engagement_id: EngagementId(engagement),
        },
        None,
        None,
    )
    .await
    .unwrap();
    let minted = modernize_server::auth::api_token::mint();
    modernize_db::identity::insert_api_token(
        &mut conn,
        user,
        "mp",
        &minted.display_prefix,
        &minted.digest,
        None,
    )
    .await
    .unwrap();
    drop(conn);
    let token = minted.token;

    let (_s1, first) = spawn_server(&db);
    let (_s2, second) = spawn_server(&db);

    // Flows created (and started) before any worker exists.
    let mut flows = Vec::new();
    for _ in 0..4 {
        let scope = TenantScope::Client {
            client_account_id: ClientAccountId(client),
            user_id: None,
        };
        let mut tx = modernize_db::tenant::begin(&db.app, scope).await.unwrap();
        let id = store::create(
            &mut tx,
            &NewFlow {
                client_account_id: client,
                engagement_id: engagement,
                user_id: user.0,
                flow_type: "test.mp".into(),
                child: FlowType::Execution,
                phases: PHASES.iter().map(|p| p.to_string()).collect(),
                display_name: None,
                config: json!({}),
            },
            &Actor::user(user.0),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        flows.push(id);
    }
    let base = format!("/api/v1/clients/{client}/engagements/{engagement}/flows");
    let http = reqwest::Client::new();
    let watched = flows[0];
    let mut stream = http
        .get(format!("{first}{base}/{watched}/events"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);

    let _workers = [spawn_worker(&db), spawn_worker(&db)];

    // Server 1 streams the watched flow up to its approval gate.
    let seen = read_events(&mut stream, |e| e.1 == "approval_requested").await;
    let last = seen.last().unwrap().0;
    drop(stream);

    // Every flow reaches its gate; approvals go through either server.
    for (i, flow) in flows.iter().enumerate() {
        let server = if i % 2 == 0 { &first } else { &second };
        let start = Instant::now();
        loop {
            let v: Value = http
                .get(format!("{server}{base}/{flow}"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            if v["status"] == "waiting_for_approval" {
                break;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "{v}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let resp = http
            .post(format!("{server}{base}/{flow}/approvals"))
            .bearer_auth(&token)
            .json(&json!({"decision": "approve"}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
    }

    // Server 2 resumes the watched flow's stream after the last event seen on server 1; the
    // stream ends when the flow completes.
    let mut rest = http
        .get(format!("{second}{base}/{watched}/events"))
        .bearer_auth(&token)
        .header("Last-Event-ID", last.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), 200);
    let later = read_events(&mut rest, |_| false).await;
    let streamed: Vec<i64> = seen.iter().chain(later.iter()).map(|e| e.0).collect();
    let stored: Vec<(i64,)> =
        sqlx::query_as("SELECT id FROM migration.flow_events WHERE flow_id = $1 ORDER BY id")
            .bind(watched)
            .fetch_all(&db.owner)
            .await
            .unwrap();
    assert_eq!(
        streamed,
        stored.into_iter().map(|r| r.0).collect::<Vec<_>>(),
        "every event of the flow, once, from the two servers"
    );

    for flow in &flows {
        let start = Instant::now();
        loop {
            let (status,): (String,) = sqlx::query_as(
                "SELECT status FROM migration.crewai_flow_state_extensions WHERE flow_id = $1",
            )
            .bind(flow)
            .fetch_one(&db.owner)
            .await
            .unwrap();
            if status == "completed" {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{flow}: {status}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Every task ran exactly once: one row per task, completed.
        let rows: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT parent_task_id, task_type, status FROM migration.agent_task_history \
              WHERE master_flow_id = $1 ORDER BY 1, 2",
        )
        .bind(flow)
        .fetch_all(&db.owner)
        .await
        .unwrap();
        let mut expected = Vec::new();
        for p in PHASES {
            for t in TASKS {
                expected.push((
                    format!("{flow}/{p}"),
                    t.to_string(),
                    "completed".to_string(),
                ));
            }
        }
        expected.sort();
        assert_eq!(rows, expected, "{flow}");
    }
    // Both worker processes took part.
    let (pids,): (i64,) = sqlx::query_as(
        "SELECT count(DISTINCT output_data->>'pid') FROM migration.agent_task_history",
    )
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!(pids, 2, "tasks ran in both worker processes");
}

//! Flow API: creation (master + child), status, pause/resume/cancel/retry with illegal
//! transitions refused (409 invalid_transition), approval gates decided through the API,
//! server-sent events across two server instances with Last-Event-ID, viewers cannot act, and
//! another client's users get 404 on every flow route.
//!
//! Test-only flow types run in an in-process worker of this test binary.

mod common;

use modernize_domain::access::{Role, Scope};
use modernize_domain::flow::FlowType;
use modernize_domain::ids::{ClientAccountId, EngagementId};
use modernize_engine::flows::RunPhase;
use modernize_engine::flows::registry::{FlowRegistry, Step, StepContext, StepError};
use modernize_engine::flows::store::{self, Actor, NewFlow};
use modernize_engine::flows::tracking::{TaskOutcome, TaskSpec};
use modernize_engine::queue::{Registry, Worker, WorkerConfig};
use modernize_server::AppState;
use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use uuid::Uuid;

const PHASES: &[&str] = &["prepare", "review", "finish"];

struct OneTask;

impl Step for OneTask {
    fn run<'a>(
        &'a self,
        ctx: &'a mut StepContext,
    ) -> Pin<Box<dyn Future<Output = Result<(), StepError>> + Send + 'a>> {
        Box::pin(async move {
            if ctx.config.get("fail") == Some(&json!(ctx.phase)) && ctx.attempt < 100 {
                let failed: bool = FAILED.lock().unwrap().insert(ctx.flow_id);
                if failed {
                    return Err(StepError::permanent("the test step fails once"));
                }
            }
            let t = ctx
                .tasks
                .start(TaskSpec {
                    agent_name: "test_agent".into(),
                    task_type: "work".into(),
                    ..TaskSpec::default()
                })
                .await
                .map_err(|e| StepError::retryable(e.to_string()))?;
            tokio::time::sleep(Duration::from_millis(100)).await;
            ctx.tasks.succeed(t, TaskOutcome::default());
            Ok(())
        })
    }
}

static FAILED: std::sync::Mutex<std::collections::BTreeSet<Uuid>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

fn registry() -> FlowRegistry {
    let mut r = FlowRegistry::product();
    r.add_type("test.api", PHASES);
    for p in PHASES {
        r.set_step("test.api", p, OneTask, *p == "review");
    }
    r
}

fn start_worker(app: &sqlx::PgPool) -> tokio::sync::oneshot::Sender<()> {
    let mut jobs = Registry::new();
    jobs.register(RunPhase::new(registry()));
    let worker = Worker::new(
        app.clone(),
        jobs,
        WorkerConfig {
            concurrency: 2,
            lease: Duration::from_secs(5),
            poll_interval: Duration::from_millis(100),
            shutdown_grace: Duration::from_secs(5),
        },
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        worker
            .run(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    stop
}

/// A second server instance on the same database.
async fn second_server(db: &modernize_testkit::TestDb) -> String {
    let state = AppState::new(db.database(), common::settings());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = modernize_server::app(state);
    tokio::spawn(async move { axum::serve(listener, router).await });
    base
}

struct Setup {
    server: common::Running,
    client: Uuid,
    engagement: Uuid,
    analyst: String,
    analyst_id: Uuid,
    viewer: String,
    intruder: String,
}

async fn setup() -> Setup {
    let server = common::start().await;
    let (_, admin) = common::user_with_token(
        &server.db,
        "root@example.com",
        &[(Role::Admin, Scope::Platform)],
    )
    .await;
    let http = reqwest::Client::new();
    let mut ids = Vec::new();
    for slug in ["alpha", "beta"] {
        let c: Value = http
            .post(server.url("/api/v1/clients"))
            .bearer_auth(&admin)
            .json(&json!({"name": slug, "slug": slug}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let cid: Uuid = c["id"].as_str().unwrap().parse().unwrap();
        let e: Value = http
            .post(server.url(&format!("/api/v1/clients/{cid}/engagements")))
            .bearer_auth(&admin)
            .json(&json!({"name": "E"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        ids.push((cid, e["id"].as_str().unwrap().parse::<Uuid>().unwrap()));
    }
    let (client, engagement) = ids[0];
    let scope = Scope::Engagement {
        client_account_id: ClientAccountId(client),
        engagement_id: EngagementId(engagement),
    };
    let (analyst_id, analyst) = common::user_with_token(
        &server.db,
        "analyst@alpha.example",
        &[(Role::Analyst, scope)],
    )
    .await;
    let (_, viewer) =
        common::user_with_token(&server.db, "viewer@alpha.example", &[(Role::Viewer, scope)]).await;
    let (_, intruder) = common::user_with_token(
        &server.db,
        "admin@beta.example",
        &[(
            Role::Admin,
            Scope::Client {
                client_account_id: ClientAccountId(ids[1].0),
            },
        )],
    )
    .await;
    Setup {
        server,
        client,
        engagement,
        analyst,
        analyst_id: analyst_id.0,
        viewer,
        intruder,
    }
}

impl Setup {
    fn flows(&self) -> String {
        format!(
            "/api/v1/clients/{}/engagements/{}/flows",
            self.client, self.engagement
        )
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut req = self
            .server
            .client
            .request(method.parse().unwrap(), self.server.url(path))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }

    async fn status(&self, flow: Uuid) -> Value {
        let (code, v) = self
            .call(
                "GET",
                &format!("{}/{flow}", self.flows()),
                &self.analyst,
                None,
            )
            .await;
        assert_eq!(code, 200, "{v}");
        self.assert_child_in_sync(flow, &v).await;
        v
    }

    /// Master and child status are equal after every operation.
    async fn assert_child_in_sync(&self, flow: Uuid, v: &Value) {
        let table = match v["child_flows"]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap()
            .as_str()
        {
            "discovery" => "discovery_flows",
            "collection" => "collection_flows",
            "assessment" => "assessment_flows",
            "planning" => "planning_flows",
            _ => "execution_flows",
        };
        let (master, child): (String, String) = sqlx::query_as(&format!(
            "SELECT m.status, c.status FROM migration.crewai_flow_state_extensions m \
               JOIN migration.{table} c ON c.master_flow_id = m.flow_id WHERE m.flow_id = $1"
        ))
        .bind(flow)
        .fetch_one(&self.server.db.owner)
        .await
        .unwrap();
        assert_eq!(master, child, "master and child status");
    }

    async fn wait(&self, flow: Uuid, status: &str) -> Value {
        let start = Instant::now();
        loop {
            let v = self.status(flow).await;
            if v["status"] == status {
                return v;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "{v}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A test-type flow, created through the engine (the API creates product types only).
    async fn test_flow(&self, config: Value) -> Uuid {
        let scope = modernize_domain::tenancy::TenantScope::Client {
            client_account_id: ClientAccountId(self.client),
            user_id: None,
        };
        let mut tx = modernize_db::tenant::begin(&self.server.db.app, scope)
            .await
            .unwrap();
        let id = store::create(
            &mut tx,
            &NewFlow {
                client_account_id: self.client,
                engagement_id: self.engagement,
                user_id: self.analyst_id,
                flow_type: "test.api".into(),
                child: FlowType::Assessment,
                phases: PHASES.iter().map(|p| p.to_string()).collect(),
                display_name: None,
                config,
            },
            &Actor::user(self.analyst_id),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        id
    }
}

#[tokio::test]
async fn create_read_and_act_on_a_flow_with_illegal_transitions_refused() {
    let s = setup().await;
    let stop = start_worker(&s.server.db.app);
    // Validation.
    let (code, v) = s
        .call(
            "POST",
            &s.flows(),
            &s.analyst,
            Some(json!({"flow_type": "magic", "config": []})),
        )
        .await;
    assert_eq!(code, 422, "{v}");
    assert_eq!(v["error"]["code"], "validation_failed");
    let fields: Vec<&str> = v["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["flow_type", "config"]);
    // Viewers cannot create.
    let (code, _) = s
        .call(
            "POST",
            &s.flows(),
            &s.viewer,
            Some(json!({"flow_type": "discovery"})),
        )
        .await;
    assert_eq!(code, 403);

    let (code, v) = s
        .call(
            "POST",
            &s.flows(),
            &s.analyst,
            Some(json!({"flow_type": "discovery", "display_name": "First scan"})),
        )
        .await;
    assert_eq!(code, 201, "{v}");
    let flow: Uuid = v["flow_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(v["status"], "running");
    assert_eq!(v["current_phase"], "initialization");
    assert_eq!(v["phases"].as_array().unwrap().len(), 6);
    assert_eq!(v["progress_percent"], 0.0);
    let child: Uuid = v["child_flows"]["discovery"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let (child_flow_id,): (Uuid,) =
        sqlx::query_as("SELECT flow_id FROM migration.discovery_flows WHERE id = $1")
            .bind(child)
            .fetch_one(&s.server.db.owner)
            .await
            .unwrap();
    assert_eq!(child_flow_id, flow, "one public identifier");
    // Discovery has no steps yet: the flow waits at its first phase, saying why.
    let start = Instant::now();
    let v = loop {
        let v = s.status(flow).await;
        if v["waiting_reason"].is_string() {
            break v;
        }
        assert!(start.elapsed() < Duration::from_secs(20), "{v}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        v["waiting_reason"]
            .as_str()
            .unwrap()
            .contains("no step is registered")
    );
    let (code, list) = s.call("GET", &s.flows(), &s.viewer, None).await;
    assert_eq!(code, 200);
    assert_eq!(list.as_array().unwrap().len(), 1);

    let act = |op: &str| format!("{}/{flow}/{op}", s.flows());
    let (code, v) = s.call("POST", &act("resume"), &s.analyst, None).await;
    assert_eq!(
        (code, &v["error"]["code"]),
        (409, &json!("invalid_transition")),
        "{v}"
    );
    assert_eq!(
        v["error"]["message"],
        "cannot resume a flow that is running"
    );
    let (code, _) = s.call("POST", &act("pause"), &s.viewer, None).await;
    assert_eq!(code, 403, "viewers cannot act");
    let (code, v) = s.call("POST", &act("pause"), &s.analyst, None).await;
    assert_eq!((code, &v["status"]), (200, &json!("paused")), "{v}");
    s.assert_child_in_sync(flow, &v).await;
    let (code, v) = s.call("POST", &act("retry"), &s.analyst, None).await;
    assert_eq!(code, 409);
    assert_eq!(
        v["error"]["message"],
        "cannot retry_phase a flow that is paused"
    );
    let (code, v) = s.call("POST", &act("resume"), &s.analyst, None).await;
    assert_eq!((code, &v["status"]), (200, &json!("running")), "{v}");
    let (code, v) = s.call("POST", &act("cancel"), &s.analyst, None).await;
    assert_eq!((code, &v["status"]), (200, &json!("cancelled")), "{v}");
    s.assert_child_in_sync(flow, &v).await;
    let (code, v) = s.call("POST", &act("resume"), &s.analyst, None).await;
    assert_eq!(code, 409);
    assert_eq!(
        v["error"]["message"],
        "cannot resume a flow that is cancelled"
    );
    let (code, v) = s
        .call(
            "POST",
            &act("approvals"),
            &s.analyst,
            Some(json!({"decision": "approve"})),
        )
        .await;
    assert_eq!(code, 409, "{v}");
    let history = s.status(flow).await["phase_history"]
        .as_array()
        .unwrap()
        .clone();
    let moves: Vec<(&str, &str)> = history
        .iter()
        .filter(|e| e["kind"] == "flow")
        .map(|e| (e["from"].as_str().unwrap(), e["to"].as_str().unwrap()))
        .collect();
    assert_eq!(
        moves,
        [
            ("initialized", "running"),
            ("running", "paused"),
            ("paused", "running"),
            ("running", "cancelled")
        ]
    );
    let _ = stop.send(());
}

/// Reads server-sent events until `until` says stop or the stream ends.
async fn read_events(
    resp: &mut reqwest::Response,
    buf: &mut String,
    mut until: impl FnMut(&(i64, String, Value)) -> bool,
) -> Vec<(i64, String, Value)> {
    let mut out = Vec::new();
    loop {
        while let Some(end) = buf.find("\n\n") {
            let block: String = buf.drain(..end + 2).collect();
            let (mut id, mut kind, mut data) = (None, String::new(), String::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().parse().ok();
                } else if let Some(v) = line.strip_prefix("event:") {
                    kind = v.trim().to_string();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push_str(v.trim());
                }
            }
            if let Some(id) = id {
                let e = (id, kind, serde_json::from_str(&data).unwrap());
                let stop = until(&e);
                out.push(e);
                if stop {
                    return out;
                }
            }
        }
        match tokio::time::timeout(Duration::from_secs(30), resp.chunk()).await {
            Ok(Ok(Some(bytes))) => buf.push_str(&String::from_utf8_lossy(&bytes)),
            Ok(Ok(None)) => return out,
            other => panic!("event stream stalled: {other:?}"),
        }
    }
}

#[tokio::test]
async fn approvals_retry_and_events_streamed_from_either_server() {
    let s = setup().await;
    let second = second_server(&s.server.db).await;
    let flow = s.test_flow(json!({"fail": "finish"})).await;
    let path = format!("{}/{flow}/events", s.flows());

    // Subscribe on server 1 before any worker runs the flow.
    let mut first = s
        .server
        .client
        .get(s.server.url(&path))
        .bearer_auth(&s.analyst)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 200);
    assert!(
        first.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let stop = start_worker(&s.server.db.app);
    let mut buf = String::new();
    let seen = read_events(&mut first, &mut buf, |e| e.1 == "approval_requested").await;
    assert_eq!(seen[0].1, "created");
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "ascending ids");
    let last = seen.last().unwrap().0;
    drop(first);

    // Approval gate through the API.
    let v = s.wait(flow, "waiting_for_approval").await;
    assert_eq!(v["pending_approval"]["phase"], "review");
    assert_eq!(v["progress_percent"], 50.0);
    let approvals = format!("{}/{flow}/approvals", s.flows());
    let (code, v) = s
        .call(
            "POST",
            &approvals,
            &s.analyst,
            Some(json!({"decision": "maybe"})),
        )
        .await;
    assert_eq!(code, 422, "{v}");
    let (code, _) = s
        .call(
            "POST",
            &approvals,
            &s.viewer,
            Some(json!({"decision": "approve"})),
        )
        .await;
    assert_eq!(code, 403);
    let (code, v) = s
        .call(
            "POST",
            &approvals,
            &s.analyst,
            Some(json!({"decision": "approve", "comment": "go"})),
        )
        .await;
    assert_eq!(code, 200, "{v}");
    assert_eq!(v["approvals"][0]["decision"], "approve");
    assert_eq!(v["approvals"][0]["comment"], "go");
    assert_eq!(v["approvals"][0]["decided_by"], json!(s.analyst_id));
    assert!(v["approvals"][0]["decided_at"].is_string());
    assert!(v["pending_approval"].is_null());

    // The last phase fails once; retry it through the API.
    let v = s.wait(flow, "failed").await;
    assert_eq!(v["current_phase"], "finish");
    let (code, v) = s
        .call(
            "POST",
            &format!("{}/{flow}/retry", s.flows()),
            &s.analyst,
            None,
        )
        .await;
    assert_eq!((code, &v["status"]), (200, &json!("running")), "{v}");
    let v = s.wait(flow, "completed").await;
    assert_eq!(v["progress_percent"], 100.0);

    // Server 2 resumes the stream after the last event seen on server 1, to the end.
    let mut rest = s
        .server
        .client
        .get(format!("{second}{path}"))
        .bearer_auth(&s.analyst)
        .header("Last-Event-ID", last.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), 200);
    let mut buf = String::new();
    let later = read_events(&mut rest, &mut buf, |_| false).await;
    assert!(later.iter().all(|e| e.0 > last));
    assert_eq!(later.last().unwrap().2["payload"]["to"], "completed");
    let all: Vec<(i64,)> =
        sqlx::query_as("SELECT id FROM migration.flow_events WHERE flow_id = $1 ORDER BY id")
            .bind(flow)
            .fetch_all(&s.server.db.owner)
            .await
            .unwrap();
    let streamed: Vec<i64> = seen.iter().chain(later.iter()).map(|e| e.0).collect();
    assert_eq!(
        streamed,
        all.into_iter().map(|r| r.0).collect::<Vec<_>>(),
        "every event once"
    );
    let (code, v) = s.call("GET", &path, &s.analyst, None).await;
    assert_eq!(code, 200, "{v}");
    let _ = stop.send(());
}

#[tokio::test]
async fn another_clients_users_get_404_on_every_flow_route() {
    let s = setup().await;
    let flow = s.test_flow(json!({})).await;
    let base = s.flows();
    let routes: Vec<(&str, String, Option<Value>)> = vec![
        (
            "POST",
            base.clone(),
            Some(json!({"flow_type": "discovery"})),
        ),
        ("GET", base.clone(), None),
        ("GET", format!("{base}/{flow}"), None),
        ("POST", format!("{base}/{flow}/pause"), None),
        ("POST", format!("{base}/{flow}/resume"), None),
        ("POST", format!("{base}/{flow}/cancel"), None),
        ("POST", format!("{base}/{flow}/retry"), None),
        (
            "POST",
            format!("{base}/{flow}/approvals"),
            Some(json!({"decision": "approve"})),
        ),
        ("GET", format!("{base}/{flow}/events"), None),
    ];
    let before = s.status(flow).await;
    for (method, path, body) in routes {
        let (code, v) = s.call(method, &path, &s.intruder, body).await;
        assert_eq!(
            (code, &v["error"]["code"]),
            (404, &json!("not_found")),
            "{method} {path}"
        );
        assert!(!v.to_string().contains(&flow.to_string()));
    }
    // A flow id under the wrong engagement path is not found either.
    let wrong = format!(
        "/api/v1/clients/{}/engagements/{}/flows/{flow}",
        s.client,
        Uuid::new_v4()
    );
    let (code, _) = s.call("GET", &wrong, &s.analyst, None).await;
    assert_eq!(code, 404);
    let after = s.status(flow).await;
    assert_eq!(before["status"], after["status"]);
    assert_eq!(before["phase_history"], after["phase_history"]);
}

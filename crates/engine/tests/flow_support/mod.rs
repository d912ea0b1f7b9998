//! Test-only flow types and helpers shared by the flow tests. These types exist only in test
//! binaries: the product registry knows the product flow types, without steps.
#![allow(dead_code)]

use modernize_domain::flow::FlowType;
use modernize_domain::ids::ClientAccountId;
use modernize_domain::tenancy::TenantScope;
use modernize_engine::flows::registry::{FlowRegistry, Step, StepContext, StepError};
use modernize_engine::flows::store::{self, Actor, FlowView, NewFlow};
use modernize_engine::flows::tracking::{TaskOutcome, TaskSpec};
use serde_json::{Value, json};
use sqlx::PgPool;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};
use uuid::Uuid;

pub const PIPELINE: &str = "test.pipeline";
pub const PHASES: &[&str] = &["prepare", "work", "review", "finish"];
/// Tasks per phase (two agents).
pub const TASKS: &[&str] = &["scan", "summarize"];

/// A step that runs the tasks of [`TASKS`], each as its own agent task.
///
/// Config: `sleep_ms` (per task, default 0), `fail_once` (a phase name: its first run fails
/// permanently), `fail_always` (a phase name).
pub struct Tasks;

impl Step for Tasks {
    fn run<'a>(
        &'a self,
        ctx: &'a mut StepContext,
    ) -> Pin<Box<dyn Future<Output = Result<(), StepError>> + Send + 'a>> {
        Box::pin(async move {
            let sleep = ctx
                .config
                .get("sleep_ms")
                .and_then(Value::as_u64)
                .unwrap_or(0);
            for name in TASKS {
                let task = ctx
                    .tasks
                    .start(TaskSpec {
                        agent_name: format!("{name}_agent"),
                        agent_type: Some("test".into()),
                        agent_version: Some("1".into()),
                        task_type: name.to_string(),
                        description: None,
                        input: json!({"phase": ctx.phase}),
                    })
                    .await
                    .map_err(|e| StepError::retryable(e.to_string()))?;
                tokio::time::sleep(Duration::from_millis(sleep)).await;
                let fail_always = ctx.config.get("fail_always").and_then(Value::as_str)
                    == Some(ctx.phase.as_str());
                let fail_once = ctx.config.get("fail_once").and_then(Value::as_str)
                    == Some(ctx.phase.as_str())
                    && !already_failed(ctx).await;
                if fail_always || fail_once {
                    ctx.tasks
                        .fail(task, "the test step fails", TaskOutcome::default());
                    return Err(StepError::permanent(format!("{} failed", ctx.phase)));
                }
                ctx.tasks.succeed(
                    task,
                    TaskOutcome {
                        output: json!({"ok": true}),
                        tokens_used: Some(10),
                        api_calls_made: Some(1),
                        memory_used_mb: None,
                    },
                );
            }
            Ok(())
        })
    }
}

/// Whether this phase of this flow already failed once (in this process); records it if not.
async fn already_failed(ctx: &StepContext) -> bool {
    let mut failed = FAILED_ONCE.lock().unwrap();
    let key = (ctx.flow_id, ctx.phase.clone());
    if failed.contains(&key) {
        true
    } else {
        failed.push(key);
        false
    }
}

static FAILED_ONCE: std::sync::Mutex<Vec<(Uuid, String)>> = std::sync::Mutex::new(Vec::new());

/// The registry of the test binaries: the test pipeline (approval gate on `review`) and the
/// product types (without steps).
pub fn registry() -> FlowRegistry {
    let mut r = FlowRegistry::product();
    r.add_type(PIPELINE, PHASES);
    for phase in PHASES {
        r.set_step(PIPELINE, phase, Tasks, *phase == "review");
    }
    r
}

/// A client with an engagement and a user, created as the owner.
pub struct World {
    pub client: Uuid,
    pub engagement: Uuid,
    pub user: Uuid,
}

pub async fn world(owner: &PgPool, slug: &str) -> World {
    let (client,): (Uuid,) = sqlx::query_as(
        "INSERT INTO migration.client_accounts (name, slug) VALUES ($1, $1) RETURNING id",
    )
    .bind(slug)
    .fetch_one(owner)
    .await
    .unwrap();
    let (engagement,): (Uuid,) = sqlx::query_as(
        "INSERT INTO migration.engagements (client_account_id, name) VALUES ($1, 'E') RETURNING id",
    )
    .bind(client)
    .fetch_one(owner)
    .await
    .unwrap();
    let (user,): (Uuid,) = sqlx::query_as(
        "INSERT INTO migration.users (auth0_user_id, email) VALUES ($1, $1 || '@example.com') RETURNING id",
    )
    .bind(slug)
    .fetch_one(owner)
    .await
    .unwrap();
    World {
        client,
        engagement,
        user,
    }
}

pub fn scope(client: Uuid) -> TenantScope {
    TenantScope::Client {
        client_account_id: ClientAccountId(client),
        user_id: None,
    }
}

/// Creates (and starts) a test pipeline flow.
pub async fn create_pipeline(app: &PgPool, w: &World, config: Value) -> Uuid {
    let mut tx = modernize_db::tenant::begin(app, scope(w.client))
        .await
        .unwrap();
    let id = store::create(
        &mut tx,
        &NewFlow {
            client_account_id: w.client,
            engagement_id: w.engagement,
            user_id: w.user,
            flow_type: PIPELINE.into(),
            child: FlowType::Discovery,
            phases: PHASES.iter().map(|p| p.to_string()).collect(),
            display_name: Some("test".into()),
            config,
        },
        &Actor::user(w.user),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

pub async fn view(app: &PgPool, client: Uuid, flow: Uuid) -> FlowView {
    let mut tx = modernize_db::tenant::begin(app, scope(client))
        .await
        .unwrap();
    let v = store::get(&mut tx, client, None, flow)
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    // Master and child never drift apart.
    assert_eq!(
        Some(v.status.clone()),
        v.child_status,
        "master and child status"
    );
    v
}

/// Polls until the flow has `status`.
pub async fn wait_status(
    app: &PgPool,
    client: Uuid,
    flow: Uuid,
    status: &str,
    limit: Duration,
) -> FlowView {
    let start = Instant::now();
    loop {
        let v = view(app, client, flow).await;
        if v.status == status {
            return v;
        }
        assert!(
            start.elapsed() < limit,
            "flow {flow} did not become {status}: {} at {:?}",
            v.status,
            v.current_phase
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// (parent_task_id, task_type, status) of the flow's task rows, as the owner sees them.
pub async fn task_rows(owner: &PgPool, flow: Uuid) -> Vec<(String, String, String)> {
    sqlx::query_as(
        "SELECT parent_task_id, task_type, status FROM migration.agent_task_history \
          WHERE master_flow_id = $1 ORDER BY created_at, task_id",
    )
    .bind(flow)
    .fetch_all(owner)
    .await
    .unwrap()
}

/// Every task of every phase has exactly one `completed` row.
pub async fn assert_each_task_completed_once(owner: &PgPool, flow: Uuid) {
    let rows = task_rows(owner, flow).await;
    for phase in PHASES {
        for task in TASKS {
            let parent = format!("{flow}/{phase}");
            let n = rows
                .iter()
                .filter(|r| r.0 == parent && r.1 == *task && r.2 == "completed")
                .count();
            assert_eq!(n, 1, "{phase}/{task}: completed rows in {rows:?}");
        }
    }
}

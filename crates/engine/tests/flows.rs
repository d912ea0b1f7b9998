//! The flow engine with in-process workers and test-only flow types: phases in order, approval
//! gates, pause/resume (also across a worker restart), cancel, retry of a failed phase,
//! illegal transitions, product types waiting for their steps, task tracking and the daily
//! rollup.

mod flow_support;

use flow_support::*;
use modernize_engine::flows::store::{self, Actor};
use modernize_engine::flows::{FlowError, FlowRegistry, RunPhase, rollup};
use modernize_engine::queue::{Registry, Worker, WorkerConfig};
use modernize_testkit::TestDb;
use serde_json::{Value, json};
use sqlx::PgPool;
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

const LIMIT: Duration = Duration::from_secs(30);

struct RunningWorker {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl RunningWorker {
    async fn stop(self) {
        let _ = self.stop.send(());
        self.task.await.unwrap();
    }
}

fn start_worker(app: &PgPool, flows: FlowRegistry) -> RunningWorker {
    let mut registry = Registry::new();
    registry.register(RunPhase::new(flows));
    let config = WorkerConfig {
        concurrency: 2,
        lease: Duration::from_secs(5),
        poll_interval: Duration::from_millis(100),
        shutdown_grace: Duration::from_secs(10),
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let worker = Worker::new(app.clone(), registry, config);
    let task = tokio::spawn(async move {
        worker
            .run(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    RunningWorker { stop, task }
}

async fn act<F>(app: &PgPool, client: Uuid, f: F) -> Result<(), FlowError>
where
    F: for<'c> FnOnce(
        &'c mut sqlx::PgConnection,
    ) -> std::pin::Pin<
        Box<dyn std::future::Future<Output = Result<(), FlowError>> + Send + 'c>,
    >,
{
    let mut tx = modernize_db::tenant::begin(app, scope(client))
        .await
        .unwrap();
    let result = f(&mut tx).await;
    if result.is_ok() {
        tx.commit().await.unwrap();
    }
    result
}

fn history(v: &store::FlowView) -> Vec<(String, String, String, Option<String>)> {
    v.phase_history
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap().to_string(),
                e["from"].as_str().unwrap().to_string(),
                e["to"].as_str().unwrap().to_string(),
                e["phase"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_flow_runs_its_phases_waits_for_approval_and_completes() {
    let db = TestDb::new().await;
    let w = world(&db.owner, "alpha").await;
    let worker = start_worker(&db.app, registry());
    let flow = create_pipeline(&db.app, &w, json!({})).await;
    let v = wait_status(&db.app, w.client, flow, "waiting_for_approval", LIMIT).await;
    assert_eq!(v.current_phase.as_deref(), Some("review"));
    assert_eq!(v.progress_percent, 62.5, "2 done, review half of 4");
    let pending = v.pending_approval.clone().expect("an open approval");
    assert_eq!(pending.phase, "review");
    assert_eq!(v.child_flows.as_object().unwrap().len(), 1);
    assert!(v.child_flows.get("discovery").is_some());

    // Approving needs the flow to wait: a second approval of the same gate is refused later.
    act(&db.app, w.client, |c| {
        Box::pin(store::decide_approval(
            c,
            w.client,
            flow,
            w.user,
            true,
            Some("looks good"),
        ))
    })
    .await
    .unwrap();
    let v = wait_status(&db.app, w.client, flow, "completed", LIMIT).await;
    assert_eq!(v.progress_percent, 100.0);
    assert!(v.completed_at.is_some());
    assert!(
        v.phases.iter().all(|p| p.status == "completed"),
        "{:?}",
        v.phases
    );
    let approval = &v.approvals[0];
    assert_eq!(approval.decision.as_deref(), Some("approve"));
    assert_eq!(approval.decided_by, Some(w.user));
    assert_eq!(approval.comment.as_deref(), Some("looks good"));
    assert!(approval.decided_at.is_some());

    // The history is complete and ordered.
    let h = history(&v);
    let p = |from: &str, to: &str, phase: &str| {
        (
            "phase".to_string(),
            from.to_string(),
            to.to_string(),
            Some(phase.to_string()),
        )
    };
    let f = |from: &str, to: &str, phase: &str| {
        (
            "flow".to_string(),
            from.to_string(),
            to.to_string(),
            Some(phase.to_string()),
        )
    };
    assert_eq!(
        h,
        vec![
            f("initialized", "running", "prepare"),
            p("pending", "running", "prepare"),
            p("running", "completed", "prepare"),
            p("pending", "running", "work"),
            p("running", "completed", "work"),
            p("pending", "running", "review"),
            p("running", "waiting_for_approval", "review"),
            f("running", "waiting_for_approval", "review"),
            f("waiting_for_approval", "running", "review"),
            p("waiting_for_approval", "completed", "review"),
            p("pending", "running", "finish"),
            p("running", "completed", "finish"),
            f("running", "completed", "finish"),
        ]
    );
    for e in v.phase_history.as_array().unwrap() {
        assert!(
            e["at"].is_string() && e["by"].is_string() && e["reason"].is_string(),
            "{e}"
        );
    }
    let approver = format!("user:{}", w.user);
    assert!(
        v.phase_history
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["by"] == approver.as_str())
    );
    assert_each_task_completed_once(&db.owner, flow).await;

    // Illegal transitions are refused with the state machine's message, and change nothing.
    let err = act(&db.app, w.client, |c| {
        Box::pin(
            async move { store::resume(c, w.client, flow, &Actor::user(w.user), "again").await },
        )
    })
    .await
    .unwrap_err();
    assert_eq!(err.to_string(), "cannot resume a flow that is completed");
    for op in ["pause", "cancel", "retry"] {
        let err = act(&db.app, w.client, |c| {
            Box::pin(async move {
                let a = Actor::user(w.user);
                match op {
                    "pause" => store::pause(c, w.client, flow, &a, "x").await,
                    "cancel" => store::cancel(c, w.client, flow, &a, "x").await,
                    _ => store::retry_phase(c, w.client, flow, &a, "x").await,
                }
            })
        })
        .await
        .unwrap_err();
        assert!(matches!(err, FlowError::Illegal(_)), "{op}: {err}");
    }
    let err = act(&db.app, w.client, |c| {
        Box::pin(store::decide_approval(
            c, w.client, flow, w.user, true, None,
        ))
    })
    .await
    .unwrap_err();
    assert_eq!(err.to_string(), "cannot approve a flow that is completed");
    assert_eq!(history(&view(&db.app, w.client, flow).await).len(), h.len());

    // Events: one per change, ascending ids.
    let events: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, kind FROM migration.flow_events WHERE flow_id = $1 ORDER BY id")
            .bind(flow)
            .fetch_all(&db.owner)
            .await
            .unwrap();
    assert_eq!(events[0].1, "created");
    assert!(events.iter().any(|e| e.1 == "approval_requested"));
    assert!(events.iter().any(|e| e.1 == "approval_decided"));
    worker.stop().await;
}

#[tokio::test]
async fn pause_survives_a_worker_restart_and_resume_continues() {
    let db = TestDb::new().await;
    let w = world(&db.owner, "alpha").await;
    let worker = start_worker(&db.app, registry());
    let flow = create_pipeline(&db.app, &w, json!({"sleep_ms": 300})).await;
    // Pause while the first phase runs.
    tokio::time::sleep(Duration::from_millis(200)).await;
    act(&db.app, w.client, |c| {
        Box::pin(
            async move { store::pause(c, w.client, flow, &Actor::user(w.user), "hold on").await },
        )
    })
    .await
    .unwrap();
    let paused = view(&db.app, w.client, flow).await;
    assert_eq!(paused.status, "paused");
    // The worker is restarted; the flow stays paused.
    worker.stop().await;
    let worker = start_worker(&db.app, registry());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let still = view(&db.app, w.client, flow).await;
    assert_eq!(still.status, "paused");
    assert_eq!(
        still.current_phase, paused.current_phase,
        "no progress while paused"
    );
    // Pausing twice is illegal.
    let err = act(&db.app, w.client, |c| {
        Box::pin(
            async move { store::pause(c, w.client, flow, &Actor::user(w.user), "again").await },
        )
    })
    .await
    .unwrap_err();
    assert_eq!(err.to_string(), "cannot pause a flow that is paused");
    act(&db.app, w.client, |c| {
        Box::pin(
            async move { store::resume(c, w.client, flow, &Actor::user(w.user), "go on").await },
        )
    })
    .await
    .unwrap();
    wait_status(&db.app, w.client, flow, "waiting_for_approval", LIMIT).await;
    // Paused while waiting for approval, resumed: it waits for approval again.
    act(&db.app, w.client, |c| {
        Box::pin(async move { store::pause(c, w.client, flow, &Actor::user(w.user), "p").await })
    })
    .await
    .unwrap();
    act(&db.app, w.client, |c| {
        Box::pin(async move { store::resume(c, w.client, flow, &Actor::user(w.user), "r").await })
    })
    .await
    .unwrap();
    let v = view(&db.app, w.client, flow).await;
    assert_eq!(v.status, "waiting_for_approval");
    act(&db.app, w.client, |c| {
        Box::pin(store::decide_approval(
            c, w.client, flow, w.user, true, None,
        ))
    })
    .await
    .unwrap();
    wait_status(&db.app, w.client, flow, "completed", LIMIT).await;
    assert_each_task_completed_once(&db.owner, flow).await;
    worker.stop().await;
}

#[tokio::test]
async fn rejecting_fails_the_flow_and_a_failed_phase_can_be_retried() {
    let db = TestDb::new().await;
    let w = world(&db.owner, "alpha").await;
    let worker = start_worker(&db.app, registry());

    let rejected = create_pipeline(&db.app, &w, json!({})).await;
    wait_status(&db.app, w.client, rejected, "waiting_for_approval", LIMIT).await;
    act(&db.app, w.client, |c| {
        Box::pin(store::decide_approval(
            c,
            w.client,
            rejected,
            w.user,
            false,
            Some("no"),
        ))
    })
    .await
    .unwrap();
    let v = view(&db.app, w.client, rejected).await;
    assert_eq!(v.status, "failed");
    assert_eq!(v.approvals[0].decision.as_deref(), Some("reject"));
    assert_eq!(v.phases[2].status, "failed");

    let flaky = create_pipeline(&db.app, &w, json!({"fail_once": "work"})).await;
    let v = wait_status(&db.app, w.client, flaky, "failed", LIMIT).await;
    assert_eq!(v.current_phase.as_deref(), Some("work"));
    assert_eq!(v.phases[1].status, "failed");
    let resume = act(&db.app, w.client, |c| {
        Box::pin(async move { store::resume(c, w.client, flaky, &Actor::user(w.user), "x").await })
    })
    .await
    .unwrap_err();
    assert_eq!(resume.to_string(), "cannot resume a flow that is failed");
    act(&db.app, w.client, |c| {
        Box::pin(async move {
            store::retry_phase(c, w.client, flaky, &Actor::user(w.user), "retry").await
        })
    })
    .await
    .unwrap();
    wait_status(&db.app, w.client, flaky, "waiting_for_approval", LIMIT).await;
    act(&db.app, w.client, |c| {
        Box::pin(store::decide_approval(
            c, w.client, flaky, w.user, true, None,
        ))
    })
    .await
    .unwrap();
    wait_status(&db.app, w.client, flaky, "completed", LIMIT).await;
    assert_each_task_completed_once(&db.owner, flaky).await;
    let rows = task_rows(&db.owner, flaky).await;
    assert!(
        rows.iter().any(|r| r.2 == "failed"),
        "the failed task is recorded: {rows:?}"
    );

    // Cancel: from waiting_for_approval; afterwards nothing is accepted.
    let cancelled = create_pipeline(&db.app, &w, json!({})).await;
    wait_status(&db.app, w.client, cancelled, "waiting_for_approval", LIMIT).await;
    act(&db.app, w.client, |c| {
        Box::pin(async move {
            store::cancel(c, w.client, cancelled, &Actor::user(w.user), "stop").await
        })
    })
    .await
    .unwrap();
    let v = view(&db.app, w.client, cancelled).await;
    assert_eq!(v.status, "cancelled");
    assert!(v.pending_approval.is_none());
    let err = act(&db.app, w.client, |c| {
        Box::pin(
            async move { store::cancel(c, w.client, cancelled, &Actor::user(w.user), "x").await },
        )
    })
    .await
    .unwrap_err();
    assert_eq!(err.to_string(), "cannot cancel a flow that is cancelled");
    worker.stop().await;
}

/// Creates (and starts) a planning flow: a product flow type without registered steps.
async fn create_planning_flow(app: &PgPool, w: &World) -> Uuid {
    let mut tx = modernize_db::tenant::begin(app, scope(w.client))
        .await
        .unwrap();
    let t = modernize_domain::flow::FlowType::Planning;
    let flow = store::create(
        &mut tx,
        &store::NewFlow {
            client_account_id: w.client,
            engagement_id: w.engagement,
            user_id: w.user,
            flow_type: t.as_str().into(),
            child: t,
            phases: t.phases().iter().map(|p| p.to_string()).collect(),
            display_name: None,
            config: json!({}),
        },
        &Actor::user(w.user),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    flow
}

#[tokio::test]
async fn a_product_flow_without_steps_waits_at_its_first_phase() {
    let db = TestDb::new().await;
    let w = world(&db.owner, "alpha").await;
    let worker = start_worker(&db.app, FlowRegistry::product());
    let flow = create_planning_flow(&db.app, &w).await;
    let start = std::time::Instant::now();
    let v = loop {
        let v = view(&db.app, w.client, flow).await;
        if v.waiting_reason.is_some() {
            break v;
        }
        assert!(start.elapsed() < LIMIT);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(v.status, "running");
    assert_eq!(v.current_phase.as_deref(), Some("initialization"));
    assert!(
        v.phases.iter().all(|p| p.status == "pending"),
        "{:?}",
        v.phases
    );
    assert!(v.waiting_reason.unwrap().contains("no step is registered"));
    assert_eq!(v.progress_percent, 0.0);
    let (child_status,): (String,) =
        sqlx::query_as("SELECT status FROM migration.planning_flows WHERE master_flow_id = $1")
            .bind(flow)
            .fetch_one(&db.owner)
            .await
            .unwrap();
    assert_eq!(child_status, "running");
    worker.stop().await;
}

#[tokio::test]
async fn the_database_refuses_unknown_statuses() {
    let db = TestDb::new().await;
    let w = world(&db.owner, "alpha").await;
    let flow = create_pipeline(&db.app, &w, json!({})).await;
    let bad = sqlx::query(
        "UPDATE migration.crewai_flow_state_extensions SET status = 'done' WHERE flow_id = $1",
    )
    .bind(flow)
    .execute(&db.owner)
    .await
    .unwrap_err();
    assert!(
        bad.to_string()
            .contains("ck_crewai_flow_state_extensions_status"),
        "{bad}"
    );
    let bad = sqlx::query(
        "UPDATE migration.discovery_flows SET phases = '{\"x\": {\"status\": \"done\"}}' \
          WHERE master_flow_id = $1",
    )
    .bind(flow)
    .execute(&db.owner)
    .await
    .unwrap_err();
    assert!(
        bad.to_string().contains("ck_discovery_flows_phases"),
        "{bad}"
    );
}

async fn daily_rows(owner: &PgPool) -> Vec<Value> {
    let rows: Vec<(Value,)> = sqlx::query_as(
        "SELECT to_jsonb(d) - 'created_at' FROM migration.agent_performance_daily d \
          ORDER BY agent_name, flow_type",
    )
    .fetch_all(owner)
    .await
    .unwrap();
    rows.into_iter().map(|r| r.0).collect()
}

#[tokio::test]
async fn the_daily_rollup_is_exact_and_recomputes_identically() {
    let db = TestDb::new().await;
    let w = world(&db.owner, "alpha").await;
    let day = chrono::NaiveDate::from_ymd_opt(2026, 3, 10).unwrap();
    // Durations 1..=100 s for agent a (flow type t): p50 = 50.5, p95 = 95.05, p99 = 99.01.
    for i in 1..=100 {
        let status = if i % 10 == 0 { "failed" } else { "completed" };
        // Tasks 1..=5 ran twice (same parent and type): 5 retries in 105 executions.
        sqlx::query(
            "INSERT INTO migration.agent_task_history (task_id, parent_task_id, task_type, \
                 client_account_id, agent_name, flow_type, status, duration_seconds, tokens_used, \
                 api_calls_made, created_at) \
             VALUES ($1, 'p', $2, $3, 'a', 't', $4, $5, 100, 2, '2026-03-10T12:00:00Z')",
        )
        .bind(format!("task-{i}"))
        .bind(format!("k{i}"))
        .bind(w.client)
        .bind(status)
        .bind(f64::from(i))
        .execute(&db.owner)
        .await
        .unwrap();
    }
    for i in 1..=5 {
        sqlx::query(
            "INSERT INTO migration.agent_task_history (task_id, parent_task_id, task_type, \
                 client_account_id, agent_name, flow_type, status, created_at) \
             VALUES ($1, 'p', $2, $3, 'a', 't', 'interrupted', '2026-03-10T23:59:59Z')",
        )
        .bind(format!("again-{i}"))
        .bind(format!("k{i}"))
        .bind(w.client)
        .execute(&db.owner)
        .await
        .unwrap();
    }
    // Another day and another agent without flow type; cost through llm_usage_log.
    sqlx::query(
        "INSERT INTO migration.agent_task_history (task_id, agent_name, status, duration_seconds, created_at) \
         VALUES ('other-day', 'a', 'completed', 7, '2026-03-11T00:00:00Z'), \
                ('b-1', 'b', 'completed', 2, '2026-03-10T00:00:00Z')",
    )
    .execute(&db.owner)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO migration.llm_usage_log (task_id, provider, model, prompt_tokens, \
             completion_tokens, total_tokens, total_cost) \
         VALUES ('task-1', 'openai', 'm', 1, 1, 2, 0.125), ('task-2', 'openai', 'm', 1, 1, 2, 0.25)",
    )
    .execute(&db.owner)
    .await
    .unwrap();
    // A stale row of a group that no longer exists is removed by the recomputation.
    sqlx::query("INSERT INTO migration.agent_performance_daily (date, agent_name) VALUES ('2026-03-10', 'gone')")
        .execute(&db.owner)
        .await
        .unwrap();

    assert_eq!(rollup::recompute_day(&db.app, day).await.unwrap(), 2);
    let first = daily_rows(&db.owner).await;
    assert_eq!(rollup::recompute_day(&db.app, day).await.unwrap(), 2);
    let second = daily_rows(&db.owner).await;
    assert_eq!(first, second, "recomputation gives the same rows");
    assert_eq!(first.len(), 2);
    let a = &first[0];
    assert_eq!(a["agent_name"], "a");
    assert_eq!(a["flow_type"], "t");
    assert_eq!(a["total_tasks"], 105);
    assert_eq!(a["successful_tasks"], 90);
    assert_eq!(a["failed_tasks"], 15);
    assert_eq!(a["avg_duration_seconds"], 50.5);
    assert_eq!(a["p50_duration_seconds"], 50.5);
    assert!(
        (a["p95_duration_seconds"].as_f64().unwrap() - 95.05).abs() < 1e-9,
        "{a}"
    );
    assert!(
        (a["p99_duration_seconds"].as_f64().unwrap() - 99.01).abs() < 1e-9,
        "{a}"
    );
    assert_eq!(a["total_tokens_used"], 10000);
    assert_eq!(a["total_api_calls"], 200);
    assert_eq!(a["total_cost"], 0.375);
    assert!((a["error_rate"].as_f64().unwrap() - 15.0 / 105.0).abs() < 1e-12);
    assert!((a["retry_rate"].as_f64().unwrap() - 5.0 / 105.0).abs() < 1e-12);
    let b = &first[1];
    assert_eq!(b["agent_name"], "b");
    assert_eq!(b["flow_type"], Value::Null);
    assert_eq!(b["total_tasks"], 1);
}

#[tokio::test]
async fn the_rollup_job_is_scheduled_once_and_reschedules_itself() {
    let db = TestDb::new().await;
    rollup::ensure_scheduled(&db.app).await.unwrap();
    rollup::ensure_scheduled(&db.app).await.unwrap();
    let count = |status: &'static str| {
        let owner = db.owner.clone();
        async move {
            let (n,): (i64,) = sqlx::query_as(
                "SELECT count(*) FROM migration.jobs WHERE kind = 'agents.rollup_daily' AND status = $1",
            )
            .bind(status)
            .fetch_one(&owner)
            .await
            .unwrap();
            n
        }
    };
    assert_eq!(count("queued").await, 1, "scheduled once");
    let mut registry = Registry::new();
    registry.register(rollup::RollupDaily);
    let (stop, stopped) = oneshot::channel::<()>();
    let worker = Worker::new(
        db.app.clone(),
        registry,
        WorkerConfig {
            concurrency: 1,
            lease: Duration::from_secs(5),
            poll_interval: Duration::from_millis(100),
            shutdown_grace: Duration::from_secs(5),
        },
    );
    let task = tokio::spawn(async move {
        worker
            .run(async {
                let _ = stopped.await;
            })
            .await
            .unwrap()
    });
    let start = std::time::Instant::now();
    while count("succeeded").await < 1 {
        assert!(start.elapsed() < LIMIT);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(());
    task.await.unwrap();
    let (next,): (bool,) = sqlx::query_as(
        "SELECT run_at > now() + interval '50 minutes' FROM migration.jobs \
          WHERE kind = 'agents.rollup_daily' AND status = 'queued'",
    )
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert!(next, "the next run is an hour later");
}

const DECIDE: &str = "test.decide";

/// A step that asks for a decision on its first run (task `propose`) and applies it when it
/// runs again after the approval (task `apply`, output naming the approver).
struct Decide;

impl modernize_engine::flows::Step for Decide {
    fn run<'a>(
        &'a self,
        ctx: &'a mut modernize_engine::flows::StepContext,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<Output = Result<(), modernize_engine::flows::StepError>>
                + Send
                + 'a,
        >,
    > {
        Box::pin(async move {
            use modernize_engine::flows::tracking::{TaskOutcome, TaskSpec};
            let approved = ctx.approved_by;
            let task_type = if approved.is_some() {
                "apply"
            } else {
                "propose"
            };
            let task = ctx
                .tasks
                .start(TaskSpec {
                    agent_name: "review_agent".into(),
                    task_type: task_type.into(),
                    ..TaskSpec::default()
                })
                .await
                .map_err(|e| modernize_engine::flows::StepError::retryable(e.to_string()))?;
            ctx.tasks.succeed(task, TaskOutcome::default());
            match approved {
                None => {
                    ctx.set_output(json!({"pending": 2}));
                    ctx.await_decision("2 items need review");
                }
                Some(user) => ctx.set_output(json!({"applied_by": user})),
            }
            Ok(())
        })
    }
}

fn decide_registry() -> FlowRegistry {
    let mut r = registry();
    r.add_type(DECIDE, &["gather", "decide", "finish"]);
    r.set_step(DECIDE, "gather", Tasks, false);
    r.set_step(DECIDE, "decide", Decide, false);
    r.set_step(DECIDE, "finish", Tasks, false);
    r
}

async fn create_decide(app: &PgPool, w: &World) -> Uuid {
    let mut tx = modernize_db::tenant::begin(app, scope(w.client))
        .await
        .unwrap();
    let id = store::create(
        &mut tx,
        &store::NewFlow {
            client_account_id: w.client,
            engagement_id: w.engagement,
            user_id: w.user,
            flow_type: DECIDE.into(),
            child: modernize_domain::flow::FlowType::Discovery,
            phases: ["gather", "decide", "finish"].map(String::from).to_vec(),
            display_name: None,
            config: json!({}),
        },
        &Actor::user(w.user),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

#[tokio::test]
async fn a_step_may_ask_for_a_decision_and_runs_again_once_approved() {
    let db = TestDb::new().await;
    let w = world(&db.owner, "alpha").await;
    let worker = start_worker(&db.app, decide_registry());
    let flow = create_decide(&db.app, &w).await;
    let v = wait_status(&db.app, w.client, flow, "waiting_for_approval", LIMIT).await;
    assert_eq!(v.current_phase.as_deref(), Some("decide"));
    assert_eq!(v.phases[1].status, "waiting_for_approval");
    assert_eq!(v.waiting_reason.as_deref(), Some("2 items need review"));
    let pending = v.pending_approval.clone().expect("an open decision gate");
    assert_eq!(
        (pending.gate.as_str(), pending.reason.as_deref()),
        ("decision", Some("2 items need review"))
    );
    assert_eq!(v.phase_results["decide"], json!({"pending": 2}));
    // Paused and resumed while waiting: it waits for the same decision again.
    for op in ["pause", "resume"] {
        act(&db.app, w.client, |c| {
            Box::pin(async move {
                let a = Actor::user(w.user);
                match op {
                    "pause" => store::pause(c, w.client, flow, &a, "p").await,
                    _ => store::resume(c, w.client, flow, &a, "r").await,
                }
            })
        })
        .await
        .unwrap();
    }
    let v = view(&db.app, w.client, flow).await;
    assert_eq!(v.status, "waiting_for_approval");
    assert_eq!(v.waiting_reason.as_deref(), Some("2 items need review"));

    act(&db.app, w.client, |c| {
        Box::pin(store::decide_approval(
            c,
            w.client,
            flow,
            w.user,
            true,
            Some("go"),
        ))
    })
    .await
    .unwrap();
    // Approving a decision gate does not complete the phase: the phase runs again.
    let right_after = view(&db.app, w.client, flow).await;
    assert_eq!(right_after.current_phase.as_deref(), Some("decide"));
    assert_ne!(right_after.phases[1].status, "completed");
    assert!(right_after.waiting_reason.is_none());
    let v = wait_status(&db.app, w.client, flow, "completed", LIMIT).await;
    assert_eq!(
        v.phase_results["decide"],
        json!({"applied_by": w.user}),
        "the second run knows its approver and replaced the result"
    );
    let h = history(&v);
    let decide: Vec<(String, String)> = h
        .iter()
        .filter(|e| e.0 == "phase" && e.3.as_deref() == Some("decide"))
        .map(|e| (e.1.clone(), e.2.clone()))
        .collect();
    let pair = |a: &str, b: &str| (a.to_string(), b.to_string());
    assert_eq!(
        decide,
        vec![
            pair("pending", "running"),
            pair("running", "waiting_for_approval"),
            pair("waiting_for_approval", "running"),
            pair("running", "running"),
            pair("running", "completed"),
        ]
    );
    assert_eq!(v.approvals.len(), 1);
    assert_eq!(v.approvals[0].decision.as_deref(), Some("approve"));
    // Both runs' tasks count once each.
    let rows = task_rows(&db.owner, flow).await;
    let parent = format!("{flow}/decide");
    for task in ["propose", "apply"] {
        let n = rows
            .iter()
            .filter(|r| r.0 == parent && r.1 == task && r.2 == "completed")
            .count();
        assert_eq!(n, 1, "{task}: {rows:?}");
    }
    let events: Vec<(String, Value)> = sqlx::query_as(
        "SELECT kind, payload FROM migration.flow_events WHERE flow_id = $1 ORDER BY id",
    )
    .bind(flow)
    .fetch_all(&db.owner)
    .await
    .unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.0 == "approval_requested" && e.1["gate"] == "decision"),
        "{events:?}"
    );

    // Rejecting a decision fails the phase and the flow; a retry asks again.
    let rejected = create_decide(&db.app, &w).await;
    wait_status(&db.app, w.client, rejected, "waiting_for_approval", LIMIT).await;
    act(&db.app, w.client, |c| {
        Box::pin(store::decide_approval(
            c,
            w.client,
            rejected,
            w.user,
            false,
            Some("no"),
        ))
    })
    .await
    .unwrap();
    let v = view(&db.app, w.client, rejected).await;
    assert_eq!(v.status, "failed");
    assert_eq!(v.phases[1].status, "failed");
    assert!(v.waiting_reason.is_none());
    act(&db.app, w.client, |c| {
        Box::pin(async move {
            store::retry_phase(c, w.client, rejected, &Actor::user(w.user), "again").await
        })
    })
    .await
    .unwrap();
    let v = wait_status(&db.app, w.client, rejected, "waiting_for_approval", LIMIT).await;
    assert_eq!(v.pending_approval.unwrap().gate, "decision");
    worker.stop().await;
}

#[tokio::test]
async fn a_reader_never_sees_master_and_child_apart_while_the_flow_changes() {
    let db = TestDb::new().await;
    let w = world(&db.owner, "alpha").await;
    let flow = create_planning_flow(&db.app, &w).await;
    // One task pauses and resumes the flow as fast as it can; readers look at it meanwhile.
    // `view` asserts that the master and child statuses agree.
    let app = db.app.clone();
    let client = w.client;
    let user = w.user;
    let writer = tokio::spawn(async move {
        for _ in 0..150 {
            for pause in [true, false] {
                act(&app, client, |c| {
                    Box::pin(async move {
                        if pause {
                            store::pause(c, client, flow, &Actor::user(user), "test").await
                        } else {
                            store::resume(c, client, flow, &Actor::user(user), "test").await
                        }
                    })
                })
                .await
                .unwrap();
            }
        }
    });
    let mut seen = std::collections::BTreeSet::new();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let app = db.app.clone();
            tokio::spawn(async move {
                let mut seen = std::collections::BTreeSet::new();
                for _ in 0..300 {
                    seen.insert(view(&app, client, flow).await.status);
                }
                seen
            })
        })
        .collect();
    for r in readers {
        seen.extend(r.await.unwrap());
    }
    writer.await.unwrap();
    assert!(seen.is_subset(&["paused".to_string(), "running".to_string()].into()));
}

//! Crash test of a flow with two worker *processes*: the one running a phase step is killed
//! with SIGKILL in the middle of a task. The phase is claimed again after the lease by the
//! other worker, the flow completes, and each task has exactly one successful
//! (`completed`) agent_task_history row. Then a pause survives a restart of every worker
//! process, and the resumed flow continues.
//!
//! The worker processes are this test binary re-executed (`worker_process` runs a worker with
//! the test-only flow types when `MODERNIZE_FLOW_WORKER_DB` is set), so test flow types never
//! enter the product binary.

mod flow_support;

use flow_support::*;
use modernize_engine::flows::RunPhase;
use modernize_engine::flows::store::{self, Actor};
use modernize_engine::queue::{Registry, Worker, WorkerConfig};
use modernize_testkit::TestDb;
use modernize_testkit::process::{ChildGuard, spawn_test};
use serde_json::json;
use std::time::{Duration, Instant};

const WORKER_ENV: &str = "MODERNIZE_FLOW_WORKER_DB";
const LIMIT: Duration = Duration::from_secs(60);

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
    let mut jobs = Registry::new();
    jobs.register(RunPhase::new(registry()));
    let config = WorkerConfig {
        concurrency: 1,
        lease: Duration::from_secs(2),
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

/// The pid of the worker running the flow's phase job with a task in progress.
async fn worker_mid_task(db: &TestDb, flow: uuid::Uuid) -> u32 {
    let start = Instant::now();
    loop {
        let row: Option<(String,)> = sqlx::query_as(
            "SELECT j.locked_by FROM migration.jobs j \
              WHERE j.kind = 'flow.run_phase' AND j.status = 'running' \
                AND (j.input->>'flow_id')::uuid = $1 \
                AND EXISTS (SELECT 1 FROM migration.agent_task_history h \
                             WHERE h.master_flow_id = $1 AND h.status = 'running')",
        )
        .bind(flow)
        .fetch_optional(&db.owner)
        .await
        .unwrap();
        if let Some((locked_by,)) = row {
            // worker-<pid>-<suffix>
            return locked_by.split('-').nth(1).unwrap().parse().unwrap();
        }
        assert!(start.elapsed() < LIMIT, "no task started");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_flow_survives_a_sigkilled_worker_and_each_task_succeeds_once() {
    let db = TestDb::new().await;
    let w = world(&db.owner, "alpha").await;
    let mut workers = vec![spawn_worker(&db), spawn_worker(&db)];
    let flow = create_pipeline(&db.app, &w, json!({"sleep_ms": 1200})).await;

    // Kill the worker running the first phase, in the middle of a task.
    let pid = worker_mid_task(&db, flow).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let victim = workers
        .iter()
        .position(|p| p.pid() == pid)
        .expect("one of ours");
    let mut killed = workers.remove(victim);
    killed.sigkill();
    let killed_at = Instant::now();

    // The other worker takes the phase over after the lease and the flow reaches its gate.
    let v = wait_status(&db.app, w.client, flow, "waiting_for_approval", LIMIT).await;
    assert!(
        killed_at.elapsed() >= Duration::from_secs(2),
        "not before the lease expired"
    );
    assert_eq!(v.current_phase.as_deref(), Some("review"));
    let rows = task_rows(&db.owner, flow).await;
    assert!(
        rows.iter().any(|r| r.2 == "interrupted"),
        "the killed run's task is marked interrupted: {rows:?}"
    );

    // Approve, then pause while the last phase runs.
    let mut tx = modernize_db::tenant::begin(&db.app, scope(w.client))
        .await
        .unwrap();
    store::decide_approval(&mut tx, w.client, flow, w.user, true, None)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    worker_mid_task(&db, flow).await;
    let mut tx = modernize_db::tenant::begin(&db.app, scope(w.client))
        .await
        .unwrap();
    store::pause(&mut tx, w.client, flow, &Actor::user(w.user), "maintenance")
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Every worker process dies; new ones start; the flow stays paused.
    for mut p in workers.drain(..) {
        p.sigkill();
    }
    let _again = [spawn_worker(&db), spawn_worker(&db)];
    tokio::time::sleep(Duration::from_secs(4)).await;
    let v = view(&db.app, w.client, flow).await;
    assert_eq!(v.status, "paused");
    assert_eq!(v.current_phase.as_deref(), Some("finish"));

    let mut tx = modernize_db::tenant::begin(&db.app, scope(w.client))
        .await
        .unwrap();
    store::resume(&mut tx, w.client, flow, &Actor::user(w.user), "done")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    wait_status(&db.app, w.client, flow, "completed", LIMIT).await;
    assert_each_task_completed_once(&db.owner, flow).await;
    let (done_jobs,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM migration.jobs WHERE kind = 'flow.run_phase' AND status <> 'succeeded'",
    )
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!(done_jobs, 0, "no job left behind");
}

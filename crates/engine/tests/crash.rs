//! Crash test: a worker *process* is killed with SIGKILL in the middle of a job. The job is
//! claimed again by another worker process once the lease expires, completes once, and its
//! database effect happens once.
//!
//! The worker processes are this test binary re-executed: `worker_process` does nothing in a
//! normal run, and runs a queue worker (with the test-only job kinds of `support`) when
//! `MODERNIZE_CRASH_WORKER_DB` names a database. So test job kinds never enter the product
//! binary.

mod support;

use modernize_engine::queue::{self, Registry, Worker, WorkerConfig};
use modernize_testkit::TestDb;
use modernize_testkit::process::{ChildGuard, spawn_test};
use nix::sys::signal::Signal;
use std::time::{Duration, Instant};
use support::*;

const WORKER_ENV: &str = "MODERNIZE_CRASH_WORKER_DB";

/// The entry point of a spawned worker process (a no-op when run as a normal test).
#[tokio::test]
async fn worker_process() {
    let Ok(url) = std::env::var(WORKER_ENV) else {
        return;
    };
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(4)
        .connect(&url)
        .await
        .expect("worker connects");
    let mut registry = Registry::new();
    registry.register(Record);
    let config = WorkerConfig {
        concurrency: 1,
        lease: Duration::from_secs(2),
        poll_interval: Duration::from_millis(200),
        shutdown_grace: Duration::from_secs(5),
    };
    let mut term =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).unwrap();
    Worker::new(pool, registry, config)
        .run(async move {
            term.recv().await;
        })
        .await
        .expect("worker runs");
}

fn spawn_worker(db: &TestDb) -> ChildGuard {
    spawn_test("worker_process", (WORKER_ENV, &db.app_url()))
}

async fn effects(db: &TestDb, job: uuid::Uuid) -> Vec<(i32,)> {
    sqlx::query_as("SELECT attempt FROM public.effects WHERE job_id = $1")
        .bind(job)
        .fetch_all(&db.owner)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_job_whose_worker_was_killed_runs_again_after_the_lease_and_takes_effect_once() {
    let db = TestDb::new().await;
    create_effects_table(&db.owner).await;
    let mut tx = platform(&db.app).await;
    let id = queue::enqueue::<Record>(&mut tx, None, &RecordInput { sleep_ms: 3000 })
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut first = spawn_worker(&db);
    let state = wait_for_status(&db.owner, id, "running", Duration::from_secs(30)).await;
    assert_eq!(
        state,
        ("running".into(), 1),
        "the first worker claimed the job"
    );
    // Mid-task: the handler sleeps 3 s before writing its effect.
    tokio::time::sleep(Duration::from_millis(700)).await;
    first.sigkill();
    let killed_at = Instant::now();
    assert_eq!(job_state(&db.owner, id).await, ("running".into(), 1));
    assert!(
        effects(&db, id).await.is_empty(),
        "no effect from the killed attempt"
    );

    let mut second = spawn_worker(&db);
    let state = wait_for_status(&db.owner, id, "succeeded", Duration::from_secs(30)).await;
    assert_eq!(
        state,
        ("succeeded".into(), 2),
        "claimed again and completed"
    );
    assert!(
        killed_at.elapsed() >= Duration::from_secs(2),
        "not before the lease expired: {:?}",
        killed_at.elapsed()
    );
    assert_eq!(
        effects(&db, id).await,
        vec![(2,)],
        "the effect happened once, in attempt 2"
    );

    second.signal(Signal::SIGTERM);
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = second.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the worker stops on SIGTERM");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status:?}");
    assert_eq!(effects(&db, id).await.len(), 1);
}

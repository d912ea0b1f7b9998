//! The job queue against a real database: enqueue in the caller's transaction, claims, leases,
//! retries, dead jobs, NOTIFY wake-ups, fairness between clients and graceful shutdown.

mod support;

use modernize_engine::queue::{
    self, EnqueueOptions, JobError, QueueError, Registry, RetryPolicy, Worker, WorkerConfig,
};
use modernize_testkit::TestDb;
use std::time::{Duration, Instant};
use support::*;
use tokio::sync::oneshot;

fn kinds(names: &[&str]) -> Vec<String> {
    names.iter().map(|s| s.to_string()).collect()
}

const LEASE: Duration = Duration::from_secs(30);

fn config(poll_ms: u64) -> WorkerConfig {
    WorkerConfig {
        concurrency: 2,
        lease: Duration::from_secs(3),
        poll_interval: Duration::from_millis(poll_ms),
        shutdown_grace: Duration::from_secs(5),
    }
}

/// Starts a worker; the returned sender stops it, the handle reports its end.
fn start(
    db: &TestDb,
    registry: Registry,
    config: WorkerConfig,
) -> (
    oneshot::Sender<()>,
    tokio::task::JoinHandle<Result<(), QueueError>>,
) {
    let (stop, stopped) = oneshot::channel::<()>();
    let worker = Worker::new(db.app.clone(), registry, config);
    let handle = tokio::spawn(worker.run(async {
        let _ = stopped.await;
    }));
    (stop, handle)
}

#[tokio::test]
async fn enqueue_follows_the_callers_transaction() {
    let db = TestDb::new().await;
    let qp = queue::QueuePool::new(&db.app, 4);
    let client = create_client(&db.owner, "acme").await;

    let mut tx = tenant(&db.app, client).await;
    let rolled_back = queue::enqueue::<Noop>(&mut tx, Some(client), &serde_json::json!({}))
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM migration.jobs")
        .fetch_one(&db.owner)
        .await
        .unwrap();
    assert_eq!(
        count, 0,
        "a rolled back enqueue leaves no job ({rolled_back})"
    );

    let mut tx = tenant(&db.app, client).await;
    let id = queue::enqueue::<Noop>(&mut tx, Some(client), &serde_json::json!({"n": 1}))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let job = queue::claim_next(&qp, "w1", &kinds(&["test.noop"]), LEASE)
        .await
        .unwrap()
        .expect("the committed job is claimed");
    assert_eq!(job.id, id);
    assert_eq!(job.client_account_id, Some(client));
    assert_eq!(job.attempt, 1);
    assert_eq!(job.input, serde_json::json!({"n": 1}));
    assert!(
        queue::claim_next(&qp, "w2", &kinds(&["test.noop"]), LEASE)
            .await
            .unwrap()
            .is_none(),
        "a claimed job is not claimed twice"
    );
    let mut tx = platform(&db.app).await;
    queue::complete(&mut *tx, &job).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(job_state(&db.owner, id).await, ("succeeded".into(), 1));
}

#[tokio::test]
async fn jobs_are_isolated_between_tenants_and_only_registered_kinds_are_claimed() {
    let db = TestDb::new().await;
    let qp = queue::QueuePool::new(&db.app, 4);
    let a = create_client(&db.owner, "alpha").await;
    let b = create_client(&db.owner, "beta").await;
    let mut tx = tenant(&db.app, a).await;
    queue::enqueue::<Noop>(&mut tx, Some(a), &serde_json::json!({}))
        .await
        .unwrap();
    tx.commit().await.unwrap();

    // Tenant B neither sees A's job nor can enqueue for A or for the platform.
    let mut tx = tenant(&db.app, b).await;
    let (visible,): (i64,) = sqlx::query_as("SELECT count(*) FROM migration.jobs")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(visible, 0);
    assert!(
        queue::enqueue::<Noop>(&mut tx, Some(a), &serde_json::json!({}))
            .await
            .is_err()
    );
    tx.rollback().await.unwrap();
    let mut tx = tenant(&db.app, b).await;
    assert!(
        queue::enqueue::<Noop>(&mut tx, None, &serde_json::json!({}))
            .await
            .is_err()
    );
    tx.rollback().await.unwrap();

    assert!(
        queue::claim_next(&qp, "w", &kinds(&["test.other"]), LEASE)
            .await
            .unwrap()
            .is_none(),
        "a worker claims only kinds it knows"
    );
    assert!(
        queue::claim_next(&qp, "w", &kinds(&["test.noop"]), LEASE)
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn failed_attempts_back_off_with_growing_jittered_delays_then_the_job_is_dead() {
    let db = TestDb::new().await;
    let qp = queue::QueuePool::new(&db.app, 4);
    let mut tx = platform(&db.app).await;
    let id = queue::enqueue_with::<Noop>(
        &mut tx,
        None,
        &serde_json::json!({}),
        EnqueueOptions {
            max_attempts: Some(4),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let policy = RetryPolicy {
        base: Duration::from_secs(10),
        max: Duration::from_secs(3600),
        jitter: 0.25,
    };

    let mut delays = Vec::new();
    for attempt in 1..=4 {
        let job = queue::claim_next(&qp, "w", &kinds(&["test.noop"]), LEASE)
            .await
            .unwrap()
            .expect("due");
        assert_eq!(job.attempt, attempt);
        let dead = queue::fail(
            &qp,
            &job,
            &JobError::retryable(format!("error {attempt}")),
            &policy,
        )
        .await
        .unwrap();
        assert_eq!(dead, attempt == 4);
        // run_at and updated_at are both now() of the failing transaction.
        let (status, delay): (String, f64) = sqlx::query_as(
            "SELECT status::text, extract(epoch FROM run_at - updated_at)::float8 FROM migration.jobs WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&db.owner)
        .await
        .unwrap();
        if attempt < 4 {
            assert_eq!(status, "queued");
            assert!(
                queue::claim_next(&qp, "w", &kinds(&["test.noop"]), LEASE)
                    .await
                    .unwrap()
                    .is_none(),
                "not due before its backoff"
            );
            let nominal = 10.0 * f64::from(1 << (attempt - 1));
            assert!(
                delay <= nominal + 0.001 && delay >= nominal * 0.75 - 0.001,
                "attempt {attempt}: {delay}"
            );
            delays.push(delay);
            // Make it due now instead of waiting.
            sqlx::query("UPDATE migration.jobs SET run_at = now() WHERE id = $1")
                .bind(id)
                .execute(&db.owner)
                .await
                .unwrap();
        } else {
            assert_eq!(status, "dead");
        }
    }
    assert!(
        delays.windows(2).all(|w| w[1] > w[0]),
        "growing: {delays:?}"
    );

    let mut tx = platform(&db.app).await;
    let dead = queue::list_dead(&mut tx, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].id, id);
    assert_eq!(dead[0].attempts, 4);
    assert_eq!(dead[0].last_error.as_deref(), Some("error 4"));
    let history = dead[0].error_history.as_array().unwrap();
    assert_eq!(history.len(), 4);
    assert_eq!(history[0]["attempt"], 1);
    assert_eq!(history[0]["error"], "error 1");
    assert_eq!(history[3]["attempt"], 4);
}

#[tokio::test]
async fn a_worker_retries_a_failing_job_until_it_is_dead_with_its_error_kept() {
    let db = TestDb::new().await;
    let client = create_client(&db.owner, "acme").await;
    let mut tx = tenant(&db.app, client).await;
    let id = queue::enqueue::<Failing>(&mut tx, Some(client), &serde_json::json!({}))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut registry = Registry::new();
    registry.register(Failing);
    let (stop, handle) = start(&db, registry, config(100));
    let state = wait_for_status(&db.owner, id, "dead", Duration::from_secs(20)).await;
    assert_eq!(state, ("dead".into(), 3));
    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();

    // The tenant sees its own dead job, with the last error and the history.
    let mut tx = tenant(&db.app, client).await;
    let dead = queue::list_dead(&mut tx, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].last_error.as_deref(), Some("boom in attempt 3"));
    assert_eq!(dead[0].error_history.as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn an_expired_lease_is_claimed_again_and_the_old_holder_can_no_longer_finish() {
    let db = TestDb::new().await;
    let qp = queue::QueuePool::new(&db.app, 4);
    let mut tx = platform(&db.app).await;
    let id = queue::enqueue::<Noop>(&mut tx, None, &serde_json::json!({}))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let first = queue::claim_next(&qp, "w1", &kinds(&["test.noop"]), Duration::from_secs(1))
        .await
        .unwrap()
        .unwrap();
    assert!(
        queue::reap_expired(&qp).await.unwrap().is_empty(),
        "lease still valid"
    );
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_eq!(queue::reap_expired(&qp).await.unwrap(), vec![id]);
    let second = queue::claim_next(&qp, "w2", &kinds(&["test.noop"]), LEASE)
        .await
        .unwrap()
        .expect("claimed again after the lease expired");
    assert_eq!(second.id, id);
    assert_eq!(second.attempt, 2);
    assert_ne!(second.lease_token, first.lease_token);

    // The first worker wakes up late: everything it tries is rejected.
    let mut tx = platform(&db.app).await;
    assert!(matches!(
        queue::complete(&mut *tx, &first).await,
        Err(QueueError::LeaseLost(_))
    ));
    tx.rollback().await.unwrap();
    assert!(matches!(
        queue::heartbeat(&qp, &first, LEASE).await,
        Err(QueueError::LeaseLost(_))
    ));
    assert!(matches!(
        queue::fail(
            &qp,
            &first,
            &JobError::retryable("late"),
            &RetryPolicy::default()
        )
        .await,
        Err(QueueError::LeaseLost(_))
    ));
    assert!(matches!(
        queue::release(&qp, &first).await,
        Err(QueueError::LeaseLost(_))
    ));

    let mut tx = platform(&db.app).await;
    queue::complete(&mut *tx, &second).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(job_state(&db.owner, id).await, ("succeeded".into(), 2));
    let (history,): (serde_json::Value,) =
        sqlx::query_as("SELECT error_history FROM migration.jobs WHERE id = $1")
            .bind(id)
            .fetch_one(&db.owner)
            .await
            .unwrap();
    assert!(
        history[0]["error"]
            .as_str()
            .unwrap()
            .contains("lease expired"),
        "{history}"
    );
}

#[tokio::test]
async fn heartbeats_extend_the_lease_so_a_long_job_is_not_taken_away() {
    let db = TestDb::new().await;
    let qp = queue::QueuePool::new(&db.app, 4);
    create_effects_table(&db.owner).await;
    let mut tx = platform(&db.app).await;
    let id = queue::enqueue::<Noop>(&mut tx, None, &serde_json::json!({}))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let job = queue::claim_next(&qp, "w", &kinds(&["test.noop"]), Duration::from_secs(2))
        .await
        .unwrap()
        .unwrap();
    queue::heartbeat(&qp, &job, Duration::from_secs(600))
        .await
        .unwrap();
    let (left,): (f64,) = sqlx::query_as(
        "SELECT extract(epoch FROM lease_expires_at - now())::float8 FROM migration.jobs WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert!(left > 500.0, "lease extended: {left}");

    // A worker with a 2 s lease runs a 4 s job: heartbeats keep it, even with a second worker
    // reaping and claiming all the time.
    let mut tx = platform(&db.app).await;
    let long = queue::enqueue::<Record>(&mut tx, None, &RecordInput { sleep_ms: 4000 })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let short_lease = WorkerConfig {
        lease: Duration::from_secs(2),
        ..config(100)
    };
    let mut registry = Registry::new();
    registry.register(Record);
    let (stop1, handle1) = start(&db, registry.clone(), short_lease.clone());
    let (stop2, handle2) = start(&db, registry, short_lease);
    let state = wait_for_status(&db.owner, long, "succeeded", Duration::from_secs(20)).await;
    assert_eq!(
        state,
        ("succeeded".into(), 1),
        "one attempt, never reclaimed"
    );
    let (effects,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM public.effects WHERE job_id = $1")
            .bind(long)
            .fetch_one(&db.owner)
            .await
            .unwrap();
    assert_eq!(effects, 1);
    stop1.send(()).unwrap();
    stop2.send(()).unwrap();
    handle1.await.unwrap().unwrap();
    handle2.await.unwrap().unwrap();
}

#[tokio::test]
async fn notify_wakes_an_idle_worker_long_before_its_poll_interval() {
    let db = TestDb::new().await;
    create_effects_table(&db.owner).await;
    let mut registry = Registry::new();
    registry.register(Record);
    let (stop, handle) = start(&db, registry, config(30_000));
    // Wait until the worker's listener has run LISTEN (a wake-up sent before that is lost by
    // design, and this test must not fall back to polling).
    let waiting = Instant::now();
    loop {
        let (listening,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND query ILIKE 'LISTEN%'",
        )
        .fetch_one(&db.owner)
        .await
        .unwrap();
        if listening > 0 {
            break;
        }
        assert!(
            waiting.elapsed() < Duration::from_secs(20),
            "the worker never listened"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let mut tx = platform(&db.app).await;
    let id = queue::enqueue::<Record>(&mut tx, None, &RecordInput { sleep_ms: 0 })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let state = wait_for_status(&db.owner, id, "succeeded", Duration::from_secs(10)).await;
    assert_eq!(state.0, "succeeded");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();
}

#[tokio::test]
async fn one_clients_backlog_does_not_starve_another_client() {
    let db = TestDb::new().await;
    let qp = queue::QueuePool::new(&db.app, 4);
    let a = create_client(&db.owner, "big").await;
    let b = create_client(&db.owner, "small").await;
    let mut tx = tenant(&db.app, a).await;
    let inputs = vec![serde_json::json!({}); 2000];
    assert_eq!(
        queue::enqueue_many::<Noop>(&mut tx, Some(a), &inputs)
            .await
            .unwrap(),
        2000
    );
    tx.commit().await.unwrap();
    let mut tx = tenant(&db.app, b).await;
    for _ in 0..5 {
        queue::enqueue::<Noop>(&mut tx, Some(b), &serde_json::json!({}))
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();

    // One worker, claiming and completing one job at a time.
    let mut served_b = Vec::new();
    for n in 1..=20 {
        let job = queue::claim_next(&qp, "w", &kinds(&["test.noop"]), LEASE)
            .await
            .unwrap()
            .unwrap();
        if job.client_account_id == Some(b) {
            served_b.push(n);
        }
        let mut tx = platform(&db.app).await;
        queue::complete(&mut *tx, &job).await.unwrap();
        tx.commit().await.unwrap();
    }
    assert_eq!(
        served_b.len(),
        5,
        "all of B's jobs within the first 20 claims: {served_b:?}"
    );
    assert!(*served_b.last().unwrap() <= 11, "round-robin: {served_b:?}");
}

#[tokio::test]
async fn shutdown_lets_short_jobs_finish_and_releases_long_ones() {
    let db = TestDb::new().await;
    create_effects_table(&db.owner).await;
    let mut tx = platform(&db.app).await;
    let short = queue::enqueue::<Record>(&mut tx, None, &RecordInput { sleep_ms: 800 })
        .await
        .unwrap();
    let long = queue::enqueue::<Record>(&mut tx, None, &RecordInput { sleep_ms: 60_000 })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut registry = Registry::new();
    registry.register(Record);
    let (stop, handle) = start(
        &db,
        registry,
        WorkerConfig {
            shutdown_grace: Duration::from_secs(2),
            ..config(100)
        },
    );
    assert_eq!(
        wait_for_status(&db.owner, short, "running", Duration::from_secs(10))
            .await
            .0,
        "running"
    );
    assert_eq!(
        wait_for_status(&db.owner, long, "running", Duration::from_secs(10))
            .await
            .0,
        "running"
    );
    let stopping = Instant::now();
    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();
    assert!(
        stopping.elapsed() < Duration::from_secs(5),
        "{:?}",
        stopping.elapsed()
    );

    assert_eq!(
        job_state(&db.owner, short).await,
        ("succeeded".into(), 1),
        "finished within the grace"
    );
    // Released: queued again, the attempt not counted, no lease, no error, no effect.
    let row: (String, i32, Option<uuid::Uuid>, Option<String>) = sqlx::query_as(
        "SELECT status::text, attempts, lease_token, last_error FROM migration.jobs WHERE id = $1",
    )
    .bind(long)
    .fetch_one(&db.owner)
    .await
    .unwrap();
    assert_eq!(row, ("queued".into(), 0, None, None));
    let (effects,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM public.effects WHERE job_id = $1")
            .bind(long)
            .fetch_one(&db.owner)
            .await
            .unwrap();
    assert_eq!(effects, 0);
}

/// Same kind as `Record`, but enqueues any JSON: used to store an input `Record` cannot decode.
struct UntypedRecord;

impl queue::Job for UntypedRecord {
    type Input = serde_json::Value;
    const KIND: &'static str = "test.record";
    async fn run(&self, _: Self::Input, _: &mut queue::JobContext) -> Result<(), JobError> {
        unreachable!("only used to enqueue")
    }
}

/// Panics in its handler.
struct Panicking;

impl queue::Job for Panicking {
    type Input = serde_json::Value;
    const KIND: &'static str = "test.panicking";
    const MAX_ATTEMPTS: i32 = 2;
    fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy {
            base: Duration::from_millis(10),
            max: Duration::from_millis(10),
            jitter: 0.0,
        }
    }
    async fn run(&self, _: Self::Input, _: &mut queue::JobContext) -> Result<(), JobError> {
        panic!("handler bug")
    }
}

#[tokio::test]
async fn a_permanent_error_is_dead_at_once_and_a_panic_is_a_failed_attempt() {
    let db = TestDb::new().await;
    create_effects_table(&db.owner).await;
    let mut tx = platform(&db.app).await;
    let undecodable =
        queue::enqueue::<UntypedRecord>(&mut tx, None, &serde_json::json!({"wrong": true}))
            .await
            .unwrap();
    let panicking = queue::enqueue::<Panicking>(&mut tx, None, &serde_json::json!({}))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut registry = Registry::new();
    registry.register(Record).register(Panicking);
    let (stop, handle) = start(&db, registry, config(100));
    assert_eq!(
        wait_for_status(&db.owner, undecodable, "dead", Duration::from_secs(10)).await,
        ("dead".into(), 1),
        "an input the handler cannot decode is not retried"
    );
    assert_eq!(
        wait_for_status(&db.owner, panicking, "dead", Duration::from_secs(10)).await,
        ("dead".into(), 2),
        "a panic counts as a failed attempt; the worker survives it"
    );
    stop.send(()).unwrap();
    handle.await.unwrap().unwrap();
    let errors: Vec<(Option<String>,)> =
        sqlx::query_as("SELECT last_error FROM migration.jobs WHERE id = ANY($1) ORDER BY kind")
            .bind(vec![undecodable, panicking])
            .fetch_all(&db.owner)
            .await
            .unwrap();
    assert!(
        errors[0]
            .0
            .as_deref()
            .unwrap()
            .contains("handler panicked: handler bug"),
        "{errors:?}"
    );
    assert!(
        errors[1]
            .0
            .as_deref()
            .unwrap()
            .contains("cannot decode the input of test.record"),
        "{errors:?}"
    );
}

//! `modernize bench queue`: job queue throughput beside the floor of the same server.
//!
//! Everything happens in a scratch database created on the configured server by the owner and
//! dropped afterwards, so the product database is never touched. Per worker count: N no-op
//! jobs are enqueued, then that many queue workers (each claiming and completing one job at a
//! time, the product claim with lease, fairness and row-level security) run until all are
//! done. The floor is the bare minimum of a SKIP LOCKED queue on the same server: as many
//! connections looping `DELETE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1)`.

use crate::cli::{BenchCommand, BenchQueueArgs};
use crate::config::Settings;
use anyhow::{Context, bail};
use modernize_domain::tenancy::TenantScope;
use modernize_engine::queue::{self, Job, JobContext, JobError, Registry, Worker, WorkerConfig};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

pub async fn run(command: BenchCommand, settings: Settings) -> anyhow::Result<()> {
    match command {
        BenchCommand::Queue(args) => queue_bench(args, settings).await,
        BenchCommand::Import(args) => super::bench_import::run(args, settings).await,
    }
}

/// The benchmark's job: counts itself and does nothing else. Registered only by this command.
struct BenchNoop {
    done: Arc<AtomicU64>,
    target: u64,
    all_done: Arc<Notify>,
}

impl Job for BenchNoop {
    type Input = serde_json::Value;
    const KIND: &'static str = "bench.noop";
    async fn run(&self, _input: Self::Input, _ctx: &mut JobContext) -> Result<(), JobError> {
        if self.done.fetch_add(1, Ordering::SeqCst) + 1 >= self.target {
            self.all_done.notify_one();
        }
        Ok(())
    }
}

async fn queue_bench(args: BenchQueueArgs, settings: Settings) -> anyhow::Result<()> {
    if args.jobs == 0 || args.workers.contains(&0) {
        bail!("--jobs and every --workers count must be at least 1");
    }
    let scratch = Scratch::create(&settings).await?;
    let result = in_scratch(
        &args,
        &settings,
        &scratch.name,
        scratch.owner_opts.clone(),
        &scratch.app_url,
    )
    .await;
    scratch.drop().await;
    result
}

/// A scratch database on the configured server, created by the owner and dropped afterwards
/// (the product database is never touched).
pub(super) struct Scratch {
    pub name: String,
    pub owner_opts: PgConnectOptions,
    pub app_url: String,
    admin: PgConnection,
}

impl Scratch {
    pub async fn create(settings: &Settings) -> anyhow::Result<Scratch> {
        let source = super::source(settings);
        let owner_url = source.ensure_available().await?;
        let app_url = source.app_url(&settings.database)?;
        let owner_opts = modernize_db::connect::options(&owner_url)?;
        let name = format!(
            "modernize_bench_{}",
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        );
        let mut admin = PgConnection::connect_with(&owner_opts)
            .await
            .context("cannot connect as the database owner")?;
        sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .with_context(|| format!("cannot create the scratch database {name}"))?;
        Ok(Scratch {
            name,
            owner_opts,
            app_url,
            admin,
        })
    }

    /// Drops the database whatever happened, connections included.
    pub async fn drop(mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = sqlx::raw_sql(&sql).execute(&mut self.admin).await {
            tracing::warn!(error = %e, database = %self.name, "cannot drop the scratch database");
        }
    }
}

async fn in_scratch(
    args: &BenchQueueArgs,
    settings: &Settings,
    name: &str,
    owner_opts: PgConnectOptions,
    app_url: &str,
) -> anyhow::Result<()> {
    // The floor's connections commit like the queue's bookkeeping does (synchronous_commit
    // off, see QueuePool): otherwise the floor would pay a WAL flush per job that the queue
    // does not, and stop being a floor.
    let owner = PgPoolOptions::new()
        .max_connections(args.workers.iter().copied().max().unwrap_or(1) as u32 + 2)
        .connect_with(
            owner_opts
                .database(name)
                .options([("synchronous_commit", "off")]),
        )
        .await?;
    modernize_db::migrate::migrate(&owner, settings.database.app_password.as_deref()).await?;
    let app_opts = modernize_db::connect::options(app_url)?.database(name);
    let (version,): (String,) = sqlx::query_as("SELECT current_setting('server_version')")
        .fetch_one(&owner)
        .await?;
    println!(
        "queue benchmark: {} no-op jobs per run, PostgreSQL {version}, scratch database {name}",
        args.jobs
    );
    println!(
        "{:>7}  {:>12}  {:>12}  {:>6}",
        "workers", "jobs/s", "floor jobs/s", "ratio"
    );
    for &workers in &args.workers {
        let queue_rate = queue_run(&owner, &app_opts, workers, args.jobs).await?;
        let floor_rate = floor_run(&owner, workers, args.jobs).await?;
        println!(
            "{workers:>7}  {queue_rate:>12.0}  {floor_rate:>12.0}  {:>6.2}",
            queue_rate / floor_rate
        );
    }
    owner.close().await;
    Ok(())
}

/// Jobs per second claimed and completed by `workers` queue workers.
async fn queue_run(
    owner: &PgPool,
    app_opts: &PgConnectOptions,
    workers: usize,
    jobs: u32,
) -> anyhow::Result<f64> {
    sqlx::raw_sql("TRUNCATE migration.jobs, migration.job_lanes")
        .execute(owner)
        .await?;
    // Each worker holds at most two connections at once (claim, then completion) plus its
    // NOTIFY listener, which has its own.
    let app = PgPoolOptions::new()
        .max_connections(workers as u32 * 2 + 1)
        .connect_with(app_opts.clone())
        .await?;
    let batch = vec![serde_json::json!({}); 5000];
    let mut left = jobs as usize;
    while left > 0 {
        let n = left.min(batch.len());
        let mut tx =
            modernize_db::tenant::begin(&app, TenantScope::Platform { user_id: None }).await?;
        queue::enqueue_many::<BenchNoop>(&mut tx, None, &batch[..n]).await?;
        tx.commit().await?;
        left -= n;
    }
    // Fresh statistics, as autovacuum would have them on a queue in steady state.
    sqlx::raw_sql("ANALYZE migration.jobs, migration.job_lanes")
        .execute(owner)
        .await?;

    let done = Arc::new(AtomicU64::new(0));
    let all_done = Arc::new(Notify::new());
    let config = WorkerConfig {
        concurrency: 1,
        lease: Duration::from_secs(60),
        poll_interval: Duration::from_millis(200),
        shutdown_grace: Duration::from_secs(30),
    };
    let started = Instant::now();
    let mut stops = Vec::new();
    let mut handles = Vec::new();
    for _ in 0..workers {
        let mut registry = Registry::new();
        registry.register(BenchNoop {
            done: done.clone(),
            target: u64::from(jobs),
            all_done: all_done.clone(),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let worker = Worker::new(app.clone(), registry, config.clone());
        handles.push(tokio::spawn(worker.run(async {
            let _ = stopped.await;
        })));
        stops.push(stop);
    }
    all_done.notified().await;
    for stop in stops {
        let _ = stop.send(());
    }
    // Workers return after recording their last completion.
    for handle in handles {
        handle.await??;
    }
    let elapsed = started.elapsed();
    let (succeeded,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM migration.jobs WHERE status = 'succeeded'")
            .fetch_one(owner)
            .await?;
    if succeeded != i64::from(jobs) {
        bail!("{succeeded} of {jobs} jobs succeeded");
    }
    app.close().await;
    Ok(f64::from(jobs) / elapsed.as_secs_f64())
}

/// Jobs per second of a bare SKIP LOCKED claim-and-delete loop on `workers` connections.
async fn floor_run(owner: &PgPool, workers: usize, jobs: u32) -> anyhow::Result<f64> {
    sqlx::raw_sql(
        "DROP TABLE IF EXISTS public.bench_floor;
         CREATE TABLE public.bench_floor (id bigserial PRIMARY KEY, payload jsonb NOT NULL);",
    )
    .execute(owner)
    .await?;
    sqlx::query("INSERT INTO public.bench_floor (payload) SELECT '{}' FROM generate_series(1, $1)")
        .bind(jobs as i32)
        .execute(owner)
        .await?;
    sqlx::raw_sql("ANALYZE public.bench_floor")
        .execute(owner)
        .await?;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let pool = owner.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = pool.acquire().await?;
            let mut n = 0u64;
            loop {
                let row: Option<(i64,)> = sqlx::query_as(
                    "DELETE FROM public.bench_floor WHERE id = \
                     (SELECT id FROM public.bench_floor ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1) \
                     RETURNING id",
                )
                .fetch_optional(&mut *conn)
                .await?;
                if row.is_none() {
                    return Ok::<u64, sqlx::Error>(n);
                }
                n += 1;
            }
        }));
    }
    let mut total = 0;
    for task in tasks {
        total += task.await??;
    }
    let elapsed = started.elapsed();
    if total != u64::from(jobs) {
        bail!("the floor loop deleted {total} of {jobs} rows");
    }
    sqlx::raw_sql("DROP TABLE public.bench_floor")
        .execute(owner)
        .await?;
    Ok(f64::from(jobs) / elapsed.as_secs_f64())
}

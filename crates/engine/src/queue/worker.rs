//! The worker loop: wait for work (NOTIFY or polling), claim within the concurrency limit, run
//! the handler under a heartbeat, record the outcome, shut down gracefully.

use super::job::ErasedJob;
use super::{
    ClaimedJob, JobContext, JobError, NOTIFY_CHANNEL, QueueError, QueuePool, Registry, claim_next,
    complete, fail, heartbeat, reap_expired, release,
};
use sqlx::PgPool;
use sqlx::postgres::PgListener;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;

/// How a [`Worker`] runs (see `WorkerSettings` for the configured form).
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Jobs run at the same time.
    pub concurrency: usize,
    /// Lease per claim; heartbeats renew it every third of it.
    pub lease: Duration,
    /// Polling interval without notifications; also how often expired leases are reaped.
    pub poll_interval: Duration,
    /// On shutdown, how long running jobs may take before they are released.
    pub shutdown_grace: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        crate::WorkerSettings::default().to_config()
    }
}

/// Runs the jobs of a [`Registry`] from the queue until shut down.
#[derive(Debug)]
pub struct Worker {
    pool: PgPool,
    queue: QueuePool,
    registry: Arc<Registry>,
    config: WorkerConfig,
    id: String,
}

impl Worker {
    /// A worker on the runtime pool `pool`. Handlers get `pool`, and each job's own
    /// transaction is in the job's tenant scope; the queue's bookkeeping runs in platform scope
    /// on a [`QueuePool`] of its own (concurrency + 1 connections: one claimer plus one per
    /// running job; the NOTIFY listener has a dedicated connection besides).
    pub fn new(pool: PgPool, registry: Registry, config: WorkerConfig) -> Self {
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        let queue = QueuePool::new(&pool, config.concurrency.max(1) as u32 + 1);
        Worker {
            pool,
            queue,
            registry: Arc::new(registry),
            config,
            id: format!("worker-{}-{}", std::process::id(), &suffix[..8]),
        }
    }

    /// The name recorded in `jobs.locked_by`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Works until `shutdown` resolves, then stops claiming, lets running jobs finish within
    /// the grace period and releases those still running after it (back to `queued`, the
    /// attempt not counted).
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), QueueError> {
        let kinds = self.registry.kinds();
        let wake = Arc::new(Notify::new());
        let listener = tokio::spawn(listen(
            self.pool.clone(),
            wake.clone(),
            self.config.poll_interval,
        ));
        let slots = Arc::new(Semaphore::new(self.config.concurrency.max(1)));
        let (abort_tx, abort_rx) = watch::channel(false);
        let mut running = JoinSet::new();
        let mut last_reap: Option<Instant> = None;
        tracing::info!(worker = %self.id, ?kinds, concurrency = self.config.concurrency, "job worker started");
        tokio::pin!(shutdown);
        loop {
            // A free slot first: a worker never claims more than it can run, so it never holds
            // a lease on a job that waits in its memory.
            let permit = tokio::select! {
                biased;
                _ = &mut shutdown => break,
                permit = slots.clone().acquire_owned() => permit.expect("semaphore never closed"),
            };
            while running.try_join_next().is_some() {}
            if last_reap.is_none_or(|at| at.elapsed() >= self.config.poll_interval) {
                last_reap = Some(Instant::now());
                match reap_expired(&self.queue).await {
                    Ok(ids) if !ids.is_empty() => {
                        tracing::warn!(jobs = ?ids, "requeued jobs whose lease expired")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "cannot reap expired leases"),
                }
            }
            if kinds.is_empty() {
                drop(permit);
                tokio::select! {
                    biased;
                    _ = &mut shutdown => break,
                    _ = tokio::time::sleep(self.config.poll_interval) => continue,
                }
            }
            match claim_next(&self.queue, &self.id, &kinds, self.config.lease).await {
                Ok(Some(job)) => {
                    let handler = self.registry.get(&job.kind);
                    running.spawn(run_one(
                        self.pool.clone(),
                        self.queue.clone(),
                        handler,
                        job,
                        self.config.lease,
                        abort_rx.clone(),
                        permit,
                    ));
                }
                Ok(None) => {
                    drop(permit);
                    tokio::select! {
                        biased;
                        _ = &mut shutdown => break,
                        _ = wake.notified() => {}
                        _ = tokio::time::sleep(self.config.poll_interval) => {}
                    }
                }
                Err(e) => {
                    drop(permit);
                    tracing::warn!(error = %e, "cannot claim jobs");
                    tokio::select! {
                        biased;
                        _ = &mut shutdown => break,
                        _ = tokio::time::sleep(self.config.poll_interval) => {}
                    }
                }
            }
        }
        listener.abort();
        let in_flight = running.len();
        if in_flight > 0 {
            tracing::info!(
                jobs = in_flight,
                grace_secs = self.config.shutdown_grace.as_secs_f64(),
                "waiting for running jobs"
            );
        }
        let finished = tokio::time::timeout(self.config.shutdown_grace, async {
            while running.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            // Each job task stops its handler and releases its job when told to.
            let _ = abort_tx.send(true);
            while running.join_next().await.is_some() {}
        }
        self.queue.close().await;
        tracing::info!(worker = %self.id, "job worker stopped");
        Ok(())
    }
}

/// Turns notifications into wake-ups. Polling covers the gaps (listener down, reconnecting).
async fn listen(pool: PgPool, wake: Arc<Notify>, retry: Duration) {
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for job notifications; polling");
                tokio::time::sleep(retry).await;
                continue;
            }
        };
        if let Err(e) = listener.listen(NOTIFY_CHANNEL).await {
            tracing::warn!(error = %e, "cannot listen for job notifications; polling");
            tokio::time::sleep(retry).await;
            continue;
        }
        loop {
            match listener.recv().await {
                Ok(_) => wake.notify_one(),
                Err(e) => {
                    // recv reconnects on its next call; notifications sent meanwhile are lost,
                    // so look for work once.
                    tracing::warn!(error = %e, "job notification connection lost");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    wake.notify_one();
                }
            }
        }
    }
}

enum Outcome {
    Finished(Result<(), JobError>, JobContext),
    Panicked(String),
    LeaseLost,
    Aborted,
}

/// Runs one claimed job to its recorded outcome. Holds `permit` (the slot) until done.
async fn run_one(
    pool: PgPool,
    queue: QueuePool,
    handler: Option<Arc<dyn ErasedJob>>,
    job: ClaimedJob,
    lease: Duration,
    mut abort: watch::Receiver<bool>,
    permit: OwnedSemaphorePermit,
) {
    let _permit = permit;
    let Some(handler) = handler else {
        // Unreachable in practice: claims are filtered by the registered kinds.
        let error = JobError::permanent(format!("no handler for job kind {}", job.kind));
        record_failure(&queue, &job, &error, &Default::default()).await;
        return;
    };
    let policy = handler.retry_policy();
    let mut ctx = JobContext::new(job.id, job.client_account_id, job.attempt, pool.clone());
    let input = job.input.clone();
    let runner = handler.clone();
    // The handler runs in a task of its own: a panic becomes a failed attempt instead of
    // taking the worker down, and aborting the task drops its open transaction (rollback).
    let mut task = tokio::spawn(async move {
        let result = runner.run(input, &mut ctx).await;
        (result, ctx)
    });
    let beats = async {
        // Renew at a third of the lease: two heartbeats may fail (slow database) before the
        // lease runs out.
        let every = lease / 3;
        loop {
            tokio::time::sleep(every).await;
            match heartbeat(&queue, &job, lease).await {
                Ok(()) => {}
                Err(QueueError::LeaseLost(_)) => return,
                Err(e) => tracing::warn!(job = %job.id, error = %e, "heartbeat failed"),
            }
        }
    };
    let outcome = tokio::select! {
        joined = &mut task => match joined {
            Ok((result, ctx)) => Outcome::Finished(result, ctx),
            Err(e) => Outcome::Panicked(panic_message(e)),
        },
        _ = beats => Outcome::LeaseLost,
        _ = abort.wait_for(|stop| *stop) => Outcome::Aborted,
    };
    match outcome {
        Outcome::Finished(Ok(()), mut ctx) => {
            let result = async {
                match ctx.take_transaction() {
                    // Effects and completion commit together, durably.
                    Some(mut tx) => {
                        complete(&mut *tx, &job).await?;
                        tx.commit().await?;
                    }
                    // No effects in the database: one bookkeeping statement.
                    None => complete(queue.pool(), &job).await?,
                }
                Ok::<_, QueueError>(())
            }
            .await;
            match result {
                Ok(()) => {
                    tracing::debug!(job = %job.id, kind = %job.kind, attempt = job.attempt, "job succeeded")
                }
                Err(QueueError::LeaseLost(_)) => tracing::warn!(
                    job = %job.id, kind = %job.kind,
                    "job finished after its lease was lost; its transaction was rolled back"
                ),
                // The job stays running until its lease expires, then runs again.
                Err(e) => {
                    tracing::warn!(job = %job.id, error = %e, "cannot record job success")
                }
            }
        }
        Outcome::Finished(Err(error), ctx) => {
            drop(ctx); // rolls back the job's transaction, if any
            record_failure(&queue, &job, &error, &policy).await;
        }
        Outcome::Panicked(message) => {
            let error = JobError::retryable(format!("handler panicked: {message}"));
            record_failure(&queue, &job, &error, &policy).await;
        }
        Outcome::LeaseLost => {
            task.abort();
            tracing::warn!(job = %job.id, kind = %job.kind, "lease lost; handler stopped");
        }
        Outcome::Aborted => {
            task.abort();
            let _ = task.await;
            match release(&queue, &job).await {
                Ok(()) => {
                    tracing::info!(job = %job.id, kind = %job.kind, "released job at shutdown")
                }
                Err(e) => tracing::warn!(job = %job.id, error = %e, "cannot release job"),
            }
        }
    }
}

async fn record_failure(
    pool: &QueuePool,
    job: &ClaimedJob,
    error: &JobError,
    policy: &super::RetryPolicy,
) {
    match fail(pool, job, error, policy).await {
        Ok(true) => tracing::error!(
            job = %job.id, kind = %job.kind, attempt = job.attempt, error = %error,
            "job is dead"
        ),
        Ok(false) => tracing::warn!(
            job = %job.id, kind = %job.kind, attempt = job.attempt, error = %error,
            "job failed; will retry"
        ),
        Err(e) => tracing::warn!(job = %job.id, error = %e, "cannot record job failure"),
    }
}

fn panic_message(e: tokio::task::JoinError) -> String {
    match e.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into()),
        Err(e) => e.to_string(),
    }
}

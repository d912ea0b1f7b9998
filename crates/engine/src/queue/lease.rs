//! Keeping, giving back and taking back leases.

use super::{ClaimedJob, JobId, QueueError, QueuePool};
use std::time::Duration;

/// Extends the lease of a held job to now + `lease`. Fails with [`QueueError::LeaseLost`] when
/// the worker no longer holds it (expired and requeued, or claimed by someone else).
pub async fn heartbeat(
    pool: &QueuePool,
    job: &ClaimedJob,
    lease: Duration,
) -> Result<(), QueueError> {
    let done = sqlx::query(
        "UPDATE migration.jobs SET lease_expires_at = now() + make_interval(secs => $3)
         WHERE id = $1 AND lease_token = $2 AND status = 'running'",
    )
    .bind(job.id)
    .bind(job.lease_token)
    .bind(lease.as_secs_f64())
    .execute(pool.pool())
    .await?;
    if done.rows_affected() == 0 {
        return Err(QueueError::LeaseLost(job.id));
    }
    Ok(())
}

/// Gives a held job back to the queue without counting the attempt (graceful shutdown): it is
/// `queued` again, due now, with its attempt count as before the claim.
pub async fn release(pool: &QueuePool, job: &ClaimedJob) -> Result<(), QueueError> {
    let done = sqlx::query(
        "UPDATE migration.jobs
         SET status = 'queued', attempts = attempts - 1, run_at = now(),
             lease_token = NULL, lease_expires_at = NULL, locked_by = NULL
         WHERE id = $1 AND lease_token = $2 AND status = 'running'",
    )
    .bind(job.id)
    .bind(job.lease_token)
    .execute(pool.pool())
    .await?;
    if done.rows_affected() == 0 {
        return Err(QueueError::LeaseLost(job.id));
    }
    Ok(())
}

/// Requeues running jobs whose lease expired: their worker died or hangs without heartbeats.
/// The lost attempt counts (it may have had effects) and is recorded in the error history;
/// if it was the last attempt, the job is dead. Returns the jobs taken back.
///
/// Any worker may call this at any time; `SKIP LOCKED` keeps concurrent reapers (and a late
/// heartbeat or completion holding the row) from blocking each other. A late update by the
/// old holder afterwards finds its lease token gone and changes nothing.
pub async fn reap_expired(pool: &QueuePool) -> Result<Vec<JobId>, QueueError> {
    let rows: Vec<(JobId,)> = sqlx::query_as(
        "WITH expired AS (
             SELECT id FROM migration.jobs
             WHERE status = 'running' AND lease_expires_at < now()
             FOR UPDATE SKIP LOCKED
         )
         UPDATE migration.jobs AS j
         SET status = CASE WHEN j.attempts >= j.max_attempts THEN 'dead' ELSE 'queued' END,
             finished_at = CASE WHEN j.attempts >= j.max_attempts THEN now() END,
             run_at = now(),
             last_error = 'lease expired: worker ' || COALESCE(j.locked_by, '?')
                          || ' stopped without finishing the attempt',
             error_history = j.error_history || jsonb_build_array(jsonb_build_object(
                 'attempt', j.attempts,
                 'error', 'lease expired: worker ' || COALESCE(j.locked_by, '?')
                          || ' stopped without finishing the attempt',
                 'at', now())),
             lease_token = NULL, lease_expires_at = NULL, locked_by = NULL
         FROM expired
         WHERE j.id = expired.id
         RETURNING j.id",
    )
    .fetch_all(pool.pool())
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

//! Recording the outcome of an attempt: success, retry, dead; and reading dead jobs.

use super::{ClaimedJob, JobError, JobId, QueueError, QueuePool, RetryPolicy};
use chrono::{DateTime, Utc};
use modernize_domain::ids::ClientAccountId;
use sqlx::{PgConnection, PgExecutor};

/// Marks a held job succeeded on `executor`.
///
/// Pass the transaction that holds the job's database effects (`&mut *tx`): the effects and
/// the success then commit together or not at all. The transaction must see the job: its
/// client's scope or platform scope. Fails with [`QueueError::LeaseLost`] when the worker no
/// longer holds the job; the caller must then roll back, so the effects are discarded and
/// happen only in the attempt that does complete. (If another worker's claim of this row is in
/// flight, the update waits for it and then finds the new lease token: still `LeaseLost`.)
pub async fn complete<'e>(
    executor: impl PgExecutor<'e>,
    job: &ClaimedJob,
) -> Result<(), QueueError> {
    let done = sqlx::query(
        "UPDATE migration.jobs
         SET status = 'succeeded', finished_at = now(),
             lease_token = NULL, lease_expires_at = NULL, locked_by = NULL
         WHERE id = $1 AND lease_token = $2 AND status = 'running'",
    )
    .bind(job.id)
    .bind(job.lease_token)
    .execute(executor)
    .await?;
    if done.rows_affected() == 0 {
        return Err(QueueError::LeaseLost(job.id));
    }
    Ok(())
}

/// Records a failed attempt: the job is queued again after the policy's backoff, or dead when
/// the error is permanent or this was its last attempt. Either way the error is kept in
/// `last_error` and appended to `error_history`. Returns whether the job is now dead.
pub async fn fail(
    pool: &QueuePool,
    job: &ClaimedJob,
    error: &JobError,
    policy: &RetryPolicy,
) -> Result<bool, QueueError> {
    let dead = !error.is_retryable() || job.attempt >= job.max_attempts;
    let delay = if dead {
        0.0
    } else {
        policy.delay(job.attempt).as_secs_f64()
    };
    let done = sqlx::query(
        "UPDATE migration.jobs
         SET status = CASE WHEN $3 THEN 'dead' ELSE 'queued' END,
             finished_at = CASE WHEN $3 THEN now() END,
             run_at = now() + make_interval(secs => $4),
             last_error = $5,
             error_history = error_history || jsonb_build_array(jsonb_build_object(
                 'attempt', attempts, 'error', $5::text, 'at', now())),
             lease_token = NULL, lease_expires_at = NULL, locked_by = NULL
         WHERE id = $1 AND lease_token = $2 AND status = 'running'",
    )
    .bind(job.id)
    .bind(job.lease_token)
    .bind(dead)
    .bind(delay)
    .bind(error.message())
    .execute(pool.pool())
    .await?;
    if done.rows_affected() == 0 {
        return Err(QueueError::LeaseLost(job.id));
    }
    Ok(dead)
}

/// A job that exhausted its attempts or failed permanently.
#[derive(Debug, Clone)]
pub struct DeadJob {
    pub id: JobId,
    pub client_account_id: Option<ClientAccountId>,
    pub kind: String,
    pub input: serde_json::Value,
    pub attempts: i32,
    pub last_error: Option<String>,
    /// `[{"attempt": n, "error": "...", "at": "..."}, ...]`, oldest first.
    pub error_history: serde_json::Value,
    pub finished_at: Option<DateTime<Utc>>,
}

type DeadRow = (
    JobId,
    Option<uuid::Uuid>,
    String,
    serde_json::Value,
    i32,
    Option<String>,
    serde_json::Value,
    Option<DateTime<Utc>>,
);

/// Dead jobs visible on `conn` (row-level security applies: a tenant transaction sees its own
/// client's jobs, platform scope sees all), most recent first.
pub async fn list_dead(conn: &mut PgConnection, limit: i64) -> Result<Vec<DeadJob>, QueueError> {
    let rows: Vec<DeadRow> = sqlx::query_as(
        "SELECT id, client_account_id, kind, input, attempts, last_error, error_history, finished_at
         FROM migration.jobs WHERE status = 'dead'
         ORDER BY finished_at DESC NULLS LAST, id
         LIMIT $1",
    )
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(id, client, kind, input, attempts, last_error, error_history, finished_at)| DeadJob {
                id,
                client_account_id: client.map(ClientAccountId),
                kind,
                input,
                attempts,
                last_error,
                error_history,
                finished_at,
            },
        )
        .collect())
}

//! Enqueueing jobs on the caller's connection, i.e. inside the caller's transaction.

use super::{Job, JobId, NOTIFY_CHANNEL, QueueError};
use chrono::{DateTime, Utc};
use modernize_domain::ids::ClientAccountId;
use sqlx::PgConnection;

/// Optional settings of one job.
#[derive(Debug, Clone, Default)]
pub struct EnqueueOptions {
    /// Not before this time (default: now).
    pub run_at: Option<DateTime<Utc>>,
    /// Overrides `Job::MAX_ATTEMPTS`.
    pub max_attempts: Option<i32>,
}

// The lane row is created on first use. `WHERE NOT EXISTS` skips the speculative insertion in
// the common case (lane exists); `ON CONFLICT DO NOTHING` covers two first enqueues racing.
// Data-modifying CTEs always run, so one round trip does lane, job and notification; the
// notification is delivered only if the caller's transaction commits.
const INSERT_ONE: &str = "\
WITH lane AS (
    INSERT INTO migration.job_lanes (client_account_id)
    SELECT $1::uuid
    WHERE NOT EXISTS (SELECT 1 FROM migration.job_lanes
                      WHERE lane = COALESCE($1::uuid, '00000000-0000-0000-0000-000000000000'::uuid))
    ON CONFLICT (lane) DO NOTHING
), job AS (
    INSERT INTO migration.jobs (client_account_id, kind, input, max_attempts, run_at)
    VALUES ($1, $2, $3, $4, COALESCE($5, now()))
    RETURNING id
)
SELECT job.id FROM job CROSS JOIN LATERAL (SELECT pg_notify($6, '')) AS wake";

/// Enqueues one job of kind `J` for `client_account_id` (`None`: a platform job) on `conn`.
///
/// Pass the caller's transaction (`&mut *tx`): the job then exists if and only if that
/// transaction commits. Under row-level security the transaction must be in the client's
/// scope (or platform scope; platform jobs need platform scope).
pub async fn enqueue<J: Job>(
    conn: &mut PgConnection,
    client_account_id: Option<ClientAccountId>,
    input: &J::Input,
) -> Result<JobId, QueueError> {
    enqueue_with::<J>(conn, client_account_id, input, EnqueueOptions::default()).await
}

/// [`enqueue`] with options.
pub async fn enqueue_with<J: Job>(
    conn: &mut PgConnection,
    client_account_id: Option<ClientAccountId>,
    input: &J::Input,
    options: EnqueueOptions,
) -> Result<JobId, QueueError> {
    let input = serde_json::to_value(input)?;
    let (id,): (JobId,) = sqlx::query_as(INSERT_ONE)
        .bind(client_account_id.map(|c| c.0))
        .bind(J::KIND)
        .bind(input)
        .bind(options.max_attempts.unwrap_or(J::MAX_ATTEMPTS))
        .bind(options.run_at)
        .bind(NOTIFY_CHANNEL)
        .fetch_one(conn)
        .await?;
    Ok(id)
}

/// Enqueues many jobs of one kind and client in one statement; returns how many.
pub async fn enqueue_many<J: Job>(
    conn: &mut PgConnection,
    client_account_id: Option<ClientAccountId>,
    inputs: &[J::Input],
) -> Result<u64, QueueError> {
    let inputs = inputs
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<Vec<_>, _>>()?;
    let (count,): (i64,) = sqlx::query_as(
        "WITH lane AS (
             INSERT INTO migration.job_lanes (client_account_id)
             SELECT $1::uuid
             WHERE NOT EXISTS (SELECT 1 FROM migration.job_lanes
                               WHERE lane = COALESCE($1::uuid, '00000000-0000-0000-0000-000000000000'::uuid))
             ON CONFLICT (lane) DO NOTHING
         ), job AS (
             INSERT INTO migration.jobs (client_account_id, kind, input, max_attempts)
             SELECT $1, $2, i, $4 FROM unnest($3::jsonb[]) AS i
             RETURNING 1
         )
         SELECT count(*) FROM job CROSS JOIN LATERAL (SELECT pg_notify($5, '')) AS wake",
    )
    .bind(client_account_id.map(|c| c.0))
    .bind(J::KIND)
    .bind(inputs)
    .bind(J::MAX_ATTEMPTS)
    .bind(NOTIFY_CHANNEL)
    .fetch_one(conn)
    .await?;
    Ok(count as u64)
}

//! Claiming the next job: `FOR UPDATE SKIP LOCKED`, a lease, and round-robin between clients.

use super::{JobId, QueueError, QueuePool};
use chrono::{DateTime, Utc};
use modernize_domain::ids::ClientAccountId;
use std::time::Duration;
use uuid::Uuid;

/// A job held by a worker until `lease_expires_at` (extended by heartbeats).
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    pub id: JobId,
    pub client_account_id: Option<ClientAccountId>,
    pub kind: String,
    pub input: serde_json::Value,
    /// This attempt's number, from 1.
    pub attempt: i32,
    pub max_attempts: i32,
    /// Proof of holding the job; every later update of the job must present it.
    pub lease_token: Uuid,
    pub lease_expires_at: DateTime<Utc>,
}

// How the claim works, in one statement (one round trip, one short transaction):
//
// 1. `lanes`: the clients (lanes) ordered least recently served first. MATERIALIZED with its
//    own ORDER BY so the lanes are sorted *before* the join below; the nested loop then probes
//    them in that order and stops at the first lane that yields a job (LIMIT 1), so jobs of
//    later lanes are never touched, let alone locked.
// 2. `next`: per lane, the oldest due queued job of a registered kind, locked with
//    FOR UPDATE SKIP LOCKED: concurrent claimers skip each other's rows instead of waiting, so
//    two workers never get the same job and never block each other on a job row.
// 3. `served`: the lane's last_served_at moves to now, sending it to the back of the round.
//    This row update does wait for a concurrent claimer of the same lane, but only until that
//    claimer's statement commits, which it does at once (autocommit, synchronous_commit off).
// 4. The job becomes `running` with attempts + 1, a fresh lease token and an expiry.
//
// 1000 lanes are considered per claim; clients beyond that wait for a later round (never
// forever: served lanes move to the back).
const CLAIM: &str = "\
WITH lanes AS MATERIALIZED (
    SELECT lane FROM migration.job_lanes
    ORDER BY last_served_at NULLS FIRST, lane
    LIMIT 1000
), next AS (
    SELECT j.id, j.lane
    FROM lanes
    CROSS JOIN LATERAL (
        SELECT id, lane FROM migration.jobs
        WHERE lane = lanes.lane AND status = 'queued' AND run_at <= now() AND kind = ANY($1)
        ORDER BY run_at
        LIMIT 1
        FOR UPDATE SKIP LOCKED
    ) AS j
    LIMIT 1
), served AS (
    UPDATE migration.job_lanes SET last_served_at = clock_timestamp()
    FROM next WHERE job_lanes.lane = next.lane
)
UPDATE migration.jobs
SET status = 'running',
    attempts = attempts + 1,
    lease_token = gen_random_uuid(),
    lease_expires_at = now() + make_interval(secs => $2),
    locked_by = $3
FROM next
WHERE jobs.id = next.id
RETURNING jobs.id, jobs.client_account_id, jobs.kind, jobs.input, jobs.attempts,
          jobs.max_attempts, jobs.lease_token, jobs.lease_expires_at";

type ClaimRow = (
    Uuid,
    Option<Uuid>,
    String,
    serde_json::Value,
    i32,
    i32,
    Uuid,
    DateTime<Utc>,
);

/// Claims the next due job of one of `kinds` for `worker_id`, holding it for `lease`.
///
/// Platform scope (the worker serves every tenant); one autocommit statement. Returns `None`
/// when nothing is due.
pub async fn claim_next(
    pool: &QueuePool,
    worker_id: &str,
    kinds: &[String],
    lease: Duration,
) -> Result<Option<ClaimedJob>, QueueError> {
    // The statement commits on its own, asynchronously (see QueuePool): the lane row lock
    // below is released as soon as the commit record is written, not after a WAL flush.
    let row: Option<ClaimRow> = sqlx::query_as(CLAIM)
        .bind(kinds)
        .bind(lease.as_secs_f64())
        .bind(worker_id)
        .fetch_optional(pool.pool())
        .await?;
    Ok(row.map(
        |(id, client, kind, input, attempt, max_attempts, lease_token, lease_expires_at)| {
            ClaimedJob {
                id,
                client_account_id: client.map(ClientAccountId),
                kind,
                input,
                attempt,
                max_attempts,
                lease_token,
                lease_expires_at,
            }
        },
    ))
}
